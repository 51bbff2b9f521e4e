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
	/* 0x50-0x5f: CPU samples (the preload's timers and `prestanda record`) */
	PST_REC_CPU_CONFIG = 0x50, /* source, hz, flags, stack bytes copied per sample */
	PST_REC_SAMPLE = 0x51,     /* ts, pid, tid, user stack, kernel stack, count, flags */
	PST_REC_OFFCPU = 0x52,     /* ts, pid, tid, user stack, kernel stack, count, blocked ns, flags */
	PST_REC_PMODULE = 0x53,    /* MODULE of one process: pid, bias, lo, hi, path, build id */
	PST_REC_TASK = 0x54,       /* pid, tid, name (comm) of a sampled thread */
	PST_REC_KSYM = 0x55,       /* a kernel frame: address, symbol start, name, module */
	PST_REC_CPU_STATS = 0x56,  /* duration ns, lost samples, lost kernel stacks, lost user stacks */
	/* reserved ranges for the record families still to come:
	 * 0x30-0x3f network, 0x40-0x4f threads and locks,
	 * 0x60-0x6f snapshots and configuration */
};

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

/*
 * CPU records. A SAMPLE stands for `count` samples of one thread with the
 * same stacks (count 1 from the preload; the eBPF side aggregates). Stack
 * ids are STACK records; frame 0 of a stack a SAMPLE names is the exact
 * interrupted address, the others return addresses. 0 means no stack.
 */
#define PST_CPU_EVENT_MAX (2 + 8 * PST_VARINT_MAX)

static inline uint8_t *pst_enc_cpu_config(uint8_t *p, uint64_t source, uint64_t hz,
					  uint64_t flags, uint64_t stack_bytes)
{
	uint8_t *q = p + 2;
	p[0] = PST_REC_CPU_CONFIG;
	q = pst_put_varint(q, source);
	q = pst_put_varint(q, hz);
	q = pst_put_varint(q, flags);
	q = pst_put_varint(q, stack_bytes);
	return pst_frame_small(p, q);
}

static inline uint8_t *pst_enc_sample(uint8_t *p, uint64_t ts, uint64_t pid, uint64_t tid,
				      uint64_t ustack, uint64_t kstack, uint64_t count,
				      uint64_t flags)
{
	uint8_t *q = p + 2;
	p[0] = PST_REC_SAMPLE;
	q = pst_put_varint(q, ts);
	q = pst_put_varint(q, pid);
	q = pst_put_varint(q, tid);
	q = pst_put_varint(q, ustack);
	q = pst_put_varint(q, kstack);
	q = pst_put_varint(q, count);
	q = pst_put_varint(q, flags);
	return pst_frame_small(p, q);
}

static inline uint8_t *pst_enc_offcpu(uint8_t *p, uint64_t ts, uint64_t pid, uint64_t tid,
				      uint64_t ustack, uint64_t kstack, uint64_t count,
				      uint64_t blocked_ns, uint64_t flags)
{
	uint8_t *q = p + 2;
	p[0] = PST_REC_OFFCPU;
	q = pst_put_varint(q, ts);
	q = pst_put_varint(q, pid);
	q = pst_put_varint(q, tid);
	q = pst_put_varint(q, ustack);
	q = pst_put_varint(q, kstack);
	q = pst_put_varint(q, count);
	q = pst_put_varint(q, blocked_ns);
	q = pst_put_varint(q, flags);
	return pst_frame_small(p, q);
}

static inline uint8_t *pst_enc_cpu_stats(uint8_t *p, uint64_t duration_ns, uint64_t lost,
					 uint64_t lost_kstacks, uint64_t lost_ustacks)
{
	uint8_t *q = p + 2;
	p[0] = PST_REC_CPU_STATS;
	q = pst_put_varint(q, duration_ns);
	q = pst_put_varint(q, lost);
	q = pst_put_varint(q, lost_kstacks);
	q = pst_put_varint(q, lost_ustacks);
	return pst_frame_small(p, q);
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

/* PMODULE: room pst_var_rec_max(7, strlen(path) + build_id_len). */
static inline uint8_t *pst_enc_pmodule(uint8_t *p, uint64_t pid, uint64_t bias, uint64_t lo,
				       uint64_t hi, const char *path, const uint8_t *build_id,
				       size_t build_id_len)
{
	uint8_t *q = p + 1 + PST_VARINT_MAX;

	q = pst_put_varint(q, pid);
	q = pst_put_varint(q, bias);
	q = pst_put_varint(q, lo);
	q = pst_put_varint(q, hi);
	q = pst_put_bytes(q, path, strlen(path));
	q = pst_put_bytes(q, build_id, build_id_len);
	return pst_frame_var(p, PST_REC_PMODULE, q);
}

/* TASK: room pst_var_rec_max(3, strlen(name)). */
static inline uint8_t *pst_enc_task(uint8_t *p, uint64_t pid, uint64_t tid, const char *name)
{
	uint8_t *q = p + 1 + PST_VARINT_MAX;

	q = pst_put_varint(q, pid);
	q = pst_put_varint(q, tid);
	q = pst_put_bytes(q, name, strlen(name));
	return pst_frame_var(p, PST_REC_TASK, q);
}

/* KSYM: room pst_var_rec_max(4, strlen(name) + strlen(module)). */
static inline uint8_t *pst_enc_ksym(uint8_t *p, uint64_t addr, uint64_t start, const char *name,
				    const char *module)
{
	uint8_t *q = p + 1 + PST_VARINT_MAX;

	q = pst_put_varint(q, addr);
	q = pst_put_varint(q, start);
	q = pst_put_bytes(q, name, strlen(name));
	q = pst_put_bytes(q, module, strlen(module));
	return pst_frame_var(p, PST_REC_KSYM, q);
}

static inline uint8_t *pst_enc_end(uint8_t *p, uint64_t ts, uint64_t reason, uint64_t sig)
{
	uint8_t *q = p + 2;
	p[0] = PST_REC_END;
	q = pst_put_varint(q, ts);
	q = pst_put_varint(q, reason);
	q = pst_put_varint(q, sig);
	return pst_frame_small(p, q);
}

#endif
