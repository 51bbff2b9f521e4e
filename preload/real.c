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
static alignas(64) unsigned char boot_arena[64 * 1024];
static size_t boot_used;

bool pst_boot_owns(const void *p)
{
	return (const unsigned char *)p >= boot_arena &&
	       (const unsigned char *)p < boot_arena + sizeof(boot_arena);
}

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

#define RESOLVE(name, sym) (*(void **)&pst_real.name = dlsym(RTLD_NEXT, sym))

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
