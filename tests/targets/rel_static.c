/* SPDX-License-Identifier: MIT */
/* A statically linked program: no loader, so no preload; it allocates and exits 4. */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
	void *volatile p = malloc(100);

	free(p);
	puts("static ran");
	return 4;
}
