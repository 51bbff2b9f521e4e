/* SPDX-License-Identifier: MIT */
/* Parent and child of a fork allocate different known counts at different functions. */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* parent_work: 111 x malloc(40); child_work: 222 x malloc(56); all freed. */
void *volatile sink;

void parent_work(void)
{
	for (int i = 0; i < 111; i++) {
		void *p = malloc(40); /* LINE:parent_work */
		sink = p;
		free(p);
	}
}

void child_work(void)
{
	for (int i = 0; i < 222; i++) {
		void *p = malloc(56); /* LINE:child_work */
		sink = p;
		free(p);
	}
}

int main(void)
{
	int st;
	pid_t pid = fork();

	if (pid < 0)
		return 1;
	if (pid == 0) {
		child_work();
		exit(0);
	}
	parent_work();
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		return 1;
	return 0;
}
