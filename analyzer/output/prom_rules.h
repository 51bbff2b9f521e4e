/* SPDX-License-Identifier: MIT */
/* A Prometheus rules file from the configuration's budgets: one alerting rule per budget on the metrics textfile's names. */
#ifndef PST_PROM_RULES_H
#define PST_PROM_RULES_H

#include <stdio.h>

#include "config.h"

struct pst_rules_opts {
	const char *program;     /* only this program's series; NULL: every program's */
	const char *rate_window; /* the range of rate() for per-second budgets, e.g. "1m" */
	const char *severity;    /* the severity label */
};

/* Write the rules for s's budgets to out as YAML. A budget no metric of the
 * textfile can judge (an increase, a site, a metric only a trace has) is
 * left out with a note on stderr. Returns the number of rules, or -1 when
 * writing failed. */
int pst_rules_write(FILE *out, const struct pst_settings *s, const struct pst_rules_opts *o);

#endif
