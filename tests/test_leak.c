/* SPDX-License-Identifier: MIT */
/* The reachability scan at exit: definitely lost apart from still reachable, against a target whose answer is known. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "itest.h"
#include "suppress.h"

/* A figure summed over every site whose function is fn. */
static long long site_sum(json_t *rep, const char *fn, const char *key)
{
	json_t *sites = itest_get(rep, "memory.sites"), *s;
	long long sum = 0;
	size_t i;

	json_array_foreach(sites, i, s) {
		json_t *f = json_object_get(s, "function");

		if (json_is_string(f) && !strcmp(json_string_value(f), fn))
			sum += json_integer_value(json_object_get(s, key));
	}
	return sum;
}

static json_t *report_prog(struct itest_run *r, struct itest_report *rep, const char *mode,
			   const char *prog)
{
	itest_run(r, (const char *[]){ mode, NULL }, prog, NULL);
	cr_assert(WIFEXITED(r->wstatus) && WEXITSTATUS(r->wstatus) == 0, "run: %s; %s",
		  itest_wdesc(r->wstatus), r->err);
	cr_assert_eq(r->ntraces, 1);
	return itest_report_ok(rep, r->traces[0]);
}

static json_t *report_of(struct itest_run *r, struct itest_report *rep, const char *mode)
{
	return report_prog(r, rep, mode, "leak_reach");
}

/* leak_reach's lost blocks: 5 (696 bytes) from lose_plain and lose_cycle,
 * the rest of what was not freed reachable. */
static void expect_leak_reach_split(json_t *j)
{
	long long leaked = itest_int(j, "memory.leaked_bytes");

	cr_expect_eq(itest_int(j, "memory.lost_allocations"), 5, "lost %lld",
		     itest_int(j, "memory.lost_allocations"));
	cr_expect_eq(itest_int(j, "memory.lost_bytes"), 696, "lost bytes %lld",
		     itest_int(j, "memory.lost_bytes"));
	cr_expect_eq(itest_int(j, "memory.reachable_bytes"), leaked - 696);
	cr_expect_eq(site_sum(j, "lose_plain", "lost_bytes"), 600);
	cr_expect_eq(site_sum(j, "lose_cycle", "lost_bytes"), 96);
}

/* leak_reach.c: 5 blocks (696 bytes) lost; 7 of its own (5,737 bytes)
 * reachable from a global, a thread-local, main's frame, a reachable
 * block and a blocked thread's stack; glibc adds one reachable block of
 * its own for the thread (its DTV). */
Test(leak, full_lost_apart_from_reachable, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep;
	json_t *j = report_of(&r, &rep, "--full"), *leak;
	static const char *const kept[] = { "keep_global", "keep_tls", "keep_list", "holder" };
	char *dump;

	expect_leak_reach_split(j);
	cr_expect_eq(site_sum(j, "keep_global", "leaked_bytes"), 2001);
	cr_expect_eq(site_sum(j, "keep_tls", "leaked_bytes"), 1100);
	cr_expect_eq(site_sum(j, "keep_list", "leaked_bytes"), 136);
	cr_expect_eq(site_sum(j, "holder", "leaked_bytes"), 1300);
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		cr_expect_eq(site_sum(j, kept[i], "lost_bytes"), 0, "%s lost %lld", kept[i],
			     site_sum(j, kept[i], "lost_bytes"));
	/* main's own block (1200, on its frame) is reachable */
	cr_expect_eq(site_sum(j, "main", "lost_bytes"), 0);

	/* the leak findings are the lost blocks' sites, and only theirs */
	leak = itest_finding(j, "leak");
	cr_assert(leak, "no leak finding");
	dump = json_dumps(itest_get(j, "findings"), 0);
	cr_expect(strstr(dump, "lose_plain") && strstr(dump, "lose_cycle"), "%s", dump);
	cr_expect(!strstr(dump, "keep_") && !strstr(dump, "holder"), "%s", dump);
	free(dump);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* leak_remote.c: blocks freed by another thread than the one that
 * allocated them, one of them (b) freed by its old owner after main got
 * its address again (c): each freed block still has a global pointing at
 * it and holds the only pointer to a small block, so a free the scan
 * missed makes that small block reachable. Lost: 300 + 40 + 24 bytes in
 * 3 blocks; reachable: 300 from a global. glibc's block for the thread
 * (its DTV, allocated in main) is lost too once the thread is joined: its
 * pointer stays in the cached stack. */
Test(leak, full_frees_from_other_threads, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep;
	json_t *j = report_prog(&r, &rep, "--full", "leak_remote");
	long long lost = itest_int(j, "memory.lost_bytes");

	cr_expect_eq(lost - site_sum(j, "main", "lost_bytes"), 364, "lost bytes %lld", lost);
	cr_expect_eq(itest_int(j, "memory.reachable_bytes"), 300);
	cr_expect_eq(itest_int(j, "memory.leaked_bytes"), lost + 300);
	cr_expect_eq(site_sum(j, "worker_make", "leaked_bytes"), 600);
	cr_expect_eq(site_sum(j, "worker_make", "lost_bytes"), 300);
	cr_expect_eq(site_sum(j, "main_part", "leaked_bytes"), 64);
	cr_expect_eq(site_sum(j, "main_part", "lost_bytes"), 64, "main_part lost %lld",
		     site_sum(j, "main_part", "lost_bytes"));
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* Sampled mode scans for the sampled blocks alone: with every block
 * sampled (--sample-bytes=1) its answer is --full's, marked an estimate. */
Test(leak, sampled_every_block_is_exact, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep;
	json_t *j = report_of(&r, &rep, "--sample-bytes=1");

	expect_leak_reach_split(j);
	cr_expect(itest_bool(j, "memory.lost_estimated"));
	cr_expect_eq(site_sum(j, "keep_global", "lost_bytes"), 0);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* leak_many: N = 20,000 blocks of 100 bytes lost, M = 20,000 reachable
 * from a global array. Sampled every 2,048 bytes on average, about 980
 * of each kind are sampled: each estimate is N x 100 (M x 100) bytes
 * within 15% (4.7 standard deviations of the sampling), and the text says
 * they are estimates. */
Test(leak, sampled_scan_estimates_lost_and_reachable, .timeout = 60)
{
	long long lost, kept;
	char *text;
	struct itest_report rep;
	struct itest_run r;
	json_t *j;

	j = report_prog(&r, &rep, "--sample-bytes=2048", "leak_many");
	lost = itest_int(j, "memory.lost_bytes");
	kept = itest_int(j, "memory.reachable_bytes");
	cr_expect(lost >= 1700000 && lost <= 2300000, "lost %lld bytes, want 2,000,000 +-15%%", lost);
	cr_expect(kept >= 1700000 && kept <= 2300000, "reachable %lld bytes, want 2,000,000 +-15%%",
		  kept);
	cr_expect_eq(site_sum(j, "hold", "lost_bytes"), 0);
	cr_expect_eq(site_sum(j, "lose", "lost_bytes"), lost);
	cr_expect(itest_bool(j, "memory.lost_estimated"));
	itest_report_free(&rep);
	cr_assert_eq(itest_spawn_out((char *[]){ ITEST_PRESTANDA, "report", r.traces[0], NULL },
				     &text),
		     0);
	cr_expect(text && strstr(text, "still reachable") &&
			  strstr(strstr(text, "still reachable"), "(estimate from sampled blocks)"),
		  "%s", text);
	free(text);
	itest_cleanup(&r);
}

/* report --suppressions FILE --json TRACE, in r's directory: its JSON. */
static json_t *report_suppressed(struct itest_run *r, const char *file_text, int *status)
{
	char supp[PATH_MAX], outp[PATH_MAX], errp[PATH_MAX], *out;
	json_t *j;

	snprintf(supp, sizeof(supp), "%s/supp.txt", r->dir);
	snprintf(outp, sizeof(outp), "%s/supp.out", r->dir);
	snprintf(errp, sizeof(errp), "%s/supp.err", r->dir);
	itest_write(supp, file_text, strlen(file_text));
	*status = itest_spawn((char *[]){ ITEST_PRESTANDA, "report", "--json", "--suppressions", supp,
					  r->traces[0], NULL },
			      outp, errp);
	out = itest_slurp(outp, NULL);
	j = out ? json_loads(out, 0, NULL) : NULL;
	free(out);
	return j;
}

/* LeakSanitizer's syntax: lose_cycle's 2 lost blocks (96 bytes) are
 * suppressed, counted apart and make no finding; lose_plain's still do; an
 * anchored pattern that names no function whole suppresses nothing. */
Test(leak, suppressions_count_apart, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep;
	json_t *j;
	char *dump;
	int st;

	report_of(&r, &rep, "--full");
	itest_report_free(&rep);
	j = report_suppressed(&r, "# LeakSanitizer's syntax\n\n  leak:lose_cyc*  \nleak:^lose_plai$\n"
				  "called_from_lib:libfoo.so\n", &st);
	cr_assert(j && st == 0, "status %d", st);
	cr_expect_eq(itest_int(j, "memory.suppressed_allocations"), 2);
	cr_expect_eq(itest_int(j, "memory.suppressed_bytes"), 96);
	cr_expect_eq(itest_int(j, "memory.lost_bytes"), 696); /* the figure itself stays */
	dump = json_dumps(itest_get(j, "findings"), 0);
	cr_expect(strstr(dump, "lose_plain") && !strstr(dump, "lose_cycle"), "%s", dump);
	free(dump);
	json_decref(j);

	/* a source file's name: every lost block of leak_reach.c, no leak finding */
	j = report_suppressed(&r, "leak:leak_reach.c\n", &st);
	cr_assert(j && st == 0, "status %d", st);
	cr_expect_eq(itest_int(j, "memory.suppressed_allocations"), 5);
	cr_expect_eq(itest_int(j, "memory.suppressed_bytes"), 696);
	cr_expect(!itest_finding(j, "leak"));
	json_decref(j);

	/* an unreadable file is a usage error */
	st = itest_spawn((char *[]){ ITEST_PRESTANDA, "report", "--suppressions",
				     "/nonexistent/supp.txt", r.traces[0], NULL },
			 "/dev/null", "/dev/null");
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %d", st);
	itest_cleanup(&r);
}

/* The matching itself: function, source file, module; anchors; `*`. */
Test(leak, suppression_patterns)
{
	char *frames[] = { "xmalloc (git/wrapper.c:12)", "[libfoo.so.1+0x1234]", "main" };
	static const struct {
		const char *pat;
		bool match;
	} cases[] = {
		{ "xmalloc", true },	 { "^xmalloc$", true }, { "^xmall$", false },
		{ "mall", true },	 { "wrap*.c", true },	{ "^wrapper.c", false },
		{ "libfoo.so", true },	 { "x?malloc", false }, { "^ma*n$", true },
		{ "0x1234", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *pat = (char *)cases[i].pat;
		struct pst_suppressions s = { .pat = &pat, .n = 1 };

		cr_expect_eq(pst_suppressed(&s, frames, 3), cases[i].match, "%s", cases[i].pat);
	}
}

/* ---- scans on demand: prestanda scan PID while leak_server waits ---- */

/* A run of leak_server, scanned by `prestanda scan` after each phase. */
struct served {
	struct itest_run r;
	struct itest_report rep;
	json_t *j;
	char dir[64];     /* the FIFO and the ready files */
	char *said[2];    /* what each `prestanda scan` printed */
	char sigcgt[2][64]; /* the target's caught signals before and after the first */
};

/* The pid in DIR/ready.K once it is there (30 s at most). */
static long wait_ready(const char *dir, int k)
{
	char path[PATH_MAX], *s = NULL;
	long pid;

	snprintf(path, sizeof(path), "%s/ready.%d", dir, k);
	for (int i = 0; i < 3000 && !(s = itest_slurp(path, NULL)); i++)
		usleep(10000);
	cr_assert(s, "%s never came", path);
	pid = atol(s);
	free(s);
	return pid;
}

/* /proc/PID/status's SigCgt line. */
static void caught_signals(long pid, char *out, size_t len)
{
	char path[64], *s, *p;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	s = itest_slurp(path, NULL);
	cr_assert(s && (p = strstr(s, "SigCgt:")), "no %s", path);
	snprintf(out, len, "%.*s", (int)strcspn(p, "\n"), p);
	free(s);
}

/* Scan the process pid now: exit 0 and what it printed in *said. */
static void scan_now(long pid, char **said)
{
	char p[32];
	int st;

	snprintf(p, sizeof(p), "%ld", pid);
	st = itest_spawn_out((char *[]){ ITEST_PRESTANDA, "scan", p, NULL }, said);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "scan: %s", itest_wdesc(st));
}

/* leak_server CTL DIR N M N2 under `run OPT`, its two waits scanned. */
static void serve(struct served *s, const char *opt, const char *n, const char *m, const char *n2)
{
	struct itest_cmd c;
	char ctl[PATH_MAX];
	pid_t runner;
	int fd, st;

	memset(s, 0, sizeof(*s));
	strcpy(s->dir, "/tmp/pst-scan.XXXXXX");
	cr_assert(mkdtemp(s->dir));
	snprintf(ctl, sizeof(ctl), "%s/ctl", s->dir);
	cr_assert(mkfifo(ctl, 0600) == 0 && (fd = open(ctl, O_RDWR)) >= 0);
	itest_run_begin(&s->r, &c, NULL, (const char *[]){ opt, NULL }, "t.%p.trace", "leak_server",
			(const char *[]){ ctl, s->dir, n, m, n2, NULL });
	runner = fork();
	if (runner == 0)
		itest_exec_child(c.argv, c.outp, c.errp, ITEST_CHILD_CLOSE_FDS);
	for (int k = 1; k <= 2; k++) {
		long pid = wait_ready(s->dir, k);

		if (k == 1)
			caught_signals(pid, s->sigcgt[0], sizeof(s->sigcgt[0]));
		scan_now(pid, &s->said[k - 1]);
		if (k == 1)
			caught_signals(pid, s->sigcgt[1], sizeof(s->sigcgt[1]));
		cr_assert(write(fd, "x", 1) == 1);
	}
	cr_assert(waitpid(runner, &st, 0) == runner);
	close(fd);
	itest_run_end(&s->r, &c, st);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "run: %s; %s", itest_wdesc(st), s->r.err);
	cr_assert_eq(s->r.ntraces, 1);
	s->j = itest_report_ok(&s->rep, s->r.traces[0]);
}

static void served_free(struct served *s)
{
	char path[PATH_MAX];
	static const char *const names[] = { "ctl", "ready.1", "ready.2" };

	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", s->dir, names[i]);
		unlink(path);
	}
	rmdir(s->dir);
	free(s->said[0]);
	free(s->said[1]);
	itest_report_free(&s->rep);
	itest_cleanup(&s->r);
}

/* memory.scans[i]'s key. */
static long long scan_int(json_t *j, size_t i, const char *key)
{
	json_t *a = itest_get(j, "memory.scans");

	cr_assert(json_is_array(a) && i < json_array_size(a), "no memory.scans[%zu]", i);
	return json_integer_value(json_object_get(json_array_get(a, i), key));
}

/* 7 lost and 5 + 3 reachable at the first wait, 4 more lost at the
 * second; the scan at exit agrees with the second. The trigger changes no
 * signal's disposition. */
static void expect_served_exactly(const char *mode)
{
	struct served s;
	char *text;
	json_t *a;

	serve(&s, mode, "7", "5", "4");
	cr_expect(strstr(s.said[0], ": 7 lost, 8 reachable"), "%s", s.said[0]);
	cr_expect(strstr(s.said[1], ": 11 lost, 8 reachable"), "%s", s.said[1]);
	cr_expect_str_eq(s.sigcgt[0], s.sigcgt[1]);
	a = itest_get(s.j, "memory.scans");
	cr_assert(json_is_array(a) && json_array_size(a) == 3, "scans: %zu", json_array_size(a));
	cr_expect_eq(scan_int(s.j, 0, "lost_allocations"), 7);
	cr_expect_eq(scan_int(s.j, 0, "lost_bytes"), 700);
	cr_expect_eq(scan_int(s.j, 0, "reachable_allocations"), 8);
	cr_expect_eq(scan_int(s.j, 0, "reachable_bytes"), 808);
	cr_expect_eq(scan_int(s.j, 1, "lost_allocations"), 11);
	cr_expect_eq(scan_int(s.j, 1, "reachable_allocations"), 8);
	cr_expect(scan_int(s.j, 1, "time_ns") > scan_int(s.j, 0, "time_ns"));
	cr_expect(!json_is_true(json_object_get(json_array_get(a, 2), "on_demand")));
	cr_expect_eq(scan_int(s.j, 2, "lost_allocations"), 11);
	cr_expect_eq(itest_int(s.j, "memory.lost_allocations"), 11);
	cr_assert_eq(itest_spawn_out((char *[]){ ITEST_PRESTANDA, "report", s.r.traces[0], NULL },
				     &text),
		     0);
	cr_expect(text && strstr(text, "scan on demand    at ") &&
			  strstr(text, ": 11 blocks lost (1.07 KiB), 8 reachable (808 B), the latest of 2"),
		  "%s", text);
	free(text);
	served_free(&s);
}

/* Every block sampled: the sampled set is every live block. */
Test(leak, scan_on_demand_exact, .timeout = 90)
{
	expect_served_exactly("--sample-bytes=1");
}

/* --full: the per-thread tables, copied while the threads are held out. */
Test(leak, scan_on_demand_full, .timeout = 90)
{
	expect_served_exactly("--full");
}

/* leak_server 20,000 lost and 20,003 kept, then 10,000 more lost, at
 * --sample-bytes=2048 (about 980 sampled of each 20,000): each scan's
 * estimate within 15%, as the scan at exit's. */
Test(leak, scan_on_demand_sampled, .timeout = 90)
{
	struct served s;
	long long v;

	serve(&s, "--sample-bytes=2048", "20000", "20000", "10000");
	v = scan_int(s.j, 0, "lost_bytes");
	cr_expect(v >= 1700000 && v <= 2300000, "first scan lost %lld bytes, want 2,000,000", v);
	v = scan_int(s.j, 0, "reachable_bytes");
	cr_expect(v >= 1700000 && v <= 2300000, "first scan reachable %lld, want 2,000,300", v);
	v = scan_int(s.j, 1, "lost_bytes");
	cr_expect(v >= 2550000 && v <= 3450000, "second scan lost %lld bytes, want 3,000,000", v);
	v = scan_int(s.j, 1, "reachable_bytes");
	cr_expect(v >= 1700000 && v <= 2300000, "second scan reachable %lld, want 2,000,300", v);
	served_free(&s);
}
