/* SPDX-License-Identifier: MIT */
/* Between the files of report --all: the JSON merge and the merged report's text. */
#ifndef PST_REPORT_ALL_H
#define PST_REPORT_ALL_H

#include <jansson.h>
#include <stdio.h>

#include "findings.h"

/* src's keys into dst (report_merge.c): numbers summed (levels and
 * extremes: the larger), objects merged, rows of arrays matched by their
 * identity (names, stacks, numeric ids) and merged, the others appended.
 * 0, or -1 when out of memory. */
int pst_report_merge_object(json_t *dst, json_t *src);

/* The merged report as text (report_all_text.c): the processes' totals,
 * the merged memory totals, the findings, the top tables. */
void pst_report_all_text(FILE *out, json_t *rep, const struct pst_findings *f, size_t top);

#endif
