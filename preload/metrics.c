/* SPDX-License-Identifier: MIT */
/* --metrics-textfile: each SNAPSHOT's figures in the Prometheus text format, one file per process, for node_exporter's textfile collector. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pst.h"

/*
 * The timer thread writes the file from the very numbers of the SNAPSHOT it
 * has just recorded, so the file and the trace agree by construction. It
 * writes a hidden temporary file (node_exporter reads only *.prom) and
 * renames it over the last one: a scrape sees a whole file or the previous
 * one. No descriptor is held between writes and nothing is allocated: the
 * text goes through a static buffer (the timer thread is the only writer).
 * The file goes away when the process ends in a way the preload sees (exit,
 * exec, a fatal signal); after SIGKILL it stays, and its
 * prestanda_last_write_timestamp_seconds stops moving.
 */
static char dir[512];          /* "" : off */
static char path[600], tmp[600]; /* this process's file and its temporary */
static int ended;              /* the process is ending: write no more */
static char text[8192];

/* Made once per process, never while another thread may read them. */
static void set_paths(void)
{
	snprintf(path, sizeof(path), "%s/prestanda-%d.prom", dir, (int)getpid());
	snprintf(tmp, sizeof(tmp), "%s/.prestanda-%d.prom.tmp", dir, (int)getpid());
}

void pst_metrics_set_dir(const char *d)
{
	size_t n = strlen(d);

	if (n >= sizeof(dir)) {
		pst_say("metrics textfile directory too long, ignored: %s", d);
		return;
	}
	memcpy(dir, d, n + 1);
	while (n > 1 && dir[n - 1] == '/')
		dir[--n] = 0;
	set_paths();
}

bool pst_metrics_on(void)
{
	return dir[0] != 0;
}

/* The program label: the name the process has now, with what would end a
 * quoted label value replaced. */
static void program_label(char *out, size_t len)
{
	const char *n = program_invocation_short_name;
	size_t i = 0;

	for (; n && n[i] && i + 1 < len; i++) {
		unsigned char c = (unsigned char)n[i];

		out[i] = c == '"' || c == '\\' || c < ' ' || c == 0x7f ? '_' : (char)c;
	}
	out[i] = 0;
}

/* A value is a whole number divided by its scale: exact in the file
 * (CPU time to the nanosecond, as in the trace). */
struct metric {
	const char *name, *type, *help;
	uint64_t scale; /* 1, 1000 (ms) or 1000000000 (ns) */
};

/* In the order of the values metrics_values fills. */
static const struct metric metrics[] = {
	{ "prestanda_alloc_calls_total", "counter",
	  "Allocation calls (malloc, calloc, realloc, new, ...) since the process started, counted exactly.", 1 },
	{ "prestanda_free_calls_total", "counter", "Calls of free (and delete) since the process started.", 1 },
	{ "prestanda_alloc_bytes_total", "counter", "Bytes asked for by allocation calls since the process started.", 1 },
	{ "prestanda_resident_memory_bytes", "gauge", "Resident set of the process (heap included).", 1 },
	{ "prestanda_open_fds", "gauge", "Descriptors the program holds open (not the profiler's own).", 1 },
	{ "prestanda_threads", "gauge", "Threads of the program (not the profiler's own).", 1 },
	{ "prestanda_cpu_seconds_total", "counter", "CPU time of the process, user and system.", 1000000000 },
	{ "prestanda_lock_wait_seconds_total", "counter",
	  "Time threads waited for contended mutexes, rwlocks and spinlocks.", 1000000000 },
	{ "prestanda_metrics_interval_seconds", "gauge", "How often this file is written.", 1000 },
	{ "prestanda_last_write_timestamp_seconds", "gauge",
	  "When this file was written (Unix time): a file that stops moving is stale (process killed by SIGKILL).",
	  1000000000 },
};
#define NMETRICS (sizeof(metrics) / sizeof(metrics[0]))

static void metrics_values(const struct pst_snap *s, uint64_t v[NMETRICS])
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	v[0] = s->alloc_calls;
	v[1] = s->free_calls;
	v[2] = s->alloc_bytes;
	v[3] = s->rss;
	v[4] = s->fds;
	v[5] = s->threads;
	v[6] = s->cpu_ns;
	v[7] = __atomic_load_n(&pst_lock_wait_ns, __ATOMIC_RELAXED);
	v[8] = pst_cfg.metrics_ms;
	v[9] = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

/* One metric's lines at text + at: how many bytes, or -1 when they do not fit. */
static int format_metric(size_t at, const struct metric *m, const char *labels, uint64_t v)
{
	int n = snprintf(text + at, sizeof(text) - at, "# HELP %s %s\n# TYPE %s %s\n%s{%s} ", m->name,
			 m->help, m->name, m->type, m->name, labels);
	int k;

	if (n < 0 || (size_t)n >= sizeof(text) - at)
		return -1;
	if (m->scale == 1)
		k = snprintf(text + at + n, sizeof(text) - at - (size_t)n, "%llu\n", (unsigned long long)v);
	else
		k = snprintf(text + at + n, sizeof(text) - at - (size_t)n, "%llu.%0*llu\n",
			     (unsigned long long)(v / m->scale), m->scale == 1000 ? 3 : 9,
			     (unsigned long long)(v % m->scale));
	if (k < 0 || (size_t)k >= sizeof(text) - at - (size_t)n)
		return -1;
	return n + k;
}

/* The file's text into the static buffer: its length, 0 when it does not fit. */
static size_t format_text(const struct pst_snap *s)
{
	char prog[128], labels[200];
	uint64_t v[NMETRICS];
	size_t at = 0;

	program_label(prog, sizeof(prog));
	snprintf(labels, sizeof(labels), "program=\"%s\",pid=\"%d\"", prog, (int)getpid());
	metrics_values(s, v);
	for (size_t i = 0; i < NMETRICS; i++) {
		int n = format_metric(at, &metrics[i], labels, v[i]);

		if (n < 0)
			return 0;
		at += (size_t)n;
	}
	return at;
}

static bool write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* Timer thread only, with its guard set. */
void pst_metrics_write(const struct pst_snap *s)
{
	static bool warned;
	size_t len;
	int fd, saved = errno;
	bool ok;

	if (!dir[0] || __atomic_load_n(&ended, __ATOMIC_SEQ_CST) || !(len = format_text(s)))
		return;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ok = fd >= 0 && write_all(fd, text, len);
	if (fd >= 0)
		pst_fd_close(fd);
	ok = ok && rename(tmp, path) == 0;
	if (!ok) {
		if (!warned)
			pst_say("metrics textfile %s: %s", path, strerror(errno));
		warned = true;
		unlink(tmp);
	}
	/* the process began to end while this was written: pst_metrics_remove
	 * may have looked before the rename */
	if (__atomic_load_n(&ended, __ATOMIC_SEQ_CST))
		unlink(path);
	errno = saved;
}

/* At exit, exec and a fatal signal: async-signal-safe (a store, two unlinks). */
void pst_metrics_remove(void)
{
	int saved = errno;

	if (!dir[0])
		return;
	__atomic_store_n(&ended, 1, __ATOMIC_SEQ_CST);
	unlink(path);
	unlink(tmp);
	errno = saved;
}

/* A forked child writes a file of its own and never removes its parent's. */
void pst_metrics_after_fork(void)
{
	ended = 0;
	if (dir[0])
		set_paths();
}
