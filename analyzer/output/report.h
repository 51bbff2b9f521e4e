/* SPDX-License-Identifier: MIT */
/* The JSON report of one trace, for commands that build on it (diff). */
#ifndef PST_REPORT_H
#define PST_REPORT_H

#include <jansson.h>

/* Analyze the trace at path and return its report as `report --json`
 * writes it (every site), or NULL after printing why on stderr (the trace
 * cannot be read, is damaged, or memory ran out). */
json_t *pst_report_json(const char *path);

#endif
