/* SPDX-License-Identifier: MIT */
/* Reading a trace: mmap, one framing scan that indexes blocks, then a k-way merge of events. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trace_read.h"
#include "trace_zblock.h"
#include "trace_recover.h"
#include <limits.h>
#include "trace_unwind.h"

/*
 * Policy on damage: the scan stops at the first record whose framing is
 * broken (a length that overruns its block or the file) or whose metadata
 * does not decode, and records its offset. Everything before it is kept,
 * including the events and metadata that precede it in its own block.
 * Event payloads are not decoded by the scan: an event whose fields do not
 * decode is found by the merge, which ends that thread's stream there and
 * marks the trace damaged at that offset (the smallest one, when several).
 * A STACK with id 0 (the id of "no stack") is dropped; of duplicate ids the
 * first in the file is kept. A PROCESS whose version is not PST_VERSION does
 * not open.
 */

#define NO_BLOCK SIZE_MAX

/* Framing results. */
enum { FRAME_OK = 0, FRAME_TRUNC = -1, FRAME_CORRUPT = -2 };

/*
 * One BLOCK with at least one inner record. off/len delimit its inner records
 * in the file. When an inner record of the block is corrupt, len stops before
 * that record: the records before it stay readable, the scan of the file
 * stops there.
 */
struct pst_block {
	uint64_t off, len, tid, base_ts;
	uint64_t nev;   /* events */
	uint64_t types; /* type_bit() of each type of its inner records */
	size_t next; /* next block of the same thread with events, in file order, or NO_BLOCK */
};

/* The bit of an inner record's type in pst_block.types: a bit of its own
 * for 0x10-0x2f (so that the walk for the exit scan's LEAK_* records skips
 * the blocks of events beside them), one per eight types for the others. */
#define TYPE_BIT(type)                                                                   \
	((type) >= 0x10 && (type) < 0x30 ? 1ull << ((type) - 0x10) :                     \
					  1ull << (32 + (((type) >> 3) & 31)))

/* A thread's stream of events: a cursor into its chain of blocks. */
struct pst_stream {
	size_t first, blk;
	const uint8_t *p, *end;
	uint64_t ts;
	struct pst_event head; /* the stream's next event, when in the heap */
	uint64_t head_off;     /* file offset of head's record: the tie-break */
	uint64_t head_bytes;
};

struct pst_reader {
	const uint8_t *map;
	size_t size;
	struct pst_block *blocks;
	size_t nblocks, cap_blocks;
	size_t cap_modules, cap_stacks, cap_threads, cap_totals;
	struct pst_stream *streams;
	size_t nstreams;
	size_t *heap;
	size_t nheap;
	uint64_t event_bytes, consumed;
	uint64_t next_drop; /* consumed bytes at which to drop pages again */
	size_t dropped;     /* pages below this offset were given back */
	size_t page;        /* the page size */
	struct pst_trace *t;
	size_t first_off;  /* the first record after PROCESS */
	size_t valid_end;  /* where the scan stopped: the damage, or the file's end */
	struct pst_usample_ref *usamples; /* USAMPLEs unwound, read as SAMPLEs */
	size_t nusamples;
	struct pst_zx zx;  /* the unpacked copy read instead of a trace with ZBLOCKs */
	uint64_t err_at;   /* error_offset in the mapping's terms */
	bool filtered;     /* only the events and records filter keeps are read */
	struct pst_filter filter;
};

/* Give back the mapped pages behind a reader every this many bytes: only
 * the pages still ahead of some cursor count in the resident set. */
#define DROP_EVERY (4u << 20)

static void set_msg(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_msg(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!buf || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

static void *grow(void *arr, size_t *cap, size_t n, size_t elem)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return arr;
	ncap = *cap ? *cap * 2 : 16;
	p = reallocarray(arr, ncap, elem);
	if (p)
		*cap = ncap;
	return p;
}

/* ---- field decoding: the records' decoders (records.h) read only inside [p, end) ---- */

static int get_u(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	return pst_get_varint(p, end, v);
}

/*
 * One record's frame at p: type, varint length, payload inside [p, end).
 * FRAME_TRUNC when the data stops before the record does, FRAME_CORRUPT
 * when the length is not a valid varint.
 */
static int read_frame(const uint8_t *p, const uint8_t *end, unsigned *type,
		      const uint8_t **pay, uint64_t *len)
{
	const uint8_t *q = p + 1;

	if (p >= end)
		return FRAME_TRUNC;
	*type = p[0];
	if (q < end && !(*q & 0x80)) { /* every event's length fits one byte */
		*len = *q++;
		if (*len > (uint64_t)(end - q))
			return FRAME_TRUNC;
		*pay = q;
		return FRAME_OK;
	}
	if (get_u(&q, end, len)) {
		size_t avail = (size_t)(end - (p + 1));

		for (size_t i = 0; i < avail && i < PST_VARINT_MAX; i++)
			if (!(p[1 + i] & 0x80))
				return FRAME_CORRUPT;
		return avail < PST_VARINT_MAX ? FRAME_TRUNC : FRAME_CORRUPT;
	}
	if (*len > (uint64_t)(end - q))
		return FRAME_TRUNC;
	*pay = q;
	return FRAME_OK;
}

/* ---- record decoders ---- */

static int dec_process(const uint8_t *p, const uint8_t *end, struct pst_process *pr)
{
	struct pst_rec_process r;

	if (pst_dec_process(p, end, &r))
		return -1;
	*pr = (struct pst_process){ r.version, r.pid, r.ppid, r.flags, r.sample_bytes,
				    r.start_realtime_ns, r.start_monotonic_ns,
				    pst_span_dup(r.exe, r.exe_len), pst_span_dup(r.host, r.host_len), 0 };
	return pr->exe && pr->host ? 0 : -1;
}

static int dec_module(const uint8_t *p, const uint8_t *end, struct pst_module *m)
{
	struct pst_rec_module r;

	memset(m, 0, sizeof(*m));
	if (pst_dec_module(p, end, &r))
		return -1;
	m->path = pst_span_dup(r.path, r.path_len);
	m->build_id = malloc(r.build_id_len ? r.build_id_len : 1);
	if (!m->path || !m->build_id) {
		free(m->path);
		free(m->build_id);
		return -1;
	}
	memcpy(m->build_id, r.build_id, r.build_id_len);
	m->build_id_len = r.build_id_len;
	m->bias = r.bias;
	m->lo = r.lo;
	m->hi = r.hi;
	return 0;
}

static int dec_stack(const uint8_t *p, const uint8_t *end, struct pst_stack *s)
{
	struct pst_rec_stack r;

	if (pst_dec_stack(p, end, &r) || r.depth > UINT32_MAX)
		return -1;
	s->id = r.id;
	s->depth = (uint32_t)r.depth;
	s->frames = malloc(r.depth ? r.depth * sizeof(uint64_t) : 1);
	if (!s->frames)
		return -1;
	for (uint32_t i = 0; i < s->depth; i++)
		s->frames[i] = pst_tail_u(&r.frames);
	return 0;
}

static int dec_thread(const uint8_t *p, const uint8_t *end, struct pst_thread *th)
{
	struct pst_rec_thread r;

	if (pst_dec_thread(p, end, &r) || !(th->name = pst_span_dup(r.name, r.name_len)))
		return -1;
	th->tid = r.tid;
	th->parent_tid = r.parent_tid;
	th->start_ts = r.start_ts;
	return 0;
}

/* A histogram longer than ours folds its tail into our last bucket. */
static int dec_totals(const uint8_t *p, const uint8_t *end, struct pst_totals *to)
{
	struct pst_rec_totals r;

	memset(to, 0, sizeof(*to));
	if (pst_dec_totals(p, end, &r))
		return -1;
	to->tid = r.tid;
	to->alloc_calls = r.alloc_calls;
	to->free_calls = r.free_calls;
	to->alloc_bytes = r.alloc_bytes;
	memcpy(to->by_kind, r.by_kind, sizeof(to->by_kind));
	for (uint64_t b = 0; b < r.nbuckets; b++)
		to->hist[b < PST_HIST_BUCKETS ? b : PST_HIST_BUCKETS - 1] += pst_tail_u(&r.hist);
	to->has_temporary = r.tflags & 1;
	to->temporary = r.temporary;
	return 0;
}

static bool is_event(unsigned type)
{
	return type == PST_REC_ALLOC || type == PST_REC_FREE || type == PST_REC_REALLOC;
}

/* An event's fields; ev->ts and ev->tid are left to the caller, who adds *dts. */
static int dec_event(unsigned type, const uint8_t *p, const uint8_t *end, const uint8_t *lim,
		     struct pst_event *ev, uint64_t *dts)
{
	if (type == PST_REC_FREE) {
		struct pst_rec_free r;

		if (pst_dec_free_fast(p, end, lim, &r))
			return -1;
		*dts = r.dts;
		*ev = (struct pst_event){ .type = PST_EV_FREE, .ptr = r.ptr };
	} else if (type == PST_REC_ALLOC) {
		struct pst_rec_alloc r;

		if (pst_dec_alloc_fast(p, end, lim, &r) || r.kind >= PST_KIND_COUNT)
			return -1;
		*dts = r.dts;
		*ev = (struct pst_event){ .type = PST_EV_ALLOC, .ptr = r.ptr, .size = r.size,
					  .stack = r.stack_id, .kind = (unsigned)r.kind };
	} else {
		struct pst_rec_realloc r;

		if (pst_dec_realloc_fast(p, end, lim, &r))
			return -1;
		*dts = r.dts;
		*ev = (struct pst_event){ .type = PST_EV_REALLOC, .old_ptr = r.old_ptr,
					  .ptr = r.new_ptr, .size = r.size, .stack = r.stack_id,
					  .kind = PST_KIND_REALLOC };
	}
	return 0;
}

/* ---- the scan ---- */

/* Offsets are the mapping's; the file's are told (they differ past a ZBLOCK). */
static void set_corrupt(struct pst_trace *t, uint64_t off, const char *what)
{
	t->complete = false;
	t->r->err_at = off;
	t->error_offset = pst_zx_file_off(&t->r->zx, off);
	set_msg(t->error, sizeof(t->error), "corrupt record at offset %" PRIu64 " (%s)",
		t->error_offset, what);
}

static void set_trunc(struct pst_trace *t, uint64_t off)
{
	t->complete = false;
	t->r->err_at = off;
	t->error_offset = pst_zx_file_off(&t->r->zx, off);
	set_msg(t->error, sizeof(t->error), "truncated at offset %" PRIu64, t->error_offset);
}

/* Store one metadata record. Returns 0, -1 when its fields do not decode. */
/* Append one decoded record to a growing array of the trace. */
#define APPEND(t, arr, n, cap, dec, p, end)                                            \
	({                                                                             \
		void *a_ = grow((t)->arr, &(t)->r->cap, (t)->n, sizeof(*(t)->arr));   \
		int rc_ = -1;                                                          \
		if (a_) {                                                              \
			(t)->arr = a_;                                                 \
			rc_ = dec(p, end, &(t)->arr[(t)->n]);                          \
			if (!rc_)                                                      \
				(t)->n++;                                              \
		}                                                                      \
		rc_;                                                                   \
	})

static int add_meta(struct pst_trace *t, unsigned type, const uint8_t *p, const uint8_t *end)
{
	switch (type) {
	case PST_REC_MODULE:
		return APPEND(t, modules, nmodules, cap_modules, dec_module, p, end);
	case PST_REC_STACK:
		return APPEND(t, stacks, nstacks, cap_stacks, dec_stack, p, end);
	case PST_REC_THREAD:
		return APPEND(t, threads, nthreads, cap_threads, dec_thread, p, end);
	case PST_REC_TOTALS:
		return APPEND(t, totals, ntotals, cap_totals, dec_totals, p, end);
	case PST_REC_ATTACH: {
		struct pst_rec_attach a;

		if (pst_dec_attach(p, end, &a))
			return -1;
		t->proc.attach_ns = a.since_start_ns;
		return 0;
	}
	}
	return 0;
}

static const char *rec_problem(unsigned type)
{
	switch (type) {
	case PST_REC_MODULE:
		return "bad MODULE";
	case PST_REC_STACK:
		return "bad STACK";
	case PST_REC_THREAD:
		return "bad THREAD";
	case PST_REC_TOTALS:
		return "bad TOTALS";
	case PST_REC_ATTACH:
		return "bad ATTACH";
	case PST_REC_ALLOC:
		return "bad ALLOC";
	case PST_REC_FREE:
		return "bad FREE";
	default:
		return "bad REALLOC";
	}
}

static int add_block(struct pst_trace *t, const struct pst_block *b)
{
	struct pst_reader *r = t->r;
	void *a = grow(r->blocks, &r->cap_blocks, r->nblocks, sizeof(*r->blocks));

	if (!a)
		return -1;
	r->blocks = a;
	r->blocks[r->nblocks++] = *b;
	return 0;
}

/*
 * Walk one block's inner records [p, end): events by their framing only,
 * metadata decoded. Returns 0, or -1 after setting t->error at the first
 * record that does not. Either way the events before that point are indexed.
 */
static int scan_inner(struct pst_trace *t, struct pst_block *b, const uint8_t *p,
		      const uint8_t *end, uint64_t *nev)
{
	const uint8_t *map = t->r->map, *pay;
	uint64_t len;
	unsigned type;

	for (; p < end; p = pay + len) {
		uint64_t off = (uint64_t)(p - map);

		/* the common case first: an event, its length in one byte */
		if (end - p >= 2 && is_event(p[0]) && p[1] < 0x80 && p[1] <= end - p - 2) {
			b->types |= TYPE_BIT(p[0]);
			(*nev)++;
			pay = p + 2;
			len = p[1];
			t->r->event_bytes += len + 2;
			continue;
		}
		if (read_frame(p, end, &type, &pay, &len) != FRAME_OK) {
			set_corrupt(t, off, "overruns its block");
			break;
		}
		b->types |= TYPE_BIT(type);
		if (is_event(type)) {
			t->r->event_bytes += (uint64_t)(pay + len - p);
			(*nev)++;
		} else if (add_meta(t, type, pay, pay + len)) {
			set_corrupt(t, off, rec_problem(type));
			break;
		}
	}
	b->len = (uint64_t)(p - map) - b->off;
	return p < end ? -1 : 0;
}

static int scan_block(struct pst_trace *t, uint64_t off, const uint8_t *p, const uint8_t *end)
{
	struct pst_block b = { .next = NO_BLOCK };
	uint64_t nev = 0;
	int rc;

	struct pst_rec_block h;

	if (pst_dec_block(p, end, &h)) {
		set_corrupt(t, off, "bad BLOCK header");
		return -1;
	}
	b.tid = h.tid;
	b.base_ts = h.base_ts;
	b.off = (uint64_t)(h.records.p - t->r->map);
	rc = scan_inner(t, &b, h.records.p, end, &nev);
	t->nevents += nev;
	b.nev = nev;
	if (b.types && add_block(t, &b)) {
		set_corrupt(t, off, "out of memory");
		return -1;
	}
	return rc;
}

static int scan_end(struct pst_trace *t, uint64_t off, const uint8_t *p, const uint8_t *end)
{
	struct pst_rec_end r;

	/* the signal number came later in v1: optional, older END records stop before it */
	if (pst_dec_end(p, end, &r)) {
		set_corrupt(t, off, "bad END");
		return -1;
	}
	t->has_end = true;
	t->end_ts = r.ts;
	t->end_reason = r.reason;
	t->end_signal = r.signal;
	return 0;
}

/* Give the mapped pages of [*dropped, off) back: the reader is past them.
 * Touching them again reads them again from the page cache. */
static void drop_pages(const struct pst_reader *r, size_t *dropped, size_t off)
{
	size_t hi = off & ~(r->page - 1);

	if (hi <= *dropped)
		return;
	madvise((void *)(r->map + *dropped), hi - *dropped, MADV_DONTNEED);
	*dropped = hi;
}

static void drop_below(struct pst_reader *r, size_t off)
{
	drop_pages(r, &r->dropped, off);
}

/* Every top-level record after PROCESS, once. Stops at the first bad one. */
static void scan_records(struct pst_trace *t, size_t off)
{
	struct pst_reader *r = t->r;
	const uint8_t *map = r->map, *end = map + r->size, *pay;
	size_t next_drop = off + DROP_EVERY;
	uint64_t len;
	unsigned type;
	int rc;

	t->complete = true;
	while (off < r->size) {
		rc = read_frame(map + off, end, &type, &pay, &len);
		if (rc == FRAME_TRUNC) {
			set_trunc(t, off);
			break;
		} else if (rc == FRAME_CORRUPT) {
			set_corrupt(t, off, "bad length");
			break;
		}
		if (type == PST_REC_BLOCK)
			rc = scan_block(t, off, pay, pay + len);
		else if (type == PST_REC_END)
			rc = scan_end(t, off, pay, pay + len);
		else if (type == PST_REC_ZBLOCK) /* left packed: it did not unpack */
			rc = (set_corrupt(t, off, "bad ZBLOCK"), -1);
		else
			rc = 0; /* unknown or misplaced: skipped by its length */
		if (rc)
			break;
		off = (size_t)(pay + len - map);
		if (off >= next_drop) {
			drop_below(r, off);
			next_drop = off + DROP_EVERY;
		}
	}
	if (!t->has_end) {
		if (t->complete)
			set_msg(t->error, sizeof(t->error),
				"no END record: the process is still running, was killed, or left by a raw exit_group (as Go does)");
		t->complete = false;
	}
}

/* The last event's time, for a trace without END: every block's base plus
 * its events' deltas (the scan does not decode events; this reads only
 * their first field). An event that does not decode ends its block. */
static uint64_t last_event_ts(struct pst_reader *r)
{
	uint64_t max_ts = 0;

	r->dropped = 0;
	for (size_t i = 0; i < r->nblocks; i++) {
		const struct pst_block *b = &r->blocks[i];
		const uint8_t *p = r->map + b->off, *end = p + b->len, *pay;
		uint64_t ts = b->base_ts, len, dts;
		unsigned type;

		for (; p < end; p = pay + len) {
			const uint8_t *q;

			if (read_frame(p, end, &type, &pay, &len) != FRAME_OK)
				break;
			if (!is_event(type))
				continue;
			q = pay;
			if (get_u(&q, pay + len, &dts))
				break;
			ts += dts;
			if (ts > max_ts)
				max_ts = ts;
		}
		drop_below(r, (size_t)(end - r->map));
	}
	return max_ts;
}

/* ---- finishing the index ---- */

struct stack_key {
	uint64_t id;
	size_t idx;
};

static int cmp_stack_key(const void *a, const void *b)
{
	const struct stack_key *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Sort stacks by id; of duplicate ids the first in the file wins; id 0 (none) is dropped. */
static int sort_stacks(struct pst_trace *t)
{
	struct stack_key *k = malloc((t->nstacks + 1) * sizeof(*k));
	struct pst_stack *s = malloc((t->nstacks + 1) * sizeof(*s));
	size_t n = 0;

	if (!k || !s) {
		free(k);
		free(s);
		return -1;
	}
	for (size_t i = 0; i < t->nstacks; i++)
		k[i] = (struct stack_key){ t->stacks[i].id, i };
	pst_sort(k, t->nstacks, sizeof(*k), cmp_stack_key);
	for (size_t i = 0; i < t->nstacks; i++) {
		struct pst_stack *st = &t->stacks[k[i].idx];

		if (st->id == 0 || (n && s[n - 1].id == st->id))
			free(st->frames);
		else
			s[n++] = *st;
	}
	free(k);
	free(t->stacks);
	t->stacks = s;
	t->nstacks = n;
	return 0;
}

/* Block indices by (tid, file order). */
static int cmp_block_idx(const void *a, const void *b, void *arg)
{
	const struct pst_block *blocks = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	if (blocks[x].tid != blocks[y].tid)
		return blocks[x].tid < blocks[y].tid ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* Chain each thread's blocks in file order, one stream per thread. */
static int build_streams(struct pst_reader *r)
{
	size_t n = 0, *ord = malloc((r->nblocks + 1) * sizeof(*ord));

	r->streams = calloc(r->nblocks + 1, sizeof(*r->streams));
	r->heap = malloc((r->nblocks + 1) * sizeof(*r->heap));
	if (!ord || !r->streams || !r->heap) {
		free(ord);
		return -1;
	}
	for (size_t i = 0; i < r->nblocks; i++)
		if (r->blocks[i].nev)
			ord[n++] = i;
	qsort_r(ord, n, sizeof(*ord), cmp_block_idx, r->blocks);
	for (size_t i = 0; i < n; i++) {
		if (i && r->blocks[ord[i - 1]].tid == r->blocks[ord[i]].tid)
			r->blocks[ord[i - 1]].next = ord[i];
		else
			r->streams[r->nstreams++].first = ord[i];
	}
	free(ord);
	/* the merge keeps one cursor and one heap slot per thread */
	ord = reallocarray(r->heap, r->nstreams + 1, sizeof(*r->heap));
	r->heap = ord ? ord : r->heap;
	return 0;
}

/* ---- the merge ---- */

static void stream_load(struct pst_reader *r, struct pst_stream *s, size_t blk)
{
	const struct pst_block *b = &r->blocks[blk];

	s->blk = blk;
	s->p = r->map + b->off;
	s->end = s->p + b->len;
	s->ts = b->base_ts;
}

/* Events framed in [p, end). */
static uint64_t count_events(const uint8_t *p, const uint8_t *end)
{
	const uint8_t *pay;
	uint64_t len, n = 0;
	unsigned type;

	for (; p < end && read_frame(p, end, &type, &pay, &len) == FRAME_OK; p = pay + len)
		n += is_event(type);
	return n;
}

/*
 * The event at p of stream s does not decode: the stream ends there, now and
 * on every later read, its events from there on leave the count, and the
 * trace is damaged at the smallest such offset.
 */
static void stream_damaged(struct pst_reader *r, struct pst_stream *s, const uint8_t *p,
			   unsigned type)
{
	struct pst_trace *t = r->t;
	struct pst_block *b = &r->blocks[s->blk];
	uint64_t off = (uint64_t)(p - r->map), lost = count_events(p, s->end);

	for (size_t i = b->next; i != NO_BLOCK; i = r->blocks[i].next) {
		const uint8_t *q = r->map + r->blocks[i].off;

		lost += count_events(q, q + r->blocks[i].len);
	}
	t->nevents -= lost;
	b->len = off - b->off;
	b->next = NO_BLOCK;
	s->end = p;
	if (!t->error_offset || off < r->err_at) {
		set_corrupt(t, off, is_event(type) ? rec_problem(type) : "overruns its block");
		if (off < r->valid_end)
			r->valid_end = (size_t)off;
	}
}

/* Decode the stream's next event into ev. Returns 1, or 0 at its end. */
static inline int stream_decode(struct pst_reader *r, struct pst_stream *s, struct pst_event *ev)
{
	const uint8_t *pay;
	uint64_t len, dts;
	unsigned type;

	for (;;) {
		if (s->p >= s->end) {
			if (r->blocks[s->blk].next == NO_BLOCK)
				return 0;
			stream_load(r, s, r->blocks[s->blk].next);
			continue;
		}
		if (read_frame(s->p, s->end, &type, &pay, &len) != FRAME_OK) {
			stream_damaged(r, s, s->p, 0);
			return 0;
		}
		if (is_event(type)) {
			if (dec_event(type, pay, pay + len, s->end, ev, &dts)) {
				stream_damaged(r, s, s->p, type);
				return 0;
			}
			s->ts += dts;
			ev->ts = s->ts;
			ev->tid = r->blocks[s->blk].tid;
			s->head_off = (uint64_t)(s->p - r->map);
			s->head_bytes = (uint64_t)(pay + len - s->p);
			s->p = pay + len;
			return 1;
		}
		s->p = pay + len;
	}
}

/* Decode the stream's next event into head. Returns 1, or 0 at its end. */
static int stream_advance(struct pst_reader *r, struct pst_stream *s)
{
	return stream_decode(r, s, &s->head);
}

static bool heap_less(const struct pst_reader *r, size_t a, size_t b)
{
	const struct pst_stream *x = &r->streams[a], *y = &r->streams[b];

	if (x->head.ts != y->head.ts)
		return x->head.ts < y->head.ts;
	return x->head_off < y->head_off;
}

static void heap_down(struct pst_reader *r, size_t i)
{
	size_t *h = r->heap, n = r->nheap;

	for (;;) {
		size_t m = i, l = 2 * i + 1, rr = l + 1, tmp;

		if (l < n && heap_less(r, h[l], h[m]))
			m = l;
		if (rr < n && heap_less(r, h[rr], h[m]))
			m = rr;
		if (m == i)
			return;
		tmp = h[i];
		h[i] = h[m];
		h[m] = tmp;
		i = m;
	}
}

void pst_trace_rewind(struct pst_trace *t)
{
	struct pst_reader *r = t->r;

	r->nheap = 0;
	r->consumed = 0;
	r->dropped = 0;
	r->next_drop = DROP_EVERY;
	for (size_t i = 0; i < r->nstreams; i++) {
		struct pst_stream *s = &r->streams[i];

		stream_load(r, s, s->first);
		if (stream_advance(r, s))
			r->heap[r->nheap++] = i;
	}
	for (size_t i = r->nheap / 2; i-- > 0;)
		heap_down(r, i);
}

/* Every few MB read: no stream reads below its cursor again, so the pages
 * under the lowest one (the low-water mark) go back. */
static inline void drop_behind(struct pst_reader *r)
{
	if (r->consumed >= r->next_drop) {
		size_t low = r->size;

		for (size_t i = 0; i < r->nheap; i++) {
			size_t at = (size_t)(r->streams[r->heap[i]].p - r->map);

			low = at < low ? at : low;
		}
		drop_below(r, low);
		r->next_drop = r->consumed + DROP_EVERY;
	}
}

static inline int next_event(struct pst_trace *t, struct pst_event *ev)
{
	struct pst_reader *r = t->r;
	struct pst_stream *s;

again:
	if (!r->nheap)
		return 0;
	s = &r->streams[r->heap[0]];
	*ev = s->head;
	r->consumed += s->head_bytes;
	if (!stream_advance(r, s))
		r->heap[0] = r->heap[--r->nheap];
	if (r->nheap > 1)
		heap_down(r, 0);
	drop_behind(r);
	if (r->filtered && !pst_filter_keep(&r->filter, ev->tid, ev->ts))
		goto again;
	return 1;
}

/* An unwound USAMPLE given as the SAMPLE it stands for. */
static int usample_as_sample(const struct pst_trace *t, const uint8_t *pay, uint64_t tid,
			     pst_record_fn cb, void *arg)
{
	const struct pst_reader *r = t->r;
	size_t lo = 0, hi = r->nusamples;
	uint8_t rec[PST_CPU_EVENT_MAX];

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct pst_usample_ref *u = &r->usamples[mid];

		if (u->payload == (uintptr_t)pay) {
			uint8_t *e = pst_enc_sample(rec, u->ts, t->proc.pid, u->tid, u->stack, 0,
						    u->count, u->flags);
			return cb(PST_REC_SAMPLE, tid, rec + 2, (size_t)(e - rec - 2), arg);
		}
		if (u->payload < (uintptr_t)pay)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

int pst_trace_next(struct pst_trace *t, struct pst_event *ev)
{
	return next_event(t, ev);
}

size_t pst_trace_next_batch(struct pst_trace *t, struct pst_event *ev, size_t n)
{
	struct pst_reader *r = t->r;
	struct pst_stream *s;
	size_t i = 0;

	if (r->nheap != 1 || !n || r->filtered) {
		while (i < n && next_event(t, &ev[i]))
			i++;
		return i;
	}
	/* one stream left: no merge, events decoded in place */
	s = &r->streams[r->heap[0]];
	ev[0] = s->head;
	r->consumed += s->head_bytes;
	for (i = 1; i < n; i++) {
		if (!stream_decode(r, s, &ev[i])) {
			r->nheap = 0;
			return i;
		}
		r->consumed += s->head_bytes;
	}
	if (!stream_advance(r, s))
		r->nheap = 0;
	drop_behind(r);
	return n;
}

/* Inner records of one block, up to the end of valid data. */
static int foreach_inner(const struct pst_trace *t, const uint8_t *p, const uint8_t *end,
			 uint64_t tid, unsigned lo, unsigned hi, pst_record_fn cb, void *arg)
{
	const uint8_t *pay;
	uint64_t len;
	unsigned type;
	int rc;

	for (; p < end; p = pay + len) {
		if (read_frame(p, end, &type, &pay, &len) != FRAME_OK)
			return 0;
		if (t->r->filtered && !pst_filter_record(&t->r->filter, type, tid, pay, (size_t)len))
			continue;
		if (type == PST_REC_USAMPLE && t->r->usamples) {
			if (PST_REC_SAMPLE >= lo && PST_REC_SAMPLE <= hi &&
			    (rc = usample_as_sample(t, pay, tid, cb, arg)))
				return rc;
			continue;
		}
		if (type >= lo && type <= hi && (rc = cb(type, tid, pay, (size_t)len, arg)))
			return rc;
	}
	return 0;
}

int pst_trace_foreach(const struct pst_trace *t, unsigned lo, unsigned hi, pst_record_fn cb,
		      void *arg)
{
	const struct pst_reader *r = t->r;
	const uint8_t *valid = r->map + r->valid_end;
	size_t dropped = 0, next_drop = DROP_EVERY;
	uint64_t want = 0;
	int rc;

	for (unsigned k = lo; k <= hi && k <= 0xff; k++)
		want |= TYPE_BIT(k);
	/* the blocks in file order, up to the damage: those that hold records
	 * of the asked types (the scan noted which), a cut block up to the cut */
	for (size_t i = 0; i < r->nblocks; i++) {
		const struct pst_block *b = &r->blocks[i];
		const uint8_t *p = r->map + b->off, *end = p + b->len;

		if (p >= valid)
			break;
		if (!(b->types & want))
			continue;
		rc = foreach_inner(t, p, end < valid ? end : valid, b->tid, lo, hi, cb, arg);
		if (rc)
			return rc;
		if (b->off >= next_drop) {
			drop_pages(r, &dropped, (size_t)b->off);
			next_drop = b->off + DROP_EVERY;
		}
	}
	return 0;
}

const struct pst_stack *pst_trace_stack(const struct pst_trace *t, uint64_t id)
{
	size_t lo = 0, hi = t->nstacks;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->stacks[mid].id == id)
			return &t->stacks[mid];
		if (t->stacks[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Event bytes consumed, scaled to the file's size so that the end reads 100%. */
void pst_trace_progress(const struct pst_trace *t, uint64_t *done, uint64_t *total)
{
	const struct pst_reader *r = t->r;

	*total = r->size;
	if (!r->event_bytes || !r->nheap)
		*done = r->size;
	else
		*done = (uint64_t)((unsigned __int128)r->consumed * r->size / r->event_bytes);
}

/* The totals of the threads f keeps: none when it bounds time (they count
 * the whole run; the analysis counts the window's events instead). */
static void filter_totals(struct pst_trace *t, const struct pst_filter *f)
{
	size_t n = 0;

	for (size_t i = 0; i < t->ntotals; i++)
		if (!pst_filter_timed(f) && (!f->has_tid || t->totals[i].tid == f->tid))
			t->totals[n++] = t->totals[i];
	t->ntotals = n;
}

/* A TASK record: its pid kept when its name is the filter's --comm. */
static int on_task(unsigned type, uint64_t tid, const uint8_t *p, size_t len, void *arg)
{
	struct pst_filter *f = arg;
	struct pst_rec_task task;

	(void)type, (void)tid;
	if (pst_dec_task(p, p + len, &task) == 0 && task.name_len == strlen(f->comm) &&
	    !memcmp(task.name, f->comm, task.name_len) &&
	    f->ncomm_pids < sizeof(f->comm_pids) / sizeof(f->comm_pids[0]))
		f->comm_pids[f->ncomm_pids++] = task.pid;
	return 0;
}

void pst_trace_filter(struct pst_trace *t, const struct pst_filter *f)
{
	struct pst_reader *r = t->r;

	if (!f || !pst_filter_active(f))
		return;
	r->filtered = false;
	r->filter = *f;
	r->filter.ncomm_pids = 0;
	if (f->comm)
		pst_trace_foreach(t, PST_REC_TASK, PST_REC_TASK, on_task, &r->filter);
	r->filtered = true;
	pst_filter_bind(&r->filter, &t->proc);
	filter_totals(t, &r->filter);
	pst_trace_rewind(t);
}

/* ---- open and close ---- */

void pst_trace_close(struct pst_trace *t)
{
	if (!t)
		return;
	free(t->proc.exe);
	free(t->proc.host);
	for (size_t i = 0; i < t->nmodules; i++) {
		free(t->modules[i].path);
		free(t->modules[i].build_id);
	}
	for (size_t i = 0; i < t->nstacks; i++)
		free(t->stacks[i].frames);
	for (size_t i = 0; i < t->nthreads; i++)
		free(t->threads[i].name);
	free(t->modules);
	free(t->stacks);
	free(t->threads);
	free(t->totals);
	if (t->r) {
		if (t->r->map)
			munmap((void *)t->r->map, t->r->size);
		pst_zx_free(&t->r->zx);
		free(t->r->usamples);
		free(t->r->blocks);
		free(t->r->streams);
		free(t->r->heap);
		free(t->r);
	}
	free(t);
}

static int map_file(const char *path, struct pst_reader *r, char *err, size_t errlen)
{
	struct stat st;
	void *m;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		set_msg(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st)) {
		set_msg(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
	} else if (S_ISDIR(st.st_mode)) {
		set_msg(err, errlen, "%s: cannot read: %s", path, strerror(EISDIR));
	} else if (st.st_size == 0) {
		set_msg(err, errlen, "%s: empty file", path);
	} else if ((uint64_t)st.st_size > SIZE_MAX) {
		set_msg(err, errlen, "%s: too large to map", path);
	} else {
		m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m != MAP_FAILED) {
			r->map = m;
			r->size = (size_t)st.st_size;
			close(fd);
			return 0;
		}
		set_msg(err, errlen, "%s: cannot map: %s", path, strerror(errno));
	}
	close(fd);
	return -1;
}

/* Magic and PROCESS. Returns the offset after PROCESS, or 0 with err set. */
static size_t read_header(struct pst_trace *t, const char *path, char *err, size_t errlen)
{
	const uint8_t *map = t->r->map, *end = map + t->r->size, *pay;
	size_t size = t->r->size;
	uint64_t len;
	unsigned type;
	int rc;

	if (size < PST_MAGIC_LEN && !memcmp(map, PST_MAGIC, size)) {
		set_msg(err, errlen, "%s: truncated in the header at offset 0", path);
		return 0;
	}
	if (size < PST_MAGIC_LEN || memcmp(map, PST_MAGIC, PST_MAGIC_LEN)) {
		set_msg(err, errlen, "%s: not a prestanda trace (bad magic)", path);
		return 0;
	}
	rc = read_frame(map + PST_MAGIC_LEN, end, &type, &pay, &len);
	if (rc == FRAME_TRUNC) {
		set_msg(err, errlen, "%s: truncated in the header at offset %d", path,
			PST_MAGIC_LEN);
		return 0;
	}
	if (rc == FRAME_CORRUPT || type != PST_REC_PROCESS) {
		set_msg(err, errlen, "%s: corrupt header at offset %d (no PROCESS record)", path,
			PST_MAGIC_LEN);
		return 0;
	}
	if (dec_process(pay, pay + len, &t->proc)) {
		set_msg(err, errlen, "%s: corrupt header at offset %d (bad PROCESS record)", path,
			PST_MAGIC_LEN);
		return 0;
	}
	if (t->proc.version != PST_VERSION) {
		set_msg(err, errlen, "%s: unsupported trace version %" PRIu64, path,
			t->proc.version);
		return 0;
	}
	return (size_t)(pay + len - map);
}

/* A trace with ZBLOCKs is read through its unpacked copy. */
static int unpack(struct pst_trace *t, const char *path, size_t off, char *err, size_t errlen)
{
	struct pst_reader *r = t->r;
	int rc = pst_zx_open(r->map, r->size, off, &r->zx);

	if (rc < 0) {
		set_msg(err, errlen, "%s: cannot unpack its compressed blocks: %s", path,
			strerror(errno ? errno : ENOMEM));
		return -1;
	}
	if (rc > 0) {
		munmap((void *)r->map, r->size);
		r->map = r->zx.map;
		r->size = r->zx.size;
	}
	return 0;
}

int pst_trace_open(const char *path, struct pst_trace **out, char *err, size_t errlen)
{
	struct pst_trace *t = calloc(1, sizeof(*t));
	char note[2 * PATH_MAX + 160];
	size_t off;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (!t || !(t->r = calloc(1, sizeof(*t->r)))) {
		set_msg(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	/* a killed process's last events, kept in its live file */
	if (pst_trace_recover(path, note, sizeof(note)) && note[0])
		fprintf(stderr, "prestanda: %s\n", note);
	if (map_file(path, t->r, err, errlen))
		goto fail;
	off = read_header(t, path, err, errlen);
	if (!off)
		goto fail;
	if (unpack(t, path, off, err, errlen))
		goto fail;
	t->r->first_off = off;
	t->r->t = t;
	t->r->page = (size_t)sysconf(_SC_PAGESIZE);
	scan_records(t, off);
	t->r->valid_end = t->error_offset ? (size_t)t->r->err_at : t->r->size;
	if (!t->has_end)
		t->end_ts = last_event_ts(t->r);
	if (sort_stacks(t) || build_streams(t->r) ||
	    pst_trace_unwind(t, &t->r->usamples, &t->r->nusamples)) {
		set_msg(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	if (pst_filter_default())
		pst_trace_filter(t, pst_filter_default());
	pst_trace_rewind(t);
	*out = t;
	return 0;
fail:
	pst_trace_close(t);
	return -1;
}
