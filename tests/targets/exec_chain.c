/* SPDX-License-Identifier: MIT */
/* Allocates 3 x malloc(48) at before_exec, then execs alloc_known (next to this executable). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *volatile sink;

void before_exec(void)
{
	for (int i = 0; i < 3; i++) {
		void *p = malloc(48); /* LINE:before_exec */
		sink = p;
		free(p);
	}
}

int main(void)
{
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 32);
	char *slash, *argv[2];

	if (n <= 0)
		return 1;
	path[n] = 0;
	slash = strrchr(path, '/');
	if (!slash)
		return 1;
	strcpy(slash + 1, "alloc_known");
	before_exec();
	argv[0] = path;
	argv[1] = NULL;
	execv(path, argv);
	return 127;
}
