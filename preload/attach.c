/* SPDX-License-Identifier: MIT */
/* `prestanda attach`: recording started and stopped by calls injected into a running process, its settings given by the call. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"
#include "pst.h"

#define EXPORT __attribute__((visibility("default")))

/*
 * `prestanda attach` stops one thread of the program and makes it call
 * dlopen on this library, then pst_attach_start with the settings `run`
 * would have put in the environment; pst_attach_stop at the end. Both run
 * on that thread while the others go on. The library is never unloaded: a
 * hook may be on some thread's stack when the entries are put back, and
 * the next attach finds it loaded (its constructor does not run again).
 */
bool pst_attached;            /* loaded late: no constructor start, no crash handlers */
static bool recording;        /* between a start and its stop */
static bool started_once;     /* pst_init ran: the next start is a restart */
#define MAX_VARS 64
static char settings[8192];
static const char *vars[MAX_VARS + 1];

/* The program's global scope: the executable, what it was linked with,
 * what was preloaded or dlopen'd RTLD_GLOBAL. (RTLD_DEFAULT would search
 * our own dependencies too, and find us.) */
static void *global_scope(void)
{
	static void *main_handle;

	if (!main_handle)
		main_handle = dlopen(NULL, RTLD_LAZY);
	return main_handle;
}

/* Preloaded, our exported names are in the global scope; dlopen'd by
 * attach, they are not (RTLD_LOCAL). The constructor asks before it
 * starts anything. */
bool pst_attach_loaded_late(void)
{
	void *g = global_scope();

	return g && !dlsym(g, "pst_attach_start");
}

/* "NAME=VALUE\n..." into the table the settings are read from. */
static bool take_settings(const char *s)
{
	size_t n = strlen(s), k = 0;

	if (n >= sizeof(settings))
		return false;
	memcpy(settings, s, n + 1);
	for (char *p = settings; *p && k < MAX_VARS;) {
		char *nl = strchrnul(p, '\n');
		bool last = !*nl;

		vars[k++] = p;
		*nl = 0;
		if (last)
			break;
		p = nl + 1;
	}
	vars[k] = NULL;
	pst_option_source(vars);
	return true;
}

/* ns from the process's start (starttime of /proc/self/stat, clock ticks
 * since boot) to now. */
static uint64_t since_start_ns(void)
{
	char buf[1024], *p;
	unsigned long long ticks = 0;
	struct timespec bt;
	long hz = sysconf(_SC_CLK_TCK);
	uint64_t now, start;

	if (!pst_read_proc("/proc/self/stat", buf, sizeof(buf)) || !(p = strrchr(buf, ')')) ||
	    hz <= 0 || clock_gettime(CLOCK_BOOTTIME, &bt))
		return 0;
	/* after the name: the space before field 3 (state), ..., before 22 (starttime) */
	for (int f = 3; f <= 22 && p; f++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p, " %llu", &ticks) != 1)
		return 0;
	now = (uint64_t)bt.tv_sec * 1000000000u + (uint64_t)bt.tv_nsec;
	start = ticks * (1000000000u / (uint64_t)hz);
	return now > start ? now - start : 0;
}

static void write_attach(void)
{
	uint8_t rec[2 + PST_VARINT_MAX];
	uint8_t *e = pst_enc_attach(rec, since_start_ns());

	pst_out_record((uint64_t)gettid(), pst_now(), rec, (size_t)(e - rec));
}

/*
 * The injected start. settings: the PRESTANDA_* variables, one NAME=VALUE
 * a line. 0 when recording, else a negative errno: -EBUSY already
 * recording, -EALREADY preloaded, -EINVAL settings too long, -EIO no trace (the reason went to
 * stderr), -ENOEXEC the relocation entries could not be rewritten.
 */
EXPORT int pst_attach_start(const char *settings_text)
{
	if (recording)
		return -EBUSY;
	if (!pst_attach_loaded_late())
		return -EALREADY; /* preloaded: `prestanda run` records it already */
	if (!settings_text || !take_settings(settings_text))
		return -EINVAL;
	pst_attached = true;
	if (!started_once) {
		started_once = true;
		pst_real_scope = global_scope();
		if (pst_got_patch_only("pipe2"))
			return -ENOEXEC;
		pst_init();
	} else {
		pst_init_again();
	}
	if (pst_state != PST_ON) {
		pst_got_restore(); /* the pipe2 entries */
		return -EIO;
	}
	write_attach();
	pst_timer_resume();
	if (pst_got_patch()) {
		pst_finish(PST_END_DETACH);
		pst_timer_stop();
		return -ENOEXEC;
	}
	recording = true;
	return 0;
}

/* In a forked child (init.c): the entries back, not recording. */
void pst_attach_forked(void)
{
	recording = false;
	pst_got_after_fork();
}

/*
 * The injected stop: the program's own entries back first (from then on
 * only a call already inside a hook reaches us), then everything written,
 * END, the timer thread joined. No descriptor of ours stays open: the
 * trace is opened per write, the live file is only mapped. 0, or -ENOENT
 * when not recording.
 */
EXPORT int pst_attach_stop(void)
{
	if (!recording)
		return -ENOENT;
	recording = false;
	pst_got_restore();
	pst_prod_stop();
	pst_timer_stop();
	pst_finish(PST_END_DETACH);
	pst_unw_shut();
	return 0;
}
