/* SPDX-License-Identifier: MIT */
/* Per-thread CPU time: 2 threads burn about 100 and 200 ms of CPU and print what getrusage(RUSAGE_THREAD) says. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

volatile unsigned long sink;

static unsigned long long ru_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
}

static void *burn(void *arg)
{
	long ms = (long)arg;
	struct timespec ts;
	unsigned long long end;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	end = ts.tv_sec * 1000000000ull + ts.tv_nsec + ms * 1000000ull;
	do {
		for (int i = 0; i < 1000; i++)
			sink++;
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	} while (ts.tv_sec * 1000000000ull + ts.tv_nsec < end);
	printf("tid %ld cpu_ns %llu\n", (long)syscall(SYS_gettid), ru_ns());
	fflush(stdout);
	return NULL;
}

int main(void)
{
	pthread_t a, b;

	pthread_create(&a, NULL, burn, (void *)100L);
	pthread_create(&b, NULL, burn, (void *)200L);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	return 0;
}
