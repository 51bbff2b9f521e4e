/* SPDX-License-Identifier: MIT */
/* pthread_getattr_np (glibc reallocs under the thread's lock there) on a new thread, on main, and from many threads at once. */
#define _GNU_SOURCE /* pthread_getattr_np */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTHREADS 8

static __thread void *volatile sink;

/* Asks for its own stack, as the JVM does for every thread it starts. */
static int own_stack(void)
{
	pthread_attr_t a;
	void *addr;
	size_t size;
	int ok;

	if (pthread_getattr_np(pthread_self(), &a) != 0)
		return 0;
	ok = pthread_attr_getstack(&a, &addr, &size) == 0 && size > 0;
	pthread_attr_destroy(&a);
	return ok;
}

/* n blocks of 40 bytes, all freed. */
static void after_getattr(int n)
{
	for (int i = 0; i < n; i++) {
		sink = malloc(40); /* LINE:after_getattr */
		free(sink);
	}
}

static void *one_thread(void *arg)
{
	int ok = own_stack();

	(void)arg;
	after_getattr(100);
	return (void *)(long)ok;
}

/* Asks again and again, allocating in between. */
static void *many_times(void *arg)
{
	long ok = 1;

	(void)arg;
	for (int i = 0; i < 50; i++) {
		ok &= own_stack();
		after_getattr(2);
	}
	return (void *)ok;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	pthread_t t[NTHREADS];
	void *ok = 0;
	long all = 1;

	if (!strcmp(mode, "thread")) {
		if (pthread_create(&t[0], NULL, one_thread, NULL) != 0 || pthread_join(t[0], &ok))
			return 2;
		printf("thread stack %s\n", ok ? "found" : "missing");
	} else if (!strcmp(mode, "main")) {
		all = own_stack();
		after_getattr(100);
		printf("main stack %s\n", all ? "found" : "missing");
	} else if (!strcmp(mode, "many")) {
		for (int i = 0; i < NTHREADS; i++)
			if (pthread_create(&t[i], NULL, many_times, NULL) != 0)
				return 2;
		for (int i = 0; i < NTHREADS; i++) {
			if (pthread_join(t[i], &ok))
				return 2;
			all &= (long)ok;
		}
		/* main asks too while nothing else runs */
		all &= own_stack();
		printf("%d threads: stacks %s\n", NTHREADS, all ? "found" : "missing");
	} else {
		return 2;
	}
	return 0;
}
