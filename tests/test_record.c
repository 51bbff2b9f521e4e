/* SPDX-License-Identifier: MIT */
/* End-to-end eBPF: `prestanda record` on targets with known CPU and off-CPU profiles, checked against ground truth and perf. */
#include <math.h>
#include <sched.h>
#include <sys/mount.h>
#include <time.h>

#include "itest.h"

#define SPLIT ITEST_TARGETS "cpu_split"
#define SLEEPER ITEST_TARGETS "cpu_sleep"

/* Output of one command: wait status, stdout, stderr. */
struct cmd {
	int wstatus;
	char *out, *err;
};

static void run_cmd(struct cmd *c, char *const argv[])
{
	char outp[PATH_MAX], errp[PATH_MAX];

	itest_tmpfile(outp, sizeof(outp));
	itest_tmpfile(errp, sizeof(errp));
	c->wstatus = itest_spawn(argv, outp, errp);
	c->out = itest_slurp(outp, NULL);
	c->err = itest_slurp(errp, NULL);
	unlink(outp);
	unlink(errp);
	cr_assert(c->out && c->err);
}

static void cmd_free(struct cmd *c)
{
	free(c->out);
	free(c->err);
}

static bool exited(const struct cmd *c, int code)
{
	return WIFEXITED(c->wstatus) && WEXITSTATUS(c->wstatus) == code;
}

/* Skip, saying why, where this kernel or build cannot record (exit 3). */
static void need_ebpf(bool off_cpu)
{
	itest_need_ebpf(off_cpu);
}

/* Record argv (after "record -o TRACE"), then report it as JSON; the
 * command's stdout into *out when out is not NULL (the caller frees it). */
static json_t *record(struct itest_report *rep, char *trace, size_t len, const char *const *args,
		      char **out)
{
	char *argv[ITEST_MAX_ARGS] = { ITEST_PRESTANDA, "record", "-o", trace };
	int n = 4;
	struct cmd c;

	snprintf(trace, len, "/tmp/pst-itest-rec.XXXXXX");
	cr_assert(mkstemp(trace) >= 0);
	while (*args && n < ITEST_MAX_ARGS - 1)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	run_cmd(&c, argv);
	cr_assert(exited(&c, 0), "record: %s; stderr: %s", itest_wdesc(c.wstatus), c.err);
	if (out) {
		*out = c.out;
		c.out = NULL;
	}
	cmd_free(&c);
	return itest_report_ok(rep, trace);
}

static json_t *cpu_fn(json_t *rep, const char *name)
{
	json_t *fns = itest_get(rep, "cpu.functions"), *f;
	size_t i;

	json_array_foreach(fns, i, f)
		if (itest_fn_is(json_string_value(json_object_get(f, "function")), name))
			return f;
	return NULL;
}

static double self_pct(json_t *rep, const char *name)
{
	json_t *f = cpu_fn(rep, name);

	return f ? json_real_value(json_object_get(f, "self_pct")) : 0;
}

/* A frame is "fn (file:line)", "fn (module)" or "fn". */
static bool frame_is(const char *frame, const char *fn)
{
	size_t n = strlen(fn);

	return frame && !strncmp(frame, fn, n) && (!frame[n] || frame[n] == ' ' || frame[n] == '(');
}

/* Whether any frame of the stack names fn. */
static bool stack_has(json_t *stack, const char *fn)
{
	json_t *fr;
	size_t i;

	json_array_foreach(stack, i, fr)
		if (frame_is(json_string_value(fr), fn))
			return true;
	return false;
}

Test(record, known_split_and_whole_stacks_without_frame_pointers, .timeout = 120)
{
	const char *args[] = { "-F", "499", "--", SPLIT, "3", NULL };
	struct itest_report rep;
	char trace[PATH_MAX];
	json_t *j, *stacks, *s;
	long long samples, truncated;
	double hot, cold, share;
	size_t i, reach = 0, total = 0;

	need_ebpf(false);
	j = record(&rep, trace, sizeof(trace), args, NULL);
	cr_expect_str_eq(itest_str(j, "cpu.source"), "ebpf");
	cr_expect_str_eq(itest_str(j, "cpu.unwinding"), "dwarf");
	samples = itest_int(j, "cpu.samples");
	truncated = itest_int(j, "cpu.truncated_stacks");
	cr_assert_gt(samples, 300, "only %lld samples in 2 x 3 s of CPU at 499 Hz", samples);
	hot = self_pct(j, "burn_hot");
	cold = self_pct(j, "burn_cold");
	share = 100 * hot / (hot + cold);
	/* 70% of the loop's time is in burn_hot, 30% in burn_cold. */
	cr_expect(share > 65 && share < 75, "burn_hot has %.1f%% of the two (want 70 +- 5)", share);
	cr_expect(itest_fn_is(itest_str(json_array_get(itest_get(j, "cpu.functions"), 0), "function"),
			      "burn_hot"),
		  "the top function is not burn_hot");
	cr_expect_gt(hot, 50, "burn_hot has only %.1f%% of the samples", hot);
	/* DWARF unwinding: the stacks of the main thread reach main, the
	 * other thread's start_thread; hardly any are truncated. */
	cr_expect_lt(truncated * 20, samples, "%lld of %lld stacks truncated", truncated, samples);
	stacks = itest_get(j, "cpu.stacks");
	json_array_foreach(stacks, i, s) {
		json_t *st = json_object_get(s, "stack");

		if (!stack_has(st, "burn_hot") && !stack_has(st, "burn_cold"))
			continue;
		total += json_integer_value(json_object_get(s, "samples"));
		if (stack_has(st, "work") && (stack_has(st, "main") || stack_has(st, "start_thread")))
			reach += json_integer_value(json_object_get(s, "samples"));
	}
	cr_expect_gt(total, 0);
	cr_expect_geq(reach * 100, total * 95, "%zu of %zu burn samples reach main", reach, total);
	cr_expect_eq(json_array_size(itest_get(j, "cpu.threads")), 2);
	/* burn, work, start_thread, clone3 at least */
	cr_expect_geq(itest_int(j, "cpu.median_stack_depth"), 4);
	cr_expect_str_eq(itest_str(json_array_get(itest_get(j, "findings"), 0), "id"),
			 "cpu-hot-function");
	itest_report_free(&rep);
	unlink(trace);
}

/* `perf report` self percentage of sym, or -1 when perf cannot say. */
static double perf_self(const char *out, const char *sym)
{
	const char *p = out;

	while ((p = strstr(p, sym))) {
		const char *l = p;

		while (l > out && l[-1] != '\n')
			l--;
		if ((p[strlen(sym)] == ' ' || p[strlen(sym)] == '\n') && strstr(l, "%") < p)
			return atof(l);
		p++;
	}
	return -1;
}

Test(record, agrees_with_perf, .timeout = 120)
{
	const char *args[] = { "-F", "499", "--", SPLIT, "3", NULL };
	char pdata[PATH_MAX] = "/tmp/pst-itest-perf.XXXXXX", trace[PATH_MAX];
	const char *perf = access("/usr/bin/perf", X_OK) ? NULL : "/usr/bin/perf";
	char *prec[] = { (char *)perf, "record", "-q", "-F", "499", "-e", "cpu-clock", "--call-graph",
			 "dwarf", "-o", pdata, "--", SPLIT, "3", NULL };
	char *prep[] = { (char *)perf, "report", "-i", pdata, "--no-children", "--sort", "symbol",
			 "--stdio", "-q", "-g", "none", NULL };
	struct itest_report rep;
	struct cmd c;
	const char *fns[] = { "burn_hot", "burn_cold" };
	json_t *j;

	need_ebpf(false);
	if (!perf)
		cr_skip_test("perf is not installed (Debian: linux-perf)");
	cr_assert(mkstemp(pdata) >= 0);
	run_cmd(&c, prec);
	if (!exited(&c, 0)) {
		char why[512];

		snprintf(why, sizeof(why), "perf record cannot run here: %s", c.err);
		cmd_free(&c);
		unlink(pdata);
		cr_skip_test("%s", why);
	}
	cmd_free(&c);
	run_cmd(&c, prep);
	unlink(pdata);
	cr_assert(exited(&c, 0), "perf report: %s", c.err);
	j = record(&rep, trace, sizeof(trace), args, NULL);
	for (size_t i = 0; i < 2; i++) {
		double ps = perf_self(c.out, fns[i]), ours = self_pct(j, fns[i]);

		cr_assert_geq(ps, 0, "perf's report lacks %s: %s", fns[i], c.out);
		cr_expect(fabs(ps - ours) <= 5, "%s: perf %.1f%%, prestanda %.1f%%", fns[i], ps, ours);
	}
	cmd_free(&c);
	itest_report_free(&rep);
	unlink(trace);
}

Test(record, off_cpu_known_sleep, .timeout = 60)
{
	const char *args[] = { "--off-cpu", "--", SLEEPER, NULL };
	struct itest_report rep;
	char trace[PATH_MAX], *out;
	json_t *j, *stacks, *s;
	long long at = 0;
	size_t i;

	need_ebpf(true);
	j = record(&rep, trace, sizeof(trace), args, &out);
	stacks = itest_get(j, "cpu.off_cpu.stacks");
	json_array_foreach(stacks, i, s)
		if (stack_has(json_object_get(s, "stack"), "wait_here") &&
		    stack_has(json_object_get(s, "stack"), "main"))
			at += json_integer_value(json_object_get(s, "blocked_ns"));
	/* 10 sleeps of 100 ms in wait_here, at most the time they took (the
	 * target's own clock around them: a loaded machine oversleeps) */
	cr_expect(at > 900000000 && at <= itest_printed(out, "waited_ns"),
		  "blocked in wait_here for %lld ns, not 1 s (%s)", at, out);
	cr_expect_geq(itest_int(j, "cpu.off_cpu.waits"), 10);
	free(out);
	itest_report_free(&rep);
	unlink(trace);
}

/* CPU time of process pid (all its threads), in clock ticks. */
static long long proc_ticks(pid_t pid)
{
	char path[64], *text, *p;
	unsigned long long ut, st;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	text = itest_slurp(path, NULL);
	cr_assert(text, "%s: %s", path, strerror(errno));
	p = strrchr(text, ')');
	cr_assert(p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			      &st) == 2,
		  "%s: %s", path, text);
	free(text);
	return (long long)(ut + st);
}

/* Whether every thread of pid is in state c (R, S, T...), and how many it has. */
static bool all_threads_in(pid_t pid, char c)
{
	char path[64], *text, *p;
	struct dirent *d;
	bool all = true;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	cr_assert(dir, "%s: %s", path, strerror(errno));
	while (all && (d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.20s/stat", (int)pid, d->d_name);
		text = itest_slurp(path, NULL);
		p = text ? strrchr(text, ')') : NULL;
		all = p && p[1] == ' ' && p[2] == c;
		free(text);
	}
	closedir(dir);
	return all;
}

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, ms % 1000 * 1000000 };

	nanosleep(&ts, NULL);
}

/* Stop pid, and wait until all of its threads are stopped: its CPU time
 * is then fixed. */
static long long stop_all(pid_t pid)
{
	cr_assert(kill(pid, SIGSTOP) == 0);
	while (!all_threads_in(pid, 'T'))
		pause_ms(1);
	return proc_ticks(pid);
}

/* SPLIT started, exec'd (its 2 threads exist) and stopped: its CPU time. */
static long long split_stopped(pid_t *child)
{
	char *targv[] = { SPLIT, "600", NULL };
	char path[64], *comm = NULL;

	*child = fork();
	cr_assert(*child >= 0);
	if (!*child)
		itest_exec_child(targv, NULL, NULL, 0);
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)*child);
	for (;;) {
		free(comm);
		comm = itest_slurp(path, NULL);
		if (comm && !strcmp(comm, "cpu_split\n") && proc_ticks(*child) > 0)
			break;
		pause_ms(1);
	}
	free(comm);
	return stop_all(*child);
}

/* `record ARGS` in the background, once it says it records (its probes
 * are attached): its pid; its stderr goes to err. */
static pid_t record_started(char *trace, size_t len, const char *const *args, char *err,
			    size_t errlen)
{
	char *argv[ITEST_MAX_ARGS] = { ITEST_PRESTANDA, "record", "-o", trace };
	int n = 4, st;
	char *text = NULL;
	pid_t pid;

	snprintf(trace, len, "/tmp/pst-itest-rec.XXXXXX");
	cr_assert(mkstemp(trace) >= 0);
	itest_tmpfile(err, errlen);
	n = itest_argv_add(argv, n, args);
	argv[n] = NULL;
	pid = fork();
	cr_assert(pid >= 0);
	if (!pid)
		itest_exec_child(argv, NULL, err, 0);
	while (!text || !strstr(text, "prestanda: recording ")) {
		cr_assert(waitpid(pid, &st, WNOHANG) == 0, "record ended before recording: %s",
			  text ? text : "");
		free(text);
		pause_ms(5);
		text = itest_slurp(err, NULL);
	}
	free(text);
	return pid;
}

/* Let the stopped pid run for want ticks of its CPU time, stop it again:
 * the ticks it ran. */
static long long run_for_ticks(pid_t pid, long long t0, long long want)
{
	cr_assert(kill(pid, SIGCONT) == 0);
	while (proc_ticks(pid) < t0 + want)
		pause_ms(5);
	return stop_all(pid) - t0;
}

/* Stop the recording (as Ctrl-C does) and read its trace. */
static json_t *record_stopped(struct itest_report *rep, pid_t rec, const char *trace,
			      const char *err)
{
	int st;
	char *text;

	cr_assert(kill(rec, SIGINT) == 0);
	while (waitpid(rec, &st, 0) < 0)
		cr_assert(errno == EINTR);
	text = itest_slurp(err, NULL);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "record: %s; stderr: %s",
		  itest_wdesc(st), text ? text : "");
	free(text);
	unlink(err);
	return itest_report_ok(rep, trace);
}

/*
 * The target runs only while the recording is on, for a second of CPU
 * time: it is stopped before record attaches and again before record is
 * told to stop, so the CPU time it had inside is known exactly, and the
 * samples (99 Hz of CPU time) follow from it, however loaded the machine.
 * At least half of them: the tick accounting of /proc is coarse.
 */
Test(record, attach_to_pid_and_host_wide, .timeout = 120)
{
	char pid[32], trace[PATH_MAX], err[PATH_MAX];
	const char *by_pid[] = { "-p", pid, NULL };
	const char *host[] = { "-a", NULL };
	long hz = sysconf(_SC_CLK_TCK);
	struct itest_report rep;
	long long t0, ran;
	json_t *j, *procs, *p;
	bool seen = false;
	pid_t child, rec;
	size_t i;

	need_ebpf(false);
	t0 = split_stopped(&child);
	snprintf(pid, sizeof(pid), "%d", (int)child);
	rec = record_started(trace, sizeof(trace), by_pid, err, sizeof(err));
	ran = run_for_ticks(child, t0, hz);
	j = record_stopped(&rep, rec, trace, err);
	cr_expect_eq(itest_int(j, "process.pid"), child);
	cr_expect_geq(itest_int(j, "cpu.samples"), ran * 99 / hz / 2, "%lld samples in %lld ticks",
		      itest_int(j, "cpu.samples"), ran);
	cr_expect(cpu_fn(j, "burn_hot"), "burn_hot not sampled in the running process");
	cr_expect_eq(json_array_size(itest_get(j, "cpu.processes")), 1);
	itest_report_free(&rep);
	unlink(trace);

	t0 = proc_ticks(child);
	rec = record_started(trace, sizeof(trace), host, err, sizeof(err));
	ran = run_for_ticks(child, t0, hz);
	j = record_stopped(&rep, rec, trace, err);
	cr_expect(itest_bool(j, "cpu.host_wide"));
	procs = itest_get(j, "cpu.processes");
	json_array_foreach(procs, i, p)
		seen |= json_integer_value(json_object_get(p, "pid")) == child;
	cr_expect(seen, "-a did not sample pid %d in its %lld ticks", (int)child, ran);
	cr_expect(cpu_fn(j, "burn_hot"), "-a: burn_hot not symbolized");
	itest_report_free(&rep);
	unlink(trace);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}

Test(record, frame_pointer_mode_still_finds_the_leaf, .timeout = 60)
{
	const char *args[] = { "-F", "499", "--call-graph", "fp", "--", SPLIT, "1", NULL };
	struct itest_report rep;
	char trace[PATH_MAX];
	json_t *j;

	need_ebpf(false);
	j = record(&rep, trace, sizeof(trace), args, NULL);
	cr_expect_str_eq(itest_str(j, "cpu.unwinding"), "frame-pointer");
	cr_expect(itest_fn_is(itest_str(json_array_get(itest_get(j, "cpu.functions"), 0), "function"),
			      "burn_hot"));
	itest_report_free(&rep);
	unlink(trace);
}

Test(record, clear_one_line_errors)
{
	char *notarget[] = { ITEST_PRESTANDA, "record", NULL };
	struct cmd c;

	run_cmd(&c, notarget);
	cr_expect(exited(&c, 2), "record without a target: %s", itest_wdesc(c.wstatus));
	cr_expect(strstr(c.err, "-a, -p PID or -- COMMAND"), "stderr: %s", c.err);
	cmd_free(&c);
}

/* Run as root, dropped to nobody by setpriv: record --check says it needs
 * root, on one line. */
Test(record, unprivileged_check_needs_root)
{
	char *noroot[] = { "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
			   ITEST_PRESTANDA, "record", "--check", NULL };
	struct cmd c;

	if (geteuid())
		cr_skip_test("not root: cannot drop to another user to run record unprivileged");
	if (access(noroot[0], X_OK))
		cr_skip_test("%s is missing (util-linux)", noroot[0]);
	run_cmd(&c, noroot);
	cr_expect(exited(&c, 3), "unprivileged --check: %s", itest_wdesc(c.wstatus));
	cr_expect(strstr(c.err, "needs root"), "stderr: %s", c.err);
	cr_expect_eq(itest_lines(c.err), 1, "more than one line: %s", c.err);
	cmd_free(&c);
}

/* `record TRACE-ARGS... -- argv`: the wait status, stderr in c. */
static int record_cmd(struct cmd *c, const char *trace, const char *const *args)
{
	char *argv[ITEST_MAX_ARGS] = { ITEST_PRESTANDA, "record", "-o", (char *)trace };
	int n = 4;

	while (*args && n < ITEST_MAX_ARGS - 1)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	run_cmd(c, argv);
	return c->wstatus;
}

/* Like perf record: the command's exit status, 128+N when signal N ended
 * it, 127 when it cannot be run; the trace is written all the same. */
Test(record, exits_with_the_commands_status, .timeout = 60)
{
	static const struct {
		const char *arg;
		int status;
	} cases[] = { { "3", 3 }, { "segv", 128 + SIGSEGV }, { "0", 0 } };
	char trace[PATH_MAX] = "/tmp/pst-itest-rec.XXXXXX";
	struct itest_report rep;
	struct cmd c;

	need_ebpf(false);
	cr_assert(mkstemp(trace) >= 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		record_cmd(&c, trace,
			   (const char *[]){ "--", ITEST_TARGETS "exit_status", cases[i].arg, NULL });
		cr_expect(exited(&c, cases[i].status), "record -- exit_status %s: %s, want exit %d; stderr: %s",
			  cases[i].arg, itest_wdesc(c.wstatus), cases[i].status, c.err);
		cmd_free(&c);
		itest_report_ok(&rep, trace);
		cr_expect(itest_bool(rep.json, "process.complete"));
		itest_report_free(&rep);
	}
	record_cmd(&c, trace, (const char *[]){ "--", "/nonexistent/program", NULL });
	cr_expect(exited(&c, 127), "record -- a missing program: %s", itest_wdesc(c.wstatus));
	cr_expect(strstr(c.err, "cannot run /nonexistent/program: execvp: No such file or directory"),
		  "stderr: %s", c.err);
	cmd_free(&c);
	unlink(trace);
}

/* -p of a process that does not exist: exit 2, one line, no trace left. */
Test(record, missing_pid_is_an_error, .timeout = 60)
{
	char dir[64] = "/tmp/pst-itest-rec.XXXXXX", trace[PATH_MAX], pid[32], want[64];
	struct cmd c;
	pid_t gone;

	need_ebpf(false);
	cr_assert(mkdtemp(dir));
	snprintf(trace, sizeof(trace), "%s/t.trace", dir);
	gone = fork();
	cr_assert(gone >= 0);
	if (!gone)
		_exit(0);
	waitpid(gone, NULL, 0);
	snprintf(pid, sizeof(pid), "%d", (int)gone);
	record_cmd(&c, trace, (const char *[]){ "-p", pid, "-d", "1", NULL });
	cr_expect(exited(&c, 2), "record -p of a missing pid: %s; stderr: %s", itest_wdesc(c.wstatus),
		  c.err);
	snprintf(want, sizeof(want), "prestanda: record: no process %d\n", (int)gone);
	cr_expect_str_eq(c.err, want);
	cr_expect_neq(access(trace, F_OK), 0, "a trace was left behind");
	cmd_free(&c);
	unlink(trace);
	rmdir(dir);
}

/* rm -r of a directory of files and directories (the kept objects). */
static void remove_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char p[PATH_MAX];

	if (!d) {
		unlink(path);
		return;
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
		remove_tree(p);
	}
	closedir(d);
	rmdir(path);
}

/*
 * A container's binary: the target runs from a tmpfs mounted in its own
 * mount namespace only (the directory is empty in ours). record -p reads
 * it through /proc/PID/root and keeps a copy, so that the report, taken
 * after the process ended, names the hot function.
 */
Test(record, binary_only_in_its_mount_namespace, .timeout = 120)
{
	char dir[64] = "/tmp/pst-itest-ns.XXXXXX", prog[PATH_MAX], trace[PATH_MAX], kept[PATH_MAX + 16];
	char pid[32], exe[PATH_MAX], link[64], err[PATH_MAX];
	struct itest_report rep;
	json_t *j, *top;
	int sync[2], st;
	pid_t child, rec;
	long long t0, ran;
	char why[128] = "";

	need_ebpf(false);
	cr_assert(mkdtemp(dir));
	snprintf(prog, sizeof(prog), "%s/cpu_split", dir);
	cr_assert_eq(pipe(sync), 0);
	child = fork();
	cr_assert(child >= 0);
	if (!child) {
		size_t n;
		char *buf = itest_slurp(SPLIT, &n);
		int fd;

		close(sync[0]);
		if (!buf || unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("none", dir, "tmpfs", 0, "mode=0755")) {
			snprintf(why, sizeof(why), "unshare -m and mount: %s", strerror(errno));
			(void)!write(sync[1], why, strlen(why));
			_exit(1);
		}
		fd = open(prog, O_WRONLY | O_CREAT | O_TRUNC, 0755);
		if (fd < 0 || write(fd, buf, n) != (ssize_t)n || close(fd))
			_exit(1);
		close(sync[1]); /* CLOEXEC would do; the parent reads EOF at exec */
		execl(prog, prog, "4", (char *)NULL);
		_exit(127);
	}
	close(sync[1]);
	if (read(sync[0], why, sizeof(why) - 1) > 0) {
		close(sync[0]);
		waitpid(child, NULL, 0);
		rmdir(dir);
		cr_skip_test("%s", why);
	}
	close(sync[0]);
	/* running from the private tmpfs: exec done */
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)child);
	for (int i = 0; i < 500; i++) {
		ssize_t n = readlink(link, exe, sizeof(exe) - 1);

		exe[n > 0 ? n : 0] = 0;
		if (!strcmp(exe, prog))
			break;
		usleep(10000);
	}
	cr_assert_str_eq(exe, prog);
	cr_assert_neq(access(prog, F_OK), 0, "%s is visible outside the namespace", prog);
	snprintf(pid, sizeof(pid), "%d", (int)child);
	/* a second of its CPU time inside the recording (as attach_to_pid_*) */
	t0 = stop_all(child);
	rec = record_started(trace, sizeof(trace), (const char *[]){ "-p", pid, "-F", "199", NULL },
			     err, sizeof(err));
	ran = run_for_ticks(child, t0, sysconf(_SC_CLK_TCK));
	kill(child, SIGKILL);
	waitpid(child, &st, 0);
	rmdir(dir);
	/* the process is gone: only the kept copy can name its functions */
	j = record_stopped(&rep, rec, trace, err);
	cr_expect_geq(itest_int(j, "cpu.samples"), ran * 199 / sysconf(_SC_CLK_TCK) / 2,
		      "%lld samples in %lld ticks", itest_int(j, "cpu.samples"), ran);
	top = json_array_get(itest_get(j, "cpu.functions"), 0);
	cr_expect(top && itest_fn_is(itest_str(top, "function"), "burn_hot"),
		  "the top function is %s, not burn_hot", top ? itest_str(top, "function") : "none");
	cr_expect(cpu_fn(j, "burn_cold"), "burn_cold not named");
	cr_expect_lt(itest_int(j, "cpu.truncated_stacks") * 10, itest_int(j, "cpu.samples"),
		     "%lld of %lld stacks truncated", itest_int(j, "cpu.truncated_stacks"),
		     itest_int(j, "cpu.samples"));
	itest_report_free(&rep);
	snprintf(kept, sizeof(kept), "%s.objects", trace);
	remove_tree(kept);
	unlink(trace);
}
