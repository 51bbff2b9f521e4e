/* SPDX-License-Identifier: MIT */
/* The stack cache changes nothing: the same program gives the same sites with and without it. */
#include <criterion/criterion.h>

#include "itest.h"

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A stack entry "fn (file:line)" names fn. */
static bool frame_is(const char *entry, const char *fn)
{
	size_t n = strlen(fn);

	return entry && !strncmp(entry, fn, n) && (entry[n] == ' ' || entry[n] == 0);
}

/* "function|file|line|calls|stack..." of every site, one string per site, sorted. */
static char *sites_signature(json_t *rep)
{
	json_t *sites = itest_get(rep, "memory.sites"), *s, *f;
	size_t i, j, n = json_array_size(sites);
	char **rows = calloc(n, sizeof(*rows)), *out;
	size_t len = 1;

	json_array_foreach(sites, i, s) {
		char buf[8192];
		int at = snprintf(buf, sizeof(buf), "%lld|",
				  (long long)json_integer_value(json_object_get(s, "calls")));
		json_array_foreach(json_object_get(s, "stack"), j, f)
			at += snprintf(buf + at, sizeof(buf) - (size_t)at, "%s;", json_string_value(f));
		rows[i] = strdup(buf);
		len += strlen(buf) + 1;
	}
	qsort(rows, n, sizeof(*rows), cmp_strp);
	out = calloc(1, len);
	for (i = 0; i < n; i++) {
		strcat(out, rows[i]);
		strcat(out, "\n");
		free(rows[i]);
	}
	free(rows);
	return out;
}

static char *run_signature(const char *target, const char *cache)
{
	struct itest_run r;
	struct itest_report rep;
	char *sig;

	setenv("PRESTANDA_STACK_CACHE", cache, 1);
	itest_run(&r, (const char *[]){ "--full", NULL }, target, NULL);
	unsetenv("PRESTANDA_STACK_CACHE");
	cr_assert_eq(r.ntraces, 1);
	sig = sites_signature(itest_report_ok(&rep, r.traces[0]));
	itest_report_free(&rep);
	itest_cleanup(&r);
	return sig;
}

Test(stackcache, same_sites_with_and_without_cache, .timeout = 120)
{
	char *with = run_signature("stack_paths", "1");
	char *without = run_signature("stack_paths", "0");

	cr_expect_str_eq(with, without);
	free(with);
	free(without);
}

/* The exact counts at the leaf, by path: twins 1500 each, the twins one
 * level up 2000 and 1000, recursion 600 per depth, alloca 3000 (one site
 * whatever the frame size). */
Test(stackcache, twin_callers_and_recursion_are_told_apart, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep;
	json_t *j, *s;
	size_t i;
	long long twin_a = 0, twin_b = 0, alloca_calls = 0, rec[5] = { 0 }, x = 0, y = 0;

	itest_run(&r, (const char *[]){ "--full", NULL }, "stack_paths", NULL);
	cr_assert_eq(r.ntraces, 1);
	j = itest_report_ok(&rep, r.traces[0]);
	json_array_foreach(itest_get(j, "memory.sites"), i, s) {
		json_t *st = json_object_get(s, "stack");
		long long calls = json_integer_value(json_object_get(s, "calls"));
		const char *caller = json_string_value(json_array_get(st, 1));
		size_t depth = json_array_size(st), nrec = 0;

		if (!caller || !frame_is(json_string_value(json_array_get(st, 0)), "leaf"))
			continue;
		for (size_t k = 0; k < depth; k++)
			nrec += frame_is(json_string_value(json_array_get(st, k)), "recurse");
		if (frame_is(caller, "twin_a"))
			twin_a += calls;
		else if (frame_is(caller, "twin_b"))
			twin_b += calls;
		else if (frame_is(caller, "middle") &&
			 frame_is(json_string_value(json_array_get(st, 2)), "outer_x"))
			x += calls;
		else if (frame_is(caller, "middle") &&
			 frame_is(json_string_value(json_array_get(st, 2)), "outer_y"))
			y += calls;
		else if (frame_is(caller, "with_alloca"))
			alloca_calls += calls;
		else if (nrec >= 1 && nrec <= 5)
			rec[nrec - 1] += calls;
	}
	cr_expect_eq(twin_a, 1500);
	cr_expect_eq(twin_b, 1500);
	cr_expect_eq(alloca_calls, 3000);
	cr_expect_eq(x, 2000);
	cr_expect_eq(y, 1000);
	for (int d = 0; d < 5; d++)
		cr_expect_eq(rec[d], 600, "recursion depth %d: %lld", d, rec[d]);
	itest_report_free(&rep);
	itest_cleanup(&r);
}
