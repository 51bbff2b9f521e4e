/* SPDX-License-Identifier: MIT */
/* `--full`: a thread's full buffer handed to the timer thread, which packs, compresses and writes it off the program's threads. */
#include <sched.h>
#include <time.h>

#include "pst.h"

/*
 * Packing and compressing a 64 KiB buffer takes a few hundred microseconds:
 * done by the thread whose buffer filled, it was half of what --full cost.
 * Here that thread swaps its buffer, a slot of the live file, for a spare
 * slot and goes on; the timer thread (timer.c, woken by pst_timer_kick)
 * writes the full one as a ZBLOCK and makes it a spare again. Being a slot
 * of the live file, a buffer waiting here survives a SIGKILL as the
 * thread's own does (its header says whose block it is, and its `used` is
 * cleared only once the block is written).
 *
 * Bounded: ZQ_N spares, enough to ride out the writer's preemption on a
 * loaded machine (micro-benchmark, 10 M pairs, load 13 on 2 CPUs: with 4
 * spares about half the blocks went out plain, with 16 a tenth); a spare
 * is touched only once it is used. A thread that finds none (the writer
 * is behind) writes plain BLOCKs itself, as before ZBLOCKs, and waits for
 * the writer only for a block of its own it may be compressing this
 * moment. A thread's blocks reach the file in order (the reader chains a
 * thread's blocks in file order): the writer takes a thread's oldest block
 * first, and every other write of a thread's buffer (pst_thr_flush, from
 * any thread) first settles the blocks it handed over. Only atomics, no
 * lock: fork, exit and signal handlers never wait on a lock here.
 */
#define ZQ_N 16

enum { ZQ_SPARE = 1, ZQ_FILLING, ZQ_QUEUED, ZQ_BUSY };

/* The state and the sequence number of the block, in one word: a CAS that
 * expects a block's number fails once the slot went to another block. */
#define SW(seq, st) ((seq) << 8 | (st))
#define SW_ST(w) ((int)((w) & 0xff))
#define SW_SEQ(w) ((w) >> 8)

struct pst_zq {
	uint64_t sw;                /* 0: no slot */
	const struct pst_thr *owner; /* whose block */
	uint32_t n;                 /* bytes of the block, when queued */
	uint64_t tid, base_ts;
	struct pst_live_slot *live; /* the slot: its header, then the buffer */
};

static struct pst_zq zq[ZQ_N];
static uint64_t zq_seq;
static int zq_slots; /* spares the live file gave: 0, no handing over */
static int writer_up; /* the timer thread runs and takes what is queued */

static uint8_t *slot_buf(struct pst_live_slot *s)
{
	return (uint8_t *)s + PST_LIVE_SLOT_HEADER;
}

/* The spares, from the live file just opened (a forked child's: the
 * parent's slots are left alone, unmapped). */
void pst_zq_open(void)
{
	zq_slots = 0;
	for (int i = 0; i < ZQ_N; i++) {
		if (zq[i].live)
			pst_live_drop(zq[i].live);
		zq[i] = (struct pst_zq){ 0 };
		if (pst_cfg.full && (zq[i].live = pst_live_spare())) {
			zq[i].sw = SW(0, ZQ_SPARE);
			zq_slots++;
		}
	}
	zq_seq = 0;
	if (pst_self)
		pst_self->zq = 0;
}

void pst_zq_writer(bool up)
{
	__atomic_store_n(&writer_up, up, __ATOMIC_RELEASE);
}

static uint64_t sw_of(const struct pst_zq *e)
{
	return __atomic_load_n(&e->sw, __ATOMIC_ACQUIRE);
}

/* Take e from state w to st; false when it is no longer w. */
static bool sw_move(struct pst_zq *e, uint64_t w, int st)
{
	return __atomic_compare_exchange_n(&e->sw, &w, SW(SW_SEQ(w), (uint64_t)st), false,
					   __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

/* Write a block taken (ZQ_BUSY), then give its slot back. */
static void zq_write(struct pst_zq *e, bool pack)
{
	pst_zw_write(e->tid, e->base_ts, slot_buf(e->live), e->n, pack);
	barrier();
	e->live->used = 0; /* a kill before this finds the block written: the reader skips it */
	__atomic_store_n(&e->sw, SW(SW_SEQ(e->sw), ZQ_SPARE), __ATOMIC_RELEASE);
}

/* The oldest block of owner still waiting or being written, with *w its
 * word as seen; NULL for none. */
static struct pst_zq *oldest(const struct pst_thr *owner, uint64_t *w)
{
	struct pst_zq *best = NULL;

	for (int i = 0; i < ZQ_N; i++) {
		uint64_t x = sw_of(&zq[i]);
		const struct pst_thr *o = zq[i].owner;

		if ((SW_ST(x) != ZQ_QUEUED && SW_ST(x) != ZQ_BUSY) || o != owner ||
		    sw_of(&zq[i]) != x)
			continue;
		if (!best || SW_SEQ(x) < SW_SEQ(*w)) {
			best = &zq[i];
			*w = x;
		}
	}
	return best;
}

/* Every block t handed over, written in order: each written here if it
 * waits still (pack: compressed if a compressor is free), or waited for
 * while the writer has it (at most a second: a writer stopped by a
 * debugger is not waited on). */
void pst_zq_settle(struct pst_thr *t, bool pack)
{
	struct timespec gap = { 0, 100000 };
	struct pst_zq *e;
	uint64_t w, until = 0;

	if (!t->zq)
		return;
	/* a second by the clock, not by a count of sleeps: on a loaded machine
	 * each 100 us sleep can last a scheduling period (10,000 of them took
	 * 80 s at an nginx worker's exit) */
	for (int i = 0; (e = oldest(t, &w));) {
		if (SW_ST(w) == ZQ_QUEUED) {
			if (sw_move(e, w, ZQ_BUSY))
				zq_write(e, pack);
			continue;
		}
		if (i++ < 64) {
			sched_yield();
			continue;
		}
		if (!until)
			until = pst_now() + 1000000000u;
		else if (pst_now() > until)
			break;
		nanosleep(&gap, NULL);
	}
	t->zq = 0;
}

/* A spare, taken; NULL when none. */
static struct pst_zq *zq_spare(void)
{
	for (int i = 0; i < ZQ_N; i++) {
		uint64_t w = sw_of(&zq[i]);

		if (SW_ST(w) == ZQ_SPARE && sw_move(&zq[i], w, ZQ_FILLING))
			return &zq[i];
	}
	return NULL;
}

/* The owner's full buffer, n bytes, handed to the writer: t has a spare
 * slot as its buffer after (1). Else the caller writes it: 0 when there
 * is no writer, -1 when the writer is behind. */
int pst_zq_hand(struct pst_thr *t, size_t n)
{
	struct pst_live_slot *fresh;
	struct pst_zq *e;
	size_t room;

	if (!zq_slots || !__atomic_load_n(&writer_up, __ATOMIC_ACQUIRE) || t != pst_self ||
	    t->stolen || t->borrowed || t->sealed || t->live == &t->own_live || !n)
		return 0;
	if (!(e = zq_spare())) { /* the writer is behind: written here, after those before */
		pst_zq_settle(t, true);
		return -1;
	}
	room = (size_t)(t->end - t->buf);
	fresh = e->live;
	e->live = t->live;
	e->owner = t;
	e->tid = t->tid;
	e->base_ts = t->base_ts;
	e->n = (uint32_t)n;
	e->live->used = (uint32_t)n;
	t->live = fresh;
	t->buf = slot_buf(fresh);
	t->end = t->buf + room;
	t->pos = t->buf;
	t->live->tid = t->tid;
	t->zq++;
	__atomic_store_n(&e->sw, SW(__atomic_add_fetch(&zq_seq, 1, __ATOMIC_RELAXED), ZQ_QUEUED),
			 __ATOMIC_RELEASE);
	pst_timer_kick();
	return 1;
}

/* The oldest queued block whose owner has no older one still waiting or
 * being written (by a settle); NULL for none. */
static struct pst_zq *next_due(uint64_t *w)
{
	struct pst_zq *best = NULL;

	for (int i = 0; i < ZQ_N; i++) {
		uint64_t x = sw_of(&zq[i]), y;

		if (SW_ST(x) != ZQ_QUEUED || (best && SW_SEQ(x) > SW_SEQ(*w)))
			continue;
		if (oldest(zq[i].owner, &y) == &zq[i] && y == x) {
			best = &zq[i];
			*w = x;
		}
	}
	return best;
}

/* The timer thread: everything queued, packed and written, oldest first. */
void pst_zq_work(void)
{
	struct pst_zq *e;
	uint64_t w;

	while ((e = next_due(&w)))
		if (sw_move(e, w, ZQ_BUSY))
			zq_write(e, true);
}
