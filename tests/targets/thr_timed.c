/* SPDX-License-Identifier: MIT */
/* Timed and clock waits that time out: mutex, rwlock, condition variable, semaphore, two of each; a cond woken once, then timed out twice. */
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
 * Before those, timed_waiter waits on c2 until main signals it (once: main
 * signals only when the waiter is inside the wait), then twice more until
 * 20 ms time out (10 timeouts in all):
 *   c2: no acquisition, 3 contended (so its statistics are written even
 *       when timed-out waits were not counted: they pin that count)
 */
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER, cm = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t cm2 = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c2 = PTHREAD_COND_INITIALIZER;
static int in_wait, signalled;
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

/* One wait on c2 that main's signal ends, then two that time out. */
static void woken_then_timed(void)
{
	struct timespec ts;

	pthread_mutex_lock(&cm2);
	in_wait = 1;
	while (!signalled)
		pthread_cond_wait(&c2, &cm2);
	ts = soon(CLOCK_REALTIME), count(pthread_cond_timedwait(&c2, &cm2, &ts));
	ts = soon(CLOCK_MONOTONIC), count(pthread_cond_clockwait(&c2, &cm2, CLOCK_MONOTONIC, &ts));
	pthread_mutex_unlock(&cm2);
}

/* main: once the waiter is in its wait on c2 (it released cm2 there). */
static void signal_once(void)
{
	struct timespec tick = { 0, 100000 };

	pthread_mutex_lock(&cm2);
	while (!in_wait) {
		pthread_mutex_unlock(&cm2);
		nanosleep(&tick, NULL);
		pthread_mutex_lock(&cm2);
	}
	signalled = 1;
	pthread_cond_signal(&c2);
	pthread_mutex_unlock(&cm2);
}

static void *timed_waiter(void *arg)
{
	struct timespec ts;
	long long t0 = now_ns();

	woken_then_timed();

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
	signal_once();
	pthread_join(t, NULL);
	pthread_rwlock_unlock(&rw);
	pthread_mutex_unlock(&m);
	printf("m=%p rw=%p c=%p s=%p c2=%p timeouts=%d waiter_ns=%lld\n", (void *)&m, (void *)&rw,
	       (void *)&c, (void *)&s, (void *)&c2, timeouts, waiter_ns);
	return timeouts == 10 ? 0 : 1;
}
