/* SPDX-License-Identifier: MIT */
/* Threads and libraries: frees on other threads, threads ending mid-run, pthread_exit from main, dlopen/dlclose loops. */
#include "reliab.h"

#define SRC "rel_thr.c"

/* 64 threads x 100,000 blocks, each batch freed by the next thread. */
Test(reliab_thr, frees_on_other_threads_exact, .timeout = 300)
{
	struct itest_run r;
	struct itest_report rep;
	json_t *j;
	long long calls = 64LL * 100 * 1000, bytes = 64LL * 100 * (1000 / 8) * (16 + 24 + 32 + 40 + 48 + 56 + 64 + 72);

	itest_run(&r, (const char *[]){ "--full", NULL }, "rel_thr", (const char *[]){ "cross", "64", NULL });
	REL_EXITED(&r, 0);
	cr_expect_str_eq(r.out, "cross done\n");
	cr_assert_eq(r.ntraces, 1);
	j = itest_report_ok(&rep, r.traces[0]);
	cr_expect(itest_bool(j, "process.complete"));
	rel_check_site(j, SRC, "cross", calls, bytes, 0);
	/* every free found its block, whichever thread allocated it */
	cr_expect_eq(itest_int(j, "memory.unmatched_frees"), 0);
	cr_expect_eq(itest_int(j, "memory.alloc_calls"), rel_sum_calls(j));
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* 200 threads start and end (half detached) while 4 others allocate. */
Test(reliab_thr, threads_ending_while_others_allocate, .timeout = 120)
{
	struct itest_run r;
	struct itest_report rep;
	json_t *j;

	itest_run(&r, (const char *[]){ "--full", NULL }, "rel_thr", (const char *[]){ "churn", NULL });
	REL_EXITED(&r, 0);
	cr_expect_str_eq(r.out, "churn done\n");
	cr_assert_eq(r.ntraces, 1);
	j = itest_report_ok(&rep, r.traces[0]);
	cr_expect(itest_bool(j, "process.complete"));
	rel_check_site(j, SRC, "steady", 4 * 200000, 4 * 200000 * 48LL, 0);
	rel_check_site(j, SRC, "short_lived", 200 * 100, 200 * 100 * 72, 0);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* main leaves with pthread_exit; the process ends with its last thread. */
Test(reliab_thr, pthread_exit_from_main, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep;
	json_t *j;

	itest_run(&r, (const char *[]){ "--full", NULL }, "rel_thr", (const char *[]){ "main_exit", NULL });
	REL_EXITED(&r, 0);
	cr_expect_str_eq(r.out, "main leaves\n");
	cr_assert_eq(r.ntraces, 1);
	j = itest_report_ok(&rep, r.traces[0]);
	cr_expect(itest_bool(j, "process.complete"));
	rel_check_site(j, SRC, "after_main", 4000, 4000 * 88, 0);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* Copy a file, keeping its mode. */
static void copy_file(const char *from, const char *to)
{
	size_t len;
	char *buf = itest_slurp(from, &len);

	cr_assert(buf, "cannot read %s", from);
	itest_write(to, buf, len);
	chmod(to, 0755);
	free(buf);
}

/* 50 rounds of dlopen, allocate inside, dlclose, with another library
 * loaded in between every other round so that the load address moves. The
 * library is long unloaded when the report reads it from its path on disk. */
Test(reliab_thr, dlopen_dlclose_loop_symbolized, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep;
	char dir[] = "/tmp/pst-itest-lib.XXXXXX", lib[PATH_MAX], other[PATH_MAX];
	json_t *j, *stack;

	cr_assert(mkdtemp(dir));
	snprintf(lib, sizeof(lib), "%s/librel_dl.so", dir);
	snprintf(other, sizeof(other), "%s/libplugin.so", dir);
	copy_file(ITEST_TARGETS "librel_dl.so", lib);
	copy_file(ITEST_TARGETS "libplugin.so", other);
	itest_run(&r, (const char *[]){ "--full", NULL }, "rel_dl",
		  (const char *[]){ lib, other, "50", NULL });
	REL_EXITED(&r, 0);
	cr_expect_str_eq(r.out, "50 loops\n");
	cr_assert_eq(r.ntraces, 1);
	j = itest_report_ok(&rep, r.traces[0]);
	cr_expect(itest_bool(j, "process.complete"));
	rel_check_site(j, "librel_dl.c", "rel_dl_work", 500, 500 * 96, 50 * 96);
	stack = itest_get(itest_site(j, "rel_dl_work"), "stack");
	cr_expect(json_array_size(stack) >= 2 &&
			  !strncmp(json_string_value(json_array_get(stack, 1)), "main", 4),
		  "caller of rel_dl_work is not main");
	itest_report_free(&rep);
	itest_cleanup(&r);
	unlink(lib);
	unlink(other);
	rmdir(dir);
}
