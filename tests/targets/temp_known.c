/* SPDX-License-Identifier: MIT */
/* Known temporaries: 230 under heaptrack's rule (same size and stack as the allocation just before), 210 of the same block. */
#include <stdlib.h>

/* One call site for every block of a loop: the same stack each time. */
static __attribute__((noinline)) void *get(size_t n)
{
	void *p = malloc(n);

	__asm__ volatile("" : : "r"(p) : "memory");
	return p;
}

int main(void)
{
	void *v[2], *p, *q;
	volatile int twins = 2; /* not unrolled: one call site for both */

	for (int i = 0; i < 100; i++) /* 100: freed at once */
		free(get(32));
	for (int i = 0; i < 50; i++) { /* 50: the inner one only */
		p = get(48);
		q = get(64);
		free(q);
		free(p);
	}
	for (int i = 0; i < 30; i++) { /* 60: the move of the last block, then the moved one */
		p = get(16);
		q = realloc(p, 4096);
		free(q);
	}
	for (int i = 0; i < 20; i++) { /* 20 by heaptrack's rule, 0 of the same block: */
		for (int j = 0; j < twins; j++) /* the first is freed after its twin's allocation */
			v[j] = get(24);
		free(v[0]);
		free(v[1]);
	}
	return 0;
}
