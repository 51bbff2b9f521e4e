/* SPDX-License-Identifier: MIT */
/* Four threads, each 100000 x malloc(32) + free at thread_work: one merged site of 400000 calls. */
#include <pthread.h>
#include <stdlib.h>

#define NTHREADS 4
#define PER_THREAD 100000

void *volatile sink;

static void *thread_work(void *arg)
{
	for (int i = 0; i < PER_THREAD; i++) {
		void *p = malloc(32); /* LINE:thread_work */
		sink = p;
		free(p);
	}
	return arg;
}

int main(void)
{
	pthread_t t[NTHREADS];

	for (int i = 0; i < NTHREADS; i++)
		if (pthread_create(&t[i], NULL, thread_work, NULL))
			return 1;
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	return 0;
}
