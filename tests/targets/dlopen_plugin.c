/* SPDX-License-Identifier: MIT */
/* Loads libplugin.so (next to this executable) with dlopen and calls plugin_alloc(77), then dlclose. */
#include <dlfcn.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 32);
	char *slash;
	void *h;
	int (*fn)(int);

	if (n <= 0)
		return 1;
	path[n] = 0;
	slash = strrchr(path, '/');
	if (!slash)
		return 1;
	strcpy(slash + 1, "libplugin.so");
	h = dlopen(path, RTLD_NOW);
	if (!h)
		return 2;
	fn = (int (*)(int))dlsym(h, "plugin_alloc");
	if (!fn || fn(77) != 77)
		return 3;
	dlclose(h);
	return 0;
}
