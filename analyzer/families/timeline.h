/* SPDX-License-Identifier: MIT */
/* Figures over time from SNAPSHOT records, and what production mode recorded: pauses, the size cap, alerts, settings. */
#ifndef PST_TIMELINE_H
#define PST_TIMELINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "trace_read.h"

/* One SNAPSHOT: counters since the start and resources at ts. */
struct pst_snapshot {
	uint64_t ts;
	uint64_t alloc_calls, free_calls, alloc_bytes;
	uint64_t rss_bytes, open_fds, threads, cpu_ns;
};

/* A stretch of time recording was paused by the toggle signal. */
struct pst_pause_span {
	uint64_t from, to; /* to: the end of the trace when never resumed */
};

struct pst_alert_rec {
	uint64_t ts;
	char *text;
};

struct pst_timeline {
	struct pst_snapshot *snaps; /* in time order */
	size_t nsnaps;
	struct pst_pause_span *pauses;
	size_t npauses;
	struct pst_alert_rec *alerts;
	size_t nalerts;
	bool capped;                /* --max-size was reached */
	uint64_t capped_ts, cap_bytes;
	bool has_settings;
	uint64_t wait_rate_ppm, metrics_ms, max_size, max_memory, toggle_sig;
	uint64_t start_ts, end_ts;  /* the process's start, the trace's last time */
};

/* Read the production records of t. NULL without memory. */
struct pst_timeline *pst_timeline_read(const struct pst_trace *t);
void pst_timeline_free(struct pst_timeline *tl);

/* Was recording paused at any time in [from, to)? */
bool pst_timeline_paused(const struct pst_timeline *tl, uint64_t from, uint64_t to);

/* "trace capped at N bytes: events after T are missing", or "" when not capped. */
const char *pst_timeline_cap_note(const struct pst_timeline *tl, char *buf, size_t len);

/* The report's "timeline" array (one entry per snapshot, rates over the
 * interval before it) and its "production" object. */
json_t *pst_timeline_json(const struct pst_timeline *tl);
json_t *pst_timeline_production_json(const struct pst_timeline *tl);

/* Text: with table, the per-interval figures; always the notes (cap,
 * pauses, alerts, last snapshot of an incomplete trace). */
void pst_timeline_text(FILE *out, const struct pst_timeline *tl, bool complete, bool table);

/* A small SVG plot of RSS and allocation calls per second over time. 0 or -errno. */
int pst_timeline_svg(const struct pst_timeline *tl, const char *path);

#endif
