/* SPDX-License-Identifier: MIT */
/* `prestanda diff`: summaries of two runs, the metric table, site matching and the comparison. */
#ifndef PST_DIFF_H
#define PST_DIFF_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"

enum pst_unit { PST_UNIT_COUNT, PST_UNIT_BYTES, PST_UNIT_NS };

/* A change counts as real (not run-to-run noise) when it exceeds both. */
struct pst_noise {
	double rel; /* fraction of the base value */
	double abs; /* in the metric's unit; in sampled mode, in samples (see diff_metrics.c) */
};

/*
 * One metric of the whole program. A section added to the JSON report
 * plugs in with one row in its family's diff_metrics (family.h): its name (also its budget key),
 * how to call it, its unit, where the report holds it, and its noise
 * thresholds. A path component "name[]" sums the rest of the path over
 * the array's elements ("locks[].wait_ns").
 *
 */
struct pst_metric_def {
	const char *name;
	const char *label;
	enum pst_unit unit;
	const char *path; /* dotted path in a JSON report, "memory.peak_heap_bytes" */
	bool flow;        /* grows with the work done: divided by --per; else a level */
	bool estimated;   /* an estimate in sampled mode (else exact in both modes) */
	struct pst_noise full, sampled;
};

/*
 * A metric with one value per key, an endpoint or a function: m.path is an
 * array of objects, key the member naming each, value the (dotted) member
 * holding the figure; when match is set only objects whose member match
 * equals match_value count. Keys are matched across runs by their exact
 * string, so an endpoint must keep its address and port (README.md).
 */
struct pst_keyed_def {
	struct pst_metric_def m;
	const char *key, *value, *match, *match_value;
};

/* Every family's rows, in the order of pst_families (diff_summary.c
 * gathers them before main runs). */
extern const struct pst_metric_def *pst_metrics;
extern size_t pst_nmetrics;
extern const struct pst_keyed_def *pst_keyed_metrics;
extern size_t pst_nkeyed_metrics;

/* Per-site metrics: path is the key in a site object of the report. */
extern const struct pst_metric_def pst_site_metrics[];
#define PST_SITE_METRICS 4

/* The names of pst_metrics and pst_keyed_metrics / of pst_site_metrics,
 * NULL-terminated (for budgets). */
extern const char *const *pst_metric_names;
extern const char *const pst_site_metric_names[];

/* ---- summaries: one run, from a trace or a JSON report ---- */

struct pst_sum_site {
	char *name;     /* "fn (file:line)" as reports name it */
	char *function; /* NULL when unknown */
	char **stack;   /* as the report writes it, innermost first */
	size_t depth;
	char *fkey;     /* the stack's function names, without files and lines */
	char *lkey;     /* the stack as written, with files and lines */
	int *lines;     /* per frame, 0 when unknown */
	bool runtime;
	double v[PST_SITE_METRICS];
};

struct pst_sum_finding {
	char *id, *severity, *title;
	char *key;   /* id and the function names of its stack: equal across builds */
	char *where; /* its stack's first frame */
};

/* One value of a keyed metric. */
struct pst_sum_keyed {
	size_t def; /* index in pst_keyed_metrics */
	char *key;
	double v;
};

struct pst_summary {
	char *source; /* the file it came from */
	char *exe;
	bool full, complete;
	double sample_bytes;
	double *total; /* per pst_metrics row */
	bool *has;     /* per row: the input carries it */
	bool *has_keyed; /* per pst_keyed_metrics row: the input has its array */
	struct pst_sum_keyed *keyed;
	size_t nkeyed;
	struct pst_sum_site *sites;
	size_t nsites;
	struct pst_sum_finding *findings;
	size_t nfindings;
};

/* diff_summary.c: from a report (as `report --json` writes it) or from
 * the file at path (a trace or such a report). Returns 0, or -1 after one
 * line in err. */
int pst_summary_from_json(json_t *report, const char *source, struct pst_summary *s, char *err,
			  size_t errlen);
int pst_summary_load(const char *path, struct pst_summary *s, char *err, size_t errlen);
void pst_summary_free(struct pst_summary *s);

/* The function name of a frame as reports write it ("fn (file:line)",
 * "fn (module)", "[module+0xoff]"): fn, or "[module]"; its line in *line. */
char *pst_frame_function(const char *frame, int *line);

/* ---- site matching across builds (diff_match.c) ---- */

/* A pair of sites: base index and new index, -1 where the side has none. */
struct pst_site_pair {
	long b, n;
};

/*
 * Pair the sites of two runs. First by the function names of the whole
 * stack (lines and files ignored, so a line shift or another build path
 * still matches); where several sites share those, identical stacks pair
 * first, then the rest in source order. Sites left over pair by their
 * site function, in source order. Returns the number of pairs in *out
 * (every site of both sides appears once), or -1 when out of memory.
 */
long pst_match_sites(const struct pst_summary *base, const struct pst_summary *new,
		     struct pst_site_pair **out);

/* ---- the comparison (diff.c) ---- */

enum pst_verdict { PST_SAME, PST_REGRESSED, PST_IMPROVED };

struct pst_metric_result {
	const struct pst_metric_def *def;
	const char *key;   /* a keyed metric's endpoint or function; NULL for a total */
	bool present;      /* both inputs carry it */
	double base, new;  /* normalised by --per when def->flow */
	struct pst_noise noise;
	bool significant;
	enum pst_verdict verdict;
	bool budgeted, over_budget;
	const char *judged_by; /* the total judging instead: this one fails nothing */
	char why[384];     /* over_budget: the metric, its limit and the value */
};

struct pst_site_result {
	struct pst_site_pair p;
	const struct pst_sum_site *s; /* new's, else base's: name and stack */
	double base[PST_SITE_METRICS], new[PST_SITE_METRICS];
	bool significant[PST_SITE_METRICS];
	bool regressed, improved;
	double score; /* orders regressed sites: larger first */
};

struct pst_budget_failure {
	char *what;
};

struct pst_diff {
	struct pst_summary base, new;
	const char *per_unit; /* NULL: not normalised */
	double per_base, per_new;
	struct pst_metric_result *m; /* per pst_metrics row, then each keyed value */
	size_t nm;
	struct pst_site_result *sites;
	size_t nsites;
	const struct pst_sum_finding **new_findings;
	size_t nnew_findings;
	char **failures; /* one line each: a regression or a budget exceeded */
	size_t nfailures;
	size_t top;
};

/* diff.c: the diff command's comparison (options from cli/diff_cmd.c). */
enum pst_diff_format { PST_DIFF_TEXT, PST_DIFF_MARKDOWN, PST_DIFF_JSON };

struct pst_diff_options {
	const char *budget; /* --budget FILE, or NULL */
	enum pst_diff_format fmt;
	char *per;          /* --per UNIT=N, or NULL */
	size_t top;         /* regressed sites to list */
	const char *base, *new;
	/* their reports already made (diff --all: a session's processes
	 * merged), NULL: read from base and new */
	json_t *base_report, *new_report;
};

/* Compare the runs and print the comparison: 0 within noise and budget,
 * 1 on a regression, 2 when an input cannot be read. */
int pst_diff_run(const struct pst_diff_options *o);

/* diff_output.c */
void pst_diff_text(FILE *out, const struct pst_diff *d);
void pst_diff_markdown(FILE *out, const struct pst_diff *d);
json_t *pst_diff_json(const struct pst_diff *d);
/* A value of unit u, as outputs print it. */
const char *pst_fmt_value(enum pst_unit u, double v, char *buf, size_t len);
/* How outputs name a result's row: its label, then its key if keyed. */
const char *pst_result_label(const struct pst_metric_result *r, char *buf, size_t len);

#endif
