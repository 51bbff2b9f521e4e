/* SPDX-License-Identifier: MIT */
/* Reading a trace: validation, the index of blocks, and events merged across threads in time order. */
#ifndef PST_TRACE_READ_H
#define PST_TRACE_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "trace.h"
#include "sort.h"

struct pst_process {
	uint64_t version, pid, ppid, flags, sample_bytes;
	uint64_t start_realtime_ns, start_monotonic_ns;
	char *exe, *host;
};

struct pst_module {
	uint64_t bias, lo, hi;
	char *path;
	uint8_t *build_id;
	size_t build_id_len;
};

struct pst_stack {
	uint64_t id;
	uint32_t depth;
	uint64_t *frames; /* raw return addresses, innermost first */
};

struct pst_thread {
	uint64_t tid, parent_tid, start_ts;
	char *name;
};

struct pst_totals {
	uint64_t tid, alloc_calls, free_calls, alloc_bytes;
	uint64_t by_kind[PST_KIND_COUNT];
	uint64_t hist[PST_HIST_BUCKETS];
	bool has_temporary; /* the preload counted temporary (optional field) */
	uint64_t temporary;
};

enum pst_event_type { PST_EV_ALLOC, PST_EV_FREE, PST_EV_REALLOC };

struct pst_event {
	enum pst_event_type type;
	uint64_t tid, ts;
	uint64_t ptr;     /* ALLOC/FREE: the block; REALLOC: the new block */
	uint64_t old_ptr; /* REALLOC only */
	uint64_t size;    /* ALLOC/REALLOC */
	uint64_t stack;   /* ALLOC/REALLOC; 0 = none */
	unsigned kind;    /* ALLOC: enum pst_alloc_kind; REALLOC: PST_KIND_REALLOC */
};

/*
 * An open trace. pst_trace_open maps the file and reads it once: the
 * PROCESS header, every MODULE/STACK/THREAD/TOTALS/END record and the index
 * of blocks, events by their framing only. Events are then read with
 * pst_trace_next, merged by timestamp across threads, in memory bounded by
 * the number of threads; the mapped pages behind the readers are given back.
 * An event whose fields do not decode is found then: complete, error_offset,
 * error and nevents change as it is read.
 */
struct pst_trace {
	struct pst_process proc;
	struct pst_module *modules;
	size_t nmodules;
	struct pst_stack *stacks; /* sorted by id */
	size_t nstacks;
	struct pst_thread *threads;
	size_t nthreads;
	struct pst_totals *totals;
	size_t ntotals;
	bool has_end;           /* an END record was read */
	uint64_t end_ts;        /* END's ts, else the last event's */
	uint64_t end_reason;
	uint64_t end_signal;    /* END_SIGNAL: the signal that killed the process */
	bool complete;          /* has_end and no corruption */
	uint64_t error_offset;  /* first undecodable byte, when !complete and corrupt */
	char error[256];        /* "" or why the trace is incomplete, naming the offset */
	uint64_t nevents;       /* events in all valid blocks, up to any damage */
	struct pst_reader *r;   /* private */
};

/* A decoded string or bytes field (records.h) as a NUL-terminated copy, or NULL. */
static inline char *pst_span_dup(const void *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* Open and index path. Returns 0, or -1 with a one-line message in err
 * (not a trace, empty, unreadable). A trace that is cut or corrupt after a
 * valid header opens: complete is false and error says where. */
int pst_trace_open(const char *path, struct pst_trace **out, char *err, size_t errlen);

/* Next event in time order: 1 and *ev filled, 0 at the end. */
int pst_trace_next(struct pst_trace *t, struct pst_event *ev);

/* The next events in time order into ev[0..n): how many (0 at the end). */
size_t pst_trace_next_batch(struct pst_trace *t, struct pst_event *ev, size_t n);

/* Start pst_trace_next over from the first event. */
void pst_trace_rewind(struct pst_trace *t);

/*
 * Every record inside blocks whose type is in [lo, hi], in file order, up to
 * any damage: for record families the reader does not decode itself (they
 * carry absolute timestamps). cb returns 0 to go on; its non-zero value
 * stops the walk and is returned.
 */
typedef int (*pst_record_fn)(unsigned type, uint64_t tid, const uint8_t *payload, size_t len,
			     void *arg);
int pst_trace_foreach(const struct pst_trace *t, unsigned lo, unsigned hi, pst_record_fn cb,
		      void *arg);

/*
 * From now on read only what f keeps (filter.h): events, and records of
 * pst_trace_foreach, in its window and of its thread; the thread totals
 * only when f does not bound time, and only its thread's. pst_trace_open
 * gives each trace the default filter (pst_filter_set_default). A second
 * call replaces the first's window; totals dropped stay dropped.
 */
void pst_trace_filter(struct pst_trace *t, const struct pst_filter *f);

/* The stack with this id, or NULL. */
const struct pst_stack *pst_trace_stack(const struct pst_trace *t, uint64_t id);

/* Bytes read so far of the file's size, for a progress bar. */
void pst_trace_progress(const struct pst_trace *t, uint64_t *done, uint64_t *total);

void pst_trace_close(struct pst_trace *t);

#endif
