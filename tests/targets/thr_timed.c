/* SPDX-License-Identifier: MIT */
/* Timed and clock waits that time out: mutex, rwlock, condition variable, semaphore, two of each. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <time.h>

/*
 * Ground truth (tests/test_threads.c): main holds m and rw (written) while
 * timed_waiter tries each twice, with a timed and a clock wait of 20 ms,
 * and waits twice on c and twice on s (taken once first, at once). Every
 * one of the 8 waits times out; none lasts longer than timed_waiter ran
 * (printed as waiter_ns).
 *   m:  1 acquisition (main's), none contended
 *   rw: 1 acquisition (main's write), none contended
 *   c:  no acquisition, 2 contended (a cond wait counts, timed out or not)
 *   s:  1 acquisition (the count it had), none contended
 */
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER, cm = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static sem_t s;
static int timeouts;
static long long waiter_ns;

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* 20 ms from now on clk. */
static struct timespec soon(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	ts.tv_nsec += 20000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

static void count(int rc)
{
	timeouts += rc == ETIMEDOUT || (rc == -1 && errno == ETIMEDOUT);
}

static void *timed_waiter(void *arg)
{
	struct timespec ts;
	long long t0 = now_ns();

	ts = soon(CLOCK_REALTIME), count(pthread_mutex_timedlock(&m, &ts));
	ts = soon(CLOCK_MONOTONIC), count(pthread_mutex_clocklock(&m, CLOCK_MONOTONIC, &ts));
	ts = soon(CLOCK_REALTIME), count(pthread_rwlock_timedrdlock(&rw, &ts));
	ts = soon(CLOCK_REALTIME), count(pthread_rwlock_timedwrlock(&rw, &ts));
	pthread_mutex_lock(&cm);
	ts = soon(CLOCK_REALTIME), count(pthread_cond_timedwait(&c, &cm, &ts));
	ts = soon(CLOCK_MONOTONIC), count(pthread_cond_clockwait(&c, &cm, CLOCK_MONOTONIC, &ts));
	pthread_mutex_unlock(&cm);
	ts = soon(CLOCK_REALTIME);
	if (sem_timedwait(&s, &ts)) /* the count it has: taken at once */
		return arg;
	ts = soon(CLOCK_REALTIME), count(sem_timedwait(&s, &ts));
	ts = soon(CLOCK_MONOTONIC), count(sem_clockwait(&s, CLOCK_MONOTONIC, &ts));
	waiter_ns = now_ns() - t0;
	return arg;
}

int main(void)
{
	pthread_t t;

	sem_init(&s, 0, 1);
	pthread_mutex_lock(&m);
	pthread_rwlock_wrlock(&rw);
	if (pthread_create(&t, NULL, timed_waiter, NULL))
		return 1;
	pthread_join(t, NULL);
	pthread_rwlock_unlock(&rw);
	pthread_mutex_unlock(&m);
	printf("m=%p rw=%p c=%p s=%p timeouts=%d waiter_ns=%lld\n", (void *)&m, (void *)&rw,
	       (void *)&c, (void *)&s, timeouts, waiter_ns);
	return timeouts == 8 ? 0 : 1;
}
