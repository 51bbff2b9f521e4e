/* SPDX-License-Identifier: MIT */
/* Multithreaded microbenchmark: bench_threads THREADS TOTAL, TOTAL malloc/free pairs split across threads. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define LIVE 64

void *volatile sink;

struct job {
	unsigned long n, seed;
};

void *worker(void *arg)
{
	struct job *j = arg;
	void *ring[LIVE] = { 0 };

	for (unsigned long i = 0; i < j->n; i++) {
		unsigned slot = (unsigned)((i + j->seed) * 2654435761u) % LIVE;

		free(ring[slot]);
		ring[slot] = malloc(16 + (i * 7 + j->seed) % 256);
		if (!ring[slot])
			abort();
		sink = ring[slot];
	}
	for (unsigned i = 0; i < LIVE; i++)
		free(ring[i]);
	return NULL;
}

int main(int argc, char **argv)
{
	int nthreads = argc > 1 ? atoi(argv[1]) : 2;
	unsigned long total = argc > 2 ? strtoul(argv[2], NULL, 10) : 8000000;
	pthread_t *t;
	struct job *jobs;

	if (nthreads < 1 || nthreads > 1024) {
		fprintf(stderr, "usage: %s THREADS [TOTAL]\n", argv[0]);
		return 2;
	}
	t = calloc((size_t)nthreads, sizeof(*t));
	jobs = calloc((size_t)nthreads, sizeof(*jobs));
	if (!t || !jobs)
		return 1;
	for (int i = 0; i < nthreads; i++) {
		jobs[i].n = total / (unsigned long)nthreads;
		jobs[i].seed = (unsigned long)i * 977;
		if (pthread_create(&t[i], NULL, worker, &jobs[i]))
			return 1;
	}
	for (int i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	free(jobs);
	free(t);
	return 0;
}
