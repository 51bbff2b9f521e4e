/* SPDX-License-Identifier: MIT */
/* Findings: rules over the memory analysis that name a problem, its evidence and what to change. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "findings.h"
#include "grow.h"
#include "units.h"
#include "sort.h"

/*
 * Leaks. A leak's severity is its absolute size (what it costs a
 * long-running process that repeats the work) and its share of the peak
 * heap (how much of the program's footprint it is); a share alone does not
 * make a few hundred bytes in a small program urgent.
 */
#define LEAK_HIGH_BYTES (16ull << 20)  /* 16 MiB is felt on any machine */
#define LEAK_HIGH_SHARE 0.10           /* a tenth of the peak heap never given back... */
#define LEAK_HIGH_SHARE_BYTES (1ull << 20) /* ...and at least 1 MiB of it */
#define LEAK_MEDIUM_BYTES (1ull << 20) /* 1 MiB: more than incidental bookkeeping */
#define LEAK_MEDIUM_SHARE 0.01         /* one percent of the peak is visible in RSS... */
#define LEAK_MEDIUM_SHARE_BYTES (64ull << 10) /* ...once it is 64 KiB or more */

/*
 * Short-lived small allocations. Small: at or below 256 bytes on average,
 * where malloc's per-call cost dominates the cost of using the memory and
 * a reused buffer or pool slot is cheap to keep. Mostly short-lived: at
 * least half of the site's blocks are temporary or freed within
 * PST_SHORT_LIVED_NS. Hot: enough calls that their cost can be measured; a
 * malloc/free pair costs some 20-100 ns, so 10k pairs per second are ~0.1%
 * of a core, 100k ~1%, 1M ~10%.
 */
#define CHURN_MAX_AVG_SIZE 256.0
#define CHURN_MIN_SHARE 0.5
#define CHURN_MIN_CALLS 1000.0
#define CHURN_LOW_RATE 1e4
#define CHURN_MEDIUM_RATE 1e5
#define CHURN_HIGH_RATE 1e6

/*
 * Realloc growth. A block moved by realloc four times or more is being
 * grown piecemeal (a geometric growth from 16 bytes reaches 256 in four
 * steps; linear growth much sooner); reserving its final capacity once
 * avoids the copies. Severity by how many reallocs the site does and
 * their share of all allocation calls.
 */
#define REALLOC_MIN_CHAIN 4
/* Chains that already grow geometrically cost amortised constant copies per
 * byte: advice to grow geometrically would not fit. A site is left alone
 * when nearly all of its chains do. */
#define REALLOC_GEOMETRIC_SHARE 0.9
#define REALLOC_HIGH_SHARE 0.10
#define REALLOC_HIGH_COUNT 100000.0
#define REALLOC_MEDIUM_COUNT 1000.0

const char *pst_severity_name(enum pst_severity s)
{
	return s == PST_SEV_HIGH ? "high" : s == PST_SEV_MEDIUM ? "medium" : "low";
}

char *pst_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	return r < 0 ? NULL : s;
}

struct pst_finding *pst_finding_add(struct pst_findings *out, const char *id,
				    enum pst_severity sev, const struct pst_site *site)
{
	struct pst_finding *f;

	if (pst_grow(&out->v, &out->cap, out->n + 1, sizeof(*out->v), 16))
		return NULL;
	f = &out->v[out->n++];
	memset(f, 0, sizeof(*f));
	f->id = id;
	f->severity = sev;
	f->site = site;
	if (site) {
		f->stack = site->stack;
		f->depth = site->depth;
	}
	return f;
}

/* By severity, then family; ties keep their place (the family's order). */
static int cmp_index(const void *x, const void *y, void *v_)
{
	const struct pst_finding *v = v_;
	size_t i = *(const size_t *)x, j = *(const size_t *)y;

	if (v[i].severity != v[j].severity)
		return v[i].severity < v[j].severity ? -1 : 1;
	if (v[i].family != v[j].family)
		return v[i].family < v[j].family ? -1 : 1;
	return i < j ? -1 : i > j;
}

/* qsort is not stable: sort the indexes, whose last key is the place. */
int pst_findings_sort(struct pst_findings *f)
{
	struct pst_finding *tmp;
	size_t *idx;

	if (f->n < 2)
		return 0;
	idx = malloc(f->n * sizeof(*idx));
	tmp = malloc(f->n * sizeof(*tmp));
	if (!idx || !tmp) {
		free(idx);
		free(tmp);
		return -ENOMEM;
	}
	for (size_t i = 0; i < f->n; i++)
		idx[i] = i;
	qsort_r(idx, f->n, sizeof(*idx), cmp_index, f->v);
	for (size_t i = 0; i < f->n; i++)
		tmp[i] = f->v[idx[i]];
	memcpy(f->v, tmp, f->n * sizeof(*tmp));
	free(tmp);
	free(idx);
	return 0;
}

static uint64_t rnd(double x)
{
	return x > 0 ? (uint64_t)llround(x) : 0;
}

void pst_ev_int(struct pst_finding *f, const char *key, double v)
{
	if (f->nev < PST_MAX_EVIDENCE)
		f->ev[f->nev++] = (struct pst_evidence){ .key = key, .kind = PST_EV_INT, .i = rnd(v) };
}

void pst_ev_real(struct pst_finding *f, const char *key, double v)
{
	if (f->nev < PST_MAX_EVIDENCE)
		f->ev[f->nev++] = (struct pst_evidence){ .key = key, .kind = PST_EV_REAL,
							  .r = round(v * 100) / 100 };
}

int pst_ev_str(struct pst_finding *f, const char *key, const char *v)
{
	char *s;

	if (f->nev >= PST_MAX_EVIDENCE)
		return 0;
	s = strdup(v);
	if (!s)
		return -ENOMEM;
	f->ev[f->nev++] = (struct pst_evidence){ .key = key, .kind = PST_EV_STR, .s = s };
	return 0;
}

/*
 * Sites that allocate at the same place (one function and line, or one
 * unsymbolized address) but were reached through different callers: one
 * finding covers them all, with the stack of the busiest (the first in the
 * sites' order) and how many call paths there were.
 */
struct group {
	const struct pst_site *site;
	struct pst_stack_stats st;
	struct pst_stack_stats leak; /* of its sites no suppression matched */
	size_t paths;
};

/* A finding over several call paths says so: their number as evidence, and
 * in the advice that the figures are theirs together. */
static int paths(struct pst_finding *f, const struct group *g)
{
	char *more;

	if (g->paths < 2)
		return 0;
	pst_ev_int(f, "call_paths", (double)g->paths);
	more = pst_xasprintf("%s The figures are of all %zu call paths that reach it; the stack "
			     "shown is the busiest.", f->advice, g->paths);
	if (!more)
		return -ENOMEM;
	free(f->advice);
	f->advice = more;
	return 0;
}

/* The sentence a leak's advice ends with: how sure it is that nothing
 * points at the blocks any more. */
static const char *leak_certainty(const struct pst_memory *m)
{
	if (m->reach_known)
		return " No pointer to them was left anywhere at exit (a scan of the globals, "
		       "stacks, thread-locals and reachable blocks): they are definitely lost.";
	return " Whether they were still reachable is unknown: the trace has no reachability "
	       "scan (record with --full and let the process exit).";
}

/* With the scan at exit, only the lost blocks are leaks: a block a global
 * or a stack still points at is a table or a cache freed by exit. */
static int rule_leak(const struct pst_memory *m, const struct pst_findings_ctx *ctx,
		     const struct group *g, struct pst_findings *out)
{
	const struct pst_site *s = g->site;
	const struct pst_stack_stats *st = &g->leak;
	double bytes = m->reach_known ? st->lost_bytes : st->leaked_bytes;
	double blocks = m->reach_known ? st->lost : st->leaked;
	double share = m->peak_heap_bytes > 0 ? bytes / m->peak_heap_bytes : 0;
	char where[1200], b[32], n[32];
	struct pst_finding *f;

	if (ctx->frees_missing || (rnd(bytes) == 0 && rnd(blocks) == 0))
		return 0;
	f = pst_finding_add(out, "leak", PST_SEV_LOW, s);
	if (!f)
		return -ENOMEM;
	if (bytes >= LEAK_HIGH_BYTES || (share >= LEAK_HIGH_SHARE && bytes >= LEAK_HIGH_SHARE_BYTES))
		f->severity = PST_SEV_HIGH;
	else if (bytes >= LEAK_MEDIUM_BYTES ||
		 (share >= LEAK_MEDIUM_SHARE && bytes >= LEAK_MEDIUM_SHARE_BYTES))
		f->severity = PST_SEV_MEDIUM;
	else
		f->severity = PST_SEV_LOW;
	f->score = bytes;
	pst_site_name(s, where, sizeof(where));
	pst_fmt_bytes(bytes, b, sizeof(b));
	pst_fmt_count(blocks, n, sizeof(n));
	f->title = pst_xasprintf("%s in %s block%s from %s %s", b, n, rnd(blocks) == 1 ? "" : "s",
				 s->function ? s->function : where,
				 m->reach_known ? "definitely lost" :
				 ctx->at_exit	? "never freed" :
						  "not freed when the trace ended");
	f->advice = pst_xasprintf(
		"%s allocated %s block%s (%s, %.1f%% of the peak heap) that %s still allocated "
		"when %s. Free each one when it is no longer needed, or give it one owner that "
		"frees it (a struct's destroy function; in C++ a container, std::unique_ptr or "
		"RAII member).%s",
		where, n, rnd(blocks) == 1 ? "" : "s", b, share * 100,
		rnd(blocks) == 1 ? "was" : "were", ctx->end ? ctx->end : "the process exited",
		ctx->at_exit ? leak_certainty(m) : "");
	if (!f->title || !f->advice)
		return -ENOMEM;
	if (pst_ev_str(f, "site", where))
		return -ENOMEM;
	pst_ev_int(f, "leaked_bytes", st->leaked_bytes);
	pst_ev_int(f, "leaked_allocations", st->leaked);
	if (m->reach_known)
		pst_ev_int(f, "lost_bytes", st->lost_bytes);
	pst_ev_real(f, "share_of_peak_heap", share);
	pst_ev_int(f, "calls", st->calls);
	return paths(f, g);
}

static int rule_churn(const struct pst_memory *m, const struct group *g,
		      struct pst_findings *out)
{
	const struct pst_site *s = g->site;
	const struct pst_stack_stats *st = &g->st;
	double avg = st->calls > 0 ? st->bytes / st->calls : 0, secs = m->duration_ns / 1e9, rate, churn, share;
	char where[1200], r[32], a[32], c[32], cr[32], sl[32];
	struct pst_finding *f;

	if (st->calls < CHURN_MIN_CALLS || avg > CHURN_MAX_AVG_SIZE || secs <= 0)
		return 0;
	/* Temporaries are mostly short-lived too: the larger is a lower bound
	 * of the blocks a reused buffer would absorb. */
	churn = st->temporary > st->short_lived ? st->temporary : st->short_lived;
	share = churn / st->calls;
	rate = st->calls / secs;
	if (share < CHURN_MIN_SHARE || rate < CHURN_LOW_RATE)
		return 0;
	f = pst_finding_add(out, "short-lived-small", PST_SEV_LOW, s);
	if (!f)
		return -ENOMEM;
	f->severity = rate >= CHURN_HIGH_RATE	? PST_SEV_HIGH :
		      rate >= CHURN_MEDIUM_RATE ? PST_SEV_MEDIUM :
						  PST_SEV_LOW;
	f->score = churn;
	pst_site_name(s, where, sizeof(where));
	pst_fmt_short(rate, r, sizeof(r));
	pst_fmt_bytes(avg, a, sizeof(a));
	pst_fmt_count(churn, c, sizeof(c));
	pst_fmt_short(churn / secs, cr, sizeof(cr));
	f->title = pst_xasprintf("%s small short-lived allocations per second in %s", r,
			     s->function ? s->function : where);
	f->advice = pst_xasprintf(
		"%s allocates blocks of %s on average at %s calls/s, and %.0f%% of them are "
		"freed soon after (%.0f%% before the thread's next allocation, %.0f%% within "
		"%s). Reuse one buffer across iterations, or take them from an arena or object "
		"pool at %s: that avoids about %s malloc/free pairs (%s/s).",
		where, a, r, share * 100, st->temporary / st->calls * 100,
		st->short_lived / st->calls * 100, pst_fmt_ns(PST_SHORT_LIVED_NS, sl, sizeof(sl)),
		s->function ? s->function : where, c,
		cr);
	if (!f->title || !f->advice)
		return -ENOMEM;
	if (pst_ev_str(f, "site", where))
		return -ENOMEM;
	pst_ev_int(f, "calls", st->calls);
	pst_ev_real(f, "calls_per_second", rate);
	pst_ev_real(f, "average_size", avg);
	pst_ev_int(f, "temporary", st->temporary);
	pst_ev_int(f, "short_lived", st->short_lived);
	pst_ev_int(f, "calls_avoided", churn);
	return paths(f, g);
}

static int rule_realloc(const struct pst_memory *m, const struct group *g,
			struct pst_findings *out)
{
	const struct pst_site *s = g->site;
	const struct pst_stack_stats *st = &g->st;
	double share = m->alloc_calls ? st->reallocs / (double)m->alloc_calls : 0;
	double avg_chain, final_avg, avoided;
	uint64_t final_max;
	char where[1200], fs[32], fm[32], n[32], av[32];
	struct pst_finding *f;

	if (st->max_chain < REALLOC_MIN_CHAIN ||
	    (st->chains > 0 && st->geometric_chains >= st->chains * REALLOC_GEOMETRIC_SHARE))
		return 0;
	f = pst_finding_add(out, "realloc-growth", PST_SEV_LOW, s);
	if (!f)
		return -ENOMEM;
	if (share >= REALLOC_HIGH_SHARE || st->reallocs >= REALLOC_HIGH_COUNT)
		f->severity = PST_SEV_HIGH;
	else if (st->reallocs >= REALLOC_MEDIUM_COUNT)
		f->severity = PST_SEV_MEDIUM;
	else
		f->severity = PST_SEV_LOW;
	f->score = st->reallocs;
	/* Chains that ended at this site give the final sizes; a chain that
	 * went on elsewhere leaves only this site's largest size. */
	if (st->chains > 0) {
		avg_chain = st->chain_len_sum / st->chains;
		final_avg = st->final_size_sum / st->chains;
		final_max = st->final_size_max;
		avoided = st->chain_len_sum;
	} else {
		avg_chain = st->max_chain;
		final_avg = (double)st->max_size;
		final_max = st->max_size;
		avoided = st->reallocs;
	}
	pst_site_name(s, where, sizeof(where));
	pst_fmt_bytes(final_avg, fs, sizeof(fs));
	pst_fmt_bytes((double)final_max, fm, sizeof(fm));
	pst_fmt_count(st->reallocs, n, sizeof(n));
	pst_fmt_count(avoided, av, sizeof(av));
	f->title = pst_xasprintf("blocks grown by repeated realloc in %s (up to %u moves per block)",
			     s->function ? s->function : where, st->max_chain);
	f->advice = pst_xasprintf(
		"%s grows its blocks with realloc step by step: %s reallocs, %.1f per block on "
		"average and up to %u, to a typical final size of %s (largest %s). Reserve the "
		"capacity up front (about %s, e.g. from a known count or the previous run's "
		"size), or grow geometrically; that avoids about %s reallocs and their copies.",
		where, n, avg_chain, st->max_chain, fs, fm, fs, av);
	if (!f->title || !f->advice)
		return -ENOMEM;
	if (pst_ev_str(f, "site", where))
		return -ENOMEM;
	pst_ev_int(f, "reallocs", st->reallocs);
	pst_ev_real(f, "average_chain_length", avg_chain);
	pst_ev_int(f, "max_chain_length", st->max_chain);
	pst_ev_int(f, "final_size", final_avg);
	pst_ev_int(f, "max_final_size", (double)final_max);
	pst_ev_int(f, "reallocs_avoided", avoided);
	return paths(f, g);
}

static int rule_rank(const char *id)
{
	return !strcmp(id, "leak") ? 0 : !strcmp(id, "short-lived-small") ? 1 : 2;
}

static int cmp_finding(const void *x, const void *y)
{
	const struct pst_finding *a = x, *b = y;
	int ra = rule_rank(a->id), rb = rule_rank(b->id);

	if (a->severity != b->severity)
		return a->severity < b->severity ? -1 : 1;
	if (ra != rb)
		return ra < rb ? -1 : 1;
	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	/* Sites are sorted: their order breaks ties deterministically. */
	return a->site < b->site ? -1 : a->site > b->site;
}

static int cmp_keyed(const void *x, const void *y, void *keys_)
{
	const size_t *a = x, *b = y;
	char *const *keys = keys_;
	int c = strcmp(keys[*a], keys[*b]);

	return c ? c : *a < *b ? -1 : *a > *b;
}

/* m's sites grouped by the place they allocate at, in the sites' order of
 * their first member; the runtime's own sites (libstdc++'s emergency pool,
 * the loader's) are left out: they are not the program's to change. */
static int group_sites(const struct pst_memory *m, struct group **out, size_t *nout)
{
	char **keys = calloc(m->nsites + 1, sizeof(*keys)), name[1200];
	size_t *idx = malloc((m->nsites + 1) * sizeof(*idx)), n = 0, ng = 0;
	struct group *g = calloc(m->nsites + 1, sizeof(*g));
	int rc = -ENOMEM;

	if (!keys || !idx || !g)
		goto out;
	for (size_t i = 0; i < m->nsites; i++) {
		if (m->sites[i].runtime)
			continue;
		pst_site_name(&m->sites[i], name, sizeof(name));
		keys[i] = strdup(name);
		if (!keys[i])
			goto out;
		idx[n++] = i;
	}
	qsort_r(idx, n, sizeof(*idx), cmp_keyed, keys);
	for (size_t i = 0; i < n; i++) {
		if (!i || strcmp(keys[idx[i]], keys[idx[i - 1]])) {
			g[ng].site = &m->sites[idx[i]]; /* the smallest index of its key */
			ng++;
		}
		pst_stats_add(&g[ng - 1].st, &m->sites[idx[i]].st, true);
		if (!m->sites[idx[i]].suppressed)
			pst_stats_add(&g[ng - 1].leak, &m->sites[idx[i]].st, true);
		g[ng - 1].paths++;
	}
	rc = 0;
out:
	for (size_t i = 0; keys && i < m->nsites; i++)
		free(keys[i]);
	free(keys);
	free(idx);
	if (rc) {
		free(g);
		g = NULL;
		ng = 0;
	}
	*out = g;
	*nout = ng;
	return rc;
}

static int cmp_group(const void *x, const void *y)
{
	const struct group *a = x, *b = y;

	return a->site < b->site ? -1 : a->site > b->site;
}

int pst_findings_build(const struct pst_memory *m, const struct pst_findings_ctx *ctx,
		       struct pst_findings *out)
{
	struct group *g;
	size_t ng, first = out->n;

	if (group_sites(m, &g, &ng))
		return -ENOMEM;
	pst_sort(g, ng, sizeof(*g), cmp_group);
	for (size_t i = 0; i < ng; i++) {
		if (rule_leak(m, ctx, &g[i], out) || rule_churn(m, &g[i], out) ||
		    rule_realloc(m, &g[i], out)) {
			free(g);
			return -ENOMEM;
		}
	}
	free(g);
	if (out->n > first)
		pst_sort(out->v + first, out->n - first, sizeof(*out->v), cmp_finding);
	return 0;
}

const struct pst_finding *pst_findings_get(const struct pst_findings *f, const char *id,
					   const struct pst_site *site)
{
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->v[i].id, id) && (!site || f->v[i].site == site))
			return &f->v[i];
	return NULL;
}

void pst_findings_free(struct pst_findings *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].title);
		free(f->v[i].advice);
		for (size_t j = 0; j < f->v[i].nev; j++)
			free(f->v[i].ev[j].s);
	}
	free(f->v);
	memset(f, 0, sizeof(*f));
}
