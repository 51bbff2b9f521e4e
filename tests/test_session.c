/* SPDX-License-Identifier: MIT */
/* Sessions and filters: one run is one session whose summary names the main process; --since, --until and --tid select exactly a phase's and a thread's events. */
#include <time.h>

#include "heap_all.h"
#include "itest.h"
#include "session.h"
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

/* A run in a fresh directory: `cd DIR && prestanda run [OPTS] -- CMD...`
 * through sh, so that the session lands in DIR by its default name. */
struct srun {
	char dir[64];
	char *out, *err;
	int wstatus;
	struct pst_session *s; /* the one session DIR holds */
	char sdir[PATH_MAX];
};

static void srun(struct srun *r, const char *setup, const char *cmd)
{
	char script[4 * PATH_MAX], outp[PATH_MAX], errp[PATH_MAX], err[PATH_MAX + 128], cwd[PATH_MAX];
	char *argv[] = { "/bin/sh", "-c", script, NULL };
	struct dirent *e;
	DIR *d;

	memset(r, 0, sizeof(*r));
	strcpy(r->dir, "/tmp/pst-itest-session.XXXXXX");
	cr_assert(mkdtemp(r->dir));
	cr_assert(getcwd(cwd, sizeof(cwd)));
	snprintf(outp, sizeof(outp), "%s/run.out", r->dir);
	snprintf(errp, sizeof(errp), "%s/run.err", r->dir);
	snprintf(script, sizeof(script), "cd %s && %s && exec %s/" ITEST_PRESTANDA " run -- %s",
		 r->dir, setup, cwd, cmd);
	r->wstatus = itest_spawn(argv, outp, errp);
	r->out = itest_slurp(outp, NULL);
	r->err = itest_slurp(errp, NULL);
	cr_assert(r->out && r->err);
	d = opendir(r->dir);
	cr_assert(d);
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "prestanda.", 10)) {
			cr_assert_eq(r->sdir[0], 0, "two sessions: %s and %s", r->sdir, e->d_name);
			snprintf(r->sdir, sizeof(r->sdir), "%s/%s", r->dir, e->d_name);
		}
	closedir(d);
	cr_assert(r->sdir[0], "no session in %s; stderr: %s", r->dir, r->err);
	cr_assert_eq(pst_session_open(r->sdir, &r->s, err, sizeof(err)), 0, "%s", err);
}

static void srun_free(struct srun *r)
{
	char cmd[PATH_MAX + 16];

	pst_session_free(r->s);
	free(r->out);
	free(r->err);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", r->dir);
	cr_expect_eq(system(cmd), 0);
}

/* srun of a command set up by the shell line fmt (its %s: the absolute
 * path of alloc_known, also into abs), asserted to end with status 0 and
 * to name the top process main. */
static void srun_ok(struct srun *r, const char *fmt, const char *cmd, char *abs)
{
	char setup[3 * PATH_MAX];

	cr_assert(realpath(ITEST_TARGETS "alloc_known", abs));
	snprintf(setup, sizeof(setup), fmt, abs);
	srun(r, setup, cmd);
	cr_assert(WIFEXITED(r->wstatus) && WEXITSTATUS(r->wstatus) == 0, "%s", r->err);
	cr_expect_eq(r->s->top, r->s->main);
}

/* Processes of the session (distinct pids). */
static int nprocs(const struct pst_session *s)
{
	int n = 0;

	for (size_t i = 0; i < s->ntraces; i++)
		n += pst_session_last(s, s->traces[i].pid) == &s->traces[i];
	return n;
}

/* `prestanda report --json ARGS... SESSION`'s process.pid and .exe. */
static void report_process(const char *session, const char *const *args, long long *pid,
			   char *exe, size_t len)
{
	char *out = cmd_out("report", args, session);
	json_error_t jerr;
	json_t *j = json_loads(out, 0, &jerr);

	cr_assert(j, "not JSON: %.300s", out);
	*pid = itest_int(j, "process.pid");
	snprintf(exe, len, "%s", itest_str(j, "process.exe"));
	json_decref(j);
	free(out);
}

/* A shell script that execs the real program: one process, two images;
 * the summary names it main, after the shell that exec'd it; report of
 * the session reads the program's trace. */
Test(session_run, shell_wrapper_that_execs, .timeout = 60)
{
	struct srun r;
	char line[PATH_MAX + 128], exe[PATH_MAX], abs[PATH_MAX];
	const struct pst_session_trace *t;
	long long pid;

	srun_ok(&r, "printf '#!/bin/sh\\nexec %s \"$@\"\\n' > wrap.sh && chmod +x wrap.sh",
		"./wrap.sh", abs);
	cr_expect_eq(nprocs(r.s), 1);
	cr_expect_eq(r.s->ntraces, 2, "traces: %zu", r.s->ntraces);
	t = pst_session_last(r.s, r.s->main);
	cr_assert(t);
	cr_expect_str_eq(t->name, "alloc_known");
	snprintf(line, sizeof(line),
		 "prestanda: session prestanda.wrap.sh.%llu: 1 process, main %llu alloc_known (the command's process: sh exec'd alloc_known)\n",
		 (unsigned long long)r.s->top, (unsigned long long)r.s->top);
	cr_expect(strstr(r.err, line), "stderr lacks '%s': %s", line, r.err);
	snprintf(line, sizeof(line), "prestanda: read it with: prestanda report prestanda.wrap.sh.%llu\n",
		 (unsigned long long)r.s->top);
	cr_expect(strstr(r.err, line), "stderr lacks '%s': %s", line, r.err);
	cr_expect_eq(itest_lines(r.err), 3, "stderr: %s", r.err);
	report_process(r.sdir, (const char *[]){ NULL }, &pid, exe, sizeof(exe));
	cr_expect_eq(pid, (long long)r.s->main);
	cr_expect_str_eq(exe, abs);
	srun_free(&r);
}

/* sh -c 'exec PROG': the command (sh) is main, its last image the program. */
Test(session_run, sh_c_exec, .timeout = 60)
{
	struct srun r;
	char cmd[PATH_MAX + 32], exe[PATH_MAX], abs[PATH_MAX];
	long long pid;

	cr_assert(realpath(ITEST_TARGETS "alloc_known", abs));
	snprintf(cmd, sizeof(cmd), "sh -c 'exec %s'", abs);
	srun(&r, "true", cmd);
	cr_assert(WIFEXITED(r.wstatus) && WEXITSTATUS(r.wstatus) == 0, "%s", r.err);
	cr_expect_eq(r.s->top, r.s->main);
	cr_expect(strstr(r.err, "main "), "%s", r.err);
	report_process(r.sdir, (const char *[]){ NULL }, &pid, exe, sizeof(exe));
	cr_expect_eq(pid, (long long)r.s->main);
	cr_expect_str_eq(exe, abs);
	report_process(r.sdir, (const char *[]){ "--comm", "alloc_known", NULL }, &pid, exe,
		       sizeof(exe));
	cr_expect_str_eq(exe, abs);
	srun_free(&r);
}

/* make -j2 of six files, each made by running a traced program: one
 * session; make is the command and main; --comm and --all pick the
 * programs. */
Test(session_run, make_j2, .timeout = 120)
{
	struct srun r;
	char line[PATH_MAX], abs[PATH_MAX], *out;
	json_error_t jerr;
	json_t *j;
	int progs = 0;

	srun_ok(&r, "printf 'all: o1 o2 o3 o4 o5 o6\\no%%%%:\\n\\t%s > $@\\n' > Makefile",
		"make -s -j2", abs);
	for (size_t i = 0; i < r.s->ntraces; i++)
		progs += !strcmp(r.s->traces[i].name, "alloc_known");
	cr_expect_eq(progs, 6, "%d traces of alloc_known", progs);
	snprintf(line, sizeof(line),
		 "prestanda: session prestanda.make.%llu: %d processes, main %llu make (the command itself)\n",
		 (unsigned long long)r.s->top, nprocs(r.s), (unsigned long long)r.s->top);
	cr_expect(strstr(r.err, line), "stderr lacks '%s': %s", line, r.err);
	cr_expect_eq(strstr(strstr(r.err, "read it with") + 1, "read it with"), NULL, "%s", r.err);
	out = cmd_out("report", (const char *[]){ "--comm", "alloc_known", NULL }, r.sdir);
	j = json_loads(out, 0, &jerr);
	cr_assert(json_is_array(j), "%.200s", out);
	cr_expect_eq(json_array_size(j), 6);
	json_decref(j);
	free(out);
	for (size_t i = 0; i < r.s->ntraces; i++) {
		char pid[32], exe[PATH_MAX];
		long long got;

		if (strcmp(r.s->traces[i].name, "alloc_known"))
			continue;
		snprintf(pid, sizeof(pid), "%llu", (unsigned long long)r.s->traces[i].pid);
		report_process(r.sdir, (const char *[]){ "--pid", pid, NULL }, &got, exe, sizeof(exe));
		cr_expect_eq(got, (long long)r.s->traces[i].pid);
		cr_expect_str_eq(exe, abs);
		break;
	}
	out = cmd_out("report", (const char *[]){ "--all", NULL }, r.sdir);
	j = json_loads(out, 0, &jerr);
	cr_expect(json_is_object(j) && json_array_size(json_object_get(j, "processes")) ==
					       (size_t)nprocs(r.s), "%.300s", out);
	json_decref(j);
	free(out);
	srun_free(&r);
}

/* The filter's own terms: bounds from the trace's start and wall times,
 * half-open windows, thread and process tests of records. */
Test(filter_unit, bounds_and_records)
{
	struct pst_process p = { .start_monotonic_ns = 5000000000ull,
				 .start_realtime_ns = 1796315405000000000ull };
	struct pst_filter f = { 0 };
	uint8_t rec[64], *e;

	cr_assert_eq(pst_filter_time(&f, false, "1.5"), 0);
	cr_assert_eq(pst_filter_time(&f, true, "@1796315407.25"), 0);
	pst_filter_bind(&f, &p);
	cr_expect_eq(f.lo_ns, 6500000000ull);
	cr_expect_eq(f.hi_ns, 7250000000ull);
	cr_expect(pst_filter_keep(&f, 1, 6500000000ull));
	cr_expect(!pst_filter_keep(&f, 1, 6499999999ull));
	cr_expect(pst_filter_keep(&f, 1, 7249999999ull));
	cr_expect(!pst_filter_keep(&f, 1, 7250000000ull));
	f.has_tid = true;
	f.tid = 7;
	cr_expect(!pst_filter_keep(&f, 1, 7000000000ull));
	cr_expect(pst_filter_keep(&f, 7, 7000000000ull));
	/* a CPU sample by its own pid and tid, whichever block holds it */
	f.has_pid = true;
	f.pid = 42;
	e = pst_enc_sample(rec, 7000000000ull, 42, 7, 1, 0, 1, 0);
	cr_expect(pst_filter_record(&f, PST_REC_SAMPLE, 0, rec + 2, (size_t)(e - rec - 2)));
	e = pst_enc_sample(rec, 7000000000ull, 43, 7, 1, 0, 1, 0);
	cr_expect(!pst_filter_record(&f, PST_REC_SAMPLE, 0, rec + 2, (size_t)(e - rec - 2)));
	e = pst_enc_sample(rec, 8000000000ull, 42, 7, 1, 0, 1, 0);
	cr_expect(!pst_filter_record(&f, PST_REC_SAMPLE, 0, rec + 2, (size_t)(e - rec - 2)));
	/* a thread's wait by the block's thread; a snapshot is the process's */
	e = pst_enc_wait(rec, 7000000000ull, 1, 0, 10, 0, 0);
	cr_expect(!pst_filter_record(&f, PST_REC_WAIT, 8, rec + 2, (size_t)(e - rec - 2)));
	cr_expect(pst_filter_record(&f, PST_REC_WAIT, 7, rec + 2, (size_t)(e - rec - 2)));
	cr_expect_eq(pst_filter_time(&f, false, "x"), -1);
	cr_expect_eq(pst_filter_time(&f, false, "-1"), -1);
	cr_expect_eq(pst_filter_time(&f, false, "25:00:00"), -1);
}

/* A wall time of day is on the trace's (local) day. */
Test(filter_unit, time_of_day)
{
	struct pst_process p = { .start_monotonic_ns = 1000000000ull };
	struct pst_filter f = { 0 };
	struct tm tm = { .tm_year = 126, .tm_mon = 11, .tm_mday = 3, .tm_hour = 16, .tm_min = 30,
			 .tm_sec = 0, .tm_isdst = -1 };
	time_t start = mktime(&tm);

	p.start_realtime_ns = (uint64_t)start * 1000000000ull;
	cr_assert_eq(pst_filter_time(&f, false, "16:30:02.5"), 0);
	cr_assert_eq(pst_filter_time(&f, true, "2026-12-03T16:30:04"), 0);
	pst_filter_bind(&f, &p);
	cr_expect_eq(f.lo_ns, 3500000000ull);
	cr_expect_eq(f.hi_ns, 5000000000ull);
}

/* -o DIR/ names the session's directory; its index names the one process
 * main, and report reads it as the trace of that process. */
Test(session_run, output_dir, .timeout = 60)
{
	struct itest_run r;
	struct pst_session *s;
	char dir[PATH_MAX], err[PATH_MAX + 128], exe[PATH_MAX];
	long long pid;

	itest_run_as(&r, NULL, "sess/", "alloc_known", NULL);
	cr_assert(WIFEXITED(r.wstatus) && WEXITSTATUS(r.wstatus) == 0, "%s", r.err);
	snprintf(dir, sizeof(dir), "%s/sess", r.dir);
	cr_assert_eq(pst_session_open(dir, &s, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(s->ntraces, 1);
	cr_expect_eq(s->top, s->main);
	cr_expect_str_eq(s->traces[0].name, "alloc_known");
	report_process(dir, (const char *[]){ NULL }, &pid, exe, sizeof(exe));
	cr_expect_eq(pid, (long long)s->main);
	/* diff takes sessions as their main processes: the same run, no change */
	free(cmd_out("diff", (const char *[]){ "--json", dir, NULL }, dir));
	pst_session_free(s);
	snprintf(err, sizeof(err), "rm -rf %s", r.dir);
	cr_expect_eq(system(err), 0);
	free(r.out);
	free(r.err);
}

/* A system-wide trace's samples: pid 10 is "prog", pid 20 "other". */
static struct pst_trace *system_wide(char *path)
{
	uint8_t in[512], file[1024], pay[64], *p = in, *q = pay, *f;
	struct pst_trace *t;
	char err[256];
	int fd;

	p = pst_enc_task(p, 10, 10, "prog");
	p = pst_enc_task(p, 20, 21, "other");
	for (uint64_t i = 0; i < 6; i++)
		p = pst_enc_sample(p, 1000 + i, i % 2 ? 20 : 10, i % 2 ? 21 : 10, 0, 0, 1, 0);
	q = pst_put_varint(q, PST_VERSION);
	for (int i = 0; i < 6; i++) /* pid, ppid, flags, sample bytes, start times */
		q = pst_put_varint(q, 0);
	q = pst_put_bytes(pst_put_bytes(q, "", 0), "host", 4);
	memcpy(file, PST_MAGIC, PST_MAGIC_LEN);
	f = pst_enc_framed(file + PST_MAGIC_LEN, PST_REC_PROCESS, pay, (size_t)(q - pay));
	f = pst_enc_block_header(f, 0, 1, (size_t)(p - in));
	memcpy(f, in, (size_t)(p - in));
	f = pst_enc_end(f + (p - in), 2000, PST_END_EXIT, 0);
	fd = mkstemp(path);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, file, (size_t)(f - file)), f - file);
	close(fd);
	cr_assert_eq(pst_trace_open(path, &t, err, sizeof(err)), 0, "%s", err);
	return t;
}

static int count_sample(unsigned type, uint64_t tid, const uint8_t *p, size_t len, void *arg)
{
	(void)type, (void)tid, (void)p, (void)len;
	++*(int *)arg;
	return 0;
}

/* --comm keeps the samples of the processes its TASK records name so. */
Test(filter_unit, comm_of_a_system_wide_trace)
{
	char path[] = "/tmp/pst-test-session-XXXXXX";
	struct pst_trace *t = system_wide(path);
	struct pst_filter f = { .comm = "other" };
	int n = 0;

	pst_trace_foreach(t, PST_REC_SAMPLE, PST_REC_SAMPLE, count_sample, &n);
	cr_expect_eq(n, 6);
	pst_trace_filter(t, &f);
	n = 0;
	pst_trace_foreach(t, PST_REC_SAMPLE, PST_REC_SAMPLE, count_sample, &n);
	cr_expect_eq(n, 3);
	f.comm = "prog";
	f.has_since = true;
	f.since = 0.000001003; /* from ts 1003 on */
	pst_trace_filter(t, &f);
	n = 0;
	pst_trace_foreach(t, PST_REC_SAMPLE, PST_REC_SAMPLE, count_sample, &n);
	cr_expect_eq(n, 1, "samples of prog from 1003 on: %d", n);
	pst_trace_close(t);
	unlink(path);
}

/* ---- --all: a session's processes as one view ---- */

/* leak_many's arguments in the mixed session: blocks lost, blocks kept. */
#define MIX_LOST 30
#define MIX_KEPT 20

/* A session of a shell script running `copies` alloc_known (the first in
 * the background) and then leak_many, in full mode: 2 + copies processes. */
static void srun_mix(struct srun *r, int copies)
{
	char ak[PATH_MAX], lm[PATH_MAX], setup[8 * PATH_MAX];
	int o;

	cr_assert(realpath(ITEST_TARGETS "alloc_known", ak));
	cr_assert(realpath(ITEST_TARGETS "leak_many", lm));
	o = snprintf(setup, sizeof(setup), "printf '#!/bin/sh\\n%s &\\n", ak);
	for (int i = 1; i < copies; i++)
		o += snprintf(setup + o, sizeof(setup) - o, "%s\\n", ak);
	/* every allocation recorded: the figures are exact */
	snprintf(setup + o, sizeof(setup) - o,
		 "wait\\n%s %d %d\\n' > mix.sh && chmod +x mix.sh && export PRESTANDA_FULL=1", lm,
		 MIX_LOST, MIX_KEPT);
	srun(r, setup, "./mix.sh");
	cr_assert(WIFEXITED(r->wstatus) && WEXITSTATUS(r->wstatus) == 0, "%s", r->err);
	cr_assert_eq(nprocs(r->s), 2 + copies, "processes: %d; %s", nprocs(r->s), r->err);
}

/* The row of `processes` for program prog: how many rows have it, the
 * last one's figures checked against calls, bytes, leaked and lost. */
static int expect_rows(json_t *rep, const char *prog, long long calls, long long bytes,
		       long long leaked, long long lost)
{
	json_t *rows = json_object_get(rep, "processes"), *p;
	size_t i;
	int n = 0;

	json_array_foreach(rows, i, p)
	{
		if (strcmp(itest_str(p, "program"), prog))
			continue;
		n++;
		cr_expect_eq(itest_int(p, "alloc_calls"), calls, "%s calls", prog);
		cr_expect_eq(itest_int(p, "allocated_bytes"), bytes, "%s bytes", prog);
		cr_expect_eq(itest_int(p, "leaked_bytes"), leaked, "%s leaked", prog);
		cr_expect_eq(itest_int(p, "lost_bytes"), lost, "%s lost", prog);
		cr_expect_str_eq(itest_str(p, "end_reason"), "exit");
	}
	return n;
}

/* The finding id at function fn's site, NULL when none. */
static json_t *finding_at(json_t *rep, const char *id, const char *fn)
{
	json_t *f;
	size_t i;

	json_array_foreach(json_object_get(rep, "findings"), i, f)
	{
		const char *top = json_string_value(json_array_get(json_object_get(f, "stack"), 0));

		if (!strcmp(itest_str(f, "id"), id) && top && !strncmp(top, fn, strlen(fn)) &&
		    top[strlen(fn)] == ' ')
			return f;
	}
	return NULL;
}

/* The sum of the folded lines under root frame [prog]. */
static long long folded_root(const char *folded, const char *prog)
{
	char root[64];
	long long sum = 0;

	snprintf(root, sizeof(root), "[%s];", prog);
	for (const char *l = folded; *l;) {
		size_t len = strcspn(l, "\n");
		const char *sp = l + len;

		while (sp > l && sp[-1] != ' ')
			sp--;
		if (!strncmp(l, root, strlen(root)) && sp > l)
			sum += atoll(sp);
		l += len + (l[len] == '\n');
	}
	return sum;
}

/* report --all: the per-process table exact, the sites of the two copies
 * of alloc_known merged into one each (their sums), findings over the
 * merged sites saying how many processes had them; flame --all's folded
 * stacks sum to the same totals, rooted at each program. */
Test(session_all, merged_report_and_flame, .timeout = 120)
{
	struct srun r;
	json_error_t jerr;
	json_t *j, *s, *f, *p;
	long long calls = 0, bytes = 0;
	char *out;
	size_t i;

	srun_mix(&r, 2);
	out = cmd_out("report", (const char *[]){ "--all", NULL }, r.sdir);
	j = json_loads(out, 0, &jerr);
	cr_assert(json_is_object(j), "%.300s", out);
	cr_expect_eq(expect_rows(j, "alloc_known", 1130, 119500, 1000, 1000), 2);
	cr_expect_eq(expect_rows(j, "leak_many", MIX_LOST + MIX_KEPT, 100 * (MIX_LOST + MIX_KEPT),
				 100 * (MIX_LOST + MIX_KEPT), 100 * MIX_LOST),
		     1);
	json_array_foreach(json_object_get(j, "processes"), i, p)
	{
		calls += itest_int(p, "alloc_calls");
		bytes += itest_int(p, "allocated_bytes");
	}
	cr_expect_eq(itest_int(j, "memory.alloc_calls"), calls);
	cr_expect_eq(itest_int(j, "memory.allocated_bytes"), bytes);
	/* the heaps at once: between the largest process's peak and their sum */
	cr_expect(itest_int(j, "memory.peak_heap_bytes_concurrent") >=
			  itest_int(j, "memory.peak_heap_bytes") &&
		  itest_int(j, "memory.peak_heap_bytes_concurrent") <=
			  itest_int(j, "memory.peak_heap_bytes_sum"));
	cr_expect_geq(itest_int(j, "memory.peak_heap_bytes"), 9192);
	s = itest_site(j, "make_small");
	cr_expect_eq(itest_int(s, "calls"), 2000);
	cr_expect_eq(itest_int(s, "bytes"), 48000);
	cr_expect_eq(itest_int(itest_site(j, "leak_ten"), "leaked_bytes"), 2000);
	cr_expect_eq(itest_int(itest_site(j, "grow_chain"), "calls"), 128);
	cr_expect_eq(itest_int(itest_site(j, "lose"), "calls"), MIX_LOST);
	f = finding_at(j, "leak", "leak_ten");
	cr_assert(f, "no leak finding at leak_ten: %.600s", out);
	cr_expect_eq(itest_int(f, "evidence.processes"), 2);
	cr_expect_eq(itest_int(f, "evidence.leaked_bytes"), 2000);
	cr_expect_eq(itest_int(f, "evidence.lost_bytes"), 2000);
	f = finding_at(j, "leak", "lose");
	cr_assert(f, "no leak finding at lose");
	cr_expect_eq(itest_int(f, "evidence.processes"), 1);
	cr_expect_eq(itest_int(f, "evidence.lost_bytes"), 100 * MIX_LOST);
	/* 63 moves in each copy (not the churn rule: it counts calls per
	 * second, which depend on how long the processes took) */
	f = finding_at(j, "realloc-growth", "grow_chain");
	cr_assert(f, "no realloc finding at grow_chain");
	cr_expect_eq(itest_int(f, "evidence.processes"), 2);
	cr_expect_eq(itest_int(f, "evidence.reallocs"), 126);
	free(out);
	{
		char *argv[] = { ITEST_PRESTANDA, "report", "--all", r.sdir, NULL };

		cr_expect_eq(itest_spawn_out(argv, &out), 0);
		cr_expect(out && strstr(out, "processes (4)\n"), "%.300s", out);
		cr_expect(out && strstr(out, "\nTotals (4 processes)\n  allocations  "), "%.600s", out);
		cr_expect(out && strstr(out, "evidence: leaked_bytes=2000, leaked_allocations=20, lost_bytes=2000"),
			  "%.2000s", out);
		free(out);
	}
	out = cmd_out("report", (const char *[]){ "--all", "--comm", "alloc_known", NULL }, r.sdir);
	json_decref(j);
	j = json_loads(out, 0, &jerr);
	cr_assert(json_is_object(j), "%.300s", out);
	cr_expect_eq(json_array_size(json_object_get(j, "processes")), 2);
	cr_expect_eq(itest_int(j, "memory.alloc_calls"), 2 * 1130);
	free(out);
	out = cmd_out("flame", (const char *[]){ "--all", "-f", "folded", NULL }, r.sdir);
	cr_expect_eq(folded_total(out), bytes, "folded %lld, report %lld", folded_total(out), bytes);
	cr_expect_eq(folded_root(out, "alloc_known"), 2 * 119500);
	cr_expect_eq(folded_root(out, "leak_many"), 100 * (MIX_LOST + MIX_KEPT));
	free(out);
	json_decref(j);
	srun_free(&r);
}

/* diff --all of a session with two copies of alloc_known and one with
 * three: the merged site has 1000 more calls of make_small, a regression. */
Test(session_all, diff_of_two_sessions, .timeout = 180)
{
	struct srun a, b;
	char *argv[] = { ITEST_PRESTANDA, "diff", "--all", "--json", a.sdir, b.sdir, NULL }, *out;
	json_error_t jerr;
	json_t *j, *site, *found = NULL;
	size_t i;
	int st;

	srun_mix(&a, 2);
	srun_mix(&b, 3);
	argv[4] = a.sdir;
	argv[5] = b.sdir;
	st = itest_spawn_out(argv, &out);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 1, "diff: %s", itest_wdesc(st));
	j = json_loads(out, 0, &jerr);
	cr_assert(j, "not JSON: %.300s", out);
	json_array_foreach(json_object_get(j, "sites"), i, site)
		if (json_is_string(json_object_get(site, "function")) &&
		    !strcmp(itest_str(site, "function"), "make_small"))
			found = site;
	cr_assert(found, "no make_small in the diff: %.600s", out);
	cr_expect_eq(itest_int(found, "metrics.calls.base"), 2000);
	cr_expect_eq(itest_int(found, "metrics.calls.new"), 3000);
	cr_expect_str_eq(itest_str(found, "verdict"), "regression");
	json_decref(j);
	free(out);
	srun_free(&a);
	srun_free(&b);
}

/* --pid, --comm and --tid of a trace that is no session and not
 * system-wide: its own process is all of it; another is an error that
 * names the trace and what it holds, exit 2. */
Test(session_all, pid_of_a_plain_trace, .timeout = 60)
{
	struct itest_run run;
	char pid[32], want[PATH_MAX + 128], *err, errp[PATH_MAX], *base, *own;
	char *argv[] = { ITEST_PRESTANDA, "report", "--pid", "999999", NULL, NULL };
	int st;

	itest_run(&run, (const char *[]){ "--full", NULL }, "alloc_known", NULL);
	cr_assert_eq(run.ntraces, 1);
	argv[4] = run.traces[0];
	itest_tmpfile(errp, sizeof(errp));
	st = itest_spawn(argv, "/dev/null", errp);
	err = itest_slurp(errp, NULL);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 2, "--pid 999999: %s", itest_wdesc(st));
	snprintf(want, sizeof(want), "prestanda: report: %s: holds one process, %ld (alloc_known), not --pid 999999;",
		 run.traces[0], itest_trace_pid(run.traces[0]));
	cr_expect(err && strstr(err, want), "stderr lacks '%s': %s", want, err);
	free(err);
	argv[2] = "--tid";
	st = itest_spawn(argv, "/dev/null", errp);
	err = itest_slurp(errp, NULL);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 2, "--tid 999999: %s", itest_wdesc(st));
	cr_expect(err && strstr(err, "has no thread 999999"), "%s", err);
	free(err);
	unlink(errp);
	sprintf(pid, "%ld", itest_trace_pid(run.traces[0]));
	base = cmd_out("report", (const char *[]){ NULL }, run.traces[0]);
	own = cmd_out("report", (const char *[]){ "--pid", pid, NULL }, run.traces[0]);
	cr_expect_str_eq(own, base);
	free(own);
	own = cmd_out("report", (const char *[]){ "--comm", "alloc_known", NULL }, run.traces[0]);
	cr_expect_str_eq(own, base);
	free(own);
	free(base);
	itest_cleanup(&run);
}

/* The heap of several processes at once: one trace of alloc_known is its
 * own peak (1000 + 8192 bytes); the same trace twice is two processes
 * whose events come at the same moments: twice the peak, exactly. */
Test(session_all, concurrent_peak, .timeout = 60)
{
	struct itest_run run;
	struct pst_heap_peak hp;
	char *two[2];

	itest_run(&run, (const char *[]){ "--full", NULL }, "alloc_known", NULL);
	cr_assert_eq(run.ntraces, 1);
	two[0] = two[1] = run.traces[0];
	cr_assert_eq(pst_heap_peak_all(two, 1, &hp), 0);
	cr_expect_eq(hp.bytes, 9192, "one: %.0f", hp.bytes);
	cr_expect_eq(hp.pid, (uint64_t)itest_trace_pid(run.traces[0]));
	cr_assert_eq(pst_heap_peak_all(two, 2, &hp), 0);
	cr_expect_eq(hp.bytes, 2 * 9192, "two: %.0f", hp.bytes);
	itest_cleanup(&run);
	itest_run(&run, (const char *[]){ NULL }, "alloc_known", NULL);
	two[0] = run.traces[0];
	cr_expect_eq(pst_heap_peak_all(two, 1, &hp), -ENODATA, "sampled: not exact");
	itest_cleanup(&run);
}
