/* SPDX-License-Identifier: MIT */
/* Threads, locks and pools from a trace: lifetimes, waits, per-lock contention, pool size and idle time. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize.h"
#include "threads.h"
#include "trace_read.h"

#define MAX_INLINE 32

/* A WAIT record, and a thread's start or end, as read. */
struct wait_rec {
	uint64_t tid, ts, obj, kind, wait_ns, stack, flags;
};

struct start_rec {
	uint64_t tid, ts, parent, routine, stack, create_ts;
};

struct end_rec {
	uint64_t tid, ts, cpu_ns, flags, runnable_ns;
};

struct lock_rec {
	uint64_t v[10]; /* obj, kind, first stack, first ts, acq, reads, contended, wait, max, max stack */
};

struct collect {
	struct wait_rec *waits;
	size_t nwaits, cwaits;
	struct start_rec *starts;
	size_t nstarts, cstarts;
	struct end_rec *ends;
	size_t nends, cends;
	struct lock_rec *locks;
	size_t nlocks, clocks;
	uint64_t ncpu, untracked, max_ts;
	bool info;
};

static int push(void **v, size_t *n, size_t *cap, size_t elem, const void *x)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		void *nv = realloc(*v, nc * elem);

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = nc;
	}
	memcpy((char *)*v + *n * elem, x, elem);
	(*n)++;
	return 0;
}

/* A record whose fields do not decode is skipped: the reader has already
 * validated the framing, and one bad record should not hide the rest. */
static int on_record(unsigned type, uint64_t tid, const uint8_t *p, size_t len, void *arg)
{
	struct collect *c = arg;
	const uint8_t *end = p + len;
	union {
		struct pst_rec_thr_start s;
		struct pst_rec_thr_end e;
		struct pst_rec_wait w;
		struct pst_rec_lock_stats l;
		struct pst_rec_thr_info i;
	} r;

	switch (type) {
	case PST_REC_THR_START:
		if (pst_dec_thr_start(p, end, &r.s))
			return 0;
		if (r.s.ts > c->max_ts)
			c->max_ts = r.s.ts;
		return push((void **)&c->starts, &c->nstarts, &c->cstarts, sizeof(struct start_rec),
			    &(struct start_rec){ r.s.tid, r.s.ts, r.s.parent_tid, r.s.start_routine,
						 r.s.stack_id, r.s.create_ts });
	case PST_REC_THR_END:
		if (pst_dec_thr_end(p, end, &r.e))
			return 0;
		if (r.e.ts > c->max_ts)
			c->max_ts = r.e.ts;
		return push((void **)&c->ends, &c->nends, &c->cends, sizeof(struct end_rec),
			    &(struct end_rec){ r.e.tid, r.e.ts, r.e.cpu_ns, r.e.flags,
					       r.e.runnable_ns });
	case PST_REC_WAIT:
		if (pst_dec_wait(p, end, &r.w) || r.w.wait_ns > r.w.ts)
			return 0;
		if (r.w.ts > c->max_ts)
			c->max_ts = r.w.ts;
		return push((void **)&c->waits, &c->nwaits, &c->cwaits, sizeof(struct wait_rec),
			    &(struct wait_rec){ tid, r.w.ts, r.w.object, r.w.kind, r.w.wait_ns,
						r.w.stack_id, r.w.flags });
	case PST_REC_LOCK_STATS: {
		struct lock_rec l;

		if (pst_dec_lock_stats(p, end, &r.l))
			return 0;
		/* lock_rec's v holds the fields in the record's order */
		_Static_assert(sizeof(r.l) == sizeof(l.v), "LOCK_STATS is varints only");
		memcpy(l.v, &r.l, sizeof(l.v));
		return push((void **)&c->locks, &c->nlocks, &c->clocks, sizeof(l), &l);
	}
	case PST_REC_THR_INFO:
		if (pst_dec_thr_info(p, end, &r.i))
			return 0;
		c->ncpu = r.i.online_cpus;
		c->untracked = r.i.untracked_locks;
		c->info = true;
		return 0;
	}
	return 0;
}

const char *pst_lock_kind_name(unsigned kind)
{
	switch (kind) {
	case PST_WAIT_MUTEX: return "mutex";
	case PST_WAIT_RDLOCK:
	case PST_WAIT_WRLOCK: return "rwlock";
	case PST_WAIT_SPIN: return "spin";
	case PST_WAIT_COND: return "cond";
	case PST_WAIT_SEM: return "sem";
	case PST_WAIT_JOIN: return "join";
	default: return "unknown";
	}
}

static bool is_idle(uint64_t kind)
{
	return kind == PST_WAIT_COND || kind == PST_WAIT_SEM;
}

/* A contended acquisition of a mutex, rwlock or spinlock: not idle, not a join. */
static bool is_lock_wait(uint64_t kind)
{
	return !is_idle(kind) && kind != PST_WAIT_JOIN;
}

/* ---- symbolization ---- */

static bool runtime_frame(const struct pst_frame *f)
{
	return pst_is_alloc_wrapper(NULL, f->module);
}

static bool module_is(const char *module, const char *prefix)
{
	const char *b = module ? strrchr(module, '/') : NULL;

	b = b ? b + 1 : module;
	return b && !strncmp(b, prefix, strlen(prefix));
}

/* The profiler's own frames (the start routine wrapper) and its
 * unwinder's are not the program's. */
static bool profiler_frame(const struct pst_frame *f)
{
	return module_is(f->module, "libprestanda.so");
}

/* A site for a stack: every frame as text; the site's function is the
 * first frame outside the C and C++ runtime (pthread, libstdc++). */
static int site_of_stack(const struct pst_trace *t, struct pst_symbolizer *sym, uint64_t id,
			 struct pst_site *s, bool *unwinder)
{
	const struct pst_stack *stk = id ? pst_trace_stack(t, id) : NULL;
	struct pst_frame fr[MAX_INLINE];
	char buf[1024];
	bool named = false;

	memset(s, 0, sizeof(*s));
	s->first_stack_id = id;
	if (!stk)
		return 0;
	s->stack = calloc((size_t)stk->depth * MAX_INLINE + 1, sizeof(*s->stack));
	if (!s->stack)
		return -ENOMEM;
	for (uint32_t i = 0; i < stk->depth; i++) {
		uint64_t pc = stk->frames[i] ? stk->frames[i] - 1 : 0;
		int n = sym ? pst_symbolize(sym, pc, fr, MAX_INLINE) : 0;

		if (n <= 0) {
			snprintf(buf, sizeof(buf), "[0x%" PRIx64 "]", pc);
			if (!(s->stack[s->depth++] = strdup(buf)))
				return -ENOMEM;
			continue;
		}
		if (!i && unwinder)
			*unwinder = module_is(fr[n - 1].module, "libunwind.so");
		for (int k = 0; k < n; k++) {
			if (profiler_frame(&fr[k]))
				continue;
			pst_frame_format(&fr[k], buf, sizeof(buf));
			if (!(s->stack[s->depth++] = strdup(buf)))
				return -ENOMEM;
			if (named || !fr[k].function || runtime_frame(&fr[k]))
				continue;
			named = true;
			s->function = strdup(fr[k].function);
			s->file = fr[k].file ? strdup(fr[k].file) : NULL;
			s->line = fr[k].file ? fr[k].line : 0;
			if (!s->function || (fr[k].file && !s->file))
				return -ENOMEM;
		}
	}
	return 0;
}

static void site_free(struct pst_site *s)
{
	for (size_t i = 0; i < s->depth; i++)
		free(s->stack[i]);
	free(s->stack);
	free(s->function);
	free(s->file);
}

static char *routine_name(const struct pst_trace *t, struct pst_symbolizer *sym, uint64_t addr)
{
	struct pst_frame fr[MAX_INLINE];
	char buf[512];
	int n = sym && addr ? pst_symbolize(sym, addr, fr, MAX_INLINE) : 0;

	(void)t;
	if (!addr)
		return strdup("[not seen created]");
	if (n > 0 && fr[n - 1].function)
		return strdup(fr[n - 1].function);
	if (n > 0)
		pst_frame_format(&fr[n - 1], buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "[0x%" PRIx64 "]", addr);
	return strdup(buf);
}

/* ---- threads ---- */

static int cmp_start(const void *x, const void *y)
{
	const struct start_rec *a = x, *b = y;

	if (a->tid != b->tid)
		return a->tid < b->tid ? -1 : 1;
	return a->ts < b->ts ? -1 : a->ts > b->ts;
}

static int cmp_end(const void *x, const void *y)
{
	const struct end_rec *a = x, *b = y;

	if (a->tid != b->tid)
		return a->tid < b->tid ? -1 : 1;
	return a->ts < b->ts ? -1 : a->ts > b->ts;
}

static int cmp_life(const void *x, const void *y)
{
	const struct pst_thr_life *a = x, *b = y;

	if (a->tid != b->tid)
		return a->tid < b->tid ? -1 : 1;
	return a->start_ts < b->start_ts ? -1 : a->start_ts > b->start_ts;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

/* The life of tid that holds ts: lives are sorted by tid, then start. */
static struct pst_thr_life *life_at(struct pst_threads *th, uint64_t tid, uint64_t ts)
{
	size_t lo = 0, hi = th->nthreads;
	struct pst_thr_life *best = NULL;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (th->threads[mid].tid < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < th->nthreads && th->threads[lo].tid == tid; lo++)
		if (th->threads[lo].start_ts <= ts || !best)
			best = &th->threads[lo];
	return best;
}

/*
 * Lives: one per THR_START (a tid the kernel reuses gets a new one), plus
 * the threads known only from THREAD records (the main thread, threads
 * that existed before recording). An end belongs to the last start of its
 * tid before it.
 */
static int build_lives(struct pst_threads *th, const struct pst_trace *t, struct collect *c,
		       uint64_t t_start, uint64_t t_end)
{
	size_t cap = c->nstarts + t->nthreads + 1, e = 0;

	th->threads = calloc(cap, sizeof(*th->threads));
	if (!th->threads)
		return -ENOMEM;
	pst_sort(c->starts, c->nstarts, sizeof(*c->starts), cmp_start);
	pst_sort(c->ends, c->nends, sizeof(*c->ends), cmp_end);
	for (size_t i = 0; i < c->nstarts; i++) {
		struct pst_thr_life *l = &th->threads[th->nthreads++];
		const struct start_rec *s = &c->starts[i];

		*l = (struct pst_thr_life){ .tid = s->tid, .parent = s->parent,
					    .routine = s->routine, .create_stack = s->stack,
					    .start_ts = s->create_ts ? s->create_ts : s->ts,
					    .created = true, .group = SIZE_MAX };
	}
	for (size_t i = 0; i < t->nthreads; i++) {
		const struct pst_thread *tr = &t->threads[i];
		bool known = false;

		for (size_t k = 0; k < c->nstarts && !known; k++)
			known = c->starts[k].tid == tr->tid;
		for (size_t k = c->nstarts; k < th->nthreads && !known; k++)
			known = th->threads[k].tid == tr->tid;
		if (known)
			continue;
		th->threads[th->nthreads++] = (struct pst_thr_life){
			.tid = tr->tid, .main = tr->tid == t->proc.pid,
			.start_ts = tr->tid == t->proc.pid ? t_start : tr->start_ts,
			.group = SIZE_MAX };
	}
	pst_sort(th->threads, th->nthreads, sizeof(*th->threads), cmp_life);
	for (size_t i = 0; i < th->nthreads; i++)
		th->threads[i].end_ts = 0;
	for (e = 0; e < c->nends; e++) {
		const struct end_rec *en = &c->ends[e];
		struct pst_thr_life *l = life_at(th, en->tid, en->ts);

		if (!l || l->end_ts)
			continue;
		l->end_ts = en->ts;
		l->cpu_ns = en->cpu_ns;
		/* a thread ran for some time if it ran at all: 0 is no clock */
		l->cpu_known = en->cpu_ns > 0;
		if (en->flags & PST_THR_END_RUNNABLE)
			l->runnable_ns = en->runnable_ns;
		l->alive_at_exit = en->flags & PST_THR_END_ALIVE;
	}
	for (size_t i = 0; i < th->nthreads; i++) {
		struct pst_thr_life *l = &th->threads[i];

		if (!l->end_ts) {
			l->end_ts = t_end;
			l->alive_at_exit = true;
		}
		if (l->end_ts < l->start_ts)
			l->end_ts = l->start_ts;
	}
	return 0;
}

static uint64_t pct(const uint64_t *sorted, size_t n, double p)
{
	size_t i;

	if (!n)
		return 0;
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return sorted[i < n ? i : n - 1];
}

static void lifetimes(struct pst_threads *th)
{
	uint64_t *v = malloc((th->nthreads + 1) * sizeof(*v));
	size_t n = 0;

	if (!v)
		return;
	for (size_t i = 0; i < th->nthreads; i++) {
		const struct pst_thr_life *l = &th->threads[i];
		uint64_t d = l->end_ts - l->start_ts;

		th->total_thread_ns += d;
		if (!l->created)
			continue;
		v[n++] = d;
		th->lifetime_hist[pst_size_bucket(d) < 40 ? pst_size_bucket(d) : 39]++;
	}
	pst_sort(v, n, sizeof(*v), cmp_u64);
	th->lifetime_p50 = pct(v, n, 0.50);
	th->lifetime_p99 = pct(v, n, 0.99);
	th->lifetime_max = n ? v[n - 1] : 0;
	free(v);
}

/* Edges of a sweep over time. */
struct edge {
	uint64_t ts;
	int dlive, dbusy, dwait;
};

static int cmp_edge(const void *x, const void *y)
{
	const struct edge *a = x, *b = y;

	if (a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	/* at one instant, ends before starts: a thread replacing another
	 * does not count both */
	return (a->dlive + a->dbusy) - (b->dlive + b->dbusy);
}

struct edges {
	struct edge *v;
	size_t n, cap;
};

static int edge_add(struct edges *e, uint64_t ts, int dlive, int dbusy, int dwait)
{
	return push((void **)&e->v, &e->n, &e->cap, sizeof(struct edge),
		    &(struct edge){ ts, dlive, dbusy, dwait });
}

static void peak_concurrent(struct pst_threads *th)
{
	struct edges e = { 0 };
	long live = 0;

	for (size_t i = 0; i < th->nthreads; i++)
		if (edge_add(&e, th->threads[i].start_ts, 1, 0, 0) ||
		    edge_add(&e, th->threads[i].end_ts, -1, 0, 0))
			goto out;
	pst_sort(e.v, e.n, sizeof(*e.v), cmp_edge);
	for (size_t i = 0; i < e.n; i++) {
		live += e.v[i].dlive;
		if (live > (long)th->peak_concurrent)
			th->peak_concurrent = (uint64_t)live;
	}
out:
	free(e.v);
}

/* Size over time: every change, or the largest size in each of
 * PST_SIZE_POINTS equal slices of the group's span when there are more. */
static int size_points(struct pst_thr_group *g, const struct edge *v, size_t n, uint64_t t0)
{
	size_t changes = 0;
	long live = 0;
	uint64_t first = n ? v[0].ts : 0, last = n ? v[n - 1].ts : 0;

	for (size_t i = 0; i < n; i++)
		changes += v[i].dlive != 0;
	g->sizes = calloc(PST_SIZE_POINTS + 1, sizeof(*g->sizes));
	if (!g->sizes)
		return -ENOMEM;
	if (changes <= PST_SIZE_POINTS) {
		for (size_t i = 0; i < n; i++) {
			if (!v[i].dlive)
				continue;
			live += v[i].dlive;
			if (g->nsizes && g->sizes[g->nsizes - 1].t_ns == v[i].ts - t0)
				g->nsizes--;
			g->sizes[g->nsizes++] = (struct pst_size_point){ v[i].ts - t0,
									 (uint64_t)live };
		}
		return 0;
	}
	for (size_t i = 0, s = 0; s < PST_SIZE_POINTS; s++) {
		uint64_t lo = first + (last - first) * s / PST_SIZE_POINTS;
		uint64_t hi = first + (last - first) * (s + 1) / PST_SIZE_POINTS;
		long mx = live;

		for (; i < n && v[i].ts < hi; i++) {
			live += v[i].dlive;
			if (live > mx)
				mx = live;
		}
		g->sizes[g->nsizes++] = (struct pst_size_point){ lo - t0, (uint64_t)mx };
	}
	return 0;
}

/*
 * One sweep per group: alive and busy threads of the group (busy: alive
 * and not in a cond or semaphore wait), and threads outside it that wait
 * (on anything). Saturated time: every alive thread of the group busy
 * while someone else waits, the mark of a pool that is too small.
 */
static int sweep_group(struct pst_threads *th, size_t gi, const struct collect *c, uint64_t t0)
{
	struct pst_thr_group *g = &th->groups[gi];
	struct edges e = { 0 };
	long live = 0, busy = 0, wait = 0;
	int rc = -ENOMEM;

	for (size_t i = 0; i < th->nthreads; i++) {
		const struct pst_thr_life *l = &th->threads[i];

		if (l->group == gi && (edge_add(&e, l->start_ts, 1, 1, 0) ||
				       edge_add(&e, l->end_ts, -1, -1, 0)))
			goto out;
	}
	for (size_t i = 0; i < c->nwaits; i++) {
		const struct wait_rec *w = &c->waits[i];
		const struct pst_thr_life *l = life_at(th, w->tid, w->ts);
		bool mine = l && l->group == gi;

		/* a thread of the group that waits for anything is not busy */
		if (mine) {
			if (edge_add(&e, w->ts - w->wait_ns, 0, -1, 0) ||
			    edge_add(&e, w->ts, 0, 1, 0))
				goto out;
		} else if (!mine && (edge_add(&e, w->ts - w->wait_ns, 0, 0, 1) ||
				     edge_add(&e, w->ts, 0, 0, -1))) {
			goto out;
		}
	}
	pst_sort(e.v, e.n, sizeof(*e.v), cmp_edge);
	for (size_t i = 0; i < e.n; i++) {
		uint64_t dt = i ? e.v[i].ts - e.v[i - 1].ts : 0;

		if (live > 0)
			g->span_ns += dt;
		if (live > 0 && busy >= live && wait > 0)
			g->saturated_ns += dt;
		live += e.v[i].dlive;
		busy += e.v[i].dbusy;
		wait += e.v[i].dwait;
		if (live > (long)g->peak)
			g->peak = (uint64_t)live;
		if (busy > (long)g->peak_busy)
			g->peak_busy = (uint64_t)busy;
	}
	rc = size_points(g, e.v, e.n, t0);
out:
	free(e.v);
	return rc;
}

static int cmp_group(const void *x, const void *y)
{
	const struct pst_thr_group *a = x, *b = y;

	if (a->threads != b->threads)
		return a->threads > b->threads ? -1 : 1;
	return a->routine < b->routine ? -1 : a->routine > b->routine;
}

static int build_groups(struct pst_threads *th, const struct pst_trace *t,
			struct pst_symbolizer *sym, const struct collect *c)
{
	uint64_t *life = malloc((th->nthreads + 1) * sizeof(*life));
	size_t *map = NULL;

	if (!life)
		return -ENOMEM;
	th->groups = calloc(th->nthreads + 1, sizeof(*th->groups));
	if (!th->groups)
		goto oom;
	for (size_t i = 0; i < th->nthreads; i++) {
		struct pst_thr_life *l = &th->threads[i];
		size_t g;

		if (!l->created)
			continue;
		for (g = 0; g < th->ngroups; g++)
			if (th->groups[g].routine == l->routine &&
			    th->groups[g].create_stack == l->create_stack)
				break;
		if (g == th->ngroups) {
			th->groups[g].routine = l->routine;
			th->groups[g].create_stack = l->create_stack;
			th->ngroups++;
		}
		l->group = g;
	}
	/* sort the groups, then renumber the threads' group indexes */
	map = malloc((th->ngroups + 1) * sizeof(*map));
	if (!map)
		goto oom;
	pst_sort(th->groups, th->ngroups, sizeof(*th->groups), cmp_group);
	for (size_t i = 0; i < th->nthreads; i++) {
		struct pst_thr_life *l = &th->threads[i];

		if (l->group == SIZE_MAX)
			continue;
		for (size_t g = 0; g < th->ngroups; g++)
			if (th->groups[g].routine == l->routine &&
			    th->groups[g].create_stack == l->create_stack)
				l->group = g;
	}
	for (size_t g = 0; g < th->ngroups; g++) {
		struct pst_thr_group *gr = &th->groups[g];
		size_t n = 0;

		for (size_t i = 0; i < th->nthreads; i++) {
			const struct pst_thr_life *l = &th->threads[i];

			if (l->group != g)
				continue;
			gr->threads++;
			life[n++] = l->end_ts - l->start_ts;
			gr->lifetime_ns += l->end_ts - l->start_ts;
			gr->idle_ns += l->idle_ns;
			gr->lock_wait_ns += l->lock_wait_ns;
			gr->cpu_ns += l->cpu_ns;
			gr->tasks += l->tasks;
		}
		pst_sort(life, n, sizeof(*life), cmp_u64);
		gr->lifetime_p50 = pct(life, n, 0.5);
		gr->busy_fraction = gr->lifetime_ns ?
			1.0 - (double)(gr->idle_ns < gr->lifetime_ns ? gr->idle_ns : gr->lifetime_ns) /
				      (double)gr->lifetime_ns : 0;
		gr->routine_name = routine_name(t, sym, gr->routine);
		if (!gr->routine_name || site_of_stack(t, sym, gr->create_stack, &gr->created_at, NULL) ||
		    sweep_group(th, g, c, t->proc.start_monotonic_ns))
			goto oom;
	}
	free(map);
	free(life);
	return 0;
oom:
	free(map);
	free(life);
	return -ENOMEM;
}

/* ---- waits and locks ---- */

static struct pst_lock *lock_get(struct pst_threads *th, size_t *cap, uint64_t addr,
				 unsigned kind)
{
	for (size_t i = 0; i < th->nlocks; i++)
		if (th->locks[i].addr == addr)
			return &th->locks[i];
	if (th->nlocks == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct pst_lock *nv = realloc(th->locks, nc * sizeof(*nv));

		if (!nv)
			return NULL;
		th->locks = nv;
		*cap = nc;
	}
	memset(&th->locks[th->nlocks], 0, sizeof(*th->locks));
	th->locks[th->nlocks].addr = addr;
	th->locks[th->nlocks].kind = kind == PST_WAIT_RDLOCK ? PST_WAIT_WRLOCK : kind;
	return &th->locks[th->nlocks++];
}

static int cmp_wait_site(const void *x, const void *y)
{
	const struct pst_wait_site *a = x, *b = y;

	if (a->wait_ns != b->wait_ns)
		return a->wait_ns > b->wait_ns ? -1 : 1;
	return a->stack < b->stack ? -1 : a->stack > b->stack;
}

/* Each lock's waits by stack; the PST_LOCK_TOP_STACKS largest are kept. */
struct stack_acc {
	struct pst_wait_site *v;
	size_t n, cap;
};

static int note_wait_stack(struct stack_acc *a, const struct wait_rec *w)
{
	for (size_t i = 0; i < a->n; i++) {
		if (a->v[i].stack != w->stack)
			continue;
		a->v[i].count++;
		a->v[i].wait_ns += w->wait_ns;
		if (w->wait_ns > a->v[i].max_wait_ns)
			a->v[i].max_wait_ns = w->wait_ns;
		return 0;
	}
	return push((void **)&a->v, &a->n, &a->cap, sizeof(*a->v),
		    &(struct pst_wait_site){ .stack = w->stack, .count = 1, .wait_ns = w->wait_ns,
					     .max_wait_ns = w->wait_ns });
}

static int cmp_lock(const void *x, const void *y)
{
	const struct pst_lock *a = x, *b = y;

	if (a->wait_ns != b->wait_ns)
		return a->wait_ns > b->wait_ns ? -1 : 1;
	if (a->acquisitions != b->acquisitions)
		return a->acquisitions > b->acquisitions ? -1 : 1;
	return a->addr < b->addr ? -1 : a->addr > b->addr;
}

/* The last statistics of each lock win: they are cumulative. */
static int apply_lock_stats(struct pst_threads *th, size_t *cap, const struct collect *c)
{
	for (size_t i = 0; i < c->nlocks; i++) {
		const uint64_t *v = c->locks[i].v;
		struct pst_lock *l = lock_get(th, cap, v[0], (unsigned)v[1]);

		if (!l)
			return -ENOMEM;
		l->first_stack = v[2];
		l->first_ts = v[3];
		l->acquisitions = v[4];
		l->reads = v[5];
		l->contended = v[6];
		l->wait_ns = v[7];
		l->max_wait_ns = v[8];
		l->max_stack = v[9];
	}
	return 0;
}

/* A wait into the time of the thread that waited, as idle, lock or join. */
static void charge_wait(struct pst_threads *th, const struct wait_rec *w)
{
	struct pst_thr_life *life = life_at(th, w->tid, w->ts);

	if (!life)
		return;
	if (is_idle(w->kind)) {
		life->idle_ns += w->wait_ns;
		life->tasks += !(w->flags & PST_WAIT_TIMEDOUT);
	} else if (is_lock_wait(w->kind)) {
		life->lock_wait_ns += w->wait_ns;
	} else {
		life->join_ns += w->wait_ns;
	}
}

/*
 * Busy is running or runnable: a thread's CPU clock and the kernel's run
 * delay. Its other time that no lock or join wait explains was spent
 * blocked in the kernel (epoll_wait, poll, select, a socket read, a sleep):
 * idle, as its cond and semaphore waits are. Without the clock, only those
 * waits are idle.
 */
static void off_cpu_idle(struct pst_threads *th)
{
	for (size_t i = 0; i < th->nthreads; i++) {
		struct pst_thr_life *l = &th->threads[i];
		uint64_t life = l->end_ts - l->start_ts;
		uint64_t held = l->cpu_ns + l->runnable_ns + l->lock_wait_ns + l->join_ns;

		if (l->cpu_known && life > held && life - held > l->idle_ns)
			l->idle_ns = life - held;
	}
}

/* Per-lock stack accumulators, one for each lock in th->locks. */
struct lock_accs {
	struct stack_acc *v;
	size_t n;
};

/* A wait on an object into its lock: its figures when the trace has no
 * statistics for it (a trace cut before they were written), and its stack. */
static int note_lock_wait(struct pst_threads *th, size_t *cap, const struct collect *c,
			  const struct wait_rec *w, struct lock_accs *accs)
{
	bool stats = false;
	struct pst_lock *l;
	size_t k;

	for (k = 0; k < c->nlocks && !stats; k++)
		stats = c->locks[k].v[0] == w->obj;
	if (!(l = lock_get(th, cap, w->obj, (unsigned)w->kind)))
		return -ENOMEM;
	if (!stats) {
		l->contended += !(w->flags & PST_WAIT_TIMEDOUT) || w->kind == PST_WAIT_COND;
		l->wait_ns += w->wait_ns;
		if (w->wait_ns > l->max_wait_ns)
			l->max_wait_ns = w->wait_ns;
	}
	k = (size_t)(l - th->locks);
	if (k >= accs->n) {
		struct stack_acc *na = realloc(accs->v, (k + 1) * sizeof(*na));

		if (!na)
			return -ENOMEM;
		memset(na + accs->n, 0, (k + 1 - accs->n) * sizeof(*na));
		accs->v = na;
		accs->n = k + 1;
	}
	if (w->kind != PST_WAIT_COND && note_wait_stack(&accs->v[k], w))
		return -ENOMEM;
	return 0;
}

/* Each lock's share of thread time and its PST_LOCK_TOP_STACKS heaviest
 * stacks; then the locks in report order. */
static void rank_locks(struct pst_threads *th, const struct lock_accs *accs)
{
	for (size_t i = 0; i < th->nlocks; i++) {
		struct pst_lock *l = &th->locks[i];
		struct stack_acc *a = i < accs->n ? &accs->v[i] : NULL;

		l->wait_share = th->total_thread_ns ? (double)l->wait_ns / th->total_thread_ns : 0;
		if (a && a->n) {
			pst_sort(a->v, a->n, sizeof(*a->v), cmp_wait_site);
			l->ntop = a->n < PST_LOCK_TOP_STACKS ? a->n : PST_LOCK_TOP_STACKS;
			memcpy(l->top, a->v, l->ntop * sizeof(*l->top));
		}
	}
	if (th->nlocks)
		pst_sort(th->locks, th->nlocks, sizeof(*th->locks), cmp_lock);
}

/* The unwinder's own locks (taken when a thread ends) are the profiler's
 * doing: they are dropped. Locks below th->nlocks have their sites built
 * (what pst_threads_free frees). */
static int build_lock_sites(struct pst_threads *th, const struct pst_trace *t,
			    struct pst_symbolizer *sym)
{
	size_t n = th->nlocks;

	th->nlocks = 0;
	for (size_t i = 0; i < n; i++) {
		struct pst_lock *l = &th->locks[th->nlocks++];
		bool unwinder = false;

		*l = th->locks[i];
		if (site_of_stack(t, sym, l->first_stack, &l->first_use, &unwinder))
			return -ENOMEM;
		if (unwinder && !l->contended) {
			site_free(&l->first_use);
			th->nlocks--;
			continue;
		}
		for (size_t j = 0; j < l->ntop; j++)
			if (site_of_stack(t, sym, l->top[j].stack, &l->top[j].site, NULL)) {
				l->ntop = j + 1;
				return -ENOMEM;
			}
	}
	return 0;
}

static int build_locks(struct pst_threads *th, const struct pst_trace *t,
		       struct pst_symbolizer *sym, const struct collect *c)
{
	struct lock_accs accs = { NULL, 0 };
	size_t cap = 0;
	int rc = apply_lock_stats(th, &cap, c);

	/* Waits: per thread, and per lock and stack. A trace cut before the
	 * statistics were written still has its waits. */
	for (size_t i = 0; i < c->nwaits && !rc; i++) {
		charge_wait(th, &c->waits[i]);
		if (c->waits[i].obj)
			rc = note_lock_wait(th, &cap, c, &c->waits[i], &accs);
	}
	if (!rc) {
		rank_locks(th, &accs);
		rc = build_lock_sites(th, t, sym);
	}
	for (size_t i = 0; i < accs.n; i++)
		free(accs.v[i].v);
	free(accs.v);
	return rc;
}

static void collect_free(struct collect *c)
{
	free(c->waits);
	free(c->starts);
	free(c->ends);
	free(c->locks);
}

struct pst_threads *pst_threads_analyze(const struct pst_trace *t, struct pst_symbolizer *sym)
{
	struct pst_threads *th = calloc(1, sizeof(*th));
	struct collect c = { 0 };
	uint64_t t_start = t->proc.start_monotonic_ns, t_end;

	if (!th)
		return NULL;
	if (pst_trace_foreach(t, PST_REC_THR_START, PST_REC_THR_INFO, on_record, &c))
		goto oom;
	th->seen = c.nstarts || c.nends || c.nwaits || c.nlocks || c.info;
	t_end = t->end_ts > c.max_ts ? t->end_ts : c.max_ts;
	th->duration_ns = t_end > t_start ? t_end - t_start : 0;
	th->ncpu = c.ncpu;
	th->untracked_locks = c.untracked;
	th->created = c.nstarts;
	if (build_lives(th, t, &c, t_start, t_end))
		goto oom;
	lifetimes(th);
	peak_concurrent(th);
	th->creation_rate = th->duration_ns ? th->created / (th->duration_ns / 1e9) : 0;
	if (build_locks(th, t, sym, &c))
		goto oom;
	off_cpu_idle(th);
	if (build_groups(th, t, sym, &c))
		goto oom;
	collect_free(&c);
	return th;
oom:
	collect_free(&c);
	pst_threads_free(th);
	return NULL;
}

static int cmp_wait_stack(const void *a, const void *b)
{
	const struct wait_rec *x = a, *y = b;

	return x->stack < y->stack ? -1 : x->stack > y->stack;
}

int pst_threads_lock_waits(const struct pst_trace *t, pst_lock_wait_fn cb, void *arg)
{
	struct collect c = { 0 };
	size_t n = 0;
	int rc;

	rc = pst_trace_foreach(t, PST_REC_WAIT, PST_REC_WAIT, on_record, &c);
	if (rc)
		goto out;
	for (size_t i = 0; i < c.nwaits; i++)
		if (is_lock_wait(c.waits[i].kind))
			c.waits[n++] = c.waits[i];
	pst_sort(c.waits, n, sizeof(*c.waits), cmp_wait_stack);
	for (size_t i = 0, j; i < n && !rc; i = j) {
		uint64_t ns = 0;

		for (j = i; j < n && c.waits[j].stack == c.waits[i].stack; j++)
			ns += c.waits[j].wait_ns;
		rc = cb(c.waits[i].stack, ns, j - i, arg);
	}
out:
	collect_free(&c);
	return rc;
}

void pst_threads_free(struct pst_threads *th)
{
	if (!th)
		return;
	for (size_t i = 0; i < th->ngroups; i++) {
		free(th->groups[i].routine_name);
		free(th->groups[i].sizes);
		site_free(&th->groups[i].created_at);
	}
	for (size_t i = 0; i < th->nlocks; i++) {
		site_free(&th->locks[i].first_use);
		for (size_t j = 0; j < th->locks[i].ntop; j++)
			site_free(&th->locks[i].top[j].site);
	}
	free(th->groups);
	free(th->locks);
	free(th->threads);
	free(th);
}
