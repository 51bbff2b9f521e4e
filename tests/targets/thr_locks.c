/* SPDX-License-Identifier: MIT */
/* Known lock traffic: a mutex held 100 ms while a thread waits, 4 threads x 50 one-ms critical sections after main's, rwlock, spin, semaphore. */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <time.h>

#define WORKERS 4
#define ROUNDS 50

static pthread_mutex_t hold_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t work_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static pthread_spinlock_t spin;
static sem_t sem;
static long counter;
/* How long each lock was held, measured here: the tests' upper bounds for
 * the waits the profiler saw, whatever the machine's load (work_lock by
 * the workers, and by main while up to all 4 of them wait). */
static long long hold_held_ns, work_held_ns, work_main_ns;
/* The time the waiters spent in their lock calls, on their own clock
 * around each call: the profiler's waits lie inside, whatever the load. */
static long long hold_wait_ns, work_wait_ns;

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Until a thread sleeps on m, which the caller holds: glibc's lock word
 * is 2 only once a thread that failed to take it goes to sleep on it. */
static void until_blocked_on(pthread_mutex_t *m)
{
	struct timespec tick = { 0, 20000 };

	while (__atomic_load_n(&m->__data.__lock, __ATOMIC_ACQUIRE) != 2)
		nanosleep(&tick, NULL);
}

static void *hold_waiter(void *arg)
{
	long long t0 = now_ns();

	pthread_mutex_lock(&hold_lock); /* LINE:hold_waiter */
	hold_wait_ns = now_ns() - t0;
	pthread_mutex_unlock(&hold_lock);
	return arg;
}

static void *lock_worker(void *arg)
{
	for (int i = 0; i < ROUNDS; i++) {
		long long t0 = now_ns();

		pthread_mutex_lock(&work_lock); /* LINE:lock_worker */
		__atomic_fetch_add(&work_wait_ns, now_ns() - t0, __ATOMIC_RELAXED);
		t0 = now_ns();
		counter++;
		sleep_ms(1);
		work_held_ns += now_ns() - t0;
		pthread_mutex_unlock(&work_lock);
	}
	return arg;
}

static void *rw_reader(void *arg)
{
	for (int i = 0; i < 100; i++) {
		pthread_rwlock_rdlock(&rw);
		pthread_rwlock_unlock(&rw);
	}
	return arg;
}

static void *sem_taker(void *arg)
{
	for (int i = 0; i < 10; i++)
		sem_wait(&sem);
	return arg;
}

int main(void)
{
	pthread_t w, t[WORKERS];

	pthread_spin_init(&spin, PTHREAD_PROCESS_PRIVATE);
	sem_init(&sem, 0, 0);
	printf("hold_lock=%p work_lock=%p rw=%p spin=%p sem=%p\n", (void *)&hold_lock,
	       (void *)&work_lock, (void *)&rw, (void *)&spin, (void *)&sem);
	fflush(stdout);

	/* the waiter provably waits: hold_lock is held for 100 ms after it
	 * sleeps on it */
	pthread_mutex_lock(&hold_lock);
	hold_held_ns = now_ns();
	pthread_create(&w, NULL, hold_waiter, NULL);
	until_blocked_on(&hold_lock);
	sleep_ms(100);
	hold_held_ns = now_ns() - hold_held_ns;
	pthread_mutex_unlock(&hold_lock);
	pthread_join(w, NULL);

	/* main's section of work_lock ends 1 ms after a worker sleeps on it:
	 * one contended wait of 1 ms or more, whatever the scheduler does */
	pthread_mutex_lock(&work_lock);
	work_main_ns = now_ns();
	for (int i = 0; i < WORKERS; i++)
		pthread_create(&t[i], NULL, lock_worker, NULL);
	until_blocked_on(&work_lock);
	sleep_ms(1);
	work_main_ns = now_ns() - work_main_ns;
	pthread_mutex_unlock(&work_lock);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(t[i], NULL);

	/* rwlock: 3 writes by main, 100 reads by a thread */
	for (int i = 0; i < 3; i++) {
		pthread_rwlock_wrlock(&rw);
		pthread_rwlock_unlock(&rw);
	}
	pthread_create(&w, NULL, rw_reader, NULL);
	pthread_join(w, NULL);

	for (int i = 0; i < 1000; i++) {
		pthread_spin_lock(&spin);
		pthread_spin_unlock(&spin);
	}

	/* semaphore: 10 posts, 5 before and 5 after the taker starts waiting */
	for (int i = 0; i < 5; i++)
		sem_post(&sem);
	pthread_create(&w, NULL, sem_taker, NULL);
	sleep_ms(50);
	for (int i = 0; i < 5; i++) {
		sem_post(&sem);
		sleep_ms(2);
	}
	pthread_join(w, NULL);
	printf("counter=%ld hold_held_ns=%lld work_held_ns=%lld work_main_ns=%lld hold_wait_ns=%lld "
	       "work_wait_ns=%lld\n",
	       counter, hold_held_ns, work_held_ns, work_main_ns, hold_wait_ns, work_wait_ns);
	return counter == WORKERS * ROUNDS ? 0 : 1;
}
