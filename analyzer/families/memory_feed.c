/* SPDX-License-Identifier: MIT */
/* The memory pass's events read by a thread of their own while the pass counts the ones before. */
#include "memory_feed.h"

/*
 * On a --full trace the pass is two halves of about the same cost: reading
 * the events (the merge of the threads' streams, decoding) and counting
 * them (the live-block map, the per-stack sums). With two CPUs the reader
 * runs ahead in a thread of its own, filling a ring of batches that the
 * pass takes in order: the events, and so every figure, are the same as
 * when read inline. Nothing the pass reads of the trace while the reader
 * runs changes during the merge (stacks, modules, the process header);
 * what the merge changes (damage found in an event, the count of events)
 * is read after pst_feed_end.
 */

/* The progress callback each time the events read pass a multiple of
 * PST_FEED_PROGRESS_EVERY: from the reader, which knows how far it is. */
static void feed_progress(struct pst_feed *f, size_t got)
{
	uint64_t before = f->read;

	f->read += got;
	if (f->progress && f->read / PST_FEED_PROGRESS_EVERY != before / PST_FEED_PROGRESS_EVERY)
		f->progress(f->t, f->pass, f->arg);
}

static void *feed_run(void *arg)
{
	struct pst_feed *f = arg;
	size_t got = 1, slot;

	while (got) {
		pthread_mutex_lock(&f->lock);
		while (f->filled - f->taken == PST_FEED_SLOTS && !f->stop)
			pthread_cond_wait(&f->cond, &f->lock);
		if (f->stop) {
			pthread_mutex_unlock(&f->lock);
			break;
		}
		slot = f->filled % PST_FEED_SLOTS;
		pthread_mutex_unlock(&f->lock);
		/* the slot is the reader's until filled is bumped */
		got = pst_trace_next_batch(f->t, f->ev[slot], PST_FEED_BATCH);
		feed_progress(f, got);
		pthread_mutex_lock(&f->lock);
		f->got[slot] = got;
		f->filled++;
		pthread_cond_signal(&f->cond);
		pthread_mutex_unlock(&f->lock);
	}
	return NULL;
}

void pst_feed_start(struct pst_feed *f, struct pst_trace *t, int pass, pst_progress_fn progress,
		    void *arg)
{
	f->t = t;
	f->pass = pass;
	f->progress = progress;
	f->arg = arg;
	f->filled = f->taken = 0;
	f->read = 0;
	f->stop = f->holding = false;
	pst_trace_rewind(t);
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	/* no thread (no resources): the batches are read as they are taken */
	f->threaded = !pthread_create(&f->th, NULL, feed_run, f);
}

size_t pst_feed_take(struct pst_feed *f, const struct pst_event **ev)
{
	size_t slot, got;

	if (!f->threaded) {
		got = pst_trace_next_batch(f->t, f->ev[0], PST_FEED_BATCH);
		feed_progress(f, got);
		*ev = f->ev[0];
		return got;
	}
	pthread_mutex_lock(&f->lock);
	/* the batch taken before is handed back */
	if (f->holding) {
		f->taken++;
		f->holding = false;
		pthread_cond_signal(&f->cond);
	}
	while (f->filled == f->taken)
		pthread_cond_wait(&f->cond, &f->lock);
	slot = f->taken % PST_FEED_SLOTS;
	got = f->got[slot];
	*ev = f->ev[slot];
	f->holding = got != 0; /* the last, empty batch is never handed back */
	pthread_mutex_unlock(&f->lock);
	return got;
}

void pst_feed_end(struct pst_feed *f)
{
	if (f->threaded) {
		pthread_mutex_lock(&f->lock);
		f->stop = true;
		pthread_cond_signal(&f->cond);
		pthread_mutex_unlock(&f->lock);
		pthread_join(f->th, NULL);
	}
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
}
