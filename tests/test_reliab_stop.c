/* SPDX-License-Identifier: MIT */
/* Stops: SIGTERM, SIGINT, SIGHUP and SIGQUIT sent to the program, and a stack overflow, end it as bare and keep a complete trace. */
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>

#include "reliab.h"
#include <criterion/parameterized.h>

#define SRC "rel_stop.c"
#define TARGET ITEST_TARGETS "rel_stop"

/* A program started with its stdout on a pipe: preloaded (`prestanda run`
 * when run is set, else LD_PRELOAD straight into the program) or bare. */
struct child {
	pid_t pid;  /* what we wait for */
	long prog;  /* the program's pid, from its "ready" line */
	int out;    /* read end of its stdout */
};

enum how { BARE, RUN, PRELOAD };

static void start(struct child *c, enum how how, const char *dir, char *const args[], bool core)
{
	char *argv[ITEST_MAX_ARGS], pattern[PATH_MAX], prog[PATH_MAX], lib[PATH_MAX];
	int p[2], n = 0;

	snprintf(pattern, sizeof(pattern), "%s/t.%%p.trace", dir);
	if (how == RUN) {
		argv[n++] = ITEST_PRESTANDA;
		argv[n++] = "run";
		argv[n++] = "--full";
		argv[n++] = "-o";
		argv[n++] = pattern;
		argv[n++] = "--";
	}
	argv[n++] = TARGET;
	for (int i = 0; args[i]; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	cr_assert_eq(pipe(p), 0);
	/* cores go to dir: the program runs there, by absolute path */
	cr_assert(realpath(TARGET, prog));
	cr_assert(realpath(ITEST_PRELOAD, lib));
	argv[how == RUN ? 6 : 0] = prog;
	c->pid = fork();
	cr_assert(c->pid >= 0, "fork: %s", strerror(errno));
	if (c->pid == 0) {
		struct rlimit lim = { core ? RLIM_INFINITY : 0, core ? RLIM_INFINITY : 0 };
		int null = open("/dev/null", O_RDWR);

		if (null < 0 || setrlimit(RLIMIT_CORE, &lim) || (core && chdir(dir)))
			_exit(126);
		dup2(null, 0);
		dup2(p[1], 1);
		dup2(null, 2);
		close(p[0]);
		if (how == PRELOAD) {
			setenv("LD_PRELOAD", lib, 1);
			setenv("PRESTANDA_OUTPUT", pattern, 1);
			setenv("PRESTANDA_FULL", "1", 1);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	c->out = p[0];
	c->prog = 0;
}

/* Read one line of the child's stdout (30 s at most). */
static bool read_line(struct child *c, char *line, size_t len)
{
	size_t n = 0;

	while (n + 1 < len) {
		struct pollfd pf = { c->out, POLLIN, 0 };
		char ch;

		if (poll(&pf, 1, 30000) <= 0 || read(c->out, &ch, 1) != 1)
			break;
		line[n++] = ch;
		if (ch == '\n')
			break;
	}
	line[n] = 0;
	return n && line[n - 1] == '\n';
}

static void wait_ready(struct child *c)
{
	char line[128];

	cr_assert(read_line(c, line, sizeof(line)), "no ready line: '%s'", line);
	cr_assert_eq(sscanf(line, "ready %ld", &c->prog), 1, "not a ready line: %s", line);
}

/* Wait for the child; the rest of its stdout into rest. */
static int finish(struct child *c, char *rest, size_t len)
{
	int st;
	ssize_t n;
	size_t got = 0;

	while (got + 1 < len && (n = read(c->out, rest + got, len - 1 - got)) > 0)
		got += (size_t)n;
	rest[got] = 0;
	close(c->out);
	while (waitpid(c->pid, &st, 0) < 0)
		cr_assert(errno == EINTR, "waitpid: %s", strerror(errno));
	return st;
}

static void mkdir_run(struct itest_run *r)
{
	memset(r, 0, sizeof(*r));
	strcpy(r->dir, "/tmp/pst-itest.XXXXXX");
	cr_assert(mkdtemp(r->dir), "mkdtemp: %s", strerror(errno));
}

/* Start, wait for ready, send sig to the program, return its wait status. */
static int stop_once(enum how how, const char *dir, char *const args[], int sig, bool core,
		     char *rest, size_t len)
{
	struct child c;

	start(&c, how, dir, args, core);
	wait_ready(&c);
	cr_assert_eq(kill((pid_t)c.prog, sig), 0, "kill: %s", strerror(errno));
	return finish(&c, rest, len);
}

/* The one trace of the run: complete, ended by sig. */
static json_t *trace_of(struct itest_run *r, struct itest_report *rep, int sig)
{
	json_t *j;

	itest_collect(r);
	cr_assert_eq(r->ntraces, 1, "%d traces", r->ntraces);
	j = itest_report_ok(rep, r->traces[0]);
	cr_expect(itest_bool(j, "process.complete"), "trace incomplete: %s", rep->err);
	cr_expect_str_eq(itest_str(j, "process.end_reason"), "signal");
	cr_expect_eq(itest_int(j, "process.signal"), sig);
	return j;
}

/* Under `prestanda run` in the fresh directory r, the program given args
 * and stopped by sig: run exits 128+sig; the one trace (see trace_of). */
static json_t *run_stopped(struct itest_run *r, struct itest_report *rep, char *const args[],
			   int sig)
{
	char rest[256];
	int st;

	st = stop_once(RUN, r->dir, args, sig, false, rest, sizeof(rest));
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 128 + sig, "prestanda run: %s",
		  itest_wdesc(st));
	return trace_of(r, rep, sig);
}

/*
 * The program allocated n blocks at stop_alloc (and, late, n more at
 * last_alloc within the last few milliseconds) and waits in pause(): the
 * signal ends it as it ends the bare program, and the trace holds all.
 */
static void check_stop(int sig, const char *mode)
{
	char *args[] = { (char *)mode, "1000", NULL }, rest[256];
	struct itest_run r;
	struct itest_report rep;
	json_t *j;
	int bare;

	mkdir_run(&r);
	bare = stop_once(BARE, r.dir, args, sig, false, rest, sizeof(rest));
	cr_assert(WIFSIGNALED(bare) && WTERMSIG(bare) == sig, "bare: %s", itest_wdesc(bare));
	j = run_stopped(&r, &rep, args, sig);
	rel_check_site(j, SRC, "stop_alloc", 1000, 64000, 64000);
	if (!strcmp(mode, "late"))
		rel_check_site(j, SRC, "last_alloc", 1000, 32000, 32000);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* SIGTERM, SIGINT, SIGHUP and SIGQUIT to a program waiting in pause(), and
 * to one that allocated right before the signal. */
struct stop_case {
	int sig;
	char mode[8];
};

ParameterizedTestParameters(reliab_stop, stopped_by_signal)
{
	static struct stop_case v[] = {
		{ SIGTERM, "wait" }, { SIGINT, "wait" }, { SIGHUP, "wait" }, { SIGQUIT, "wait" },
		{ SIGTERM, "late" }, { SIGINT, "late" }, { SIGHUP, "late" }, { SIGQUIT, "late" },
	};

	return cr_make_param_array(struct stop_case, v, sizeof(v) / sizeof(*v));
}

ParameterizedTest(struct stop_case *c, reliab_stop, stopped_by_signal, .timeout = 60)
{
	check_stop(c->sig, c->mode);
}

/* The raw wait status, core flag included, with core dumps allowed: the
 * preloaded program (no `run` between) ends exactly as the bare one. */
static void check_raw_status(int sig)
{
	char *args[] = { "wait", "10", NULL }, rest[256], pattern[PATH_MAX];
	struct itest_run r;
	int bare, pre;
	FILE *f = fopen("/proc/sys/kernel/core_pattern", "r");

	cr_assert(f);
	cr_assert(fgets(pattern, sizeof(pattern), f));
	fclose(f);
	mkdir_run(&r);
	/* a pipe would hand our test's cores to the system's collector */
	bool core = pattern[0] != '|';
	bare = stop_once(BARE, r.dir, args, sig, core, rest, sizeof(rest));
	pre = stop_once(PRELOAD, r.dir, args, sig, core, rest, sizeof(rest));
	cr_expect_eq(pre, bare, "preloaded: %s (%#x), bare %#x", itest_wdesc(pre), pre, bare);
	if (core && sig == SIGQUIT)
		cr_expect(WCOREDUMP(bare), "bare SIGQUIT dumped no core (%#x)", bare);
	itest_cleanup(&r);
}

Test(reliab_stop, raw_status_sigterm, .timeout = 60) { check_raw_status(SIGTERM); }
Test(reliab_stop, raw_status_sigquit_with_core, .timeout = 60) { check_raw_status(SIGQUIT); }

/* The signal lands on either of two threads; both buffers are kept. */
Test(reliab_stop, sigterm_two_threads, .timeout = 60)
{
	char *args[] = { "thread", "500", NULL };
	struct itest_run r;
	struct itest_report rep;
	json_t *j;

	for (int i = 0; i < 3; i++) {
		mkdir_run(&r);
		j = run_stopped(&r, &rep, args, SIGTERM);
		cr_expect_eq(rel_calls(j, "stop_alloc"), 500);
		cr_expect_eq(rel_calls(j, "thread_alloc"), 500);
		itest_report_free(&rep);
		itest_cleanup(&r);
	}
}

/* The signal lands on threads busy inside malloc and free, inside the
 * profiler most of the time: the end waits for them to leave it, and the
 * trace is whole (each block written once, every block freed but the one
 * in each thread's hands). */
Test(reliab_stop, sigterm_inside_the_profiler, .timeout = 120)
{
	char *args[] = { "busy", "1000", NULL };
	struct itest_run r;
	struct itest_report rep;
	json_t *j, *busy;

	for (int i = 0; i < 5; i++) {
		mkdir_run(&r);
		j = run_stopped(&r, &rep, args, SIGTERM);
		cr_expect_eq(rep.wstatus, 0, "report: %s", rep.err);
		rel_check_site(j, SRC, "stop_alloc", 1000, 64000, 64000);
		busy = itest_site(j, "busy");
		cr_expect_gt(itest_int(busy, "calls"), 0);
		cr_expect_leq(itest_int(busy, "leaked_bytes"), 2 * 200);
		itest_report_free(&rep);
		itest_cleanup(&r);
	}
}

/* What the program sees of its dispositions and signal stacks, and what it
 * gets back as it changes them, is what it sees bare. */
Test(reliab_stop, dispositions_as_bare, .timeout = 60)
{
	char *argv[] = { TARGET, "show", NULL }, *bare;
	struct itest_run r;
	int st;

	st = itest_spawn_out(argv, &bare);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "bare: %s", itest_wdesc(st));
	cr_assert(strstr(bare, "start 15: DFL flags 0 restorer none mask\n"), "bare: %s", bare);
	itest_run(&r, (const char *[]){ "--full", NULL }, "rel_stop", (const char *[]){ "show", NULL });
	REL_EXITED(&r, 0);
	cr_expect_str_eq(r.out, bare);
	free(bare);
	itest_cleanup(&r);
}

/* A handler of the program's own is the one that runs. */
Test(reliab_stop, own_handler_runs, .timeout = 60)
{
	char *args[] = { "own", "100", NULL }, rest[256];
	struct itest_run r;
	struct itest_report rep;
	json_t *j;
	int st;

	mkdir_run(&r);
	st = stop_once(RUN, r.dir, args, SIGTERM, false, rest, sizeof(rest));
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 3, "run: %s", itest_wdesc(st));
	cr_expect_str_eq(rest, "own handler 15\n");
	itest_collect(&r);
	cr_assert_eq(r.ntraces, 1);
	j = itest_report_ok(&rep, r.traces[0]);
	cr_expect_str_eq(itest_str(j, "process.end_reason"), "exit");
	cr_expect_eq(rel_calls(j, "stop_alloc"), 100);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* Its own handler, then SIG_DFL again: ours stands in once more. */
Test(reliab_stop, default_restored, .timeout = 60)
{
	char *args[] = { "restore", "100", NULL };
	struct itest_run r;
	struct itest_report rep;
	json_t *j;

	mkdir_run(&r);
	j = run_stopped(&r, &rep, args, SIGTERM);
	cr_expect_eq(rel_calls(j, "stop_alloc"), 100);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* SIG_IGN is honoured: SIGTERM does nothing, SIGUSR1 lets it finish. */
Test(reliab_stop, ignored_stays_ignored, .timeout = 60)
{
	char *args[] = { "ignore", "100", NULL }, rest[256];
	struct itest_run r;
	struct child c;
	int st;

	mkdir_run(&r);
	start(&c, RUN, r.dir, args, false);
	wait_ready(&c);
	cr_assert_eq(kill((pid_t)c.prog, SIGTERM), 0);
	usleep(100000);
	cr_assert_eq(kill((pid_t)c.prog, SIGUSR1), 0);
	st = finish(&c, rest, sizeof(rest));
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "run: %s", itest_wdesc(st));
	cr_expect_str_eq(rest, "still here\n");
	itest_cleanup(&r);
}

/* n blocks, then recursion until the stack overflows: SIGSEGV as bare,
 * the handler runs on the thread's alternate stack and keeps the trace. */
static void check_overflow(const char *mode, bool thread)
{
	char *argv[] = { TARGET, (char *)mode, "1000", NULL };
	struct itest_run r;
	struct itest_report rep;
	json_t *j;
	int bare = itest_spawn(argv, NULL, NULL);

	cr_assert(WIFSIGNALED(bare) && WTERMSIG(bare) == SIGSEGV, "bare: %s", itest_wdesc(bare));
	itest_run(&r, (const char *[]){ "--full", NULL }, "rel_stop",
		  (const char *[]){ mode, "1000", NULL });
	REL_EXITED(&r, 128 + SIGSEGV);
	cr_assert_eq(r.ntraces, 1, "%d traces", r.ntraces);
	j = trace_of(&r, &rep, SIGSEGV);
	rel_check_site(j, SRC, "stop_alloc", 1000, 64000, 64000);
	if (thread)
		rel_check_site(j, SRC, "thread_alloc", 1000, 48000, 48000);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

Test(reliab_stop, stack_overflow_main_thread, .timeout = 60)
{
	check_overflow("overflow", false);
}

Test(reliab_stop, stack_overflow_second_thread, .timeout = 60)
{
	check_overflow("overflow_thread", true);
}

/* python3 sees SIG_DFL where it would bare, installs its SIGINT handler
 * over it, and KeyboardInterrupt works. "ready" is printed inside the try:
 * the test sends SIGINT as soon as it reads the line, and on a loaded
 * machine that can land between a print before the try and the try itself
 * (python then ends by the signal, uncaught: seen once). */
static const char py_show[] =
	"import signal; print(signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM),"
	" signal.getsignal(signal.SIGHUP), signal.getsignal(signal.SIGQUIT))";
static const char py_kbd[] =
	"import os, sys, time\n"
	"try:\n    print('ready', os.getpid(), flush=True)\n    time.sleep(30)\n"
	"except KeyboardInterrupt:\n"
	"    print('KeyboardInterrupt', flush=True)\n    sys.exit(4)\n";

static char *python_run(enum how how, const char *dir, const char *code, int sig, int *st)
{
	char *argv[] = { ITEST_PRESTANDA, "run", "-o", NULL, "--", "/usr/bin/python3", "-c",
			 (char *)code, NULL };
	char pattern[PATH_MAX], out[PATH_MAX], *text;
	int p[2];
	pid_t pid;

	snprintf(pattern, sizeof(pattern), "%s/t.%%p.trace", dir);
	argv[3] = pattern;
	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(p[1], 1);
		dup2(null, 2);
		close(p[0]);
		execv(how == RUN ? argv[0] : argv[5], how == RUN ? argv : argv + 5);
		_exit(127);
	}
	close(p[1]);
	struct child c = { pid, 0, p[0] };
	if (sig)
		wait_ready(&c), kill((pid_t)c.prog, sig);
	*st = finish(&c, out, sizeof(out));
	text = strdup(out);
	return text;
}

Test(reliab_stop, python_sees_the_default, .timeout = 60)
{
	struct itest_run r;
	char *bare, *pre;
	int st;

	if (access("/usr/bin/python3", X_OK))
		cr_skip_test("no python3");
	mkdir_run(&r);
	bare = python_run(BARE, r.dir, py_show, 0, &st);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	cr_assert(strstr(bare, "default_int_handler> 0 0 0\n"), "bare: %s", bare);
	pre = python_run(RUN, r.dir, py_show, 0, &st);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "run: %s", itest_wdesc(st));
	cr_expect_str_eq(pre, bare);
	free(bare);
	free(pre);
	itest_cleanup(&r);
}

Test(reliab_stop, python_keyboard_interrupt, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep;
	char *out;
	int st;

	if (access("/usr/bin/python3", X_OK))
		cr_skip_test("no python3");
	mkdir_run(&r);
	out = python_run(RUN, r.dir, py_kbd, SIGINT, &st);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 4, "run: %s", itest_wdesc(st));
	cr_expect_str_eq(out, "KeyboardInterrupt\n");
	free(out);
	itest_collect(&r);
	cr_assert_eq(r.ntraces, 1, "%d traces", r.ntraces);
	cr_expect(itest_bool(itest_report_ok(&rep, r.traces[0]), "process.complete"));
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* Uncaught, python restores SIG_DFL and sends SIGINT to itself: ours
 * stands in again, and the trace ends with the signal. */
static const char py_uncaught[] =
	"import os, time\n"
	"print('ready', os.getpid(), flush=True)\n"
	"time.sleep(30)\n";

Test(reliab_stop, python_uncaught_interrupt, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep;
	char *out;
	int st;

	if (access("/usr/bin/python3", X_OK))
		cr_skip_test("no python3");
	mkdir_run(&r);
	out = python_run(BARE, r.dir, py_uncaught, SIGINT, &st);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGINT, "bare: %s", itest_wdesc(st));
	free(out);
	out = python_run(RUN, r.dir, py_uncaught, SIGINT, &st);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 128 + SIGINT, "run: %s", itest_wdesc(st));
	free(out);
	trace_of(&r, &rep, SIGINT);
	itest_report_free(&rep);
	itest_cleanup(&r);
}
