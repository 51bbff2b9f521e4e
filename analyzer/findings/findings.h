/* SPDX-License-Identifier: MIT */
/* Findings: rules over the memory analysis that name a problem, its evidence and what to change. */
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
	const struct pst_site *site; /* its stack; owned by the pst_memory */
	double score;                /* orders findings of one rule: larger first */
};

struct pst_findings {
	struct pst_finding *v;
	size_t n;
};

/* What the rules need beyond the memory analysis. */
struct pst_findings_ctx {
	bool at_exit;    /* the process exited normally: live blocks at the end are leaks */
	const char *end; /* how it ended, to finish "still allocated when ...";
			  * NULL: "the process exited" */
};

/* Run every rule over m's sites (pst_memory_sites done). Findings come out
 * by severity, then rule, then score. Returns 0 or -ENOMEM. */
int pst_findings_build(const struct pst_memory *m, const struct pst_findings_ctx *ctx,
		       struct pst_findings *out);

/* The first finding with this id for this site, or NULL (for tests). */
const struct pst_finding *pst_findings_get(const struct pst_findings *f, const char *id,
					   const struct pst_site *site);

const char *pst_severity_name(enum pst_severity s);

/* For the rules of every family: a formatted string to free, and evidence
 * (an integer rounded, a real to 2 decimals, a copied string; -ENOMEM). */
char *pst_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pst_ev_int(struct pst_finding *f, const char *key, double v);
void pst_ev_real(struct pst_finding *f, const char *key, double v);
int pst_ev_str(struct pst_finding *f, const char *key, const char *v);

/* findings_threads.c: thread-churn, pool-oversized, pool-undersized and
 * lock-contention, each placed after the findings of its severity.
 * Returns 0 or -ENOMEM. */
struct pst_threads;
int pst_findings_threads(const struct pst_threads *th, struct pst_findings *out);

void pst_findings_free(struct pst_findings *f);

#endif
