/* SPDX-License-Identifier: MIT */
/* The program's own allocator wrappers: xmalloc called from 4 places, xcalloc over it from 3, and two helpers that are not wrappers. */
#include <stdlib.h>
#include <string.h>

/*
 * Ground truth (tests/test_integration.c): sites at use_a..use_d (xmalloc's
 * callers, 10 to 40 calls) and use_e..use_g (xcalloc's, 50 to 70), each with
 * xmalloc (and xcalloc) still in its stack; no site at xmalloc or xcalloc.
 * use_c's 30 blocks are the only leak, and the leak finding names use_c.
 * pair_of, called from 2 places, and triple, called from 3 but allocating
 * at 3 lines of its own, stay sites themselves.
 */
void *volatile sink;

__attribute__((noinline)) void *xmalloc(size_t n)
{
	void *p = malloc(n);

	if (!p)
		abort();
	return p;
}

__attribute__((noinline)) void *xcalloc(size_t n, size_t size)
{
	void *p = xmalloc(n * size);

	memset(p, 0, n * size);
	return p;
}

__attribute__((noinline)) void use_a(void) { for (int i = 0; i < 10; i++) free(xmalloc(16)); }
__attribute__((noinline)) void use_b(void) { for (int i = 0; i < 20; i++) free(xmalloc(32)); }
__attribute__((noinline)) void use_c(void) { for (int i = 0; i < 30; i++) sink = xmalloc(48); }
__attribute__((noinline)) void use_d(void) { for (int i = 0; i < 40; i++) free(xmalloc(64)); }
__attribute__((noinline)) void use_e(void) { for (int i = 0; i < 50; i++) free(xcalloc(4, 16)); }
__attribute__((noinline)) void use_f(void) { for (int i = 0; i < 60; i++) free(xcalloc(8, 16)); }
__attribute__((noinline)) void use_g(void) { for (int i = 0; i < 70; i++) free(xcalloc(2, 16)); }

/* through sink: the compiler drops a malloc freed unused */
__attribute__((noinline)) void pair_of(size_t n)
{
	sink = malloc(n);
	free(sink);
}
__attribute__((noinline)) void pair_1(void) { pair_of(8); }
__attribute__((noinline)) void pair_2(void) { pair_of(24); }

/* three allocations of its own: more than a wrapper does */
__attribute__((noinline)) void triple(size_t n)
{
	void *a, *b, *c;

	sink = a = malloc(n);
	sink = b = malloc(n * 2);
	sink = c = malloc(n * 3);
	free(a);
	free(b);
	free(c);
}
__attribute__((noinline)) void triple_1(void) { triple(8); }
__attribute__((noinline)) void triple_2(void) { triple(16); }
__attribute__((noinline)) void triple_3(void) { triple(32); }

int main(void)
{
	use_a();
	use_b();
	use_c();
	use_d();
	use_e();
	use_f();
	use_g();
	pair_1();
	pair_2();
	triple_1();
	triple_2();
	triple_3();
	return 0;
}
