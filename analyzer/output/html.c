/* SPDX-License-Identifier: MIT */
/* `report --html FILE`: one self-contained page, the analysis as embedded JSON drawn by an inline script. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "html.h"
#include "memory.h"

/* html_assets.c: the page's script and style sheet. */
extern const char pst_html_js[], pst_html_css[];

/* Nothing may leave the page: no request to any address, only its own
 * inline script and style. */
static const char csp[] = "default-src 'none'; script-src 'unsafe-inline'; "
			  "style-src 'unsafe-inline'; img-src data:";

static const char *base_name(const char *path)
{
	const char *s = path ? strrchr(path, '/') : NULL;

	return s ? s + 1 : path ? path : "?";
}

/* s with <, > and & as entities, for the title. */
static void put_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		const char *e = *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : *s == '&' ? "&amp;" : NULL;

		if (e)
			fputs(e, f);
		else
			fputc(*s, f);
	}
}

/* Rows a table of the page keeps: it shows the top 30 of any order the
 * reader picks; the rest of a big trace's list would only make it large. */
#define PAGE_ROWS 200

const char *const pst_html_tables[][2] = {
	{ "cpu", "functions" },     { "threads", "threads" },   { "threads", "groups" },
	{ "", "locks" },            { "network", "endpoints" }, { "network", "lookups" },
	{ "network", "requests" },
};
const size_t pst_html_ntables = sizeof(pst_html_tables) / sizeof(*pst_html_tables);

/* The report cut to what the page draws: no site list (the page carries
 * its own, with the per-range cells), nor the CPU's stacks (its flame
 * graph is the analyzer's tree), and at most PAGE_ROWS rows a table. */
static void trim(json_t *report)
{
	json_object_del(json_object_get(report, "memory"), "sites");
	json_object_del(json_object_get(report, "cpu"), "stacks");
	for (size_t i = 0; i < pst_html_ntables; i++) {
		json_t *sec = *pst_html_tables[i][0] ? json_object_get(report, pst_html_tables[i][0])
						     : report;
		json_t *rows = json_object_get(sec, pst_html_tables[i][1]);

		while (json_array_size(rows) > PAGE_ROWS)
			json_array_remove(rows, json_array_size(rows) - 1);
	}
}

/* The page's data: the report trimmed, the ranges, the flame graphs, the
 * connections; the tables and flame graphs of every range packed into
 * *by_range. NULL when out of memory or the trace cannot be read again. */
static json_t *page_data(const struct pst_analysis *a, json_t *report,
			 const struct pst_report_options *o, char **by_range)
{
	const struct pst_memory_result *mr = pst_analysis_of(a, &pst_family_memory);
	struct pst_html_buckets b = pst_html_buckets_for(mr->m->duration_ns);
	json_t *d = json_object(), *ranges = pst_html_ranges(a, &b);
	json_t *each = ranges ? pst_html_by_range(a, o, &b) : NULL;

	*by_range = each ? pst_html_pack(each) : NULL;
	json_decref(each);
	if (!d || !ranges || !*by_range) {
		json_decref(d);
		json_decref(ranges);
		free(*by_range);
		return NULL;
	}
	trim(report);
	json_object_set_new(d, "prestanda_page", json_integer(1));
	json_object_set(d, "report", report);
	json_object_set_new(d, "ranges", ranges);
	json_object_set_new(d, "flames", pst_html_flames(a));
	json_object_set_new(d, "connections", pst_html_connections(a, &b) ?: json_null());
	json_object_set_new(d, "threads", pst_html_threads(a, &b) ?: json_null());
	return d;
}

static int write_page(FILE *f, const struct pst_analysis *a, json_t *data, const char *by_range)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n", f);
	fprintf(f, "<meta http-equiv=\"Content-Security-Policy\" content=\"%s\">\n", csp);
	fputs("<title>prestanda: ", f);
	put_text(f, base_name(a->t->proc.exe));
	fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", pst_html_css);
	fputs("<noscript>This report is drawn by its script: open it in a browser with "
	      "JavaScript on.</noscript>\n<div id=\"app\"></div>\n",
	      f);
	/* JSON_ESCAPE_SLASH: no "</script>" inside the data can end it. */
	fputs("<script type=\"application/json\" id=\"pst-data\">", f);
	if (json_dumpf(data, f, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ESCAPE_SLASH))
		return -ENOMEM;
	/* base64 has no "<": nothing in it ends the element */
	fprintf(f, "</script>\n<script type=\"application/octet-stream\" id=\"pst-by-range\">%s",
		by_range);
	fprintf(f, "</script>\n<script>\n%s</script>\n</body></html>\n", pst_html_js);
	return 0;
}

int pst_html_write(const char *path, const struct pst_analysis *a, json_t *report,
		   const struct pst_report_options *o)
{
	char *by_range;
	json_t *data = page_data(a, report, o, &by_range);
	FILE *f;
	int r;

	if (!data)
		return -ENOMEM;
	f = fopen(path, "w");
	if (!f) {
		r = -errno;
		json_decref(data);
		free(by_range);
		return r;
	}
	r = write_page(f, a, data, by_range);
	json_decref(data);
	free(by_range);
	if (fflush(f) || ferror(f))
		r = r ? r : -errno;
	if (fclose(f) && !r)
		r = -errno;
	return r;
}
