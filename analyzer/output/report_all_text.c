/* SPDX-License-Identifier: MIT */
/* report --all as text: the processes' totals, then the merged memory totals, findings and top tables, read from the merged report. */
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "family.h"
#include "findings_out.h"
#include "report_all.h"
#include "units.h"

static double num(json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

static uint64_t u64(json_t *o, const char *key)
{
	double v = num(o, key);

	return v > 0 ? (uint64_t)v : 0;
}

/* How a process ended, as the totals table says it. */
static const char *ending(json_t *p, char *buf, size_t len)
{
	const char *r = json_string_value(json_object_get(p, "end_reason"));

	if (r && !strcmp(r, "signal"))
		snprintf(buf, len, "signal %" PRIu64, u64(p, "signal"));
	else
		snprintf(buf, len, "%s", r ? r : "cut");
	return buf;
}

static void processes_table(FILE *out, json_t *procs)
{
	static const char *const cols[] = { "alloc_calls", "allocated_bytes", "leaked_bytes",
					    "lost_bytes", "cpu_samples", "connections" };
	static const int widths[] = { 11, 14, 12, 12, 8, 6 };
	uint64_t sum[6] = { 0 };
	char d[32], e[32];
	size_t i;
	json_t *p;

	fprintf(out, "processes (%zu)\n  %-8s %-16s %10s %-9s %11s %14s %12s %12s %8s %6s\n",
		json_array_size(procs), "pid", "program", "duration", "end", "alloc calls",
		"alloc bytes", "leaked", "lost", "cpu smp", "conns");
	json_array_foreach(procs, i, p)
	{
		fprintf(out, "  %-8" PRIu64 " %-16s %10s %-9s", u64(p, "pid"),
			json_string_value(json_object_get(p, "program")),
			pst_fmt_ns(u64(p, "duration_ns"), d, sizeof(d)), ending(p, e, sizeof(e)));
		for (size_t c = 0; c < 6; c++) {
			sum[c] += u64(p, cols[c]);
			fprintf(out, " %*" PRIu64, widths[c], u64(p, cols[c]));
		}
		fputc('\n', out);
	}
	fprintf(out, "  %-46s %11" PRIu64 " %14" PRIu64 " %12" PRIu64 " %12" PRIu64 " %8" PRIu64
		     " %6" PRIu64 "\n",
		"total", sum[0], sum[1], sum[2], sum[3], sum[4], sum[5]);
}

/* The memory totals of every process together. */
static void memory_totals(FILE *out, json_t *m, size_t nproc)
{
	char a[32], b[32], c[32];

	if (!m)
		return;
	fprintf(out, "\nTotals (%zu processes)\n", nproc);
	fprintf(out, "  allocations  %s calls, %s (%" PRIu64 " bytes)\n",
		pst_fmt_count(num(m, "alloc_calls"), a, sizeof(a)),
		pst_fmt_bytes(num(m, "allocated_bytes"), b, sizeof(b)), u64(m, "allocated_bytes"));
	fprintf(out, "  frees        %s calls\n", pst_fmt_count(num(m, "free_calls"), a, sizeof(a)));
	fprintf(out, "  peak heap    %s in the largest process\n",
		pst_fmt_bytes(num(m, "peak_heap_bytes"), a, sizeof(a)));
	if (json_object_get(m, "peak_heap_bytes_concurrent"))
		fprintf(out, "               %s in all processes at once (their heaps added over time)\n",
			pst_fmt_bytes(num(m, "peak_heap_bytes_concurrent"), a, sizeof(a)));
	fprintf(out, "               %s their peaks added (an upper bound of the heap in use at once)\n",
		pst_fmt_bytes(num(m, "peak_heap_bytes_sum"), b, sizeof(b)));
	fprintf(out, "  leaked       %s in %s blocks\n", pst_fmt_bytes(num(m, "leaked_bytes"), a, sizeof(a)),
		pst_fmt_count(num(m, "leaked_allocations"), c, sizeof(c)));
	if (json_object_get(m, "lost_bytes") && !json_is_null(json_object_get(m, "lost_bytes")))
		fprintf(out, "    definitely lost   %s in %s blocks\n",
			pst_fmt_bytes(num(m, "lost_bytes"), a, sizeof(a)),
			pst_fmt_count(num(m, "lost_allocations"), c, sizeof(c)));
}

static int cmp_by(const void *x, const void *y, void *key)
{
	double a = num(*(json_t *const *)x, key), b = num(*(json_t *const *)y, key);

	return a < b ? 1 : a > b ? -1 : 0;
}

/* A table of rows (objects) by their key, largest first: top of them,
 * named by name_key (its first string when a list). */
static void top_table(FILE *out, const char *title, json_t *rows, const char *key,
		      const char *name_key, bool bytes, size_t top)
{
	size_t n = json_array_size(rows), shown = 0;
	json_t **v = calloc(n + 1, sizeof(*v));
	char a[32];

	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(rows, i);
	qsort_r(v, n, sizeof(*v), cmp_by, (void *)key);
	fprintf(out, "\n%s\n", title);
	for (size_t i = 0; i < n && shown < top && num(v[i], key) > 0; i++, shown++) {
		json_t *name = json_object_get(v[i], name_key);

		if (json_is_array(name))
			name = json_array_get(name, 0);
		fprintf(out, "  %14s  %s\n",
			bytes ? pst_fmt_bytes(num(v[i], key), a, sizeof(a)) :
				pst_fmt_count(num(v[i], key), a, sizeof(a)),
			json_string_value(name) ? json_string_value(name) : "[no stack]");
	}
	if (!shown)
		fprintf(out, "  none\n");
	free(v);
}

void pst_report_all_text(FILE *out, json_t *rep, const struct pst_findings *f, size_t top)
{
	json_t *m = json_object_get(rep, "memory"), *sites = json_object_get(m, "sites");
	json_t *cpu = json_object_get(rep, "cpu"), *net = json_object_get(rep, "network");
	json_t *procs = json_object_get(rep, "processes");

	fprintf(out, "prestanda report --all: %s\n", json_string_value(json_object_get(rep, "trace")));
	processes_table(out, procs);
	memory_totals(out, m, json_array_size(procs));
	pst_findings_text(out, f, top);
	top_table(out, "Top sites by calls (every process)", sites, "calls", "stack", false, top);
	top_table(out, "Top sites by bytes allocated (every process)", sites, "bytes", "stack",
		  true, top);
	top_table(out, "Top sites by bytes leaked (every process)", sites, "leaked_bytes", "stack",
		  true, top);
	if (json_array_size(json_object_get(rep, "locks")))
		top_table(out, "Locks by time waited, ns (every process)",
			  json_object_get(rep, "locks"), "wait_ns", "stack", false, top);
	if (json_array_size(json_object_get(net, "endpoints")))
		top_table(out, "Endpoints by connects (every process)",
			  json_object_get(net, "endpoints"), "connects", "endpoint", false, top);
	if (json_array_size(json_object_get(cpu, "functions")))
		top_table(out, "CPU samples by function, self (every process)",
			  json_object_get(cpu, "functions"), "self", "function", false, top);
	/* the findings a family keeps in its own section (CPU's): here */
	for (unsigned i = 0; i < pst_nfamilies; i++)
		if (pst_families[i]->findings_in_section)
			pst_findings_text_short(out, f, i);
}
