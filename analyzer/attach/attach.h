/* SPDX-License-Identifier: MIT */
/* `prestanda attach`: calls injected into a running process with ptrace, and what is read of it first. */
#ifndef PST_ATTACH_H
#define PST_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

/*
 * One thread of the target (the thread-group leader), stopped with
 * PTRACE_SEIZE and PTRACE_INTERRUPT; its registers as they were, put back
 * at release. The other threads run on. x86-64 only.
 */
struct pst_tracee {
	pid_t pid;
	bool seized;
	int pending_sig;                 /* a signal that stopped it first: delivered at release */
	struct user_regs_struct saved;
	uint64_t stopped_ns;             /* CLOCK_MONOTONIC when it stopped */
};

/* Stop the thread at a point where a call is safe (in a system call, or
 * in the executable's own code). 0, or -1 with why in err. */
int pst_tracee_seize(struct pst_tracee *t, pid_t pid, char *err, size_t len);

/*
 * Call fn(arg0, arg1) on the stopped thread and wait for it to return
 * (to address 0, where it faults back to us). When data is not NULL, its
 * dlen bytes are copied below the thread's stack and arg0 is their address.
 * 0 and *ret = the function's return value, or -1 with why in err.
 */
int pst_tracee_call(struct pst_tracee *t, uint64_t fn, const void *data, size_t dlen,
		    uint64_t arg0, uint64_t arg1, uint64_t *ret, char *err, size_t len);

/* A NUL-terminated string of the target at addr into buf (cut to len). */
int pst_tracee_read_str(struct pst_tracee *t, uint64_t addr, char *buf, size_t len);

/* Registers back, detach; the thread runs on. Returns the ns it was stopped. */
uint64_t pst_tracee_release(struct pst_tracee *t);

/* What the target is. */
struct pst_target {
	pid_t pid;
	char libc[4096];        /* its C library's path, "" when none (a static binary) */
	char ours[4096];        /* our library's path when mapped there (an earlier attach, or run) */
	char exe[4096];
	uint64_t exe_lo, exe_hi; /* the executable's text */
};

/* Read /proc/PID/maps. 0, or -1 with why (no such process) in err. */
int pst_target_read(struct pst_target *tg, pid_t pid, char *err, size_t len);

/* The address of the dynamic symbol name in the target's module path
 * (as its maps name it). 0, or -1 with why in err. */
int pst_target_symbol(pid_t pid, const char *path, const char *name, uint64_t *addr, char *err,
		      size_t len);

/* Why PTRACE_SEIZE was refused (errno err), in words: Yama's ptrace_scope,
 * another user's process, a missing capability. */
void pst_target_why_no_ptrace(pid_t pid, int err, char *why, size_t len);

/* The path under which the target sees our library lib: lib itself when
 * its mount namespace shows the same file there, else a copy made in its
 * root's /tmp. 0, or -1 with why in err. */
int pst_target_lib_path(pid_t pid, const char *lib, char *out, size_t outlen, char *err,
			size_t len);

#endif
