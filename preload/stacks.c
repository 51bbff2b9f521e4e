/* SPDX-License-Identifier: MIT */
/* Stack capture with libunwind, deduplicated through per-thread caches and the stack table. */
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <pthread.h>

#include "pst.h"
#include "stacktab.h"

void pst_stacks_init(void)
{
	unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
	pst_stacktab_init();
}

/* New stack: the modules its frames lie in are written first, then the
 * STACK, both into this thread's buffer. */
static __attribute__((noinline)) uint32_t insert(struct pst_thr *t, uint64_t h,
						  const uint64_t *f, unsigned depth)
{
	bool added;
	uint32_t id;

	pst_modules_cover(t, f, depth);
	id = pst_stacktab_add(h, f, depth, &added);
	if (added)
		t->pos = pst_enc_stack(pst_thr_room(t, pst_stack_rec_max(depth)), id, f, depth);
	return id;
}

/* The id of frames f: the per-thread cache of frame hashes, then the table. */
static uint32_t stack_id(struct pst_thr *t, const uint64_t *f, unsigned depth)
{
	uint64_t h = pst_stacktab_hash(f, depth);
	uint32_t id, slot = h & 255;

	if (t->cache_hash[slot] == h)
		return t->cache_id[slot];
	id = pst_stacktab_find(h, f, depth);
	if (!id)
		id = insert(t, h, f, depth);
	if (id) {
		t->cache_hash[slot] = h;
		t->cache_id[slot] = id;
	}
	return id;
}

/*
 * The stack of the allocation being recorded, innermost first, without the
 * preload's own frames. libunwind's fast trace over cached unwind tables.
 */
uint32_t pst_stack_capture(struct pst_thr *t)
{
	void *raw[PST_MAX_DEPTH + 8];
	uint64_t f[PST_MAX_DEPTH + 8];
	int n = unw_backtrace(raw, PST_MAX_DEPTH + 8);
	unsigned skip = 0, depth = 0;

	while (skip < (unsigned)n && pst_modules_own((uintptr_t)raw[skip]))
		skip++;
	for (unsigned i = skip; i < (unsigned)n && depth < PST_MAX_DEPTH; i++)
		f[depth++] = (uintptr_t)raw[i];
	return stack_id(t, f, depth);
}

/* Where return addresses may be read: this thread's own stack. A program
 * that runs on stacks of its own (coroutines, sigaltstack) gets no cache
 * there, never a read of memory that may be gone. */
static void stack_bounds(struct pst_thr *t)
{
	pthread_attr_t a;
	void *addr;
	size_t size;

	t->stack_lo = t->stack_hi = 1; /* unknown: no cache */
	if (pthread_getattr_np(pthread_self(), &a))
		return;
	if (!pthread_attr_getstack(&a, &addr, &size)) {
		t->stack_lo = (uintptr_t)addr;
		t->stack_hi = (uintptr_t)addr + size;
	}
	pthread_attr_destroy(&a);
}

/* Frames and the stack pointer of each, by stepping; the return address
 * of frame i was read from sp[i] - 8 (x86-64: the call pushes it there). */
static unsigned unwind_with_sp(uint64_t *ip, uint64_t *sp)
{
	unw_context_t uc;
	unw_cursor_t c;
	unsigned n = 0;
	bool own = true;

	if (unw_getcontext(&uc) || unw_init_local(&c, &uc))
		return 0;
	while (n < PST_MAX_DEPTH) {
		unw_word_t pc, s;

		if (unw_get_reg(&c, UNW_REG_IP, &pc) || !pc || unw_get_reg(&c, UNW_REG_SP, &s))
			break;
		if (!own || !pst_modules_own(pc)) {
			own = false;
			ip[n] = pc;
			sp[n++] = s;
		}
		if (unw_step(&c) <= 0)
			break;
	}
	return n;
}

static struct pst_scache *scache_slot(struct pst_thr *t, uint64_t ra, uintptr_t cfa)
{
	return &t->scache[((ra ^ (cfa >> 4)) * 0x9E3779B97F4A7C15ull) >> (64 - 5)];
}

/*
 * The same call site at the same stack depth almost always has the same
 * callers. The check is exact all the same: frame i's return address must
 * still be in its slot on the stack, for every frame. A caller that changed
 * has written its own return address there.
 */
static bool scache_valid(const struct pst_scache *e, uint64_t ra, uintptr_t cfa)
{
	if (e->ra != ra || e->cfa != cfa || !e->depth)
		return false;
	for (unsigned i = 1; i < e->depth; i++)
		if (*(const uint64_t *)(uintptr_t)(e->sp[i] - 8) != e->frame[i])
			return false;
	return true;
}

uint32_t pst_stack_capture_at(struct pst_thr *t, const void *cfa_p)
{
	uintptr_t cfa = (uintptr_t)cfa_p;
	uint64_t ra = *((const uint64_t *)cfa_p - 1);
	struct pst_scache *e;
	unsigned depth;
	bool cacheable;

	if (unlikely(!t->stack_hi))
		stack_bounds(t);
	if (cfa <= t->stack_lo || cfa >= t->stack_hi || !pst_cfg.stack_cache)
		return pst_stack_capture(t);
	e = scache_slot(t, ra, cfa);
	if (scache_valid(e, ra, cfa))
		return e->id;

	depth = unwind_with_sp(e->frame, e->sp);
	/* cacheable when the walk started at this hook and stayed on this stack */
	cacheable = depth && e->frame[0] == ra && e->sp[0] == cfa;
	for (unsigned i = 1; cacheable && i < depth; i++)
		cacheable = e->sp[i] > cfa && e->sp[i] <= t->stack_hi;
	e->id = stack_id(t, e->frame, depth);
	e->ra = ra;
	e->cfa = cfa;
	e->depth = cacheable && e->id ? depth : 0;
	return e->id;
}

void pst_stacks_lock(bool lock)
{
	pst_stacktab_lock(lock);
}

/* A forked child's trace starts with no stacks: ids start over. */
void pst_stacks_reset(void)
{
	pst_stacktab_init();
}
