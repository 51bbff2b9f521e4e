/* SPDX-License-Identifier: MIT */
/* `prestanda diff BASE NEW`: compare two runs against noise thresholds and budgets; exit 1 on regression. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "diff.h"
#include "family.h"
#include "units.h"
#include "sort.h"

static int add_failure(struct pst_diff *d, const char *line)
{
	char **nv = realloc(d->failures, (d->nfailures + 1) * sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	d->failures = nv;
	nv[d->nfailures] = strdup(line);
	return nv[d->nfailures++] ? 0 : -ENOMEM;
}

static int metric_index(const char *name)
{
	for (size_t i = 0; i < pst_nmetrics; i++)
		if (!strcmp(pst_metrics[i].name, name))
			return (int)i;
	return -1;
}

static bool positive_number(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return !errno && end != s && !*end && isfinite(*out) && *out > 0;
}

/* --per UNIT=N, UNIT=N1:N2 or UNIT=METRIC. Returns 0 or -1 after a message. */
static int parse_per(struct pst_diff *d, char *arg)
{
	char *eq = strchr(arg, '='), *colon;
	int mi;

	if (!eq || eq == arg || !eq[1]) {
		fprintf(stderr, "prestanda: diff: --per needs UNIT=N, UNIT=N1:N2 or UNIT=METRIC, not '%s'\n",
			arg);
		return -1;
	}
	*eq = 0;
	d->per_unit = arg;
	colon = strchr(eq + 1, ':');
	if (colon) {
		*colon = 0;
		if (positive_number(eq + 1, &d->per_base) && positive_number(colon + 1, &d->per_new))
			return 0;
	} else if (positive_number(eq + 1, &d->per_base)) {
		d->per_new = d->per_base;
		return 0;
	}
	mi = colon ? -1 : metric_index(eq + 1);
	if (mi >= 0) {
		if (!d->base.has[mi] || !d->new.has[mi] || d->base.total[mi] <= 0 ||
		    d->new.total[mi] <= 0) {
			fprintf(stderr, "prestanda: diff: --per %s=%s: the metric is 0 or missing in an input\n",
				arg, eq + 1);
			return -1;
		}
		d->per_base = d->base.total[mi];
		d->per_new = d->new.total[mi];
		return 0;
	}
	fprintf(stderr, "prestanda: diff: --per %s: '%s' is neither a positive number, N1:N2, nor a metric\n",
		arg, eq + 1);
	return -1;
}

/* The thresholds of a metric for this pair of runs. */
static struct pst_noise noise_for(const struct pst_diff *d, const struct pst_metric_def *m,
				  const struct pst_budgets *b)
{
	bool sampled = m->estimated && (!d->base.full || !d->new.full);
	struct pst_noise nz = sampled ? m->sampled : m->full;
	const struct pst_noise_override *o = b ? pst_budgets_noise(b, m->name) : NULL;

	if (sampled) {
		double sb = fmax(d->base.sample_bytes, d->new.sample_bytes);

		nz.abs *= m->unit == PST_UNIT_BYTES ? sb : sb / 16;
	}
	if (o && o->has_rel)
		nz.rel = o->rel;
	if (o && o->has_abs)
		nz.abs = o->abs;
	if (d->per_unit && m->flow)
		nz.abs /= d->per_new;
	return nz;
}

static bool significant(double base, double new, const struct pst_noise *nz)
{
	double delta = fabs(new - base);

	return delta > nz->abs && delta > nz->rel * fabs(base);
}

static double norm(const struct pst_diff *d, const struct pst_metric_def *m, double v, bool base)
{
	if (!d->per_unit || !m->flow)
		return v;
	return v / (base ? d->per_base : d->per_new);
}

static const char *fmt_for(enum pst_unit u, double v, char *buf, size_t len)
{
	return pst_fmt_value(u, v, buf, len);
}

static const char *fmt_count(double v, char *buf, size_t len)
{
	return fmt_for(PST_UNIT_COUNT, v, buf, len);
}

/* Budget messages give bytes exactly too: "4.44 KiB (4,544 B)". */
static const char *fmt_bytes(double v, char *buf, size_t len)
{
	char h[32], c[32];

	if (v < 1024)
		return fmt_for(PST_UNIT_BYTES, v, buf, len);
	snprintf(buf, len, "%s (%s B)", fmt_for(PST_UNIT_BYTES, v, h, sizeof(h)),
		 pst_fmt_count(v, c, sizeof(c)));
	return buf;
}

static const char *fmt_ns(double v, char *buf, size_t len)
{
	return fmt_for(PST_UNIT_NS, v, buf, len);
}

static pst_value_fmt value_fmt(enum pst_unit u)
{
	return u == PST_UNIT_BYTES ? fmt_bytes : u == PST_UNIT_NS ? fmt_ns : fmt_count;
}

/*
 * Judge one result (r->def, r->key and the raw values set): against its
 * budget if the file names it (a default does not cover timings, which
 * only an explicit budget judges), else against its noise thresholds.
 */
static int judge(struct pst_diff *d, struct pst_metric_result *r, double base, double new,
		 const struct pst_budgets *b)
{
	const struct pst_metric_def *m = r->def;
	const struct pst_budget_limit *l = b ? pst_budgets_find(b, m->name, NULL) : NULL;
	char name[320], line[512], x[64], y[64];
	double pct;

	if (l && l == &b->dflt && (m->unit == PST_UNIT_NS || r->judged_by))
		l = NULL;
	if (r->key)
		snprintf(name, sizeof(name), "%s of %s", m->name, r->key);
	else
		snprintf(name, sizeof(name), "%s", m->name);
	r->present = true;
	r->base = norm(d, m, base, true);
	r->new = norm(d, m, new, false);
	r->noise = noise_for(d, m, b);
	r->significant = significant(r->base, r->new, &r->noise);
	r->verdict = !r->significant	 ? PST_SAME :
		     r->new > r->base ? PST_REGRESSED :
					 PST_IMPROVED;
	if (l) {
		r->budgeted = true;
		r->over_budget = !pst_budget_check(l, name, r->base, r->new, value_fmt(m->unit),
						   r->why, sizeof(r->why));
		return r->over_budget ? add_failure(d, r->why) : 0;
	}
	if (r->verdict != PST_REGRESSED || r->judged_by)
		return 0;
	pct = r->base > 0 ? (r->new - r->base) / r->base * 100 : 0;
	if (r->base > 0)
		snprintf(line, sizeof(line), "%s rose from %s to %s (+%.1f%%), beyond run-to-run noise",
			 name, pst_fmt_value(m->unit, r->base, x, sizeof(x)),
			 pst_fmt_value(m->unit, r->new, y, sizeof(y)), pct);
	else
		snprintf(line, sizeof(line), "%s rose from 0 to %s, beyond run-to-run noise", name,
			 pst_fmt_value(m->unit, r->new, y, sizeof(y)));
	return add_failure(d, line);
}

/* The value of keyed metric k at key in s, 0 when s has none. */
static double keyed_value(const struct pst_summary *s, size_t k, const char *key, bool *found)
{
	for (size_t i = 0; i < s->nkeyed; i++)
		if (s->keyed[i].def == k && !strcmp(s->keyed[i].key, key)) {
			*found = true;
			return s->keyed[i].v;
		}
	*found = false;
	return 0;
}

/* The total that judges in m's stead (a family's diff_judged_by), when
 * both runs carry it; else NULL. */
static const char *judged_by_other(const struct pst_diff *d, const struct pst_metric_def *m)
{
	const char *by = NULL;

	for (size_t f = 0; f < pst_nfamilies && !by; f++)
		for (const char *const *p = pst_families[f]->diff_judged_by; p && *p; p += 2)
			if (!strcmp(p[0], m->name))
				by = p[1];
	for (size_t i = 0; by && i < pst_nmetrics; i++)
		if (!strcmp(pst_metrics[i].name, by))
			return d->base.has[i] && d->new.has[i] ? by : NULL;
	return NULL;
}

/* Totals, then each keyed metric both inputs carry: base's keys in order,
 * then the keys only new has. */
static int compare_totals(struct pst_diff *d, const struct pst_budgets *b)
{
	d->m = calloc(pst_nmetrics + d->base.nkeyed + d->new.nkeyed + 1, sizeof(*d->m));
	if (!d->m)
		return -ENOMEM;
	for (size_t i = 0; i < pst_nmetrics; i++) {
		struct pst_metric_result *r = &d->m[d->nm++];

		r->def = &pst_metrics[i];
		r->judged_by = judged_by_other(d, r->def);
		if (d->base.has[i] && d->new.has[i] &&
		    judge(d, r, d->base.total[i], d->new.total[i], b))
			return -ENOMEM;
	}
	for (size_t k = 0; k < pst_nkeyed_metrics; k++) {
		if (!d->base.has_keyed[k] || !d->new.has_keyed[k])
			continue;
		for (int side = 0; side < 2; side++) {
			const struct pst_summary *s = side ? &d->new : &d->base;

			for (size_t i = 0; i < s->nkeyed; i++) {
				const struct pst_sum_keyed *kv = &s->keyed[i];
				struct pst_metric_result *r;
				double bv, nv;
				bool inb, inn;

				if (kv->def != k)
					continue;
				bv = keyed_value(&d->base, k, kv->key, &inb);
				nv = keyed_value(&d->new, k, kv->key, &inn);
				if (side && inb)
					continue;
				r = &d->m[d->nm++];
				r->def = &pst_keyed_metrics[k].m;
				r->key = kv->key;
				if (judge(d, r, bv, nv, b))
					return -ENOMEM;
			}
		}
	}
	return 0;
}

static int cmp_site_result(const void *x, const void *y)
{
	const struct pst_site_result *a = x, *b = y;
	int ra = a->regressed ? 0 : a->improved ? 1 : 2, rb = b->regressed ? 0 : b->improved ? 1 : 2;
	int c;

	if (ra != rb)
		return ra < rb ? -1 : 1;
	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	c = strcmp(a->s->name, b->s->name);
	return c ? c : strcmp(a->s->lkey, b->s->lkey);
}

static int compare_sites(struct pst_diff *d)
{
	struct pst_site_pair *p;
	long n = pst_match_sites(&d->base, &d->new, &p);
	double maxd[PST_SITE_METRICS] = { 0 };
	struct pst_noise nz[PST_SITE_METRICS];

	if (n < 0)
		return -ENOMEM;
	d->sites = calloc((size_t)n + 1, sizeof(*d->sites));
	if (!d->sites) {
		free(p);
		return -ENOMEM;
	}
	d->nsites = (size_t)n;
	for (int k = 0; k < PST_SITE_METRICS; k++)
		nz[k] = noise_for(d, &pst_site_metrics[k], NULL);
	for (long i = 0; i < n; i++) {
		struct pst_site_result *r = &d->sites[i];
		const struct pst_sum_site *bs = p[i].b >= 0 ? &d->base.sites[p[i].b] : NULL;
		const struct pst_sum_site *ns = p[i].n >= 0 ? &d->new.sites[p[i].n] : NULL;

		r->p = p[i];
		r->s = ns ? ns : bs;
		for (int k = 0; k < PST_SITE_METRICS; k++) {
			const struct pst_metric_def *m = &pst_site_metrics[k];

			r->base[k] = bs ? norm(d, m, bs->v[k], true) : 0;
			r->new[k] = ns ? norm(d, m, ns->v[k], false) : 0;
			r->significant[k] = significant(r->base[k], r->new[k], &nz[k]);
			if (r->significant[k] && r->new[k] > r->base[k]) {
				r->regressed = true;
				maxd[k] = fmax(maxd[k], r->new[k] - r->base[k]);
			} else if (r->significant[k]) {
				r->improved = true;
				maxd[k] = fmax(maxd[k], r->base[k] - r->new[k]);
			}
		}
	}
	/* Score: each significant change as a share of the largest of its metric. */
	for (size_t i = 0; i < d->nsites; i++) {
		struct pst_site_result *r = &d->sites[i];

		if (r->regressed)
			r->improved = false;
		for (int k = 0; k < PST_SITE_METRICS; k++)
			if (r->significant[k] && maxd[k] > 0 &&
			    (r->new[k] > r->base[k]) == r->regressed)
				r->score += fabs(r->new[k] - r->base[k]) / maxd[k];
	}
	pst_sort(d->sites, d->nsites, sizeof(*d->sites), cmp_site_result);
	free(p);
	return 0;
}

/* Does a site's function name denote fn: exactly, or with a C++ parameter list? */
static bool function_is(const char *name, const char *fn)
{
	size_t n = strlen(fn);

	return name && !strncmp(name, fn, n) && (name[n] == 0 || name[n] == '(');
}

static int check_site_budgets(struct pst_diff *d, const struct pst_budgets *b)
{
	char name[512], why[640];

	for (size_t i = 0; b && i < b->n; i++) {
		const struct pst_budget *bu = &b->v[i];
		double base = 0, new = 0;
		int k;

		if (!bu->site)
			continue;
		for (k = 0; k < PST_SITE_METRICS; k++)
			if (!strcmp(pst_site_metrics[k].name, bu->metric))
				break;
		if (k == PST_SITE_METRICS)
			continue;
		for (size_t j = 0; j < d->nsites; j++) {
			const struct pst_site_result *r = &d->sites[j];

			if (function_is(r->s->function, bu->site)) {
				base += r->base[k];
				new += r->new[k];
			}
		}
		snprintf(name, sizeof(name), "%s of %s", bu->metric, bu->site);
		if (!pst_budget_check(&bu->limit, name, base, new, value_fmt(pst_site_metrics[k].unit),
				      why, sizeof(why)) &&
		    add_failure(d, why))
			return -ENOMEM;
	}
	return 0;
}

static int find_new_findings(struct pst_diff *d)
{
	d->new_findings = calloc(d->new.nfindings + 1, sizeof(*d->new_findings));
	if (!d->new_findings)
		return -ENOMEM;
	for (size_t i = 0; i < d->new.nfindings; i++) {
		const struct pst_sum_finding *f = &d->new.findings[i];
		bool seen = false;

		for (size_t j = 0; j < d->base.nfindings && !seen; j++)
			seen = !strcmp(d->base.findings[j].key, f->key);
		if (!seen)
			d->new_findings[d->nnew_findings++] = f;
	}
	return 0;
}

static void diff_free(struct pst_diff *d)
{
	pst_summary_free(&d->base);
	pst_summary_free(&d->new);
	free(d->m);
	free(d->sites);
	free(d->new_findings);
	for (size_t i = 0; i < d->nfailures; i++)
		free(d->failures[i]);
	free(d->failures);
}

/* The comparison in the asked format on stdout: 0, or -1 after saying why. */
static int print_diff(const struct pst_diff *d, enum pst_diff_format fmt)
{
	if (fmt == PST_DIFF_JSON) {
		json_t *j = pst_diff_json(d);

		if (!j || json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) {
			fprintf(stderr, "prestanda: diff: json_dumpf failed\n");
			json_decref(j);
			return -1;
		}
		fputc('\n', stdout);
		json_decref(j);
	} else if (fmt == PST_DIFF_MARKDOWN) {
		pst_diff_markdown(stdout, d);
	} else {
		pst_diff_text(stdout, d);
	}
	if (fflush(stdout)) {
		fprintf(stderr, "prestanda: diff: writing: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* Both runs compared (d->top, d->base and d->new set): 0, or -1 after
 * saying why. */
static int compare(struct pst_diff *d, const struct pst_diff_options *o,
		   const struct pst_budgets *b)
{
	if (d->base.full != d->new.full)
		fprintf(stderr,
			"prestanda: diff: warning: one run is sampled and the other --full: estimates are compared with exact figures\n");
	if (o->per && parse_per(d, o->per))
		return -1;
	if (compare_totals(d, b) || compare_sites(d) || check_site_budgets(d, b) ||
	    find_new_findings(d)) {
		fprintf(stderr, "prestanda: diff: out of memory\n");
		return -1;
	}
	return 0;
}

/* One run's summary: from its report when the command made it (diff
 * --all), else from the file. */
static int side(const char *path, json_t *report, struct pst_summary *s, char *err, size_t len)
{
	if (!report)
		return pst_summary_load(path, s, err, len);
	memset(s, 0, sizeof(*s));
	return pst_summary_from_json(report, path, s, err, len);
}

int pst_diff_run(const struct pst_diff_options *o)
{
	struct pst_diff d = { .top = o->top };
	struct pst_budgets budgets, *b = NULL;
	char err[1024];
	int status = 2;

	if (o->budget) {
		if (pst_budgets_load(o->budget, pst_metric_names, pst_site_metric_names, &budgets,
				     err, sizeof(err))) {
			fprintf(stderr, "prestanda: diff: %s\n", err);
			return 2;
		}
		b = &budgets;
	}
	if (side(o->base, o->base_report, &d.base, err, sizeof(err)) ||
	    side(o->new, o->new_report, &d.new, err, sizeof(err))) {
		fprintf(stderr, "prestanda: diff: %s\n", err);
		goto out;
	}
	if (!compare(&d, o, b) && !print_diff(&d, o->fmt))
		status = d.nfailures ? 1 : 0;
out:
	if (b)
		pst_budgets_free(b);
	diff_free(&d);
	return status;
}
