/* SPDX-License-Identifier: MIT */
/* The process-wide lock table: per-lock counts, contention and first use, keyed by address, without a lock. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pst.h"
#include "sampler.h"

/*
 * Open addressing over mmap'd memory. A thread claims an empty entry by a
 * compare-and-swap on its address; the counters are atomic adds. Threads
 * reach the table only on a miss in their own cache of locks (a new lock,
 * or one evicted by another) and when a lock was contended, so an
 * uncontended lock that a thread keeps using never touches shared memory.
 * A full neighbourhood drops the lock (counted in THR_INFO).
 */
#define TAB_BITS 16
#define TAB_SIZE (1u << TAB_BITS)
#define MAX_PROBE 64

struct lock_ent {
	uintptr_t addr; /* 0: empty */
	uint32_t kind, first_stack;
	uint64_t first_ts;
	uint64_t acq, reads, contended, wait_ns, max_wait_ns;
	uint32_t max_stack; /* the stack of the longest wait */
	uint32_t pad;
};

static struct lock_ent *tab;
static uint64_t untracked;
uint64_t pst_lock_wait_ns;

static struct lock_ent *tab_get(void)
{
	struct lock_ent *t = __atomic_load_n(&tab, __ATOMIC_ACQUIRE), *m;

	if (likely(t))
		return t;
	m = mmap(NULL, TAB_SIZE * sizeof(*m), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	if (!__atomic_compare_exchange_n(&tab, &t, m, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		munmap(m, TAB_SIZE * sizeof(*m));
		return t;
	}
	return m;
}

static uint32_t hash_addr(uintptr_t a)
{
	uint64_t h = (uint64_t)a * 0x9E3779B97F4A7C15ull;

	return (uint32_t)(h >> (64 - TAB_BITS));
}

/* The entry of addr, created on first use; *created tells which. Returns
 * its index, or UINT32_MAX when the table has no room for it. */
static uint32_t ent_find(uintptr_t addr, unsigned kind, bool *created)
{
	struct lock_ent *t = tab_get();
	uint32_t h = hash_addr(addr);

	*created = false;
	if (!t)
		return UINT32_MAX;
	for (uint32_t i = 0; i < MAX_PROBE; i++) {
		uint32_t k = (h + i) & (TAB_SIZE - 1);
		uintptr_t cur = __atomic_load_n(&t[k].addr, __ATOMIC_ACQUIRE);

		if (cur == addr)
			return k;
		if (cur)
			continue;
		if (__atomic_compare_exchange_n(&t[k].addr, &cur, addr, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			t[k].kind = kind == PST_WAIT_RDLOCK ? PST_WAIT_WRLOCK : kind;
			t[k].first_ts = pst_now();
			*created = true;
			return k;
		}
		if (cur == addr)
			return k;
	}
	__atomic_fetch_add(&untracked, 1, __ATOMIC_RELAXED);
	return UINT32_MAX;
}

/* A lock's first use: the stack that touched it first. */
static void first_use(struct pst_thr *t, uint32_t k)
{
	if (pst_rec_enter(t))
		tab[k].first_stack = pst_stack_capture(t);
	pst_rec_leave(t);
}

static void slot_fold(struct pst_lock_slot *s)
{
	uint64_t n = s->n;

	s->n = 0;
	if (!n || !s->key || s->ent == UINT32_MAX || !tab)
		return;
	__atomic_fetch_add(&tab[s->ent].acq, n, __ATOMIC_RELAXED);
	if (s->key & 1)
		__atomic_fetch_add(&tab[s->ent].reads, n, __ATOMIC_RELAXED);
}

/* The slow path of pst_lock_count: a lock this thread's cache does not
 * hold. The slot's old lock is folded into the table and the slot reused. */
void pst_locks_miss(struct pst_thr *t, struct pst_lock_slot *s, uintptr_t key, unsigned kind)
{
	int saved = errno;
	bool created;
	uint32_t k;

	slot_fold(s);
	k = ent_find(key & ~(uintptr_t)1, kind, &created);
	s->key = key;
	s->ent = k;
	s->n = 1;
	if (created)
		first_use(t, k);
	errno = saved;
}

/* Where the longest waits of a lock come from: keep the stack of the
 * largest one (racy between threads, as a maximum may be). */
static void note_max(struct lock_ent *e, uint64_t w, uint32_t stack)
{
	uint64_t cur = __atomic_load_n(&e->max_wait_ns, __ATOMIC_RELAXED);

	while (w > cur) {
		if (__atomic_compare_exchange_n(&e->max_wait_ns, &cur, w, false, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED)) {
			e->max_stack = stack;
			return;
		}
	}
}

/* monitoring.sample_rate: keep this WAIT record? Only contended locks are
 * sampled (one draw from the thread's generator); cond, semaphore and join
 * waits, which the pool findings count, are always kept. */
static inline bool wait_kept(struct pst_thr *t, unsigned kind)
{
	if (likely(!pst_cfg.wait_keep) || kind > PST_WAIT_SPIN)
		return true;
	return (uint32_t)(pst_rng_next(&t->rng) >> 32) < pst_cfg.wait_keep;
}

void pst_locks_wait(struct pst_thr *t, const void *obj, unsigned kind, uint32_t stack,
		    uint64_t t0, uint64_t t1, bool acquired)
{
	int saved = errno;
	uint64_t w = t1 - t0;

	/* the metrics textfile's lock wait: locks only, not idle waits */
	if (kind <= PST_WAIT_SPIN)
		__atomic_fetch_add(&pst_lock_wait_ns, w, __ATOMIC_RELAXED);
	if (obj) {
		bool created;
		uint32_t k = ent_find((uintptr_t)obj, kind, &created);

		if (created)
			first_use(t, k);
		if (k != UINT32_MAX) {
			struct lock_ent *e = &tab[k];

			if (acquired || kind == PST_WAIT_COND)
				__atomic_fetch_add(&e->contended, 1, __ATOMIC_RELAXED);
			__atomic_fetch_add(&e->wait_ns, w, __ATOMIC_RELAXED);
			note_max(e, w, stack);
		}
		/* a cond wait is not an acquisition; a sem_wait is */
		if (acquired && kind != PST_WAIT_COND)
			pst_lock_count(t, obj, kind);
	}
	/* paused, or not in the sample: the lock table above still counts it */
	if (pst_rec_enter(t) && !pst_paused && wait_kept(t, kind))
		t->pos = pst_enc_wait(pst_thr_room(t, PST_THR_EVENT_MAX), t1, (uintptr_t)obj, kind, w,
				      stack, acquired ? 0 : PST_WAIT_TIMEDOUT);
	pst_rec_leave(t);
	errno = saved;
}

/* Owner, exit flusher or recycler only. */
void pst_locks_fold(struct pst_thr *t)
{
	for (int i = 0; i < PST_LOCK_SLOTS; i++)
		slot_fold(&t->lslot[i]);
}

/* Counts still cached by threads that run on while the process ends are
 * taken with them; their owners' increments may race with this. */
static void fold_running(struct pst_thr *t, void *arg)
{
	(void)arg;
	for (int i = 0; i < PST_LOCK_SLOTS; i++) {
		struct pst_lock_slot *s = &t->lslot[i];
		uint64_t n = __atomic_exchange_n(&s->n, 0, __ATOMIC_RELAXED);

		if (n && s->key && s->ent != UINT32_MAX && tab) {
			__atomic_fetch_add(&tab[s->ent].acq, n, __ATOMIC_RELAXED);
			if (s->key & 1)
				__atomic_fetch_add(&tab[s->ent].reads, n, __ATOMIC_RELAXED);
		}
	}
}

/* The CPU clock of any thread of this process, by its tid (the kernel's
 * encoding, as pthread_getcpuclockid makes it). */
static uint64_t thread_cpu_ns(uint64_t tid)
{
	struct timespec ts;
	clockid_t c = (clockid_t)((~(unsigned)tid << 3) | 6);

	if (clock_gettime(c, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool pst_thread_runnable(uint64_t tid, uint64_t *ns)
{
	char path[64], buf[96], *p;

	snprintf(path, sizeof(path), "/proc/self/task/%llu/schedstat", (unsigned long long)tid);
	if (!pst_read_proc(path, buf, sizeof(buf)))
		return false;
	/* "CPU-ns run-delay-ns timeslices" */
	strtoull(buf, &p, 10);
	if (*p != ' ')
		return false;
	*ns = strtoull(p + 1, NULL, 10);
	return true;
}

struct live_arg {
	struct pst_thr *self;
	uint64_t now;
};

/* Threads that have not ended: THR_END with their CPU time so far, into
 * the calling thread's buffer (the others' are still theirs). */
static void end_live(struct pst_thr *t, void *arg)
{
	struct live_arg *a = arg;

	if (t->exited || t->thr_ended)
		return;
	uint64_t runnable = 0;
	uint64_t flags = PST_THR_END_ALIVE |
			 (pst_thread_runnable(t->tid, &runnable) ? PST_THR_END_RUNNABLE : 0);

	t->thr_ended = 1;
	a->self->pos = pst_enc_thr_end(pst_thr_room(a->self, PST_THR_EVENT_MAX), t->tid, a->now,
				       thread_cpu_ns(t->tid), flags, runnable);
}

/*
 * At the end of the process image: every lock's statistics, the machine's
 * CPUs, and the threads still running. Statistics are cumulative: a reader
 * keeps the last LOCK_STATS of each lock.
 */
void pst_locks_emit(void)
{
	struct pst_thr *self = pst_self ? pst_self : pst_thr();
	struct live_arg la;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int saved = errno;

	if (!self)
		return;
	if (pst_rec_enter(self)) {
		pst_thr_foreach(fold_running, NULL);
		la.self = self;
		la.now = pst_now();
		pst_thr_foreach(end_live, &la);
		for (uint32_t k = 0; tab && k < TAB_SIZE; k++) {
			struct lock_ent *e = &tab[k];

			if (!e->addr || (!e->acq && !e->contended))
				continue;
			self->pos = pst_enc_lock_stats(pst_thr_room(self, PST_LOCK_STATS_MAX),
						       e->addr, e->kind, e->first_stack,
						       e->first_ts, e->acq, e->reads,
						       e->contended, e->wait_ns, e->max_wait_ns,
						       e->max_stack);
		}
		self->pos = pst_enc_thr_info(pst_thr_room(self, PST_THR_EVENT_MAX),
					     ncpu > 0 ? (uint64_t)ncpu : 0, untracked);
	}
	pst_rec_leave(self);
	errno = saved;
}

/* A forked child counts its own locks from zero. */
void pst_locks_after_fork(void)
{
	if (tab)
		munmap(tab, TAB_SIZE * sizeof(*tab));
	tab = NULL;
	untracked = 0;
	if (pst_self)
		memset(pst_self->lslot, 0, sizeof(pst_self->lslot));
}
