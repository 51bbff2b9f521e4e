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

static void *a_blocks[A_CALLS];
static sem_t go_a, go_b, done;

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

/* Phase 1: A_CALLS blocks of A_SIZE, kept (freed by main in phase 3). */
static void *thread_a(void *arg)
{
	(void)arg;
	say("tid_a", (unsigned long long)gettid());
	sem_post(&done);
	sem_wait(&go_a);
	for (int i = 0; i < A_CALLS; i++) {
		a_blocks[i] = malloc(A_SIZE);
		memset(a_blocks[i], 1, A_SIZE);
	}
	sem_post(&done);
	return NULL;
}

/* Phase 2: B_CALLS blocks of B_SIZE, all freed before the phase ends. */
static void *thread_b(void *arg)
{
	static void *b[B_CALLS];

	(void)arg;
	say("tid_b", (unsigned long long)gettid());
	sem_post(&done);
	sem_wait(&go_b);
	for (int i = 0; i < B_CALLS; i++) {
		b[i] = malloc(B_SIZE);
		memset(b[i], 2, B_SIZE);
	}
	for (int i = 0; i < B_CALLS; i++)
		free(b[i]);
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
	pthread_t a, b;

	sem_init(&go_a, 0, 0);
	sem_init(&go_b, 0, 0);
	sem_init(&done, 0, 0);
	pthread_create(&a, NULL, thread_a, NULL);
	pthread_create(&b, NULL, thread_b, NULL);
	sem_wait(&done);
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
