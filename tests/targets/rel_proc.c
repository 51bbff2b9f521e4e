/* SPDX-License-Identifier: MIT */
/* Process boundaries: fork, fork+exec, vfork, posix_spawn, daemon, _exit children and a process tree, each with known allocations. */
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void *keep[4096];

/* n blocks of size bytes at one line, all freed. */
static void work(int n, size_t size)
{
	for (int i = 0; i < n; i++)
		keep[i] = malloc(size); /* LINE:work */
	for (int i = 0; i < n; i++)
		free(keep[i]);
}

static void parent_side(int n)
{
	for (int i = 0; i < n; i++)
		keep[i] = malloc(40); /* LINE:parent_side */
	for (int i = 0; i < n; i++)
		free(keep[i]);
}

static void child_side(int n)
{
	for (int i = 0; i < n; i++)
		keep[i] = malloc(56); /* LINE:child_side */
	for (int i = 0; i < n; i++)
		free(keep[i]);
}

static void leaf_side(int n)
{
	for (int i = 0; i < n; i++)
		keep[i] = malloc(80); /* LINE:leaf_side */
	for (int i = 0; i < n; i++)
		free(keep[i]);
}

/* Forks from a second thread: in the child that thread is the only one,
 * and when it returns from its start routine the child has ended. */
static void *fork_from_thread(void *arg)
{
	pid_t p = fork();

	(void)arg;
	if (p == 0) {
		child_side(222);
		return NULL;
	}
	return (void *)(long)p;
}

static int wait_all(void)
{
	int st, bad = 0;
	pid_t p;

	while ((p = wait(&st)) > 0)
		bad |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	return bad;
}

/* depth levels below this one, two children each: 2^(depth+1) - 1 processes. */
static void tree(int depth)
{
	/* events still buffered at fork must be written by this process only */
	work(10, 24);
	for (int i = 0; i < 2 && depth > 0; i++) {
		pid_t p = fork();
		if (p == 0) {
			tree(depth - 1);
			exit(wait_all());
		}
	}
}

static const char *self_path(void)
{
	static char buf[4096];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);

	buf[n > 0 ? n : 0] = 0;
	return buf;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	pid_t p;
	int st;

	if (!strcmp(mode, "leaf")) {
		leaf_side(333);
		return 0;
	}
	parent_side(111);
	if (!strcmp(mode, "fork")) {
		p = fork();
		if (p == 0) {
			child_side(222);
			exit(0);
		}
	} else if (!strcmp(mode, "fork_exit_")) {
		p = fork();
		if (p == 0) {
			child_side(222);
			_exit(3);
		}
		waitpid(p, &st, 0);
		printf("child %d\n", WEXITSTATUS(st));
		return 0;
	} else if (!strcmp(mode, "fork_exec")) {
		p = fork();
		if (p == 0) {
			child_side(222);
			execl(self_path(), argv[0], "leaf", (char *)NULL);
			_exit(127);
		}
	} else if (!strcmp(mode, "vfork")) {
		p = vfork();
		if (p == 0) {
			execl(self_path(), argv[0], "leaf", (char *)NULL);
			_exit(127);
		}
		p = vfork();
		if (p == 0)
			_exit(0);
	} else if (!strcmp(mode, "spawn")) {
		char *args[] = { argv[0], "leaf", NULL };
		if (posix_spawn(&p, self_path(), NULL, NULL, args, environ))
			return 2;
	} else if (!strcmp(mode, "daemon")) {
		/* the parent leaves through _exit inside daemon() */
		if (daemon(1, 0))
			return 2;
		child_side(222);
		return 0;
	} else if (!strcmp(mode, "thread_fork")) {
		pthread_t th;
		void *child;
		pthread_create(&th, NULL, fork_from_thread, NULL);
		pthread_join(th, &child);
		if (!child)
			pthread_exit(NULL); /* the child: its first thread is gone */
		alarm(10);
		waitpid((pid_t)(long)child, &st, 0);
		printf("child reaped\n");
		return 0;
	} else if (!strcmp(mode, "tree")) {
		tree(argc > 2 ? atoi(argv[2]) : 3);
	} else {
		return 2;
	}
	return wait_all();
}
