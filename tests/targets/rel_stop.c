/* SPDX-License-Identifier: MIT */
/* Stopped by a signal: allocates at named functions, then waits to be stopped, shows its dispositions, or overflows its stack. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern __sighandler_t sysv_signal(int sig, __sighandler_t fn);

static void *volatile keep[100000];
static volatile int keep_going = 1;
static volatile sig_atomic_t got_usr1;

static void stop_alloc(int n)
{
	for (int i = 0; i < n; i++)
		keep[i] = malloc(64); /* LINE:stop_alloc */
}

static void last_alloc(int n)
{
	for (int i = 0; i < n; i++)
		keep[50000 + i] = malloc(32); /* LINE:last_alloc */
}

static void thread_alloc(int n)
{
	for (int i = 0; i < n; i++)
		keep[20000 + i] = malloc(48); /* LINE:thread_alloc */
}

/* Each frame keeps a buffer and uses it after the call: no tail call. */
static int recurse(volatile char *prev)
{
	volatile char buf[512];

	buf[0] = (char)(prev ? prev[0] + 1 : 0);
	if (keep_going)
		return recurse(buf) + buf[1];
	return 0;
}

static void ready(void)
{
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
}

static void wait_forever(void)
{
	for (;;)
		pause();
}

static void own_handler(int sig)
{
	char line[32];
	int n = snprintf(line, sizeof(line), "own handler %d\n", sig);

	(void)!write(1, line, (size_t)n);
	_exit(3);
}

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

static const char *handler_name(__sighandler_t h)
{
	return h == SIG_DFL ? "DFL" : h == SIG_IGN ? "IGN" : h == own_handler ? "own" :
	       h == SIG_HOLD ? "HOLD" : h == SIG_ERR ? "ERR" : "other";
}

static void show(const char *what, int sig)
{
	struct sigaction sa;

	memset(&sa, 0xa5, sizeof(sa));
	if (sigaction(sig, NULL, &sa)) {
		printf("%s %d: sigaction failed\n", what, sig);
		return;
	}
	printf("%s %d: %s flags %#x restorer %s mask", what, sig, handler_name(sa.sa_handler),
	       (unsigned)sa.sa_flags, sa.sa_restorer ? "set" : "none");
	for (int s = 1; s <= 64; s++)
		if (sigismember(&sa.sa_mask, s) == 1)
			printf(" %d", s);
	printf("\n");
}

static void show_altstack(const char *what)
{
	stack_t ss;

	memset(&ss, 0xa5, sizeof(ss));
	if (sigaltstack(NULL, &ss))
		printf("%s: sigaltstack failed\n", what);
	else
		printf("%s: altstack flags %#x sp %s size %zu\n", what, (unsigned)ss.ss_flags,
		       ss.ss_sp ? "set" : "null", ss.ss_size);
}

static void *show_thread(void *arg)
{
	(void)arg;
	show_altstack("thread");
	return NULL;
}

static const int shown_sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGSEGV,
				   SIGBUS, SIGILL, SIGFPE, SIGABRT };

/* What a program sees of its dispositions, and what it gets back as it changes them. */
static void show_all(void)
{
	struct sigaction sa, old;
	stack_t mine = { .ss_size = 64 * 1024 }, prev;
	pthread_t t;
	pid_t c;
	int st;

	for (size_t i = 0; i < sizeof(shown_sigs) / sizeof(shown_sigs[0]); i++)
		show("start", shown_sigs[i]);
	show_altstack("main");

	printf("signal(TERM, DFL) -> %s\n", handler_name(signal(SIGTERM, SIG_DFL)));
	show("dfl", SIGTERM);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sa.sa_flags = SA_RESTART | SA_NODEFER | 0x400 /* SA_UNSUPPORTED */;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR1);
	sigaddset(&sa.sa_mask, SIGKILL);
	memset(&old, 0, sizeof(old));
	printf("sigaction(INT, DFL) -> %d", sigaction(SIGINT, &sa, &old));
	printf(" old %s flags %#x\n", handler_name(old.sa_handler), (unsigned)old.sa_flags);
	show("dfl", SIGINT);
	printf("sysv_signal(HUP, DFL) -> %s\n", handler_name(sysv_signal(SIGHUP, SIG_DFL)));
	show("sysv", SIGHUP);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	printf("siginterrupt(QUIT, 1) -> %d\n", siginterrupt(SIGQUIT, 1));
#pragma GCC diagnostic pop
	show("interrupt", SIGQUIT);
	printf("signal(QUIT, DFL) -> %s\n", handler_name(signal(SIGQUIT, SIG_DFL)));
	show("interrupt", SIGQUIT);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	printf("sigset(TERM, HOLD) -> %s\n", handler_name(sigset(SIGTERM, SIG_HOLD)));
	printf("sigset(TERM, DFL) -> %s\n", handler_name(sigset(SIGTERM, SIG_DFL)));
#pragma GCC diagnostic pop
	show("sigset", SIGTERM);
	printf("signal(TERM, own) -> %s\n", handler_name(signal(SIGTERM, own_handler)));
	show("own", SIGTERM);
	printf("signal(TERM, DFL) -> %s\n", handler_name(signal(SIGTERM, SIG_DFL)));
	show("dfl again", SIGTERM);
	printf("signal(INT, IGN) -> %s\n", handler_name(signal(SIGINT, SIG_IGN)));
	show("ign", SIGINT);
	printf("signal(INT, DFL) -> %s\n", handler_name(signal(SIGINT, SIG_DFL)));
	show("dfl after ign", SIGINT);
	printf("signal(SEGV, own) -> %s\n", handler_name(signal(SIGSEGV, own_handler)));
	printf("signal(SEGV, DFL) -> %s\n", handler_name(signal(SIGSEGV, SIG_DFL)));
	show("dfl", SIGSEGV);

	pthread_create(&t, NULL, show_thread, NULL);
	pthread_join(t, NULL);
	mine.ss_sp = malloc(mine.ss_size);
	memset(&prev, 0xa5, sizeof(prev));
	printf("sigaltstack(mine) -> %d", sigaltstack(&mine, &prev));
	printf(" old flags %#x sp %s size %zu\n", (unsigned)prev.ss_flags, prev.ss_sp ? "set" : "null",
	       prev.ss_size);
	show_altstack("mine");
	mine.ss_flags = SS_DISABLE;
	printf("sigaltstack(disable) -> %d\n", sigaltstack(&mine, NULL));
	show_altstack("disabled");

	fflush(stdout);
	c = fork();
	if (c == 0) {
		show("child", SIGTERM);
		show("child", SIGINT);
		fflush(stdout);
		_exit(0);
	}
	waitpid(c, &st, 0);
	printf("child %d\n", st);
}

static void *alloc_then_wait(void *arg)
{
	thread_alloc((int)(long)arg);
	ready();
	wait_forever();
	return NULL;
}

/* Allocates and frees as fast as it can: a signal lands inside the profiler. */
static void *busy(void *arg)
{
	(void)arg;
	for (;;) {
		void *volatile p = malloc(200); /* LINE:busy */
		free(p);
	}
	return NULL;
}

static void *overflow_thread(void *arg)
{
	thread_alloc((int)(long)arg);
	return (void *)(long)recurse(NULL);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	long n = argc > 2 ? atol(argv[2]) : 100;
	pthread_t t;

	if (n > 20000)
		return 2;
	if (!strcmp(mode, "wait")) {
		stop_alloc((int)n);
	} else if (!strcmp(mode, "late")) {
		/* the timer thread writes the first ones out; the last come just before the signal */
		stop_alloc((int)n);
		usleep(1300000);
		last_alloc((int)n);
	} else if (!strcmp(mode, "thread")) {
		/* the other thread allocated, the signal lands on either */
		stop_alloc((int)n);
		pthread_create(&t, NULL, alloc_then_wait, (void *)n);
		wait_forever();
	} else if (!strcmp(mode, "busy")) {
		/* the stop signals go to the two busy threads, not to main */
		sigset_t stops;

		stop_alloc((int)n);
		sigemptyset(&stops);
		sigaddset(&stops, SIGTERM);
		sigaddset(&stops, SIGINT);
		for (int i = 0; i < 2; i++)
			pthread_create(&t, NULL, busy, NULL);
		pthread_sigmask(SIG_BLOCK, &stops, NULL);
		usleep(100000);
	} else if (!strcmp(mode, "own")) {
		signal(SIGTERM, own_handler);
		stop_alloc((int)n);
	} else if (!strcmp(mode, "restore")) {
		/* its own handler, then the default again: ours is back */
		signal(SIGTERM, own_handler);
		signal(SIGTERM, SIG_DFL);
		stop_alloc((int)n);
	} else if (!strcmp(mode, "ignore")) {
		signal(SIGTERM, SIG_IGN);
		signal(SIGUSR1, on_usr1);
		stop_alloc((int)n);
		ready();
		while (!got_usr1)
			pause();
		puts("still here");
		return 0;
	} else if (!strcmp(mode, "show")) {
		show_all();
		return 0;
	} else if (!strcmp(mode, "overflow")) {
		stop_alloc((int)n);
		return recurse(NULL);
	} else if (!strcmp(mode, "overflow_thread")) {
		stop_alloc((int)n);
		pthread_create(&t, NULL, overflow_thread, (void *)n);
		pthread_join(t, NULL);
		return 0;
	} else {
		return 2;
	}
	ready();
	wait_forever();
}
