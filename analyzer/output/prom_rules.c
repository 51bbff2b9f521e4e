/* SPDX-License-Identifier: MIT */
/* A Prometheus rules file from the configuration's budgets: one alerting rule per budget on the metrics textfile's names. */
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "prom_rules.h"

/*
 * The budgets a running process is judged by (the preload's own alerts,
 * preload/prod.c), on the metrics --metrics-textfile writes. Like the
 * in-process alert, peak_heap_bytes is judged on the resident set, which
 * holds the heap: it may fire early, never late. Only "max" limits make
 * rules: an increase needs a base run, which Prometheus does not have.
 */
struct rule_metric {
	const char *budget;  /* the key in performance.budgets */
	const char *alert;   /* the alert's name */
	const char *series;  /* the textfile's metric */
	bool rate;           /* judged per second: rate() * 100 (percent) */
	const char *what;    /* how the summary calls the value */
	const char *advice;
};

static const struct rule_metric rule_metrics[] = {
	{ "peak_heap_bytes", "PrestandaHeapOverBudget", "prestanda_resident_memory_bytes", false,
	  "resident memory (holding the heap)",
	  "Record a trace (prestanda run --full) and read prestanda report: its top sites by bytes "
	  "still allocated show what holds the heap; a growing timeline means a leak." },
	{ "rss_bytes", "PrestandaRssOverBudget", "prestanda_resident_memory_bytes", false,
	  "resident memory",
	  "prestanda report on the trace: the timeline shows when the resident set grew, the top "
	  "sites by bytes what allocated it." },
	{ "alloc_calls", "PrestandaAllocCallsOverBudget", "prestanda_alloc_calls_total", false,
	  "allocation calls",
	  "prestanda report on the trace: the top sites by calls are where to reuse buffers or "
	  "allocate once instead of in a loop." },
	{ "allocated_bytes", "PrestandaAllocatedBytesOverBudget", "prestanda_alloc_bytes_total", false,
	  "bytes allocated",
	  "prestanda report on the trace: the top sites by bytes show which allocations to make "
	  "smaller or fewer." },
	{ "open_fds", "PrestandaOpenFdsOverBudget", "prestanda_open_fds", false, "open descriptors",
	  "A descriptor count that only grows is a leak: check that every open, socket and accept "
	  "has its close on every path, error paths included." },
	{ "threads", "PrestandaThreadsOverBudget", "prestanda_threads", false, "threads",
	  "prestanda report on the trace: its threads section shows which code starts threads; "
	  "a pool of fixed size bounds them." },
	{ "cpu_percent", "PrestandaCpuOverBudget", "prestanda_cpu_seconds_total", true, "CPU percent",
	  "prestanda run --cpu records where the CPU time goes; prestanda flame draws it." },
};
#define NRULE_METRICS (sizeof(rule_metrics) / sizeof(rule_metrics[0]))

/* ---- libyaml's emitter, one event at a time ---- */

static bool emit(yaml_emitter_t *e, yaml_event_t *ev, bool ok)
{
	return ok && yaml_emitter_emit(e, ev);
}

static bool scalar_as(yaml_emitter_t *e, const char *s, yaml_scalar_style_t style)
{
	yaml_event_t ev;

	return emit(e, &ev,
		    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1,
						 1, style));
}

static bool scalar(yaml_emitter_t *e, const char *s)
{
	return scalar_as(e, s, YAML_ANY_SCALAR_STYLE);
}

static bool pair(yaml_emitter_t *e, const char *key, const char *value)
{
	return scalar(e, key) && scalar(e, value);
}

/* The start or end of a block mapping (seq false) or sequence. */
static bool block(yaml_emitter_t *e, bool seq, bool start)
{
	yaml_event_t ev;
	int ok = !start		? (seq ? yaml_sequence_end_event_initialize(&ev) :
					   yaml_mapping_end_event_initialize(&ev)) :
		 seq		? yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
								       YAML_BLOCK_SEQUENCE_STYLE) :
				  yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
								      YAML_BLOCK_MAPPING_STYLE);

	return emit(e, &ev, ok);
}

#define map_start(e) block(e, false, true)
#define map_end(e) block(e, false, false)
#define seq_start(e) block(e, true, true)
#define seq_end(e) block(e, true, false)

/* ---- the rules ---- */

/* A limit as PromQL and people read it: the shortest form that reads back exact. */
static void number(double v, char *buf, size_t len)
{
	snprintf(buf, len, "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, len, "%.17g", v);
}

/* A Prometheus duration from seconds: whole seconds, else milliseconds. */
static void duration(double s, char *buf, size_t len)
{
	long long ms = (long long)(s * 1000 + 0.5);

	if (ms % 1000 == 0)
		snprintf(buf, len, "%llds", ms / 1000);
	else
		snprintf(buf, len, "%lldms", ms ? ms : 1);
}

/* {program="NAME"}, the name escaped for a PromQL string; "" for every program. */
static void selector(const char *program, char *buf, size_t len)
{
	size_t at;

	if (!program) {
		buf[0] = 0;
		return;
	}
	at = (size_t)snprintf(buf, len, "{program=\"");
	for (const char *p = program; *p && at + 4 < len; p++) {
		if (*p == '"' || *p == '\\')
			buf[at++] = '\\';
		buf[at++] = *p;
	}
	snprintf(buf + at, len - at, "\"}");
}

static bool rule_body(yaml_emitter_t *e, const struct rule_metric *m, double max, const char *for_,
		      const struct pst_rules_opts *o)
{
	char lim[64], sel[300], expr[512], summary[512], desc[512];

	number(max, lim, sizeof(lim));
	selector(o->program, sel, sizeof(sel));
	if (m->rate)
		snprintf(expr, sizeof(expr), "rate(%s%s[%s]) * 100 > %s", m->series, sel, o->rate_window, lim);
	else
		snprintf(expr, sizeof(expr), "%s%s > %s", m->series, sel, lim);
	snprintf(summary, sizeof(summary), "{{ $labels.program }} (pid {{ $labels.pid }}): %s over budget",
		 m->budget);
	snprintf(desc, sizeof(desc), "%s is {{ $value }}, over the limit of %s (budget %s).", m->what, lim,
		 m->budget);
	return pair(e, "alert", m->alert) && pair(e, "expr", expr) && pair(e, "for", for_) &&
	       scalar(e, "labels") && map_start(e) && pair(e, "severity", o->severity) &&
	       pair(e, "program", "{{ $labels.program }}") && map_end(e) && scalar(e, "annotations") &&
	       map_start(e) && pair(e, "summary", summary) && pair(e, "description", desc) &&
	       scalar(e, "limit") &&
	       scalar_as(e, lim, YAML_DOUBLE_QUOTED_SCALAR_STYLE) && pair(e, "advice", m->advice) && map_end(e);
}

/* The rules of every budget that has one; *n counts them. */
static bool rules(yaml_emitter_t *e, const struct pst_settings *s, const struct pst_rules_opts *o, int *n)
{
	char for_[32];
	/* two snapshots over the limit in a row: one interval after the first */
	double iv = s->mon.metrics_interval > 0 ? s->mon.metrics_interval : 1;

	duration(2 * iv, for_, sizeof(for_));
	for (size_t i = 0; s->has_budgets && i < NRULE_METRICS; i++) {
		const struct pst_budget_limit *l = pst_budgets_find(&s->budgets, rule_metrics[i].budget, NULL);

		if (!l || !l->has_max)
			continue;
		if (!map_start(e) || !rule_body(e, &rule_metrics[i], l->max, for_, o) || !map_end(e))
			return false;
		(*n)++;
	}
	return true;
}

static bool known_metric(const char *budget)
{
	for (size_t i = 0; i < NRULE_METRICS; i++)
		if (!strcmp(rule_metrics[i].budget, budget))
			return true;
	return false;
}

/* What the rules leave out, said once each on stderr. */
static void note_skipped(const struct pst_budgets *b)
{
	for (size_t i = 0; i < b->n; i++) {
		const struct pst_budget *x = &b->v[i];

		if (x->site)
			fprintf(stderr, "prestanda rules: budget sites.%s.%s: a site's figure is in the trace only; no rule\n",
				x->site, x->metric);
		else if (!known_metric(x->metric))
			fprintf(stderr, "prestanda rules: budget %s: not a metric of the running process; no rule\n",
				x->metric);
		else if (!x->limit.has_max)
			fprintf(stderr, "prestanda rules: budget %s: an increase needs a base run; no rule\n",
				x->metric);
	}
}

static bool document(yaml_emitter_t *e, const struct pst_settings *s, const struct pst_rules_opts *o, int *n)
{
	yaml_event_t ev;

	return emit(e, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING)) &&
	       emit(e, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1)) &&
	       map_start(e) && scalar(e, "groups") && seq_start(e) && map_start(e) &&
	       pair(e, "name", "prestanda") && scalar(e, "rules") && seq_start(e) && rules(e, s, o, n) &&
	       seq_end(e) && map_end(e) && seq_end(e) && map_end(e) &&
	       emit(e, &ev, yaml_document_end_event_initialize(&ev, 1)) &&
	       emit(e, &ev, yaml_stream_end_event_initialize(&ev));
}

int pst_rules_write(FILE *out, const struct pst_settings *s, const struct pst_rules_opts *o)
{
	yaml_emitter_t e;
	int n = 0;
	bool ok;

	if (!yaml_emitter_initialize(&e))
		return -1;
	yaml_emitter_set_output_file(&e, out);
	yaml_emitter_set_unicode(&e, 1);
	yaml_emitter_set_width(&e, -1);
	ok = document(&e, s, o, &n) && yaml_emitter_flush(&e);
	yaml_emitter_delete(&e);
	if (s->has_budgets)
		note_skipped(&s->budgets);
	return ok ? n : -1;
}
