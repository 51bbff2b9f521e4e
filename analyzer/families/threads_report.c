/* SPDX-License-Identifier: MIT */
/* The threads family in the report: threads, pools and locks (analysis, findings, "threads" and "locks" JSON, text). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>

#include "family.h"
#include "json_util.h"
#include "threads.h"
#include "units.h"

static void *analyze(struct pst_analysis *a)
{
	return pst_threads_analyze(a->t, a->sym);
}

static int findings(struct pst_analysis *a, void *self, struct pst_findings *out)
{
	(void)a;
	return pst_findings_threads(self, out);
}

static json_t *site_stack(const struct pst_site *s)
{
	return pst_jstrings(s->stack, s->depth);
}

static json_t *json_thr_group(const struct pst_thr_group *g)
{
	json_t *o = json_object(), *sz = json_array();

	json_object_set_new(o, "start_routine", json_string(g->routine_name));
	json_object_set_new(o, "created_at", site_stack(&g->created_at));
	json_object_set_new(o, "threads", pst_ju64(g->threads));
	json_object_set_new(o, "peak", pst_ju64(g->peak));
	json_object_set_new(o, "busy_fraction", json_real(round(g->busy_fraction * 1000) / 1000));
	json_object_set_new(o, "idle_ns", pst_ju64(g->idle_ns));
	json_object_set_new(o, "lock_wait_ns", pst_ju64(g->lock_wait_ns));
	json_object_set_new(o, "cpu_ns", pst_ju64(g->cpu_ns));
	json_object_set_new(o, "lifetime_ns", pst_ju64(g->lifetime_ns));
	json_object_set_new(o, "median_lifetime_ns", pst_ju64(g->lifetime_p50));
	json_object_set_new(o, "tasks", pst_ju64(g->tasks));
	json_object_set_new(o, "tasks_per_thread",
			    json_real(g->threads ? round(g->tasks * 100.0 / g->threads) / 100 : 0));
	json_object_set_new(o, "saturated_ns", pst_ju64(g->saturated_ns));
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

	json_object_set_new(o, "created", pst_ju64(th->created));
	json_object_set_new(o, "peak_concurrent", pst_ju64(th->peak_concurrent));
	json_object_set_new(lt, "p50", pst_ju64(th->lifetime_p50));
	json_object_set_new(lt, "p99", pst_ju64(th->lifetime_p99));
	json_object_set_new(lt, "max", pst_ju64(th->lifetime_max));
	json_object_set_new(o, "lifetime_ns", lt);
	json_object_set_new(o, "creation_rate", json_real(round(th->creation_rate * 100) / 100));
	json_object_set_new(o, "cores", pst_ju64(th->ncpu));
	json_object_set_new(o, "untracked_locks", pst_ju64(th->untracked_locks));
	for (size_t i = 0; i < th->ngroups; i++)
		json_array_append_new(gs, json_thr_group(&th->groups[i]));
	json_object_set_new(o, "groups", gs);
	for (size_t i = 0; i < th->nthreads; i++) {
		const struct pst_thr_life *l = &th->threads[i];
		json_t *x = json_object();

		json_object_set_new(x, "tid", pst_ju64(l->tid));
		json_object_set_new(x, "parent", pst_ju64(l->parent));
		json_object_set_new(x, "group", l->group == SIZE_MAX ? json_null() :
						  json_integer((json_int_t)l->group));
		json_object_set_new(x, "main", json_boolean(l->main));
		json_object_set_new(x, "lifetime_ns", pst_ju64(l->end_ts - l->start_ts));
		json_object_set_new(x, "cpu_ns", pst_ju64(l->cpu_ns));
		json_object_set_new(x, "idle_ns", pst_ju64(l->idle_ns));
		json_object_set_new(x, "lock_wait_ns", pst_ju64(l->lock_wait_ns));
		json_object_set_new(x, "join_ns", pst_ju64(l->join_ns));
		json_object_set_new(x, "tasks", pst_ju64(l->tasks));
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
		json_object_set_new(o, "first_use", site_stack(&l->first_use));
		json_object_set_new(o, l->kind == PST_WAIT_COND ? "waits" : "acquisitions",
				    pst_ju64(l->kind == PST_WAIT_COND ? l->contended : l->acquisitions));
		if (l->kind == PST_WAIT_WRLOCK)
			json_object_set_new(o, "reads", pst_ju64(l->reads));
		json_object_set_new(o, "contended", pst_ju64(l->contended));
		json_object_set_new(o, "wait_ns", pst_ju64(l->wait_ns));
		json_object_set_new(o, "max_wait_ns", pst_ju64(l->max_wait_ns));
		json_object_set_new(o, "wait_share", json_real(round(l->wait_share * 10000) / 10000));
		json_object_set_new(o, "stack", site_stack(l->ntop ? &l->top[0].site : &l->first_use));
		for (size_t j = 0; j < l->ntop; j++) {
			json_t *w = json_object();

			json_object_set_new(w, "stack", site_stack(&l->top[j].site));
			json_object_set_new(w, "waits", pst_ju64(l->top[j].count));
			json_object_set_new(w, "wait_ns", pst_ju64(l->top[j].wait_ns));
			json_object_set_new(w, "max_wait_ns", pst_ju64(l->top[j].max_wait_ns));
			json_array_append_new(ws, w);
		}
		json_object_set_new(o, "waiting_stacks", ws);
		json_array_append_new(a, o);
	}
	return a;
}

static void json(const struct pst_analysis *a, const void *self, json_t *root)
{
	(void)a;
	json_object_set_new(root, "threads", json_thr(self));
	json_object_set_new(root, "locks", json_locks(self));
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

static void text(FILE *out, const struct pst_analysis *a, const void *self)
{
	text_pools(out, self, a->top);
}

/* ---- flame graph metrics ---- */

static int stop_at_wait(uint64_t stack, uint64_t wait_ns, uint64_t waits, void *arg)
{
	(void)stack, (void)waits, (void)arg;
	return wait_ns ? 1 : 0;
}

static bool has_lock_waits(const struct pst_trace *t)
{
	return pst_threads_lock_waits(t, stop_at_wait, NULL) == 1;
}

struct lock_walk {
	struct pst_flame *fl;
	unsigned slot;
};

static int lock_stack(uint64_t stack, uint64_t wait_ns, uint64_t waits, void *arg)
{
	struct lock_walk *w = arg;
	const struct pst_trace *t = pst_flame_trace(w->fl, w->slot);

	(void)waits;
	return pst_flame_add_stack(w->fl, w->slot, stack ? pst_trace_stack(t, stack) : NULL,
				   (int64_t)wait_ns);
}

/* Lock waits: one stack per waiting stack, its total wait. */
static int collect_lock(struct pst_flame *fl, unsigned slot)
{
	struct lock_walk w = {fl, slot};

	return pst_threads_lock_waits(pst_flame_trace(fl, slot), lock_stack, &w);
}

static const struct pst_metric metrics[] = {
	{ "lock-wait", "time waiting for locks", "nanoseconds", "lock_wait", 40, false, NULL,
	  has_lock_waits, collect_lock, PST_PPROF_PLAIN },
};

/*
 * Diff's rows. Thread creations are exact counts (identical in five runs
 * of every threaded target); lock wait swung 605 to 791 ms in thr_locks
 * (100% and 10 ms).
 */
static const struct pst_metric_def diff_rows[] = {
	{ "threads_created", "thread creations", PST_UNIT_COUNT, "threads.created", true, false,
	  { 0.05, 2 }, { 0.05, 2 } },
	{ "lock_wait_ns", "lock wait", PST_UNIT_NS, "locks[].wait_ns", true, false,
	  { 1.0, 10e6 }, { 1.0, 10e6 } },
};

static void threads_free(void *self)
{
	pst_threads_free(self);
}

const struct pst_family_ops pst_family_threads = {
	.name = "threads",
	.json_rank = 4,
	.text_rank = 2,
	.analyze = analyze,
	.findings = findings,
	.json = json,
	.text = text,
	.metrics = metrics,
	.nmetrics = 1,
	.diff_metrics = diff_rows,
	.ndiff_metrics = sizeof(diff_rows) / sizeof(*diff_rows),
	.free = threads_free,
};
