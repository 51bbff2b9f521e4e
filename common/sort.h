/* SPDX-License-Identifier: MIT */
/* Sorting for the analyzer: qsort that accepts an empty (NULL) array. */
#ifndef PST_SORT_H
#define PST_SORT_H

#include <stdlib.h>

/* qsort's array must not be NULL even when n is 0; ours often is. */
static inline void pst_sort(void *base, size_t n, size_t size,
			    int (*cmp)(const void *, const void *))
{
	if (n)
		qsort(base, n, size, cmp);
}

#endif
