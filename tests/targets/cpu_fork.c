/* SPDX-License-Identifier: MIT */
/* CPU target: burns 0.3 s of CPU in parent_burn, forks a child that burns in child_burn and then execs cpu_split 1. */
#include <limits.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Spin for this much CPU time of the calling thread. */
#define BURN(secs)                                                     \
	do {                                                           \
		double end_ = cpu_now() + (secs);                      \
		while (cpu_now() < end_)                               \
			for (unsigned long i = 0; i < 100000; i++)     \
				sink += i;                             \
	} while (0)

__attribute__((noinline)) void parent_burn(void)
{
	BURN(0.3);
}

__attribute__((noinline)) void child_burn(void)
{
	BURN(0.3);
}

int main(void)
{
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 32);
	pid_t pid;
	int st;

	if (n <= 0)
		return 1;
	path[n] = 0;
	strcpy(strrchr(path, '/') + 1, "cpu_split");
	parent_burn();
	pid = fork();
	if (pid == 0) {
		child_burn();
		execl(path, path, "1", (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return 1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
