/* SPDX-License-Identifier: MIT */
/* A program linked against an allocator of its own (jemalloc, or tcmalloc with -DTCMALLOC): its malloc is that one, not the C library's. */
#include <stdio.h>
#include <stdlib.h>

/* The allocator's own interface, declared here: Debian ships no header without -dev. */
#ifdef TCMALLOC
const char *tc_version(int *major, int *minor, const char **patch);
#else
int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);
#endif

static void *volatile sink;

static void own_work(int n)
{
	for (int i = 0; i < n; i++) {
		sink = malloc(40); /* LINE:own_work */
		free(sink);
	}
}

/* Asks the allocator for its version: proof that its malloc serves the program. */
int main(void)
{
	const char *version = NULL;

	own_work(1000);
#ifdef TCMALLOC
	int major = 0;

	version = tc_version(&major, NULL, NULL);
	if (!version)
		return 1;
	printf("tcmalloc %d\n", major);
#else
	size_t len = sizeof(version);

	if (mallctl("version", &version, &len, NULL, 0) || !version)
		return 1;
	printf("jemalloc %c\n", version[0]);
#endif
	return 0;
}
