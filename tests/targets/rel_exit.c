/* SPDX-License-Identifier: MIT */
/* Ways to end: exit, _exit, abort, and returning from main while other threads still allocate. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static __thread void *volatile sink; /* per thread: each frees its own */

static void before_end(int n)
{
	for (int i = 0; i < n; i++)
		sink = malloc(64); /* LINE:before_end */
}

static void *busy(void *arg)
{
	(void)arg;
	for (;;) {
		sink = malloc(200); /* LINE:busy */
		free(sink);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	pthread_t t;

	before_end(100);
	if (!strcmp(mode, "exit"))
		exit(5);
	if (!strcmp(mode, "_exit"))
		_exit(6);
	if (!strcmp(mode, "abort"))
		abort();
	if (!strcmp(mode, "threads")) {
		for (int i = 0; i < 4; i++)
			pthread_create(&t, NULL, busy, NULL);
		usleep(200000);
		return 7;
	}
	if (!strcmp(mode, "sleep")) {
		for (int i = 0; i < 4; i++)
			pthread_create(&t, NULL, busy, NULL);
		usleep(1200000);
		puts("woke");
		fflush(stdout);
		pause();
	}
	return 2;
}
