/* SPDX-License-Identifier: MIT */
/* `prestanda run` as a user sees it: signals passed on to the program, exit status, what run says about each trace, programs the loader runs in secure mode. */
#include <pty.h>
#include <sys/xattr.h>
#include <time.h>

#include "reliab.h"
#include <criterion/parameterized.h>

#define SIGNAL_TARGET "run_signal"

/* A program started in the background, under run or bare. */
struct bg {
	pid_t pid;    /* prestanda run, or the bare program */
	char dir[64]; /* fresh directory: traces, out, err */
	char out[PATH_MAX], err[PATH_MAX];
};

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Start TARGET ARGS (under `prestanda run OPTS -o DIR/t.%p.trace --` when
 * under_run) with stdout and stderr to files and default signal handling. */
static void bg_start(struct bg *b, bool under_run, const char *const *opts, const char *target,
		     const char *const *args)
{
	char *argv[ITEST_MAX_ARGS], pattern[PATH_MAX], prog[PATH_MAX];
	int n = 0;

	memset(b, 0, sizeof(*b));
	strcpy(b->dir, "/tmp/pst-itest-runcli.XXXXXX");
	cr_assert(mkdtemp(b->dir), "mkdtemp: %s", strerror(errno));
	snprintf(b->out, sizeof(b->out), "%s/out", b->dir);
	snprintf(b->err, sizeof(b->err), "%s/err", b->dir);
	snprintf(pattern, sizeof(pattern), "%s/t.%%p.trace", b->dir);
	snprintf(prog, sizeof(prog), "%s%s", target[0] == '/' ? "" : ITEST_TARGETS, target);
	if (under_run)
		n = itest_argv_run(argv, n, opts, pattern);
	n = itest_argv_add(argv, n, (const char *const[]){ prog, NULL });
	argv[itest_argv_add(argv, n, args)] = NULL;
	b->pid = fork();
	cr_assert(b->pid >= 0, "fork: %s", strerror(errno));
	if (!b->pid)
		itest_exec_child(argv, b->out, b->err, ITEST_CHILD_DFL_SIGNALS);
}

/* What the program wrote to stdout so far ("" when nothing). */
static char *bg_out(struct bg *b)
{
	char *s = itest_slurp(b->out, NULL);

	return s ? s : strdup("");
}

/* Wait up to 10 s for the line "ready PID": the program's pid, or 0. */
static pid_t bg_ready(struct bg *b)
{
	for (int i = 0; i < 1000; i++) {
		char *s = bg_out(b), *nl = strchr(s, '\n');
		long pid = 0;

		if (!strncmp(s, "ready ", 6) && nl)
			pid = strtol(s + 6, NULL, 10);
		free(s);
		if (pid > 0)
			return (pid_t)pid;
		sleep_ms(10);
	}
	return 0;
}

/* Has b ended within secs seconds? Then *st is its wait status. */
static bool bg_wait(struct bg *b, int secs, int *st)
{
	for (int i = 0; i < secs * 100; i++) {
		pid_t w = waitpid(b->pid, st, WNOHANG);

		if (w == b->pid)
			return true;
		cr_assert(w == 0, "waitpid: %s", strerror(errno));
		sleep_ms(10);
	}
	return false;
}

/* Is pid gone (no process, or a zombie) within secs seconds? */
static bool gone(pid_t pid, int secs)
{
	for (int i = 0; i <= secs * 100; i++) {
		char path[64], *stat, *p;
		bool zombie = false;

		if (kill(pid, 0) && errno == ESRCH)
			return true;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		stat = itest_slurp(path, NULL);
		p = stat ? strrchr(stat, ')') : NULL;
		zombie = p && p[1] && p[2] == 'Z';
		free(stat);
		if (zombie)
			return true;
		sleep_ms(10);
	}
	return false;
}

static void bg_cleanup(struct bg *b)
{
	DIR *d = opendir(b->dir);
	struct dirent *e;
	char p[PATH_MAX];

	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", b->dir, e->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(b->dir);
}

/* The status a shell reports for a wait status: N, or 128+N for signal N. */
static int shell_status(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
}

/* stdout after the first line ("ready PID", which differs between runs). */
static const char *after_ready(const char *s)
{
	const char *nl = strchr(s, '\n');

	return nl ? nl + 1 : s;
}

/* The program as it ends when sig comes, bare: its status and output. */
static void bare_signalled(const char *mode, int sig, int *status, char **out)
{
	struct bg b;
	pid_t pid;
	int st;

	bg_start(&b, false, NULL, SIGNAL_TARGET, (const char *[]){ mode, NULL });
	pid = bg_ready(&b);
	cr_assert(pid == b.pid, "bare %s: not ready (pid %d)", mode, (int)pid);
	kill(pid, sig);
	cr_assert(bg_wait(&b, 10, &st), "bare %s: still running 10 s after signal %d", mode, sig);
	*status = shell_status(st);
	*out = bg_out(&b);
	bg_cleanup(&b);
}

/*
 * sig sent to run (by a process, as kill or a supervisor does) reaches the
 * program, and run ends as the program does: the same status and output
 * as bare, no program left running, its trace written. With the default
 * disposition and with a handler of the program's own that exits 7.
 */
static void check_forwarded(const char *mode, int sig)
{
	struct bg b;
	struct itest_report rep;
	char trace[PATH_MAX], *out, *bare_out, *err;
	int bare_status, st;
	bool ended, orphan;
	pid_t prog;

	bare_signalled(mode, sig, &bare_status, &bare_out);
	bg_start(&b, true, (const char *[]){ "--full", NULL }, SIGNAL_TARGET,
		 (const char *[]){ mode, NULL });
	prog = bg_ready(&b);
	cr_assert(prog > 0, "the program never said it was ready");
	cr_assert_eq(kill(b.pid, sig), 0);
	ended = bg_wait(&b, 10, &st);
	orphan = !gone(prog, ended ? 2 : 0);
	if (!ended)
		kill(b.pid, SIGKILL), waitpid(b.pid, &st, 0);
	if (orphan)
		kill(prog, SIGKILL);
	out = bg_out(&b);
	err = itest_slurp(b.err, NULL);
	cr_assert(ended, "%s %s: prestanda run still running 10 s after signal %d to it; stderr: %s",
		  mode, strsignal(sig), sig, err);
	cr_expect(!orphan, "%s %s: the program (pid %d) runs on after run ended", mode,
		  strsignal(sig), (int)prog);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == bare_status,
		  "%s %s: prestanda run %s, bare the program ends with status %d; stderr: %s", mode,
		  strsignal(sig), itest_wdesc(st), bare_status, err);
	cr_expect_str_eq(after_ready(out), after_ready(bare_out), "%s %s: output differs from bare",
			 mode, strsignal(sig));
	snprintf(trace, sizeof(trace), "%s/t.%d.trace", b.dir, (int)prog);
	cr_expect_eq(access(trace, R_OK), 0, "%s %s: no trace %s", mode, strsignal(sig), trace);
	if (!strcmp(mode, "handler")) {
		json_t *j = itest_report_ok(&rep, trace);
		char line[PATH_MAX + 64];

		cr_expect(itest_bool(j, "process.complete"));
		rel_check_site(j, "run_signal.c", "before_wait", 3, 300, 300);
		itest_report_free(&rep);
		snprintf(line, sizeof(line), "prestanda: read it with: prestanda report %s\n", trace);
		cr_expect(strstr(err, line), "stderr lacks '%s': %s", line, err);
	}
	free(out);
	free(bare_out);
	free(err);
	bg_cleanup(&b);
}

/* SIGTERM, SIGINT, SIGHUP and SIGQUIT, each to a program that takes the
 * default and to one with a handler. */
ParameterizedTestParameters(run_cli, signal_forwarded)
{
	static int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT };

	return cr_make_param_array(int, sigs, sizeof(sigs) / sizeof(*sigs));
}

ParameterizedTest(int *sig, run_cli, signal_forwarded, .timeout = 60)
{
	check_forwarded("default", *sig);
	check_forwarded("handler", *sig);
}

/* A second SIGTERM while run waits (the program handled the first) goes on too. */
Test(run_cli, second_sigterm_forwarded_again, .timeout = 60)
{
	struct bg b;
	char *out = NULL, *err;
	pid_t prog;
	bool ended = false;
	int st;

	bg_start(&b, true, NULL, SIGNAL_TARGET, (const char *[]){ "handler", "2", NULL });
	prog = bg_ready(&b);
	cr_assert(prog > 0);
	kill(b.pid, SIGTERM);
	for (int i = 0; i < 1000 && !(out && strstr(out, "got 15\n")); i++) {
		free(out);
		sleep_ms(10);
		out = bg_out(&b);
	}
	if (strstr(out, "got 15\n")) {
		kill(b.pid, SIGTERM);
		ended = bg_wait(&b, 10, &st);
	}
	if (!ended) {
		kill(b.pid, SIGKILL);
		kill(prog, SIGKILL);
		waitpid(b.pid, &st, 0);
	}
	free(out);
	out = bg_out(&b);
	err = itest_slurp(b.err, NULL);
	cr_assert(ended, "run did not end after two SIGTERMs (%s); output: %s; stderr: %s",
		  itest_wdesc(st), out, err);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 7, "run %s", itest_wdesc(st));
	cr_expect_str_eq(after_ready(out), "got 15\ngot 15\ntotal 2\n");
	free(out);
	free(err);
	bg_cleanup(&b);
}

/*
 * ^C on a terminal reaches the whole foreground group, the program too:
 * run does not deliver it a second time. The program counts the SIGINTs
 * it gets in 300 ms.
 */
Test(run_cli, terminal_interrupt_delivered_once, .timeout = 60)
{
	char dir[64] = "/tmp/pst-itest-runcli.XXXXXX", pattern[PATH_MAX], buf[4096];
	char *argv[] = { ITEST_PRESTANDA, "run", "-o", pattern, "--",
			 ITEST_TARGETS SIGNAL_TARGET, "handler", NULL };
	size_t len = 0;
	int master, st;
	pid_t pid;

	cr_assert(mkdtemp(dir));
	snprintf(pattern, sizeof(pattern), "%s/t.%%p.trace", dir);
	pid = forkpty(&master, NULL, NULL, NULL);
	cr_assert(pid >= 0, "forkpty: %s", strerror(errno));
	if (!pid) {
		signal(SIGINT, SIG_DFL);
		execv(argv[0], argv);
		_exit(127);
	}
	/* everything it writes, until the pty closes (EIO) */
	for (bool sent = false;;) {
		ssize_t n = read(master, buf + len, sizeof(buf) - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = 0;
		if (!sent && strstr(buf, "ready ") && strchr(strstr(buf, "ready "), '\n')) {
			cr_assert_eq(write(master, "\003", 1), 1); /* ^C */
			sent = true;
		}
	}
	buf[len] = 0;
	close(master);
	waitpid(pid, &st, 0);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 7, "run %s; terminal: %s", itest_wdesc(st), buf);
	cr_expect(strstr(buf, "got 2\r\ntotal 1\r\n"), "the program did not get one SIGINT: %s", buf);
	{
		struct bg b = { 0 };

		strcpy(b.dir, dir);
		bg_cleanup(&b);
	}
}

/* run killed outright (SIGKILL, nothing to forward) still ends the program:
 * it gets SIGTERM, its handler says so and it exits. */
Test(run_cli, sigkill_to_run_ends_the_program, .timeout = 60)
{
	struct bg b;
	pid_t prog;
	bool ended;
	char *out;
	int st;

	bg_start(&b, true, NULL, SIGNAL_TARGET, (const char *[]){ "handler", NULL });
	prog = bg_ready(&b);
	cr_assert(prog > 0);
	kill(b.pid, SIGKILL);
	waitpid(b.pid, &st, 0);
	ended = gone(prog, 10);
	if (!ended)
		kill(prog, SIGKILL);
	cr_assert(ended, "the program (pid %d) runs on after run was killed", (int)prog);
	out = bg_out(&b);
	cr_expect_str_eq(after_ready(out), "got 15\ntotal 1\n");
	free(out);
	bg_cleanup(&b);
}

/* A daemon's trace has no END yet: run says it is still being written,
 * and points at the parent's trace to read. */
Test(run_cli, daemon_trace_still_being_written, .timeout = 60)
{
	struct itest_run r;
	char line[PATH_MAX + 128];
	long daemon = 0, parent;

	itest_run(&r, NULL, "run_daemon", NULL);
	REL_EXITED(&r, 0);
	cr_assert(sscanf(r.out, "daemon %ld", &daemon) == 1, "stdout: %s", r.out);
	cr_assert_eq(r.ntraces, 2, "%d traces; stderr: %s", r.ntraces, r.err);
	parent = itest_trace_pid(r.traces[0]) == daemon ? itest_trace_pid(r.traces[1]) :
							  itest_trace_pid(r.traces[0]);
	snprintf(line, sizeof(line),
		 "prestanda: %s/t.%ld.trace: still being written by pid %ld (it runs on; read it once it ends)\n",
		 r.dir, daemon, daemon);
	cr_expect(strstr(r.err, line), "stderr lacks '%s': %s", line, r.err);
	snprintf(line, sizeof(line), "prestanda: 2 processes, main %ld run_daemon (the command itself)\n",
		 parent);
	cr_expect(strstr(r.err, line), "stderr lacks '%s': %s", line, r.err);
	snprintf(line, sizeof(line), "prestanda:     %ld run_daemon  running  %s/t.%ld.trace\n", daemon, r.dir,
		 daemon);
	cr_expect(strstr(r.err, line), "stderr lacks '%s': %s", line, r.err);
	snprintf(line, sizeof(line), "prestanda: read it with: prestanda report %s/t.%ld.trace\n",
		 r.dir, parent);
	cr_expect(strstr(r.err, line), "stderr lacks '%s': %s", line, r.err);
	cr_expect_eq(itest_lines(r.err), 5, "more than five lines: %s", r.err);
	kill((pid_t)daemon, SIGTERM);
	cr_expect(gone((pid_t)daemon, 10));
	itest_cleanup(&r);
}

/* A process killed outright leaves a trace without END: run says where it
 * was cut and why, and its line in the summary says it was killed. */
Test(run_cli, killed_trace_said_incomplete, .timeout = 60)
{
	struct itest_run r;
	char line[PATH_MAX + 128];
	struct stat st;

	itest_run(&r, NULL, "exit_status", (const char *[]){ "kill", NULL });
	cr_assert(WIFEXITED(r.wstatus) && WEXITSTATUS(r.wstatus) == 128 + SIGKILL, "run %s",
		  itest_wdesc(r.wstatus));
	cr_assert_eq(r.ntraces, 1);
	cr_assert_eq(stat(r.traces[0], &st), 0);
	snprintf(line, sizeof(line),
		 "prestanda: %s: incomplete (cut at byte %lld: the process was killed, crashed or left by a raw exit_group)",
		 r.traces[0], (long long)st.st_size);
	cr_expect(strstr(r.err, line), "stderr lacks '%s': %s", line, r.err);
	cr_expect(strstr(r.err, "  killed by signal 9  [main]  "), "stderr: %s", r.err);
	itest_cleanup(&r);
}

/* A problem the preload tells the program's stderr (here /dev/null, as a
 * server's log) is told on run's stderr too, with the program's pid. */
Test(run_cli, preload_problems_on_runs_stderr, .timeout = 60)
{
	struct itest_run r;
	char line[256];

	itest_run(&r, (const char *[]){ "--full", "--max-size", "64K", NULL }, "run_quiet",
		   (const char *[]){ "1000000", NULL });
	REL_EXITED(&r, 0);
	cr_assert_eq(r.ntraces, 1);
	snprintf(line, sizeof(line),
		 "prestanda: %ld: trace reached --max-size (65536 bytes): from now on only snapshots are written\n",
		 itest_trace_pid(r.traces[0]));
	cr_expect(strstr(r.err, line), "stderr lacks '%s': %s", line, r.err);
	cr_expect_eq(strstr(r.err, "!"), NULL, "a manifest line taken for a trace: %s", r.err);
	cr_expect(strstr(r.err, r.traces[0]), "the trace is not named: %s", r.err);
	itest_cleanup(&r);
}

/* The program with file capabilities: Debian's ping (cap_net_raw=ep), else
 * a copy of a target given one. "" to skip. */
static void caps_program(char *path, size_t len, bool *made)
{
	char cmd[PATH_MAX + 64];
	size_t n;
	char *buf;

	*made = false;
	if (getxattr("/usr/bin/ping", "security.capability", NULL, 0) > 0) {
		snprintf(path, len, "/usr/bin/ping");
		return;
	}
	path[0] = 0;
	if (access("/usr/sbin/setcap", X_OK))
		return;
	buf = itest_slurp(ITEST_TARGETS "exit_status", &n);
	cr_assert(buf);
	snprintf(path, len, "%s/%sexit_status_caps.%d", getcwd(cmd, sizeof(cmd)), ITEST_TARGETS,
		 (int)getpid());
	itest_write(path, buf, n);
	free(buf);
	cr_assert_eq(chmod(path, 0755), 0);
	snprintf(cmd, sizeof(cmd), "/usr/sbin/setcap cap_net_raw+ep %s", path);
	if (system(cmd)) {
		unlink(path);
		path[0] = 0;
		return;
	}
	*made = true;
}

static void run_caps(struct bg *b, const char *prog, bool as_nobody, int *st, char **out,
		     char **err)
{
	char pattern[PATH_MAX];
	bool ping = strstr(prog, "ping") != NULL;
	char *argv[] = { "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
			 ITEST_PRESTANDA, "run", "-o", pattern, "--", (char *)prog,
			 ping ? "-V" : "0", NULL };
	char **a = as_nobody ? argv : argv + 4;

	memset(b, 0, sizeof(*b));
	strcpy(b->dir, "/tmp/pst-itest-runcli.XXXXXX");
	cr_assert(mkdtemp(b->dir));
	cr_assert_eq(chmod(b->dir, 0777), 0);
	snprintf(pattern, sizeof(pattern), "%s/t.%%p.trace", b->dir);
	snprintf(b->out, sizeof(b->out), "%s/out", b->dir);
	snprintf(b->err, sizeof(b->err), "%s/err", b->dir);
	*st = itest_spawn(a, b->out, b->err);
	*out = itest_slurp(b->out, NULL);
	*err = itest_slurp(b->err, NULL);
	unlink(b->out);
	unlink(b->err);
	cr_assert(*out && *err);
}

static int count_traces(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	cr_assert(d);
	while ((e = readdir(d)))
		n += !strncmp(e->d_name, "t.", 2);
	closedir(d);
	return n;
}

/*
 * Root gains nothing by file capabilities, so the loader preloads as
 * usual: no warning, a trace. An unprivileged user gains cap_net_raw: the
 * loader runs the program in secure mode, and run says so.
 */
Test(run_cli, file_capabilities_warned_only_where_secure, .timeout = 60)
{
	char prog[PATH_MAX], *out, *err, *bare_out;
	char *bare[] = { prog, NULL, NULL };
	bool made;
	struct bg b;
	int st, bare_st;

	if (geteuid() != 0)
		cr_skip_test("needs root");
	caps_program(prog, sizeof(prog), &made);
	if (!*prog)
		cr_skip_test("no program with file capabilities: install iputils-ping or libcap2-bin");
	bare[1] = strstr(prog, "ping") ? "-V" : "0";
	bare_st = itest_spawn_out(bare, &bare_out);
	run_caps(&b, prog, false, &st, &out, &err);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == shell_status(bare_st), "root: run %s, bare %s",
		  itest_wdesc(st), itest_wdesc(bare_st));
	cr_expect_str_eq(out, bare_out);
	cr_expect_eq(strstr(err, "loader ignores"), NULL, "root warned: %s", err);
	cr_expect_eq(count_traces(b.dir), 1, "root: no trace; stderr: %s", err);
	cr_expect(strstr(err, "prestanda: read it with: prestanda report "), "stderr: %s", err);
	free(out);
	free(err);
	bg_cleanup(&b);

	if (!access("/usr/bin/setpriv", X_OK)) {
		run_caps(&b, prog, true, &st, &out, &err);
		cr_expect(WIFEXITED(st), "nobody: run %s", itest_wdesc(st));
		cr_expect(strstr(err, "runs with other privileges (setuid, setgid or file capabilities): the loader ignores LD_PRELOAD for it, nothing will be recorded\n"),
			  "nobody: stderr: %s", err);
		cr_expect(strstr(err, "prestanda: no trace was written\n"), "stderr: %s", err);
		cr_expect_eq(count_traces(b.dir), 0);
		free(out);
		free(err);
		bg_cleanup(&b);
	}
	free(bare_out);
	if (made)
		unlink(prog);
}

/* ---- one CLI style: parse then run ---- */

#include "run.h"

/* `build/prestanda ARGS`: its exit status, stdout and stderr. */
static int cli(const char *const *args, char **out, char **err)
{
	char *argv[ITEST_MAX_ARGS], opath[PATH_MAX], epath[PATH_MAX];
	int n = itest_argv_add(argv, 0, (const char *const[]){ ITEST_PRESTANDA, NULL }), st;

	argv[itest_argv_add(argv, n, args)] = NULL;
	itest_tmpfile(opath, sizeof(opath));
	itest_tmpfile(epath, sizeof(epath));
	st = itest_spawn(argv, opath, epath);
	*out = itest_slurp(opath, NULL);
	*err = itest_slurp(epath, NULL);
	unlink(opath);
	unlink(epath);
	cr_assert(WIFEXITED(st), "%s", itest_wdesc(st));
	return WEXITSTATUS(st);
}

struct usage_error {
	const char *args[6];
	const char *err; /* the whole of stderr */
};

static const struct usage_error usage_errors[] = {
		{ { "report", "--bogus", NULL },
		  "prestanda: report: unknown option '--bogus'\nTry 'prestanda report --help'.\n" },
		{ { "report", "--top", NULL },
		  "prestanda: report: a value is missing after the option '--top'\n"
		  "Try 'prestanda report --help'.\n" },
		{ { "report", "--top", "0", "x.trace", NULL },
		  "prestanda: report: --top needs a positive number, not '0'\n"
		  "Try 'prestanda report --help'.\n" },
		{ { "report", NULL }, "prestanda: report: no TRACE given\nTry 'prestanda report --help'.\n" },
		{ { "diff", "a", NULL },
		  "prestanda: diff: expected BASE and NEW, got 1 argument\nTry 'prestanda diff --help'.\n" },
		{ { "diff", "--format", "x", "a", "b", NULL },
		  "prestanda: diff: --format is text, markdown or json, not 'x'\n"
		  "Try 'prestanda diff --help'.\n" },
		{ { "flame", "-x", "a", NULL },
		  "prestanda: flame: unknown option '-x'\nTry 'prestanda flame --help'.\n" },
		{ { "flame", "-f", "png", "a", NULL },
		  "prestanda: flame: unknown format 'png'; use svg, folded, speedscope or pprof\n"
		  "Try 'prestanda flame --help'.\n" },
		{ { "run", "--full=1", "true", NULL },
		  "prestanda: run: the option '--full' takes no value\nTry 'prestanda run --help'.\n" },
		{ { "run", "--alert", "mail", "true", NULL },
		  "prestanda: run: --alert: 'mail' is neither stderr nor syslog\n"
		  "Try 'prestanda run --help'.\n" },
		{ { "run", "--max-size", "1X", "true", NULL },
		  "prestanda: run: --max-size: '1X' is not a size\nTry 'prestanda run --help'.\n" },
		{ { "run", NULL }, "prestanda: run: no program given\nTry 'prestanda run --help'.\n" },
		{ { "run", "--metrics-textfile", "/nonexistent/dir", "true", NULL },
		  "prestanda: run: --metrics-textfile /nonexistent/dir: No such file or directory\n"
		  "Try 'prestanda run --help'.\n" },
		{ { "record", "-p", NULL },
		  "prestanda: record: a value is missing after the option '-p'\n"
		  "Try 'prestanda record --help'.\n" },
		{ { "record", "-g", "lbr", "-a", NULL },
		  "prestanda: record: --call-graph is dwarf or fp, not 'lbr'\n"
		  "Try 'prestanda record --help'.\n" },
		{ { "record", "-a", "-p", "1", NULL },
		  "prestanda: record: give one of -a, -p PID or -- COMMAND\n"
		  "Try 'prestanda record --help'.\n" },
		{ { "record", "-a", "--metrics-textfile", NULL },
		  "prestanda: record: a value is missing after the option '--metrics-textfile'\n"
		  "Try 'prestanda record --help'.\n" },
		{ { "rules", NULL }, "prestanda: rules: no --config FILE given\nTry 'prestanda rules --help'.\n" },
		{ { "rules", "--config", "c.json", "extra", NULL },
		  "prestanda: rules: unexpected argument 'extra'\nTry 'prestanda rules --help'.\n" },
		{ { "rules", "--severity", NULL },
		  "prestanda: rules: a value is missing after the option '--severity'\n"
		  "Try 'prestanda rules --help'.\n" },
};

/* Every command's usage errors: one line naming the command, one pointer
 * to --help, exit 2, nothing on stdout. */
Test(run_cli, usage_errors_in_one_format, .timeout = 60)
{
	for (size_t i = 0; i < sizeof(usage_errors) / sizeof(usage_errors[0]); i++) {
		const struct usage_error *c = &usage_errors[i];
		char *out, *err;

		cr_expect_eq(cli(c->args, &out, &err), 2, "prestanda %s %s", c->args[0], c->args[1]);
		cr_expect_str_eq(err, c->err);
		cr_expect_str_eq(out, "");
		free(out);
		free(err);
	}
}

/* run's help is made from the settings table, and says what it said
 * before the table. */
Test(run_cli, help_from_the_settings_table, .timeout = 30)
{
	const char *args[] = { "run", "--help", NULL };
	char *out, *err;

	cr_assert_eq(cli(args, &out, &err), 0);
	cr_expect(strstr(out, "usage: prestanda run [options] [--] PROGRAM [ARGS...]\n\n"
			      "  --full              record every allocation and free with its stack (exact)\n"
			      "  --sample-bytes N    sampled mode: one sample per N bytes on average\n"
			      "                      (default 512K; K, M and G suffixes)\n"),
		  "%s", out);
	cr_expect(strstr(out, "\nproduction mode:\n  --config FILE       the JSON config"), "%s", out);
	cr_expect(strstr(out, "  --alert stderr|syslog  where budget alerts go while the program runs\n"
			      "  --toggle-signal SIG pause/resume recording on SIG (default USR2; none)\n"
			      "  --metrics-interval S  seconds between snapshots (default 1)\n"
			      "  --metrics-textfile DIR  write each snapshot into DIR for node_exporter's\n"
			      "                      textfile collector (PRESTANDA_METRICS_TEXTFILE)\n\n"),
		  "%s", out);
	for (int i = 0; i < PST_OPT_COUNT; i++)
		if (pst_options[i].flag)
			cr_expect(strstr(out, pst_options[i].usage), "%s not in run --help",
				  pst_options[i].usage);
	cr_expect_str_eq(err, "");
	free(out);
	free(err);
}

/* The README's table of run's options and the preload's variables is the
 * code's table, as pst_run_options_markdown writes it. */
Test(run_cli, readme_table_is_the_code_table)
{
	char *readme = itest_slurp("README.md", NULL), *table = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&table, &len);

	cr_assert(readme, "README.md not found from %s", getcwd(NULL, 0));
	cr_assert(f);
	pst_run_options_markdown(f);
	fclose(f);
	cr_expect(strstr(readme, table), "README.md lacks this table (write it there):\n%s", table);
	free(readme);
	free(table);
}
