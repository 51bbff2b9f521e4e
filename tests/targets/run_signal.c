/* SPDX-License-Identifier: MIT */
/* Waits for SIGTERM/INT/HUP/QUIT: "default" dies of it; "handler N" prints each, exits 7 after N and counts duplicates. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT };
static volatile sig_atomic_t hits, got[64];
static void *volatile sink[3];

void before_wait(void)
{
	for (int i = 0; i < 3; i++)
		sink[i] = malloc(100); /* LINE:before_wait */
}

static void on_signal(int sig)
{
	if (hits < 64)
		got[hits] = sig;
	hits++;
}

static void say(const char *fmt, int v)
{
	char line[64];
	int n = snprintf(line, sizeof(line), fmt, v);

	if (write(1, line, (size_t)n) != n)
		_exit(3);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct timespec rest = { 0, 300000000 };
	sigset_t block, old;
	int want, seen = 0;

	if (argc < 2)
		return 2;
	before_wait();
	if (!strcmp(argv[1], "default")) {
		say("ready %d\n", (int)getpid());
		for (;;)
			pause();
	}
	want = argc > 2 ? atoi(argv[2]) : 1;
	sigemptyset(&block);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&block, sigs[i]);
	sa.sa_mask = block;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	sigprocmask(SIG_BLOCK, &block, &old);
	say("ready %d\n", (int)getpid());
	while (hits < want) {
		sigsuspend(&old);
		for (; seen < hits && seen < 64; seen++)
			say("got %d\n", got[seen]);
	}
	/* a signal delivered twice arrives within this */
	sigprocmask(SIG_SETMASK, &old, NULL);
	while (nanosleep(&rest, &rest))
		;
	say("total %d\n", hits);
	return 7;
}
