/* SPDX-License-Identifier: MIT */
/* Which events of a trace an analysis sees: a time window from the process's start, one thread, one process of a system-wide recording. */
#ifndef PST_FILTER_H
#define PST_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pst_process;

/*
 * A filter is given in the user's terms (seconds from the trace's start,
 * or wall times) and bound to one trace's clock by pst_filter_bind; then
 * pst_filter_keep says which events it keeps: an event of thread tid at
 * CLOCK_MONOTONIC time ts is kept when lo_ns <= ts < hi_ns and, with a
 * tid, it is that thread's. Everything before the window is unseen: a
 * block allocated before it and freed inside is the free of an unknown
 * block; one freed after it is live at its end.
 */
/* What a --since or --until counts from. */
enum pst_time_base {
	PST_TIME_START, /* seconds from the trace's start */
	PST_TIME_EPOCH, /* a wall time: seconds since the epoch */
	PST_TIME_DAY,   /* a wall time of the trace's first day: seconds since local midnight */
};

struct pst_filter {
	bool has_since, has_until, has_tid, has_pid;
	enum pst_time_base since_base, until_base;
	double since, until;
	uint64_t tid;                /* --tid */
	uint64_t pid;                /* --pid of a system-wide recording (record -a) */
	const char *comm;            /* --comm of a system-wide recording, or NULL */
	uint64_t comm_pids[64];      /* the processes its TASK records name comm */
	size_t ncomm_pids;
	/* bound to one trace by pst_filter_bind */
	uint64_t lo_ns, hi_ns;       /* [lo_ns, hi_ns) in the trace's CLOCK_MONOTONIC */
};

/* Does f leave anything out? */
bool pst_filter_active(const struct pst_filter *f);

/* Does f bound time (a trace's totals then do not hold for the window)? */
bool pst_filter_timed(const struct pst_filter *f);

/* Resolve f's window against the process p was recorded from. */
void pst_filter_bind(struct pst_filter *f, const struct pst_process *p);

/* Is the event of thread tid at time ts in f (bound)? */
static inline bool pst_filter_keep(const struct pst_filter *f, uint64_t tid, uint64_t ts)
{
	return ts >= f->lo_ns && ts < f->hi_ns && (!f->has_tid || tid == f->tid);
}

/*
 * Is a record other than ALLOC, FREE and REALLOC, found in a block of
 * thread tid, in f (bound)? Those with a time of their own (waits, CPU
 * samples, thread starts and ends, snapshots, pauses, alerts) by it;
 * the rest whole. A thread-local record by the thread's --tid; the
 * process's own (snapshots, modules, settings) always; a CPU sample by
 * its own pid and tid.
 */
bool pst_filter_record(const struct pst_filter *f, unsigned type, uint64_t tid,
		       const uint8_t *payload, size_t len);

/*
 * --since or --until's value into f: seconds from the start ("2.5"), or a
 * wall time, as a snapshot's ("2026-12-03T16:30:05.25", "16:30:05" on
 * the trace's day, local time; "@1796315405.25" seconds since the epoch).
 * 0, or -1 when it is none of them.
 */
int pst_filter_time(struct pst_filter *f, bool until, const char *arg);

/* Is t a system-wide recording (record -a: CPU samples of every process)? */
struct pst_trace;
bool pst_filter_host_wide(const struct pst_trace *t);

/*
 * Can f select from t, a trace that is not part of a session? --pid and
 * --comm of a trace that is not system-wide (host_wide false) name its own
 * process or nothing; --tid a thread it has. 0, or -1 with why in why
 * ("holds one process, 4242 (server), not --pid 7").
 */
int pst_filter_check(const struct pst_filter *f, const struct pst_trace *t, bool host_wide,
		     char *why, size_t len);

/* The filter pst_trace_open gives every trace it opens (the command's
 * --since, --until, --tid): NULL for none. */
void pst_filter_set_default(const struct pst_filter *f);
const struct pst_filter *pst_filter_default(void);

#endif
