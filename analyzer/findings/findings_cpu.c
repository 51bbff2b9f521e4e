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

/* The profiler that names a runtime's compiled code, by the process's name
 * (the busiest process of the trace). */
static const char *jit_profiler(const struct pst_cpu *c)
{
	const char *n = c->nprocs && c->procs[0].name ? c->procs[0].name : "";

	if (!strncmp(n, "java", 4))
		return "the JVM's own: JDK Flight Recorder (jcmd PID JFR.start) or async-profiler; "
		       "or -XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit for a "
		       "/tmp/perf-PID.map of its methods";
	if (!strncmp(n, "node", 4))
		return "node's own: node --cpu-prof, or --perf-basic-prof for a /tmp/perf-PID.map "
		       "of its functions";
	if (!strncmp(n, "python", 6))
		return "the interpreter's own: py-spy, or python -X perf (3.12 and later)";
	if (!strncmp(n, "dotnet", 6))
		return ".NET's own: dotnet-trace, or DOTNET_PerfMapEnabled=1";
	return "the runtime's own (JDK Flight Recorder or async-profiler for the JVM, "
	       "node --cpu-prof, py-spy, dotnet-trace), or one that writes /tmp/perf-PID.map";
}

/* The hottest function is code outside every loaded object: a JIT's. */
static void hot_jit_text(const struct pst_cpu *c, const struct pst_cpu_fn *fn, double p,
			 char *title, size_t tlen, char *advice, size_t alen)
{
	snprintf(title, tlen, "JIT-compiled code takes %.0f%% of the CPU samples", p);
	snprintf(advice, alen,
		 "%.0f%% of the samples are in code outside every loaded object (an anonymous "
		 "executable mapping, shown as %s): code a runtime compiled as the program ran, "
		 "which no symbol table names. Profile it with %s.",
		 p, fn->function, jit_profiler(c));
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
	if (!fn->module && !strcmp(fn->function, "[unknown]"))
		hot_jit_text(c, fn, p, title, sizeof(title), advice, sizeof(advice));
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
	/* Already unwound with DWARF: asking for DWARF again would not help. */
	f = add(out, "cpu-truncated-stacks", PST_SEV_LOW, title,
		c->flags & PST_CPU_DWARF ?
			"their callers are unknown, so totals are too low, although the stacks "
			"were unwound with DWARF CFI: code without CFI stopped the walk (JIT "
			"code, hand-written assembly, an object stripped of .eh_frame), or the "
			"stack copy ended first. Build such code with -fno-omit-frame-pointer "
			"or keep its .eh_frame; for JIT code use the runtime's own profiler." :
			"their callers are unknown, so totals are too low: build with "
			"-fno-omit-frame-pointer or keep .eh_frame, and record with --call-graph "
			"dwarf.",
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
