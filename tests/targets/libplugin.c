/* SPDX-License-Identifier: MIT */
/* A plugin loaded with dlopen: plugin_alloc allocates n blocks of 72 bytes and frees them. */
#include <stdlib.h>

void *volatile plugin_sink;

int plugin_alloc(int n)
{
	for (int i = 0; i < n; i++) {
		void *p = malloc(72); /* LINE:plugin_alloc */
		plugin_sink = p;
		free(p);
	}
	return n;
}
