/* SPDX-License-Identifier: MIT */
/* Keeps 100 small blocks, then grows by 256 KiB every 10 ms, touching each, until the OOM killer ends it. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GROW_BYTES (256 << 10)

void *volatile keep[100];

__attribute__((noinline)) void before(void)
{
	for (int i = 0; i < 100; i++)
		keep[i] = malloc(64); /* LINE:before */
}

/* One '.' on stdout per block allocated and touched. */
__attribute__((noinline)) void grow(void)
{
	for (;;) {
		char *p = malloc(GROW_BYTES); /* LINE:grow */

		if (!p)
			_exit(3);
		memset(p, 1, GROW_BYTES);
		if (write(1, ".", 1) != 1)
			_exit(4);
		usleep(10000);
	}
}

int main(void)
{
	before();
	grow();
	return 0;
}
