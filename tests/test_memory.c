/* SPDX-License-Identifier: MIT */
/* Tests of the memory analysis and findings on traces built with the encoders of trace.h. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <link.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "findings.h"
#include "memory.h"
#include "trace.h"
#include "symbolize.h"
#include "trace_read.h"
#include "itest.h"

/* ---- writing traces ---- */

struct buf {
	uint8_t *d;
	size_t n, cap;
};

static uint8_t *room(struct buf *b, size_t need)
{
	if (b->n + need > b->cap) {
		b->cap = (b->n + need) * 2;
		b->d = realloc(b->d, b->cap);
		cr_assert(b->d);
	}
	return b->d + b->n;
}

static void set_end(struct buf *b, uint8_t *end)
{
	b->n = (size_t)(end - b->d);
}

/* A trace under construction: the file, and the open block of one thread. */
struct tw {
	struct buf file, blk;
	uint64_t tid, base, last;
	bool open;
};

static void tw_framed(struct buf *b, unsigned type, const uint8_t *pay, size_t len)
{
	set_end(b, pst_enc_framed(room(b, len + 16), type, pay, len));
}

static void tw_init(struct tw *w, uint64_t flags, uint64_t sample_bytes, uint64_t start)
{
	uint8_t pay[256], *q = pay;

	memset(w, 0, sizeof(*w));
	memcpy(room(&w->file, PST_MAGIC_LEN), PST_MAGIC, PST_MAGIC_LEN);
	w->file.n += PST_MAGIC_LEN;
	q = pst_put_varint(q, PST_VERSION);
	q = pst_put_varint(q, 4242); /* pid */
	q = pst_put_varint(q, 1);    /* ppid */
	q = pst_put_varint(q, flags);
	q = pst_put_varint(q, sample_bytes);
	q = pst_put_varint(q, 1700000000000000000ull);
	q = pst_put_varint(q, start);
	q = pst_put_bytes(q, "/usr/bin/memtest", 16);
	q = pst_put_bytes(q, "host", 4);
	tw_framed(&w->file, PST_REC_PROCESS, pay, (size_t)(q - pay));
}

static void tw_flush(struct tw *w)
{
	if (!w->open)
		return;
	set_end(&w->file, pst_enc_block_header(room(&w->file, PST_BLOCK_HEADER_MAX), w->tid,
					       w->base, w->blk.n));
	memcpy(room(&w->file, w->blk.n), w->blk.d, w->blk.n);
	w->file.n += w->blk.n;
	w->blk.n = 0;
	w->open = false;
}

/* Start a block of thread tid; its events' times count from base. */
static void tw_block(struct tw *w, uint64_t tid, uint64_t base)
{
	tw_flush(w);
	w->open = true;
	w->tid = tid;
	w->base = w->last = base;
}

static uint64_t dts(struct tw *w, uint64_t ts)
{
	uint64_t d;

	cr_assert(w->open && ts >= w->last, "events of a block go forward in time");
	d = ts - w->last;
	w->last = ts;
	return d;
}

static void tw_alloc(struct tw *w, uint64_t ts, uint64_t ptr, uint64_t size, uint64_t stack)
{
	uint64_t d = dts(w, ts);

	set_end(&w->blk, pst_enc_alloc(room(&w->blk, PST_EVENT_MAX), d, ptr, size, stack,
				       PST_KIND_MALLOC));
}

static void tw_free(struct tw *w, uint64_t ts, uint64_t ptr)
{
	uint64_t d = dts(w, ts);

	set_end(&w->blk, pst_enc_free(room(&w->blk, PST_EVENT_MAX), d, ptr));
}

static void tw_realloc(struct tw *w, uint64_t ts, uint64_t old, uint64_t ptr, uint64_t size,
		       uint64_t stack)
{
	uint64_t d = dts(w, ts);

	set_end(&w->blk, pst_enc_realloc(room(&w->blk, PST_EVENT_MAX), d, old, ptr, size, stack));
}

static void tw_stack(struct tw *w, uint64_t id, const uint64_t *frames, unsigned depth)
{
	set_end(&w->blk, pst_enc_stack(room(&w->blk, pst_stack_rec_max(depth)), id, frames, depth));
}

/* A one-frame stack whose frame is unique to the id. */
static void tw_stack1(struct tw *w, uint64_t id)
{
	uint64_t f = 0x400000 + id * 0x100;

	tw_stack(w, id, &f, 1);
}

static void tw_module(struct tw *w, const char *path, uint64_t bias, uint64_t lo, uint64_t hi)
{
	uint8_t pay[PATH_MAX + 64], *q = pay;

	q = pst_put_varint(q, bias);
	q = pst_put_varint(q, lo);
	q = pst_put_varint(q, hi);
	q = pst_put_bytes(q, path, strlen(path));
	q = pst_put_bytes(q, "", 0);
	tw_framed(&w->blk, PST_REC_MODULE, pay, (size_t)(q - pay));
}

static void tw_thread(struct tw *w, uint64_t tid, const char *name)
{
	uint8_t pay[128], *q = pay;

	q = pst_put_varint(q, tid);
	q = pst_put_varint(q, 1);
	q = pst_put_varint(q, w->last);
	q = pst_put_bytes(q, name, strlen(name));
	tw_framed(&w->blk, PST_REC_THREAD, pay, (size_t)(q - pay));
}

/* TOTALS with every call in one size bucket. */
static void tw_totals(struct tw *w, uint64_t tid, uint64_t calls, uint64_t frees, uint64_t bytes,
		      unsigned bucket)
{
	uint8_t pay[64 + PST_HIST_BUCKETS * PST_VARINT_MAX], *q = pay;

	q = pst_put_varint(q, tid);
	q = pst_put_varint(q, calls);
	q = pst_put_varint(q, frees);
	q = pst_put_varint(q, bytes);
	for (int k = 0; k < PST_KIND_COUNT; k++)
		q = pst_put_varint(q, k == PST_KIND_MALLOC ? calls : 0);
	q = pst_put_varint(q, PST_HIST_BUCKETS);
	for (unsigned b = 0; b < PST_HIST_BUCKETS; b++)
		q = pst_put_varint(q, b == bucket ? calls : 0);
	tw_framed(&w->blk, PST_REC_TOTALS, pay, (size_t)(q - pay));
}

static void tw_end(struct tw *w, uint64_t ts)
{
	tw_flush(w);
	set_end(&w->file, pst_enc_end(room(&w->file, PST_EVENT_MAX), ts, PST_END_EXIT, 0));
}

/* ---- analyzing them ---- */

struct run {
	char path[64];
	struct pst_trace *t;
	struct pst_symbolizer *sym;
	struct pst_memory *m;
	struct pst_findings f;
};

/* Write w's trace, open it, analyze with sym (may be NULL) and judge it. */
static void run_sym(struct run *r, struct tw *w, struct pst_symbolizer *sym)
{
	struct pst_findings_ctx ctx = { 0 }; /* frees_missing and the rest: false */
	char err[256];
	FILE *f;
	int fd;

	tw_flush(w);
	memset(r, 0, sizeof(*r));
	snprintf(r->path, sizeof(r->path), "/tmp/pst-memtest.XXXXXX");
	fd = mkstemp(r->path);
	cr_assert(fd >= 0);
	f = fdopen(fd, "wb");
	cr_assert(f);
	cr_assert_eq(fwrite(w->file.d, 1, w->file.n, f), w->file.n);
	cr_assert_eq(fclose(f), 0);
	free(w->file.d);
	free(w->blk.d);
	cr_assert_eq(pst_trace_open(r->path, &r->t, err, sizeof(err)), 0, "open: %s", err);
	r->sym = sym;
	r->m = pst_memory_build(r->t, sym, NULL, NULL);
	cr_assert(r->m);
	ctx.at_exit = r->t->complete;
	ctx.end = r->t->complete ? NULL : "the trace was cut";
	cr_assert_eq(pst_findings_build(r->m, &ctx, &r->f), 0);
}

static void run(struct run *r, struct tw *w)
{
	run_sym(r, w, NULL);
}

static void run_free(struct run *r)
{
	pst_findings_free(&r->f);
	pst_memory_free(r->m);
	pst_trace_close(r->t);
	if (r->sym)
		pst_symbolizer_free(r->sym);
	unlink(r->path);
}

static const struct pst_site *site(const struct run *r, uint64_t stack_id)
{
	for (size_t i = 0; i < r->m->nsites; i++)
		if (r->m->sites[i].first_stack_id == stack_id)
			return &r->m->sites[i];
	cr_assert_fail("no site for stack %llu", (unsigned long long)stack_id);
	return NULL;
}

static double evidence(const struct pst_finding *f, const char *key)
{
	for (size_t i = 0; i < f->nev; i++)
		if (!strcmp(f->ev[i].key, key))
			return f->ev[i].kind == PST_EV_INT ? (double)f->ev[i].i : f->ev[i].r;
	cr_assert_fail("finding %s has no evidence %s", f->id, key);
	return 0;
}

/* ---- tests ---- */

/* alloc 100, alloc 200, free the first, alloc 50: the peak is 300 at the
 * second allocation, made of the first two sites. */
Test(memory, peak_of_a_known_sequence)
{
	struct tw w;
	struct run r;

	tw_init(&w, PST_PROC_FULL, 0, 1000);
	tw_block(&w, 7, 1000);
	for (uint64_t id = 1; id <= 3; id++)
		tw_stack1(&w, id);
	tw_alloc(&w, 1010, 0xa000, 100, 1);
	tw_alloc(&w, 1020, 0xb000, 200, 2);
	tw_free(&w, 1030, 0xa000);
	tw_alloc(&w, 1040, 0xc000, 50, 3);
	tw_free(&w, 1050, 0xb000);
	tw_free(&w, 1060, 0xc000);
	tw_end(&w, 1100);
	run(&r, &w);

	cr_expect_eq(r.m->peak_heap_bytes, 300);
	cr_expect_eq(r.m->peak_time_ns, 20);
	cr_expect_eq(r.m->duration_ns, 100);
	cr_expect_eq(site(&r, 1)->st.peak_bytes, 100);
	cr_expect_eq(site(&r, 2)->st.peak_bytes, 200);
	cr_expect_eq(site(&r, 3)->st.peak_bytes, 0);
	cr_expect_eq(site(&r, 3)->st.max_live, 50);
	cr_expect_eq(r.m->alloc_calls, 3);
	cr_expect_eq(r.m->free_calls, 3);
	cr_expect_eq(r.m->allocated_bytes, 350);
	cr_expect(!r.m->totals_exact, "no TOTALS: totals come from events");
	cr_expect_eq(r.m->hist[pst_size_bucket(100)], 1);
	cr_expect_eq(r.m->hist[pst_size_bucket(200)], 1);
	cr_expect_eq(r.m->hist[pst_size_bucket(50)], 1);
	cr_expect_eq(r.m->leaked_bytes, 0);
	cr_expect_eq(r.m->unmatched_frees, 0);
	/* Sites by calls, then bytes: 200, 100, 50. */
	cr_assert_eq(r.m->nsites, 3);
	cr_expect_eq(r.m->sites[0].first_stack_id, 2);
	cr_expect_eq(r.m->sites[1].first_stack_id, 1);
	cr_expect_eq(r.m->sites[2].first_stack_id, 3);
	cr_expect_null(pst_findings_get(&r.f, "leak", NULL));
	run_free(&r);
}

/* Two threads' allocations, then their frees, in blocks of 5,000 events
 * that alternate threads: the pass reads them through the feed's ring
 * (memory_feed.c) in many batches, merged by time. */
#define FEED_N 40000 /* allocations per thread */

static void feed_events(struct tw *w, bool frees)
{
	uint64_t t0 = 1000 + (frees ? 2 * FEED_N : 0);

	for (uint64_t c = 0; c < FEED_N; c += 5000) {
		for (uint64_t tid = 7; tid <= 8; tid++) {
			tw_block(w, tid, t0 + 2 * c + (tid - 7));
			for (uint64_t i = c; i < c + 5000; i++) {
				uint64_t ts = t0 + 2 * i + (tid - 7), ptr = tid << 24 | i << 4;

				if (frees)
					tw_free(w, ts, ptr);
				else
					tw_alloc(w, ts, ptr, tid == 7 ? 10 : 20, tid - 6);
			}
		}
	}
}

static void count_progress(const struct pst_trace *t, int pass, void *arg)
{
	(void)t;
	cr_expect_eq(pass, 1);
	++*(int *)arg;
}

/* The whole trace: stacks 1 (thread 7's) and 2 (thread 8's), the events. */
static void feed_trace(struct tw *w)
{
	tw_init(w, PST_PROC_FULL, 0, 1000);
	tw_block(w, 7, 1000);
	for (uint64_t id = 1; id <= 2; id++)
		tw_stack1(w, id);
	feed_events(w, false);
	feed_events(w, true);
	tw_end(w, 1000 + 4 * FEED_N);
}

Test(memory, events_through_the_feed)
{
	int calls = 0;
	struct run r;
	struct tw w;

	feed_trace(&w);
	run(&r, &w);
	cr_expect_eq(r.m->events, 4 * FEED_N);
	cr_expect_eq(r.m->alloc_calls, 2 * FEED_N);
	cr_expect_eq(r.m->free_calls, 2 * FEED_N);
	cr_expect_eq(r.m->allocated_bytes, 30 * FEED_N);
	/* every block live at the last allocation, thread 8's */
	cr_expect_eq(r.m->peak_heap_bytes, 30 * FEED_N);
	cr_expect_eq(r.m->peak_event, 2 * FEED_N);
	cr_expect_eq(r.m->peak_time_ns, 2 * FEED_N - 1);
	cr_expect_eq(r.m->leaked_bytes, 0);
	cr_expect_eq(r.m->unmatched_frees, 0);
	cr_expect_eq(site(&r, 1)->st.peak_bytes, 10 * FEED_N);
	cr_expect_eq(site(&r, 2)->st.peak_bytes, 20 * FEED_N);
	/* the progress callback once per 65,536 events read */
	pst_memory_free(r.m);
	r.m = pst_memory_build(r.t, NULL, count_progress, &calls);
	cr_assert(r.m);
	cr_expect_eq(calls, 4 * FEED_N / 65536);
	cr_expect_eq(r.m->peak_event, 2 * FEED_N);
	run_free(&r);
}

Test(memory, leaks_at_exit_per_site)
{
	struct tw w;
	struct run r;
	const struct pst_finding *f;

	tw_init(&w, PST_PROC_FULL, 0, 0);
	tw_block(&w, 1, 0);
	tw_stack1(&w, 1);
	tw_stack1(&w, 2);
	for (uint64_t i = 0; i < 10; i++)
		tw_alloc(&w, 10 + i, 0x1000 + i * 0x100, 100, 1); /* never freed */
	for (uint64_t i = 0; i < 5; i++) {
		tw_alloc(&w, 100 + 2 * i, 0x9000, 40, 2);
		tw_free(&w, 101 + 2 * i, 0x9000);
	}
	tw_free(&w, 200, 0xdead); /* never allocated in the trace */
	tw_end(&w, 300);
	run(&r, &w);

	cr_expect_eq(r.m->leaked_bytes, 1000);
	cr_expect_eq(r.m->leaked_allocations, 10);
	cr_expect_eq(site(&r, 1)->st.leaked_bytes, 1000);
	cr_expect_eq(site(&r, 1)->st.leaked, 10);
	cr_expect_eq(site(&r, 2)->st.leaked_bytes, 0);
	cr_expect_eq(r.m->unmatched_frees, 1);
	cr_expect_eq(r.m->free_calls, 6);

	f = pst_findings_get(&r.f, "leak", site(&r, 1));
	cr_assert(f, "no leak finding for the leaking site");
	cr_expect_eq(evidence(f, "leaked_bytes"), 1000);
	cr_expect_eq(evidence(f, "leaked_allocations"), 10);
	cr_expect_eq(f->severity, PST_SEV_LOW, "1000 bytes are not urgent");
	cr_expect_null(pst_findings_get(&r.f, "leak", site(&r, 2)));
	run_free(&r);
}

/* A big leak that is most of the heap is high. */
Test(memory, leak_severity_scales)
{
	struct tw w;
	struct run r;
	const struct pst_finding *f;

	tw_init(&w, PST_PROC_FULL, 0, 0);
	tw_block(&w, 1, 0);
	tw_stack1(&w, 1);
	tw_alloc(&w, 10, 0x1000, 32ull << 20, 1);
	tw_end(&w, 20);
	run(&r, &w);
	f = pst_findings_get(&r.f, "leak", NULL);
	cr_assert(f);
	cr_expect_eq(f->severity, PST_SEV_HIGH);
	run_free(&r);
}

/* Temporary, heaptrack's rule: a free of the size and stack the thread
 * allocated last, with no free since. */
Test(memory, temporary_by_definition)
{
	struct tw w;
	struct run r;

	tw_init(&w, PST_PROC_FULL, 0, 0);
	tw_block(&w, 1, 0);
	for (uint64_t id = 1; id <= 5; id++)
		tw_stack1(&w, id);
	/* X then free X: temporary. */
	tw_alloc(&w, 10, 0x100, 8, 1);
	tw_free(&w, 11, 0x100);
	/* Y, Z, free Y: not (Z came between); free Z: not (free Y came between). */
	tw_alloc(&w, 20, 0x200, 8, 2);
	tw_alloc(&w, 21, 0x300, 8, 3);
	tw_free(&w, 22, 0x200);
	tw_free(&w, 23, 0x300);
	/* V on thread 1, freed by thread 2 after thread 2 allocated W: not,
	 * the freeing thread's last allocation was W. */
	tw_alloc(&w, 30, 0x400, 8, 4);
	tw_block(&w, 2, 31);
	tw_alloc(&w, 31, 0x500, 8, 5);
	tw_free(&w, 32, 0x400);
	tw_end(&w, 100);
	run(&r, &w);

	cr_expect_eq(site(&r, 1)->st.temporary, 1);
	cr_expect_eq(site(&r, 2)->st.temporary, 0);
	cr_expect_eq(site(&r, 3)->st.temporary, 0);
	cr_expect_eq(site(&r, 4)->st.temporary, 0);
	cr_expect_eq(site(&r, 5)->st.temporary, 0);
	cr_expect_eq(r.m->temporary_allocations, 1);
	cr_expect_eq(site(&r, 5)->st.leaked, 1);
	run_free(&r);
}

/* malloc(1024) then 5 reallocs growing it by 64 bytes at one site: a chain
 * of 5, linear. */
Test(memory, realloc_chain)
{
	struct tw w;
	struct run r;
	const struct pst_finding *f;
	const struct pst_site *s;
	uint64_t ptr = 0x1000, ts = 10;

	tw_init(&w, PST_PROC_FULL, 0, 0);
	tw_block(&w, 1, 0);
	tw_stack1(&w, 1);
	tw_stack1(&w, 2);
	tw_stack1(&w, 3);
	tw_alloc(&w, ts++, ptr, 1024, 1);
	for (uint64_t k = 1; k <= 5; k++, ptr += 0x1000)
		tw_realloc(&w, ts++, ptr, ptr + 0x1000, 1024 + 64 * k, 2);
	tw_free(&w, ts++, ptr);
	/* A chain of 2 at another site: no finding. */
	tw_alloc(&w, ts++, 0x90000, 8, 3);
	tw_realloc(&w, ts++, 0x90000, 0x91000, 16, 3);
	tw_realloc(&w, ts++, 0x91000, 0x91000, 24, 3); /* in place */
	tw_free(&w, ts++, 0x91000);
	tw_end(&w, 100);
	run(&r, &w);

	s = site(&r, 2);
	cr_expect_eq(s->st.reallocs, 5);
	cr_expect_eq(s->st.max_chain, 5);
	cr_expect_eq(s->st.chains, 1);
	cr_expect_eq(s->st.final_size_max, 1344);
	cr_expect_eq(s->st.geometric_chains, 0);
	cr_expect_eq(site(&r, 3)->st.max_chain, 2);
	cr_expect_eq(r.m->reallocs, 7);
	cr_expect_eq(r.m->leaked_bytes, 0);
	cr_expect_eq(r.m->alloc_calls, 9);
	cr_expect_eq(r.m->peak_heap_bytes, 1344);

	f = pst_findings_get(&r.f, "realloc-growth", s);
	cr_assert(f, "no realloc-growth finding for a chain of 5");
	cr_expect_eq(evidence(f, "reallocs"), 5);
	cr_expect_eq(evidence(f, "max_chain_length"), 5);
	cr_expect_eq(evidence(f, "average_chain_length"), 5);
	cr_expect_eq(evidence(f, "final_size"), 1344);
	cr_expect(strstr(f->advice, "1.31 KiB"), "advice does not suggest the final size: %s",
		  f->advice);
	cr_expect_null(pst_findings_get(&r.f, "realloc-growth", site(&r, 3)));
	run_free(&r);
}

/* Sampled: one event of size s at rate R counts 1/(1-exp(-s/R)) calls. */
Test(memory, sampled_weight)
{
	struct tw w;
	struct run r;
	const double R = 1000, s = 500, want = 1.0 / (1.0 - exp(-s / R));

	cr_expect_float_eq(pst_sample_weight(500, 1000), want, 1e-12);
	cr_expect_float_eq(pst_sample_weight(1ull << 40, 1000), 1.0, 1e-12);

	tw_init(&w, 0, (uint64_t)R, 0);
	tw_block(&w, 1, 0);
	tw_stack1(&w, 1);
	tw_alloc(&w, 10, 0x1000, (uint64_t)s, 1);
	tw_end(&w, 20);
	run(&r, &w);

	cr_expect(!r.m->full);
	cr_expect_float_eq(site(&r, 1)->st.calls, want, 1e-9);
	cr_expect_float_eq(site(&r, 1)->st.bytes, s * want, 1e-6);
	cr_expect_float_eq(r.m->peak_heap_bytes, s * want, 1e-6);
	cr_expect_float_eq(r.m->leaked_bytes, s * want, 1e-6);
	cr_expect_float_eq(r.m->leaked_allocations, want, 1e-9);
	/* Without TOTALS the totals are the rounded estimates. */
	cr_expect_eq(r.m->alloc_calls, (uint64_t)llround(want));
	cr_expect_eq(r.m->allocated_bytes, (uint64_t)llround(s * want));
	run_free(&r);
}

/* TOTALS, when every thread with events has one, are the exact totals. */
Test(memory, totals_preferred)
{
	struct tw w;
	struct run r;

	tw_init(&w, 0, 4096, 0);
	tw_block(&w, 1, 0);
	tw_stack1(&w, 1);
	tw_thread(&w, 1, "main");
	tw_alloc(&w, 10, 0x1000, 64, 1);
	tw_free(&w, 11, 0x1000);
	tw_totals(&w, 1, 1000, 990, 64000, pst_size_bucket(64));
	tw_block(&w, 2, 5);
	tw_thread(&w, 2, "worker");
	tw_totals(&w, 2, 5, 5, 50, pst_size_bucket(10));
	tw_end(&w, 100);
	run(&r, &w);

	cr_expect(r.m->totals_exact);
	cr_expect_eq(r.m->alloc_calls, 1005);
	cr_expect_eq(r.m->free_calls, 995);
	cr_expect_eq(r.m->allocated_bytes, 64050);
	cr_expect_eq(r.m->hist[pst_size_bucket(64)], 1000);
	cr_expect_eq(r.m->hist[pst_size_bucket(10)], 5);
	cr_assert_eq(r.m->nthreads, 2);
	cr_expect_eq(r.m->threads[0].tid, 1);
	cr_expect_str_eq(r.m->threads[0].name, "main");
	cr_expect_eq(r.m->threads[0].alloc_calls, 1000);
	cr_expect_str_eq(r.m->threads[1].name, "worker");
	cr_expect_eq(r.m->threads[1].alloc_bytes, 50);
	run_free(&r);
}

/* A thread with events but no TOTALS (a cut trace): totals from events. */
Test(memory, totals_from_events_when_a_thread_lacks_them)
{
	struct tw w;
	struct run r;

	tw_init(&w, PST_PROC_FULL, 0, 0);
	tw_block(&w, 1, 0);
	tw_stack1(&w, 1);
	tw_alloc(&w, 10, 0x1000, 64, 1);
	tw_totals(&w, 1, 1, 0, 64, pst_size_bucket(64));
	tw_block(&w, 2, 20);
	tw_alloc(&w, 20, 0x2000, 32, 1);
	tw_alloc(&w, 21, 0x3000, 32, 1);
	tw_flush(&w); /* no END: the trace is cut */
	run(&r, &w);

	cr_expect(!r.t->complete);
	cr_expect(!r.m->totals_exact);
	cr_expect_eq(r.m->alloc_calls, 3);
	cr_expect_eq(r.m->allocated_bytes, 128);
	cr_expect_eq(r.m->leaked_bytes, 128);
	cr_expect(pst_findings_get(&r.f, "leak", NULL), "live blocks of a cut trace are reported");
	cr_expect(strstr(pst_findings_get(&r.f, "leak", NULL)->title, "trace ended"));
	run_free(&r);
}

/* Two stack ids with the same frames are one site. */
Test(memory, identical_stacks_merge)
{
	struct tw w;
	struct run r;
	uint64_t frames[2] = { 0x401234, 0x405678 };
	struct pst_symbolizer *sym = pst_symbolizer_new();

	cr_assert(sym);
	tw_init(&w, PST_PROC_FULL, 0, 0);
	tw_block(&w, 1, 0);
	tw_stack(&w, 3, frames, 2);
	tw_stack(&w, 5, frames, 2);
	tw_stack1(&w, 4);
	tw_alloc(&w, 10, 0x1000, 10, 3);
	tw_alloc(&w, 11, 0x2000, 20, 5);
	tw_alloc(&w, 12, 0x3000, 40, 4);
	tw_free(&w, 13, 0x2000);
	tw_end(&w, 20);
	run_sym(&r, &w, sym);

	cr_assert_eq(r.m->nsites, 2);
	cr_expect_eq(site(&r, 3)->st.calls, 2);
	cr_expect_eq(site(&r, 3)->st.bytes, 30);
	cr_expect_eq(site(&r, 3)->st.leaked_bytes, 10);
	cr_expect_eq(site(&r, 3)->st.peak_bytes, 30);
	cr_expect_eq(site(&r, 3)->st.min_size, 10);
	cr_expect_eq(site(&r, 3)->st.max_size, 20);
	cr_expect_eq(site(&r, 3)->depth, 2);
	cr_expect_null(site(&r, 3)->function);
	cr_expect_eq(site(&r, 4)->st.calls, 1);
	run_free(&r);
}

/* ---- real frames of this test binary ---- */

struct modscan {
	struct tw *w;
};

static int add_module(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct modscan *ms = arg;
	uint64_t lo = UINT64_MAX, hi = 0;
	char exe[PATH_MAX];
	const char *path = info->dlpi_name;
	ssize_t n;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_LOAD)
			continue;
		if (info->dlpi_addr + ph->p_vaddr < lo)
			lo = info->dlpi_addr + ph->p_vaddr;
		if (info->dlpi_addr + ph->p_vaddr + ph->p_memsz > hi)
			hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
	}
	if (!path[0]) {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n <= 0)
			return 0;
		exe[n] = 0;
		path = exe;
	}
	if (path[0] == '/' && lo < hi)
		tw_module(ms->w, path, info->dlpi_addr, lo, hi);
	return 0;
}

static __attribute__((noipa)) uint64_t return_address(void)
{
	return (uint64_t)(uintptr_t)__builtin_return_address(0);
}

/* Two calls on one line: two return addresses with one symbolized frame. */
static __attribute__((noipa)) void two_calls_one_line(uint64_t *a, uint64_t *b)
{
	*a = return_address(); *b = return_address(); /* both on this line */
	__asm__ volatile("" ::: "memory");
}

/* Real code: a frame inside libc's malloc on top of two frames of this
 * file. The site is this file's frame; malloc is dropped from the stack. */
Test(memory, real_frames_merge_and_skip_the_allocator)
{
	struct tw w;
	struct run r;

#ifdef __SANITIZE_ADDRESS__
	cr_skip_test("make check-asan: malloc in this process is the sanitizer's, not the C library's");
#endif
	struct modscan ms = { .w = &w };
	uint64_t a, b, fa[2], fb[2];
	void *(*volatile mallocp)(size_t) = malloc;
	const struct pst_site *s;

	two_calls_one_line(&a, &b);
	cr_assert_neq(a, b);
	fa[0] = (uint64_t)(uintptr_t)mallocp + 4 + 1; /* "returns" into malloc */
	fa[1] = a;
	fb[0] = fa[0];
	fb[1] = b;

	tw_init(&w, PST_PROC_FULL, 0, 0);
	tw_block(&w, 1, 0);
	dl_iterate_phdr(add_module, &ms);
	tw_stack(&w, 1, fa, 2);
	tw_stack(&w, 2, fb, 2);
	tw_stack(&w, 3, fa, 1); /* nothing but the allocator: the runtime's own */
	tw_alloc(&w, 10, 0x1000, 10, 1);
	tw_alloc(&w, 11, 0x2000, 10, 2);
	tw_alloc(&w, 12, 0x3000, 100, 3);
	tw_end(&w, 20);
	run(&r, &w);
	/* Symbolize with the trace's modules, as the report does. */
	r.sym = pst_symbolizer_new();
	cr_assert(r.sym);
	for (size_t i = 0; i < r.t->nmodules; i++)
		pst_symbolizer_add_module(r.sym, r.t->modules[i].path, r.t->modules[i].bias,
					  r.t->modules[i].lo, r.t->modules[i].hi, NULL, 0);
	pst_memory_free(r.m);
	r.m = pst_memory_build(r.t, r.sym, NULL, NULL);
	cr_assert(r.m);
	s = site(&r, 1);
	if (!s->function)
		cr_skip_test("no debug info for this test binary: %s",
			     s->depth ? s->stack[0] : "(empty)");
	cr_expect_eq(r.m->nsites, 2, "identical symbolized stacks did not merge (%zu sites)",
		     r.m->nsites);
	cr_expect(!s->runtime);
	cr_expect(site(&r, 3)->runtime, "a stack of only malloc is not the runtime's");
	cr_expect_eq(site(&r, 3)->depth, 1, "a runtime stack keeps its frames");
	pst_findings_free(&r.f);
	cr_assert_eq(pst_findings_build(r.m, &(struct pst_findings_ctx){ .at_exit = true }, &r.f), 0);
	cr_expect(pst_findings_get(&r.f, "leak", s), "the program's leak is reported");
	cr_expect_null(pst_findings_get(&r.f, "leak", site(&r, 3)), "the runtime's block is a leak");
	cr_expect_eq(s->st.calls, 2);
	cr_expect_str_eq(s->function, "two_calls_one_line");
	cr_expect(s->file && strstr(s->file, "test_memory.c"), "file %s", s->file);
	cr_expect_eq(s->depth, 1, "malloc's frame was kept: %s", s->stack[0]);
	cr_expect(!strncmp(s->stack[0], "two_calls_one_line", 18), "stack[0] %s", s->stack[0]);
	run_free(&r);
}

Test(memory, alloc_wrappers)
{
	cr_expect(pst_is_alloc_wrapper("malloc", NULL));
	cr_expect(pst_is_alloc_wrapper("operator new(unsigned long)", NULL));
	cr_expect(pst_is_alloc_wrapper("operator new[](unsigned long)", NULL));
	cr_expect(pst_is_alloc_wrapper("operator delete(void*)", NULL));
	cr_expect(pst_is_alloc_wrapper("std::__new_allocator<int>::allocate(unsigned long, void const*)",
				       NULL));
	cr_expect(pst_is_alloc_wrapper(NULL, "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"));
	cr_expect(pst_is_alloc_wrapper("__strdup", "/lib/x86_64-linux-gnu/libc.so.6"));
	cr_expect(!pst_is_alloc_wrapper("main", "/usr/bin/prog"));
	cr_expect(!pst_is_alloc_wrapper("std::vector<int>::push_back(int const&)", "/usr/bin/prog"));
	cr_expect(!pst_is_alloc_wrapper("mallocate", NULL));
	cr_expect(!pst_is_alloc_wrapper(NULL, NULL));
}

/* ---- short-lived small allocations ---- */

/* n allocations of size bytes at one site, each freed after life ns,
 * spaced gap ns apart. */
static void churn(struct tw *w, uint64_t n, uint64_t size, uint64_t life, uint64_t gap)
{
	uint64_t ts = 10;

	tw_init(w, PST_PROC_FULL, 0, 0);
	tw_block(w, 1, 0);
	tw_stack1(w, 1);
	for (uint64_t i = 0; i < n; i++, ts += gap) {
		tw_alloc(w, ts, 0x1000, size, 1);
		tw_free(w, ts + life, 0x1000);
	}
	tw_end(w, ts + 10);
}

Test(memory, short_lived_small_fires)
{
	struct tw w;
	struct run r;
	const struct pst_finding *f;

	churn(&w, 5000, 32, 100, 500); /* 5000 calls in 2.5 ms: 2M/s */
	run(&r, &w);
	f = pst_findings_get(&r.f, "short-lived-small", NULL);
	cr_assert(f, "no short-lived-small finding");
	cr_expect_eq(f->severity, PST_SEV_HIGH);
	cr_expect_eq(evidence(f, "calls"), 5000);
	cr_expect_eq(evidence(f, "temporary"), 5000);
	cr_expect_eq(evidence(f, "calls_avoided"), 5000);
	cr_expect_eq(evidence(f, "average_size"), 32);
	cr_expect(evidence(f, "calls_per_second") > 1.9e6 && evidence(f, "calls_per_second") < 2.1e6);
	cr_expect(strstr(f->advice, "arena") && strstr(f->advice, "5,000"), "advice: %s", f->advice);
	cr_expect_null(pst_findings_get(&r.f, "leak", NULL));
	cr_expect_null(pst_findings_get(&r.f, "realloc-growth", NULL));
	run_free(&r);
}

/* Two call paths into one allocating frame make one finding over both; a
 * third frame of its own keeps its own. */
Test(memory, findings_group_call_paths_by_allocating_frame)
{
	const uint64_t a[] = { 0x401000, 0x402000 }, b[] = { 0x401000, 0x403000 },
		       c[] = { 0x404000, 0x402000 };
	struct tw w;
	struct run r;
	const struct pst_finding *f;
	uint64_t ts = 10;
	size_t nchurn = 0;

	tw_init(&w, PST_PROC_FULL, 0, 0);
	tw_block(&w, 1, 0);
	tw_stack(&w, 1, a, 2);
	tw_stack(&w, 2, b, 2);
	tw_stack(&w, 3, c, 2);
	for (uint64_t i = 0; i < 9000; i++, ts += 500) {
		uint64_t stack = i % 3 == 2 ? 3 : i % 3 == 1 ? 2 : 1;

		tw_alloc(&w, ts, 0x1000, i % 3 == 1 ? 64 : 32, stack);
		tw_free(&w, ts + 100, 0x1000);
	}
	tw_end(&w, ts + 10);
	run(&r, &w);
	cr_assert_eq(r.m->nsites, 3, "three stacks, three sites");
	for (size_t i = 0; i < r.f.n; i++)
		nchurn += !strcmp(r.f.v[i].id, "short-lived-small");
	cr_expect_eq(nchurn, 2, "%zu churn findings", nchurn);
	/* stacks 1 and 2 make as many calls; 2 allocates more bytes and comes
	 * first in the sites' order: its stack is the one shown */
	f = pst_findings_get(&r.f, "short-lived-small", site(&r, 2));
	cr_assert(f, "no finding with the busier path's stack");
	cr_expect_eq(evidence(f, "calls"), 6000);
	cr_expect_eq(evidence(f, "call_paths"), 2);
	cr_expect_eq(evidence(f, "average_size"), 48);
	cr_expect(strstr(f->advice, "all 2 call paths"), "advice: %s", f->advice);
	cr_expect_null(pst_findings_get(&r.f, "short-lived-small", site(&r, 1)));
	f = pst_findings_get(&r.f, "short-lived-small", site(&r, 3));
	cr_assert(f, "the third frame lost its finding");
	cr_expect_eq(evidence(f, "calls"), 3000);
	for (size_t i = 0; i < f->nev; i++)
		cr_expect_str_neq(f->ev[i].key, "call_paths", "one path: no call_paths evidence");
	run_free(&r);
}

Test(memory, short_lived_small_needs_small_sizes)
{
	struct tw w;
	struct run r;

	churn(&w, 5000, 4096, 100, 500);
	run(&r, &w);
	cr_expect_null(pst_findings_get(&r.f, "short-lived-small", NULL));
	run_free(&r);
}

Test(memory, short_lived_small_needs_many_calls)
{
	struct tw w;
	struct run r;

	churn(&w, 100, 32, 100, 500);
	run(&r, &w);
	cr_expect_null(pst_findings_get(&r.f, "short-lived-small", NULL));
	run_free(&r);
}

Test(memory, short_lived_small_needs_a_high_rate)
{
	struct tw w;
	struct run r;

	churn(&w, 5000, 32, 100, 10000000); /* one call per 10 ms: 100/s */
	run(&r, &w);
	cr_expect_null(pst_findings_get(&r.f, "short-lived-small", NULL));
	run_free(&r);
}

/* Blocks that live long and overlap are neither temporary nor short-lived. */
Test(memory, long_lived_blocks_are_not_churn)
{
	struct tw w;
	struct run r;
	uint64_t ts = 10;

	tw_init(&w, PST_PROC_FULL, 0, 0);
	tw_block(&w, 1, 0);
	tw_stack1(&w, 1);
	for (uint64_t i = 0; i < 5000; i++)
		tw_alloc(&w, ts++, 0x100000 + i * 64, 32, 1);
	ts += 10000000;
	for (uint64_t i = 0; i < 5000; i++)
		tw_free(&w, ts++, 0x100000 + i * 64);
	tw_end(&w, ts);
	run(&r, &w);
	cr_expect_eq(site(&r, 1)->st.temporary, 1);
	cr_expect_eq(site(&r, 1)->st.short_lived, 0);
	cr_expect_eq(r.m->peak_heap_bytes, 5000 * 32);
	cr_expect_null(pst_findings_get(&r.f, "short-lived-small", NULL));
	run_free(&r);
}

/* The short-lived boundary is inclusive: a block freed exactly
 * PST_SHORT_LIVED_NS after its allocation is short-lived, one freed a
 * nanosecond later is not. */
Test(memory, short_lived_boundary_is_inclusive)
{
	struct tw w;
	struct run r;

	churn(&w, 10, 32, PST_SHORT_LIVED_NS, 2 * PST_SHORT_LIVED_NS);
	run(&r, &w);
	cr_expect_eq(site(&r, 1)->st.short_lived, 10);
	run_free(&r);
	churn(&w, 10, 32, PST_SHORT_LIVED_NS + 1, 2 * PST_SHORT_LIVED_NS);
	run(&r, &w);
	cr_expect_eq(site(&r, 1)->st.short_lived, 0);
	cr_expect_eq(site(&r, 1)->st.temporary, 10);
	run_free(&r);
}

/* A chain of n reallocs at stack 2 of a block first allocated at stack 1,
 * growing by step bytes each time (0: doubling). */
static void realloc_chain_by(struct run *r, uint64_t n, uint64_t step)
{
	struct tw w;
	uint64_t ptr = 0x1000, ts = 10;

	tw_init(&w, PST_PROC_FULL, 0, 0);
	tw_block(&w, 1, 0);
	tw_stack1(&w, 1);
	tw_stack1(&w, 2);
	tw_alloc(&w, ts++, ptr, 1024, 1);
	for (uint64_t k = 1; k <= n; k++, ptr += 0x1000)
		tw_realloc(&w, ts++, ptr, ptr + 0x1000, step ? 1024 + step * k : (uint64_t)1024 << k, 2);
	tw_free(&w, ts++, ptr);
	tw_end(&w, 100);
	run(r, &w);
}

/* Four moves make a chain that grows piecemeal (the rule's minimum);
 * three do not. */
Test(memory, realloc_growth_chain_boundary)
{
	struct run r;
	const struct pst_finding *f;

	realloc_chain_by(&r, 4, 64);
	f = pst_findings_get(&r.f, "realloc-growth", site(&r, 2));
	cr_assert(f, "no realloc-growth finding for a chain of 4");
	cr_expect_eq(evidence(f, "max_chain_length"), 4);
	cr_expect_eq(evidence(f, "final_size"), 1280);
	run_free(&r);
	realloc_chain_by(&r, 3, 64);
	cr_expect_null(pst_findings_get(&r.f, "realloc-growth", NULL), "a chain of 3");
	run_free(&r);
}

/* A chain that grows by an eighth or more at every move is geometric
 * already: no advice to grow it geometrically, however long. An eighth
 * less a byte (and a smaller last step) is not. */
Test(memory, realloc_growth_not_for_geometric_chains)
{
	struct run r;

	realloc_chain_by(&r, 10, 0);
	cr_expect_eq(site(&r, 2)->st.geometric_chains, 1);
	cr_expect_null(pst_findings_get(&r.f, "realloc-growth", NULL), "doubling 10 times");
	run_free(&r);
	realloc_chain_by(&r, 10, 128); /* 1024 + 128: exactly an eighth, then less */
	cr_expect_eq(site(&r, 2)->st.geometric_chains, 0);
	cr_expect(pst_findings_get(&r.f, "realloc-growth", site(&r, 2)), "linear by 128");
	run_free(&r);
}

/* The heap reaches its peak twice: the peak's time is the first. */
Test(memory, peak_time_is_the_first_time_reached)
{
	struct tw w;
	struct run r;

	churn(&w, 2, 100, 10, 20); /* 100 bytes live at 10 and at 30 */
	run(&r, &w);
	cr_expect_eq(r.m->peak_heap_bytes, 100);
	cr_expect_eq(r.m->peak_time_ns, 10);
	run_free(&r);
}

/* ---- temporaries against heaptrack, on the same workloads ---- */

/*
 * heaptrack's rule (its analyzer, accumulatedtracedata.cpp) compares
 * allocation-info indices, not addresses: heaptrack_interpret interns each
 * (size, stack) pair once, and a free is temporary when its block's pair
 * is the pair of the event just before it (an allocation; any free clears
 * it). So a free of a twin (another block of the same size and stack) is
 * temporary too. --full counts that rule from the events, per thread; the
 * sampled mode cannot (the size and stack of a block that was not sampled
 * are never seen), and counts each thread's frees of the very block it
 * allocated last, exactly: a subset, the same count the preload writes in
 * a --full trace's thread totals. Measured below on each workload: --full
 * equals heaptrack (heaptrack's one more is its own preload's), sampled
 * equals the --full trace's same-block count, and the gap is the twins.
 */
struct temps {
	long long heaptrack, full, full_same_block, sampled;
};

#define HEAPTRACK "/usr/bin/heaptrack"
#define HEAPTRACK_PRINT "/usr/bin/heaptrack_print"

static void need_tool(const char *path)
{
	if (access(path, X_OK))
		cr_skip_test("%s is not installed (scripts/install-deps.sh)", path);
}

/* heaptrack_print's "temporary memory allocations: N" for argv under heaptrack. */
static long long heaptrack_temps(const char *const *argv)
{
	struct itest_run r = { .dir = "/tmp/pst-itest-ht.XXXXXX" };
	char out[PATH_MAX + 16], data[PATH_MAX + 16], txt[PATH_MAX + 16], *text, *p;
	char *cmd[ITEST_MAX_ARGS] = { HEAPTRACK, "-o", out };
	long long n = -1;
	int st;

	cr_assert(mkdtemp(r.dir));
	snprintf(out, sizeof(out), "%s/ht", r.dir);
	itest_argv_add(cmd, 3, argv);
	st = itest_spawn(cmd, NULL, NULL);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "heaptrack: %s", itest_wdesc(st));
	snprintf(data, sizeof(data), "%s/ht.zst", r.dir);
	snprintf(txt, sizeof(txt), "%s/ht.txt", r.dir);
	st = itest_spawn((char *[]){ HEAPTRACK_PRINT, "-f", data, "--print-peaks", "0",
				     "--print-allocators", "0", "--print-temporary", "0",
				     "--print-leaks", "0", NULL },
			 txt, NULL);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "heaptrack_print: %s", itest_wdesc(st));
	text = itest_slurp(txt, NULL);
	p = text ? strstr(text, "temporary memory allocations: ") : NULL;
	cr_assert(p && sscanf(p + 30, "%lld", &n) == 1, "heaptrack_print: %s", text);
	free(text);
	itest_cleanup(&r);
	return n;
}

/* One prestanda run of argv (opts: the mode): the JSON's temporaries and
 * the thread totals' same-block count. */
static void prestanda_temps(const char *const *opts, const char *const *argv, long long *json,
			    long long *same_block, const char *source)
{
	struct itest_run r;
	struct itest_report rep;
	struct pst_trace *t;
	char err[256];
	json_t *j;

	itest_run_program(&r, opts, argv);
	cr_assert(WIFEXITED(r.wstatus) && WEXITSTATUS(r.wstatus) == 0 && r.ntraces == 1,
		  "prestanda run: %s; %d traces; %s", itest_wdesc(r.wstatus), r.ntraces, r.err);
	j = itest_report_ok(&rep, r.traces[0]);
	*json = itest_int(j, "memory.temporary_allocations");
	cr_expect_str_eq(itest_str(j, "memory.temporary_source"), source);
	cr_assert_eq(pst_trace_open(r.traces[0], &t, err, sizeof(err)), 0, "%s", err);
	*same_block = 0;
	for (size_t i = 0; i < t->ntotals; i++) {
		cr_assert(t->totals[i].has_temporary);
		*same_block += (long long)t->totals[i].temporary;
	}
	pst_trace_close(t);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* |a - b| within slack, and a message saying how far apart they are. */
#define EXPECT_NEAR(a, b, slack, what)                                                     \
	cr_expect(llabs((a) - (b)) <= (slack), "%s: %s %lld, %s %lld (slack %lld)", what, #a, \
		  (long long)(a), #b, (long long)(b), (long long)(slack))

/*
 * The counts of argv under heaptrack, --full and sampled. A deterministic
 * program (exact) meets them exactly: --full is heaptrack's count but for
 * the one of heaptrack's own preload, and sampled is the --full trace's
 * same-block count. CPython's allocations move by a few between runs (its
 * environment differs under each tool): within 0.1% then (and one).
 */
static void temps_of(const char *what, const char *const *argv, bool exact)
{
	struct temps m;
	long long same;

	need_tool(HEAPTRACK);
	need_tool(HEAPTRACK_PRINT);
	m.heaptrack = heaptrack_temps(argv);
	prestanda_temps((const char *[]){ "--full", NULL }, argv, &m.full, &m.full_same_block,
			"events");
	prestanda_temps(NULL, argv, &m.sampled, &same, "thread totals");
	cr_expect_eq(same, m.sampled);
	cr_log_info("%s: heaptrack %lld, --full %lld (same block %lld), sampled %lld", what,
		    m.heaptrack, m.full, m.full_same_block, m.sampled);
	if (exact) {
		cr_expect(m.heaptrack - m.full == 0 || m.heaptrack - m.full == 1,
			  "%s: heaptrack %lld, --full %lld", what, m.heaptrack, m.full);
		cr_expect_eq(m.sampled, m.full_same_block, "%s: sampled %lld, --full's same block %lld",
			     what, m.sampled, m.full_same_block);
	} else {
		EXPECT_NEAR(m.full, m.heaptrack, 1 + m.heaptrack / 1000, what);
		EXPECT_NEAR(m.sampled, m.full_same_block, 1 + m.full_same_block / 1000, what);
	}
	/* the same-block frees are temporaries by heaptrack's rule too */
	cr_expect_leq(m.full_same_block, m.full, "%s", what);
}

/* scripts/workload-sqlite.sh 20000, run by sqlite3 from its -init file. */
Test(memory, temporaries_sqlite3_against_heaptrack, .timeout = 300)
{
	char sql[PATH_MAX];
	int st;

	need_tool("/usr/bin/sqlite3");
	itest_tmpfile(sql, sizeof(sql));
	st = itest_spawn((char *[]){ "/bin/sh", "scripts/workload-sqlite.sh", "20000", NULL }, sql,
			 NULL);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	temps_of("sqlite3",
		 (const char *[]){ "/usr/bin/sqlite3", "-batch", "-init", sql, ":memory:", NULL },
		 true);
	unlink(sql);
}

/* A 20,000-key JSON round trip in CPython, with its own allocator (pymalloc)
 * and with every object from malloc (PYTHONMALLOC=malloc). */
Test(memory, temporaries_python_against_heaptrack, .timeout = 300)
{
	const char *const py[] = { "/usr/bin/python3.11", "-c",
				   "import json\n"
				   "d = {str(i): [i, str(i)] for i in range(20000)}\n"
				   "json.loads(json.dumps(d))\n",
				   NULL };

	need_tool(py[0]);
	setenv("PYTHONHASHSEED", "0", 1);
	temps_of("python", py, false);
	setenv("PYTHONMALLOC", "malloc", 1);
	temps_of("python, PYTHONMALLOC=malloc", py, false);
	unsetenv("PYTHONMALLOC");
	unsetenv("PYTHONHASHSEED");
}
