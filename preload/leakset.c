/* SPDX-License-Identifier: MIT */
/* The recorded live blocks with their sizes, kept in the process so that exit can tell the reachable ones from the lost. */
#include <sys/mman.h>

#include "pst.h"

/*
 * The analyzer rebuilds the live set from the trace, but the reachability
 * scan (leakscan.c) must run in the process, at exit, while the memory is
 * there to read. Walking glibc's arenas would find the blocks without any
 * cost on the way, but it depends on glibc's inner layout and cannot tell
 * a cached free chunk (tcache, fastbins) from a live one. So the hooks that
 * record a block also note it here. Only blocks the trace records are kept
 * (every block with --full), so the two sets agree.
 *
 * Each thread keeps the blocks it allocated in a table of its own, written
 * by it alone: open addressing, deleted by backward shift (no tombstones),
 * no lock and no atomic on the way (a shared table under 64 spin locks cost
 * --full half its speed). A block freed by another thread than the one that
 * holds it is not in the freeing thread's table: that free goes to a shared
 * set of remote frees (address -> generation, under spin locks), and only
 * such frees touch anything shared. The generation, a counter bumped by
 * each remote free, orders a table's entry against a remote free of the
 * same address: the entry stands unless a remote free came after it (a
 * higher generation). A thread that frees its own entry removes it; if any
 * remote free happened since the entry was made, the entry may be stale
 * (freed elsewhere, and the address given to a third thread since), so the
 * free is also noted as a remote one. Exit merges the tables, each read
 * while its owner is held out of the hooks (pst_thr_quiet_foreach).
 *
 * The first tables are carved from one mapping made at init: mapped one by
 * one as threads first allocated, they took the holes a dlclose had just
 * left, so a library opened again landed elsewhere, its range overlapping
 * the one an earlier load of it had written (the analyzer keeps the first
 * of two overlapping modules: the library's frames went unsymbolized).
 */
#define FIRST_CAP 1024
#define POOL 64
#define SHARDS 64
#define REMOTE_FIRST 256

/* An entry in 16 bytes: the address and the size in the low 48 bits of
 * each word (no user address or block size needs more), the 32 bits of
 * the generation above them. 0: empty. */
#define LOW48 ((1ull << 48) - 1)

struct lent {
	uint64_t pw, sw;
};

static inline uint64_t ent_ptr(const struct lent *x)
{
	return x->pw & LOW48;
}

static inline uint32_t ent_gen(const struct lent *x)
{
	return (uint32_t)((x->pw >> 48) << 16 | x->sw >> 48);
}

static inline struct lent ent_make(uint64_t p, uint64_t size, uint32_t g)
{
	return (struct lent){ p | (uint64_t)(g >> 16) << 48,
			      (size > LOW48 ? LOW48 : size) | (uint64_t)(g & 0xffff) << 48 };
}

struct pst_leaks {
	uint64_t cap, n;        /* cap: a power of two */
	struct lent *e;
	struct pst_leaks *next; /* every table, for a forked child to drop */
	bool pooled;
	struct lent first[FIRST_CAP];
};

/* The remote frees: address -> the generation of its last remote free. */
struct shard {
	int lock;
	uint32_t pad;
	uint64_t cap, n;
	struct pst_leak_block *tab; /* size: the generation */
} __attribute__((aligned(64)));

static struct shard shards[SHARDS];
static struct pst_leak_block *first_remote; /* SHARDS * REMOTE_FIRST, from init */
static struct pst_leaks *pool, *all;
static unsigned pool_used;
static int all_lock;
static uint64_t gen; /* remote frees so far */
bool pst_leakset_on;

static inline uint64_t hash_of(uint64_t p)
{
	return (p >> 4) * 0x9E3779B97F4A7C15ull;
}

static inline void take(int *lock)
{
	while (__atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(lock, __ATOMIC_RELAXED))
			__builtin_ia32_pause();
}

static inline void drop(int *lock)
{
	__atomic_store_n(lock, 0, __ATOMIC_RELEASE);
}

static void *map(size_t bytes)
{
	void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return m == MAP_FAILED ? NULL : m;
}

/* ---- the remote frees ---- */

/* True when p was not there yet. */
static bool remote_put(struct pst_leak_block *tab, uint64_t cap, uint64_t p, uint64_t g)
{
	uint64_t i = hash_of(p) & (cap - 1);
	bool fresh;

	while (tab[i].ptr && tab[i].ptr != p)
		i = (i + 1) & (cap - 1);
	fresh = !tab[i].ptr;
	tab[i].ptr = p;
	if (tab[i].size < g)
		tab[i].size = g;
	return fresh;
}

static bool remote_first(const struct shard *s)
{
	return first_remote && s->tab >= first_remote && s->tab < first_remote + SHARDS * REMOTE_FIRST;
}

/* Each shard's first table, empty, in the one mapping made at init. */
static void give_remote_first(void)
{
	for (int k = 0; k < SHARDS; k++)
		shards[k] = (struct shard){ .cap = first_remote ? REMOTE_FIRST : 0,
					    .tab = first_remote ? first_remote + k * REMOTE_FIRST : NULL };
}

static bool remote_grow(struct shard *s)
{
	uint64_t cap = s->cap ? s->cap * 2 : REMOTE_FIRST;
	struct pst_leak_block *t = map(cap * sizeof(*t));

	if (!t)
		return false;
	for (uint64_t i = 0; i < s->cap; i++)
		if (s->tab[i].ptr)
			remote_put(t, cap, s->tab[i].ptr, s->tab[i].size);
	if (s->tab && !remote_first(s))
		munmap(s->tab, s->cap * sizeof(*t));
	s->tab = t;
	s->cap = cap;
	return true;
}

/* A free not of the freeing thread's own live entry: noted with a new
 * generation, which no entry made before it has reached. */
static void remote_free(uint64_t p)
{
	struct shard *s = &shards[hash_of(p) >> 58];
	uint64_t g = __atomic_add_fetch(&gen, 1, __ATOMIC_RELAXED);

	take(&s->lock);
	if ((s->n + 1) * 2 <= s->cap || remote_grow(s))
		s->n += remote_put(s->tab, s->cap, p, g);
	drop(&s->lock);
}

/* Whether p was freed remotely after generation g (of 32 bits: compared
 * as serial numbers, right while they are less than 2^31 apart). */
static bool remote_after(uint64_t p, uint32_t g)
{
	struct shard *s = &shards[hash_of(p) >> 58];
	bool after = false;

	take(&s->lock);
	for (uint64_t i = hash_of(p) & (s->cap - 1); s->cap && s->tab[i].ptr;
	     i = (i + 1) & (s->cap - 1))
		if (s->tab[i].ptr == p) {
			after = (int32_t)((uint32_t)s->tab[i].size - g) > 0;
			break;
		}
	drop(&s->lock);
	return after;
}

/* ---- a thread's own table ---- */

static void put(struct lent *tab, uint64_t cap, const struct lent *x)
{
	uint64_t i = hash_of(ent_ptr(x)) & (cap - 1);

	while (tab[i].pw && ent_ptr(&tab[i]) != ent_ptr(x))
		i = (i + 1) & (cap - 1);
	tab[i] = *x;
}

static struct pst_leaks *table_new(void)
{
	unsigned k = __atomic_fetch_add(&pool_used, 1, __ATOMIC_RELAXED);
	struct pst_leaks *l = pool && k < POOL ? &pool[k] : map(sizeof(*l));

	if (!l)
		return NULL;
	l->pooled = pool && k < POOL;
	l->cap = FIRST_CAP;
	l->e = l->first;
	take(&all_lock);
	l->next = all;
	all = l;
	drop(&all_lock);
	return l;
}

/* Twice the room; false when the memory cannot be had (the block is then
 * not kept: it would count as lost only if it is not reachable anyway). */
static bool grow(struct pst_leaks *l)
{
	uint64_t cap = l->cap * 2;
	struct lent *t = map(cap * sizeof(*t));

	if (!t)
		return false;
	for (uint64_t i = 0; i < l->cap; i++)
		if (l->e[i].pw)
			put(t, cap, &l->e[i]);
	if (l->e != l->first)
		munmap(l->e, l->cap * sizeof(*t));
	l->e = t;
	l->cap = cap;
	return true;
}

/* Sampled mode scans too, for the sampled blocks alone (leakscan.c). */
void pst_leakset_init(bool on)
{
	pst_leakscan_on = true;
	pst_leakset_on = on;
	if (!on)
		return;
	pool = map(POOL * sizeof(*pool));
	first_remote = map(SHARDS * REMOTE_FIRST * sizeof(*first_remote));
	give_remote_first();
}

void pst_leakset_add_slow(struct pst_thr *t, uint64_t p, uint64_t size)
{
	struct pst_leaks *l = t->leaks;
	struct lent x = ent_make(p, size, (uint32_t)__atomic_load_n(&gen, __ATOMIC_RELAXED));

	if (p > LOW48 || (!l && !(l = t->leaks = table_new())))
		return; /* no such address from malloc: not kept */
	if ((l->n + 1) * 2 > l->cap && !grow(l))
		return;
	for (uint64_t i = hash_of(p) & (l->cap - 1); l->e[i].pw; i = (i + 1) & (l->cap - 1))
		if (ent_ptr(&l->e[i]) == p) {
			l->e[i] = x; /* a stale entry: this block replaces it */
			return;
		}
	put(l->e, l->cap, &x);
	l->n++;
}

/* Backward shift: the entries after the hole that hash at or before it
 * move into it, so that every probe sequence stays unbroken. */
static void del_at(struct pst_leaks *l, uint64_t i)
{
	uint64_t mask = l->cap - 1;

	for (uint64_t j = (i + 1) & mask; l->e[j].pw; j = (j + 1) & mask) {
		uint64_t home = hash_of(ent_ptr(&l->e[j])) & mask;

		if (((j - home) & mask) >= ((j - i) & mask)) {
			l->e[i] = l->e[j];
			i = j;
		}
	}
	l->e[i].pw = 0;
	l->n--;
}

void pst_leakset_del_slow(struct pst_thr *t, uint64_t p)
{
	struct pst_leaks *l = t->leaks;

	for (uint64_t i = l ? hash_of(p) & (l->cap - 1) : 0; l && l->e[i].pw;
	     i = (i + 1) & (l->cap - 1)) {
		if (ent_ptr(&l->e[i]) != p)
			continue;
		if (ent_gen(&l->e[i]) != (uint32_t)__atomic_load_n(&gen, __ATOMIC_RELAXED))
			remote_free(p); /* the entry may be stale: tell the others too */
		del_at(l, i);
		return;
	}
	remote_free(p);
}

/* ---- at exit ---- */

uint64_t pst_leakset_count(void)
{
	uint64_t n = 0;

	take(&all_lock);
	for (struct pst_leaks *l = all; l; l = l->next)
		n += __atomic_load_n(&l->n, __ATOMIC_RELAXED);
	drop(&all_lock);
	return n;
}

struct copy {
	struct pst_leak_block *out;
	uint64_t max, n;
};

/* A thread's entries that no later remote free undid, its owner held out. */
static void copy_table(struct pst_thr *t, void *arg)
{
	struct copy *c = arg;
	struct pst_leaks *l = t->leaks;

	for (uint64_t i = 0; l && i < l->cap && c->n < c->max; i++) {
		const struct lent *x = &l->e[i];

		if (x->pw && !remote_after(ent_ptr(x), ent_gen(x)))
			c->out[c->n++] = (struct pst_leak_block){ ent_ptr(x), x->sw & LOW48 };
	}
}

/* Copy up to max live blocks into out; how many. */
uint64_t pst_leakset_copy(struct pst_leak_block *out, uint64_t max)
{
	struct copy c = { out, max, 0 };

	pst_thr_quiet_foreach(copy_table, &c);
	return c.n;
}

/* A forked child's trace has seen no block: it starts empty. The other
 * threads' structs go (pst_thr_after_fork); this one's table is made anew
 * at its next block. */
void pst_leakset_reset(void)
{
	for (struct pst_leaks *l = all, *next; l; l = next) {
		next = l->next;
		if (l->e != l->first)
			munmap(l->e, l->cap * sizeof(*l->e));
		if (!l->pooled)
			munmap(l, sizeof(*l));
	}
	for (int k = 0; k < SHARDS; k++)
		if (shards[k].tab && !remote_first(&shards[k]))
			munmap(shards[k].tab, shards[k].cap * sizeof(*shards[k].tab));
	if (pool)
		madvise(pool, POOL * sizeof(*pool), MADV_DONTNEED);
	if (first_remote)
		madvise(first_remote, SHARDS * REMOTE_FIRST * sizeof(*first_remote), MADV_DONTNEED);
	give_remote_first();
	all = NULL;
	all_lock = 0;
	pool_used = 0;
	gen = 0;
	if (pst_self)
		pst_self->leaks = NULL;
}
