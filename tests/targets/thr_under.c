/* SPDX-License-Identifier: MIT */
/* An undersized pool: one worker holds a mutex for 300 ms of CPU while main waits on it; nothing waits on a cond. */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

/*
 * Ground truth (tests/test_threads.c): one group (under_worker) of 1 thread,
 * never in a cond or semaphore wait and running all its life (busy: on the
 * CPU), alive some 300 ms; main, outside the group, waits on held for nearly
 * all of it. On a machine of 2 cores or more, pool-undersized fires with
 * threads 1, cores ncpu, suggested_size 2 (CPU-bound: at most the cores). The mutex is
 * acquired twice, once contended: a lock-contention finding.
 */
static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static volatile int locked;

/* Spin on the CPU until 300 ms of this thread's CPU time have passed:
 * busy, however loaded the machine. */
static void *under_worker(void *arg)
{
	struct timespec now;

	pthread_mutex_lock(&held);
	__atomic_store_n(&locked, 1, __ATOMIC_RELEASE);
	do
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
	while (now.tv_sec == 0 && now.tv_nsec < 300000000);
	pthread_mutex_unlock(&held);
	return arg;
}

int main(void)
{
	pthread_t t;
	struct timespec tick = { 0, 100000 };

	if (pthread_create(&t, NULL, under_worker, NULL)) /* LINE:spawn */
		return 1;
	while (!__atomic_load_n(&locked, __ATOMIC_ACQUIRE))
		nanosleep(&tick, NULL);
	pthread_mutex_lock(&held); /* LINE:main_waits */
	pthread_mutex_unlock(&held);
	pthread_join(t, NULL);
	printf("held=%p\n", (void *)&held);
	return 0;
}
