/* SPDX-License-Identifier: MIT */
/* Ground truth for the scan when blocks are freed by another thread than their own: 3 blocks lost (364 bytes), 1 reachable (300). */
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>

/*
 * A worker allocates five blocks; main frees two of them (a[0] and b, the
 * worker's blocks, freed by another thread), allocates c, which takes b's
 * address again (main's cache of freed blocks), and the worker then frees
 * b: that is c it frees. a[0] and c each hold at offset 64 the only
 * pointer to a small block (e, d), and a global still points at each of
 * them: a scan that missed either free would find them live and reachable,
 * and e or d with them. Lost: a[3] (300), d (40), e (24). Reachable: a[2]
 * (300, from a global). No stdio: the C library allocates nothing of its
 * own.
 */
void *volatile g_keep, *volatile g_a0, *volatile g_c;
static void *volatile shared_b, *volatile shared_a[2];
static sem_t made, freed, done;

static __attribute__((noinline)) void worker_make(void)
{
	void *a[4];

	for (int i = 0; i < 4; i++) {
		a[i] = malloc(300);
		memset(a[i], 0, 300);
	}
	shared_b = malloc(500);
	memset(shared_b, 0, 500);
	shared_a[0] = a[0];
	shared_a[1] = a[1];
	g_keep = a[2];
	__asm__ volatile("" : : "r"(a[3]) : "memory");
}

static void *worker(void *arg)
{
	(void)arg;
	worker_make();
	sem_post(&made);
	sem_wait(&freed);
	free(shared_b); /* main's c by now */
	shared_b = NULL;
	sem_post(&done);
	return NULL;
}

static __attribute__((noinline)) void main_part(void)
{
	void **a0 = shared_a[0], **c;

	a0[8] = malloc(24); /* e */
	g_a0 = a0;
	free(a0);
	free(shared_a[1]);
	free(shared_b);
	c = malloc(500);
	c[8] = malloc(40); /* d */
	g_c = c;
	shared_a[0] = shared_a[1] = NULL;
}

/* Old copies of the dropped pointers may sit below main's frame, where
 * exit's frames will reuse the stack: overwrite them. */
static __attribute__((noinline)) void scrub(void)
{
	volatile char junk[16384];

	memset((char *)junk, 0, sizeof(junk));
}

int main(void)
{
	pthread_t th;

	sem_init(&made, 0, 0);
	sem_init(&freed, 0, 0);
	sem_init(&done, 0, 0);
	pthread_create(&th, NULL, worker, NULL);
	sem_wait(&made);
	main_part();
	sem_post(&freed);
	sem_wait(&done);
	pthread_join(th, NULL);
	scrub();
	exit(0);
}
