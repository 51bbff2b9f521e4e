/* SPDX-License-Identifier: MIT */
/* Outputs of `prestanda diff`: text for terminals, Markdown for pull-request comments, JSON for tools. */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "diff.h"
#include "units.h"

/* Frames of a regressed site's stack the outputs show. */
#define STACK_FRAMES 6

const char *pst_fmt_value(enum pst_unit u, double v, char *buf, size_t len)
{
	switch (u) {
	case PST_UNIT_BYTES:
		return pst_fmt_bytes(v, buf, len);
	case PST_UNIT_NS:
		return pst_fmt_ns(v > 0 ? (uint64_t)llround(v) : 0, buf, len);
	default:
		if (fabs(v - round(v)) < 1e-9)
			return pst_fmt_count(v, buf, len);
		snprintf(buf, len, "%.2f", v);
		return buf;
	}
}

const char *pst_result_label(const struct pst_metric_result *r, char *buf, size_t len)
{
	if (!r->key)
		return r->def->label;
	snprintf(buf, len, "%s %s", r->def->label, r->key);
	return buf;
}

/* "+200 (+99.5%)", "-1.00 KiB (-50.0%)", "+64 B (new)", "0". */
static const char *fmt_change(enum pst_unit u, double base, double new, char *buf, size_t len)
{
	double d = new - base;
	char v[64];

	if (d == 0) {
		snprintf(buf, len, "0");
		return buf;
	}
	pst_fmt_value(u, fabs(d), v, sizeof(v));
	if (base > 0)
		snprintf(buf, len, "%c%s (%+.1f%%)", d > 0 ? '+' : '-', v, d / base * 100);
	else
		snprintf(buf, len, "%c%s (new)", d > 0 ? '+' : '-', v);
	return buf;
}

static const char *arrow(const struct pst_metric_result *r)
{
	if (!r->significant)
		return r->new == r->base ? "=" : "≈";
	return r->new > r->base ? "▲" : "▼";
}

/* What a total's row says in the last column. */
static const char *judgement(const struct pst_metric_result *r)
{
	if (r->budgeted)
		return r->over_budget ? "over budget" : "within budget";
	if (r->judged_by)
		return "";
	return r->verdict == PST_REGRESSED ? "regression" :
	       r->verdict == PST_IMPROVED  ? "improvement" :
					     "";
}

static size_t nregressed(const struct pst_diff *d)
{
	size_t n = 0;

	while (n < d->nsites && d->sites[n].regressed)
		n++;
	return n;
}

static size_t nimproved(const struct pst_diff *d)
{
	size_t n = 0;

	for (size_t i = 0; i < d->nsites; i++)
		n += d->sites[i].improved;
	return n;
}

static const char *site_state(const struct pst_site_result *r)
{
	return r->p.b < 0 ? "new" : r->p.n < 0 ? "gone" : "changed";
}

/* ---- text ---- */

static void text_side(FILE *out, const char *label, const struct pst_summary *s)
{
	fprintf(out, "  %-5s %s (%s, %s%s)\n", label, s->source, s->exe, s->full ? "full" : "sampled",
		s->complete ? "" : ", incomplete");
}

void pst_diff_text(FILE *out, const struct pst_diff *d)
{
	size_t nreg = nregressed(d), n, w = 24; /* the label column, widened to the longest */

	fprintf(out, "prestanda diff\n");
	text_side(out, "base", &d->base);
	text_side(out, "new", &d->new);
	if (d->per_unit)
		fprintf(out, "  per   %s (base %g, new %g): calls, bytes and leaks per %s\n",
			d->per_unit, d->per_base, d->per_new, d->per_unit);
	if (d->nfailures) {
		fprintf(out, "\nRESULT: %zu regression%s\n", d->nfailures,
			d->nfailures == 1 ? "" : "s");
		for (size_t i = 0; i < d->nfailures; i++)
			fprintf(out, "  - %s\n", d->failures[i]);
	} else {
		fprintf(out, "\nRESULT: ok, no regression beyond noise or budget\n");
	}

	for (size_t i = 0; i < d->nm; i++) {
		char l[320];

		if (d->m[i].present && strlen(pst_result_label(&d->m[i], l, sizeof(l))) > w)
			w = strlen(l);
	}
	fprintf(out, "\nTotals\n  %-*s %14s %14s  %s\n", (int)w, "metric", "base", "new", "change");
	for (size_t i = 0; i < d->nm; i++) {
		const struct pst_metric_result *r = &d->m[i];
		char a[64], b[64], c[96], l[320];

		if (!r->present)
			continue;
		fprintf(out, "  %-*s %14s %14s  %s %s%s%s\n", (int)w, pst_result_label(r, l, sizeof(l)),
			pst_fmt_value(r->def->unit, r->base, a, sizeof(a)),
			pst_fmt_value(r->def->unit, r->new, b, sizeof(b)), arrow(r),
			fmt_change(r->def->unit, r->base, r->new, c, sizeof(c)),
			*judgement(r) ? "  " : "", judgement(r));
	}

	n = nreg < d->top ? nreg : d->top;
	fprintf(out, "\nRegressed sites (%zu of %zu)\n", nreg, d->nsites);
	for (size_t i = 0; i < n; i++) {
		const struct pst_site_result *r = &d->sites[i];

		fprintf(out, "\n  %zu. %s [%s]\n", i + 1, r->s->name, site_state(r));
		for (int k = 0; k < PST_SITE_METRICS; k++) {
			const struct pst_metric_def *m = &pst_site_metrics[k];
			char a[64], b[64], c[96];

			if (r->base[k] == 0 && r->new[k] == 0)
				continue;
			fprintf(out, "     %-8s %12s -> %-12s %s%s\n", m->label,
				pst_fmt_value(m->unit, r->base[k], a, sizeof(a)),
				pst_fmt_value(m->unit, r->new[k], b, sizeof(b)),
				fmt_change(m->unit, r->base[k], r->new[k], c, sizeof(c)),
				r->significant[k] ? "" : " (noise)");
		}
		for (size_t f = 0; f < r->s->depth && f < STACK_FRAMES; f++)
			fprintf(out, "     %s %s\n", f ? "<-" : "at", r->s->stack[f]);
	}
	if (nreg > n)
		fprintf(out, "\n  ... and %zu more (--top N)\n", nreg - n);
	fprintf(out, "\nImproved sites: %zu\n", nimproved(d));

	fprintf(out, "\nNew findings (%zu)\n", d->nnew_findings);
	for (size_t i = 0; i < d->nnew_findings; i++) {
		const struct pst_sum_finding *f = d->new_findings[i];

		fprintf(out, "  [%s] %s: %s\n      at %s\n", f->severity, f->id, f->title, f->where);
	}
}

/* ---- Markdown ---- */

/* Markdown table cells: '|' would end the cell. */
static void md_cell(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			fputs("\\|", out);
		else if (*s == '\n')
			fputc(' ', out);
		else
			fputc(*s, out);
	}
}

static const char *basename_of(const char *p)
{
	const char *b = strrchr(p, '/');

	return b ? b + 1 : p;
}

/* The title, the two runs, and one line per failure. */
static void md_head(FILE *out, const struct pst_diff *d)
{
	if (d->nfailures)
		fprintf(out, "### prestanda diff: ❌ %zu regression%s\n\n", d->nfailures,
			d->nfailures == 1 ? "" : "s");
	else
		fprintf(out, "### prestanda diff: ✅ no regression\n\n");
	fprintf(out, "Base `%s` (%s), new `%s` (%s)", basename_of(d->base.source),
		d->base.full ? "full" : "sampled", basename_of(d->new.source),
		d->new.full ? "full" : "sampled");
	if (d->per_unit)
		fprintf(out, "; calls, bytes and leaks per %s (base %g, new %g)", d->per_unit,
			d->per_base, d->per_new);
	fputs(".\n\n", out);
	for (size_t i = 0; i < d->nfailures; i++) {
		fputs("- ", out);
		md_cell(out, d->failures[i]);
		fputc('\n', out);
	}
	if (d->nfailures)
		fputc('\n', out);
}

static void md_totals(FILE *out, const struct pst_diff *d)
{
	fputs("| metric | base | new | change | |\n|---|---:|---:|---:|---|\n", out);
	for (size_t i = 0; i < d->nm; i++) {
		const struct pst_metric_result *r = &d->m[i];
		char a[64], b[64], c[96], l[320];

		if (!r->present)
			continue;
		fputs("| ", out);
		md_cell(out, pst_result_label(r, l, sizeof(l)));
		fprintf(out, " | %s | %s | %s %s | %s |\n",
			pst_fmt_value(r->def->unit, r->base, a, sizeof(a)),
			pst_fmt_value(r->def->unit, r->new, b, sizeof(b)), arrow(r),
			fmt_change(r->def->unit, r->base, r->new, c, sizeof(c)), judgement(r));
	}
}

/* The first n of nreg regressed sites: a table of their changes, then
 * their stacks folded away. */
static void md_sites(FILE *out, const struct pst_diff *d, size_t n, size_t nreg)
{
	fprintf(out, "\n#### Top regressed sites (%zu of %zu)\n\n", n, nreg);
	fputs("| site | calls | bytes | at peak | leaked |\n|---|---:|---:|---:|---:|\n", out);
	for (size_t i = 0; i < n; i++) {
		const struct pst_site_result *r = &d->sites[i];

		fputs("| `", out);
		md_cell(out, r->s->name);
		fprintf(out, "`%s |", r->p.b < 0 ? " (new)" : "");
		for (int k = 0; k < PST_SITE_METRICS; k++) {
			char c[96];

			fprintf(out, " %s%s |", r->significant[k] ? "" : "≈ ",
				fmt_change(pst_site_metrics[k].unit, r->base[k], r->new[k], c,
					   sizeof(c)));
		}
		fputc('\n', out);
	}
	fputs("\n<details><summary>Stacks of the regressed sites</summary>\n\n", out);
	for (size_t i = 0; i < n; i++) {
		const struct pst_site_result *r = &d->sites[i];

		fprintf(out, "%zu. `", i + 1);
		md_cell(out, r->s->name);
		fputs("`\n   ```\n", out);
		for (size_t f = 0; f < r->s->depth && f < STACK_FRAMES; f++)
			fprintf(out, "   %s\n", r->s->stack[f]);
		fputs("   ```\n", out);
	}
	fputs("\n</details>\n", out);
}

static void md_findings(FILE *out, const struct pst_diff *d)
{
	fprintf(out, "\n#### New findings (%zu)\n\n", d->nnew_findings);
	for (size_t i = 0; i < d->nnew_findings; i++) {
		const struct pst_sum_finding *f = d->new_findings[i];

		fprintf(out, "- **%s** `%s`: ", f->severity, f->id);
		md_cell(out, f->title);
		fputs(" (at `", out);
		md_cell(out, f->where);
		fputs("`)\n", out);
	}
}

void pst_diff_markdown(FILE *out, const struct pst_diff *d)
{
	size_t nreg = nregressed(d), n = nreg < d->top ? nreg : d->top;

	md_head(out, d);
	md_totals(out, d);
	if (n)
		md_sites(out, d, n, nreg);
	if (d->nnew_findings)
		md_findings(out, d);
}

/* ---- JSON ---- */

static json_t *jnum(double v)
{
	if (fabs(v - round(v)) < 1e-9 && fabs(v) < 9e18)
		return json_integer((json_int_t)llround(v));
	return json_real(v);
}

static json_t *jside(const struct pst_summary *s)
{
	json_t *o = json_object();

	json_object_set_new(o, "source", json_string(s->source));
	json_object_set_new(o, "exe", json_string(s->exe));
	json_object_set_new(o, "mode", json_string(s->full ? "full" : "sampled"));
	json_object_set_new(o, "complete", json_boolean(s->complete));
	return o;
}

static const char *verdict_name(enum pst_verdict v)
{
	return v == PST_REGRESSED ? "regression" : v == PST_IMPROVED ? "improvement" : "same";
}

/* "per": the unit of work and each run's count of it, or null. */
static json_t *jper(const struct pst_diff *d)
{
	json_t *p;

	if (!d->per_unit)
		return json_null();
	p = json_object();
	json_object_set_new(p, "unit", json_string(d->per_unit));
	json_object_set_new(p, "base", jnum(d->per_base));
	json_object_set_new(p, "new", jnum(d->per_new));
	return p;
}

static json_t *jmetric(const struct pst_metric_result *r)
{
	json_t *o = json_object();

	json_object_set_new(o, "name", json_string(r->def->name));
	if (r->key)
		json_object_set_new(o, "key", json_string(r->key));
	json_object_set_new(o, "base", jnum(r->base));
	json_object_set_new(o, "new", jnum(r->new));
	json_object_set_new(o, "delta", jnum(r->new - r->base));
	json_object_set_new(o, "pct", r->base > 0 ? json_real(round((r->new - r->base) / r->base * 1000) / 10) :
						   json_null());
	json_object_set_new(o, "significant", json_boolean(r->significant));
	json_object_set_new(o, "verdict", json_string(verdict_name(r->verdict)));
	if (r->judged_by) /* shown; the metric named judges instead */
		json_object_set_new(o, "judged_by", json_string(r->judged_by));
	json_object_set_new(o, "budget", json_string(!r->budgeted   ? "none" :
						     r->over_budget ? "exceeded" :
								      "within"));
	if (r->over_budget)
		json_object_set_new(o, "message", json_string(r->why));
	json_object_set_new(o, "noise_rel_pct", json_real(round(r->noise.rel * 1000) / 10));
	json_object_set_new(o, "noise_abs", jnum(r->noise.abs));
	return o;
}

static bool site_changed(const struct pst_site_result *r)
{
	bool changed = false;

	for (int k = 0; k < PST_SITE_METRICS; k++)
		changed |= r->new[k] != r->base[k];
	return changed;
}

static json_t *jsite(const struct pst_site_result *r)
{
	json_t *o = json_object(), *st = json_array(), *v = json_object();

	json_object_set_new(o, "name", json_string(r->s->name));
	json_object_set_new(o, "function", r->s->function ? json_string(r->s->function) :
							     json_null());
	json_object_set_new(o, "state", json_string(site_state(r)));
	json_object_set_new(o, "verdict", json_string(r->regressed ? "regression" :
						      r->improved  ? "improvement" :
								     "same"));
	for (int k = 0; k < PST_SITE_METRICS; k++) {
		json_t *x = json_object();

		json_object_set_new(x, "base", jnum(r->base[k]));
		json_object_set_new(x, "new", jnum(r->new[k]));
		json_object_set_new(x, "delta", jnum(r->new[k] - r->base[k]));
		json_object_set_new(x, "significant", json_boolean(r->significant[k]));
		json_object_set_new(v, pst_site_metrics[k].name, x);
	}
	json_object_set_new(o, "metrics", v);
	for (size_t f = 0; f < r->s->depth; f++)
		json_array_append_new(st, json_string(r->s->stack[f]));
	json_object_set_new(o, "stack", st);
	return o;
}

/* An object of string members, in the order given: n keys, n values. */
static json_t *jstrings(const char *const *keys, const char *const *values, size_t n)
{
	json_t *o = json_object();

	for (size_t i = 0; i < n; i++)
		json_object_set_new(o, keys[i], json_string(values[i]));
	return o;
}

static json_t *jfinding(const struct pst_sum_finding *f)
{
	static const char *const keys[] = { "id", "severity", "title", "at" };

	return jstrings(keys, (const char *const[]){ f->id, f->severity, f->title, f->where }, 4);
}

json_t *pst_diff_json(const struct pst_diff *d)
{
	json_t *root = json_object(), *ms = json_array(), *ss = json_array(), *fs = json_array();
	json_t *fl = json_array();

	json_object_set_new(root, "prestanda_diff", json_integer(1));
	json_object_set_new(root, "status", json_string(d->nfailures ? "regression" : "ok"));
	json_object_set_new(root, "base", jside(&d->base));
	json_object_set_new(root, "new", jside(&d->new));
	json_object_set_new(root, "per", jper(d));
	for (size_t i = 0; i < d->nfailures; i++)
		json_array_append_new(fl, json_string(d->failures[i]));
	json_object_set_new(root, "failures", fl);
	for (size_t i = 0; i < d->nm; i++)
		if (d->m[i].present)
			json_array_append_new(ms, jmetric(&d->m[i]));
	json_object_set_new(root, "metrics", ms);
	for (size_t i = 0; i < d->nsites; i++)
		if (site_changed(&d->sites[i]))
			json_array_append_new(ss, jsite(&d->sites[i]));
	json_object_set_new(root, "sites", ss);
	for (size_t i = 0; i < d->nnew_findings; i++)
		json_array_append_new(fs, jfinding(d->new_findings[i]));
	json_object_set_new(root, "new_findings", fs);
	return root;
}
