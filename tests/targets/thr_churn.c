/* SPDX-License-Identifier: MIT */
/* Thread churn: N (default 200) threads from churn_task, created and joined one after another; prints the median of its own create-to-join times. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define MAX_TIMED 4096

volatile unsigned long sink;

static void *churn_task(void *arg)
{
	for (unsigned long i = 0; i < 20000; i++)
		sink += i;
	return arg;
}

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

/* Insertion sort: glibc's qsort may allocate its buffer, an allocation the
 * tests would see. */
static void sort_ull(unsigned long long *d, int n)
{
	for (int i = 1; i < n; i++) {
		unsigned long long v = d[i];
		int j = i;

		for (; j > 0 && d[j - 1] > v; j--)
			d[j] = d[j - 1];
		d[j] = v;
	}
}

/*
 * Each thread lives inside its pthread_create call's start and its join's
 * return, so whatever the load, the profiler's median lifetime is at most
 * the median of these (same rank: the analyzer's p * (n - 1) + 0.5). The
 * line goes out with write(): stdio's buffer would be one more allocation.
 */
static void say_median(unsigned long long *d, int n)
{
	char line[64];
	int len;

	if (n <= 0)
		return;
	sort_ull(d, n);
	len = snprintf(line, sizeof(line), "lifetime_p50_ns=%llu\n", d[(int)(0.5 * (n - 1) + 0.5)]);
	if (write(1, line, (size_t)len) < 0)
		_exit(3);
}

int main(int argc, char **argv)
{
	static unsigned long long took[MAX_TIMED];
	int n = argc > 1 ? atoi(argv[1]) : 200;

	for (int i = 0; i < n; i++) {
		unsigned long long t0 = now_ns();
		pthread_t t;

		if (pthread_create(&t, NULL, churn_task, NULL)) /* LINE:spawn */
			return 1;
		if (pthread_join(t, NULL))
			return 1;
		if (i < MAX_TIMED)
			took[i] = now_ns() - t0;
	}
	say_median(took, n < MAX_TIMED ? n : MAX_TIMED);
	return 0;
}
