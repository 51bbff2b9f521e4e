/* SPDX-License-Identifier: MIT */
/* The per-fd socket table shared by the network hooks: what each socket is and its counters. */
#ifndef PST_NET_H
#define PST_NET_H

#include <stdint.h>

#include "pst.h"

enum pst_sock_state {
	PST_SOCK_NONE = 0,   /* not a socket we know of (a file, a pipe, unseen) */
	PST_SOCK_OTHER,      /* a socket we do not follow (UDP, netlink, ...) */
	PST_SOCK_NEW,        /* a stream socket, not connected */
	PST_SOCK_LISTEN,     /* listening; ep is its local address */
	PST_SOCK_CONNECTING, /* connect in progress (non-blocking) */
	PST_SOCK_OPEN,       /* connected or accepted: I/O is counted */
};

/* Counters since the connection's last NET_CONN segment. Threads that share
 * an fd add with relaxed atomics; the segment writer takes them with an
 * exchange, so nothing is counted twice or lost. */
struct pst_sock_ctr {
	uint64_t bytes_sent, send_calls, send_ns;
	uint64_t bytes_recv, recv_calls, recv_ns;
	uint64_t small_sends, requests;
	uint64_t bursts, burst_sends, max_burst;
	uint32_t hist[PST_NET_HIST_BUCKETS];
};

struct pst_sock {
	volatile uint32_t state;  /* enum pst_sock_state */
	uint8_t kind, role;       /* enum pst_net_kind, enum pst_net_role */
	uint8_t first;            /* the next segment carries the connect or accept */
	uint8_t flags;            /* PST_NET_SHUTDOWN seen */
	uint16_t ep_len;
	uint8_t ep[PST_NET_EP_MAX];
	uint64_t conn_id;
	uint64_t open_ts, connect_ns;
	uint64_t done_ts;         /* a wait reported the connect finished */
	/* request turns: dir is 1 after an outgoing, 2 after an incoming */
	uint64_t turn_start;
	uint32_t dir, cur_burst;
	struct pst_sock_ctr c;
	/* requests: the protocol (proto.h's enum pst_proto), the decoder's state */
	uint8_t proto;
	struct pst_proto_conn *pr;
};

/* A flat array indexed by fd, in chunks mapped on first use: a lookup is two
 * loads and no lock. fds past PST_SOCK_MAX_FD are not followed. */
#define PST_SOCK_CHUNK_SHIFT 8
#define PST_SOCK_CHUNK (1u << PST_SOCK_CHUNK_SHIFT)
#define PST_SOCK_CHUNKS 4096u
#define PST_SOCK_MAX_FD (PST_SOCK_CHUNKS * PST_SOCK_CHUNK)

extern struct pst_sock *pst_sock_chunks[PST_SOCK_CHUNKS];

static inline struct pst_sock *pst_sock_get(int fd)
{
	unsigned u = (unsigned)fd;
	struct pst_sock *c;

	if (unlikely(u >= PST_SOCK_MAX_FD))
		return NULL;
	c = __atomic_load_n(&pst_sock_chunks[u >> PST_SOCK_CHUNK_SHIFT], __ATOMIC_ACQUIRE);
	return c ? &c[u & (PST_SOCK_CHUNK - 1)] : NULL;
}

/* net_table.c */
struct pst_sock *pst_sock_make(int fd); /* its entry, mapping its chunk; NULL if impossible */
/* fn for every entry of every mapped chunk */
void pst_sock_foreach(void (*fn)(struct pst_sock *e, void *arg), void *arg);

/* Running totals per endpoint since the process started, for the metrics
 * textfile: connects (by time), failed connects, accepts (keyed by the
 * listening address). Slot PST_EP_SLOTS takes what a full table has no
 * room for. Written with relaxed atomics, read by the timer thread. */
#define PST_EP_SLOTS 256
#define PST_CONNECT_BUCKETS 20 /* the last one has no bound: +Inf */
struct pst_ep_stat {
	uint64_t key;   /* hash of kind and endpoint; 0: empty */
	uint32_t ready; /* kind, ep and ep_len are written */
	uint8_t kind;
	uint16_t ep_len;
	uint8_t ep[PST_NET_EP_MAX];
	uint64_t failures, accepts, connect_ns;
	uint64_t hist[PST_CONNECT_BUCKETS]; /* connects by time, each once */
};
extern struct pst_ep_stat pst_ep_stats[PST_EP_SLOTS + 1];
extern const uint64_t pst_connect_le_ns[PST_CONNECT_BUCKETS - 1]; /* upper bounds */
void pst_ep_connected(const struct pst_sock *e, uint64_t ns); /* a connect succeeded in ns */
void pst_ep_failed(const struct pst_sock *e);
void pst_ep_accepted(const struct pst_sock *listener);
void pst_ep_reset(void); /* forked child */

#endif
