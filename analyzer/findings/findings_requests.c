/* SPDX-License-Identifier: MIT */
/* Rules over requests: N+1 bursts (batch them), cacheable reads (cache them), cache hit ratios, slow shapes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "requests.h"
#include "units.h"

/*
 * N+1: one thread sending the same shape from the same stack at least
 * NPLUS_MIN times in a row, with different parameters (the same ones are
 * the cacheable-read rule's), is a loop that could send one request.
 */
#define NPLUS_MIN 10
/* Cacheable: at least this many reads answered exactly as the read before
 * with the same parameters, and at least this share of the shape's reads. */
#define CACHE_MIN_REPEATS 10
#define CACHE_MIN_SHARE 0.5
/* Cache hit ratio: GET-like reads of one key pattern, enough to tell. */
#define HIT_MIN_READS 10
#define HIT_MIN_RATIO 0.9
#define HIT_AFTER_SET_NS 1000000ull /* "read right after being set" */
/* Slow: a shape whose waits take this share of the run, each long. */
#define SLOW_MIN_SHARE 0.2
#define SLOW_MIN_P90_NS 10000000ull

static double share_of(uint64_t part, uint64_t whole)
{
	return whole ? (double)part / (double)whole : 0;
}

/* A finding of the requests family on row w (its stack), scored. */
static struct pst_finding *add(struct pst_findings *out, const char *id, enum pst_severity sev,
			       const struct pst_req_row *w, double score)
{
	struct pst_finding *f = pst_finding_add(out, id, sev, NULL);

	if (!f)
		return NULL;
	f->score = score;
	f->stack = w->stack;
	f->depth = w->depth;
	if (pst_ev_str(f, "protocol", pst_req_protocol_name(w->protocol)) ||
	    pst_ev_str(f, "endpoint", w->endpoint) || pst_ev_str(f, "shape", w->shape))
		return NULL;
	return f;
}

/* Indexes of r->v ordered by cmp (a copy: r->v stays by time). */
static size_t *ordered(const struct pst_requests *r,
		       int (*cmp)(const void *, const void *, void *))
{
	size_t *ix = malloc((r->n + 1) * sizeof(*ix));

	if (!ix)
		return NULL;
	for (size_t i = 0; i < r->n; i++)
		ix[i] = i;
	if (r->n)
		qsort_r(ix, r->n, sizeof(*ix), cmp, (void *)r);
	return ix;
}

/* ---- N+1 ---- */

struct nplus {
	size_t row;
	uint64_t stack, runs, requests, longest, saved_ns;
};

static int cmp_thread_time(const void *x, const void *y, void *arg)
{
	const struct pst_requests *r = arg;
	const struct pst_req *a = &r->v[*(const size_t *)x], *b = &r->v[*(const size_t *)y];

	if (a->tid != b->tid)
		return a->tid < b->tid ? -1 : 1;
	return *(const size_t *)x < *(const size_t *)y ? -1 : 1;
}

static struct nplus *nplus_of(struct nplus **v, size_t *n, size_t *cap, size_t row,
			      uint64_t stack)
{
	struct nplus k = { .row = row, .stack = stack };

	for (size_t i = 0; i < *n; i++)
		if ((*v)[i].row == row && (*v)[i].stack == stack)
			return &(*v)[i];
	if (*n == *cap) {
		struct nplus *nv = realloc(*v, (*cap * 2 + 8) * sizeof(*nv));

		if (!nv)
			return NULL;
		*v = nv;
		*cap = *cap * 2 + 8;
	}
	(*v)[*n] = k;
	return &(*v)[(*n)++];
}

/* The run of requests ix[i..j) (one thread, one shape, one stack): one
 * batched request would have waited about as long as its slowest. */
static int nplus_run(const struct pst_requests *r, const size_t *ix, size_t i, size_t j,
		     struct nplus **v, size_t *n, size_t *cap)
{
	const struct pst_req *q = &r->v[ix[i]];
	uint64_t sum = 0, max = 0;
	bool varied = false;
	struct nplus *g;

	for (size_t k = i; k < j; k++) {
		const struct pst_req *x = &r->v[ix[k]];

		varied |= x->params != q->params;
		sum += x->latency;
		max = x->latency > max ? x->latency : max;
	}
	if (j - i < NPLUS_MIN || !varied)
		return 0;
	if (!(g = nplus_of(v, n, cap, q->row, q->stack)))
		return -ENOMEM;
	g->runs++;
	g->requests += j - i;
	g->longest = j - i > g->longest ? j - i : g->longest;
	g->saved_ns += sum - max;
	return 0;
}

static const char *batch_advice(const struct pst_req_row *w)
{
	switch (w->protocol) {
	case PST_RQ_POSTGRESQL:
		return "send one query for the whole set (WHERE id = ANY($1) with an array, or a join)";
	case PST_RQ_REDIS: return "read or write them together (MGET, MSET, HMGET) or pipeline them";
	case PST_RQ_MEMCACHED:
		return w->writes ? "pipeline the writes (noreply, or several commands per send)"
				 : "fetch them with one multi-key get (get k1 k2 ...)";
	default: return "ask for the whole set in one request (a batch endpoint)";
	}
}

static int nplus_finding(const struct pst_requests *r, const struct nplus *g,
			 struct pst_findings *out)
{
	const struct pst_req_row *w = &r->rows[g->row];
	enum pst_severity sev = share_of(g->saved_ns, r->duration_ns) >= 0.1 ? PST_SEV_HIGH
										: PST_SEV_MEDIUM;
	struct pst_finding *f = add(out, "n-plus-one", sev, w, (double)g->saved_ns);
	char a[32];

	if (!f)
		return -ENOMEM;
	f->title = pst_xasprintf("N+1: \"%s\" sent %llu times in %llu burst%s from one stack (up to %llu in a row)",
				 w->shape, (unsigned long long)g->requests,
				 (unsigned long long)g->runs, g->runs == 1 ? "" : "s",
				 (unsigned long long)g->longest);
	f->advice = pst_xasprintf(
		"The same request goes out once per item of a loop, each waiting for its reply before the next: %s. Batching each burst saves %llu round trips to %s, about %s of waiting (%.1f%% of the run).",
		batch_advice(w), (unsigned long long)(g->requests - g->runs), w->endpoint,
		pst_fmt_ns(g->saved_ns, a, sizeof(a)), share_of(g->saved_ns, r->duration_ns) * 100);
	if (!f->title || !f->advice)
		return -ENOMEM;
	pst_ev_int(f, "requests", (double)g->requests);
	pst_ev_int(f, "bursts", (double)g->runs);
	pst_ev_int(f, "longest_burst", (double)g->longest);
	pst_ev_int(f, "round_trips_saved", (double)(g->requests - g->runs));
	pst_ev_int(f, "saved_ns", (double)g->saved_ns);
	return 0;
}

static int rule_nplus(const struct pst_requests *r, struct pst_findings *out)
{
	size_t *ix = ordered(r, cmp_thread_time), n = 0, cap = 0;
	struct nplus *v = NULL;
	int rc = ix ? 0 : -ENOMEM;

	for (size_t i = 0, j; !rc && i < r->n; i = j) {
		const struct pst_req *q = &r->v[ix[i]];

		for (j = i + 1; j < r->n && r->v[ix[j]].tid == q->tid &&
				r->v[ix[j]].shape == q->shape && r->v[ix[j]].stack == q->stack;
		     j++)
			;
		rc = nplus_run(r, ix, i, j, &v, &n, &cap);
	}
	for (size_t i = 0; !rc && i < n; i++)
		rc = nplus_finding(r, &v[i], out);
	free(v);
	free(ix);
	return rc;
}

/* ---- cacheable reads ---- */

/* Reads worth a cache in front: SQL SELECTs, HTTP GETs (Redis and
 * memcached are the cache). */
static bool is_read(const struct pst_req_row *w)
{
	if (w->protocol == PST_RQ_POSTGRESQL)
		return !strncasecmp(w->shape, "SELECT ", 7);
	return w->protocol == PST_RQ_HTTP && !strncmp(w->shape, "GET ", 4) && w->status < 300;
}

static int cmp_row_params(const void *x, const void *y, void *arg)
{
	const struct pst_requests *r = arg;
	const struct pst_req *a = &r->v[*(const size_t *)x], *b = &r->v[*(const size_t *)y];

	if (a->row != b->row)
		return a->row < b->row ? -1 : 1;
	if (a->params != b->params)
		return a->params < b->params ? -1 : 1;
	return *(const size_t *)x < *(const size_t *)y ? -1 : 1;
}

struct reads {
	uint64_t reads, repeats, keys, changes, min_change_ns, reply_bytes, saved_ns;
};

/* One parameter set's reads ix[i..j), in time order. */
static void reads_of_key(const struct pst_requests *r, const size_t *ix, size_t i, size_t j,
			 struct reads *s)
{
	uint64_t changed_at = r->v[ix[i]].ts;

	s->keys++;
	s->reads += j - i;
	s->reply_bytes += r->v[ix[i]].reply_bytes;
	for (size_t k = i + 1; k < j; k++) {
		const struct pst_req *a = &r->v[ix[k - 1]], *b = &r->v[ix[k]];

		if (a->reply == b->reply) {
			s->repeats++;
			s->saved_ns += b->latency;
			continue;
		}
		if (!s->changes || b->ts - changed_at < s->min_change_ns)
			s->min_change_ns = b->ts - changed_at;
		s->changes++;
		changed_at = b->ts;
	}
}

static int cache_finding(const struct pst_requests *r, const struct pst_req_row *w,
			 const struct reads *s, const struct pst_req_caching *c,
			 struct pst_findings *out)
{
	uint64_t ttl = s->changes ? s->min_change_ns : c->default_ttl_ns;
	uint64_t mem = s->keys ? s->reply_bytes : 0;
	struct pst_finding *f;
	char a[32], b[32], m[32];

	if (mem > c->max_memory)
		mem = c->max_memory;
	f = add(out, "cacheable-read",
		share_of(s->saved_ns, r->duration_ns) >= 0.1 ? PST_SEV_MEDIUM : PST_SEV_LOW, w,
		(double)s->saved_ns);
	if (!f)
		return -ENOMEM;
	f->title = pst_xasprintf("\"%s\" read %llu times with the same parameters and the same answer",
				 w->shape, (unsigned long long)s->repeats);
	f->advice = pst_xasprintf(
		"%llu of its %llu reads (%llu distinct parameter sets) got the answer the previous read with the same parameters got: cache it, with a TTL of %s (%s) and about %s of memory for the %llu sets. It would save %llu round trips to %s, about %s of waiting.",
		(unsigned long long)s->repeats, (unsigned long long)s->reads,
		(unsigned long long)s->keys, pst_fmt_ns(ttl, a, sizeof(a)),
		s->changes ? "the shortest time an answer stayed the same" :
			     "no answer changed while traced: caching.default_ttl",
		pst_fmt_bytes((double)mem, m, sizeof(m)), (unsigned long long)s->keys,
		(unsigned long long)s->repeats, w->endpoint, pst_fmt_ns(s->saved_ns, b, sizeof(b)));
	if (!f->title || !f->advice)
		return -ENOMEM;
	pst_ev_int(f, "reads", (double)s->reads);
	pst_ev_int(f, "repeated_identical", (double)s->repeats);
	pst_ev_int(f, "distinct_params", (double)s->keys);
	pst_ev_int(f, "answer_changes", (double)s->changes);
	pst_ev_int(f, "ttl_ns", (double)ttl);
	pst_ev_int(f, "cache_bytes", (double)mem);
	pst_ev_int(f, "saved_ns", (double)s->saved_ns);
	return 0;
}

static int rule_cacheable(const struct pst_requests *r, const struct pst_req_caching *c,
			  struct pst_findings *out)
{
	size_t *ix = ordered(r, cmp_row_params);
	int rc = ix ? 0 : -ENOMEM;

	for (size_t i = 0, j; !rc && i < r->n; i = j) {
		const struct pst_req_row *w = &r->rows[r->v[ix[i]].row];
		struct reads s = { 0 };

		for (j = i; j < r->n && r->v[ix[j]].row == r->v[ix[i]].row; j++)
			;
		for (size_t k = i, l; is_read(w) && k < j; k = l) {
			for (l = k; l < j && r->v[ix[l]].params == r->v[ix[k]].params; l++)
				;
			reads_of_key(r, ix, k, l, &s);
		}
		if (s.repeats >= CACHE_MIN_REPEATS && share_of(s.repeats, s.reads) >= CACHE_MIN_SHARE)
			rc = cache_finding(r, w, &s, c, out);
	}
	free(ix);
	return rc;
}

/* ---- cache hit ratio ---- */

static bool is_cache(const struct pst_requests *r, const struct pst_req *q)
{
	unsigned p = r->rows[q->row].protocol;

	return (p == PST_RQ_REDIS || p == PST_RQ_MEMCACHED) && q->key &&
	       (q->flags & (PST_RQ_READ | PST_RQ_WRITE));
}

/* The key pattern of a cache row: its shape without the command. */
static const char *pattern_of(const struct pst_req_row *w)
{
	const char *sp = strchr(w->shape, ' ');

	return sp ? sp + 1 : w->shape;
}

static int cmp_key_time(const void *x, const void *y, void *arg)
{
	const struct pst_requests *r = arg;
	const struct pst_req *a = &r->v[*(const size_t *)x], *b = &r->v[*(const size_t *)y];
	bool ca = is_cache(r, a), cb = is_cache(r, b);

	if (ca != cb)
		return ca ? -1 : 1;
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	return *(const size_t *)x < *(const size_t *)y ? -1 : 1;
}

/* Keys of pattern p set and never read after, and reads right after a set
 * (within HIT_AFTER_SET_NS): from each key's requests in time order. */
static void key_habits(const struct pst_requests *r, const size_t *ix, const char *p,
		       uint64_t *never_read, uint64_t *read_after_set)
{
	*never_read = *read_after_set = 0;
	for (size_t i = 0, j; i < r->n && is_cache(r, &r->v[ix[i]]); i = j) {
		bool set = false, read_since = false, mine = false;

		for (j = i; j < r->n && is_cache(r, &r->v[ix[j]]) &&
			    r->v[ix[j]].key == r->v[ix[i]].key;
		     j++) {
			const struct pst_req *q = &r->v[ix[j]], *prev = j > i ? &r->v[ix[j - 1]] : NULL;

			mine |= !strcmp(pattern_of(&r->rows[q->row]), p);
			if (q->flags & PST_RQ_WRITE) {
				set = true;
				read_since = false;
				continue;
			}
			read_since = true;
			*read_after_set += prev && (prev->flags & PST_RQ_WRITE) &&
					   q->ts - prev->ts < HIT_AFTER_SET_NS && mine;
		}
		*never_read += mine && set && !read_since;
	}
}

static int hit_finding(const struct pst_requests *r, const struct pst_req_row *w,
		       const size_t *ix, struct pst_findings *out)
{
	double ratio = share_of(w->hits, w->hits + w->misses);
	uint64_t never_read, after_set;
	struct pst_finding *f;

	key_habits(r, ix, pattern_of(w), &never_read, &after_set);
	f = add(out, "cache-hit-ratio", ratio < 0.5 ? PST_SEV_MEDIUM : PST_SEV_LOW, w,
		(double)w->misses);
	if (!f)
		return -ENOMEM;
	f->title = pst_xasprintf("%s: %.1f%% of %llu reads of %s found their key",
				 pst_req_protocol_name(w->protocol), ratio * 100,
				 (unsigned long long)(w->hits + w->misses), pattern_of(w));
	f->advice = pst_xasprintf(
		"%llu reads missed: each costs this round trip and then the read of the source. %llu keys of %s were set and never read again, %llu reads came within 1 ms of the key's set. Set the keys that are read (on a miss, with a TTL), drop the writes nobody reads, and check that keys are not evicted before their reads (memory, TTL).",
		(unsigned long long)w->misses, (unsigned long long)never_read, pattern_of(w),
		(unsigned long long)after_set);
	if (!f->title || !f->advice)
		return -ENOMEM;
	pst_ev_int(f, "reads", (double)(w->hits + w->misses));
	pst_ev_int(f, "hits", (double)w->hits);
	pst_ev_int(f, "misses", (double)w->misses);
	pst_ev_real(f, "hit_ratio", ratio);
	pst_ev_int(f, "keys_set_never_read", (double)never_read);
	pst_ev_int(f, "reads_right_after_set", (double)after_set);
	return 0;
}

static int rule_hits(const struct pst_requests *r, struct pst_findings *out)
{
	size_t *ix = NULL;
	int rc = 0;

	for (size_t i = 0; !rc && i < r->nrows; i++) {
		const struct pst_req_row *w = &r->rows[i];

		if (w->hits + w->misses < HIT_MIN_READS ||
		    share_of(w->hits, w->hits + w->misses) >= HIT_MIN_RATIO)
			continue;
		if (!ix && !(ix = ordered(r, cmp_key_time)))
			return -ENOMEM;
		rc = hit_finding(r, w, ix, out);
	}
	free(ix);
	return rc;
}

/* ---- slow shapes ---- */

static int rule_slow(const struct pst_requests *r, struct pst_findings *out)
{
	for (size_t i = 0; i < r->nrows; i++) {
		const struct pst_req_row *w = &r->rows[i];
		double share = share_of(w->wait_ns, r->duration_ns);
		struct pst_finding *f;
		char a[32], b[32], c[32];

		if (share < SLOW_MIN_SHARE || w->p90 < SLOW_MIN_P90_NS)
			continue;
		f = add(out, "slow-request", share >= 0.5 ? PST_SEV_HIGH : PST_SEV_MEDIUM, w,
			(double)w->wait_ns);
		if (!f)
			return -ENOMEM;
		f->title = pst_xasprintf("\"%s\" kept the program waiting %s (%.0f%% of the run)",
					 w->shape, pst_fmt_ns(w->wait_ns, a, sizeof(a)), share * 100);
		f->advice = pst_xasprintf(
			"%llu requests to %s, %s at the median and %s at p99: the time is the server's (or the network's). For SQL look at its plan (EXPLAIN ANALYZE) and its indexes; else make the request cheaper, or send it less often (cache, batch) or without waiting for it.",
			(unsigned long long)w->count, w->endpoint, pst_fmt_ns(w->p50, b, sizeof(b)),
			pst_fmt_ns(w->p99, c, sizeof(c)));
		if (!f->title || !f->advice)
			return -ENOMEM;
		pst_ev_int(f, "count", (double)w->count);
		pst_ev_int(f, "wait_ns", (double)w->wait_ns);
		pst_ev_int(f, "p50_ns", (double)w->p50);
		pst_ev_int(f, "p99_ns", (double)w->p99);
		pst_ev_real(f, "run_share", share);
	}
	return 0;
}

int pst_findings_requests(const struct pst_requests *r, const struct pst_req_caching *c,
			  struct pst_findings *out)
{
	int rc;

	if (!r || !r->nrows)
		return 0;
	rc = rule_nplus(r, out);
	if (!rc)
		rc = rule_cacheable(r, c, out);
	if (!rc)
		rc = rule_hits(r, out);
	return rc ? rc : rule_slow(r, out);
}
