/* SPDX-License-Identifier: MIT */
/* libprestanda.so exports only the functions it wraps: nothing of its own leaks into the program. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "itest.h"

static const char *const wrapped[] = {
	"malloc", "free", "calloc", "realloc", "reallocarray", "posix_memalign",
	"aligned_alloc", "memalign", "valloc", "pvalloc", "_exit", "_Exit", "daemon", "pipe2", "dlclose", "unshare", "setns",
	"execve", "execvpe", "fexecve", "execv", "execvp", "execl", "execlp", "execle",
	"pthread_create", "pthread_exit", "pthread_join", "pthread_mutex_lock",
	"pthread_mutex_timedlock", "pthread_mutex_clocklock", "pthread_rwlock_rdlock",
	"pthread_rwlock_wrlock", "pthread_rwlock_timedrdlock", "pthread_rwlock_timedwrlock",
	"pthread_spin_lock", "pthread_cond_clockwait", "sem_wait", "sem_timedwait",
	"sem_clockwait",
	/* two versions each (x86-64) */
	"pthread_cond_wait@@GLIBC_2.3.2", "pthread_cond_wait@GLIBC_2.2.5",
	"pthread_cond_timedwait@@GLIBC_2.3.2", "pthread_cond_timedwait@GLIBC_2.2.5",
	/* hook_net.c */
	"socket", "connect", "listen", "accept", "accept4", "close", "shutdown", "dup2", "dup3",
	"getsockopt", "send", "sendto", "sendmsg", "recv", "recvfrom", "recvmsg", "read",
	"write", "readv", "writev", "__read_chk", "__recv_chk", "__recvfrom_chk", "poll",
	"ppoll", "select", "pselect", "epoll_wait", "epoll_pwait", "getaddrinfo",
	"gethostbyname",
	/* fds.c */
	"close_range", "closefrom",
	/* hook_sandbox.c */
	"setuid", "setgid", "seteuid", "setegid", "setreuid", "setregid", "setresuid",
	"setresgid", "setgroups", "initgroups", "chroot", "prctl", "syscall",
	/* hook_signal.c */
	"sigaction", "__sigaction", "signal", "bsd_signal", "ssignal", "sysv_signal",
	"__sysv_signal", "sigset", "siginterrupt", "sigaltstack",
	/* attach.c: the two calls `prestanda attach` injects */
	"pst_attach_start@@PRESTANDA_1", "pst_attach_stop@@PRESTANDA_1",
	/* leakscan.c: the block `prestanda scan` writes */
	"pst_scan_ctl@@PRESTANDA_1",
};

static bool is_wrapped(const char *name)
{
	for (size_t i = 0; i < sizeof(wrapped) / sizeof(wrapped[0]); i++)
		if (!strcmp(name, wrapped[i]))
			return true;
	return false;
}

Test(exports, only_wrapped_functions_are_exported)
{
	FILE *p = popen("nm -D --defined-only " ITEST_PRELOAD, "r");
	char line[512], name[256], type;
	unsigned long long addr;
	size_t n = 0;

	cr_assert_not_null(p);
	while (fgets(line, sizeof(line), p)) {
		if (sscanf(line, "%llx %c %255s", &addr, &type, name) != 3)
			continue;
		if (type == 'A') /* the version definitions */
			continue;
		cr_expect(is_wrapped(name), "unexpected export %s", name);
		n++;
	}
	cr_assert_eq(pclose(p), 0, "nm failed");
	cr_expect_eq(n, sizeof(wrapped) / sizeof(wrapped[0]));
}
