/* SPDX-License-Identifier: MIT */
/* The per-fd socket table: chunks of entries mapped on first use and installed without a lock; running totals per endpoint. */
#include <string.h>
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

/* ---- running totals per endpoint, for --metrics-textfile ---- */

/*
 * The socket table forgets a connection at its close; these totals stay.
 * Open addressing keyed by a hash of the endpoint: a thread claims an empty
 * slot by a compare-and-swap on its key, then fills in the address and
 * marks it ready; the counters are relaxed atomic adds. A connect or accept
 * is a system call already, so the hash and the few adds cost nothing next
 * to it. The timer thread reads the slots without stopping anyone. When the
 * table is full, further endpoints count in the last slot (endpoint
 * "other").
 */
struct pst_ep_stat pst_ep_stats[PST_EP_SLOTS + 1];
static int ep_used; /* a slot was claimed: a forked child has totals to clear */

const uint64_t pst_connect_le_ns[PST_CONNECT_BUCKETS - 1] = {
	10000,      25000,      50000,      100000,    250000,    500000,   1000000,
	2500000,    5000000,    10000000,   25000000,  50000000,  100000000, 250000000,
	500000000,  1000000000, 2500000000, 5000000000, 10000000000,
};

static uint64_t ep_hash(const struct pst_sock *e)
{
	uint64_t h = 0xcbf29ce484222325ull ^ e->kind;

	for (unsigned i = 0; i < e->ep_len; i++)
		h = (h ^ e->ep[i]) * 0x100000001b3ull;
	return h ? h : 1;
}

static struct pst_ep_stat *ep_stat(const struct pst_sock *e)
{
	uint64_t h = ep_hash(e);

	for (unsigned i = 0; i < PST_EP_SLOTS; i++) {
		struct pst_ep_stat *s = &pst_ep_stats[(h + i) % PST_EP_SLOTS];
		uint64_t cur = __atomic_load_n(&s->key, __ATOMIC_ACQUIRE);

		if (cur == h)
			return s;
		if (cur)
			continue;
		if (__atomic_compare_exchange_n(&s->key, &cur, h, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			memcpy(s->ep, e->ep, e->ep_len);
			s->ep_len = e->ep_len;
			s->kind = e->kind;
			__atomic_store_n(&s->ready, 1, __ATOMIC_RELEASE);
			__atomic_store_n(&ep_used, 1, __ATOMIC_RELAXED);
			return s;
		}
		if (cur == h)
			return s;
	}
	__atomic_store_n(&ep_used, 1, __ATOMIC_RELAXED);
	return &pst_ep_stats[PST_EP_SLOTS];
}

static unsigned connect_bucket(uint64_t ns)
{
	unsigned b = 0;

	while (b < PST_CONNECT_BUCKETS - 1 && ns > pst_connect_le_ns[b])
		b++;
	return b;
}

void pst_ep_connected(const struct pst_sock *e, uint64_t ns)
{
	struct pst_ep_stat *s = ep_stat(e);

	__atomic_fetch_add(&s->connect_ns, ns, __ATOMIC_RELAXED);
	__atomic_fetch_add(&s->hist[connect_bucket(ns)], 1, __ATOMIC_RELAXED);
}

void pst_ep_failed(const struct pst_sock *e)
{
	__atomic_fetch_add(&ep_stat(e)->failures, 1, __ATOMIC_RELAXED);
}

void pst_ep_accepted(const struct pst_sock *listener)
{
	__atomic_fetch_add(&ep_stat(listener)->accepts, 1, __ATOMIC_RELAXED);
}

/* A forked child starts its own totals (its own file, its own pid); the
 * child of a program that never connected touches none of the table's
 * pages. */
void pst_ep_reset(void)
{
	if (ep_used)
		memset(pst_ep_stats, 0, sizeof(pst_ep_stats));
	ep_used = 0;
}
