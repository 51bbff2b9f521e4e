/* SPDX-License-Identifier: MIT */
/* Requests analysis: REQ_SHAPE and REQ records read, each request given its connection's endpoint, rows per shape. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "net.h"
#include "reqhist.h"
#include "requests.h"
#include "sort.h"

struct conn {
	uint64_t id;
	unsigned role;
	size_t ep; /* index in build.eps */
};

struct shape {
	uint64_t id;
	unsigned protocol;
	char *text, *sample;
};

/* One REQ_AGG: sampled mode's sums of an interval. */
struct agg {
	uint64_t ts, conn, shape, stack, status;
	uint64_t count, errors, hits, misses, writes, unanswered, req_bytes, reply_bytes;
	uint64_t wait_ns, max_ns;
	uint64_t *hist; /* nhist pairs (bucket, count) */
	size_t nhist;
};

struct build {
	struct pst_requests *r;
	size_t cap, ncap, scap, ccap, ecap, acap;
	struct agg *aggs;
	size_t naggs;
	struct conn *conns;
	size_t nconns;
	struct shape *shapes;
	size_t nshapes;
	char **eps; /* endpoint names, distinct */
	size_t neps;
};

const char *pst_req_protocol_name(unsigned protocol)
{
	static const char *const names[] = { "bytes", "postgresql", "redis", "memcached", "http" };

	return protocol < PST_RQ_PROTOCOLS ? names[protocol] : "bytes";
}

/* ---- reading ---- */

static size_t ep_index(struct build *b, const char *name)
{
	char *s;

	for (size_t i = 0; i < b->neps; i++)
		if (!strcmp(b->eps[i], name))
			return i;
	s = strdup(name);
	if (!s || pst_push(&b->eps, &b->neps, &b->ecap, sizeof(s), &s)) {
		free(s);
		return SIZE_MAX;
	}
	return b->neps - 1;
}

static int on_conn(struct build *b, const uint8_t *p, size_t len)
{
	struct pst_rec_net_conn c;
	struct conn k;
	char name[PST_NET_EP_MAX + 64];

	if (pst_dec_net_conn(p, p + len, &c) || c.endpoint_len > PST_NET_EP_MAX)
		return 0;
	if (b->nconns && b->conns[b->nconns - 1].id == c.conn_id)
		return 0; /* another segment of the last connection */
	k.id = c.conn_id;
	k.role = (unsigned)c.role;
	k.ep = ep_index(b, pst_net_ep_name((unsigned)c.kind, c.endpoint, c.endpoint_len, name,
					   sizeof(name)));
	if (k.ep == SIZE_MAX)
		return -ENOMEM;
	return pst_push(&b->conns, &b->nconns, &b->ccap, sizeof(k), &k) ? -ENOMEM : 0;
}

static int on_shape(struct build *b, const uint8_t *p, size_t len)
{
	struct pst_rec_req_shape s;
	struct shape k = { 0 };

	if (pst_dec_req_shape(p, p + len, &s))
		return 0;
	k.id = s.id;
	k.protocol = (unsigned)s.protocol;
	k.text = pst_span_dup(s.text, s.text_len);
	k.sample = s.sample && s.sample_len ? pst_span_dup(s.sample, s.sample_len) : NULL;
	if (!k.text || (s.sample && s.sample_len && !k.sample) ||
	    pst_push(&b->shapes, &b->nshapes, &b->scap, sizeof(k), &k)) {
		free(k.text);
		free(k.sample);
		return -ENOMEM;
	}
	return 0;
}

static int on_req(struct build *b, uint64_t tid, const uint8_t *p, size_t len)
{
	struct pst_rec_req q;
	struct pst_req k;

	if (pst_dec_req(p, p + len, &q))
		return 0;
	k = (struct pst_req){ .ts = q.ts, .conn = q.conn_id, .latency = q.latency_ns,
			      .req_bytes = q.req_bytes, .reply_bytes = q.reply_bytes,
			      .stack = q.stack_id, .tid = tid, .shape = (uint32_t)q.shape_id,
			      .params = (uint32_t)q.params, .reply = (uint32_t)q.reply,
			      .key = (uint32_t)q.key, .flags = (uint32_t)q.flags,
			      .status = (uint32_t)q.status };
	return pst_push(&b->r->v, &b->r->n, &b->cap, sizeof(k), &k) ? -ENOMEM : 0;
}

/* The histogram's pairs of a REQ_AGG, copied. */
static int agg_hist(struct agg *a, const struct pst_rec_req_agg *q)
{
	const uint8_t *p = q->hist.p;

	a->hist = malloc((q->nhist + 1) * 2 * sizeof(*a->hist));
	if (!a->hist)
		return -ENOMEM;
	for (a->nhist = 0; a->nhist < q->nhist; a->nhist++)
		if (pst_get_varint(&p, q->hist.end, &a->hist[2 * a->nhist]) ||
		    pst_get_varint(&p, q->hist.end, &a->hist[2 * a->nhist + 1]) ||
		    a->hist[2 * a->nhist] >= PST_RQH_BUCKETS)
			break;
	return 0;
}

static int on_agg(struct build *b, const uint8_t *p, size_t len)
{
	struct pst_rec_req_agg q;
	struct agg a;

	if (pst_dec_req_agg(p, p + len, &q))
		return 0;
	a = (struct agg){ .ts = q.ts, .conn = q.conn_id, .shape = q.shape_id, .stack = q.stack_id,
			  .status = q.status, .count = q.count, .errors = q.errors, .hits = q.hits,
			  .misses = q.misses, .writes = q.writes, .unanswered = q.unanswered,
			  .req_bytes = q.req_bytes, .reply_bytes = q.reply_bytes,
			  .wait_ns = q.wait_ns, .max_ns = q.max_ns };
	if (agg_hist(&a, &q) || pst_push(&b->aggs, &b->naggs, &b->acap, sizeof(a), &a)) {
		free(a.hist);
		return -ENOMEM;
	}
	return 0;
}

static int on_record(unsigned type, uint64_t tid, const uint8_t *p, size_t len, void *arg)
{
	struct build *b = arg;

	if (type == PST_REC_REQ_AGG)
		return on_agg(b, p, len);
	if (type == PST_REC_NET_CONN)
		return on_conn(b, p, len);
	if (type == PST_REC_REQ_SHAPE)
		return on_shape(b, p, len);
	if (type == PST_REC_REQ)
		return on_req(b, tid, p, len);
	return 0;
}

/* ---- rows ---- */

static int cmp_conn(const void *x, const void *y)
{
	const struct conn *a = x, *b = y;

	return a->id < b->id ? -1 : a->id > b->id;
}

static int cmp_shape(const void *x, const void *y)
{
	const struct shape *a = x, *b = y;

	return a->id < b->id ? -1 : a->id > b->id;
}

static const struct conn *find_conn(const struct build *b, uint64_t id)
{
	struct conn k = { .id = id };

	if (!b->nconns) /* no table yet: bsearch must not see a NULL base */
		return NULL;
	return bsearch(&k, b->conns, b->nconns, sizeof(k), cmp_conn);
}

static const struct shape *find_shape(const struct build *b, uint64_t id)
{
	struct shape k = { .id = id };

	if (!b->nshapes)
		return NULL;
	return bsearch(&k, b->shapes, b->nshapes, sizeof(k), cmp_shape);
}

/* What puts a request or a REQ_AGG in a row: its shape, role, endpoint
 * and (HTTP) status. */
struct rkey {
	uint64_t shape, role, ep, status;
	size_t agg; /* 1: i is a REQ_AGG of the build, 0: a request of r->v */
	size_t i;
};

static int cmp_rkey(const void *x, const void *y)
{
	const struct rkey *a = x, *b = y;

	if (a->shape != b->shape)
		return a->shape < b->shape ? -1 : 1;
	if (a->role != b->role)
		return a->role < b->role ? -1 : 1;
	if (a->ep != b->ep)
		return a->ep < b->ep ? -1 : 1;
	if (a->status != b->status)
		return a->status < b->status ? -1 : 1;
	if (a->agg != b->agg)
		return a->agg < b->agg ? -1 : 1;
	return a->i < b->i ? -1 : a->i > b->i;
}

static int cmp_u64(const void *x, const void *y)
{
	const uint64_t *a = x, *b = y;

	return *a < *b ? -1 : *a > *b;
}

/* Nearest rank of the sorted v[n]. */
static uint64_t rank(const uint64_t *v, size_t n, unsigned pct)
{
	size_t k = (n * pct + 99) / 100;

	return n ? v[k ? k - 1 : 0] : 0;
}

/* Nearest rank of the n latencies of histogram h: its bucket's middle, at
 * most the largest latency max. */
static uint64_t hist_rank(const uint64_t *h, uint64_t n, unsigned pct, uint64_t max)
{
	uint64_t k = (n * pct + 99) / 100, sum = 0;

	for (unsigned b = 0; n && b < PST_RQH_BUCKETS; b++)
		if ((sum += h[b]) >= (k ? k : 1))
			return pst_rqh_mid(b) < max ? pst_rqh_mid(b) : max;
	return n ? max : 0;
}

/* A stack and the requests that came from it. */
struct wstack {
	uint64_t stack, n;
};

static int cmp_wstack(const void *x, const void *y)
{
	const struct wstack *a = x, *b = y;

	return a->stack < b->stack ? -1 : a->stack > b->stack;
}

/* The stack most requests of v[n] (sorted in place) came from; the
 * smallest of equals. */
static uint64_t mode(struct wstack *v, size_t n)
{
	uint64_t best = 0, bestn = 0;

	pst_sort(v, n, sizeof(*v), cmp_wstack);
	for (size_t i = 0, j; i < n; i = j) {
		uint64_t sum = 0;

		for (j = i; j < n && v[j].stack == v[i].stack; j++)
			sum += v[j].n;
		if (sum > bestn) {
			bestn = sum;
			best = v[i].stack;
		}
	}
	return best;
}

/* A row's figures in the making: exact latencies, the sums' histogram,
 * stacks; each array as long as the most a row can take. */
struct scratch {
	uint64_t *lat, nh;
	size_t nl, ns;
	struct wstack *stk;
	uint64_t hist[PST_RQH_BUCKETS];
};

static void row_span(struct pst_req_row *w, uint64_t ts)
{
	w->first_ts = ts < w->first_ts ? ts : w->first_ts;
	w->last_ts = ts > w->last_ts ? ts : w->last_ts;
}

static void add_req(struct pst_req_row *w, const struct pst_req *q, struct scratch *s)
{
	bool client = w->role == PST_NET_CLIENT;

	w->count++;
	w->errors += !!(q->flags & PST_RQ_ERROR);
	w->hits += (q->flags & (PST_RQ_READ | PST_RQ_HIT)) == (PST_RQ_READ | PST_RQ_HIT);
	w->misses += (q->flags & (PST_RQ_READ | PST_RQ_MISS)) == (PST_RQ_READ | PST_RQ_MISS);
	w->writes += !!(q->flags & PST_RQ_WRITE);
	w->unanswered += !!(q->flags & PST_RQ_UNANSWERED);
	w->bytes_sent += client ? q->req_bytes : q->reply_bytes;
	w->bytes_received += client ? q->reply_bytes : q->req_bytes;
	if (!(q->flags & (PST_RQ_NOREPLY | PST_RQ_UNANSWERED))) {
		s->lat[s->nl++] = q->latency;
		w->wait_ns += q->latency;
	}
	s->stk[s->ns++] = (struct wstack){ q->stack, 1 };
	row_span(w, q->ts);
}

static void add_agg(struct pst_req_row *w, const struct agg *a, struct scratch *s)
{
	bool client = w->role == PST_NET_CLIENT;

	w->count += a->count;
	w->errors += a->errors;
	w->hits += a->hits;
	w->misses += a->misses;
	w->writes += a->writes;
	w->unanswered += a->unanswered;
	w->bytes_sent += client ? a->req_bytes : a->reply_bytes;
	w->bytes_received += client ? a->reply_bytes : a->req_bytes;
	w->wait_ns += a->wait_ns;
	w->max = a->max_ns > w->max ? a->max_ns : w->max;
	for (size_t i = 0; i < a->nhist; i++) {
		s->hist[a->hist[2 * i]] += a->hist[2 * i + 1];
		s->nh += a->hist[2 * i + 1];
	}
	s->stk[s->ns++] = (struct wstack){ a->stack, a->count };
	row_span(w, a->ts);
}

/* Percentiles: exact from requests alone; else from the histogram, the
 * requests' latencies added to it. */
static void row_latency(struct pst_req_row *w, struct scratch *s)
{
	if (!s->nh) {
		pst_sort(s->lat, s->nl, sizeof(*s->lat), cmp_u64);
		w->p50 = rank(s->lat, s->nl, 50);
		w->p90 = rank(s->lat, s->nl, 90);
		w->p99 = rank(s->lat, s->nl, 99);
		w->max = s->nl ? s->lat[s->nl - 1] : 0;
		return;
	}
	for (size_t i = 0; i < s->nl; i++) {
		s->hist[pst_rqh_bucket(s->lat[i])]++;
		s->nh++;
		w->max = s->lat[i] > w->max ? s->lat[i] : w->max;
	}
	w->p50 = hist_rank(s->hist, s->nh, 50, w->max);
	w->p90 = hist_rank(s->hist, s->nh, 90, w->max);
	w->p99 = hist_rank(s->hist, s->nh, 99, w->max);
}

/* The figures of row w from its requests and sums (keys k[n]). A row with
 * sums counts them and not its samples, which are among them. */
static void row_figures(const struct build *b, struct pst_req_row *w, const struct rkey *k,
			size_t n, struct scratch *s)
{
	bool summed = k[n - 1].agg;

	s->nl = s->ns = 0;
	s->nh = 0;
	memset(s->hist, 0, sizeof(s->hist));
	w->first_ts = UINT64_MAX;
	for (size_t i = 0; i < n; i++) {
		if (k[i].agg)
			add_agg(w, &b->aggs[k[i].i], s);
		else if (!summed || !(b->r->v[k[i].i].flags & PST_RQ_SAMPLED))
			add_req(w, &b->r->v[k[i].i], s);
	}
	row_latency(w, s);
	w->stack_id = mode(s->stk, s->ns);
}

/* Stack id as text, innermost first, inlined frames each a line. */
static int stack_text(const struct pst_trace *t, struct pst_symbolizer *sym, uint64_t id,
		      struct pst_req_row *w)
{
	const struct pst_stack *stk = id ? pst_trace_stack(t, id) : NULL;
	struct pst_frame fr[8];
	char buf[1024];

	if (!stk || !sym)
		return 0;
	w->stack = calloc((size_t)stk->depth * 8 + 1, sizeof(*w->stack));
	if (!w->stack)
		return -ENOMEM;
	for (uint32_t i = 0; i < stk->depth; i++) {
		uint64_t pc = stk->frames[i] ? stk->frames[i] - 1 : 0;
		int n = pst_symbolize(sym, pc, fr, 8);

		for (int k = 0; k < n || (k == 0 && n <= 0); k++) {
			if (n > 0)
				pst_frame_format(&fr[k], buf, sizeof(buf));
			else
				snprintf(buf, sizeof(buf), "[0x%" PRIx64 "]", pc);
			if (!(w->stack[w->depth++] = strdup(buf)))
				return -ENOMEM;
		}
	}
	return 0;
}

static int cmp_row(const void *x, const void *y)
{
	const struct pst_req_row *a = x, *b = y;

	if (a->wait_ns != b->wait_ns)
		return a->wait_ns > b->wait_ns ? -1 : 1;
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return strcmp(a->shape, b->shape);
}

static int cmp_req_ts(const void *x, const void *y)
{
	const struct pst_req *a = x, *b = y;

	if (a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	return a->conn < b->conn ? -1 : a->conn > b->conn;
}

/* A row's strings come from the shapes and endpoints, which r keeps. */
static void row_names(const struct build *b, struct pst_req_row *w, const struct rkey *k)
{
	const struct shape *s = find_shape(b, k->shape);

	w->role = (unsigned)k->role;
	w->status = (unsigned)k->status;
	w->endpoint = k->ep < b->neps ? b->eps[k->ep] : "?";
	w->protocol = s ? s->protocol : 0;
	w->shape = s ? s->text : "(other)";
	w->sample = s ? s->sample : NULL;
}

/* The requests and sums grouped into rows (keys k[nk] sorted); rows'
 * requests know their row. */
static int make_rows(struct build *b, const struct pst_trace *t, struct pst_symbolizer *sym,
		     const struct rkey *k, size_t nk)
{
	struct pst_requests *r = b->r;
	struct scratch *s = calloc(1, sizeof(*s));
	size_t cap = 0;
	int rc = -ENOMEM;

	if (!s || !(s->lat = malloc((nk + 1) * sizeof(*s->lat))) ||
	    !(s->stk = malloc((nk + 1) * sizeof(*s->stk))))
		goto out;
	for (size_t i = 0, j; i < nk; i = j) {
		struct pst_req_row w = { 0 };

		for (j = i; j < nk && !memcmp(&k[j], &k[i], offsetof(struct rkey, agg)); j++)
			if (!k[j].agg)
				r->v[k[j].i].row = (uint32_t)r->nrows;
		row_names(b, &w, &k[i]);
		row_figures(b, &w, k + i, j - i, s);
		r->total += w.count;
		if (stack_text(t, sym, w.stack_id, &w) ||
		    pst_push(&r->rows, &r->nrows, &cap, sizeof(w), &w))
			goto out;
	}
	rc = 0;
out:
	if (s) {
		free(s->lat);
		free(s->stk);
	}
	free(s);
	return rc;
}

/* Rows by time waited; requests by time, each still naming its row. */
static int order(struct pst_requests *r)
{
	uint32_t *to = malloc((r->nrows + 1) * sizeof(*to));
	struct pst_req_row *sorted = malloc((r->nrows + 1) * sizeof(*sorted));

	if (!to || !sorted) {
		free(to);
		free(sorted);
		return -ENOMEM;
	}
	for (size_t i = 0; i < r->nrows; i++)
		r->rows[i].slot = (uint32_t)i;
	memcpy(sorted, r->rows, r->nrows * sizeof(*sorted));
	pst_sort(sorted, r->nrows, sizeof(*sorted), cmp_row);
	for (size_t i = 0; i < r->nrows; i++)
		to[sorted[i].slot] = (uint32_t)i;
	for (size_t i = 0; i < r->n; i++)
		r->v[i].row = to[r->v[i].row];
	free(r->rows);
	r->rows = sorted;
	free(to);
	pst_sort(r->v, r->n, sizeof(*r->v), cmp_req_ts);
	return 0;
}

/* The strings rows point to move into r. */
static int keep_strings(struct build *b)
{
	struct pst_requests *r = b->r;
	size_t n = b->neps + 2 * b->nshapes;

	r->strings = calloc(n + 1, sizeof(*r->strings));
	if (!r->strings)
		return -ENOMEM;
	for (size_t i = 0; i < b->neps; i++)
		r->strings[r->nstrings++] = b->eps[i];
	for (size_t i = 0; i < b->nshapes; i++) {
		r->strings[r->nstrings++] = b->shapes[i].text;
		if (b->shapes[i].sample)
			r->strings[r->nstrings++] = b->shapes[i].sample;
	}
	b->neps = b->nshapes = 0;
	return 0;
}

/* The row key of a request or sum of connection conn, shape and status. */
static void key_of(const struct build *b, struct rkey *k, uint64_t conn, uint64_t shape,
		   uint64_t status)
{
	const struct conn *c = find_conn(b, conn);
	const struct shape *s = find_shape(b, shape);

	k->shape = shape;
	k->role = c ? c->role : 0;
	k->ep = c ? c->ep : SIZE_MAX;
	k->status = s && s->protocol == PST_RQ_HTTP ? status : 0;
}

static int cmp_tick(const void *x, const void *y)
{
	const struct pst_req_tick *a = x, *b = y;

	return a->ts < b->ts ? -1 : a->ts > b->ts;
}

/* The sums by time: throughput and the flame graph read them. */
static int make_ticks(struct build *b)
{
	struct pst_requests *r = b->r;

	r->ticks = malloc((b->naggs + 1) * sizeof(*r->ticks));
	if (!r->ticks)
		return -ENOMEM;
	for (size_t i = 0; i < b->naggs; i++)
		r->ticks[i] = (struct pst_req_tick){ b->aggs[i].ts, b->aggs[i].count,
						     b->aggs[i].stack, b->aggs[i].wait_ns };
	r->nticks = b->naggs;
	pst_sort(r->ticks, r->nticks, sizeof(*r->ticks), cmp_tick);
	return 0;
}

static int finish(struct build *b, const struct pst_trace *t, struct pst_symbolizer *sym)
{
	struct pst_requests *r = b->r;
	size_t nk = r->n + b->naggs;
	struct rkey *k;
	int rc;

	pst_sort(b->conns, b->nconns, sizeof(*b->conns), cmp_conn);
	pst_sort(b->shapes, b->nshapes, sizeof(*b->shapes), cmp_shape);
	k = calloc(nk + 1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	for (size_t i = 0; i < r->n; i++) {
		key_of(b, &k[i], r->v[i].conn, r->v[i].shape, r->v[i].status);
		k[i].i = i;
	}
	for (size_t i = 0; i < b->naggs; i++) {
		struct rkey *e = &k[r->n + i];

		key_of(b, e, b->aggs[i].conn, b->aggs[i].shape, b->aggs[i].status);
		e->agg = 1;
		e->i = i;
	}
	pst_sort(k, nk, sizeof(*k), cmp_rkey);
	rc = make_rows(b, t, sym, k, nk);
	free(k);
	if (!rc)
		rc = order(r);
	if (!rc)
		rc = make_ticks(b);
	return rc ? rc : keep_strings(b);
}

static void build_free(struct build *b)
{
	for (size_t i = 0; i < b->neps; i++)
		free(b->eps[i]);
	for (size_t i = 0; i < b->nshapes; i++) {
		free(b->shapes[i].text);
		free(b->shapes[i].sample);
	}
	for (size_t i = 0; i < b->naggs; i++)
		free(b->aggs[i].hist);
	free(b->aggs);
	free(b->eps);
	free(b->shapes);
	free(b->conns);
}

struct pst_requests *pst_requests_analyze(const struct pst_trace *t, struct pst_symbolizer *sym)
{
	struct build b = { 0 };
	int rc;

	b.r = calloc(1, sizeof(*b.r));
	if (!b.r)
		return NULL;
	b.r->start_ts = t->proc.start_monotonic_ns;
	b.r->duration_ns = t->end_ts > t->proc.start_monotonic_ns ?
				   t->end_ts - t->proc.start_monotonic_ns : 0;
	rc = pst_trace_foreach(t, PST_REC_NET_CONN, PST_REC_REQ_AGG, on_record, &b);
	if (!rc && (b.r->n || b.naggs))
		rc = finish(&b, t, sym);
	build_free(&b);
	if (rc) {
		pst_requests_free(b.r);
		return NULL;
	}
	return b.r;
}

void pst_requests_free(struct pst_requests *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nrows; i++) {
		for (size_t k = 0; k < r->rows[i].depth; k++)
			free(r->rows[i].stack[k]);
		free(r->rows[i].stack);
	}
	for (size_t i = 0; i < r->nstrings; i++)
		free(r->strings[i]);
	free(r->strings);
	free(r->rows);
	free(r->v);
	free(r->ticks);
	free(r);
}
