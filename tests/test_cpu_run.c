/* SPDX-License-Identifier: MIT */
/* End to end `prestanda run --cpu`: known split, wall clock over a known sleep, dlopen churn at 999 Hz, fork and exec. */
#include "itest.h"

/*
 * cpu_split burns 70% of each thread's CPU in burn_hot (70.1% by the
 * thread's own CPU clock around each call, measured at load 18), yet the
 * share of its ~2000 samples swings far more than sampling error would:
 * 59.8% to 75.2% over runs at load 18 on 2 CPUs (most likely because the
 * kernel checks per-thread CPU timers only at its ticks, which fall
 * unevenly on the loop on a loaded machine). So the bounds are wide by
 * design: the hotter loop has more than half and the other at least a
 * tenth (swapped, merged or misnamed rows fail); the sampler's precision
 * is not what these tests can hold on a shared machine.
 */
#define SPLIT_LO 50
#define SPLIT_HI 90

static json_t *cpu_fn(json_t *rep, const char *name)
{
	json_t *fns = itest_get(rep, "cpu.functions"), *f;
	size_t i;

	json_array_foreach(fns, i, f)
		if (itest_fn_is(json_string_value(json_object_get(f, "function")), name))
			return f;
	return NULL;
}

static double fn_num(json_t *rep, const char *name, const char *key)
{
	json_t *f = cpu_fn(rep, name), *v = f ? json_object_get(f, key) : NULL;

	return v ? json_number_value(v) : 0;
}

static bool ran_ok(const struct itest_run *r)
{
	return WIFEXITED(r->wstatus) && WEXITSTATUS(r->wstatus) == 0;
}

/* Every hot stack ends at the thread's first frame: main's caller chain, or the clone. */
static double whole_stack_share(json_t *j)
{
	json_t *stacks = itest_get(j, "cpu.stacks"), *s, *fr;
	size_t i, k;
	double whole = 0, all = 0;

	json_array_foreach(stacks, i, s) {
		bool reach = false;
		double n = json_number_value(json_object_get(s, "samples"));

		json_array_foreach(json_object_get(s, "stack"), k, fr) {
			const char *f = json_string_value(fr);

			reach |= f && (!strncmp(f, "_start", 6) || !strncmp(f, "__clone3", 8) ||
				       !strncmp(f, "clone3", 6));
		}
		whole += reach ? n : 0;
		all += n;
	}
	return all ? whole / all : 0;
}

Test(cpu_run, known_split_hot_loop_first, .timeout = 120)
{
	const char *opts[] = { "--cpu=499", NULL }, *args[] = { "3", NULL };
	struct itest_report rep;
	struct itest_run r;
	double hot, cold, share;
	json_t *j;

	itest_run(&r, opts, "cpu_split", args);
	cr_assert(ran_ok(&r), "run: %s; stderr: %s", itest_wdesc(r.wstatus), r.err);
	cr_assert_eq(r.ntraces, 1);
	j = itest_report_ok(&rep, r.traces[0]);
	cr_expect_str_eq(itest_str(j, "cpu.source"), "preload");
	cr_expect_str_eq(itest_str(j, "cpu.unwinding"), "dwarf");
	cr_expect_str_eq(itest_str(j, "cpu.clock"), "cpu");
	cr_expect_eq(itest_int(j, "cpu.hz"), 499);
	cr_assert_gt(itest_int(j, "cpu.samples"), 100, "only %lld samples",
		     itest_int(j, "cpu.samples"));
	hot = fn_num(j, "burn_hot", "self_pct");
	cold = fn_num(j, "burn_cold", "self_pct");
	share = 100 * hot / (hot + cold);
	/* 70% of the loop's time is in burn_hot, 30% in burn_cold (see SPLIT_LO) */
	cr_expect(share > SPLIT_LO && share < SPLIT_HI, "burn_hot has %.1f%% of the two (want %d to %d)",
		  share, SPLIT_LO, SPLIT_HI);
	cr_expect_gt(hot + cold, 90, "burn_hot and burn_cold have only %.1f%%", hot + cold);
	/* DWARF stacks of a binary without frame pointers reach the thread's start */
	cr_expect_gt(fn_num(j, "work", "total_pct"), 95);
	cr_expect_gt(whole_stack_share(j), 0.95, "only %.0f%% of the hot stacks are whole",
		     100 * whole_stack_share(j));
	cr_expect_lt(itest_int(j, "cpu.truncated_stacks"), itest_int(j, "cpu.samples") / 20);
	/* a named function is hot, not JIT code */
	cr_assert(itest_finding(j, "cpu-hot-function"), "no cpu-hot-function");
	cr_expect(!strncmp(itest_str(itest_finding(j, "cpu-hot-function"), "title"), "burn_hot ", 9),
		  "hot: %s", itest_str(itest_finding(j, "cpu-hot-function"), "title"));
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* target run at 499 Hz of CPU time, to its end; its report. */
static json_t *cpu_report(struct itest_run *r, struct itest_report *rep, const char *target,
			  const char *const *args)
{
	itest_run(r, (const char *[]){ "--cpu=499", NULL }, target, args);
	cr_assert(ran_ok(r), "run: %s; stderr: %s", itest_wdesc(r->wstatus), r->err);
	return itest_report_ok(rep, r->traces[0]);
}

/* cpu_split without symbols: its two loops stay two rows, named by where
 * their code starts in its .eh_frame, not one row for the whole binary. */
Test(cpu_run, stripped_functions_stay_apart, .timeout = 120)
{
	struct itest_report rep;
	struct itest_run r;
	json_t *j = cpu_report(&r, &rep, "cpu_split_stripped", (const char *[]){ "2", NULL });
	json_t *fns = itest_get(j, "cpu.functions");
	double a, b;

	cr_assert_geq(json_array_size(fns), 2);
	for (size_t i = 0; i < 2; i++)
		cr_expect(!strncmp(itest_str(json_array_get(fns, i), "function"),
				   "[cpu_split_stripped+0x", 22),
			  "row %zu: %s", i, itest_str(json_array_get(fns, i), "function"));
	a = json_number_value(itest_get(json_array_get(fns, 0), "self_pct"));
	b = json_number_value(itest_get(json_array_get(fns, 1), "self_pct"));
	/* burn_hot and burn_cold: 70% and 30% of the loop (see SPLIT_LO) */
	cr_expect(100 * a / (a + b) > SPLIT_LO && 100 * a / (a + b) < SPLIT_HI,
		  "%.1f%% and %.1f%% (want %d to %d for the first)", a, b, SPLIT_LO, SPLIT_HI);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* cpu_jit.c runs a loop copied into an anonymous executable mapping: the
 * hot code is named JIT code with the runtimes' profilers, and the stacks
 * that DWARF could not walk through it are not answered with "record with
 * --call-graph dwarf" (they were). */
Test(cpu_run, jit_code_named_and_no_dwarf_advice_on_dwarf, .timeout = 60)
{
	struct itest_report rep;
	struct itest_run r;
	json_t *j = cpu_report(&r, &rep, "cpu_jit", NULL), *hot, *trunc;

	cr_expect_str_eq(itest_str(j, "cpu.unwinding"), "dwarf");
	cr_assert_gt(itest_int(j, "cpu.samples"), 100);
	hot = itest_finding(j, "cpu-hot-function");
	cr_assert(hot, "no cpu-hot-function");
	cr_expect(!strncmp(itest_str(hot, "title"), "JIT-compiled code takes ", 24), "title: %s",
		  itest_str(hot, "title"));
	cr_expect(strstr(itest_str(hot, "advice"), "anonymous executable mapping") &&
			  strstr(itest_str(hot, "advice"), "async-profiler"),
		  "advice: %s", itest_str(hot, "advice"));
	trunc = itest_finding(j, "cpu-truncated-stacks");
	cr_assert(trunc, "no cpu-truncated-stacks");
	cr_expect(!strstr(itest_str(trunc, "advice"), "--call-graph"), "advice: %s",
		  itest_str(trunc, "advice"));
	itest_report_free(&rep);
	itest_cleanup(&r);
}

Test(cpu_run, cpu_clock_skips_a_sleep_and_wall_clock_sees_it, .timeout = 60)
{
	const char *cpu[] = { "--cpu", NULL }, *wall[] = { "--cpu-clock=wall", NULL };
	struct itest_report rep;
	struct itest_run r;
	double secs;
	long long waited;
	json_t *j;

	itest_run(&r, wall, "cpu_sleep", NULL);
	cr_assert(ran_ok(&r), "run: %s; stderr: %s", itest_wdesc(r.wstatus), r.err);
	j = itest_report_ok(&rep, r.traces[0]);
	cr_expect_str_eq(itest_str(j, "cpu.clock"), "wall");
	cr_expect_eq(itest_int(j, "cpu.hz"), 99);
	/* 10 x 100 ms in wait_here at 99 Hz: 9 or 10 samples fall in each wait
	 * (90 to 100), and a tick delivered late can merge with the next one:
	 * at least 88 samples (one such run gave 89) */
	secs = fn_num(j, "wait_here", "total") / 99.0;
	/* and at most one tick more per wait than the time the target
	 * measured in them (a loaded machine oversleeps: that is measured) */
	cr_assert(sscanf(r.out, "waited_ns=%lld", &waited) == 1, "stdout: %s", r.out);
	cr_expect(secs > 0.88 && secs <= waited / 1e9 + 10 / 99.0,
		  "wait_here: %.3f s of wall clock (want 0.89 to %.3f)", secs,
		  waited / 1e9 + 10 / 99.0);
	cr_expect_gt(itest_int(j, "cpu.blocked_samples"), 85);
	itest_report_free(&rep);
	itest_cleanup(&r);

	/* the CPU clock does not run while the thread sleeps */
	itest_run(&r, cpu, "cpu_sleep", NULL);
	cr_assert(ran_ok(&r), "run: %s; stderr: %s", itest_wdesc(r.wstatus), r.err);
	j = itest_report_ok(&rep, r.traces[0]);
	cr_expect_str_eq(itest_str(j, "cpu.clock"), "cpu");
	cr_expect_lt(fn_num(j, "wait_here", "total"), 5);
	cr_expect_eq(itest_int(j, "cpu.blocked_samples"), 0);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* Samples land inside dlopen (the loader's lock held) and malloc (an
 * arena lock held) all the time: a handler that took either would hang. */
Test(cpu_run, dlopen_and_malloc_churn_at_999hz_does_not_deadlock, .timeout = 60)
{
	const char *opts[] = { "--cpu=999", NULL }, *args[] = { "3", NULL };
	struct itest_report rep;
	struct itest_run r;
	json_t *j;

	itest_run(&r, opts, "cpu_dlchurn", args);
	cr_assert(ran_ok(&r), "run: %s; stdout: %s; stderr: %s", itest_wdesc(r.wstatus), r.out,
		  r.err);
	/* errno kept across samples; the program's own SIGPROF timer untouched */
	cr_expect(strstr(r.out, "threads 4 ok 1 errno kept prof_ticks yes"), "stdout: %s", r.out);
	cr_assert_eq(r.ntraces, 1);
	j = itest_report_ok(&rep, r.traces[0]);
	cr_expect(itest_bool(j, "process.complete"));
	cr_expect_gt(itest_int(j, "cpu.samples"), 200);
	cr_expect_gt(fn_num(j, "worker", "total_pct"), 90);
	cr_expect_gt(fn_num(j, "churn_once", "total"), 0);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

Test(cpu_run, fork_child_rearms_and_exec_image_is_sampled, .timeout = 60)
{
	const char *opts[] = { "--cpu=499", NULL };
	const char *want[3] = { "parent_burn", "child_burn", "burn_hot" };
	struct itest_report rep;
	struct itest_run r;

	itest_run(&r, opts, "cpu_fork", NULL);
	cr_assert(ran_ok(&r), "run: %s; stderr: %s", itest_wdesc(r.wstatus), r.err);
	cr_assert_eq(r.ntraces, 3, "%d traces", r.ntraces);
	for (int w = 0; w < 3; w++) {
		bool found = false;

		for (int i = 0; i < r.ntraces && !found; i++) {
			json_t *j = itest_report_ok(&rep, r.traces[i]);
			json_t *first = json_array_get(itest_get(j, "cpu.functions"), 0);

			found = itest_fn_is(json_string_value(json_object_get(first, "function")),
					    want[w]) &&
				itest_int(j, "cpu.samples") > 50;
			itest_report_free(&rep);
		}
		cr_expect(found, "no trace has %s on top with its samples", want[w]);
	}
	itest_cleanup(&r);
}

Test(cpu_run, off_by_default_and_bad_rates_refused)
{
	const char *bad[] = { "--cpu=0", NULL }, *bad_clock[] = { "--cpu-clock=gpu", NULL };
	struct itest_report rep;
	struct itest_run r;
	json_t *j;

	itest_run(&r, NULL, "cpu_sleep", NULL);
	cr_assert(ran_ok(&r));
	j = itest_report_ok(&rep, r.traces[0]);
	cr_expect_null(json_object_get(j, "cpu"), "a cpu section without --cpu");
	itest_report_free(&rep);
	itest_cleanup(&r);

	itest_run(&r, bad, "cpu_sleep", NULL);
	cr_expect(WIFEXITED(r.wstatus) && WEXITSTATUS(r.wstatus) == 2);
	cr_expect(strstr(r.err, "--cpu: '0' is not a rate"), "stderr: %s", r.err);
	itest_cleanup(&r);
	itest_run(&r, bad_clock, "cpu_sleep", NULL);
	cr_expect(WIFEXITED(r.wstatus) && WEXITSTATUS(r.wstatus) == 2);
	cr_expect(strstr(r.err, "--cpu-clock: 'gpu'"), "stderr: %s", r.err);
	itest_cleanup(&r);
}
