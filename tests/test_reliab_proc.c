/* SPDX-License-Identifier: MIT */
/* Process boundaries: every process its own trace, nothing overwritten, nothing counted twice. */
#include "reliab.h"

#define SRC "rel_proc.c"

static void run_mode(struct itest_run *r, const char *mode, int ntraces)
{
	itest_run(r, (const char *[]){ "--full", NULL }, "rel_proc", (const char *[]){ mode, NULL });
	REL_EXITED(r, 0);
	cr_assert_eq(r->ntraces, ntraces, "%s: %d traces in %s, want %d", mode, r->ntraces, r->dir,
		     ntraces);
}

/* The parent's 111 blocks are in its trace alone, the child's 222 in the child's. */
static void check_parent_child(struct itest_run *r, struct itest_report *rep)
{
	int p = rel_which(r, rep, "parent_side"), c = rel_which(r, rep, "child_side");

	cr_expect_neq(p, c);
	rel_check_site(rep[p].json, SRC, "parent_side", 111, 111 * 40, 0);
	rel_check_site(rep[c].json, SRC, "child_side", 222, 222 * 56, 0);
	cr_expect_eq(itest_int(rep[p].json, "memory.alloc_calls"), 111);
	cr_expect_eq(itest_int(rep[c].json, "memory.alloc_calls"), 222);
}

Test(reliab_proc, fork_without_exec, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep[2];

	run_mode(&r, "fork", 2);
	rel_reports(&r, rep);
	check_parent_child(&r, rep);
	rel_reports_free(&r, rep);
	itest_cleanup(&r);
}

/* A child leaving through _exit writes its END too. */
Test(reliab_proc, child_exits_with__exit, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep[2];
	int c;

	run_mode(&r, "fork_exit_", 2);
	cr_expect_str_eq(r.out, "child 3\n");
	rel_reports(&r, rep);
	c = rel_which(&r, rep, "child_side");
	rel_check_site(rep[c].json, SRC, "child_side", 222, 222 * 56, 0);
	cr_expect_eq(itest_int(rep[c].json, "memory.alloc_calls"), 222);
	cr_expect_str_eq(itest_str(rep[c].json, "process.end_reason"), "exit");
	rel_check_site(rep[1 - c].json, SRC, "parent_side", 111, 111 * 40, 0);
	rel_reports_free(&r, rep);
	itest_cleanup(&r);
}

/* fork, then exec in the child: three traces, the exec'd image's named PID.trace.1. */
Test(reliab_proc, fork_then_exec, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep[3];
	int c, leaf;

	run_mode(&r, "fork_exec", 3);
	rel_reports(&r, rep);
	check_parent_child(&r, rep);
	c = rel_which(&r, rep, "child_side");
	leaf = rel_which(&r, rep, "leaf_side");
	cr_expect_neq(c, leaf);
	rel_check_site(rep[leaf].json, SRC, "leaf_side", 333, 333 * 80, 0);
	cr_expect_eq(itest_int(rep[leaf].json, "memory.alloc_calls"), 333);
	cr_expect_str_eq(itest_str(rep[c].json, "process.end_reason"), "exec");
	cr_expect(itest_has_suffix(r.traces[leaf], ".trace.1"), "%s", r.traces[leaf]);
	cr_expect_eq(itest_trace_pid(r.traces[leaf]), itest_trace_pid(r.traces[c]));
	rel_reports_free(&r, rep);
	itest_cleanup(&r);
}

/* A parent and one exec'd child: the parent's figures and the leaf's, nothing else. */
static void check_parent_leaf(const char *mode)
{
	struct itest_run r;
	struct itest_report rep[2];
	int p, leaf;

	run_mode(&r, mode, 2);
	rel_reports(&r, rep);
	p = rel_which(&r, rep, "parent_side");
	leaf = rel_which(&r, rep, "leaf_side");
	cr_expect_neq(p, leaf);
	rel_check_site(rep[p].json, SRC, "parent_side", 111, 111 * 40, 0);
	cr_expect_eq(itest_int(rep[p].json, "memory.alloc_calls"), 111);
	rel_check_site(rep[leaf].json, SRC, "leaf_side", 333, 333 * 80, 0);
	cr_expect_eq(itest_int(rep[leaf].json, "memory.alloc_calls"), 333);
	rel_reports_free(&r, rep);
	itest_cleanup(&r);
}

/* vfork + exec, and vfork + _exit: the child shares the parent's memory and
 * must leave the parent's trace alone. */
Test(reliab_proc, vfork, .timeout = 60)
{
	check_parent_leaf("vfork");
}

Test(reliab_proc, posix_spawn, .timeout = 60)
{
	check_parent_leaf("spawn");
}

/* daemon(): the parent leaves through _exit, the daemon goes on past run's end. */
Test(reliab_proc, daemon, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep[2];
	int p, c, tries = 0;

	itest_run(&r, (const char *[]){ "--full", NULL }, "rel_proc", (const char *[]){ "daemon", NULL });
	REL_EXITED(&r, 0);
	/* wait for the daemon to finish its trace */
	for (;;) {
		struct itest_report d;
		bool done = false;

		itest_collect(&r);
		if (r.ntraces == 2) {
			itest_report(&d, r.traces[1]);
			done = d.json && json_is_true(json_object_get(json_object_get(d.json, "process"), "complete"));
			itest_report_free(&d);
			itest_report(&d, r.traces[0]);
			done = done && d.json && json_is_true(json_object_get(json_object_get(d.json, "process"), "complete"));
			itest_report_free(&d);
		}
		if (done)
			break;
		cr_assert(++tries < 100, "the daemon's trace was not completed in 10 s (%d traces)",
			  r.ntraces);
		usleep(100000);
	}
	rel_reports(&r, rep);
	p = rel_which(&r, rep, "parent_side");
	c = rel_which(&r, rep, "child_side");
	cr_expect_neq(p, c);
	rel_check_site(rep[p].json, SRC, "parent_side", 111, 111 * 40, 0);
	cr_expect_eq(itest_int(rep[p].json, "memory.alloc_calls"), 111);
	rel_check_site(rep[c].json, SRC, "child_side", 222, 222 * 56, 0);
	cr_expect_eq(itest_int(rep[c].json, "memory.alloc_calls"), 222);
	rel_reports_free(&r, rep);
	itest_cleanup(&r);
}

/* Four levels, two children each: 15 processes, 15 traces, 10 blocks in each. */
Test(reliab_proc, deep_tree, .timeout = 120)
{
	struct itest_run r;
	struct itest_report rep[15];
	long long total = 0;

	itest_run(&r, (const char *[]){ "--full", NULL }, "rel_proc",
		  (const char *[]){ "tree", "3", NULL });
	REL_EXITED(&r, 0);
	cr_assert_eq(r.ntraces, 15, "%d traces in %s, want 15", r.ntraces, r.dir);
	rel_reports(&r, rep);
	for (int i = 0; i < 15; i++) {
		rel_check_site(rep[i].json, SRC, "work", 10, 240, 0);
		total += rel_calls(rep[i].json, "work");
		cr_expect_eq(itest_int(rep[i].json, "memory.alloc_calls"),
			     10 + rel_calls(rep[i].json, "parent_side"), "%s", r.traces[i]);
	}
	cr_expect_eq(total, 150);
	cr_expect_eq(rel_which(&r, rep, "parent_side") >= 0, true);
	rel_reports_free(&r, rep);
	itest_cleanup(&r);
}

/* A thread forks; in the child that thread ends by returning: the child
 * must end then, not live on with the profiler's timer thread. */
Test(reliab_proc, fork_from_a_thread_child_ends, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep[2];
	int c;

	run_mode(&r, "thread_fork", 2);
	cr_expect_str_eq(r.out, "child reaped\n");
	rel_reports(&r, rep);
	c = rel_which(&r, rep, "child_side");
	rel_check_site(rep[c].json, SRC, "child_side", 222, 222 * 56, 0);
	rel_reports_free(&r, rep);
	itest_cleanup(&r);
}
