/* SPDX-License-Identifier: MIT */
/* Off-CPU target: blocks in wait_here for 10 x 100 ms (1 s in all), with a little CPU work between. */
#include <time.h>

static volatile unsigned long sink;

__attribute__((noinline)) void wait_here(void)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };

	nanosleep(&ts, NULL); /* LINE:wait_here */
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
	return 0;
}
