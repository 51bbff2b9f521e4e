/* SPDX-License-Identifier: MIT */
/* The reachability scan at exit: definitely lost apart from still reachable, against a target whose answer is known. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "itest.h"
#include "suppress.h"

/* A figure summed over every site whose function is fn. */
static long long site_sum(json_t *rep, const char *fn, const char *key)
{
	json_t *sites = itest_get(rep, "memory.sites"), *s;
	long long sum = 0;
	size_t i;

	json_array_foreach(sites, i, s) {
		json_t *f = json_object_get(s, "function");

		if (json_is_string(f) && !strcmp(json_string_value(f), fn))
			sum += json_integer_value(json_object_get(s, key));
	}
	return sum;
}

static json_t *report_prog(struct itest_run *r, struct itest_report *rep, const char *mode,
			   const char *prog)
{
	itest_run(r, (const char *[]){ mode, NULL }, prog, NULL);
	cr_assert(WIFEXITED(r->wstatus) && WEXITSTATUS(r->wstatus) == 0, "run: %s; %s",
		  itest_wdesc(r->wstatus), r->err);
	cr_assert_eq(r->ntraces, 1);
	return itest_report_ok(rep, r->traces[0]);
}

static json_t *report_of(struct itest_run *r, struct itest_report *rep, const char *mode)
{
	return report_prog(r, rep, mode, "leak_reach");
}

/* leak_reach's lost blocks: 5 (696 bytes) from lose_plain and lose_cycle,
 * the rest of what was not freed reachable. */
static void expect_leak_reach_split(json_t *j)
{
	long long leaked = itest_int(j, "memory.leaked_bytes");

	cr_expect_eq(itest_int(j, "memory.lost_allocations"), 5, "lost %lld",
		     itest_int(j, "memory.lost_allocations"));
	cr_expect_eq(itest_int(j, "memory.lost_bytes"), 696, "lost bytes %lld",
		     itest_int(j, "memory.lost_bytes"));
	cr_expect_eq(itest_int(j, "memory.reachable_bytes"), leaked - 696);
	cr_expect_eq(site_sum(j, "lose_plain", "lost_bytes"), 600);
	cr_expect_eq(site_sum(j, "lose_cycle", "lost_bytes"), 96);
}

/* leak_reach.c: 5 blocks (696 bytes) lost; 7 of its own (5,737 bytes)
 * reachable from a global, a thread-local, main's frame, a reachable
 * block and a blocked thread's stack; glibc adds one reachable block of
 * its own for the thread (its DTV). */
Test(leak, full_lost_apart_from_reachable, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep;
	json_t *j = report_of(&r, &rep, "--full"), *leak;
	static const char *const kept[] = { "keep_global", "keep_tls", "keep_list", "holder" };
	char *dump;

	expect_leak_reach_split(j);
	cr_expect_eq(site_sum(j, "keep_global", "leaked_bytes"), 2001);
	cr_expect_eq(site_sum(j, "keep_tls", "leaked_bytes"), 1100);
	cr_expect_eq(site_sum(j, "keep_list", "leaked_bytes"), 136);
	cr_expect_eq(site_sum(j, "holder", "leaked_bytes"), 1300);
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		cr_expect_eq(site_sum(j, kept[i], "lost_bytes"), 0, "%s lost %lld", kept[i],
			     site_sum(j, kept[i], "lost_bytes"));
	/* main's own block (1200, on its frame) is reachable */
	cr_expect_eq(site_sum(j, "main", "lost_bytes"), 0);

	/* the leak findings are the lost blocks' sites, and only theirs */
	leak = itest_finding(j, "leak");
	cr_assert(leak, "no leak finding");
	dump = json_dumps(itest_get(j, "findings"), 0);
	cr_expect(strstr(dump, "lose_plain") && strstr(dump, "lose_cycle"), "%s", dump);
	cr_expect(!strstr(dump, "keep_") && !strstr(dump, "holder"), "%s", dump);
	free(dump);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* leak_remote.c: blocks freed by another thread than the one that
 * allocated them, one of them (b) freed by its old owner after main got
 * its address again (c): each freed block still has a global pointing at
 * it and holds the only pointer to a small block, so a free the scan
 * missed makes that small block reachable. Lost: 300 + 40 + 24 bytes in
 * 3 blocks; reachable: 300 from a global. glibc's block for the thread
 * (its DTV, allocated in main) is lost too once the thread is joined: its
 * pointer stays in the cached stack. */
Test(leak, full_frees_from_other_threads, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep;
	json_t *j = report_prog(&r, &rep, "--full", "leak_remote");
	long long lost = itest_int(j, "memory.lost_bytes");

	cr_expect_eq(lost - site_sum(j, "main", "lost_bytes"), 364, "lost bytes %lld", lost);
	cr_expect_eq(itest_int(j, "memory.reachable_bytes"), 300);
	cr_expect_eq(itest_int(j, "memory.leaked_bytes"), lost + 300);
	cr_expect_eq(site_sum(j, "worker_make", "leaked_bytes"), 600);
	cr_expect_eq(site_sum(j, "worker_make", "lost_bytes"), 300);
	cr_expect_eq(site_sum(j, "main_part", "leaked_bytes"), 64);
	cr_expect_eq(site_sum(j, "main_part", "lost_bytes"), 64, "main_part lost %lld",
		     site_sum(j, "main_part", "lost_bytes"));
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* Sampled mode scans for the sampled blocks alone: with every block
 * sampled (--sample-bytes=1) its answer is --full's, marked an estimate. */
Test(leak, sampled_every_block_is_exact, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep;
	json_t *j = report_of(&r, &rep, "--sample-bytes=1");

	expect_leak_reach_split(j);
	cr_expect(itest_bool(j, "memory.lost_estimated"));
	cr_expect_eq(site_sum(j, "keep_global", "lost_bytes"), 0);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* leak_many: N = 20,000 blocks of 100 bytes lost, M = 20,000 reachable
 * from a global array. Sampled every 2,048 bytes on average, about 980
 * of each kind are sampled: each estimate is N x 100 (M x 100) bytes
 * within 15% (4.7 standard deviations of the sampling), and the text says
 * they are estimates. */
Test(leak, sampled_scan_estimates_lost_and_reachable, .timeout = 60)
{
	long long lost, kept;
	char *text;
	struct itest_report rep;
	struct itest_run r;
	json_t *j;

	j = report_prog(&r, &rep, "--sample-bytes=2048", "leak_many");
	lost = itest_int(j, "memory.lost_bytes");
	kept = itest_int(j, "memory.reachable_bytes");
	cr_expect(lost >= 1700000 && lost <= 2300000, "lost %lld bytes, want 2,000,000 +-15%%", lost);
	cr_expect(kept >= 1700000 && kept <= 2300000, "reachable %lld bytes, want 2,000,000 +-15%%",
		  kept);
	cr_expect_eq(site_sum(j, "hold", "lost_bytes"), 0);
	cr_expect_eq(site_sum(j, "lose", "lost_bytes"), lost);
	cr_expect(itest_bool(j, "memory.lost_estimated"));
	itest_report_free(&rep);
	cr_assert_eq(itest_spawn_out((char *[]){ ITEST_PRESTANDA, "report", r.traces[0], NULL },
				     &text),
		     0);
	cr_expect(text && strstr(text, "still reachable") &&
			  strstr(strstr(text, "still reachable"), "(estimate from sampled blocks)"),
		  "%s", text);
	free(text);
	itest_cleanup(&r);
}

/* report --suppressions FILE --json TRACE, in r's directory: its JSON. */
static json_t *report_suppressed(struct itest_run *r, const char *file_text, int *status)
{
	char supp[PATH_MAX], outp[PATH_MAX], errp[PATH_MAX], *out;
	json_t *j;

	snprintf(supp, sizeof(supp), "%s/supp.txt", r->dir);
	snprintf(outp, sizeof(outp), "%s/supp.out", r->dir);
	snprintf(errp, sizeof(errp), "%s/supp.err", r->dir);
	itest_write(supp, file_text, strlen(file_text));
	*status = itest_spawn((char *[]){ ITEST_PRESTANDA, "report", "--json", "--suppressions", supp,
					  r->traces[0], NULL },
			      outp, errp);
	out = itest_slurp(outp, NULL);
	j = out ? json_loads(out, 0, NULL) : NULL;
	free(out);
	return j;
}

/* LeakSanitizer's syntax: lose_cycle's 2 lost blocks (96 bytes) are
 * suppressed, counted apart and make no finding; lose_plain's still do; an
 * anchored pattern that names no function whole suppresses nothing. */
Test(leak, suppressions_count_apart, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep;
	json_t *j;
	char *dump;
	int st;

	report_of(&r, &rep, "--full");
	itest_report_free(&rep);
	j = report_suppressed(&r, "# LeakSanitizer's syntax\n\n  leak:lose_cyc*  \nleak:^lose_plai$\n"
				  "called_from_lib:libfoo.so\n", &st);
	cr_assert(j && st == 0, "status %d", st);
	cr_expect_eq(itest_int(j, "memory.suppressed_allocations"), 2);
	cr_expect_eq(itest_int(j, "memory.suppressed_bytes"), 96);
	cr_expect_eq(itest_int(j, "memory.lost_bytes"), 696); /* the figure itself stays */
	dump = json_dumps(itest_get(j, "findings"), 0);
	cr_expect(strstr(dump, "lose_plain") && !strstr(dump, "lose_cycle"), "%s", dump);
	free(dump);
	json_decref(j);

	/* a source file's name: every lost block of leak_reach.c, no leak finding */
	j = report_suppressed(&r, "leak:leak_reach.c\n", &st);
	cr_assert(j && st == 0, "status %d", st);
	cr_expect_eq(itest_int(j, "memory.suppressed_allocations"), 5);
	cr_expect_eq(itest_int(j, "memory.suppressed_bytes"), 696);
	cr_expect(!itest_finding(j, "leak"));
	json_decref(j);

	/* an unreadable file is a usage error */
	st = itest_spawn((char *[]){ ITEST_PRESTANDA, "report", "--suppressions",
				     "/nonexistent/supp.txt", r.traces[0], NULL },
			 "/dev/null", "/dev/null");
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %d", st);
	itest_cleanup(&r);
}

/* The matching itself: function, source file, module; anchors; `*`. */
Test(leak, suppression_patterns)
{
	char *frames[] = { "xmalloc (git/wrapper.c:12)", "[libfoo.so.1+0x1234]", "main" };
	static const struct {
		const char *pat;
		bool match;
	} cases[] = {
		{ "xmalloc", true },	 { "^xmalloc$", true }, { "^xmall$", false },
		{ "mall", true },	 { "wrap*.c", true },	{ "^wrapper.c", false },
		{ "libfoo.so", true },	 { "x?malloc", false }, { "^ma*n$", true },
		{ "0x1234", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *pat = (char *)cases[i].pat;
		struct pst_suppressions s = { .pat = &pat, .n = 1 };

		cr_expect_eq(pst_suppressed(&s, frames, 3), cases[i].match, "%s", cases[i].pat);
	}
}
