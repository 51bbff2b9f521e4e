/* SPDX-License-Identifier: MIT */
/* RLIMIT_FSIZE far below what a --full trace of this run needs: the program must still end as bare. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

static void *volatile sink;

/* Sizes that vary, so that even the compressed trace is large. */
static void fsize_work(int n)
{
	for (int i = 0; i < n; i++) {
		sink = malloc(16 + ((unsigned)i * 2654435761u >> 20) % 4096); /* LINE:fsize_work */
		free(sink);
	}
}

/* sbx_fsize KIB: soft and hard limit KIB KiB. */
int main(int argc, char **argv)
{
	struct rlimit rl;

	if (argc < 2)
		return 2;
	rl.rlim_cur = rl.rlim_max = strtoul(argv[1], NULL, 10) * 1024;
	if (setrlimit(RLIMIT_FSIZE, &rl) != 0) {
		perror("setrlimit");
		return 2;
	}
	fsize_work(500000);
	printf("allocated under a %s KiB file limit\n", argv[1]);
	return 0;
}
