/* SPDX-License-Identifier: MIT */
/* Signals and endings: allocating in a handler, SIGPROF storms, all signals blocked, EINTR, every way out. */
#include "reliab.h"

#define SRC "rel_sig.c"

static json_t *one_trace(struct itest_run *r, struct itest_report *rep, const char *target,
			 const char *mode, int code)
{
	json_t *j;

	itest_run(r, (const char *[]){ "--full", NULL }, target, (const char *[]){ mode, NULL });
	REL_EXITED(r, code);
	cr_assert_eq(r->ntraces, 1, "%d traces", r->ntraces);
	j = itest_report_ok(rep, r->traces[0]);
	return j;
}

Test(reliab_sig, allocation_in_a_handler, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep;
	json_t *j = one_trace(&r, &rep, "rel_sig", "handler", 0);

	cr_expect_str_eq(r.out, "handler ran 1000 times\n");
	cr_expect(itest_bool(j, "process.complete"));
	rel_check_site(j, SRC, "alloc_handler", 1000, 48000, 0);
	rel_check_site(j, SRC, "main_work", 1000, 32000, 0);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* Another thread sends SIGPROF as fast as it can while main allocates. */
Test(reliab_sig, sigprof_storm, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep;
	json_t *j = one_trace(&r, &rep, "rel_sig", "storm", 0);

	cr_expect_str_eq(r.out, "storm hit\n");
	cr_expect(itest_bool(j, "process.complete"));
	rel_check_site(j, SRC, "main_work", 300000, 300000 * 32, 0);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

Test(reliab_sig, all_signals_blocked, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep;
	json_t *j = one_trace(&r, &rep, "rel_sig", "blockall", 0);

	cr_expect_str_eq(r.out, "blocked all\n");
	cr_expect(itest_bool(j, "process.complete"));
	rel_check_site(j, SRC, "main_work", 20000, 20000 * 32, 0);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

#define EINTR_ALL                                                                             \
	"read: EINTR\nrecv: EINTR\nrecvfrom: EINTR\nrecvmsg: EINTR\nreadv: EINTR\n"            \
	"accept: EINTR\naccept4: EINTR\npoll: EINTR\nppoll: EINTR\nselect: EINTR\n"            \
	"pselect: EINTR\nepoll_wait: EINTR\nepoll_pwait: EINTR\nsem_wait: EINTR\n"             \
	"nanosleep: EINTR\nwaitpid: EINTR\nrecv after: ok\n"

/* Every wrapped blocking call returns EINTR to a handler without SA_RESTART, as bare. */
Test(reliab_sig, eintr_passed_through, .timeout = 60)
{
	struct itest_run r;
	char *argv[] = { ITEST_TARGETS "rel_sig", "eintr", NULL };
	char *bare;
	int st;

	st = itest_spawn_out(argv, &bare);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "bare: %s", itest_wdesc(st));
	cr_assert_str_eq(bare, EINTR_ALL, "bare run differs from what this test expects");
	itest_run(&r, (const char *[]){ "--full", NULL }, "rel_sig", (const char *[]){ "eintr", NULL });
	REL_EXITED(&r, 0);
	cr_expect_str_eq(r.out, bare);
	free(bare);
	itest_cleanup(&r);
}

#define XSRC "rel_exit.c"

static void check_exit(const char *mode, int code, const char *reason)
{
	struct itest_run r;
	struct itest_report rep;
	json_t *j = one_trace(&r, &rep, "rel_exit", mode, code);

	cr_expect(itest_bool(j, "process.complete"), "%s: incomplete", mode);
	cr_expect_str_eq(itest_str(j, "process.end_reason"), reason);
	rel_check_site(j, XSRC, "before_end", 100, 6400, 6400);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

Test(reliab_sig, exit_with_status, .timeout = 60)
{
	check_exit("exit", 5, "exit");
}

Test(reliab_sig, _exit_with_status, .timeout = 60)
{
	check_exit("_exit", 6, "exit");
}

Test(reliab_sig, abort_flushes, .timeout = 60)
{
	check_exit("abort", 128 + SIGABRT, "signal");
}

/* main returns while four threads are inside malloc and free. */
Test(reliab_sig, return_with_threads_running, .timeout = 60)
{
	for (int i = 0; i < 5; i++) {
		struct itest_run r;
		struct itest_report rep;
		json_t *j = one_trace(&r, &rep, "rel_exit", "threads", 7);
		json_t *busy = itest_site(j, "busy");

		cr_expect(itest_bool(j, "process.complete"));
		rel_check_site(j, XSRC, "before_end", 100, 6400, 6400);
		cr_expect_gt(itest_int(busy, "calls"), 0);
		/* a block of a running thread may be live at the end, no more */
		cr_expect_leq(itest_int(busy, "leaked_bytes"), 4 * 200);
		itest_report_free(&rep);
		itest_cleanup(&r);
	}
}
