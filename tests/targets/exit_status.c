/* SPDX-License-Identifier: MIT */
/* Allocates 5 x malloc(64) at before_end, then exits N, segfaults, aborts or SIGKILLs itself as argv[1] says. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

void *volatile sink;
static void *kept[5];

void before_end(void)
{
	for (int i = 0; i < 5; i++)
		kept[i] = malloc(64); /* LINE:before_end */
	sink = kept;
}

int main(int argc, char **argv)
{
	volatile int *volatile bad = NULL;

	if (argc < 2)
		return 2;
	before_end();
	if (!strcmp(argv[1], "segv"))
		*bad = 1;
	if (!strcmp(argv[1], "abort"))
		abort();
	if (!strcmp(argv[1], "kill"))
		raise(SIGKILL);
	return atoi(argv[1]);
}
