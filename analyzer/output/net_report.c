/* SPDX-License-Identifier: MIT */
/* The report's network section: endpoints and name lookups, as JSON and as text. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <string.h>

#include "family.h"
#include "json_util.h"
#include "net.h"
#include "units.h"

static json_t *json_pct(const struct pst_net_pct *p)
{
	json_t *o = json_object();

	json_object_set_new(o, "p50", pst_ju64(p->p50));
	json_object_set_new(o, "p90", pst_ju64(p->p90));
	json_object_set_new(o, "p99", pst_ju64(p->p99));
	json_object_set_new(o, "max", pst_ju64(p->max));
	json_object_set_new(o, "total", pst_ju64(p->total));
	return o;
}

static json_t *json_endpoint(const struct pst_net_endpoint *e)
{
	json_t *o = json_object(), *c = json_object(), *r = json_object(), *errs = json_object();

	json_object_set_new(o, "endpoint", json_string(e->name));
	json_object_set_new(o, "kind", json_string(pst_net_kind_name(e->kind)));
	json_object_set_new(o, "role", json_string(e->role == PST_NET_SERVER ? "server" : "client"));
	json_object_set_new(o, "connects", pst_ju64(e->connects));
	json_object_set_new(o, "connect_failures", pst_ju64(e->connect_failures));
	for (size_t i = 0; i < e->nerrs; i++)
		json_object_set_new(errs, pst_net_err_name(e->errs[i].err), pst_ju64(e->errs[i].count));
	json_object_set_new(o, "failures_by_errno", errs);
	json_object_set_new(o, "connect_ns", json_pct(&e->connect_ns));
	json_object_set_new(o, "lifetime_ns", json_pct(&e->lifetime_ns));
	json_object_set_new(o, "established", pst_ju64(e->established));
	json_object_set_new(o, "closed", pst_ju64(e->closed));
	json_object_set_new(o, "open_at_end", pst_ju64(e->open_at_end));
	json_object_set_new(o, "inherited", pst_ju64(e->inherited));
	json_object_set_new(o, "single_request_connections", pst_ju64(e->single_request));
	json_object_set_new(c, "max", pst_ju64(e->conc_max));
	json_object_set_new(c, "p50", pst_ju64(e->conc_p50));
	json_object_set_new(c, "p95", pst_ju64(e->conc_p95));
	json_object_set_new(c, "p99", pst_ju64(e->conc_p99));
	json_object_set_new(o, "concurrent", c);
	json_object_set_new(o, "bytes_sent", pst_ju64(e->bytes_sent));
	json_object_set_new(o, "bytes_received", pst_ju64(e->bytes_recv));
	json_object_set_new(o, "send_calls", pst_ju64(e->send_calls));
	json_object_set_new(o, "recv_calls", pst_ju64(e->recv_calls));
	json_object_set_new(o, "small_sends", pst_ju64(e->small_sends));
	json_object_set_new(o, "send_blocked_ns", pst_ju64(e->send_ns));
	json_object_set_new(o, "recv_blocked_ns", pst_ju64(e->recv_ns));
	json_object_set_new(o, "requests", pst_ju64(e->requests));
	json_object_set_new(r, "p50", pst_ju64(e->request_p50));
	json_object_set_new(r, "p90", pst_ju64(e->request_p90));
	json_object_set_new(r, "p99", pst_ju64(e->request_p99));
	json_object_set_new(o, "request_ns", r);
	json_object_set_new(o, "send_bursts", pst_ju64(e->bursts));
	json_object_set_new(o, "max_sends_per_burst", pst_ju64(e->max_burst));
	return o;
}

static json_t *json_addrs(const struct pst_net_lookup *l)
{
	json_t *a = json_array();
	char buf[INET6_ADDRSTRLEN];

	for (unsigned i = 0; i < l->naddrs; i++)
		if (inet_ntop(l->addr_len[i] == 4 ? AF_INET : AF_INET6, l->addrs[i], buf, sizeof(buf)))
			json_array_append_new(a, json_string(buf));
	return a;
}

json_t *pst_net_json(const struct pst_net *n)
{
	json_t *o = json_object(), *eps = json_array(), *ls = json_array();

	for (size_t i = 0; i < n->neps; i++)
		json_array_append_new(eps, json_endpoint(&n->eps[i]));
	for (size_t i = 0; i < n->nlookups; i++) {
		const struct pst_net_lookup *l = &n->lookups[i];
		json_t *j = json_object();

		json_object_set_new(j, "name", json_string(l->name));
		json_object_set_new(j, "count", pst_ju64(l->count));
		json_object_set_new(j, "total_ns", pst_ju64(l->total_ns));
		json_object_set_new(j, "max_ns", pst_ju64(l->max_ns));
		json_object_set_new(j, "failures", pst_ju64(l->failures));
		json_object_set_new(j, "repeats", pst_ju64(l->count ? l->count - 1 : 0));
		json_object_set_new(j, "addresses", json_addrs(l));
		json_array_append_new(ls, j);
	}
	json_object_set_new(o, "endpoints", eps);
	json_object_set_new(o, "lookups", ls);
	return o;
}

static void text_endpoint(FILE *out, const struct pst_net_endpoint *e)
{
	char a[32], b[32], c[32], d[32], x[32], y[32];

	fprintf(out, "\n  %s %s (%s)\n", e->role == PST_NET_SERVER ? "server" : "client", e->name,
		pst_net_kind_name(e->kind));
	fprintf(out, "    %s  %s, %s failed", e->role == PST_NET_SERVER ? "accepted" : "connects",
		pst_fmt_count((double)e->connects, a, sizeof(a)),
		pst_fmt_count((double)e->connect_failures, b, sizeof(b)));
	for (size_t i = 0; i < e->nerrs; i++)
		fprintf(out, "%s%s %" PRIu64, i ? ", " : " (", pst_net_err_name(e->errs[i].err),
			e->errs[i].count);
	fprintf(out, "%s\n", e->nerrs ? ")" : "");
	if (e->connect_ns.n)
		fprintf(out, "    connect   p50 %s, p90 %s, p99 %s, max %s; %s in all\n",
			pst_fmt_ns(e->connect_ns.p50, a, sizeof(a)),
			pst_fmt_ns(e->connect_ns.p90, b, sizeof(b)),
			pst_fmt_ns(e->connect_ns.p99, c, sizeof(c)),
			pst_fmt_ns(e->connect_ns.max, d, sizeof(d)),
			pst_fmt_ns(e->connect_ns.total, x, sizeof(x)));
	if (e->lifetime_ns.n)
		fprintf(out, "    lifetime  p50 %s, p99 %s, max %s; %s of %s closed carried at most one request\n",
			pst_fmt_ns(e->lifetime_ns.p50, a, sizeof(a)),
			pst_fmt_ns(e->lifetime_ns.p99, b, sizeof(b)),
			pst_fmt_ns(e->lifetime_ns.max, c, sizeof(c)),
			pst_fmt_count((double)e->single_request, d, sizeof(d)),
			pst_fmt_count((double)e->closed, x, sizeof(x)));
	fprintf(out, "    open      max %" PRIu64 " at once, p50 %" PRIu64 ", p95 %" PRIu64
		     "; %" PRIu64 " still open at the end\n",
		e->conc_max, e->conc_p50, e->conc_p95, e->open_at_end);
	fprintf(out, "    sent      %s in %s calls, blocked %s\n",
		pst_fmt_bytes((double)e->bytes_sent, a, sizeof(a)),
		pst_fmt_count((double)e->send_calls, b, sizeof(b)),
		pst_fmt_ns(e->send_ns, c, sizeof(c)));
	fprintf(out, "    received  %s in %s calls, blocked %s\n",
		pst_fmt_bytes((double)e->bytes_recv, a, sizeof(a)),
		pst_fmt_count((double)e->recv_calls, b, sizeof(b)),
		pst_fmt_ns(e->recv_ns, c, sizeof(c)));
	if (e->requests)
		fprintf(out, "    requests  %s, latency p50 %s, p99 %s\n",
			pst_fmt_count((double)e->requests, a, sizeof(a)),
			pst_fmt_ns(e->request_p50, y, sizeof(y)),
			pst_fmt_ns(e->request_p99, c, sizeof(c)));
}

void pst_net_text(FILE *out, const struct pst_net *n, size_t top)
{
	char a[32], b[32], c[32];
	size_t ne = n->neps < top ? n->neps : top, nl = n->nlookups < top ? n->nlookups : top;

	if (!n->neps && !n->nlookups)
		return;
	fprintf(out, "\nNetwork (%zu endpoint%s, %zu name%s looked up)\n", n->neps,
		n->neps == 1 ? "" : "s", n->nlookups, n->nlookups == 1 ? "" : "s");
	for (size_t i = 0; i < ne; i++)
		text_endpoint(out, &n->eps[i]);
	if (n->neps > ne)
		fprintf(out, "\n  ... and %zu more endpoints (--top N shows more, --json all)\n",
			n->neps - ne);
	if (!nl)
		return;
	fprintf(out, "\n  %-40s  %10s  %12s  %12s\n", "name lookups", "count", "total", "max");
	for (size_t i = 0; i < nl; i++) {
		const struct pst_net_lookup *l = &n->lookups[i];

		fprintf(out, "  %-40s  %10s  %12s  %12s%s\n", l->name,
			pst_fmt_count((double)l->count, a, sizeof(a)),
			pst_fmt_ns(l->total_ns, b, sizeof(b)), pst_fmt_ns(l->max_ns, c, sizeof(c)),
			l->failures ? "  (some failed)" : "");
	}
}

/* ---- the family ---- */

static void *family_analyze(struct pst_analysis *a)
{
	return pst_net_analyze(a->t);
}

static int family_findings(struct pst_analysis *a, void *self, struct pst_findings *out)
{
	return pst_findings_net(self, a->pools, out);
}

static void family_json(const struct pst_analysis *a, const void *self, json_t *root)
{
	(void)a;
	json_object_set_new(root, "network", pst_net_json(self));
}

static void family_text(FILE *out, const struct pst_analysis *a, const void *self)
{
	pst_net_text(out, self, a->top);
}

/* ---- flame graph metrics ---- */

static bool has_connects(const struct pst_trace *t)
{
	struct pst_net *n = pst_net_analyze(t);
	bool has = false;

	for (size_t i = 0; n && i < n->neps; i++)
		has |= n->eps[i].role == PST_NET_CLIENT && n->eps[i].connect_ns.total;
	pst_net_free(n);
	return has;
}

/* Connect time: connections carry no stack, so each endpoint is a frame
 * under the program, valued by the time its established connects took. */
static int collect_net(struct pst_flame *fl, unsigned slot)
{
	static const enum pst_fkind kinds[] = {PST_FK_OWN, PST_FK_LIB};
	const struct pst_trace *t = pst_flame_trace(fl, slot);
	struct pst_net *n = pst_net_analyze(t);
	int r = 0;

	if (!n)
		return -ENOMEM;
	for (size_t i = 0; i < n->neps && !r; i++) {
		const struct pst_net_endpoint *ep = &n->eps[i];
		const char *names[] = {pst_flame_program(t), ep->name};

		if (ep->role == PST_NET_CLIENT && ep->connect_ns.total)
			r = pst_flame_add_named(fl, slot, names, kinds, 2,
						(int64_t)ep->connect_ns.total);
	}
	pst_net_free(n);
	return r;
}

static const struct pst_metric metrics[] = {
	{ "connect-time", "time connecting", "nanoseconds", "connect_time", 50, false, NULL,
	  has_connects, collect_net, PST_PPROF_PLAIN },
};

/*
 * Diff's rows. Connects and accepts are exact counts (identical in five
 * runs of every networked target); a connect's time is a loopback or
 * network round trip (a lone loopback connect took 80 us to 25 ms on a
 * loaded machine), so only its median is compared, as a level, and only
 * against a wide threshold (100% and 100 ms: only a gross slowdown counts).
 */
static const struct pst_keyed_def diff_keyed[] = {
	{ { "connects", "connects to", PST_UNIT_COUNT, "network.endpoints", true, false,
	    { 0.02, 2 }, { 0.02, 2 } },
	  "endpoint", "connects", "role", "client" },
	{ { "accepts", "accepted on", PST_UNIT_COUNT, "network.endpoints", true, false,
	    { 0.02, 2 }, { 0.02, 2 } },
	  "endpoint", "connects", "role", "server" },
	{ { "connect_time_ns", "median connect time to", PST_UNIT_NS, "network.endpoints", false,
	    false, { 1.0, 100e6 }, { 1.0, 100e6 } },
	  "endpoint", "connect_ns.p50", "role", "client" },
};

static void family_free(void *self)
{
	pst_net_free(self);
}

const struct pst_family_ops pst_family_net = {
	.name = "network",
	.json_rank = 2,
	.text_rank = 3,
	.analyze = family_analyze,
	.findings = family_findings,
	.json = family_json,
	.text = family_text,
	.metrics = metrics,
	.nmetrics = 1,
	.diff_keyed = diff_keyed,
	.ndiff_keyed = sizeof(diff_keyed) / sizeof(*diff_keyed),
	.free = family_free,
};
