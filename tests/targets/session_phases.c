/* SPDX-License-Identifier: MIT */
/* Known allocations per thread and per phase, with each phase's bounds printed as CLOCK_MONOTONIC times: the ground truth of --since, --until and --tid. */
#define _GNU_SOURCE
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define A_CALLS 1000
#define A_SIZE 100
#define B_CALLS 2000
#define B_SIZE 200

static sem_t go_a, go_b, done;

/* One thread's phase: calls blocks of size, kept or freed before it ends. */
struct work {
	const char *name; /* printed with the thread's tid */
	sem_t *go;
	int calls;
	size_t size;
	int free_them;
	void **blocks;
};

/* A line to stdout without stdio: its buffer would be an allocation of
 * its own, inside a phase. */
static void say(const char *what, unsigned long long v)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "%s %llu\n", what, v);

	if (write(1, line, (size_t)n) < 0)
		_exit(3);
}

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

/* Say the thread's tid, wait for its phase, allocate (and free). */
static void *worker(void *arg)
{
	struct work *w = arg;

	say(w->name, (unsigned long long)gettid());
	sem_post(&done);
	sem_wait(w->go);
	for (int i = 0; i < w->calls; i++) {
		w->blocks[i] = malloc(w->size);
		memset(w->blocks[i], 1, w->size);
	}
	for (int i = 0; w->free_them && i < w->calls; i++)
		free(w->blocks[i]);
	sem_post(&done);
	return NULL;
}

/* A pause between phases: their bounds never share a tick. */
static void pause_ms(long ms)
{
	struct timespec ts = { 0, ms * 1000000 };

	nanosleep(&ts, NULL);
}

int main(void)
{
	static void *a_blocks[A_CALLS], *b_blocks[B_CALLS];
	/* phase 1: A keeps its blocks (main frees them in phase 3); phase 2:
	 * B frees all of its own */
	struct work wa = { "tid_a", &go_a, A_CALLS, A_SIZE, 0, a_blocks };
	struct work wb = { "tid_b", &go_b, B_CALLS, B_SIZE, 1, b_blocks };
	pthread_t a, b;

	sem_init(&go_a, 0, 0);
	sem_init(&go_b, 0, 0);
	sem_init(&done, 0, 0);
	pthread_create(&a, NULL, worker, &wa);
	sem_wait(&done); /* A's tid printed before B's */
	pthread_create(&b, NULL, worker, &wb);
	sem_wait(&done);
	pause_ms(20);
	say("phase1", now_ns());
	sem_post(&go_a);
	sem_wait(&done);
	pause_ms(20);
	say("phase2", now_ns());
	sem_post(&go_b);
	sem_wait(&done);
	pause_ms(20);
	say("phase3", now_ns());
	for (int i = 0; i < A_CALLS; i++)
		free(a_blocks[i]);
	pause_ms(20);
	say("end", now_ns());
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	return 0;
}
