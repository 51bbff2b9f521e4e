/* SPDX-License-Identifier: MIT */
/* A process killed with SIGKILL or by the OOM killer loses nothing: what was not written by time is taken back from its live file (made at the first flush in sampled mode); an exit never waits out the timer. */
#include <criterion/criterion.h>
#include <sched.h>
#include <signal.h>
#include <sys/inotify.h>
#include <time.h>

#include "itest.h"

/* The pid of the traced program: the name of its trace, "t.PID.trace". */
static long wait_for_trace_pid(const char *dir)
{
	for (int i = 0; i < 200; i++) {
		DIR *d = opendir(dir);
		struct dirent *e;
		long pid = 0;

		while (d && (e = readdir(d)))
			if (!strncmp(e->d_name, "t.", 2) && strstr(e->d_name, ".trace"))
				pid = strtol(e->d_name + 2, NULL, 10);
		if (d)
			closedir(d);
		if (pid > 0)
			return pid;
		usleep(10000);
	}
	return 0;
}

/* Wait (up to 60 s, a loaded machine's worst) for the target to print
 * line on its stdout, DIR/out of start_full_run: the point its workload is
 * known done, whatever the machine's load. */
static void wait_for_output(const struct itest_run *r, const char *line)
{
	char outp[PATH_MAX];
	bool seen = false;

	snprintf(outp, sizeof(outp), "%s/out", r->dir);
	for (int i = 0; i < 6000 && !seen; i++) {
		char *out = itest_slurp(outp, NULL);

		seen = out && strstr(out, line);
		free(out);
		if (!seen)
			usleep(10000);
	}
	cr_assert(seen, "the target never printed '%s'", line);
}

/*
 * `prestanda run [MODE] -o DIR/t.%p.trace -- TARGET [ARG]` in the
 * background, in r->dir (a fresh one unless set); its stdout to DIR/out,
 * and with cgroup (a directory) first moved into that cgroup. mode: an
 * option of run's ("--full"), or NULL for sampled mode. Returns run's pid.
 */
static pid_t start_run(struct itest_run *r, const char *mode, const char *target,
		       const char *arg, const char *cgroup)
{
	char pattern[PATH_MAX], prog[PATH_MAX], outp[PATH_MAX], errp[PATH_MAX];
	pid_t run;

	if (!r->dir[0])
		cr_assert(mkdtemp(strcpy(r->dir, "/tmp/pst-itest.XXXXXX")));
	snprintf(pattern, sizeof(pattern), "%s/t.%%p.trace", r->dir);
	snprintf(prog, sizeof(prog), ITEST_TARGETS "%s", target);
	snprintf(outp, sizeof(outp), "%s/out", r->dir);
	snprintf(errp, sizeof(errp), "%s/err", r->dir);
	run = fork();
	cr_assert(run >= 0);
	if (run == 0) {
		int fd = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int efd = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		char pid[32], procs[PATH_MAX];

		snprintf(pid, sizeof(pid), "%d", getpid());
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", cgroup ? cgroup : "");
		if (fd < 0 || dup2(fd, 1) < 0 || efd < 0 || dup2(efd, 2) < 0 ||
		    (cgroup && !itest_write_ok(procs, pid)))
			_exit(126);
		if (mode)
			execl(ITEST_PRESTANDA, ITEST_PRESTANDA, "run", mode, "-o", pattern, "--", prog,
			      arg, (char *)NULL);
		else
			execl(ITEST_PRESTANDA, ITEST_PRESTANDA, "run", "-o", pattern, "--", prog, arg,
			      (char *)NULL);
		_exit(127);
	}
	return run;
}

static pid_t start_full_run(struct itest_run *r, const char *target, const char *arg,
			    const char *cgroup)
{
	return start_run(r, "--full", target, arg, cgroup);
}

/* alloc_then_sleep's 5,000 blocks with the timed flush pushed past the
 * run, in mode (start_run's), once it has said "filled"; *pid: the
 * program's. Returns run's pid. */
static pid_t start_filled(struct itest_run *r, const char *mode, long *pid)
{
	pid_t run;

	setenv("PRESTANDA_FLUSH_MS", "600000", 1);
	run = start_run(r, mode, "alloc_then_sleep", "5000", NULL);
	unsetenv("PRESTANDA_FLUSH_MS");
	*pid = wait_for_trace_pid(r->dir);
	cr_assert(*pid > 0, "no trace appeared");
	wait_for_output(r, "filled");
	return run;
}

Test(timer, sigkill_keeps_what_was_flushed, .timeout = 60)
{
	struct itest_run r = { 0 };
	struct itest_report rep;
	json_t *j, *site;
	pid_t run = start_full_run(&r, "alloc_then_sleep", "5000", NULL);
	long pid;
	int st;

	pid = wait_for_trace_pid(r.dir);
	cr_assert(pid > 0, "no trace appeared");
	wait_for_output(&r, "filled");
	/* The timed flush (every 1 s) is what is tested, so time it is: three
	 * intervals after the fill, wide by design for a loaded machine. */
	sleep(3);
	cr_assert_eq(kill((pid_t)pid, SIGKILL), 0);
	cr_assert_eq(waitpid(run, &st, 0), run);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 128 + SIGKILL, "run: %s", itest_wdesc(st));
	itest_collect(&r);
	cr_assert_eq(r.ntraces, 1);

	j = itest_report_ok(&rep, r.traces[0]);
	cr_expect_not(itest_bool(j, "process.complete"));
	site = itest_site(j, "fill");
	cr_assert(site, "no site in fill: the buffer was not written by time");
	cr_expect_eq(itest_int(site, "calls"), 5000);
	cr_expect_eq(itest_int(site, "line"), itest_marker_line("alloc_then_sleep.c", "fill"));
	cr_expect_eq(itest_int(site, "leaked_bytes"), 5000 * 64);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* With the timed flush pushed past the run, nothing was written when the
 * kill came: every event comes back from the live file, none twice. */
Test(timer, sigkill_loses_nothing, .timeout = 60)
{
	struct itest_run r = { 0 };
	struct itest_report rep;
	char live[PATH_MAX + 8];
	json_t *j, *site;
	pid_t run;
	long pid;
	int st;

	run = start_filled(&r, "--full", &pid);
	cr_assert_eq(kill((pid_t)pid, SIGKILL), 0);
	cr_assert_eq(waitpid(run, &st, 0), run);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 128 + SIGKILL, "run: %s", itest_wdesc(st));
	snprintf(live, sizeof(live), "%s/err", r.dir);
	r.err = itest_slurp(live, NULL);
	unlink(live);
	itest_collect(&r);
	cr_assert_eq(r.ntraces, 1);

	j = itest_report_ok(&rep, r.traces[0]);
	cr_expect_not(itest_bool(j, "process.complete"));
	site = itest_site(j, "fill");
	cr_assert(site, "no site in fill: the live file's events were not taken back");
	cr_expect_eq(itest_int(site, "calls"), 5000);
	cr_expect_eq(itest_int(site, "leaked_bytes"), 5000 * 64);
	/* said once, by whichever read the trace first: run, or report */
	cr_expect(strstr(r.err ? r.err : "", "taken back from") || strstr(rep.err, "taken back from"),
		  "run: %s\nreport: %s", r.err, rep.err);
	snprintf(live, sizeof(live), "%s.live", r.traces[0]);
	cr_expect_neq(access(live, F_OK), 0, "%s left behind", live);
	itest_report_free(&rep);
	/* a second reading finds nothing more to take back */
	j = itest_report_ok(&rep, r.traces[0]);
	cr_expect_eq(itest_int(itest_site(j, "fill"), "calls"), 5000);
	cr_expect_null(strstr(rep.err, "taken back"), "stderr: %s", rep.err);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* Snapshots every interval: a killed program's report runs up to the last
 * one, with its exact counters, and is marked incomplete. */
Test(timer, sigkill_report_runs_to_the_last_snapshot, .timeout = 60)
{
	struct itest_run r = { 0 };
	struct itest_report rep;
	json_t *j, *tl, *sites, *last;
	long long prev = -1, sum = 0;
	size_t n;
	pid_t run = start_full_run(&r, "prod_work", "bursts", NULL);
	long pid;
	int st;

	pid = wait_for_trace_pid(r.dir);
	cr_assert(pid > 0, "no trace appeared");
	wait_for_output(&r, "bursts done");
	/* snapshots every second: two intervals after the last burst, wide by
	 * design, so that the last one has counted all three */
	sleep(2);
	cr_assert_eq(kill((pid_t)pid, SIGKILL), 0);
	cr_assert_eq(waitpid(run, &st, 0), run);
	itest_collect(&r);
	cr_assert_eq(r.ntraces, 1);

	j = itest_report_ok(&rep, r.traces[0]);
	cr_expect_not(itest_bool(j, "process.complete"));
	cr_expect(strstr(rep.out, "\"error\""), "not marked incomplete");
	tl = itest_get(j, "timeline");
	n = json_array_size(tl);
	cr_assert_geq(n, 3, "%zu snapshots", n);
	for (size_t i = 0; i < n; i++) {
		long long c = json_integer_value(json_object_get(json_array_get(tl, i), "alloc_calls"));

		cr_expect_geq(c, prev, "snapshot %zu went back", i);
		prev = c;
	}
	cr_expect_gt(prev, json_integer_value(json_object_get(json_array_get(tl, 0), "alloc_calls")),
		     "the counters never grew");
	/* the last snapshot counted exactly what the trace holds */
	last = json_array_get(tl, n - 1);
	cr_expect_eq(itest_int(itest_site(j, "burst"), "calls"), 3000);
	sites = itest_get(j, "memory.sites");
	for (size_t i = 0; i < json_array_size(sites); i++)
		sum += json_integer_value(json_object_get(json_array_get(sites, i), "calls"));
	cr_expect_eq(sum, json_integer_value(json_object_get(last, "alloc_calls")));
	/* the bursts are the program's only allocations (prod_work.c) */
	cr_expect_eq(json_integer_value(json_object_get(last, "alloc_calls")), 3000);
	cr_expect_eq(itest_int(j, "memory.alloc_calls"), 3000);
	cr_expect_str_eq(itest_str(j, "memory.totals_source"), "last snapshot");
	cr_expect_eq(json_integer_value(json_object_get(last, "threads")), 1);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/*
 * A memory cgroup of limit bytes inside the test's own (cgroup v1 or v2),
 * its directory in dir; the test is skipped where none can be made.
 */
/* Write val to dir/file; false when it fails. */
static bool cg_write(const char *dir, const char *file, const char *val)
{
	char p[PATH_MAX];

	return snprintf(p, sizeof(p), "%s/%s", dir, file) < (int)sizeof(p) && itest_write_ok(p, val);
}

static bool oom_cgroup_make(char *dir, size_t len, const char *limit)
{
	char line[PATH_MAX], *path = NULL;
	bool v1 = false;
	FILE *f = fopen("/proc/self/cgroup", "r");

	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (strstr(line, ":memory:")) {
			path = strstr(line, ":memory:") + 8;
			v1 = true;
			break;
		}
		if (!strncmp(line, "0::", 3) && access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0)
			path = line + 3;
	}
	if (f)
		fclose(f);
	if (!path)
		return false;
	if (snprintf(dir, len, "/sys/fs/cgroup%s%s/pst-oom.%d", v1 ? "/memory" : "",
		     strcmp(path, "/") ? path : "", getpid()) >= (int)len || mkdir(dir, 0755) < 0)
		return false;
	if (v1 ? cg_write(dir, "memory.limit_in_bytes", limit) :
		 cg_write(dir, "memory.max", limit)) {
		/* no swapping out instead of dying: optional, absent without swap accounting */
		if (v1)
			cg_write(dir, "memory.memsw.limit_in_bytes", limit);
		else
			cg_write(dir, "memory.swap.max", "0");
		return true;
	}
	rmdir(dir);
	return false;
}

/* The cgroup's count of OOM kills ("oom_kill N" in v1's memory.oom_control or v2's memory.events). */
static long oom_kills(const char *dir)
{
	char p[PATH_MAX], *s;
	long n = -1;

	snprintf(p, sizeof(p), "%s/memory.oom_control", dir);
	s = itest_slurp(p, NULL);
	if (!s) {
		snprintf(p, sizeof(p), "%s/memory.events", dir);
		s = itest_slurp(p, NULL);
	}
	if (s && strstr(s, "oom_kill "))
		n = strtol(strstr(s, "oom_kill ") + 9, NULL, 10);
	free(s);
	return n;
}

/* Killed by the OOM killer in a 64 MiB cgroup: every block the program made is in the trace. */
Test(timer, oom_killer_loses_nothing, .timeout = 120)
{
	struct itest_run r = { 0 };
	struct itest_report rep;
	char cg[PATH_MAX], outp[PATH_MAX], *out;
	json_t *j;
	long long grown, printed;
	pid_t run;
	int st;

	if (geteuid() != 0 || !oom_cgroup_make(cg, sizeof(cg), "67108864"))
		cr_skip_test("cannot make a memory cgroup with a limit (needs root and a memory controller)");
	run = start_full_run(&r, "rel_oom", NULL, cg);
	snprintf(outp, sizeof(outp), "%s/out", r.dir);
	cr_assert_eq(waitpid(run, &st, 0), run);
	cr_expect_eq(oom_kills(cg), 1, "the cgroup saw %ld OOM kills", oom_kills(cg));
	rmdir(cg);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 128 + SIGKILL, "run: %s", itest_wdesc(st));
	out = itest_slurp(outp, NULL);
	cr_assert(out);
	printed = (long long)strlen(out);
	free(out);
	unlink(outp);
	itest_collect(&r);
	cr_assert_eq(r.ntraces, 1);

	j = itest_report_ok(&rep, r.traces[0]);
	cr_expect_not(itest_bool(j, "process.complete"));
	cr_expect(strstr(rep.out, "\"error\""), "not marked incomplete");
	cr_expect_eq(itest_int(itest_site(j, "before"), "calls"), 100);
	cr_expect_eq(itest_int(itest_site(j, "before"), "line"),
		     itest_marker_line("rel_oom.c", "before"));
	/* 64 MiB fill in about 2.5 s at 100 blocks a second: every block the
	 * program printed, and the one the killer stopped while it was being
	 * touched, if it was */
	cr_assert_geq(printed, 150, "only %lld blocks before the kill", printed);
	grown = itest_nsites(j, "grow") ? itest_int(itest_site(j, "grow"), "calls") : 0;
	cr_expect(grown == printed || grown == printed + 1, "%lld recorded, %lld made", grown,
		  printed);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* ---- sampled mode: the live file made at the first flush (preload/live.c) ---- */

/* SIGKILL to the program (pid), and run (its pid run) exits 128 + 9. */
static void kill_run(pid_t run, long pid)
{
	int st;

	cr_assert_eq(kill((pid_t)pid, SIGKILL), 0);
	cr_assert_eq(waitpid(run, &st, 0), run);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 128 + SIGKILL, "run: %s", itest_wdesc(st));
}

/* The names created in a directory watched with inotify (IN_CREATE), one
 * per line. */
static void created_names(int ino, char *out, size_t len)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	out[0] = 0;
	while ((n = read(ino, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)p;

			if (e->len)
				snprintf(out + strlen(out), len - strlen(out), "%s\n", e->name);
			p += sizeof(*e) + e->len;
		}
}

/* A program that ends within its first interval never makes the live file:
 * no inode to create and free, and its trace is complete. */
Test(timer, sampled_short_program_makes_no_live_file, .timeout = 60)
{
	struct itest_run r = { 0 };
	struct itest_report rep;
	char names[4096];
	json_t *j;
	int ino, st;
	pid_t run;

	cr_assert(mkdtemp(strcpy(r.dir, "/tmp/pst-itest.XXXXXX")));
	ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	cr_assert(ino >= 0 && inotify_add_watch(ino, r.dir, IN_CREATE) >= 0);
	run = start_run(&r, NULL, "exit_status", "0", NULL);
	cr_assert_eq(waitpid(run, &st, 0), run);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "run: %s", itest_wdesc(st));
	created_names(ino, names, sizeof(names));
	close(ino);
	cr_expect(strstr(names, ".trace\n"), "created: %s", names);
	cr_expect_null(strstr(names, ".live"), "created: %s", names);
	itest_collect(&r);
	cr_assert_eq(r.ntraces, 1);
	j = itest_report_ok(&rep, r.traces[0]);
	cr_expect(itest_bool(j, "process.complete"));
	cr_expect_eq(itest_int(j, "memory.alloc_calls"), 5);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* Killed within its first interval: no live file was made, and what the
 * buffers held is lost (at most that interval); the trace still reads, as
 * incomplete. */
Test(timer, sampled_kill_in_first_interval_reads_incomplete, .timeout = 60)
{
	char live[PATH_MAX + 8];
	struct itest_run r = { 0 };
	long pid;
	pid_t run = start_filled(&r, NULL, &pid);
	struct itest_report rep;

	snprintf(live, sizeof(live), "%s/t.%ld.trace.live", r.dir, pid);
	cr_expect_neq(access(live, F_OK), 0, "%s made in the first interval", live);
	kill_run(run, pid);
	itest_collect(&r);
	cr_assert_eq(r.ntraces, 1);
	cr_expect_not(itest_bool(itest_report_ok(&rep, r.traces[0]), "process.complete"));
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* The '.'s rel_oom printed so far: a block each. */
static long dots(const struct itest_run *r)
{
	char outp[PATH_MAX], *out;
	long n;

	snprintf(outp, sizeof(outp), "%s/out", r->dir);
	out = itest_slurp(outp, NULL);
	n = out ? (long)strlen(out) : 0;
	free(out);
	return n;
}

/*
 * Past the first interval the live file is there, and each thread's buffer
 * moved into it at that flush: a SIGKILL between two flushes (2 s apart)
 * loses none of the blocks rel_oom made since the last one. Every block
 * is sampled (a byte's countdown), so the count is exact.
 */
Test(timer, sampled_kill_after_first_interval_loses_nothing, .timeout = 120)
{
	struct itest_run r = { 0 };
	struct itest_report rep;
	char live[PATH_MAX + 8];
	long pid, printed, at = 0;
	long long grown;
	json_t *j;
	pid_t run;

	setenv("PRESTANDA_FLUSH_MS", "2000", 1);
	setenv("PRESTANDA_SAMPLE_BYTES", "1", 1);
	run = start_run(&r, NULL, "rel_oom", NULL, NULL);
	unsetenv("PRESTANDA_FLUSH_MS");
	unsetenv("PRESTANDA_SAMPLE_BYTES");
	pid = wait_for_trace_pid(r.dir);
	cr_assert(pid > 0, "no trace appeared");
	snprintf(live, sizeof(live), "%s/t.%ld.trace.live", r.dir, pid);
	for (int i = 0; i < 3000 && access(live, F_OK); i++)
		usleep(10000);
	cr_assert_eq(access(live, F_OK), 0, "no live file after the first interval");
	/* blocks made since the flush that made the file, before the next */
	for (at = dots(&r); dots(&r) < at + 30;)
		usleep(10000);
	kill_run(run, pid);
	printed = dots(&r);
	itest_collect(&r);
	cr_assert_eq(r.ntraces, 1);
	j = itest_report_ok(&rep, r.traces[0]);
	cr_expect_not(itest_bool(j, "process.complete"));
	grown = itest_nsites(j, "grow") ? itest_int(itest_site(j, "grow"), "calls") : 0;
	cr_expect(grown == printed || grown == printed + 1, "%lld recorded, %ld made", grown,
		  printed);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* ---- the timer thread at a normal exit (pst_timer_finish) ---- */

/* Seconds `run` takes over exit_status 0 as a real-time (FIFO) process on
 * one CPU: the program's main thread runs until it waits, so the timer
 * thread first runs when the exit already asked it to stop and is joining
 * it. */
static double quick_run_s(void)
{
	const char *via[] = { "/usr/bin/chrt", "-f", "1", "/usr/bin/taskset", "-c", "0", NULL };
	struct itest_run r;
	struct itest_cmd c;
	struct timespec a, b;

	itest_run_begin(&r, &c, via, NULL, "t.%p.trace", "exit_status", (const char *[]){ "0", NULL });
	clock_gettime(CLOCK_MONOTONIC, &a);
	itest_run_end(&r, &c, itest_spawn(c.argv, c.outp, c.errp));
	clock_gettime(CLOCK_MONOTONIC, &b);
	cr_expect_eq(r.ntraces, 1, "%s", r.err);
	itest_cleanup(&r);
	return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

/* The exit asks the timer to stop and joins it for at most 0.5 s: a stop
 * asked before the thread first looked must not leave it asleep for its
 * interval, the exit waiting out the 0.5 s. The fastest of three runs,
 * so that the machine's load cannot pass for the wait. */
Test(timer, exit_does_not_wait_for_a_timer_that_never_ran, .timeout = 60)
{
	struct sched_param fifo = { .sched_priority = 1 };
	double best = 10;
	pid_t probe = fork();
	int st;

	/* tried in a child: this process stays as it is */
	cr_assert(probe >= 0);
	if (!probe)
		_exit(sched_setscheduler(0, SCHED_FIFO, &fifo) ? 1 : 0);
	cr_assert_eq(waitpid(probe, &st, 0), probe);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		cr_skip_test("real-time scheduling refused (SCHED_FIFO needs CAP_SYS_NICE)");

	for (int i = 0; i < 3; i++) {
		double s = quick_run_s();

		best = s < best ? s : best;
	}
	cr_expect_lt(best, 0.4, "the fastest run took %.3f s", best);
}
