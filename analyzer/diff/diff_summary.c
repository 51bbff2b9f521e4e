/* SPDX-License-Identifier: MIT */
/* What diff compares of one run: the metric table, and a summary read from a JSON report or a trace. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "family.h"
#include "report.h"

/*
 * Noise thresholds (README.md, "Regression diffs", has the measurements)
 * are in each family's rows (memory_report.c, threads_report.c,
 * net_report.c, cpu.c). In --full mode every figure is exact and was
 * identical run to run for every bundled target and the sqlite3 workload,
 * except the peak of threaded programs (interleaving: 32 B of 1.3 KiB);
 * the thresholds only absorb what differs between two builds and two
 * machines (paths, environment, thread timing). In sampled mode the exact
 * totals keep those; estimates (peak, leaks, temporaries, sites) swing by
 * whole samples, so their absolute threshold is counted in samples: a byte
 * metric's sample is the sampling interval, a count metric's the calls one
 * sample of a 16-byte block stands for (interval / 16).
 */

/* Room for every family's rows (and the names' NULL). */
#define ROWS_MAX 64

static struct pst_metric_def metric_rows[ROWS_MAX];
static struct pst_keyed_def keyed_rows[ROWS_MAX];
static const char *name_rows[2 * ROWS_MAX + 1];

const struct pst_metric_def *pst_metrics = metric_rows;
size_t pst_nmetrics;
const struct pst_keyed_def *pst_keyed_metrics = keyed_rows;
size_t pst_nkeyed_metrics;
const char *const *pst_metric_names = name_rows;

/* The tables, every family's rows in the order of pst_families: once,
 * before main, so that they are constant from then on. */
__attribute__((constructor)) static void gather_rows(void)
{
	size_t n = 0;

	for (size_t i = 0; i < pst_nfamilies; i++) {
		const struct pst_family_ops *f = pst_families[i];

		for (size_t j = 0; j < f->ndiff_metrics && pst_nmetrics < ROWS_MAX; j++)
			metric_rows[pst_nmetrics++] = f->diff_metrics[j];
		for (size_t j = 0; j < f->ndiff_keyed && pst_nkeyed_metrics < ROWS_MAX; j++)
			keyed_rows[pst_nkeyed_metrics++] = f->diff_keyed[j];
	}
	for (size_t i = 0; i < pst_nmetrics; i++)
		name_rows[n++] = metric_rows[i].name;
	for (size_t i = 0; i < pst_nkeyed_metrics; i++)
		name_rows[n++] = keyed_rows[i].m.name;
	name_rows[n] = NULL;
}

const struct pst_metric_def pst_site_metrics[PST_SITE_METRICS] = {
	{ "calls", "calls", PST_UNIT_COUNT, "calls", true, true, { 0.01, 8 }, { 1.0, 32 } },
	{ "bytes", "bytes", PST_UNIT_BYTES, "bytes", true, true, { 0.01, 1024 }, { 1.0, 64 } },
	{ "peak_bytes", "at peak", PST_UNIT_BYTES, "peak_bytes", false, true, { 0.05, 4096 },
	  { 1.0, 64 } },
	{ "leaked_bytes", "leaked", PST_UNIT_BYTES, "leaked_bytes", true, true, { 0.01, 256 },
	  { 1.0, 64 } },
};

const char *const pst_site_metric_names[] = { "calls", "bytes", "peak_bytes", "leaked_bytes",
					      NULL };

/* The value at a dotted path, or NULL. */
static json_t *get_path(json_t *o, const char *path)
{
	char buf[256], *save = NULL, *k;

	snprintf(buf, sizeof(buf), "%s", path);
	for (k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save))
		o = json_is_object(o) ? json_object_get(o, k) : NULL;
	return o;
}

/* The number at a dotted path; a component "name[]" sums the rest of the
 * path over that array (true even when it is empty). */
static bool get_number(json_t *o, const char *path, double *out)
{
	const char *br = strstr(path, "[]");
	char head[256];
	json_t *a, *e;
	size_t i;

	if (!br) {
		a = get_path(o, path);
		if (!json_is_number(a))
			return false;
		*out = json_number_value(a);
		return true;
	}
	snprintf(head, sizeof(head), "%.*s", (int)(br - path), path);
	a = get_path(o, head);
	if (!json_is_array(a) || br[2] != '.')
		return false;
	*out = 0;
	json_array_foreach(a, i, e) {
		double v;

		if (get_number(e, br + 3, &v))
			*out += v;
	}
	return true;
}

/* The values of keyed metric k in rep, appended to s->keyed. */
static int read_keyed(json_t *rep, size_t k, struct pst_summary *s)
{
	const struct pst_keyed_def *kd = &pst_keyed_metrics[k];
	json_t *a = get_path(rep, kd->m.path), *e;
	struct pst_sum_keyed *nv;
	size_t i;

	s->has_keyed[k] = json_is_array(a);
	if (!s->has_keyed[k])
		return 0;
	nv = realloc(s->keyed, (s->nkeyed + json_array_size(a) + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	s->keyed = nv;
	json_array_foreach(a, i, e) {
		const char *key = json_string_value(json_object_get(e, kd->key));
		const char *m = kd->match ? json_string_value(json_object_get(e, kd->match)) : NULL;
		double v;

		if (!key || (kd->match && (!m || strcmp(m, kd->match_value))) ||
		    !get_number(e, kd->value, &v))
			continue;
		/* Two objects of one key (a function in two modules): one value. */
		for (size_t j = 0; j < s->nkeyed; j++)
			if (s->keyed[j].def == k && !strcmp(s->keyed[j].key, key)) {
				s->keyed[j].v += v;
				key = NULL;
				break;
			}
		if (!key)
			continue;
		nv[s->nkeyed].key = strdup(key);
		if (!nv[s->nkeyed].key)
			return -ENOMEM;
		nv[s->nkeyed].def = k;
		nv[s->nkeyed++].v = v;
	}
	return 0;
}

char *pst_frame_function(const char *frame, int *line)
{
	size_t n = strlen(frame);
	const char *p;

	*line = 0;
	if (frame[0] == '[') {
		/* "[module+0xoff]": offsets move between builds; the module stays. */
		char *r;

		p = strchr(frame, '+');
		if (!p)
			return strdup("[?]");
		return asprintf(&r, "%.*s]", (int)(p - frame), frame) < 0 ? NULL : r;
	}
	if (n && frame[n - 1] == ')') {
		for (p = frame + n - 1; p > frame; p--)
			if (p[0] == '(' && p[-1] == ' ')
				break;
		if (p > frame) {
			const char *colon = memrchr(p, ':', (size_t)(frame + n - p));

			if (colon)
				*line = atoi(colon + 1);
			return strndup(frame, (size_t)(p - 1 - frame));
		}
	}
	return strdup(frame);
}

static char *join(char **v, size_t n)
{
	size_t len = 1;
	char *s, *p;

	for (size_t i = 0; i < n; i++)
		len += strlen(v[i]) + 1;
	s = p = malloc(len);
	if (!s)
		return NULL;
	*p = 0;
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s%s", i ? "\n" : "", v[i]);
	return s;
}

/* n strings and the array that holds them (NULL: nothing). */
static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* The strings of a JSON array of strings, and their function key. */
static int read_stack(json_t *a, char ***stack, size_t *depth, char **fkey, int **lines)
{
	char **fns;
	size_t n = json_is_array(a) ? json_array_size(a) : 0;
	int r = -ENOMEM;

	*stack = calloc(n + 1, sizeof(**stack));
	fns = calloc(n + 1, sizeof(*fns));
	*lines = calloc(n + 1, sizeof(**lines));
	*depth = 0;
	*fkey = NULL;
	if (!*stack || !fns || !*lines)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const char *f = json_string_value(json_array_get(a, i));

		(*stack)[i] = strdup(f ? f : "?");
		if (!(*stack)[i])
			goto out;
		*depth = i + 1;
		fns[i] = pst_frame_function((*stack)[i], &(*lines)[i]);
		if (!fns[i])
			goto out;
	}
	*fkey = join(fns, n);
	r = *fkey ? 0 : -ENOMEM;
out:
	free_strv(fns, n);
	return r;
}

static int read_site(json_t *o, struct pst_sum_site *s)
{
	const char *fn = json_string_value(json_object_get(o, "function"));
	const char *file = json_string_value(json_object_get(o, "file"));
	json_t *line = json_object_get(o, "line");

	if (read_stack(json_object_get(o, "stack"), &s->stack, &s->depth, &s->fkey, &s->lines))
		return -ENOMEM;
	s->lkey = join(s->stack, s->depth);
	s->function = fn ? strdup(fn) : NULL;
	if (fn && file && json_is_integer(line)) {
		const char *base = strrchr(file, '/');

		if (asprintf(&s->name, "%s (%s:%lld)", fn, base ? base + 1 : file,
			     (long long)json_integer_value(line)) < 0)
			s->name = NULL;
	} else {
		s->name = strdup(fn ? fn : s->depth ? s->stack[0] : "[no stack]");
	}
	if (!s->lkey || !s->name || (fn && !s->function))
		return -ENOMEM;
	s->runtime = json_is_true(json_object_get(o, "runtime"));
	for (int k = 0; k < PST_SITE_METRICS; k++) {
		json_t *v = json_object_get(o, pst_site_metrics[k].path);

		s->v[k] = json_is_number(v) ? json_number_value(v) : 0;
	}
	return 0;
}

static int read_finding(json_t *o, struct pst_sum_finding *f)
{
	const char *id = json_string_value(json_object_get(o, "id"));
	const char *sev = json_string_value(json_object_get(o, "severity"));
	const char *title = json_string_value(json_object_get(o, "title"));
	char **stack, *fkey;
	size_t depth;
	int *lines, r = 0;

	if (read_stack(json_object_get(o, "stack"), &stack, &depth, &fkey, &lines))
		return -ENOMEM;
	f->id = strdup(id ? id : "?");
	f->severity = strdup(sev ? sev : "?");
	f->title = strdup(title ? title : "");
	f->where = strdup(depth ? stack[0] : "[no stack]");
	if (asprintf(&f->key, "%s\n%s", id ? id : "?", fkey) < 0)
		f->key = NULL;
	if (!f->id || !f->severity || !f->title || !f->where || !f->key)
		r = -ENOMEM;
	free_strv(stack, depth);
	free(fkey);
	free(lines);
	return r;
}

int pst_summary_from_json(json_t *rep, const char *source, struct pst_summary *s, char *err,
			  size_t errlen)
{
	json_t *sites, *fs, *v;
	const char *mode;
	size_t i;

	memset(s, 0, sizeof(*s));
	if (!json_is_object(rep) || !json_is_integer(json_object_get(rep, "prestanda_report"))) {
		snprintf(err, errlen, "%s: not a prestanda report (no \"prestanda_report\")", source);
		return -1;
	}
	if (json_integer_value(json_object_get(rep, "prestanda_report")) != 1) {
		snprintf(err, errlen, "%s: report version %lld is not supported (1 is)", source,
			 (long long)json_integer_value(json_object_get(rep, "prestanda_report")));
		return -1;
	}
	mode = json_string_value(get_path(rep, "memory.mode"));
	sites = get_path(rep, "memory.sites");
	if (!mode || !json_is_array(sites)) {
		snprintf(err, errlen, "%s: the report has no memory section", source);
		return -1;
	}
	s->source = strdup(source);
	v = get_path(rep, "process.exe");
	s->exe = strdup(json_is_string(v) ? json_string_value(v) : "?");
	s->full = !strcmp(mode, "full");
	s->complete = json_is_true(get_path(rep, "process.complete"));
	if (!get_number(rep, "memory.sample_bytes", &s->sample_bytes))
		s->sample_bytes = 0;
	s->total = calloc(pst_nmetrics, sizeof(*s->total));
	s->has = calloc(pst_nmetrics, sizeof(*s->has));
	s->has_keyed = calloc(pst_nkeyed_metrics, sizeof(*s->has_keyed));
	s->sites = calloc(json_array_size(sites) + 1, sizeof(*s->sites));
	fs = json_object_get(rep, "findings");
	s->findings = calloc((json_is_array(fs) ? json_array_size(fs) : 0) + 1,
			     sizeof(*s->findings));
	if (!s->source || !s->exe || !s->total || !s->has || !s->has_keyed || !s->sites ||
	    !s->findings)
		goto nomem;
	for (i = 0; i < pst_nmetrics; i++)
		s->has[i] = get_number(rep, pst_metrics[i].path, &s->total[i]);
	for (i = 0; i < pst_nkeyed_metrics; i++)
		if (read_keyed(rep, i, s))
			goto nomem;
	json_array_foreach(sites, i, v) {
		s->nsites = i + 1;
		if (read_site(v, &s->sites[i]))
			goto nomem;
	}
	if (json_is_array(fs)) {
		json_array_foreach(fs, i, v) {
			s->nfindings = i + 1;
			if (read_finding(v, &s->findings[i]))
				goto nomem;
		}
	}
	return 0;
nomem:
	snprintf(err, errlen, "%s: out of memory", source);
	pst_summary_free(s);
	return -1;
}

/* A JSON report starts with '{' after blanks; a trace with its magic. */
static int is_json_file(const char *path, bool *json, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	int c;

	if (!f) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	do
		c = getc(f);
	while (c == ' ' || c == '\n' || c == '\t' || c == '\r');
	fclose(f);
	*json = c == '{';
	return 0;
}

int pst_summary_load(const char *path, struct pst_summary *s, char *err, size_t errlen)
{
	json_error_t je;
	json_t *rep;
	bool json;
	int r;

	memset(s, 0, sizeof(*s));
	if (is_json_file(path, &json, err, errlen))
		return -1;
	rep = json ? json_load_file(path, 0, &je) : pst_report_json(path);
	if (!rep) {
		if (json)
			snprintf(err, errlen, "%s:%d:%d: not valid JSON: %s", path, je.line,
				 je.column, je.text);
		else
			snprintf(err, errlen, "%s: cannot be read as a trace", path);
		return -1;
	}
	r = pst_summary_from_json(rep, path, s, err, errlen);
	json_decref(rep);
	return r;
}

static void free_site(struct pst_sum_site *s)
{
	free_strv(s->stack, s->depth);
	free(s->name);
	free(s->function);
	free(s->fkey);
	free(s->lkey);
	free(s->lines);
}

void pst_summary_free(struct pst_summary *s)
{
	for (size_t i = 0; i < s->nsites; i++)
		free_site(&s->sites[i]);
	for (size_t i = 0; i < s->nfindings; i++) {
		struct pst_sum_finding *f = &s->findings[i];

		free(f->id);
		free(f->severity);
		free(f->title);
		free(f->key);
		free(f->where);
	}
	free(s->sites);
	free(s->findings);
	free(s->total);
	free(s->has);
	for (size_t i = 0; i < s->nkeyed; i++)
		free(s->keyed[i].key);
	free(s->keyed);
	free(s->has_keyed);
	free(s->source);
	free(s->exe);
	memset(s, 0, sizeof(*s));
}
