/* SPDX-License-Identifier: MIT */
/* Stack capture with libunwind and the process-wide table that gives each distinct stack one id. */
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <pthread.h>
#include <sys/mman.h>

#include "pst.h"

/*
 * Lookups are lock-free: an entry's frames and id are written before its
 * hash is published with release order, and a reader that sees the hash
 * sees them. Inserts, rare (new stacks only), take the mutex.
 */
#define TAB_BITS 18
#define TAB_SIZE (1u << TAB_BITS)
#define TAB_LIMIT (TAB_SIZE / 4 * 3)
#define ARENA_BYTES (512ull << 20) /* virtual; pages are touched as stacks arrive */

struct entry {
	uint64_t hash;  /* 0: empty */
	uint32_t id;
	uint32_t off;   /* frames at arena[off]: depth, then the frames */
};

static struct entry *tab;
static uint64_t *arena;
static uint64_t arena_used;  /* in u64 words */
static uint32_t next_id = 1;
static pthread_mutex_t tab_lock = PTHREAD_MUTEX_INITIALIZER;

static void *map(size_t bytes)
{
	void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return m == MAP_FAILED ? NULL : m;
}

void pst_stacks_init(void)
{
	unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
	tab = map(TAB_SIZE * sizeof(*tab));
	arena = map(ARENA_BYTES);
	if (!tab || !arena)
		tab = NULL;
}

static uint64_t hash_frames(const uint64_t *f, unsigned depth)
{
	uint64_t h = depth * 0x9E3779B97F4A7C15ull;

	for (unsigned i = 0; i < depth; i++) {
		h ^= f[i];
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	return h ? h : 1;
}

static bool same(const struct entry *e, const uint64_t *f, unsigned depth)
{
	const uint64_t *g = arena + e->off;

	return g[0] == depth && !memcmp(g + 1, f, depth * sizeof(*f));
}

static uint32_t lookup(uint64_t h, const uint64_t *f, unsigned depth)
{
	for (uint32_t i = h & (TAB_SIZE - 1);; i = (i + 1) & (TAB_SIZE - 1)) {
		struct entry *e = &tab[i];
		uint64_t eh = __atomic_load_n(&e->hash, __ATOMIC_ACQUIRE);

		if (!eh)
			return 0;
		if (eh == h && same(e, f, depth))
			return e->id;
	}
}

static void emit_stack(struct pst_thr *t, uint32_t id, const uint64_t *f, unsigned depth)
{
	uint8_t *b = pst_thr_room(t, pst_stack_rec_max(depth));

	t->pos = pst_enc_stack(b, id, f, depth);
}

/* New stack: the modules its frames lie in are written first, then the
 * STACK, both into this thread's buffer. Id 0 (no stack) when full. */
static __attribute__((noinline)) uint32_t insert(struct pst_thr *t, uint64_t h,
						  const uint64_t *f, unsigned depth)
{
	uint32_t id, i;

	pst_modules_cover(t, f, depth);
	pthread_mutex_lock(&tab_lock);
	id = lookup(h, f, depth);
	if (id || next_id > TAB_LIMIT || (arena_used + depth + 1) * 8 > ARENA_BYTES)
		goto out_unlock;
	for (i = h & (TAB_SIZE - 1); tab[i].hash; i = (i + 1) & (TAB_SIZE - 1))
		;
	arena[arena_used] = depth;
	memcpy(arena + arena_used + 1, f, depth * sizeof(*f));
	tab[i].off = (uint32_t)arena_used;
	tab[i].id = id = next_id++;
	arena_used += depth + 1;
	__atomic_store_n(&tab[i].hash, h, __ATOMIC_RELEASE);
	emit_stack(t, id, f, depth);
out_unlock:
	pthread_mutex_unlock(&tab_lock);
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

	if (unlikely(!tab))
		return 0;
	while (skip < (unsigned)n && pst_modules_own((uintptr_t)raw[skip]))
		skip++;
	for (unsigned i = skip; i < (unsigned)n && depth < PST_MAX_DEPTH; i++)
		f[depth++] = (uintptr_t)raw[i];
	h = hash_frames(f, depth);
	slot = h & 255;
	if (t->cache_hash[slot] == h)
		return t->cache_id[slot];
	id = lookup(h, f, depth);
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
	if (lock)
		pthread_mutex_lock(&tab_lock);
	else
		pthread_mutex_unlock(&tab_lock);
}

/* A forked child's trace starts with no stacks: ids start over. */
void pst_stacks_reset(void)
{
	pthread_mutex_init(&tab_lock, NULL);
	if (tab)
		munmap(tab, TAB_SIZE * sizeof(*tab));
	if (arena)
		munmap(arena, ARENA_BYTES);
	arena_used = 0;
	next_id = 1;
	pst_stacks_init();
}
