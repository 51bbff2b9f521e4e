/* SPDX-License-Identifier: MIT */
/* The one-page report's open connections over time, from the trace's NET_CONN segments. */
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

json_t *pst_html_connections(const struct pst_analysis *a, const struct pst_html_buckets *b)
{
	struct changes c = { NULL, 0, 0 };
	struct pst_html_level *l;
	json_t *o = NULL;

	if (pst_trace_foreach(a->t, PST_REC_NET_CONN, PST_REC_NET_CONN, on_conn, &c) || !c.n) {
		free(c.v);
		return NULL;
	}
	qsort(c.v, c.n, sizeof(*c.v), cmp_change);
	l = malloc(sizeof(*l));
	if (l) {
		pst_html_level_init(l, a->t->proc.start_monotonic_ns, b);
		for (size_t i = 0; i < c.n; i++)
			pst_html_level_move(l, c.v[i].ts, c.v[i].d);
		o = pst_html_level_json(l, true);
	}
	free(l);
	free(c.v);
	return o;
}
