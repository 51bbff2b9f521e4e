/* SPDX-License-Identifier: MIT */
/* Fills many event buffers on 3 threads (200,000 x malloc(32) each, kept or freed), then SIGKILLs itself, or exits. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

/*
 * Each thread allocates N blocks of 32 bytes at churn, freeing every
 * second one at once and keeping the others in a ring of 64, so that its
 * buffer fills many times over (--full writes them through the writer
 * thread) while only a few blocks are live at any moment. Ends with the
 * last 64 of each thread's ring live: 3 x 64 x 32 bytes.
 */
#define N 200000
#define RING 64

static __attribute__((noinline)) void churn(void **ring)
{
	for (int i = 0; i < N; i++) {
		void *p = malloc(32); /* LINE:churn */

		if (i % 2) {
			free(p);
			continue;
		}
		free(ring[(i / 2) % RING]);
		ring[(i / 2) % RING] = p;
	}
}

static void *worker(void *arg)
{
	churn(arg);
	return NULL;
}

static void *rings[3][RING];

int main(int argc, char **argv)
{
	pthread_t th[2];

	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, worker, rings[i + 1]);
	churn(rings[0]);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	if (argc > 1 && !strcmp(argv[1], "kill"))
		raise(SIGKILL);
	return 0;
}
