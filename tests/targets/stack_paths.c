/* SPDX-License-Identifier: MIT */
/* Call paths that look alike to a stack cache: twin callers, recursion of varying depth, alloca. */
#include <alloca.h>
#include <stdlib.h>
#include <string.h>

void *volatile sink;

/* The leaf every path ends in: one malloc, freed at once. */
__attribute__((noinline)) void leaf(size_t n)
{
	sink = malloc(n); /* LINE:leaf */
	free(sink);
}

/* Twins: same frame size, same depth, different return addresses. */
__attribute__((noinline)) void twin_a(size_t n)
{
	leaf(n);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void twin_b(size_t n)
{
	leaf(n);
	__asm__ volatile("" ::: "memory");
}

/* Twins one level up: the paths differ only in the third frame. */
__attribute__((noinline)) void middle(size_t n)
{
	leaf(n);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void outer_x(size_t n)
{
	middle(n);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void outer_y(size_t n)
{
	middle(n);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void recurse(int depth, size_t n)
{
	if (depth > 0)
		recurse(depth - 1, n);
	else
		leaf(n);
	__asm__ volatile("" ::: "memory");
}

/* A frame whose size changes from call to call. */
__attribute__((noinline)) void with_alloca(size_t pad, size_t n)
{
	char *p = alloca(pad);

	memset(p, 0, pad);
	sink = p;
	leaf(n);
}

int main(void)
{
	/* back to back, so that a cache entry made by one path meets the other */
	for (int i = 0; i < 3000; i++) {
		if (i % 3)
			outer_x(48);
		else
			outer_y(48);
	}
	for (int i = 0; i < 3000; i++) {
		if (i % 2)
			twin_a(24);
		else
			twin_b(24);
	}
	for (int i = 0; i < 3000; i++) {
		recurse(i % 5, 32);
		with_alloca(16 + (i % 4) * 64, 40);
	}
	return 0;
}
