/* SPDX-License-Identifier: MIT */
/* An undersized pool: one worker spins 300 ms of CPU while another thread waits on a mutex all of the worker's life; nothing waits on a cond. */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

/*
 * Ground truth (tests/test_threads.c): one group (under_worker) of 1 thread,
 * never in a cond or semaphore wait and running all its life (busy: on the
 * CPU). held_waiter, outside the group, is blocked on held from before the
 * worker starts to after it ends (main takes held first, starts the worker
 * only once the waiter sleeps on held, and lets it go only after joining
 * the worker): the group is saturated all of its life, whatever the load.
 * On a machine of 2 cores or more, pool-undersized fires with threads 1,
 * cores ncpu, suggested_size 2 (CPU-bound: at most the cores). held is
 * acquired twice, once contended: a lock-contention finding.
 */
static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;

/* Spin on the CPU until 300 ms of this thread's CPU time have passed:
 * busy, however loaded the machine. */
static void *under_worker(void *arg)
{
	struct timespec now;

	do
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
	while (now.tv_sec == 0 && now.tv_nsec < 300000000);
	return arg;
}

static void *held_waiter(void *arg)
{
	pthread_mutex_lock(&held); /* LINE:waits */
	pthread_mutex_unlock(&held);
	return arg;
}

int main(void)
{
	pthread_t w, t;
	struct timespec tick = { 0, 100000 };

	pthread_mutex_lock(&held);
	if (pthread_create(&w, NULL, held_waiter, NULL))
		return 1;
	/* glibc's lock word is 2 once a thread sleeps on the mutex */
	while (__atomic_load_n(&held.__data.__lock, __ATOMIC_ACQUIRE) != 2)
		nanosleep(&tick, NULL);
	if (pthread_create(&t, NULL, under_worker, NULL)) /* LINE:spawn */
		return 1;
	pthread_join(t, NULL);
	pthread_mutex_unlock(&held);
	pthread_join(w, NULL);
	printf("held=%p\n", (void *)&held);
	return 0;
}
