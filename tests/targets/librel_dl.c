/* SPDX-License-Identifier: MIT */
/* A library loaded and unloaded in a loop: allocates inside itself, keeps some blocks past its unloading. */
#include <stdlib.h>

void *rel_dl_work(int n)
{
	void *last = NULL;

	for (int i = 0; i < n; i++) {
		free(last);
		last = malloc(96); /* LINE:rel_dl_work */
	}
	return last;
}
