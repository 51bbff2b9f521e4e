/* SPDX-License-Identifier: MIT */
/* ZBLOCK packing: a BLOCK's inner records split into streams (types, times, pointers, sizes, stacks, kinds, the rest) before zstd, and back, byte for byte. */
#ifndef PRESTANDA_ZPACK_H
#define PRESTANDA_ZPACK_H

#include <stdint.h>
#include <string.h>

#include "trace.h"

/*
 * zstd alone takes a --full block to a third: the events' fields are
 * interleaved, and a pointer a free names was named a few events before.
 * Packed, each field kind is a stream of its own (the writer compresses
 * each in a zstd block of its own, with its own tables; frees' times apart
 * from allocations'), and a pointer seen among
 * the block's last PST_ZP_RING pointers is written as how far back it was
 * (else 0 and its zigzag distance from the previous pointer). The packing
 * is exact: an event that its encoder would not write byte for byte the
 * same goes to the rest stream whole, like every other record.
 *
 * Packed form: PST_ZP_NSTREAMS varint lengths, then the streams in order.
 * T: one byte a record (0 the next record of R whole, 1 ALLOC, 2 FREE,
 * 3 REALLOC); D: ALLOC and REALLOC dts; E: FREE dts; P: pointers as above;
 * S: sizes; Z: stack ids; K: ALLOC kinds; R: the other records, framed.
 */
enum {
	PST_ZP_T, PST_ZP_D, PST_ZP_E, PST_ZP_P, PST_ZP_S, PST_ZP_Z, PST_ZP_K, PST_ZP_R,
	PST_ZP_NSTREAMS
};
#define PST_ZP_RING 4096u
#define PST_ZP_HASH 4096u

/* The packer's table: where each pointer was last seen (by hash). */
struct pst_zp_enc {
	uint64_t ptr[PST_ZP_HASH];
	uint64_t at[PST_ZP_HASH];
	uint64_t n, prev;
	uint8_t *s[PST_ZP_NSTREAMS], *lim[PST_ZP_NSTREAMS];
};

static inline uint64_t pst_zp_zigzag(uint64_t d)
{
	return (d << 1) ^ (uint64_t)-(int64_t)(d >> 63);
}

static inline unsigned pst_zp_slot(uint64_t p)
{
	return (unsigned)((p * 0x9e3779b97f4a7c15ull) >> 52) & (PST_ZP_HASH - 1);
}

static inline void pst_zp_put_ptr(struct pst_zp_enc *z, uint64_t v)
{
	unsigned h = pst_zp_slot(v);
	uint8_t **q = &z->s[PST_ZP_P];

	if (z->n && z->ptr[h] == v && z->n - z->at[h] <= PST_ZP_RING) {
		*q = pst_put_varint(*q, z->n - z->at[h]);
	} else {
		*(*q)++ = 0;
		*q = pst_put_varint(*q, pst_zp_zigzag(v - z->prev));
	}
	z->ptr[h] = v;
	z->at[h] = z->n++;
	z->prev = v;
}

static inline void pst_zp_put(struct pst_zp_enc *z, unsigned s, uint64_t v)
{
	z->s[s] = pst_put_varint(z->s[s], v);
}

/* Bytes the shortest varints of a and b take. */
static inline size_t pst_zp_len2(uint64_t a, uint64_t b)
{
	return pst_varint_len(a) + pst_varint_len(b);
}

/* One event record [p, e) packed, if its encoder writes exactly these
 * bytes: 1, else 0 (it goes whole to R). The encoder writes a one-byte
 * length and the shortest varints, nothing after the fields: a record is
 * that form when its fields decode and their shortest lengths add up to its
 * payload (a longer varint, or bytes after the fields, would not). */
static inline int pst_zp_event(struct pst_zp_enc *z, const uint8_t *p, const uint8_t *e)
{
	struct pst_rec_alloc a = { 0 };
	struct pst_rec_free f = { 0 };
	struct pst_rec_realloc r = { 0 };
	size_t len = (size_t)(e - p - 2), want = len + 1;

	if (e - p < 2 || p[1] >= 0x80 || p[1] != len)
		return 0;
	if (p[0] == PST_REC_ALLOC && !pst_dec_alloc(p + 2, e, &a))
		want = pst_zp_len2(a.dts, a.ptr) + pst_zp_len2(a.size, a.stack_id) +
		       pst_varint_len(a.kind);
	else if (p[0] == PST_REC_FREE && !pst_dec_free(p + 2, e, &f))
		want = pst_zp_len2(f.dts, f.ptr);
	else if (p[0] == PST_REC_REALLOC && !pst_dec_realloc(p + 2, e, &r))
		want = pst_zp_len2(r.dts, r.old_ptr) + pst_zp_len2(r.new_ptr, r.size) +
		       pst_varint_len(r.stack_id);
	if (want != len)
		return 0;
	*z->s[PST_ZP_T]++ = (uint8_t)(p[0] - PST_REC_ALLOC + 1);
	if (p[0] == PST_REC_ALLOC) {
		pst_zp_put(z, PST_ZP_D, a.dts);
		pst_zp_put_ptr(z, a.ptr);
		pst_zp_put(z, PST_ZP_S, a.size);
		pst_zp_put(z, PST_ZP_Z, a.stack_id);
		pst_zp_put(z, PST_ZP_K, a.kind);
	} else if (p[0] == PST_REC_FREE) {
		pst_zp_put(z, PST_ZP_E, f.dts);
		pst_zp_put_ptr(z, f.ptr);
	} else {
		pst_zp_put(z, PST_ZP_D, r.dts);
		pst_zp_put_ptr(z, r.old_ptr);
		pst_zp_put_ptr(z, r.new_ptr);
		pst_zp_put(z, PST_ZP_S, r.size);
		pst_zp_put(z, PST_ZP_Z, r.stack_id);
	}
	return 1;
}

/* Room each stream needs for one more record of len bytes. */
static inline int pst_zp_room(const struct pst_zp_enc *z, size_t len)
{
	for (unsigned i = 0; i < PST_ZP_NSTREAMS; i++)
		if ((size_t)(z->lim[i] - z->s[i]) < len + 2 * PST_VARINT_MAX + 2)
			return 0;
	return 1;
}

/*
 * Pack the inner records [p, end) into out (cap bytes), using work
 * (PST_ZP_NSTREAMS * cap bytes) for the streams. Returns the packed length,
 * or 0 when a record is not framed whole or the room runs out: the caller
 * writes a BLOCK.
 */
static inline size_t pst_zp_pack(struct pst_zp_enc *z, const uint8_t *p, const uint8_t *end,
				 uint8_t *work, size_t cap, uint8_t *out)
{
	uint8_t *start[PST_ZP_NSTREAMS], *o = out;
	size_t per = cap;

	memset(z->ptr, 0, sizeof(z->ptr));
	z->n = z->prev = 0;
	for (unsigned i = 0; i < PST_ZP_NSTREAMS; i++) {
		start[i] = z->s[i] = work + i * per;
		z->lim[i] = start[i] + per;
	}
	while (p < end) {
		const uint8_t *q = p + 1;
		uint64_t len;

		if (pst_get_varint(&q, end, &len) || len > (uint64_t)(end - q) ||
		    !pst_zp_room(z, (size_t)(q + len - p)))
			return 0;
		if (!pst_zp_event(z, p, q + len)) {
			*z->s[PST_ZP_T]++ = 0;
			memcpy(z->s[PST_ZP_R], p, (size_t)(q + len - p));
			z->s[PST_ZP_R] += q + len - p;
		}
		p = q + len;
	}
	for (unsigned i = 0; i < PST_ZP_NSTREAMS; i++)
		o = pst_put_varint(o, (uint64_t)(z->s[i] - start[i]));
	for (unsigned i = 0; i < PST_ZP_NSTREAMS; i++) {
		size_t n = (size_t)(z->s[i] - start[i]);

		if ((size_t)(o - out) + n > cap)
			return 0;
		memcpy(o, start[i], n);
		o += n;
	}
	return (size_t)(o - out);
}

/* ---- unpacking ---- */

struct pst_zp_dec {
	uint64_t ring[PST_ZP_RING];
	uint64_t n, prev;
	struct pst_tail s[PST_ZP_NSTREAMS];
	const uint8_t *lim; /* the packed form's end: every stream may be read up to it */
};

/* The streams lie one after the other in the packed form, so a varint near
 * a stream's end may be loaded 8 bytes at once up to the form's end (the
 * bytes past the stream are masked off): the events' fast reader. */
static inline int pst_zp_get(struct pst_zp_dec *z, unsigned s, uint64_t *v)
{
	return pst_get_varint_fast(&z->s[s].p, z->s[s].end, z->lim, v);
}

static inline int pst_zp_get_ptr(struct pst_zp_dec *z, uint64_t *v)
{
	uint64_t d;

	if (pst_zp_get(z, PST_ZP_P, &d))
		return -1;
	if (d) {
		if (d > z->n || d > PST_ZP_RING)
			return -1;
		*v = z->ring[(z->n - d) % PST_ZP_RING];
	} else {
		if (pst_zp_get(z, PST_ZP_P, &d))
			return -1;
		*v = z->prev + ((d >> 1) ^ (uint64_t)-(int64_t)(d & 1));
	}
	z->ring[z->n++ % PST_ZP_RING] = *v;
	z->prev = *v;
	return 0;
}

/* The event of T code c, written at o. Returns its end, NULL when its
 * fields run out. */
static inline uint8_t *pst_zp_unpack_event(struct pst_zp_dec *z, unsigned c, uint8_t *o)
{
	uint64_t d, a, b, s, st, k;

	if (pst_zp_get(z, c == 2 ? PST_ZP_E : PST_ZP_D, &d) || pst_zp_get_ptr(z, &a))
		return NULL;
	if (c == 2)
		return pst_enc_free(o, d, a);
	if (c == 1) {
		if (pst_zp_get(z, PST_ZP_S, &s) || pst_zp_get(z, PST_ZP_Z, &st) ||
		    pst_zp_get(z, PST_ZP_K, &k))
			return NULL;
		return pst_enc_alloc(o, d, a, s, st, k);
	}
	if (pst_zp_get_ptr(z, &b) || pst_zp_get(z, PST_ZP_S, &s) || pst_zp_get(z, PST_ZP_Z, &st))
		return NULL;
	return pst_enc_realloc(o, d, a, b, s, st);
}

/* The next whole record of R, copied to o. */
static inline uint8_t *pst_zp_unpack_raw(struct pst_zp_dec *z, uint8_t *o, const uint8_t *olim)
{
	const uint8_t *p = z->s[PST_ZP_R].p, *end = z->s[PST_ZP_R].end, *q = p + 1;
	uint64_t len;

	if (p >= end || pst_get_varint(&q, end, &len) || len > (uint64_t)(end - q) ||
	    (uint64_t)(olim - o) < (uint64_t)(q - p) + len)
		return NULL;
	memcpy(o, p, (size_t)(q - p) + len);
	z->s[PST_ZP_R].p = q + len;
	return o + (q - p) + len;
}

/*
 * Unpack [p, end) into out, which must hold exactly out_len bytes (the
 * ZBLOCK's raw length). Returns 0, or -1 when the packed form is damaged
 * or does not come to out_len.
 */
static inline int pst_zp_unpack(struct pst_zp_dec *z, const uint8_t *p, const uint8_t *end,
				uint8_t *out, size_t out_len)
{
	uint64_t len[PST_ZP_NSTREAMS];
	uint8_t *o = out, *olim = out + out_len;

	for (unsigned i = 0; i < PST_ZP_NSTREAMS; i++)
		if (pst_get_varint(&p, end, &len[i]))
			return -1;
	for (unsigned i = 0; i < PST_ZP_NSTREAMS; i++) {
		if (len[i] > (uint64_t)(end - p))
			return -1;
		z->s[i] = (struct pst_tail){ p, p + len[i] };
		p += len[i];
	}
	z->lim = end;
	z->n = z->prev = 0;
	while (z->s[PST_ZP_T].p < z->s[PST_ZP_T].end) {
		unsigned c = *z->s[PST_ZP_T].p++;

		uint8_t tmp[PST_EVENT_MAX], *e;

		if (c > 3)
			return -1;
		if (!c) {
			if (!(o = pst_zp_unpack_raw(z, o, olim)))
				return -1;
			continue;
		}
		/* with room for any event, straight into out */
		if (olim - o >= PST_EVENT_MAX) {
			if (!(o = pst_zp_unpack_event(z, c, o)))
				return -1;
			continue;
		}
		/* more than the raw length says: damaged */
		if (!(e = pst_zp_unpack_event(z, c, tmp)) || e - tmp > olim - o)
			return -1;
		memcpy(o, tmp, (size_t)(e - tmp));
		o += e - tmp;
	}
	return o == olim ? 0 : -1;
}

#endif
