/* SPDX-License-Identifier: MIT */
/* Aggregation of a trace's events: live blocks, heap peak, leaks, temporaries, per-stack counts. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "memory.h"
#include "trace_read.h"

/* Call the progress callback every this many events. */
#define PROGRESS_EVERY 65536

/* A live block, keyed by its address (0 marks an empty slot). */
struct live {
	uint64_t ptr, size, tid, ts;
	double w;
	uint32_t stack; /* index into per_stack */
	uint32_t chain; /* reallocs this block went through */
};

struct live_map {
	struct live *tab;
	size_t cap, n; /* cap is a power of two */
};

/* Per thread: its last allocation, while no other one followed it. */
struct tstate {
	uint64_t tid;
	uint64_t last_ptr;
	bool last_valid;
	bool used; /* slot taken */
};

struct tid_map {
	struct tstate *tab;
	size_t cap, n;
};

static inline size_t hash64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	return (size_t)k;
}

static int live_grow(struct live_map *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 1024;
	struct live *nt = calloc(ncap, sizeof(*nt));

	if (!nt)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		struct live *e = &m->tab[i];
		size_t j;

		if (!e->ptr)
			continue;
		for (j = hash64(e->ptr) & (ncap - 1); nt[j].ptr; j = (j + 1) & (ncap - 1))
			;
		nt[j] = *e;
	}
	free(m->tab);
	m->tab = nt;
	m->cap = ncap;
	return 0;
}

static struct live *live_find(struct live_map *m, uint64_t ptr)
{
	if (!m->cap || !ptr)
		return NULL;
	for (size_t j = hash64(ptr) & (m->cap - 1);; j = (j + 1) & (m->cap - 1)) {
		if (m->tab[j].ptr == ptr)
			return &m->tab[j];
		if (!m->tab[j].ptr)
			return NULL;
	}
}

/* Insert a block whose ptr is not in the map. */
static int live_insert(struct live_map *m, const struct live *e)
{
	size_t j;

	if ((m->n + 1) * 4 > m->cap * 3 && live_grow(m))
		return -ENOMEM;
	for (j = hash64(e->ptr) & (m->cap - 1); m->tab[j].ptr; j = (j + 1) & (m->cap - 1))
		;
	m->tab[j] = *e;
	m->n++;
	return 0;
}

/* Remove the entry e points at (backward-shift deletion keeps probes short). */
static void live_remove(struct live_map *m, struct live *e)
{
	size_t mask = m->cap - 1, i = (size_t)(e - m->tab), j = i;

	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (!m->tab[j].ptr)
			break;
		home = hash64(m->tab[j].ptr) & mask;
		/* Move j into the hole at i unless its home lies in (i, j]. */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->tab[i] = m->tab[j];
			i = j;
		}
	}
	m->tab[i].ptr = 0;
	m->n--;
}

static struct tstate *tid_get(struct tid_map *m, uint64_t tid)
{
	size_t j;

	if ((m->n + 1) * 2 > m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 64;
		struct tstate *nt = calloc(ncap, sizeof(*nt));

		if (!nt)
			return NULL;
		for (size_t i = 0; i < m->cap; i++) {
			if (!m->tab[i].used)
				continue;
			for (j = hash64(m->tab[i].tid) & (ncap - 1); nt[j].used; j = (j + 1) & (ncap - 1))
				;
			nt[j] = m->tab[i];
		}
		free(m->tab);
		m->tab = nt;
		m->cap = ncap;
	}
	for (j = hash64(tid) & (m->cap - 1); m->tab[j].used; j = (j + 1) & (m->cap - 1))
		if (m->tab[j].tid == tid)
			return &m->tab[j];
	m->tab[j].used = true;
	m->tab[j].tid = tid;
	m->n++;
	return &m->tab[j];
}

double pst_sample_weight(uint64_t size, uint64_t sample_bytes)
{
	double p;

	if (!sample_bytes || !size)
		return 1.0;
	p = -expm1(-(double)size / (double)sample_bytes);
	return p > 0 ? 1.0 / p : 1.0;
}

/* Index in per_stack of a stack id: ids are usually dense from 1. */
static uint32_t stack_index(const struct pst_trace *t, uint64_t id)
{
	const struct pst_stack *s;

	if (id >= 1 && id <= t->nstacks && t->stacks[id - 1].id == id)
		return (uint32_t)(id - 1);
	s = id ? pst_trace_stack(t, id) : NULL;
	return s ? (uint32_t)(s - t->stacks) : (uint32_t)t->nstacks;
}

struct agg {
	struct pst_memory *m;
	struct pst_trace *t;
	struct live_map live;
	struct tid_map tids;
	double heap;
	double *live_by; /* live bytes per stack (pass 1) or per site (pass 2) */
	double *max_by;  /* the most of it at once */
	double ev_hist[PST_HIST_BUCKETS];
};

static double event_weight(const struct pst_memory *m, uint64_t size)
{
	return m->full ? 1.0 : pst_sample_weight(size, m->sample_bytes);
}

static void count_alloc(struct agg *a, struct pst_stack_stats *st, uint64_t size, double w)
{
	struct pst_memory *m = a->m;

	st->calls += w;
	st->bytes += (double)size * w;
	st->events++;
	if (st->events == 1 || size < st->min_size)
		st->min_size = size;
	if (size > st->max_size)
		st->max_size = size;
	m->ev_alloc_calls += w;
	m->ev_bytes += (double)size * w;
	a->ev_hist[pst_size_bucket(size)] += w;
}

/* A block that went through reallocs stops growing: it is freed or leaked. */
static void end_chain(struct pst_memory *m, const struct live *e)
{
	struct pst_stack_stats *st = &m->per_stack[e->stack];

	if (!e->chain)
		return;
	st->chains += e->w;
	st->chain_len_sum += e->chain * e->w;
	st->final_size_sum += (double)e->size * e->w;
	if (e->size > st->final_size_max)
		st->final_size_max = e->size;
}

/* Drop a live block from the heap without any other accounting. */
static void unlink_block(struct agg *a, struct live *e)
{
	double b = (double)e->size * e->w;

	a->heap -= b;
	a->live_by[e->stack] -= b;
	live_remove(&a->live, e);
}

static int link_block(struct agg *a, const struct live *e)
{
	double b = (double)e->size * e->w;
	struct live *old = live_find(&a->live, e->ptr);

	/* The same address again without a free in between: a free was lost
	 * (or ordered at the same instant); the old block is gone. */
	if (old)
		unlink_block(a, old);
	if (live_insert(&a->live, e))
		return -ENOMEM;
	a->heap += b;
	a->live_by[e->stack] += b;
	if (a->live_by[e->stack] > a->max_by[e->stack])
		a->max_by[e->stack] = a->live_by[e->stack];
	return 0;
}

static int on_alloc(struct agg *a, const struct pst_event *ev)
{
	struct pst_memory *m = a->m;
	double w = event_weight(m, ev->size);
	uint32_t si = stack_index(a->t, ev->stack);
	struct tstate *ts = tid_get(&a->tids, ev->tid);
	struct live e = { .ptr = ev->ptr, .size = ev->size, .tid = ev->tid, .ts = ev->ts,
			  .w = w, .stack = si };

	if (!ts)
		return -ENOMEM;
	count_alloc(a, &m->per_stack[si], ev->size, w);
	ts->last_ptr = ev->ptr;
	ts->last_valid = ev->ptr != 0;
	return ev->ptr ? link_block(a, &e) : 0;
}

static int on_free(struct agg *a, const struct pst_event *ev)
{
	struct pst_memory *m = a->m;
	struct live *e = live_find(&a->live, ev->ptr);
	struct pst_stack_stats *st;
	struct tstate *ts;

	if (!e) {
		m->unmatched_frees++;
		m->ev_free_calls += 1;
		return 0;
	}
	st = &m->per_stack[e->stack];
	m->ev_free_calls += e->w;
	st->freed += e->w;
	if (ev->ts >= e->ts && ev->ts - e->ts <= PST_SHORT_LIVED_NS)
		st->short_lived += e->w;
	ts = tid_get(&a->tids, e->tid);
	if (!ts)
		return -ENOMEM;
	if (ts->last_valid && ts->last_ptr == ev->ptr) {
		st->temporary += e->w;
		ts->last_valid = false;
	}
	end_chain(m, e);
	unlink_block(a, e);
	return 0;
}

static int on_realloc(struct agg *a, const struct pst_event *ev)
{
	struct pst_memory *m = a->m;
	double w = event_weight(m, ev->size);
	uint32_t si = stack_index(a->t, ev->stack);
	struct pst_stack_stats *st = &m->per_stack[si];
	struct tstate *ts = tid_get(&a->tids, ev->tid);
	struct live e = { .ptr = ev->ptr, .size = ev->size, .tid = ev->tid, .ts = ev->ts,
			  .w = w, .stack = si, .chain = ev->old_ptr ? 1 : 0 };
	struct live *old;

	if (!ts)
		return -ENOMEM;
	count_alloc(a, st, ev->size, w);
	st->reallocs += w;
	m->reallocs += w;
	old = live_find(&a->live, ev->old_ptr);
	if (old) {
		e.chain = old->chain + 1;
		/* A moved block keeps its birth time and thread for lifetimes. */
		e.ts = old->ts;
		e.tid = old->tid;
		unlink_block(a, old);
	}
	/* Another allocation by this thread: its last one was not temporary. */
	ts->last_valid = false;
	if (!ev->ptr)
		return 0;
	if (e.chain > st->max_chain)
		st->max_chain = e.chain;
	return link_block(a, &e);
}

static void progress_tick(struct pst_trace *t, uint64_t n, int pass, pst_progress_fn fn,
			  void *arg)
{
	if (fn && !(n % PROGRESS_EVERY))
		fn(t, pass, arg);
}

/* Pass 1: everything but the per-site bytes at the peak. */
static int pass1(struct agg *a, pst_progress_fn progress, void *arg)
{
	struct pst_memory *m = a->m;
	struct pst_event ev;
	uint64_t n = 0;
	int r;

	while (pst_trace_next(a->t, &ev) > 0) {
		n++;
		switch (ev.type) {
		case PST_EV_ALLOC:
			r = on_alloc(a, &ev);
			break;
		case PST_EV_FREE:
			r = on_free(a, &ev);
			break;
		case PST_EV_REALLOC:
			r = on_realloc(a, &ev);
			break;
		default:
			r = 0;
		}
		if (r)
			return r;
		if (a->heap > m->peak_heap_bytes) {
			m->peak_heap_bytes = a->heap;
			m->peak_event = n;
			m->peak_time_ns = ev.ts > a->t->proc.start_monotonic_ns ?
						  ev.ts - a->t->proc.start_monotonic_ns : 0;
		}
		progress_tick(a->t, n, 1, progress, arg);
	}
	m->events = n;
	return 0;
}

/* Pass 2: replay the live blocks by site; keep each site's maximum and its
 * live bytes at the global peak event. */
static int pass2(struct agg *a, pst_progress_fn progress, void *arg)
{
	struct pst_memory *m = a->m;
	struct pst_event ev;
	struct live *old;
	uint64_t n = 0;

	pst_trace_rewind(a->t);
	while (pst_trace_next(a->t, &ev) > 0) {
		struct live e = { .ptr = ev.ptr, .size = ev.size };
		uint32_t si;

		n++;
		switch (ev.type) {
		case PST_EV_REALLOC:
			old = live_find(&a->live, ev.old_ptr);
			if (old)
				unlink_block(a, old);
			/* fallthrough */
		case PST_EV_ALLOC:
			e.w = event_weight(m, ev.size);
			si = m->site_of[stack_index(a->t, ev.stack)];
			e.stack = si == UINT32_MAX ? (uint32_t)m->nsites : si;
			if (ev.ptr && link_block(a, &e))
				return -ENOMEM;
			break;
		case PST_EV_FREE:
			old = live_find(&a->live, ev.ptr);
			if (old)
				unlink_block(a, old);
			break;
		}
		if (n == m->peak_event)
			for (size_t i = 0; i < m->nsites; i++)
				m->sites[i].st.peak_bytes = a->live_by[i] > 0 ? a->live_by[i] : 0;
		progress_tick(a->t, n, 2, progress, arg);
	}
	for (size_t i = 0; i < m->nsites; i++)
		m->sites[i].st.max_live = a->max_by[i];
	return 0;
}

static int cmp_thread(const void *x, const void *y)
{
	const struct pst_thread_totals *a = x, *b = y;

	return a->tid < b->tid ? -1 : a->tid > b->tid;
}

/* Per-thread totals from TOTALS (summed by tid) and names from THREAD. */
static int thread_totals(struct pst_memory *m, const struct pst_trace *t)
{
	size_t n = 0;

	m->threads = calloc(t->ntotals ? t->ntotals : 1, sizeof(*m->threads));
	if (!m->threads)
		return -ENOMEM;
	for (size_t i = 0; i < t->ntotals; i++) {
		const struct pst_totals *x = &t->totals[i];
		struct pst_thread_totals *tt = NULL;

		for (size_t j = 0; j < n; j++)
			if (m->threads[j].tid == x->tid)
				tt = &m->threads[j];
		if (!tt) {
			tt = &m->threads[n++];
			tt->tid = x->tid;
		}
		tt->alloc_calls += x->alloc_calls;
		tt->free_calls += x->free_calls;
		tt->alloc_bytes += x->alloc_bytes;
	}
	for (size_t j = 0; j < n; j++)
		for (size_t i = 0; i < t->nthreads; i++)
			if (t->threads[i].tid == m->threads[j].tid && t->threads[i].name &&
			    t->threads[i].name[0])
				m->threads[j].name = t->threads[i].name;
	qsort(m->threads, n, sizeof(*m->threads), cmp_thread);
	m->nthreads = n;
	return 0;
}

static uint64_t round_u64(double x)
{
	return x > 0 ? (uint64_t)llround(x) : 0;
}

/* Totals are exact from TOTALS when every thread seen in events wrote one. */
static void totals(struct agg *a)
{
	struct pst_memory *m = a->m;
	const struct pst_trace *t = a->t;
	bool exact = t->ntotals > 0;

	for (size_t i = 0; exact && i < a->tids.cap; i++) {
		bool found = false;

		if (!a->tids.tab[i].used)
			continue;
		for (size_t j = 0; j < m->nthreads && !found; j++)
			found = m->threads[j].tid == a->tids.tab[i].tid;
		exact = found;
	}
	m->totals_exact = exact;
	if (exact) {
		for (size_t i = 0; i < t->ntotals; i++) {
			m->alloc_calls += t->totals[i].alloc_calls;
			m->free_calls += t->totals[i].free_calls;
			m->allocated_bytes += t->totals[i].alloc_bytes;
			for (int b = 0; b < PST_HIST_BUCKETS; b++)
				m->hist[b] += t->totals[i].hist[b];
		}
	} else {
		m->alloc_calls = round_u64(m->ev_alloc_calls);
		m->free_calls = round_u64(m->ev_free_calls);
		m->allocated_bytes = round_u64(m->ev_bytes);
		for (int b = 0; b < PST_HIST_BUCKETS; b++)
			m->hist[b] = round_u64(a->ev_hist[b]);
	}
}

/* Blocks still live at the end leaked; their realloc chains end there. */
static void leaks(struct agg *a)
{
	struct pst_memory *m = a->m;

	for (size_t i = 0; i < a->live.cap; i++) {
		const struct live *e = &a->live.tab[i];
		struct pst_stack_stats *st;

		if (!e->ptr)
			continue;
		st = &m->per_stack[e->stack];
		st->leaked += e->w;
		st->leaked_bytes += (double)e->size * e->w;
		m->leaked_allocations += e->w;
		m->leaked_bytes += (double)e->size * e->w;
		end_chain(m, e);
	}
	for (size_t i = 0; i < m->nper_stack; i++)
		m->temporary_allocations += m->per_stack[i].temporary;
}

static void agg_done(struct agg *a)
{
	free(a->live.tab);
	free(a->tids.tab);
	free(a->live_by);
	free(a->max_by);
}

struct pst_memory *pst_memory_analyze(struct pst_trace *t, pst_progress_fn progress, void *arg)
{
	struct pst_memory *m = calloc(1, sizeof(*m));
	struct agg a = { .m = m, .t = t };

	if (!m)
		return NULL;
	m->full = t->proc.flags & PST_PROC_FULL;
	m->sample_bytes = t->proc.sample_bytes;
	m->duration_ns = t->end_ts > t->proc.start_monotonic_ns ?
				 t->end_ts - t->proc.start_monotonic_ns : 0;
	m->nper_stack = t->nstacks + 1;
	m->per_stack = calloc(m->nper_stack, sizeof(*m->per_stack));
	a.live_by = calloc(m->nper_stack, sizeof(*a.live_by));
	a.max_by = calloc(m->nper_stack, sizeof(*a.max_by));
	if (!m->per_stack || !a.live_by || !a.max_by)
		goto fail;

	pst_trace_rewind(t);
	if (pass1(&a, progress, arg))
		goto fail;
	for (size_t i = 0; i < m->nper_stack; i++)
		m->per_stack[i].max_live = a.max_by[i];
	leaks(&a);
	if (thread_totals(m, t))
		goto fail;
	totals(&a);
	agg_done(&a);
	return m;
fail:
	agg_done(&a);
	pst_memory_free(m);
	return NULL;
}

int pst_memory_peaks(struct pst_memory *m, struct pst_trace *t, pst_progress_fn progress,
		     void *arg)
{
	struct agg a = { .m = m, .t = t };
	int r = -ENOMEM;

	/* One slot past the sites for events of stacks that have none. */
	a.live_by = calloc(m->nsites + 1, sizeof(*a.live_by));
	a.max_by = calloc(m->nsites + 1, sizeof(*a.max_by));
	if (a.live_by && a.max_by && m->site_of)
		r = pass2(&a, progress, arg);
	agg_done(&a);
	return r;
}

struct pst_memory *pst_memory_build(struct pst_trace *t, struct pst_symbolizer *sym,
				    pst_progress_fn progress, void *arg)
{
	struct pst_memory *m = pst_memory_analyze(t, progress, arg);

	if (m && (pst_memory_sites(m, t, sym) || pst_memory_peaks(m, t, progress, arg))) {
		pst_memory_free(m);
		return NULL;
	}
	return m;
}

double pst_site_avg_size(const struct pst_site *s)
{
	return s->st.calls > 0 ? s->st.bytes / s->st.calls : 0;
}

void pst_memory_free(struct pst_memory *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nsites; i++) {
		struct pst_site *s = &m->sites[i];

		free(s->function);
		free(s->file);
		for (size_t j = 0; j < s->depth; j++)
			free(s->stack[j]);
		free(s->stack);
	}
	free(m->sites);
	free(m->site_of);
	free(m->per_stack);
	free(m->threads);
	free(m);
}
