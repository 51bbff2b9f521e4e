/* SPDX-License-Identifier: MIT */
/* Ground truth for the sampled scan: N blocks of 100 bytes lost, M kept reachable from a global array (N, M: argv, default 20000 each). */
#include <stdlib.h>
#include <string.h>

/*
 * The lost blocks are made first, their pointers dropped; the kept ones
 * go into a global array. Every block is written, so that none is left
 * holding a stale pointer from the allocator. No stdio: the C library
 * allocates nothing of its own.
 */
#define MAX 200000

void *volatile keep[MAX];

static __attribute__((noinline)) void lose(long n)
{
	for (long i = 0; i < n; i++) {
		char *p = malloc(100);

		memset(p, 0x5a, 100);
		__asm__ volatile("" : : "r"(p) : "memory");
	}
}

static __attribute__((noinline)) void hold(long m)
{
	for (long i = 0; i < m && i < MAX; i++) {
		keep[i] = malloc(100);
		memset(keep[i], 0x5a, 100);
	}
}

/* Old copies of the dropped pointers may sit below main's frame, where
 * exit's frames will reuse the stack: overwrite them. */
static __attribute__((noinline)) void scrub(void)
{
	volatile char junk[16384];

	memset((char *)junk, 0, sizeof(junk));
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 20000, m = argc > 2 ? atol(argv[2]) : 20000;

	lose(n);
	hold(m);
	scrub();
	exit(0);
}
