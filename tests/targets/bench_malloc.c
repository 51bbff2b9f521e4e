/* SPDX-License-Identifier: MIT */
/* Microbenchmark: N (default 10000000) small malloc/free pairs from a shallow stack, 64 blocks live. */
#include <stdio.h>
#include <stdlib.h>

#define LIVE 64

void *volatile sink;

static void *ring[LIVE];

/* One step: replace a ring slot with a fresh block of 16..271 bytes. */
void step(unsigned long i)
{
	unsigned slot = (unsigned)(i * 2654435761u) % LIVE;
	size_t size = 16 + (i * 7) % 256;

	free(ring[slot]);
	ring[slot] = malloc(size);
	if (!ring[slot])
		abort();
	sink = ring[slot];
}

int main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000000;

	for (unsigned long i = 0; i < n; i++)
		step(i);
	for (unsigned i = 0; i < LIVE; i++)
		free(ring[i]);
	return 0;
}
