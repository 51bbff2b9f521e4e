/* SPDX-License-Identifier: MIT */
/* Detaches a child that runs on until SIGTERM (a daemon) and exits 0 once it has started, printing its pid. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *volatile sink;

int main(void)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe(p))
		return 2;
	pid = fork();
	if (pid < 0)
		return 2;
	if (!pid) {
		setsid();
		close(p[0]);
		sink = malloc(100); /* LINE:daemon_alloc */
		if (write(p[1], "x", 1) != 1)
			_exit(2);
		close(p[1]);
		for (;;)
			pause();
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1)
		return 2;
	printf("daemon %d\n", (int)pid);
	return 0;
}
