/* SPDX-License-Identifier: MIT */
/* The wrapped functions, resolved with dlsym(RTLD_NEXT), and the arena that serves dlsym's own allocations. */
#include <dlfcn.h>
#include <stdalign.h>
#include <string.h>

#include "pst.h"

struct pst_real pst_real;

/*
 * dlsym may allocate before malloc is known. Those few blocks come from this
 * arena; each has its size in the 16 bytes before it. They are never freed
 * (free ignores them) and never reused.
 */
alignas(64) unsigned char pst_boot_arena[PST_BOOT_ARENA];
#define boot_arena pst_boot_arena
static size_t boot_used;

void *pst_boot_alloc(size_t size, size_t align)
{
	size_t used, off;

	if (align < 16)
		align = 16;
	do {
		used = __atomic_load_n(&boot_used, __ATOMIC_RELAXED);
		off = (used + 16 + align - 1) & ~(align - 1);
		if (off + size > sizeof(boot_arena) || size > sizeof(boot_arena))
			return NULL;
	} while (!__atomic_compare_exchange_n(&boot_used, &used, off + size, false,
					      __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	memcpy(boot_arena + off - sizeof(size_t), &size, sizeof(size_t));
	return boot_arena + off;
}

size_t pst_boot_size(const void *p)
{
	size_t size;

	memcpy(&size, (const unsigned char *)p - sizeof(size_t), sizeof(size_t));
	return size;
}

/* Preloaded, the next definition after ours; attached (loaded after the
 * program's start, not in the global scope), the program's own: the one
 * its lookup finds, as its own allocator when it brings one. */
void *pst_real_scope = RTLD_NEXT;
#define RESOLVE(name, sym) (*(void **)&pst_real.name = dlsym(pst_real_scope, sym))

void pst_resolve_real(void)
{
	RESOLVE(malloc, "malloc");
	RESOLVE(free, "free");
	RESOLVE(calloc, "calloc");
	RESOLVE(realloc, "realloc");
	RESOLVE(reallocarray, "reallocarray");
	RESOLVE(posix_memalign, "posix_memalign");
	RESOLVE(aligned_alloc, "aligned_alloc");
	RESOLVE(memalign, "memalign");
	RESOLVE(valloc, "valloc");
	RESOLVE(pvalloc, "pvalloc");
	RESOLVE(dlclose, "dlclose");
	RESOLVE(exit_, "_exit");
	RESOLVE(Exit_, "_Exit");
	RESOLVE(execve, "execve");
	RESOLVE(execvpe, "execvpe");
	RESOLVE(fexecve, "fexecve");
	RESOLVE(pipe2, "pipe2");
	RESOLVE(unshare, "unshare");
	RESOLVE(setns, "setns");
	pst_pthread_resolve();
}

/* The pthread functions. pthread_cond_wait and pthread_cond_timedwait
 * exist in two versions on x86-64; each of ours calls the version the
 * program was linked against (hook_pthread.c exports both). */
#define VRESOLVE(name, sym, ver) (*(void **)&pst_real.name = dlvsym(pst_real_scope, sym, ver))

void pst_pthread_resolve(void)
{
	RESOLVE(pthread_create, "pthread_create");
	RESOLVE(pthread_join, "pthread_join");
	RESOLVE(mutex_lock, "pthread_mutex_lock");
	RESOLVE(mutex_trylock, "pthread_mutex_trylock");
	RESOLVE(mutex_timedlock, "pthread_mutex_timedlock");
	RESOLVE(mutex_clocklock, "pthread_mutex_clocklock");
	RESOLVE(rwlock_rdlock, "pthread_rwlock_rdlock");
	RESOLVE(rwlock_tryrdlock, "pthread_rwlock_tryrdlock");
	RESOLVE(rwlock_timedrdlock, "pthread_rwlock_timedrdlock");
	RESOLVE(rwlock_wrlock, "pthread_rwlock_wrlock");
	RESOLVE(rwlock_trywrlock, "pthread_rwlock_trywrlock");
	RESOLVE(rwlock_timedwrlock, "pthread_rwlock_timedwrlock");
	RESOLVE(spin_lock, "pthread_spin_lock");
	RESOLVE(spin_trylock, "pthread_spin_trylock");
	RESOLVE(cond_clockwait, "pthread_cond_clockwait");
	RESOLVE(sem_wait, "sem_wait");
	RESOLVE(sem_trywait, "sem_trywait");
	RESOLVE(sem_timedwait, "sem_timedwait");
	RESOLVE(sem_clockwait, "sem_clockwait");
#ifdef __x86_64__
	VRESOLVE(cond_wait, "pthread_cond_wait", "GLIBC_2.3.2");
	VRESOLVE(cond_timedwait, "pthread_cond_timedwait", "GLIBC_2.3.2");
	VRESOLVE(cond_wait_old, "pthread_cond_wait", "GLIBC_2.2.5");
	VRESOLVE(cond_timedwait_old, "pthread_cond_timedwait", "GLIBC_2.2.5");
#else
	RESOLVE(cond_wait, "pthread_cond_wait");
	RESOLVE(cond_timedwait, "pthread_cond_timedwait");
#endif
	RESOLVE(socket, "socket");
	RESOLVE(connect, "connect");
	RESOLVE(listen, "listen");
	RESOLVE(accept, "accept");
	RESOLVE(accept4, "accept4");
	RESOLVE(close, "close");
	RESOLVE(shutdown, "shutdown");
	RESOLVE(dup2, "dup2");
	RESOLVE(dup3, "dup3");
	RESOLVE(getsockopt, "getsockopt");
	RESOLVE(send, "send");
	RESOLVE(sendto, "sendto");
	RESOLVE(sendmsg, "sendmsg");
	RESOLVE(recv, "recv");
	RESOLVE(recvfrom, "recvfrom");
	RESOLVE(recvmsg, "recvmsg");
	RESOLVE(read, "read");
	RESOLVE(write, "write");
	RESOLVE(readv, "readv");
	RESOLVE(writev, "writev");
	RESOLVE(read_chk, "__read_chk");
	RESOLVE(recv_chk, "__recv_chk");
	RESOLVE(recvfrom_chk, "__recvfrom_chk");
	RESOLVE(poll, "poll");
	RESOLVE(ppoll, "ppoll");
	RESOLVE(select, "select");
	RESOLVE(pselect, "pselect");
	RESOLVE(epoll_wait, "epoll_wait");
	RESOLVE(epoll_pwait, "epoll_pwait");
	RESOLVE(getaddrinfo, "getaddrinfo");
	RESOLVE(gethostbyname, "gethostbyname");
}
