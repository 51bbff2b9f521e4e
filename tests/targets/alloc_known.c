/* SPDX-License-Identifier: MIT */
/* Known allocations at named functions; every call line carries a LINE: marker the tests grep for. */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

/*
 * Exact figures (tests/test_integration.c checks them):
 *   make_small        1000 x malloc(24), each freed at once      (1000 calls, 24000 bytes)
 *   leak_ten          10 x malloc(100), never freed, pointers dropped (the only leak: 1000
 *                     bytes, definitely lost at exit)
 *   make_calloc       50 x calloc(10, 16), freed                 (50 calls, 8000 bytes)
 *   grow_chain        64 x realloc(p, 32 * i), i = 1..64, freed  (64 calls, 66560 bytes)
 *   do_posix_memalign posix_memalign(64, 1000)
 *   do_aligned_alloc  aligned_alloc(128, 2048)
 *   do_memalign       memalign(256, 3000)
 *   do_valloc         valloc(5000)
 *   do_pvalloc        pvalloc(8192)
 *   do_reallocarray   reallocarray(NULL, 7, 100)                 (700 bytes)
 * Totals: 1130 allocation calls, 1057 frees; peak heap 1000 + 8192 bytes.
 * No stdio: nothing else in the process allocates.
 */
void *volatile sink;

void make_small(void)
{
	for (int i = 0; i < 1000; i++) {
		void *p = malloc(24); /* LINE:make_small */
		sink = p;
		free(p);
	}
}

/* No pointer to the blocks survives: the scan at exit finds them lost. */
void leak_ten(void)
{
	for (int i = 0; i < 10; i++) {
		char *p = malloc(100); /* LINE:leak_ten */

		memset(p, 0x5a, 100);
		__asm__ volatile("" : : "r"(p) : "memory");
	}
}

void make_calloc(void)
{
	for (int i = 0; i < 50; i++) {
		void *p = calloc(10, 16); /* LINE:make_calloc */
		sink = p;
		free(p);
	}
}

void grow_chain(void)
{
	void *p = NULL;

	for (int i = 1; i <= 64; i++) {
		p = realloc(p, 32 * (size_t)i); /* LINE:grow_chain */
		sink = p;
	}
	free(p);
}

void do_posix_memalign(void)
{
	void *p = NULL;

	if (posix_memalign(&p, 64, 1000)) /* LINE:do_posix_memalign */
		abort();
	sink = p;
	free(p);
}

void do_aligned_alloc(void)
{
	void *p = aligned_alloc(128, 2048); /* LINE:do_aligned_alloc */
	sink = p;
	free(p);
}

void do_memalign(void)
{
	void *p = memalign(256, 3000); /* LINE:do_memalign */
	sink = p;
	free(p);
}

void do_valloc(void)
{
	void *p = valloc(5000); /* LINE:do_valloc */
	sink = p;
	free(p);
}

void do_pvalloc(void)
{
	void *p = pvalloc(8192); /* LINE:do_pvalloc */
	sink = p;
	free(p);
}

void do_reallocarray(void)
{
	void *p = reallocarray(NULL, 7, 100); /* LINE:do_reallocarray */
	sink = p;
	free(p);
}

/* Old copies of leak_ten's pointers may sit below main's frame, where
 * exit's frames will reuse the stack: overwrite them. */
static __attribute__((noinline)) void scrub(void)
{
	volatile char junk[16384];

	memset((char *)junk, 0, sizeof(junk));
}

int main(void)
{
	make_small();
	leak_ten();
	make_calloc();
	grow_chain();
	do_posix_memalign();
	do_aligned_alloc();
	do_memalign();
	do_valloc();
	do_pvalloc();
	do_reallocarray();
	scrub();
	return 0;
}
