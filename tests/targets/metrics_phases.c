/* SPDX-License-Identifier: MIT */
/* Known allocations in phases with quiet spells between them (phases), a block of known size held for a while (hold), or a wait then exec or abort, or a spin on the CPU. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PHASES 3
#define PHASE_CALLS 1000 /* phase k makes k * PHASE_CALLS calls of k * PHASE_SIZE bytes */
#define PHASE_SIZE 64

void *volatile keep[PHASES * (PHASES + 1) / 2 * PHASE_CALLS];

static void sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&t, &t))
		;
}

/* Quiet, then each phase's calls at once, then quiet again: between the
 * phases the counters stand still long enough to be scraped. */
__attribute__((noinline)) static void phases(long quiet_ms)
{
	size_t at = 0;

	sleep_ms(quiet_ms);
	for (int k = 1; k <= PHASES; k++) {
		for (int i = 0; i < k * PHASE_CALLS; i++)
			keep[at++] = malloc((size_t)(k * PHASE_SIZE));
		sleep_ms(quiet_ms);
	}
}

static long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000ll + t.tv_nsec;
}

/*
 * mb megabytes, touched so they are resident, for ms milliseconds (more on
 * a loaded machine). Printed: the block's life as the program saw it, from
 * malloc's return to the free's call (held_ns) and from the malloc's call
 * to the free's return (held_outer_ns); the profiler's times lie between.
 * With write(): stdio's buffer would be one more allocation.
 */
__attribute__((noinline)) static void hold(long mb, long ms)
{
	long long t0 = now_ns(), t1, t2;
	volatile char *p = malloc((size_t)mb << 20);
	char line[96];
	int n;

	t1 = now_ns();
	if (!p)
		exit(1);
	/* volatile: a store the free makes dead is still made */
	for (size_t i = 0; i < (size_t)mb << 20; i += 4096)
		p[i] = 1;
	sleep_ms(ms);
	t2 = now_ns();
	free((void *)p);
	n = snprintf(line, sizeof(line), "held_ns=%lld held_outer_ns=%lld\n", t2 - t1, now_ns() - t0);
	if (write(1, line, (size_t)n) < 0)
		exit(3);
}

/* On the CPU for ms milliseconds of wall-clock time; printed: the CPU time
 * it had meanwhile (a loaded machine gives it less), as cpu_ns. */
__attribute__((noinline)) static void spin(long ms)
{
	struct timespec t0, t;
	volatile unsigned long n = 0;
	char line[64];
	int len;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		for (int i = 0; i < 100000; i++)
			n++;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	len = snprintf(line, sizeof(line), "cpu_ns=%lld\n", t.tv_sec * 1000000000ll + t.tv_nsec);
	if (write(1, line, (size_t)len) < 0)
		exit(3);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "phases"))
		phases(atol(argv[2]));
	else if (argc == 4 && !strcmp(argv[1], "hold"))
		hold(atol(argv[2]), atol(argv[3]));
	else if (argc >= 4 && !strcmp(argv[1], "exec")) {
		sleep_ms(atol(argv[2]));
		execv(argv[3], argv + 3);
		return 127;
	} else if (argc == 3 && !strcmp(argv[1], "spin")) {
		spin(atol(argv[2]));
	} else if (argc == 3 && !strcmp(argv[1], "abort")) {
		sleep_ms(atol(argv[2]));
		abort();
	} else {
		fprintf(stderr, "usage: metrics_phases phases QUIET_MS | hold MB MS | exec MS PROGRAM [ARGS] | abort MS | spin MS\n");
		return 2;
	}
	return 0;
}
