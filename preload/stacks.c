/* SPDX-License-Identifier: MIT */
/* Stack capture with libunwind, deduplicated through a per-thread cache and the stack table. */
#define UNW_LOCAL_ONLY
#include <libunwind.h>

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

/*
 * The stack of the allocation being recorded, innermost first, without the
 * preload's own frames. A per-thread cache keyed by the frames' hash skips
 * the table for stacks this thread has seen.
 */
uint32_t pst_stack_capture(struct pst_thr *t)
{
	void *raw[PST_MAX_DEPTH + 8];
	uint64_t f[PST_MAX_DEPTH + 8];
	int n = unw_backtrace(raw, PST_MAX_DEPTH + 8);
	unsigned skip = 0, depth = 0;
	uint64_t h;
	uint32_t id, slot;

	while (skip < (unsigned)n && pst_modules_own((uintptr_t)raw[skip]))
		skip++;
	for (unsigned i = skip; i < (unsigned)n && depth < PST_MAX_DEPTH; i++)
		f[depth++] = (uintptr_t)raw[i];
	h = pst_stacktab_hash(f, depth);
	slot = h & 255;
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

void pst_stacks_lock(bool lock)
{
	pst_stacktab_lock(lock);
}

/* A forked child's trace starts with no stacks: ids start over. */
void pst_stacks_reset(void)
{
	pst_stacktab_init();
}
