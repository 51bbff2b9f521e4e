/* SPDX-License-Identifier: MIT */
/* Findings: the one model of every family's findings (a problem, its evidence, what to change), and the memory rules. */
#ifndef PST_FINDINGS_H
#define PST_FINDINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memory.h"

enum pst_severity { PST_SEV_HIGH, PST_SEV_MEDIUM, PST_SEV_LOW };

enum pst_evidence_kind { PST_EV_INT, PST_EV_REAL, PST_EV_STR };

struct pst_evidence {
	const char *key; /* static */
	enum pst_evidence_kind kind;
	uint64_t i;
	double r;
	char *s;
};

#define PST_MAX_EVIDENCE 12

struct pst_finding {
	const char *id; /* "leak", "short-lived-small", "realloc-growth" */
	enum pst_severity severity;
	char *title, *advice;
	struct pst_evidence ev[PST_MAX_EVIDENCE];
	size_t nev;
	const struct pst_site *site; /* its site, when it has one; owned by its family's analysis */
	char *const *stack;          /* its stack, innermost first (the site's when it has one) */
	size_t depth;
	double score;                /* orders findings of one rule: larger first */
	unsigned family;             /* index of its family in pst_families: orders the list */
};

struct pst_findings {
	struct pst_finding *v;
	size_t n, cap;
};

/* What the rules need beyond the memory analysis. */
struct pst_findings_ctx {
	bool at_exit;    /* the process exited normally: live blocks at the end are leaks */
	const char *end; /* how it ended, to finish "still allocated when ...";
			  * NULL: "the process exited" */
	bool frees_missing; /* the trace lacks frees (capped): no leak findings */
};

/* Run every rule over m's sites (pst_memory_sites done), appending to out.
 * Memory's own order: by severity, then rule, then score.
 * Returns 0 or -ENOMEM. */
int pst_findings_build(const struct pst_memory *m, const struct pst_findings_ctx *ctx,
		       struct pst_findings *out);

/* The first finding with this id for this site, or NULL (for tests). */
const struct pst_finding *pst_findings_get(const struct pst_findings *f, const char *id,
					   const struct pst_site *site);

const char *pst_severity_name(enum pst_severity s);

/* For the rules of every family: a new finding at the end of out (zeroed
 * but for id, severity and site and its stack; NULL without memory), */
struct pst_finding *pst_finding_add(struct pst_findings *out, const char *id,
				    enum pst_severity sev, const struct pst_site *site);
/* a formatted string to free, and evidence
 * (an integer rounded, a real to 2 decimals, a copied string; -ENOMEM). */
char *pst_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pst_ev_int(struct pst_finding *f, const char *key, double v);
void pst_ev_real(struct pst_finding *f, const char *key, double v);
int pst_ev_str(struct pst_finding *f, const char *key, const char *v);

/* The one order of a report's findings: by severity, then by family (the
 * order of pst_families), then in the order each family gave them. */
int pst_findings_sort(struct pst_findings *f); /* 0 or -ENOMEM */

/* findings_threads.c: thread-churn, pool-oversized, pool-undersized and
 * lock-contention, in the order of the groups and locks.
 * Returns 0 or -ENOMEM. */
struct pst_threads;
int pst_findings_threads(const struct pst_threads *th, struct pst_findings *out);

/* findings_cpu.c: cpu-hot-function, offcpu-blocked, cpu-truncated-stacks.
 * Returns 0 or -ENOMEM. */
struct pst_cpu;
int pst_findings_cpu(const struct pst_cpu *c, struct pst_findings *out);

void pst_findings_free(struct pst_findings *f);

#endif
