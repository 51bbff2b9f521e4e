/* SPDX-License-Identifier: MIT */
/* The program sees its signal dispositions and alternate stacks as bare: the preload's stop handler and signal stacks stand in for the defaults unseen. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pst.h"

#define EXPORT __attribute__((visibility("default")))

/*
 * Where the program leaves a stop signal at SIG_DFL, our handler stands in
 * (crash.c), and the program sees `shown`: SIG_DFL with the flags and mask
 * the kernel would hold for it bare. Setting SIG_DFL keeps ours in place
 * (and, where ours was not, puts it there); a handler of the program's own
 * or SIG_IGN replaces ours. Every change is made under one lock taken with
 * all signals blocked, so that a handler calling sigaction cannot deadlock.
 */
struct disp {
	int ours;                /* our handler is the kernel's; the program believes shown */
	struct sigaction shown;
};
static struct disp disps[NSIG];
static bool enabled;            /* pst_sig_adopt ran: SIG_DFL may be taken over */
static pid_t owner;             /* the process the table describes (not a vfork child) */
static int tab_word;
static sigset_t intr;           /* siginterrupt(sig, 1): signal() sets no SA_RESTART */

static int (*real_sigaction)(int, const struct sigaction *, struct sigaction *);
static int (*real_sigaltstack)(const stack_t *, stack_t *);
static int (*real_siginterrupt)(int, int);

static void resolve(void)
{
	if (!real_sigaction)
		*(void **)&real_sigaction = dlsym(RTLD_NEXT, "sigaction");
	if (!real_sigaltstack)
		*(void **)&real_sigaltstack = dlsym(RTLD_NEXT, "sigaltstack");
	if (!real_siginterrupt)
		*(void **)&real_siginterrupt = dlsym(RTLD_NEXT, "siginterrupt");
}

static void tab_lock(sigset_t *old)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, old);
	while (__atomic_exchange_n(&tab_word, 1, __ATOMIC_ACQUIRE))
		sched_yield();
}

static void tab_unlock(const sigset_t *old)
{
	__atomic_store_n(&tab_word, 0, __ATOMIC_RELEASE);
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* The signals whose default we stand in for. */
static bool managed(int sig)
{
	switch (sig) {
	case SIGTERM: case SIGINT: case SIGHUP: case SIGQUIT:
	case SIGSEGV: case SIGBUS: case SIGILL: case SIGFPE: case SIGABRT:
		return true;
	default:
		return false;
	}
}

static void on_signal(int sig, siginfo_t *info, void *uc)
{
	pst_crash_handler(sig, info, uc);
}

/* Ours: the crash signals' handler may run on a thread's alternate stack
 * (a stack overflow), and no other stop signal nests inside it. */
static void ours_action(struct sigaction *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sa_sigaction = on_signal;
	sa->sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa->sa_mask);
	for (int s = 1; s < NSIG; s++)
		if (managed(s))
			sigaddset(&sa->sa_mask, s);
}

/*
 * Under the lock: install ours where the program sets dfl, and keep in
 * shown what the kernel would hold for dfl: ours is installed with dfl's
 * flags and mask first and read back, so that the kernel itself drops the
 * bits it drops and the C library adds what it adds. prev: the action
 * before (only where ours was not installed).
 */
static int adopt_locked(int sig, const struct sigaction *dfl, struct sigaction *prev)
{
	struct sigaction probe = *dfl, ours, got;

	probe.sa_sigaction = on_signal;
	probe.sa_flags |= SA_SIGINFO | SA_ONSTACK;
	ours_action(&ours);
	if (real_sigaction(sig, &probe, prev))
		return -1;
	if (real_sigaction(sig, &ours, &got))
		return -1;
	got.sa_handler = SIG_DFL;
	got.sa_flags &= ~(SA_SIGINFO | SA_ONSTACK);
	got.sa_flags |= dfl->sa_flags & (SA_SIGINFO | SA_ONSTACK);
	disps[sig].shown = got;
	disps[sig].ours = 1;
	return 0;
}

/* From pst_crash_install: ours over SIG_DFL as the program starts. */
bool pst_sig_adopt(int sig)
{
	struct sigaction cur, ours;
	sigset_t old;
	bool done = false;

	resolve();
	if (!real_sigaction || !managed(sig))
		return false;
	owner = getpid();
	enabled = true;
	ours_action(&ours);
	tab_lock(&old);
	if (!disps[sig].ours && real_sigaction(sig, NULL, &cur) == 0 && cur.sa_handler == SIG_DFL &&
	    real_sigaction(sig, &ours, &disps[sig].shown) == 0) {
		disps[sig].ours = 1;
		done = true;
	}
	tab_unlock(&old);
	return done;
}

/* From our handler: SIG_DFL again, for the signal to end the process. */
void pst_sig_release(int sig)
{
	struct sigaction dfl;
	sigset_t old;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	tab_lock(&old);
	if (real_sigaction)
		real_sigaction(sig, &dfl, NULL);
	disps[sig].ours = 0;
	tab_unlock(&old);
}

/* A forked child keeps the table (its handlers are its parent's). */
void pst_sig_after_fork(void)
{
	owner = getpid();
	__atomic_store_n(&tab_word, 0, __ATOMIC_RELEASE);
}

static int sig_act(int sig, const struct sigaction *act, struct sigaction *old)
{
	struct sigaction want, prev;
	struct disp *d = &disps[sig];
	sigset_t mask;
	int r = 0, err = errno;

	if (act)
		want = *act; /* read here: a bad pointer faults outside the lock */
	tab_lock(&mask);
	if (!act) {
		r = d->ours ? (prev = d->shown, 0) : real_sigaction(sig, NULL, &prev);
	} else if (want.sa_handler == SIG_DFL && d->ours) {
		prev = d->shown;
		r = adopt_locked(sig, &want, NULL);
	} else if (want.sa_handler == SIG_DFL && enabled) {
		r = adopt_locked(sig, &want, &prev);
	} else {
		r = real_sigaction(sig, &want, &prev);
		if (r == 0 && d->ours) {
			prev = d->shown;
			d->ours = 0;
		}
	}
	err = errno;
	tab_unlock(&mask);
	if (r == 0 && old)
		*old = prev;
	errno = err;
	return r;
}

EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	resolve();
	if (!real_sigaction) {
		errno = ENOSYS;
		return -1;
	}
	if (!managed(sig) || !enabled)
		return real_sigaction(sig, act, old);
	/* a vfork child shares our memory, not our handlers: it changes its own */
	if (getpid() != owner) {
		if (act || !disps[sig].ours)
			return real_sigaction(sig, act, old);
		if (old)
			*old = disps[sig].shown;
		return 0;
	}
	return sig_act(sig, act, old);
}

EXPORT int __sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	return sigaction(sig, act, old);
}

/* signal() and its relatives, built on sigaction as the C library builds
 * them, so that they see and set what sigaction does. */
static __sighandler_t set_handler(int sig, __sighandler_t fn, int flags, bool mask_self)
{
	struct sigaction sa, old;

	if (fn == SIG_ERR || sig < 1 || sig >= NSIG) {
		errno = EINVAL;
		return SIG_ERR;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	if (mask_self)
		sigaddset(&sa.sa_mask, sig);
	sa.sa_flags = flags;
	if (sigaction(sig, &sa, &old) < 0)
		return SIG_ERR;
	return old.sa_handler;
}

EXPORT __sighandler_t signal(int sig, __sighandler_t fn)
{
	return set_handler(sig, fn, sig > 0 && sig < NSIG && sigismember(&intr, sig) ? 0 : SA_RESTART,
			   true);
}

EXPORT __sighandler_t bsd_signal(int sig, __sighandler_t fn)
{
	return signal(sig, fn);
}

EXPORT __sighandler_t ssignal(int sig, __sighandler_t fn)
{
	return signal(sig, fn);
}

EXPORT __sighandler_t __sysv_signal(int sig, __sighandler_t fn)
{
	/* SA_ONESHOT | SA_NOMASK | SA_INTERRUPT, as the C library has it */
	return set_handler(sig, fn, (int)(SA_RESETHAND | SA_NODEFER | 0x20000000), false);
}

EXPORT __sighandler_t sysv_signal(int sig, __sighandler_t fn)
{
	return __sysv_signal(sig, fn);
}

EXPORT __sighandler_t sigset(int sig, __sighandler_t fn)
{
	struct sigaction sa, old;
	sigset_t set, oset;

	sigemptyset(&set);
	if (sigaddset(&set, sig) < 0)
		return SIG_ERR;
	if (fn == SIG_HOLD) {
		if (sigprocmask(SIG_BLOCK, &set, &oset) < 0)
			return SIG_ERR;
		if (sigismember(&oset, sig))
			return SIG_HOLD;
		if (sigaction(sig, NULL, &old) < 0)
			return SIG_ERR;
		return old.sa_handler;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, &old) < 0 || sigprocmask(SIG_UNBLOCK, &set, &oset) < 0)
		return SIG_ERR;
	return sigismember(&oset, sig) ? SIG_HOLD : old.sa_handler;
}

/* The C library re-sets the action it reads: ours stays, and what the
 * program sees changes as it would bare. */
EXPORT int siginterrupt(int sig, int flag)
{
	sigset_t mask;
	int r;

	resolve();
	if (!real_siginterrupt) {
		errno = ENOSYS;
		return -1;
	}
	r = real_siginterrupt(sig, flag);
	if (r != 0)
		return r;
	tab_lock(&mask);
	if (flag)
		sigaddset(&intr, sig);
	else
		sigdelset(&intr, sig);
	if (managed(sig) && disps[sig].ours && getpid() == owner) {
		struct sigaction dfl = disps[sig].shown;

		if (flag)
			dfl.sa_flags &= ~SA_RESTART;
		else
			dfl.sa_flags |= SA_RESTART;
		adopt_locked(sig, &dfl, NULL);
	}
	tab_unlock(&mask);
	return 0;
}

/*
 * Alternate signal stacks: a thread that has none gets one of ours, so that
 * a stack overflow can still run the handler that keeps the trace. The
 * program asking sees SS_DISABLE while ours is in place; one of its own
 * replaces ours. Go's runtime, asking with a raw system call, finds ours and
 * runs its signal handlers on it, as it does on any stack it finds.
 */
#define ALT_SIZE (64 * 1024)
#define ALT_GUARD 4096

static __thread void *alt_base; /* our mapping on this thread: a guard page, then the stack */
static pthread_key_t alt_key;
static bool have_key;

static void alt_free(void *base)
{
	stack_t cur, off = { .ss_flags = SS_DISABLE };
	char *sp = (char *)base + ALT_GUARD;

	if (real_sigaltstack(NULL, &cur) == 0 && cur.ss_sp == sp) {
		if (cur.ss_flags & SS_ONSTACK)
			return; /* running on it: left mapped */
		real_sigaltstack(&off, NULL);
	}
	munmap(base, ALT_SIZE + ALT_GUARD);
}

/* pthread_exit and cancellation do not come back to thread_start. */
static void alt_key_dtor(void *base)
{
	if (base && base == alt_base) {
		alt_base = NULL;
		alt_free(base);
	}
}

void pst_altstack_setup(void)
{
	resolve();
	have_key = pthread_key_create(&alt_key, alt_key_dtor) == 0;
}

void pst_altstack_start(void)
{
	stack_t cur, ss;
	void *base;
	int err = errno;

	if (alt_base || !real_sigaltstack || real_sigaltstack(NULL, &cur) != 0 ||
	    !(cur.ss_flags & SS_DISABLE))
		goto out;
	base = mmap(NULL, ALT_SIZE + ALT_GUARD, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		goto out;
	mprotect(base, ALT_GUARD, PROT_NONE); /* an overflow of the handler faults */
	ss.ss_sp = (char *)base + ALT_GUARD;
	ss.ss_size = ALT_SIZE;
	ss.ss_flags = 0;
	if (real_sigaltstack(&ss, NULL) != 0) {
		munmap(base, ALT_SIZE + ALT_GUARD);
		goto out;
	}
	alt_base = base;
	if (have_key)
		pthread_setspecific(alt_key, base);
out:
	errno = err;
}

void pst_altstack_end(void)
{
	void *base = alt_base;
	int err = errno;

	if (!base)
		return;
	alt_base = NULL;
	if (have_key)
		pthread_setspecific(alt_key, NULL);
	alt_free(base);
	errno = err;
}

EXPORT int sigaltstack(const stack_t *ss, stack_t *old)
{
	static const stack_t none = { .ss_sp = NULL, .ss_flags = SS_DISABLE, .ss_size = 0 };
	stack_t cur, want;
	void *base = alt_base;

	resolve();
	if (!real_sigaltstack) {
		errno = ENOSYS;
		return -1;
	}
	if (!base)
		return real_sigaltstack(ss, old);
	if (real_sigaltstack(NULL, &cur) != 0 || cur.ss_sp != (char *)base + ALT_GUARD) {
		/* replaced behind our back (a raw system call): ours is unused */
		pst_altstack_end();
		return real_sigaltstack(ss, old);
	}
	if (ss && !(ss->ss_flags & SS_DISABLE)) {
		want = *ss;
		if (real_sigaltstack(&want, NULL) != 0)
			return -1;
		alt_base = NULL;
		if (have_key)
			pthread_setspecific(alt_key, NULL);
		if (!(cur.ss_flags & SS_ONSTACK))
			munmap(base, ALT_SIZE + ALT_GUARD);
	}
	/* SS_DISABLE: there is none to the program's eyes, ours stays */
	if (old)
		*old = none;
	return 0;
}
