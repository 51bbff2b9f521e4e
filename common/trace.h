/* SPDX-License-Identifier: MIT */
/* The prestanda trace format v1: constants, varints and the records' encoders and decoders, shared by every writer and reader. */
#ifndef PRESTANDA_TRACE_H
#define PRESTANDA_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * A trace is the 8-byte magic, then records. Every record is framed as
 *   u8 type | varint payload_length | payload
 * so that a reader skips types it does not know. See docs/FORMAT.md.
 */
#define PST_MAGIC "PSTRACE1"
#define PST_MAGIC_LEN 8
#define PST_VERSION 1

/* Largest varint: 10 bytes for a u64. */
#define PST_VARINT_MAX 10

/* The record types (PST_REC_*) and their fields are declared in records.h. */


/* CPU_CONFIG.source */
enum pst_cpu_source {
	PST_CPU_PRELOAD = 0, /* `prestanda run --cpu`: per-thread timers */
	PST_CPU_EBPF = 1,    /* `prestanda record` */
};

/* CPU_CONFIG.flags */
#define PST_CPU_ON_CPU 0x1    /* SAMPLE records: CPU-time samples at hz */
#define PST_CPU_OFF_CPU 0x2   /* OFFCPU records: time blocked, by stack */
#define PST_CPU_WALL 0x4      /* samples on wall-clock time (blocked threads too) */
#define PST_CPU_DWARF 0x8     /* user stacks unwound from a copy of the stack with DWARF CFI */
#define PST_CPU_HOST_WIDE 0x10 /* every process of the host (`record -a`) */

/* SAMPLE.flags and OFFCPU.flags */
#define PST_SAMPLE_USER_TRUNCATED 0x1 /* the user stack did not reach its outermost frame */
#define PST_SAMPLE_KERNEL_LOST 0x2    /* the kernel stack could not be taken */
#define PST_SAMPLE_DWARF 0x4          /* the user stack was unwound with DWARF CFI */
#define PST_SAMPLE_BLOCKED 0x8        /* wall clock: the thread was blocked in the kernel */

/* PROCESS flags */
#define PST_PROC_FULL 0x1 /* every event recorded (else sampled by bytes) */
#define PST_PROC_ATTACHED 0x2 /* `prestanda attach`: from a running process's middle (ATTACH) */

/* Which function made an allocation (ALLOC.kind). */
enum pst_alloc_kind {
	PST_KIND_MALLOC = 0,
	PST_KIND_CALLOC = 1,
	PST_KIND_REALLOC = 2,
	PST_KIND_MEMALIGN = 3, /* posix_memalign, aligned_alloc, memalign, valloc, pvalloc */
	PST_KIND_COUNT
};

/* END.reason */
enum pst_end_reason {
	PST_END_EXIT = 0, /* exit(), return from main */
	PST_END_EXEC = 1, /* the image was replaced by exec; the next image writes its own trace */
	PST_END_SIGNAL = 2, /* killed by a fatal signal (END.signal) after a last flush */
	PST_END_DETACH = 3, /* `prestanda attach` detached; the process runs on */
};

/* TOTALS carries a size histogram with this many log2 buckets:
 * bucket 0 holds size 0, bucket b (b >= 1) sizes in [2^(b-1), 2^b). */
#define PST_HIST_BUCKETS 40

static inline unsigned pst_size_bucket(uint64_t size)
{
	unsigned b = size ? 64 - (unsigned)__builtin_clzll(size) : 0;
	return b < PST_HIST_BUCKETS ? b : PST_HIST_BUCKETS - 1;
}

/* Unsigned LEB128. Writes at most PST_VARINT_MAX bytes; returns the new end. */
static inline uint8_t *pst_put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static inline uint8_t *pst_put_bytes(uint8_t *p, const void *s, size_t n)
{
	p = pst_put_varint(p, n);
	if (n) /* an empty field may come as NULL */
		memcpy(p, s, n);
	return p + n;
}

/* Bytes pst_put_varint would write for v. */
static inline size_t pst_varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* Decode one varint from [*p, end). Returns 0, or -1 when it runs past end
 * or is longer than a u64 (corrupt). */
static inline int pst_get_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
	uint64_t v = 0;
	unsigned shift = 0;
	const uint8_t *q = *p;

	while (q < end) {
		uint8_t b = *q++;
		if (shift == 63 && b > 1)
			return -1;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*p = q;
			*out = v;
			return 0;
		}
		shift += 7;
		if (shift > 63)
			return -1;
	}
	return -1;
}

/*
 * Record encoders, shared by the preload's writer, `prestanda record` and
 * the tests. Each writes one whole framed record at p and returns the new
 * end. The caller makes room: PST_EVENT_MAX for an event,
 * pst_stack_rec_max(depth) for a stack. Most are generated from records.h;
 * the few with a tail (STACK, USAMPLE, NET_CONN, NET_LOOKUP, the BLOCK
 * header) are written below in records.h's field order, which
 * tests/test_trace.c checks against the generated decoders.
 */

/* An event's payload is at most 6 varints, so its length fits one byte. */
#define PST_EVENT_MAX (2 + 6 * PST_VARINT_MAX)

static inline uint8_t *pst_frame_small(uint8_t *rec, uint8_t *end)
{
	rec[1] = (uint8_t)(end - rec - 2);
	return end;
}

/* Room for a record of up to nints varints and strings of slen bytes. */
static inline size_t pst_var_rec_max(unsigned nints, size_t slen)
{
	return 1 + PST_VARINT_MAX + (size_t)nints * PST_VARINT_MAX + slen;
}

/* Move a payload written at p + 1 + PST_VARINT_MAX down behind its header. */
static inline uint8_t *pst_frame_var(uint8_t *p, unsigned type, uint8_t *end)
{
	uint8_t *pay = p + 1 + PST_VARINT_MAX, *q;
	size_t len = (size_t)(end - pay);

	p[0] = (uint8_t)type;
	q = pst_put_varint(p + 1, len);
	memmove(q, pay, len);
	return q + len;
}

#include "records.h"

/* The encoders of every SMALL and VAR record of records.h. */
PST_RECORDS(PST_REC_ENC_)

/* Frame a payload already written at tmp: type, length, bytes. */
static inline uint8_t *pst_enc_framed(uint8_t *p, unsigned type, const uint8_t *payload,
				      size_t len)
{
	*p++ = (uint8_t)type;
	p = pst_put_varint(p, len);
	memcpy(p, payload, len);
	return p + len;
}

static inline size_t pst_stack_rec_max(unsigned depth)
{
	return 1 + 2 * PST_VARINT_MAX + (size_t)(depth + 2) * PST_VARINT_MAX;
}

/* STACK: the payload is written past the largest header, then moved down. */
static inline uint8_t *pst_enc_stack(uint8_t *p, uint64_t id, const uint64_t *frames,
				     unsigned depth)
{
	uint8_t *pay = p + 1 + PST_VARINT_MAX, *q = pay;

	q = pst_put_varint(q, id);
	q = pst_put_varint(q, depth);
	for (unsigned i = 0; i < depth; i++)
		q = pst_put_varint(q, frames[i]);
	return pst_frame_var(p, PST_REC_STACK, q);
}

/* BLOCK header for inner records of inner_len bytes (written separately). */
static inline uint8_t *pst_enc_block_header(uint8_t *p, uint64_t tid, uint64_t base_ts,
					    size_t inner_len)
{
	*p++ = PST_REC_BLOCK;
	p = pst_put_varint(p, pst_varint_len(tid) + pst_varint_len(base_ts) + inner_len);
	p = pst_put_varint(p, tid);
	return pst_put_varint(p, base_ts);
}
#define PST_BLOCK_HEADER_MAX (1 + 3 * PST_VARINT_MAX)

/*
 * CPU records. A SAMPLE stands for `count` samples of one thread with the
 * same stacks (count 1 from the preload; the eBPF side aggregates). Stack
 * ids are STACK records; frame 0 of a stack a SAMPLE names is the exact
 * interrupted address, the others return addresses. 0 means no stack.
 */
#define PST_CPU_EVENT_MAX (2 + 8 * PST_VARINT_MAX)

/*
 * USAMPLE: a sample as the preload's signal handler takes it, unwound by the
 * reader into a SAMPLE of `count` samples (1 + the timer's overruns). regs are x86-64 DWARF registers 0..nregs-1; the stack bytes were
 * copied from the stack pointer (register 7) up. The caller makes room
 * pst_usample_max(nregs, stack_len) and copies the stack to the returned
 * pointer; the record ends stack_len bytes after it.
 */
static inline size_t pst_usample_max(unsigned nregs, size_t stack_len)
{
	return 1 + PST_VARINT_MAX + (6 + (size_t)nregs) * PST_VARINT_MAX + stack_len;
}

static inline uint8_t *pst_enc_usample(uint8_t *p, uint64_t ts, uint64_t tid, uint64_t count,
				       uint64_t flags, const uint64_t *regs, unsigned nregs,
				       size_t stack_len)
{
	size_t len = pst_varint_len(ts) + pst_varint_len(tid) + pst_varint_len(count) +
		     pst_varint_len(flags) +
		     pst_varint_len(nregs) + pst_varint_len(stack_len) + stack_len;

	for (unsigned i = 0; i < nregs; i++)
		len += pst_varint_len(regs[i]);
	*p++ = PST_REC_USAMPLE;
	p = pst_put_varint(p, len);
	p = pst_put_varint(p, ts);
	p = pst_put_varint(p, tid);
	p = pst_put_varint(p, count);
	p = pst_put_varint(p, flags);
	p = pst_put_varint(p, nregs);
	for (unsigned i = 0; i < nregs; i++)
		p = pst_put_varint(p, regs[i]);
	return pst_put_varint(p, stack_len);
}

/*
 * Production-mode records (0x61-0x6f), inside a BLOCK like SNAPSHOT.
 * SETTINGS: wait_rate_ppm (WAIT records kept per million), metrics_ms,
 * max_size (0: none), max_memory, toggle signal (0: none).
 */
#define PST_PROD_REC_MAX (2 + 5 * PST_VARINT_MAX)

/* WAIT.kind and LOCK_STATS.kind: what was waited for. */
enum pst_wait_kind {
	PST_WAIT_MUTEX = 0,
	PST_WAIT_RDLOCK = 1, /* rwlock taken for reading */
	PST_WAIT_WRLOCK = 2, /* rwlock taken for writing (LOCK_STATS: any rwlock) */
	PST_WAIT_SPIN = 3,
	PST_WAIT_COND = 4,   /* condition variable: idle time */
	PST_WAIT_SEM = 5,    /* semaphore: idle time */
	PST_WAIT_JOIN = 6,   /* pthread_join: waiting for another thread (object 0) */
	PST_WAIT_KIND_COUNT
};

#define PST_WAIT_TIMEDOUT 0x1  /* WAIT.flags: not acquired (timeout or error) */
#define PST_THR_END_ALIVE 0x1  /* THR_END.flags: still running when the process ended */
#define PST_THR_END_RUNNABLE 0x2 /* THR_END.flags: runnable_ns was read */

/* Threads and locks records carry absolute times: at most 7 varints. */
#define PST_THR_EVENT_MAX (2 + 7 * PST_VARINT_MAX)

/* LOCK_STATS: the payload is 10 varints, the length still one byte. */
#define PST_LOCK_STATS_MAX (2 + 10 * PST_VARINT_MAX)

/*
 * Network records (0x30-0x3f). A connection is one conn_id; its counters are
 * aggregated in process and written as NET_CONN segments: one when it is
 * closed (or its connect fails), and one at every snapshot (exit, exec) for
 * what happened since the last. Timestamps are absolute. See docs/FORMAT.md.
 */

/* NET_CONN.kind */
enum pst_net_kind { PST_NET_TCP = 0, PST_NET_TCP6 = 1, PST_NET_UNIX = 2 };
/* NET_CONN.role */
enum pst_net_role { PST_NET_CLIENT = 0, PST_NET_SERVER = 1 };
/* NET_CONN.flags */
#define PST_NET_FIRST 0x1    /* this segment opens the connection (a connect or accept) */
#define PST_NET_CLOSED 0x2   /* the connection ended: closed, or its connect failed */
#define PST_NET_SHUTDOWN 0x4 /* shutdown() was called on it */
/* NET_CONN.connect_err for a connect that never completed: the socket was
 * closed (or the process ended) while it was in progress. */
#define PST_NET_ERR_ABANDONED 0xffff

/* A send smaller than this is "small" (chatty-connection evidence). */
#define PST_NET_SMALL_SEND 512

/* Request latency histogram: 4 buckets per power of two of nanoseconds
 * (at most 19% wide); bucket b < 4 holds b ns exactly. */
#define PST_NET_HIST_BUCKETS 160

static inline unsigned pst_net_bucket(uint64_t ns)
{
	unsigned e, b;

	if (ns < 4)
		return (unsigned)ns;
	e = 63 - (unsigned)__builtin_clzll(ns);
	b = 4 * (e - 1) + (unsigned)((ns >> (e - 2)) & 3);
	return b < PST_NET_HIST_BUCKETS ? b : PST_NET_HIST_BUCKETS - 1;
}

/* Smallest value of bucket b. */
static inline uint64_t pst_net_bucket_lo(unsigned b)
{
	if (b < 4)
		return b;
	return (uint64_t)(4 + (b & 3)) << (b / 4 - 1);
}

/* Longest endpoint: a Unix socket path (sun_path is 108 bytes). */
#define PST_NET_EP_MAX 108

/* One NET_CONN segment. ep is the remote address for a client (4 or 16
 * address bytes then the port in network order; a Unix socket's path,
 * abstract ones with their leading NUL) and the listening address for a
 * server's accepted connection. */
struct pst_net_conn_rec {
	uint64_t conn_id;
	unsigned kind, role, flags;
	uint8_t ep[PST_NET_EP_MAX];
	size_t ep_len;
	uint64_t open_ts;     /* connect called, or accept returned */
	uint64_t connect_ns;  /* until established (client), 0 for a server */
	uint64_t connect_err; /* 0, or the errno the connect failed with */
	uint64_t end_ts;      /* closed, or the snapshot's time */
	uint64_t bytes_sent, send_calls, send_ns;
	uint64_t bytes_recv, recv_calls, recv_ns;
	uint64_t small_sends; /* sends of fewer than PST_NET_SMALL_SEND bytes */
	uint64_t requests;    /* request/response turns completed */
	uint64_t bursts, burst_sends, max_burst; /* runs of sends between receives */
	uint32_t hist[PST_NET_HIST_BUCKETS];     /* request latencies */
};

#define PST_NET_CONN_MAX                                                               \
	(1 + PST_VARINT_MAX + 26 * PST_VARINT_MAX + PST_NET_EP_MAX +                   \
	 2 * PST_NET_HIST_BUCKETS * PST_VARINT_MAX)

/* NET_CONN: the payload is written past the largest header, then moved down.
 * The histogram is sparse: a count of pairs (bucket, count). */
static inline uint8_t *pst_enc_net_conn(uint8_t *p, const struct pst_net_conn_rec *c)
{
	uint8_t *pay = p + 1 + PST_VARINT_MAX, *q = pay;
	unsigned n = 0;

	q = pst_put_varint(q, c->conn_id);
	q = pst_put_varint(q, c->kind);
	q = pst_put_varint(q, c->role);
	q = pst_put_varint(q, c->flags);
	q = pst_put_bytes(q, c->ep, c->ep_len);
	q = pst_put_varint(q, c->open_ts);
	q = pst_put_varint(q, c->connect_ns);
	q = pst_put_varint(q, c->connect_err);
	q = pst_put_varint(q, c->end_ts);
	q = pst_put_varint(q, c->bytes_sent);
	q = pst_put_varint(q, c->send_calls);
	q = pst_put_varint(q, c->send_ns);
	q = pst_put_varint(q, c->bytes_recv);
	q = pst_put_varint(q, c->recv_calls);
	q = pst_put_varint(q, c->recv_ns);
	q = pst_put_varint(q, c->small_sends);
	q = pst_put_varint(q, c->requests);
	q = pst_put_varint(q, c->bursts);
	q = pst_put_varint(q, c->burst_sends);
	q = pst_put_varint(q, c->max_burst);
	for (unsigned b = 0; b < PST_NET_HIST_BUCKETS; b++)
		n += c->hist[b] != 0;
	q = pst_put_varint(q, n);
	for (unsigned b = 0; b < PST_NET_HIST_BUCKETS; b++) {
		if (!c->hist[b])
			continue;
		q = pst_put_varint(q, b);
		q = pst_put_varint(q, c->hist[b]);
	}
	return pst_frame_var(p, PST_REC_NET_CONN, q);
}

/* NET_LOOKUP.func */
enum pst_net_lookup_fn { PST_LOOKUP_GETADDRINFO = 0, PST_LOOKUP_GETHOSTBYNAME = 1 };
#define PST_NET_NAME_MAX 255
#define PST_NET_ADDRS_MAX 8

/* NET_LOOKUP: ts (start), duration, function, result (0, or the error code
 * made positive), name, then naddrs distinct addresses, 4 or 16 bytes each. */
static inline size_t pst_net_lookup_max(void)
{
	return 1 + PST_VARINT_MAX + 5 * PST_VARINT_MAX + 1 + PST_VARINT_MAX + PST_NET_NAME_MAX +
	       PST_NET_ADDRS_MAX * 17;
}

static inline uint8_t *pst_enc_net_lookup(uint8_t *p, uint64_t ts, uint64_t dur, unsigned fn,
					  uint64_t result, const char *name, size_t name_len,
					  const uint8_t (*addrs)[16], const uint8_t *addr_lens,
					  unsigned naddrs)
{
	uint8_t *pay = p + 1 + PST_VARINT_MAX, *q = pay;

	if (name_len > PST_NET_NAME_MAX)
		name_len = PST_NET_NAME_MAX;
	if (naddrs > PST_NET_ADDRS_MAX)
		naddrs = PST_NET_ADDRS_MAX;
	q = pst_put_varint(q, ts);
	q = pst_put_varint(q, dur);
	q = pst_put_varint(q, fn);
	q = pst_put_varint(q, result);
	q = pst_put_bytes(q, name, name_len);
	q = pst_put_varint(q, naddrs);
	for (unsigned i = 0; i < naddrs; i++)
		q = pst_put_bytes(q, addrs[i], addr_lens[i]);
	return pst_frame_var(p, PST_REC_NET_LOOKUP, q);
}

/*
 * The live file, TRACE.live, beside a trace being written: every thread's
 * event buffer is a shared mapping of one slot of it, so what the process
 * recorded but had not yet written into the trace survives SIGKILL, the
 * OOM killer and a raw exit_group. A reader that finds a trace without END
 * and its live file, the process gone, appends each slot's events as a
 * BLOCK (analyzer/read/trace_recover.c). Fixed-width fields in the writer's byte
 * order: it is read on the host that wrote it. See docs/FORMAT.md.
 */
#define PST_LIVE_MAGIC "PSTLIVE1"
#define PST_LIVE_HEADER 4096   /* bytes before the first slot */
#define PST_LIVE_SLOT_HEADER 4096 /* a slot's header page, then its buffer */

struct pst_live_header {
	char magic[8];
	uint32_t version;      /* PST_VERSION */
	uint32_t slot_bytes;   /* header page and buffer of one slot */
	uint64_t pid;
	uint64_t ended;        /* 1: END was written, nothing to recover */
};

struct pst_live_slot {
	uint64_t tid;          /* 0: never used */
	uint64_t base_ts;      /* the BLOCK base of what the buffer holds */
	uint32_t used;         /* bytes of whole records in the buffer */
	uint32_t pad;
};

#endif
