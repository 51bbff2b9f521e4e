/* SPDX-License-Identifier: MIT */
/* ZBLOCKs opened: a trace that holds them is read through a copy with each one as the BLOCK it stands for, and offsets told in the file's terms. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
 * A ZBLOCK that does not unpack ends the unpacking: the rest of the file is
 * copied as it is, and the scan stops at that record as it would at any
 * other corrupt one.
 */

/* Largest BLOCK a ZBLOCK may stand for: far past what a writer makes. */
#define ZX_MAX_RAW (64u << 20)

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
	free(zx->dec);
	free(zx->buf);
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

static bool zx_any(const uint8_t *p, const uint8_t *end)
{
	const uint8_t *pay, *next;
	unsigned type;

	for (; zx_frame(p, end, &type, &pay, &next); p = next)
		if (type == PST_REC_ZBLOCK)
			return true;
	return false;
}

static int zx_write(struct pst_zx *zx, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = write(zx->fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
		zx->size += (size_t)w;
	}
	return 0;
}

/* Room of n bytes in zx->buf. */
static uint8_t *zx_room(struct pst_zx *zx, size_t n)
{
	if (n > zx->bufcap) {
		uint8_t *b = realloc(zx->buf, n);

		if (!b)
			return NULL;
		zx->buf = b;
		zx->bufcap = n;
	}
	return zx->buf;
}

/* The BLOCK a ZBLOCK payload [p, end) stands for, written to the copy.
 * Returns 0, 1 when it does not unpack, -1 on an error of the copy. */
static int zx_unpack(struct pst_zx *zx, const uint8_t *p, const uint8_t *end)
{
	uint8_t hdr[PST_BLOCK_HEADER_MAX], *h, *raw, *packed;
	struct pst_rec_zblock z;
	size_t cap, got;

	if (pst_dec_zblock(p, end, &z) || z.raw_len > ZX_MAX_RAW)
		return 1;
	/* packing never doubles a block: a frame that says more is damaged */
	cap = 2 * (size_t)z.raw_len + 4096;
	if (!zx_room(zx, cap + (size_t)z.raw_len))
		return -1;
	packed = zx->buf;
	raw = zx->buf + cap;
	got = ZSTD_decompress(packed, cap, z.zstd.p, (size_t)(z.zstd.end - z.zstd.p));
	if (ZSTD_isError(got) || pst_zp_unpack(zx->dec, packed, packed + got, raw, (size_t)z.raw_len))
		return 1;
	h = pst_enc_block_header(hdr, z.tid, z.base_ts, (size_t)z.raw_len);
	if (zx_write(zx, hdr, (size_t)(h - hdr)) || zx_write(zx, raw, (size_t)z.raw_len))
		return -1;
	return 0;
}

static int zx_tmpfile(void)
{
	const char *dir = getenv("TMPDIR");
	int fd = open(dir && *dir ? dir : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	return fd >= 0 ? fd : memfd_create("prestanda-trace", MFD_CLOEXEC);
}

/* The copy of [map, map + size) from off on: the records in order, each
 * ZBLOCK unpacked. */
static int zx_copy(struct pst_zx *zx, const uint8_t *map, size_t size, size_t off)
{
	const uint8_t *end = map + size, *p = map + off, *raw = map, *pay, *next;
	unsigned type;
	int rc;

	for (; zx_frame(p, end, &type, &pay, &next); p = next) {
		if (type != PST_REC_ZBLOCK)
			continue;
		if (zx_write(zx, raw, (size_t)(p - raw)) ||
		    zx_add(zx, zx->size, (uint64_t)(p - map), false))
			return -1;
		raw = p;
		rc = zx_unpack(zx, pay, next);
		if (rc < 0)
			return -1;
		if (rc > 0) { /* damaged: the rest as it is */
			zx->seg[zx->n - 1].linear = true;
			break;
		}
		raw = next;
		if (zx_add(zx, zx->size, (uint64_t)(next - map), true))
			return -1;
	}
	return zx_write(zx, raw, (size_t)(end - raw));
}

int pst_zx_open(const uint8_t *map, size_t size, size_t off, struct pst_zx *zx)
{
	void *m;

	memset(zx, 0, sizeof(*zx));
	zx->fd = -1;
	if (!zx_any(map + off, map + size))
		return 0;
	zx->dec = malloc(sizeof(*zx->dec));
	zx->fd = zx_tmpfile();
	if (!zx->dec || zx->fd < 0 || zx_add(zx, 0, 0, true) || zx_copy(zx, map, size, off) ||
	    (m = mmap(NULL, zx->size, PROT_READ, MAP_PRIVATE, zx->fd, 0)) == MAP_FAILED) {
		if (zx->fd >= 0)
			close(zx->fd);
		pst_zx_free(zx);
		return -1;
	}
	close(zx->fd);
	zx->fd = -1;
	zx->map = m;
	free(zx->buf);
	zx->buf = NULL;
	zx->bufcap = 0;
	return 1;
}
