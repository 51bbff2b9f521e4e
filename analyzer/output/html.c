/* SPDX-License-Identifier: MIT */
/* `report --html FILE`: one self-contained page, the analysis as embedded JSON drawn by an inline script. */
#include <errno.h>
#include <stdio.h>
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

/* The report's lists the page draws as tables, by section ("" for the
 * report's own key). */
static const char *const tables[][2] = {
	{ "cpu", "functions" }, { "threads", "threads" },   { "threads", "groups" },
	{ "", "locks" },        { "network", "endpoints" }, { "network", "lookups" },
};

/* The report cut to what the page draws: no site list (the page carries
 * its own, with the per-range cells), nor the CPU's stacks (its flame
 * graph is the analyzer's tree), and at most PAGE_ROWS rows a table. */
static void trim(json_t *report)
{
	json_object_del(json_object_get(report, "memory"), "sites");
	json_object_del(json_object_get(report, "cpu"), "stacks");
	for (size_t i = 0; i < sizeof(tables) / sizeof(*tables); i++) {
		json_t *sec = *tables[i][0] ? json_object_get(report, tables[i][0]) : report;
		json_t *rows = json_object_get(sec, tables[i][1]);

		while (json_array_size(rows) > PAGE_ROWS)
			json_array_remove(rows, json_array_size(rows) - 1);
	}
}

/* The page's data: the report trimmed, the ranges, the flame graphs, the
 * connections. NULL when out of memory. */
static json_t *page_data(const struct pst_analysis *a, json_t *report)
{
	const struct pst_memory_result *mr = pst_analysis_of(a, &pst_family_memory);
	struct pst_html_buckets b = pst_html_buckets_for(mr->m->duration_ns);
	json_t *d = json_object(), *ranges = pst_html_ranges(a, &b);

	if (!d || !ranges) {
		json_decref(d);
		json_decref(ranges);
		return NULL;
	}
	trim(report);
	json_object_set_new(d, "prestanda_page", json_integer(1));
	json_object_set(d, "report", report);
	json_object_set_new(d, "ranges", ranges);
	json_object_set_new(d, "flames", pst_html_flames(a));
	json_object_set_new(d, "connections", pst_html_connections(a, &b) ?: json_null());
	return d;
}

static int write_page(FILE *f, const struct pst_analysis *a, json_t *data)
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
	fprintf(f, "</script>\n<script>\n%s</script>\n</body></html>\n", pst_html_js);
	return 0;
}

int pst_html_write(const char *path, const struct pst_analysis *a, json_t *report)
{
	json_t *data = page_data(a, report);
	FILE *f;
	int r;

	if (!data)
		return -ENOMEM;
	f = fopen(path, "w");
	if (!f) {
		r = -errno;
		json_decref(data);
		return r;
	}
	r = write_page(f, a, data);
	json_decref(data);
	if (fflush(f) || ferror(f))
		r = r ? r : -errno;
	if (fclose(f) && !r)
		r = -errno;
	return r;
}
