/* SPDX-License-Identifier: MIT */
/* FNV-1a, the one string and byte hash of the analyzer's tables. */
#ifndef PST_HASH_H
#define PST_HASH_H

#include <stddef.h>
#include <stdint.h>

#define PST_FNV_OFFSET 1469598103934665603ull
#define PST_FNV_PRIME 1099511628211ull

/* h with the n bytes at p folded in (start from PST_FNV_OFFSET). */
static inline uint64_t pst_fnv_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * PST_FNV_PRIME;
	return h;
}

/* h with the string s folded in, without its NUL. */
static inline uint64_t pst_fnv_str(uint64_t h, const char *s)
{
	while (*s)
		h = (h ^ (unsigned char)*s++) * PST_FNV_PRIME;
	return h;
}

#endif
