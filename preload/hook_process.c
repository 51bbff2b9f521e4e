/* SPDX-License-Identifier: MIT */
/* Process boundaries: _exit, exec and daemon write everything first; dlclose marks the module map stale; namespaces. */
#include <errno.h>
#include <fcntl.h>
#include <paths.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pst.h"

#define EXPORT __attribute__((visibility("default")))

EXPORT void _exit(int status)
{
	pst_finish(PST_END_EXIT);
	if (pst_real.exit_)
		pst_real.exit_(status);
	syscall(SYS_exit_group, status);
	__builtin_unreachable();
}

EXPORT void _Exit(int status)
{
	pst_finish(PST_END_EXIT);
	if (pst_real.Exit_)
		pst_real.Exit_(status);
	syscall(SYS_exit_group, status);
	__builtin_unreachable();
}

/*
 * The C library's daemon() ends the parent with its internal _exit, which
 * no wrapper sees: the parent's last events and its END would be lost. So
 * daemon is done here, with the same steps, through the wrapped fork and
 * _exit: the parent writes its END, the child (a new trace) goes on.
 */
EXPORT int daemon(int nochdir, int noclose)
{
	struct stat st;
	pid_t pid = fork();
	int fd, err;

	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -1;
	if (!nochdir)
		(void)!chdir("/");
	if (noclose)
		return 0;
	fd = open(_PATH_DEVNULL, O_RDWR);
	if (fd < 0)
		return -1;
	err = fstat(fd, &st) < 0 ? errno : S_ISCHR(st.st_mode) ? 0 : ENODEV;
	if (err) {
		close(fd);
		errno = err;
		return -1;
	}
	for (int i = 0; i < 3; i++)
		if (fd != i)
			dup2(fd, i);
	if (fd > 2)
		close(fd);
	return 0;
}

/* A process of one thread may enter a new user namespace (or move a
 * thread's basics with CLONE_THREAD, CLONE_SIGHAND, CLONE_VM); our timer
 * thread must not make it fail with EINVAL. */
#define ONE_THREAD_FLAGS (CLONE_NEWUSER | CLONE_THREAD | CLONE_SIGHAND | CLONE_VM)

static void resume_keep_errno(bool paused)
{
	int err = errno;

	if (paused)
		pst_timer_resume();
	errno = err;
}

EXPORT int unshare(int flags)
{
	bool paused = (flags & ONE_THREAD_FLAGS) && pst_timer_pause();
	int rc = pst_real.unshare ? pst_real.unshare(flags) : (int)syscall(SYS_unshare, flags);

	resume_keep_errno(paused);
	return rc;
}

/* nstype 0: any kind, a user namespace among them. */
EXPORT int setns(int fd, int nstype)
{
	bool paused = (!nstype || (nstype & CLONE_NEWUSER)) && pst_timer_pause();
	int rc = pst_real.setns ? pst_real.setns(fd, nstype) : (int)syscall(SYS_setns, fd, nstype);

	resume_keep_errno(paused);
	return rc;
}

EXPORT int dlclose(void *handle)
{
	pst_modules_dirty();
	return pst_real.dlclose ? pst_real.dlclose(handle) : -1;
}

/* The C library's exec* call each other internally, out of our reach, so
 * every entry point is wrapped and ends in execve, execvpe or fexecve. */
EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	pst_finish(PST_END_EXEC);
	return pst_real.execve ? pst_real.execve(path, argv, envp) : -1;
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	pst_finish(PST_END_EXEC);
	return pst_real.execvpe ? pst_real.execvpe(file, argv, envp) : -1;
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	pst_finish(PST_END_EXEC);
	return pst_real.fexecve ? pst_real.fexecve(fd, argv, envp) : -1;
}

EXPORT int execv(const char *path, char *const argv[])
{
	return execve(path, argv, environ);
}

EXPORT int execvp(const char *file, char *const argv[])
{
	return execvpe(file, argv, environ);
}

/* execl, execlp, execle: collect the variadic arguments into an argv. */
#define COLLECT_ARGS(arg0, ap, argv)                                                   \
	size_t n_ = 1;                                                                 \
	va_start(ap, arg0);                                                            \
	while (va_arg(ap, const char *))                                               \
		n_++;                                                                  \
	va_end(ap);                                                                    \
	const char *argv[n_ + 1];                                                      \
	argv[0] = arg0;                                                                \
	va_start(ap, arg0);                                                            \
	for (size_t i_ = 1; i_ <= n_; i_++)                                            \
		argv[i_] = va_arg(ap, const char *);

EXPORT int execl(const char *path, const char *arg, ...)
{
	va_list ap;
	COLLECT_ARGS(arg, ap, argv)
	va_end(ap);
	return execve(path, (char *const *)argv, environ);
}

EXPORT int execlp(const char *file, const char *arg, ...)
{
	va_list ap;
	COLLECT_ARGS(arg, ap, argv)
	va_end(ap);
	return execvpe(file, (char *const *)argv, environ);
}

EXPORT int execle(const char *path, const char *arg, ...)
{
	va_list ap;
	COLLECT_ARGS(arg, ap, argv)
	char *const *envp = va_arg(ap, char *const *);
	va_end(ap);
	return execve(path, (char *const *)argv, envp);
}
