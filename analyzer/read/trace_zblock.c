/* SPDX-License-Identifier: MIT */
/* ZBLOCKs opened: a trace that holds them is read through a copy with each one as the BLOCK it stands for, and offsets told in the file's terms. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <pthread.h>
#include <unistd.h>
#include <zstd.h>

#include "grow.h"
#include "trace_zblock.h"
#include "zpack.h"

/*
 * The reader indexes a trace by offsets into one mapping, and goes back to
 * a block at every rewind. A trace with ZBLOCKs is therefore unpacked once,
 * at open, into an unlinked temporary file, and that is mapped instead: its
 * pages come and go from the page cache like the trace's own. Every region
 * of the copy remembers where it came from: a damage is reported at the
 * offset in the file (for an unpacked block, the ZBLOCK's own).
 *
 * Reading the blocks where they lie instead (no copy) would unpack each
 * one twice, once for the framing scan (its inner records: stacks,
 * modules, thread names) and again for the merge, and again at each
 * rewind: unpacking, not the copy, is what costs (zstd is a fifth of it).
 * So the copy stays, made as fast as it can be: its layout is known from
 * the ZBLOCK headers alone (each says how long its BLOCK is), so the
 * blocks are unpacked by two threads at once, each written at its place
 * in the copy (pwrite; a writable mapping of the copy would count all of
 * it in the analyzer's resident memory).
 *
 * A ZBLOCK that does not unpack ends the unpacking: the rest of the file is
 * copied as it is, and the scan stops at that record as it would at any
 * other corrupt one.
 */

/* Largest BLOCK a ZBLOCK may stand for: far past what a writer makes. */
#define ZX_MAX_RAW (64u << 20)
#define ZX_THREADS 2

/* One ZBLOCK: its payload in the file, its BLOCK's place in the copy. */
struct zx_job {
	uint64_t frame, end; /* the ZBLOCK record in the file */
	uint64_t out, out_end; /* its BLOCK in the copy */
	size_t seg;          /* the ZBLOCK's own segment */
	struct pst_rec_zblock z;
};

struct zx_work {
	const uint8_t *map;
	int fd;                 /* the copy */
	struct zx_job *job;
	size_t njobs, next; /* next: the next job to take */
	size_t first_bad;   /* lowest job that did not unpack; njobs: none */
	int err;            /* a worker's errno: no memory, or the copy failed */
	pthread_mutex_t lock;
};

static int zx_add(struct pst_zx *zx, uint64_t exp, uint64_t file, bool linear)
{
	if (pst_grow(&zx->seg, &zx->cap, zx->n + 1, sizeof(*zx->seg), 64))
		return -1;
	zx->seg[zx->n++] = (struct pst_zx_seg){ exp, file, linear };
	return 0;
}

uint64_t pst_zx_file_off(const struct pst_zx *zx, uint64_t off)
{
	size_t lo = 0, hi = zx ? zx->n : 0;

	if (!hi)
		return off;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (zx->seg[mid].exp <= off)
			lo = mid;
		else
			hi = mid;
	}
	return zx->seg[lo].linear ? zx->seg[lo].file + (off - zx->seg[lo].exp) : zx->seg[lo].file;
}

void pst_zx_free(struct pst_zx *zx)
{
	free(zx->seg);
	memset(zx, 0, sizeof(*zx));
}

/* The frame at p: its type and where it ends, or false when it is cut. */
static bool zx_frame(const uint8_t *p, const uint8_t *end, unsigned *type,
		     const uint8_t **pay, const uint8_t **next)
{
	const uint8_t *q = p + 1;
	uint64_t len;

	if (p >= end || pst_get_varint(&q, end, &len) || len > (uint64_t)(end - q))
		return false;
	*type = p[0];
	*pay = q;
	*next = q + len;
	return true;
}

/* The copy's layout: a job per ZBLOCK (up to the first whose header does
 * not decode), the segments, and the copy's size in zx->size. */
static int zx_layout(struct pst_zx *zx, const uint8_t *map, size_t size, size_t off,
		     struct zx_work *w)
{
	const uint8_t *end = map + size, *p = map + off, *pay, *next;
	size_t cap = 0;
	unsigned type;

	zx->size = off;
	for (; zx_frame(p, end, &type, &pay, &next); p = next) {
		struct zx_job j = { (uint64_t)(p - map), (uint64_t)(next - map), zx->size, 0, zx->n,
				    { 0 } };
		uint8_t hdr[PST_BLOCK_HEADER_MAX];

		if (type != PST_REC_ZBLOCK) {
			zx->size += (size_t)(next - p);
			continue;
		}
		if (pst_dec_zblock(pay, next, &j.z) || j.z.raw_len > ZX_MAX_RAW)
			break; /* damaged: from here on the file as it is */
		j.out_end = j.out + (uint64_t)(pst_enc_block_header(hdr, j.z.tid, j.z.base_ts,
								     (size_t)j.z.raw_len) - hdr) +
			    j.z.raw_len;
		if (zx_add(zx, j.out, j.frame, false) || zx_add(zx, j.out_end, j.end, true) ||
		    pst_grow(&w->job, &cap, w->njobs + 1, sizeof(*w->job), 64))
			return -1;
		w->job[w->njobs++] = j;
		zx->size = (size_t)j.out_end;
	}
	zx->size += (size_t)(end - p);
	return 0;
}

/* [p, p + n) at off in the copy; false on an error. */
static bool zx_put(int fd, const uint8_t *p, size_t n, uint64_t off)
{
	while (n) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return true;
}

/* What lies between the ZBLOCKs, copied as it is. */
static bool zx_copy_between(const struct zx_work *w, size_t size)
{
	uint64_t from = 0, to = 0;

	for (size_t i = 0; i < w->njobs; i++) {
		if (!zx_put(w->fd, w->map + from, (size_t)(w->job[i].frame - from), to))
			return false;
		from = w->job[i].end;
		to = w->job[i].out_end;
	}
	return zx_put(w->fd, w->map + from, size - (size_t)from, to);
}

/* One ZBLOCK's BLOCK written in its place: 0, 1 when it does not unpack,
 * -1 without memory or on an error of the copy. buf: room this thread
 * reuses, the packed form first, then the BLOCK. */
static int zx_unpack(const struct zx_work *w, const struct zx_job *j, ZSTD_DCtx *dctx,
		     struct pst_zp_dec *dec, uint8_t **buf, size_t *bufcap)
{
	/* packing never doubles a block: a frame that says more is damaged */
	size_t cap = 2 * (size_t)j->z.raw_len + 4096, blen = (size_t)(j->out_end - j->out), got;
	uint8_t *h, *raw;

	if (cap + blen > *bufcap) {
		uint8_t *b = realloc(*buf, cap + blen);

		if (!b)
			return -1;
		*buf = b;
		*bufcap = cap + blen;
	}
	got = ZSTD_decompressDCtx(dctx, *buf, cap, j->z.zstd.p, (size_t)(j->z.zstd.end - j->z.zstd.p));
	h = *buf + cap;
	raw = pst_enc_block_header(h, j->z.tid, j->z.base_ts, (size_t)j->z.raw_len);
	if (ZSTD_isError(got) || pst_zp_unpack(dec, *buf, *buf + got, raw, (size_t)j->z.raw_len))
		return 1;
	return zx_put(w->fd, h, blen, j->out) ? 0 : -1;
}

/* A worker: jobs taken in turn until none is left. The z fields point
 * into the file's mapping, which every thread reads. */
static void *zx_worker(void *arg)
{
	struct zx_work *w = arg;
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	struct pst_zp_dec *dec = malloc(sizeof(*dec));
	uint8_t *buf = NULL;
	size_t bufcap = 0;

	for (;;) {
		size_t i;
		int rc;

		pthread_mutex_lock(&w->lock);
		i = w->next++;
		pthread_mutex_unlock(&w->lock);
		if (i >= w->njobs)
			break;
		errno = ENOMEM;
		rc = dctx && dec ? zx_unpack(w, &w->job[i], dctx, dec, &buf, &bufcap) : -1;
		if (!rc)
			continue;
		pthread_mutex_lock(&w->lock);
		if (rc < 0)
			w->err = errno ? errno : ENOMEM;
		else if (i < w->first_bad)
			w->first_bad = i;
		pthread_mutex_unlock(&w->lock);
	}
	free(buf);
	free(dec);
	ZSTD_freeDCtx(dctx);
	return NULL;
}

/* Every job done, by this thread and ZX_THREADS - 1 more. */
static void zx_run(struct zx_work *w)
{
	pthread_t th[ZX_THREADS];
	int n = 0;

	pthread_mutex_init(&w->lock, NULL);
	w->first_bad = w->njobs;
	while (n < ZX_THREADS - 1 && (size_t)n + 1 < w->njobs &&
	       !pthread_create(&th[n], NULL, zx_worker, w))
		n++;
	zx_worker(w);
	while (n--)
		pthread_join(th[n], NULL);
	pthread_mutex_destroy(&w->lock);
}

static int zx_tmpfile(void)
{
	const char *dir = getenv("TMPDIR");
	int fd = open(dir && *dir ? dir : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	return fd >= 0 ? fd : memfd_create("prestanda-trace", MFD_CLOEXEC);
}

/* The first ZBLOCK that did not unpack, and all after it, as in the file:
 * the copy is cut there and the file's rest written in its place. */
static int zx_keep_rest(struct pst_zx *zx, int fd, const struct zx_work *w, size_t size)
{
	const struct zx_job *j = &w->job[w->first_bad];
	size_t at = (size_t)j->out, len = size - (size_t)j->frame;

	zx->n = j->seg + 1;
	zx->seg[j->seg].linear = true;
	zx->size = at + len;
	if (ftruncate(fd, (off_t)zx->size) || !zx_put(fd, w->map + j->frame, len, at))
		return -1;
	return 0;
}

static int zx_fail(struct pst_zx *zx, int fd, struct zx_work *w)
{
	int err = errno;

	if (fd >= 0)
		close(fd);
	free(w->job);
	pst_zx_free(zx);
	errno = err;
	return -1;
}

int pst_zx_open(const uint8_t *map, size_t size, size_t off, struct pst_zx *zx)
{
	struct zx_work w = { .map = map };
	int fd = -1;
	void *m;

	memset(zx, 0, sizeof(*zx));
	if (zx_add(zx, 0, 0, true) || zx_layout(zx, map, size, off, &w))
		return zx_fail(zx, fd, &w);
	if (!w.njobs) {
		pst_zx_free(zx);
		return 0;
	}
	if ((fd = w.fd = zx_tmpfile()) < 0 || !zx_copy_between(&w, size))
		return zx_fail(zx, fd, &w);
	zx_run(&w);
	if (w.err) {
		errno = w.err;
		return zx_fail(zx, fd, &w);
	}
	if ((w.first_bad < w.njobs && zx_keep_rest(zx, fd, &w, size)) ||
	    (m = mmap(NULL, zx->size, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED)
		return zx_fail(zx, fd, &w);
	close(fd);
	free(w.job);
	zx->map = m;
	return 1;
}
