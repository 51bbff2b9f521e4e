/* SPDX-License-Identifier: MIT */
/* Off-CPU target: blocks in wait_here for 10 x 100 ms (1 s in all), with a little CPU work between. */
#include <stdio.h>
#include <time.h>

static volatile unsigned long sink;
/* Wall time spent in wait_here, measured here: the tests' upper bound for
 * what the profiler saw, however long a loaded machine oversleeps. */
static long long waited_ns;

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

__attribute__((noinline)) void wait_here(void)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	long long t0 = now_ns();

	nanosleep(&ts, NULL); /* LINE:wait_here */
	waited_ns += now_ns() - t0;
}

__attribute__((noinline)) static void busy(void)
{
	for (unsigned long i = 0; i < 2000000; i++)
		sink += i;
}

int main(void)
{
	for (int i = 0; i < 10; i++) {
		wait_here();
		busy();
	}
	printf("waited_ns=%lld\n", waited_ns);
	return 0;
}
