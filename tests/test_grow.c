/* SPDX-License-Identifier: MIT */
/* The analyzer's growing arrays: room doubled from the first size, pushed elements kept in order. */
#include <criterion/criterion.h>

#include "grow.h"

Test(grow, room_doubles_from_first_until_need)
{
	int *v = NULL;
	size_t cap = 0;

	cr_assert_eq(pst_grow(&v, &cap, 1, sizeof(*v), 4), 0);
	cr_expect_eq(cap, 4);
	cr_assert_eq(pst_grow(&v, &cap, 4, sizeof(*v), 4), 0);
	cr_expect_eq(cap, 4, "room enough: unchanged");
	cr_assert_eq(pst_grow(&v, &cap, 5, sizeof(*v), 4), 0);
	cr_expect_eq(cap, 8);
	cr_assert_eq(pst_grow(&v, &cap, 33, sizeof(*v), 4), 0);
	cr_expect_eq(cap, 64);
	v[63] = 1; /* the room is there (ASan would say otherwise) */
	free(v);
}

Test(grow, refused_when_the_size_overflows)
{
	char *v = NULL;
	size_t cap = 0;

	cr_expect_eq(pst_grow(&v, &cap, SIZE_MAX / 2 + 2, 1, 16), -ENOMEM);
	cr_expect_eq(cap, 0);
	cr_expect_null(v);
	cr_expect_eq(pst_grow(&v, &cap, SIZE_MAX / 8 + 1, 16, 16), -ENOMEM);
	cr_expect_eq(cap, 0);
}

Test(grow, push_appends_copies_in_order)
{
	struct pair {
		long a, b;
	} *v = NULL;
	size_t n = 0, cap = 0;

	for (long i = 0; i < 100; i++)
		cr_assert_eq(pst_push(&v, &n, &cap, sizeof(*v), &(struct pair){ i, -i }), 0);
	cr_expect_eq(n, 100);
	cr_expect_eq(cap, 128);
	for (long i = 0; i < 100; i++) {
		cr_expect_eq(v[i].a, i);
		cr_expect_eq(v[i].b, -i);
	}
	free(v);
}
