/* SPDX-License-Identifier: MIT */
/* make bench's floor: the least an LD_PRELOAD malloc interposer can cost (a counter, a countdown, a jump on); never shipped. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>

/*
 * What every interposer pays and nothing more: one initial-exec TLS
 * block, a call counter and a byte countdown bumped per call, and a tail
 * call through a pointer dlsym(RTLD_NEXT) gave once. Nothing is recorded:
 * the countdown crossing zero only draws the next one. The distance of
 * prestanda's sampled mode to this is what its own work costs.
 */
struct floor_tls {
	uint64_t calls;
	int64_t countdown;
};
static __thread struct floor_tls tls __attribute__((tls_model("initial-exec")));

static void *(*real_malloc)(size_t);
static void (*real_free)(void *);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);

/* dlsym's own allocations (calloc) come before real_calloc is known: a
 * small static arena serves them, and free ignores what it handed out. */
static unsigned char arena[4096] __attribute__((aligned(16)));
static size_t arena_used;

static void *arena_alloc(size_t n)
{
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (arena_used + n > sizeof(arena))
		return NULL;
	p = arena + arena_used;
	arena_used += n;
	return p;
}

static int in_arena(const void *p)
{
	return (uintptr_t)p - (uintptr_t)arena < sizeof(arena);
}

static int resolving;

__attribute__((constructor)) static void resolve(void)
{
	if (real_free)
		return;
	resolving = 1;
	real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
	real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
	real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
	real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
	resolving = 0;
}

/* the same per-call work as prestanda's fast path, without its records */
static inline void count(size_t size)
{
	tls.calls++;
	if (__builtin_expect((tls.countdown -= (int64_t)size) < 0, 0))
		tls.countdown = 512 * 1024;
}

void *malloc(size_t size)
{
	if (__builtin_expect(!real_malloc, 0)) {
		if (resolving)
			return arena_alloc(size);
		resolve();
	}
	count(size);
	return real_malloc(size);
}

void free(void *p)
{
	if (__builtin_expect(in_arena(p), 0))
		return;
	tls.calls++;
	real_free(p);
}

void *calloc(size_t n, size_t size)
{
	if (__builtin_expect(!real_calloc, 0)) {
		if (resolving)
			return arena_alloc(n * size); /* zero: static, never reused */
		resolve();
	}
	count(n * size);
	return real_calloc(n, size);
}

void *realloc(void *old, size_t size)
{
	if (__builtin_expect(!real_realloc, 0))
		resolve();
	count(size);
	return real_realloc(old, size);
}
