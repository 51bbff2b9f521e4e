/* SPDX-License-Identifier: MIT */
/* Tests of the trace format: varints, a full trace read back, truncation and corruption. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "itest.h"
#include "trace.h"
#include "trace_read.h"
#include "zpack.h"

/* ---- building traces in memory ---- */

struct tbuf {
	uint8_t d[65536];
	size_t n;
};

/* Room a test may still write into: one record at most past the last check. */
#define TB_SLACK 1024

static uint8_t *tb_end(struct tbuf *b)
{
	return b->d + b->n;
}

/* Append a record; returns its offset in b. */
static size_t tb_framed(struct tbuf *b, unsigned type, const uint8_t *pay, size_t len)
{
	size_t off = b->n;

	b->n = (size_t)(pst_enc_framed(tb_end(b), type, pay, len) - b->d);
	cr_assert_leq(b->n, sizeof(b->d) - TB_SLACK, "test buffer full: %zu bytes", b->n);
	return off;
}

static size_t tb_set(struct tbuf *b, uint8_t *end)
{
	size_t off = b->n;

	b->n = (size_t)(end - b->d);
	cr_assert_leq(b->n, sizeof(b->d) - TB_SLACK, "test buffer full: %zu bytes", b->n);
	return off;
}

static size_t put_process(struct tbuf *b, const struct pst_process *pr)
{
	uint8_t pay[512], *q = pay;

	q = pst_put_varint(q, pr->version);
	q = pst_put_varint(q, pr->pid);
	q = pst_put_varint(q, pr->ppid);
	q = pst_put_varint(q, pr->flags);
	q = pst_put_varint(q, pr->sample_bytes);
	q = pst_put_varint(q, pr->start_realtime_ns);
	q = pst_put_varint(q, pr->start_monotonic_ns);
	q = pst_put_bytes(q, pr->exe, strlen(pr->exe));
	q = pst_put_bytes(q, pr->host, strlen(pr->host));
	return tb_framed(b, PST_REC_PROCESS, pay, (size_t)(q - pay));
}

static size_t put_module(struct tbuf *b, const struct pst_module *m)
{
	uint8_t pay[512], *q = pay;

	q = pst_put_varint(q, m->bias);
	q = pst_put_varint(q, m->lo);
	q = pst_put_varint(q, m->hi);
	q = pst_put_bytes(q, m->path, strlen(m->path));
	q = pst_put_bytes(q, m->build_id, m->build_id_len);
	return tb_framed(b, PST_REC_MODULE, pay, (size_t)(q - pay));
}

static size_t put_thread(struct tbuf *b, const struct pst_thread *th)
{
	uint8_t pay[512], *q = pay;

	q = pst_put_varint(q, th->tid);
	q = pst_put_varint(q, th->parent_tid);
	q = pst_put_varint(q, th->start_ts);
	q = pst_put_bytes(q, th->name, strlen(th->name));
	return tb_framed(b, PST_REC_THREAD, pay, (size_t)(q - pay));
}

static size_t put_totals(struct tbuf *b, const struct pst_totals *to)
{
	uint8_t pay[1024], *q = pay;

	q = pst_put_varint(q, to->tid);
	q = pst_put_varint(q, to->alloc_calls);
	q = pst_put_varint(q, to->free_calls);
	q = pst_put_varint(q, to->alloc_bytes);
	for (int k = 0; k < PST_KIND_COUNT; k++)
		q = pst_put_varint(q, to->by_kind[k]);
	q = pst_put_varint(q, PST_HIST_BUCKETS);
	for (int i = 0; i < PST_HIST_BUCKETS; i++)
		q = pst_put_varint(q, to->hist[i]);
	return tb_framed(b, PST_REC_TOTALS, pay, (size_t)(q - pay));
}

static size_t put_stack(struct tbuf *b, uint64_t id, const uint64_t *frames, unsigned depth)
{
	return tb_set(b, pst_enc_stack(tb_end(b), id, frames, depth));
}

/* Append a BLOCK holding inner; returns the offset of its inner records in b. */
static size_t put_block(struct tbuf *b, uint64_t tid, uint64_t base_ts, const struct tbuf *inner)
{
	tb_set(b, pst_enc_block_header(tb_end(b), tid, base_ts, inner->n));
	memcpy(tb_end(b), inner->d, inner->n);
	b->n += inner->n;
	return b->n - inner->n;
}

/* ---- the reference trace ---- */

static const uint8_t build_id[] = { 0xde, 0xad, 0xbe, 0xef, 0x00, 0x42 };
static uint64_t frames1[] = { 0x401234, 0x401500 };
static uint64_t frames2[] = { 0x7f0000001000, 0x402000, UINT64_MAX };
static uint64_t frames_dup[] = { 0xdead };

static const struct pst_process ref_proc = {
	.version = PST_VERSION, .pid = 4242, .ppid = 1, .flags = PST_PROC_FULL,
	.sample_bytes = 524288, .start_realtime_ns = 1700000000123456789ULL,
	.start_monotonic_ns = 999, .exe = "/usr/bin/demo", .host = "buildhost",
};

static const struct pst_module ref_mod[2] = {
	{ .bias = 0, .lo = 0x400000, .hi = 0x4fffff, .path = "/usr/bin/demo",
	  .build_id = (uint8_t *)build_id, .build_id_len = sizeof(build_id) },
	{ .bias = 0x7f0000000000, .lo = 0x7f0000000000, .hi = 0x7f0000020000,
	  .path = "/lib/libfoo.so", .build_id = (uint8_t *)"", .build_id_len = 0 },
};

static const struct pst_thread ref_thr[2] = {
	{ .tid = 100, .parent_tid = 0, .start_ts = 900, .name = "main" },
	{ .tid = 200, .parent_tid = 100, .start_ts = 1015, .name = "worker" },
};

static struct pst_totals ref_tot[2];

#define A PST_EV_ALLOC
#define F PST_EV_FREE
#define R PST_EV_REALLOC

/* The events in global time order. */
static const struct pst_event ref_ev[] = {
	{ A, 100, 1010, 0x1000, 0, 64, 1, PST_KIND_MALLOC },
	{ A, 200, 1020, 0x3000, 0, 32, 1, PST_KIND_MEMALIGN },
	{ F, 100, 1050, 0x1000, 0, 0, 0, 0 },
	{ A, 100, 1050, 0x2000, 0, 100, 2, PST_KIND_CALLOC },
	{ R, 200, 1050, 0x4000, 0x3000, 48, 2, PST_KIND_REALLOC },
	{ F, 200, 1055, 0x4000, 0, 0, 0, 0 },
	{ A, 100, 1065, 0x5000, 0, 1ULL << 33, 1, PST_KIND_REALLOC },
	{ F, 100, 1065, 0x2000, 0, 0, 0, 0 },
	{ A, 200, 1070, 0xffffffffffff0000ULL, 0, 0, 0, PST_KIND_MALLOC },
};
#define NREF (sizeof(ref_ev) / sizeof(ref_ev[0]))

#define MAXREC 32

/* Where things landed in the reference trace. */
struct layout {
	size_t header_end;       /* end of PROCESS */
	size_t rec[MAXREC];      /* top-level record offsets */
	size_t nrec;
	size_t block_end[4];     /* end offset of each BLOCK */
	unsigned block_nev[4];   /* events in each BLOCK */
	size_t free_a;           /* offset of the first FREE of block A */
	size_t alloc_c;          /* offset of the first ALLOC of block C */
};

static void init_totals(void)
{
	for (int i = 0; i < 2; i++) {
		struct pst_totals *t = &ref_tot[i];

		memset(t, 0, sizeof(*t));
		t->tid = i ? 200 : 100;
		t->alloc_calls = 1000 + i;
		t->free_calls = 900 + i;
		t->alloc_bytes = i ? UINT64_MAX : 123456789;
		for (int k = 0; k < PST_KIND_COUNT; k++)
			t->by_kind[k] = (uint64_t)(10 * k + i);
		for (int h = 0; h < PST_HIST_BUCKETS; h++)
			t->hist[h] = (uint64_t)(h * h + i);
	}
}

static void end_block(struct tbuf *b, struct layout *l, size_t *blk, uint64_t tid, uint64_t ts,
		      struct tbuf *in, unsigned nev, size_t *inner_off)
{
	l->rec[l->nrec++] = b->n;
	*inner_off = put_block(b, tid, ts, in);
	l->block_end[*blk] = b->n;
	l->block_nev[(*blk)++] = nev;
	in->n = 0;
}

static void build_trace(struct tbuf *b, struct layout *l)
{
	static struct tbuf in;
	uint8_t junk[200];
	size_t blk = 0, inner, at;

	init_totals();
	memset(l, 0, sizeof(*l));
	memset(junk, 0xa5, sizeof(junk));
	b->n = 0;
	memcpy(b->d, PST_MAGIC, PST_MAGIC_LEN);
	b->n = PST_MAGIC_LEN;
	put_process(b, &ref_proc);
	l->header_end = b->n;
	/* an unknown top-level record */
	l->rec[l->nrec++] = tb_framed(b, 0x7e, (const uint8_t *)"xyz", 3);

	/* block A, thread 100 */
	in.n = 0;
	put_module(&in, &ref_mod[0]);
	put_thread(&in, &ref_thr[0]);
	put_stack(&in, 2, frames2, 3);
	tb_set(&in, pst_enc_alloc(tb_end(&in), 10, 0x1000, 64, 1, PST_KIND_MALLOC));
	tb_framed(&in, 0x5a, junk, 7); /* unknown inner record */
	at = tb_set(&in, pst_enc_free(tb_end(&in), 40, 0x1000));
	tb_set(&in, pst_enc_alloc(tb_end(&in), 0, 0x2000, 100, 2, PST_KIND_CALLOC));
	end_block(b, l, &blk, 100, 1000, &in, 3, &inner);
	l->free_a = inner + at;

	/* block B, thread 200: starts before A's last events */
	put_thread(&in, &ref_thr[1]);
	put_stack(&in, 1, frames1, 2);
	tb_set(&in, pst_enc_alloc(tb_end(&in), 0, 0x3000, 32, 1, PST_KIND_MEMALIGN));
	tb_set(&in, pst_enc_realloc(tb_end(&in), 30, 0x3000, 0x4000, 48, 2));
	end_block(b, l, &blk, 200, 1020, &in, 2, &inner);

	/* block C, thread 100: later in time than block D, written first */
	put_module(&in, &ref_mod[1]);
	at = tb_set(&in, pst_enc_alloc(tb_end(&in), 5, 0x5000, 1ULL << 33, 1, PST_KIND_REALLOC));
	tb_set(&in, pst_enc_free(tb_end(&in), 0, 0x2000));
	put_stack(&in, 1, frames_dup, 1); /* duplicate id: the first one wins */
	put_totals(&in, &ref_tot[0]);
	end_block(b, l, &blk, 100, 1060, &in, 2, &inner);
	l->alloc_c = inner + at;

	/* an unknown top-level record with a two-byte length */
	l->rec[l->nrec++] = tb_framed(b, 0x7f, junk, sizeof(junk));

	/* block D, thread 200 */
	tb_set(&in, pst_enc_free(tb_end(&in), 0, 0x4000));
	tb_set(&in, pst_enc_alloc(tb_end(&in), 15, 0xffffffffffff0000ULL, 0, 0, PST_KIND_MALLOC));
	put_stack(&in, 3, NULL, 0);
	put_totals(&in, &ref_tot[1]);
	tb_framed(&in, 0x6b, junk, 150); /* unknown inner, two-byte length */
	end_block(b, l, &blk, 200, 1055, &in, 2, &inner);

	l->rec[l->nrec++] = tb_set(b, pst_enc_end(tb_end(b), 2000, PST_END_EXEC, 0));
}

/* ---- files ---- */

static void write_tmp(char *path, const void *d, size_t n)
{
	int fd;

	strcpy(path, "/tmp/pst_test_trace_XXXXXX");
	fd = mkstemp(path);
	cr_assert(fd >= 0);
	cr_assert(n == 0 || write(fd, d, n) == (ssize_t)n);
	close(fd);
}

static struct pst_trace *open_ok(const uint8_t *d, size_t n)
{
	char path[64], err[256] = "";
	struct pst_trace *t = NULL;

	write_tmp(path, d, n);
	cr_assert_eq(pst_trace_open(path, &t, err, sizeof(err)), 0, "open failed: %s", err);
	unlink(path);
	cr_assert_not_null(t);
	return t;
}

static void assert_ev_eq(const struct pst_event *a, const struct pst_event *b, size_t i)
{
	cr_assert_eq(a->type, b->type, "event %zu type", i);
	cr_assert_eq(a->tid, b->tid, "event %zu tid", i);
	cr_assert_eq(a->ts, b->ts, "event %zu ts %lu vs %lu", i, (unsigned long)a->ts,
		     (unsigned long)b->ts);
	cr_assert_eq(a->ptr, b->ptr, "event %zu ptr", i);
	cr_assert_eq(a->old_ptr, b->old_ptr, "event %zu old_ptr", i);
	cr_assert_eq(a->size, b->size, "event %zu size", i);
	cr_assert_eq(a->stack, b->stack, "event %zu stack", i);
	cr_assert_eq(a->kind, b->kind, "event %zu kind", i);
}

static bool ev_eq(const struct pst_event *a, const struct pst_event *b)
{
	return a->type == b->type && a->tid == b->tid && a->ts == b->ts && a->ptr == b->ptr &&
	       a->old_ptr == b->old_ptr && a->size == b->size && a->stack == b->stack &&
	       a->kind == b->kind;
}

static void assert_all_events(struct pst_trace *t)
{
	struct pst_event ev;
	size_t n = 0;

	while (pst_trace_next(t, &ev) == 1) {
		cr_assert_lt(n, NREF, "more events than written");
		assert_ev_eq(&ev, &ref_ev[n], n);
		n++;
	}
	cr_assert_eq(n, NREF);
	cr_assert_eq(pst_trace_next(t, &ev), 0);
}

/* ---- varints ---- */

Test(trace, varint_round_trip)
{
	const uint64_t vals[] = { 0, 127, 128, 1ULL << 32, UINT64_MAX };

	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		uint8_t buf[PST_VARINT_MAX + 2];
		const uint8_t *p = buf;
		uint8_t *end = pst_put_varint(buf, vals[i]);
		uint64_t v = 12345;

		cr_assert_eq((size_t)(end - buf), pst_varint_len(vals[i]));
		cr_assert_eq(pst_get_varint(&p, end, &v), 0);
		cr_assert_eq(v, vals[i]);
		cr_assert_eq(p, end);
	}
	{
		uint8_t buf[PST_VARINT_MAX];

		cr_assert_eq(pst_put_varint(buf, UINT64_MAX) - buf, PST_VARINT_MAX);
	}
}

Test(trace, varint_rejects_eleven_bytes)
{
	uint8_t buf[11];
	const uint8_t *p = buf;
	uint64_t v;

	memset(buf, 0x80, 10);
	buf[10] = 0x01;
	cr_assert_eq(pst_get_varint(&p, buf + sizeof(buf), &v), -1);
	cr_assert_eq(p, buf, "a failed decode must not move p");
	/* ten bytes whose last carries bits beyond 64 */
	memset(buf, 0xff, 9);
	buf[9] = 0x02;
	cr_assert_eq(pst_get_varint(&p, buf + 10, &v), -1);
}

Test(trace, varint_rejects_truncated)
{
	uint8_t buf[PST_VARINT_MAX];
	const uint8_t *p = buf;
	uint8_t *end = pst_put_varint(buf, 1ULL << 32);
	uint64_t v;

	cr_assert_eq(pst_get_varint(&p, end - 1, &v), -1);
	cr_assert_eq(pst_get_varint(&p, buf, &v), -1);
}

/* ---- the full trace ---- */

Test(trace, reads_every_record_and_merges_events)
{
	static struct tbuf b;
	struct layout l;
	struct pst_trace *t;
	const struct pst_stack *s;

	build_trace(&b, &l);
	t = open_ok(b.d, b.n);
	cr_assert(t->complete, "error: %s", t->error);
	cr_assert_str_empty(t->error);
	cr_assert(t->has_end);
	cr_assert_eq(t->end_ts, 2000);
	cr_assert_eq(t->end_reason, PST_END_EXEC);
	cr_assert_eq(t->nevents, NREF);

	cr_assert_eq(t->proc.version, ref_proc.version);
	cr_assert_eq(t->proc.pid, 4242);
	cr_assert_eq(t->proc.ppid, 1);
	cr_assert_eq(t->proc.flags, PST_PROC_FULL);
	cr_assert_eq(t->proc.sample_bytes, 524288);
	cr_assert_eq(t->proc.start_realtime_ns, 1700000000123456789ULL);
	cr_assert_eq(t->proc.start_monotonic_ns, 999);
	cr_assert_str_eq(t->proc.exe, "/usr/bin/demo");
	cr_assert_str_eq(t->proc.host, "buildhost");

	cr_assert_eq(t->nmodules, 2);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(t->modules[i].bias, ref_mod[i].bias);
		cr_assert_eq(t->modules[i].lo, ref_mod[i].lo);
		cr_assert_eq(t->modules[i].hi, ref_mod[i].hi);
		cr_assert_str_eq(t->modules[i].path, ref_mod[i].path);
		cr_assert_eq(t->modules[i].build_id_len, ref_mod[i].build_id_len);
	}
	cr_assert_arr_eq(t->modules[0].build_id, build_id, sizeof(build_id));

	cr_assert_eq(t->nthreads, 2);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(t->threads[i].tid, ref_thr[i].tid);
		cr_assert_eq(t->threads[i].parent_tid, ref_thr[i].parent_tid);
		cr_assert_eq(t->threads[i].start_ts, ref_thr[i].start_ts);
		cr_assert_str_eq(t->threads[i].name, ref_thr[i].name);
	}

	cr_assert_eq(t->ntotals, 2);
	for (int i = 0; i < 2; i++)
		cr_assert_arr_eq(&t->totals[i], &ref_tot[i], sizeof(ref_tot[i]));

	cr_assert_eq(t->nstacks, 3);
	cr_assert_eq(t->stacks[0].id, 1);
	cr_assert_eq(t->stacks[1].id, 2);
	cr_assert_eq(t->stacks[2].id, 3);
	s = pst_trace_stack(t, 1);
	cr_assert_not_null(s);
	cr_assert_eq(s->depth, 2);
	cr_assert_arr_eq(s->frames, frames1, sizeof(frames1));
	s = pst_trace_stack(t, 2);
	cr_assert_not_null(s);
	cr_assert_eq(s->depth, 3);
	cr_assert_arr_eq(s->frames, frames2, sizeof(frames2));
	s = pst_trace_stack(t, 3);
	cr_assert_not_null(s);
	cr_assert_eq(s->depth, 0);
	cr_assert_null(pst_trace_stack(t, 0));
	cr_assert_null(pst_trace_stack(t, 4));

	assert_all_events(t);
	{
		uint64_t done, total;

		pst_trace_progress(t, &done, &total);
		cr_assert_eq(total, b.n);
		cr_assert_eq(done, total);
	}
	pst_trace_rewind(t);
	assert_all_events(t);
	pst_trace_close(t);
}

/* ---- truncation at every byte ---- */

static size_t expected_events(const struct layout *l, size_t cut)
{
	size_t n = 0;

	for (int i = 0; i < 4; i++)
		if (l->block_end[i] <= cut)
			n += l->block_nev[i];
	return n;
}

/* The top-level record a cut at this offset lands in, or SIZE_MAX on a boundary. */
static size_t cut_record(const struct layout *l, size_t cut)
{
	size_t start = SIZE_MAX;

	for (size_t i = 0; i < l->nrec; i++)
		if (l->rec[i] == cut)
			return SIZE_MAX;
		else if (l->rec[i] < cut)
			start = l->rec[i];
	return start;
}

static void check_truncated_events(struct pst_trace *t, const struct layout *l, size_t cut)
{
	struct pst_event ev;
	size_t n = 0, j = 0, per_tid[2] = { 0, 0 };

	while (pst_trace_next(t, &ev) == 1) {
		size_t k, seen = 0;

		cr_assert_lt(n, NREF, "cut %zu: more events than the full trace", cut);
		while (j < NREF && !ev_eq(&ev, &ref_ev[j]))
			j++;
		cr_assert_lt(j, NREF, "cut %zu: event %zu is out of the full order", cut, n);
		/* and each thread's events are a prefix of its full stream */
		for (k = 0; k < NREF; k++) {
			if (ref_ev[k].tid != ev.tid)
				continue;
			if (seen++ == per_tid[ev.tid == 200])
				break;
		}
		cr_assert(ev_eq(&ev, &ref_ev[k]), "cut %zu: thread %lu skipped events", cut,
			  (unsigned long)ev.tid);
		per_tid[ev.tid == 200]++;
		j++;
		n++;
	}
	cr_assert_eq(n, expected_events(l, cut), "cut %zu: %zu events", cut, n);
	cr_assert_eq(t->nevents, n);
}

static void check_cut(const struct tbuf *b, const struct layout *l, size_t cut)
{
	char path[64], err[256] = "";
	struct pst_trace *t = NULL;
	size_t rec;
	int rc;

	write_tmp(path, b->d, cut);
	rc = pst_trace_open(path, &t, err, sizeof(err));
	unlink(path);
	if (cut < l->header_end) {
		cr_assert_eq(rc, -1, "cut %zu: a cut header must not open", cut);
		cr_assert_null(t);
		cr_assert(strstr(err, path), "cut %zu: message must name the file: %s", cut, err);
		if (cut == 0)
			cr_assert(strstr(err, "empty"), "cut 0: %s", err);
		else
			cr_assert(strstr(err, "truncated in the header"), "cut %zu: %s", cut, err);
		return;
	}
	cr_assert_eq(rc, 0, "cut %zu: %s", cut, err);
	cr_assert_not(t->complete, "cut %zu", cut);
	cr_assert_not(t->has_end, "cut %zu", cut);
	cr_assert_str_not_empty(t->error, "cut %zu", cut);
	rec = cut_record(l, cut);
	if (rec == SIZE_MAX) {
		cr_assert(strstr(t->error, "no END record"), "cut %zu: %s", cut, t->error);
	} else {
		char want[64];

		snprintf(want, sizeof(want), "truncated at offset %zu", rec);
		cr_assert_str_eq(t->error, want, "cut %zu", cut);
		cr_assert_eq(t->error_offset, rec);
	}
	check_truncated_events(t, l, cut);
	pst_trace_close(t);
}

Test(trace, truncation_at_every_offset)
{
	static struct tbuf b;
	struct layout l;

	build_trace(&b, &l);
	for (size_t cut = 0; cut < b.n; cut++)
		check_cut(&b, &l, cut);
}

/* ---- corruption ---- */

Test(trace, event_length_overrun_names_its_offset)
{
	static struct tbuf b;
	struct layout l;
	struct pst_trace *t;
	struct pst_event ev;
	char want[96];

	build_trace(&b, &l);
	cr_assert_eq(b.d[l.free_a], PST_REC_FREE);
	b.d[l.free_a + 1] = 0x7f; /* the FREE's length now runs past its block */
	t = open_ok(b.d, b.n);
	cr_assert_not(t->complete);
	cr_assert_eq(t->error_offset, l.free_a);
	snprintf(want, sizeof(want), "corrupt record at offset %zu", l.free_a);
	cr_assert(strstr(t->error, want), "%s", t->error);
	/* block A's events before the corrupt record stay; the scan stopped there */
	cr_assert_eq(t->nevents, 1);
	cr_assert_eq(pst_trace_next(t, &ev), 1);
	assert_ev_eq(&ev, &ref_ev[0], 0);
	cr_assert_eq(pst_trace_next(t, &ev), 0);
	cr_assert_eq(t->nstacks, 1, "stack 2 was before the corruption");
	pst_trace_close(t);
}

Test(trace, event_fields_overrun_names_its_offset)
{
	static struct tbuf b;
	struct layout l;
	struct pst_trace *t;
	struct pst_event ev;
	char want[96];

	build_trace(&b, &l);
	cr_assert_eq(b.d[l.alloc_c], PST_REC_ALLOC);
	b.d[l.alloc_c + 1] -= 1; /* the kind no longer fits the payload */
	t = open_ok(b.d, b.n);
	/* The scan reads events by their framing only: the ALLOC's last byte
	 * now frames a record of its own, which overruns block C further on;
	 * block C's ALLOC is indexed, D and END are cut. */
	cr_assert_not(t->complete);
	cr_assert(t->error_offset > l.alloc_c && t->error_offset < l.block_end[2]);
	cr_assert(strstr(t->error, "overruns its block"), "%s", t->error);
	cr_assert_eq(t->nevents, 6);
	/* Reading finds the ALLOC's fields do not decode: thread 100's stream
	 * ends there and the damage moves to that smaller offset, on every read. */
	for (int pass = 0; pass < 2; pass++) {
		size_t n = 0;

		pst_trace_rewind(t);
		while (pst_trace_next(t, &ev) == 1) {
			cr_assert(ev.tid == 200 || ev.ts < 1060, "pass %d: C's events stop", pass);
			n++;
		}
		cr_assert_eq(n, 5, "pass %d", pass);
		cr_assert_eq(t->nevents, 5, "pass %d", pass);
		cr_assert_not(t->complete);
		cr_assert_eq(t->error_offset, l.alloc_c);
		snprintf(want, sizeof(want), "corrupt record at offset %zu (bad ALLOC)", l.alloc_c);
		cr_assert_str_eq(t->error, want);
	}
	cr_assert_eq(t->nmodules, 2);
	pst_trace_close(t);
}

/* A field that does not decode while the framing holds: the trace opens
 * whole and complete; reading finds the damage, ends that thread's stream
 * there and marks the trace, so that every event counted is returned. */
Test(trace, event_field_damage_is_found_while_reading)
{
	static struct tbuf b;
	struct layout l;
	struct pst_trace *t;
	struct pst_event ev;
	char want[96];
	size_t n = 0;

	build_trace(&b, &l);
	cr_assert_eq(b.d[l.alloc_c], PST_REC_ALLOC);
	b.d[l.alloc_c + 1 + b.d[l.alloc_c + 1]] = 0x7f; /* the kind: out of range */
	t = open_ok(b.d, b.n);
	cr_assert(t->complete, "%s", t->error);
	cr_assert(t->has_end);
	cr_assert_eq(t->error_offset, 0);
	cr_assert_eq(t->nevents, NREF);
	while (pst_trace_next(t, &ev) == 1) {
		cr_assert(ev.tid == 200 || ev.ts < 1060, "C's events stop");
		n++;
	}
	cr_assert_eq(n, NREF - 2);
	cr_assert_eq(t->nevents, NREF - 2);
	cr_assert_not(t->complete);
	cr_assert(t->has_end);
	cr_assert_eq(t->error_offset, l.alloc_c);
	snprintf(want, sizeof(want), "corrupt record at offset %zu (bad ALLOC)", l.alloc_c);
	cr_assert_str_eq(t->error, want);
	pst_trace_close(t);
}

/* ---- files that are not traces ---- */

static void assert_open_fails(const char *path, const char *what)
{
	char err[256] = "";
	struct pst_trace *t = (struct pst_trace *)&err;

	cr_assert_eq(pst_trace_open(path, &t, err, sizeof(err)), -1);
	cr_assert_null(t);
	cr_assert(strstr(err, path), "message must name the file: %s", err);
	cr_assert(strstr(err, what), "message must say '%s': %s", what, err);
	cr_assert_null(strchr(err, '\n'));
}

Test(trace, bad_magic_fails)
{
	static struct tbuf b;
	struct layout l;
	char path[64];

	build_trace(&b, &l);
	b.d[3] = 'X';
	write_tmp(path, b.d, b.n);
	assert_open_fails(path, "bad magic");
	unlink(path);
}

Test(trace, empty_file_fails)
{
	char path[64];

	write_tmp(path, "", 0);
	assert_open_fails(path, "empty");
	unlink(path);
}

Test(trace, missing_file_fails)
{
	char path[64];

	write_tmp(path, "", 0);
	unlink(path);
	assert_open_fails(path, "cannot open");
}

Test(trace, first_record_not_process_fails)
{
	uint8_t d[32], *p = d + PST_MAGIC_LEN;
	char path[64];

	memcpy(d, PST_MAGIC, PST_MAGIC_LEN);
	p = pst_enc_end(p, 1, 0, 0);
	write_tmp(path, d, (size_t)(p - d));
	assert_open_fails(path, "PROCESS");
	unlink(path);
}

/* Any single damaged byte: open fails cleanly or every indexed event is returned. */
Test(trace, damaged_bytes_never_crash)
{
	static const uint8_t vals[] = { 0x00, 0x7f, 0x80, 0xff };
	static struct tbuf b;
	struct layout l;
	char path[64], err[256];

	build_trace(&b, &l);
	for (size_t i = 0; i < b.n; i++) {
		uint8_t saved = b.d[i];

		for (size_t v = 0; v < sizeof(vals); v++) {
			struct pst_trace *t = NULL;
			struct pst_event ev;
			uint64_t n = 0;

			b.d[i] = vals[v];
			write_tmp(path, b.d, b.n);
			if (pst_trace_open(path, &t, err, sizeof(err)) == 0) {
				while (pst_trace_next(t, &ev) == 1)
					n++;
				cr_assert_eq(n, t->nevents, "byte %zu = %#x", i, vals[v]);
				cr_assert(t->complete || t->error[0], "byte %zu", i);
				pst_trace_close(t);
			} else {
				cr_assert(err[0], "byte %zu = %#x: no message", i, vals[v]);
			}
			unlink(path);
		}
		b.d[i] = saved;
	}
}

static int count_stacks(unsigned type, uint64_t tid, const uint8_t *p, size_t len, void *arg)
{
	uint64_t id = 0;

	cr_assert_eq(type, PST_REC_STACK);
	cr_assert_eq(pst_get_varint(&p, p + len, &id), 0);
	(void)tid;
	((uint64_t *)arg)[0]++;
	((uint64_t *)arg)[1] += id;
	return 0;
}

static int stop_at_first(unsigned type, uint64_t tid, const uint8_t *p, size_t len, void *arg)
{
	(void)type, (void)tid, (void)p, (void)len;
	(*(int *)arg)++;
	return 7;
}

/* The walk over raw records sees exactly the records of the asked types,
 * with their block's thread, and stops where the callback says. */
Test(trace, foreach_visits_records_of_the_asked_types)
{
	static struct tbuf b;
	struct layout l;
	struct pst_trace *t;
	uint64_t seen[2] = { 0, 0 };
	int n = 0;

	build_trace(&b, &l);
	t = open_ok(b.d, b.n);
	/* the trace holds STACK records with ids 2, 1, 1 (a duplicate) and 3 */
	cr_assert_eq(pst_trace_foreach(t, PST_REC_STACK, PST_REC_STACK, count_stacks, seen), 0);
	cr_expect_eq(seen[0], 4);
	cr_expect_eq(seen[1], 7);
	cr_expect_eq(pst_trace_foreach(t, 0, 0xff, stop_at_first, &n), 7);
	cr_expect_eq(n, 1);
	pst_trace_close(t);
}

/* ---- the records' decoders (records.h) against their encoders ---- */

/* A framed record's payload: its start and end. */
static const uint8_t *payload_of(const uint8_t *rec, const uint8_t *e, const uint8_t **end)
{
	const uint8_t *p = rec + 1;
	uint64_t len;

	cr_assert_eq(pst_get_varint(&p, e, &len), 0);
	cr_assert_eq(p + len, e);
	*end = e;
	return p;
}

Test(records, small_record_round_trip_and_every_cut_fails)
{
	uint8_t rec[PST_LOCK_STATS_MAX] = { 0 };
	uint8_t *e = pst_enc_lock_stats(rec, 0x7fff12345678, PST_WAIT_WRLOCK, 3, 1ull << 40, 1000,
					 7, 300, 123456789, 99999, 4);
	const uint8_t *end, *p = payload_of(rec, e, &end);
	struct pst_rec_lock_stats r;

	cr_assert_eq(rec[0], PST_REC_LOCK_STATS);
	cr_assert_eq(pst_dec_lock_stats(p, end, &r), 0);
	cr_expect_eq(r.object, 0x7fff12345678);
	cr_expect_eq(r.kind, PST_WAIT_WRLOCK);
	cr_expect_eq(r.first_stack, 3);
	cr_expect_eq(r.first_ts, 1ull << 40);
	cr_expect_eq(r.acquisitions, 1000);
	cr_expect_eq(r.reads, 7);
	cr_expect_eq(r.contended, 300);
	cr_expect_eq(r.wait_ns, 123456789);
	cr_expect_eq(r.max_wait_ns, 99999);
	cr_expect_eq(r.max_wait_stack, 4);
	for (const uint8_t *cut = p; cut < end; cut++)
		cr_expect_eq(pst_dec_lock_stats(p, cut, &r), -1, "cut at %td", cut - p);
}

Test(records, strings_and_bytes_point_into_the_payload)
{
	static const uint8_t id[] = { 0xde, 0xad, 0, 0xef };
	uint8_t rec[256] = { 0 };
	uint8_t *e = pst_enc_pmodule(rec, 42, 0x1000, 0x2000, 0x3000, "/lib/x.so", id, sizeof(id));
	const uint8_t *end, *p = payload_of(rec, e, &end);
	struct pst_rec_pmodule r;

	cr_assert_eq(pst_dec_pmodule(p, end, &r), 0);
	cr_expect_eq(r.pid, 42);
	cr_expect_eq(r.hi, 0x3000);
	cr_expect_eq(r.path_len, 9);
	cr_expect_eq(memcmp(r.path, "/lib/x.so", 9), 0);
	cr_expect_eq(r.build_id_len, sizeof(id));
	cr_expect_eq(memcmp(r.build_id, id, sizeof(id)), 0);
	/* the build id is optional: a record that stops before it still reads */
	cr_assert_eq(pst_dec_pmodule(p, end - sizeof(id) - 1, &r), 0);
	cr_expect_null(r.build_id);
	cr_expect_eq(r.build_id_len, 0);
	/* the path is not: cut inside it, the record does not decode */
	cr_expect_eq(pst_dec_pmodule(p, end - sizeof(id) - 3, &r), -1);
}

Test(records, end_signal_is_optional)
{
	uint8_t rec[PST_EVENT_MAX] = { 0 };
	uint8_t *e = pst_enc_end(rec, 5000, PST_END_SIGNAL, 11);
	const uint8_t *end, *p = payload_of(rec, e, &end);
	struct pst_rec_end r;

	cr_assert_eq(pst_dec_end(p, end, &r), 0);
	cr_expect_eq(r.ts, 5000);
	cr_expect_eq(r.reason, PST_END_SIGNAL);
	cr_expect_eq(r.signal, 11);
	cr_assert_eq(pst_dec_end(p, end - 1, &r), 0);
	cr_expect_eq(r.signal, 0);
	cr_expect_eq(pst_dec_end(p, end - 2, &r), -1);
}

Test(records, tails_are_checked_whole)
{
	uint64_t frames[] = { 0x401000, 1ull << 50, 7 };
	uint8_t rec[128] = { 0 };
	uint8_t *e = pst_enc_stack(rec, 9, frames, 3);
	const uint8_t *end, *p = payload_of(rec, e, &end);
	struct pst_rec_stack r;

	cr_assert_eq(pst_dec_stack(p, end, &r), 0);
	cr_expect_eq(r.id, 9);
	cr_assert_eq(r.depth, 3);
	for (int i = 0; i < 3; i++)
		cr_expect_eq(pst_tail_u(&r.frames), frames[i]);
	for (const uint8_t *cut = p; cut < end; cut++)
		cr_expect_eq(pst_dec_stack(p, cut, &r), -1, "cut at %td", cut - p);
}

Test(records, lookup_addresses_are_taken_one_by_one)
{
	static const uint8_t addrs[2][16] = { { 127, 0, 0, 1 }, { 0xfe, 0x80 } };
	static const uint8_t lens[2] = { 4, 16 };
	uint8_t rec[1024] = { 0 };
	uint8_t *e = pst_enc_net_lookup(rec, 10, 20, PST_LOOKUP_GETADDRINFO, 0, "db.local", 8,
					addrs, lens, 2);
	const uint8_t *end, *p = payload_of(rec, e, &end), *a;
	struct pst_rec_net_lookup r;
	size_t n;

	cr_assert_eq(pst_dec_net_lookup(p, end, &r), 0);
	cr_expect_eq(r.duration_ns, 20);
	cr_expect_eq(r.name_len, 8);
	cr_assert_eq(r.naddrs, 2);
	cr_assert_not_null(a = pst_tail_bytes(&r.addrs, &n));
	cr_expect_eq(n, 4);
	cr_expect_eq(a[0], 127);
	cr_assert_not_null(a = pst_tail_bytes(&r.addrs, &n));
	cr_expect_eq(n, 16);
	cr_expect_eq(a[1], 0x80);
	/* a cut address list still decodes: the reader keeps what is whole */
	cr_assert_eq(pst_dec_net_lookup(p, end - 1, &r), 0);
	cr_expect_not_null(pst_tail_bytes(&r.addrs, &n));
	cr_expect_null(pst_tail_bytes(&r.addrs, &n));
}

Test(records, events_fast_decoder_matches)
{
	uint8_t rec[PST_EVENT_MAX + 8] = { 0 };
	uint8_t *e = pst_enc_realloc(rec, 3, 0x1000, 1ull << 47, 12345, 6);
	const uint8_t *end, *p = payload_of(rec, e, &end);
	struct pst_rec_realloc a, b;

	cr_assert_eq(pst_dec_realloc(p, end, &a), 0);
	cr_assert_eq(pst_dec_realloc_fast(p, end, rec + sizeof(rec), &b), 0);
	cr_expect_eq(memcmp(&a, &b, sizeof(a)), 0);
	cr_expect_eq(a.new_ptr, 1ull << 47);
	cr_expect_eq(a.stack_id, 6);
	for (const uint8_t *cut = p; cut < end; cut++)
		cr_expect_eq(pst_dec_realloc_fast(p, cut, rec + sizeof(rec), &b), -1);
}

/* The fields in the order docs/FORMAT.md gives, byte for byte. */
Test(records, encoders_write_the_documented_bytes)
{
	static const uint8_t lock[] = { PST_REC_LOCK_STATS, 11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x80, 1 };
	static const uint8_t ksym[] = { PST_REC_KSYM, 7, 0x81, 1, 2, 1, 'f', 1, 'm' };
	uint8_t rec[64] = { 0 };
	uint8_t *e = pst_enc_lock_stats(rec, 1, 2, 3, 4, 5, 6, 7, 8, 9, 128);

	cr_assert_eq(e - rec, sizeof(lock));
	cr_expect_eq(memcmp(rec, lock, sizeof(lock)), 0);
	e = pst_enc_ksym(rec, 129, 2, "f", "m");
	cr_assert_eq(e - rec, sizeof(ksym));
	cr_expect_eq(memcmp(rec, ksym, sizeof(ksym)), 0);
}

Test(records, usample_and_net_conn_read_back)
{
	uint64_t regs[17];
	uint8_t rec[PST_NET_CONN_MAX] = { 0 }, *e;
	const uint8_t *end, *p;
	struct pst_rec_usample u;
	struct pst_rec_net_conn c;
	struct pst_net_conn_rec n = { .conn_id = 77, .kind = PST_NET_TCP6, .role = PST_NET_SERVER,
				      .flags = PST_NET_FIRST, .ep = { 1, 2, 3 }, .ep_len = 3,
				      .max_burst = 5 };

	for (int i = 0; i < 17; i++)
		regs[i] = 1000u * (uint64_t)i;
	e = pst_enc_usample(rec, 9, 8, 2, PST_SAMPLE_BLOCKED, regs, 17, 3);
	memcpy(e, "abc", 3);
	p = payload_of(rec, e + 3, &end);
	cr_assert_eq(pst_dec_usample(p, end, &u), 0);
	cr_expect_eq(u.ts, 9);
	cr_expect_eq(u.tid, 8);
	cr_expect_eq(u.count, 2);
	cr_assert_eq(u.nregs, 17);
	for (int i = 0; i < 17; i++)
		cr_expect_eq(pst_tail_u(&u.regs), regs[i]);
	cr_assert_eq(u.stack_len, 3);
	cr_expect_eq(memcmp(u.stack, "abc", 3), 0);
	cr_expect_eq(pst_dec_usample(p, end - 1, &u), -1);

	n.hist[7] = 3;
	n.hist[100] = 1;
	e = pst_enc_net_conn(rec, &n);
	p = payload_of(rec, e, &end);
	cr_assert_eq(pst_dec_net_conn(p, end, &c), 0);
	cr_expect_eq(c.conn_id, 77);
	cr_expect_eq(c.role, PST_NET_SERVER);
	cr_expect_eq(c.endpoint_len, 3);
	cr_expect_eq(c.max_burst, 5);
	cr_assert_eq(c.nhist, 2);
	cr_expect_eq(pst_tail_u(&c.hist), 7);
	cr_expect_eq(pst_tail_u(&c.hist), 3);
	cr_expect_eq(pst_tail_u(&c.hist), 100);
	cr_expect_eq(pst_tail_u(&c.hist), 1);
	cr_expect_eq(pst_dec_net_conn(p, end - 1, &c), -1);
}

/* ---- ZBLOCK: packed and compressed blocks ---- */

static struct pst_zp_enc zenc;
static struct pst_zp_dec zdec;
static uint8_t zwork[PST_ZP_NSTREAMS * 65536], zpacked[65536], zraw[65536];

/* Append the ZBLOCK of the inner records [p, end) to z, as the preload
 * writes it (packed, one zstd frame with its checksum). */
static size_t put_zblock(struct tbuf *z, uint64_t tid, uint64_t base_ts, const uint8_t *p,
			 const uint8_t *end)
{
	size_t plen = pst_zp_pack(&zenc, p, end, zwork, 65536, zpacked), clen, off = z->n;
	uint8_t comp[4096], *h = tb_end(z);
	ZSTD_CCtx *c = ZSTD_createCCtx();

	cr_assert(plen && c);
	ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
	ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0); /* the preload writes none */
	clen = ZSTD_compress2(c, comp, sizeof(comp), zpacked, plen);
	ZSTD_freeCCtx(c);
	cr_assert(!ZSTD_isError(clen));
	*h++ = PST_REC_ZBLOCK;
	h = pst_put_varint(h, pst_varint_len(tid) + pst_varint_len(base_ts) +
				      pst_varint_len((uint64_t)(end - p)) + clen);
	h = pst_put_varint(h, tid);
	h = pst_put_varint(h, base_ts);
	h = pst_put_varint(h, (uint64_t)(end - p));
	memcpy(h, comp, clen);
	tb_set(z, h + clen);
	return off;
}

/* The reference trace with each BLOCK a ZBLOCK; zoff: where they landed. */
static void zpack_trace(const struct tbuf *b, const struct layout *l, struct tbuf *z,
			size_t zoff[4])
{
	const uint8_t *p = b->d + l->header_end, *end = b->d + b->n;
	size_t nz = 0;

	memcpy(z->d, b->d, l->header_end);
	z->n = l->header_end;
	while (p < end) {
		const uint8_t *q = p + 1;
		uint64_t len;
		struct pst_rec_block h;

		cr_assert_eq(pst_get_varint(&q, end, &len), 0);
		if (p[0] == PST_REC_BLOCK) {
			cr_assert_eq(pst_dec_block(q, q + len, &h), 0);
			zoff[nz++] = put_zblock(z, h.tid, h.base_ts, h.records.p, h.records.end);
		} else {
			memcpy(tb_end(z), p, (size_t)(q + len - p));
			z->n += (size_t)(q + len - p);
		}
		p = q + len;
	}
	cr_assert_eq(nz, 4);
}

Test(zblock, reads_as_the_blocks_it_stands_for)
{
	static struct tbuf b, z;
	struct layout l;
	size_t zoff[4];
	struct pst_trace *t;

	build_trace(&b, &l);
	zpack_trace(&b, &l, &z, zoff);
	t = open_ok(z.d, z.n);
	cr_assert(t->complete, "error: %s", t->error);
	cr_assert(t->has_end);
	cr_assert_eq(t->nevents, NREF);
	cr_assert_eq(t->nmodules, 2);
	cr_assert_eq(t->nthreads, 2);
	cr_assert_eq(t->nstacks, 3);
	cr_assert_eq(t->ntotals, 2);
	for (int i = 0; i < 2; i++)
		cr_assert_arr_eq(&t->totals[i], &ref_tot[i], sizeof(ref_tot[i]));
	cr_assert_eq(pst_trace_stack(t, 2)->depth, 3);
	assert_all_events(t);
	pst_trace_rewind(t);
	assert_all_events(t);
	pst_trace_close(t);
}

/* Damage inside a ZBLOCK (its frame's checksum fails) or a cut in it: the
 * trace is damaged at the ZBLOCK's own offset in the file, and what came
 * before is read (blocks A and B: 5 events). */
static void check_zblock_damage(const struct tbuf *z, size_t at, const char *what)
{
	struct pst_trace *t = open_ok(z->d, z->n);
	struct pst_event ev;
	size_t n = 0;

	cr_assert_not(t->complete);
	cr_assert_eq(t->error_offset, at, "offset %lu, not %zu: %s", (unsigned long)t->error_offset,
		     at, t->error);
	cr_assert(strstr(t->error, what), "%s", t->error);
	while (pst_trace_next(t, &ev) == 1)
		assert_ev_eq(&ev, &ref_ev[n], n), n++;
	cr_assert_eq(n, 5);
	cr_assert_eq(t->nevents, 5);
	pst_trace_close(t);
}

Test(zblock, damage_is_found_at_its_offset)
{
	static struct tbuf b, z;
	struct layout l;
	size_t zoff[4], n;

	const uint8_t *q;
	uint64_t len = 0;

	build_trace(&b, &l);
	zpack_trace(&b, &l, &z, zoff);
	q = z.d + zoff[2] + 1;
	cr_assert_eq(pst_get_varint(&q, tb_end(&z), &len), 0);
	z.d[q + len - z.d - 6] ^= 0x10; /* block C's compressed bytes */
	check_zblock_damage(&z, zoff[2], "bad ZBLOCK");
	z.d[q + len - z.d - 6] ^= 0x10;
	n = z.n;
	z.n = zoff[2] + 6; /* cut inside C */
	check_zblock_damage(&z, zoff[2], "truncated");
	z.n = n;
}

/* Pack then unpack gives the block back byte for byte: events far apart,
 * pointers named again from the ring and from beyond it, events that are
 * not in their encoder's form, other records between them. */
Test(zblock, packing_is_exact)
{
	static struct tbuf in;
	uint8_t odd[] = { PST_REC_ALLOC, 7, 0x81, 0x00, 0x10, 0x20, 0x01, 0x00, 0x00 };
	size_t plen;

	in.n = 0;
	for (uint64_t i = 0; i < 1200; i++) {
		uint64_t p = 0x7f0000000000ull + 64 * (i % 5000) + (i % 3 ? 0 : 0x10000000ull);

		tb_set(&in, pst_enc_alloc(tb_end(&in), i % 300, p, i * 7, i % 9, i % 4));
		if (i % 4 == 3)
			tb_set(&in, pst_enc_realloc(tb_end(&in), 1, p, p + 4096, i, 3));
		if (i % 2)
			tb_set(&in, pst_enc_free(tb_end(&in), 2, 0x7f0000000000ull + 64 * (i / 2)));
		if (i == 600) /* the first pointer again, past the ring */
			tb_set(&in, pst_enc_free(tb_end(&in), 0, 0x7f0000000000ull));
		if (i % 250 == 0) {
			put_stack(&in, i + 1, frames2, 3);
			memcpy(tb_end(&in), odd, sizeof(odd)); /* overlong dts varint */
			in.n += sizeof(odd);
		}
	}
	tb_set(&in, pst_enc_free(tb_end(&in), UINT64_MAX, UINT64_MAX));
	plen = pst_zp_pack(&zenc, in.d, in.d + in.n, zwork, 65536, zpacked);
	cr_assert_gt(plen, 0);
	cr_assert_eq(pst_zp_unpack(&zdec, zpacked, zpacked + plen, zraw, in.n), 0);
	cr_assert_arr_eq(zraw, in.d, in.n);
	/* a raw length that is not the block's, and cut packed data, fail */
	cr_assert_eq(pst_zp_unpack(&zdec, zpacked, zpacked + plen, zraw, in.n - 1), -1);
	cr_assert_eq(pst_zp_unpack(&zdec, zpacked, zpacked + plen - 1, zraw, in.n), -1);
}

/* Unpacking damaged packed data fails or gives some bytes: never past the
 * buffer (run under the sanitizers by make check-asan). */
Test(zblock, damaged_packing_never_overruns)
{
	static struct tbuf in;
	size_t plen;

	in.n = 0;
	for (uint64_t i = 0; i < 50; i++) {
		tb_set(&in, pst_enc_alloc(tb_end(&in), i, 0x1000 + 32 * i, i, 1, 0));
		tb_set(&in, pst_enc_free(tb_end(&in), 1, 0x1000 + 32 * (i / 2)));
	}
	put_stack(&in, 9, frames1, 2);
	plen = pst_zp_pack(&zenc, in.d, in.d + in.n, zwork, 65536, zpacked);
	cr_assert_gt(plen, 0);
	for (size_t i = 0; i < plen; i++) {
		uint8_t saved = zpacked[i];

		for (unsigned v = 0; v < 256; v += 51) {
			zpacked[i] = (uint8_t)v;
			(void)pst_zp_unpack(&zdec, zpacked, zpacked + plen, zraw, in.n);
		}
		zpacked[i] = saved;
	}
	cr_assert_eq(pst_zp_unpack(&zdec, zpacked, zpacked + plen, zraw, in.n), 0);
}

/* An event that does not decode inside an unpacked block: the damage is
 * told at the ZBLOCK's offset, the event before it is read. */
Test(zblock, damage_inside_an_unpacked_block_is_at_the_zblock)
{
	static struct tbuf z, in;
	const uint8_t bad[] = { PST_REC_ALLOC, 2, 0x05, 0x10 }; /* fields cut after ptr */
	struct pst_trace *t;
	struct pst_event ev;
	size_t at;

	memcpy(z.d, PST_MAGIC, PST_MAGIC_LEN);
	z.n = PST_MAGIC_LEN;
	put_process(&z, &ref_proc);
	in.n = 0;
	tb_set(&in, pst_enc_alloc(tb_end(&in), 10, 0x1000, 64, 1, PST_KIND_MALLOC));
	memcpy(tb_end(&in), bad, sizeof(bad));
	in.n += sizeof(bad);
	tb_set(&in, pst_enc_free(tb_end(&in), 1, 0x1000));
	tb_framed(&z, 0x7e, (const uint8_t *)"pad", 3);
	at = put_zblock(&z, 100, 1000, in.d, tb_end(&in));
	tb_set(&z, pst_enc_end(tb_end(&z), 2000, PST_END_EXIT, 0));
	t = open_ok(z.d, z.n);
	cr_assert_eq(pst_trace_next(t, &ev), 1);
	cr_assert_eq(ev.ptr, 0x1000);
	cr_assert_eq(pst_trace_next(t, &ev), 0);
	cr_assert_not(t->complete);
	cr_assert_eq(t->error_offset, at, "%s", t->error);
	cr_assert(strstr(t->error, "bad ALLOC"), "%s", t->error);
	pst_trace_close(t);
}

/* ---- the writer thread (preload/zqueue.c) ---- */

/* zq_kill: 3 threads, 200,000 x malloc(32) each at churn, half freed at
 * once, the rest in a ring of 64: ~60 full buffers handed to the writer
 * thread, 3 x 64 blocks live at the end. With the timed flush pushed past
 * the run, a SIGKILL right after the work finds blocks written by the
 * writer, blocks waiting for it or in its hands, and the threads' own
 * buffers: each event is read exactly once, a thread's blocks in order
 * (a free read before its malloc would leave a block live). */
static void check_zq_kill(const char *how, bool complete)
{
	struct itest_run r;
	struct itest_report rep;
	json_t *j, *sites, *s;
	long long calls = 0, leaked = 0;
	size_t i;

	setenv("PRESTANDA_FLUSH_MS", "600000", 1);
	itest_run(&r, (const char *[]){ "--full", NULL }, "zq_kill", (const char *[]){ how, NULL });
	unsetenv("PRESTANDA_FLUSH_MS");
	cr_assert_eq(r.ntraces, 1, "%d traces: %s", r.ntraces, r.err);
	j = itest_report_ok(&rep, r.traces[0]);
	cr_expect_eq(itest_bool(j, "process.complete"), complete);
	sites = itest_get(j, "memory.sites");
	json_array_foreach(sites, i, s) {
		json_t *f = json_object_get(s, "function");

		if (json_is_string(f) && !strcmp(json_string_value(f), "churn")) {
			calls += json_integer_value(json_object_get(s, "calls"));
			leaked += json_integer_value(json_object_get(s, "leaked_bytes"));
		}
	}
	cr_expect_eq(calls, 600000, "%s: %lld calls at churn", how, calls);
	cr_expect_eq(leaked, 3 * 64 * 32, "%s: %lld bytes left at churn", how, leaked);
	cr_expect_eq(itest_int(j, "memory.free_calls") - itest_int(j, "memory.alloc_calls"),
		     -(long long)itest_int(j, "memory.leaked_allocations"));
	itest_report_free(&rep);
	itest_cleanup(&r);
}

Test(zqueue, sigkill_loses_no_block_and_reads_none_twice, .timeout = 120)
{
	check_zq_kill("kill", false);
}

Test(zqueue, exit_writes_every_block_in_order, .timeout = 120)
{
	check_zq_kill("exit", true);
}

/* A live file whose process is gone, two slots of thread 7: slot 0 holds
 * its newer buffer (base_ts 2000: the FREE), slot 1 the older one it had
 * handed to the writer thread (base_ts 1000: the ALLOC). Taken back, the
 * trace reads them in time order: the block is allocated, then freed. */
static void write_live(const char *trace, pid_t gone)
{
	static uint8_t slots[2][PST_LIVE_SLOT_HEADER + 64];
	struct pst_live_header h = { .version = PST_VERSION,
				     .slot_bytes = sizeof(slots[0]), .pid = (uint64_t)gone };
	struct pst_live_slot *sl[2] = { (void *)slots[0], (void *)slots[1] };
	char live[PATH_MAX];
	uint8_t *e[2];
	int fd;

	memcpy(h.magic, PST_LIVE_MAGIC, sizeof(h.magic));
	e[0] = pst_enc_free(slots[0] + PST_LIVE_SLOT_HEADER, 5, 0x1000);
	e[1] = pst_enc_alloc(slots[1] + PST_LIVE_SLOT_HEADER, 5, 0x1000, 64, 0, PST_KIND_MALLOC);
	for (int i = 0; i < 2; i++) {
		sl[i]->tid = 7;
		sl[i]->base_ts = i ? 1000 : 2000;
		sl[i]->used = (uint32_t)(e[i] - (slots[i] + PST_LIVE_SLOT_HEADER));
	}
	snprintf(live, sizeof(live), "%s.live", trace);
	fd = open(live, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert(fd >= 0);
	cr_assert_eq(pwrite(fd, &h, sizeof(h), 0), (ssize_t)sizeof(h));
	cr_assert_eq(pwrite(fd, slots, sizeof(slots), PST_LIVE_HEADER), (ssize_t)sizeof(slots));
	close(fd);
}

Test(zqueue, live_slots_taken_back_in_time_order)
{
	static struct tbuf b;
	char path[64], err[256] = "";
	struct pst_trace *t = NULL;
	struct pst_event ev[2];
	pid_t gone = fork();

	cr_assert(gone >= 0);
	if (!gone)
		_exit(0);
	waitpid(gone, NULL, 0);
	memcpy(b.d, PST_MAGIC, PST_MAGIC_LEN);
	b.n = PST_MAGIC_LEN;
	put_process(&b, &ref_proc);
	write_tmp(path, b.d, b.n);
	write_live(path, gone);
	cr_assert_eq(pst_trace_open(path, &t, err, sizeof(err)), 0, "open failed: %s", err);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pst_trace_next(t, &ev[i]), 1, "event %d", i);
	cr_expect_eq(ev[0].type, PST_EV_ALLOC);
	cr_expect_eq(ev[0].ts, 1005);
	cr_expect_eq(ev[1].type, PST_EV_FREE);
	cr_expect_eq(ev[1].ts, 2005);
	pst_trace_close(t);
	unlink(path);
}
