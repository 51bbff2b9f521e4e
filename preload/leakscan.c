/* SPDX-License-Identifier: MIT */
/* At exit, and on demand while the program runs: which recorded live blocks are still reachable from the roots, as LeakSanitizer and valgrind find them. */
#include <fcntl.h>
#include <link.h>
#include <malloc.h>
#include <sched.h>
#include <setjmp.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "pst.h"
#include "scanctl.h"

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

/* prestanda scan PID writes requested (through /proc, with ptrace's
 * rights), then waits for done to reach it (scanctl.h). */
__attribute__((visibility("default"))) volatile struct pst_scan_ctl pst_scan_ctl = {
	.magic = PST_SCAN_MAGIC
};
#define BIG_BLOCK (64 * 1024)
#define MAX_STACKS 4096

struct scan {
	struct pst_leak_block *b; /* sorted by address */
	uint64_t cap, n, max_end;
	uint8_t *mark;
	uint32_t *work;
	uint64_t nwork;
	uint64_t *buf;            /* CHUNK bytes for safe reads */
	uint64_t self_lo, self_hi; /* this thread's stack, scanned apart */
	uint64_t running, unknown;
	uint64_t copied_ts;       /* when the live blocks were copied */
	bool on_demand;           /* from the timer thread, the program running */
	struct stack {
		uint64_t tid, lo, hi;
	} *stacks;                /* on demand: the threads' stacks to scan */
	uint64_t nstacks;
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

/* A copy of n bytes at addr, through the kernel: false where it is not
 * mapped (any more). */
static bool read_safe(void *to, uint64_t addr, size_t n)
{
	struct iovec l = { to, n }, r = { (void *)addr, n };

	return process_vm_readv(getpid(), &l, 1, &r, 1, 0) == (ssize_t)n;
}

/*
 * malloc_usable_size, at exit. On demand the block may be freed (and its
 * heap trimmed) under us: its chunk's size word is read safely instead,
 * and read as glibc lays it out (mmapped chunks, bit 1, carry 16 bytes of
 * header, the others 8).
 */
static uint64_t usable_size(const struct scan *s, uint64_t p)
{
	uint64_t sz;

	if (!s->on_demand)
		return malloc_usable_size((void *)p);
	if (!read_safe(&sz, p - 8, sizeof(sz)) || (sz & ~7ull) < 16)
		return 0;
	return (sz & ~7ull) - (sz & 2 ? 16 : 8);
}

/*
 * glibc's arena (main_arena in libc's .data: top, the bins) points at chunk
 * headers, and the header of the chunk after a block lies in the block's
 * last 8 usable bytes, inside the requested size when that is within 8 of
 * the chunk's (malloc(100): chunk 112, next header at +96). Such a word is
 * the allocator's, no reference of the program's: without this the block
 * allocated last before the top chunk is always "reachable".
 */
static bool next_chunk_header(const struct scan *s, const struct pst_leak_block *b, uint64_t v)
{
	if (v - b->ptr + 16 <= b->size)
		return false;
	return v == b->ptr + usable_size(s, b->ptr) - 8;
}

static void scan_words(struct scan *s, const uint64_t *w, size_t nw)
{
	for (size_t i = 0; i < nw; i++) {
		int64_t k = find(s, w[i]);

		if (k >= 0 && !s->mark[k] && !next_chunk_header(s, &s->b[k], w[i])) {
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

/* On demand: up to BATCH small blocks of the work list read in one call
 * into buf, then scanned. A block freed and unmapped meanwhile ends the
 * call at its element (the kernel never splits one): those before it are
 * scanned, it is skipped, the call goes on from the next. */
#define BATCH 64

static void read_batch(struct scan *s, struct iovec *l, struct iovec *r, unsigned n)
{
	for (unsigned at = 0; at < n;) {
		ssize_t got = process_vm_readv(getpid(), l + at, n - at, r + at, n - at, 0);

		for (; at < n && got >= (ssize_t)l[at].iov_len; got -= (ssize_t)l[at++].iov_len)
			scan_words(s, l[at].iov_base, l[at].iov_len / 8);
		at++; /* the one that failed, if any */
	}
}

static void drain_batched(struct scan *s)
{
	struct iovec l[BATCH], r[BATCH];
	unsigned n = 0;
	size_t used = 0;

	while (s->nwork) {
		while (s->nwork) {
			const struct pst_leak_block *b = &s->b[s->work[s->nwork - 1]];
			size_t len = b->size & ~7ull;
			bool big = len > CHUNK / 4;

			if (n && (n == BATCH || used + len > CHUNK || big)) { /* the batch first */
				read_batch(s, l, r, n);
				n = 0;
				used = 0;
			}
			s->nwork--;
			if (big) { /* alone, through buf, which no batch holds now */
				scan_safe(s, b->ptr, b->ptr + b->size);
				continue;
			}
			l[n] = (struct iovec){ (uint8_t *)s->buf + used, len };
			r[n++] = (struct iovec){ (void *)b->ptr, len };
			used += len;
		}
		read_batch(s, l, r, n); /* may find more work */
		n = 0;
		used = 0;
	}
}

static void drain(struct scan *s)
{
	if (s->on_demand) /* any block may be freed and its memory gone meanwhile */
		drain_batched(s);
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
		else if (ph->p_type == PT_TLS && info->dlpi_tls_data && !s->on_demand)
			scan_direct(s, (uint64_t)info->dlpi_tls_data,
				    (uint64_t)info->dlpi_tls_data + ph->p_memsz);
	}
	return 0;
}

/*
 * On demand, the stack pointer of a thread blocked in a system call, as
 * the kernel shows it ("NR ARG1..ARG6 SP PC"; "-1 SP PC" when it is
 * stopped outside one), read without stopping it; 0 when it runs. Below
 * it lie dead frames (the hooks' own, the calls that dropped a pointer),
 * whose stale words would keep lost blocks "reachable".
 */
static uint64_t blocked_sp(uint64_t tid)
{
	char path[64], buf[512];
	uint64_t v[10];
	unsigned n = 0;
	ssize_t got;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%llu/syscall", (unsigned long long)tid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (got <= 0 || buf[0] == 'r') /* "running" */
		return 0;
	buf[got] = 0;
	for (char *p = buf, *end; n < 10; p = end) {
		v[n] = strtoull(p, &end, 0);
		if (end == p)
			break;
		n++;
	}
	if (n == 3 && (int64_t)v[0] == -1)
		return v[1];
	return n == 9 ? v[7] : 0;
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
	if (s->on_demand) { /* scanned after the registry's lock is let go */
		if (s->nstacks < MAX_STACKS)
			s->stacks[s->nstacks++] = (struct stack){ t->tid, t->stack_lo, t->stack_hi };
		return;
	}
	scan_safe(s, t->stack_lo, t->stack_hi);
	drain(s);
}

/* On demand: the threads' stacks noted under the registry's lock, which
 * thread creation and exit take, scanned once it is free again. A thread
 * that ended meanwhile has its stack read safely, if still mapped. */
static void scan_stacks(struct scan *s)
{
	for (uint64_t i = 0; i < s->nstacks; i++) {
		const struct stack *k = &s->stacks[i];
		uint64_t sp = blocked_sp(k->tid);

		scan_safe(s, sp > k->lo && sp < k->hi ? sp : k->lo, k->hi);
		drain(s);
	}
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
	if (s->on_demand && !(s->stacks = map(MAX_STACKS * sizeof(*s->stacks))))
		return false;
	if (!s->b || !s->mark || !s->work || !s->buf)
		return false;
	s->copied_ts = pst_now();
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
	if (s->stacks)
		munmap(s->stacks, MAX_STACKS * sizeof(*s->stacks));
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
	/* on demand (flags bit 1): the time the live blocks were copied, the
	 * moment whose live set the analyzer matches the list against */
	q = pst_enc_leak_scan(out, s->on_demand ? s->copied_ts : pst_now(),
			      want | (s->on_demand ? 2u : 0u), s->n, want ? s->n - lost : lost,
			      s->running, s->unknown, pst_now() - t0);
	pst_scan_ctl.blocks = s->n;
	pst_scan_ctl.lost = lost;
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

static void scan_at_exit(struct pst_thr *t)
{
	struct scan s = { 0 };
	uint64_t t0 = pst_now();
	jmp_buf regs;

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

/* One scan at a time: the exit's waits for one on demand to end. */
static int busy;

static bool scan_try(void)
{
	return !__atomic_exchange_n(&busy, 1, __ATOMIC_ACQUIRE);
}

static void scan_done(void)
{
	__atomic_store_n(&busy, 0, __ATOMIC_RELEASE);
}

void pst_leak_scan(void)
{
	struct pst_thr *t = pst_self;

	if (!pst_leakscan_on || !t)
		return;
	while (!scan_try())
		sched_yield();
	scan_at_exit(t);
	scan_done();
}

/* The program runs on: the roots are the modules' data and every
 * recorded thread's stack (from its stack pointer when it is blocked in
 * the kernel), not the timer thread's own. */
static void scan_running(struct scan *s)
{
	dl_iterate_phdr(module_roots, s);
	drain(s);
	pst_thr_foreach(thread_root, s);
	scan_stacks(s);
}

/* A block either scan reached is reachable: a pointer the program moved
 * while one scan read past both of its places is seen by the other. A
 * block copied the second time only has that scan's word alone. */
static void keep_reached(const struct scan *a, struct scan *b)
{
	for (uint64_t i = 0; i < b->n; i++) {
		int64_t k = b->mark[i] ? -1 : find(a, b->b[i].ptr);

		if (k >= 0 && a->b[k].ptr == b->b[i].ptr && a->mark[k])
			b->mark[i] = 1;
	}
}

static void scan_on_demand(void)
{
	struct scan a = { .on_demand = true }, b = { .on_demand = true };
	uint64_t t0 = pst_now();

	if (scan_setup(&a)) {
		scan_running(&a);
		if (scan_setup(&b)) {
			scan_running(&b);
			keep_reached(&a, &b);
			emit(&b, t0);
		}
	}
	scan_free(&a);
	scan_free(&b);
}

/* From the timer thread's loop: a scan was asked for. */
void pst_leak_scan_pending(void)
{
	uint64_t want = __atomic_load_n(&pst_scan_ctl.requested, __ATOMIC_ACQUIRE);

	if (want == pst_scan_ctl.done || !pst_leakscan_on || pst_state != PST_ON || !scan_try())
		return;
	scan_on_demand();
	__atomic_store_n(&pst_scan_ctl.done, want, __ATOMIC_RELEASE);
	scan_done();
}
