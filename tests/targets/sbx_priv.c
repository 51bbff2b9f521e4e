/* SPDX-License-Identifier: MIT */
/* Privilege drop as servers do it (setgroups, setgid, setuid to nobody), in the parent and in a child forked before the drop. */
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOBODY 65534

static void *volatile sink;

static void before_drop(int n)
{
	for (int i = 0; i < n; i++) {
		sink = malloc(40); /* LINE:before_drop */
		free(sink);
	}
}

static void after_drop(int n)
{
	for (int i = 0; i < n; i++) {
		sink = malloc(56); /* LINE:after_drop */
		free(sink);
	}
}

static void child_after_drop(int n)
{
	for (int i = 0; i < n; i++) {
		sink = malloc(72); /* LINE:child_after_drop */
		free(sink);
	}
}

/* Exits 3 when the drop fails: the test then says so. */
static void drop(void)
{
	if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0) {
		perror("drop");
		exit(3);
	}
	if (setuid(0) == 0) /* gone for good */
		exit(4);
}

int main(void)
{
	int st;
	pid_t p;

	before_drop(300);
	fflush(stdout);
	p = fork();
	if (p < 0)
		return 2;
	if (p == 0) {
		drop();
		child_after_drop(500);
		printf("child uid %d\n", (int)getuid());
		return 0;
	}
	drop();
	after_drop(400);
	if (waitpid(p, &st, 0) != p)
		return 2;
	printf("parent uid %d, child %s %d\n", (int)getuid(), WIFEXITED(st) ? "exited" : "killed",
	       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return 0;
}
