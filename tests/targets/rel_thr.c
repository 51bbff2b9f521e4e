/* SPDX-License-Identifier: MIT */
/* Threads: blocks freed on other threads, threads ending while others allocate, pthread_exit from main. */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUNDS 100
#define BATCH 1000

static int nthreads;
static void **blocks; /* nthreads * BATCH */
static pthread_barrier_t bar;
static __thread void *volatile sink; /* per thread: each frees its own */

/* Each round every thread allocates a batch, then frees its neighbour's. */
static void *cross(void *arg)
{
	long me = (long)arg;
	void **mine = blocks + me * BATCH;
	void **next = blocks + ((me + 1) % nthreads) * BATCH;

	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < BATCH; i++)
			mine[i] = malloc(16 + (size_t)(i & 7) * 8); /* LINE:cross */
		pthread_barrier_wait(&bar);
		for (int i = 0; i < BATCH; i++)
			free(next[i]);
		pthread_barrier_wait(&bar);
	}
	return NULL;
}

static void *steady(void *arg)
{
	(void)arg;
	for (int i = 0; i < 200000; i++) {
			sink = malloc(48); /* LINE:steady */
			free(sink);
		}
	return NULL;
}

static int short_done;

static void *short_lived(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100; i++) {
			sink = malloc(72); /* LINE:short_lived */
			free(sink);
		}
	__atomic_add_fetch(&short_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *after_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1000; i++) {
			sink = malloc(88); /* LINE:after_main */
			free(sink);
		}
	return NULL;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	pthread_t th[256];

	if (!strcmp(mode, "cross")) {
		nthreads = argc > 2 ? atoi(argv[2]) : 64;
		blocks = calloc((size_t)nthreads * BATCH, sizeof(void *));
		pthread_barrier_init(&bar, NULL, (unsigned)nthreads);
		for (long i = 0; i < nthreads; i++)
			pthread_create(&th[i], NULL, cross, (void *)i);
		for (int i = 0; i < nthreads; i++)
			pthread_join(th[i], NULL);
		free(blocks);
		puts("cross done");
	} else if (!strcmp(mode, "churn")) {
		/* 4 threads allocate throughout while 200 others start and end */
		for (int i = 0; i < 4; i++)
			pthread_create(&th[i], NULL, steady, NULL);
		for (int i = 0; i < 200; i++) {
			pthread_t t;
			pthread_create(&t, NULL, short_lived, NULL);
			if (i % 2)
				pthread_detach(t);
			else
				pthread_join(t, NULL);
		}
		for (int i = 0; i < 4; i++)
			pthread_join(th[i], NULL);
		while (__atomic_load_n(&short_done, __ATOMIC_ACQUIRE) < 200)
			sched_yield();
		puts("churn done");
	} else if (!strcmp(mode, "main_exit")) {
		for (int i = 0; i < 4; i++)
			pthread_create(&th[i], NULL, after_main, NULL);
		puts("main leaves");
		fflush(stdout);
		pthread_exit(NULL);
	} else {
		return 2;
	}
	return 0;
}
