/* SPDX-License-Identifier: MIT */
/* report --html: the page's data against the report's own numbers, and the page in headless Chromium (axes, no request, a range chosen by dragging). */
#include <math.h>

#include "html.h"
#include "itest.h"

#define JS_DIR "tests/js/"
#define CHROMIUM "/usr/bin/chromium"

/* ---- helpers ---- */

/* `prestanda report ARGS...`: its wait status, stdout in *out (to free). */
static int report_cmd(const char *const *args, char **out)
{
	char *argv[ITEST_MAX_ARGS] = { ITEST_PRESTANDA, "report" };
	int n = 2;

	for (; *args; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	return itest_spawn_out(argv, out);
}

/* report --html of trace into dir/name (its path in page); must exit 0. */
static void write_page(char *page, size_t len, const char *dir, const char *name, const char *trace)
{
	char *out;
	int st;

	snprintf(page, len, "%s/%s", dir, name);
	st = report_cmd((const char *[]){ "--html", page, trace, NULL }, &out);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "report --html: %s", itest_wdesc(st));
	free(out);
}

/* The JSON the page at path embeds. */
static json_t *page_data(const char *path)
{
	static const char open_tag[] = "<script type=\"application/json\" id=\"pst-data\">";
	char *s = itest_slurp(path, NULL), *a, *b;
	json_error_t e;
	json_t *j;

	cr_assert(s, "no page at %s", path);
	a = strstr(s, open_tag);
	cr_assert(a, "no data in the page");
	a += strlen(open_tag);
	b = strstr(a, "</script>");
	cr_assert(b);
	*b = 0;
	j = json_loads(a, 0, &e);
	cr_assert(j, "page data: %s", e.text);
	free(s);
	return j;
}

/* The most a level's slots reached. */
static long long level_most(json_t *max)
{
	long long most = 0;
	size_t i;
	json_t *v;

	json_array_foreach(max, i, v)
		if (json_integer_value(v) > most)
			most = json_integer_value(v);
	return most;
}

/* A site's cells summed over births in [a, b): calls, bytes, and of them
 * live at the end (gone at b or later, never a failed call). */
struct sums {
	double calls, bytes, live_bytes, live;
};

static struct sums cells_sum(json_t *site, long a, long b, long nb)
{
	struct sums s = { 0, 0, 0, 0 };
	size_t i;
	json_t *c;

	json_array_foreach(json_object_get(site, "cells"), i, c) {
		long born = (long)json_integer_value(json_array_get(c, 0));
		long gone = (long)json_integer_value(json_array_get(c, 1));
		double calls = json_number_value(json_array_get(c, 2));
		double bytes = json_number_value(json_array_get(c, 3));
		/* born in the range; alive at its end: gone then or later, not a failed call */
		double in = born >= a && born < b, live = in && gone >= b && gone <= nb;

		s.calls += in * calls;
		s.bytes += in * bytes;
		s.live += live * calls;
		s.live_bytes += live * bytes;
	}
	return s;
}

/* The report's site with this function, file and line, or NULL. */
static json_t *report_site(json_t *report, const char *fn, const char *file, long line)
{
	size_t i;
	json_t *s;

	json_array_foreach(itest_get(report, "memory.sites"), i, s)
		if (!strcmp(itest_str(s, "function") ?: "", fn ?: "") &&
		    !strcmp(itest_str(s, "file") ?: "", file ?: "") && itest_int(s, "line") == line)
			return s;
	return NULL;
}

/* Every site of the page, its cells over the whole run against the
 * report's figures: equal in full mode, within rel in sampled mode. */
static void whole_run_matches(const char *trace, const char *page, double rel)
{
	struct itest_report rep;
	json_t *d = page_data(page), *report = itest_report_ok(&rep, trace), *site;
	long nb = (long)itest_int(d, "ranges.buckets");
	size_t i, n = 0;

	json_array_foreach(itest_get(d, "ranges.sites"), i, site) {
		struct sums s = cells_sum(site, 0, nb, nb);
		json_t *r = report_site(report, itest_str(site, "function"), itest_str(site, "file"),
					(long)itest_int(site, "line"));
		const char *keys[] = { "calls", "bytes", "leaked_bytes", "leaked_allocations" };
		double got[] = { s.calls, s.bytes, s.live_bytes, s.live };

		cr_assert(r, "site %s not in the report", itest_str(site, "function"));
		for (int k = 0; k < 4; k++) {
			double want = json_number_value(json_object_get(r, keys[k]));

			cr_expect(fabs(got[k] - want) <= rel * want + 0.5, "%s %s: page %.3f, report %.0f",
				  itest_str(site, "function"), keys[k], got[k], want);
		}
		n++;
	}
	cr_expect_eq(n, json_array_size(itest_get(report, "memory.sites")));
	cr_expect_gt(n, 0);
	json_decref(d);
	itest_report_free(&rep);
}

/* ---- buckets ---- */

Test(html, buckets_are_short_decimals)
{
	struct pst_html_buckets b = pst_html_buckets_for(1209997416);

	/* 0.1 s steps would be 12: one more than allowed */
	cr_expect_eq(b.width_ns, 200000000);
	cr_expect_eq(b.n, 7);
	b = pst_html_buckets_for(0);
	cr_expect_eq(b.width_ns, 1000000);
	cr_expect_eq(b.n, 1);
	b = pst_html_buckets_for(10000000000ull);
	cr_expect_eq(b.width_ns, 1000000000);
	cr_expect_eq(b.n, 11);
	b = pst_html_buckets_for(1199999999ull);
	cr_expect_eq(b.width_ns, 100000000);
	cr_expect_eq(b.n, PST_HTML_MAX_BUCKETS);
}

/* ---- the page's data against the report ---- */

Test(html, cells_sum_to_the_report_full, .timeout = 120)
{
	struct itest_run r;
	char page[PATH_MAX];

	itest_run(&r, (const char *[]){ "--full", NULL }, "alloc_known", NULL);
	cr_assert_eq(r.ntraces, 1);
	write_page(page, sizeof(page), r.dir, "p.html", r.traces[0]);
	whole_run_matches(r.traces[0], page, 0);
	itest_cleanup(&r);
}

Test(html, cells_sum_to_the_report_sampled, .timeout = 120)
{
	struct itest_run r;
	char page[PATH_MAX];

	itest_run(&r, (const char *[]){ "--sample-bytes", "4096", NULL }, "alloc_known", NULL);
	cr_assert_eq(r.ntraces, 1);
	write_page(page, sizeof(page), r.dir, "p.html", r.traces[0]);
	whole_run_matches(r.traces[0], page, 1e-9);
	itest_cleanup(&r);
}

/* A block of 1 MiB held 0.6 s: live at the end of every range that
 * starts at its birth and ends before its free, never after. */
Test(html, live_at_the_end_of_a_range, .timeout = 120)
{
	struct itest_run r;
	char page[PATH_MAX];
	json_t *d, *site = NULL, *s;
	long nb, bw, born = -1, gone = -1;
	size_t i;

	itest_run(&r, (const char *[]){ "--full", NULL }, "metrics_phases",
		  (const char *[]){ "hold", "1", "600", NULL });
	cr_assert_eq(r.ntraces, 1);
	write_page(page, sizeof(page), r.dir, "p.html", r.traces[0]);
	d = page_data(page);
	nb = (long)itest_int(d, "ranges.buckets");
	bw = (long)itest_int(d, "ranges.bucket_ns");
	json_array_foreach(itest_get(d, "ranges.sites"), i, s)
		if (itest_fn_is(itest_str(s, "function"), "hold"))
			site = s;
	cr_assert(site, "no site in hold");
	cr_assert_eq(json_array_size(json_object_get(site, "cells")), 1);
	born = (long)json_integer_value(json_array_get(json_array_get(json_object_get(site, "cells"), 0), 0));
	gone = (long)json_integer_value(json_array_get(json_array_get(json_object_get(site, "cells"), 0), 1));
	/* freed about 0.6 s after its birth (longer under load: the target
	 * measured its life from inside and around the two calls): that many
	 * buckets later, give or take one */
	cr_expect((gone - born) * bw > itest_printed(r.out, "held_ns") - bw &&
			  (gone - born) * bw < itest_printed(r.out, "held_outer_ns") + bw,
		  "born %ld gone %ld of %ld ns; %s", born, gone, bw, r.out);
	cr_expect_eq(cells_sum(site, born, born + 1, nb).live_bytes, 1 << 20);
	cr_expect_eq(cells_sum(site, born, gone, nb).live_bytes, 1 << 20);
	cr_expect_eq(cells_sum(site, born, gone + 1, nb).live_bytes, 0);
	cr_expect_eq(cells_sum(site, born, gone + 1, nb).bytes, 1 << 20);
	cr_expect_eq(cells_sum(site, born + 1, nb, nb).calls, 0);
	json_decref(d);
	itest_cleanup(&r);
}

/* The sum of the counts of `flame -f folded -m metric [--since S --until
 * U] trace` (since NULL: the whole run). */
static long long folded_total(const char *trace, const char *metric, const char *since,
			      const char *until)
{
	char *argv[16] = { ITEST_PRESTANDA, "flame", "-f", "folded", "-m", (char *)metric };
	char *out, *line, *save = NULL;
	long long total = 0;
	int n = 6, st;

	if (since) {
		argv[n++] = "--since", argv[n++] = (char *)since;
		argv[n++] = "--until", argv[n++] = (char *)until;
	}
	argv[n++] = (char *)trace;
	argv[n] = NULL;
	st = itest_spawn_out(argv, &out);
	/* a range without any of the metric: flame says so and exits 2 */
	if (since && WIFEXITED(st) && WEXITSTATUS(st) == 2) {
		free(out);
		return 0;
	}
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "flame -m %s: %s", metric, itest_wdesc(st));
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		total += atoll(strrchr(line, ' ') + 1);
	free(out);
	return total;
}

/* Every frame at least min wide, and its children no wider than it. */
static void pruned(json_t *f, long long min)
{
	long long v = itest_int(f, "v"), sum = 0;
	size_t i;
	json_t *k;

	cr_expect_geq(v, min, "%s: %lld", itest_str(f, "n"), v);
	json_array_foreach(json_object_get(f, "c"), i, k) {
		pruned(k, min);
		sum += itest_int(k, "v");
	}
	cr_expect_leq(sum, v, "%s", itest_str(f, "n"));
}

/* thr_locks waits for its locks: the page's lock-wait graph holds what
 * `flame -m lock-wait` draws, and none of the memory metrics it draws
 * itself from the sites. */
Test(html, flames_of_other_metrics, .timeout = 120)
{
	struct itest_run r;
	char page[PATH_MAX];
	json_t *d, *f, *lw = NULL;
	size_t i;
	long long total;

	itest_run(&r, NULL, "thr_locks", NULL);
	cr_assert_eq(r.ntraces, 1);
	write_page(page, sizeof(page), r.dir, "p.html", r.traces[0]);
	d = page_data(page);
	json_array_foreach(json_object_get(d, "flames"), i, f) {
		cr_expect(strcmp(itest_str(f, "name"), "alloc-bytes") &&
			  strcmp(itest_str(f, "name"), "leaked-bytes"), "%s", itest_str(f, "name"));
		if (!strcmp(itest_str(f, "name"), "lock-wait"))
			lw = f;
	}
	cr_assert(lw, "no lock-wait graph");
	cr_expect_str_eq(itest_str(lw, "unit"), "nanoseconds");
	total = folded_total(r.traces[0], "lock-wait", NULL, NULL);
	cr_expect_gt(total, 0);
	cr_expect_eq(itest_int(lw, "tree.v"), total);
	pruned(json_object_get(lw, "tree"), total / 1000);
	json_decref(d);
	itest_cleanup(&r);
}

/* ---- ranges against report --since/--until ---- */

/* ns as the short decimal seconds the page shows ("0.35", "1"). */
static void secs_str(char *buf, size_t len, long long ns)
{
	size_t n = (size_t)snprintf(buf, len, "%lld.%09lld", ns / 1000000000, ns % 1000000000);

	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = 0;
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = 0;
}

/* `report --json --since S --until U trace`, parsed. */
static json_t *report_range(const char *trace, const char *since, const char *until)
{
	char *out;
	int st = report_cmd((const char *[]){ "--json", "--top", "100000", "--since", since, "--until",
					      until, trace, NULL },
			    &out);
	json_error_t e;
	json_t *j;

	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "report --since %s --until %s: %s", since,
		  until, itest_wdesc(st));
	j = json_loads(out, 0, &e);
	cr_assert(j, "report: %s", e.text);
	free(out);
	return j;
}

/* The figures of one site in a range: the page's (row: calls, bytes,
 * live_bytes, live_blocks) against the report's for that range. */
static void same_site(json_t *report_site, const double got[4], const char *range)
{
	static const char *const keys[] = { "calls", "bytes", "leaked_bytes", "leaked_allocations" };

	for (int k = 0; k < 4; k++)
		cr_expect_eq(llround(got[k]), itest_int(report_site, keys[k]), "%s %s %s: page %.3f",
			     range, itest_str(report_site, "function"), keys[k], got[k]);
}

/* Buckets [a, b) of the page at page: every site's cells summed as the
 * page sums them, against `report --since --until` of that range. */
static void range_matches(const char *trace, json_t *d, long a, long b)
{
	long nb = (long)itest_int(d, "ranges.buckets");
	long long bw = itest_int(d, "ranges.bucket_ns");
	char since[40], until[40], range[100];
	json_t *rep, *site;
	size_t i, n = 0;

	secs_str(since, sizeof(since), a * bw);
	secs_str(until, sizeof(until), b * bw);
	snprintf(range, sizeof(range), "[%s, %s)", since, until);
	rep = report_range(trace, since, until);
	json_array_foreach(itest_get(d, "ranges.sites"), i, site) {
		struct sums s = cells_sum(site, a, b, nb);
		json_t *r;

		if (s.calls == 0)
			continue;
		n++;
		r = report_site(rep, itest_str(site, "function"), itest_str(site, "file"),
				(long)itest_int(site, "line"));
		cr_assert(r, "%s: %s not in the report", range, itest_str(site, "function"));
		same_site(r, (const double[]){ s.calls, s.bytes, s.live_bytes, s.live }, range);
	}
	cr_expect_eq(n, json_array_size(itest_get(rep, "memory.sites")), "%s", range);
	json_decref(rep);
}

/* session_phases run with opts: blocks kept across phases, blocks freed
 * within one; ranges over every stretch of the run. */
static void ranges_of_session_phases(const char *const *opts)
{
	struct itest_run r;
	char page[PATH_MAX];
	json_t *d;
	long n;

	itest_run(&r, opts, "session_phases", NULL);
	cr_assert_eq(r.ntraces, 1);
	write_page(page, sizeof(page), r.dir, "p.html", r.traces[0]);
	d = page_data(page);
	n = (long)itest_int(d, "ranges.buckets");
	cr_assert_geq(n, 5, "%ld buckets", n);
	for (long a = 0; a < n; a += n / 4)
		for (long b = a + 1; b <= n; b += n / 3)
			range_matches(r.traces[0], d, a, b);
	range_matches(r.traces[0], d, 0, n);
	range_matches(r.traces[0], d, n / 2, n);
	json_decref(d);
	itest_cleanup(&r);
}

Test(html, ranges_are_report_since_until, .timeout = 240)
{
	ranges_of_session_phases((const char *[]){ "--full", NULL });
}

/* Sampled: the same weights summed in another order, equal once rounded
 * as the report rounds them. */
Test(html, ranges_are_report_since_until_sampled, .timeout = 240)
{
	ranges_of_session_phases((const char *[]){ "--sample-bytes", "2048", NULL });
}

/* ---- the command ---- */

Test(html, one_trace_and_a_writable_file, .timeout = 60)
{
	char *out;
	int st;

	st = report_cmd((const char *[]){ "--html", "/tmp/x.html", "a.trace", "b.trace", NULL }, &out);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 2, "%s", itest_wdesc(st));
	free(out);
}

Test(html, unwritable_page_fails, .timeout = 120)
{
	struct itest_run r;
	char *out;
	int st;

	itest_run(&r, (const char *[]){ "--full", NULL }, "alloc_known", NULL);
	cr_assert_eq(r.ntraces, 1);
	st = report_cmd((const char *[]){ "--html", "/proc/self/no/page.html", r.traces[0], NULL },
			&out);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 1, "%s", itest_wdesc(st));
	free(out);
	itest_cleanup(&r);
}

/* net_load's pool: 4 connections held at once, both of their ends in the
 * one process, all closed before the end. */
Test(html, connections_over_time, .timeout = 120)
{
	struct itest_run r;
	char page[PATH_MAX];
	json_t *d;

	itest_run(&r, NULL, "net_load", (const char *[]){ "pool", "4", "400", NULL });
	cr_assert_eq(r.ntraces, 1);
	write_page(page, sizeof(page), r.dir, "p.html", r.traces[0]);
	d = page_data(page);
	cr_assert(json_is_object(json_object_get(d, "connections")), "no connections");
	cr_expect_eq(level_most(itest_get(d, "connections.max")), 8);
	cr_expect_eq(json_array_size(itest_get(d, "connections.max")), PST_HTML_SLOTS);
	cr_expect_eq(json_integer_value(json_array_get(itest_get(d, "connections.max"),
						       PST_HTML_SLOTS - 1)), 0);
	json_decref(d);
	itest_cleanup(&r);
}

/* No network records: no connections line. */
Test(html, no_connections_without_network, .timeout = 120)
{
	struct itest_run r;
	char page[PATH_MAX];
	json_t *d;

	itest_run(&r, (const char *[]){ "--full", NULL }, "alloc_known", NULL);
	cr_assert_eq(r.ntraces, 1);
	write_page(page, sizeof(page), r.dir, "p.html", r.traces[0]);
	d = page_data(page);
	cr_expect(json_is_null(json_object_get(d, "connections")));
	json_decref(d);
	itest_cleanup(&r);
}

/* thr_churn's 300 threads: the page's table keeps 200 of them, in the
 * report's order; the page's report has no site list nor CPU stacks of
 * its own (the page draws its own). */
Test(html, long_tables_are_cut, .timeout = 120)
{
	struct itest_run r;
	struct itest_report rep;
	char page[PATH_MAX];
	json_t *d, *whole;

	itest_run(&r, (const char *[]){ "--cpu", NULL }, "thr_churn", (const char *[]){ "300", NULL });
	cr_assert_eq(r.ntraces, 1);
	write_page(page, sizeof(page), r.dir, "p.html", r.traces[0]);
	d = page_data(page);
	whole = itest_report_ok(&rep, r.traces[0]);
	cr_assert_eq(json_array_size(itest_get(whole, "threads.threads")), 301);
	cr_expect_eq(json_array_size(itest_get(d, "report.threads.threads")), 200);
	cr_expect(json_equal(json_array_get(itest_get(d, "report.threads.threads"), 199),
			     json_array_get(itest_get(whole, "threads.threads"), 199)));
	cr_assert(itest_get(whole, "cpu.stacks"));
	cr_expect_null(json_object_get(itest_get(d, "report.memory"), "sites"));
	cr_expect_null(json_object_get(itest_get(d, "report.cpu"), "stacks"));
	json_decref(d);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* ---- the timeline plot ---- */

/* --timeline-svg: both panels with a titled unit, ticks and the time axis. */
Test(html, timeline_svg_has_axes, .timeout = 120)
{
	struct itest_run r;
	char svg[PATH_MAX], *out, *s;
	int st;

	itest_run(&r, (const char *[]){ "--metrics-interval", "0.2", NULL }, "metrics_phases",
		  (const char *[]){ "hold", "8", "700", NULL });
	cr_assert_eq(r.ntraces, 1);
	snprintf(svg, sizeof(svg), "%s/t.svg", r.dir);
	st = report_cmd((const char *[]){ "--timeline-svg", svg, r.traces[0], NULL }, &out);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", itest_wdesc(st));
	free(out);
	s = itest_slurp(svg, NULL);
	cr_assert(s);
	cr_expect(strstr(s, ">resident memory (RSS), bytes</text>"), "%s", s);
	cr_expect(strstr(s, ">allocation calls per second</text>"), "%s", s);
	/* a time axis under each panel, from 0 s */
	cr_expect(strstr(s, ">time since the process started (s)</text>"), "%s", s);
	cr_expect(strstr(strstr(s, ">time since the process started (s)</text>") + 1,
			 ">time since the process started (s)</text>"), "%s", s);
	cr_expect(strstr(s, "text-anchor=\"middle\">0</text>"), "%s", s);
	/* value ticks with units: RSS of 8 MiB held in MiB, calls per second */
	cr_expect(strstr(s, ">0 B</text>") && strstr(s, " MiB</text>"), "%s", s);
	cr_expect(strstr(s, ">0/s</text>"), "%s", s);
	free(s);
	itest_cleanup(&r);
}

/* ---- in the browser ---- */

/* `node tests/js/html-browser.js ARGS...`: its output parsed. */
static json_t *browse(const char *const *args)
{
	char *argv[ITEST_MAX_ARGS] = { "/usr/bin/env", "node", JS_DIR "html-browser.js" }, *out;
	int n = 3, st;
	json_error_t e;
	json_t *j;

	cr_assert(access(JS_DIR "node_modules", F_OK) == 0,
		  "tests/js/node_modules missing: run scripts/js-deps.sh");
	for (; *args; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	st = itest_spawn_out(argv, &out);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "html-browser.js: %s", itest_wdesc(st));
	j = json_loads(out, 0, &e);
	cr_assert(j, "html-browser.js printed %s", out);
	free(out);
	return j;
}

/* Every chart has a title, both axes labelled with ticks, and a legend. */
static void charts_have_axes(json_t *b)
{
	size_t i;
	json_t *c;

	cr_expect_eq(json_array_size(json_object_get(b, "charts")), 5);
	json_array_foreach(json_object_get(b, "charts"), i, c) {
		const char *id = itest_str(c, "id");

		cr_expect_str_eq(itest_str(c, "xlabel"), "time since the process started (s)", "%s", id);
		cr_expect(itest_str(c, "ylabel") && *itest_str(c, "ylabel"), "%s: no y label", id);
		cr_expect_geq(itest_int(c, "xticks"), 3, "%s", id);
		cr_expect_geq(json_array_size(json_object_get(c, "yticks")), 3, "%s", id);
		cr_expect_geq(json_array_size(json_object_get(c, "legend")), 1, "%s", id);
		cr_expect_eq(itest_int(c, "series"), json_array_size(json_object_get(c, "legend")), "%s", id);
	}
}

/* The one row of the sites table (phases' site) has these figures. */
static void one_row(json_t *rows, long long calls, long long bytes)
{
	json_t *row = json_array_get(rows, 0);

	cr_assert_eq(json_array_size(rows), 1);
	cr_expect_str_eq(itest_str(row, "function"), "phases");
	cr_expect_eq(itest_int(row, "calls"), calls);
	cr_expect_eq(itest_int(row, "bytes"), bytes);
	/* none of phases' blocks is ever freed */
	cr_expect_eq(itest_int(row, "live_bytes"), bytes);
	cr_expect_eq(itest_int(row, "live_blocks"), calls);
}

/*
 * metrics_phases: 1000 x 64 bytes at 0.4 s, 2000 x 128 at 0.8 s, 3000 x 192
 * at 1.2 s. Dragging on the heap chart from 0.62 s to 0.98 s snaps to the
 * buckets around it and leaves phase 2 alone.
 */
Test(html, page_in_headless_chromium, .timeout = 240)
{
	struct itest_run r;
	char page[PATH_MAX], shot[PATH_MAX];
	json_t *b;

	if (access(CHROMIUM, X_OK))
		cr_skip_test("no %s: the browser test did not run", CHROMIUM);
	itest_run(&r, (const char *[]){ "--full", "--metrics-interval", "0.2", NULL }, "metrics_phases",
		  (const char *[]){ "phases", "400", NULL });
	cr_assert_eq(r.ntraces, 1);
	write_page(page, sizeof(page), r.dir, "p.html", r.traces[0]);
	snprintf(shot, sizeof(shot), "%s/p.png", r.dir);
	b = browse((const char *[]){ page, "0.62", "0.98", shot, NULL });
	cr_expect_eq(json_array_size(json_object_get(b, "errors")), 0, "console: %s",
		     json_dumps(json_object_get(b, "errors"), 0));
	cr_expect_eq(json_array_size(json_object_get(b, "requests")), 0, "requests: %s",
		     json_dumps(json_object_get(b, "requests"), 0));
	cr_expect_str_eq(itest_str(b, "title"), "prestanda: metrics_phases");
	charts_have_axes(b);
	cr_expect(strstr(itest_str(json_array_get(json_object_get(b, "charts"), 0), "peak") ?: "",
			 "peak 875 KiB at "));
	one_row(json_object_get(b, "whole"), 6000, 896000);
	cr_expect_str_eq(itest_str(b, "since"), "0.6");
	cr_expect_str_eq(itest_str(b, "until"), "1");
	one_row(json_object_get(b, "range"), 2000, 256000);
	/* all, the four frames of libc and main, phases */
	cr_expect_eq(itest_int(b, "range_flame_frames"), 6);
	cr_expect(access(shot, F_OK) == 0);
	json_decref(b);
	itest_cleanup(&r);
}

/* The page's row of a site, or NULL. */
static json_t *page_row(json_t *rows, json_t *report_site)
{
	size_t i;
	json_t *row;

	json_array_foreach(rows, i, row)
		if (!strcmp(itest_str(row, "function"), itest_str(report_site, "function") ?: "") &&
		    !strcmp(itest_str(row, "file"), itest_str(report_site, "file") ?: "") &&
		    itest_int(row, "line") == itest_int(report_site, "line"))
			return row;
	return NULL;
}

/*
 * A range dragged on session_phases' heap chart, from the middle of one
 * bucket to the middle of another: the sites table then shows, row for
 * row, what `report --since --until` prints for the range the page names.
 */
Test(html, dragged_range_is_report_since_until, .timeout = 240)
{
	struct itest_run r;
	char page[PATH_MAX], from[32], to[32];
	json_t *d, *b, *rep, *site;
	long n;
	double bw;
	size_t i;

	if (access(CHROMIUM, X_OK))
		cr_skip_test("no %s: the browser test did not run", CHROMIUM);
	itest_run(&r, (const char *[]){ "--full", NULL }, "session_phases", NULL);
	cr_assert_eq(r.ntraces, 1);
	write_page(page, sizeof(page), r.dir, "p.html", r.traces[0]);
	d = page_data(page);
	n = (long)itest_int(d, "ranges.buckets");
	bw = (double)itest_int(d, "ranges.bucket_ns") / 1e9;
	snprintf(from, sizeof(from), "%.6f", (double)(n / 4) * bw + bw / 2);
	snprintf(to, sizeof(to), "%.6f", (double)(3 * n / 4) * bw + bw / 2);
	b = browse((const char *[]){ page, from, to, NULL });
	cr_expect_eq(json_array_size(json_object_get(b, "errors")), 0);
	cr_expect_eq(json_array_size(json_object_get(b, "requests")), 0);
	/* a run shorter than a snapshot interval: allocation rate from the events */
	cr_expect_str_eq(itest_str(json_array_get(json_object_get(b, "charts"), 2), "id"), "chart-rate");
	cr_expect_eq(itest_int(json_array_get(json_object_get(b, "charts"), 2), "series"), 1);
	/* its threads from their records: main and the two workers, both joined */
	cr_expect_str_eq(itest_str(json_array_get(json_object_get(b, "charts"), 3), "id"),
			 "chart-threads");
	cr_expect_eq(itest_int(json_array_get(json_object_get(b, "charts"), 3), "series"), 1);
	cr_expect_eq(level_most(itest_get(d, "threads.max")), 3);
	cr_expect_eq(json_integer_value(json_array_get(itest_get(d, "threads.max"),
						       PST_HTML_SLOTS - 1)), 1);
	rep = report_range(r.traces[0], itest_str(b, "since"), itest_str(b, "until"));
	cr_expect_gt(json_array_size(itest_get(rep, "memory.sites")), 0);
	cr_expect_eq(json_array_size(json_object_get(b, "range")),
		     json_array_size(itest_get(rep, "memory.sites")));
	json_array_foreach(itest_get(rep, "memory.sites"), i, site) {
		json_t *row = page_row(json_object_get(b, "range"), site);

		cr_assert(row, "%s not in the page's table", itest_str(site, "function"));
		same_site(site, (const double[]){ (double)itest_int(row, "calls"),
				   (double)itest_int(row, "bytes"), (double)itest_int(row, "live_bytes"),
				   (double)itest_int(row, "live_blocks") },
			  itest_str(b, "since"));
	}
	json_decref(rep);
	json_decref(b);
	json_decref(d);
	itest_cleanup(&r);
}

/* ---- every table and flame graph in a range ---- */

/* The page's tables drawn from the report's lists: the table's id, the
 * list's path in the report, the key a row is named by. */
static const char *const report_tables[][3] = {
	{ "cpu-functions", "cpu.functions", "function" },
	{ "threads", "threads.threads", "tid" },
	{ "thread-groups", "threads.groups", "start_routine" },
	{ "locks", "locks", "lock" },
	{ "endpoints", "network.endpoints", "endpoint" },
	{ "requests", "network.requests", "endpoint" },
};

/* The value at a dotted path of o, or NULL (a report without that section). */
static json_t *opt_get(json_t *o, const char *path)
{
	char buf[128], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save))
		o = json_object_get(o, k);
	return o;
}

/* The name of report row r by key k, as the page writes it. */
static void row_name(char *buf, size_t len, json_t *r, const char *k)
{
	json_t *v = json_object_get(r, k);

	if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	else
		snprintf(buf, len, "%s", json_string_value(v) ?: "");
}

/* Does report row r have the page row's name and every number it shows? */
static bool same_row(json_t *r, json_t *row, const char *name_key)
{
	const char *k;
	json_t *v;
	char name[256];

	row_name(name, sizeof(name), r, name_key);
	if (strcmp(name, itest_str(row, "name")))
		return false;
	json_object_foreach(json_object_get(row, "v"), k, v)
		if (!json_is_number(json_object_get(r, k)) ||
		    json_number_value(json_object_get(r, k)) != json_number_value(v))
			return false;
	return true;
}

/* The page's rows of one table (the browser's) against the report's list:
 * as many (the page shows the first 30), each page row one of the
 * report's, no report row twice. Returns how many rows there were. */
static size_t same_rows(json_t *page_rows, json_t *rep_rows, const char *name_key, const char *what)
{
	size_t n = json_array_size(rep_rows), i, j;
	bool *used = calloc(n + 1, 1);
	json_t *row;

	cr_expect_eq(json_array_size(page_rows), n < 30 ? n : 30, "%s: page %zu rows, report %zu",
		     what, json_array_size(page_rows), n);
	json_array_foreach(page_rows, i, row) {
		for (j = 0; j < n; j++)
			if (!used[j] && same_row(json_array_get(rep_rows, j), row, name_key))
				break;
		cr_expect_lt(j, n, "%s: the page's row %s is none of the report's: %s", what,
			     itest_str(row, "name"), json_dumps(row, JSON_COMPACT));
		used[j] = true;
	}
	free(used);
	return n;
}

/* The browser's tables and flame totals for the range it dragged, against
 * `report --json` and `flame -f folded` with its --since and --until.
 * Returns the rows the report's lists had in all. */
static size_t range_is_report(const char *trace, json_t *b)
{
	const char *since = itest_str(b, "since"), *until = itest_str(b, "until"), *m;
	json_t *rep = report_range(trace, since, until), *total;
	size_t rows = 0;
	char what[200];

	for (size_t i = 0; i < sizeof(report_tables) / sizeof(*report_tables); i++) {
		json_t *page_rows = opt_get(json_object_get(b, "range_tables"), report_tables[i][0]);
		json_t *rep_rows = opt_get(rep, report_tables[i][1]);

		snprintf(what, sizeof(what), "[%s, %s) %s", since, until, report_tables[i][0]);
		if (page_rows)
			rows += same_rows(page_rows, rep_rows, report_tables[i][2], what);
		else
			cr_expect_eq(json_array_size(rep_rows), 0, "%s", what);
	}
	/* the metrics the page draws from the analyzer's trees */
	json_object_foreach(json_object_get(b, "range_flames"), m, total)
		if (strncmp(m, "alloc-", 6) && strcmp(m, "live-bytes") && strcmp(m, "peak-bytes"))
			cr_expect_eq((long long)json_integer_value(total),
				     folded_total(trace, m, since, until), "[%s, %s) flame %s", since,
				     until, m);
	json_decref(rep);
	return rows;
}

/* target run with opts; its page dragged from the middle of bucket n *
 * lo / 4 to that of bucket n * hi / 4 (n the page's buckets): every table
 * and flame graph is what report and flame print for the range. The
 * browser's output, to free. */
static json_t *dragged_tables(const char *const *opts, const char *target,
			      const char *const *args, long lo, long hi)
{
	struct itest_run r;
	char page[PATH_MAX], from[32], to[32];
	json_t *d, *b;
	long n;
	double bw;

	itest_run(&r, opts, target, args);
	cr_assert_eq(r.ntraces, 1);
	write_page(page, sizeof(page), r.dir, "p.html", r.traces[0]);
	d = page_data(page);
	n = (long)itest_int(d, "ranges.buckets");
	bw = (double)itest_int(d, "ranges.bucket_ns") / 1e9;
	snprintf(from, sizeof(from), "%.6f", (double)(n * lo / 4) * bw + bw / 2);
	snprintf(to, sizeof(to), "%.6f", (double)(n * hi / 4) * bw + bw / 2);
	b = browse((const char *[]){ page, from, to, NULL });
	cr_expect_eq(json_array_size(json_object_get(b, "errors")), 0, "console: %s",
		     json_dumps(json_object_get(b, "errors"), 0));
	cr_expect_eq(json_array_size(json_object_get(b, "requests")), 0);
	cr_expect_gt(range_is_report(r.traces[0], b), 0, "no rows in the range");
	json_decref(d);
	itest_cleanup(&r);
	return b;
}

/* cpu_split under run --cpu: the CPU functions, threads and the CPU flame
 * graph of the first half of the run, fewer samples than the whole run's. */
Test(html, dragged_range_moves_cpu_tables, .timeout = 300)
{
	json_t *b;

	if (access(CHROMIUM, X_OK))
		cr_skip_test("no %s: the browser test did not run", CHROMIUM);
	b = dragged_tables((const char *[]){ "--cpu", NULL }, "cpu_split", (const char *[]){ "0.6", NULL },
			   0, 2);
	cr_expect_gt(itest_int(b, "range_flames.cpu"), 0);
	cr_expect_lt(itest_int(b, "range_flames.cpu"), itest_int(b, "whole_flames.cpu"));
	cr_expect_gt(json_array_size(itest_get(b, "range_tables.cpu-functions")), 0);
	json_decref(b);
}

/* thr_locks: threads, groups, locks and the lock-wait graph of a range. */
Test(html, dragged_range_moves_lock_tables, .timeout = 300)
{
	json_t *b;

	if (access(CHROMIUM, X_OK))
		cr_skip_test("no %s: the browser test did not run", CHROMIUM);
	b = dragged_tables(NULL, "thr_locks", NULL, 1, 3);
	cr_expect_gt(json_array_size(itest_get(b, "range_tables.locks")), 0);
	cr_expect_gt(itest_int(b, "range_flames.lock-wait"), 0);
	cr_expect_leq(itest_int(b, "range_flames.lock-wait"), itest_int(b, "whole_flames.lock-wait"));
	json_decref(b);
}

/* net_load's pool: endpoints, threads and the connect-time graph. */
Test(html, dragged_range_moves_network_tables, .timeout = 300)
{
	json_t *b;

	if (access(CHROMIUM, X_OK))
		cr_skip_test("no %s: the browser test did not run", CHROMIUM);
	b = dragged_tables(NULL, "net_load", (const char *[]){ "pool", "4", "400", NULL }, 1, 3);
	cr_expect_gt(json_array_size(itest_get(b, "range_tables.endpoints")), 0);
	json_decref(b);
}
