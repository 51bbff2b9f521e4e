/* SPDX-License-Identifier: MIT */
/* The reachability scans the preload ran at exit and on demand (LEAK_SCAN, LEAK_PTR), read back: which live blocks were lost. */
#include <errno.h>
#include <stdlib.h>

#include "memory.h"
#include "trace_read.h"

static int add_ptr(struct pst_reach *r, uint64_t p)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 256;
		uint64_t *a = realloc(r->ptr, cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		r->ptr = a;
		r->cap = cap;
	}
	r->ptr[r->n++] = p;
	return 0;
}

/* Where a LEAK_SCAN's list goes: the exit's (a later one replaces it), or
 * a new scan on demand. NULL when out of memory. */
static struct pst_reach *scan_slot(struct pst_reach *r, bool on_demand)
{
	struct pst_reach *d;

	if (!on_demand) {
		r->cur = -1;
		r->known = true;
		r->n = 0;
		return r;
	}
	d = realloc(r->demand, (r->ndemand + 1) * sizeof(*d));
	if (!d)
		return NULL;
	r->demand = d;
	r->cur = (long)r->ndemand;
	d = &r->demand[r->ndemand++];
	*d = (struct pst_reach){ .known = true, .cur = -1 };
	return d;
}

/* LEAK_PTR records follow their LEAK_SCAN in file order. */
static int on_record(unsigned type, uint64_t tid, const uint8_t *p, size_t len, void *arg)
{
	struct pst_reach *r = arg, *to;

	(void)tid;
	if (type == PST_REC_LEAK_SCAN) {
		struct pst_rec_leak_scan s;

		if (pst_dec_leak_scan(p, p + len, &s))
			return 0;
		if (!(to = scan_slot(r, s.flags & 2)))
			return -ENOMEM;
		to->list_reachable = s.flags & 1;
		to->running = s.running;
		to->unknown = s.unknown;
		to->ts = s.ts;
		to->scan_ns = s.scan_ns;
		to->prev = 0;
	} else if (type == PST_REC_LEAK_PTR && (r->cur >= 0 || r->known)) {
		struct pst_rec_leak_ptr lp;

		if (pst_dec_leak_ptr(p, p + len, &lp))
			return 0;
		to = r->cur >= 0 ? &r->demand[r->cur] : r;
		to->prev += lp.delta;
		return add_ptr(to, to->prev);
	}
	return 0;
}

int pst_reach_load(const struct pst_trace *t, struct pst_reach *r)
{
	int rc;

	*r = (struct pst_reach){ .cur = -1 };
	rc = pst_trace_foreach(t, PST_REC_LEAK_SCAN, PST_REC_LEAK_PTR, on_record, r);
	return rc < 0 ? rc : 0;
}

/* The list is in address order (the preload sorted it). */
bool pst_reach_lost(const struct pst_reach *r, uint64_t ptr)
{
	size_t lo = 0, hi = r->n;
	bool listed = false;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->ptr[mid] == ptr) {
			listed = true;
			break;
		}
		if (r->ptr[mid] < ptr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return listed != r->list_reachable;
}

void pst_reach_free(struct pst_reach *r)
{
	for (size_t i = 0; i < r->ndemand; i++)
		free(r->demand[i].ptr);
	free(r->demand);
	free(r->ptr);
	*r = (struct pst_reach){ 0 };
}
