/* SPDX-License-Identifier: MIT */
/* docs/FORMAT.md's record tables, printed from the declarations in records.h. */
#ifndef PST_FORMAT_DOC_H
#define PST_FORMAT_DOC_H

#include <stdio.h>

/* The tables of FORMAT.md by records.h's table names, NULL-terminated. */
extern const char *const pst_format_doc_tables[];

/* The summary table (type, name, payload) of one table's records; returns how many. */
int pst_format_doc_table(FILE *f, const char *table);

/* One table of fields (name, encoding, meaning) per record. */
void pst_format_doc_fields(FILE *f);

#endif
