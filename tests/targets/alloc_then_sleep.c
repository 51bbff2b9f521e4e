/* SPDX-License-Identifier: MIT */
/* Allocates N blocks of 64 bytes at one line, keeps them, says "filled", then sleeps until killed. */
#include <stdlib.h>
#include <unistd.h>

void *volatile keep[100000];

__attribute__((noinline)) void fill(int n)
{
	for (int i = 0; i < n; i++)
		keep[i] = malloc(64); /* LINE:fill */
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000;

	fill(n > 100000 ? 100000 : n);
	/* write, not stdio: nothing else in the process allocates */
	if (write(1, "filled\n", 7) != 7)
		return 1;
	for (;;)
		pause();
}
