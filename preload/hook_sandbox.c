/* SPDX-License-Identifier: MIT */
/* Calls that take the trace's path away (privilege drops, chroot, seccomp, Landlock) and raw thread exits. */
#include <dlfcn.h>
#include <errno.h>
#include <grp.h>
#include <linux/seccomp.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pst.h"

#define EXPORT __attribute__((visibility("default")))

/*
 * After setuid to nobody, chroot, or a seccomp filter that refuses open,
 * the trace can no longer be opened by its path; nginx's and memcached's
 * workers lost everything that way. Before any such call the trace is
 * held open for good (output.c). Each wrapper resolves the real function
 * itself, so that it works before the preload is initialised too.
 */
#define REAL(type, name, args)                                                          \
	static type(*real) args;                                                        \
	if (unlikely(!real))                                                            \
		*(void **)&real = dlsym(RTLD_NEXT, name);                               \
	if (unlikely(!real)) {                                                          \
		errno = ENOSYS;                                                         \
		return -1;                                                              \
	}

static void before_drop(void)
{
	if (pst_state == PST_ON && !pst_guard)
		pst_out_hold();
}

/* Only root can become another user or chroot (a preloaded program is
 * never set-id: the loader refuses it): a call of anyone else changes
 * nothing that matters here, and holds nothing open. */
static void before_id_change(void)
{
	if (geteuid() == 0)
		before_drop();
}

#define WRAP1(name, t1)                                                                 \
	EXPORT int name(t1 a)                                                           \
	{                                                                               \
		REAL(int, #name, (t1));                                                 \
		before_id_change();                                                      \
		return real(a);                                                         \
	}
#define WRAP2(name, t1, t2)                                                             \
	EXPORT int name(t1 a, t2 b)                                                     \
	{                                                                               \
		REAL(int, #name, (t1, t2));                                             \
		before_id_change();                                                      \
		return real(a, b);                                                      \
	}
#define WRAP3(name, t1, t2, t3)                                                         \
	EXPORT int name(t1 a, t2 b, t3 c)                                               \
	{                                                                               \
		REAL(int, #name, (t1, t2, t3));                                         \
		before_id_change();                                                      \
		return real(a, b, c);                                                   \
	}

WRAP1(setuid, uid_t)
WRAP1(setgid, gid_t)
WRAP1(seteuid, uid_t)
WRAP1(setegid, gid_t)
WRAP2(setreuid, uid_t, uid_t)
WRAP2(setregid, gid_t, gid_t)
WRAP3(setresuid, uid_t, uid_t, uid_t)
WRAP3(setresgid, gid_t, gid_t, gid_t)
WRAP2(setgroups, size_t, const gid_t *)
WRAP2(initgroups, const char *, gid_t)
WRAP1(chroot, const char *)

/*
 * Seccomp strict mode allows read, write, _exit and sigreturn alone: what
 * the calling thread recorded is written before, and once the call has
 * succeeded the thread is sealed, its later events kept for others to
 * write. (libseccomp probes with calls that fail: those seal nothing.)
 */
static bool before_seccomp(bool strict)
{
	struct pst_thr *t = pst_self;

	before_drop();
	if (!strict || pst_state != PST_ON || pst_guard || !t)
		return false;
	pst_thr_seal(t, false);
	return true;
}

static long after_seccomp(bool sealing, long rc)
{
	if (sealing && rc == 0)
		pst_thr_seal(pst_self, true);
	return rc;
}

EXPORT int prctl(int option, ...)
{
	unsigned long a[4];
	bool sealing;
	va_list ap;

	REAL(int, "prctl", (int, unsigned long, unsigned long, unsigned long, unsigned long));
	va_start(ap, option);
	for (int i = 0; i < 4; i++)
		a[i] = va_arg(ap, unsigned long);
	va_end(ap);
	sealing = option == PR_SET_SECCOMP && before_seccomp(a[0] == SECCOMP_MODE_STRICT);
	return (int)after_seccomp(sealing, real(option, a[0], a[1], a[2], a[3]));
}

int pst_last_exit;

/* A thread leaving through the exit system call skips every destructor:
 * write what it recorded and end it as thr_dtor would have. */
static void before_raw_exit(void)
{
	struct pst_thr *t = pst_self;

	if (t && pst_state == PST_ON && !pst_guard && !t->sealed)
		pst_thr_raw_exit(t);
}

/* syscall(2): the same calls made by number (libseccomp, Landlock, raw exits). */
EXPORT long syscall(long n, ...)
{
	long a[6];
	bool sealing = false;
	va_list ap;

	REAL(long, "syscall", (long, long, long, long, long, long, long));
	va_start(ap, n);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	switch (n) {
	case SYS_seccomp:
		sealing = before_seccomp(a[0] == SECCOMP_SET_MODE_STRICT);
		break;
	case SYS_prctl:
		if (a[0] == PR_SET_SECCOMP)
			sealing = before_seccomp(a[1] == SECCOMP_MODE_STRICT);
		break;
#ifdef SYS_landlock_restrict_self
	case SYS_landlock_restrict_self:
#endif
	case SYS_setuid:
	case SYS_setgid:
	case SYS_setreuid:
	case SYS_setregid:
	case SYS_setresuid:
	case SYS_setresgid:
	case SYS_setgroups:
	case SYS_chroot:
	case SYS_unshare:
	case SYS_setns:
	case SYS_pivot_root:
		before_drop();
		break;
	case SYS_exit:
		pst_last_exit = (int)(a[0] & 0xff) | PST_EXIT_KNOWN;
		before_raw_exit();
		break;
	case SYS_exit_group:
		if (pst_self && pst_self->sealed)
			break;
		pst_finish(PST_END_EXIT);
		break;
	}
	return after_seccomp(sealing, real(n, a[0], a[1], a[2], a[3], a[4], a[5]));
}
