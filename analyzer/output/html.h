/* SPDX-License-Identifier: MIT */
/* The one-page report (`report --html FILE`): a self-contained HTML page of one trace's analysis. */
#ifndef PST_HTML_H
#define PST_HTML_H

#include <jansson.h>
#include <stdint.h>

#include "family.h"
#include "report.h"

/* The time buckets the page's range selection snaps to: n buckets of
 * width_ns from the process start; the last ends at or after the trace's. */
struct pst_html_buckets {
	uint64_t width_ns;
	unsigned n;
};

/* Buckets for a run of duration_ns: a width of 1, 2 or 5 times a power of
 * ten, so that every edge is a short decimal `report --since/--until`
 * takes as it is, and at most PST_HTML_MAX_BUCKETS of them: the page
 * carries the tables of every range of them, n (n + 1) / 2 - 1 analyses
 * of the trace (77 at most) when it is written. */
#define PST_HTML_MAX_BUCKETS 12
struct pst_html_buckets pst_html_buckets_for(uint64_t duration_ns);

/* A level over time (the heap in use, open connections) as the most it
 * reached in each of PST_HTML_SLOTS slots of the run, for a line chart:
 * a slot without a change holds the level it was left at. */
#define PST_HTML_SLOTS 400
struct pst_html_level {
	uint64_t start, slot_ns;
	double level, hi[PST_HTML_SLOTS], last[PST_HTML_SLOTS];
	bool seen[PST_HTML_SLOTS];
};

/* html_level.c: slots over the buckets b from start (the process's). */
void pst_html_level_init(struct pst_html_level *l, uint64_t start,
			 const struct pst_html_buckets *b);
/* The level moved by d at ts. */
void pst_html_level_move(struct pst_html_level *l, uint64_t ts, double d);
/* {"slot_ns": N, "max": [per slot]}, integers when exact. */
json_t *pst_html_level_json(const struct pst_html_level *l, bool exact);

/* html_conns.c: connections open over time, from the network records
 * (established connects and accepts until their close), as a level; NULL
 * when the trace has none or memory ran out. */
json_t *pst_html_connections(const struct pst_analysis *a, const struct pst_html_buckets *b);

/* html_conns.c: threads alive over time, from the THR_START and THR_END
 * records and the main thread from the start, as a level; NULL when
 * memory ran out. */
json_t *pst_html_threads(const struct pst_analysis *a, const struct pst_html_buckets *b);

/*
 * html_ranges.c: one more pass over a's events, for what the page shows
 * per time range: the heap in use over time, and per allocation site the
 * blocks by the bucket they were allocated in and the bucket they were
 * freed in (n: never freed, n + 1: no block, a failed call). A range
 * [S, U) of buckets then has the calls and bytes of the cells allocated in
 * it, and live at U those of them freed at U or later: what the memory
 * family finds in the events kept by `report --since S --until U`. NULL
 * when out of memory.
 */
json_t *pst_html_ranges(const struct pst_analysis *a, const struct pst_html_buckets *b);

/* html_flames.c: the flame graphs of every metric a's trace has that the
 * page does not draw from its sites (CPU, off-CPU, lock waits, connects,
 * temporaries), for the whole run: [{"name", "what", "unit", "tree"}], a
 * tree being {"n": frame, "v": value, "c": [children]} without the frames
 * under 0.1% of the whole. */
json_t *pst_html_flames(const struct pst_analysis *a);

/* html.c: the report's lists the page draws as tables, as {section,
 * key} ("" for the report's own key). */
extern const char *const pst_html_tables[][2];
extern const size_t pst_html_ntables;

/*
 * html_by_range.c: for every range of buckets but the whole run, the
 * tables and flame graphs of `report --json` and `flame` with that range
 * as --since and --until (and the command's other selections), each
 * analyzed again with o's settings: {"LO-HI": {"tables": {"SECTION.KEY":
 * {"n": rows, "rows": [the first ones]}}, "flames": {"METRIC": tree}}}.
 * NULL when the trace cannot be read again or memory ran out.
 */
json_t *pst_html_by_range(const struct pst_analysis *a, const struct pst_report_options *o,
			  const struct pst_html_buckets *b);

/* html_by_range.c: j as compact JSON, compressed (zlib's format, which a
 * browser's DecompressionStream("deflate") reads) in base64: what the page
 * carries its ranges as, about 40 times smaller than their JSON, whose
 * rows and stacks repeat from range to range. NULL when out of memory. */
char *pst_html_pack(const json_t *j);

/* html.c: write the page of a (report: its `report --json` object, o:
 * the command's options) to path. 0 or -errno. */
int pst_html_write(const char *path, const struct pst_analysis *a, json_t *report,
		   const struct pst_report_options *o);

#endif
