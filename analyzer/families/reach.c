/* SPDX-License-Identifier: MIT */
/* The reachability scan the preload ran at exit (LEAK_SCAN, LEAK_PTR), read back: which live blocks were lost. */
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

/* LEAK_PTR records follow their LEAK_SCAN in file order; a second scan
 * (none is written today) would replace the first. */
static int on_record(unsigned type, uint64_t tid, const uint8_t *p, size_t len, void *arg)
{
	struct pst_reach *r = arg;

	(void)tid;
	if (type == PST_REC_LEAK_SCAN) {
		struct pst_rec_leak_scan s;

		if (pst_dec_leak_scan(p, p + len, &s))
			return 0;
		r->known = true;
		r->list_reachable = s.flags & 1;
		r->running = s.running;
		r->unknown = s.unknown;
		r->n = 0;
		r->prev = 0;
	} else if (type == PST_REC_LEAK_PTR && r->known) {
		struct pst_rec_leak_ptr lp;

		if (pst_dec_leak_ptr(p, p + len, &lp))
			return 0;
		r->prev += lp.delta;
		return add_ptr(r, r->prev);
	}
	return 0;
}

int pst_reach_load(const struct pst_trace *t, struct pst_reach *r)
{
	int rc;

	*r = (struct pst_reach){ 0 };
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
	free(r->ptr);
	*r = (struct pst_reach){ 0 };
}
