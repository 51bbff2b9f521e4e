/* SPDX-License-Identifier: MIT */
/* Threads, locks and thread pools: what the THR_*, WAIT and LOCK_STATS records of a trace say. */
#ifndef PST_THREADS_H
#define PST_THREADS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memory.h"

struct pst_trace;
struct pst_symbolizer;

/* One thread's life. Times are CLOCK_MONOTONIC ns. */
struct pst_thr_life {
	uint64_t tid, parent, routine, create_stack;
	uint64_t start_ts, end_ts, cpu_ns;
	bool created;       /* seen starting through pthread_create */
	bool alive_at_exit; /* still running when the process ended */
	bool main;
	bool cpu_known;     /* cpu_ns is its CPU clock at the end */
	uint64_t runnable_ns; /* runnable, not running (0 when not known) */
	uint64_t idle_ns;      /* off the CPU and not waiting for a lock or a join:
				* cond and semaphore waits, and (with cpu_known)
				* epoll, poll, select, reads, sleeps */
	uint64_t lock_wait_ns; /* in contended lock acquisitions */
	uint64_t join_ns;      /* in pthread_join */
	uint64_t tasks;        /* cond/semaphore waits that ended in a wake-up */
	size_t group;          /* index in groups, SIZE_MAX when none */
};

/* The stacks a lock was waited for from, largest total first. */
#define PST_LOCK_TOP_STACKS 3
struct pst_wait_site {
	uint64_t stack, count, wait_ns, max_wait_ns;
	struct pst_site site;
};

struct pst_lock {
	uint64_t addr;
	unsigned kind;          /* enum pst_wait_kind: MUTEX, WRLOCK (any rwlock), SPIN, COND, SEM */
	uint64_t first_stack, first_ts;
	uint64_t acquisitions, reads, contended, wait_ns, max_wait_ns;
	uint64_t max_stack;
	double wait_share;      /* wait_ns over all threads' lifetimes */
	struct pst_site first_use;
	struct pst_wait_site top[PST_LOCK_TOP_STACKS];
	size_t ntop;
};

struct pst_size_point {
	uint64_t t_ns; /* relative to the process start */
	uint64_t threads;
};

/* Threads of one start routine created from one stack: a pool, or churn. */
struct pst_thr_group {
	uint64_t routine, create_stack;
	char *routine_name;
	struct pst_site created_at;
	uint64_t threads, peak, peak_busy;
	uint64_t lifetime_ns, idle_ns, lock_wait_ns, cpu_ns, tasks;
	uint64_t lifetime_p50;
	uint64_t span_ns;          /* time with at least one thread of the group alive */
	uint64_t saturated_ns;     /* all alive threads busy while a thread outside waited */
	double busy_fraction;
	struct pst_size_point *sizes; /* size over time, at most PST_SIZE_POINTS */
	size_t nsizes;
};
#define PST_SIZE_POINTS 64

struct pst_threads {
	bool seen;                 /* the trace has thread records at all */
	uint64_t created, peak_concurrent, ncpu, untracked_locks;
	uint64_t duration_ns, total_thread_ns;
	uint64_t lifetime_p50, lifetime_p99, lifetime_max;
	uint64_t lifetime_hist[40]; /* bucket b: lifetimes in [2^(b-1), 2^b) ns */
	double creation_rate;      /* created per second of the process's life */
	struct pst_thr_life *threads;
	size_t nthreads;
	struct pst_thr_group *groups; /* by threads, descending */
	size_t ngroups;
	struct pst_lock *locks;    /* by wait_ns, then acquisitions, descending */
	size_t nlocks;
};

/* Read the threads and locks records of t, symbolize their stacks with sym
 * (may be NULL). NULL when out of memory. */
struct pst_threads *pst_threads_analyze(const struct pst_trace *t, struct pst_symbolizer *sym);

/* Contended lock acquisitions (mutex, rwlock, spinlock) of t by the stack
 * that waited: cb(stack id (0: none), total wait ns, waits, arg) once per
 * stack, in id order. 0, -ENOMEM, or cb's non-zero value, which stops. */
typedef int (*pst_lock_wait_fn)(uint64_t stack, uint64_t wait_ns, uint64_t waits, void *arg);
int pst_threads_lock_waits(const struct pst_trace *t, pst_lock_wait_fn cb, void *arg);

/* "mutex", "rwlock", "spin", "cond", "sem". */
const char *pst_lock_kind_name(unsigned kind);

void pst_threads_free(struct pst_threads *th);

#endif
