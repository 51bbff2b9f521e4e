/* SPDX-License-Identifier: MIT */
/* CPU target: 2 threads spend 70% of their CPU in burn_hot, 30% in burn_cold, for argv[1] seconds of CPU each. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

static volatile unsigned long sink;
static double seconds = 2;

/* The same loop in both, so that time is proportional to the count. */
#define SPIN(n)                                                        \
	do {                                                           \
		unsigned long x = sink;                                \
		for (unsigned long i = 0; i < (n); i++)                \
			x = x * 6364136223846793005ul + i;             \
		sink = x;                                              \
	} while (0)

/* Counts vary by +-50% around their mean, so that the loop never runs in
 * step with the sampling clock (which would favour one function). */
static unsigned long jitter(unsigned long mean)
{
	static __thread unsigned long s = 88172645463325252ul;

	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return mean / 2 + s % (mean + 1);
}

__attribute__((noinline)) void burn_hot(void)
{
	unsigned long n = jitter(700000);

	SPIN(n); /* LINE:burn_hot */
}

__attribute__((noinline)) void burn_cold(void)
{
	unsigned long n = jitter(300000);

	SPIN(n); /* LINE:burn_cold */
}

/* The thread's own CPU clock: each thread burns its seconds of CPU however
 * loaded the machine is, so the samples a test counts do not depend on it. */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
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
