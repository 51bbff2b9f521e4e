/* SPDX-License-Identifier: MIT */
/* The one-page report's data per time range: heap in use over time, allocation sites' blocks by bucket of birth and death. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "grow.h"
#include "html.h"
#include "imap.h"
#include "json_util.h"
#include "memory.h"

/* Sites the page carries, in the memory family's order (by calls): enough
 * for the tables and the flame graph of any range, a bounded page. */
#define MAX_SITES 500

/* A block (one per address ever seen: the map never forgets a key). */
struct block {
	uint32_t site, born; /* site index (nsites: none), bucket of birth */
	uint64_t size;
	double w;
	bool live;
};

/* Blocks of one site born in bucket born and gone in bucket gone (n: never,
 * n + 1: no block), weighted as the memory family weighs them. */
struct cell {
	uint32_t site, born, gone;
	double calls, bytes;
};

struct pass {
	const struct pst_memory *m;
	const struct pst_trace *t;
	struct pst_html_buckets b;
	uint64_t start;
	struct pst_imap block_ix, cell_ix;
	struct block *blocks;
	size_t nblocks, cap_blocks;
	struct cell *cells;
	size_t ncells, cap_cells;
	struct pst_html_level heap; /* in use */
};

struct pst_html_buckets pst_html_buckets_for(uint64_t duration_ns)
{
	static const uint64_t steps[] = { 1, 2, 5 };
	struct pst_html_buckets b = { 0, 0 };

	for (uint64_t p = 1000000; !b.width_ns; p *= 10)
		for (size_t i = 0; i < 3 && !b.width_ns; i++)
			if (duration_ns / (p * steps[i]) < PST_HTML_MAX_BUCKETS)
				b.width_ns = p * steps[i];
	/* Every event (at most duration_ns after the start) in a bucket. */
	b.n = (unsigned)(duration_ns / b.width_ns + 1);
	return b;
}

static uint64_t since_start(const struct pass *p, uint64_t ts)
{
	return ts > p->start ? ts - p->start : 0;
}

static uint32_t bucket_of(const struct pass *p, uint64_t ts)
{
	uint64_t i = since_start(p, ts) / p->b.width_ns;

	return i < p->b.n ? (uint32_t)i : p->b.n - 1;
}

static uint32_t site_of(const struct pass *p, uint64_t stack_id)
{
	const struct pst_stack *s = pst_trace_stack(p->t, stack_id);
	size_t i = s ? (size_t)(s - p->t->stacks) : p->t->nstacks;
	uint32_t site = p->m->site_of && i < p->m->nper_stack ? p->m->site_of[i] : UINT32_MAX;

	return site < p->m->nsites ? site : (uint32_t)p->m->nsites;
}

/* Add calls and bytes to the cell (site, born, gone). 0 or -ENOMEM. */
static int cell_add(struct pass *p, uint32_t site, uint32_t born, uint32_t gone, double calls,
		    double bytes)
{
	struct pst_ientry *e;

	if (site >= MAX_SITES || site >= p->m->nsites)
		return 0;
	e = pst_imap_get(&p->cell_ix, site, born, gone);
	if (!e)
		return -ENOMEM;
	if (e->val == UINT32_MAX) {
		if (pst_grow(&p->cells, &p->cap_cells, p->ncells + 1, sizeof(*p->cells), 256))
			return -ENOMEM;
		p->cells[p->ncells] = (struct cell){ site, born, gone, 0, 0 };
		pst_imap_set(&p->cell_ix, e, (uint32_t)p->ncells++);
	}
	p->cells[e->val].calls += calls;
	p->cells[e->val].bytes += bytes;
	return 0;
}

/* Block x is gone at ts (freed, moved, or its address given out again). */
static int block_end(struct pass *p, struct block *x, uint64_t ts)
{
	x->live = false;
	pst_html_level_move(&p->heap, ts, -(double)x->size * x->w);
	return cell_add(p, x->site, x->born, bucket_of(p, ts), x->w, (double)x->size * x->w);
}

static struct block *block_find(struct pass *p, uint64_t ptr)
{
	struct pst_ientry *e = ptr ? pst_imap_get(&p->block_ix, ptr, 0, 0) : NULL;

	return e && e->val != UINT32_MAX && p->blocks[e->val].live ? &p->blocks[e->val] : NULL;
}

/* A block allocated (or moved to) by ev. 0 or -ENOMEM. */
static int block_new(struct pass *p, const struct pst_event *ev)
{
	double w = p->m->full ? 1.0 : pst_sample_weight(ev->size, p->m->sample_bytes);
	uint32_t site = site_of(p, ev->stack), born = bucket_of(p, ev->ts);
	struct pst_ientry *e;

	if (!ev->ptr)
		return cell_add(p, site, born, p->b.n + 1, w, (double)ev->size * w);
	e = pst_imap_get(&p->block_ix, ev->ptr, 0, 0);
	if (!e)
		return -ENOMEM;
	if (e->val == UINT32_MAX) {
		if (pst_grow(&p->blocks, &p->cap_blocks, p->nblocks + 1, sizeof(*p->blocks), 1024))
			return -ENOMEM;
		pst_imap_set(&p->block_ix, e, (uint32_t)p->nblocks++);
	} else if (p->blocks[e->val].live && block_end(p, &p->blocks[e->val], ev->ts)) {
		return -ENOMEM;
	}
	p->blocks[e->val] = (struct block){ site, born, ev->size, w, true };
	pst_html_level_move(&p->heap, ev->ts, (double)ev->size * w);
	return 0;
}

static int on_event(struct pass *p, const struct pst_event *ev)
{
	struct block *x;

	switch (ev->type) {
	case PST_EV_ALLOC:
		return block_new(p, ev);
	case PST_EV_FREE:
		x = block_find(p, ev->ptr);
		return x ? block_end(p, x, ev->ts) : 0;
	case PST_EV_REALLOC:
		x = block_find(p, ev->old_ptr);
		if (x && block_end(p, x, ev->ts))
			return -ENOMEM;
		return block_new(p, ev);
	}
	return 0;
}

static int read_events(struct pass *p, struct pst_trace *t)
{
	struct pst_event ev;

	pst_trace_rewind(t);
	while (pst_trace_next(t, &ev))
		if (on_event(p, &ev))
			return -ENOMEM;
	for (size_t i = 0; i < p->nblocks; i++)
		if (p->blocks[i].live && cell_add(p, p->blocks[i].site, p->blocks[i].born, p->b.n,
						  p->blocks[i].w,
						  (double)p->blocks[i].size * p->blocks[i].w))
			return -ENOMEM;
	return 0;
}

/* ---- JSON ---- */

/* A weighted figure: an integer in full mode, where it is exact. */
static json_t *weighted(const struct pass *p, double v)
{
	return p->m->full ? json_integer((json_int_t)llround(v)) : json_real(v);
}

/* Cells in the order of site, birth, death: one key (every part fits). */
static uint64_t cell_key(const struct cell *c)
{
	return (uint64_t)c->site << 32 | (uint64_t)c->born << 16 | c->gone;
}

static int cmp_cell(const void *x, const void *y)
{
	uint64_t a = cell_key(x), b = cell_key(y);

	return a < b ? -1 : a > b;
}

static json_t *site_json(const struct pass *p, const struct pst_site *s, json_t *cells)
{
	json_t *o = json_object();

	json_object_set_new(o, "function", pst_jstr(s->function));
	json_object_set_new(o, "file", pst_jstr(s->file));
	json_object_set_new(o, "line", json_integer(s->line));
	json_object_set_new(o, "stack", pst_jstrings(s->stack, s->depth));
	json_object_set_new(o, "calls", weighted(p, s->st.calls));
	json_object_set_new(o, "bytes", weighted(p, s->st.bytes));
	json_object_set_new(o, "peak_bytes", weighted(p, s->st.peak_bytes));
	json_object_set_new(o, "leaked_bytes", weighted(p, s->st.leaked_bytes));
	json_object_set_new(o, "leaked_allocations", weighted(p, s->st.leaked));
	json_object_set_new(o, "cells", cells);
	return o;
}

/* The sites with their cells: [born, gone, calls, bytes] each. */
static json_t *sites_json(const struct pass *p)
{
	json_t *sites = json_array();
	size_t c = 0, ns = p->m->nsites < MAX_SITES ? p->m->nsites : MAX_SITES;

	if (p->ncells) /* no cells, no array: qsort takes no NULL */
		qsort(p->cells, p->ncells, sizeof(*p->cells), cmp_cell);
	for (size_t s = 0; s < ns; s++) {
		json_t *cells = json_array();

		for (; c < p->ncells && p->cells[c].site == s; c++)
			json_array_append_new(cells, json_pack("[IIoo]", (json_int_t)p->cells[c].born,
							       (json_int_t)p->cells[c].gone,
							       weighted(p, p->cells[c].calls),
							       weighted(p, p->cells[c].bytes)));
		json_array_append_new(sites, site_json(p, &p->m->sites[s], cells));
	}
	return sites;
}

json_t *pst_html_ranges(const struct pst_analysis *a, const struct pst_html_buckets *b)
{
	const struct pst_memory_result *mr = pst_analysis_of(a, &pst_family_memory);
	struct pass p = { .m = mr->m, .t = a->t, .b = *b, .start = a->t->proc.start_monotonic_ns };
	json_t *o = NULL;

	pst_html_level_init(&p.heap, p.start, b);
	if (!read_events(&p, a->t)) {
		o = json_object();
		json_object_set_new(o, "bucket_ns", pst_ju64(b->width_ns));
		json_object_set_new(o, "buckets", json_integer(b->n));
		json_object_set_new(o, "heap", pst_html_level_json(&p.heap, p.m->full));
		json_object_set_new(json_object_get(o, "heap"), "exact", json_boolean(p.m->full));
		json_object_set_new(o, "sites", sites_json(&p));
	}
	pst_imap_free(&p.block_ix);
	pst_imap_free(&p.cell_ix);
	free(p.blocks);
	free(p.cells);
	return o;
}
