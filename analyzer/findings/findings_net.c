/* SPDX-License-Identifier: MIT */
/* Network findings: connection churn (pool sizes), declared pools, repeated lookups (cache), chatty connections, uneven balance. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "net_pools.h"
#include "units.h"

/*
 * Connection churn. A connection carries a TCP handshake (a round trip),
 * a teardown, server-side set-up (a process or thread, authentication,
 * TLS) and a cold congestion window; reusing it saves all of them. Churn
 * is worth a pool once an endpoint sees CHURN_MIN_CONNECTS connections and
 * they are short: most carried a single request, or half of them lived
 * under CHURN_SHORT_NS, or connecting took CHURN_MIN_SHARE of the run.
 */
#define CHURN_MIN_CONNECTS 20
#define CHURN_SINGLE_SHARE 0.5
#define CHURN_SHORT_NS 1000000000ull
#define CHURN_MIN_SHARE 0.05
#define CHURN_HIGH_CONNECTS 10000
#define CHURN_MEDIUM_CONNECTS 1000
#define CHURN_HIGH_SHARE 0.10
#define CHURN_MEDIUM_SHARE 0.01

/* Repeated lookups: a name resolved this often in one run is worth caching. */
#define LOOKUP_MIN_COUNT 10
#define LOOKUP_TTL_NS (60ull * 1000000000ull) /* suggested cache lifetime */
#define LOOKUP_HIGH_SHARE 0.05
#define LOOKUP_MEDIUM_SHARE 0.01

/* Chatty: requests made of this many sends or more on average, mostly
 * small ones, over enough requests to be a habit. */
#define CHATTY_MIN_BURSTS 10
#define CHATTY_MIN_SENDS 4.0
#define CHATTY_SMALL_SHARE 0.5

/* Uneven balance: a name with several addresses where one gets this share
 * of the connections, over enough connections to tell. */
#define BALANCE_MIN_CONNECTS 10
#define BALANCE_MAX_SHARE 0.8

/* A network finding: no site, its score given. */
static struct pst_finding *add(struct pst_findings *out, const char *id,
			       enum pst_severity sev, double score)
{
	struct pst_finding *f = pst_finding_add(out, id, sev, NULL);

	if (f)
		f->score = score;
	return f;
}

static double share_of(uint64_t part, uint64_t whole)
{
	return whole ? (double)part / (double)whole : 0;
}

/* The first declared pool covering this endpoint, or NULL. */
static const struct pst_net_pool *pool_for(const struct pst_net_pools *pools,
					   const struct pst_net_endpoint *e)
{
	for (size_t i = 0; pools && i < pools->n; i++)
		if (pst_net_pool_covers(&pools->v[i], e->name))
			return &pools->v[i];
	return NULL;
}

static int rule_churn(const struct pst_net *n, const struct pst_net_endpoint *e,
		      const struct pst_net_pools *pools, struct pst_findings *out)
{
	double single = share_of(e->single_request, e->closed);
	double cshare = share_of(e->connect_ns.total, n->duration_ns);
	uint64_t min_size, max_size, saved;
	const struct pst_net_pool *p = pool_for(pools, e);
	enum pst_severity sev = PST_SEV_LOW;
	struct pst_finding *f;
	char a[32], b[32], declared[256] = "";

	if (e->role != PST_NET_CLIENT || e->established < CHURN_MIN_CONNECTS)
		return 0;
	if (single < CHURN_SINGLE_SHARE && e->lifetime_ns.p50 >= CHURN_SHORT_NS &&
	    cshare < CHURN_MIN_SHARE)
		return 0;
	/* as many as were open half the time, up to as many as were ever
	 * needed at once (p99, never above the maximum seen) */
	min_size = e->conc_p50 ? e->conc_p50 : 1;
	max_size = e->conc_p99 < e->conc_max ? e->conc_p99 : e->conc_max;
	if (max_size < min_size)
		max_size = min_size;
	saved = e->established > max_size ?
			(uint64_t)((double)e->connect_ns.total *
				   (1 - (double)max_size / (double)e->established)) :
			0;
	if (cshare >= CHURN_HIGH_SHARE || e->connects >= CHURN_HIGH_CONNECTS)
		sev = PST_SEV_HIGH;
	else if (cshare >= CHURN_MEDIUM_SHARE || e->connects >= CHURN_MEDIUM_CONNECTS)
		sev = PST_SEV_MEDIUM;
	f = add(out, "connection-churn", sev, (double)e->connects);
	if (!f)
		return -ENOMEM;
	if (p)
		snprintf(declared, sizeof(declared),
			 " The declared pool \"%s\" (min_size %lld, max_size %lld) covers this endpoint but is not in use: every request opened a connection of its own.",
			 p->name, p->min_size, p->max_size);
	f->title = pst_xasprintf("%s connections to %s, open %s each (p50), %.0f%% for a single request",
			     pst_fmt_count((double)e->connects, a, sizeof(a)), e->name,
			     pst_fmt_ns(e->lifetime_ns.p50, b, sizeof(b)), single * 100);
	f->advice = pst_xasprintf(
		"Keep connections to %s open and reuse them: a pool with min_size=%llu and max_size=%llu (observed: %llu connections open at once half of the time, %llu at p99, %llu at most) would have replaced %llu connects with %llu, saving about %s of connect time (%.1f%% of the run) plus the protocol's own set-up (authentication, TLS, a server process or thread) on every new connection. In config terms: pools.<name>.min_size = %llu, pools.<name>.max_size = %llu.%s",
		e->name, (unsigned long long)min_size, (unsigned long long)max_size,
		(unsigned long long)e->conc_p50, (unsigned long long)e->conc_p99,
		(unsigned long long)e->conc_max, (unsigned long long)e->established,
		(unsigned long long)max_size, pst_fmt_ns(saved, b, sizeof(b)),
		share_of(saved, n->duration_ns) * 100, (unsigned long long)min_size,
		(unsigned long long)max_size, declared);
	if (!f->title || !f->advice || pst_ev_str(f, "endpoint", e->name))
		return -ENOMEM;
	pst_ev_int(f, "connects", e->connects);
	pst_ev_int(f, "single_request_connections", e->single_request);
	pst_ev_int(f, "lifetime_p50_ns", e->lifetime_ns.p50);
	pst_ev_int(f, "connect_p50_ns", e->connect_ns.p50);
	pst_ev_int(f, "connect_total_ns", e->connect_ns.total);
	pst_ev_int(f, "concurrent_p50", e->conc_p50);
	pst_ev_int(f, "concurrent_max", e->conc_max);
	pst_ev_int(f, "min_size", min_size);
	pst_ev_int(f, "max_size", max_size);
	pst_ev_int(f, "saved_ns", saved);
	return 0;
}

/* A declared pool against what the program did. */
static int rule_pool(const struct pst_net *n, const struct pst_net_pool *p,
		     struct pst_findings *out)
{
	const struct pst_net_endpoint *e = NULL;
	struct pst_finding *f;
	uint64_t conc = 0, connects = 0;

	for (size_t i = 0; i < n->neps; i++) {
		if (n->eps[i].role != PST_NET_CLIENT || !pst_net_pool_covers(p, n->eps[i].name))
			continue;
		if (!e || n->eps[i].conc_max > conc)
			e = &n->eps[i];
		if (n->eps[i].conc_max > conc)
			conc = n->eps[i].conc_max;
		connects += n->eps[i].connects;
	}
	if (!e || !connects) {
		f = add(out, "pool-config", PST_SEV_LOW, 0);
		if (!f)
			return -ENOMEM;
		f->title = pst_xasprintf("declared pool \"%s\" was never used", p->name);
		f->advice = pst_xasprintf(
			"The program opened no connection that pools.%s covers%s. Check that the pool is wired in, or that its endpoint is right; remove it if it is not needed.",
			p->name, p->endpoint ? "" : " (matched by its name's well-known port; give it an \"endpoint\" to be exact)");
		if (!f->title || !f->advice || pst_ev_str(f, "pool", p->name))
			return -ENOMEM;
		pst_ev_int(f, "connects", 0);
		return 0;
	}
	if (p->max_size > 0 && conc > (uint64_t)p->max_size) {
		f = add(out, "pool-config", PST_SEV_MEDIUM, (double)conc);
		if (!f)
			return -ENOMEM;
		f->title = pst_xasprintf("%llu connections to %s open at once, above pools.%s.max_size = %lld",
				     (unsigned long long)conc, e->name, p->name, p->max_size);
		f->advice = pst_xasprintf(
			"A pool of at most %lld cannot hold %llu connections at once: the program connects around it, or it has several pools. Route the connections through pools.%s, and size it to the concurrency seen (p95 %llu, max %llu): max_size = %llu.",
			p->max_size, (unsigned long long)conc, p->name,
			(unsigned long long)e->conc_p95, (unsigned long long)e->conc_max,
			(unsigned long long)e->conc_max);
		if (!f->title || !f->advice || pst_ev_str(f, "pool", p->name) ||
		    pst_ev_str(f, "endpoint", e->name))
			return -ENOMEM;
		pst_ev_int(f, "concurrent_max", conc);
		pst_ev_int(f, "max_size", (uint64_t)p->max_size);
	}
	if (p->min_size > 0 && (uint64_t)p->min_size > conc) {
		f = add(out, "pool-config", PST_SEV_LOW, (double)p->min_size);
		if (!f)
			return -ENOMEM;
		f->title = pst_xasprintf("pools.%s.min_size = %lld keeps more connections than were ever used (%llu)",
				     p->name, p->min_size, (unsigned long long)conc);
		f->advice = pst_xasprintf(
			"At most %llu connections to %s were open at once (p50 %llu): min_size = %llu would hold the same work with fewer idle connections on the server.",
			(unsigned long long)conc, e->name, (unsigned long long)e->conc_p50,
			(unsigned long long)(e->conc_p50 ? e->conc_p50 : 1));
		if (!f->title || !f->advice || pst_ev_str(f, "pool", p->name))
			return -ENOMEM;
		pst_ev_int(f, "concurrent_max", conc);
		pst_ev_int(f, "min_size", (uint64_t)p->min_size);
	}
	return 0;
}

static bool numeric_host(const char *name)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

static int rule_lookup(const struct pst_net *n, const struct pst_net_lookup *l,
		       struct pst_findings *out)
{
	uint64_t span = l->last_ts - l->first_ts, keep, saved;
	double share = share_of(l->total_ns, n->duration_ns);
	enum pst_severity sev = PST_SEV_LOW;
	struct pst_finding *f;
	char a[32], b[32];

	if (l->count < LOOKUP_MIN_COUNT || numeric_host(l->name))
		return 0;
	/* with a cache of LOOKUP_TTL_NS, one lookup per TTL remains */
	keep = 1 + span / LOOKUP_TTL_NS;
	if (keep > l->count)
		keep = l->count;
	saved = (uint64_t)((double)l->total_ns * (1 - (double)keep / (double)l->count));
	if (share >= LOOKUP_HIGH_SHARE)
		sev = PST_SEV_HIGH;
	else if (share >= LOOKUP_MEDIUM_SHARE)
		sev = PST_SEV_MEDIUM;
	f = add(out, "repeated-lookup", sev, (double)l->total_ns);
	if (!f)
		return -ENOMEM;
	f->title = pst_xasprintf("\"%s\" resolved %s times, %s in all", l->name,
			     pst_fmt_count((double)l->count, a, sizeof(a)),
			     pst_fmt_ns(l->total_ns, b, sizeof(b)));
	f->advice = pst_xasprintf(
		"Resolve \"%s\" once and cache the addresses: with a TTL of %llu s (or the DNS record's own TTL if shorter) %llu lookup%s of %llu would remain over this run, saving about %s (%.1f%% of the run). Reusing connections (a pool) removes most lookups too.",
		l->name, (unsigned long long)(LOOKUP_TTL_NS / 1000000000ull),
		(unsigned long long)keep, keep == 1 ? "" : "s", (unsigned long long)l->count,
		pst_fmt_ns(saved, a, sizeof(a)), share_of(saved, n->duration_ns) * 100);
	if (!f->title || !f->advice || pst_ev_str(f, "name", l->name))
		return -ENOMEM;
	pst_ev_int(f, "count", l->count);
	pst_ev_int(f, "repeats", l->count - 1);
	pst_ev_int(f, "total_ns", l->total_ns);
	pst_ev_int(f, "ttl_s", LOOKUP_TTL_NS / 1000000000ull);
	pst_ev_int(f, "saved_ns", saved);
	return 0;
}

static int rule_chatty(const struct pst_net *n, const struct pst_net_endpoint *e,
		       struct pst_findings *out)
{
	double per = e->bursts ? (double)e->burst_sends / (double)e->bursts : 0;
	double avg = e->send_calls ? (double)e->bytes_sent / (double)e->send_calls : 0;
	uint64_t extra = e->burst_sends > e->bursts ? e->burst_sends - e->bursts : 0;
	uint64_t saved = e->send_calls ? e->send_ns / e->send_calls * extra : 0;
	struct pst_finding *f;
	char a[32], b[32], c[32];

	if (e->bursts < CHATTY_MIN_BURSTS || per < CHATTY_MIN_SENDS ||
	    share_of(e->small_sends, e->send_calls) < CHATTY_SMALL_SHARE)
		return 0;
	f = add(out, "chatty-connection",
		share_of(saved, n->duration_ns) >= 0.05 ? PST_SEV_MEDIUM : PST_SEV_LOW,
		per * (double)e->bursts);
	if (!f)
		return -ENOMEM;
	f->title = pst_xasprintf("%.1f sends per %s on %s, %.0f bytes each on average", per,
			     e->role == PST_NET_SERVER ? "answer" : "request", e->name, avg);
	f->advice = pst_xasprintf(
		"Build each %s in a buffer and send it with one call (one send, or writev of the pieces; TCP_CORK around the writes also works): %s send calls of %s would become %s, saving about %s of system-call time, and the peer gets whole messages instead of small segments.",
		e->role == PST_NET_SERVER ? "answer" : "request",
		pst_fmt_count((double)e->burst_sends, a, sizeof(a)), e->name,
		pst_fmt_count((double)e->bursts, b, sizeof(b)), pst_fmt_ns(saved, c, sizeof(c)));
	if (!f->title || !f->advice || pst_ev_str(f, "endpoint", e->name))
		return -ENOMEM;
	pst_ev_int(f, "bursts", e->bursts);
	pst_ev_int(f, "sends", e->burst_sends);
	pst_ev_real(f, "sends_per_burst", per);
	pst_ev_int(f, "max_sends_per_burst", e->max_burst);
	pst_ev_real(f, "bytes_per_send", avg);
	pst_ev_int(f, "saved_ns", saved);
	return 0;
}

/* Does endpoint e connect to address a (4 or 16 bytes)? */
static bool ep_is_addr(const struct pst_net_endpoint *e, const uint8_t *a, unsigned len)
{
	return e->role == PST_NET_CLIENT &&
	       ((len == 4 && e->kind == PST_NET_TCP) || (len == 16 && e->kind == PST_NET_TCP6)) &&
	       e->ep_len == len + 2u && !memcmp(e->ep, a, len);
}

static int rule_balance(const struct pst_net *n, const struct pst_net_lookup *l,
			struct pst_findings *out)
{
	uint64_t per[PST_NET_ADDRS_MAX] = { 0 }, total = 0, top = 0;
	char split[1024] = "", addr[64];
	struct pst_finding *f;
	size_t o = 0;

	if (l->naddrs < 2)
		return 0;
	for (unsigned k = 0; k < l->naddrs; k++)
		for (size_t i = 0; i < n->neps; i++)
			if (ep_is_addr(&n->eps[i], l->addrs[k], l->addr_len[k]))
				per[k] += n->eps[i].established;
	for (unsigned k = 0; k < l->naddrs; k++) {
		total += per[k];
		top = per[k] > top ? per[k] : top;
	}
	if (total < BALANCE_MIN_CONNECTS || share_of(top, total) < BALANCE_MAX_SHARE)
		return 0;
	for (unsigned k = 0; k < l->naddrs && o < sizeof(split) - 100; k++) {
		inet_ntop(l->addr_len[k] == 4 ? AF_INET : AF_INET6, l->addrs[k], addr, sizeof(addr));
		o += (size_t)snprintf(split + o, sizeof(split) - o, "%s%s %llu (%.0f%%)",
				      k ? ", " : "", addr, (unsigned long long)per[k],
				      share_of(per[k], total) * 100);
	}
	f = add(out, "uneven-balance", PST_SEV_LOW, (double)total);
	if (!f)
		return -ENOMEM;
	f->title = pst_xasprintf("\"%s\" resolves to %u addresses but %.0f%% of its connections go to one",
			     l->name, l->naddrs, share_of(top, total) * 100);
	f->advice = pst_xasprintf(
		"Connections to \"%s\" split %s. A client that always takes the first address of the lookup loads one server; spread connections over the addresses (round robin, or random choice per connection) if they are meant to share the load.",
		l->name, split);
	if (!f->title || !f->advice || pst_ev_str(f, "name", l->name) || pst_ev_str(f, "split", split))
		return -ENOMEM;
	pst_ev_int(f, "connects", total);
	return 0;
}

int pst_findings_net(const struct pst_net *n, const struct pst_net_pools *declared,
		     struct pst_findings *out)
{
	static const struct pst_net_pools none;
	const struct pst_net_pools *pools = declared ? declared : &none;
	int rc = 0;

	for (size_t i = 0; !rc && i < n->neps; i++) {
		rc = rule_churn(n, &n->eps[i], pools, out);
		if (!rc)
			rc = rule_chatty(n, &n->eps[i], out);
	}
	for (size_t i = 0; !rc && i < n->nlookups; i++) {
		rc = rule_lookup(n, &n->lookups[i], out);
		if (!rc)
			rc = rule_balance(n, &n->lookups[i], out);
	}
	for (size_t i = 0; !rc && i < pools->n; i++)
		rc = rule_pool(n, &pools->v[i], out);
	return rc;
}
