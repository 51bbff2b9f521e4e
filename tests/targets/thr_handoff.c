/* SPDX-License-Identifier: MIT */
/* Contention by construction: a mutex handed over N times, each time to a thread already blocked on it, whatever the load. */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/*
 * Ground truth (tests/test_prod.c): the waiter's every lock of handoff is
 * contended, N in all, because the holder unlocks only once the waiter is
 * blocked in it: glibc marks a mutex's lock word 2 only when a thread that
 * failed to take it goes to sleep on it, after its try failed (the
 * profiler's mark of a contended lock). The holder's own locks find it
 * free (the waiter unlocked before posting done). The go and done
 * semaphores and the join add waits of other kinds (sem, join).
 */
static pthread_mutex_t handoff = PTHREAD_MUTEX_INITIALIZER;
static sem_t go, done;
static int rounds;

static void *waiter(void *arg)
{
	for (int i = 0; i < rounds; i++) {
		sem_wait(&go);
		pthread_mutex_lock(&handoff); /* contended: the holder has it */
		pthread_mutex_unlock(&handoff);
		sem_post(&done);
	}
	return arg;
}

/* Until a thread sleeps on the mutex the caller holds. */
static void until_blocked_on(pthread_mutex_t *m)
{
	struct timespec tick = { 0, 20000 };

	while (__atomic_load_n(&m->__data.__lock, __ATOMIC_ACQUIRE) != 2)
		nanosleep(&tick, NULL);
}

int main(int argc, char **argv)
{
	pthread_t t;

	rounds = argc > 1 ? atoi(argv[1]) : 200;
	sem_init(&go, 0, 0);
	sem_init(&done, 0, 0);
	if (pthread_create(&t, NULL, waiter, NULL))
		return 1;
	for (int i = 0; i < rounds; i++) {
		pthread_mutex_lock(&handoff);
		sem_post(&go);
		until_blocked_on(&handoff);
		pthread_mutex_unlock(&handoff);
		sem_wait(&done);
	}
	pthread_join(t, NULL);
	printf("handoff=%p rounds=%d\n", (void *)&handoff, rounds);
	return 0;
}
