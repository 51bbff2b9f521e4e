/* SPDX-License-Identifier: MIT */
/* The findings of every family as the report writes them: JSON, the text list, the short form of a family's own section. */
#ifndef PST_FINDINGS_OUT_H
#define PST_FINDINGS_OUT_H

#include <jansson.h>
#include <stdio.h>

#include "family.h"
#include "findings.h"

/* Width the text report wraps advice at. */
#define PST_TEXT_WIDTH 92

/* Print s wrapped at PST_TEXT_WIDTH, every line indented by indent spaces. */
void pst_text_wrap(FILE *out, const char *s, int indent);

/* A site's first frames after its name, as "<- caller" lines. */
void pst_text_site_stack(FILE *out, const struct pst_site *s, int indent);

/* Every finding, in the list's order. */
json_t *pst_findings_json(const struct pst_findings *f);

/* The report's "Findings (N)" list: the findings of the families that
 * have no section of their own for them, top at most. */
void pst_findings_text(FILE *out, const struct pst_findings *f, size_t top);

/* The findings of family (its index) in short form, for its own section. */
void pst_findings_text_short(FILE *out, const struct pst_findings *f, unsigned family);

#endif
