/* SPDX-License-Identifier: MIT */
/* The one-page report's tables and flame graphs for every range of buckets: what `report --json` and `flame` print with its --since/--until. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "filter.h"
#include "html.h"
#include "json_util.h"

/* The rows of a table the page carries per range: the top of the range in
 * the report's own order (what `report --since --until` lists first), and
 * how many there were in all. Every range repeats its rows, so fewer than
 * the whole run's table keeps. */
#define RANGE_ROWS 50

/* Section sec's list key of the report rep, or NULL. */
static json_t *table_of(json_t *rep, const char *sec, const char *key)
{
	return json_object_get(*sec ? json_object_get(rep, sec) : rep, key);
}

/* {"SECTION.KEY": {"n": rows in the range, "rows": [the first RANGE_ROWS]}},
 * the tables the range has rows in. */
static json_t *range_tables(json_t *rep)
{
	json_t *o = json_object();

	/* the sites too: the range's own top, not the whole run's */
	for (size_t i = 0; i <= pst_html_ntables; i++) {
		const char *sec = i < pst_html_ntables ? pst_html_tables[i][0] : "memory";
		const char *key = i < pst_html_ntables ? pst_html_tables[i][1] : "sites";
		json_t *rows = table_of(rep, sec, key);
		size_t n = json_array_size(rows);
		char name[64];

		if (!n)
			continue;
		while (json_array_size(rows) > RANGE_ROWS)
			json_array_remove(rows, json_array_size(rows) - 1);
		snprintf(name, sizeof(name), "%s%s%s", sec, *sec ? "." : "", key);
		json_object_set_new(o, name, json_pack("{s:I,s:O}", "n", (json_int_t)n, "rows", rows));
	}
	return o;
}

/* The flame graphs pst_html_flames draws, as {"METRIC": tree}. */
static json_t *range_flames(const struct pst_analysis *a)
{
	json_t *list = pst_html_flames(a), *o = json_object(), *f;
	size_t i;

	json_array_foreach(list, i, f)
		json_object_set(o, json_string_value(json_object_get(f, "name")),
				json_object_get(f, "tree"));
	json_decref(list);
	return o;
}

/* Buckets [lo, hi) as the report and the flame graphs of that window
 * (filter f, the command's own with the window's bounds): {"tables",
 * "flames"}, or NULL when the trace cannot be read again. */
static json_t *one_range(const struct pst_analysis *a, const struct pst_report_options *o,
			 struct pst_filter *f, const struct pst_html_buckets *b, unsigned lo,
			 unsigned hi)
{
	json_t *rep, *r;

	f->has_since = f->has_until = true;
	f->since_base = f->until_base = PST_TIME_START;
	/* the page's bounds are short decimals: as the command line gives them */
	f->since = (double)(lo * b->width_ns) / 1e9;
	f->until = (double)(hi * b->width_ns) / 1e9;
	pst_filter_set_default(f);
	rep = pst_report_quiet_json(a->path, o);
	if (!rep)
		return NULL;
	r = json_pack("{s:o,s:o}", "tables", range_tables(rep), "flames", range_flames(a));
	/* the CPU samples of the range: a CPU chart for a run without snapshots */
	if (json_object_get(rep, "cpu"))
		json_object_set(r, "cpu_samples", json_object_get(json_object_get(rep, "cpu"), "samples"));
	json_decref(rep);
	return r;
}

/* Range k of n being read, on a terminal: each reads the trace again. */
static void progress(unsigned k, unsigned n)
{
	if (!isatty(STDERR_FILENO))
		return;
	fprintf(stderr, k < n ? "\rprestanda: the page's ranges: %u of %u" : "\r\033[K", k + 1, n);
	fflush(stderr);
}

json_t *pst_html_by_range(const struct pst_analysis *a, const struct pst_report_options *o,
			  const struct pst_html_buckets *b)
{
	const struct pst_filter *cmd = pst_filter_default();
	unsigned k = 0, n = b->n * (b->n + 1) / 2 - 1;
	struct pst_filter f;
	json_t *all = json_object();

	/* the command's other selections (--tid, --pid, --comm) hold in every range */
	if (cmd)
		f = *cmd;
	else
		memset(&f, 0, sizeof(f));
	for (unsigned lo = 0; all && lo < b->n; lo++)
		for (unsigned hi = lo + 1; all && hi <= b->n; hi++) {
			char key[32];
			json_t *r;

			/* the whole run is the page's own report */
			if (lo == 0 && hi == b->n)
				continue;
			progress(k++, n);
			r = one_range(a, o, &f, b, lo, hi);
			if (!r) {
				json_decref(all);
				all = NULL;
				break;
			}
			snprintf(key, sizeof(key), "%u-%u", lo, hi);
			json_object_set_new(all, key, r);
		}
	progress(n, n);
	pst_filter_set_default(cmd);
	return all;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* n bytes of p in base64 into out (4 characters per 3 bytes, padded). */
static void base64(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);

		*out++ = b64[v >> 18 & 63];
		*out++ = b64[v >> 12 & 63];
		*out++ = i + 1 < n ? b64[v >> 6 & 63] : '=';
		*out++ = i + 2 < n ? b64[v & 63] : '=';
	}
	*out = 0;
}

char *pst_html_pack(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER), *out = NULL;
	uLongf zn = s ? compressBound(strlen(s)) : 0;
	Bytef *z = s ? malloc(zn) : NULL;

	if (z && compress2(z, &zn, (const Bytef *)s, strlen(s), Z_BEST_COMPRESSION) == Z_OK) {
		out = malloc((zn + 2) / 3 * 4 + 1);
		if (out)
			base64(z, zn, out);
	}
	free(z);
	free(s);
	return out;
}
