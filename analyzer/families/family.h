/* SPDX-License-Identifier: MIT */
/* A family of the analysis (memory, CPU, threads, network, timeline): one interface, one table. */
#ifndef PST_FAMILY_H
#define PST_FAMILY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "diff.h"
#include "findings.h"
#include "flame.h"
#include "symbolize.h"
#include "trace_read.h"

struct pst_net_pools;
struct pst_caching;

/* The most families a table may hold. */
#define PST_FAMILIES_MAX 16

/* One trace's analysis: what every family's hooks see. */
struct pst_analysis {
	const char *path;
	struct pst_trace *t;
	struct pst_symbolizer *sym; /* the trace's modules; only while analyzing */
	const struct pst_net_pools *pools; /* declared pools, NULL: none */
	const struct pst_suppressions *supp; /* leak suppressions, NULL: none */
	const struct pst_caching *caching;   /* the config's caching section, NULL: none */
	size_t top;		    /* rows per table in the text */
	size_t json_top;	    /* entries per JSON list; 0: all */
	bool timeline_table;	    /* text: the per-interval table */
	/* memory's first pass calls it as it reads (pst_progress_fn); NULL: none */
	void (*progress)(const struct pst_trace *t, int pass, void *arg);
	void *progress_arg;
	void *data[PST_FAMILIES_MAX]; /* each family's result, by its index */
	struct pst_findings f;	    /* every family's, in the one order */
	char **warnings;
	size_t nwarnings;
};

/*
 * A family: its name, where its sections go in the report, and its hooks,
 * called in the order of pst_families for each step. A hook may be NULL.
 * self is the family's own result (what analyze returned), a the whole
 * analysis (another family's result: pst_analysis_of).
 */
struct pst_family_ops {
	const char *name;
	/* Place of its JSON keys and text section in the report (smaller
	 * first): the report's layout, which is older than the table. */
	int json_rank, text_rank;
	/* Its text findings are in its own section (short), not the report's
	 * findings list. */
	bool findings_in_section;
	/* Read t (a->sym symbolizes the trace's modules). NULL: no memory. */
	void *(*analyze)(struct pst_analysis *a);
	/* Notes for the report's warnings (pst_analysis_warn); 0 or -ENOMEM. */
	int (*warnings)(struct pst_analysis *a, void *self);
	/* Append its findings (after every family analyzed); 0 or -ENOMEM. */
	int (*findings)(struct pst_analysis *a, void *self, struct pst_findings *out);
	/* Its keys of the report object. */
	void (*json)(const struct pst_analysis *a, const void *self, json_t *root);
	/* Text: its summary, before the findings list; false: the report
	 * ends here (nothing after it has anything to say). */
	bool (*text_summary)(FILE *out, const struct pst_analysis *a, const void *self);
	/* Text: its section, after the findings list. */
	void (*text)(FILE *out, const struct pst_analysis *a, const void *self);
	/* The flame graph metrics it offers (flame lists every family's by
	 * rank), and how many. */
	const struct pst_metric *metrics;
	size_t nmetrics;
	/* Its rows of diff's metric tables (diff.h): whole-program metrics,
	 * and metrics with one value per key (an endpoint, a function). */
	const struct pst_metric_def *diff_metrics;
	size_t ndiff_metrics;
	/* Pairs of diff rows, NULL-ended: the first is shown but fails nothing
	 * (unless a budget names it) when both runs carry the second. */
	const char *const *diff_judged_by;
	const struct pst_keyed_def *diff_keyed;
	size_t ndiff_keyed;
	void (*free)(void *self);
};

/* families.c: the families in the order of analysis and of findings. */
extern const struct pst_family_ops *const pst_families[];
extern const size_t pst_nfamilies;

extern const struct pst_family_ops pst_family_memory, pst_family_threads, pst_family_net,
	pst_family_cpu, pst_family_timeline, pst_family_requests;

/* fam's index in pst_families. */
unsigned pst_family_index(const struct pst_family_ops *fam);

/* The result of family fam in a (NULL before it analyzed). */
void *pst_analysis_of(const struct pst_analysis *a, const struct pst_family_ops *fam);

/* Add w to a's warnings unless it is there; 0 or -ENOMEM. */
int pst_analysis_warn(struct pst_analysis *a, const char *w);

/* A new symbolizer of t's modules (for a->sym, and flame's); NULL
 * without memory. */
struct pst_symbolizer *pst_analysis_symbolizer(const struct pst_trace *t);

/* Analyze a->t with every family, then their findings in the one order.
 * 0 or -ENOMEM. */
int pst_analysis_run(struct pst_analysis *a);

void pst_analysis_free(struct pst_analysis *a);

#endif
