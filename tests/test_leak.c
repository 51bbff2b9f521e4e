/* SPDX-License-Identifier: MIT */
/* The reachability scan at exit: definitely lost apart from still reachable, against a target whose answer is known. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "itest.h"

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

static json_t *report_of(struct itest_run *r, struct itest_report *rep, const char *mode)
{
	itest_run(r, (const char *[]){ mode, NULL }, "leak_reach", NULL);
	cr_assert(WIFEXITED(r->wstatus) && WEXITSTATUS(r->wstatus) == 0, "run: %s; %s",
		  itest_wdesc(r->wstatus), r->err);
	cr_assert_eq(r->ntraces, 1);
	return itest_report_ok(rep, r->traces[0]);
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
	long long leaked = itest_int(j, "memory.leaked_bytes");
	static const char *const kept[] = { "keep_global", "keep_tls", "keep_list", "holder" };
	char *dump;

	cr_expect_eq(itest_int(j, "memory.lost_allocations"), 5, "lost %lld",
		     itest_int(j, "memory.lost_allocations"));
	cr_expect_eq(itest_int(j, "memory.lost_bytes"), 696, "lost bytes %lld",
		     itest_int(j, "memory.lost_bytes"));
	cr_expect_eq(itest_int(j, "memory.reachable_bytes"), leaked - 696);
	cr_expect_eq(site_sum(j, "lose_plain", "lost_bytes"), 600);
	cr_expect_eq(site_sum(j, "lose_cycle", "lost_bytes"), 96);
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

/* Without the scan (sampled mode) the split is absent and the leak
 * finding says that reachability is unknown. */
Test(leak, sampled_says_unknown, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep;
	json_t *j = report_of(&r, &rep, "--sample-bytes=1"), *leak;
	char *dump;

	cr_expect(!json_object_get(itest_get(j, "memory"), "lost_bytes"));
	leak = itest_finding(j, "leak");
	if (leak) {
		dump = json_dumps(leak, 0);
		cr_expect(strstr(dump, "Whether they were still reachable is unknown"), "%s", dump);
		free(dump);
	}
	itest_report_free(&rep);
	itest_cleanup(&r);
}
