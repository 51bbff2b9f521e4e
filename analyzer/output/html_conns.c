/* SPDX-License-Identifier: MIT */
/* The one-page report's levels from events, for runs without snapshots: open connections (NET_CONN segments), live threads (THR_START, THR_END). */
#include <errno.h>
#include <stdlib.h>

#include "grow.h"
#include "html.h"
#include "records.h"

/* A connection opened (+1) or closed (-1) at ts. */
struct change {
	uint64_t ts;
	int d;
};

struct changes {
	struct change *v;
	size_t n, cap;
};

static int add(struct changes *c, uint64_t ts, int d)
{
	if (pst_grow(&c->v, &c->cap, c->n + 1, sizeof(*c->v), 64))
		return -ENOMEM;
	c->v[c->n++] = (struct change){ ts, d };
	return 0;
}

/* A connection counts from the segment that opens it, if its connect did
 * not fail, to the one that says it closed. */
static int on_conn(unsigned type, uint64_t tid, const uint8_t *p, size_t len, void *arg)
{
	struct pst_rec_net_conn r;
	int rc = 0;

	(void)type;
	(void)tid;
	if (pst_dec_net_conn(p, p + len, &r) || r.connect_err)
		return 0;
	if (r.flags & PST_NET_FIRST)
		rc = add(arg, r.open_ts, 1);
	if (!rc && (r.flags & PST_NET_CLOSED))
		rc = add(arg, r.end_ts, -1);
	return rc;
}

/* By time, a close before an open at the same instant. */
static int cmp_change(const void *x, const void *y)
{
	const struct change *a = x, *b = y;

	if (a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	return a->d - b->d;
}

/* The level the changes c make from the process's start, the most of it
 * per slot; NULL when there are none or memory ran out. Frees c. */
static json_t *level_of(struct changes *c, const struct pst_analysis *a,
			const struct pst_html_buckets *b)
{
	struct pst_html_level *l = c->n ? malloc(sizeof(*l)) : NULL;
	json_t *o = NULL;

	if (l) {
		qsort(c->v, c->n, sizeof(*c->v), cmp_change);
		pst_html_level_init(l, a->t->proc.start_monotonic_ns, b);
		for (size_t i = 0; i < c->n; i++)
			pst_html_level_move(l, c->v[i].ts, c->v[i].d);
		o = pst_html_level_json(l, true);
	}
	free(l);
	free(c->v);
	return o;
}

json_t *pst_html_connections(const struct pst_analysis *a, const struct pst_html_buckets *b)
{
	struct changes c = { NULL, 0, 0 };

	if (pst_trace_foreach(a->t, PST_REC_NET_CONN, PST_REC_NET_CONN, on_conn, &c))
		c.n = 0;
	return level_of(&c, a, b);
}

/* A thread counts from its start to its end, if it ended before the
 * process did (the rest are written at its exit, still running). */
static int on_thread(unsigned type, uint64_t tid, const uint8_t *p, size_t len, void *arg)
{
	struct pst_rec_thr_start s;
	struct pst_rec_thr_end e;

	(void)tid;
	if (type == PST_REC_THR_START && !pst_dec_thr_start(p, p + len, &s))
		return add(arg, s.ts, 1);
	if (type == PST_REC_THR_END && !pst_dec_thr_end(p, p + len, &e) && !(e.flags & 1))
		return add(arg, e.ts, -1);
	return 0;
}

json_t *pst_html_threads(const struct pst_analysis *a, const struct pst_html_buckets *b)
{
	struct changes c = { NULL, 0, 0 };

	/* the main thread, from the start: no THR_START of its own */
	if (add(&c, a->t->proc.start_monotonic_ns, 1) ||
	    pst_trace_foreach(a->t, PST_REC_THR_START, PST_REC_THR_END, on_thread, &c))
		c.n = 0;
	return level_of(&c, a, b);
}
