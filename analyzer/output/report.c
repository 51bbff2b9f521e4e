/* SPDX-License-Identifier: MIT */
/* `prestanda report`: each trace through the table of families, its findings, as text or JSON. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "cpu.h"
#include "family.h"
#include "findings_out.h"
#include "html.h"
#include "json_util.h"
#include "memory.h"
#include "report.h"
#include "symbolize.h"
#include "timeline.h"
#include "trace_read.h"
#include "units.h"

/* Sites per table in the text report when --top is not given. */
#define DEFAULT_TOP 10
/* Show a progress bar for traces above this size: smaller ones read in
 * well under a second. */
#define PROGRESS_MIN_BYTES (50ull << 20)

/* Everything one trace's report is made of: the families' analysis. */
struct report {
	const char *path;
	struct pst_trace *t;
	struct pst_analysis a;
};

/* ---- progress ---- */

struct progress {
	const char *path;
	int last; /* last percentage drawn, per pass */
	int pass;
};

static void progress_draw(const struct pst_trace *t, int pass, void *arg)
{
	struct progress *p = arg;
	uint64_t done, total;
	int pct, bar = 30, fill;

	pst_trace_progress(t, &done, &total);
	pct = total ? (int)(done * 100 / total) : 100;
	if (pct > 100)
		pct = 100;
	if (pass == p->pass && pct == p->last)
		return;
	p->pass = pass;
	p->last = pct;
	fill = pct * bar / 100;
	fprintf(stderr, "\rprestanda: reading %s [%.*s%*s] %3d%%", p->path, fill,
		"##############################", bar - fill, "", pct);
	fflush(stderr);
}

static void progress_clear(void)
{
	fputs("\r\033[K", stderr);
	fflush(stderr);
}

/* ---- analysis ---- */

static void report_free(struct report *r)
{
	pst_analysis_free(&r->a);
	pst_trace_close(r->t);
}

/* A damaged trace is an error (exit 1) even though everything before the
 * damage is reported; a trace that merely lacks END is a warning. Damage
 * inside an event is found while reading the events. */
static void trace_state(const struct report *r)
{
	if (r->t->error_offset)
		fprintf(stderr, "prestanda: %s: %s; the report covers what came before it\n",
			r->path, r->t->error);
	else if (!r->t->complete)
		fprintf(stderr, "prestanda: warning: %s: %s\n", r->path,
			r->t->error[0] ? r->t->error : "trace is incomplete");
}

/* Every family over the opened trace, a progress bar on a terminal for a
 * large one. 0 or -ENOMEM. */
static int run_families(struct report *r, const struct pst_report_options *o)
{
	struct progress prog = { .path = r->path, .last = -1 };
	uint64_t done, total;
	bool bar;
	int rc;
	size_t top = o->top_given ? (size_t)o->top : 0;

	r->a = (struct pst_analysis){ .path = r->path, .t = r->t,
				      .pools = o->has_settings ? &o->settings.pools : NULL,
				      .caching = o->has_settings ? &o->settings.caching : NULL,
				      .top = top ? top : DEFAULT_TOP, .json_top = top,
				      .timeline_table = o->timeline,
				      .supp = o->suppressions_path ? &o->supp : NULL };
	r->a.sym = pst_analysis_symbolizer(r->t);
	if (!r->a.sym)
		return -ENOMEM;
	pst_trace_progress(r->t, &done, &total);
	bar = isatty(STDERR_FILENO) && total > PROGRESS_MIN_BYTES;
	if (bar) {
		r->a.progress = progress_draw;
		r->a.progress_arg = &prog;
	}
	rc = pst_analysis_run(&r->a);
	if (bar)
		progress_clear();
	pst_symbolizer_free(r->a.sym);
	r->a.sym = NULL;
	return rc;
}

/* Open, analyze, symbolize and judge one trace. Returns 0, or 1 after
 * printing why on stderr. */
static int analyze(struct report *r, const struct pst_report_options *o)
{
	char err[512];
	int rc;

	if (pst_trace_open(r->path, &r->t, err, sizeof(err))) {
		fprintf(stderr, "prestanda: %s\n", err);
		return 1;
	}
	rc = run_families(r, o);
	trace_state(r);
	if (rc) {
		fprintf(stderr, "prestanda: %s: out of memory\n", r->path);
		return 1;
	}
	if (!o->json)
		for (size_t i = 0; i < r->a.nwarnings; i++)
			fprintf(stderr, "prestanda: warning: %s\n", r->a.warnings[i]);
	if (o->svg) {
		int e = pst_timeline_svg(pst_analysis_of(&r->a, &pst_family_timeline), o->svg);

		if (e)
			fprintf(stderr, "prestanda: %s: %s\n", o->svg,
				e == -ENODATA ? "no snapshots to plot" : strerror(-e));
	}
	return 0;
}

/* ---- JSON ---- */

static const char *end_reason_name(const struct pst_trace *t)
{
	if (!t->has_end)
		return NULL;
	switch (t->end_reason) {
	case PST_END_EXIT: return "exit";
	case PST_END_EXEC: return "exec";
	case PST_END_SIGNAL: return "signal";
	case PST_END_DETACH: return "detach";
	default: return "unknown";
	}
}

static int rank_of(size_t i, bool json)
{
	return json ? pst_families[i]->json_rank : pst_families[i]->text_rank;
}

/* The families' indexes by json_rank (json true) or text_rank; equal
 * ranks in table order. */
static void ranked(size_t *idx, bool json)
{
	for (size_t i = 0; i < pst_nfamilies; i++) {
		size_t at = i;

		for (; at > 0 && rank_of(idx[at - 1], json) > rank_of(i, json); at--)
			idx[at] = idx[at - 1];
		idx[at] = i;
	}
}

static json_t *json_process(const struct report *r)
{
	const struct pst_trace *t = r->t;
	const struct pst_memory_result *mr = pst_analysis_of(&r->a, &pst_family_memory);
	json_t *proc = json_object();

	json_object_set_new(proc, "pid", pst_ju64(t->proc.pid));
	json_object_set_new(proc, "exe", json_string(t->proc.exe ? t->proc.exe : ""));
	json_object_set_new(proc, "duration_ns", pst_ju64(mr->m->duration_ns));
	json_object_set_new(proc, "complete", json_boolean(t->complete));
	json_object_set_new(proc, "ppid", pst_ju64(t->proc.ppid));
	json_object_set_new(proc, "host", pst_jstr(t->proc.host));
	json_object_set_new(proc, "start_realtime_ns", pst_ju64(t->proc.start_realtime_ns));
	json_object_set_new(proc, "end_reason", pst_jstr(end_reason_name(t)));
	if (t->has_end && t->end_reason == PST_END_SIGNAL)
		json_object_set_new(proc, "signal", json_integer((json_int_t)t->end_signal));
	if (t->proc.flags & PST_PROC_ATTACHED) {
		/* the window `prestanda attach` recorded, from the process's start */
		json_object_set_new(proc, "attached", json_true());
		json_object_set_new(proc, "attach_ns", pst_ju64(t->proc.attach_ns));
		json_object_set_new(proc, "detach_ns", pst_ju64(t->proc.attach_ns + mr->m->duration_ns));
	}
	if (!t->complete)
		json_object_set_new(proc, "error",
				    json_string(t->error[0] ? t->error : "trace is incomplete"));
	return proc;
}

static json_t *json_report(const struct report *r)
{
	json_t *root = json_object(), *ws = json_array();
	size_t idx[PST_FAMILIES_MAX];

	json_object_set_new(root, "prestanda_report", json_integer(1));
	json_object_set_new(root, "trace", json_string(r->path));
	json_object_set_new(root, "process", json_process(r));
	ranked(idx, true);
	for (size_t k = 0; k < pst_nfamilies; k++)
		if (pst_families[idx[k]]->json)
			pst_families[idx[k]]->json(&r->a, r->a.data[idx[k]], root);
	json_object_set_new(root, "findings", pst_findings_json(&r->a.f));
	for (size_t i = 0; i < r->a.nwarnings; i++)
		json_array_append_new(ws, json_string(r->a.warnings[i]));
	json_object_set_new(root, "warnings", ws);
	return root;
}

/* ---- text ---- */

static void text_header(FILE *out, const struct report *r)
{
	const struct pst_trace *t = r->t;
	const struct pst_memory_result *mr = pst_analysis_of(&r->a, &pst_family_memory);
	const struct pst_cpu *cpu = pst_analysis_of(&r->a, &pst_family_cpu);
	const struct pst_timeline *tl = pst_analysis_of(&r->a, &pst_family_timeline);
	const struct pst_memory *m = mr->m;
	char a[32], b[32], note[160];

	fprintf(out, "prestanda report: %s\n", r->path);
	fprintf(out, "  program    %s (pid %" PRIu64 ")\n", t->proc.exe ? t->proc.exe : "?",
		t->proc.pid);
	if (cpu->present && !m->events && !m->alloc_calls)
		; /* CPU samples only: the heap's mode means nothing */
	else if (m->full)
		fprintf(out, "  mode       full: every allocation recorded\n");
	else
		fprintf(out,
			"  mode       sampled, one sample per %s on average: per-site numbers, peak,\n"
			"             leaks and temporaries are estimates; totals of calls and bytes "
			"are %s\n",
			pst_fmt_bytes((double)m->sample_bytes, a, sizeof(a)),
			mr->totals_from_snapshot ? "exact up to the last snapshot" :
			m->totals_exact		 ? "exact" :
						   "estimates too (no thread totals)");
	fprintf(out, "  duration   %s\n", pst_fmt_ns(m->duration_ns, b, sizeof(b)));
	if (t->proc.flags & PST_PROC_ATTACHED) {
		char c[32];

		fprintf(out, "  attached   from %s to %s after the process started (prestanda attach)\n",
			pst_fmt_ns(t->proc.attach_ns, b, sizeof(b)),
			pst_fmt_ns(t->proc.attach_ns + m->duration_ns, c, sizeof(c)));
	}
	if (t->complete && t->end_reason == PST_END_SIGNAL)
		fprintf(out, "  trace      complete up to the fatal signal %d (%s)\n",
			(int)t->end_signal, strsignal((int)t->end_signal));
	else if (t->complete)
		fprintf(out, "  trace      complete (%s)\n", end_reason_name(t));
	else
		fprintf(out, "  trace      INCOMPLETE: %s; the report covers what was recorded\n",
			t->error[0] ? t->error : "no clean end");
	if (tl && tl->capped)
		fprintf(out, "             %s\n", pst_timeline_cap_note(tl, note, sizeof(note)));
}

/* The header, the families' summaries, the findings list, their sections. */
static void text_report(FILE *out, const struct report *r)
{
	size_t idx[PST_FAMILIES_MAX];

	text_header(out, r);
	ranked(idx, false);
	for (size_t k = 0; k < pst_nfamilies; k++) {
		const struct pst_family_ops *fam = pst_families[idx[k]];

		if (fam->text_summary && !fam->text_summary(out, &r->a, r->a.data[idx[k]]))
			return;
	}
	pst_findings_text(out, &r->a.f, r->a.top);
	for (size_t k = 0; k < pst_nfamilies; k++)
		if (pst_families[idx[k]]->text)
			pst_families[idx[k]]->text(out, &r->a, r->a.data[idx[k]]);
}

/* ---- the reports ---- */

/* The one-page report of r into o->html. 0, or 1 after saying why. */
static int write_html(const struct report *r, const struct pst_report_options *o)
{
	json_t *j = json_report(r);
	int e = j ? pst_html_write(o->html, &r->a, j, o) : -ENOMEM;

	json_decref(j);
	if (e)
		fprintf(stderr, "prestanda: %s: %s\n", o->html,
			e == -ENOMEM ? "out of memory" : strerror(-e));
	return e ? 1 : 0;
}

/* One trace's report on stdout (JSON into all when it is set); nok: how
 * many were written before. 0; 1: written, but the trace is damaged; 2:
 * none (the trace could not be read, or memory ran out). */
static int report_one(const char *path, const struct pst_report_options *o, json_t *all,
		      int nok)
{
	struct report r = { .path = path };
	int status;

	if (analyze(&r, o)) {
		report_free(&r);
		return 2;
	}
	status = r.t->error_offset ? 1 : 0;
	if (o->html && write_html(&r, o))
		status = 1;
	if (o->json) {
		json_t *j = json_report(&r);

		if (all) {
			json_array_append_new(all, j);
		} else {
			json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
			fputc('\n', stdout);
			json_decref(j);
		}
	} else {
		if (nok)
			fputs("\n\n", stdout);
		text_report(stdout, &r);
	}
	report_free(&r);
	return status;
}

int pst_report_print(const struct pst_report_options *o, char *const *paths, int n)
{
	json_t *all = o->json && n > 1 ? json_array() : NULL;
	int status = 0, nok = 0;

	for (int i = 0; i < n; i++) {
		int rc = report_one(paths[i], o, all, nok);

		if (rc)
			status = 1;
		if (rc < 2)
			nok++;
	}
	if (all) {
		json_dumpf(all, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(all);
	}
	return status;
}

/* ---- for other commands ---- */

int pst_report_visit(const struct pst_report_options *o, const char *path, pst_report_visit_fn fn,
		     void *arg)
{
	struct report r = { .path = path };
	json_t *j;
	int status = 2;

	if (!analyze(&r, o)) {
		status = r.t->error_offset ? 1 : 0;
		j = json_report(&r);
		if (!j || fn(&r.a, j, arg))
			status = 2;
		json_decref(j);
	}
	report_free(&r);
	return status;
}

json_t *pst_report_json(const char *path)
{
	struct pst_report_options o = { .json = true };
	struct report r = { .path = path };
	json_t *j = NULL;

	if (!analyze(&r, &o)) {
		if (r.t->error_offset)
			fprintf(stderr, "prestanda: %s: a damaged trace cannot be compared\n", path);
		else
			j = json_report(&r);
	}
	report_free(&r);
	return j;
}

json_t *pst_report_quiet_json(const char *path, const struct pst_report_options *o)
{
	struct pst_report_options q = *o;
	struct report r = { .path = path };
	char err[512];
	json_t *j = NULL;

	/* every row; no per-interval table; no word on stderr (the page's
	 * whole-run analysis has said what there was to say) */
	q.top_given = false;
	q.timeline = false;
	if (!pst_trace_open(path, &r.t, err, sizeof(err)) && !run_families(&r, &q))
		j = json_report(&r);
	report_free(&r);
	return j;
}
