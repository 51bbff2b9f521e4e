/* SPDX-License-Identifier: MIT */
/* Descriptors the profiler holds live above the program's: the trace, and the unwinder's pipe. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "pst.h"

#define EXPORT __attribute__((visibility("default")))

/*
 * Programs expect open() to return the lowest free number, count on 3
 * after closefrom(3), or hand fixed numbers to children. A descriptor of
 * ours among theirs shifts those numbers, and worse, once the program has
 * closed it and reused the number, whoever still writes to it writes into
 * the program's file. So ours are moved up, at PST_FD_MIN or, under a lower
 * descriptor limit, near the top of the allowed range.
 */
int pst_fd_raise(int fd)
{
	struct rlimit rl;
	int hi;

	if (fd < 0 || fd >= PST_FD_MIN)
		return fd;
	hi = fcntl(fd, F_DUPFD_CLOEXEC, PST_FD_MIN);
	if (hi < 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > 16 &&
	    rl.rlim_cur - 8 > (rlim_t)fd)
		hi = fcntl(fd, F_DUPFD_CLOEXEC, (int)(rl.rlim_cur - 8));
	if (hi < 0)
		return fd;
	close(fd);
	return hi;
}

/*
 * libunwind checks an address before reading it by writing a byte from it
 * into a pipe of its own and reading it back; when the read fails (the
 * program closed the pipe) it makes a new one. Its pipe2 call comes here
 * with our guard set: that pipe goes up too, so that a program which
 * closed everything and opened files of its own never has bytes read from
 * or written to them. Nothing changes for the program's own calls.
 */
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
	if (rc == 0 && pst_guard && pst_state != PST_UNINIT) {
		fds[0] = pst_fd_raise(fds[0]);
		fds[1] = pst_fd_raise(fds[1]);
	}
	return rc;
}
