/* SPDX-License-Identifier: MIT */
/* The malloc family: exact per-thread counters on every call, events for recorded (or all, --full) blocks. */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "pst.h"
#include "sampler.h"

#define EXPORT __attribute__((visibility("default")))

static __attribute__((noinline)) void rec_alloc(struct pst_thr *t, void *p, size_t size,
						 unsigned kind, const void *cfa)
{
	bool on = pst_rec_enter(t);

	if (!pst_paused)
		pst_leakset_add(t, (uintptr_t)p, size);
	if (on && !pst_paused) {
		uint32_t id = pst_stack_capture_at(t, cfa);
		uint64_t dts;
		uint8_t *b = pst_ev_begin(t, &dts);

		t->pos = pst_enc_alloc(b, dts, (uintptr_t)p, size, id, kind);
	}
	pst_rec_leave(t);
}

static __attribute__((noinline)) void rec_free(struct pst_thr *t, void *p)
{
	bool on = pst_rec_enter(t);

	pst_leakset_del(t, (uintptr_t)p);
	if (on) {
		uint64_t dts;
		uint8_t *b = pst_ev_begin(t, &dts);

		t->pos = pst_enc_free(b, dts, (uintptr_t)p);
	}
	pst_rec_leave(t);
}

/* Paused: the old block's end is still written, so that what was recorded
 * before the pause is freed in the trace as in the program. */
static __attribute__((noinline)) void rec_realloc(struct pst_thr *t, void *old, void *p,
						   size_t size, const void *cfa)
{
	if (unlikely(pst_paused)) {
		rec_free(t, old);
		return;
	}
	bool on = pst_rec_enter(t);

	pst_leakset_del(t, (uintptr_t)old);
	pst_leakset_add(t, (uintptr_t)p, size);
	if (on) {
		uint32_t id = pst_stack_capture_at(t, cfa);
		uint64_t dts;
		uint8_t *b = pst_ev_begin(t, &dts);

		t->pos = pst_enc_realloc(b, dts, (uintptr_t)old, (uintptr_t)p, size, id);
	}
	pst_rec_leave(t);
}

/* Sampled mode: the countdown crossed zero. Record this block and draw the
 * next wait. A block whose bucket in the sampled set is full is not
 * recorded (counted exactly all the same). */
static __attribute__((noinline)) bool sample_hit(struct pst_thr *t, void *p, size_t size)
{
	t->countdown = pst_sample_interval(&t->rng, pst_cfg.sample_bytes);
	return !pst_paused && pst_sampled_add((uintptr_t)p, size);
}

/* This thread's state when its calls are to be counted: not from inside
 * the profiler, and not before the thread could be registered. */
static inline struct pst_thr *counting_thr(void)
{
	return unlikely(pst_guard) ? NULL : pst_thr();
}

/* by_kind[PST_KIND_MALLOC] is not counted here: TOTALS derives it from
 * alloc_calls, one add less on the hottest path. */
static inline void count_alloc(struct pst_thr *t, size_t size, unsigned kind)
{
	t->alloc_calls++;
	if (kind != PST_KIND_MALLOC)
		t->by_kind[kind]++;
	t->alloc_bytes += size;
	t->hist[pst_size_bucket(size)]++;
}

/* After the counters: record the block (--full), or run the sampling
 * countdown, one subtraction and a branch. */
static inline void after_count(struct pst_thr *t, void *p, size_t size, unsigned kind,
			       const void *cfa)
{
	t->last_alloc = (uintptr_t)p;
	if (unlikely(!p))
		return;
	if (t->full) {
		rec_alloc(t, p, size, kind, cfa);
	} else if (unlikely((t->countdown -= (int64_t)size) < 0)) {
		if (sample_hit(t, p, size))
			rec_alloc(t, p, size, kind, cfa);
	}
}

static inline void note_alloc(void *p, size_t size, unsigned kind, const void *cfa)
{
	struct pst_thr *t = counting_thr();

	if (unlikely(!t))
		return;
	count_alloc(t, size, kind);
	after_count(t, p, size, kind, cfa);
}

/* Before the real free: the address may be handed out again at once. In
 * sampled mode a block that was not sampled costs one byte read. */
static inline void note_free_thr(struct pst_thr *t, void *p)
{
	t->free_calls++;
	t->temporary += (uintptr_t)p == t->last_alloc;
	t->last_alloc = 0;
	if (t->full || unlikely(pst_sampled_take((uintptr_t)p)))
		rec_free(t, p);
}

static inline void note_free(void *p)
{
	struct pst_thr *t = counting_thr();

	if (likely(t))
		note_free_thr(t, p);
}

/* Not yet initialised, initialising, or off: no recording. While dlsym
 * resolves the real functions, serve it from the bootstrap arena. */
static __attribute__((noinline)) bool not_on(void)
{
	if (pst_state == PST_UNINIT)
		pst_init();
	return pst_state != PST_ON;
}

/*
 * malloc and free have a fast path for a thread that is registered and not
 * inside the profiler (about 20 instructions each, all thread-local), and
 * a slow path for everything else: start-up, a new thread, the profiler's
 * own allocations.
 */
static __attribute__((noinline)) void *malloc_slow(size_t size, const void *cfa)
{
	void *p;

	if (pst_state != PST_ON && not_on())
		return pst_real.malloc ? pst_real.malloc(size) : pst_boot_alloc(size, 16);
	p = pst_real.malloc(size);
	note_alloc(p, size, PST_KIND_MALLOC, cfa);
	return p;
}

/* The block is needed after the call: each thread counts the frees of the
 * very block it allocated last (its temporaries, sampled mode too), so the
 * call cannot be a jump to the C library's malloc. */
EXPORT void *malloc(size_t size)
{
	struct pst_thr *t = pst_self;
	void *p;

	if (unlikely(!t || pst_guard))
		return malloc_slow(size, __builtin_dwarf_cfa());
	p = pst_real.malloc(size);
	count_alloc(t, size, PST_KIND_MALLOC);
	after_count(t, p, size, PST_KIND_MALLOC, __builtin_dwarf_cfa());
	return p;
}

static __attribute__((noinline)) void free_slow(void *p)
{
	if (!p || pst_boot_owns(p))
		return;
	if (pst_state != PST_ON && not_on()) {
		if (pst_real.free)
			pst_real.free(p);
		return;
	}
	note_free(p);
	pst_real.free(p);
}

EXPORT void free(void *p)
{
	struct pst_thr *t = pst_self;

	if (unlikely(!t || pst_guard || !p || pst_boot_owns(p))) {
		free_slow(p);
		return;
	}
	note_free_thr(t, p);
	pst_real.free(p);
}

EXPORT void *calloc(size_t n, size_t size)
{
	size_t total;
	void *p;

	if (__builtin_mul_overflow(n, size, &total))
		total = 0;
	if (unlikely(pst_state != PST_ON) && not_on())
		return pst_real.calloc ? pst_real.calloc(n, size) : pst_boot_alloc(total, 16);
	p = pst_real.calloc(n, size);
	note_alloc(p, total, PST_KIND_CALLOC, __builtin_dwarf_cfa());
	return p;
}

/* A block from the bootstrap arena is moved out to a real one. */
static void *boot_realloc(void *old, size_t size)
{
	size_t have = pst_boot_size(old);
	void *p = pst_real.malloc ? pst_real.malloc(size) : pst_boot_alloc(size, 16);

	if (p)
		memcpy(p, old, have < size ? have : size);
	return p;
}

/* A move is a free of the old block and an allocation of the new one, as
 * for the temporaries heaptrack counts; a failed one is neither. */
static inline void realloc_last(struct pst_thr *t, void *old, void *p)
{
	if (!p)
		return;
	if (old)
		t->temporary += (uintptr_t)old == t->last_alloc;
	t->last_alloc = (uintptr_t)p;
}

/* Shared by realloc and reallocarray once the size is known. */
static void *do_realloc(void *old, size_t size, void *(*real)(void *, size_t),
			const void *cfa)
{
	struct pst_thr *t;
	bool tracked = false, sampled;
	void *p;

	if (old && size == 0) { /* realloc(p, 0) frees p */
		note_free(old);
		return real(old, size);
	}
	if (!(t = counting_thr()))
		return real(old, size);
	count_alloc(t, size, PST_KIND_REALLOC);
	if (pst_cfg.full) {
		p = real(old, size);
		realloc_last(t, old, p);
		if (p && old)
			rec_realloc(t, old, p, size, cfa);
		else if (p)
			rec_alloc(t, p, size, PST_KIND_REALLOC, cfa);
		return p;
	}
	if (old)
		tracked = pst_sampled_take((uintptr_t)old);
	sampled = unlikely((t->countdown -= (int64_t)size) < 0);
	p = real(old, size);
	realloc_last(t, old, p);
	if (!p) {
		if (tracked)
			pst_sampled_add((uintptr_t)old, 0); /* its size unknown: its start only */
		return p;
	}
	if (sampled)
		sampled = sample_hit(t, p, size);
	if (tracked && sampled)
		rec_realloc(t, old, p, size, cfa);
	else if (tracked)
		rec_free(t, old);
	else if (sampled)
		rec_alloc(t, p, size, PST_KIND_REALLOC, cfa);
	return p;
}

EXPORT void *realloc(void *old, size_t size)
{
	if (unlikely(old && pst_boot_owns(old)))
		return boot_realloc(old, size);
	if (unlikely(pst_state != PST_ON) && not_on())
		return pst_real.realloc ? pst_real.realloc(old, size) : NULL;
	return do_realloc(old, size, pst_real.realloc, __builtin_dwarf_cfa());
}

EXPORT void *reallocarray(void *old, size_t n, size_t size)
{
	size_t total;

	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	if (unlikely(old && pst_boot_owns(old)))
		return boot_realloc(old, total);
	if (unlikely(pst_state != PST_ON) && not_on())
		return pst_real.reallocarray ? pst_real.reallocarray(old, n, size) : NULL;
	/* the C library's reallocarray calls realloc through the PLT, which
	 * would count the call twice: the overflow is checked, call realloc */
	return do_realloc(old, total, pst_real.realloc, __builtin_dwarf_cfa());
}

EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
	int err;

	if (unlikely(pst_state != PST_ON) && not_on()) {
		if (pst_real.posix_memalign)
			return pst_real.posix_memalign(out, align, size);
		*out = pst_boot_alloc(size, align);
		return *out ? 0 : ENOMEM;
	}
	err = pst_real.posix_memalign(out, align, size);
	note_alloc(err ? NULL : *out, size, PST_KIND_MEMALIGN, __builtin_dwarf_cfa());
	return err;
}

/* aligned_alloc, memalign, valloc and pvalloc share one shape. */
#define ALIGNED_HOOK(name, params, args, size, align)                                  \
	EXPORT void *name params                                                       \
	{                                                                              \
		void *p;                                                               \
		if (unlikely(pst_state != PST_ON) && not_on())                         \
			return pst_real.name ? pst_real.name args                      \
					     : pst_boot_alloc(size, align);            \
		p = pst_real.name args;                                                \
		note_alloc(p, size, PST_KIND_MEMALIGN, __builtin_dwarf_cfa());         \
		return p;                                                              \
	}

ALIGNED_HOOK(aligned_alloc, (size_t align, size_t size), (align, size), size, align)
ALIGNED_HOOK(memalign, (size_t align, size_t size), (align, size), size, align)
ALIGNED_HOOK(valloc, (size_t size), (size), size, 4096)
ALIGNED_HOOK(pvalloc, (size_t size), (size), size, 4096)
