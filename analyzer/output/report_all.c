/* SPDX-License-Identifier: MIT */
/* report --all: every process of a session as one report, its per-process totals first; memory findings recomputed over the merged sites. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "family.h"
#include "findings_out.h"
#include "heap_all.h"
#include "json_util.h"
#include "memory.h"
#include "report.h"
#include "report_all.h"

/* Memory sites of every process, merged by their symbolized frames. */
struct msites {
	struct pst_site *v;
	unsigned *nproc; /* per site: how many processes have it */
	size_t n, cap;
	json_t *ix;      /* key -> index */
};

struct all {
	const struct pst_report_options *o;
	json_t *proc;      /* the first process's "process" object */
	json_t *processes; /* per-process totals */
	json_t *merged;    /* every family's keys, merged */
	json_t *findings;  /* the other families' findings, merged */
	json_t *warnings;
	struct msites ms;
	uint64_t alloc_calls, duration_ns;
	double peak_sum;
	bool reach_known, at_exit;
};

/* A site's identity: its function, file, line and frames. */
static char *site_key(const struct pst_site *s)
{
	size_t len = 64 + (s->function ? strlen(s->function) : 0) + (s->file ? strlen(s->file) : 0);
	char *k, *p;

	for (size_t i = 0; i < s->depth; i++)
		len += strlen(s->stack[i]) + 1;
	k = malloc(len);
	if (!k)
		return NULL;
	p = k + sprintf(k, "%s\n%s\n%d", s->function ? s->function : "", s->file ? s->file : "",
			s->line);
	for (size_t i = 0; i < s->depth; i++)
		p += sprintf(p, "\n%s", s->stack[i]);
	return k;
}

/* A copy of s's names (its figures are added by the caller). */
static int site_copy(struct pst_site *d, const struct pst_site *s)
{
	*d = (struct pst_site){ .line = s->line, .runtime = s->runtime,
				.suppressed = s->suppressed, .first_stack_id = s->first_stack_id };
	d->function = s->function ? strdup(s->function) : NULL;
	d->file = s->file ? strdup(s->file) : NULL;
	d->stack = calloc(s->depth + 1, sizeof(*d->stack));
	if ((s->function && !d->function) || (s->file && !d->file) || !d->stack)
		return -ENOMEM;
	for (size_t i = 0; i < s->depth; i++, d->depth++)
		if (!(d->stack[i] = strdup(s->stack[i])))
			return -ENOMEM;
	return 0;
}

static int msites_add(struct msites *ms, const struct pst_site *s)
{
	char *k = site_key(s);
	json_t *at = k ? json_object_get(ms->ix, k) : NULL;
	size_t i = at ? (size_t)json_integer_value(at) : ms->n;
	int rc = 0;

	if (!k)
		return -ENOMEM;
	if (!at) {
		if (ms->n == ms->cap) {
			size_t cap = ms->cap * 2 + 16;
			struct pst_site *v = realloc(ms->v, cap * sizeof(*v));
			unsigned *np = v ? realloc(ms->nproc, cap * sizeof(*np)) : NULL;

			if (v)
				ms->v = v;
			if (!np) {
				free(k);
				return -ENOMEM;
			}
			ms->nproc = np;
			ms->cap = cap;
		}
		ms->nproc[i] = 0;
		rc = site_copy(&ms->v[ms->n++], s);
		json_object_set_new(ms->ix, k, json_integer((json_int_t)i));
	}
	free(k);
	pst_stats_add(&ms->v[i].st, &s->st, true);
	ms->nproc[i]++;
	return rc;
}

static void msites_free(struct msites *ms)
{
	for (size_t i = 0; i < ms->n; i++) {
		for (size_t k = 0; k < ms->v[i].depth; k++)
			free(ms->v[i].stack[k]);
		free(ms->v[i].stack);
		free(ms->v[i].function);
		free(ms->v[i].file);
	}
	free(ms->v);
	free(ms->nproc);
	json_decref(ms->ix);
}

/* A number at a dotted path of a report, 0 when it has none. */
static double num(json_t *j, const char *path)
{
	char key[64];
	const char *dot;

	while ((dot = strchr(path, '.')) && j) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		j = json_object_get(j, key);
		path = dot + 1;
	}
	return j ? json_number_value(json_object_get(j, path)) : 0;
}

/* Connections the process made or accepted, over its endpoints. */
static double connections(json_t *rep)
{
	json_t *eps = json_object_get(json_object_get(rep, "network"), "endpoints"), *e;
	double n = 0;
	size_t i;

	json_array_foreach(eps, i, e)
		n += json_number_value(json_object_get(e, "connects")) +
		     json_number_value(json_object_get(e, "accepts"));
	return n;
}

/* One process's row of the totals table. */
static json_t *process_row(json_t *rep)
{
	static const char *const figures[][2] = {
		{ "alloc_calls", "memory.alloc_calls" },
		{ "allocated_bytes", "memory.allocated_bytes" },
		{ "peak_heap_bytes", "memory.peak_heap_bytes" },
		{ "leaked_bytes", "memory.leaked_bytes" },
		{ "leaked_allocations", "memory.leaked_allocations" },
		{ "lost_bytes", "memory.lost_bytes" },
		{ "threads_created", "threads.created" },
		{ "cpu_samples", "cpu.samples" },
	};
	json_t *p = json_object_get(rep, "process"), *row = json_object();
	const char *exe = json_string_value(json_object_get(p, "exe"));
	const char *base = exe && strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;

	json_object_set(row, "pid", json_object_get(p, "pid"));
	json_object_set_new(row, "program", json_string(base && *base ? base : "?"));
	json_object_set(row, "exe", json_object_get(p, "exe"));
	json_object_set(row, "duration_ns", json_object_get(p, "duration_ns"));
	json_object_set(row, "end_reason", json_object_get(p, "end_reason"));
	if (json_object_get(p, "signal"))
		json_object_set(row, "signal", json_object_get(p, "signal"));
	json_object_set(row, "complete", json_object_get(p, "complete"));
	for (size_t i = 0; i < sizeof(figures) / sizeof(*figures); i++)
		json_object_set_new(row, figures[i][0], pst_ju64(num(rep, figures[i][1])));
	json_object_set_new(row, "connections", pst_ju64(connections(rep)));
	return row;
}

/* A finding's identity across processes: its rule, its stack and the
 * names in its evidence (an endpoint, a lock's site). */
static char *finding_key(json_t *f)
{
	json_t *k = json_object(), *ev = json_object_get(f, "evidence"), *v;
	const char *name;
	char *s;

	json_object_set(k, "id", json_object_get(f, "id"));
	json_object_set(k, "stack", json_object_get(f, "stack"));
	json_object_foreach(ev, name, v)
		if (json_is_string(v))
			json_object_set(k, name, v);
	s = json_dumps(k, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(k);
	return s;
}

/* The findings of the families other than memory (whose rules run again
 * over the merged sites): one per rule and place, their evidence summed,
 * "processes" counting the processes that had it. */
static int other_findings(struct all *x, const struct pst_analysis *a, json_t *rep)
{
	unsigned mem = pst_family_index(&pst_family_memory);
	json_t *fs = json_object_get(rep, "findings"), *f;
	size_t i;
	int rc = 0;

	json_array_foreach(fs, i, f)
	{
		char *k;
		json_t *old, *ev = json_object_get(f, "evidence");

		if (i >= a->f.n || a->f.v[i].family == mem)
			continue;
		json_object_set_new(ev, "processes", json_integer(1));
		json_object_set_new(f, "family", json_integer(a->f.v[i].family));
		k = finding_key(f);
		if (!k)
			return -1;
		old = json_object_get(x->findings, k);
		if (old)
			rc |= pst_report_merge_object(json_object_get(old, "evidence"), ev);
		else
			json_object_set(x->findings, k, f);
		free(k);
	}
	return rc;
}

/* The memory figures the rules read, and the sites. */
static int memory_part(struct all *x, const struct pst_analysis *a)
{
	const struct pst_memory_result *mr = pst_analysis_of(a, &pst_family_memory);
	const struct pst_memory *m = mr ? mr->m : NULL;
	const struct pst_trace *t = a->t;

	x->at_exit = x->at_exit && t->complete && t->end_reason == PST_END_EXIT;
	if (!m)
		return 0;
	x->alloc_calls += m->alloc_calls;
	x->peak_sum += m->peak_heap_bytes;
	if (m->duration_ns > x->duration_ns)
		x->duration_ns = m->duration_ns;
	x->reach_known = x->reach_known || m->reach_known;
	for (size_t i = 0; i < m->nsites; i++)
		if (msites_add(&x->ms, &m->sites[i]))
			return -1;
	return 0;
}

/* Warnings of every process, each once. */
static void add_warnings(struct all *x, json_t *ws)
{
	size_t i, k;
	json_t *w, *have;

	json_array_foreach(ws, i, w)
	{
		bool dup = false;

		json_array_foreach(x->warnings, k, have)
			dup = dup || json_equal(have, w);
		if (!dup)
			json_array_append(x->warnings, w);
	}
}

/* pst_report_visit's callback: one process into the session's report. */
static int visit(const struct pst_analysis *a, json_t *rep, void *arg)
{
	static const char *const own[] = { "prestanda_report", "trace", "process", "findings",
					   "warnings" };
	struct all *x = arg;

	if (!x->proc)
		x->proc = json_deep_copy(json_object_get(rep, "process"));
	else if (!json_is_true(json_object_get(json_object_get(rep, "process"), "complete")))
		json_object_set(x->proc, "complete", json_false());
	json_array_append_new(x->processes, process_row(rep));
	add_warnings(x, json_object_get(rep, "warnings"));
	if (memory_part(x, a) || other_findings(x, a, rep))
		return -1;
	for (size_t i = 0; i < sizeof(own) / sizeof(*own); i++)
		json_object_del(rep, own[i]);
	return pst_report_merge_object(x->merged, rep);
}

static enum pst_severity severity_of(const char *s)
{
	return s && !strcmp(s, "high") ? PST_SEV_HIGH : s && !strcmp(s, "medium") ? PST_SEV_MEDIUM :
										PST_SEV_LOW;
}

/* A merged finding of another family back as a finding; its strings stay
 * x->findings' (the stack's array is freed by findings_free). */
static int json_to_finding(struct pst_findings *out, json_t *j)
{
	json_t *stack = json_object_get(j, "stack"), *v;
	struct pst_finding *f = pst_finding_add(out, json_string_value(json_object_get(j, "id")),
					       severity_of(json_string_value(
						       json_object_get(j, "severity"))),
					       NULL);
	const char **sv = calloc(json_array_size(stack) + 1, sizeof(*sv));
	const char *k;
	size_t i;

	if (!f || !sv) {
		free(sv);
		return -ENOMEM;
	}
	f->family = (unsigned)json_integer_value(json_object_get(j, "family"));
	f->title = strdup(json_string_value(json_object_get(j, "title")) ?: "");
	f->advice = strdup(json_string_value(json_object_get(j, "advice")) ?: "");
	json_array_foreach(stack, i, v)
		sv[i] = json_string_value(v);
	f->stack = (char *const *)sv;
	f->depth = json_array_size(stack);
	json_object_foreach(json_object_get(j, "evidence"), k, v)
	{
		if (json_is_string(v) && pst_ev_str(f, k, json_string_value(v)))
			return -ENOMEM;
		if (json_is_integer(v))
			pst_ev_int(f, k, (double)json_integer_value(v));
		else if (json_is_real(v))
			pst_ev_real(f, k, json_real_value(v));
	}
	return f->title && f->advice ? 0 : -ENOMEM;
}

/* The memory rules over the merged sites, each finding saying how many
 * processes had its site; then the other families' merged findings; in
 * the report's one order. 0 or -ENOMEM. */
static int build_findings(struct all *x, struct pst_findings *out)
{
	struct pst_memory mm = { .sites = x->ms.v, .nsites = x->ms.n, .alloc_calls = x->alloc_calls,
				 .duration_ns = x->duration_ns, .peak_heap_bytes = x->peak_sum,
				 .reach_known = x->reach_known };
	struct pst_findings_ctx ctx = {
		.at_exit = x->at_exit,
		.end = x->at_exit ? NULL : "a process of the session ended otherwise than by exit"
	};
	const char *k;
	json_t *f;

	if (pst_findings_build(&mm, &ctx, out))
		return -ENOMEM;
	for (size_t i = 0; i < out->n; i++) {
		const struct pst_site *s = out->v[i].site;

		out->v[i].family = pst_family_index(&pst_family_memory);
		if (s >= x->ms.v && s < x->ms.v + x->ms.n)
			pst_ev_int(&out->v[i], "processes", x->ms.nproc[s - x->ms.v]);
	}
	json_object_foreach(x->findings, k, f)
		if (json_to_finding(out, f))
			return -ENOMEM;
	return pst_findings_sort(out);
}

static void findings_free(struct pst_findings *f)
{
	unsigned mem = pst_family_index(&pst_family_memory);

	for (size_t i = 0; i < f->n; i++)
		if (f->v[i].family != mem)
			free((void *)f->v[i].stack);
	pst_findings_free(f);
}

static int cmp_site_row(const void *x, const void *y)
{
	json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
	double ca = json_number_value(json_object_get(a, "calls")),
	       cb = json_number_value(json_object_get(b, "calls"));
	double ba = json_number_value(json_object_get(a, "bytes")),
	       bb = json_number_value(json_object_get(b, "bytes"));

	return ca != cb ? (ca < cb ? 1 : -1) : ba != bb ? (ba < bb ? 1 : -1) : 0;
}

/* Merged sites as one report orders them (calls, then bytes), --top of
 * them; the largest process's peak beside the sum of every one's. */
static void memory_finish(struct all *x, size_t top)
{
	json_t *mem = json_object_get(x->merged, "memory"), *sites = json_object_get(mem, "sites");
	size_t n = json_array_size(sites);
	json_t **v = calloc(n + 1, sizeof(*v));

	if (!mem)
		return;
	json_object_set_new(mem, "peak_heap_bytes_sum", pst_ju64(x->peak_sum));
	json_object_set_new(mem, "total_sites", pst_ju64(n));
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(sites, i));
	qsort(v, n, sizeof(*v), cmp_site_row);
	json_array_clear(sites);
	for (size_t i = 0; i < n; i++)
		if (!top || i < top)
			json_array_append_new(sites, v[i]);
		else
			json_decref(v[i]);
	free(v);
}

/* In full mode, the peak of the heaps of every process at once (their
 * events merged by time), between the largest process's and the sum. */
static void concurrent_peak(struct all *x, char *const *paths, int n)
{
	json_t *mem = json_object_get(x->merged, "memory");
	struct pst_heap_peak hp;

	if (mem && !pst_heap_peak_all(paths, n, &hp))
		json_object_set_new(mem, "peak_heap_bytes_concurrent", pst_ju64(hp.bytes));
}

/* A share in percent of the merged figures, to decimals places as the
 * families round it. */
static json_t *pct(double part, double whole, int decimals)
{
	double scale = pow(10, decimals);

	return json_real(whole > 0 ? round(part / whole * 100 * scale) / scale : 0);
}

/* Shares of a whole do not add: each again over the merged whole (the
 * CPU functions' over every sample, a finding's over its samples). */
static void shares(struct all *x)
{
	json_t *cpu = json_object_get(x->merged, "cpu"), *row, *f;
	double samples = json_number_value(json_object_get(cpu, "samples"));
	const char *k;
	size_t i;

	json_array_foreach(json_object_get(cpu, "functions"), i, row)
	{
		json_object_set_new(row, "self_pct",
				    pct(json_number_value(json_object_get(row, "self")), samples, 2));
		json_object_set_new(row, "total_pct",
				    pct(json_number_value(json_object_get(row, "total")), samples, 2));
	}
	json_object_foreach(x->findings, k, f)
	{
		json_t *ev = json_object_get(f, "evidence");
		double n = json_number_value(json_object_get(ev, "samples"));

		if (json_object_get(ev, "self_pct") && json_object_get(ev, "self"))
			json_object_set_new(ev, "self_pct",
					    pct(json_number_value(json_object_get(ev, "self")), n, 1));
	}
}

/* The report object: as one trace's, "processes" after "process". */
static json_t *assemble(struct all *x, const char *label, const struct pst_findings *f)
{
	json_t *root = json_object(), *v;
	const char *k;

	json_object_set_new(root, "prestanda_report", json_integer(1));
	json_object_set_new(root, "trace", json_string(label));
	json_object_set(root, "process", x->proc ? x->proc : json_null());
	json_object_set(root, "processes", x->processes);
	/* each process's intervals count from its own start: they do not add */
	if (json_object_get(x->merged, "timeline"))
		json_object_set_new(x->merged, "timeline", json_array());
	json_object_foreach(x->merged, k, v)
		json_object_set(root, k, v);
	json_object_set_new(root, "findings", pst_findings_json(f));
	json_object_set(root, "warnings", x->warnings);
	return root;
}

static void all_free(struct all *x)
{
	json_decref(x->proc);
	json_decref(x->processes);
	json_decref(x->merged);
	json_decref(x->findings);
	json_decref(x->warnings);
	msites_free(&x->ms);
}

/* Every process analyzed into x, its findings into f, the report into
 * *rep: 0, 1 when a trace is damaged or unread (the others reported), 2
 * when none could be read or memory ran out. */
static int all_run(struct all *x, const struct pst_report_options *o, char *const *paths, int n,
		   const char *label, struct pst_findings *f, json_t **rep)
{
	struct pst_report_options po = *o;
	int status = 0, ok = 0;

	*x = (struct all){ .o = o, .processes = json_array(), .merged = json_object(),
			   .findings = json_object(), .warnings = json_array(),
			   .ms.ix = json_object(), .at_exit = true };
	*rep = NULL;
	po.json = true;       /* warnings gathered, not printed per process */
	po.top_given = false; /* every site, for the merge; --top applies to the whole */
	for (int i = 0; i < n; i++) {
		int rc = pst_report_visit(&po, paths[i], visit, x);

		status = rc ? 1 : status;
		ok += rc < 2;
	}
	if (!ok)
		return 2;
	memory_finish(x, o->top_given ? (size_t)o->top : 0);
	concurrent_peak(x, paths, n);
	shares(x);
	if (build_findings(x, f) || !(*rep = assemble(x, label, f))) {
		fprintf(stderr, "prestanda: %s: out of memory\n", label);
		return 2;
	}
	return status;
}

json_t *pst_report_all_json(const struct pst_report_options *o, char *const *paths, int n,
			    const char *label, int *status)
{
	struct pst_findings f = { 0 };
	struct all x;
	json_t *rep;

	*status = all_run(&x, o, paths, n, label, &f, &rep);
	findings_free(&f);
	all_free(&x);
	return rep;
}

int pst_report_all_print(const struct pst_report_options *o, char *const *paths, int n,
			 const char *label)
{
	struct pst_findings f = { 0 };
	struct all x;
	json_t *rep;
	int status = all_run(&x, o, paths, n, label, &f, &rep);

	if (rep && o->json) {
		json_dumpf(rep, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
	} else if (rep) {
		for (size_t i = 0; i < json_array_size(x.warnings); i++)
			fprintf(stderr, "prestanda: warning: %s\n",
				json_string_value(json_array_get(x.warnings, i)));
		pst_report_all_text(stdout, rep, &f, o->top_given ? (size_t)o->top : 10);
	}
	json_decref(rep);
	findings_free(&f);
	all_free(&x);
	return status ? 1 : 0;
}
