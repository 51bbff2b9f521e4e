/* SPDX-License-Identifier: MIT */
/* CPU target: 2 threads spend 70% of their CPU in burn_hot, 30% in burn_cold, for argv[1] seconds. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

static volatile unsigned long sink;
static double seconds = 2;

/* The same loop in both: time is proportional to n. */
__attribute__((noinline)) static void spin(unsigned long n)
{
	unsigned long x = sink;

	for (unsigned long i = 0; i < n; i++)
		x = x * 6364136223846793005ul + i;
	sink = x;
}

__attribute__((noinline)) void burn_hot(void)
{
	spin(700000); /* LINE:burn_hot */
}

__attribute__((noinline)) void burn_cold(void)
{
	spin(300000); /* LINE:burn_cold */
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static void *work(void *arg)
{
	double end = now() + seconds;

	(void)arg;
	while (now() < end) {
		burn_hot();
		burn_cold();
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;

	if (argc > 1)
		seconds = atof(argv[1]);
	pthread_create(&t, NULL, work, NULL);
	work(NULL);
	pthread_join(t, NULL);
	return 0;
}
