/* SPDX-License-Identifier: MIT */
/* Buffers are written by time: a process killed with SIGKILL keeps everything up to the last interval. */
#include <criterion/criterion.h>
#include <signal.h>

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

Test(timer, sigkill_keeps_what_was_flushed, .timeout = 60)
{
	struct itest_run r = { 0 };
	struct itest_report rep;
	char pattern[PATH_MAX];
	json_t *j, *site;
	pid_t run;
	long pid;
	int st;

	cr_assert(mkdtemp(strcpy(r.dir, "/tmp/pst-itest.XXXXXX")));
	snprintf(pattern, sizeof(pattern), "%s/t.%%p.trace", r.dir);
	run = fork();
	cr_assert(run >= 0);
	if (run == 0) {
		execl(ITEST_PRESTANDA, ITEST_PRESTANDA, "run", "--full", "-o", pattern, "--",
		      ITEST_TARGETS "alloc_then_sleep", "5000", (char *)NULL);
		_exit(127);
	}
	pid = wait_for_trace_pid(r.dir);
	cr_assert(pid > 0, "no trace appeared");
	sleep(3); /* three flush intervals of 1 s */
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

/* Snapshots every interval: a killed program's report runs up to the last
 * one, with its exact counters, and is marked incomplete. */
Test(timer, sigkill_report_runs_to_the_last_snapshot, .timeout = 60)
{
	struct itest_run r = { 0 };
	struct itest_report rep;
	char pattern[PATH_MAX];
	json_t *j, *tl, *sites, *last;
	long long prev = -1, sum = 0;
	size_t n;
	pid_t run;
	long pid;
	int st;

	cr_assert(mkdtemp(strcpy(r.dir, "/tmp/pst-itest.XXXXXX")));
	snprintf(pattern, sizeof(pattern), "%s/t.%%p.trace", r.dir);
	run = fork();
	cr_assert(run >= 0);
	if (run == 0) {
		execl(ITEST_PRESTANDA, ITEST_PRESTANDA, "run", "--full", "-o", pattern, "--",
		      ITEST_TARGETS "prod_work", "bursts", (char *)NULL);
		_exit(127);
	}
	pid = wait_for_trace_pid(r.dir);
	cr_assert(pid > 0, "no trace appeared");
	sleep(5); /* bursts at 0, 1.2 and 2.4 s; snapshots every second */
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
	cr_expect_eq(itest_int(j, "memory.alloc_calls"),
		     json_integer_value(json_object_get(last, "alloc_calls")));
	cr_expect_str_eq(itest_str(j, "memory.totals_source"), "last snapshot");
	cr_expect_eq(json_integer_value(json_object_get(last, "threads")), 1);
	itest_report_free(&rep);
	itest_cleanup(&r);
}
