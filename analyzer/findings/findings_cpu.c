/* SPDX-License-Identifier: MIT */
/* CPU findings: a hot function, stacks that block, truncated stacks. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cpu.h"
#include "findings.h"
#include "units.h"

/* A function with at least this share of the samples (self) is a finding. */
#define HOT_SHARE 0.20
/* Off-CPU stacks with at least this share of the blocked time are findings. */
#define BLOCK_SHARE 0.10
/* Findings need at least this many samples to say anything. */
#define MIN_SAMPLES 20

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0;
}

/* A finding with its texts and stack (NULL: none); NULL without memory. */
static struct pst_finding *add(struct pst_findings *out, const char *id, enum pst_severity sev,
			       const char *title, const char *advice,
			       const struct pst_cpu_stack *st)
{
	struct pst_finding *f = pst_finding_add(out, id, sev, NULL);

	if (!f)
		return NULL;
	f->title = strdup(title);
	f->advice = strdup(advice);
	if (st) {
		f->stack = st->frames;
		f->depth = st->depth;
	}
	return f->title && f->advice ? f : NULL;
}

/* The hottest stack whose leaf is f, for evidence. */
static const struct pst_cpu_stack *stack_with_leaf(const struct pst_cpu *c,
						   const struct pst_cpu_fn *f)
{
	for (size_t i = 0; i < c->nhot; i++)
		if (c->hot[i].depth && !strncmp(c->hot[i].frames[0], f->function, strlen(f->function)))
			return &c->hot[i];
	return NULL;
}

static int rule_hot(const struct pst_cpu *c, struct pst_findings *out)
{
	const struct pst_cpu_fn *fn = c->nfns ? &c->fns[0] : NULL;
	char title[512], advice[1024];
	struct pst_finding *f;
	double p;

	if (c->samples < MIN_SAMPLES || !fn || fn->self < HOT_SHARE * c->samples)
		return 0;
	p = pct(fn->self, c->samples);
	snprintf(title, sizeof(title), "%s takes %.0f%% of the CPU samples", fn->function, p);
	snprintf(advice, sizeof(advice),
		 "%.0f%% of the samples are in %s itself (%.0f%% with what it calls): make "
		 "its work cheaper or call it less often; its callers are in the stack below.",
		 p, fn->function, pct(fn->total, c->samples));
	f = add(out, "cpu-hot-function", p >= 50 ? PST_SEV_HIGH : PST_SEV_MEDIUM, title, advice,
		stack_with_leaf(c, fn));
	if (!f)
		return -ENOMEM;
	pst_ev_int(f, "self", (double)fn->self);
	pst_ev_int(f, "total", (double)fn->total);
	pst_ev_int(f, "samples", (double)c->samples);
	pst_ev_real(f, "self_pct", round(p * 10) / 10);
	return 0;
}

static int rule_blocked(const struct pst_cpu *c, struct pst_findings *out)
{
	char title[512], advice[1024], t[32];

	for (size_t i = 0; i < c->nblocked && i < 3; i++) {
		const struct pst_cpu_stack *st = &c->blocked[i];
		double p = pct(st->blocked_ns, c->blocked_ns);
		struct pst_finding *f;

		if (p < BLOCK_SHARE * 100 || !st->depth)
			break;
		snprintf(title, sizeof(title), "threads block %s in %s (%.0f%% of the time blocked)",
			 pst_fmt_ns(st->blocked_ns, t, sizeof(t)), st->reason ? st->reason : st->frames[0],
			 p);
		snprintf(advice, sizeof(advice),
			 "%" PRIu64 " waits of %s on average end in %s: if this wait is on the critical "
			 "path, make it asynchronous, batch it or wait less often.",
			 st->samples, pst_fmt_ns(st->samples ? st->blocked_ns / st->samples : 0, t, sizeof(t)),
			 st->frames[0]);
		f = add(out, "offcpu-blocked", p >= 50 ? PST_SEV_MEDIUM : PST_SEV_LOW, title, advice,
			st);
		if (!f)
			return -ENOMEM;
		pst_ev_int(f, "blocked_ns", (double)st->blocked_ns);
		pst_ev_int(f, "waits", (double)st->samples);
		pst_ev_real(f, "blocked_pct", round(p * 10) / 10);
	}
	return 0;
}

static int rule_truncated(const struct pst_cpu *c, struct pst_findings *out)
{
	char title[512];
	struct pst_finding *f;

	if (c->samples < MIN_SAMPLES || c->truncated * 10 <= c->samples)
		return 0;
	snprintf(title, sizeof(title), "%.0f%% of the sampled stacks are truncated",
		 pct(c->truncated, c->samples));
	f = add(out, "cpu-truncated-stacks", PST_SEV_LOW, title,
		"their callers are unknown, so totals are too low: build with "
		"-fno-omit-frame-pointer or keep .eh_frame, and record with --call-graph dwarf.",
		NULL);
	if (!f)
		return -ENOMEM;
	pst_ev_int(f, "truncated", (double)c->truncated);
	pst_ev_int(f, "samples", (double)c->samples);
	return 0;
}

int pst_findings_cpu(const struct pst_cpu *c, struct pst_findings *out)
{
	if (!c || !c->present)
		return 0;
	if (rule_hot(c, out) || rule_blocked(c, out) || rule_truncated(c, out))
		return -ENOMEM;
	return 0;
}
