/* SPDX-License-Identifier: MIT */
/* Network analysis: decode NET_CONN and NET_LOOKUP, merge segments per connection, aggregate per endpoint. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "hash.h"
#include "grow.h"
#include "trace_read.h"

/* One connection after its segments are merged. */
struct conn {
	uint64_t id;
	size_t ep;       /* index into the endpoints */
	uint64_t open_ts, end_ts, connect_ns, err, requests;
	unsigned flags;  /* union of its segments' */
};

struct build {
	struct pst_net *n;
	size_t cap_eps;
	size_t *slots; /* hash of endpoints: index + 1, 0 empty */
	size_t nslots;
	struct conn *segs;
	size_t nsegs, cap_segs;
	size_t cap_lookups;
	int err;
};

/* ---- names ---- */

const char *pst_net_kind_name(unsigned kind)
{
	return kind == PST_NET_TCP6 ? "tcp6" : kind == PST_NET_UNIX ? "unix" : "tcp";
}

const char *pst_net_ep_name(unsigned kind, const uint8_t *ep, size_t len, char *buf,
			    size_t buflen)
{
	char a[INET6_ADDRSTRLEN];
	uint16_t port;

	if (kind == PST_NET_UNIX) {
		if (!len)
			snprintf(buf, buflen, "(unnamed)");
		else if (!ep[0])
			snprintf(buf, buflen, "@%.*s", (int)(len - 1), (const char *)ep + 1);
		else
			snprintf(buf, buflen, "%.*s", (int)len, (const char *)ep);
	} else if (kind == PST_NET_TCP && len == 6) {
		memcpy(&port, ep + 4, 2);
		inet_ntop(AF_INET, ep, a, sizeof(a));
		snprintf(buf, buflen, "%s:%u", a, ntohs(port));
	} else if (kind == PST_NET_TCP6 && len == 18) {
		memcpy(&port, ep + 16, 2);
		inet_ntop(AF_INET6, ep, a, sizeof(a));
		snprintf(buf, buflen, "[%s]:%u", a, ntohs(port));
	} else {
		snprintf(buf, buflen, "(unknown)");
	}
	return buf;
}

const char *pst_net_err_name(uint64_t err)
{
	static char buf[32];

	switch (err) {
	case PST_NET_ERR_ABANDONED: return "abandoned";
	case ECONNREFUSED: return "ECONNREFUSED";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EHOSTUNREACH: return "EHOSTUNREACH";
	case ENETUNREACH: return "ENETUNREACH";
	case ECONNRESET: return "ECONNRESET";
	case ENOENT: return "ENOENT";
	case EACCES: return "EACCES";
	case EAGAIN: return "EAGAIN";
	case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
	case EPERM: return "EPERM";
	default:
		snprintf(buf, sizeof(buf), "errno %llu", (unsigned long long)err);
		return buf;
	}
}

/* ---- decoding ---- */

/* A NET_CONN payload into r; -1 when it is malformed (the record is skipped). */
static int dec_conn(const uint8_t *p, const uint8_t *end, struct pst_net_conn_rec *r)
{
	struct pst_rec_net_conn c;

	memset(r, 0, sizeof(*r));
	if (pst_dec_net_conn(p, end, &c) || c.endpoint_len > PST_NET_EP_MAX)
		return -1;
	r->conn_id = c.conn_id;
	r->kind = (unsigned)c.kind;
	r->role = (unsigned)c.role;
	r->flags = (unsigned)c.flags;
	memcpy(r->ep, c.endpoint, c.endpoint_len);
	r->ep_len = c.endpoint_len;
	r->open_ts = c.open_ts;
	r->connect_ns = c.connect_ns;
	r->connect_err = c.connect_err;
	r->end_ts = c.end_ts;
	r->bytes_sent = c.bytes_sent;
	r->send_calls = c.send_calls;
	r->send_ns = c.send_ns;
	r->bytes_recv = c.bytes_recv;
	r->recv_calls = c.recv_calls;
	r->recv_ns = c.recv_ns;
	r->small_sends = c.small_sends;
	r->requests = c.requests;
	r->bursts = c.bursts;
	r->burst_sends = c.burst_sends;
	r->max_burst = c.max_burst;
	for (uint64_t i = 0; i < c.nhist; i++) {
		uint64_t b = pst_tail_u(&c.hist), n = pst_tail_u(&c.hist);

		if (b < PST_NET_HIST_BUCKETS)
			r->hist[b] += (uint32_t)n;
	}
	return 0;
}

/* ---- endpoints ---- */

static uint64_t ep_hash(unsigned kind, unsigned role, const uint8_t *ep, size_t len)
{
	return pst_fnv_bytes(PST_FNV_OFFSET ^ (kind * 31 + role), ep, len);
}

static int slots_grow(struct build *b)
{
	size_t ns = b->nslots ? 2 * b->nslots : 64;
	size_t *s = calloc(ns, sizeof(*s));

	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < b->n->neps; i++) {
		const struct pst_net_endpoint *e = &b->n->eps[i];
		size_t h = ep_hash(e->kind, e->role, e->ep, e->ep_len) & (ns - 1);

		while (s[h])
			h = (h + 1) & (ns - 1);
		s[h] = i + 1;
	}
	free(b->slots);
	b->slots = s;
	b->nslots = ns;
	return 0;
}

/* Index of the endpoint of r, made on first sight; -1 when out of memory. */
static long ep_find(struct build *b, const struct pst_net_conn_rec *r)
{
	struct pst_net *n = b->n;
	struct pst_net_endpoint *e;
	size_t h;

	if (2 * (n->neps + 1) > b->nslots && slots_grow(b))
		return -1;
	h = ep_hash(r->kind, r->role, r->ep, r->ep_len) & (b->nslots - 1);
	for (; b->slots[h]; h = (h + 1) & (b->nslots - 1)) {
		e = &n->eps[b->slots[h] - 1];
		if (e->kind == r->kind && e->role == r->role && e->ep_len == r->ep_len &&
		    !memcmp(e->ep, r->ep, r->ep_len))
			return (long)(b->slots[h] - 1);
	}
	if (pst_grow(&n->eps, &b->cap_eps, n->neps + 1, sizeof(*n->eps), 16))
		return -1;
	e = &n->eps[n->neps];
	memset(e, 0, sizeof(*e));
	e->kind = r->kind;
	e->role = r->role;
	memcpy(e->ep, r->ep, r->ep_len);
	e->ep_len = r->ep_len;
	b->slots[h] = ++n->neps;
	return (long)(n->neps - 1);
}

static int on_conn(struct build *b, const uint8_t *p, size_t len)
{
	struct pst_net_conn_rec r;
	struct pst_net_endpoint *e;
	struct conn *s;
	long i;

	if (dec_conn(p, p + len, &r))
		return 0;
	i = ep_find(b, &r);
	if (i < 0)
		return -ENOMEM;
	e = &b->n->eps[i];
	e->bytes_sent += r.bytes_sent;
	e->send_calls += r.send_calls;
	e->send_ns += r.send_ns;
	e->small_sends += r.small_sends;
	e->bytes_recv += r.bytes_recv;
	e->recv_calls += r.recv_calls;
	e->recv_ns += r.recv_ns;
	e->requests += r.requests;
	e->bursts += r.bursts;
	e->burst_sends += r.burst_sends;
	if (r.max_burst > e->max_burst)
		e->max_burst = r.max_burst;
	for (unsigned k = 0; k < PST_NET_HIST_BUCKETS; k++)
		e->hist[k] += r.hist[k];

	if (pst_grow(&b->segs, &b->cap_segs, b->nsegs + 1, sizeof(*b->segs), 256))
		return -ENOMEM;
	s = &b->segs[b->nsegs++];
	s->id = r.conn_id;
	s->ep = (size_t)i;
	s->open_ts = r.open_ts;
	s->end_ts = r.end_ts;
	s->connect_ns = r.connect_ns;
	s->err = r.connect_err;
	s->requests = r.requests;
	s->flags = r.flags;
	return 0;
}

/* ---- lookups ---- */

static int on_lookup(struct build *b, const uint8_t *p, size_t len)
{
	const uint8_t *a;
	const char *name;
	uint64_t ts, dur, result, nlen;
	size_t alen;
	struct pst_net *n = b->n;
	struct pst_net_lookup *l = NULL;
	struct pst_rec_net_lookup r;

	if (pst_dec_net_lookup(p, p + len, &r))
		return 0;
	ts = r.ts;
	dur = r.duration_ns;
	result = r.result;
	name = r.name;
	nlen = r.name_len;
	for (size_t i = 0; i < n->nlookups; i++)
		if (strlen(n->lookups[i].name) == nlen && !memcmp(n->lookups[i].name, name, nlen))
			l = &n->lookups[i];
	if (!l) {
		if (pst_grow(&n->lookups, &b->cap_lookups, n->nlookups + 1, sizeof(*n->lookups),
			     16))
			return -ENOMEM;
		l = &n->lookups[n->nlookups];
		memset(l, 0, sizeof(*l));
		l->name = strndup((const char *)name, nlen);
		if (!l->name)
			return -ENOMEM;
		l->first_ts = ts;
		n->nlookups++;
	}
	l->count++;
	l->failures += result != 0;
	l->total_ns += dur;
	if (dur > l->max_ns)
		l->max_ns = dur;
	if (ts < l->first_ts)
		l->first_ts = ts;
	if (ts > l->last_ts)
		l->last_ts = ts;
	for (uint64_t i = 0; i < r.naddrs; i++) {
		bool seen = false;

		if (!(a = pst_tail_bytes(&r.addrs, &alen)) || (alen != 4 && alen != 16))
			break;
		for (unsigned k = 0; k < l->naddrs; k++)
			seen |= l->addr_len[k] == alen && !memcmp(l->addrs[k], a, alen);
		if (!seen && l->naddrs < PST_NET_ADDRS_MAX) {
			memcpy(l->addrs[l->naddrs], a, alen);
			l->addr_len[l->naddrs++] = (uint8_t)alen;
		}
	}
	return 0;
}

static int on_record(unsigned type, uint64_t tid, const uint8_t *p, size_t len, void *arg)
{
	struct build *b = arg;

	(void)tid;
	if (type == PST_REC_NET_CONN)
		return on_conn(b, p, len);
	if (type == PST_REC_NET_LOOKUP)
		return on_lookup(b, p, len);
	return 0;
}

/* ---- per connection ---- */

static int cmp_seg(const void *x, const void *y)
{
	const struct conn *a = x, *b = y;

	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	return a->end_ts < b->end_ts ? -1 : a->end_ts > b->end_ts;
}

static int cmp_by_ep(const void *x, const void *y)
{
	const struct conn *a = x, *b = y;

	if (a->ep != b->ep)
		return a->ep < b->ep ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

static uint64_t rank(const uint64_t *v, uint64_t n, double p)
{
	uint64_t k = (uint64_t)(p * (double)n + 0.999999);

	if (!n)
		return 0;
	return v[(k ? k : 1) - 1];
}

static void pct_of(uint64_t *v, uint64_t n, struct pst_net_pct *out)
{
	memset(out, 0, sizeof(*out));
	if (!n)
		return;
	pst_sort(v, n, sizeof(*v), cmp_u64);
	out->n = n;
	out->p50 = rank(v, n, 0.50);
	out->p90 = rank(v, n, 0.90);
	out->p99 = rank(v, n, 0.99);
	out->max = v[n - 1];
	for (uint64_t i = 0; i < n; i++)
		out->total += v[i];
}

/* A percentile of the request histogram: the middle of its bucket. */
static uint64_t hist_pct(const uint64_t *h, uint64_t total, double p)
{
	uint64_t want = (uint64_t)(p * (double)total + 0.999999), seen = 0;

	for (unsigned b = 0; b < PST_NET_HIST_BUCKETS; b++) {
		seen += h[b];
		if (seen >= want && h[b]) {
			uint64_t lo = pst_net_bucket_lo(b);
			uint64_t hi = b + 1 < PST_NET_HIST_BUCKETS ? pst_net_bucket_lo(b + 1) : lo;

			return lo + (hi - lo) / 2;
		}
	}
	return 0;
}

struct edge {
	uint64_t ts;
	int d;
};

static int cmp_edge(const void *x, const void *y)
{
	const struct edge *a = x, *b = y;

	if (a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	return a->d - b->d; /* a close before an open at the same time */
}

/* Open connections over time: time-weighted percentiles of the count. */
static int concurrency(struct pst_net_endpoint *e, struct edge *ev, size_t nev)
{
	uint64_t *at, total = 0, level = 0, max = 0, prev;

	if (!nev)
		return 0;
	pst_sort(ev, nev, sizeof(*ev), cmp_edge);
	/* every edge may be an open (connections still open at the end have
	 * no close): the level stays within [0, nev] */
	at = calloc(nev + 1, sizeof(*at));
	if (!at)
		return -ENOMEM;
	prev = ev[0].ts;
	for (size_t i = 0; i < nev; i++) {
		at[level] += ev[i].ts - prev;
		total += ev[i].ts - prev;
		prev = ev[i].ts;
		if (ev[i].d > 0)
			level++;
		else if (ev[i].d < 0 && level > 0)
			level--;
		if (level > max)
			max = level;
	}
	e->conc_max = max;
	e->first_ts = ev[0].ts;
	e->last_ts = ev[nev - 1].ts;
	if (!total) {
		e->conc_p50 = e->conc_p95 = e->conc_p99 = max;
	} else {
		const double ps[3] = { 0.50, 0.95, 0.99 };
		uint64_t *outs[3] = { &e->conc_p50, &e->conc_p95, &e->conc_p99 };

		for (int k = 0; k < 3; k++) {
			uint64_t seen = 0, l;

			for (l = 0; l <= max; l++) {
				seen += at[l];
				if ((double)seen >= ps[k] * (double)total)
					break;
			}
			*outs[k] = l > max ? max : l;
		}
	}
	free(at);
	return 0;
}

static int add_err(struct pst_net_endpoint *e, uint64_t err)
{
	struct pst_net_errcount *ne;

	for (size_t i = 0; i < e->nerrs; i++)
		if (e->errs[i].err == err) {
			e->errs[i].count++;
			return 0;
		}
	ne = realloc(e->errs, (e->nerrs + 1) * sizeof(*ne));
	if (!ne)
		return -ENOMEM;
	e->errs = ne;
	e->errs[e->nerrs].err = err;
	e->errs[e->nerrs++].count = 1;
	return 0;
}

/* Per-endpoint lists of one kind of value, laid out by a first counting pass. */
struct lists {
	size_t *off, *fill;
	uint64_t *v;
};

static int lists_make(struct lists *l, size_t neps, const size_t *counts)
{
	size_t total = 0;

	l->off = calloc(neps + 1, sizeof(*l->off));
	l->fill = calloc(neps + 1, sizeof(*l->fill));
	for (size_t i = 0; l->off && i < neps; i++) {
		l->off[i] = total;
		total += counts[i];
	}
	l->v = malloc((total ? total : 1) * sizeof(*l->v));
	return l->off && l->fill && l->v ? 0 : -ENOMEM;
}

static void lists_free(struct lists *l)
{
	free(l->off);
	free(l->fill);
	free(l->v);
}

/* Segments of one connection (the same id, in order after sorting) into
 * its first one, in place; returns how many connections remain. */
static size_t merge_segments(struct build *b)
{
	size_t nc = 0;

	pst_sort(b->segs, b->nsegs, sizeof(*b->segs), cmp_seg);
	for (size_t i = 0; i < b->nsegs; i++) {
		struct conn *s = &b->segs[i];

		if (nc && b->segs[nc - 1].id == s->id) {
			struct conn *c = &b->segs[nc - 1];

			if (s->flags & PST_NET_FIRST) {
				c->open_ts = s->open_ts;
				c->connect_ns = s->connect_ns;
				c->err = s->err;
			}
			c->end_ts = s->end_ts > c->end_ts ? s->end_ts : c->end_ts;
			c->requests += s->requests;
			c->flags |= s->flags;
			continue;
		}
		b->segs[nc++] = *s;
	}
	return nc;
}

/* One connection into its endpoint's counts, and its connect time (cl)
 * and lifetime (lt) into the endpoint's lists. */
static int count_conn(struct pst_net_endpoint *e, const struct conn *c, struct lists *cl,
		      struct lists *lt)
{
	bool first = c->flags & PST_NET_FIRST, closed = c->flags & PST_NET_CLOSED;

	if (first)
		e->connects++;
	else
		e->inherited++;
	if (c->err) {
		e->connect_failures++;
		return add_err(e, c->err);
	}
	e->established++;
	if (first && e->role == PST_NET_CLIENT)
		cl->v[cl->off[c->ep] + cl->fill[c->ep]++] = c->connect_ns;
	if (closed) {
		e->closed++;
		lt->v[lt->off[c->ep] + lt->fill[c->ep]++] = c->end_ts - c->open_ts;
		e->single_request += first && c->requests <= 1;
	} else {
		e->open_at_end++;
	}
	return 0;
}

/* Endpoint k's percentiles, and its concurrency from its connections
 * (conns[0..nconn), all of endpoint k); ev has room for two edges each. */
static int endpoint_figures(struct pst_net_endpoint *e, size_t k, const struct lists *cl,
			    const struct lists *lt, const struct conn *conns, size_t nconn,
			    struct edge *ev)
{
	size_t nev = 0;

	pct_of(cl->v + cl->off[k], cl->fill[k], &e->connect_ns);
	pct_of(lt->v + lt->off[k], lt->fill[k], &e->lifetime_ns);
	for (size_t i = 0; i < nconn; i++) {
		if (conns[i].err)
			continue;
		ev[nev++] = (struct edge){ conns[i].open_ts + conns[i].connect_ns, +1 };
		ev[nev++] = (struct edge){ conns[i].end_ts, -1 };
	}
	if (concurrency(e, ev, nev))
		return -ENOMEM;
	e->request_p50 = hist_pct(e->hist, e->requests, 0.50);
	e->request_p90 = hist_pct(e->hist, e->requests, 0.90);
	e->request_p99 = hist_pct(e->hist, e->requests, 0.99);
	return 0;
}

/* Merge segments into connections (in place), then derive every endpoint's figures. */
static int finish(struct build *b)
{
	struct pst_net *n = b->n;
	size_t nc = merge_segments(b), *cnt;
	struct lists cl = { 0 }, lt = { 0 };
	struct edge *ev = NULL;
	int rc = -ENOMEM;

	cnt = calloc(n->neps + 1, sizeof(*cnt));
	if (!cnt)
		return -ENOMEM;
	for (size_t i = 0; i < nc; i++)
		cnt[b->segs[i].ep]++;
	if (lists_make(&cl, n->neps, cnt) || lists_make(&lt, n->neps, cnt))
		goto out;
	ev = malloc((2 * nc + 1) * sizeof(*ev));
	if (!ev)
		goto out;
	for (size_t i = 0; i < nc; i++)
		if (count_conn(&n->eps[b->segs[i].ep], &b->segs[i], &cl, &lt))
			goto out;
	pst_sort(b->segs, nc, sizeof(*b->segs), cmp_by_ep);
	for (size_t k = 0, i = 0; k < n->neps; k++) {
		size_t j = i;

		while (j < nc && b->segs[j].ep == k)
			j++;
		if (endpoint_figures(&n->eps[k], k, &cl, &lt, b->segs + i, j - i, ev))
			goto out;
		i = j;
	}
	rc = 0;
out:
	free(ev);
	free(cnt);
	lists_free(&cl);
	lists_free(&lt);
	return rc;
}

static int cmp_ep(const void *x, const void *y)
{
	const struct pst_net_endpoint *a = x, *b = y;

	if (a->role != b->role)
		return a->role < b->role ? -1 : 1;
	if (a->connects != b->connects)
		return a->connects > b->connects ? -1 : 1;
	return strcmp(a->name, b->name);
}

static int cmp_lookup(const void *x, const void *y)
{
	const struct pst_net_lookup *a = x, *b = y;

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return strcmp(a->name, b->name);
}

static int cmp_errs(const void *x, const void *y)
{
	const struct pst_net_errcount *a = x, *b = y;

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return a->err < b->err ? -1 : a->err > b->err;
}

struct pst_net *pst_net_analyze(const struct pst_trace *t)
{
	struct build b = { 0 };
	char name[PST_NET_EP_MAX + 64];
	int rc;

	b.n = calloc(1, sizeof(*b.n));
	if (!b.n)
		return NULL;
	b.n->start_ts = t->proc.start_monotonic_ns;
	b.n->duration_ns = t->end_ts > t->proc.start_monotonic_ns ?
				   t->end_ts - t->proc.start_monotonic_ns : 0;
	rc = pst_trace_foreach(t, PST_REC_NET_CONN, PST_REC_NET_LOOKUP, on_record, &b);
	if (!rc)
		rc = finish(&b);
	for (size_t i = 0; !rc && i < b.n->neps; i++) {
		struct pst_net_endpoint *e = &b.n->eps[i];

		e->name = strdup(pst_net_ep_name(e->kind, e->ep, e->ep_len, name, sizeof(name)));
		if (!e->name)
			rc = -ENOMEM;
		else
			pst_sort(e->errs, e->nerrs, sizeof(*e->errs), cmp_errs);
	}
	free(b.slots);
	free(b.segs);
	if (rc) {
		pst_net_free(b.n);
		return NULL;
	}
	pst_sort(b.n->eps, b.n->neps, sizeof(*b.n->eps), cmp_ep);
	pst_sort(b.n->lookups, b.n->nlookups, sizeof(*b.n->lookups), cmp_lookup);
	return b.n;
}

void pst_net_free(struct pst_net *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->neps; i++) {
		free(n->eps[i].name);
		free(n->eps[i].errs);
	}
	for (size_t i = 0; i < n->nlookups; i++)
		free(n->lookups[i].name);
	free(n->eps);
	free(n->lookups);
	free(n);
}
