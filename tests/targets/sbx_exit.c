/* SPDX-License-Identifier: MIT */
/* The last thread ends with the raw exit syscall: main alone, main before a second thread, and seccomp strict mode. */
#include <linux/seccomp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static void *keep[1000];
static void *volatile sink;

/* Output with write(2) alone: stdio's buffer would die with the raw exit. */
static void say(const char *s)
{
	(void)!write(1, s, strlen(s));
}

/* n blocks of 48 bytes, kept (leaked at the end). */
static void before_exit(int n)
{
	for (int i = 0; i < n; i++)
		keep[i] = malloc(48); /* LINE:before_exit */
}

/* n blocks of 72 bytes, all freed. */
static void late_thread_work(int n)
{
	for (int i = 0; i < n; i++) {
		sink = malloc(72); /* LINE:late_thread_work */
		free(sink);
	}
}

/* After strict mode: small blocks from memory malloc already holds. */
static void after_strict(int n)
{
	for (int i = 0; i < n; i++)
		keep[i] = malloc(24); /* LINE:after_strict */
}

static int go[2];

/* Waits until main has gone, allocates, ends with the raw exit too. */
static void *outlive_main(void *arg)
{
	char c;

	(void)arg;
	if (read(go[0], &c, 1) != 1)
		syscall(SYS_exit, 9);
	usleep(200000); /* main is gone by now: its raw exit follows its write */
	late_thread_work(300);
	say("second thread done\n");
	syscall(SYS_exit, 0);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	pthread_t t;

	if (!strcmp(mode, "main")) {
		before_exit(500);
		say("main exits raw\n");
		syscall(SYS_exit, 3);
	} else if (!strcmp(mode, "two")) {
		if (pipe(go) != 0 || pthread_create(&t, NULL, outlive_main, NULL) != 0)
			return 2;
		before_exit(500);
		say("main exits raw\n");
		(void)!write(go[1], "g", 1);
		syscall(SYS_exit, 3);
	} else if (!strcmp(mode, "strict")) {
		/* grow the heap past what comes after, then give it back to malloc */
		free(malloc(64 * 1024));
		before_exit(1000);
		for (int i = 0; i < 1000; i++)
			free(keep[i]);
		say("entering strict mode\n");
		if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) != 0)
			return 4;
		after_strict(5);
		say("strict ok\n");
		syscall(SYS_exit, 0);
	}
	return 2;
}
