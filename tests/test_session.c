/* SPDX-License-Identifier: MIT */
/* Sessions and filters: one run is one session whose summary names the main process; --since, --until and --tid select exactly a phase's and a thread's events. */
#include "itest.h"
#include "trace_read.h"

/* What session_phases printed, and its trace's start: the ground truth. */
struct phases {
	unsigned long long tid_a, tid_b, p1, p2, p3, end;
	uint64_t start; /* the trace's start, CLOCK_MONOTONIC ns */
	struct itest_run run;
};

static void run_phases(struct phases *ph)
{
	struct pst_trace *t;
	char err[PATH_MAX + 256];

	memset(ph, 0, sizeof(*ph));
	itest_run(&ph->run, (const char *[]){ "--full", NULL }, "session_phases", NULL);
	cr_assert(WIFEXITED(ph->run.wstatus) && WEXITSTATUS(ph->run.wstatus) == 0, "run %s: %s",
		  itest_wdesc(ph->run.wstatus), ph->run.err);
	cr_assert_eq(sscanf(ph->run.out, "tid_a %llu\ntid_b %llu\nphase1 %llu\nphase2 %llu\nphase3 %llu\nend %llu",
			    &ph->tid_a, &ph->tid_b, &ph->p1, &ph->p2, &ph->p3, &ph->end),
		     6, "stdout: %s", ph->run.out);
	cr_assert_eq(ph->run.ntraces, 1);
	cr_assert_eq(pst_trace_open(ph->run.traces[0], &t, err, sizeof(err)), 0, "%s", err);
	ph->start = t->proc.start_monotonic_ns;
	pst_trace_close(t);
	cr_assert(ph->start < ph->p1);
}

/* A bound printed by the target as seconds from the trace's start. */
static const char *secs(const struct phases *ph, unsigned long long at, char *buf)
{
	sprintf(buf, "%.9f", (double)(at - ph->start) / 1e9);
	return buf;
}

/* `prestanda CMD ARGS... TRACE` (report: --json --top 100000 first): its
 * stdout, exit 0 asserted. */
static char *cmd_out(const char *cmd, const char *const *args, const char *trace)
{
	char *argv[ITEST_MAX_ARGS], *out;
	int n = 0, st;

	argv[n++] = ITEST_PRESTANDA;
	argv[n++] = (char *)cmd;
	if (!strcmp(cmd, "report"))
		n = itest_argv_add(argv, n, (const char *const[]){ "--json", "--top", "100000", NULL });
	n = itest_argv_add(argv, n, args);
	argv[n++] = (char *)trace;
	argv[n] = NULL;
	st = itest_spawn_out(argv, &out);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: %s", cmd, itest_wdesc(st));
	cr_assert(out);
	return out;
}

/* The report of trace with args, its memory figures checked. */
static void expect_memory(const char *trace, const char *const *args, long long calls,
			  long long bytes, long long frees, long long leaked, long long leaked_bytes)
{
	char *out = cmd_out("report", args, trace);
	json_error_t jerr;
	json_t *j = json_loads(out, 0, &jerr);

	cr_assert(j, "not JSON: %.300s", out);
	cr_expect_eq(itest_int(j, "memory.alloc_calls"), calls, "%s %s: alloc_calls %lld, want %lld",
		     args[0], args[1], itest_int(j, "memory.alloc_calls"), calls);
	cr_expect_eq(itest_int(j, "memory.allocated_bytes"), bytes, "%s %s: bytes %lld, want %lld",
		     args[0], args[1], itest_int(j, "memory.allocated_bytes"), bytes);
	cr_expect_eq(itest_int(j, "memory.free_calls"), frees, "%s %s: frees %lld, want %lld",
		     args[0], args[1], itest_int(j, "memory.free_calls"), frees);
	cr_expect_eq(itest_int(j, "memory.leaked_allocations"), leaked,
		     "%s %s: leaked %lld, want %lld", args[0], args[1],
		     itest_int(j, "memory.leaked_allocations"), leaked);
	cr_expect_eq(itest_int(j, "memory.leaked_bytes"), leaked_bytes,
		     "%s %s: leaked bytes %lld, want %lld", args[0], args[1],
		     itest_int(j, "memory.leaked_bytes"), leaked_bytes);
	json_decref(j);
	free(out);
}

/*
 * Phase 1: thread A allocates 1000 x 100 B and keeps them; phase 2:
 * thread B allocates 2000 x 200 B and frees them; phase 3: the main
 * thread frees A's blocks. Each window holds exactly its phase: A's
 * blocks are live at phase 1's end (leaked there), and phase 3's frees
 * are of blocks allocated before it (neither allocations nor leaks).
 */
Test(session_filter, since_until_select_a_phase, .timeout = 60)
{
	struct phases ph;
	char s[32], u[32];
	const char *tr;

	run_phases(&ph);
	tr = ph.run.traces[0];
	expect_memory(tr, (const char *[]){ "--since", secs(&ph, ph.p1, s), "--until", secs(&ph, ph.p2, u), NULL },
		      1000, 100000, 0, 1000, 100000);
	expect_memory(tr, (const char *[]){ "--since", secs(&ph, ph.p2, s), "--until", secs(&ph, ph.p3, u), NULL },
		      2000, 400000, 2000, 0, 0);
	expect_memory(tr, (const char *[]){ "--since", secs(&ph, ph.p3, s), "--until", secs(&ph, ph.end, u), NULL },
		      0, 0, 1000, 0, 0);
	/* phases 1 and 2 together: A's blocks still live at the end of 2 */
	expect_memory(tr, (const char *[]){ "--since", secs(&ph, ph.p1, s), "--until", secs(&ph, ph.p3, u), NULL },
		      3000, 500000, 2000, 1000, 100000);
	itest_cleanup(&ph.run);
}

/* --tid keeps one thread's events: A's blocks, freed by the main thread,
 * are still held as far as A's events tell. */
Test(session_filter, tid_selects_a_thread, .timeout = 60)
{
	struct phases ph;
	char a[32], b[32], s[32];
	const char *tr;

	run_phases(&ph);
	tr = ph.run.traces[0];
	sprintf(a, "%llu", ph.tid_a);
	sprintf(b, "%llu", ph.tid_b);
	expect_memory(tr, (const char *[]){ "--tid", a, NULL }, 1000, 100000, 0, 1000, 100000);
	expect_memory(tr, (const char *[]){ "--tid", b, NULL }, 2000, 400000, 2000, 0, 0);
	expect_memory(tr, (const char *[]){ "--tid", a, "--since", secs(&ph, ph.p2, s), NULL }, 0, 0,
		      0, 0, 0);
	expect_memory(tr, (const char *[]){ "--tid", b, "--since", secs(&ph, ph.p2, s), NULL }, 2000,
		      400000, 2000, 0, 0);
	itest_cleanup(&ph.run);
}

/* The sum of a folded file's counts. */
static long long folded_total(const char *folded)
{
	long long sum = 0;

	for (const char *l = folded; *l;) {
		const char *nl = strchr(l, '\n'), *sp;
		size_t len = nl ? (size_t)(nl - l) : strlen(l);

		for (sp = l + len; sp > l && sp[-1] != ' '; sp--)
			;
		if (l[0] != '#' && sp > l)
			sum += atoll(sp);
		l += len + (nl != NULL);
	}
	return sum;
}

/* flame and diff read through the same filter as report. */
Test(session_filter, flame_and_diff_filtered, .timeout = 60)
{
	struct phases ph;
	char b[32], s[32], u[32], *out;
	const char *tr;

	run_phases(&ph);
	tr = ph.run.traces[0];
	sprintf(b, "%llu", ph.tid_b);
	out = cmd_out("flame", (const char *[]){ "-f", "folded", "--tid", b, NULL }, tr);
	cr_expect_eq(folded_total(out), 400000, "B's folded bytes: %lld", folded_total(out));
	free(out);
	out = cmd_out("flame", (const char *[]){ "-f", "folded", "-m", "alloc-calls", "--since",
						 secs(&ph, ph.p1, s), "--until", secs(&ph, ph.p2, u), NULL },
		      tr);
	cr_expect_eq(folded_total(out), 1000, "phase 1's folded calls: %lld", folded_total(out));
	free(out);
	out = cmd_out("diff", (const char *[]){ "--json", "--tid", b, tr, NULL }, tr);
	cr_expect(strstr(out, "\"alloc_calls\""), "diff: %.300s", out);
	free(out);
	itest_cleanup(&ph.run);
}
