/* SPDX-License-Identifier: MIT */
/* The JSON report of one trace, for commands that build on it (diff). */
#ifndef PST_REPORT_H
#define PST_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct pst_net_pools;

/* What `report` is asked for, as its options parse to. */
struct pst_report_opts {
	size_t top;	  /* --top N: rows per text table, entries per JSON list; 0: not given */
	bool json;	  /* --json: warnings go into the JSON, not to stderr */
	bool timeline;	  /* --timeline: the per-interval table */
	const char *svg;  /* --timeline-svg FILE, or NULL */
	const struct pst_net_pools *pools; /* declared pools (--config), or NULL */
};

/* `report` of each of the n traces at paths on stdout, as o says: text,
 * or JSON (an array for several). 0, or 1 when a trace could not be read
 * or is damaged (the others are still reported). */
int pst_report_run(char *const *paths, size_t n, const struct pst_report_opts *o);

/* Analyze the trace at path and return its report as `report --json`
 * writes it (every site), or NULL after printing why on stderr (the trace
 * cannot be read, is damaged, or memory ran out). */
json_t *pst_report_json(const char *path);

#endif
