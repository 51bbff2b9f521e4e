/* SPDX-License-Identifier: MIT */
/* One dominant site (200 MiB in 4 KiB blocks) plus small noise, for sampled-mode estimates. */
#include <stdlib.h>

/*
 * dominant: 51200 x malloc(4096) = 209715200 bytes
 * noise_small: 100000 x malloc(16); noise_medium: 1000 x malloc(1000)
 * Totals: 152200 calls, 212315200 bytes, all freed.
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

int main(void)
{
	noise_small();
	dominant();
	noise_medium();
	return 0;
}
