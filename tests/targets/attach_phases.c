/* SPDX-License-Identifier: MIT */
/* For `prestanda attach`: allocations in phases read from stdin, each phase's malloc and free calls counted by the program itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * Commands, one a line; each answers one line on stdout (unbuffered: stdio
 * allocates nothing while it answers):
 *   churn N   N blocks allocated and freed at once
 *   keep N    N blocks allocated and kept
 *   drop      every kept block freed
 *   fork N    a child churns N blocks and exits (the parent calls nothing)
 *   quit
 * The answer gives the phase's calls: "ok mallocs M frees F".
 */
#define MAX_KEPT 100000

static void *kept[MAX_KEPT];
static int nkept;

static void churn(long n, long *m, long *f)
{
	for (long i = 0; i < n; i++) {
		volatile char *p = malloc(64 + (size_t)(i % 256));

		p[0] = 1;
		free((void *)p);
	}
	*m += n;
	*f += n;
}

static void forked(long n)
{
	long m = 0, f = 0;
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		churn(n, &m, &f);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		exit(3);
}

int main(void)
{
	char line[128], cmd[16];

	setvbuf(stdout, NULL, _IONBF, 0);
	printf("ready %d\n", (int)getpid());
	while (fgets(line, sizeof(line), stdin)) {
		long n = 0, m = 0, f = 0;

		if (sscanf(line, "%15s %ld", cmd, &n) < 1)
			continue;
		if (!strcmp(cmd, "churn"))
			churn(n, &m, &f);
		else if (!strcmp(cmd, "keep"))
			for (; m < n && nkept < MAX_KEPT; m++)
				kept[nkept++] = malloc(48);
		else if (!strcmp(cmd, "drop"))
			for (; nkept > 0; f++)
				free(kept[--nkept]);
		else if (!strcmp(cmd, "fork"))
			forked(n);
		else if (!strcmp(cmd, "quit"))
			break;
		printf("ok mallocs %ld frees %ld\n", m, f);
	}
	return 0;
}
