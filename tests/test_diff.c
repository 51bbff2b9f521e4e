/* SPDX-License-Identifier: MIT */
/* `prestanda diff`: site matching across builds, and two builds of diff_work compared end to end. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>

#include "diff.h"
#include "itest.h"

/* ---- matching, on summaries made from small reports ---- */

/* A report with sites given as "fn|file|line|frame;frame;..." and calls. */
static void summary_of(struct pst_summary *s, const char *const *sites, const int *calls)
{
	json_t *rep = json_object(), *mem = json_object(), *a = json_array();
	char err[256] = "";

	for (size_t i = 0; sites[i]; i++) {
		char buf[512], *save = NULL, *fn, *file, *line, *frames, *f;
		json_t *o = json_object(), *st = json_array();

		snprintf(buf, sizeof(buf), "%s", sites[i]);
		fn = strtok_r(buf, "|", &save);
		file = strtok_r(NULL, "|", &save);
		line = strtok_r(NULL, "|", &save);
		frames = strtok_r(NULL, "|", &save);
		for (f = strtok_r(frames, ";", &save); f; f = strtok_r(NULL, ";", &save))
			json_array_append_new(st, json_string(f));
		json_object_set_new(o, "function", json_string(fn));
		json_object_set_new(o, "file", json_string(file));
		json_object_set_new(o, "line", json_integer(atoi(line)));
		json_object_set_new(o, "stack", st);
		json_object_set_new(o, "calls", json_integer(calls[i]));
		json_array_append_new(a, o);
	}
	json_object_set_new(mem, "mode", json_string("full"));
	json_object_set_new(mem, "alloc_calls", json_integer(1));
	json_object_set_new(mem, "sites", a);
	json_object_set_new(rep, "prestanda_report", json_integer(1));
	json_object_set_new(rep, "memory", mem);
	cr_assert_eq(pst_summary_from_json(rep, "test", s, err, sizeof(err)), 0, "%s", err);
	json_decref(rep);
}

/* The new-side index paired with base index b (-1: none, -2: b not listed). */
static long partner(const struct pst_site_pair *p, long n, long b)
{
	for (long i = 0; i < n; i++)
		if (p[i].b == b)
			return p[i].n;
	return -2;
}

Test(diff_match, frame_function)
{
	int line;
	char *s;

	s = pst_frame_function("parse_request (tests/targets/diff_work.c:35)", &line);
	cr_expect_str_eq(s, "parse_request");
	cr_expect_eq(line, 35);
	free(s);
	s = pst_frame_function("ns::f(int) const (a.cc:7)", &line);
	cr_expect_str_eq(s, "ns::f(int) const");
	cr_expect_eq(line, 7);
	free(s);
	s = pst_frame_function("_start (diff_work)", &line);
	cr_expect_str_eq(s, "_start");
	cr_expect_eq(line, 0);
	free(s);
	s = pst_frame_function("[libc.so.6+0x271ca]", &line);
	cr_expect_str_eq(s, "[libc.so.6]");
	free(s);
	s = pst_frame_function("operator()", &line);
	cr_expect_str_eq(s, "operator()");
	free(s);
}

Test(diff_match, line_shift_matches)
{
	/* The second build: every line 100 further down, one site added, one gone,
	 * and two sites of one function in one stack (two malloc lines). */
	static const char *const base[] = {
		"f|a.c|10|f (a.c:10);main (a.c:50)",
		"g|a.c|20|g (a.c:20);main (a.c:51)",
		"g|a.c|22|g (a.c:22);main (a.c:51)",
		"old|a.c|30|old (a.c:30);main (a.c:52)",
		NULL,
	};
	static const char *const new[] = {
		"g|a.c|122|g (a.c:122);main (a.c:151)",
		"h|a.c|140|h (a.c:140);main (a.c:153)",
		"f|a.c|110|f (a.c:110);main (a.c:150)",
		"g|a.c|120|g (a.c:120);main (a.c:151)",
		NULL,
	};
	static const int calls[] = { 1, 2, 3, 4 };
	struct pst_summary b, n;
	struct pst_site_pair *p;
	long np;

	summary_of(&b, base, calls);
	summary_of(&n, new, calls);
	np = pst_match_sites(&b, &n, &p);
	cr_assert_eq(np, 5);
	cr_expect_eq(partner(p, np, 0), 2); /* f */
	cr_expect_eq(partner(p, np, 1), 3); /* g:20 with g:120, in source order */
	cr_expect_eq(partner(p, np, 2), 0); /* g:22 with g:122 */
	cr_expect_eq(partner(p, np, 3), -1); /* old: gone */
	cr_expect_eq(partner(p, np, -1), 1); /* h: new */
	free(p);
	pst_summary_free(&b);
	pst_summary_free(&n);
}

Test(diff_match, identical_stacks_first_then_site_function)
{
	/* A site of the same function stack unchanged pairs with itself even
	 * when another appears before it; a stack that gained a caller pairs by
	 * its site function. */
	static const char *const base[] = {
		"g|a.c|22|g (a.c:22);main (a.c:51)",
		"k|a.c|5|k (a.c:5);main (a.c:60)",
		NULL,
	};
	static const char *const new[] = {
		"g|a.c|21|g (a.c:21);main (a.c:51)",
		"g|a.c|22|g (a.c:22);main (a.c:51)",
		"k|a.c|5|k (a.c:5);wrap (a.c:70);main (a.c:60)",
		NULL,
	};
	static const int calls[] = { 1, 2, 3 };
	struct pst_summary b, n;
	struct pst_site_pair *p;
	long np;

	summary_of(&b, base, calls);
	summary_of(&n, new, calls);
	np = pst_match_sites(&b, &n, &p);
	cr_assert_eq(np, 3);
	cr_expect_eq(partner(p, np, 0), 1);
	cr_expect_eq(partner(p, np, 1), 2);
	cr_expect_eq(partner(p, np, -1), 0);
	free(p);
	pst_summary_free(&b);
	pst_summary_free(&n);
}

/* ---- end to end ---- */

struct dres {
	int status; /* exit status of `prestanda diff` */
	char *out, *err;
	json_t *json;
};

/* `build/prestanda diff ARGS...` (NULL-terminated). */
static void run_diff(struct dres *r, const char *const *args)
{
	char *argv[ITEST_MAX_ARGS], outp[PATH_MAX], errp[PATH_MAX];
	int n = 0, st;

	argv[n++] = ITEST_PRESTANDA;
	argv[n++] = "diff";
	for (; *args; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	itest_tmpfile(outp, sizeof(outp));
	itest_tmpfile(errp, sizeof(errp));
	st = itest_spawn(argv, outp, errp);
	cr_assert(WIFEXITED(st), "diff: %s", itest_wdesc(st));
	r->status = WEXITSTATUS(st);
	r->out = itest_slurp(outp, NULL);
	r->err = itest_slurp(errp, NULL);
	r->json = json_loads(r->out, 0, NULL);
	unlink(outp);
	unlink(errp);
}

static void dres_free(struct dres *r)
{
	json_decref(r->json);
	free(r->out);
	free(r->err);
}

/* One --full run of TARGET with args; the trace path in path. */
static void trace_of(struct itest_run *run, const char *target, const char *const *args)
{
	itest_run(run, (const char *[]){ "--full", NULL }, target, args);
	cr_assert(WIFEXITED(run->wstatus) && WEXITSTATUS(run->wstatus) == 0, "run %s: %s; %s",
		  target, itest_wdesc(run->wstatus), run->err);
	cr_assert_eq(run->ntraces, 1);
}

/* The metric named name in a diff's JSON. */
static json_t *metric(json_t *d, const char *name)
{
	json_t *a = itest_get(d, "metrics"), *m;
	size_t i;

	json_array_foreach(a, i, m)
		if (!strcmp(json_string_value(json_object_get(m, "name")), name))
			return m;
	cr_assert_fail("no metric %s in the diff", name);
	return NULL;
}

static json_t *site(json_t *d, const char *fn)
{
	json_t *a = itest_get(d, "sites"), *s;
	size_t i;

	json_array_foreach(a, i, s)
		if (itest_fn_is(json_string_value(json_object_get(s, "function")), fn))
			return s;
	return NULL;
}

static void write_file(const char *dir, const char *name, const char *text, char *path)
{
	snprintf(path, PATH_MAX, "%s/%s", dir, name);
	itest_write(path, text, strlen(text));
}

/* Keyed metrics: per endpoint by role, per function summed; "[]" sums an array. */
Test(diff_match, keyed_and_summed_metrics)
{
	const char *text =
		"{\"prestanda_report\": 1, \"memory\": {\"mode\": \"full\", \"sites\": []},"
		" \"network\": {\"endpoints\": ["
		"  {\"endpoint\": \"10.0.0.1:80\", \"role\": \"client\", \"connects\": 3,"
		"   \"connect_ns\": {\"p50\": 500}},"
		"  {\"endpoint\": \"0.0.0.0:8080\", \"role\": \"server\", \"connects\": 7}]},"
		" \"threads\": {\"created\": 4},"
		" \"locks\": [{\"wait_ns\": 100}, {\"wait_ns\": 23}],"
		" \"cpu\": {\"samples\": 9, \"functions\": [{\"function\": \"f\", \"self\": 5},"
		"  {\"function\": \"g\", \"self\": 1}, {\"function\": \"f\", \"self\": 2}]}}";
	static const char *const want[][2] = {
		{ "connects", "10.0.0.1:80" }, { "accepts", "0.0.0.0:8080" },
		{ "connect_time_ns", "10.0.0.1:80" }, { "function_cpu_samples", "f" },
		{ "function_cpu_samples", "g" },
	};
	static const double wantv[] = { 3, 7, 500, 7, 1 };
	json_t *rep = json_loads(text, 0, NULL);
	struct pst_summary s;
	char err[256] = "";

	cr_assert(rep);
	cr_assert_eq(pst_summary_from_json(rep, "t", &s, err, sizeof(err)), 0, "%s", err);
	for (size_t i = 0; i < pst_nmetrics; i++) {
		if (!strcmp(pst_metrics[i].name, "threads_created"))
			cr_expect(s.has[i] && s.total[i] == 4);
		if (!strcmp(pst_metrics[i].name, "lock_wait_ns"))
			cr_expect(s.has[i] && s.total[i] == 123);
		if (!strcmp(pst_metrics[i].name, "cpu_samples"))
			cr_expect(s.has[i] && s.total[i] == 9);
	}
	cr_assert_eq(s.nkeyed, 5);
	for (size_t i = 0; i < s.nkeyed; i++) {
		cr_expect_str_eq(pst_keyed_metrics[s.keyed[i].def].m.name, want[i][0]);
		cr_expect_str_eq(s.keyed[i].key, want[i][1]);
		cr_expect_eq(s.keyed[i].v, wantv[i], "%s: %g", want[i][0], s.keyed[i].v);
	}
	pst_summary_free(&s);
	json_decref(rep);
}

/* ---- the network: an echo server in the test process on a port of its own ---- */

static void *echo_loop(void *arg)
{
	int ls = (int)(intptr_t)arg;

	for (;;) {
		int c = accept(ls, NULL, NULL);
		char buf[256];
		ssize_t n;

		if (c < 0)
			continue;
		while ((n = recv(c, buf, sizeof(buf), 0)) > 0)
			if (send(c, buf, (size_t)n, MSG_NOSIGNAL) != n)
				break;
		close(c);
	}
	return NULL;
}

/* A loopback echo server serving one connection at a time; its port, the
 * same for every run of a test so that the runs' endpoints match. */
static int echo_server(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	pthread_t t;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(ls >= 0 && !bind(ls, (struct sockaddr *)&a, sizeof(a)) && !listen(ls, 128) &&
		  !getsockname(ls, (struct sockaddr *)&a, &len));
	cr_assert_eq(pthread_create(&t, NULL, echo_loop, (void *)(intptr_t)ls), 0);
	pthread_detach(t);
	return ntohs(a.sin_port);
}

Test(diff, names_the_regression_exactly, .timeout = 60)
{
	struct itest_run a, b;
	struct dres r;
	json_t *m, *s;

	trace_of(&a, "diff_work", (const char *[]){ "1", NULL });
	trace_of(&b, "diff_work", (const char *[]){ "3", NULL });
	run_diff(&r, (const char *[]){ "--format", "json", a.traces[0], b.traces[0], NULL });
	cr_assert_eq(r.status, 1, "exit %d; %s", r.status, r.err);
	cr_assert(r.json, "not JSON: %s", r.out);
	cr_expect_str_eq(itest_str(r.json, "status"), "regression");

	m = metric(r.json, "alloc_calls");
	cr_expect_eq(itest_int(m, "base"), 201);
	cr_expect_eq(itest_int(m, "new"), 401);
	cr_expect_eq(itest_int(m, "delta"), 200);
	cr_expect_str_eq(itest_str(m, "verdict"), "regression");
	m = metric(r.json, "allocated_bytes");
	cr_expect_eq(itest_int(m, "base"), 36096);
	cr_expect_eq(itest_int(m, "delta"), 12800);
	cr_expect_str_eq(itest_str(m, "verdict"), "regression");
	/* 128 bytes more at the peak: under the 4 KiB noise floor. */
	m = metric(r.json, "peak_heap_bytes");
	cr_expect_eq(itest_int(m, "base"), 4416);
	cr_expect_eq(itest_int(m, "new"), 4544);
	cr_expect_str_eq(itest_str(m, "verdict"), "same");
	cr_expect_str_eq(itest_str(metric(r.json, "leaked_bytes"), "verdict"), "same");
	cr_expect_eq(json_array_size(itest_get(r.json, "failures")), 2);

	/* Exactly one site changed, and it is parse_request, tripled. */
	cr_expect_eq(json_array_size(itest_get(r.json, "sites")), 1, "%s", r.out);
	s = site(r.json, "parse_request");
	cr_assert(s, "parse_request not among the changed sites: %s", r.out);
	cr_expect_str_eq(itest_str(s, "verdict"), "regression");
	cr_expect_str_eq(itest_str(s, "state"), "changed");
	cr_expect_eq(itest_int(s, "metrics.calls.base"), 100);
	cr_expect_eq(itest_int(s, "metrics.calls.new"), 300);
	cr_expect_eq(itest_int(s, "metrics.bytes.delta"), 12800);
	cr_expect_eq(json_array_size(itest_get(r.json, "new_findings")), 0);
	dres_free(&r);
	itest_cleanup(&a);
	itest_cleanup(&b);
}

Test(diff, same_build_five_runs_is_clean, .timeout = 120)
{
	struct itest_run base, again;
	struct dres r;
	char port[16], row[128];
	const char *line;

	snprintf(port, sizeof(port), "%d", echo_server());
	trace_of(&base, "diff_work", (const char *[]){ "1", port, NULL });
	for (int i = 0; i < 5; i++) {
		trace_of(&again, "diff_work", (const char *[]){ "1", port, NULL });
		run_diff(&r, (const char *[]){ base.traces[0], again.traces[0], NULL });
		cr_expect_eq(r.status, 0, "run %d: exit %d\n%s%s", i, r.status, r.out, r.err);
		cr_expect(strstr(r.out, "RESULT: ok, no regression beyond noise or budget\n"), "%s",
			  r.out);
		cr_expect(strstr(r.out, "Regressed sites (0 of 3)\n"), "%s", r.out);
		snprintf(row, sizeof(row), "\n  connects to 127.0.0.1:%s ", port);
		line = strstr(r.out, row);
		cr_assert(line, "no row '%s' in\n%s", row, r.out);
		/* base 1, new 1, no change: the row ends "1  = 0". */
		cr_expect(!strncmp(strchr(line + 1, '\n') - 7, " 1  = 0", 7), "%s", r.out);
		cr_expect(strstr(r.out, "  thread creations "), "%s", r.out);
		cr_expect(strstr(r.out, "  lock wait "), "%s", r.out);
		dres_free(&r);
		itest_cleanup(&again);
	}
	itest_cleanup(&base);
}

/* The case: NEW triples parse_request and connects per request. */
Test(diff, alloc_and_connects_regressions, .timeout = 60)
{
	struct itest_run a, b;
	struct dres r;
	char port[16], ep[32], want[3][160], row[512], budget[PATH_MAX];
	const char *head = "### prestanda diff: ❌ 3 regressions\n";
	json_t *m, *f;
	size_t i;

	snprintf(port, sizeof(port), "%d", echo_server());
	snprintf(ep, sizeof(ep), "127.0.0.1:%s", port);
	trace_of(&a, "diff_work", (const char *[]){ "1", port, NULL });
	trace_of(&b, "diff_work", (const char *[]){ "3", port, "per-request", NULL });
	run_diff(&r, (const char *[]){ "--json", a.traces[0], b.traces[0], NULL });
	cr_assert_eq(r.status, 1, "exit %d; %s", r.status, r.err);
	cr_assert(r.json, "not JSON: %s", r.out);

	/* Exactly these regressions: parse_request's calls and bytes, the connects. */
	snprintf(want[0], sizeof(want[0]), "alloc_calls rose from 201 to 401 (+99.5%%), beyond run-to-run noise");
	snprintf(want[1], sizeof(want[1]),
		 "allocated_bytes rose from 35.2 KiB to 47.8 KiB (+35.5%%), beyond run-to-run noise");
	snprintf(want[2], sizeof(want[2]),
		 "connects of 127.0.0.1:%s rose from 1 to 100 (+9900.0%%), beyond run-to-run noise", port);
	f = itest_get(r.json, "failures");
	cr_assert_eq(json_array_size(f), 3, "%s", r.out);
	for (i = 0; i < 3; i++)
		cr_expect_str_eq(json_string_value(json_array_get(f, i)), want[i]);
	cr_expect_eq(json_array_size(itest_get(r.json, "sites")), 1, "%s", r.out);
	cr_assert(site(r.json, "parse_request"), "%s", r.out);
	cr_expect_eq(itest_int(site(r.json, "parse_request"), "metrics.calls.delta"), 200);

	json_array_foreach(itest_get(r.json, "metrics"), i, m) {
		const char *name = itest_str(m, "name");

		if (!strcmp(name, "connects")) {
			cr_expect_str_eq(itest_str(m, "key"), ep);
			cr_expect_eq(itest_int(m, "base"), 1);
			cr_expect_eq(itest_int(m, "new"), 100);
			cr_expect_str_eq(itest_str(m, "verdict"), "regression");
		} else if (strcmp(name, "alloc_calls") && strcmp(name, "allocated_bytes")) {
			cr_expect_str_neq(itest_str(m, "verdict"), "regression", "%s", name);
		}
	}
	cr_expect_eq(itest_int(metric(r.json, "threads_created"), "delta"), 0);
	cr_expect_eq(itest_int(metric(r.json, "lock_wait_ns"), "new"), 0);
	dres_free(&r);

	run_diff(&r, (const char *[]){ "--format", "markdown", a.traces[0], b.traces[0], NULL });
	cr_expect_eq(r.status, 1);
	cr_expect(!strncmp(r.out, head, strlen(head)), "%s", r.out);
	for (i = 0; i < 3; i++) {
		snprintf(row, sizeof(row), "\n- %s\n", want[i]);
		cr_expect(strstr(r.out, row), "no '%s' in\n%s", row, r.out);
	}
	snprintf(row, sizeof(row), "\n| connects to 127.0.0.1:%s | 1 | 100 | ▲ +99 (+9900.0%%) | regression |\n",
		 port);
	cr_expect(strstr(r.out, row), "no row '%s' in\n%s", row, r.out);
	cr_expect(strstr(r.out, "\n| thread creations | 0 | 0 | = 0 |  |\n"), "%s", r.out);
	snprintf(row, sizeof(row),
		 "| `parse_request (diff_work.c:%d)` | +200 (+200.0%%) | +12.5 KiB (+200.0%%) |",
		 itest_marker_line("diff_work.c", "parse_request"));
	cr_expect(strstr(r.out, row), "no row '%s' in\n%s", row, r.out);
	snprintf(row, sizeof(row), "** `connection-churn`: 100 connections to %s, ", ep);
	cr_expect(strstr(r.out, "#### New findings (1)\n\n- **") && strstr(r.out, row), "%s", r.out);
	dres_free(&r);

	/* A budget names the new metric: it judges each endpoint. */
	write_file(a.dir, "conn.json", "{\"connects\": {\"max_increase\": 10}, \"alloc_calls\": 1000,"
		   " \"allocated_bytes\": 1e6}", budget);
	run_diff(&r, (const char *[]){ "--budget", budget, a.traces[0], b.traces[0], NULL });
	cr_expect_eq(r.status, 1);
	snprintf(row, sizeof(row),
		 "\nRESULT: 1 regression\n  - connects of 127.0.0.1:%s grew by 99 (1 to 100), over the allowed increase of 10\n",
		 port);
	cr_expect(strstr(r.out, row), "no '%s' in\n%s", row, r.out);
	dres_free(&r);
	itest_cleanup(&a);
	itest_cleanup(&b);
}

Test(diff, budgets, .timeout = 60)
{
	struct itest_run a, b;
	struct dres r;
	char allow[PATH_MAX], peak[PATH_MAX], pct[PATH_MAX], fn[PATH_MAX];

	trace_of(&a, "diff_work", (const char *[]){ "1", NULL });
	trace_of(&b, "diff_work", (const char *[]){ "3", NULL });
	write_file(a.dir, "allow.json",
		   "{\"performance\": {\"budgets\": {\"alloc_calls\": {\"max_increase_pct\": 100},"
		   " \"allocated_bytes\": {\"max_increase\": 12800}}}}",
		   allow);
	write_file(a.dir, "peak.json", "{\"peak_heap_bytes\": 4500, \"default\": {\"max_increase_pct\": 200}}",
		   peak);
	write_file(a.dir, "pct.json", "{\"alloc_calls\": {\"max_increase_pct\": 50}, \"allocated_bytes\": 1e9}",
		   pct);
	write_file(a.dir, "fn.json",
		   "{\"default\": {\"max_increase_pct\": 200}, \"sites\": {\"parse_request\": {\"calls\": 250}}}",
		   fn);

	run_diff(&r, (const char *[]){ "--budget", allow, a.traces[0], b.traces[0], NULL });
	cr_expect_eq(r.status, 0, "allowing budget: exit %d\n%s%s", r.status, r.out, r.err);
	dres_free(&r);

	run_diff(&r, (const char *[]){ "--budget", peak, a.traces[0], b.traces[0], NULL });
	cr_expect_eq(r.status, 1, "peak budget: exit %d\n%s", r.status, r.err);
	cr_expect(strstr(r.out, "\nRESULT: 1 regression\n  - peak_heap_bytes is 4.44 KiB (4,544 B), over the limit of 4.39 KiB (4,500 B)\n"),
		  "%s", r.out);
	dres_free(&r);

	run_diff(&r, (const char *[]){ "--budget", pct, a.traces[0], b.traces[0], NULL });
	cr_expect_eq(r.status, 1, "percentage budget: exit %d\n%s", r.status, r.err);
	cr_expect(strstr(r.out, "  - alloc_calls grew by 99.5% (201 to 401), over the allowed increase of 50%\n"),
		  "%s", r.out);
	dres_free(&r);

	run_diff(&r, (const char *[]){ "--budget", fn, a.traces[0], b.traces[0], NULL });
	cr_expect_eq(r.status, 1, "site budget: exit %d\n%s", r.status, r.err);
	cr_expect(strstr(r.out, "  - calls of parse_request is 300, over the limit of 250\n"), "%s",
		  r.out);
	dres_free(&r);
	itest_cleanup(&a);
	itest_cleanup(&b);
}

Test(diff, usage_and_input_errors, .timeout = 60)
{
	struct itest_run a;
	struct dres r;
	char bad[PATH_MAX], unknown[PATH_MAX], missing[PATH_MAX];

	trace_of(&a, "diff_work", NULL);
	write_file(a.dir, "bad.json", "{\"alloc_calls\": ", bad);
	write_file(a.dir, "unknown.json", "{\"performance\": {\"budgets\": {\"heap\": 1}}}", unknown);
	snprintf(missing, sizeof(missing), "%s/missing.json", a.dir);

	run_diff(&r, (const char *[]){ "--budget", bad, a.traces[0], a.traces[0], NULL });
	cr_expect_eq(r.status, 2);
	cr_expect(strstr(r.err, "not valid JSON"), "%s", r.err);
	dres_free(&r);
	run_diff(&r, (const char *[]){ "--budget", unknown, a.traces[0], a.traces[0], NULL });
	cr_expect_eq(r.status, 2);
	cr_expect(strstr(r.err, "budget: unknown metric 'heap'"), "%s", r.err);
	dres_free(&r);
	run_diff(&r, (const char *[]){ "--budget", missing, a.traces[0], a.traces[0], NULL });
	cr_expect_eq(r.status, 2);
	cr_expect(strstr(r.err, "cannot open: No such file or directory"), "%s", r.err);
	dres_free(&r);
	run_diff(&r, (const char *[]){ a.traces[0], NULL });
	cr_expect_eq(r.status, 2);
	dres_free(&r);
	run_diff(&r, (const char *[]){ "--format", "html", a.traces[0], a.traces[0], NULL });
	cr_expect_eq(r.status, 2);
	dres_free(&r);
	run_diff(&r, (const char *[]){ "--per", "requests=zero", a.traces[0], a.traces[0], NULL });
	cr_expect_eq(r.status, 2);
	dres_free(&r);
	run_diff(&r, (const char *[]){ missing, a.traces[0], NULL });
	cr_expect_eq(r.status, 2);
	dres_free(&r);
	run_diff(&r, (const char *[]){ bad, a.traces[0], NULL });
	cr_expect_eq(r.status, 2);
	dres_free(&r);
	itest_cleanup(&a);
}

/* Report JSON of a trace into dir/name; its path in path. */
static void report_to(const char *trace, const char *dir, const char *name, char *path)
{
	struct itest_report rep;

	itest_report_ok(&rep, trace);
	write_file(dir, name, rep.out, path);
	itest_report_free(&rep);
}

Test(diff, json_reports_equal_traces, .timeout = 60)
{
	struct itest_run a, b;
	struct dres t, j, m;
	char ja[PATH_MAX], jb[PATH_MAX];
	static const char *const keys[] = { "status", "failures", "metrics", "sites", "new_findings" };

	trace_of(&a, "diff_work", (const char *[]){ "1", NULL });
	trace_of(&b, "diff_work", (const char *[]){ "3", "leak", NULL });
	report_to(a.traces[0], a.dir, "a.json", ja);
	report_to(b.traces[0], a.dir, "b.json", jb);
	run_diff(&t, (const char *[]){ "--json", a.traces[0], b.traces[0], NULL });
	run_diff(&j, (const char *[]){ "--json", ja, jb, NULL });
	run_diff(&m, (const char *[]){ "--json", ja, b.traces[0], NULL });
	cr_assert(t.json && j.json && m.json, "%s\n%s\n%s", t.err, j.err, m.err);
	cr_expect_eq(t.status, 1);
	cr_expect_eq(j.status, 1);
	cr_expect_eq(m.status, 1);
	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
		cr_expect(json_equal(json_object_get(t.json, keys[i]), json_object_get(j.json, keys[i])),
			  "%s differs between traces and reports", keys[i]);
		cr_expect(json_equal(json_object_get(t.json, keys[i]), json_object_get(m.json, keys[i])),
			  "%s differs between traces and a mix", keys[i]);
	}
	/* The leak: its metric, its site, new, and its finding, new in NEW. */
	cr_expect_eq(itest_int(metric(t.json, "leaked_bytes"), "delta"), 1000);
	cr_expect_eq(itest_int(metric(t.json, "leaked_allocations"), "delta"), 10);
	cr_expect_eq(itest_int(metric(t.json, "lost_bytes"), "delta"), 1000);
	cr_expect_eq(itest_int(metric(t.json, "lost_allocations"), "delta"), 10);
	/* with the scan at exit in both runs, the lost blocks judge, not the leaked */
	cr_expect_str_eq(itest_str(metric(t.json, "leaked_bytes"), "judged_by"), "lost_bytes");
	cr_expect_str_eq(itest_str(metric(t.json, "leaked_bytes"), "verdict"), "regression");
	cr_expect_null(json_object_get(metric(t.json, "lost_bytes"), "judged_by"));
	cr_expect_eq(json_array_size(itest_get(t.json, "failures")), 4);
	cr_assert(site(t.json, "leak_some"));
	cr_expect_str_eq(itest_str(site(t.json, "leak_some"), "state"), "new");
	cr_assert_eq(json_array_size(itest_get(t.json, "new_findings")), 1);
	cr_expect_str_eq(itest_str(json_array_get(itest_get(t.json, "new_findings"), 0), "id"), "leak");
	dres_free(&t);
	dres_free(&j);
	dres_free(&m);
	itest_cleanup(&a);
	itest_cleanup(&b);
}

Test(diff, markdown_rows, .timeout = 60)
{
	struct itest_run a, b;
	struct dres r;
	char row[256];
	const char *head = "### prestanda diff: ❌ 4 regressions\n";

	trace_of(&a, "diff_work", (const char *[]){ "1", NULL });
	trace_of(&b, "diff_work", (const char *[]){ "3", "leak", NULL });
	run_diff(&r, (const char *[]){ "--format", "markdown", a.traces[0], b.traces[0], NULL });
	cr_expect_eq(r.status, 1);
	cr_expect(!strncmp(r.out, head, strlen(head)), "%s", r.out);
	cr_expect(strstr(r.out, "| metric | base | new | change | |\n|---|---:|---:|---:|---|\n"), "%s",
		  r.out);
	cr_expect(strstr(r.out, "| allocation calls | 201 | 411 | ▲ +210 (+104.5%) | regression |\n"),
		  "%s", r.out);
	cr_expect(strstr(r.out, "| leaked bytes | 0 B | 1000 B | ▲ +1000 B (new) |  |\n"), "%s",
		  r.out);
	cr_expect(strstr(r.out, "| definitely lost bytes | 0 B | 1000 B | ▲ +1000 B (new) | "
			    "regression |\n"),
		  "%s", r.out);
	cr_expect(strstr(r.out, "- lost_allocations rose from 0 to 10, beyond run-to-run noise\n"),
		  "%s", r.out);
	cr_expect(!strstr(r.out, "- leaked_bytes rose"), "%s", r.out);
	cr_expect(strstr(r.out, "| temporary allocations | 100 | 100 | = 0 |  |\n"), "%s", r.out);
	snprintf(row, sizeof(row),
		 "| `parse_request (diff_work.c:%d)` | +200 (+200.0%%) | +12.5 KiB (+200.0%%) |",
		 itest_marker_line("diff_work.c", "parse_request"));
	cr_expect(strstr(r.out, row), "no row '%s' in\n%s", row, r.out);
	cr_expect(strstr(r.out, "   parse_request (tests/targets/diff_work.c:"), "%s", r.out);
	cr_expect(strstr(r.out, "#### New findings (1)\n\n- **low** `leak`: 1000 B in 10 blocks from leak_some definitely lost"),
		  "%s", r.out);
	dres_free(&r);
	itest_cleanup(&a);
	itest_cleanup(&b);
}

Test(diff, second_build_with_shifted_lines, .timeout = 60)
{
	struct itest_run a, b;
	struct dres r;
	json_t *s, *sites, *x;
	size_t i;

	trace_of(&a, "diff_work", (const char *[]){ "1", NULL });
	trace_of(&b, "diff_work_shifted", (const char *[]){ "3", NULL });
	run_diff(&r, (const char *[]){ "--json", a.traces[0], b.traces[0], NULL });
	cr_assert(r.json, "%s", r.err);
	sites = itest_get(r.json, "sites");
	json_array_foreach(sites, i, x)
		cr_expect_str_eq(itest_str(x, "state"), "changed", "site %s is not matched",
				 itest_str(x, "name"));
	s = site(r.json, "parse_request");
	cr_assert(s, "%s", r.out);
	cr_expect_eq(itest_int(s, "metrics.calls.delta"), 200);
	cr_expect(strstr(itest_str(s, "name"), "diff_work.c:1"), "not the shifted build's line: %s",
		  itest_str(s, "name"));
	dres_free(&r);

	/* The same work in both builds: nothing to report. */
	itest_cleanup(&b);
	trace_of(&b, "diff_work_shifted", (const char *[]){ "1", NULL });
	run_diff(&r, (const char *[]){ "--json", a.traces[0], b.traces[0], NULL });
	cr_expect_eq(r.status, 0, "%s", r.out);
	cr_expect_eq(json_array_size(itest_get(r.json, "sites")), 0, "%s", r.out);
	dres_free(&r);
	itest_cleanup(&a);
	itest_cleanup(&b);
}

Test(diff, per_unit_of_work, .timeout = 60)
{
	struct itest_run a, b;
	struct dres r;
	json_t *m;

	trace_of(&a, "diff_work", (const char *[]){ "1", NULL });
	trace_of(&b, "diff_work", (const char *[]){ "3", NULL });
	run_diff(&r, (const char *[]){ "--json", "--per", "requests=100:300", a.traces[0], b.traces[0], NULL });
	cr_assert(r.json, "%s", r.err);
	cr_expect_str_eq(itest_str(r.json, "per.unit"), "requests");
	m = metric(r.json, "alloc_calls");
	cr_expect_float_eq(json_number_value(itest_get(m, "base")), 2.01, 1e-9);
	cr_expect_float_eq(json_number_value(itest_get(m, "new")), 401.0 / 300, 1e-9);
	cr_expect_str_eq(itest_str(m, "verdict"), "improvement");
	/* A level is not divided. */
	cr_expect_eq(itest_int(metric(r.json, "peak_heap_bytes"), "new"), 4544);
	cr_expect_eq(r.status, 0, "%s", r.out);
	dres_free(&r);
	itest_cleanup(&a);
	itest_cleanup(&b);
}
