/* SPDX-License-Identifier: MIT */
/* Aggregation of a trace's events: live blocks, heap peak, leaks, temporaries, per-stack counts. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "memory.h"
#include "memory_feed.h"
#include "trace_read.h"

/* A live block, keyed by its address (0 marks an empty slot). Its weight is
 * that of its size (event_weight), so it is not stored. */
struct live {
	uint64_t ptr, size, ts;
	uint32_t stack;  /* index into per_stack */
	uint32_t thread; /* index into agg.threads */
	uint32_t chain;  /* reallocs this block went through */
	bool slow;       /* one of them grew it by less than an eighth */
};

struct live_map {
	struct live *tab;
	size_t cap, n; /* cap is a power of two */
};

/* Per thread: its last allocation, while no other one followed it. */
/* A thread's last allocation while nothing was freed after it: heaptrack's
 * rule for a temporary is a free of the same size and stack as the event
 * just before it (any other free in between clears it). Kept per thread, as
 * heaptrack's single stream is for a single-threaded program. */
struct tstate {
	uint64_t tid;
	uint64_t last_size;
	uint32_t last_stack;
	bool last_valid;
};

/* Threads by tid: open addressing over indexes into a dense array. */
struct tid_map {
	uint32_t *slot; /* index + 1; 0 empty */
	size_t cap;
	struct tstate *v;
	size_t n, vcap;
	uint64_t last_tid; /* the last one looked up, and its index */
	uint32_t last;
};

/*
 * Live bytes of a stack or a site, with what it held at the global heap
 * peak, kept lazily: the peak epoch counts new maxima of the heap; before
 * live changes, a value whose epoch is behind is what it held at the last
 * peak, so it is saved then.
 */
struct slive {
	double live, max, at_peak;
	uint64_t epoch;
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

/* The slot of ptr (non-zero): its entry, else the empty slot where it goes,
 * with room made first. NULL when out of memory. */
static struct live *live_slot(struct live_map *m, uint64_t ptr)
{
	size_t j, mask;

	if ((m->n + 1) * 4 > m->cap * 3 && live_grow(m))
		return NULL;
	mask = m->cap - 1;
	for (j = hash64(ptr) & mask; m->tab[j].ptr && m->tab[j].ptr != ptr; j = (j + 1) & mask)
		;
	return &m->tab[j];
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

/* The index of thread tid, added when new; UINT32_MAX when out of memory. */
static uint32_t tid_index(struct tid_map *m, uint64_t tid)
{
	size_t j;

	if (m->n && tid == m->last_tid)
		return m->last;
	if ((m->n + 1) * 2 > m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 64;
		uint32_t *ns = calloc(ncap, sizeof(*ns));

		if (!ns)
			return UINT32_MAX;
		for (size_t i = 0; i < m->cap; i++) {
			if (!m->slot[i])
				continue;
			for (j = hash64(m->v[m->slot[i] - 1].tid) & (ncap - 1); ns[j];
			     j = (j + 1) & (ncap - 1))
				;
			ns[j] = m->slot[i];
		}
		free(m->slot);
		m->slot = ns;
		m->cap = ncap;
	}
	for (j = hash64(tid) & (m->cap - 1); m->slot[j]; j = (j + 1) & (m->cap - 1))
		if (m->v[m->slot[j] - 1].tid == tid)
			goto found;
	if (m->n == m->vcap) {
		size_t ncap = m->vcap ? m->vcap * 2 : 16;
		struct tstate *nv = reallocarray(m->v, ncap, sizeof(*nv));

		if (!nv)
			return UINT32_MAX;
		m->v = nv;
		m->vcap = ncap;
	}
	m->v[m->n] = (struct tstate){ .tid = tid };
	m->slot[j] = (uint32_t)++m->n;
found:
	m->last_tid = tid;
	m->last = m->slot[j] - 1;
	return m->last;
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

/*
 * One pass over the events. Per stack always; per site too when site_of is
 * set: with sym, a stack is symbolized into its site at its first event
 * (the sites are then built during the pass), without, site_of is given.
 */
struct agg {
	struct pst_memory *m;
	struct pst_trace *t;
	struct live_map live;
	struct tid_map tids;
	double heap;
	uint64_t peak_epoch;
	struct slive *by_stack; /* per per_stack index */
	struct slive *by_site;  /* per site, one more for stacks without one */
	uint32_t *site_of;      /* NULL: no sites in this pass */
	size_t nsite_slots;
	struct pst_symbolizer *sym;
	bool map_sites;         /* site_of is filled as stacks show up */
	double ev_hist[PST_HIST_BUCKETS];
	struct pst_reach reach; /* the scans the preload wrote */
	size_t next_scan;       /* the first scan on demand not yet matched */
	uint64_t scan_due;      /* its time; UINT64_MAX: none */
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
static void end_chain(struct pst_memory *m, const struct live *e, double w)
{
	struct pst_stack_stats *st = &m->per_stack[e->stack];

	if (!e->chain)
		return;
	st->chains += w;
	if (!e->slow)
		st->geometric_chains += w;
	st->chain_len_sum += e->chain * w;
	st->final_size_sum += (double)e->size * w;
	if (e->size > st->final_size_max)
		st->final_size_max = e->size;
}

static inline void slive_add(struct slive *x, double b, uint64_t epoch)
{
	if (x->epoch != epoch) {
		x->at_peak = x->live;
		x->epoch = epoch;
	}
	x->live += b;
	if (b > 0 && x->live > x->max)
		x->max = x->live;
}

/* The slot in by_site of a stack's site. */
static inline struct slive *site_live(struct agg *a, uint32_t stack)
{
	uint32_t s = a->site_of[stack];

	return &a->by_site[s < a->nsite_slots - 1 ? s : a->nsite_slots - 1];
}

/* Add b (may be negative) to the heap and the block's stack and site. */
static inline void account(struct agg *a, uint32_t stack, double b)
{
	a->heap += b;
	slive_add(&a->by_stack[stack], b, a->peak_epoch);
	if (a->site_of)
		slive_add(site_live(a, stack), b, a->peak_epoch);
}

/* Drop a live block from the heap without any other accounting. */
static void unlink_block(struct agg *a, struct live *e, double w)
{
	account(a, e->stack, -((double)e->size * w));
	live_remove(&a->live, e);
}

static int link_block(struct agg *a, const struct live *e, double w)
{
	struct live *slot = live_slot(&a->live, e->ptr);

	if (!slot)
		return -ENOMEM;
	/* The same address again without a free in between: a free was lost
	 * (or ordered at the same instant); the old block is gone. */
	if (slot->ptr) {
		unlink_block(a, slot, event_weight(a->m, slot->size));
		slot = live_slot(&a->live, e->ptr);
	}
	*slot = *e;
	a->live.n++;
	account(a, e->stack, (double)e->size * w);
	return 0;
}

/* The per_stack index of an event's stack, with its site when sites are
 * built in this pass. UINT32_MAX when out of memory. */
static uint32_t event_stack(struct agg *a, uint64_t id)
{
	uint32_t si = stack_index(a->t, id);

	if (a->map_sites && a->site_of[si] == UINT32_MAX &&
	    pst_site_map(a->m, a->t, a->sym, si) < 0)
		return UINT32_MAX;
	return si;
}

/* A move that grew a block by less than an eighth: not geometric growth
 * (CPython's lists grow by an eighth, most vectors by a half or double). */
static bool grew_slowly(uint64_t from, uint64_t to)
{
	return to > from && to - from < from / 8;
}

/* The thread allocated: a free of this size and stack next is temporary. */
static void note_last(struct tstate *ts, uint64_t ptr, uint64_t size, uint32_t stack)
{
	ts->last_size = size;
	ts->last_stack = stack;
	ts->last_valid = ptr != 0;
}

/* The thread freed block e: temporary when its last event was the
 * allocation of a block of e's size and stack. Either way the next free
 * is not. */
static bool freed_last(struct tstate *ts, const struct live *e)
{
	bool temp = ts->last_valid && ts->last_size == e->size && ts->last_stack == e->stack;

	ts->last_valid = false;
	return temp;
}

static int on_alloc(struct agg *a, const struct pst_event *ev)
{
	struct pst_memory *m = a->m;
	double w = event_weight(m, ev->size);
	uint32_t si = event_stack(a, ev->stack), ti = tid_index(&a->tids, ev->tid);
	struct live e = { .ptr = ev->ptr, .size = ev->size, .ts = ev->ts, .stack = si,
			  .thread = ti };
	struct tstate *ts;

	if (si == UINT32_MAX || ti == UINT32_MAX)
		return -ENOMEM;
	ts = &a->tids.v[ti];
	count_alloc(a, &m->per_stack[si], ev->size, w);
	note_last(ts, ev->ptr, ev->size, si);
	return ev->ptr ? link_block(a, &e, w) : 0;
}

static int on_free(struct agg *a, const struct pst_event *ev)
{
	struct pst_memory *m = a->m;
	struct live *e = live_find(&a->live, ev->ptr);
	struct pst_stack_stats *st;
	uint32_t ti;
	double w;

	if (!e) {
		m->unmatched_frees++;
		m->ev_free_calls += 1;
		return 0;
	}
	w = event_weight(m, e->size);
	st = &m->per_stack[e->stack];
	m->ev_free_calls += w;
	st->freed += w;
	if (ev->ts >= e->ts && ev->ts - e->ts <= PST_SHORT_LIVED_NS)
		st->short_lived += w;
	ti = tid_index(&a->tids, ev->tid);
	if (ti == UINT32_MAX)
		return -ENOMEM;
	if (freed_last(&a->tids.v[ti], e))
		st->temporary += w;
	end_chain(m, e, w);
	unlink_block(a, e, w);
	return 0;
}

static int on_realloc(struct agg *a, const struct pst_event *ev)
{
	struct pst_memory *m = a->m;
	double w = event_weight(m, ev->size);
	uint32_t si = event_stack(a, ev->stack), ti = tid_index(&a->tids, ev->tid);
	struct live e = { .ptr = ev->ptr, .size = ev->size, .ts = ev->ts, .stack = si,
			  .thread = ti, .chain = ev->old_ptr ? 1 : 0 };
	struct pst_stack_stats *st;
	struct live *old;

	if (si == UINT32_MAX || ti == UINT32_MAX)
		return -ENOMEM;
	st = &m->per_stack[si];
	count_alloc(a, st, ev->size, w);
	st->reallocs += w;
	m->reallocs += w;
	old = live_find(&a->live, ev->old_ptr);
	/* A move is a free and an allocation (as heaptrack counts it): moving
	 * the thread's last block is a temporary of the old one. */
	if (old && freed_last(&a->tids.v[ti], old))
		m->per_stack[old->stack].temporary += event_weight(m, old->size);
	note_last(&a->tids.v[ti], ev->ptr, ev->size, si);
	if (old) {
		e.chain = old->chain + 1;
		e.slow = old->slow || grew_slowly(old->size, ev->size);
		/* A moved block keeps its birth time and thread for lifetimes. */
		e.ts = old->ts;
		e.thread = old->thread;
		unlink_block(a, old, event_weight(m, old->size));
	}
	if (!ev->ptr)
		return 0;
	if (e.chain > st->max_chain)
		st->max_chain = e.chain;
	return link_block(a, &e, w);
}

/* How far ahead of the event being counted the live map's slots for
 * their blocks are fetched into the cache. */
#define AHEAD 16

static inline void prefetch_block(const struct live_map *m, uint64_t ptr)
{
	if (m->cap)
		__builtin_prefetch(&m->tab[hash64(ptr) & (m->cap - 1)]);
}

static int on_event(struct agg *a, const struct pst_event *ev)
{
	switch (ev->type) {
	case PST_EV_ALLOC:
		return on_alloc(a, ev);
	case PST_EV_FREE:
		return on_free(a, ev);
	case PST_EV_REALLOC:
		return on_realloc(a, ev);
	}
	return 0;
}

/* A scan on demand at its time: the blocks live then that its list
 * calls lost (or does not call reachable), and the others. */
static void match_scan(struct agg *a, const struct pst_reach *d, struct pst_mem_scan *out)
{
	const struct pst_trace *t = a->t;

	out->time_ns = d->ts > t->proc.start_monotonic_ns ? d->ts - t->proc.start_monotonic_ns : 0;
	out->scan_ns = d->scan_ns;
	out->running = d->running;
	out->unknown = d->unknown;
	for (size_t i = 0; i < a->live.cap; i++) {
		const struct live *e = &a->live.tab[i];
		double w;

		if (!e->ptr)
			continue;
		w = event_weight(a->m, e->size);
		if (pst_reach_lost(d, e->ptr)) {
			out->lost_allocations += w;
			out->lost_bytes += (double)e->size * w;
		} else {
			out->reachable_allocations += w;
			out->reachable_bytes += (double)e->size * w;
		}
	}
}

/* The scans on demand whose time is before now (events come in time
 * order: the live set is the one the scan copied). */
static void due_scans(struct agg *a, uint64_t now)
{
	const struct pst_reach *r = &a->reach;

	while (a->next_scan < r->ndemand && r->demand[a->next_scan].ts < now) {
		match_scan(a, &r->demand[a->next_scan], &a->m->scans[a->next_scan]);
		a->next_scan++;
	}
	a->scan_due = a->next_scan < r->ndemand ? r->demand[a->next_scan].ts : UINT64_MAX;
}

/* One batch of events counted; *n counts every event so far. */
static int count_batch(struct agg *a, const struct pst_event *ev, size_t got, uint64_t *n)
{
	struct pst_memory *m = a->m;
	int r;

	for (size_t i = 0; i < got && i < AHEAD; i++)
		prefetch_block(&a->live, ev[i].ptr);
	for (size_t i = 0; i < got; i++) {
		if (i + AHEAD < got) {
			prefetch_block(&a->live, ev[i + AHEAD].ptr);
			if (ev[i + AHEAD].type == PST_EV_REALLOC)
				prefetch_block(&a->live, ev[i + AHEAD].old_ptr);
		}
		++*n;
		if (__builtin_expect(ev[i].ts > a->scan_due, 0))
			due_scans(a, ev[i].ts);
		r = on_event(a, &ev[i]);
		if (r)
			return r;
		if (a->heap > m->peak_heap_bytes) {
			m->peak_heap_bytes = a->heap;
			m->peak_event = *n;
			m->peak_time_ns = ev[i].ts > a->t->proc.start_monotonic_ns ?
						  ev[i].ts - a->t->proc.start_monotonic_ns :
						  0;
			a->peak_epoch++;
		}
	}
	return 0;
}

/* Every event once: totals, the heap peak, leaks, temporaries, per stack
 * (and per site) live bytes, their maxima and their values at the peak.
 * The events are read by the feed's thread meanwhile (memory_feed.c). */
static int run_pass(struct agg *a, int pass, pst_progress_fn progress, void *arg)
{
	struct pst_feed *f = malloc(sizeof(*f));
	const struct pst_event *ev;
	uint64_t n = 0;
	size_t got;
	int r = 0;

	if (!f)
		return -ENOMEM;
	pst_feed_start(f, a->t, pass, progress, arg);
	while (!r && (got = pst_feed_take(f, &ev)) > 0)
		r = count_batch(a, ev, got, &n);
	pst_feed_end(f);
	free(f);
	if (!r)
		due_scans(a, UINT64_MAX);
	a->m->events = n;
	return r;
}

/* What a stack or site held at the peak, once the pass is over. */
static double at_peak(const struct agg *a, const struct slive *x)
{
	double v = x->epoch == a->peak_epoch ? x->at_peak : x->live;

	return v > 0 ? v : 0;
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
	pst_sort(m->threads, n, sizeof(*m->threads), cmp_thread);
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

	for (size_t i = 0; exact && i < a->tids.n; i++) {
		bool found = false;

		for (size_t j = 0; j < m->nthreads && !found; j++)
			found = m->threads[j].tid == a->tids.v[i].tid;
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

/* A leaked block the scan at exit found no pointer to is lost. */
static void count_lost(struct pst_memory *m, const struct pst_reach *r, const struct live *e,
		       struct pst_stack_stats *st, double w)
{
	double bytes = (double)e->size * w;

	if (!r->known)
		return;
	if (pst_reach_lost(r, e->ptr)) {
		st->lost += w;
		st->lost_bytes += bytes;
		m->lost_allocations += w;
		m->lost_bytes += bytes;
	} else {
		m->reachable_bytes += bytes;
	}
}

/* Blocks still live at the end leaked; their realloc chains end there. */
static int leaks(struct agg *a)
{
	struct pst_memory *m = a->m;
	const struct pst_reach *r = &a->reach;

	m->reach_known = r->known;
	m->reach_running = r->running;
	m->reach_unknown = r->unknown;
	for (size_t i = 0; i < a->live.cap; i++) {
		const struct live *e = &a->live.tab[i];
		struct pst_stack_stats *st;
		double w;

		if (!e->ptr)
			continue;
		w = event_weight(m, e->size);
		st = &m->per_stack[e->stack];
		st->leaked += w;
		st->leaked_bytes += (double)e->size * w;
		m->leaked_allocations += w;
		m->leaked_bytes += (double)e->size * w;
		count_lost(m, r, e, st, w);
		end_chain(m, e, w);
	}
	return 0;
}

/* The thread totals' exact count of temporaries, when every one has it. */
static bool counted_temporaries(const struct pst_trace *t, double *sum)
{
	*sum = 0;
	for (size_t i = 0; i < t->ntotals; i++) {
		if (!t->totals[i].has_temporary)
			return false;
		*sum += (double)t->totals[i].temporary;
	}
	return t->ntotals > 0;
}

/*
 * Full mode counts heaptrack's temporaries from the events. Sampled mode
 * sees too few events to tell (the blocks between two sampled ones are
 * unseen), so the total is the count each thread kept; its stacks' shares
 * are the sampled blocks' in proportion, never above their calls.
 */
static void temporaries(struct agg *a)
{
	struct pst_memory *m = a->m;
	double raw = 0, counted, scale = 1;

	for (size_t i = 0; i < m->nper_stack; i++)
		raw += m->per_stack[i].temporary;
	m->temporary_counted = !m->full && m->totals_exact && counted_temporaries(a->t, &counted);
	if (m->temporary_counted)
		scale = raw > 0 ? counted / raw : 0;
	for (size_t i = 0; i < m->nper_stack && !m->full; i++) {
		struct pst_stack_stats *st = &m->per_stack[i];

		st->temporary = fmin(st->temporary * scale, st->calls);
	}
	for (size_t i = 0; i < m->nper_stack; i++)
		m->temporary_allocations += m->per_stack[i].temporary;
	if (m->temporary_counted)
		m->temporary_allocations = counted;
	else if (!m->full)
		m->temporary_allocations = fmin(m->temporary_allocations, (double)m->alloc_calls);
}

static void agg_done(struct agg *a)
{
	pst_reach_free(&a->reach);
	free(a->live.tab);
	free(a->tids.slot);
	free(a->tids.v);
	free(a->by_stack);
	free(a->by_site);
}

static struct pst_memory *memory_new(const struct pst_trace *t)
{
	struct pst_memory *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->full = t->proc.flags & PST_PROC_FULL;
	m->sample_bytes = t->proc.sample_bytes;
	m->duration_ns = t->end_ts > t->proc.start_monotonic_ns ?
				 t->end_ts - t->proc.start_monotonic_ns : 0;
	m->nper_stack = t->nstacks + 1;
	m->per_stack = calloc(m->nper_stack, sizeof(*m->per_stack));
	if (!m->per_stack) {
		free(m);
		return NULL;
	}
	return m;
}

/* The pass into a->m and everything that follows from it but the sites. */
static int one_pass(struct agg *a, int pass, pst_progress_fn progress, void *arg)
{
	struct pst_memory *m = a->m;
	int r;

	a->by_stack = calloc(m->nper_stack, sizeof(*a->by_stack));
	if (a->site_of)
		a->by_site = calloc(a->nsite_slots, sizeof(*a->by_site));
	if (!a->by_stack || (a->site_of && !a->by_site) || pst_reach_load(a->t, &a->reach))
		return -ENOMEM;
	m->nscans = a->reach.ndemand;
	if (m->nscans && !(m->scans = calloc(m->nscans, sizeof(*m->scans))))
		return -ENOMEM;
	due_scans(a, 0);
	r = run_pass(a, pass, progress, arg);
	if (r)
		return r;
	for (size_t i = 0; i < m->nper_stack; i++) {
		m->per_stack[i].max_live = a->by_stack[i].max;
		m->per_stack[i].peak_bytes = at_peak(a, &a->by_stack[i]);
	}
	if (leaks(a) || thread_totals(m, a->t))
		return -ENOMEM;
	totals(a);
	temporaries(a);
	return 0;
}

/* Each site's own maximum and what it held at the peak, from by_site. */
static void site_peaks(struct pst_memory *m, const struct agg *a)
{
	for (size_t k = 0; k < m->nsites; k++) {
		m->sites[k].st.max_live = a->by_site[k].max;
		m->sites[k].st.peak_bytes = at_peak(a, &a->by_site[k]);
	}
	m->sites_exact = true;
}

struct pst_memory *pst_memory_analyze(struct pst_trace *t, pst_progress_fn progress, void *arg)
{
	struct pst_memory *m = memory_new(t);
	struct agg a = { .m = m, .t = t };

	if (m && one_pass(&a, 1, progress, arg)) {
		pst_memory_free(m);
		m = NULL;
	}
	agg_done(&a);
	return m;
}

/* After pst_memory_analyze and pst_memory_sites: the events once more, by
 * site. pst_memory_build needs none of it. */
int pst_memory_peaks(struct pst_memory *m, struct pst_trace *t, pst_progress_fn progress,
		     void *arg)
{
	struct agg a = { .t = t, .site_of = m->site_of, .nsite_slots = m->nsites + 1 };
	int r = -ENOMEM;

	if (m->sites_exact)
		return 0;
	if (!m->site_of)
		return -ENOMEM;
	a.m = memory_new(t);
	if (a.m && !(r = one_pass(&a, 2, progress, arg)))
		site_peaks(m, &a);
	pst_memory_free(a.m);
	agg_done(&a);
	return r;
}

struct pst_memory *pst_memory_build(struct pst_trace *t, struct pst_symbolizer *sym,
				    pst_progress_fn progress, void *arg)
{
	struct pst_memory *m = memory_new(t);
	struct agg a = { .m = m, .t = t, .sym = sym, .map_sites = true };

	if (!m)
		return NULL;
	m->site_of = malloc(m->nper_stack * sizeof(*m->site_of));
	if (!m->site_of)
		goto fail;
	for (size_t i = 0; i < m->nper_stack; i++)
		m->site_of[i] = UINT32_MAX;
	/* at most one site per stack, one more slot for none */
	a.site_of = m->site_of;
	a.nsite_slots = m->nper_stack + 1;
	if (one_pass(&a, 1, progress, arg))
		goto fail;
	site_peaks(m, &a);
	if (pst_memory_sites(m, t, sym))
		goto fail;
	agg_done(&a);
	return m;
fail:
	agg_done(&a);
	pst_memory_free(m);
	return NULL;
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
	pst_site_index_free(m);
	free(m->sites);
	free(m->site_of);
	free(m->per_stack);
	free(m->threads);
	free(m->scans);
	free(m);
}
