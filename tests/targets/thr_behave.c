/* SPDX-License-Identifier: MIT */
/* Behaviour the preload must keep: TLS destructors, cancelling a cond waiter, detached threads, old-version condvars, pthread_exit from main. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* the condition variable of the first C library version (x86-64) */
#ifdef __x86_64__
__asm__(".symver old_cond_wait, pthread_cond_wait@GLIBC_2.2.5");
__asm__(".symver old_cond_signal, pthread_cond_signal@GLIBC_2.2.5");
__asm__(".symver old_cond_init, pthread_cond_init@GLIBC_2.2.5");
int old_cond_wait(pthread_cond_t *c, pthread_mutex_t *m);
int old_cond_signal(pthread_cond_t *c);
int old_cond_init(pthread_cond_t *c, const pthread_condattr_t *a);
#endif

static pthread_key_t key;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static int dtor_runs, cleanup_runs, detached_done, flag;
#define EARLY_CANCELS 200
static __thread int tls_value;

static void dtor(void *v)
{
	__atomic_fetch_add(&dtor_runs, 1, __ATOMIC_SEQ_CST);
	free(v);
}

static void *with_key(void *arg)
{
	pthread_setspecific(key, malloc(16));
	tls_value = 7;
	return arg;
}

static void unlock_cleanup(void *arg)
{
	cleanup_runs++;
	pthread_mutex_unlock(arg);
}

static void *cond_waiter(void *arg)
{
	pthread_mutex_lock(&m);
	pthread_cleanup_push(unlock_cleanup, &m);
	for (;;)
		pthread_cond_wait(&c, &m);
	pthread_cleanup_pop(1);
	return arg;
}

/* detached_sem: the detached thread's end, for last to wait on (bounded,
 * so that a detached thread that never ends prints 0, not a hang) */
static sem_t detached_sem;

static void *detached(void *arg)
{
	usleep(20000);
	__atomic_store_n(&detached_done, 1, __ATOMIC_SEQ_CST);
	sem_post(&detached_sem);
	return arg;
}

/* Waits until cancelled: a cancel that arrives while the preload still
 * registers the thread must neither be lost nor leave a lock held. */
static void *until_cancelled(void *arg)
{
	for (;;)
		pause();
	return arg;
}

static void *exit_early(void *arg)
{
	pthread_exit(arg);
}

#ifdef __x86_64__
static pthread_cond_t oc;
static void *old_signaller(void *arg)
{
	usleep(10000);
	pthread_mutex_lock(&m);
	flag = 1;
	old_cond_signal(&oc);
	pthread_mutex_unlock(&m);
	return arg;
}
#endif

/* the last thread standing after main's pthread_exit */
static void *last(void *arg)
{
	struct timespec limit;

	clock_gettime(CLOCK_REALTIME, &limit);
	limit.tv_sec += 30;
	while (sem_timedwait(&detached_sem, &limit) && errno == EINTR)
		;
	printf("last: detached %d\n", __atomic_load_n(&detached_done, __ATOMIC_SEQ_CST));
	fflush(stdout);
	return arg;
}

int main(void)
{
	pthread_t t;
	pthread_attr_t a;
	void *ret;
	int early = 0;

	pthread_key_create(&key, dtor);
	for (int i = 0; i < 3; i++) {
		pthread_create(&t, NULL, with_key, NULL);
		pthread_join(t, NULL);
	}
	printf("dtors %d\n", dtor_runs);

	pthread_create(&t, NULL, cond_waiter, NULL);
	usleep(20000);
	pthread_cancel(t);
	pthread_join(t, &ret);
	printf("cancelled %d cleanup %d mutex free %d\n", ret == PTHREAD_CANCELED, cleanup_runs,
	       pthread_mutex_trylock(&m) == 0);
	pthread_mutex_unlock(&m);

	for (int i = 0; i < EARLY_CANCELS; i++) {
		pthread_create(&t, NULL, until_cancelled, NULL);
		pthread_cancel(t); /* at once: often while the thread starts */
		pthread_join(t, &ret);
		early += ret == PTHREAD_CANCELED;
	}
	printf("cancelled at start %d of %d\n", early, EARLY_CANCELS);

	pthread_create(&t, NULL, exit_early, (void *)42);
	pthread_join(t, &ret);
	printf("exit value %ld\n", (long)ret);

	printf("join self %s\n", pthread_join(pthread_self(), NULL) == EDEADLK ? "EDEADLK" : "?");
	errno = 1234;
	pthread_mutex_lock(&m);
	pthread_mutex_unlock(&m);
	printf("errno kept %d\n", errno == 1234);

#ifdef __x86_64__
	old_cond_init(&oc, NULL);
	pthread_create(&t, NULL, old_signaller, NULL);
	pthread_mutex_lock(&m);
	while (!flag)
		old_cond_wait(&oc, &m);
	pthread_mutex_unlock(&m);
	pthread_join(t, NULL);
#endif
	printf("old cond ok\n");

	sem_init(&detached_sem, 0, 0);
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_create(&t, &a, detached, NULL);
	pthread_create(&t, &a, last, NULL);
	fflush(stdout);
	pthread_exit(NULL);
}
