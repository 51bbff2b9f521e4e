/* SPDX-License-Identifier: MIT */
/* At exit: which recorded live blocks are still reachable from the roots, as LeakSanitizer and valgrind find them. */
#include <link.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "pst.h"

/*
 * Conservative marking: every aligned word of the roots that points into a
 * live block (at its start or inside it) makes the block reachable, and the
 * reachable blocks are scanned in turn. The roots are the writable
 * segments of every loaded module (.data, .bss, and with them glibc's
 * stdio and atexit lists), the static TLS of the exiting thread, its stack
 * from the current frame up with its callee-saved registers spilled there,
 * and every other recorded thread's stack as a whole (their TLS sits at its
 * top). Those threads are not stopped, as LeakSanitizer stops them: their
 * registers are not read, and a pointer held only in one is missed; the
 * record says how many ran on. Memory that may vanish under us (another
 * thread's stack, a block of mmap size) is read with process_vm_readv,
 * which fails cleanly where a plain read would fault.
 */
#define CHUNK (64 * 1024)
#define BIG_BLOCK (64 * 1024)

struct scan {
	struct pst_leak_block *b; /* sorted by address */
	uint64_t cap, n, max_end;
	uint8_t *mark;
	uint32_t *work;
	uint64_t nwork;
	uint64_t *buf;            /* CHUNK bytes for safe reads */
	uint64_t self_lo, self_hi; /* this thread's stack, scanned apart */
	uint64_t running, unknown;
};

static int by_addr(const void *x, const void *y)
{
	const struct pst_leak_block *a = x, *b = y;

	return a->ptr < b->ptr ? -1 : a->ptr > b->ptr;
}

/* The block holding v, or -1: the last start at or below v, if v is inside. */
static int64_t find(const struct scan *s, uint64_t v)
{
	uint64_t lo = 0, hi = s->n;

	if (!s->n || v < s->b[0].ptr || v >= s->max_end)
		return -1;
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (s->b[mid].ptr <= v)
			lo = mid;
		else
			hi = mid;
	}
	if (v < s->b[lo].ptr + s->b[lo].size || v == s->b[lo].ptr)
		return (int64_t)lo;
	return -1;
}

/*
 * glibc's arena (main_arena in libc's .data: top, the bins) points at chunk
 * headers, and the header of the chunk after a block lies in the block's
 * last 8 usable bytes, inside the requested size when that is within 8 of
 * the chunk's (malloc(100): chunk 112, next header at +96). Such a word is
 * the allocator's, no reference of the program's: without this the block
 * allocated last before the top chunk is always "reachable".
 */
static bool next_chunk_header(const struct pst_leak_block *b, uint64_t v)
{
	if (v - b->ptr + 16 <= b->size)
		return false;
	return v == b->ptr + malloc_usable_size((void *)b->ptr) - 8;
}

static void scan_words(struct scan *s, const uint64_t *w, size_t nw)
{
	for (size_t i = 0; i < nw; i++) {
		int64_t k = find(s, w[i]);

		if (k >= 0 && !s->mark[k] && !next_chunk_header(&s->b[k], w[i])) {
			s->mark[k] = 1;
			s->work[s->nwork++] = (uint32_t)k;
		}
	}
}

/* [lo, hi) in this process, word-aligned, read directly. */
static void scan_direct(struct scan *s, uint64_t lo, uint64_t hi)
{
	lo = (lo + 7) & ~7ull;
	if (hi > lo)
		scan_words(s, (const uint64_t *)lo, (hi - lo) / 8);
}

/* The same through the kernel, chunk by chunk: a part that is not mapped
 * (any more) is skipped instead of faulting. */
static void scan_safe(struct scan *s, uint64_t lo, uint64_t hi)
{
	lo = (lo + 7) & ~7ull;
	for (uint64_t at = lo; at < hi; at += CHUNK) {
		uint64_t len = hi - at < CHUNK ? hi - at : CHUNK;
		struct iovec l = { s->buf, len }, r = { (void *)at, len };
		ssize_t got = process_vm_readv(getpid(), &l, 1, &r, 1, 0);

		if (got > 0)
			scan_words(s, s->buf, (size_t)got / 8);
	}
}

static void drain(struct scan *s)
{
	while (s->nwork) {
		const struct pst_leak_block *b = &s->b[s->work[--s->nwork]];

		if (b->size >= BIG_BLOCK)
			scan_safe(s, b->ptr, b->ptr + b->size);
		else
			scan_direct(s, b->ptr, b->ptr + b->size);
	}
}

static char own_marker;

static int module_roots(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct scan *s = arg;
	bool ours = false;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uint64_t lo = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && (uint64_t)&own_marker - lo < ph->p_memsz)
			ours = true;
	}
	if (ours) /* the profiler's own state is no root of the program's */
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uint64_t lo = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_W))
			scan_direct(s, lo, lo + ph->p_memsz);
		else if (ph->p_type == PT_TLS && info->dlpi_tls_data)
			scan_direct(s, (uint64_t)info->dlpi_tls_data,
				    (uint64_t)info->dlpi_tls_data + ph->p_memsz);
	}
	return 0;
}

static void thread_root(struct pst_thr *t, void *arg)
{
	struct scan *s = arg;

	if (t == pst_self || t->exited)
		return;
	if (t->stack_hi <= 1) {
		s->unknown++;
		return;
	}
	s->running++;
	scan_safe(s, t->stack_lo, t->stack_hi);
	drain(s);
}

/* This thread's stack from here up; the caller spilled the registers
 * into its own frame, which lies above this one. */
static __attribute__((noinline)) void self_root(struct scan *s, const void *from)
{
	scan_direct(s, (uint64_t)from, s->self_hi);
	drain(s);
}

static void *map(uint64_t bytes)
{
	void *p = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Sorted, each address once: two threads' tables may both hold one whose
 * frees raced with the copy: one of them is kept. */
static uint64_t dedup(struct pst_leak_block *b, uint64_t n)
{
	uint64_t k = 0;

	qsort(b, n, sizeof(*b), by_addr);
	for (uint64_t i = 0; i < n; i++) {
		if (k && b[k - 1].ptr == b[i].ptr)
			k--;
		b[k++] = b[i];
	}
	return k;
}

bool pst_leakscan_on;

/*
 * Sampled mode keeps no set of every live block, only of the sampled ones
 * with their sizes (sampled.c): those alone are looked for, and scanned in
 * turn. A sampled block reachable only through blocks that were not
 * sampled is then found lost; the report's figures are estimates, as every
 * sampled figure is, and it says so.
 */
static uint64_t copy_blocks(struct pst_leak_block *b, uint64_t cap)
{
	return pst_leakset_on ? pst_leakset_copy(b, cap) : pst_sampled_copy(b, cap);
}

static bool scan_setup(struct scan *s)
{
	uint64_t cap = s->cap =
		(pst_leakset_on ? pst_leakset_count() : pst_sampled_count()) + 1024;

	s->b = map(cap * sizeof(*s->b));
	s->mark = map(cap);
	s->work = map(cap * sizeof(*s->work));
	s->buf = map(CHUNK);
	if (!s->b || !s->mark || !s->work || !s->buf)
		return false;
	s->n = dedup(s->b, copy_blocks(s->b, cap));
	for (uint64_t i = 0; i < s->n; i++)
		if (s->b[i].ptr + s->b[i].size > s->max_end)
			s->max_end = s->b[i].ptr + s->b[i].size + (s->b[i].size == 0);
	return true;
}

static void scan_free(struct scan *s)
{
	uint64_t cap = s->cap;

	if (s->b)
		munmap(s->b, cap * sizeof(*s->b));
	if (s->mark)
		munmap(s->mark, cap);
	if (s->work)
		munmap(s->work, cap * sizeof(*s->work));
	if (s->buf)
		munmap(s->buf, CHUNK);
}

/* Write LEAK_SCAN and the shorter list as LEAK_PTR records, in BLOCKs of
 * this thread. */
static void emit(const struct scan *s, uint64_t t0)
{
	struct pst_thr *t = pst_self;
	uint64_t lost = 0, prev = 0, tid = t ? t->tid : (uint64_t)getpid();
	uint8_t *out = map(CHUNK + 128), *q;
	bool want;

	if (!out)
		return;
	for (uint64_t i = 0; i < s->n; i++)
		lost += !s->mark[i];
	want = lost * 2 > s->n; /* list the reachable ones: fewer */
	q = pst_enc_leak_scan(out, pst_now(), want, s->n, want ? s->n - lost : lost, s->running,
			      s->unknown, pst_now() - t0);
	for (uint64_t i = 0; i < s->n; i++) {
		if ((bool)s->mark[i] != want)
			continue;
		q = pst_enc_leak_ptr(q, s->b[i].ptr - prev);
		prev = s->b[i].ptr;
		if (q - out >= CHUNK) {
			pst_out_record(tid, pst_now(), out, (size_t)(q - out));
			q = out;
		}
	}
	if (q > out)
		pst_out_record(tid, pst_now(), out, (size_t)(q - out));
	munmap(out, CHUNK + 128);
}

static __attribute__((noinline)) void scan_all(struct scan *s, const void *from)
{
	dl_iterate_phdr(module_roots, s);
	drain(s);
	self_root(s, from);
	pst_thr_foreach(thread_root, s);
}

void pst_leak_scan(void)
{
	struct scan s = { 0 };
	struct pst_thr *t = pst_self;
	uint64_t t0 = pst_now();
	jmp_buf regs;

	if (!pst_leakscan_on || !t)
		return;
	if (t->stack_hi <= 1)
		pst_stack_bounds(t);
	s.self_hi = t->stack_hi > 1 ? t->stack_hi : (uint64_t)&regs;
	__builtin_unwind_init();
	if (scan_setup(&s) && !setjmp(regs)) {
		scan_all(&s, &regs);
		emit(&s, t0);
	}
	scan_free(&s);
}
