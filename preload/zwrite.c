/* SPDX-License-Identifier: MIT */
/* `--full` blocks written as ZBLOCKs: packed into streams (zpack.h) and compressed with zstd, a BLOCK when that cannot be. */
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_initStaticCCtx: no malloc, from a signal handler too */
#include <sched.h>
#include <sys/mman.h>
#include <zstd.h>

#include "pst.h"
#include "zpack.h"

/*
 * Two compressors for the process, each taken with a try-lock: the timer
 * thread's, which writes the buffers handed to it (zqueue.c), and one for
 * a buffer written where it filled (exit, no writer). A thread
 * that finds them all busy yields a few times (more threads than CPUs: a
 * holder was preempted), then writes a plain BLOCK: nobody waits for long,
 * and the fatal signal's handler interrupting a holder cannot deadlock. Their memory is mapped at first use, never malloc'd.
 * Level 1: the fastest of zstd's levels that still finds the long matches
 * the packed streams are made of.
 */
#define ZW_LEVEL 1
#define ZW_CAP (PST_BUF_SIZE + PST_SEAL_SLACK + 1024)
#define ZW_N 4
/* Room for the frame: the bound, and a block header per stream flushed. */
#define ZW_OUT (ZSTD_COMPRESSBOUND(ZW_CAP) + 64 * PST_ZP_NSTREAMS)

struct zw_mem {
	struct pst_zp_enc enc;
	uint8_t work[PST_ZP_NSTREAMS * ZW_CAP], packed[ZW_CAP];
	uint8_t out[PST_BLOCK_HEADER_MAX + PST_VARINT_MAX + ZW_OUT];
};

static struct zw {
	int busy;
	int failed; /* the mapping could not be had */
	struct zw_mem *m;
	ZSTD_CCtx *cctx;
} zws[ZW_N];

static bool zw_setup(struct zw *z)
{
	size_t ws = ZSTD_estimateCStreamSize(ZW_LEVEL);
	ZSTD_CCtx *c;
	void *m;

	if (z->m)
		return true;
	if (z->failed)
		return false;
	m = mmap(NULL, sizeof(*z->m) + ws, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (m == MAP_FAILED) {
		z->failed = 1;
		return false;
	}
	c = ZSTD_initStaticCCtx((uint8_t *)m + sizeof(*z->m), ws);
	/* the frame's checksum: a damaged ZBLOCK is found, never read as other events */
	if (!c || ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, ZW_LEVEL)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1))) {
		munmap(m, sizeof(*z->m) + ws);
		z->failed = 1;
		return false;
	}
	z->cctx = c;
	z->m = m;
	return true;
}

/* One frame of the packed [p, p + plen) at c: its length, 0 on an error.
 * Each stream ends a zstd block (a flush), so that each has entropy tables
 * of its own: times and pointers are not alike. */
static size_t zw_frame(struct zw *z, const uint8_t *p, size_t plen, uint8_t *c)
{
	ZSTD_outBuffer o = { c, ZW_OUT, 0 };
	const uint8_t *q = p, *end = p + plen;
	uint64_t len[PST_ZP_NSTREAMS];

	if (ZSTD_isError(ZSTD_CCtx_reset(z->cctx, ZSTD_reset_session_only)) ||
	    ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(z->cctx, plen)))
		return 0;
	for (unsigned i = 0; i < PST_ZP_NSTREAMS; i++)
		pst_get_varint(&q, end, &len[i]); /* as pst_zp_pack wrote them */
	/* the lengths with stream T, then one stream at a time */
	for (unsigned i = 1; i <= PST_ZP_NSTREAMS; i++) {
		ZSTD_inBuffer in = { i == 1 ? p : q, (size_t)len[i - 1] + (i == 1 ? (size_t)(q - p) : 0), 0 };
		ZSTD_EndDirective how = i == PST_ZP_NSTREAMS ? ZSTD_e_end : ZSTD_e_flush;
		size_t left;

		q += len[i - 1];
		do
			left = ZSTD_compressStream2(z->cctx, &o, &in, how);
		while (left && !ZSTD_isError(left) && o.pos < o.size);
		if (left) /* an error, or no room left */
			return 0;
	}
	return o.pos;
}

/* The ZBLOCK of [buf, buf + n) at z->m->out: its length, 0 when it cannot
 * be made or would not be smaller. */
static size_t zw_make(struct zw *z, uint64_t tid, uint64_t base_ts, const uint8_t *buf, size_t n)
{
	struct zw_mem *w = z->m;
	size_t plen, clen, body, hlen;
	uint8_t *h = w->out, *c = w->out + PST_BLOCK_HEADER_MAX + PST_VARINT_MAX;

	plen = pst_zp_pack(&w->enc, buf, buf + n, w->work, ZW_CAP, w->packed);
	if (!plen || !(clen = zw_frame(z, w->packed, plen, c)))
		return 0;
	body = pst_varint_len(tid) + pst_varint_len(base_ts) + pst_varint_len(n) + clen;
	*h++ = PST_REC_ZBLOCK;
	h = pst_put_varint(h, body);
	h = pst_put_varint(h, tid);
	h = pst_put_varint(h, base_ts);
	h = pst_put_varint(h, n);
	hlen = (size_t)(h - w->out);
	if (hlen + clen >= n + PST_BLOCK_HEADER_MAX)
		return 0;
	memmove(h, c, clen);
	return hlen + clen;
}

#define ZW_TRIES 64

/* A free compressor, taken; NULL when all stay busy. */
static struct zw *zw_take(void)
{
	for (int t = 0; t < ZW_TRIES; t++) {
		for (int i = 0; i < ZW_N; i++)
			if (!__atomic_load_n(&zws[i].busy, __ATOMIC_RELAXED) &&
			    !__atomic_exchange_n(&zws[i].busy, 1, __ATOMIC_ACQUIRE))
				return &zws[i];
		sched_yield();
	}
	return NULL;
}

void pst_zw_write(uint64_t tid, uint64_t base_ts, const uint8_t *buf, size_t n, bool pack)
{
	uint8_t hdr[PST_BLOCK_HEADER_MAX], *e;
	struct zw *z;
	size_t len = 0;

	if (pack && pst_cfg.full && n <= ZW_CAP && (z = zw_take())) {
		if (zw_setup(z) && (len = zw_make(z, tid, base_ts, buf, n)))
			pst_out_write(z->m->out, len, NULL, 0);
		__atomic_store_n(&z->busy, 0, __ATOMIC_RELEASE);
		if (len)
			return;
	}
	e = pst_enc_block_header(hdr, tid, base_ts, n);
	pst_out_write(hdr, (size_t)(e - hdr), buf, n);
}

/* A forked child: a compressor may have been held by a thread that is not
 * there any more. */
void pst_zw_after_fork(void)
{
	for (int i = 0; i < ZW_N; i++)
		zws[i].busy = 0;
}
