/* SPDX-License-Identifier: MIT */
/* Prints how many PRESTANDA_ settings and preload entries of ours it sees, then execs itself once to print its child's. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static void show(const char *who)
{
	int settings = 0, preload = 0;

	for (char **e = environ; *e; e++) {
		settings += !strncmp(*e, "PRESTANDA_", 10);
		preload += !strncmp(*e, "LD_PRELOAD=", 11) && strstr(*e, "libprestanda.so");
	}
	printf("%s: %d settings, %d preload\n", who, settings, preload);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		show("child");
		return 0;
	}
	show("parent");
	execl("/proc/self/exe", argv[0], "child", (char *)NULL);
	perror("execl");
	return 1;
}
