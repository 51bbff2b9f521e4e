/* SPDX-License-Identifier: MIT */
/* Findings about threads and locks: thread churn, oversized and undersized pools, contended locks. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "findings.h"
#include "threads.h"
#include "units.h"

/*
 * Thread churn. Creating and ending a thread costs some 10-50 us (a stack
 * mapping, clone, the scheduler, the exit and join); a thread that lives
 * under 100 ms spends a visible share of its life being made, and many of
 * them from one routine are a pool that was not written. "Many": 50, more
 * than any fixed set of helper threads. Not all at once: a group whose peak
 * is most of its threads is one batch, already a pool in effect.
 */
#define CHURN_MIN_THREADS 50
#define CHURN_MAX_LIFETIME_NS 100000000ull
#define CHURN_HIGH_RATE 1000.0
#define CHURN_MEDIUM_RATE 100.0
/* A group whose threads spend half their life on a CPU is CPU-bound: a
 * pool larger than the cores would only queue. */
#define CPU_BOUND_SHARE 0.5

/*
 * Oversized pool: at least 4 long-lived threads (longer than churn) that
 * sit idle (off the CPU, not waiting for a lock) 80% of their lives. The advice keeps
 * enough threads to be busy at most half of the time.
 */
#define POOL_MIN_THREADS 4
#define POOL_IDLE_SHARE 0.80
#define POOL_TARGET_BUSY 0.5

/*
 * Undersized pool: for at least half the time the group ran, every one of
 * its threads was busy while a thread outside it waited, the group's
 * threads were busy 80% of their lives, and the machine has more cores.
 */
#define UNDER_SATURATED_SHARE 0.5
#define UNDER_BUSY 0.80
#define UNDER_MIN_SPAN_NS 10000000ull

/*
 * Contended lock: its waits add up to at least 1% of all threads' time and
 * to at least a millisecond; severity by share.
 */
#define LOCK_MIN_SHARE 0.01
#define LOCK_MIN_WAIT_NS 1000000ull
#define LOCK_MEDIUM_SHARE 0.05
#define LOCK_HIGH_SHARE 0.20

static int check(struct pst_finding *f)
{
	return f->title && f->advice ? 0 : -ENOMEM;
}

static double cpu_share(const struct pst_thr_group *g)
{
	return g->lifetime_ns ? (double)g->cpu_ns / (double)g->lifetime_ns : 0;
}

static int rule_churn(const struct pst_threads *th, const struct pst_thr_group *g,
		      struct pst_findings *out)
{
	double secs = th->duration_ns / 1e9, rate, cs = cpu_share(g);
	uint64_t pool;
	char lt[32], r[32];
	enum pst_severity sev;
	struct pst_finding *f;

	if (g->threads < CHURN_MIN_THREADS || g->lifetime_p50 > CHURN_MAX_LIFETIME_NS ||
	    g->peak * 2 > g->threads || secs <= 0)
		return 0;
	rate = g->threads / secs;
	sev = rate >= CHURN_HIGH_RATE ? PST_SEV_HIGH :
	      rate >= CHURN_MEDIUM_RATE ? PST_SEV_MEDIUM : PST_SEV_LOW;
	pool = g->peak;
	if (cs >= CPU_BOUND_SHARE && th->ncpu && pool > th->ncpu)
		pool = th->ncpu;
	if (!pool)
		pool = 1;
	if (!(f = pst_finding_add(out, "thread-churn", sev, &g->created_at)))
		return -ENOMEM;
	f->score = (double)g->threads;
	pst_fmt_ns(g->lifetime_p50, lt, sizeof(lt));
	pst_fmt_short(rate, r, sizeof(r));
	f->title = pst_xasprintf("%llu short-lived threads started at %s (%s per second)",
			     (unsigned long long)g->threads, g->routine_name, r);
	f->advice = pst_xasprintf(
		"%llu threads ran %s, each for %s (median), at most %llu at once; %s of their "
		"time was on a CPU and the machine has %llu cores. Start a pool of %llu "
		"thread%s once and hand them the work through a queue instead of a thread per "
		"task: that saves %llu thread creations and exits.",
		(unsigned long long)g->threads, g->routine_name, lt, (unsigned long long)g->peak,
		cs >= CPU_BOUND_SHARE ? "most" : "little", (unsigned long long)th->ncpu,
		(unsigned long long)pool, pool == 1 ? "" : "s",
		(unsigned long long)(g->threads - pool));
	if (check(f) || pst_ev_str(f, "start_routine", g->routine_name))
		return -ENOMEM;
	pst_ev_int(f, "threads", (double)g->threads);
	pst_ev_int(f, "peak_concurrent", (double)g->peak);
	pst_ev_int(f, "median_lifetime_ns", (double)g->lifetime_p50);
	pst_ev_real(f, "threads_per_second", rate);
	pst_ev_real(f, "cpu_share", cs);
	pst_ev_int(f, "cores", (double)th->ncpu);
	pst_ev_int(f, "pool_size", (double)pool);
	return 0;
}

static int rule_oversized(const struct pst_threads *th, const struct pst_thr_group *g,
			  struct pst_findings *out)
{
	double idle = 1.0 - g->busy_fraction, avg_busy;
	uint64_t want;
	char it[32];
	struct pst_finding *f;

	(void)th;
	if (g->threads < POOL_MIN_THREADS || g->lifetime_p50 <= CHURN_MAX_LIFETIME_NS ||
	    idle < POOL_IDLE_SHARE || !g->span_ns)
		return 0;
	avg_busy = (double)(g->lifetime_ns - g->idle_ns) / (double)g->span_ns;
	want = (uint64_t)ceil(avg_busy / POOL_TARGET_BUSY);
	if (want < 2)
		want = 2;
	if (want >= g->threads)
		return 0;
	if (!(f = pst_finding_add(out, "pool-oversized", idle >= 0.9 && g->threads >= 8 ? PST_SEV_MEDIUM :
					     PST_SEV_LOW, &g->created_at)))
		return -ENOMEM;
	f->score = (double)(g->threads - want);
	pst_fmt_ns(g->idle_ns, it, sizeof(it));
	f->title = pst_xasprintf("pool of %llu threads at %s is idle %.0f%% of the time",
			     (unsigned long long)g->threads, g->routine_name, idle * 100);
	f->advice = pst_xasprintf(
		"The %llu threads of %s waited for work %.0f%% of their lives (%s off the CPU "
		"outside lock waits: condition variables, semaphores, epoll, poll, select, "
		"reads); on average %.2f of them were busy at once. A "
		"pool of %llu threads would still be idle half of the time: set its size (the "
		"max_size of the pool) to %llu, or let it shrink when idle.",
		(unsigned long long)g->threads, g->routine_name, idle * 100, it, avg_busy,
		(unsigned long long)want, (unsigned long long)want);
	if (check(f) || pst_ev_str(f, "start_routine", g->routine_name))
		return -ENOMEM;
	pst_ev_int(f, "threads", (double)g->threads);
	pst_ev_real(f, "idle_fraction", idle);
	pst_ev_real(f, "average_busy_threads", avg_busy);
	pst_ev_int(f, "idle_ns", (double)g->idle_ns);
	pst_ev_int(f, "tasks", (double)g->tasks);
	pst_ev_int(f, "suggested_size", (double)want);
	return 0;
}

static int rule_undersized(const struct pst_threads *th, const struct pst_thr_group *g,
			   struct pst_findings *out)
{
	double sat = g->span_ns ? (double)g->saturated_ns / (double)g->span_ns : 0;
	double cs = cpu_share(g);
	uint64_t want;
	char st[32];
	struct pst_finding *f;

	if (g->lifetime_p50 <= CHURN_MAX_LIFETIME_NS || g->span_ns < UNDER_MIN_SPAN_NS ||
	    sat < UNDER_SATURATED_SHARE ||
	    g->busy_fraction < UNDER_BUSY || !g->peak || (th->ncpu && g->peak >= th->ncpu))
		return 0;
	want = g->peak * 2;
	if (cs >= CPU_BOUND_SHARE && th->ncpu && want > th->ncpu)
		want = th->ncpu;
	if (!(f = pst_finding_add(out, "pool-undersized", PST_SEV_MEDIUM, &g->created_at)))
		return -ENOMEM;
	f->score = sat;
	pst_fmt_ns(g->saturated_ns, st, sizeof(st));
	f->title = pst_xasprintf("all %llu threads of %s busy while other threads wait (%.0f%% of "
			     "the time)",
			     (unsigned long long)g->peak, g->routine_name, sat * 100);
	f->advice = pst_xasprintf(
		"For %s (%.0f%% of the time the group ran) every thread of %s was busy while "
		"other threads waited for them; its threads were busy %.0f%% of their lives and "
		"the machine has %llu cores. Grow the pool to %llu threads (its min_size and "
		"max_size), or split the work into more tasks.",
		st, sat * 100, g->routine_name, g->busy_fraction * 100,
		(unsigned long long)th->ncpu, (unsigned long long)want);
	if (check(f) || pst_ev_str(f, "start_routine", g->routine_name))
		return -ENOMEM;
	pst_ev_int(f, "threads", (double)g->peak);
	pst_ev_real(f, "saturated_fraction", sat);
	pst_ev_real(f, "busy_fraction", g->busy_fraction);
	pst_ev_real(f, "cpu_share", cs);
	pst_ev_int(f, "cores", (double)th->ncpu);
	pst_ev_int(f, "suggested_size", (double)want);
	return 0;
}

static const char *lock_advice(const struct pst_lock *l)
{
	if (l->kind == PST_WAIT_SPIN)
		return "A contended spinlock burns a core for every waiter: shorten the section "
		       "it protects, or use a mutex, which sleeps.";
	if (l->kind == PST_WAIT_WRLOCK && l->reads * 10 >= l->acquisitions * 9)
		return "Most acquisitions read, so readers wait on the few writers: keep writes "
		       "short (prepare the new value outside the lock, then swap it in), or "
		       "shard the data so that writers block fewer readers.";
	return "Shorten the critical section (compute outside the lock, hold it only to "
	       "read or publish shared state), shard the lock (one per bucket or partition "
	       "of the data), or, if most holders only read, use a rwlock.";
}

static int rule_lock(const struct pst_threads *th, const struct pst_lock *l,
		     struct pst_findings *out)
{
	const struct pst_site *site;
	char w[32], mx[32], name[1200], stacks[2400];
	enum pst_severity sev;
	struct pst_finding *f;
	int o = 0;

	if (l->kind == PST_WAIT_COND || l->kind == PST_WAIT_SEM ||
	    l->wait_ns < LOCK_MIN_WAIT_NS || l->wait_share < LOCK_MIN_SHARE)
		return 0;
	sev = l->wait_share >= LOCK_HIGH_SHARE ? PST_SEV_HIGH :
	      l->wait_share >= LOCK_MEDIUM_SHARE ? PST_SEV_MEDIUM : PST_SEV_LOW;
	site = l->ntop ? &l->top[0].site : &l->first_use;
	if (!(f = pst_finding_add(out, "lock-contention", sev, site)))
		return -ENOMEM;
	f->score = (double)l->wait_ns;
	pst_fmt_ns(l->wait_ns, w, sizeof(w));
	pst_fmt_ns(l->max_wait_ns, mx, sizeof(mx));
	pst_site_name(&l->first_use, name, sizeof(name));
	stacks[0] = 0;
	for (size_t i = 0; i < l->ntop && o < (int)sizeof(stacks) - 1; i++) {
		char s[1200], t[32];

		pst_site_name(&l->top[i].site, s, sizeof(s));
		o += snprintf(stacks + o, sizeof(stacks) - (size_t)o, "%s%s (%s in %llu waits)",
			      i ? "; " : "", s, pst_fmt_ns(l->top[i].wait_ns, t, sizeof(t)),
			      (unsigned long long)l->top[i].count);
	}
	f->title = pst_xasprintf("threads waited %s for the %s first used at %s", w,
			     pst_lock_kind_name(l->kind), name);
	f->advice = pst_xasprintf(
		"The %s at 0x%llx was contended in %llu of %llu acquisitions; threads waited "
		"%s for it in all (%.1f%% of all threads' time), at most %s at once. Waited "
		"for from: %s. %s",
		pst_lock_kind_name(l->kind), (unsigned long long)l->addr,
		(unsigned long long)l->contended, (unsigned long long)l->acquisitions, w,
		l->wait_share * 100, mx, stacks[0] ? stacks : "(no stack)", lock_advice(l));
	if (check(f) || pst_ev_str(f, "lock", name))
		return -ENOMEM;
	pst_ev_int(f, "acquisitions", (double)l->acquisitions);
	pst_ev_int(f, "contended", (double)l->contended);
	pst_ev_int(f, "wait_ns", (double)l->wait_ns);
	pst_ev_int(f, "max_wait_ns", (double)l->max_wait_ns);
	pst_ev_real(f, "wait_share", l->wait_share);
	if (l->kind == PST_WAIT_WRLOCK)
		pst_ev_int(f, "reads", (double)l->reads);
	(void)th;
	return 0;
}

int pst_findings_threads(const struct pst_threads *th, struct pst_findings *out)
{
	for (size_t i = 0; i < th->ngroups; i++) {
		const struct pst_thr_group *g = &th->groups[i];

		if (rule_churn(th, g, out) || rule_oversized(th, g, out) ||
		    rule_undersized(th, g, out))
			return -ENOMEM;
	}
	for (size_t i = 0; i < th->nlocks; i++)
		if (rule_lock(th, &th->locks[i], out))
			return -ENOMEM;
	return 0;
}
