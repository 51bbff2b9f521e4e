/* SPDX-License-Identifier: MIT */
/* The set of live sampled blocks, so that sampled mode records exactly their frees. */
#include <sys/mman.h>

#include "pst.h"

/*
 * Buckets of eight addresses, one cache line each, no probing across
 * buckets: a free looks at one line, and an entry is removed by clearing
 * it, with no tombstones to pile up. The table is untouched memory until a
 * block is sampled into it, so the lookups of a mostly empty table all read
 * the kernel's shared zero page and stay in cache.
 */
#define BUCKET_SLOTS 8
#define NBUCKETS (1u << 15)

struct bucket {
	uint64_t slot[BUCKET_SLOTS];
} __attribute__((aligned(64)));

static struct bucket *table;

static struct bucket *bucket_of(uint64_t ptr)
{
	return &table[((ptr >> 4) * 0x9E3779B97F4A7C15ull) >> (64 - 15)];
}

void pst_sampled_init(void)
{
	void *m = mmap(NULL, NBUCKETS * sizeof(struct bucket), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	table = m == MAP_FAILED ? NULL : m;
}

/* A forked child starts with an empty set: its trace has seen no block. */
void pst_sampled_reset(void)
{
	if (table)
		munmap(table, NBUCKETS * sizeof(struct bucket));
	pst_sampled_init();
}

bool pst_sampled_add(uint64_t ptr)
{
	struct bucket *b;

	if (!table)
		return false;
	b = bucket_of(ptr);
	for (int i = 0; i < BUCKET_SLOTS; i++) {
		uint64_t empty = 0;
		if (__atomic_compare_exchange_n(&b->slot[i], &empty, ptr, false, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED))
			return true;
	}
	return false;
}

bool pst_sampled_take(uint64_t ptr)
{
	struct bucket *b;

	if (unlikely(!table))
		return false;
	b = bucket_of(ptr);
	for (int i = 0; i < BUCKET_SLOTS; i++) {
		uint64_t want = ptr;
		if (__atomic_load_n(&b->slot[i], __ATOMIC_RELAXED) == ptr &&
		    __atomic_compare_exchange_n(&b->slot[i], &want, 0, false, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED))
			return true;
	}
	return false;
}
