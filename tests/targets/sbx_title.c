/* SPDX-License-Identifier: MIT */
/* A process that retitles itself as nginx does (argv[0] overwritten in place, PR_SET_NAME), then forks a child that allocates. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define TITLE "sbx_title: worker process /x y"

extern char **environ;

static void *volatile sink;

static void titled_child(int n)
{
	for (int i = 0; i < n; i++) {
		sink = malloc(48); /* LINE:titled_child */
		free(sink);
	}
}

/* nginx's ngx_init_setproctitle and ngx_setproctitle: the environment
 * moves to the heap, the title goes over argv[0] and what followed it. */
static int set_title(char **argv)
{
	char *end = argv[0] + strlen(argv[0]) + 1;

	for (int i = 1; argv[i] && argv[i] == end; i++)
		end = argv[i] + strlen(argv[i]) + 1;
	for (int i = 0; environ[i] && environ[i] == end; i++) {
		end = environ[i] + strlen(environ[i]) + 1;
		environ[i] = strdup(environ[i]);
		if (!environ[i])
			return -1;
	}
	if ((size_t)(end - argv[0]) < sizeof(TITLE))
		return -1;
	argv[1] = NULL;
	memset(argv[0], 0, (size_t)(end - argv[0]));
	memcpy(argv[0], TITLE, sizeof(TITLE));
	return prctl(PR_SET_NAME, "nginx: worker");
}

int main(int argc, char **argv)
{
	int st;
	pid_t p;

	(void)argc;
	if (set_title(argv) != 0) {
		fprintf(stderr, "cannot set the title\n");
		return 2;
	}
	fflush(stdout);
	p = fork();
	if (p < 0)
		return 2;
	if (p == 0) {
		titled_child(150);
		return 0;
	}
	if (waitpid(p, &st, 0) != p)
		return 2;
	printf("child %s\n", WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "ok" : "failed");
	return 0;
}
