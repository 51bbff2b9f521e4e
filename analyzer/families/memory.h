/* SPDX-License-Identifier: MIT */
/* Memory analysis of a trace: totals, heap peak, leaks, temporaries and allocation sites. */
#ifndef PST_MEMORY_H
#define PST_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace.h"

struct pst_trace;
struct pst_symbolizer;

/*
 * Counts are weighted: in full mode every event weighs 1; in sampled mode
 * an event of size s weighs 1 / (1 - exp(-s / sample_bytes)) calls and
 * s times that in bytes. Weighted values are doubles; in full mode they
 * hold exact integers.
 */
struct pst_stack_stats {
	double calls, bytes;        /* ALLOC and REALLOC events of this stack */
	double peak_bytes;          /* live at the global heap peak */
	double max_live;            /* most bytes live at once (per site after
				     * pst_memory_build or pst_memory_peaks;
				     * per stack id its own) */
	double leaked_bytes, leaked; /* still live at the end */
	double lost_bytes, lost;    /* of those, unreachable at exit (LEAK_SCAN) */
	double temporary;           /* freed with no other allocation or free by the
				     * thread in between (heaptrack's rule) */
	double short_lived;         /* freed within PST_SHORT_LIVED_NS */
	double freed;               /* blocks of this stack that were freed */
	double reallocs;            /* REALLOC events of this stack */
	double chains;              /* realloc chains that ended at this stack */
	double geometric_chains;    /* of them, every move grew by an eighth or more */
	double chain_len_sum;       /* their lengths, weighted */
	double final_size_sum;      /* their final sizes, weighted */
	uint64_t final_size_max;
	uint32_t max_chain;         /* longest realloc chain through this stack */
	uint64_t min_size, max_size;
	uint64_t events;            /* raw ALLOC + REALLOC records */
};

/* A block freed within this time after its allocation counts as short-lived:
 * a millisecond is shorter than any unit of work worth a heap block of its own
 * (a request, a frame, a parse), so such blocks are churn a reused buffer
 * would absorb. */
#define PST_SHORT_LIVED_NS 1000000ull

/* An allocation site after symbolization: stacks with identical symbolized
 * frames are merged into one. */
struct pst_site {
	char *function, *file; /* NULL when unknown */
	int line;              /* 0 when unknown */
	char **stack;          /* "fn (file:line)", innermost first, the allocator's
				* frames dropped, the program's own wrappers kept
				* (function is then the wrapper's caller) */
	size_t depth;
	uint64_t first_stack_id; /* smallest stack id merged here (0: none) */
	bool runtime;            /* every frame is the allocator's or the runtime's
				  * (e.g. libstdc++'s start-up pool): nothing to change */
	bool suppressed;         /* its leak matches a suppression (suppress.c) */
	struct pst_stack_stats st;
};

struct pst_thread_totals {
	uint64_t tid;
	const char *name; /* from THREAD, owned by the trace; NULL when none */
	uint64_t alloc_calls, free_calls, alloc_bytes;
};

struct pst_memory {
	bool full;
	uint64_t sample_bytes;
	uint64_t duration_ns; /* end_ts - start_monotonic_ns */

	/* Exact when totals_exact (from TOTALS), else estimated from events. */
	bool totals_exact;
	uint64_t alloc_calls, free_calls, allocated_bytes;
	uint64_t hist[PST_HIST_BUCKETS]; /* bucket b: see pst_size_bucket */

	/* From events, weighted. */
	double ev_alloc_calls, ev_free_calls, ev_bytes;
	uint64_t events, unmatched_frees;
	double peak_heap_bytes;
	uint64_t peak_time_ns;  /* relative to the process start */
	uint64_t peak_event;    /* ordinal of the event that reached the peak; 0: none */
	double leaked_bytes, leaked_allocations, temporary_allocations;
	bool temporary_counted; /* sampled: temporary_allocations is the threads'
				 * exact count (else sampled blocks' estimate) */
	/* The preload's reachability scan at exit, when the trace has one:
	 * leaked blocks split into lost (no pointer to them left) and still
	 * reachable. */
	bool reach_known;
	double lost_bytes, lost_allocations, reachable_bytes;
	uint64_t reach_running, reach_unknown; /* threads not stopped; not scanned */
	/* The scans `prestanda scan` asked for while the program ran, in time
	 * order, each matched against the blocks live at its time. */
	struct pst_mem_scan *scans;
	size_t nscans;
	/* report --suppressions: the leaks of sites it matched (in the figures
	 * above too, but no finding) */
	bool suppressions;
	double suppressed_bytes, suppressed_allocations;
	double reallocs;

	struct pst_thread_totals *threads; /* by tid */
	size_t nthreads;

	/* Per stack id: index i is trace->stacks[i]; index nstacks is "no stack". */
	struct pst_stack_stats *per_stack;
	size_t nper_stack;

	/* Filled by pst_memory_sites, sorted by calls, then bytes. */
	struct pst_site *sites;
	size_t nsites;
	uint32_t *site_of; /* per_stack index -> sites index (UINT32_MAX: none) */
	bool sites_exact;  /* the sites' peak_bytes and max_live are final */
	struct pst_site_index *site_ix; /* private: sites by key, while building */
};

/* Called now and then while reading: pass is 1, or 2 for pst_memory_peaks. */
typedef void (*pst_progress_fn)(const struct pst_trace *t, int pass, void *arg);

/*
 * pst_memory_build reads every event once and, as each stack shows up,
 * symbolizes it and merges it into its site: totals, the heap peak, leaks,
 * temporaries, per stack id and per site, including each site's own peak
 * and its live bytes at the global peak. Memory is bounded by the stacks
 * and the blocks live at once, not by the trace.
 *
 * The same in steps, for callers that want the per-stack figures before
 * symbolizing: pst_memory_analyze reads the events (per stack id, with each
 * stack's live bytes at the global peak); pst_memory_sites merges stacks
 * into sites (peak_bytes is then final; max_live is an upper bound);
 * pst_memory_peaks reads the events again for each site's own max_live.
 */

/* All of it in one pass over the events; NULL when out of memory. */
struct pst_memory *pst_memory_build(struct pst_trace *t, struct pst_symbolizer *sym,
				    pst_progress_fn progress, void *arg);

/* Per stack id. Returns a result to free with pst_memory_free, or NULL when
 * out of memory. */
struct pst_memory *pst_memory_analyze(struct pst_trace *t, pst_progress_fn progress, void *arg);

/* Symbolize the stacks with sym (may be NULL: addresses only) and merge them
 * into sites. Returns 0 or -ENOMEM. */
int pst_memory_sites(struct pst_memory *m, const struct pst_trace *t, struct pst_symbolizer *sym);

/* After pst_memory_sites: exact max_live per site (a second pass unless the
 * sites came from pst_memory_build). Returns 0 or -ENOMEM. */
int pst_memory_peaks(struct pst_memory *m, struct pst_trace *t, pst_progress_fn progress,
		     void *arg);

/* Between memory.c and sites.c: the site of per_stack index i, symbolized
 * and merged now (its statistics are added by pst_memory_sites). Returns
 * its index in sites, or -ENOMEM. */
long pst_site_map(struct pst_memory *m, const struct pst_trace *t, struct pst_symbolizer *sym,
		  size_t i);
void pst_site_index_free(struct pst_memory *m);

/* True when a frame with this function (and module path, either NULL) is
 * part of the allocator rather than its caller: malloc and friends,
 * operator new/delete, the C and C++ runtime libraries. */
bool pst_is_alloc_wrapper(const char *function, const char *module);

/* The weight of a sampled event of size bytes. */
double pst_sample_weight(uint64_t size, uint64_t sample_bytes);

/* "function (file:line)", else the function, else the top frame: how
 * reports and findings name a site. */
void pst_site_name(const struct pst_site *s, char *buf, size_t len);

/* Add s's statistics to d's: counts and sums added, extremes kept; the peaks
 * (max_live, peak_bytes) added too when peaks (their sum is an upper bound). */
void pst_stats_add(struct pst_stack_stats *d, const struct pst_stack_stats *s, bool peaks);

/* Average size of a site's allocations (bytes / calls), 0 when none. */
double pst_site_avg_size(const struct pst_site *s);

void pst_memory_free(struct pst_memory *m);

/* One scan on demand, evaluated: weighted like every sampled figure. */
struct pst_mem_scan {
	uint64_t time_ns; /* since the process start: when it copied the live blocks */
	double lost_allocations, lost_bytes, reachable_allocations, reachable_bytes;
	uint64_t scan_ns, running, unknown;
};

/* reach.c: the scan's list of lost (or reachable) block addresses: the
 * one at exit, and in demand those asked for while the program ran. */
struct pst_reach {
	bool known;           /* the trace has a LEAK_SCAN */
	bool list_reachable;  /* ptr lists the reachable blocks, else the lost */
	uint64_t *ptr;        /* ascending */
	size_t n, cap;
	uint64_t prev, running, unknown;
	uint64_t ts, scan_ns; /* its LEAK_SCAN's */
	struct pst_reach *demand; /* flags bit 1, in file (time) order */
	size_t ndemand;
	long cur;             /* which list LEAK_PTR adds to: -1 the exit's */
};
int pst_reach_load(const struct pst_trace *t, struct pst_reach *r);
bool pst_reach_lost(const struct pst_reach *r, uint64_t ptr);
void pst_reach_free(struct pst_reach *r);

/* The memory family's result in a report (family.h): the analysis, and
 * whether its exact totals are the last snapshot's. */
struct pst_memory_result {
	struct pst_memory *m;
	bool totals_from_snapshot;
};

#endif
