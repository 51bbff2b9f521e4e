/* SPDX-License-Identifier: MIT */
/* A value judged against a budget's limit, with the reason in words when it is over. */
#include <stdio.h>

#include "limit.h"

bool pst_budget_check(const struct pst_budget_limit *l, const char *name, double base,
		      double value, pst_value_fmt fmt, char *why, size_t whylen)
{
	char a[64], b[64], c[64], d[64];
	double inc = value - base;

	if (l->has_max && value > l->max) {
		snprintf(why, whylen, "%s is %s, over the limit of %s", name, fmt(value, a, sizeof(a)),
			 fmt(l->max, b, sizeof(b)));
		return false;
	}
	if (l->has_increase && inc > l->max_increase) {
		snprintf(why, whylen, "%s grew by %s (%s to %s), over the allowed increase of %s",
			 name, fmt(inc, a, sizeof(a)), fmt(base, b, sizeof(b)),
			 fmt(value, c, sizeof(c)), fmt(l->max_increase, d, sizeof(d)));
		return false;
	}
	if (l->has_increase_pct && inc > 0 && (base <= 0 || inc / base * 100 > l->max_increase_pct)) {
		if (base > 0)
			snprintf(why, whylen,
				 "%s grew by %.1f%% (%s to %s), over the allowed increase of %g%%",
				 name, inc / base * 100, fmt(base, a, sizeof(a)),
				 fmt(value, b, sizeof(b)), l->max_increase_pct);
		else
			snprintf(why, whylen,
				 "%s grew from 0 to %s, over the allowed increase of %g%%", name,
				 fmt(value, a, sizeof(a)), l->max_increase_pct);
		return false;
	}
	return true;
}
