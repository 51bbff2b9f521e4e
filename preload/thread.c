/* SPDX-License-Identifier: MIT */
/* Per-thread recording state: registration, event buffers, TOTALS, and flushing at thread and process exit. */
#include <limits.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pst.h"
#include "sampler.h"

/*
 * Every thread that records owns a struct pst_thr and is its only writer.
 * The registry lists them so that exit can flush threads still running:
 * the flusher sets `stolen`, runs membarrier() so that every running owner
 * sees it or has published `in_use`, and waits for in_use to drop. The
 * owner's side is two plain stores and a load: no atomic instruction.
 */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile pid_t reg_owner; /* tid holding reg_lock, 0: none (for a signal handler) */
/* The owner's cancel state, put back as it drops the lock: a thread the
 * program cancels while the preload registers it (a cancellation point in
 * there: a write, an open) would otherwise end holding reg_lock, and every
 * thread after it wait for it forever (thr_behave under load did). */
static int reg_cancel;

static void reg_owned(void)
{
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &reg_cancel);
	reg_owner = (pid_t)syscall(SYS_gettid);
}

static void reg_take(void)
{
	pthread_mutex_lock(&reg_lock);
	reg_owned();
}

static bool reg_try(void)
{
	if (pthread_mutex_trylock(&reg_lock))
		return false;
	reg_owned();
	return true;
}

static void reg_drop(void)
{
	int cancel = reg_cancel;

	reg_owner = 0;
	pthread_mutex_unlock(&reg_lock);
	pthread_setcancelstate(cancel, NULL);
}
int pst_live_threads; /* registered threads that have not exited */
static struct pst_thr *reg_head;
static pthread_key_t thr_key;
static bool have_membarrier;

/* A struct whose thread exited this long ago is free for a new thread. */
#define RECYCLE_AFTER_NS 1000000000ull

static void thr_dtor(void *v);
static void thr_retire(struct pst_thr *t);

void pst_thr_setup(void)
{
	pthread_key_create(&thr_key, thr_dtor);
	have_membarrier = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0,
				  0) == 0;
}

/* The buffer in the struct itself (before a slot of the live file, or
 * without one). */
void pst_thr_private(struct pst_thr *t)
{
	t->live = &t->own_live;
	t->buf = t->own_buf;
	t->pos = t->buf;
	t->end = t->buf + PST_BUF_SIZE;
}

static void thr_reset(struct pst_thr *t, uint64_t now)
{
	t->pos = t->buf;
	t->end = t->buf + PST_BUF_SIZE;
	t->tid = (uint64_t)syscall(SYS_gettid);
	t->base_ts = t->last_ts = now;
	t->live->used = 0;
	t->live->base_ts = now;
	t->live->tid = t->tid;
	t->rng = (now ^ (t->tid << 32) ^ (uintptr_t)t) | 1;
	t->countdown = pst_sample_interval(&t->rng, pst_cfg.sample_bytes);
	t->full = pst_cfg.full;
	t->exited = 0;
	t->dtor_rounds = 0;
	t->stack_hi = 0; /* a recycled struct serves another thread's stack */
	t->scache_hits = t->scache_walks = 0;
	for (int i = 0; i < PST_SCACHE; i++)
		t->scache[i].depth = 0;
	t->stolen = 0;
	t->thr_ended = 0;
	t->sealed = 0;
}

/* Under reg_lock: a struct whose thread is long gone, its leftovers written. */
static struct pst_thr *thr_recycle(uint64_t now)
{
	for (struct pst_thr *t = reg_head; t; t = t->next) {
		if (t->exited && now - t->exit_ts > RECYCLE_AFTER_NS) {
			pst_thr_totals(t);
			pst_thr_flush(t);
			return t;
		}
	}
	return NULL;
}

static void thr_write_thread(struct pst_thr *t)
{
	char name[17] = "";

	prctl(PR_GET_NAME, name, 0, 0, 0); /* at most 16 bytes and a NUL */
	t->pos = pst_enc_thread(pst_thr_room(t, pst_var_rec_max(4, sizeof(name))), t->tid,
				(uint64_t)getpid() == t->tid ? 0 : (uint64_t)getpid(), t->last_ts,
				name);
}

/* Thread states take at most 3/4 of the memory cap (PRESTANDA_MAX_MEMORY);
 * a thread past it runs unrecorded, its calls uncounted. Under reg_lock. */
static uint64_t thr_mapped;

static bool thr_room(void)
{
	static const char msg[] = "prestanda: memory cap reached: threads started from now on are not recorded\n";
	static bool said;

	if ((thr_mapped + 1) * sizeof(struct pst_thr) <= pst_cfg.max_memory / 4 * 3 ||
	    !pst_cfg.max_memory)
		return true;
	if (!said)
		(void)!write(2, msg, sizeof(msg) - 1);
	said = true;
	return false;
}

struct pst_thr *pst_thr_slow(void)
{
	struct pst_thr *t;
	uint64_t now;

	if (pst_state != PST_ON || pst_guard)
		return NULL;
	pst_guard = 1;
	now = pst_now();
	reg_take();
	t = thr_recycle(now);
	if (!t && !thr_room()) {
		reg_drop();
		pst_guard = 0;
		return NULL;
	}
	if (!t) {
		t = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
		if (t == MAP_FAILED) {
			reg_drop();
			pst_guard = 0;
			return NULL;
		}
		t->next = reg_head;
		reg_head = t;
		thr_mapped++;
		pst_thr_private(t);
	}
	thr_reset(t, now);
	pst_live_attach(t);
	reg_drop();
	pthread_setspecific(thr_key, t);
	if (pst_rec_enter(t))
		thr_write_thread(t);
	pst_rec_leave(t);
	pst_self = t;
	__atomic_add_fetch(&pst_live_threads, 1, __ATOMIC_RELAXED);
	pst_cpu_thread_start(t);
	return t;
}

/* The buffer written (pack: compressed if it can be), or handed to the
 * writer (handed), and started again. */
static void thr_write(struct pst_thr *t, size_t n, bool pack, bool handed)
{
	if (!handed) {
		pst_zq_settle(t, pack); /* the block before this one, first */
		if (n && !pst_out_broken)
			pst_zw_write(t->tid, t->base_ts, t->buf, n, pack);
	}
	t->pos = t->buf;
	t->base_ts = t->last_ts;
	t->live->base_ts = t->base_ts;
	barrier();
	t->live->used = 0; /* a kill before this finds the block written: the reader skips it */
}

void pst_thr_flush(struct pst_thr *t)
{
	/* a sealed thread cannot write: a full buffer ends its recording (the
	 * event asking for room goes into the slack left past `end`), and what
	 * it holds is written at exit */
	if (unlikely(t->sealed) && t == pst_self) {
		t->stolen = 1;
		return;
	}
	thr_write(t, (size_t)(t->pos - t->buf), true, false);
}

/* The owner's buffer is full: to the writer thread (--full), else written
 * here, compressed as before when the writer is behind (a thread that
 * outruns the writer pays for its own packing rather than the disk). */
void pst_thr_flush_full(struct pst_thr *t)
{
	size_t n = (size_t)(t->pos - t->buf);
	int h;

	if (unlikely(t->sealed) || pst_out_broken) {
		pst_thr_flush(t);
		return;
	}
	h = pst_zq_hand(t, n);
	thr_write(t, n, h <= 0, h > 0);
}

/* This thread is about to make no system call any more (seccomp strict
 * mode): before, what it recorded is written; once it is so (now), the
 * buffer keeps room past its end for the one event that finds it full. */
void pst_thr_seal(struct pst_thr *t, bool now)
{
	if (now) {
		t->end = t->buf + PST_BUF_SIZE - PST_SEAL_SLACK;
		t->sealed = 1;
		return;
	}
	if (pst_rec_enter(t))
		pst_thr_flush(t);
	pst_rec_leave(t);
}

/* Counts of threads whose TOTALS are written, for the process's running
 * figures; added to once per thread, never on the fast path. */
static uint64_t retired_alloc_calls, retired_free_calls, retired_alloc_bytes;

void pst_thr_counters(uint64_t *alloc_calls, uint64_t *free_calls, uint64_t *alloc_bytes)
{
	reg_take();
	*alloc_calls = __atomic_load_n(&retired_alloc_calls, __ATOMIC_RELAXED);
	*free_calls = __atomic_load_n(&retired_free_calls, __ATOMIC_RELAXED);
	*alloc_bytes = __atomic_load_n(&retired_alloc_bytes, __ATOMIC_RELAXED);
	/* the owners' counters are read as they run: a snapshot may be a few
	 * calls behind, never ahead */
	for (struct pst_thr *t = reg_head; t; t = t->next) {
		*alloc_calls += t->alloc_calls;
		*free_calls += t->free_calls;
		*alloc_bytes += t->alloc_bytes;
	}
	reg_drop();
}

void pst_thr_totals(struct pst_thr *t)
{
	uint8_t pay[(8 + PST_KIND_COUNT + PST_HIST_BUCKETS) * PST_VARINT_MAX], *q = pay;

	pst_locks_fold(t);
	if (!t->alloc_calls && !t->free_calls)
		return;
	q = pst_put_varint(q, t->tid);
	q = pst_put_varint(q, t->alloc_calls);
	q = pst_put_varint(q, t->free_calls);
	q = pst_put_varint(q, t->alloc_bytes);
	t->by_kind[PST_KIND_MALLOC] = t->alloc_calls;
	for (int k = 1; k < PST_KIND_COUNT; k++)
		t->by_kind[PST_KIND_MALLOC] -= t->by_kind[k];
	for (int k = 0; k < PST_KIND_COUNT; k++)
		q = pst_put_varint(q, t->by_kind[k]);
	q = pst_put_varint(q, PST_HIST_BUCKETS);
	for (int b = 0; b < PST_HIST_BUCKETS; b++)
		q = pst_put_varint(q, t->hist[b]);
	q = pst_put_varint(q, 1);
	q = pst_put_varint(q, t->temporary);
	t->pos = pst_enc_framed(pst_thr_room(t, sizeof(pay) + 1 + PST_VARINT_MAX),
				PST_REC_TOTALS, pay, (size_t)(q - pay));
	__atomic_add_fetch(&retired_alloc_calls, t->alloc_calls, __ATOMIC_RELAXED);
	__atomic_add_fetch(&retired_free_calls, t->free_calls, __ATOMIC_RELAXED);
	__atomic_add_fetch(&retired_alloc_bytes, t->alloc_bytes, __ATOMIC_RELAXED);
	t->alloc_calls = t->free_calls = t->alloc_bytes = t->temporary = 0;
	memset(t->by_kind, 0, sizeof(t->by_kind));
	memset(t->hist, 0, sizeof(t->hist));
}

/*
 * Thread exit. Other keys' destructors may still free memory after ours,
 * so ours asks to be called again until the last round, then writes.
 * Whatever the thread does after that stays in its buffer and is written
 * when the struct is recycled or the process ends.
 */
static void thr_dtor(void *v)
{
	struct pst_thr *t = v;

	if (++t->dtor_rounds < PTHREAD_DESTRUCTOR_ITERATIONS) {
		pthread_setspecific(thr_key, t);
		return;
	}
	thr_retire(t);
}

/* A thread leaving by the exit system call (hook_sandbox.c) skips the
 * destructors: its end is written here, and the struct retired. */
void pst_thr_raw_exit(struct pst_thr *t)
{
	pst_thread_end(t, pst_now(), 0);
	pthread_setspecific(thr_key, NULL);
	thr_retire(t);
	pst_self = NULL;
	pst_guard = 1; /* nothing of this thread is recorded after this */
}

static void thr_retire(struct pst_thr *t)
{
	pst_cpu_thread_exit(t);
	pst_guard = 1;
	t->in_use = 1;
	barrier();
	if (!t->stolen && !pst_out_broken) {
		pst_thr_totals(t);
		pst_thr_flush(t);
	}
	t->exit_ts = pst_now();
	barrier();
	t->in_use = 0;
	t->exited = 1;
	__atomic_sub_fetch(&pst_live_threads, 1, __ATOMIC_RELAXED);
	pst_guard = 0;
}

static void all_threads_barrier(void)
{
	if (!have_membarrier ||
	    syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0)
		syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Wait for an owner to leave its buffer; a thread stuck in there for a
 * second (stopped by a debugger, say) is skipped rather than waited for. */
static bool thr_wait_idle(struct pst_thr *t)
{
	struct timespec ms = { 0, 1000000 };

	for (int i = 0; i < 1000; i++) {
		if (!t->in_use)
			return true;
		nanosleep(&ms, NULL);
	}
	return false;
}

/* From a signal handler: the registry lock, unless this thread holds it
 * (the handler interrupted it) or its holder does not let go within a
 * second (the timer thread holds it for a flush of microseconds). */
static bool flush_lock(void)
{
	struct timespec ms = { 0, 1000000 };

	for (int i = 0; i < 1000; i++) {
		if (reg_try())
			return true;
		if (reg_owner == (pid_t)syscall(SYS_gettid))
			return false;
		nanosleep(&ms, NULL);
	}
	return false;
}

/* try_lock: from a signal handler, which may have interrupted the holder;
 * then only this thread's buffer is written. */
void pst_thr_flush_all(bool resume, bool try_lock)
{
	struct pst_thr *self = pst_self;

	if (try_lock && !flush_lock()) {
		if (self && !self->borrowed) {
			pst_thr_totals(self);
			pst_thr_flush(self);
		}
		return;
	}
	if (!try_lock)
		reg_take();
	for (struct pst_thr *t = reg_head; t; t = t->next)
		if (t != self)
			t->stolen = 1;
	all_threads_barrier();
	for (struct pst_thr *t = reg_head; t; t = t->next) {
		if (t != self && !thr_wait_idle(t))
			continue;
		pst_thr_totals(t);
		pst_thr_flush(t);
	}
	if (resume)
		for (struct pst_thr *t = reg_head; t; t = t->next)
			t->stolen = 0;
	reg_drop();
}

/* The owner found its buffer borrowed: step out until it is back. */
void pst_rec_wait(struct pst_thr *t)
{
	while (t->borrowed) {
		t->in_use = 0;
		while (__atomic_load_n(&t->borrowed, __ATOMIC_ACQUIRE))
			sched_yield();
		t->in_use = 1;
		barrier();
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	}
}

/*
 * The timer thread writes out what every buffer holds, so that a process
 * killed without warning loses at most one interval. Same protocol as at
 * exit, but the buffer is only borrowed: its owner waits (microseconds) in
 * pst_rec_enter instead of losing events.
 */
void pst_thr_flush_pending(void)
{
	bool any = false, live;

	reg_take();
	live = pst_live_make();
	for (struct pst_thr *t = reg_head; t; t = t->next)
		if (t->pos != t->buf && !t->stolen && !t->sealed) {
			t->borrowed = 1;
			any = true;
		}
	if (any) {
		all_threads_barrier();
		for (struct pst_thr *t = reg_head; t; t = t->next) {
			if (!t->borrowed)
				continue;
			/* written and empty: a thread still in its own memory
			 * (the live file made at this first flush) moves in */
			if (thr_wait_idle(t)) {
				pst_thr_flush(t);
				if (live && t->pos == t->buf)
					pst_live_attach(t);
			}
			__atomic_store_n(&t->borrowed, 0, __ATOMIC_RELEASE);
		}
	}
	reg_drop();
}

void pst_thr_lock_registry(bool lock)
{
	if (lock)
		reg_take();
	else
		reg_drop();
}

void pst_thr_foreach(void (*fn)(struct pst_thr *t, void *arg), void *arg)
{
	reg_take();
	for (struct pst_thr *t = reg_head; t; t = t->next)
		fn(t, arg);
	reg_drop();
}

void pst_thr_quiet_foreach(void (*fn)(struct pst_thr *t, void *arg), void *arg)
{
	struct pst_thr *self = pst_self;

	reg_take();
	for (struct pst_thr *t = reg_head; t; t = t->next)
		t->borrowed = t != self;
	all_threads_barrier();
	for (struct pst_thr *t = reg_head; t; t = t->next) {
		if (t == self || thr_wait_idle(t))
			fn(t, arg);
		__atomic_store_n(&t->borrowed, 0, __ATOMIC_RELEASE);
	}
	reg_drop();
}

/* Counters and caches from zero: a new trace, whose stack ids start over. */
static void thr_zero(struct pst_thr *t)
{
	t->alloc_calls = t->free_calls = t->alloc_bytes = t->temporary = 0;
	t->last_alloc = 0;
	memset(t->by_kind, 0, sizeof(t->by_kind));
	memset(t->hist, 0, sizeof(t->hist));
	memset(t->cache_hash, 0, sizeof(t->cache_hash));
	memset(t->scache, 0, sizeof(t->scache)); /* ids start over */
	memset(t->lslot, 0, sizeof(t->lslot));  /* the lock table too */
}

/* In a forked child only the calling thread survives; the others' structs
 * are unmapped and this one starts empty: its events so far belong to the
 * parent's trace. */
void pst_thr_after_fork(void)
{
	struct pst_thr *self = pst_self, *t, *next;

	pthread_mutex_init(&reg_lock, NULL);
	reg_owner = 0;
	/* the slots are the parent's file: never write there */
	for (t = reg_head; t; t = next) {
		next = t->next;
		pst_live_detach(t);
		if (t != self)
			munmap(t, sizeof(*t));
	}
	pst_live_after_fork();
	reg_head = self;
	pst_live_threads = self ? 1 : 0;
	thr_mapped = self ? 1 : 0;
	if (!self)
		return;
	self->next = NULL;
	thr_reset(self, pst_now());
	thr_zero(self);
}

/*
 * `prestanda attach` again after a detach: every thread still registered
 * starts a new trace, as a forked child's one thread does. Nothing calls
 * into us meanwhile (the relocation entries are the program's again);
 * each buffer was written out at the detach, and its live slot was in
 * the last trace's file.
 */
void pst_thr_restart(void)
{
	uint64_t now = pst_now();

	reg_take();
	for (struct pst_thr *t = reg_head; t; t = t->next) {
		uint64_t tid = t->tid;

		pst_live_detach(t);
		if (t->exited)
			continue;
		thr_reset(t, now);
		t->tid = t->live->tid = tid; /* thr_reset took the caller's */
		thr_zero(t);
	}
	reg_drop();
}

/* Then, the new trace open: slots in its live file, and our THREAD. */
void pst_thr_restart_open(void)
{
	reg_take();
	for (struct pst_thr *t = reg_head; t; t = t->next)
		if (!t->exited)
			pst_live_attach(t);
	reg_drop();
	if (pst_self)
		thr_write_thread(pst_self);
}

/* The forked child's first records, once its trace is open. */
void pst_thr_after_fork_open(void)
{
	if (!pst_self)
		return;
	pst_live_attach(pst_self);
	thr_write_thread(pst_self);
}
