/* SPDX-License-Identifier: MIT */
/* The prestanda trace format v1: constants and varint encoders shared by every writer and reader. */
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

enum pst_record_type {
	/* top level */
	PST_REC_PROCESS = 0x01, /* who was traced and how: first record of a trace */
	PST_REC_BLOCK = 0x02,   /* one thread's flushed buffer: tid, base ts, inner records */
	PST_REC_END = 0x03,     /* clean end of the process image */
	/* inside a BLOCK */
	PST_REC_MODULE = 0x10,  /* a loaded object: bias, range, path, build id */
	PST_REC_STACK = 0x11,   /* id, depth, return addresses innermost first */
	PST_REC_THREAD = 0x12,  /* a thread started: tid, parent tid, name */
	PST_REC_TOTALS = 0x13,  /* a thread's exact counters (every call, sampled or not) */
	PST_REC_ALLOC = 0x20,   /* dts, ptr, size, stack id, kind */
	PST_REC_FREE = 0x21,    /* dts, ptr */
	PST_REC_REALLOC = 0x22, /* dts, old ptr (0: none), new ptr, size, stack id */
	/* threads and locks (absolute timestamps, see docs/FORMAT.md) */
	PST_REC_THR_START = 0x40,  /* tid, ts, parent tid, start routine, creating stack, create ts */
	PST_REC_THR_END = 0x41,    /* tid, ts, cpu ns, flags */
	PST_REC_WAIT = 0x42,       /* ts, object, kind, wait ns, stack id, flags */
	PST_REC_LOCK_STATS = 0x43, /* one lock's cumulative statistics */
	PST_REC_THR_INFO = 0x44,   /* online CPUs, locks not tracked */
	PST_REC_SNAPSHOT = 0x60,   /* ts, counters so far and process resources */
	/* reserved ranges for the record families still to come:
	 * 0x30-0x3f network, 0x50-0x5f CPU samples, 0x60-0x6f snapshots and
	 * configuration */
};

/* PROCESS flags */
#define PST_PROC_FULL 0x1 /* every event recorded (else sampled by bytes) */

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
 * Record encoders, shared by the preload's writer and the tests. Each writes
 * one whole framed record at p and returns the new end. The caller makes
 * room: PST_EVENT_MAX for an event, pst_stack_rec_max(depth) for a stack.
 */

/* An event's payload is at most 6 varints, so its length fits one byte. */
#define PST_EVENT_MAX (2 + 6 * PST_VARINT_MAX)

static inline uint8_t *pst_frame_small(uint8_t *rec, uint8_t *end)
{
	rec[1] = (uint8_t)(end - rec - 2);
	return end;
}

static inline uint8_t *pst_enc_alloc(uint8_t *p, uint64_t dts, uint64_t ptr, uint64_t size,
				     uint64_t stack, unsigned kind)
{
	uint8_t *q = p + 2;
	p[0] = PST_REC_ALLOC;
	q = pst_put_varint(q, dts);
	q = pst_put_varint(q, ptr);
	q = pst_put_varint(q, size);
	q = pst_put_varint(q, stack);
	q = pst_put_varint(q, kind);
	return pst_frame_small(p, q);
}

static inline uint8_t *pst_enc_free(uint8_t *p, uint64_t dts, uint64_t ptr)
{
	uint8_t *q = p + 2;
	p[0] = PST_REC_FREE;
	q = pst_put_varint(q, dts);
	q = pst_put_varint(q, ptr);
	return pst_frame_small(p, q);
}

static inline uint8_t *pst_enc_realloc(uint8_t *p, uint64_t dts, uint64_t old_ptr,
				       uint64_t new_ptr, uint64_t size, uint64_t stack)
{
	uint8_t *q = p + 2;
	p[0] = PST_REC_REALLOC;
	q = pst_put_varint(q, dts);
	q = pst_put_varint(q, old_ptr);
	q = pst_put_varint(q, new_ptr);
	q = pst_put_varint(q, size);
	q = pst_put_varint(q, stack);
	return pst_frame_small(p, q);
}

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
	size_t len;

	q = pst_put_varint(q, id);
	q = pst_put_varint(q, depth);
	for (unsigned i = 0; i < depth; i++)
		q = pst_put_varint(q, frames[i]);
	len = (size_t)(q - pay);
	p[0] = PST_REC_STACK;
	q = pst_put_varint(p + 1, len);
	memmove(q, pay, len);
	return q + len;
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

static inline uint8_t *pst_enc_end(uint8_t *p, uint64_t ts, uint64_t reason, uint64_t sig)
{
	uint8_t *q = p + 2;
	p[0] = PST_REC_END;
	q = pst_put_varint(q, ts);
	q = pst_put_varint(q, reason);
	q = pst_put_varint(q, sig);
	return pst_frame_small(p, q);
}

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

/* Threads and locks records carry absolute times: at most 7 varints. */
#define PST_THR_EVENT_MAX (2 + 7 * PST_VARINT_MAX)

static inline uint8_t *pst_enc_thr_start(uint8_t *p, uint64_t tid, uint64_t ts, uint64_t parent,
					 uint64_t routine, uint64_t stack, uint64_t create_ts)
{
	uint8_t *q = p + 2;
	p[0] = PST_REC_THR_START;
	q = pst_put_varint(q, tid);
	q = pst_put_varint(q, ts);
	q = pst_put_varint(q, parent);
	q = pst_put_varint(q, routine);
	q = pst_put_varint(q, stack);
	q = pst_put_varint(q, create_ts);
	return pst_frame_small(p, q);
}

static inline uint8_t *pst_enc_thr_end(uint8_t *p, uint64_t tid, uint64_t ts, uint64_t cpu_ns,
				       uint64_t flags)
{
	uint8_t *q = p + 2;
	p[0] = PST_REC_THR_END;
	q = pst_put_varint(q, tid);
	q = pst_put_varint(q, ts);
	q = pst_put_varint(q, cpu_ns);
	q = pst_put_varint(q, flags);
	return pst_frame_small(p, q);
}

static inline uint8_t *pst_enc_wait(uint8_t *p, uint64_t ts, uint64_t obj, unsigned kind,
				    uint64_t wait_ns, uint64_t stack, uint64_t flags)
{
	uint8_t *q = p + 2;
	p[0] = PST_REC_WAIT;
	q = pst_put_varint(q, ts);
	q = pst_put_varint(q, obj);
	q = pst_put_varint(q, kind);
	q = pst_put_varint(q, wait_ns);
	q = pst_put_varint(q, stack);
	q = pst_put_varint(q, flags);
	return pst_frame_small(p, q);
}

/* LOCK_STATS: the payload is 10 varints, the length still one byte. */
#define PST_LOCK_STATS_MAX (2 + 10 * PST_VARINT_MAX)

static inline uint8_t *pst_enc_lock_stats(uint8_t *p, uint64_t obj, unsigned kind,
					  uint64_t first_stack, uint64_t first_ts, uint64_t acq,
					  uint64_t reads, uint64_t contended, uint64_t wait_ns,
					  uint64_t max_wait_ns, uint64_t max_stack)
{
	uint8_t *q = p + 2;
	p[0] = PST_REC_LOCK_STATS;
	q = pst_put_varint(q, obj);
	q = pst_put_varint(q, kind);
	q = pst_put_varint(q, first_stack);
	q = pst_put_varint(q, first_ts);
	q = pst_put_varint(q, acq);
	q = pst_put_varint(q, reads);
	q = pst_put_varint(q, contended);
	q = pst_put_varint(q, wait_ns);
	q = pst_put_varint(q, max_wait_ns);
	q = pst_put_varint(q, max_stack);
	return pst_frame_small(p, q);
}

static inline uint8_t *pst_enc_thr_info(uint8_t *p, uint64_t ncpu, uint64_t untracked)
{
	uint8_t *q = p + 2;
	p[0] = PST_REC_THR_INFO;
	q = pst_put_varint(q, ncpu);
	q = pst_put_varint(q, untracked);
	return pst_frame_small(p, q);
}

#endif
