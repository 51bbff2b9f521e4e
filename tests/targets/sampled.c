/* SPDX-License-Identifier: MIT */
/* One dominant site (R x 200 MiB in 4 KiB blocks, R = argv[1] or 1) plus small noise, for sampled-mode estimates. */
#include <stdlib.h>

/*
 * dominant: R x 51200 x malloc(4096) = R x 209715200 bytes (one site)
 * noise_small: 100000 x malloc(16); noise_medium: 1000 x malloc(1000)
 * Totals: R x 51200 + 101000 calls, R x 209715200 + 2600000 bytes, all freed.
 */
void *volatile sink;

void dominant(void)
{
	for (int i = 0; i < 51200; i++) {
		void *p = malloc(4096); /* LINE:dominant */
		sink = p;
		free(p);
	}
}

void noise_small(void)
{
	for (int i = 0; i < 100000; i++) {
		void *p = malloc(16); /* LINE:noise_small */
		sink = p;
		free(p);
	}
}

void noise_medium(void)
{
	for (int i = 0; i < 1000; i++) {
		void *p = malloc(1000); /* LINE:noise_medium */
		sink = p;
		free(p);
	}
}

int main(int argc, char **argv)
{
	int repeat = argc > 1 ? atoi(argv[1]) : 1;

	noise_small();
	for (int i = 0; i < repeat; i++)
		dominant();
	noise_medium();
	return 0;
}
