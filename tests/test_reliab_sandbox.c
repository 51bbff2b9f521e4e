/* SPDX-License-Identifier: MIT */
/* Sandboxes, limits and hangs: pthread_getattr_np, raw exit, seccomp, privilege drop, rlimits, dup2, retitled processes; each as bare, each counted exactly. */
#include "reliab.h"

/* Seconds before a run counts as hung and is killed: these targets end in
 * well under one second bare. */
#define DEADLINE 30

struct sbx {
	struct itest_run r;
	struct itest_report rep[ITEST_MAX_TRACES];
	char *bare_out;
	int bare_st;
	bool reported;
};

/* The target ended bare with exit status code. */
#define SBX_BARE_EXITED(s, code)                                                                   \
	cr_expect(WIFEXITED((s)->bare_st) && WEXITSTATUS((s)->bare_st) == (code), "bare: %s",      \
		  itest_wdesc((s)->bare_st))

/* What each trace of a run says of itself: size, complete or the report's error. */
static const char *sbx_states(struct itest_run *r)
{
	static char buf[4096];
	size_t at = 0;

	at += (size_t)snprintf(buf, sizeof(buf), "%s", rel_trace_sizes(r));
	for (int i = 0; i < r->ntraces && at < sizeof(buf); i++) {
		struct itest_report rep;
		json_t *proc;

		itest_report(&rep, r->traces[i]);
		proc = rep.json ? json_object_get(rep.json, "process") : NULL;
		at += (size_t)snprintf(
			buf + at, sizeof(buf) - at, "\n  trace %d: report %s, %s%s%.200s", i,
			itest_wdesc(rep.wstatus),
			proc && json_is_true(json_object_get(proc, "complete")) ? "complete" :
										 "incomplete",
			proc && json_object_get(proc, "error") ? ": " : " ",
			proc && json_object_get(proc, "error") ?
				json_string_value(json_object_get(proc, "error")) :
				rep.err);
		itest_report_free(&rep);
	}
	return buf;
}

/*
 * The target bare, then under `prestanda run OPTS -o DIR/NAME`: the run must
 * end (within DEADLINE), with the bare run's status and stdout, leaving
 * ntraces traces.
 */
static void sbx_run_via(struct sbx *s, const char *const *via, const char *const *opts,
			const char *name, const char *target, const char *const *args,
			int ntraces)
{
	char bare[64], run[64];

	memset(s, 0, sizeof(*s));
	s->bare_st = rel_bare_within_via(via, target, args, &s->bare_out, DEADLINE);
	snprintf(bare, sizeof(bare), "%s", itest_wdesc(s->bare_st));
	if (rel_run_within_via(&s->r, via, opts, name, target, args, DEADLINE)) {
		/* the stacks may be longer than a message: kept whole in a file */
		char keep[PATH_MAX];

		itest_tmpfile(keep, sizeof(keep));
		itest_write(keep, s->r.err, strlen(s->r.err));
		cr_assert_fail("HUNG: %s under prestanda run did not end within %d s (killed); "
			       "bare it %s in no time; stdout so far: \"%s\"; traces: %s; "
			       "run's stderr and the program's stacks (whole in %s): %s",
			       target, DEADLINE, bare, s->r.out, sbx_states(&s->r), keep,
			       s->r.err);
	}
	snprintf(run, sizeof(run), "%s", itest_wdesc(s->r.wstatus));
	cr_assert(rel_same_status(s->bare_st, s->r.wstatus),
		  "%s: bare %s, but prestanda run %s; traces: %s; run's stderr: %s", target, bare,
		  run, sbx_states(&s->r), s->r.err);
	cr_expect_str_eq(s->r.out, s->bare_out, "%s: stdout differs from bare: \"%s\" vs \"%s\"",
			 target, s->r.out, s->bare_out);
	cr_assert_eq(s->r.ntraces, ntraces, "%s: %d traces, want %d: %s; run's stderr: %s", target,
		     s->r.ntraces, ntraces, sbx_states(&s->r), s->r.err);
}

static void sbx_run_as(struct sbx *s, const char *const *opts, const char *name,
		       const char *target, const char *const *args, int ntraces)
{
	sbx_run_via(s, NULL, opts, name, target, args, ntraces);
}

/* sbx_run_as with traces named t.PID.trace, all reported: each complete,
 * of the pid its name says. */
static void sbx_run(struct sbx *s, const char *const *opts, const char *target,
		    const char *const *args, int ntraces)
{
	sbx_run_as(s, opts, "t.%p.trace", target, args, ntraces);
	rel_reports(&s->r, s->rep);
	s->reported = true;
}

static void sbx_free(struct sbx *s)
{
	if (s->reported)
		rel_reports_free(&s->r, s->rep);
	free(s->bare_out);
	itest_cleanup(&s->r);
}

#define FULL ((const char *[]){ "--full", NULL })
#define SAMPLE_ALL ((const char *[]){ "--sample-bytes", "1", NULL })
#define ARGS(...) ((const char *[]){ __VA_ARGS__, NULL })
#define PRLIMIT "/usr/bin/prlimit"

/*
 * 1. pthread_getattr_np: glibc reallocs holding the thread's lock; a hook
 * that asks for the stack bounds the same way waits on that lock forever.
 */

static void getattr_case(const char *const *opts, const char *mode, const char *out, int calls)
{
	struct sbx s;
	json_t *j;

	sbx_run(&s, opts, "sbx_getattr", ARGS(mode), 1);
	cr_expect_str_eq(s.bare_out, out, "bare run: \"%s\"", s.bare_out);
	j = s.rep[0].json;
	/* --sample-bytes 1: every block of 40 bytes is a sample standing for one */
	rel_check_site(j, "sbx_getattr.c", "after_getattr", calls, calls * 40LL, 0);
	sbx_free(&s);
}

Test(reliab_sandbox, getattr_new_thread_full, .timeout = 90)
{
	getattr_case(FULL, "thread", "thread stack found\n", 100);
}

Test(reliab_sandbox, getattr_new_thread_sampled, .timeout = 90)
{
	getattr_case(SAMPLE_ALL, "thread", "thread stack found\n", 100);
}

/* On main glibc reads /proc/self/maps with stdio under the lock. */
Test(reliab_sandbox, getattr_main_full, .timeout = 90)
{
	getattr_case(FULL, "main", "main stack found\n", 100);
}

Test(reliab_sandbox, getattr_main_sampled, .timeout = 90)
{
	getattr_case(SAMPLE_ALL, "main", "main stack found\n", 100);
}

/* Eight threads ask 50 times each at once, allocating in between. */
Test(reliab_sandbox, getattr_many_threads_full, .timeout = 90)
{
	getattr_case(FULL, "many", "8 threads: stacks found\n", 8 * 50 * 2);
}

Test(reliab_sandbox, getattr_many_threads_sampled, .timeout = 90)
{
	getattr_case(SAMPLE_ALL, "many", "8 threads: stacks found\n", 8 * 50 * 2);
}

/*
 * 2. The last thread ends with the raw exit syscall (no exit_group, no
 * atexit): the profiler's own thread must not keep the process alive.
 */

#define EXIT_SRC "sbx_exit.c"

Test(reliab_sandbox, raw_exit_main_alone, .timeout = 90)
{
	struct sbx s;

	sbx_run(&s, FULL, "sbx_exit", ARGS("main"), 1);
	SBX_BARE_EXITED(&s, 3);
	cr_expect_str_eq(s.bare_out, "main exits raw\n");
	rel_check_site(s.rep[0].json, EXIT_SRC, "before_exit", 500, 500 * 48, 500 * 48);
	cr_expect_eq(itest_int(s.rep[0].json, "memory.alloc_calls"), 500);
	sbx_free(&s);
}

/* main ends raw first; a second thread allocates after it and ends raw
 * too: the process's status is then what the kernel makes of both (the
 * bare run's, whatever it is). */
Test(reliab_sandbox, raw_exit_main_then_thread, .timeout = 90)
{
	struct sbx s;

	sbx_run(&s, FULL, "sbx_exit", ARGS("two"), 1);
	cr_expect_str_eq(s.bare_out, "main exits raw\nsecond thread done\n");
	rel_check_site(s.rep[0].json, EXIT_SRC, "before_exit", 500, 500 * 48, 500 * 48);
	rel_check_site(s.rep[0].json, EXIT_SRC, "late_thread_work", 300, 300 * 72, 0);
	sbx_free(&s);
}

/* Seccomp strict mode: only read, write, _exit and sigreturn; anything
 * else kills the thread's process. */
Test(reliab_sandbox, seccomp_strict, .timeout = 90)
{
	struct sbx s;

	sbx_run(&s, FULL, "sbx_exit", ARGS("strict"), 1);
	SBX_BARE_EXITED(&s, 0);
	cr_expect_str_eq(s.bare_out, "entering strict mode\nstrict ok\n");
	rel_check_site(s.rep[0].json, EXIT_SRC, "before_exit", 1000, 1000 * 48, 0);
	rel_check_site(s.rep[0].json, EXIT_SRC, "after_strict", 5, 5 * 24, 5 * 24);
	sbx_free(&s);
}

/*
 * 3. Privilege drop to nobody in the parent and in a child forked before
 * the drop. The run's directory is root's, mode 0700: after the drop
 * nothing in it can be opened by path.
 */
Test(reliab_sandbox, privilege_drop, .timeout = 90)
{
	struct sbx s;
	int p, c;

	if (geteuid() != 0)
		cr_skip_test("privilege drop needs root (euid %d)", (int)geteuid());
	sbx_run(&s, FULL, "sbx_priv", NULL, 2);
	cr_expect_str_eq(s.bare_out, "child uid 65534\nparent uid 65534, child exited 0\n");
	p = rel_which(&s.r, s.rep, "after_drop");
	c = rel_which(&s.r, s.rep, "child_after_drop");
	cr_expect_neq(p, c);
	cr_expect_eq(rel_which(&s.r, s.rep, "before_drop"), p);
	rel_check_site(s.rep[p].json, "sbx_priv.c", "before_drop", 300, 300 * 40, 0);
	rel_check_site(s.rep[p].json, "sbx_priv.c", "after_drop", 400, 400 * 56, 0);
	rel_check_site(s.rep[c].json, "sbx_priv.c", "child_after_drop", 500, 500 * 72, 0);
	sbx_free(&s);
}

/*
 * 4. A seccomp filter (libseccomp) refusing open and openat with an errno
 * after the first allocations.
 */
static void seccomp_case(const char *mode, const char *out)
{
	struct sbx s;

	sbx_run(&s, FULL, "sbx_seccomp", ARGS(mode), 1);
	cr_assert(WIFEXITED(s.bare_st) && WEXITSTATUS(s.bare_st) == 0,
		  "bare: %s (5: libseccomp could not be loaded or the filter not built)",
		  itest_wdesc(s.bare_st));
	cr_expect_str_eq(s.bare_out, out);
	rel_check_site(s.rep[0].json, "sbx_seccomp.c", "before_filter", 200, 200 * 40, 0);
	rel_check_site(s.rep[0].json, "sbx_seccomp.c", "after_filter", 300, 300 * 88, 0);
	sbx_free(&s);
}

Test(reliab_sandbox, seccomp_filter_eperm, .timeout = 90)
{
	seccomp_case("eperm", "open after the filter: Operation not permitted\n");
}

Test(reliab_sandbox, seccomp_filter_eacces, .timeout = 90)
{
	seccomp_case("eacces", "open after the filter: Permission denied\n");
}

/*
 * 5. RLIMIT_NOFILE of 5 to 16: the program opens as many files as bare
 * (stdin, stdout and stderr are all it starts with), and is recorded.
 */
static void nofile_case(const char *const *via, const char *const *args, int ntraces, int opened)
{
	struct sbx s;
	char want[32];
	int t;

	sbx_run_via(&s, via, FULL, "t.%p.trace", "sbx_nofile", args, ntraces);
	rel_reports(&s.r, s.rep);
	s.reported = true;
	snprintf(want, sizeof(want), "opened %d\n", opened);
	cr_expect_str_eq(s.bare_out, want, "bare run: \"%s\"", s.bare_out);
	t = rel_which(&s.r, s.rep, "after_files");
	rel_check_site(s.rep[t].json, "sbx_nofile.c", "after_files", 250, 250 * 64, 0);
	if (ntraces == 2)
		cr_expect_str_eq(itest_str(s.rep[1 - t].json, "process.end_reason"), "exec");
	sbx_free(&s);
}

Test(reliab_sandbox, nofile_5, .timeout = 90)
{
	nofile_case(NULL, ARGS("set", "5"), 1, 2);
}

Test(reliab_sandbox, nofile_8, .timeout = 90)
{
	nofile_case(NULL, ARGS("set", "8"), 1, 5);
}

Test(reliab_sandbox, nofile_16, .timeout = 90)
{
	nofile_case(NULL, ARGS("set", "16"), 1, 13);
}

/* Soft equal to hard: no room to raise the limit for ourselves. */
Test(reliab_sandbox, nofile_8_hard, .timeout = 90)
{
	nofile_case(NULL, ARGS("set", "8", "hard"), 1, 5);
}

/* The limit (8:8) set before exec, as prlimit or a service manager does:
 * the exec'd image starts under it. */
Test(reliab_sandbox, nofile_8_before_exec, .timeout = 90)
{
	nofile_case(NULL, ARGS("exec", "8"), 2, 5);
}

/* 8:8 from the start, for `prestanda run` too (prlimit, as a service
 * manager's LimitNOFILE would). */
Test(reliab_sandbox, nofile_8_from_the_parent, .timeout = 90)
{
	if (access(PRLIMIT, X_OK) != 0)
		cr_skip_test("%s (util-linux) is not installed", PRLIMIT);
	nofile_case(ARGS(PRLIMIT, "--nofile=8:8", "--"), ARGS("count"), 1, 5);
}

/*
 * 6. dup2 over every descriptor 3..999 (across a timer tick, 20000
 * allocations), all closed, then a pipe: the same numbers as bare, alone
 * and with a second thread alive throughout (allocating, or only waiting).
 */
static void dup2_case(const char *const *args)
{
	struct sbx s;
	struct rlimit rl;

	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < 1000)
		cr_skip_test("RLIMIT_NOFILE %llu here: the target needs 1000 descriptors",
			     (unsigned long long)rl.rlim_cur);
	sbx_run(&s, FULL, "sbx_dup2", args, 1);
	cr_expect_str_eq(s.bare_out, "dup2 failures 0, close failures 0, pipe 3 4\n");
	rel_check_site(s.rep[0].json, "sbx_dup2.c", "after_dup", 20000, 20000 * 32, 0);
	if (args && !strcmp(args[0], "thread"))
		rel_check_site(s.rep[0].json, "sbx_dup2.c", "helper_work", 200, 200 * 24, 0);
	else
		cr_expect_eq(itest_nsites(s.rep[0].json, "helper_work"), 0);
	sbx_free(&s);
}

Test(reliab_sandbox, dup2_over_3_to_999, .timeout = 90)
{
	dup2_case(NULL);
}

Test(reliab_sandbox, dup2_over_3_to_999_threaded, .timeout = 90)
{
	dup2_case(ARGS("thread"));
}

/* The second thread never allocates. */
Test(reliab_sandbox, dup2_over_3_to_999_idle_thread, .timeout = 90)
{
	dup2_case(ARGS("idle"));
}

/*
 * 7. RLIMIT_FSIZE far below the trace's size: the program must end as bare
 * (not by SIGXFSZ); the trace is cut, says so, and stderr says why.
 */
static void fsize_case(const char *kib)
{
	struct sbx s;
	struct itest_report rep;
	struct stat st;
	json_t *proc, *prod;
	long long limit = atoll(kib) * 1024, calls;
	bool complete, capped;

	sbx_run_as(&s, FULL, "t.%p.trace", "sbx_fsize", ARGS(kib), 1);
	SBX_BARE_EXITED(&s, 0);
	cr_assert_eq(stat(s.r.traces[0], &st), 0);
	cr_expect_leq(st.st_size, limit, "trace of %lld bytes past the %lld-byte limit",
		      (long long)st.st_size, limit);
	cr_expect(strstr(s.r.err, "prestanda") &&
			  (strstr(s.r.err, "RLIMIT_FSIZE") || strstr(s.r.err, "File too large") ||
			   strstr(s.r.err, "file size")),
		  "no word from the preload on why the trace stops; stderr: \"%s\"", s.r.err);
	itest_report(&rep, s.r.traces[0]);
	cr_assert(rep.json, "report of the cut trace: %s, not JSON; stderr: %s",
		  itest_wdesc(rep.wstatus), rep.err);
	proc = itest_get(rep.json, "process");
	prod = json_object_get(rep.json, "production");
	complete = json_is_true(json_object_get(proc, "complete"));
	capped = prod && json_is_true(json_object_get(prod, "capped"));
	cr_expect(!complete || capped,
		  "a %lld-byte trace of 500000 allocations is neither incomplete nor capped",
		  (long long)st.st_size);
	if (!complete)
		cr_expect(json_is_string(json_object_get(proc, "error")),
			  "incomplete without an error");
	calls = rel_calls(rep.json, "fsize_work");
	cr_expect(calls < 500000, "%lld calls of fsize_work in a trace cut at %lld bytes", calls,
		  limit);
	itest_report_free(&rep);
	sbx_free(&s);
}

Test(reliab_sandbox, fsize_64k, .timeout = 90)
{
	fsize_case("64");
}

Test(reliab_sandbox, fsize_1m, .timeout = 90)
{
	fsize_case("1024");
}

/*
 * 8. %e of a process that retitled itself as nginx does: argv[0]'s memory
 * overwritten with "sbx_title: worker process /x y", PR_SET_NAME too, and
 * a child forked after. Both traces are named after the program.
 */
Test(reliab_sandbox, retitled_process_trace_name, .timeout = 90)
{
	struct sbx s;
	int child = -1;

	sbx_run_as(&s, FULL, "t.%e.%p.trace", "sbx_title", NULL, 2);
	cr_expect_str_eq(s.bare_out, "child ok\n");
	for (int i = 0; i < 2; i++) {
		json_t *j = itest_report_ok(&s.rep[i], s.r.traces[i]);
		const char *base = strrchr(s.r.traces[i], '/') + 1;
		char want[64];

		snprintf(want, sizeof(want), "t.sbx_title.%lld.trace", itest_int(j, "process.pid"));
		cr_expect_str_eq(base, want, "trace named \"%s\", want \"%s\"", base, want);
		cr_expect(itest_bool(j, "process.complete"), "%s incomplete: %s", base,
			  s.rep[i].err);
		if (itest_nsites(j, "titled_child"))
			child = i;
	}
	s.reported = true;
	cr_assert_neq(child, -1, "no trace has the child's allocations");
	rel_check_site(s.rep[child].json, "sbx_title.c", "titled_child", 150, 150 * 48, 0);
	cr_expect_eq(itest_nsites(s.rep[1 - child].json, "titled_child"), 0);
	sbx_free(&s);
}
