/* SPDX-License-Identifier: MIT */
/* A level over time for the one-page report's line charts: the most it reached per slot of the run. */
#include <math.h>

#include "html.h"
#include "json_util.h"

void pst_html_level_init(struct pst_html_level *l, uint64_t start,
			 const struct pst_html_buckets *b)
{
	*l = (struct pst_html_level){ .start = start };
	l->slot_ns = (b->width_ns * b->n + PST_HTML_SLOTS - 1) / PST_HTML_SLOTS;
}

void pst_html_level_move(struct pst_html_level *l, uint64_t ts, double d)
{
	uint64_t i = (ts > l->start ? ts - l->start : 0) / l->slot_ns;

	if (i >= PST_HTML_SLOTS)
		i = PST_HTML_SLOTS - 1;
	l->level += d;
	if (!l->seen[i] || l->level > l->hi[i])
		l->hi[i] = l->level;
	l->last[i] = l->level;
	l->seen[i] = true;
}

json_t *pst_html_level_json(const struct pst_html_level *l, bool exact)
{
	json_t *o = json_object(), *hi = json_array();
	double level = 0;

	json_object_set_new(o, "slot_ns", pst_ju64(l->slot_ns));
	for (size_t i = 0; i < PST_HTML_SLOTS; i++) {
		double v = l->seen[i] ? l->hi[i] : level;

		json_array_append_new(hi, exact ? json_integer((json_int_t)llround(v)) : json_real(v));
		if (l->seen[i])
			level = l->last[i];
	}
	json_object_set_new(o, "max", hi);
	return o;
}
