/* SPDX-License-Identifier: MIT */
/* The memory family in the report: analysis, findings, the "memory" JSON, totals and top-site tables. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "family.h"
#include "findings_out.h"
#include "json_util.h"
#include "memory.h"
#include "suppress.h"
#include "timeline.h"
#include "units.h"

static void *analyze(struct pst_analysis *a)
{
	struct pst_memory_result *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->m = pst_memory_build(a->t, a->sym, a->progress, a->progress_arg);
	if (!r->m) {
		free(r);
		return NULL;
	}
	pst_suppress_sites(r->m, a->supp);
	return r;
}

/*
 * A trace without every thread's TOTALS (killed, or capped by --max-size)
 * still has exact counters up to its last snapshot: better than an
 * estimate from sampled events, and than exact events unless those
 * written after it count more.
 * (After the findings, which judge the events' own figures.)
 */
static void use_last_snapshot(struct pst_memory_result *r, const struct pst_timeline *tl)
{
	const struct pst_snapshot *s;

	if (!tl || r->m->totals_exact || !tl->nsnaps)
		return;
	s = &tl->snaps[tl->nsnaps - 1];
	/* Sampled events only estimate the calls: the snapshot's exact count
	 * wins even where the estimate is larger. */
	if (r->m->full && s->alloc_calls < r->m->alloc_calls)
		return;
	r->m->alloc_calls = s->alloc_calls;
	r->m->free_calls = s->free_calls;
	r->m->allocated_bytes = s->alloc_bytes;
	r->m->totals_exact = true;
	r->totals_from_snapshot = true;
}

/* Was the process's end recorded with every free before it? A trace capped
 * by --max-size lacks the frees after the cap. */
static bool ends_at_exit(const struct pst_analysis *a)
{
	const struct pst_timeline *tl = pst_analysis_of(a, &pst_family_timeline);

	return a->t->complete && a->t->end_reason == PST_END_EXIT && !(tl && tl->capped);
}

static int findings(struct pst_analysis *a, void *self, struct pst_findings *out)
{
	struct pst_memory_result *r = self;
	const struct pst_trace *t = a->t;
	const struct pst_timeline *tl = pst_analysis_of(a, &pst_family_timeline);
	struct pst_findings_ctx ctx = { .at_exit = ends_at_exit(a) };

	/* What was live at a capped trace's end may have been freed after the
	 * cap: no leak can be told. */
	ctx.frees_missing = tl && tl->capped;
	if (!t->complete)
		ctx.end = "the trace was cut (it is incomplete: some may have been freed later)";
	else if (t->end_reason == PST_END_EXEC)
		ctx.end = "the process executed another program";
	else if (t->end_reason == PST_END_SIGNAL)
		ctx.end = "the process was killed by a fatal signal";
	if (pst_findings_build(r->m, &ctx, out))
		return -ENOMEM;
	use_last_snapshot(r, tl);
	return 0;
}

static json_t *site_stack(const struct pst_site *s)
{
	return pst_jstrings(s->stack, s->depth);
}

static json_t *json_site(const struct pst_site *s, bool reach_known)
{
	const struct pst_stack_stats *st = &s->st;
	json_t *o = json_object();

	json_object_set_new(o, "function", pst_jstr(s->function));
	json_object_set_new(o, "file", pst_jstr(s->file));
	json_object_set_new(o, "line", s->file && s->line > 0 ? json_integer(s->line) : json_null());
	json_object_set_new(o, "stack", site_stack(s));
	json_object_set_new(o, "calls", pst_jint(st->calls));
	json_object_set_new(o, "bytes", pst_jint(st->bytes));
	json_object_set_new(o, "peak_bytes", pst_jint(st->peak_bytes));
	json_object_set_new(o, "leaked_bytes", pst_jint(st->leaked_bytes));
	json_object_set_new(o, "temporary", pst_jint(st->temporary));
	json_object_set_new(o, "max_live_bytes", pst_jint(st->max_live));
	json_object_set_new(o, "leaked_allocations", pst_jint(st->leaked));
	if (reach_known)
		json_object_set_new(o, "lost_bytes", pst_jint(st->lost_bytes));
	json_object_set_new(o, "short_lived", pst_jint(st->short_lived));
	json_object_set_new(o, "reallocs", pst_jint(st->reallocs));
	json_object_set_new(o, "max_realloc_chain", json_integer(st->max_chain));
	json_object_set_new(o, "min_size", pst_ju64(st->min_size));
	json_object_set_new(o, "max_size", pst_ju64(st->max_size));
	json_object_set_new(o, "samples", pst_ju64(st->events));
	json_object_set_new(o, "stack_id", pst_ju64(s->first_stack_id));
	json_object_set_new(o, "runtime", json_boolean(s->runtime));
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
		json_object_set_new(o, "min", pst_ju64(b ? 1ull << (b - 1) : 0));
		json_object_set_new(o, "max", b == PST_HIST_BUCKETS - 1 ? json_null() :
							      pst_ju64(b ? (1ull << b) - 1 : 0));
		json_object_set_new(o, "count", pst_ju64(m->hist[b]));
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

		json_object_set_new(o, "tid", pst_ju64(th->tid));
		json_object_set_new(o, "name", pst_jstr(th->name));
		json_object_set_new(o, "alloc_calls", pst_ju64(th->alloc_calls));
		json_object_set_new(o, "free_calls", pst_ju64(th->free_calls));
		json_object_set_new(o, "allocated_bytes", pst_ju64(th->alloc_bytes));
		json_array_append_new(a, o);
	}
	return a;
}

/* Sampled, and no block was sampled: the peak was below what one sample
 * sees, not 0 B at 0 ns. */
static bool peak_unseen(const struct pst_memory *m)
{
	return !m->full && !m->peak_event && m->alloc_calls > 0;
}

static json_t *json_scan(uint64_t time_ns, bool on_demand, double lost, double lost_bytes,
			 double reachable, double reachable_bytes)
{
	json_t *o = json_object();

	json_object_set_new(o, "time_ns", pst_ju64(time_ns));
	json_object_set_new(o, "on_demand", json_boolean(on_demand));
	json_object_set_new(o, "lost_allocations", pst_jint(lost));
	json_object_set_new(o, "lost_bytes", pst_jint(lost_bytes));
	json_object_set_new(o, "reachable_allocations", pst_jint(reachable));
	json_object_set_new(o, "reachable_bytes", pst_jint(reachable_bytes));
	return o;
}

/* The scans on demand in time order, then the one at exit if any. */
static json_t *json_scans(const struct pst_memory *m)
{
	json_t *a = json_array();

	for (size_t i = 0; i < m->nscans; i++) {
		const struct pst_mem_scan *x = &m->scans[i];
		json_t *o = json_scan(x->time_ns, true, x->lost_allocations, x->lost_bytes,
				      x->reachable_allocations, x->reachable_bytes);

		json_object_set_new(o, "scan_ns", pst_ju64(x->scan_ns));
		json_object_set_new(o, "threads_running", pst_ju64(x->running));
		json_array_append_new(a, o);
	}
	if (m->reach_known)
		json_array_append_new(a, json_scan(m->duration_ns, false, m->lost_allocations,
						   m->lost_bytes,
						   m->leaked_allocations - m->lost_allocations,
						   m->reachable_bytes));
	return a;
}

/* How temporary_allocations was counted: every event under heaptrack's
 * rule, the threads' own exact count, or sampled blocks (an estimate). */
static const char *temporary_source(const struct pst_memory *m)
{
	return m->full ? "events" : m->temporary_counted ? "thread totals" : "sampled events";
}

/*
 * What temporary_allocations counts: heaptrack's rule (a free of a block
 * of the size and stack allocated just before, nothing freed between:
 * the very block or a twin), or, from the threads' totals in sampled
 * mode, only the frees of the very block allocated last. Sampled mode
 * does not estimate the twins: one sampled twin free weighs the sampling
 * interval over its size (thousands at the default), so the estimate
 * swung by -20% to +11% between runs of one program where the same-block
 * count is short of heaptrack's by 0.3% to 20%, the same every run.
 */
static const char *temporary_definition(const struct pst_memory *m)
{
	return m->full || !m->temporary_counted ? "heaptrack" : "same block";
}

static void json(const struct pst_analysis *a, const void *self, json_t *root)
{
	const struct pst_memory_result *r = self;
	const struct pst_memory *m = r->m;
	json_t *mem = json_object(), *sites = json_array();
	size_t nsites = a->json_top && a->json_top < m->nsites ? a->json_top : m->nsites;

	json_object_set_new(mem, "mode", json_string(m->full ? "full" : "sampled"));
	json_object_set_new(mem, "alloc_calls", pst_ju64(m->alloc_calls));
	json_object_set_new(mem, "free_calls", pst_ju64(m->free_calls));
	json_object_set_new(mem, "allocated_bytes", pst_ju64(m->allocated_bytes));
	json_object_set_new(mem, "peak_heap_bytes", pst_jint(m->peak_heap_bytes));
	json_object_set_new(mem, "leaked_bytes", pst_jint(m->leaked_bytes));
	json_object_set_new(mem, "leaked_allocations", pst_jint(m->leaked_allocations));
	json_object_set_new(mem, "temporary_allocations", pst_jint(m->temporary_allocations));
	if (m->reach_known) { /* only traces with the scan at exit */
		json_object_set_new(mem, "lost_bytes", pst_jint(m->lost_bytes));
		json_object_set_new(mem, "lost_allocations", pst_jint(m->lost_allocations));
		json_object_set_new(mem, "reachable_bytes", pst_jint(m->reachable_bytes));
		/* sampled mode scanned for its sampled blocks: scaled as they are */
		if (!m->full)
			json_object_set_new(mem, "lost_estimated", json_true());
	}
	if (m->nscans) /* only traces with a scan on demand */
		json_object_set_new(mem, "scans", json_scans(m));
	if (m->suppressions) { /* only with report --suppressions */
		json_object_set_new(mem, "suppressed_bytes", pst_jint(m->suppressed_bytes));
		json_object_set_new(mem, "suppressed_allocations",
				    pst_jint(m->suppressed_allocations));
	}
	for (size_t i = 0; i < nsites; i++)
		json_array_append_new(sites, json_site(&m->sites[i], m->reach_known));
	json_object_set_new(mem, "sites", sites);
	json_object_set_new(mem, "sample_bytes", m->full ? json_null() : pst_ju64(m->sample_bytes));
	json_object_set_new(mem, "totals_exact", json_boolean(m->totals_exact));
	json_object_set_new(mem, "totals_source",
			    json_string(r->totals_from_snapshot ? "last snapshot" :
					m->totals_exact	    ? "thread totals" :
								      "events"));
	json_object_set_new(mem, "peak_time_ns", pst_ju64(m->peak_time_ns));
	json_object_set_new(mem, "reallocs", pst_jint(m->reallocs));
	json_object_set_new(mem, "unmatched_frees", pst_ju64(m->unmatched_frees));
	/* attached: frees of blocks older than the attach, never an error */
	if (a->t && (a->t->proc.flags & PST_PROC_ATTACHED))
		json_object_set_new(mem, "unknown_frees", pst_ju64(m->unmatched_frees));
	json_object_set_new(mem, "temporary_source", json_string(temporary_source(m)));
	json_object_set_new(mem, "temporary_definition", json_string(temporary_definition(m)));
	json_object_set_new(mem, "peak_seen", json_boolean(!peak_unseen(m)));
	json_object_set_new(mem, "events", pst_ju64(m->events));
	json_object_set_new(mem, "total_sites", pst_ju64(m->nsites));
	json_object_set_new(mem, "size_histogram", json_hist(m));
	json_object_set_new(mem, "threads", json_threads(m));
	json_object_set_new(root, "memory", mem);
}

/* The leaked blocks split by the scan at exit (sampled mode: of the
 * sampled blocks, scaled). */
static void text_reach(FILE *out, const struct pst_memory *m)
{
	char a[32], b[32], c[32];
	const char *est = m->full ? "" : " (estimate from sampled blocks)";

	fprintf(out, "    definitely lost   %s in %s block%s (no pointer to them left)%s\n",
		pst_fmt_bytes(m->lost_bytes, a, sizeof(a)),
		pst_fmt_count(m->lost_allocations, b, sizeof(b)),
		llround(m->lost_allocations) == 1 ? "" : "s", est);
	fprintf(out, "    still reachable   %s in %s block%s%s\n",
		pst_fmt_bytes(m->reachable_bytes, a, sizeof(a)),
		pst_fmt_count(m->leaked_allocations - m->lost_allocations, c, sizeof(c)),
		llround(m->leaked_allocations - m->lost_allocations) == 1 ? "" : "s", est);
	if (m->reach_running || m->reach_unknown)
		fprintf(out, "    (%" PRIu64 " other thread%s ran on during the scan, %" PRIu64
			     " with no known stack)\n",
			m->reach_running, m->reach_running == 1 ? "" : "s", m->reach_unknown);
}

/* The latest scan on demand (prestanda scan), after the exit's. */
static void text_scan(FILE *out, const struct pst_memory *m)
{
	const struct pst_mem_scan *x = &m->scans[m->nscans - 1];
	char t[32], a[32], b[32], c[32], d[32], n[48] = "";

	if (m->nscans > 1)
		snprintf(n, sizeof(n), ", the latest of %zu", m->nscans);
	fprintf(out, "    scan on demand    at %s: %s block%s lost (%s), %s reachable (%s)%s%s\n",
		pst_fmt_ns(x->time_ns, t, sizeof(t)), pst_fmt_count(x->lost_allocations, a, sizeof(a)),
		llround(x->lost_allocations) == 1 ? "" : "s",
		pst_fmt_bytes(x->lost_bytes, b, sizeof(b)),
		pst_fmt_count(x->reachable_allocations, c, sizeof(c)),
		pst_fmt_bytes(x->reachable_bytes, d, sizeof(d)), n,
		m->full ? "" : " (estimate from sampled blocks)");
}

static void text_totals(FILE *out, const struct pst_analysis *an, const struct pst_memory *m)
{
	char a[32], b[32], c[32], d[32];
	/* Sampled without the threads' count: an estimate over the estimated
	 * calls of the same events (the exact totals differ by the sampling
	 * error). */
	double calls = m->full || m->temporary_counted ? (double)m->alloc_calls : m->ev_alloc_calls;
	double pct = calls > 0 ? fmin(m->temporary_allocations / calls, 1) * 100 : 0;

	fprintf(out, "\nTotals\n");
	fprintf(out, "  allocations  %s calls, %s (%s bytes)\n",
		pst_fmt_count((double)m->alloc_calls, a, sizeof(a)),
		pst_fmt_bytes((double)m->allocated_bytes, b, sizeof(b)),
		pst_fmt_count((double)m->allocated_bytes, c, sizeof(c)));
	fprintf(out, "  frees        %s calls\n", pst_fmt_count((double)m->free_calls, a, sizeof(a)));
	if (peak_unseen(m))
		fprintf(out, "  peak heap    not seen: no block was sampled (about one per %s "
			     "allocated is); --full measures it\n",
			pst_fmt_bytes((double)m->sample_bytes, a, sizeof(a)));
	else
		fprintf(out, "  peak heap    %s (%s bytes) at %s\n",
			pst_fmt_bytes(m->peak_heap_bytes, a, sizeof(a)),
			pst_fmt_count(m->peak_heap_bytes, b, sizeof(b)),
			pst_fmt_ns(m->peak_time_ns, c, sizeof(c)));
	fprintf(out, "  %s  %s in %s block%s\n",
		ends_at_exit(an) ? "leaked     " : "live at end",
		pst_fmt_bytes(m->leaked_bytes, a, sizeof(a)),
		pst_fmt_count(m->leaked_allocations, b, sizeof(b)),
		llround(m->leaked_allocations) == 1 ? "" : "s");
	if (m->reach_known)
		text_reach(out, m);
	if (m->nscans)
		text_scan(out, m);
	if (m->suppressions)
		fprintf(out, "    suppressed        %s in %s block%s (--suppressions: no finding)\n",
			pst_fmt_bytes(m->suppressed_bytes, a, sizeof(a)),
			pst_fmt_count(m->suppressed_allocations, b, sizeof(b)),
			llround(m->suppressed_allocations) == 1 ? "" : "s");
	fprintf(out, "  temporary    %s allocations (%.1f%% of calls) freed with no other allocation "
		     "or free between%s\n",
		pst_fmt_count(m->temporary_allocations, d, sizeof(d)), pct,
		m->full			? "" :
		m->temporary_counted	? ", the same block (heaptrack counts a twin's free too: --full)" :
					  " (estimate from sampled blocks)");
	if (m->reallocs > 0)
		fprintf(out, "  reallocs     %s\n", pst_fmt_count(m->reallocs, a, sizeof(a)));
	if (m->unmatched_frees)
		fprintf(out, "  unmatched    %" PRIu64 " frees of blocks allocated before recording\n",
			m->unmatched_frees);
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

static void text_table(FILE *out, const struct pst_memory *m, enum sort_key k, const char *title,
		       size_t top)
{
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
		pst_text_site_stack(out, s, 70);
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


/* A trace of CPU samples only has no heap to speak of: the report ends
 * before the totals. */
static bool text_summary(FILE *out, const struct pst_analysis *a, const void *self)
{
	const struct pst_memory *m = ((const struct pst_memory_result *)self)->m;
	const struct pst_cpu *cpu = pst_analysis_of(a, &pst_family_cpu);

	if (cpu && cpu->present && !m->events && !m->alloc_calls)
		return false;
	text_totals(out, a, m);
	return true;
}

static void text(FILE *out, const struct pst_analysis *a, const void *self)
{
	const struct pst_memory *m = ((const struct pst_memory_result *)self)->m;
	bool at_exit = ends_at_exit(a);

	text_table(out, m, BY_CALLS, "calls", a->top);
	text_table(out, m, BY_BYTES, "bytes allocated", a->top);
	text_table(out, m, BY_PEAK, "bytes live at the heap peak", a->top);
	text_table(out, m, BY_LEAKED, at_exit ? "bytes leaked" : "bytes live at the end", a->top);
	text_hist(out, m);
	text_threads(out, m);
}

/* ---- flame graph metrics ---- */

static double v_bytes(const struct pst_stack_stats *st)
{
	return st->bytes;
}

static double v_calls(const struct pst_stack_stats *st)
{
	return st->calls;
}

static double v_peak(const struct pst_stack_stats *st)
{
	return st->peak_bytes;
}

static double v_leaked(const struct pst_stack_stats *st)
{
	return st->leaked_bytes;
}

static double v_temporary(const struct pst_stack_stats *st)
{
	return st->temporary;
}

static bool has_events(const struct pst_trace *t)
{
	return t->nevents > 0;
}

/* Memory metrics: one stack per allocation site, valued from its merged
 * statistics (sites are stacks whose symbolized frames are identical). */
static int collect_memory(struct pst_flame *fl, unsigned slot)
{
	struct pst_trace *t = pst_flame_trace(fl, slot);
	struct pst_memory *m = pst_memory_analyze(t, NULL, NULL);
	int r = -ENOMEM;

	if (!m)
		return -ENOMEM;
	if (pst_memory_sites(m, t, pst_flame_symbolizer(fl, slot)))
		goto out;
	if (fl->metric->needs_peaks && pst_memory_peaks(m, t, NULL, NULL))
		goto out;
	for (size_t i = 0; i < m->nsites; i++) {
		const struct pst_site *s = &m->sites[i];
		double v = fl->metric->site_value(&s->st);
		int64_t iv = v > 0 ? (int64_t)llround(v) : 0;
		/* Go's four heap types; in use at the end is what was never freed */
		int64_t hv[4] = { llround(s->st.calls), llround(s->st.bytes), llround(s->st.leaked),
				  llround(s->st.leaked_bytes) };

		if (!iv && !(fl->heap_values && (hv[0] || hv[1] || hv[2] || hv[3])))
			continue;
		if (pst_flame_add_stack(fl, slot,
					s->first_stack_id ? pst_trace_stack(t, s->first_stack_id) : NULL, iv))
			goto out;
		memcpy(fl->stacks[fl->nstacks - 1].heap, hv, sizeof(hv));
	}
	if (!m->full && !strcmp(fl->metric->unit, "bytes"))
		fl->period = m->sample_bytes;
	r = 0;
out:
	pst_memory_free(m);
	return r;
}

static const struct pst_metric metrics[] = {
	{ "alloc-bytes", "bytes allocated", "bytes", "alloc_space", 20, false, v_bytes, has_events,
	  collect_memory, PST_PPROF_HEAP },
	{ "alloc-calls", "allocation calls", "count", "alloc_objects", 21, false, v_calls,
	  has_events, collect_memory, PST_PPROF_HEAP },
	{ "peak-bytes", "bytes live at the heap peak", "bytes", "peak_space", 22, true, v_peak,
	  has_events, collect_memory, PST_PPROF_HEAP },
	{ "leaked-bytes", "bytes never freed", "bytes", "leaked_space", 23, false, v_leaked,
	  has_events, collect_memory, PST_PPROF_HEAP },
	{ "temporary", "temporary allocations", "count", "temporary_objects", 24, false,
	  v_temporary, has_events, collect_memory, PST_PPROF_HEAP },
};

/* ---- diff's rows (noise thresholds: diff_summary.c) ---- */

static const struct pst_metric_def diff_rows[] = {
	{ "alloc_calls", "allocation calls", PST_UNIT_COUNT, "memory.alloc_calls", true, false,
	  { 0.005, 16 }, { 0.005, 16 } },
	{ "allocated_bytes", "allocated bytes", PST_UNIT_BYTES, "memory.allocated_bytes", true,
	  false, { 0.005, 4096 }, { 0.005, 4096 } },
	{ "peak_heap_bytes", "peak heap", PST_UNIT_BYTES, "memory.peak_heap_bytes", false, true,
	  { 0.01, 4096 }, { 0.5, 32 } },
	{ "leaked_bytes", "leaked bytes", PST_UNIT_BYTES, "memory.leaked_bytes", true, true,
	  { 0.01, 256 }, { 0.5, 32 } },
	{ "leaked_allocations", "leaked blocks", PST_UNIT_COUNT, "memory.leaked_allocations",
	  true, true, { 0.01, 0 }, { 1.0, 32 } },
	{ "lost_bytes", "definitely lost bytes", PST_UNIT_BYTES, "memory.lost_bytes", true, true,
	  { 0.01, 256 }, { 0.5, 32 } },
	{ "lost_allocations", "definitely lost blocks", PST_UNIT_COUNT,
	  "memory.lost_allocations", true, true, { 0.01, 0 }, { 1.0, 32 } },
	{ "temporary_allocations", "temporary allocations", PST_UNIT_COUNT,
	  "memory.temporary_allocations", true, true, { 0.01, 16 }, { 1.0, 32 } },
};

/* Not freed at exit is heaptrack's leak; with the scan at exit the blocks
 * still reachable are tables and caches freed by exit, so the lost ones
 * judge a diff. */
static const char *const judged_by[] = { "leaked_bytes", "lost_bytes", "leaked_allocations",
					 "lost_allocations", NULL };

static void memory_free(void *self)
{
	struct pst_memory_result *r = self;

	if (r)
		pst_memory_free(r->m);
	free(r);
}

const struct pst_family_ops pst_family_memory = {
	.name = "memory",
	.json_rank = 1,
	.text_rank = 1,
	.analyze = analyze,
	.findings = findings,
	.json = json,
	.text_summary = text_summary,
	.text = text,
	.metrics = metrics,
	.nmetrics = sizeof(metrics) / sizeof(*metrics),
	.diff_metrics = diff_rows,
	.diff_judged_by = judged_by,
	.ndiff_metrics = sizeof(diff_rows) / sizeof(*diff_rows),
	.free = memory_free,
};
