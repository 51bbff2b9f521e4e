/* SPDX-License-Identifier: MIT */
/* Stack capture with libunwind, deduplicated through per-thread caches and the stack table. */
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "pst.h"
#include "stacktab.h"

void pst_stacks_init(void)
{
	int counted = pst_unw_enter(); /* libunwind's first call makes its pipe: fds.c */

	unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
	pst_unw_leave(counted);
	/* libunwind's default of 128 remembered frame descriptions is far
	 * below a real program's call sites; each miss costs two signal mask
	 * syscalls and a dl_iterate_phdr walk */
	unw_set_cache_size(unw_local_addr_space, 8192, 0);
	pst_stacktab_init();
}

/* New stack: the modules its frames lie in are written first, then the
 * STACK, both into this thread's buffer. */
static __attribute__((noinline)) uint32_t insert(struct pst_thr *t, uint64_t h,
						  const uint64_t *f, unsigned depth)
{
	bool added;
	uint32_t id;

	pst_modules_cover(t, f, depth);
	id = pst_stacktab_add(h, f, depth, &added);
	if (added)
		t->pos = pst_enc_stack(pst_thr_room(t, pst_stack_rec_max(depth)), id, f, depth);
	return id;
}

/* The id of frames f (hash h): the per-thread cache of frame hashes, then
 * the table. */
static uint32_t stack_id(struct pst_thr *t, uint64_t h, const uint64_t *f, unsigned depth)
{
	uint32_t id, slot = h & 255;

	if (t->cache_hash[slot] == h)
		return t->cache_id[slot];
	id = pst_stacktab_find(h, f, depth);
	if (!id)
		id = insert(t, h, f, depth);
	if (id) {
		t->cache_hash[slot] = h;
		t->cache_id[slot] = id;
	}
	return id;
}

/* Frames by libunwind's fast trace over cached unwind tables, innermost
 * first, without the preload's own. */
static unsigned backtrace_frames(uint64_t *f)
{
	_Static_assert(sizeof(void *) == sizeof(uint64_t), "frames are stored as pointers");
	void *raw[PST_MAX_DEPTH + 8];
	unsigned skip = 0, depth;
	int n;

	int counted;

	if (unlikely(pst_self && pst_self->sealed))
		return 0; /* unwinding makes system calls (hook_sandbox.c) */
	counted = pst_unw_enter();
	if (counted < 0)
		return 0;
	n = unw_backtrace(raw, PST_MAX_DEPTH + 8);
	pst_unw_leave(counted);

	while (skip < (unsigned)n && pst_modules_own((uintptr_t)raw[skip]))
		skip++;
	depth = (unsigned)n - skip;
	if (depth > PST_MAX_DEPTH)
		depth = PST_MAX_DEPTH;
	memcpy(f, raw + skip, depth * sizeof(*f));
	return depth;
}

/* A thread that may make no system call (seccomp strict mode): the
 * hook's caller alone, without unwinding. */
static __attribute__((noinline)) uint32_t sealed_stack(struct pst_thr *t, uint64_t ra)
{
	return stack_id(t, pst_stacktab_hash(&ra, 1), &ra, 1);
}

uint32_t pst_stack_capture(struct pst_thr *t)
{
	uint64_t f[PST_MAX_DEPTH];
	unsigned depth = backtrace_frames(f);

	return stack_id(t, pst_stacktab_hash(f, depth), f, depth);
}

/*
 * Where return addresses may be read: this thread's own stack. A program
 * that runs on stacks of its own (coroutines, sigaltstack) gets no cache
 * there, never a read of memory that may be gone.
 *
 * Never through pthread_getattr_np from a hook: glibc calls realloc (and,
 * for the main thread, stdio) while holding the thread's own lock there,
 * and a hook that asked again would wait on that lock forever (the JVM
 * does this on every thread). It is asked once, at the start of threads
 * our pthread_create wrapper runs, where no lock is held; any other thread
 * (the main one, threads made before us or by clone) looks up the mapping
 * its stack pointer lies in, with plain system calls.
 */
static __thread uintptr_t known_lo, known_hi;

void pst_stack_bounds_at_start(void)
{
	int guard = pst_guard;
	pthread_attr_t a;
	void *addr;
	size_t size;

	pst_guard = 1;
	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		if (!pthread_attr_getstack(&a, &addr, &size)) {
			known_lo = (uintptr_t)addr;
			known_hi = (uintptr_t)addr + size;
		}
		pthread_attr_destroy(&a);
	}
	pst_guard = guard;
}

/* Parse one hexadecimal number at *p, stopping at the first other byte. */
static uintptr_t hex_at(const char **p, const char *end)
{
	uintptr_t v = 0;

	for (; *p < end; (*p)++) {
		char c = **p;
		unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0') :
			     c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 16u;
		if (d > 15)
			break;
		v = v << 4 | d;
	}
	return v;
}

/* The mapping of /proc/self/maps that holds addr: open, read and close
 * only (safe in a signal handler, no allocation, no lock). */
static bool mapping_of(uintptr_t addr, uintptr_t *lo, uintptr_t *hi)
{
	char buf[4096];
	size_t have = 0;
	bool found = false;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - have);
		const char *p = buf, *end, *nl;

		if (n <= 0)
			break;
		end = buf + have + n;
		while (!found && (nl = memchr(p, '\n', (size_t)(end - p)))) {
			uintptr_t a = hex_at(&p, nl), b;

			p++; /* '-' */
			b = hex_at(&p, nl);
			if (addr >= a && addr < b) {
				*lo = a;
				*hi = b;
				found = true;
			}
			p = nl + 1;
		}
		if (found)
			break;
		have = (size_t)(end - p);
		memmove(buf, p, have);
		if (have == sizeof(buf))
			have = 0; /* a line longer than the buffer: not a stack's */
	}
	close(fd);
	return found;
}

void pst_stack_bounds(struct pst_thr *t)
{
	uintptr_t lo, hi;

	t->stack_lo = t->stack_hi = 1; /* unknown: no cache */
	if (known_hi) {
		t->stack_lo = known_lo;
		t->stack_hi = known_hi;
	} else if (mapping_of((uintptr_t)__builtin_frame_address(0), &lo, &hi)) {
		t->stack_lo = lo;
		t->stack_hi = hi;
	}
}

/* Frames and the stack pointer of each, by stepping; the return address
 * of frame i was read from sp[i] - 8 (x86-64: the call pushes it there). */
static unsigned unwind_with_sp(uint64_t *ip, uint64_t *sp)
{
	unw_context_t uc;
	unw_cursor_t c;
	unsigned n = 0;
	bool own = true;

	int counted = pst_unw_enter();

	if (counted < 0 || unw_getcontext(&uc) || unw_init_local(&c, &uc))
		goto out;
	while (n < PST_MAX_DEPTH) {
		unw_word_t pc, s;

		if (unw_get_reg(&c, UNW_REG_IP, &pc) || !pc || unw_get_reg(&c, UNW_REG_SP, &s))
			break;
		if (!own || !pst_modules_own(pc)) {
			own = false;
			ip[n] = pc;
			sp[n++] = s;
		}
		if (unw_step(&c) <= 0)
			break;
	}
out:
	pst_unw_leave(counted);
	return n;
}

static struct pst_scache *scache_slot(struct pst_thr *t, uint64_t ra, uintptr_t cfa)
{
	_Static_assert((PST_SCACHE & (PST_SCACHE - 1)) == 0, "a power of two");
	return &t->scache[((ra ^ (cfa >> 4)) * 0x9E3779B97F4A7C15ull) >> 57 & (PST_SCACHE - 1)];
}

/* Find the slots of stack f by stepping; keep them when the walk agrees
 * with f and stayed on this thread's stack above the hook. */
static void scache_fill(struct pst_thr *t, struct pst_scache *e, const uint64_t *f,
			unsigned depth, uint32_t id)
{
	uintptr_t cfa = e->cfa;
	bool ok;

	ok = unwind_with_sp(e->frame, e->sp) == depth && e->sp[0] == cfa &&
	     !memcmp(e->frame, f, depth * sizeof(*f));
	for (unsigned i = 1; ok && i < depth; i++)
		ok = e->sp[i] > cfa && e->sp[i] <= t->stack_hi;
	e->id = id;
	e->depth = ok ? depth : 0;
}

/*
 * The same call site at the same stack depth almost always has the same
 * callers. The check is exact all the same: frame i's return address must
 * still be in its slot on the stack, for every frame. A caller that changed
 * has written its own return address there.
 */
static bool scache_valid(const struct pst_scache *e, uint64_t ra, uintptr_t cfa)
{
	if (e->ra != ra || e->cfa != cfa || !e->depth)
		return false;
	for (unsigned i = 1; i < e->depth; i++)
		if (*(const uint64_t *)(uintptr_t)(e->sp[i] - 8) != e->frame[i])
			return false;
	return true;
}

/* A walk (libunwind's unw_step, with a dl_iterate_phdr and two signal mask
 * syscalls per frame) costs as much as hundreds of fast traces: after a
 * short trial, a thread whose walks earn fewer hits than that stops
 * walking. A hot loop earns millions; sqlite3 earns about 50 (measured). */
#define SCACHE_TRIAL 16
#define SCACHE_HITS_PER_WALK 1000

static bool scache_pays(const struct pst_thr *t)
{
	return t->scache_walks < SCACHE_TRIAL ||
	       t->scache_hits >= SCACHE_HITS_PER_WALK * t->scache_walks;
}

/*
 * A miss costs the fast trace. Only a stack that comes back to the same key
 * is worth the slower walk that finds its slots, after which it costs a
 * check. A key whose walks did not pay (stacks alternate there) asks for
 * longer runs of one stack before the next walk, up to 64.
 */
uint32_t pst_stack_capture_at(struct pst_thr *t, const void *cfa_p)
{
	uintptr_t cfa = (uintptr_t)cfa_p;
	uint64_t ra = *((const uint64_t *)cfa_p - 1);
	uint64_t f[PST_MAX_DEPTH], h;
	struct pst_scache *e;
	unsigned depth;
	uint32_t id;

	if (unlikely(!t->stack_hi) && !t->sealed)
		pst_stack_bounds(t);
	if (cfa <= t->stack_lo || cfa >= t->stack_hi || !pst_cfg.stack_cache)
		return unlikely(t->sealed) ? sealed_stack(t, ra) : pst_stack_capture(t);
	e = scache_slot(t, ra, cfa);
	if (scache_valid(e, ra, cfa)) {
		e->hits++;
		t->scache_hits++;
		return e->id;
	}
	if (unlikely(t->sealed))
		return sealed_stack(t, ra);

	depth = backtrace_frames(f);
	h = pst_stacktab_hash(f, depth);
	id = stack_id(t, h, f, depth);
	if (e->ra != ra || e->cfa != cfa) { /* a new key takes the slot */
		e->ra = ra;
		e->cfa = cfa;
		e->need = 1;
		e->streak = 0;
	} else if (e->depth && e->hits < 8 && e->need < 64) {
		e->need *= 2; /* the last walk did not pay */
	}
	e->depth = 0;
	e->streak = e->last_hash == h ? e->streak + 1 : 0;
	e->last_hash = h;
	if (e->streak >= e->need && id && scache_pays(t)) {
		t->scache_walks++;
		scache_fill(t, e, f, depth, id);
		e->hits = 0;
		e->streak = 0;
	}
	return id;
}

void pst_stacks_lock(bool lock)
{
	pst_stacktab_lock(lock);
	pst_unw_lock(lock);
}

/* A forked child's trace starts with no stacks: ids start over. */
void pst_stacks_reset(void)
{
	pst_stacktab_init();
	pst_unw_after_fork();
}
