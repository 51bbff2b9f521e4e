/* SPDX-License-Identifier: MIT */
/* CPU target: 4 threads dlopen, call and dlclose libplugin.so and allocate in a tight loop for argv[1] seconds; its own SIGPROF timer keeps ticking. */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define THREADS 4

static char plugin[PATH_MAX];
static double seconds = 2;
static volatile sig_atomic_t prof_ticks;
static unsigned long done[THREADS];
static int errno_broken;

static void on_prof(int sig)
{
	(void)sig;
	prof_ticks++;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static int churn_once(void)
{
	void *h = dlopen(plugin, RTLD_NOW | RTLD_LOCAL);
	int (*fn)(int);
	void *blocks[16];
	int r;

	if (!h)
		return -1;
	fn = (int (*)(int))dlsym(h, "plugin_alloc");
	r = fn ? fn(8) : -1;
	for (int i = 0; i < 16; i++)
		blocks[i] = malloc(16 + 48 * i);
	for (int i = 0; i < 16; i++)
		free(blocks[i]);
	dlclose(h);
	return r == 8 ? 0 : -1;
}

static void *worker(void *arg)
{
	long id = (long)arg;
	double end = now() + seconds;

	while (now() < end) {
		if (churn_once())
			return NULL;
		/* a handler that changed errno would show here */
		errno = 4242;
		for (volatile int i = 0; i < 2000; i++)
			;
		if (errno != 4242)
			errno_broken = 1;
		done[id]++;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct itimerval it = { { 0, 10000 }, { 0, 10000 } };
	pthread_t th[THREADS];
	ssize_t n = readlink("/proc/self/exe", plugin, sizeof(plugin) - 32);
	unsigned long total = 0;
	int ok = 1;

	if (argc > 1)
		seconds = atof(argv[1]);
	if (n <= 0)
		return 1;
	plugin[n] = 0;
	strcpy(strrchr(plugin, '/') + 1, "libplugin.so");
	signal(SIGPROF, on_prof);
	setitimer(ITIMER_PROF, &it, NULL);
	for (long i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		ok &= done[i] > 0;
		total += done[i];
	}
	printf("threads %d ok %d errno %s prof_ticks %s loops %lu\n", THREADS, ok,
	       errno_broken ? "changed" : "kept", prof_ticks > 0 ? "yes" : "no", total);
	return ok && !errno_broken ? 0 : 1;
}
