/* SPDX-License-Identifier: MIT */
/* report --all: the heap in use by every process of a session at once, over time: its peak, from the events of all their traces merged by time. */
#include <errno.h>
#include <stdlib.h>

#include "heap_all.h"
#include "imap.h"
#include "trace_read.h"

/* One process: its trace, its next event and its live blocks. */
struct proc_heap {
	struct pst_trace *t;
	struct pst_event ev;
	bool has;            /* ev holds the next event */
	struct pst_imap ix;  /* block address -> index into size */
	uint64_t *size;      /* bytes of each block ever seen; 0: freed */
	size_t n, cap;
};

/* The size recorded for block ptr, 0 when unknown; with add, a slot for it
 * (*slot, NULL when out of memory). */
static uint64_t *block(struct proc_heap *p, uint64_t ptr, bool add)
{
	struct pst_ientry *e = pst_imap_get(&p->ix, ptr, 0, 0);

	if (!e)
		return NULL;
	if (e->val != UINT32_MAX)
		return &p->size[e->val];
	if (!add)
		return NULL;
	if (p->n == p->cap) {
		size_t cap = p->cap * 2 + 256;
		uint64_t *v = realloc(p->size, cap * sizeof(*v));

		if (!v)
			return NULL;
		p->size = v;
		p->cap = cap;
	}
	pst_imap_set(&p->ix, e, (uint32_t)p->n);
	p->size[p->n] = 0;
	return &p->size[p->n++];
}

/* The heap's change by one event of p (as the memory family counts it:
 * a free of an unknown block changes nothing). 0, or -ENOMEM. */
static int apply(struct proc_heap *p, const struct pst_event *ev, double *heap)
{
	uint64_t *b;

	if (ev->type != PST_EV_ALLOC) {
		b = block(p, ev->type == PST_EV_FREE ? ev->ptr : ev->old_ptr, false);
		if (b) {
			*heap -= (double)*b;
			*b = 0;
		}
	}
	if (ev->type == PST_EV_FREE || (ev->type == PST_EV_REALLOC && !ev->size))
		return 0;
	b = block(p, ev->ptr, true);
	if (!b)
		return -ENOMEM;
	*heap += (double)ev->size;
	*b = ev->size;
	return 0;
}

/* The process whose next event comes first, or -1 when none has one. */
static int first(struct proc_heap *p, int n)
{
	int at = -1;

	for (int i = 0; i < n; i++)
		if (p[i].has && (at < 0 || p[i].ev.ts < p[at].ev.ts))
			at = i;
	return at;
}

static int walk(struct proc_heap *p, int n, struct pst_heap_peak *out)
{
	double heap = 0;
	int i;

	for (int k = 0; k < n; k++)
		p[k].has = pst_trace_next(p[k].t, &p[k].ev) == 1;
	while ((i = first(p, n)) >= 0) {
		if (apply(&p[i], &p[i].ev, &heap))
			return -ENOMEM;
		if (heap > out->bytes) {
			out->bytes = heap;
			out->ts = p[i].ev.ts;
			out->pid = p[i].t->proc.pid;
		}
		p[i].has = pst_trace_next(p[i].t, &p[i].ev) == 1;
	}
	return 0;
}

int pst_heap_peak_all(char *const *paths, int n, struct pst_heap_peak *out)
{
	struct proc_heap *p = calloc((size_t)n + 1, sizeof(*p));
	char err[512];
	int rc = 0;

	*out = (struct pst_heap_peak){ 0 };
	if (!p)
		return -ENOMEM;
	for (int i = 0; i < n && !rc; i++) {
		if (pst_trace_open(paths[i], &p[i].t, err, sizeof(err)))
			rc = -EIO;
		else if (!(p[i].t->proc.flags & PST_PROC_FULL))
			rc = -ENODATA; /* sampled: the events are not every block */
	}
	if (!rc)
		rc = walk(p, n, out);
	for (int i = 0; i < n; i++) {
		pst_trace_close(p[i].t);
		pst_imap_free(&p[i].ix);
		free(p[i].size);
	}
	free(p);
	return rc;
}
