/* SPDX-License-Identifier: MIT */
/* The process-wide stack table: each distinct stack gets one id, found again without a lock. */
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "stacktab.h"

/*
 * Open addressing over mmap'd memory. Lookups are lock-free: an entry's
 * frames and id are written before its hash is published with release
 * order, so a reader that sees the hash sees them. Inserts, rare (new
 * stacks only), take the mutex.
 */
#define TAB_SIZE (1u << PST_STACKTAB_BITS)
#define TAB_LIMIT (TAB_SIZE / 4 * 3)
#define ARENA_BYTES (512ull << 20) /* virtual; pages are touched as stacks arrive */

struct entry {
	uint64_t hash; /* 0: empty */
	uint32_t id;
	uint32_t off;  /* arena[off] is the depth, the frames follow */
};

static struct entry *tab;
static uint64_t *arena;
static uint64_t arena_used; /* in u64 words */
static uint64_t arena_limit = ARENA_BYTES; /* part of the preload's memory cap */
static uint32_t next_id = 1;
static pthread_mutex_t tab_lock = PTHREAD_MUTEX_INITIALIZER;

static void *map(size_t bytes)
{
	void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return m == MAP_FAILED ? NULL : m;
}

int pst_stacktab_init(void)
{
	pthread_mutex_init(&tab_lock, NULL);
	if (tab)
		munmap(tab, TAB_SIZE * sizeof(*tab));
	if (arena)
		munmap(arena, ARENA_BYTES);
	tab = map(TAB_SIZE * sizeof(*tab));
	arena = map(ARENA_BYTES);
	arena_used = 0;
	next_id = 1;
	if (tab && arena)
		return 0;
	tab = NULL;
	return -1;
}

uint64_t pst_stacktab_hash(const uint64_t *f, unsigned depth)
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

uint32_t pst_stacktab_find(uint64_t h, const uint64_t *f, unsigned depth)
{
	if (!tab)
		return 0;
	for (uint32_t i = h & (TAB_SIZE - 1);; i = (i + 1) & (TAB_SIZE - 1)) {
		struct entry *e = &tab[i];
		uint64_t eh = __atomic_load_n(&e->hash, __ATOMIC_ACQUIRE);

		if (!eh)
			return 0;
		if (eh == h && same(e, f, depth))
			return e->id;
	}
}

uint32_t pst_stacktab_add(uint64_t h, const uint64_t *f, unsigned depth, bool *added)
{
	uint32_t id, i;

	*added = false;
	if (!tab)
		return 0;
	pthread_mutex_lock(&tab_lock);
	id = pst_stacktab_find(h, f, depth);
	if (id || next_id > TAB_LIMIT || (arena_used + depth + 1) * 8 > arena_limit)
		goto out_unlock;
	for (i = h & (TAB_SIZE - 1); tab[i].hash; i = (i + 1) & (TAB_SIZE - 1))
		;
	arena[arena_used] = depth;
	memcpy(arena + arena_used + 1, f, depth * sizeof(*f));
	tab[i].off = (uint32_t)arena_used;
	tab[i].id = id = next_id++;
	arena_used += depth + 1;
	__atomic_store_n(&tab[i].hash, h, __ATOMIC_RELEASE);
	*added = true;
out_unlock:
	pthread_mutex_unlock(&tab_lock);
	return id;
}

void pst_stacktab_limit(uint64_t bytes)
{
	arena_limit = bytes < ARENA_BYTES ? bytes : ARENA_BYTES;
}

void pst_stacktab_lock(bool lock)
{
	if (lock)
		pthread_mutex_lock(&tab_lock);
	else
		pthread_mutex_unlock(&tab_lock);
}
