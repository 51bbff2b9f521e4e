/* SPDX-License-Identifier: MIT */
/* A program stopped by a signal keeps its trace: crash and stop signals flush every buffer, write END, then end the process as the signal would have. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "pst.h"

/*
 * The signals whose default action ends the process, taken only where the
 * program leaves that default (hook_signal.c hides ours from it: it sees
 * SIG_DFL, and a handler of its own replaces ours). A crash may overflow
 * the stack, so each thread has an alternate signal stack to run ours on.
 */
static const int taken[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT,
			     SIGTERM, SIGINT, SIGHUP, SIGQUIT };

/* Sent by someone else: they may land anywhere, inside the profiler too. */
static bool is_stop(int sig)
{
	return sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGQUIT;
}

/*
 * A stop signal that lands while this thread is inside the profiler (in the
 * middle of an event, or of writing its buffer out) cannot flush it: the
 * signal comes back to the process 2 ms later, when the thread has most
 * likely left. Bounded: past 250 returns (half a second) the end is
 * written wherever the signal lands.
 */
static int deferrals;

static bool defer(int sig)
{
	struct sigevent ev;
	struct itimerspec at = { .it_value = { 0, 2000000 } };
	int id;

	if (__atomic_add_fetch(&deferrals, 1, __ATOMIC_RELAXED) > 250)
		return false;
	memset(&ev, 0, sizeof(ev));
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = sig;
	if (syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &id))
		return false;
	return syscall(SYS_timer_settime, id, 0, &at, NULL) == 0;
}

/* The timer thread is writing this thread's buffer out: let it finish, or
 * the buffer would be written twice. */
static void wait_not_borrowed(void)
{
	struct pst_thr *t = pst_self;
	struct timespec ms = { 0, 1000000 };

	for (int i = 0; i < 2000 && t && __atomic_load_n(&t->borrowed, __ATOMIC_ACQUIRE); i++)
		nanosleep(&ms, NULL);
}

/*
 * One thread writes the end; a signal landing on another thread meanwhile
 * waits for it (bounded), then goes on to end the process: whichever is
 * raised first is the process's end.
 */
static int finishing; /* 0, 1: a thread writes the end, 2: written */

void pst_crash_handler(int sig, void *info, void *uc)
{
	struct timespec ms = { 0, 1000000 };
	int err = errno, expect = 0;

	(void)info;
	(void)uc;
	if (is_stop(sig) && pst_guard && defer(sig)) {
		errno = err;
		return;
	}
	if (__atomic_compare_exchange_n(&finishing, &expect, 1, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE)) {
		wait_not_borrowed();
		pst_finish_signal(sig);
		__atomic_store_n(&finishing, 2, __ATOMIC_RELEASE);
	} else {
		for (int i = 0; i < 5000 && __atomic_load_n(&finishing, __ATOMIC_ACQUIRE) != 2; i++)
			nanosleep(&ms, NULL);
	}
	pst_sig_release(sig);
	/* pending until we return; a faulting instruction faults again anyway */
	raise(sig);
	errno = err;
}

void pst_crash_install(void)
{
	pst_altstack_setup();
	for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++)
		pst_sig_adopt(taken[i]);
	pst_altstack_start();
	pthread_atfork(NULL, NULL, pst_sig_after_fork);
}
