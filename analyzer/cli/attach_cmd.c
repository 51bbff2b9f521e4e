/* SPDX-License-Identifier: MIT */
/* prestanda attach: record a running process for a while, then leave it running as it was. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <dlfcn.h>

#include "attach.h"
#include "cli.h"
#include "options.h"

#define CMD "attach"

struct attach_opts {
	long seconds;           /* -d; 0: until Ctrl-C or the process ends */
	bool full;
	bool stop;              /* --stop: end an attach made earlier */
	const char *output;     /* -o PATTERN */
	pid_t pid;
};

static void usage(FILE *f)
{
	fputs("usage: prestanda attach [-d SECONDS] [--full] [-o PATTERN] PID\n"
	      "       prestanda attach --stop PID\n"
	      "\n"
	      "Load the preload into the running process PID (ptrace, x86-64) and record\n"
	      "its allocations, connections and threads from now on; after SECONDS, on\n"
	      "Ctrl-C, or when `--stop PID` is run, write the trace and put the process\n"
	      "back as it was. Needs the right to ptrace PID (its user or root, and\n"
	      "kernel.yama.ptrace_scope).\n"
	      "\n"
	      "  -d, --duration SECONDS  record this long, then detach\n"
	      "      --full              record every event (default: sampled by bytes)\n"
	      "  -o, --output PATTERN    the trace's path (%p pid, %e program, %h host)\n"
	      "      --stop              detach from PID now (an attach still recording)\n"
	      "  -h, --help              this help\n",
	      f);
}

static int parse(int argc, char **argv, struct attach_opts *o)
{
	static const struct option longopts[] = {
		{ "duration", required_argument, NULL, 'd' }, { "full", no_argument, NULL, 'F' },
		{ "output", required_argument, NULL, 'o' },   { "stop", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },	      { NULL, 0, NULL, 0 },
	};
	char *end;
	long pid;
	int c;

	memset(o, 0, sizeof(*o));
	optind = 0;
	while ((c = pst_cli_getopt(CMD, argc, argv, "+d:o:h", longopts)) != -1) {
		switch (c) {
		case 'd':
			if (pst_cli_positive(CMD, "-d", optarg, &o->seconds))
				return 2;
			break;
		case 'F': o->full = true; break;
		case 'o': o->output = optarg; break;
		case 'S': o->stop = true; break;
		case 'h': return pst_cli_help(usage);
		default: return 2;
		}
	}
	if (optind + 1 != argc)
		return pst_cli_fail(CMD, optind < argc ? "one PID, no more" : "which process? (a PID)");
	pid = strtol(argv[optind], &end, 10);
	if (*end || pid <= 0 || pid > INT_MAX)
		return pst_cli_fail(CMD, "%s: not a process id", argv[optind]);
	o->pid = (pid_t)pid;
	return PST_CLI_GO;
}

/* "prestanda: attach: PID: what: why" (either may be empty); 1. */
static int fail(pid_t pid, const char *what, const char *why)
{
	fprintf(stderr, "prestanda: " CMD ": %d: %s%s%s\n", (int)pid, what, *what && *why ? ": " : "",
		why);
	return 1;
}

/* dlopen(lib) in the target, by its C library's dlopen; its dlerror when
 * that fails. */
static int load_lib(struct pst_tracee *t, const struct pst_target *tg, const char *lib,
		    char *err, size_t len)
{
	uint64_t fn, handle, msg;
	char why[512] = "";

	if (pst_target_symbol(t->pid, tg->libc, "dlopen", &fn, err, len) ||
	    pst_tracee_call(t, fn, lib, strlen(lib) + 1, 0, RTLD_NOW, &handle, err, len))
		return -1;
	if (handle)
		return 0;
	if (!pst_target_symbol(t->pid, tg->libc, "dlerror", &fn, why, sizeof(why)) &&
	    !pst_tracee_call(t, fn, NULL, 0, 0, 0, &msg, why, sizeof(why)) && msg)
		pst_tracee_read_str(t, msg, why, sizeof(why));
	snprintf(err, len, "its loader could not load %s: %s", lib, why);
	return -1;
}

/* Call our function sym(data) in the target (loading us first when
 * lib is given and we are not there yet): 0 and *ret, or 1 after saying
 * why. The pause the target saw goes to *paused_ns. */
static int call_ours(pid_t pid, const char *lib, const char *sym, const char *data, int64_t *ret,
		     uint64_t *paused_ns)
{
	struct pst_tracee t;
	struct pst_target tg;
	char err[1024] = "";
	uint64_t fn, r = 0;
	int rc = -1;

	if (pst_tracee_seize(&t, pid, err, sizeof(err)))
		goto out;
	if (pst_target_read(&tg, pid, err, sizeof(err)))
		goto out;
	if (!tg.ours[0] && lib && load_lib(&t, &tg, lib, err, sizeof(err)))
		goto out;
	if (!tg.ours[0] && pst_target_read(&tg, pid, err, sizeof(err)))
		goto out;
	if (!tg.ours[0]) {
		snprintf(err, sizeof(err), "not attached (no libprestanda.so in the process)");
		goto out;
	}
	if (pst_target_symbol(pid, tg.ours, sym, &fn, err, sizeof(err)) ||
	    pst_tracee_call(&t, fn, data, data ? strlen(data) + 1 : 0, 0, 0, &r, err, sizeof(err)))
		goto out;
	*ret = (int64_t)(int32_t)r;
	rc = 0;
out:
	*paused_ns = pst_tracee_release(&t);
	return rc ? fail(pid, "", err) : 0;
}

/* The settings the preload would take from run's environment: the
 * trace's pattern made absolute, --full, the manifest it names the trace
 * in, no toggle signal (a handler is a change the program would see),
 * and any PRESTANDA_* variable of ours (a later one wins). */
static void settings(const struct attach_opts *o, const char *manifest, char *out, size_t len)
{
	char cwd[PATH_MAX], pattern[PATH_MAX * 2];
	const char *p = o->output ? o->output : "prestanda.%e.%p.trace";
	size_t at;

	if (p[0] != '/' && getcwd(cwd, sizeof(cwd)))
		snprintf(pattern, sizeof(pattern), "%s/%s", cwd, p);
	else
		snprintf(pattern, sizeof(pattern), "%s", p);
	at = (size_t)snprintf(out, len, "%s=%s\n%s=%s\n%s=none\n", pst_options[PST_OPT_OUTPUT].env,
			      pattern, pst_options[PST_OPT_MANIFEST].env, manifest,
			      pst_options[PST_OPT_TOGGLE_SIGNAL].env);
	if (o->full && at < len)
		at += (size_t)snprintf(out + at, len - at, "%s=1\n", pst_options[PST_OPT_FULL].env);
	for (char **e = environ; *e && at < len; e++)
		if (!strncmp(*e, "PRESTANDA_", 10) && strncmp(*e, "PRESTANDA_OUTPUT=", 17) &&
		    strncmp(*e, "PRESTANDA_MANIFEST=", 19) && strncmp(*e, "PRESTANDA_FULL=", 15))
			at += (size_t)snprintf(out + at, len - at, "%s\n", *e);
}

/* The manifest, for the target to name its trace in: a file of its
 * user's, as the preload wants one (mode 0600, one link). */
static int make_manifest(pid_t pid, char *path, size_t len)
{
	char proc[64];
	struct stat st;
	int fd;

	snprintf(path, len, "/tmp/prestanda-attach-%d-XXXXXX", (int)pid);
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	snprintf(proc, sizeof(proc), "/proc/%d", (int)pid);
	if (!stat(proc, &st) && st.st_uid != geteuid())
		(void)!fchown(fd, st.st_uid, st.st_gid);
	close(fd);
	return 0;
}

/* The trace path the preload wrote into the manifest ("" when none). */
static void manifest_trace(const char *manifest, char *out, size_t len)
{
	FILE *f = fopen(manifest, "re");

	out[0] = 0;
	if (f) {
		if (fgets(out, (int)len, f))
			out[strcspn(out, "\n")] = 0;
		fclose(f);
	}
}

static const char *start_error(int64_t rc)
{
	switch (rc) {
	case -EBUSY: return "already attached (prestanda attach --stop PID ends it)";
	case -EALREADY: return "it runs under `prestanda run` already";
	case -EINVAL: return "the settings are too long";
	case -EIO: return "the process could not create its trace (can its user write to that directory?)";
	case -ENOEXEC: return "its relocation entries could not be rewritten";
	default: return strerror((int)-rc);
	}
}

/* Until the duration is over, Ctrl-C, or the process ends: true when it
 * is still there to detach from. */
static bool wait_window(const struct attach_opts *o)
{
	sigset_t set;
	struct timespec tick = { 0, 200 * 1000000 };
	struct timespec t0, now;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (sigtimedwait(&set, NULL, &tick) > 0)
			return kill(o->pid, 0) == 0;
		if (kill(o->pid, 0) && errno == ESRCH)
			return false;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (o->seconds && now.tv_sec - t0.tv_sec + (now.tv_nsec - t0.tv_nsec) / 1e9 >= (double)o->seconds)
			return true;
	}
}

/* The end of an attach: trace is its path (NULL for --stop, which did
 * not start it; for it, nothing to stop is an error). */
static int detach(pid_t pid, const char *trace)
{
	int64_t r = 0;
	uint64_t paused = 0;

	if (call_ours(pid, NULL, "pst_attach_stop", NULL, &r, &paused))
		return 1;
	if (r == -ENOENT && !trace)
		return fail(pid, "not recording (detached already)", "");
	if (r == -ENOENT) {
		fprintf(stderr, "prestanda: " CMD ": %d was detached already (attach --stop); trace: %s\n",
			(int)pid, *trace ? trace : "?");
		return 0;
	}
	fprintf(stderr, "prestanda: " CMD ": detached from %d (stopped %.1f ms)%s%s\n", (int)pid,
		paused / 1e6, trace && *trace ? "; trace: " : "", trace ? trace : "");
	return 0;
}

static int attach(const struct attach_opts *o, const char *lib)
{
	char manifest[64], text[8192], trace[PATH_MAX] = "";
	int64_t r = 0;
	uint64_t paused = 0;
	sigset_t set;
	int rc;

	if (make_manifest(o->pid, manifest, sizeof(manifest)))
		manifest[0] = 0;
	settings(o, manifest, text, sizeof(text));
	/* Ctrl-C from here on ends the window, never us halfway through */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	rc = call_ours(o->pid, lib, "pst_attach_start", text, &r, &paused);
	if (!rc && r)
		rc = fail(o->pid, "cannot record", start_error(r));
	if (!rc) {
		manifest_trace(manifest, trace, sizeof(trace));
		fprintf(stderr, "prestanda: " CMD ": recording %d into %s (stopped %.1f ms)\n",
			(int)o->pid, *trace ? trace : "its trace", paused / 1e6);
		if (wait_window(o))
			rc = detach(o->pid, trace);
		else
			fprintf(stderr, "prestanda: " CMD ": %d ended; trace: %s\n", (int)o->pid, trace);
	}
	if (manifest[0])
		unlink(manifest);
	return rc;
}

/* Refusals that need no ptrace: no process, a static binary. */
static int check_target(pid_t pid)
{
	struct pst_target tg;
	char err[512] = "";

	if (pst_target_read(&tg, pid, err, sizeof(err)))
		return fail(pid, "", err);
	if (!tg.libc[0])
		return fail(pid, "no dynamic C library in it (a static binary?)",
			    "nothing there can load a library");
	return 0;
}

int pst_cmd_attach(int argc, char **argv)
{
	struct attach_opts o;
	char lib[PATH_MAX], there[PATH_MAX], err[1024] = "";
	int rc = parse(argc, argv, &o);

	if (rc != PST_CLI_GO)
		return rc;
	if ((rc = check_target(o.pid)))
		return rc;
	if (o.stop)
		return detach(o.pid, NULL);
	if (pst_cli_find_preload(lib, sizeof(lib)) < 0) {
		fprintf(stderr, "prestanda: " CMD ": libprestanda.so not found next to prestanda\n");
		return 1;
	}
	if (pst_target_lib_path(o.pid, lib, there, sizeof(there), err, sizeof(err)))
		return fail(o.pid, "", err);
	if (strcmp(there, lib))
		fprintf(stderr, "prestanda: " CMD ": %d sees another file system (mount namespace): it loads a copy of %s at %s\n",
			(int)o.pid, lib, there);
	return attach(&o, there);
}
