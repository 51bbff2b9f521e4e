/* SPDX-License-Identifier: MIT */
/* CPU samples of a trace (preload timers or eBPF): functions by self and total samples, threads, off-CPU stacks. */
#ifndef PST_CPU_H
#define PST_CPU_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "symbolize.h"
#include "trace_read.h"

struct pst_cpu_fn {
	char *function; /* "[unknown]" when not symbolized */
	char *file;     /* source file, NULL when unknown */
	char *module;   /* object path, "[kernel]" or "[kernel:mod]", NULL when unknown */
	uint64_t self;  /* samples whose innermost frame is in it */
	uint64_t total; /* samples whose stack holds it, once per sample */
	uint64_t stamp; /* private */
};

struct pst_cpu_thread {
	uint64_t pid, tid;
	const char *name; /* NULL when the trace has none */
	uint64_t samples, blocked_ns, waits;
};

/* A whole stack (kernel frames first, innermost first), symbolized. */
struct pst_cpu_stack {
	uint64_t pid, tid;
	char **frames;
	size_t depth;
	uint64_t samples;    /* on-CPU samples, or off-CPU waits */
	uint64_t blocked_ns; /* off-CPU only */
	bool truncated;
	const char *reason; /* off-CPU: the innermost frame with source, or the innermost user frame */
};

struct pst_cpu {
	bool present; /* the trace has CPU records */
	uint64_t source, hz, flags, stack_bytes;
	uint64_t samples, truncated, kernel_lost;
	uint64_t blocked_samples; /* wall clock: samples of threads blocked in the kernel */
	uint64_t duration_ns, lost_events;
	uint64_t median_depth;
	struct pst_cpu_fn *fns; /* by self, then total, descending */
	size_t nfns;
	struct pst_cpu_thread *threads; /* by samples, descending */
	size_t nthreads;
	struct pst_cpu_thread *procs; /* per process: tid 0 */
	size_t nprocs;
	struct pst_cpu_stack *hot; /* top stacks by samples */
	size_t nhot;
	uint64_t blocked_ns, waits;
	struct pst_cpu_stack *blocked; /* top off-CPU stacks by time */
	size_t nblocked;
	char **warnings;
	size_t nwarnings;
};

/* Read and aggregate the CPU records of t. Returns NULL without memory;
 * c->present is false when t has none. */
struct pst_cpu *pst_cpu_analyze(const struct pst_trace *t);

/* The report's "cpu" object; top limits the lists (0: all). */
json_t *pst_cpu_json(const struct pst_cpu *c, size_t top);

/* The text section is the family's (pst_family_cpu, family.h); its
 * findings are pst_findings_cpu (findings.h). */

void pst_cpu_free(struct pst_cpu *c);

/* One aggregated stack of t's SAMPLE or OFFCPU records (per thread, user
 * stack, kernel stack and flags), as pst_cpu_foreach_stack hands them out. */
struct pst_cpu_row {
	uint64_t pid, tid;
	bool off;		     /* OFFCPU: blocked_ns is its time */
	uint64_t count, blocked_ns;  /* samples, or waits and their time */
	const struct pst_stack *kstack, *ustack; /* NULL: none */
	struct pst_symbolizer *sym;  /* the process's address space; NULL: no user frames */
	const char *comm;	     /* the process's name, NULL when unknown */
	const struct pst_cpu *cpu;   /* only the CPU_CONFIG fields (hz, flags) are set */
	void *priv;
};
typedef int (*pst_cpu_row_fn)(const struct pst_cpu_row *r, void *arg);

/* Every aggregated stack of t's CPU records, in no set order; strings live
 * until cb returns. The processes' symbolizers share share's files and
 * warnings (NULL: their own). 0, -ENOMEM, or cb's non-zero value, which
 * stops. */
int pst_cpu_foreach_stack(const struct pst_trace *t, struct pst_symbolizer *share,
			  pst_cpu_row_fn cb, void *arg);

/* Frame i of r (kernel frames first, each stack innermost first) into fr:
 * a user frame with its inlined frames, innermost first (returns how many);
 * a kernel frame as one zeroed frame with *kname (NULL when unknown) and
 * *kmodule (NULL: the kernel itself). */
int pst_cpu_row_frame(const struct pst_cpu_row *r, size_t i, struct pst_frame *fr, int max,
		      const char **kname, const char **kmodule);

#endif
