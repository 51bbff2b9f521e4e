/* SPDX-License-Identifier: MIT */
/* The JSON configuration ("performance": monitoring, pools, budgets): one parser for report, diff, findings and run (which hands the preload its settings). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* Metrics only the running process can judge (the preload's alerts);
 * diff accepts them in a budget file and leaves them alone. */
const char *const pst_runtime_metric_names[] = { "rss_bytes", "open_fds", "threads",
						 "cpu_percent", NULL };

static bool known(const char *const *names, const char *name)
{
	if (!names)
		return true;
	for (; *names; names++)
		if (!strcmp(*names, name))
			return true;
	return false;
}

/*
 * Every numeric setting has a range, and a value outside it is an error
 * that names the key, the value as written and the range: a value that
 * only overflowed when converted (metrics_interval 1e26 became 1 ms) is
 * never taken.
 */
#define BUDGET_MAX 1e18	    /* bytes, calls, blocks: far above any program's */
#define PERCENT_MAX 1e6	    /* max_increase_pct, rel_pct */
#define INTERVAL_MIN 0.001  /* metrics_interval, seconds: the preload counts in ms */
#define INTERVAL_MAX 86400.0
#define POOL_SIZE_MAX 1e6   /* pools.<name>.min_size, max_size */

struct range {
	double lo, hi;
	bool lo_open;	  /* lo itself is out */
	bool integral;	  /* whole numbers only */
	const char *unit; /* "" or " seconds" */
};

static const struct range budget_range = { 0, BUDGET_MAX, false, false, "" };
static const struct range percent_range = { 0, PERCENT_MAX, false, false, "" };

/* v as the file wrote it, for messages. */
static void shown(json_t *v, char *buf, size_t len)
{
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));

	snprintf(buf, len, "%s", s ? s : "?");
	free(s);
}

/* v, a number within r, into *out; else -1 with "key: VALUE is out of
 * range (LO to HI)" (or "is not a number", "is not a whole number") in err. */
static int number_in(json_t *v, const char *key, const struct range *r, double *out, char *err,
		     size_t errlen)
{
	char val[64], range[96];
	const char *why = NULL;
	double d = 0;

	if (r->lo_open)
		snprintf(range, sizeof(range), "above %.15g, at most %.15g%s", r->lo, r->hi, r->unit);
	else
		snprintf(range, sizeof(range), "%.15g to %.15g%s", r->lo, r->hi, r->unit);
	if (json_is_integer(v))
		d = (double)json_integer_value(v);
	else if (json_is_real(v))
		d = json_real_value(v);
	else
		why = "is not a number";
	if (!why && (!isfinite(d) || d < r->lo || d > r->hi || (r->lo_open && d == r->lo)))
		why = "is out of range";
	else if (!why && r->integral && d != floor(d))
		why = "is not a whole number";
	if (why) {
		shown(v, val, sizeof(val));
		snprintf(err, errlen, "%s: %s %s (%s)", key, val, why, range);
		return -1;
	}
	*out = d;
	return 0;
}

/* A limit: a number (the maximum) or {"max", "max_increase", "max_increase_pct"}. */
static int parse_limit(json_t *v, const char *where, struct pst_budget_limit *l, char *err,
		       size_t errlen)
{
	const char *key;
	char name[700];
	json_t *x;

	memset(l, 0, sizeof(*l));
	if (json_is_number(v)) {
		snprintf(name, sizeof(name), "budget %s", where);
		if (number_in(v, name, &budget_range, &l->max, err, errlen))
			return -1;
		l->has_max = true;
		return 0;
	}
	if (!json_is_object(v)) {
		snprintf(err, errlen,
			 "budget %s: expected a number or an object with max, max_increase, max_increase_pct",
			 where);
		return -1;
	}
	json_object_foreach(v, key, x) {
		double d;
		bool *has;
		double *dst;

		if (!strcmp(key, "max")) {
			has = &l->has_max;
			dst = &l->max;
		} else if (!strcmp(key, "max_increase")) {
			has = &l->has_increase;
			dst = &l->max_increase;
		} else if (!strcmp(key, "max_increase_pct")) {
			has = &l->has_increase_pct;
			dst = &l->max_increase_pct;
		} else {
			snprintf(err, errlen,
				 "budget %s: unknown key '%s' (max, max_increase, max_increase_pct)",
				 where, key);
			return -1;
		}
		snprintf(name, sizeof(name), "budget %s.%s", where, key);
		if (number_in(x, name, dst == &l->max_increase_pct ? &percent_range : &budget_range,
			      &d, err, errlen))
			return -1;
		*has = true;
		*dst = d;
	}
	if (!l->has_max && !l->has_increase && !l->has_increase_pct) {
		snprintf(err, errlen, "budget %s: an empty limit", where);
		return -1;
	}
	return 0;
}

static int add_budget(struct pst_budgets *b, const char *metric, const char *site,
		      const struct pst_budget_limit *l)
{
	struct pst_budget *nv = realloc(b->v, (b->n + 1) * sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	b->v = nv;
	nv[b->n].limit = *l;
	nv[b->n].metric = strdup(metric);
	nv[b->n].site = site ? strdup(site) : NULL;
	b->n++;
	if (!nv[b->n - 1].metric || (site && !nv[b->n - 1].site))
		return -ENOMEM;
	return 0;
}

static int parse_sites(json_t *sites, const char *const *site_metrics, struct pst_budgets *b,
		       char *err, size_t errlen)
{
	const char *fn, *metric;
	json_t *o, *v;
	char where[512];

	if (!json_is_object(sites)) {
		snprintf(err, errlen, "budget sites: expected an object of function names");
		return -1;
	}
	json_object_foreach(sites, fn, o) {
		if (!json_is_object(o)) {
			snprintf(err, errlen, "budget sites.%s: expected an object of metrics", fn);
			return -1;
		}
		json_object_foreach(o, metric, v) {
			struct pst_budget_limit l;

			snprintf(where, sizeof(where), "sites.%s.%s", fn, metric);
			if (!known(site_metrics, metric)) {
				snprintf(err, errlen, "budget %s: unknown site metric '%s'", where,
					 metric);
				return -1;
			}
			if (parse_limit(v, where, &l, err, errlen))
				return -1;
			if (add_budget(b, metric, fn, &l)) {
				snprintf(err, errlen, "budget: out of memory");
				return -1;
			}
		}
	}
	return 0;
}

static int parse_noise(json_t *noise, const char *const *totals, struct pst_budgets *b, char *err,
		       size_t errlen)
{
	const char *metric, *key;
	json_t *o, *v;

	if (!json_is_object(noise)) {
		snprintf(err, errlen, "budget noise: expected an object of metrics");
		return -1;
	}
	json_object_foreach(noise, metric, o) {
		struct pst_noise_override nz = { 0 }, *nv;

		if (!known(totals, metric)) {
			snprintf(err, errlen, "budget noise.%s: unknown metric '%s'", metric, metric);
			return -1;
		}
		if (!json_is_object(o)) {
			snprintf(err, errlen, "budget noise.%s: expected an object with rel_pct, abs",
				 metric);
			return -1;
		}
		json_object_foreach(o, key, v) {
			char name[600];
			double d;

			snprintf(name, sizeof(name), "budget noise.%s.%s", metric, key);
			if ((!strcmp(key, "rel_pct") || !strcmp(key, "abs")) &&
			    number_in(v, name, !strcmp(key, "abs") ? &budget_range : &percent_range,
				      &d, err, errlen))
				return -1;
			if (!strcmp(key, "rel_pct")) {
				nz.has_rel = true;
				nz.rel = d / 100;
			} else if (!strcmp(key, "abs")) {
				nz.has_abs = true;
				nz.abs = d;
			} else {
				snprintf(err, errlen, "budget noise.%s: unknown key '%s' (rel_pct, abs)",
					 metric, key);
				return -1;
			}
		}
		nv = realloc(b->noise, (b->nnoise + 1) * sizeof(*nv));
		if (!nv) {
			snprintf(err, errlen, "budget: out of memory");
			return -1;
		}
		b->noise = nv;
		nz.metric = strdup(metric);
		nv[b->nnoise++] = nz;
		if (!nz.metric) {
			snprintf(err, errlen, "budget: out of memory");
			return -1;
		}
	}
	return 0;
}

/* The budgets object: the whole config's performance.budgets, or the root itself. */
static json_t *budgets_object(json_t *root, char *err, size_t errlen)
{
	json_t *perf, *b;

	if (!json_is_object(root)) {
		snprintf(err, errlen, "budget: the file is not a JSON object");
		return NULL;
	}
	perf = json_object_get(root, "performance");
	if (!perf)
		return root;
	if (!json_is_object(perf)) {
		snprintf(err, errlen, "budget: \"performance\" is not an object");
		return NULL;
	}
	b = json_object_get(perf, "budgets");
	if (!json_is_object(b)) {
		snprintf(err, errlen, "budget: no \"performance.budgets\" object in the file");
		return NULL;
	}
	return b;
}

int pst_budgets_parse(json_t *root, const char *const *totals, const char *const *site_metrics,
		      struct pst_budgets *out, char *err, size_t errlen)
{
	json_t *bo = budgets_object(root, err, errlen), *v;
	const char *key;

	memset(out, 0, sizeof(*out));
	if (!bo)
		return -1;
	json_object_foreach(bo, key, v) {
		struct pst_budget_limit l;

		if (!strcmp(key, "sites")) {
			if (parse_sites(v, site_metrics, out, err, errlen))
				goto fail;
			continue;
		}
		if (!strcmp(key, "noise")) {
			if (parse_noise(v, totals, out, err, errlen))
				goto fail;
			continue;
		}
		if (!strcmp(key, "default")) {
			if (parse_limit(v, key, &out->dflt, err, errlen))
				goto fail;
			out->has_default = true;
			continue;
		}
		if (!known(totals, key) && !known(pst_runtime_metric_names, key)) {
			snprintf(err, errlen, "budget: unknown metric '%s'", key);
			goto fail;
		}
		if (parse_limit(v, key, &l, err, errlen))
			goto fail;
		if (add_budget(out, key, NULL, &l)) {
			snprintf(err, errlen, "budget: out of memory");
			goto fail;
		}
	}
	return 0;
fail:
	pst_budgets_free(out);
	return -1;
}

/* The whole file as JSON; NULL with a message naming the file. */
static json_t *load_json(const char *path, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root;
	FILE *f = fopen(path, "r");

	if (!f) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	root = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
	fclose(f);
	if (!root)
		snprintf(err, errlen, "%s:%d:%d: not valid JSON: %s", path, je.line, je.column,
			 je.text);
	return root;
}

/* err becomes "path: err". */
static void prefix_path(const char *path, char *err, size_t errlen)
{
	char tmp[512];

	snprintf(tmp, sizeof(tmp), "%s: %s", path, err);
	snprintf(err, errlen, "%s", tmp);
}

/* After parsing the file at path: root freed, err naming the file. */
static int parsed(const char *path, json_t *root, int r, char *err, size_t errlen)
{
	json_decref(root);
	if (r)
		prefix_path(path, err, errlen);
	return r;
}

int pst_budgets_load(const char *path, const char *const *totals, const char *const *site_metrics,
		     struct pst_budgets *out, char *err, size_t errlen)
{
	json_t *root;

	memset(out, 0, sizeof(*out));
	root = load_json(path, err, errlen);
	return root ? parsed(path, root, pst_budgets_parse(root, totals, site_metrics, out, err, errlen),
			     err, errlen)
		    : -1;
}

void pst_net_pools_free(struct pst_net_pools *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].name);
		free(p->v[i].endpoint);
	}
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

/* performance.pools: {"name": {"min_size", "max_size", "endpoint"}}. */
static int parse_pools(json_t *pools, struct pst_net_pools *out, char *err, size_t errlen)
{
	const char *name;
	json_t *v;

	if (!json_is_object(pools)) {
		snprintf(err, errlen, "performance.pools is not an object");
		return -1;
	}
	out->v = calloc(json_object_size(pools) + 1, sizeof(*out->v));
	if (!out->v) {
		snprintf(err, errlen, "config: out of memory");
		return -1;
	}
	json_object_foreach(pools, name, v) {
		static const struct range size = { 0, POOL_SIZE_MAX, false, true, "" };
		struct pst_net_pool *p = &out->v[out->n];
		json_t *mn = json_object_get(v, "min_size"), *mx = json_object_get(v, "max_size");
		json_t *ep = json_object_get(v, "endpoint");
		double mnv = 0, mxv = 0;
		char key[600];

		if (!json_is_object(v) || (ep && !json_is_string(ep))) {
			snprintf(err, errlen,
				 "pools.%s needs integer min_size/max_size and an optional endpoint string",
				 name);
			return -1;
		}
		snprintf(key, sizeof(key), "pools.%s.min_size", name);
		if (mn && number_in(mn, key, &size, &mnv, err, errlen))
			return -1;
		snprintf(key, sizeof(key), "pools.%s.max_size", name);
		if (mx && number_in(mx, key, &size, &mxv, err, errlen))
			return -1;
		if (mn && mx && mnv > mxv) {
			snprintf(err, errlen, "pools.%s: min_size %.0f is above max_size %.0f", name,
				 mnv, mxv);
			return -1;
		}
		p->name = strdup(name);
		p->min_size = (long long)mnv;
		p->max_size = (long long)mxv;
		p->endpoint = ep ? strdup(json_string_value(ep)) : NULL;
		out->n++;
		if (!p->name || (ep && !p->endpoint)) {
			snprintf(err, errlen, "config: out of memory");
			return -1;
		}
	}
	return 0;
}

/* performance.monitoring.metrics_textfile: a directory, as a non-empty string. */
static int parse_textfile(json_t *v, struct pst_monitoring *out, char *err, size_t errlen)
{
	if (!v)
		return 0;
	if (!json_is_string(v) || !*json_string_value(v)) {
		snprintf(err, errlen, "monitoring.metrics_textfile must be a directory name");
		return -1;
	}
	out->metrics_textfile = strdup(json_string_value(v));
	if (!out->metrics_textfile) {
		snprintf(err, errlen, "monitoring: out of memory");
		return -1;
	}
	return 0;
}

/* performance.monitoring: enabled, sample_rate in (0, 1], metrics_interval in
 * [0.001, 86400] seconds. */
static int parse_monitoring(json_t *mon, struct pst_monitoring *out, char *err, size_t errlen)
{
	json_t *en = json_object_get(mon, "enabled");
	json_t *rate = json_object_get(mon, "sample_rate");
	json_t *iv = json_object_get(mon, "metrics_interval");

	if (!json_is_object(mon)) {
		snprintf(err, errlen, "performance.monitoring is not an object");
		return -1;
	}
	if (en && !json_is_boolean(en)) {
		snprintf(err, errlen, "monitoring.enabled must be true or false");
		return -1;
	}
	if (en)
		out->enabled = json_is_true(en);
	static const struct range rate_range = { 0, 1, true, false, "" };
	static const struct range interval_range = { INTERVAL_MIN, INTERVAL_MAX, false, false,
						     " seconds" };

	if (rate && number_in(rate, "monitoring.sample_rate", &rate_range, &out->sample_rate, err,
			      errlen))
		return -1;
	if (iv && number_in(iv, "monitoring.metrics_interval", &interval_range,
			    &out->metrics_interval, err, errlen))
		return -1;
	return parse_textfile(json_object_get(mon, "metrics_textfile"), out, err, errlen);
}

/* A non-empty string at key of obj (absent: left NULL) into a copy. */
static int push_string(json_t *obj, const char *key, char **out, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		return 0;
	if (!json_is_string(v) || !*json_string_value(v)) {
		snprintf(err, errlen, "push.%s must be a non-empty string", key);
		return -1;
	}
	*out = strdup(json_string_value(v));
	if (!*out) {
		snprintf(err, errlen, "push: out of memory");
		return -1;
	}
	return 0;
}

/* Can s go into Pyroscope's name{key=value,...} as it is? */
static bool label_text(const char *s)
{
	return *s && !strpbrk(s, "{},= \t\n&");
}

/* push.labels: an object of strings, into "key=value,...". */
static int push_labels(json_t *labels, struct pst_push_settings *out, char *err, size_t errlen)
{
	const char *k;
	json_t *v;
	size_t len = 1;

	if (!json_is_object(labels)) {
		snprintf(err, errlen, "push.labels must be an object of strings");
		return -1;
	}
	json_object_foreach(labels, k, v) {
		if (!json_is_string(v) || !label_text(k) || !label_text(json_string_value(v))) {
			snprintf(err, errlen, "push.labels.%s: names and values are non-empty "
					      "strings without { } , = & or spaces", k);
			return -1;
		}
		len += strlen(k) + strlen(json_string_value(v)) + 2;
	}
	out->labels = calloc(1, len);
	if (!out->labels) {
		snprintf(err, errlen, "push: out of memory");
		return -1;
	}
	json_object_foreach(labels, k, v)
		snprintf(out->labels + strlen(out->labels), len - strlen(out->labels), "%s%s=%s",
			 *out->labels ? "," : "", k, json_string_value(v));
	return 0;
}

/* performance.push: url, app, labels, spool, token, basic_auth, tenant,
 * interval in [1, 86400] seconds, spool_max in [4K, 1T] bytes. */
static int parse_push(json_t *push, struct pst_push_settings *out, char *err, size_t errlen)
{
	static const char *const keys[] = { "url", "app", "spool", "token", "basic_auth", "tenant" };
	char **dst[] = { &out->url, &out->app, &out->spool,
			 &out->token, &out->basic_auth, &out->tenant };
	static const struct range interval_range = { 1, INTERVAL_MAX, false, false, " seconds" };
	static const struct range spool_range = { 4096, 1099511627776.0, false, true, " bytes" };
	json_t *v;

	if (!json_is_object(push)) {
		snprintf(err, errlen, "performance.push is not an object");
		return -1;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++)
		if (push_string(push, keys[i], dst[i], err, errlen))
			return -1;
	v = json_object_get(push, "labels");
	if (v && push_labels(v, out, err, errlen))
		return -1;
	v = json_object_get(push, "interval");
	if (v && number_in(v, "push.interval", &interval_range, &out->interval, err, errlen))
		return -1;
	v = json_object_get(push, "spool_max");
	return v ? number_in(v, "push.spool_max", &spool_range, &out->spool_max, err, errlen) : 0;
}

/* performance.caching: {"default_ttl": seconds, "max_memory": bytes}. */
static int parse_caching(json_t *c, struct pst_caching *out, char *err, size_t errlen)
{
	static const struct range ttl = { 0, 31536000, true, false, " seconds" };
	static const struct range mem = { 0, 1e15, true, true, " bytes" };
	json_t *t, *m;

	if (!json_is_object(c)) {
		snprintf(err, errlen, "performance.caching is not an object");
		return -1;
	}
	t = json_object_get(c, "default_ttl");
	m = json_object_get(c, "max_memory");
	if (t && number_in(t, "caching.default_ttl", &ttl, &out->default_ttl, err, errlen))
		return -1;
	return m ? number_in(m, "caching.max_memory", &mem, &out->max_memory, err, errlen) : 0;
}

int pst_settings_parse(json_t *root, const char *const *totals, const char *const *site_metrics,
		       struct pst_settings *out, char *err, size_t errlen)
{
	json_t *perf, *x;

	memset(out, 0, sizeof(*out));
	out->mon.enabled = true;
	out->mon.sample_rate = 1;
	perf = json_object_get(root, "performance");
	if (!json_is_object(perf)) {
		snprintf(err, errlen, "config: no \"performance\" object");
		return -1;
	}
	x = json_object_get(perf, "monitoring");
	if (x && parse_monitoring(x, &out->mon, err, errlen))
		goto fail;
	x = json_object_get(perf, "pools");
	if (x && parse_pools(x, &out->pools, err, errlen))
		goto fail;
	x = json_object_get(perf, "caching");
	if (x && parse_caching(x, &out->caching, err, errlen))
		goto fail;
	x = json_object_get(perf, "push");
	if (x && parse_push(x, &out->push, err, errlen))
		goto fail;
	if (json_object_get(perf, "budgets")) {
		if (pst_budgets_parse(root, totals, site_metrics, &out->budgets, err, errlen))
			goto fail;
		out->has_budgets = true;
	}
	return 0;
fail:
	pst_settings_free(out);
	return -1;
}

int pst_settings_load(const char *path, const char *const *totals,
		      const char *const *site_metrics, struct pst_settings *out, char *err,
		      size_t errlen)
{
	json_t *root;

	memset(out, 0, sizeof(*out));
	root = load_json(path, err, errlen);
	return root ? parsed(path, root, pst_settings_parse(root, totals, site_metrics, out, err, errlen),
			     err, errlen)
		    : -1;
}

void pst_settings_free(struct pst_settings *s)
{
	free(s->mon.metrics_textfile);
	s->mon.metrics_textfile = NULL;
	free(s->push.url);
	free(s->push.app);
	free(s->push.labels);
	free(s->push.spool);
	free(s->push.token);
	free(s->push.basic_auth);
	free(s->push.tenant);
	memset(&s->push, 0, sizeof(s->push));
	pst_net_pools_free(&s->pools);
	pst_budgets_free(&s->budgets);
}

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

const struct pst_budget_limit *pst_budgets_find(const struct pst_budgets *b, const char *metric,
						const char *site)
{
	for (size_t i = 0; i < b->n; i++)
		if (!strcmp(b->v[i].metric, metric) && same(b->v[i].site, site))
			return &b->v[i].limit;
	return !site && b->has_default ? &b->dflt : NULL;
}

const struct pst_noise_override *pst_budgets_noise(const struct pst_budgets *b,
						   const char *metric)
{
	for (size_t i = 0; i < b->nnoise; i++)
		if (!strcmp(b->noise[i].metric, metric))
			return &b->noise[i];
	return NULL;
}

void pst_budgets_free(struct pst_budgets *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->v[i].metric);
		free(b->v[i].site);
	}
	free(b->v);
	for (size_t i = 0; i < b->nnoise; i++)
		free(b->noise[i].metric);
	free(b->noise);
	memset(b, 0, sizeof(*b));
}
