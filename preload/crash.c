/* SPDX-License-Identifier: MIT */
/* A program that crashes keeps its trace: fatal signals flush every buffer, then die as they would have. */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "pst.h"

/*
 * Only the signals a crash raises, and only where the program left the
 * default action: a handler of the program's own (installed before or
 * after ours) always wins. SIGINT and SIGTERM stay untouched, because
 * programs look at their disposition at start (an interpreter installs its
 * own SIGINT handler only over SIG_DFL).
 */
static const int fatal[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };

static void on_fatal(int sig, siginfo_t *info, void *uc)
{
	struct sigaction dfl;

	(void)info;
	(void)uc;
	pst_finish_signal(sig);
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(sig, &dfl, NULL);
	/* pending until we return; a faulting instruction faults again anyway */
	raise(sig);
}

void pst_crash_install(void)
{
	struct sigaction sa, old;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fatal;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
		if (sigaction(fatal[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL &&
		    !(old.sa_flags & SA_SIGINFO))
			sigaction(fatal[i], &sa, NULL);
	}
}
