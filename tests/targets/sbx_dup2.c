/* SPDX-License-Identifier: MIT */
/* dup2 over every descriptor 3..999 across a timer tick, allocations, all closed again, then a pipe: its numbers must be the bare run's. */
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOP 999

static void *volatile sink;
static void *volatile helper_sink;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int done, started;

static void after_dup(int n)
{
	for (int i = 0; i < n; i++) {
		sink = malloc(32); /* LINE:after_dup */
		free(sink);
	}
}

static void helper_work(int n)
{
	for (int i = 0; i < n; i++) {
		helper_sink = malloc(24); /* LINE:helper_work */
		free(helper_sink);
	}
}

/* A second thread alive throughout: the profiler then runs as it does for
 * a threaded program. arg: allocate (or only wait). */
static void *helper(void *arg)
{
	for (int half = 0; half < 2; half++) {
		if (arg)
			helper_work(100);
		pthread_mutex_lock(&mu);
		started = 1;
		pthread_cond_broadcast(&cv);
		while (!done && !half)
			pthread_cond_wait(&cv, &mu);
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

/* sbx_dup2 [thread|idle]: alone, with an allocating thread, with one that only waits */
int main(int argc, char **argv)
{
	int fd, p[2], dup_bad = 0, close_bad = 0;
	bool threaded = argc > 1, allocating = threaded && !strcmp(argv[1], "thread");
	pthread_t t;

	if (threaded && pthread_create(&t, NULL, helper, allocating ? "yes" : NULL) != 0)
		return 2;
	/* the helper has started (and made its first blocks): the profiler's
	 * descriptors for it are made before every number is taken (a number
	 * the profiler opens for a moment while the program dup2s onto it is a
	 * race the README lists under Limits) */
	pthread_mutex_lock(&mu);
	while (threaded && !started)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	fd = open("/dev/null", O_RDONLY);
	if (fd < 0) {
		perror("open /dev/null");
		return 2;
	}
	for (int i = 3; i <= TOP; i++)
		if (i != fd && dup2(fd, i) != i)
			dup_bad++;
	for (int half = 0; half < 2; half++) {
		after_dup(10000);
		if (!half) /* the profiler's timer writes while every number is taken */
			usleep(1100000);
	}
	if (threaded) {
		pthread_mutex_lock(&mu);
		done = 1;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
		pthread_join(t, NULL);
	}
	for (int i = 3; i <= TOP; i++)
		if (close(i) != 0)
			close_bad++;
	if (pipe(p) != 0) {
		perror("pipe");
		return 2;
	}
	printf("dup2 failures %d, close failures %d, pipe %d %d\n", dup_bad, close_bad, p[0], p[1]);
	return 0;
}
