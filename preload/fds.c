/* SPDX-License-Identifier: MIT */
/* The profiler's descriptors: above the program's, and open only during the profiler's own calls. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/close_range.h>
#include <sched.h>
#include <sys/resource.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pst.h"

#define EXPORT __attribute__((visibility("default")))

/*
 * Programs expect open() to return the lowest free number, count on 3
 * after closefrom(3), or hand fixed numbers to children. A descriptor of
 * ours among theirs shifts those numbers, and worse, once the program has
 * closed it and reused the number, whoever still writes to it writes into
 * the program's file. So ours are moved up: just under the descriptor
 * limit where it is the usual 1024 or a few thousand (a program that dup2s
 * over 3..999 stays clear of them), at PST_FD_MIN under a huge limit (the
 * kernel would grow the table to the number), near the top of a lower one.
 */
static int fd_base(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur >= PST_FD_MIN + 64 &&
	    rl.rlim_cur <= 65536)
		return (int)rl.rlim_cur - 32;
	return PST_FD_MIN;
}

/* One of ours, closed past the close hook: a number libunwind once held
 * is refused there (pst_unw_stale), and it may be ours now. */
int pst_fd_close(int fd)
{
	return pst_real.close ? pst_real.close(fd) : (int)syscall(SYS_close, fd);
}

int pst_fd_raise(int fd)
{
	struct rlimit rl;
	int hi, base = fd_base();

	if (fd < 0 || fd >= base)
		return fd;
	hi = fcntl(fd, F_DUPFD_CLOEXEC, base);
	if (hi < 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > 16 &&
	    rl.rlim_cur - 8 > (rlim_t)fd)
		hi = fcntl(fd, F_DUPFD_CLOEXEC, (int)(rl.rlim_cur - 8));
	if (hi < 0)
		return fd;
	pst_fd_close(fd);
	return hi;
}

static int unw_fd[2] = { -1, -1 }; /* libunwind's pipe, as it knows it */

/* A descriptor we keep for good: at PST_FD_MIN and above or, under a lower
 * limit, at the limit itself (made for the moment of one call), where the
 * program cannot get a number at all; else as high as the limit lets it. */
int pst_fd_park(int fd)
{
	struct rlimit old;
	int hi = pst_fd_raise(fd), top;

	/* never a number libunwind still holds for its closed pipe: it reads
	 * and writes those (fds.c, below) */
	while (hi >= PST_FD_MIN && (hi == unw_fd[0] || hi == unw_fd[1])) {
		int next = fcntl(hi, F_DUPFD_CLOEXEC, hi + 1);

		if (next < 0)
			break;
		pst_fd_close(hi);
		hi = next;
	}
	if (hi < 0 || hi >= PST_FD_MIN || !pst_limit_raise(&old, 1))
		return hi;
	top = fcntl(hi, F_DUPFD_CLOEXEC, (int)old.rlim_cur);
	pst_limit_restore(&old);
	if (top < 0)
		return hi;
	pst_fd_close(hi);
	return top;
}

/*
 * close_range and closefrom (a daemon closing everything it inherited)
 * close around the descriptors we hold. glibc's closefrom makes the system
 * call itself, so it is wrapped too.
 */
static int (*real_close_range)(unsigned, unsigned, int);

static int close_held_split(unsigned first, unsigned last, int flags)
{
	int held[PST_HELD_N], n = pst_out_held_list(held), rc = 0;

	for (int i = 0; i < n; i++) {
		unsigned h = (unsigned)held[i];

		if (h < first || h > last)
			continue;
		if (h > first && real_close_range(first, h - 1, flags))
			rc = -1;
		if (h == last)
			return rc;
		first = h + 1;
	}
	if (first <= last && real_close_range(first, last, flags))
		rc = -1;
	return rc;
}

EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	if (unlikely(!real_close_range))
		*(void **)&real_close_range = dlsym(RTLD_NEXT, "close_range");
	if (!real_close_range) {
		errno = ENOSYS;
		return -1;
	}
	if (pst_guard || (flags & CLOSE_RANGE_CLOEXEC) || first > last)
		return real_close_range(first, last, flags);
	return close_held_split(first, last, flags);
}

EXPORT void closefrom(int lowfd)
{
	static void (*real_closefrom)(int);

	if (lowfd < 0)
		lowfd = 0;
	if (unlikely(!real_close_range))
		*(void **)&real_close_range = dlsym(RTLD_NEXT, "close_range");
	if (real_close_range && close_held_split((unsigned)lowfd, ~0U, 0) == 0)
		return;
	if (!real_closefrom)
		*(void **)&real_closefrom = dlsym(RTLD_NEXT, "closefrom");
	if (real_closefrom)
		real_closefrom(lowfd);
}

/* The program holds every descriptor its limit allows: extra more, for the
 * moment of one of our calls (their numbers are above all of the
 * program's). Raising the hard limit needs CAP_SYS_RESOURCE; without it
 * this fails and the caller's call fails as it would have. */
bool pst_limit_raise(struct rlimit *old, unsigned extra)
{
	struct rlimit more;

	if (getrlimit(RLIMIT_NOFILE, old) || old->rlim_cur == RLIM_INFINITY)
		return false;
	more.rlim_cur = old->rlim_cur + extra;
	more.rlim_max = old->rlim_max > more.rlim_cur ? old->rlim_max : more.rlim_cur;
	return setrlimit(RLIMIT_NOFILE, &more) == 0;
}

void pst_limit_restore(const struct rlimit *old)
{
	int err = errno;

	setrlimit(RLIMIT_NOFILE, old);
	errno = err;
}

/*
 * libunwind checks an address before reading it (every read, as Debian
 * builds it: conservative checks) by writing a byte from it into a pipe
 * of its own; a page it found good is remembered, so few reads need the
 * pipe. It makes the pipe at its initialisation, and again whenever a read
 * from it fails. Without the pipe every address counts as unreadable and
 * no stack gets past its first frame: it is needed, but only while we
 * unwind. So it exists only then: the last unwinding thread to leave
 * closes it. libunwind still holds the numbers; its next read of them
 * (the first step of its check, always under our guard) fails with EBADF
 * (hook_net.c: read), its close of them is skipped, and its pipe2 makes a new pipe. The
 * program's descriptors that took those numbers meanwhile are never
 * touched, and a program listing its own between our calls sees none of
 * ours.
 */
static bool unw_open;               /* unw_fd are ours, open */
static int unw_users;               /* threads inside libunwind */
static bool unw_excl;               /* one thread is in alone: it may remake the pipe */
static bool unw_pinned;             /* open for good: threads go in uncounted */
static int unw_busy;                /* spinlock over the five */
#define UNW_WAIT_NS 200000000ull    /* longest wait to go in: then no stack */

static void unw_take(void)
{
	while (__atomic_exchange_n(&unw_busy, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&unw_busy, __ATOMIC_RELAXED))
			__builtin_ia32_pause();
}

static void unw_drop(void)
{
	__atomic_store_n(&unw_busy, 0, __ATOMIC_RELEASE);
}

static void unw_close(void)
{
	if (unw_open && pst_real.close) {
		pst_real.close(unw_fd[0]);
		pst_real.close(unw_fd[1]);
	}
	unw_open = false;
}

/*
 * libunwind remakes its pipe (closing the old numbers first) without a
 * lock of its own, which is safe only while one thread does it. So when
 * the pipe is closed, the next thread goes in alone; the others wait (a
 * few microseconds) until it is out. With the pipe open, any number go in.
 * Without this, two threads remaking it at once closed each other's new
 * pipe, and their stacks stopped at the first frame.
 *
 * A program of one thread sees no pipe of ours between our calls. While it
 * runs several, the pipe is pinned open and threads go in and out without
 * touching anything shared (--full unwinds at every event); the first
 * thread in after the others have exited unpins it, and it is closed again
 * after each use. Returns whether the caller was counted (1, 0), for
 * pst_unw_leave, or -1 when it waited 200 ms in vain: then it must not
 * unwind.
 */
int pst_unw_enter(void)
{
	uint64_t deadline = 0;

	if (__atomic_load_n(&unw_pinned, __ATOMIC_ACQUIRE)) {
		if (__atomic_load_n(&pst_live_threads, __ATOMIC_RELAXED) > 1)
			return 0;
		unw_take();
		unw_pinned = false;
		unw_drop();
	}
	for (;;) {
		unw_take();
		if (unw_pinned || (!unw_excl && (unw_open || !unw_users))) {
			bool counted = !unw_pinned;

			unw_excl = counted && !unw_open;
			unw_users += counted;
			unw_drop();
			return counted;
		}
		unw_drop();
		/* the waiter may hold a lock (its own thread's, inside
		 * pthread_getattr_np) that the thread inside needs: a stack
		 * is not worth a hang */
		if (!deadline)
			deadline = pst_now() + UNW_WAIT_NS;
		else if (pst_now() > deadline)
			return -1;
		sched_yield();
	}
}

void pst_unw_leave(int counted)
{
	if (counted <= 0)
		return;
	unw_take();
	unw_excl = false; /* when set, the only thread inside is this one */
	if (!--unw_users && !unw_pinned) {
		if (__atomic_load_n(&pst_live_threads, __ATOMIC_RELAXED) <= 1)
			unw_close();
		else if (unw_open)
			__atomic_store_n(&unw_pinned, true, __ATOMIC_RELEASE);
	}
	unw_drop();
}

/* fork: no thread of the parent is inside libunwind in the child. */
void pst_unw_lock(bool lock)
{
	if (lock)
		unw_take();
	else
		unw_drop();
}

void pst_unw_after_fork(void)
{
	unw_users = 0;
	unw_excl = false;
	unw_pinned = false;
	unw_close();
	unw_drop();
}

/* Detach (attach.c): libunwind's pipe closed, pinned or not, once no
 * thread is inside (bounded wait); the next unwind, if any, remakes it. */
void pst_unw_shut(void)
{
	uint64_t deadline = pst_now() + UNW_WAIT_NS;

	unw_take();
	while (unw_users && pst_now() < deadline) {
		unw_drop();
		sched_yield();
		unw_take();
	}
	unw_pinned = false;
	unw_excl = false;
	unw_close();
	unw_drop();
}

/* One of our descriptors, open this moment: libunwind's pipe or the trace. */
bool pst_fd_ours(int fd)
{
	return (__atomic_load_n(&unw_open, __ATOMIC_RELAXED) && (fd == unw_fd[0] || fd == unw_fd[1])) ||
	       pst_out_is_trace(fd);
}

/*
 * The program takes a number of libunwind's open pipe (dup2 over it): the
 * pipe is given up, its other end closed, and libunwind, finding its
 * numbers stale at its next look, makes a new one; the number taken is
 * the program's from now on and never closed by us.
 */
void pst_unw_taken(int fd)
{
	unw_take();
	if (unw_open && (fd == unw_fd[0] || fd == unw_fd[1])) {
		int other = fd == unw_fd[0] ? unw_fd[1] : unw_fd[0];

		pst_real.close(other);
		unw_open = false;
		unw_pinned = false;
	}
	unw_drop();
}

/* fd is libunwind's pipe, open this moment (no lock: a hint for close) */
bool pst_unw_is_open(int fd)
{
	return fd >= 0 && __atomic_load_n(&unw_open, __ATOMIC_RELAXED) &&
	       (fd == unw_fd[0] || fd == unw_fd[1]);
}

/* A number libunwind still holds for a pipe we closed: the program's now, or nobody's. */
bool pst_unw_stale(int fd)
{
	return pst_guard && fd >= 0 && (fd == unw_fd[0] || fd == unw_fd[1]) &&
	       !__atomic_load_n(&unw_open, __ATOMIC_RELAXED);
}

EXPORT int pipe2(int fds[2], int flags)
{
	int rc;

	/* called before init: find the real one here */
	if (unlikely(!pst_real.pipe2))
		*(void **)&pst_real.pipe2 = dlsym(RTLD_NEXT, "pipe2");
	if (!pst_real.pipe2) {
		errno = ENOSYS;
		return -1;
	}
	rc = pst_real.pipe2(fds, flags);
	if (rc && errno == EMFILE && pst_guard) {
		struct rlimit old;

		if (pst_limit_raise(&old, 2)) {
			rc = pst_real.pipe2(fds, flags);
			pst_limit_restore(&old);
		}
	}
	if (rc == 0 && pst_guard) {
		fds[0] = pst_fd_raise(fds[0]);
		fds[1] = pst_fd_raise(fds[1]);
		unw_take();
		unw_fd[0] = fds[0];
		unw_fd[1] = fds[1];
		unw_open = true;
		unw_drop();
	}
	return rc;
}
