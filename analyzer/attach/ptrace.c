/* SPDX-License-Identifier: MIT */
/* One thread of a running process stopped with ptrace, made to call a function of ours, and let go. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attach.h"

#ifndef __x86_64__
#error "prestanda attach injects calls on x86-64 only"
#endif

/* How long a call may take (dlopen of our library and its dependencies). */
#define CALL_TIMEOUT_MS 20000
/* Tries to find the thread at a safe point before giving up. */
#define SAFE_TRIES 400

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_us(long us)
{
	struct timespec ts = { 0, us * 1000 };

	nanosleep(&ts, NULL);
}

/*
 * The next stop of the thread within ms: 0 and *status, or -1 when it
 * ended or did not stop in time (why in err).
 */
static int wait_stop(pid_t pid, int *status, int ms, char *err, size_t len)
{
	for (int waited = 0;; waited++) {
		pid_t r = waitpid(pid, status, __WALL | WNOHANG);

		if (r == pid && (WIFEXITED(*status) || WIFSIGNALED(*status))) {
			snprintf(err, len, "the process ended");
			return -1;
		}
		if (r == pid && WIFSTOPPED(*status))
			return 0;
		if (r < 0) {
			snprintf(err, len, "waiting for it: %s", strerror(errno));
			return -1;
		}
		if (waited >= ms * 10) {
			snprintf(err, len, "it did not stop within %d ms", ms);
			return -1;
		}
		sleep_us(100);
	}
}

/* Interrupt the running thread and take its registers. */
static int interrupt(struct pst_tracee *t, char *err, size_t len)
{
	int st;

	if (ptrace(PTRACE_INTERRUPT, t->pid, 0, 0) || wait_stop(t->pid, &st, 5000, err, len))
		return err[0] ? -1 : (snprintf(err, len, "PTRACE_INTERRUPT: %s", strerror(errno)), -1);
	/* a signal came first: it is delivered when we let go */
	if (st >> 16 != PTRACE_EVENT_STOP && WSTOPSIG(st) != SIGTRAP)
		t->pending_sig = WSTOPSIG(st);
	if (ptrace(PTRACE_GETREGS, t->pid, 0, &t->saved)) {
		snprintf(err, len, "PTRACE_GETREGS: %s", strerror(errno));
		return -1;
	}
	t->stopped_ns = now_ns();
	return 0;
}

/*
 * Safe: the thread waits in a system call, or runs the executable's own
 * code. Anywhere else it may hold a lock of the C library's (inside
 * malloc) that the loader's call would take again.
 */
static bool safe_point(const struct pst_tracee *t, uint64_t lo, uint64_t hi)
{
	return (int64_t)t->saved.orig_rax >= 0 || (t->saved.rip >= lo && t->saved.rip < hi);
}

int pst_tracee_seize(struct pst_tracee *t, pid_t pid, char *err, size_t len)
{
	struct pst_target tg;

	memset(t, 0, sizeof(*t));
	t->pid = pid;
	err[0] = 0;
	if (pst_target_read(&tg, pid, err, len))
		return -1;
	if (ptrace(PTRACE_SEIZE, pid, 0, 0)) {
		pst_target_why_no_ptrace(pid, errno, err, len);
		return -1;
	}
	t->seized = true;
	for (int i = 0; i < SAFE_TRIES; i++) {
		if (interrupt(t, err, len))
			return -1;
		if (safe_point(t, tg.exe_lo, tg.exe_hi) || t->pending_sig)
			return 0;
		if (ptrace(PTRACE_CONT, pid, 0, 0)) {
			snprintf(err, len, "PTRACE_CONT: %s", strerror(errno));
			return -1;
		}
		sleep_us(500 + i * 10);
	}
	snprintf(err, len, "its main thread never stopped in a system call or in the program's own code (%d tries): attaching there could deadlock in the C library",
		 SAFE_TRIES);
	return -1;
}

/* Copy n bytes to the target at addr, a word at a time. */
static int poke(pid_t pid, uint64_t addr, const void *src, size_t n)
{
	const unsigned char *s = src;

	for (size_t off = 0; off < n; off += sizeof(long)) {
		long word = 0;
		size_t k = n - off < sizeof(long) ? n - off : sizeof(long);

		if (k < sizeof(long)) {
			errno = 0;
			word = ptrace(PTRACE_PEEKDATA, pid, addr + off, 0);
			if (errno)
				return -1;
		}
		memcpy(&word, s + off, k);
		if (ptrace(PTRACE_POKEDATA, pid, addr + off, word))
			return -1;
	}
	return 0;
}

int pst_tracee_read_str(struct pst_tracee *t, uint64_t addr, char *buf, size_t len)
{
	size_t at = 0;

	while (at + 1 < len) {
		long word;

		errno = 0;
		word = ptrace(PTRACE_PEEKDATA, t->pid, addr + at, 0);
		if (errno)
			return -1;
		for (size_t k = 0; k < sizeof(word) && at + 1 < len; k++, at++) {
			buf[at] = ((const char *)&word)[k];
			if (!buf[at])
				return 0;
		}
	}
	buf[at] = 0;
	return 0;
}

/* The registers for the call: below the red zone, data then a return
 * address of 0, the stack 16-byte aligned at the call as the ABI wants;
 * orig_rax -1 so that the kernel does not restart an interrupted call. */
static int setup_call(struct pst_tracee *t, uint64_t fn, const void *data, size_t dlen,
		      uint64_t arg0, uint64_t arg1)
{
	struct user_regs_struct r = t->saved;
	uint64_t sp = (t->saved.rsp - 256 - dlen) & ~(uint64_t)15, zero = 0;

	if (data) {
		if (poke(t->pid, sp, data, dlen))
			return -1;
		arg0 = sp;
	}
	sp -= 8;
	if (poke(t->pid, sp, &zero, sizeof(zero)))
		return -1;
	r.rsp = sp;
	r.rip = fn;
	r.rdi = arg0;
	r.rsi = arg1;
	r.rax = 0;
	r.orig_rax = (uint64_t)-1;
	return ptrace(PTRACE_SETREGS, t->pid, 0, &r) ? -1 : 0;
}

int pst_tracee_call(struct pst_tracee *t, uint64_t fn, const void *data, size_t dlen,
		    uint64_t arg0, uint64_t arg1, uint64_t *ret, char *err, size_t len)
{
	struct user_regs_struct r;
	uint64_t deadline = now_ns() + CALL_TIMEOUT_MS * 1000000ull;
	int st, sig = 0;

	if (setup_call(t, fn, data, dlen, arg0, arg1)) {
		snprintf(err, len, "preparing the call: %s", strerror(errno));
		return -1;
	}
	for (;;) {
		if (ptrace(PTRACE_CONT, t->pid, 0, sig)) {
			snprintf(err, len, "PTRACE_CONT: %s", strerror(errno));
			return -1;
		}
		if (wait_stop(t->pid, &st, (int)((deadline - now_ns()) / 1000000) + 1, err, len))
			return -1;
		if (ptrace(PTRACE_GETREGS, t->pid, 0, &r)) {
			snprintf(err, len, "PTRACE_GETREGS: %s", strerror(errno));
			return -1;
		}
		if (WSTOPSIG(st) == SIGSEGV && r.rip == 0)
			break; /* returned to address 0: done */
		if (WSTOPSIG(st) == SIGSEGV) {
			snprintf(err, len, "the call faulted at %#llx", (unsigned long long)r.rip);
			return -1;
		}
		/* another signal for the program: its handler runs on top of the call */
		sig = st >> 16 == PTRACE_EVENT_STOP || WSTOPSIG(st) == SIGTRAP ? 0 : WSTOPSIG(st);
	}
	*ret = r.rax;
	return 0;
}

uint64_t pst_tracee_release(struct pst_tracee *t)
{
	uint64_t stopped = t->stopped_ns ? now_ns() - t->stopped_ns : 0;

	if (!t->seized)
		return 0;
	ptrace(PTRACE_SETREGS, t->pid, 0, &t->saved);
	ptrace(PTRACE_DETACH, t->pid, 0, t->pending_sig);
	t->seized = false;
	return stopped;
}
