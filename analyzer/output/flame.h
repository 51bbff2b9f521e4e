/* SPDX-License-Identifier: MIT */
/* Flame graphs and exports: metrics, symbolized stacks with values, and the writers that render
 * them. */
#ifndef PST_FLAME_H
#define PST_FLAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Where a frame's code lives: decides its colour. */
enum pst_fkind { PST_FK_OWN, PST_FK_LIB, PST_FK_KERNEL, PST_FK_UNKNOWN };

struct pst_stack_stats;
struct pst_stack;
struct pst_trace;
struct pst_symbolizer;
struct pst_flame;

/* One metric a flame graph can show: a family offers its own
 * (pst_family_ops.metrics), flame lists them all by rank. */
struct pst_metric {
	const char *name;	/* "alloc-bytes", as given to --metric */
	const char *what;	/* "bytes allocated", for titles */
	const char *unit;	/* "bytes", "count" or "nanoseconds" */
	const char *pprof_type; /* sample type in pprof: "alloc_space" */
	int rank;		/* place in the list: the first a trace has is its default */
	bool needs_peaks;					/* memory: needs the second pass */
	double (*site_value)(const struct pst_stack_stats *st); /* memory metrics */
	/* Does t hold data of this metric? */
	bool (*present)(const struct pst_trace *t);
	/* Add the stacks of the trace in slot with their values to fl (the
	 * metric is fl->metric). 0, -ENOMEM or another -errno. */
	int (*collect)(struct pst_flame *fl, unsigned slot);
	/* pprof: the sample types beside the metric's own (Go's heap profile, or
	 * samples/count beside CPU time); plain when not set. */
	enum pst_pprof_shape { PST_PPROF_PLAIN, PST_PPROF_HEAP, PST_PPROF_CPU } pprof_shape;
};

/* A function-level frame shared by stacks. Strings are owned by the flame
 * (its symbolizers and string pool). */
struct pst_ffunc {
	const char *name;   /* function, or "[module+0xoff]" when unresolved */
	const char *file;   /* NULL when unknown */
	int start_line;	    /* 0 when unknown */
	const char *module; /* NULL when unknown */
	enum pst_fkind kind;
};

/* One source line of a location: func indexes pst_flame.funcs. */
struct pst_fline {
	uint32_t func;
	int line;
};

/* One code address with its lines, innermost inlined first. */
struct pst_floc {
	uint64_t addr;		/* the call instruction (return address - 1) */
	uint32_t mapping;	/* index into mappings + 1; 0: none */
	uint32_t first, nlines; /* into pst_flame.lines */
	unsigned slot;		/* which trace it came from */
};

/* A loaded object, for pprof. */
struct pst_fmap {
	uint64_t lo, hi, file_offset;
	const char *path;
	const char *build_id; /* hex; "" when unknown */
	unsigned slot;
};

/* A stack with its values: funcs root first, locs leaf first. */
struct pst_fstack {
	uint32_t *funcs;
	size_t depth;
	uint32_t *locs;
	size_t nlocs;
	int64_t value[2]; /* [0] this trace (or BASE), [1] NEW in a diff */
	int64_t heap[4];  /* with pst_flame.heap_values: Go's heap profile types */
	uint64_t pid, tid; /* CPU: the process and (per_thread) thread sampled; 0: unknown */
	/* record -a: the stack's identity in its trace (process, thread, stack
	 * ids), the same at every read of a growing trace however its frames
	 * read; 0: none */
	uint64_t raw;
};

/* pst_fstack.heap, in the order and with the names of Go's heap profiles. */
enum { PST_HEAP_ALLOC_OBJECTS, PST_HEAP_ALLOC_SPACE, PST_HEAP_INUSE_OBJECTS, PST_HEAP_INUSE_SPACE };

struct pst_fpool;

/* Stacks of one metric over one trace, or two for a differential graph. */
struct pst_flame {
	const struct pst_metric *metric;
	const char *program; /* base name of the (NEW) trace's program */
	unsigned nslots;     /* 1, or 2 in a diff */
	bool normalize;	     /* diff: BASE scaled to NEW's total for colours */
	struct pst_ffunc *funcs;
	size_t nfuncs;
	struct pst_fline *lines;
	size_t nlines;
	struct pst_floc *locs;
	size_t nlocs;
	struct pst_fmap *maps;
	size_t nmaps;
	struct pst_fstack *stacks; /* sorted: by names root first, then ids */
	size_t nstacks;
	int64_t total[2];
	uint64_t period; /* pprof: bytes per sample, 1 when exact */
	uint64_t start_realtime_ns, duration_ns;
	bool heap_values;	/* memory metrics: fill pst_fstack.heap too (pprof) */
	bool shorten_templates; /* C++ names without template arguments */
	bool per_thread;	/* CPU metrics: a stack per thread (pst_fstack.tid) */
	bool quiet;		/* no warnings about the traces (push reads a live one often) */
	/* CPU: only the stacks this says yes to, by pst_fstack.raw (0 for
	 * all of a trace without) and value, have their frames read and are
	 * collected; NULL: all */
	bool (*keep)(uint64_t raw, int64_t value, void *arg);
	void *keep_arg;
	struct pst_fpool *pool; /* private */
};

/* SVG rendering settings. */
struct pst_svg_opts {
	double min_width;  /* frames narrower than this many pixels are merged */
	const char *title; /* NULL: program, metric and totals */
};

/* flame.c: the flame command's work, from the options cli/flame_cmd.c
 * parsed. */
enum pst_flame_format { PST_FLAME_SVG, PST_FLAME_FOLDED, PST_FLAME_SPEEDSCOPE, PST_FLAME_PPROF };

struct pst_flame_options {
	const char *metric; /* NULL: the first one the traces have */
	enum pst_flame_format format;
	const char *output; /* NULL: standard output */
	bool normalize;
	bool shorten_templates; /* --shorten-templates */
	struct pst_svg_opts svg;
	char *const *paths; /* TRACE, or BASE and NEW (traces or folded stacks) */
	int npaths;
};

/* Read, draw and write: 0, 1 when a trace cannot be read (or is damaged),
 * 2 on a metric the traces lack or inputs that do not go together. */
int pst_flame_run(const struct pst_flame_options *o);

/* flame --all (flame_all.c): one graph over the traces of every process of
 * the session label names, each stack under a root frame "[program]".
 * The command's exit status. */
int pst_flame_run_all(const struct pst_flame_options *o, const char *label);

/* The first half of pst_flame_run: open o's traces into fl (its settings
 * filled in by the caller), collect the metric's stacks and sort them;
 * *damaged when a trace ends in damage. 0, or the command's status after
 * saying why. pst_flame_release frees what it took, even after a failure. */
int pst_flame_prepare(struct pst_flame *fl, const struct pst_flame_options *o, bool *damaged);

/* flame.c: the stacks of metric m in the trace at path into fl, sorted,
 * for outputs that draw several metrics of one trace (report --html): 0,
 * -ENODATA when the trace has none of it, -EIO when it cannot be read,
 * -ENOMEM. Release fl with pst_flame_release whatever it returned. */
int pst_flame_load(struct pst_flame *fl, const char *path, const struct pst_metric *m);
void pst_flame_release(struct pst_flame *fl);

/* flame.c: every family's metrics by rank, in the order `--help` lists
 * them; returns how many, *out the list. */
size_t pst_flame_metric_list(const struct pst_metric *const **out);

/* The metric of that name, or NULL. */
const struct pst_metric *pst_flame_metric_find(const char *name);

/* flame.c, for a metric's collect: the trace in slot, its symbolizer, one
 * stack of addresses (NULL: none) with value v, and the CPU records'
 * stacks (off: the off-CPU ones). 0 or -ENOMEM. */
struct pst_trace *pst_flame_trace(const struct pst_flame *fl, unsigned slot);
struct pst_symbolizer *pst_flame_symbolizer(const struct pst_flame *fl, unsigned slot);
int pst_flame_add_stack(struct pst_flame *fl, unsigned slot, const struct pst_stack *stk,
			int64_t v);
int pst_flame_collect_cpu(struct pst_flame *fl, unsigned slot, bool off);

/* The program's base name in trace t. */
const char *pst_flame_program(const struct pst_trace *t);

/* Suffix of a kernel frame's name in folded stacks, as flamegraph.pl marks them. */
#define PST_FOLDED_KERNEL "_[k]"

/* flame.c: "a;b;c" names of stack s with ';' and line breaks replaced and
 * kernel frames marked, for folded output; written to f. */
void pst_flame_put_folded_stack(FILE *f, const struct pst_flame *fl, const struct pst_fstack *s);

/* flame.c: add one stack of named frames (root first, each with its kind)
 * with value v to slot: for folded input and stacks without addresses.
 * 0 or -ENOMEM. */
int pst_flame_add_named(struct pst_flame *fl, unsigned slot, const char *const *names,
			const enum pst_fkind *kinds, size_t n, int64_t v);

/* folded_read.c: does the file at path hold text (folded stacks) rather
 * than a trace? */
bool pst_folded_detect(const char *path);

/* folded_read.c: read the folded stacks of path into slot of fl, or into
 * slots 0 and 1 when every line has two counts (*two set: a differential).
 * 0; -1 for bad input, with "PATH:LINE: why" in err; -ENOMEM; or -errno
 * when the file cannot be read, with err saying so. */
int pst_folded_read(struct pst_flame *fl, unsigned slot, const char *path, bool *two, char *err,
		    size_t errlen);

/* flame_folded.c: `root;...;leaf count` lines (`count_a count_b` in a diff). */
int pst_flame_write_folded(FILE *f, const struct pst_flame *fl);

/* flame_svg.c: one self-contained interactive SVG. */
int pst_flame_write_svg(FILE *f, const struct pst_flame *fl, const struct pst_svg_opts *o);

/* flame_speedscope.c: speedscope's JSON file format, one sampled profile. */
int pst_flame_write_speedscope(FILE *f, const struct pst_flame *fl);

/* flame_pprof.c: gzipped profile.proto. */
int pst_flame_write_pprof(FILE *f, const struct pst_flame *fl);

#endif
