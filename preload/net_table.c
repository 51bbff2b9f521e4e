/* SPDX-License-Identifier: MIT */
/* The per-fd socket table: chunks of entries mapped on first use and installed without a lock. */
#include <sys/mman.h>

#include "net.h"

struct pst_sock *pst_sock_chunks[PST_SOCK_CHUNKS];

/* Two threads may map the same chunk at once: one installs its own, the
 * other unmaps its copy and uses the winner's. */
struct pst_sock *pst_sock_make(int fd)
{
	unsigned u = (unsigned)fd, i = u >> PST_SOCK_CHUNK_SHIFT;
	struct pst_sock *c, *expect = NULL;

	if (u >= PST_SOCK_MAX_FD)
		return NULL;
	c = __atomic_load_n(&pst_sock_chunks[i], __ATOMIC_ACQUIRE);
	if (!c) {
		c = mmap(NULL, PST_SOCK_CHUNK * sizeof(*c), PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (c == MAP_FAILED)
			return NULL;
		if (!__atomic_compare_exchange_n(&pst_sock_chunks[i], &expect, c, false,
						 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			munmap(c, PST_SOCK_CHUNK * sizeof(*c));
			c = expect;
		}
	}
	return &c[u & (PST_SOCK_CHUNK - 1)];
}

void pst_sock_foreach(void (*fn)(struct pst_sock *e, void *arg), void *arg)
{
	for (unsigned i = 0; i < PST_SOCK_CHUNKS; i++) {
		struct pst_sock *c = __atomic_load_n(&pst_sock_chunks[i], __ATOMIC_ACQUIRE);

		if (!c)
			continue;
		for (unsigned j = 0; j < PST_SOCK_CHUNK; j++)
			if (c[j].state != PST_SOCK_NONE)
				fn(&c[j], arg);
	}
}
