/* SPDX-License-Identifier: MIT */
/* Requests in sampled mode: each thread sums its requests per shape, endpoint, role, status and stack; the timer writes the sums as REQ_AGG. */
#include <stdlib.h>
#include <time.h>

#include "hash.h"
#include "proto.h"
#include "reqhist.h"

/*
 * The hot path is the thread's own: a thread's table is found through a
 * thread-local pointer, its entries are written by that thread alone with
 * relaxed stores (no lock, no atomic read-modify-write). The writer (the
 * timer with each snapshot, the exit flush) reads them with relaxed loads
 * and writes what grew since it last wrote, so nothing is reset under the
 * owner's feet. Tables are never freed: a thread's last sums are written
 * after it ended.
 */
#define AGG_SLOTS 1024u
#define AGG_PROBES 32u
/* Requests of one entry written as REQ samples per interval, and in all,
 * for the rules that need each request (N+1 bursts, repeated identical
 * reads): a long run's trace grows by the sums alone once a shape's
 * samples are taken. */
#define AGG_KEEP 128u
#define AGG_KEEP_ALL 4096u

enum { A_COUNT, A_ERRORS, A_HITS, A_MISSES, A_WRITES, A_NOREPLY, A_UNANSWERED, A_KEPT,
       A_REQ_BYTES, A_REPLY_BYTES, A_WAIT, A_N };

struct agg {
	const struct agg_table *owner; /* the thread's table it is in */
	uint64_t hash; /* of the key below; 0: not set yet */
	uint64_t ep, stack, conn, tid;
	uint32_t shape, status;
	uint8_t role;
	uint32_t epoch, kept; /* the owner's: samples written in this interval */
	uint64_t v[A_N], max;
	uint32_t hist[PST_RQH_BUCKETS];
	/* the writer's: what it wrote so far */
	uint64_t wv[A_N];
	uint32_t whist[PST_RQH_BUCKETS];
};

struct agg_table {
	struct agg_table *next;
	struct agg *slot[AGG_SLOTS];
};

static __thread struct agg_table *mine;
static struct agg_table *tables; /* every thread's, pushed at its first request */
static uint32_t epoch;           /* intervals written so far */
static int writing;              /* the writer's lock: the timer, or an exit */

static inline void put64(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static inline void add64(uint64_t *p, uint64_t v)
{
	put64(p, *p + v); /* the owner alone writes p */
}

static struct agg_table *table_mine(void)
{
	struct agg_table *t = mine;

	if (t || !pst_real.calloc)
		return t;
	t = pst_real.calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->next = __atomic_load_n(&tables, __ATOMIC_ACQUIRE);
	while (!__atomic_compare_exchange_n(&tables, &t->next, t, true, __ATOMIC_RELEASE,
					    __ATOMIC_ACQUIRE))
		;
	return mine = t;
}

/* The key's hash: a multiply and shift per word (the per-byte FNV of the
 * same 32 bytes showed in the client's profile). */
static uint64_t key_hash(const struct pst_proto_conn *c, const struct pst_pr_req *r,
			 uint32_t status)
{
	const uint64_t m = 0x9e3779b97f4a7c15ull;
	uint64_t h = c->ep_hash;

	h = (h ^ (h >> 29)) * m + r->stack;
	h = (h ^ (h >> 29)) * m + ((uint64_t)r->shape << 32 | status << 1 | c->role);
	h = (h ^ (h >> 29)) * m;
	return (h ^ (h >> 32)) | 1;
}

/* The thread's entry of c's request r; NULL when the table is full. The
 * connection's last entry first: its endpoint and role are c's, and a
 * connection mostly sends one shape from one stack in a row. */
static struct agg *entry(struct pst_proto_conn *c, const struct pst_pr_req *r, uint32_t status)
{
	struct agg_table *t = table_mine();
	struct agg *a = c->agg_last;
	uint64_t h;

	if (a && a->owner == t && a->shape == r->shape && a->stack == r->stack &&
	    a->status == status)
		return a;
	h = key_hash(c, r, status);

	for (unsigned i = 0; t && i < AGG_PROBES; i++) {
		unsigned s = (unsigned)(h + i) & (AGG_SLOTS - 1);

		a = t->slot[s];
		if (a && a->hash == h && a->shape == r->shape && a->stack == r->stack &&
		    a->ep == c->ep_hash && a->status == status && a->role == c->role)
			return c->agg_last = a;
		if (a)
			continue;
		if (!(a = pst_real.calloc(1, sizeof(*a))))
			return NULL;
		*a = (struct agg){ .owner = t, .hash = h, .ep = c->ep_hash, .stack = r->stack,
				   .conn = c->conn_id, .tid = pst_self ? pst_self->tid : 0,
				   .shape = r->shape, .status = status, .role = c->role };
		__atomic_store_n(&t->slot[s], a, __ATOMIC_RELEASE);
		return c->agg_last = a;
	}
	return NULL;
}

int pst_req_agg_add(struct pst_proto_conn *c, const struct pst_pr_req *r, uint32_t flags,
		    uint64_t latency, uint64_t rbytes)
{
	struct agg *a = entry(c, r, c->proto == PST_PROTO_HTTP ? c->rep_status : 0);
	uint32_t now = __atomic_load_n(&epoch, __ATOMIC_RELAXED);
	unsigned b;

	if (!a)
		return -1;
	add64(&a->v[A_COUNT], 1);
	add64(&a->v[A_ERRORS], !!(flags & PST_REQ_ERROR));
	add64(&a->v[A_HITS], (flags & (PST_REQ_READ | PST_REQ_HIT)) == (PST_REQ_READ | PST_REQ_HIT));
	add64(&a->v[A_MISSES],
	      (flags & (PST_REQ_READ | PST_REQ_MISS)) == (PST_REQ_READ | PST_REQ_MISS));
	add64(&a->v[A_WRITES], !!(flags & PST_REQ_WRITE));
	add64(&a->v[A_NOREPLY], !!(flags & PST_REQ_NOREPLY));
	add64(&a->v[A_UNANSWERED], !!(flags & PST_REQ_UNANSWERED));
	add64(&a->v[A_REQ_BYTES], r->bytes);
	add64(&a->v[A_REPLY_BYTES], rbytes);
	if (!(flags & (PST_REQ_NOREPLY | PST_REQ_UNANSWERED))) {
		b = pst_rqh_bucket(latency);
		add64(&a->v[A_WAIT], latency);
		__atomic_store_n(&a->hist[b], a->hist[b] + 1, __ATOMIC_RELAXED);
		if (latency > a->max)
			put64(&a->max, latency);
	}
	if (a->epoch != now) {
		a->epoch = now;
		a->kept = 0;
	}
	if (a->kept >= AGG_KEEP || a->v[A_KEPT] >= AGG_KEEP_ALL)
		return 0;
	a->kept++;
	add64(&a->v[A_KEPT], 1);
	return 1;
}

/* ---- the writer ---- */

#define AGG_REC_MAX (1 + PST_VARINT_MAX + (20 + 2 * PST_RQH_BUCKETS) * PST_VARINT_MAX)

/* a's growth since it was last written, as one REQ_AGG at p; p itself when
 * it did not grow. */
static uint8_t *agg_record(uint8_t *p, struct agg *a, uint64_t ts)
{
	uint8_t *pay = p + 1 + PST_VARINT_MAX, *q = pay;
	uint64_t d[A_N];
	uint32_t h[PST_RQH_BUCKETS];
	unsigned n = 0;

	for (unsigned i = 0; i < A_N; i++) {
		uint64_t v = __atomic_load_n(&a->v[i], __ATOMIC_RELAXED);

		d[i] = v - a->wv[i];
		a->wv[i] = v;
	}
	for (unsigned b = 0; b < PST_RQH_BUCKETS; b++) {
		uint32_t v = __atomic_load_n(&a->hist[b], __ATOMIC_RELAXED);

		h[b] = v - a->whist[b];
		a->whist[b] = v;
		n += h[b] != 0;
	}
	if (!d[A_COUNT])
		return p;
	q = pst_put_varint(q, ts);
	q = pst_put_varint(q, a->tid);
	q = pst_put_varint(q, a->conn);
	q = pst_put_varint(q, a->shape);
	q = pst_put_varint(q, a->stack);
	q = pst_put_varint(q, a->status);
	for (unsigned i = 0; i < A_WAIT; i++) /* count .. reply_bytes: the record's order */
		q = pst_put_varint(q, d[i]);
	q = pst_put_varint(q, d[A_WAIT]);
	q = pst_put_varint(q, __atomic_load_n(&a->max, __ATOMIC_RELAXED));
	q = pst_put_varint(q, n);
	for (unsigned b = 0; b < PST_RQH_BUCKETS; b++) {
		if (!h[b])
			continue;
		q = pst_put_varint(q, b);
		q = pst_put_varint(q, h[b]);
	}
	return pst_frame_var(p, PST_REC_REQ_AGG, q);
}

/* Events past the cap (--max-size) are not written, nor are these. */
static void write_out(uint64_t tid, uint64_t ts, const uint8_t *buf, size_t len)
{
	if (len && !pst_capped && !pst_out_broken)
		pst_out_record(tid, ts, buf, len);
}

/* The writer's lock. The exit's flush waits for the timer's (at most about
 * 100 ms: a writer that never returns is given up on). */
static bool writer_take(bool wait)
{
	struct timespec ms = { 0, 1000000 };

	for (int i = 0; __atomic_exchange_n(&writing, 1, __ATOMIC_ACQUIRE); i++) {
		if (!wait || i >= 100)
			return false;
		nanosleep(&ms, NULL);
	}
	return true;
}

/* What every thread's entries counted since the last call, as REQ_AGG
 * records in BLOCKs of thread tid at ts; the next interval begins. wait:
 * the last call (exit, exec), which must not miss what another writer
 * holds. */
void pst_req_flush(uint64_t tid, uint64_t ts, bool wait)
{
	static uint8_t buf[64 << 10];
	uint8_t *p = buf;

	if (!writer_take(wait))
		return;
	for (struct agg_table *t = __atomic_load_n(&tables, __ATOMIC_ACQUIRE); t; t = t->next)
		for (unsigned s = 0; s < AGG_SLOTS; s++) {
			struct agg *a = __atomic_load_n(&t->slot[s], __ATOMIC_ACQUIRE);

			if (!a)
				continue;
			if ((size_t)(buf + sizeof(buf) - p) < AGG_REC_MAX) {
				write_out(tid, ts, buf, (size_t)(p - buf));
				p = buf;
			}
			p = agg_record(p, a, ts);
		}
	write_out(tid, ts, buf, (size_t)(p - buf));
	__atomic_add_fetch(&epoch, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&writing, 0, __ATOMIC_RELEASE);
}

/* The child of a fork counts its own requests only: what the parent's
 * threads counted is taken as written. */
void pst_req_agg_after_fork(void)
{
	for (struct agg_table *t = tables; t; t = t->next)
		for (unsigned s = 0; s < AGG_SLOTS; s++) {
			struct agg *a = t->slot[s];

			if (!a)
				continue;
			memcpy(a->wv, a->v, sizeof(a->wv));
			memcpy(a->whist, a->hist, sizeof(a->whist));
		}
	writing = 0;
}
