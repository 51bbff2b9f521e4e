/* SPDX-License-Identifier: MIT */
/* The set of live sampled blocks, so that sampled mode records exactly their frees. */
#include <sys/mman.h>

#include "pst.h"

/*
 * Buckets of eight addresses, one cache line each, no probing across
 * buckets: an entry is removed by clearing it, with no tombstones to pile
 * up. In front of it, a filter of one byte per address hash: a free of a
 * block that was not sampled (nearly all of them) reads one byte. Both are
 * untouched memory until blocks are sampled into them, so the lookups of a
 * mostly empty table read the kernel's shared zero page and stay in cache.
 */
#define BUCKET_SLOTS 8
#define NBUCKETS (1u << 15)

struct bucket {
	uint64_t slot[BUCKET_SLOTS];
} __attribute__((aligned(64)));

static struct bucket *table;
static uint64_t *sizes; /* the size of each slot's block, for the scan at exit */
/* Until the table exists, one shared zero byte: every address misses. */
static uint8_t no_filter[1u << PST_FILTER_BITS];
uint8_t *pst_sampled_filter = no_filter;

static struct bucket *bucket_of(uint64_t ptr)
{
	return &table[((ptr >> 4) * 0x9E3779B97F4A7C15ull) >> (64 - 15)];
}

#define SIZES_BYTES (NBUCKETS * BUCKET_SLOTS * sizeof(uint64_t))
#define TABLE_BYTES (NBUCKETS * sizeof(struct bucket) + (1u << PST_FILTER_BITS) + SIZES_BYTES)

void pst_sampled_init(void)
{
	void *m = mmap(NULL, TABLE_BYTES, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (m == MAP_FAILED) {
		table = NULL;
		pst_sampled_filter = no_filter;
		return;
	}
	table = m;
	pst_sampled_filter = (uint8_t *)m + NBUCKETS * sizeof(struct bucket);
	sizes = (uint64_t *)(pst_sampled_filter + (1u << PST_FILTER_BITS));
}

/* A forked child starts with an empty set: its trace has seen no block. */
void pst_sampled_reset(void)
{
	if (table)
		munmap(table, TABLE_BYTES);
	pst_sampled_init();
}

/* The filter byte counts up to 255 blocks; a block that would overflow it
 * is not sampled (counted exactly all the same). The free of a block comes
 * after its malloc returned, so add and take of one address never race. */
bool pst_sampled_add(uint64_t ptr, uint64_t size)
{
	uint8_t *f = &pst_sampled_filter[pst_sampled_hash(ptr)];
	struct bucket *b;

	if (!table || __atomic_load_n(f, __ATOMIC_RELAXED) == 255)
		return false;
	b = bucket_of(ptr);
	for (int i = 0; i < BUCKET_SLOTS; i++) {
		uint64_t empty = 0;
		if (__atomic_compare_exchange_n(&b->slot[i], &empty, ptr, false, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED)) {
			__atomic_store_n(&sizes[(b - table) * BUCKET_SLOTS + i], size, __ATOMIC_RELAXED);
			__atomic_add_fetch(f, 1, __ATOMIC_RELEASE);
			return true;
		}
	}
	return false;
}

bool pst_sampled_take_slow(uint64_t ptr)
{
	struct bucket *b = bucket_of(ptr);

	for (int i = 0; i < BUCKET_SLOTS; i++) {
		uint64_t want = ptr;
		if (__atomic_load_n(&b->slot[i], __ATOMIC_RELAXED) == ptr &&
		    __atomic_compare_exchange_n(&b->slot[i], &want, 0, false, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED)) {
			__atomic_sub_fetch(&pst_sampled_filter[pst_sampled_hash(ptr)], 1,
					   __ATOMIC_RELAXED);
			return true;
		}
	}
	return false;
}

/* At exit (leakscan.c): how many sampled blocks are live, near enough. */
uint64_t pst_sampled_count(void)
{
	uint64_t n = 0;

	for (uint32_t i = 0; table && i < (1u << PST_FILTER_BITS); i++)
		n += __atomic_load_n(&pst_sampled_filter[i], __ATOMIC_RELAXED);
	return n;
}

/* Up to max sampled live blocks into out; how many. Other threads may
 * sample and free on: each slot is read once (a size not yet stored
 * reads 0: the block is then matched at its start only). */
uint64_t pst_sampled_copy(struct pst_leak_block *out, uint64_t max)
{
	uint64_t n = 0;

	for (uint32_t b = 0; table && b < NBUCKETS; b++)
		for (int i = 0; i < BUCKET_SLOTS && n < max; i++) {
			uint64_t p = __atomic_load_n(&table[b].slot[i], __ATOMIC_RELAXED);

			if (p)
				out[n++] = (struct pst_leak_block){
					p, __atomic_load_n(&sizes[b * BUCKET_SLOTS + i], __ATOMIC_RELAXED)
				};
		}
	return n;
}
