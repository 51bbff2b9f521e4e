/* SPDX-License-Identifier: MIT */
/* The JSON configuration ("performance": monitoring, pools, budgets): one parser for report, diff, findings and run (which hands the preload its settings). */
#ifndef PST_CONFIG_H
#define PST_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "limit.h"
#include "net_pools.h"

/* One budget: metric of the whole program (site NULL) or of the sites of
 * one function (site is its name). */
struct pst_budget {
	char *metric;
	char *site;
	struct pst_budget_limit limit;
};

/* A noise threshold for one metric: a change counts when it exceeds both. */
struct pst_noise_override {
	char *metric;
	bool has_rel, has_abs;
	double rel; /* fraction of the base value */
	double abs; /* in the metric's unit */
};

struct pst_budgets {
	struct pst_budget *v;
	size_t n;
	bool has_default; /* "default": the limit of every metric the file does not name */
	struct pst_budget_limit dflt;
	struct pst_noise_override *noise;
	size_t nnoise;
};

/*
 * Read the budgets from a parsed configuration: either the whole config
 * ({"performance": {"budgets": {...}}}) or the budgets object alone.
 * Metric names must be in totals (for the program) or site_metrics (under
 * "sites"); either list NULL-terminated, or NULL to accept any name.
 * Returns 0, or -1 with one line in err naming the key at fault.
 */
int pst_budgets_parse(json_t *root, const char *const *totals,
		      const char *const *site_metrics, struct pst_budgets *out, char *err,
		      size_t errlen);

/* pst_budgets_parse on the file at path. */
int pst_budgets_load(const char *path, const char *const *totals, const char *const *site_metrics,
		     struct pst_budgets *out, char *err, size_t errlen);

/* The limit for metric (of the sites of function site, or of the program
 * when site is NULL): the file's own entry, else for the program the
 * file's default, else NULL. */
const struct pst_budget_limit *pst_budgets_find(const struct pst_budgets *b, const char *metric,
						const char *site);

/* The noise override for metric, or NULL. */
const struct pst_noise_override *pst_budgets_noise(const struct pst_budgets *b,
						   const char *metric);

void pst_budgets_free(struct pst_budgets *b);

/* Budget metrics judged while the program runs, not by diff (NULL-terminated). */
extern const char *const pst_runtime_metric_names[];

/* performance.monitoring. Defaults: enabled, every event (rate 1), the
 * interval 0 (not given: the preload's own). */
struct pst_monitoring {
	bool enabled;
	double sample_rate;      /* fraction of high-rate per-event records kept */
	double metrics_interval; /* seconds between SNAPSHOT records */
	char *metrics_textfile;  /* directory for node_exporter's textfile collector; NULL: none */
};

/* performance.push: profiles pushed to a Pyroscope server by run and
 * record (their flags win). Strings NULL and numbers 0 when not given. */
struct pst_push_settings {
	char *url;	  /* the server, "http://host:4040" */
	char *app;	  /* the application name */
	char *labels;	  /* "key=value,...", from the labels object */
	char *spool;	  /* directory of profiles not sent yet */
	char *token;	  /* Authorization: Bearer */
	char *basic_auth; /* "user:password" */
	char *tenant;	  /* X-Scope-OrgID */
	double interval;  /* seconds a profile covers */
	double spool_max; /* bytes the spool may hold */
};

/* performance.caching: what the cacheable-read advice suggests. 0: not
 * given (the analyzer's defaults). */
struct pst_caching {
	double default_ttl; /* seconds, when no answer changed while traced */
	double max_memory;  /* bytes a suggested cache may take at most */
};

/* The whole configuration file. */
struct pst_settings {
	struct pst_monitoring mon;
	struct pst_push_settings push;
	struct pst_caching caching;
	struct pst_net_pools pools; /* declared pools, checked by the findings */
	bool has_budgets;
	struct pst_budgets budgets;
};

/* Parse {"performance": {...}}; totals and site_metrics as for
 * pst_budgets_parse. 0, or -1 with one line in err. */
int pst_settings_parse(json_t *root, const char *const *totals, const char *const *site_metrics,
		       struct pst_settings *out, char *err, size_t errlen);
/* pst_settings_parse on the file at path; err then starts with path. */
int pst_settings_load(const char *path, const char *const *totals,
		      const char *const *site_metrics, struct pst_settings *out, char *err,
		      size_t errlen);
void pst_settings_free(struct pst_settings *s);

#endif
