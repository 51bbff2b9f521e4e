/* SPDX-License-Identifier: MIT */
/* A program linked against jemalloc: its malloc is jemalloc's, not the C library's. */
#include <stdio.h>
#include <stdlib.h>

/* jemalloc's own interface, declared here: Debian ships no header without -dev. */
int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);

static void *volatile sink;

static void je_work(int n)
{
	for (int i = 0; i < n; i++) {
		sink = malloc(40); /* LINE:je_work */
		free(sink);
	}
}

int main(void)
{
	const char *version = NULL;
	size_t len = sizeof(version);

	je_work(1000);
	if (mallctl("version", &version, &len, NULL, 0) || !version)
		return 1;
	printf("jemalloc %c\n", version[0]);
	return 0;
}
