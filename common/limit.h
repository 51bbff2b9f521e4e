/* SPDX-License-Identifier: MIT */
/* A budget's limit and the check of a value against it: shared by diff and the preload, which links no JSON library. */
#ifndef PST_LIMIT_H
#define PST_LIMIT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * A budget for one metric. In the file a metric's value is either a number
 * (the absolute limit, as max) or an object with any of "max",
 * "max_increase" (in the metric's unit) and "max_increase_pct" (percent
 * of the base value).
 */
struct pst_budget_limit {
	bool has_max, has_increase, has_increase_pct;
	double max, max_increase, max_increase_pct;
};

/*
 * Judge a value against a limit: true when it is within. When it is not,
 * why names the metric, the limit and the observed value (name is how to
 * call the metric, fmt formats a value of its unit into buf).
 */
typedef const char *(*pst_value_fmt)(double v, char *buf, size_t len);
bool pst_budget_check(const struct pst_budget_limit *l, const char *name, double base,
		      double value, pst_value_fmt fmt, char *why, size_t whylen);

#endif
