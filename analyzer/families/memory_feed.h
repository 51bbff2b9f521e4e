/* SPDX-License-Identifier: MIT */
/* The memory pass's events read by a thread of their own while the pass counts the ones before. */
#ifndef PRESTANDA_MEMORY_FEED_H
#define PRESTANDA_MEMORY_FEED_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "memory.h"
#include "trace_read.h"

/* Batches in flight and events in each: a batch is 64 KiB, the ring fits
 * the cache the two threads share. */
#define PST_FEED_SLOTS 4
#define PST_FEED_BATCH 1024

/* Call the progress callback every this many events. */
#define PST_FEED_PROGRESS_EVERY 65536

struct pst_feed {
	struct pst_trace *t;
	pst_progress_fn progress;
	void *arg;
	int pass;
	bool threaded;     /* a reading thread runs; else batches are read in take */
	pthread_t th;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t filled, taken; /* batches filled, and handed back: filled - taken in the ring */
	bool holding;         /* the pass counts the batch after the taken ones */
	bool stop;            /* the counting side gave up: the reader ends */
	uint64_t read;        /* events read, for the progress callback */
	size_t got[PST_FEED_SLOTS];
	struct pst_event ev[PST_FEED_SLOTS][PST_FEED_BATCH];
};

/* Rewind t and start reading its events (in a thread when one starts). */
void pst_feed_start(struct pst_feed *f, struct pst_trace *t, int pass, pst_progress_fn progress,
		    void *arg);
/* The next batch: its events in *ev, their number returned; 0 at the end.
 * The batch stays valid until the next call. */
size_t pst_feed_take(struct pst_feed *f, const struct pst_event **ev);
/* Stop reading (at the end or not) and wait for the reader. */
void pst_feed_end(struct pst_feed *f);

#endif
