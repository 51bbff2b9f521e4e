/* SPDX-License-Identifier: MIT */
/* Two allocating functions, one scaled by argv[1]: BASE and NEW traces for differential flame graphs. */
#include <stdlib.h>

/*
 * Exact figures (tests/test_flame.c checks them):
 *   grows   N x malloc(100), freed   (N from argv[1], default 100)
 *   steady  1000 x malloc(10), freed (10000 bytes)
 * No stdio: nothing else in the process allocates.
 */
void *volatile sink;

void grows(int n)
{
	for (int i = 0; i < n; i++) {
		void *p = malloc(100); /* LINE:grows */
		sink = p;
		free(p);
	}
}

void steady(void)
{
	for (int i = 0; i < 1000; i++) {
		void *p = malloc(10); /* LINE:steady */
		sink = p;
		free(p);
	}
}

int main(int argc, char **argv)
{
	grows(argc > 1 ? atoi(argv[1]) : 100);
	steady();
	return 0;
}
