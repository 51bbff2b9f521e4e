/* SPDX-License-Identifier: MIT */
/* Workloads for production mode: bursts then a long sleep, phases around the toggle signal, a timed malloc/free churn, known descriptors. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#define PHASE_N 1000

void *volatile keep[3 * PHASE_N];
void *volatile one; /* keeps the compiler from eliding a malloc/free pair */

__attribute__((noinline)) void burst(int i)
{
	for (int k = 0; k < PHASE_N; k++)
		keep[i * PHASE_N + k] = malloc(64); /* LINE:burst */
}

__attribute__((noinline)) void before_pause(void)
{
	for (int k = 0; k < PHASE_N; k++)
		keep[k] = malloc(32); /* LINE:before_pause */
}

/* While paused: 100 more of the blocks recorded before the pause grow
 * (their neighbours are in use: each moves). The trace must still end the
 * old blocks, and record no new ones. */
__attribute__((noinline)) void regrow_paused(void)
{
	for (int k = PHASE_N / 2; k < PHASE_N / 2 + 100; k++)
		keep[k] = realloc(keep[k], 8192); /* LINE:regrow_paused */
}

__attribute__((noinline)) void while_paused(void)
{
	for (int k = 0; k < 2 * PHASE_N; k++)
		one = malloc(48), free(one); /* LINE:while_paused */
	for (int k = 0; k < PHASE_N / 2; k++)
		free(keep[k]); /* half of what was recorded before the pause */
	regrow_paused();
}

__attribute__((noinline)) void after_resume(void)
{
	for (int k = 0; k < 3 * PHASE_N; k++)
		one = malloc(16), free(one); /* LINE:after_resume */
}

/* Returns how many blocks it allocated. */
__attribute__((noinline)) long churn(long ms)
{
	struct timespec t0, t;
	long n = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		for (int k = 0; k < 1000; k++)
			one = malloc(64), free(one); /* LINE:churn */
		n += 1000;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
	return n;
}

static void *churn_thread(void *ms)
{
	churn((long)ms);
	return NULL;
}

/* The program's descriptors, as it lists them (without the listing's own). */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d);
	if (d)
		closedir(d);
	return n;
}

/* 7 more descriptors, then two threads churn for ms: prints how many
 * descriptors it holds all along. */
static int hold_fds(long ms)
{
	pthread_t th;
	int n;

	for (int i = 0; i < 7; i++)
		if (open("/dev/null", O_RDONLY) < 0)
			return 1;
	n = count_fds();
	pthread_create(&th, NULL, churn_thread, (void *)ms);
	churn(ms);
	pthread_join(th, NULL);
	printf("%d\n", n);
	return 0;
}

/* Every thread of the process (the profiler's timer among them) on CPU 0. */
static void pin_all(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(0, &one);
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			sched_setaffinity(atoi(e->d_name), sizeof(one), &one);
	if (d)
		closedir(d);
}

/*
 * Over the alloc_calls budget, then exit the moment the profiler's timer
 * renames its metrics file into dir (monitoring.metrics_textfile): this
 * thread, real-time on the timer's CPU, wakes on the rename and runs to
 * exit_group before the timer gets the CPU back, between its SNAPSHOT and
 * its budget check. Exit 3 where real-time scheduling is refused.
 */
static int exit_at_metrics(const char *dir)
{
	struct sched_param fifo = { .sched_priority = 1 };
	struct timespec settle = { 0, 300000000 };
	char want[64], ev[4096] __attribute__((aligned(8)));
	int fd;

	pin_all();
	for (int k = 0; k < 20000; k++)
		one = malloc(64), free(one); /* LINE:exit_at_metrics */
	nanosleep(&settle, NULL); /* a snapshot after the churn comes before the watch ends */
	snprintf(want, sizeof(want), "prestanda-%d.prom", (int)getpid());
	fd = inotify_init1(IN_CLOEXEC);
	if (fd < 0 || inotify_add_watch(fd, dir, IN_MOVED_TO) < 0)
		return 1;
	if (sched_setscheduler(0, SCHED_FIFO, &fifo))
		return 3;
	for (;;) {
		ssize_t n = read(fd, ev, sizeof(ev));

		for (ssize_t at = 0; at < n;) {
			struct inotify_event *i = (struct inotify_event *)(ev + at);

			if (i->len && !strcmp(i->name, want))
				return 0;
			at += (ssize_t)sizeof(*i) + i->len;
		}
		if (n <= 0)
			return 1;
	}
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (!strcmp(mode, "bursts")) { /* 3 bursts 1.2 s apart, then sleep until killed */
		struct timespec gap = { 1, 200000000 };

		for (int i = 0; i < 3; i++) {
			burst(i);
			nanosleep(&gap, NULL);
		}
		/* write, not stdio: no allocation after the bursts */
		if (write(1, "bursts done\n", 12) != 12)
			return 1;
		for (;;)
			pause();
	}
	if (!strcmp(mode, "toggle") || !strcmp(mode, "notoggle")) {
		int sig = argc > 2 ? atoi(argv[2]) : SIGUSR2;
		int on = !strcmp(mode, "toggle");

		before_pause();
		if (on)
			raise(sig);
		while_paused();
		if (on)
			raise(sig);
		after_resume();
		return 0;
	}
	if (!strcmp(mode, "exit-at-metrics") && argc > 2)
		return exit_at_metrics(argv[2]);
	if (!strcmp(mode, "fds"))
		return hold_fds(argc > 2 ? atol(argv[2]) : 1000);
	if (!strcmp(mode, "churn")) {
		long n = churn(argc > 2 ? atol(argv[2]) : 1000);

		if (argc > 3) /* "count": say how many */
			printf("churned %ld\n", n);
		return 0;
	}
	return 2;
}
