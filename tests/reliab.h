/* SPDX-License-Identifier: MIT */
/* Helpers of the reliability suites: run a target, read every trace it left, count sites. */
#ifndef PST_RELIAB_H
#define PST_RELIAB_H

#include "itest.h"

#define REL_UNUSED __attribute__((unused))

/* prestanda run ended with the program's own exit status. */
#define REL_EXITED(r, code)                                                                  \
	cr_assert(WIFEXITED((r)->wstatus) && WEXITSTATUS((r)->wstatus) == (code),            \
		  "prestanda run: %s, want exit %d; stderr: %s", itest_wdesc((r)->wstatus),  \
		  (code), (r)->err)

/* Calls at the one site of function fn, 0 when there is none. */
static REL_UNUSED long long rel_calls(json_t *rep, const char *fn)
{
	return itest_nsites(rep, fn) ? itest_int(itest_site(rep, fn), "calls") : 0;
}

/* Calls at every site of function fn, whatever the stack below it. */
static REL_UNUSED long long rel_calls_in(json_t *rep, const char *fn)
{
	json_t *sites = itest_get(rep, "memory.sites"), *s;
	long long n = 0;
	size_t i;

	json_array_foreach(sites, i, s)
		if (itest_fn_is(itest_str(s, "function"), fn))
			n += json_integer_value(json_object_get(s, "calls"));
	return n;
}

/* Calls of all sites together. */
static REL_UNUSED long long rel_sum_calls(json_t *rep)
{
	json_t *sites = itest_get(rep, "memory.sites"), *s;
	long long n = 0;
	size_t i;

	json_array_foreach(sites, i, s)
		n += json_integer_value(json_object_get(s, "calls"));
	return n;
}

/* A site's calls, bytes, leaked bytes and source line, exactly. */
static REL_UNUSED void rel_check_site(json_t *rep, const char *src, const char *fn,
				      long long calls, long long bytes, long long leaked)
{
	json_t *s = itest_site(rep, fn);

	cr_expect_eq(itest_int(s, "calls"), calls, "%s: calls %lld, expected %lld", fn,
		     itest_int(s, "calls"), calls);
	cr_expect_eq(itest_int(s, "bytes"), bytes, "%s: bytes %lld, expected %lld", fn,
		     itest_int(s, "bytes"), bytes);
	cr_expect_eq(itest_int(s, "leaked_bytes"), leaked, "%s: leaked %lld, expected %lld", fn,
		     itest_int(s, "leaked_bytes"), leaked);
	cr_expect_eq(itest_int(s, "line"), itest_marker_line(src, fn), "%s: line %lld", fn,
		     itest_int(s, "line"));
	cr_expect(itest_has_suffix(itest_str(s, "file"), src), "%s: file %s", fn,
		  itest_str(s, "file"));
}

/* Reports of all of a run's traces, each complete and of the pid its name says. */
static REL_UNUSED void rel_reports(struct itest_run *r, struct itest_report *rep)
{
	for (int i = 0; i < r->ntraces; i++) {
		json_t *j = itest_report_ok(&rep[i], r->traces[i]);

		cr_expect(itest_bool(j, "process.complete"), "%s incomplete: %s", r->traces[i],
			  rep[i].err);
		cr_expect_eq(itest_int(j, "process.pid"), itest_trace_pid(r->traces[i]));
	}
}

static REL_UNUSED void rel_reports_free(struct itest_run *r, struct itest_report *rep)
{
	for (int i = 0; i < r->ntraces; i++)
		itest_report_free(&rep[i]);
}

/* The index of the one report that has a site at fn (asserting there is one). */
static REL_UNUSED int rel_which(struct itest_run *r, struct itest_report *rep, const char *fn)
{
	int found = -1;

	for (int i = 0; i < r->ntraces; i++) {
		if (!itest_nsites(rep[i].json, fn))
			continue;
		cr_assert_eq(found, -1, "%s in two traces: %s and %s", fn, r->traces[found],
			     r->traces[i]);
		found = i;
	}
	cr_assert_neq(found, -1, "no trace has a site in %s", fn);
	return found;
}

/* Does the file at path contain the bytes s? */
static REL_UNUSED bool rel_file_has(const char *path, const char *s)
{
	size_t len, n = strlen(s);
	char *buf = itest_slurp(path, &len);
	bool found = false;

	cr_assert(buf, "cannot read %s", path);
	for (size_t i = 0; i + n <= len && !found; i++)
		found = !memcmp(buf + i, s, n);
	free(buf);
	return found;
}

#endif
