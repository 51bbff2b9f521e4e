/* SPDX-License-Identifier: MIT */
/* An oversized pool: 8 workers on one condition variable, 20 tasks of about 1 ms, one every 10 ms. */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#define NWORKERS 8
#define NTASKS 20

static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcond = PTHREAD_COND_INITIALIZER;
static int queued, done, stop;
volatile unsigned long sink;

static unsigned long long cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* 1 ms of this thread's CPU time: busy however loaded the machine. */
static void task(void)
{
	unsigned long long end = cpu_ns() + 1000000;

	while (cpu_ns() < end)
		sink++;
}

static void *pool_worker(void *arg)
{
	pthread_mutex_lock(&qlock);
	for (;;) {
		while (!queued && !stop)
			pthread_cond_wait(&qcond, &qlock);
		if (!queued)
			break;
		queued--;
		pthread_mutex_unlock(&qlock);
		task();
		pthread_mutex_lock(&qlock);
		done++;
	}
	pthread_mutex_unlock(&qlock);
	return arg;
}

int main(void)
{
	pthread_t t[NWORKERS];
	struct timespec gap = { 0, 10000000 };

	for (int i = 0; i < NWORKERS; i++)
		if (pthread_create(&t[i], NULL, pool_worker, NULL))
			return 1;
	for (int i = 0; i < NTASKS; i++) {
		nanosleep(&gap, NULL);
		pthread_mutex_lock(&qlock);
		queued++;
		pthread_cond_signal(&qcond);
		pthread_mutex_unlock(&qlock);
	}
	nanosleep(&gap, NULL);
	pthread_mutex_lock(&qlock);
	stop = 1;
	pthread_cond_broadcast(&qcond);
	pthread_mutex_unlock(&qlock);
	for (int i = 0; i < NWORKERS; i++)
		pthread_join(t[i], NULL);
	printf("done %d\n", done);
	return done == NTASKS ? 0 : 1;
}
