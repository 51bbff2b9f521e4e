/* SPDX-License-Identifier: MIT */
/* The requests family: its JSON rows under network.requests, its text section, the request-wait flame metric, diff rows per shape. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "family.h"
#include "flame.h"
#include "json_util.h"
#include "config.h"
#include "requests.h"
#include "units.h"

static const char *role_name(unsigned role)
{
	return role == PST_NET_SERVER ? "server" : "client";
}

static void put(json_t *o, const char *key, uint64_t v)
{
	json_object_set_new(o, key, pst_ju64(v));
}

static json_t *row_json(const struct pst_req_row *w)
{
	json_t *o = json_object(), *lat = json_object();

	json_object_set_new(o, "protocol", json_string(pst_req_protocol_name(w->protocol)));
	json_object_set_new(o, "endpoint", json_string(w->endpoint));
	json_object_set_new(o, "role", json_string(role_name(w->role)));
	json_object_set_new(o, "shape", json_string(w->shape));
	put(o, "count", w->count);
	put(o, "errors", w->errors);
	put(lat, "p50", w->p50);
	put(lat, "p90", w->p90);
	put(lat, "p99", w->p99);
	put(lat, "max", w->max);
	json_object_set_new(o, "latency_ns", lat);
	put(o, "bytes_sent", w->bytes_sent);
	put(o, "bytes_received", w->bytes_received);
	json_object_set_new(o, "stack", pst_jstrings(w->stack, w->depth));
	/* beyond the contract */
	put(o, "wait_ns", w->wait_ns);
	if (w->protocol == PST_RQ_HTTP)
		put(o, "status", w->status);
	if (w->hits || w->misses) {
		put(o, "hits", w->hits);
		put(o, "misses", w->misses);
	}
	if (w->writes)
		put(o, "writes", w->writes);
	if (w->unanswered)
		put(o, "unanswered", w->unanswered);
	if (w->sample)
		json_object_set_new(o, "sample", json_string(w->sample));
	return o;
}

/* Requests counted at or before time t (s since the start): the ones
 * before *k of r->v (not the samples, which the sums count) and *m of its
 * ticks, both moved on to t. */
static uint64_t counted_until(const struct pst_requests *r, double t, size_t *k, size_t *m)
{
	uint64_t n = 0;

	for (; *k < r->n && (double)(r->v[*k].ts - r->start_ts) / 1e9 <= t; ++*k)
		n += !(r->v[*k].flags & PST_RQ_SAMPLED);
	for (; *m < r->nticks && (double)(r->ticks[*m].ts - r->start_ts) / 1e9 <= t; ++*m)
		n += r->ticks[*m].n;
	return n;
}

/* Throughput over time: each timeline entry (a snapshot) gets the
 * requests sent since the one before. */
static void timeline_json(const struct pst_requests *r, json_t *root)
{
	json_t *tl = json_object_get(root, "timeline"), *e;
	double prev = 0;
	size_t i, k = 0, m = 0;

	json_array_foreach(tl, i, e) {
		double t = json_number_value(json_object_get(e, "time_s"));
		uint64_t n = counted_until(r, t, &k, &m);

		json_object_set_new(e, "requests", pst_ju64(n));
		json_object_set_new(e, "requests_per_s",
				    json_real(t > prev ? (double)n / (t - prev) : 0));
		prev = t;
	}
}

/* network.requests: only in the reports of traces that carry requests, so
 * that every other report stays as it was. */
static void family_json(const struct pst_analysis *a, const void *self, json_t *root)
{
	const struct pst_requests *r = self;
	json_t *net = json_object_get(root, "network"), *v;
	size_t n = a->json_top && a->json_top < r->nrows ? a->json_top : r->nrows;

	if (!r->nrows || !net)
		return;
	v = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(v, row_json(&r->rows[i]));
	json_object_set_new(net, "requests", v);
	timeline_json(r, root);
}

static void family_text(FILE *out, const struct pst_analysis *a, const void *self)
{
	const struct pst_requests *r = self;
	size_t n = r->nrows < a->top ? r->nrows : a->top;
	char c[32], p50[32], p99[32], mx[32], wt[32];

	if (!r->nrows)
		return;
	fprintf(out, "\nRequests (%zu shape%s, %" PRIu64 " request%s)\n", r->nrows,
		r->nrows == 1 ? "" : "s", r->total, r->total == 1 ? "" : "s");
	fprintf(out, "  %-10s %-22s %9s %7s %10s %10s %10s %10s  %s\n", "protocol", "endpoint",
		"count", "errors", "p50", "p99", "max", "waited", "shape");
	for (size_t i = 0; i < n; i++) {
		const struct pst_req_row *w = &r->rows[i];

		fprintf(out, "  %-10s %-22s %9s %7" PRIu64 " %10s %10s %10s %10s  %s",
			pst_req_protocol_name(w->protocol), w->endpoint,
			pst_fmt_count((double)w->count, c, sizeof(c)), w->errors,
			pst_fmt_ns(w->p50, p50, sizeof(p50)), pst_fmt_ns(w->p99, p99, sizeof(p99)),
			pst_fmt_ns(w->max, mx, sizeof(mx)), pst_fmt_ns(w->wait_ns, wt, sizeof(wt)),
			w->shape);
		if (w->protocol == PST_RQ_HTTP)
			fprintf(out, " -> %u", w->status);
		if (w->hits || w->misses)
			fprintf(out, "  (hit ratio %.1f%%)", 100.0 * (double)w->hits / (double)(w->hits + w->misses));
		fprintf(out, "%s\n", w->role == PST_NET_SERVER ? "  [server]" : "");
	}
	if (r->nrows > n)
		fprintf(out, "  ... and %zu more shapes (--top N shows more, --json all)\n", r->nrows - n);
}

static void *family_analyze(struct pst_analysis *a)
{
	return pst_requests_analyze(a->t, a->sym);
}

static int family_findings(struct pst_analysis *a, void *self, struct pst_findings *out)
{
	struct pst_req_caching c = { PST_REQ_DEFAULT_TTL_NS, PST_REQ_DEFAULT_MAX_MEMORY };

	if (a->caching && a->caching->default_ttl > 0)
		c.default_ttl_ns = (uint64_t)(a->caching->default_ttl * 1e9);
	if (a->caching && a->caching->max_memory > 0)
		c.max_memory = (uint64_t)a->caching->max_memory;
	return pst_findings_requests(self, &c, out);
}

static void family_free(void *self)
{
	pst_requests_free(self);
}

/* ---- flame graph: time waiting for replies, by the stack that sent ---- */

static bool has_requests(const struct pst_trace *t)
{
	struct pst_requests *r = pst_requests_analyze(t, NULL);
	bool has = r && r->nrows;

	pst_requests_free(r);
	return has;
}

static int cmp_stack(const void *x, const void *y)
{
	const struct pst_req_tick *a = x, *b = y;

	return a->stack < b->stack ? -1 : a->stack > b->stack;
}

/* Time waited by stack: each request's (not the samples, the sums hold
 * them) and each sum's. */
static int collect_wait(struct pst_flame *fl, unsigned slot)
{
	const struct pst_trace *t = pst_flame_trace(fl, slot);
	struct pst_requests *r = pst_requests_analyze(t, NULL);
	struct pst_req_tick *v;
	size_t n = 0;
	int rc = 0;

	if (!r)
		return -ENOMEM;
	v = malloc((r->n + r->nticks + 1) * sizeof(*v));
	if (!v) {
		pst_requests_free(r);
		return -ENOMEM;
	}
	for (size_t i = 0; i < r->n; i++)
		if (!(r->v[i].flags & PST_RQ_SAMPLED))
			v[n++] = (struct pst_req_tick){ 0, 1, r->v[i].stack, r->v[i].latency };
	for (size_t i = 0; i < r->nticks; i++)
		v[n++] = r->ticks[i];
	qsort(v, n, sizeof(*v), cmp_stack);
	for (size_t i = 0, j; i < n && !rc; i = j) {
		const struct pst_stack *stk = pst_trace_stack(t, v[i].stack);
		int64_t w = 0;

		for (j = i; j < n && v[j].stack == v[i].stack; j++)
			w += (int64_t)v[j].wait_ns;
		if (stk && w)
			rc = pst_flame_add_stack(fl, slot, stk, w);
	}
	free(v);
	pst_requests_free(r);
	return rc;
}

static const struct pst_metric metrics[] = {
	{ "request-wait", "time waiting for replies", "nanoseconds", "request_wait", 55, false,
	  NULL, has_requests, collect_wait, PST_PPROF_PLAIN },
};

/*
 * Diff's rows per shape: the count is exact (the same program run twice
 * sends the same requests); the p99 is a loopback or network round trip,
 * compared only against a wide threshold (100% and 10 ms).
 */
static const struct pst_keyed_def diff_keyed[] = {
	{ { "requests", "requests of", PST_UNIT_COUNT, "network.requests", true, false,
	    { 0.02, 2 }, { 0.02, 2 } },
	  "shape", "count", NULL, NULL },
	{ { "request_p99_ns", "p99 latency of", PST_UNIT_NS, "network.requests", false, false,
	    { 1.0, 10e6 }, { 1.0, 10e6 } },
	  "shape", "latency_ns.p99", NULL, NULL },
};

/* Ranks as the network family's: its JSON goes inside "network" (after the
 * network family wrote it), its text section right after network's. */
const struct pst_family_ops pst_family_requests = {
	.name = "requests", .json_rank = 2, .text_rank = 3,
	.analyze = family_analyze, .findings = family_findings, .free = family_free,
	.json = family_json, .text = family_text,
	.metrics = metrics, .nmetrics = sizeof(metrics) / sizeof(*metrics),
	.diff_keyed = diff_keyed, .ndiff_keyed = sizeof(diff_keyed) / sizeof(*diff_keyed),
};
