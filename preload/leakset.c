/* SPDX-License-Identifier: MIT */
/* The recorded live blocks with their sizes, kept in the process so that exit can tell the reachable ones from the lost. */
#include <sys/mman.h>

#include "pst.h"

/*
 * The analyzer rebuilds the live set from the trace, but the reachability
 * scan (leakscan.c) must run in the process, at exit, while the memory is
 * there to read. Walking glibc's arenas would find the blocks without any
 * cost on the way, but it depends on glibc's inner layout and cannot tell
 * a cached free chunk (tcache, fastbins) from a live one. So the hooks that
 * record a block also note it here: 64 shards, each an open-addressed table
 * of (address, size) under its own spin lock, deleted by backward shift
 * (no tombstones). Only blocks the trace records are kept (every block with
 * --full; the sampled ones otherwise), so the two sets agree.
 *
 * Every shard's first table is mapped at once, at init: mapped one by one
 * as shards were first used, they took the holes a dlclose had just left,
 * so a library opened again landed elsewhere, its range overlapping the one
 * an earlier load of it had written (the analyzer keeps the first of two
 * overlapping modules: the library's frames went unsymbolized). Only a
 * shard past FIRST_CAP / 2 blocks maps memory later.
 */
#define SHARDS 64
#define FIRST_CAP 1024

struct shard {
	int lock;
	uint32_t pad;
	uint64_t cap, n;       /* cap: a power of two; 0: no table yet */
	struct pst_leak_block *tab;
} __attribute__((aligned(64)));

static struct shard shards[SHARDS];
static struct pst_leak_block *first_tabs; /* SHARDS * FIRST_CAP, from init */
bool pst_leakset_on;

static inline uint64_t hash_of(uint64_t p)
{
	return (p >> 4) * 0x9E3779B97F4A7C15ull;
}

static inline struct shard *shard_of(uint64_t h)
{
	return &shards[h >> 58];
}

static inline void take(struct shard *s)
{
	while (__atomic_exchange_n(&s->lock, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&s->lock, __ATOMIC_RELAXED))
			__builtin_ia32_pause();
}

static inline void drop(struct shard *s)
{
	__atomic_store_n(&s->lock, 0, __ATOMIC_RELEASE);
}

static void put(struct pst_leak_block *tab, uint64_t cap, uint64_t p, uint64_t size)
{
	uint64_t i = hash_of(p) & (cap - 1);

	while (tab[i].ptr && tab[i].ptr != p)
		i = (i + 1) & (cap - 1);
	tab[i].ptr = p;
	tab[i].size = size;
}

static bool is_first(const struct shard *s)
{
	return first_tabs && s->tab >= first_tabs && s->tab < first_tabs + SHARDS * FIRST_CAP;
}

/* Each shard's first table, empty, in the one mapping (when it can be had:
 * else each shard maps its own on first use). */
static void give_first_tabs(void)
{
	for (int k = 0; k < SHARDS; k++)
		shards[k] = (struct shard){ .cap = first_tabs ? FIRST_CAP : 0,
					    .tab = first_tabs ? first_tabs + k * FIRST_CAP : NULL };
}

void pst_leakset_init(bool on)
{
	void *m;

	pst_leakset_on = on;
	if (!on)
		return;
	m = mmap(NULL, SHARDS * FIRST_CAP * sizeof(*first_tabs), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	first_tabs = m == MAP_FAILED ? NULL : m;
	give_first_tabs();
}

/* Twice the room; false when the memory cannot be had (the block is then
 * not kept: it would count as lost only if it is not reachable anyway). */
static bool grow(struct shard *s)
{
	uint64_t cap = s->cap ? s->cap * 2 : FIRST_CAP;
	struct pst_leak_block *t = mmap(NULL, cap * sizeof(*t), PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (t == MAP_FAILED)
		return false;
	for (uint64_t i = 0; i < s->cap; i++)
		if (s->tab[i].ptr)
			put(t, cap, s->tab[i].ptr, s->tab[i].size);
	if (s->tab && !is_first(s))
		munmap(s->tab, s->cap * sizeof(*t));
	s->tab = t;
	s->cap = cap;
	return true;
}

void pst_leakset_add_slow(uint64_t p, uint64_t size)
{
	struct shard *s = shard_of(hash_of(p));

	take(s);
	if ((s->n + 1) * 2 <= s->cap || grow(s)) {
		put(s->tab, s->cap, p, size);
		s->n++;
	}
	drop(s);
}

/* Backward shift: the entries after the hole that hash at or before it
 * move into it, so that every probe sequence stays unbroken. */
void pst_leakset_del_slow(uint64_t p)
{
	struct shard *s = shard_of(hash_of(p));
	uint64_t i, j, mask;

	take(s);
	mask = s->cap - 1;
	for (i = hash_of(p) & mask; s->cap && s->tab[i].ptr; i = (i + 1) & mask) {
		if (s->tab[i].ptr != p)
			continue;
		for (j = (i + 1) & mask; s->tab[j].ptr; j = (j + 1) & mask) {
			uint64_t home = hash_of(s->tab[j].ptr) & mask;

			if (((j - home) & mask) >= ((j - i) & mask)) {
				s->tab[i] = s->tab[j];
				i = j;
			}
		}
		s->tab[i].ptr = 0;
		s->n--;
		break;
	}
	drop(s);
}

uint64_t pst_leakset_count(void)
{
	uint64_t n = 0;

	for (int i = 0; i < SHARDS; i++)
		n += __atomic_load_n(&shards[i].n, __ATOMIC_RELAXED);
	return n;
}

/* Copy up to max blocks into out, each shard under its lock; how many. */
uint64_t pst_leakset_copy(struct pst_leak_block *out, uint64_t max)
{
	uint64_t n = 0;

	for (int k = 0; k < SHARDS; k++) {
		struct shard *s = &shards[k];

		take(s);
		for (uint64_t i = 0; i < s->cap && n < max; i++)
			if (s->tab[i].ptr)
				out[n++] = s->tab[i];
		drop(s);
	}
	return n;
}

/* A forked child's trace has seen no block: it starts empty (the first
 * tables stay where they are, zeroed by dropping their pages). */
void pst_leakset_reset(void)
{
	for (int k = 0; k < SHARDS; k++) {
		struct shard *s = &shards[k];

		if (s->tab && !is_first(s))
			munmap(s->tab, s->cap * sizeof(*s->tab));
	}
	if (first_tabs)
		madvise(first_tabs, SHARDS * FIRST_CAP * sizeof(*first_tabs), MADV_DONTNEED);
	give_first_tabs();
}
