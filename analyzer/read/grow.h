/* SPDX-License-Identifier: MIT */
/* Growing arrays: room doubled as elements come, one helper instead of a realloc written again in each list. */
#ifndef PST_GROW_H
#define PST_GROW_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * Room in the array *vp (of *cap elements of elem bytes) for need
 * elements: first elements at the start, doubled until there is room.
 * Doubling keeps appending n elements O(n). On failure -ENOMEM, and the
 * array and *cap as they were.
 */
static inline int pst_grow(void *vp, size_t *cap, size_t need, size_t elem, size_t first)
{
	void **v = vp;
	size_t ncap = *cap ? *cap : first;
	void *nv;

	if (need <= *cap)
		return 0;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return -ENOMEM;
		ncap *= 2;
	}
	if (ncap > SIZE_MAX / elem)
		return -ENOMEM;
	nv = realloc(*v, ncap * elem);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = ncap;
	return 0;
}

/* A copy of x (elem bytes) appended to the array *vp of *n elements. */
static inline int pst_push(void *vp, size_t *n, size_t *cap, size_t elem, const void *x)
{
	if (pst_grow(vp, cap, *n + 1, elem, 16))
		return -ENOMEM;
	memcpy(*(char **)vp + *n * elem, x, elem);
	(*n)++;
	return 0;
}

#endif
