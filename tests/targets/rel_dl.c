/* SPDX-License-Identifier: MIT */
/* dlopen/dlclose in a loop, with allocations inside the library; another library moves its load address. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

static void *kept[1000];

int main(int argc, char **argv)
{
	const char *lib = argc > 1 ? argv[1] : "build/targets/librel_dl.so";
	const char *other = argc > 2 ? argv[2] : "build/targets/libplugin.so";
	int loops = argc > 3 ? atoi(argv[3]) : 50;

	for (int i = 0; i < loops; i++) {
		/* every other round something else is loaded first */
		void *o = i % 2 ? dlopen(other, RTLD_NOW) : NULL;
		void *h = dlopen(lib, RTLD_NOW);
		void *(*fn)(int);

		if (!h) {
			fprintf(stderr, "dlopen %s: %s\n", lib, dlerror());
			return 1;
		}
		fn = (void *(*)(int))dlsym(h, "rel_dl_work");
		kept[i] = fn(10);
		dlclose(h);
		if (o)
			dlclose(o);
	}
	printf("%d loops\n", loops);
	return 0;
}
