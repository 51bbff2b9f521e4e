/* SPDX-License-Identifier: MIT */
/* Reports of traces: for the report command, and as JSON for commands that build on it (diff). */
#ifndef PST_REPORT_H
#define PST_REPORT_H

#include <jansson.h>
#include <stdbool.h>

#include "config.h"
#include "suppress.h"

/* How report prints (the command's options, cli/report_cmd.c). */
struct pst_report_options {
	const char *config; /* --config or PRESTANDA_CONFIG: declared pools */
	bool has_settings;  /* config was read */
	struct pst_settings settings;
	bool json;
	bool timeline;   /* --timeline: the per-interval table */
	const char *svg; /* --timeline-svg FILE */
	const char *html; /* --html FILE: the one-page report (one trace) */
	bool top_given;
	long top;
	const char *suppressions_path; /* --suppressions FILE */
	struct pst_suppressions supp;  /* read from it */
};

/* Analyze each of the n traces at paths and print its report on stdout
 * (text, or JSON: an array for several). 0, or 1 when one cannot be read
 * or is damaged. */
int pst_report_print(const struct pst_report_options *o, char *const *paths, int n);

/* Analyze the trace at path and return its report as `report --json`
 * writes it (every site), or NULL after printing why on stderr (the trace
 * cannot be read, is damaged, or memory ran out). */
json_t *pst_report_json(const char *path);

/* Analyze the trace at path as report does with o (every site in the
 * JSON unless o->top_given), then give fn its analysis and its report as
 * JSON (fn's to read, not to keep; fn returns 0, or non-zero when out of
 * memory). 0; 1 when the trace is damaged (reported up to the damage);
 * 2 when it cannot be read or fn failed. For report --all (report_all.c). */
struct pst_analysis;
typedef int (*pst_report_visit_fn)(const struct pst_analysis *a, json_t *report, void *arg);
int pst_report_visit(const struct pst_report_options *o, const char *path, pst_report_visit_fn fn,
		     void *arg);

/* report --all: the n traces of a session's processes as one report
 * (report_all.c): their per-process totals, then every family's figures
 * and findings merged. label names the session. 0, or 1 when one cannot
 * be read or is damaged. */
int pst_report_all_print(const struct pst_report_options *o, char *const *paths, int n,
			 const char *label);

/* The same report as JSON (NULL after saying why); *status as above. */
json_t *pst_report_all_json(const struct pst_report_options *o, char *const *paths, int n,
			    const char *label, int *status);

/* The trace at path analyzed with o's settings (pools, suppressions) and
 * the default filter, as `report --json` writes it with every row, saying
 * nothing on stderr: for the HTML page's ranges. NULL when it cannot be
 * read or memory ran out. */
json_t *pst_report_quiet_json(const char *path, const struct pst_report_options *o);

#endif
