/* SPDX-License-Identifier: MIT */
/* The preload's stack table: one id per distinct stack, stable, from any thread. */
#include <criterion/criterion.h>
#include <pthread.h>

#include "stacktab.h"

static void fresh(void)
{
	cr_assert_eq(pst_stacktab_init(), 0);
}

TestSuite(stacktab, .init = fresh);

static uint32_t add(const uint64_t *f, unsigned depth, bool *added)
{
	return pst_stacktab_add(pst_stacktab_hash(f, depth), f, depth, added);
}

Test(stacktab, same_stack_same_id_and_ids_start_at_one)
{
	uint64_t a[] = { 0x401000, 0x402000, 0x403000 };
	uint64_t b[] = { 0x401000, 0x402000, 0x403004 };
	bool added;

	cr_expect_eq(add(a, 3, &added), 1);
	cr_expect(added);
	cr_expect_eq(add(b, 3, &added), 2);
	cr_expect(added);
	cr_expect_eq(add(a, 3, &added), 1);
	cr_expect_not(added);
	cr_expect_eq(pst_stacktab_find(pst_stacktab_hash(b, 3), b, 3), 2);
}

Test(stacktab, prefix_and_empty_stacks_are_distinct)
{
	uint64_t a[] = { 0x10, 0x20, 0x30 };
	bool added;

	uint32_t full = add(a, 3, &added);
	uint32_t prefix = add(a, 2, &added);
	uint32_t empty = add(a, 0, &added);
	cr_expect_neq(full, prefix);
	cr_expect_neq(prefix, empty);
	cr_expect_neq(full, empty);
	cr_expect_eq(add(a, 0, &added), empty);
}

/* Equal hashes with different frames must not merge. */
Test(stacktab, hash_collision_keeps_stacks_apart)
{
	uint64_t a[] = { 1, 2 }, b[] = { 3, 4 };
	uint64_t h = 12345;
	bool added;

	uint32_t ia = pst_stacktab_add(h, a, 2, &added);
	uint32_t ib = pst_stacktab_add(h, b, 2, &added);
	cr_expect_neq(ia, ib);
	cr_expect_eq(pst_stacktab_find(h, a, 2), ia);
	cr_expect_eq(pst_stacktab_find(h, b, 2), ib);
}

Test(stacktab, unknown_stack_is_not_found)
{
	uint64_t a[] = { 0xdead };

	cr_expect_eq(pst_stacktab_find(pst_stacktab_hash(a, 1), a, 1), 0);
}

#define THREADS 4
#define PER_THREAD 20000

/* Every thread adds the same 20000 stacks: each stack gets exactly one id,
 * and the ids are 1..20000 with none lost or doubled. */
static void *adder(void *arg)
{
	uint32_t *ids = arg;

	for (uint64_t i = 0; i < PER_THREAD; i++) {
		uint64_t f[2] = { 0x1000 + i, 0x2000 + i * 7 };
		bool added;
		ids[i] = add(f, 2, &added);
	}
	return NULL;
}

Test(stacktab, concurrent_adds_give_one_id_per_stack)
{
	static uint32_t ids[THREADS][PER_THREAD];
	static unsigned char seen[PER_THREAD + 1];
	pthread_t th[THREADS];

	for (int t = 0; t < THREADS; t++)
		pthread_create(&th[t], NULL, adder, ids[t]);
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	for (int i = 0; i < PER_THREAD; i++) {
		for (int t = 1; t < THREADS; t++)
			cr_assert_eq(ids[t][i], ids[0][i], "stack %d", i);
		cr_assert(ids[0][i] >= 1 && ids[0][i] <= PER_THREAD);
		cr_assert_not(seen[ids[0][i]], "id %u twice", ids[0][i]);
		seen[ids[0][i]] = 1;
	}
}
