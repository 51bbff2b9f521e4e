/* SPDX-License-Identifier: MIT */
/* `prestanda report`: read traces, analyze memory, print findings and top sites as text or JSON. */
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
#include "findings.h"
#include "memory.h"
#include "report.h"
#include "net.h"
#include "symbolize.h"
#include "threads.h"
#include "timeline.h"
#include "trace_read.h"
#include "units.h"

/* Sites per table in the text report when --top is not given. */
#define DEFAULT_TOP 10
/* Show a progress bar for traces above this size: smaller ones read in
 * well under a second. */
#define PROGRESS_MIN_BYTES (50ull << 20)
/* Frames of a site's stack the text report shows. */
#define TEXT_STACK_FRAMES 3
/* Width the text report wraps advice at. */
#define TEXT_WIDTH 92

/* Everything one trace's report is made of. */
struct report {
	const char *path;
	struct pst_trace *t;
	struct pst_memory *m;
	struct pst_findings f;
	struct pst_threads *th;
	struct pst_net *net;
	struct pst_cpu *cpu; /* CPU samples, when the trace has them */
	struct pst_timeline *tl; /* snapshots, pauses, the size cap, alerts */
	bool totals_from_snapshot; /* exact totals are the last snapshot's */
	char **warnings;
	size_t nwarnings;
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

static int add_warning(struct report *r, const char *w)
{
	char **nv;

	for (size_t i = 0; i < r->nwarnings; i++)
		if (!strcmp(r->warnings[i], w))
			return 0;
	nv = realloc(r->warnings, (r->nwarnings + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	r->warnings = nv;
	r->warnings[r->nwarnings] = strdup(w);
	return r->warnings[r->nwarnings++] ? 0 : -ENOMEM;
}

static void report_free(struct report *r)
{
	pst_findings_free(&r->f);
	pst_threads_free(r->th);
	pst_memory_free(r->m);
	pst_net_free(r->net);
	pst_cpu_free(r->cpu);
	pst_timeline_free(r->tl);
	pst_trace_close(r->t);
	for (size_t i = 0; i < r->nwarnings; i++)
		free(r->warnings[i]);
	free(r->warnings);
}

/*
 * A trace without every thread's TOTALS (killed, or capped by --max-size)
 * still has exact counters up to its last snapshot: better than an
 * estimate from events, unless the events written after it count more.
 */
static void use_last_snapshot(struct report *r)
{
	const struct pst_snapshot *s;

	if (r->m->totals_exact || !r->tl->nsnaps)
		return;
	s = &r->tl->snaps[r->tl->nsnaps - 1];
	if (s->alloc_calls < r->m->alloc_calls)
		return;
	r->m->alloc_calls = s->alloc_calls;
	r->m->free_calls = s->free_calls;
	r->m->allocated_bytes = s->alloc_bytes;
	r->m->totals_exact = true;
	r->totals_from_snapshot = true;
}

/* Open, analyze, symbolize and judge one trace. Returns 0, or 1 after
 * printing why on stderr. */
static int analyze(struct report *r, const struct pst_report_options *o)
{
	struct pst_findings_ctx ctx;
	struct pst_symbolizer *sym;
	struct progress prog = { .path = r->path, .last = -1 };
	uint64_t done, total;
	bool bar;
	char err[512];
	int rc;

	if (pst_trace_open(r->path, &r->t, err, sizeof(err))) {
		fprintf(stderr, "prestanda: %s\n", err);
		return 1;
	}
	sym = pst_symbolizer_new();
	if (!sym) {
		fprintf(stderr, "prestanda: %s: out of memory\n", r->path);
		return 1;
	}
	for (size_t i = 0; i < r->t->nmodules; i++) {
		const struct pst_module *mo = &r->t->modules[i];

		if (mo->path)
			pst_symbolizer_add_module(sym, mo->path, mo->bias, mo->lo, mo->hi,
						  mo->build_id, mo->build_id_len);
	}
	pst_trace_progress(r->t, &done, &total);
	bar = isatty(STDERR_FILENO) && total > PROGRESS_MIN_BYTES;
	r->m = pst_memory_build(r->t, sym, bar ? progress_draw : NULL, &prog);
	if (bar)
		progress_clear();
	/* A damaged trace is an error (exit 1) even though everything before
	 * the damage is reported; a trace that merely lacks END is a warning.
	 * Damage inside an event is found while reading the events. */
	if (r->t->error_offset)
		fprintf(stderr, "prestanda: %s: %s; the report covers what came before it\n",
			r->path, r->t->error);
	else if (!r->t->complete)
		fprintf(stderr, "prestanda: warning: %s: %s\n", r->path,
			r->t->error[0] ? r->t->error : "trace is incomplete");
	rc = r->m ? 0 : -ENOMEM;
	if (!rc && !(r->th = pst_threads_analyze(r->t, sym)))
		rc = -ENOMEM;
	for (size_t i = 0; !rc; i++) {
		const char *w = pst_symbolizer_warning(sym, i);

		if (!w)
			break;
		rc = add_warning(r, w);
	}
	pst_symbolizer_free(sym);
	if (!rc) {
		r->cpu = pst_cpu_analyze(r->t);
		rc = r->cpu ? 0 : -ENOMEM;
		for (size_t i = 0; !rc && i < r->cpu->nwarnings; i++)
			rc = add_warning(r, r->cpu->warnings[i]);
	}
	if (rc) {
		fprintf(stderr, "prestanda: %s: out of memory\n", r->path);
		return 1;
	}
	if (!o->json)
		for (size_t i = 0; i < r->nwarnings; i++)
			fprintf(stderr, "prestanda: warning: %s\n", r->warnings[i]);

	ctx.at_exit = r->t->complete && r->t->end_reason == PST_END_EXIT;
	ctx.end = NULL;
	if (!r->t->complete)
		ctx.end = "the trace was cut (it is incomplete: some may have been freed later)";
	else if (r->t->end_reason == PST_END_EXEC)
		ctx.end = "the process executed another program";
	else if (r->t->end_reason == PST_END_SIGNAL)
		ctx.end = "the process was killed by a fatal signal";
	if (pst_findings_build(r->m, &ctx, &r->f) || pst_findings_threads(r->th, &r->f)) {
		fprintf(stderr, "prestanda: %s: out of memory\n", r->path);
		return 1;
	}
	r->tl = pst_timeline_read(r->t);
	if (!r->tl) {
		fprintf(stderr, "prestanda: %s: out of memory\n", r->path);
		return 1;
	}
	use_last_snapshot(r);
	if (r->tl->capped) {
		char note[160];

		if (add_warning(r, pst_timeline_cap_note(r->tl, note, sizeof(note)))) {
			fprintf(stderr, "prestanda: %s: out of memory\n", r->path);
			return 1;
		}
		if (!o->json)
			fprintf(stderr, "prestanda: warning: %s\n", note);
	}
	if (o->svg) {
		int e = pst_timeline_svg(r->tl, o->svg);

		if (e)
			fprintf(stderr, "prestanda: %s: %s\n", o->svg,
				e == -ENODATA ? "no snapshots to plot" : strerror(-e));
	}
	r->net = pst_net_analyze(r->t);
	if (!r->net || pst_findings_net(r->net, o->has_settings ? &o->settings.pools : NULL, &r->f)) {
		fprintf(stderr, "prestanda: %s: out of memory\n", r->path);
		return 1;
	}
	return 0;
}

/* ---- JSON ---- */

static json_t *jint(double v)
{
	if (v <= 0)
		return json_integer(0);
	if (v >= 9.2e18)
		return json_integer(LLONG_MAX);
	return json_integer((json_int_t)llround(v));
}

static json_t *ju64(uint64_t v)
{
	return json_integer(v > (uint64_t)LLONG_MAX ? LLONG_MAX : (json_int_t)v);
}

static json_t *jstr_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *json_stack(const struct pst_site *s)
{
	json_t *a = json_array();

	for (size_t i = 0; i < s->depth; i++)
		json_array_append_new(a, json_string(s->stack[i]));
	return a;
}

static json_t *json_site(const struct pst_site *s)
{
	const struct pst_stack_stats *st = &s->st;
	json_t *o = json_object();

	json_object_set_new(o, "function", jstr_or_null(s->function));
	json_object_set_new(o, "file", jstr_or_null(s->file));
	json_object_set_new(o, "line", s->file && s->line > 0 ? json_integer(s->line) : json_null());
	json_object_set_new(o, "stack", json_stack(s));
	json_object_set_new(o, "calls", jint(st->calls));
	json_object_set_new(o, "bytes", jint(st->bytes));
	json_object_set_new(o, "peak_bytes", jint(st->peak_bytes));
	json_object_set_new(o, "leaked_bytes", jint(st->leaked_bytes));
	json_object_set_new(o, "temporary", jint(st->temporary));
	json_object_set_new(o, "max_live_bytes", jint(st->max_live));
	json_object_set_new(o, "leaked_allocations", jint(st->leaked));
	json_object_set_new(o, "short_lived", jint(st->short_lived));
	json_object_set_new(o, "reallocs", jint(st->reallocs));
	json_object_set_new(o, "max_realloc_chain", json_integer(st->max_chain));
	json_object_set_new(o, "min_size", ju64(st->min_size));
	json_object_set_new(o, "max_size", ju64(st->max_size));
	json_object_set_new(o, "samples", ju64(st->events));
	json_object_set_new(o, "stack_id", ju64(s->first_stack_id));
	json_object_set_new(o, "runtime", json_boolean(s->runtime));
	return o;
}

static json_t *json_finding(const struct pst_finding *f)
{
	json_t *o = json_object(), *ev = json_object();

	json_object_set_new(o, "id", json_string(f->id));
	json_object_set_new(o, "severity", json_string(pst_severity_name(f->severity)));
	json_object_set_new(o, "title", json_string(f->title));
	json_object_set_new(o, "advice", json_string(f->advice));
	for (size_t i = 0; i < f->nev; i++) {
		const struct pst_evidence *e = &f->ev[i];

		json_object_set_new(ev, e->key,
				    e->kind == PST_EV_STR  ? json_string(e->s) :
				    e->kind == PST_EV_REAL ? json_real(e->r) :
							     ju64(e->i));
	}
	json_object_set_new(o, "evidence", ev);
	json_object_set_new(o, "stack", f->site ? json_stack(f->site) : json_array());
	return o;
}

static json_t *json_hist(const struct pst_memory *m)
{
	json_t *a = json_array();

	for (int b = 0; b < PST_HIST_BUCKETS; b++) {
		json_t *o;

		if (!m->hist[b])
			continue;
		o = json_object();
		json_object_set_new(o, "min", ju64(b ? 1ull << (b - 1) : 0));
		json_object_set_new(o, "max", b == PST_HIST_BUCKETS - 1 ? json_null() :
							      ju64(b ? (1ull << b) - 1 : 0));
		json_object_set_new(o, "count", ju64(m->hist[b]));
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *json_threads(const struct pst_memory *m)
{
	json_t *a = json_array();

	for (size_t i = 0; i < m->nthreads; i++) {
		const struct pst_thread_totals *th = &m->threads[i];
		json_t *o = json_object();

		json_object_set_new(o, "tid", ju64(th->tid));
		json_object_set_new(o, "name", jstr_or_null(th->name));
		json_object_set_new(o, "alloc_calls", ju64(th->alloc_calls));
		json_object_set_new(o, "free_calls", ju64(th->free_calls));
		json_object_set_new(o, "allocated_bytes", ju64(th->alloc_bytes));
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *json_thr_group(const struct pst_thr_group *g)
{
	json_t *o = json_object(), *sz = json_array();

	json_object_set_new(o, "start_routine", json_string(g->routine_name));
	json_object_set_new(o, "created_at", json_stack(&g->created_at));
	json_object_set_new(o, "threads", ju64(g->threads));
	json_object_set_new(o, "peak", ju64(g->peak));
	json_object_set_new(o, "busy_fraction", json_real(round(g->busy_fraction * 1000) / 1000));
	json_object_set_new(o, "idle_ns", ju64(g->idle_ns));
	json_object_set_new(o, "lock_wait_ns", ju64(g->lock_wait_ns));
	json_object_set_new(o, "cpu_ns", ju64(g->cpu_ns));
	json_object_set_new(o, "lifetime_ns", ju64(g->lifetime_ns));
	json_object_set_new(o, "median_lifetime_ns", ju64(g->lifetime_p50));
	json_object_set_new(o, "tasks", ju64(g->tasks));
	json_object_set_new(o, "tasks_per_thread",
			    json_real(g->threads ? round(g->tasks * 100.0 / g->threads) / 100 : 0));
	json_object_set_new(o, "saturated_ns", ju64(g->saturated_ns));
	for (size_t i = 0; i < g->nsizes; i++)
		json_array_append_new(sz, json_pack("[I,I]", (json_int_t)g->sizes[i].t_ns,
						    (json_int_t)g->sizes[i].threads));
	json_object_set_new(o, "size_over_time", sz);
	return o;
}

/* "threads": counts, lifetimes, per-thread times and pools (issue schema). */
static json_t *json_thr(const struct pst_threads *th)
{
	json_t *o = json_object(), *lt = json_object(), *gs = json_array(), *ts = json_array();

	json_object_set_new(o, "created", ju64(th->created));
	json_object_set_new(o, "peak_concurrent", ju64(th->peak_concurrent));
	json_object_set_new(lt, "p50", ju64(th->lifetime_p50));
	json_object_set_new(lt, "p99", ju64(th->lifetime_p99));
	json_object_set_new(lt, "max", ju64(th->lifetime_max));
	json_object_set_new(o, "lifetime_ns", lt);
	json_object_set_new(o, "creation_rate", json_real(round(th->creation_rate * 100) / 100));
	json_object_set_new(o, "cores", ju64(th->ncpu));
	json_object_set_new(o, "untracked_locks", ju64(th->untracked_locks));
	for (size_t i = 0; i < th->ngroups; i++)
		json_array_append_new(gs, json_thr_group(&th->groups[i]));
	json_object_set_new(o, "groups", gs);
	for (size_t i = 0; i < th->nthreads; i++) {
		const struct pst_thr_life *l = &th->threads[i];
		json_t *x = json_object();

		json_object_set_new(x, "tid", ju64(l->tid));
		json_object_set_new(x, "parent", ju64(l->parent));
		json_object_set_new(x, "group", l->group == SIZE_MAX ? json_null() :
						  json_integer((json_int_t)l->group));
		json_object_set_new(x, "main", json_boolean(l->main));
		json_object_set_new(x, "lifetime_ns", ju64(l->end_ts - l->start_ts));
		json_object_set_new(x, "cpu_ns", ju64(l->cpu_ns));
		json_object_set_new(x, "idle_ns", ju64(l->idle_ns));
		json_object_set_new(x, "lock_wait_ns", ju64(l->lock_wait_ns));
		json_object_set_new(x, "join_ns", ju64(l->join_ns));
		json_object_set_new(x, "tasks", ju64(l->tasks));
		json_object_set_new(x, "alive_at_exit", json_boolean(l->alive_at_exit));
		json_array_append_new(ts, x);
	}
	json_object_set_new(o, "threads", ts);
	return o;
}

static json_t *json_locks(const struct pst_threads *th)
{
	json_t *a = json_array();

	for (size_t i = 0; i < th->nlocks; i++) {
		const struct pst_lock *l = &th->locks[i];
		json_t *o = json_object(), *ws = json_array();
		char addr[32];

		snprintf(addr, sizeof(addr), "0x%" PRIx64, l->addr);
		json_object_set_new(o, "lock", json_string(addr));
		json_object_set_new(o, "kind", json_string(pst_lock_kind_name(l->kind)));
		json_object_set_new(o, "first_use", json_stack(&l->first_use));
		json_object_set_new(o, l->kind == PST_WAIT_COND ? "waits" : "acquisitions",
				    ju64(l->kind == PST_WAIT_COND ? l->contended : l->acquisitions));
		if (l->kind == PST_WAIT_WRLOCK)
			json_object_set_new(o, "reads", ju64(l->reads));
		json_object_set_new(o, "contended", ju64(l->contended));
		json_object_set_new(o, "wait_ns", ju64(l->wait_ns));
		json_object_set_new(o, "max_wait_ns", ju64(l->max_wait_ns));
		json_object_set_new(o, "wait_share", json_real(round(l->wait_share * 10000) / 10000));
		json_object_set_new(o, "stack", json_stack(l->ntop ? &l->top[0].site : &l->first_use));
		for (size_t j = 0; j < l->ntop; j++) {
			json_t *w = json_object();

			json_object_set_new(w, "stack", json_stack(&l->top[j].site));
			json_object_set_new(w, "waits", ju64(l->top[j].count));
			json_object_set_new(w, "wait_ns", ju64(l->top[j].wait_ns));
			json_object_set_new(w, "max_wait_ns", ju64(l->top[j].max_wait_ns));
			json_array_append_new(ws, w);
		}
		json_object_set_new(o, "waiting_stacks", ws);
		json_array_append_new(a, o);
	}
	return a;
}

static const char *end_reason_name(const struct pst_trace *t)
{
	if (!t->has_end)
		return NULL;
	switch (t->end_reason) {
	case PST_END_EXIT: return "exit";
	case PST_END_EXEC: return "exec";
	case PST_END_SIGNAL: return "signal";
	default: return "unknown";
	}
}

static json_t *json_report(const struct report *r, const struct pst_report_options *o)
{
	const struct pst_trace *t = r->t;
	const struct pst_memory *m = r->m;
	json_t *root = json_object(), *proc = json_object(), *mem = json_object();
	json_t *sites = json_array(), *fs = json_array(), *ws = json_array();
	size_t nsites = m->nsites;

	json_object_set_new(root, "prestanda_report", json_integer(1));
	json_object_set_new(root, "trace", json_string(r->path));

	json_object_set_new(proc, "pid", ju64(t->proc.pid));
	json_object_set_new(proc, "exe", json_string(t->proc.exe ? t->proc.exe : ""));
	json_object_set_new(proc, "duration_ns", ju64(m->duration_ns));
	json_object_set_new(proc, "complete", json_boolean(t->complete));
	json_object_set_new(proc, "ppid", ju64(t->proc.ppid));
	json_object_set_new(proc, "host", jstr_or_null(t->proc.host));
	json_object_set_new(proc, "start_realtime_ns", ju64(t->proc.start_realtime_ns));
	json_object_set_new(proc, "end_reason", jstr_or_null(end_reason_name(t)));
	if (t->has_end && t->end_reason == PST_END_SIGNAL)
		json_object_set_new(proc, "signal", json_integer((json_int_t)t->end_signal));
	if (!t->complete)
		json_object_set_new(proc, "error",
				    json_string(t->error[0] ? t->error : "trace is incomplete"));
	json_object_set_new(root, "process", proc);
	json_object_set_new(root, "timeline", pst_timeline_json(r->tl));
	json_object_set_new(root, "production", pst_timeline_production_json(r->tl));

	json_object_set_new(mem, "mode", json_string(m->full ? "full" : "sampled"));
	json_object_set_new(mem, "alloc_calls", ju64(m->alloc_calls));
	json_object_set_new(mem, "free_calls", ju64(m->free_calls));
	json_object_set_new(mem, "allocated_bytes", ju64(m->allocated_bytes));
	json_object_set_new(mem, "peak_heap_bytes", jint(m->peak_heap_bytes));
	json_object_set_new(mem, "leaked_bytes", jint(m->leaked_bytes));
	json_object_set_new(mem, "leaked_allocations", jint(m->leaked_allocations));
	json_object_set_new(mem, "temporary_allocations", jint(m->temporary_allocations));
	if (o->top_given && (size_t)o->top < nsites)
		nsites = (size_t)o->top;
	for (size_t i = 0; i < nsites; i++)
		json_array_append_new(sites, json_site(&m->sites[i]));
	json_object_set_new(mem, "sites", sites);
	json_object_set_new(mem, "sample_bytes", m->full ? json_null() : ju64(m->sample_bytes));
	json_object_set_new(mem, "totals_exact", json_boolean(m->totals_exact));
	json_object_set_new(mem, "totals_source",
			    json_string(r->totals_from_snapshot ? "last snapshot" :
					m->totals_exact	    ? "thread totals" :
								      "events"));
	json_object_set_new(mem, "peak_time_ns", ju64(m->peak_time_ns));
	json_object_set_new(mem, "reallocs", jint(m->reallocs));
	json_object_set_new(mem, "unmatched_frees", ju64(m->unmatched_frees));
	json_object_set_new(mem, "events", ju64(m->events));
	json_object_set_new(mem, "total_sites", ju64(m->nsites));
	json_object_set_new(mem, "size_histogram", json_hist(m));
	json_object_set_new(mem, "threads", json_threads(m));
	json_object_set_new(root, "memory", mem);
	json_object_set_new(root, "network", pst_net_json(r->net));
	if (r->cpu->present)
		json_object_set_new(root, "cpu",
				    pst_cpu_json(r->cpu, o->top_given ? (size_t)o->top : 0));

	json_object_set_new(root, "threads", json_thr(r->th));
	json_object_set_new(root, "locks", json_locks(r->th));
	for (size_t i = 0; i < r->f.n; i++)
		json_array_append_new(fs, json_finding(&r->f.v[i]));
	pst_cpu_findings_json(r->cpu, fs);
	json_object_set_new(root, "findings", fs);
	for (size_t i = 0; i < r->nwarnings; i++)
		json_array_append_new(ws, json_string(r->warnings[i]));
	json_object_set_new(root, "warnings", ws);
	return root;
}

/* ---- text ---- */

/* Print s wrapped at TEXT_WIDTH, every line indented by indent spaces. */
static void wrap(FILE *out, const char *s, int indent)
{
	int width = TEXT_WIDTH - indent;

	while (*s) {
		int n = (int)strlen(s), cut = n;

		if (n > width) {
			cut = width;
			while (cut > 0 && s[cut] != ' ')
				cut--;
			if (!cut)
				cut = width;
		}
		fprintf(out, "%*s%.*s\n", indent, "", cut, s);
		s += cut;
		while (*s == ' ')
			s++;
	}
}

/* Index of the first frame to list under a site's name: stack[0] is
 * already in the name unless the site is a later frame (C++ headers). */
static size_t first_shown(const struct pst_site *s)
{
	if (!s->depth)
		return 0;
	if (!s->function)
		return 1;
	return strncmp(s->stack[0], s->function, strlen(s->function)) ? 0 : 1;
}

/* The site's frames after the first, as "<- caller" lines. */
static void short_stack(FILE *out, const struct pst_site *s, int indent, size_t from)
{
	size_t n = s->depth < from + TEXT_STACK_FRAMES ? s->depth : from + TEXT_STACK_FRAMES;

	for (size_t i = from; i < n; i++) {
		fprintf(out, "%*s<- %s\n", indent, "", s->stack[i]);
		/* What runs main is of no interest to the reader. */
		if (!strncmp(s->stack[i], "main ", 5) || !strncmp(s->stack[i], "main(", 5))
			return;
	}
	if (s->depth > n)
		fprintf(out, "%*s   (%zu more frame%s)\n", indent, "", s->depth - n,
			s->depth - n == 1 ? "" : "s");
}

static void text_header(FILE *out, const struct report *r)
{
	const struct pst_trace *t = r->t;
	const struct pst_memory *m = r->m;
	char a[32], b[32];

	fprintf(out, "prestanda report: %s\n", r->path);
	fprintf(out, "  program    %s (pid %" PRIu64 ")\n", t->proc.exe ? t->proc.exe : "?",
		t->proc.pid);
	if (r->cpu->present && !m->events && !m->alloc_calls)
		; /* CPU samples only: the heap's mode means nothing */
	else if (m->full)
		fprintf(out, "  mode       full: every allocation recorded\n");
	else
		fprintf(out,
			"  mode       sampled, one sample per %s on average: per-site numbers, peak,\n"
			"             leaks and temporaries are estimates; totals of calls and bytes "
			"are %s\n",
			pst_fmt_bytes((double)m->sample_bytes, a, sizeof(a)),
			r->totals_from_snapshot ? "exact up to the last snapshot" :
			m->totals_exact		 ? "exact" :
						   "estimates too (no thread totals)");
	fprintf(out, "  duration   %s\n", pst_fmt_ns(m->duration_ns, b, sizeof(b)));
	if (t->complete && t->end_reason == PST_END_SIGNAL)
		fprintf(out, "  trace      complete up to the fatal signal %d (%s)\n",
			(int)t->end_signal, strsignal((int)t->end_signal));
	else if (t->complete)
		fprintf(out, "  trace      complete (%s)\n", end_reason_name(t));
	else
		fprintf(out, "  trace      INCOMPLETE: %s; the report covers what was recorded\n",
			t->error[0] ? t->error : "no clean end");
}

static void text_totals(FILE *out, const struct report *r)
{
	const struct pst_memory *m = r->m;
	char a[32], b[32], c[32], d[32];
	/* Sampled: an estimate over the estimated calls of the same events
	 * (the exact totals differ by the sampling error). */
	double calls = m->full ? (double)m->alloc_calls : m->ev_alloc_calls;
	double pct = calls > 0 ? fmin(m->temporary_allocations / calls, 1) * 100 : 0;

	fprintf(out, "\nTotals\n");
	fprintf(out, "  allocations  %s calls, %s (%s bytes)\n",
		pst_fmt_count((double)m->alloc_calls, a, sizeof(a)),
		pst_fmt_bytes((double)m->allocated_bytes, b, sizeof(b)),
		pst_fmt_count((double)m->allocated_bytes, c, sizeof(c)));
	fprintf(out, "  frees        %s calls\n", pst_fmt_count((double)m->free_calls, a, sizeof(a)));
	fprintf(out, "  peak heap    %s (%s bytes) at %s\n",
		pst_fmt_bytes(m->peak_heap_bytes, a, sizeof(a)),
		pst_fmt_count(m->peak_heap_bytes, b, sizeof(b)),
		pst_fmt_ns(m->peak_time_ns, c, sizeof(c)));
	fprintf(out, "  %s  %s in %s block%s\n",
		r->t->complete && r->t->end_reason == PST_END_EXIT ? "leaked     " : "live at end",
		pst_fmt_bytes(m->leaked_bytes, a, sizeof(a)),
		pst_fmt_count(m->leaked_allocations, b, sizeof(b)),
		llround(m->leaked_allocations) == 1 ? "" : "s");
	fprintf(out, "  temporary    %s allocations (%.1f%% of calls) freed before the thread's "
		     "next %sallocation\n",
		pst_fmt_count(m->temporary_allocations, d, sizeof(d)), pct,
		m->full ? "" : "sampled ");
	if (m->reallocs > 0)
		fprintf(out, "  reallocs     %s\n", pst_fmt_count(m->reallocs, a, sizeof(a)));
	if (m->unmatched_frees)
		fprintf(out, "  unmatched    %" PRIu64 " frees of blocks allocated before recording\n",
			m->unmatched_frees);
}

static void text_findings(FILE *out, const struct report *r, size_t top)
{
	size_t n = r->f.n < top ? r->f.n : top;

	fprintf(out, "\nFindings (%zu)\n", r->f.n);
	if (!r->f.n)
		fprintf(out, "  none: no leaks, no hot churn of small blocks, no realloc growth\n");
	for (size_t i = 0; i < n; i++) {
		const struct pst_finding *f = &r->f.v[i];
		const struct pst_site *s = f->site;
		char name[1200], line[1024];
		int o = 0;

		fprintf(out, "\n  [%s] %s: %s\n", pst_severity_name(f->severity), f->id, f->title);
		wrap(out, f->advice, 6);
		for (size_t j = 0; j < f->nev; j++) {
			const struct pst_evidence *e = &f->ev[j];

			if (e->kind == PST_EV_STR)
				continue;
			if (o >= (int)sizeof(line) - 64)
				break;
			if (e->kind == PST_EV_INT)
				o += snprintf(line + o, sizeof(line) - o, "%s%s=%" PRIu64, o ? ", " : "",
					      e->key, e->i);
			else
				o += snprintf(line + o, sizeof(line) - o, "%s%s=%.2f", o ? ", " : "",
					      e->key, e->r);
		}
		fprintf(out, "      evidence: %s\n", line);
		if (!s)
			continue;
		pst_site_name(s, name, sizeof(name));
		fprintf(out, "      at %s\n", name);
		short_stack(out, s, 9, first_shown(s));
	}
	if (r->f.n > n)
		fprintf(out, "\n  ... and %zu more findings (--top N shows more, --json all)\n",
			r->f.n - n);
}

enum sort_key { BY_CALLS, BY_BYTES, BY_PEAK, BY_LEAKED };

static double site_key(const struct pst_site *s, enum sort_key k)
{
	switch (k) {
	case BY_BYTES:
		return s->st.bytes;
	case BY_PEAK:
		return s->st.peak_bytes;
	case BY_LEAKED:
		return s->st.leaked_bytes;
	default:
		return s->st.calls;
	}
}

struct table_sort {
	const struct pst_site *sites;
	enum sort_key key;
};

/* Sites are already by calls; ties keep that order (indexes compared). */
static int cmp_idx(const void *x, const void *y, void *arg)
{
	const struct table_sort *ts = arg;
	size_t a = *(const size_t *)x, b = *(const size_t *)y;
	double ka = site_key(&ts->sites[a], ts->key), kb = site_key(&ts->sites[b], ts->key);

	if (ka != kb)
		return ka > kb ? -1 : 1;
	return a < b ? -1 : a > b;
}

static void text_table(FILE *out, const struct report *r, enum sort_key k, const char *title,
		       size_t top)
{
	const struct pst_memory *m = r->m;
	size_t *idx = malloc((m->nsites ? m->nsites : 1) * sizeof(*idx)), n = 0;
	struct table_sort ts = { .sites = m->sites, .key = k };

	if (!idx)
		return;
	for (size_t i = 0; i < m->nsites; i++)
		if (site_key(&m->sites[i], k) > 0.5)
			idx[n++] = i;
	if (!n) {
		free(idx);
		return;
	}
	qsort_r(idx, n, sizeof(*idx), cmp_idx, &ts);
	if (n > top)
		n = top;
	fprintf(out, "\nTop %zu sites by %s\n", n, title);
	fprintf(out, "  %3s  %12s  %10s  %10s  %10s  %10s  %s\n", "#", "calls", "bytes", "at peak",
		"max live", "leaked", "site");
	for (size_t i = 0; i < n; i++) {
		const struct pst_site *s = &m->sites[idx[i]];
		char c[32], b[32], p[32], ap[32], l[32], name[1200];

		pst_site_name(s, name, sizeof(name));
		fprintf(out, "  %3zu  %12s  %10s  %10s  %10s  %10s  %s\n", i + 1,
			pst_fmt_count(s->st.calls, c, sizeof(c)),
			pst_fmt_bytes(s->st.bytes, b, sizeof(b)),
			pst_fmt_bytes(s->st.peak_bytes, ap, sizeof(ap)),
			pst_fmt_bytes(s->st.max_live, p, sizeof(p)),
			s->st.leaked_bytes > 0 ? pst_fmt_bytes(s->st.leaked_bytes, l, sizeof(l)) : "-",
			name);
		short_stack(out, s, 70, first_shown(s));
	}
	free(idx);
}

static void text_hist(FILE *out, const struct pst_memory *m)
{
	uint64_t max = 0;
	char lo[32], hi[32], c[32];

	for (int b = 0; b < PST_HIST_BUCKETS; b++)
		if (m->hist[b] > max)
			max = m->hist[b];
	if (!max)
		return;
	fprintf(out, "\nAllocation sizes (calls)\n");
	for (int b = 0; b < PST_HIST_BUCKETS; b++) {
		int bar;

		if (!m->hist[b])
			continue;
		bar = (int)((m->hist[b] * 40 + max - 1) / max);
		if (!b)
			snprintf(lo, sizeof(lo), "0 B");
		else
			pst_fmt_bytes((double)(1ull << (b - 1)), lo, sizeof(lo));
		if (b == PST_HIST_BUCKETS - 1)
			snprintf(hi, sizeof(hi), "more");
		else if (!b)
			snprintf(hi, sizeof(hi), "1 B");
		else
			pst_fmt_bytes((double)(1ull << b), hi, sizeof(hi));
		fprintf(out, "  %10s to <%-10s %14s  %.*s\n", lo, hi,
			pst_fmt_count((double)m->hist[b], c, sizeof(c)), bar,
			"########################################");
	}
}

static void text_threads(FILE *out, const struct pst_memory *m)
{
	char a[32], f[32], b[32];

	if (!m->nthreads)
		return;
	fprintf(out, "\nThreads\n");
	fprintf(out, "  %10s  %-16s  %14s  %14s  %10s\n", "tid", "name", "alloc calls",
		"free calls", "bytes");
	for (size_t i = 0; i < m->nthreads; i++) {
		const struct pst_thread_totals *th = &m->threads[i];

		fprintf(out, "  %10" PRIu64 "  %-16s  %14s  %14s  %10s\n", th->tid,
			th->name ? th->name : "-",
			pst_fmt_count((double)th->alloc_calls, a, sizeof(a)),
			pst_fmt_count((double)th->free_calls, f, sizeof(f)),
			pst_fmt_bytes((double)th->alloc_bytes, b, sizeof(b)));
	}
}

/* Thread groups (pools) and the most waited-for locks. */
static void text_pools(FILE *out, const struct pst_threads *th, size_t top)
{
	char a[32], b[32], c[32], name[1200];
	size_t n = 0;

	if (!th->seen)
		return;
	fprintf(out, "\nThreads and pools\n");
	fprintf(out, "  created %" PRIu64 ", at most %" PRIu64 " at once, %.1f/s; lifetime median "
		     "%s, p99 %s; %" PRIu64 " cores\n",
		th->created, th->peak_concurrent, th->creation_rate,
		pst_fmt_ns(th->lifetime_p50, a, sizeof(a)), pst_fmt_ns(th->lifetime_p99, b, sizeof(b)),
		th->ncpu);
	if (th->ngroups)
		fprintf(out, "  %8s  %5s  %6s  %10s  %10s  %8s  %s\n", "threads", "peak", "busy",
			"idle", "cpu", "tasks", "start routine");
	for (size_t i = 0; i < th->ngroups && i < top; i++) {
		const struct pst_thr_group *g = &th->groups[i];

		fprintf(out, "  %8" PRIu64 "  %5" PRIu64 "  %5.1f%%  %10s  %10s  %8" PRIu64 "  %s\n",
			g->threads, g->peak, g->busy_fraction * 100,
			pst_fmt_ns(g->idle_ns, a, sizeof(a)), pst_fmt_ns(g->cpu_ns, b, sizeof(b)),
			g->tasks, g->routine_name);
	}
	for (size_t i = 0; i < th->nlocks; i++)
		n += th->locks[i].kind != PST_WAIT_COND && th->locks[i].contended;
	if (!n)
		return;
	fprintf(out, "\nContended locks\n");
	fprintf(out, "  %-6s  %12s  %10s  %10s  %10s  %s\n", "kind", "acquired", "contended",
		"waited", "max wait", "first used at");
	n = 0;
	for (size_t i = 0; i < th->nlocks && n < top; i++) {
		const struct pst_lock *l = &th->locks[i];

		if (l->kind == PST_WAIT_COND || !l->contended)
			continue;
		n++;
		pst_site_name(&l->first_use, name, sizeof(name));
		fprintf(out, "  %-6s  %12s  %10" PRIu64 "  %10s  %10s  %s\n",
			pst_lock_kind_name(l->kind),
			pst_fmt_count((double)l->acquisitions, c, sizeof(c)), l->contended,
			pst_fmt_ns(l->wait_ns, a, sizeof(a)), pst_fmt_ns(l->max_wait_ns, b, sizeof(b)),
			name);
	}
}

static void text_report(FILE *out, const struct report *r, const struct pst_report_options *o)
{
	size_t top = o->top_given ? (size_t)o->top : DEFAULT_TOP;

	text_header(out, r);
	pst_cpu_text(out, r->cpu, top);
	/* A trace of CPU samples only has no heap to speak of. */
	if (r->cpu->present && !r->m->events && !r->m->alloc_calls)
		return;
	text_totals(out, r);
	text_findings(out, r, top);
	text_table(out, r, BY_CALLS, "calls", top);
	text_table(out, r, BY_BYTES, "bytes allocated", top);
	text_table(out, r, BY_PEAK, "bytes live at the heap peak", top);
	text_table(out, r, BY_LEAKED,
		   r->t->complete && r->t->end_reason == PST_END_EXIT ? "bytes leaked" :
									 "bytes live at the end",
		   top);
	text_hist(out, r->m);
	text_threads(out, r->m);
	text_pools(out, r->th, top);
	pst_net_text(out, r->net, top);
	pst_timeline_text(out, r->tl, r->t->complete, o->timeline);
}

/* ---- the command ---- */

/* One trace's report, printed after the others (nok of them so far):
 * 0, or 1 when it cannot be read or is damaged. */
static int print_one(const char *path, const struct pst_report_options *o, json_t *all,
		     int *nok)
{
	struct report r = { .path = path };
	int status = 0;

	if (analyze(&r, o)) {
		report_free(&r);
		return 1;
	}
	if (r.t->error_offset)
		status = 1;
	if (o->json) {
		json_t *j = json_report(&r, o);

		if (all) {
			json_array_append_new(all, j);
		} else {
			json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
			fputc('\n', stdout);
			json_decref(j);
		}
	} else {
		if (*nok)
			fputs("\n\n", stdout);
		text_report(stdout, &r, o);
	}
	(*nok)++;
	report_free(&r);
	return status;
}

int pst_report_print(const struct pst_report_options *o, char *const *paths, int n)
{
	json_t *all = o->json && n > 1 ? json_array() : NULL;
	int status = 0, nok = 0;

	for (int i = 0; i < n; i++)
		status |= print_one(paths[i], o, all, &nok);
	if (all) {
		json_dumpf(all, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(all);
	}
	return status;
}

/* ---- for other commands ---- */

json_t *pst_report_json(const char *path)
{
	struct pst_report_options o = { .json = true };
	struct report r = { .path = path };
	json_t *j = NULL;

	if (!analyze(&r, &o)) {
		if (r.t->error_offset)
			fprintf(stderr, "prestanda: %s: a damaged trace cannot be compared\n", path);
		else
			j = json_report(&r, &o);
	}
	report_free(&r);
	return j;
}
