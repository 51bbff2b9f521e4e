/* SPDX-License-Identifier: MIT */
/* Threads, locks and pools end to end: run the thr_* targets under `prestanda run`, check the JSON report. */
#include <inttypes.h>

#include "itest.h"

#define RUN_OK(r)                                                                              \
	do {                                                                                   \
		cr_assert(WIFEXITED((r)->wstatus) && WEXITSTATUS((r)->wstatus) == 0,           \
			  "prestanda run: %s; stderr: %s", itest_wdesc((r)->wstatus), (r)->err); \
		cr_assert_eq((r)->ntraces, 1, "expected 1 trace in %s, found %d", (r)->dir,    \
			     (r)->ntraces);                                                    \
	} while (0)

/* The group whose start routine is fn (asserting there is one). */
static json_t *group(json_t *rep, const char *fn)
{
	json_t *gs = itest_get(rep, "threads.groups"), *g;
	size_t i;

	cr_assert(json_is_array(gs));
	json_array_foreach(gs, i, g)
		if (itest_fn_is(json_string_value(json_object_get(g, "start_routine")), fn))
			return g;
	cr_assert_fail("no thread group with start routine %s", fn);
	return NULL;
}

/* The lock at the address the target printed as "name=0x..." on stdout. */
static json_t *lock_named(json_t *rep, const char *out, const char *name)
{
	char key[64], addr[32];
	const char *p;
	json_t *ls = itest_get(rep, "locks"), *l;
	size_t i;

	snprintf(key, sizeof(key), "%s=", name);
	p = strstr(out, key);
	cr_assert(p, "target did not print %s", key);
	cr_assert_eq(sscanf(p + strlen(key), "%31s", addr), 1);
	json_array_foreach(ls, i, l)
		if (!strcmp(json_string_value(json_object_get(l, "lock")), addr))
			return l;
	cr_assert_fail("no lock %s (%s) in the report", name, addr);
	return NULL;
}

static long long ev_int(json_t *f, const char *key)
{
	json_t *v = json_object_get(json_object_get(f, "evidence"), key);

	cr_assert(json_is_integer(v), "evidence %s is not an integer", key);
	return json_integer_value(v);
}

/* The finding's stack starts at the line of src marked LINE:marker. */
static void expect_top(json_t *f, const char *src, const char *marker)
{
	const char *top = json_string_value(json_array_get(itest_get(f, "stack"), 0));
	char want[64];

	snprintf(want, sizeof(want), "%s:%d)", src, itest_marker_line(src, marker));
	cr_expect(top && strstr(top, want), "stack[0] '%s', expected %s", top, want);
}

static void churn(const char *n, long long threads)
{
	struct itest_run r;
	struct itest_report rep;
	json_t *j, *g, *f, *stack;
	char want[64];

	itest_run(&r, NULL, "thr_churn", (const char *[]){ n, NULL });
	RUN_OK(&r);
	j = itest_report_ok(&rep, r.traces[0]);
	cr_expect_eq(itest_int(j, "threads.created"), threads);
	cr_expect_eq(itest_int(j, "threads.peak_concurrent"), 2, "main and one thread at a time");
	g = group(j, "churn_task");
	cr_expect_eq(itest_int(g, "threads"), threads);
	cr_expect_eq(itest_int(g, "peak"), 1);
	/* each thread lived inside the target's own create-to-join time: the
	 * median of those bounds the profiler's, however loaded the machine */
	cr_expect_gt(itest_int(j, "threads.lifetime_ns.p50"), 0);
	cr_expect_leq(itest_int(j, "threads.lifetime_ns.p50"), itest_printed(r.out, "lifetime_p50_ns"),
		      "median lifetime %lld ns, the target's median create-to-join %lld ns",
		      itest_int(j, "threads.lifetime_ns.p50"), itest_printed(r.out, "lifetime_p50_ns"));
	f = itest_finding(j, "thread-churn");
	cr_assert(f, "no thread-churn finding");
	cr_expect_eq(ev_int(f, "threads"), threads);
	cr_expect_eq(ev_int(f, "peak_concurrent"), 1);
	cr_expect_eq(ev_int(f, "pool_size"), 1);
	cr_expect_eq(ev_int(f, "cores"), sysconf(_SC_NPROCESSORS_ONLN));
	/* the creating stack is the program's pthread_create call */
	stack = itest_get(f, "stack");
	snprintf(want, sizeof(want), "thr_churn.c:%d)", itest_marker_line("thr_churn.c", "spawn"));
	cr_expect(strstr(json_string_value(json_array_get(stack, 0)), want), "stack[0] '%s'",
		  json_string_value(json_array_get(stack, 0)));
	cr_expect_null(itest_finding(j, "pool-undersized"));
	cr_expect_null(itest_finding(j, "pool-oversized"));
	cr_expect_null(itest_finding(j, "lock-contention"), "thr_churn takes no lock");
	itest_report_free(&rep);
	itest_cleanup(&r);
}

Test(threads, churn_200_threads, .timeout = 60)
{
	churn("200", 200);
}

Test(threads, churn_1000_threads, .timeout = 60)
{
	churn("1000", 1000);
}

Test(threads, pool_of_8_idle_is_oversized, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep;
	json_t *j, *g, *f, *ls, *l, *cond = NULL;
	size_t i;

	itest_run(&r, NULL, "thr_pool", NULL);
	RUN_OK(&r);
	j = itest_report_ok(&rep, r.traces[0]);
	cr_expect_eq(itest_int(j, "threads.created"), 8);
	g = group(j, "pool_worker");
	cr_expect_eq(itest_int(g, "threads"), 8);
	cr_expect_eq(itest_int(g, "peak"), 8);
	/* 20 tasks of 1 ms over some 220 ms for 8 threads: about 1% busy */
	cr_expect_lt(json_real_value(itest_get(g, "busy_fraction")), 0.10);
	/* every task and the final broadcast wake a worker */
	cr_expect_geq(itest_int(g, "tasks"), 20 + 8);
	f = itest_finding(j, "pool-oversized");
	cr_assert(f, "no pool-oversized finding");
	cr_expect_eq(ev_int(f, "threads"), 8);
	cr_expect_eq(ev_int(f, "suggested_size"), 2);
	cr_expect_null(itest_finding(j, "thread-churn"));
	cr_expect_null(itest_finding(j, "pool-undersized"));
	/* the condition variable: its waits are the workers' idle time */
	ls = itest_get(j, "locks");
	json_array_foreach(ls, i, l)
		if (!strcmp(json_string_value(json_object_get(l, "kind")), "cond"))
			cond = l;
	cr_assert(cond, "no cond in locks");
	cr_expect_geq(itest_int(cond, "waits"), 28);
	/* idle is what is left of the workers' lives after the 20 tasks, each
	 * of which spins 1 ms of its CPU time outside any wait (thr_pool.c) */
	cr_expect_leq(itest_int(g, "idle_ns"), itest_int(g, "lifetime_ns") - 20 * 1000000ll);
	cr_expect_gt(itest_int(g, "idle_ns"), 0);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

Test(threads, locks_exact, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep;
	json_t *j, *l, *f, *fs, *w;
	char want[64];
	size_t i;
	int nfound = 0;
	long long acq[2] = { 0 }, wait[2] = { 0 };

	itest_run(&r, NULL, "thr_locks", NULL);
	RUN_OK(&r);
	j = itest_report_ok(&rep, r.traces[0]);
	cr_expect_eq(itest_int(j, "threads.created"), 7);

	/* held 100 ms by main while hold_waiter provably waits */
	l = lock_named(j, r.out, "hold_lock");
	cr_expect_str_eq(itest_str(l, "kind"), "mutex");
	cr_expect_eq(itest_int(l, "acquisitions"), 2);
	cr_expect_eq(itest_int(l, "contended"), 1);
	/* main held it 100 ms after the waiter slept on it, and no longer than
	 * the waiter's lock call took (the waiter measures that) */
	cr_expect_geq(itest_int(l, "max_wait_ns"), 100000000);
	cr_expect_leq(itest_int(l, "max_wait_ns"), itest_printed(r.out, "hold_wait_ns"));
	w = json_array_get(itest_get(l, "waiting_stacks"), 0);
	cr_assert(w, "hold_lock has no waiting stack");
	snprintf(want, sizeof(want), "thr_locks.c:%d)",
		 itest_marker_line("thr_locks.c", "hold_waiter"));
	cr_expect(strstr(json_string_value(json_array_get(itest_get(w, "stack"), 0)), want));

	/* main's section, then 4 threads x 50 sections of 1 ms: every
	 * acquisition counted; main's held until a worker slept on it */
	l = lock_named(j, r.out, "work_lock");
	cr_expect_eq(itest_int(l, "acquisitions"), 201);
	cr_expect_gt(itest_int(l, "contended"), 0);
	cr_expect_leq(itest_int(l, "contended"), 200);
	/* the waits lie inside the workers' lock calls, which they timed */
	cr_expect_gt(itest_int(l, "wait_ns"), 0);
	cr_expect_leq(itest_int(l, "wait_ns"), itest_printed(r.out, "work_wait_ns"));
	/* the worker that slept on main's section waited its last 1 ms */
	cr_expect_geq(itest_int(l, "max_wait_ns"), 1000000);

	l = lock_named(j, r.out, "rw");
	cr_expect_str_eq(itest_str(l, "kind"), "rwlock");
	cr_expect_eq(itest_int(l, "acquisitions"), 103);
	cr_expect_eq(itest_int(l, "reads"), 100);
	cr_expect_eq(itest_int(l, "contended"), 0);

	l = lock_named(j, r.out, "spin");
	cr_expect_str_eq(itest_str(l, "kind"), "spin");
	cr_expect_eq(itest_int(l, "acquisitions"), 1000);
	cr_expect_eq(itest_int(l, "contended"), 0);

	l = lock_named(j, r.out, "sem");
	cr_expect_str_eq(itest_str(l, "kind"), "sem");
	cr_expect_eq(itest_int(l, "acquisitions"), 10);
	cr_expect_geq(itest_int(l, "contended"), 1);
	cr_expect_leq(itest_int(l, "contended"), 5);

	/* both contended mutexes are findings (work_lock's 201 acquisitions,
	 * hold_lock's 2), the larger wait first */
	fs = itest_get(j, "findings");
	json_array_foreach(fs, i, f) {
		if (strcmp(json_string_value(json_object_get(f, "id")), "lock-contention"))
			continue;
		if (nfound < 2) {
			acq[nfound] = ev_int(f, "acquisitions");
			wait[nfound] = ev_int(f, "wait_ns");
		}
		nfound++;
	}
	cr_assert_eq(nfound, 2);
	cr_expect_geq(wait[0], wait[1]);
	cr_expect(acq[0] + acq[1] == 203 && (acq[0] == 2 || acq[1] == 2), "acquisitions %lld, %lld",
		  acq[0], acq[1]);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

Test(threads, behaviour_unchanged, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep;
	char outp[PATH_MAX], *bare;
	char *argv[] = { ITEST_TARGETS "thr_behave", NULL };
	json_t *j;
	int st;

	itest_tmpfile(outp, sizeof(outp));
	st = itest_spawn(argv, outp, NULL);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "bare run: %s", itest_wdesc(st));
	bare = itest_slurp(outp, NULL);
	unlink(outp);
	cr_assert(strstr(bare, "cancelled 1 cleanup 1 mutex free 1"), "bare output: %s", bare);

	itest_run(&r, NULL, "thr_behave", NULL);
	RUN_OK(&r);
	cr_expect_str_eq(r.out, bare);
	j = itest_report_ok(&rep, r.traces[0]);
	cr_expect(itest_bool(j, "process.complete"));
	cr_expect(strstr(r.out, "cancelled at start 200 of 200"), "%s", r.out);
	cr_expect_eq(itest_int(j, "threads.created"), 3 + 1 + 200 + 1 + 1 + 2);
	free(bare);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* Each thread's CPU time against what the thread itself read from
 * getrusage(RUSAGE_THREAD) just before it returned. */
Test(threads, cpu_time_matches_rusage, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep;
	json_t *j, *ts, *t;
	const char *p;
	int checked = 0;

	itest_run(&r, NULL, "thr_cpu", NULL);
	RUN_OK(&r);
	j = itest_report_ok(&rep, r.traces[0]);
	ts = itest_get(j, "threads.threads");
	for (p = r.out; (p = strstr(p, "tid ")); p++) {
		long long tid, ru;
		size_t i;

		cr_assert_eq(sscanf(p, "tid %lld cpu_ns %lld", &tid, &ru), 2);
		json_array_foreach(ts, i, t) {
			long long cpu;

			if (itest_int(t, "tid") != tid)
				continue;
			cpu = itest_int(t, "cpu_ns");
			/* rusage ticks in microseconds; a few ms of slack for the return */
			cr_expect(cpu >= ru - 1000 && cpu <= ru + 5000000,
				  "tid %lld: cpu_ns %lld, rusage %lld", tid, cpu, ru);
			checked++;
		}
	}
	cr_expect_eq(checked, 2);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* One worker spins 300 ms of CPU while held_waiter is blocked on a mutex
 * from before the worker starts to after it ends (thr_under.c): the pool
 * is saturated all of its life by construction, and the mutex contended. */
Test(threads, saturated_pool_is_undersized, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep;
	json_t *j, *g, *f, *l;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (ncpu < 2)
		cr_skip_test("pool-undersized needs a core more than the pool's 1 thread; %ld online",
			ncpu);
	itest_run(&r, NULL, "thr_under", NULL);
	RUN_OK(&r);
	j = itest_report_ok(&rep, r.traces[0]);
	g = group(j, "under_worker");
	cr_expect_eq(itest_int(g, "threads"), 1);
	cr_expect_eq(itest_int(g, "peak"), 1);
	/* on the CPU but for its start and its end (a loaded machine may keep
	 * it runnable a while: idle, unseen) */
	cr_expect_geq(json_real_value(itest_get(g, "busy_fraction")), 0.8);
	cr_expect_lt(itest_int(g, "idle_ns"), itest_int(g, "lifetime_ns") / 5);
	f = itest_finding(j, "pool-undersized");
	cr_assert(f, "no pool-undersized finding");
	cr_expect_str_eq(itest_str(f, "severity"), "medium");
	cr_expect_eq(ev_int(f, "threads"), 1);
	cr_expect_eq(ev_int(f, "cores"), ncpu);
	cr_expect_geq(json_real_value(itest_get(f, "evidence.busy_fraction")), 0.8);
	/* twice its peak (at most the cores when CPU-bound, 2 or more here) */
	cr_expect_eq(ev_int(f, "suggested_size"), 2);
	/* the waiter's wait covers the worker's whole life: exactly all of it */
	cr_expect_eq(json_real_value(itest_get(f, "evidence.saturated_fraction")), 1.0,
		     "saturated %f", json_real_value(itest_get(f, "evidence.saturated_fraction")));
	expect_top(f, "thr_under.c", "spawn");
	cr_expect_null(itest_finding(j, "pool-oversized"));
	cr_expect_null(itest_finding(j, "thread-churn"));

	l = lock_named(j, r.out, "held");
	cr_expect_eq(itest_int(l, "acquisitions"), 2);
	cr_expect_eq(itest_int(l, "contended"), 1);
	cr_expect_eq(itest_int(l, "wait_ns"), itest_int(l, "max_wait_ns"), "one wait");
	f = itest_finding(j, "lock-contention");
	cr_assert(f, "no lock-contention finding");
	cr_expect_eq(ev_int(f, "acquisitions"), 2);
	cr_expect_eq(ev_int(f, "contended"), 1);
	cr_expect_eq(ev_int(f, "wait_ns"), itest_int(l, "wait_ns"));
	expect_top(f, "thr_under.c", "waits");
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* A lock of thr_timed: its counts exact, its two timed-out waits in its
 * wait time, which cannot exceed the time the waiter ran. */
static void expect_timed(json_t *j, const char *out, const char *name, const char *kind,
			 long long acquisitions, long long contended)
{
	json_t *l = lock_named(j, out, name);
	long long w = itest_int(l, "wait_ns"), mx = itest_int(l, "max_wait_ns");

	cr_expect_str_eq(itest_str(l, "kind"), kind, "%s", name);
	if (acquisitions >= 0)
		cr_expect_eq(itest_int(l, "acquisitions"), acquisitions, "%s", name);
	cr_expect_eq(itest_int(l, "contended"), contended, "%s", name);
	cr_expect(mx > 0 && w >= mx && w <= 2 * mx, "%s: waits %lld, longest %lld", name, w, mx);
	cr_expect_leq(w, itest_printed(out, "waiter_ns"), "%s", name);
}

/* Timed and clock waits that time out are waits all the same: timed, and
 * counted as contended only for a condition variable. */
Test(threads, timed_waits_that_time_out, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep;
	json_t *j, *l;

	itest_run(&r, NULL, "thr_timed", NULL);
	RUN_OK(&r);
	cr_assert(strstr(r.out, "timeouts=10 "), "stdout: %s", r.out);
	j = itest_report_ok(&rep, r.traces[0]);
	expect_timed(j, r.out, "m", "mutex", 1, 0);
	expect_timed(j, r.out, "rw", "rwlock", 1, 0);
	expect_timed(j, r.out, "c", "cond", -1, 2);
	expect_timed(j, r.out, "s", "sem", 1, 0);
	/* woken once, timed out twice: every cond wait is contended, and this
	 * lock's statistics are written, so the preload's count is the one read */
	l = lock_named(j, r.out, "c2");
	cr_expect_str_eq(itest_str(l, "kind"), "cond");
	cr_expect_eq(itest_int(l, "contended"), 3, "c2: %lld contended", itest_int(l, "contended"));
	cr_expect_leq(itest_int(l, "wait_ns"), itest_printed(r.out, "waiter_ns"));
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* ---- runtimes: pool-undersized only for a pool that is truly saturated ---- */

#define JAVA "/usr/bin/java"
#define JAVAC "/usr/bin/javac"

/* The pool-undersized findings of one run of argv: how many, the last. */
static int undersized(char *const *argv, json_t **last, struct itest_run *r,
		      struct itest_report *rep)
{
	json_t *fs, *f;
	size_t i;
	int n = 0;

	itest_run_program(r, NULL, (const char *const *)argv);
	RUN_OK(r);
	fs = itest_get(itest_report_ok(rep, r->traces[0]), "findings");
	json_array_foreach(fs, i, f)
		if (!strcmp(itest_str(f, "id"), "pool-undersized")) {
			*last = f;
			n++;
		}
	return n;
}

/* No pool-undersized in a run of argv. */
static void expect_none(char *const *argv, const char *what)
{
	struct itest_run r;
	struct itest_report rep;
	json_t *f = NULL;

	cr_expect_eq(undersized(argv, &f, &r, &rep), 0, "%s: %s", what,
		     f ? itest_str(f, "title") : "");
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* Exactly one pool-undersized in a run of argv, for the group of routine:
 * its one thread on the CPU all the time others waited (at most the
 * cores: 2 suggested). */
static void expect_one(char *const *argv, const char *routine)
{
	struct itest_run r;
	struct itest_report rep;
	json_t *f = NULL;
	int n = undersized(argv, &f, &r, &rep);

	cr_assert_eq(n, 1, "saturated pool: %d findings, the last: %s; %s", n,
		     f ? json_dumps(f, 0) : "none", r.traces[0]);
	cr_expect_str_eq(itest_str(f, "evidence.start_routine"), routine);
	cr_expect_eq(ev_int(f, "threads"), 1);
	cr_expect_eq(ev_int(f, "cores"), sysconf(_SC_NPROCESSORS_ONLN));
	cr_expect_eq(ev_int(f, "suggested_size"), 2);
	cr_expect_geq(json_real_value(itest_get(f, "evidence.busy_fraction")), 0.8);
	cr_expect_geq(json_real_value(itest_get(f, "evidence.saturated_fraction")), 0.5);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* path of prog on PATH (node comes from any install): false when none. */
static bool on_path(const char *prog, char *path, size_t len)
{
	const char *dirs = getenv("PATH");

	for (const char *d = dirs ? dirs : "/usr/bin"; *d; d += *d == ':') {
		size_t n = strcspn(d, ":");

		snprintf(path, len, "%.*s/%s", (int)n, d, prog);
		if (!access(path, X_OK))
			return true;
		d += n;
	}
	return false;
}

static void need_runtime(const char *path)
{
	if (access(path, X_OK))
		cr_skip_test("%s is not installed (scripts/install-deps.sh)", path);
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		cr_skip_test("pool-undersized needs a core more than a pool of 1");
}

/*
 * The JVM's own threads (collector, compiler, the pool's threads waiting
 * for tasks) sleep in condition waits: idle. A pool of 4 idle 2 s, then
 * doing 20 tasks of 10 ms one at a time, is not undersized; a pool of 1
 * with 20 tasks of 30 ms of CPU queued at once, while main waits on their
 * results, is (tests/runtimes/Pool.java).
 */
Test(threads, jvm_pool_undersized_only_when_saturated, .timeout = 240)
{
	char dir[] = "/tmp/pst-itest-jvm.XXXXXX", log[PATH_MAX];
	int st;

	need_runtime(JAVA);
	need_runtime(JAVAC);
	cr_assert(mkdtemp(dir));
	snprintf(log, sizeof(log), "%s/javac.log", dir);
	st = itest_spawn((char *[]){ JAVAC, "-d", dir, "tests/runtimes/Pool.java", NULL }, log, log);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "javac: %s", itest_wdesc(st));
	expect_none((char *[]){ JAVA, "-cp", dir, "Pool", "4", "0", "0", "0", "2000", NULL }, "idle");
	expect_none((char *[]){ JAVA, "-Xmx32m", "-cp", dir, "Pool", "4", "20", "10", "50", "0",
				NULL },
		    "light");
	expect_one((char *[]){ JAVA, "-cp", dir, "Pool", "1", "20", "30", "0", "0", NULL },
		   "thread_native_entry(Thread*)");
	unlink(log);
	unlink(strcat(strcpy(log, dir), "/Pool.class"));
	rmdir(dir);
}

/*
 * node's libuv pool (4 threads) and V8's platform workers wait on
 * condition variables when they have nothing to do: idle 2 s, or 8 hashes
 * 100 ms apart, is no undersized pool; 8 long hashes queued at once on a
 * pool of 1 (UV_THREADPOOL_SIZE=1) are (tests/runtimes/pool.js).
 */
Test(threads, node_pool_undersized_only_when_saturated, .timeout = 240)
{
	char node[PATH_MAX];

	if (!on_path("node", node, sizeof(node)))
		cr_skip_test("node is not installed (scripts/install-deps.sh)");
	need_runtime(node);
	expect_none((char *[]){ node, "tests/runtimes/pool.js", "0", "0", "0", "2000", NULL }, "idle");
	expect_none((char *[]){ node, "tests/runtimes/pool.js", "8", "20000", "100", "1000", NULL },
		    "light");
	setenv("UV_THREADPOOL_SIZE", "1", 1);
	expect_one((char *[]){ node, "tests/runtimes/pool.js", "8", "200000", "0", "0", NULL },
		   "worker");
	unsetenv("UV_THREADPOOL_SIZE");
}
