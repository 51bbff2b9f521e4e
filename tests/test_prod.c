/* SPDX-License-Identifier: MIT */
/* Production mode end to end: the config file, --max-size, the pause signal, runtime budget alerts. */
#include <criterion/criterion.h>
#include <signal.h>
#include <sys/stat.h>

#include "itest.h"
#include "trace_read.h"

/* A config file in dir with the given "performance" body; its path in out. */
static void write_config(const char *dir, const char *body, char *out, size_t len)
{
	char text[1024];

	snprintf(out, len, "%s/perf.json", dir);
	snprintf(text, sizeof(text), "{\"performance\": %s}", body);
	itest_write(out, text, strlen(text));
}

/* A fresh directory for a config file that outlives the run's own. */
static void config_dir(char *dir)
{
	strcpy(dir, "/tmp/pst-cfg.XXXXXX");
	cr_assert(mkdtemp(dir));
}

static void config_cleanup(const char *dir, const char *path)
{
	unlink(path);
	rmdir(dir);
}

static int count_lines_with(const char *s, const char *what)
{
	int n = 0;

	for (const char *p = s; p && (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

Test(prod, disabled_in_config_writes_no_trace, .timeout = 30)
{
	struct itest_run r;
	char dir[64], cfg[PATH_MAX];
	const char *args[] = { "churn", "100", NULL };

	config_dir(dir);
	write_config(dir, "{\"monitoring\": {\"enabled\": false}}", cfg, sizeof(cfg));
	{
		const char *opts[] = { "--config", cfg, NULL };

		itest_run(&r, opts, "prod_work", args);
	}
	cr_expect(WIFEXITED(r.wstatus) && WEXITSTATUS(r.wstatus) == 0, "run: %s; %s",
		  itest_wdesc(r.wstatus), r.err);
	cr_expect_eq(r.ntraces, 0, "a trace was written with monitoring.enabled false");
	cr_expect(strstr(r.err, "no trace was written"), "stderr: %s", r.err);
	itest_cleanup(&r);
	config_cleanup(dir, cfg);
}

/* The same through the environment alone, as a user of LD_PRELOAD would. */
Test(prod, disabled_by_env_config_alone, .timeout = 30)
{
	char dir[64], cfg[PATH_MAX], out[PATH_MAX], err[PATH_MAX];
	char *argv[] = { ITEST_TARGETS "prod_work", "churn", "100", NULL };
	struct stat st;
	DIR *d;
	struct dirent *e;
	int n = 0, st_w;

	config_dir(dir);
	write_config(dir, "{\"monitoring\": {\"enabled\": false}}", cfg, sizeof(cfg));
	snprintf(out, sizeof(out), "%s/t.%%p.trace", dir);
	cr_assert(realpath(ITEST_PRELOAD, err));
	setenv("LD_PRELOAD", err, 1);
	setenv("PRESTANDA_CONFIG", cfg, 1);
	setenv("PRESTANDA_OUTPUT", out, 1);
	st_w = itest_spawn(argv, "/dev/null", "/dev/null");
	unsetenv("LD_PRELOAD");
	unsetenv("PRESTANDA_CONFIG");
	unsetenv("PRESTANDA_OUTPUT");
	cr_expect(WIFEXITED(st_w) && WEXITSTATUS(st_w) == 0, "%s", itest_wdesc(st_w));
	d = opendir(dir);
	while (d && (e = readdir(d)))
		n += !strncmp(e->d_name, "t.", 2);
	closedir(d);
	cr_expect_eq(n, 0, "a trace was written");
	cr_expect(stat(cfg, &st) == 0);
	config_cleanup(dir, cfg);
}

Test(prod, max_size_is_never_exceeded, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep;
	const char *opts[] = { "--full", "--max-size", "256K", "--metrics-interval", "0.2", NULL };
	const char *args[] = { "churn", "1500", "count", NULL };
	struct stat st;
	json_t *j, *tl;
	double capped_at, last;
	long long churned;

	itest_run(&r, opts, "prod_work", args);
	cr_assert(WIFEXITED(r.wstatus) && WEXITSTATUS(r.wstatus) == 0, "run: %s; %s",
		  itest_wdesc(r.wstatus), r.err);
	cr_assert_eq(r.ntraces, 1);
	cr_assert_eq(stat(r.traces[0], &st), 0);
	cr_expect_leq(st.st_size, 256 * 1024, "trace of %lld bytes over the cap",
		      (long long)st.st_size);
	cr_expect_gt(st.st_size, 128 * 1024, "the cap was not used: %lld bytes",
		     (long long)st.st_size);
	cr_expect_eq(count_lines_with(r.err, "reached --max-size"), 1, "stderr: %s", r.err);

	j = itest_report_ok(&rep, r.traces[0]);
	cr_expect(itest_bool(j, "production.capped"));
	cr_expect_eq(itest_int(j, "production.cap_bytes"), 256 * 1024);
	cr_expect(strstr(rep.out, "trace capped at 262144 bytes: events after "),
		  "no cap note in the report");
	/* the timeline goes on past the cap, up to the end of the run */
	tl = itest_get(j, "timeline");
	cr_assert_geq(json_array_size(tl), 5);
	capped_at = json_real_value(itest_get(j, "production.capped_at_s"));
	last = json_real_value(json_object_get(json_array_get(tl, json_array_size(tl) - 1), "time_s"));
	cr_expect_gt(last, capped_at + 0.5, "no snapshots after the cap (%f, %f)", capped_at, last);
	/* the churn ran on after the cap; the threads' exact totals are
	 * written at exit all the same, into the reserve */
	cr_expect_str_eq(itest_str(j, "memory.totals_source"), "thread totals");
	cr_assert_eq(sscanf(r.out, "churned %lld", &churned), 1, "stdout: %s", r.out);
	cr_expect_gt(churned, itest_int(itest_site(j, "churn"), "calls"));
	/* the churn's blocks, and the few the C library makes at start */
	cr_expect(itest_int(j, "memory.alloc_calls") >= churned &&
			  itest_int(j, "memory.alloc_calls") <= churned + 8,
		  "alloc_calls %lld, the program made %lld and a few",
		  itest_int(j, "memory.alloc_calls"), churned);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* Sites of a toggle run: events while paused absent, counters exact. */
static void run_toggle(const char *mode, const char *sig, const char *const *extra, json_t **out,
		       struct itest_report *rep, struct itest_run *r)
{
	const char *opts[8] = { "--full" };
	const char *args[] = { mode, sig, NULL };
	int n = 1;

	for (; extra && *extra; extra++)
		opts[n++] = *extra;
	opts[n] = NULL;
	itest_run(r, opts, "prod_work", args);
	cr_assert(WIFEXITED(r->wstatus) && WEXITSTATUS(r->wstatus) == 0, "run %s: %s; %s", mode,
		  itest_wdesc(r->wstatus), r->err);
	cr_assert_eq(r->ntraces, 1);
	*out = itest_report_ok(rep, r->traces[0]);
}

Test(prod, toggle_pauses_events_and_keeps_counts, .timeout = 60)
{
	struct itest_run r1, r2;
	struct itest_report p1, p2;
	char usr2[8];
	json_t *on, *off, *paused;

	snprintf(usr2, sizeof(usr2), "%d", SIGUSR2);
	run_toggle("toggle", usr2, NULL, &on, &p1, &r1);
	run_toggle("notoggle", usr2, NULL, &off, &p2, &r2);

	cr_assert(itest_site(on, "before_pause"));
	cr_expect_eq(itest_int(itest_site(on, "before_pause"), "calls"), 1000);
	cr_expect_eq(itest_nsites(on, "while_paused"), 0, "events recorded while paused");
	cr_assert(itest_site(on, "after_resume"));
	cr_expect_eq(itest_int(itest_site(on, "after_resume"), "calls"), 3000);
	/* frees and reallocs while paused still end what was recorded before:
	 * 500 freed, 100 grown (prod_work.c) */
	cr_expect_eq(itest_int(itest_site(on, "before_pause"), "leaked_bytes"), 400 * 32);
	cr_expect_eq(itest_nsites(on, "regrow_paused"), 0, "reallocs recorded while paused");
	cr_expect_eq(itest_int(itest_site(off, "while_paused"), "calls"), 2000);
	/* not paused, the 100 grown blocks (which move) are the regrow site's */
	cr_expect_eq(itest_int(itest_site(off, "before_pause"), "leaked_bytes"), 400 * 32);
	cr_expect_eq(itest_int(itest_site(off, "regrow_paused"), "leaked_bytes"), 100 * 8192);
	cr_expect_eq(itest_int(off, "memory.unmatched_frees"), 0);
	/* the exact counters saw every call, paused or not */
	cr_expect_eq(itest_int(on, "memory.alloc_calls"), itest_int(off, "memory.alloc_calls"));
	cr_expect_eq(itest_int(on, "memory.free_calls"), itest_int(off, "memory.free_calls"));
	paused = itest_get(on, "production.paused");
	cr_expect_eq(json_array_size(paused), 1);
	cr_expect_eq(json_array_size(itest_get(off, "production.paused")), 0);
	itest_report_free(&p1);
	itest_report_free(&p2);
	itest_cleanup(&r1);
	itest_cleanup(&r2);
}

Test(prod, toggle_signal_is_configurable, .timeout = 60)
{
	struct itest_run r;
	struct itest_report p;
	const char *extra[] = { "--toggle-signal", "USR1", NULL };
	char usr1[8];
	json_t *j;

	snprintf(usr1, sizeof(usr1), "%d", SIGUSR1);
	run_toggle("toggle", usr1, extra, &j, &p, &r);
	cr_expect_eq(itest_nsites(j, "while_paused"), 0);
	cr_expect_eq(json_array_size(itest_get(j, "production.paused")), 1);
	itest_report_free(&p);
	itest_cleanup(&r);
}

/* A signal the program ignores stays ignored: no handler of ours over it. */
Test(prod, toggle_left_alone_when_not_default, .timeout = 60)
{
	struct itest_run r;
	struct itest_report p;
	char usr2[8];
	json_t *j;

	snprintf(usr2, sizeof(usr2), "%d", SIGUSR2);
	signal(SIGUSR2, SIG_IGN); /* inherited through exec */
	run_toggle("toggle", usr2, NULL, &j, &p, &r);
	signal(SIGUSR2, SIG_DFL);
	cr_expect_eq(itest_int(itest_site(j, "while_paused"), "calls"), 2000);
	cr_expect_eq(json_array_size(itest_get(j, "production.paused")), 0);
	itest_report_free(&p);
	itest_cleanup(&r);
}

Test(prod, budget_alert_once_per_interval, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep;
	char dir[64], cfg[PATH_MAX];
	const char *args[] = { "churn", "1500", NULL };
	json_t *j, *tl;
	size_t over = 0;

	config_dir(dir);
	write_config(dir,
		     "{\"monitoring\": {\"metrics_interval\": 0.25},"
		     " \"budgets\": {\"alloc_calls\": 10000, \"open_fds\": 1000}}",
		     cfg, sizeof(cfg));
	{
		const char *opts[] = { "--config", cfg, NULL };

		itest_run(&r, opts, "prod_work", args);
	}
	cr_assert(WIFEXITED(r.wstatus) && WEXITSTATUS(r.wstatus) == 0, "run: %s; %s",
		  itest_wdesc(r.wstatus), r.err);
	cr_assert_eq(r.ntraces, 1);
	j = itest_report_ok(&rep, r.traces[0]);
	tl = itest_get(j, "timeline");
	cr_assert_geq(json_array_size(tl), 4);
	for (size_t i = 0; i < json_array_size(tl); i++)
		over += json_integer_value(json_object_get(json_array_get(tl, i), "alloc_calls")) >
			10000;
	cr_expect_geq(over, 4);
	/* one line per interval over the limit, naming metric, value and limit */
	cr_expect_eq((size_t)count_lines_with(r.err, "prestanda: budget exceeded in prod_work"),
		     over, "%zu intervals over, stderr: %s", over, r.err);
	cr_expect(strstr(r.err, "alloc_calls is "), "stderr: %s", r.err);
	cr_expect(strstr(r.err, ", over the limit of 10000\n"), "stderr: %s", r.err);
	cr_expect_null(strstr(r.err, "open_fds"), "an alert for a budget within its limit");
	cr_expect_eq(json_array_size(itest_get(j, "production.alerts")), over);
	cr_expect_eq(json_real_value(itest_get(j, "production.metrics_interval_s")), 0.25);
	itest_report_free(&rep);
	itest_cleanup(&r);
	config_cleanup(dir, cfg);
}

/* One run of prod_work exit-at-metrics: the budget lines, ALERT records and
 * intervals over the limit, which must agree. Returns false when refused
 * real-time scheduling (exit 3). */
static bool exit_at_metrics_once(const char *cfg, const char *dir)
{
	struct itest_run r;
	struct itest_report rep;
	const char *opts[] = { "--config", cfg, NULL };
	const char *args[] = { "exit-at-metrics", dir, NULL };
	size_t over = 0, lines, alerts;
	json_t *j, *tl;

	itest_run(&r, opts, "prod_work", args);
	if (WIFEXITED(r.wstatus) && WEXITSTATUS(r.wstatus) == 3) {
		itest_cleanup(&r);
		return false;
	}
	cr_assert(WIFEXITED(r.wstatus) && WEXITSTATUS(r.wstatus) == 0, "run: %s; %s",
		  itest_wdesc(r.wstatus), r.err);
	j = itest_report_ok(&rep, r.traces[0]);
	tl = itest_get(j, "timeline");
	for (size_t i = 0; i < json_array_size(tl); i++)
		over += json_integer_value(json_object_get(json_array_get(tl, i), "alloc_calls")) >
			10000;
	lines = (size_t)count_lines_with(r.err, "prestanda: budget exceeded in prod_work");
	alerts = json_array_size(itest_get(j, "production.alerts"));
	cr_assert_geq(over, 1, "no snapshot after the churn: %s", r.err);
	cr_assert_eq(lines, over, "%zu intervals over, %zu budget lines: %s", over, lines, r.err);
	cr_assert_eq(alerts, over, "%zu intervals over, %zu ALERT records", over, alerts);
	itest_report_free(&rep);
	itest_cleanup(&r);
	return true;
}

/*
 * The program exits while the timer is between its SNAPSHOT and its budget
 * check (the target wakes, real-time on the timer's CPU, when the timer
 * renames its metrics file): the exit must wait for the check, so that the
 * last interval's alert is neither missing from the trace nor from stderr.
 * Without the wait about half of these runs lose it; six runs in a row.
 */
Test(prod, exit_during_snapshot_keeps_its_alert, .timeout = 90)
{
	char dir[64], mdir[128], cfg[PATH_MAX], body[512];

	config_dir(dir);
	snprintf(mdir, sizeof(mdir), "%s/m", dir);
	cr_assert_eq(mkdir(mdir, 0700), 0);
	snprintf(body, sizeof(body),
		 "{\"monitoring\": {\"metrics_interval\": 0.1, \"metrics_textfile\": \"%s\"},"
		 " \"budgets\": {\"alloc_calls\": 10000}}",
		 mdir);
	write_config(dir, body, cfg, sizeof(cfg));
	for (int i = 0; i < 6; i++)
		if (!exit_at_metrics_once(cfg, mdir)) {
			rmdir(mdir);
			config_cleanup(dir, cfg);
			cr_skip_test("real-time scheduling refused (SCHED_FIFO needs CAP_SYS_NICE)");
		}
	rmdir(mdir);
	config_cleanup(dir, cfg);
}

Test(prod, sample_rate_and_interval_from_config, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep;
	char dir[64], cfg[PATH_MAX];
	const char *args[] = { "churn", "1700", NULL };
	json_t *j, *tl;
	double mean;
	size_t n;

	config_dir(dir);
	write_config(dir, "{\"monitoring\": {\"sample_rate\": 0.25, \"metrics_interval\": 0.5}}", cfg,
		     sizeof(cfg));
	{
		const char *opts[] = { "--config", cfg, NULL };

		itest_run(&r, opts, "prod_work", args);
	}
	cr_assert_eq(r.ntraces, 1);
	j = itest_report_ok(&rep, r.traces[0]);
	cr_expect_eq(json_real_value(itest_get(j, "production.wait_sample_rate")), 0.25);
	cr_expect_eq(json_real_value(itest_get(j, "production.metrics_interval_s")), 0.5);
	/* one snapshot every 0.5 s: on average (a loaded machine may wake the
	 * timer late once; wide by design), and never two at once */
	tl = itest_get(j, "timeline");
	n = json_array_size(tl);
	cr_assert_geq(n, 2);
	for (size_t i = 1; i < n; i++) {
		double gap = json_real_value(json_object_get(json_array_get(tl, i), "time_s")) -
			     json_real_value(json_object_get(json_array_get(tl, i - 1), "time_s"));

		cr_expect_gt(gap, 0.25, "snapshots %zu and %zu %.3f s apart", i - 1, i, gap);
	}
	mean = (json_real_value(json_object_get(json_array_get(tl, n - 1), "time_s")) -
		json_real_value(json_object_get(json_array_get(tl, 0), "time_s"))) / (double)(n - 1);
	cr_expect(mean > 0.45 && mean < 0.65, "snapshots %.3f s apart on average", mean);
	itest_report_free(&rep);
	itest_cleanup(&r);
	config_cleanup(dir, cfg);
}

Test(prod, timeline_text_and_svg, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep;
	const char *opts[] = { "--metrics-interval", "0.2", NULL };
	const char *args[] = { "churn", "1000", NULL };
	char svg[PATH_MAX], outp[PATH_MAX], *text, *plot;
	size_t nsnaps;
	int st;

	itest_run(&r, opts, "prod_work", args);
	cr_assert_eq(r.ntraces, 1);
	nsnaps = json_array_size(itest_get(itest_report_ok(&rep, r.traces[0]), "timeline"));
	cr_assert_geq(nsnaps, 3);
	snprintf(svg, sizeof(svg), "%s/plot.svg", r.dir);
	snprintf(outp, sizeof(outp), "%s/report.txt", r.dir);
	{
		char *argv[] = { ITEST_PRESTANDA, "report",	 "--timeline", "--timeline-svg",
				 svg,		  r.traces[0], NULL };

		st = itest_spawn(argv, outp, "/dev/null");
	}
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", itest_wdesc(st));
	text = itest_slurp(outp, NULL);
	cr_assert(text);
	cr_expect(strstr(text, "Timeline ("), "no timeline: %s", text);
	cr_expect(strstr(text, "every 0.2 s"), "%s", text);
	cr_expect(strstr(text, "allocs/s"), "%s", text);
	/* a header, then one row per snapshot, up to the blank line */
	{
		const char *p = strstr(text, "Timeline (");
		size_t rows = 0;

		cr_assert(p);
		p = strchr(p, '\n') + 1;
		while (*p && *p != '\n') {
			rows++;
			p = strchr(p, '\n');
			if (!p)
				break;
			p++;
		}
		cr_expect_eq(rows, nsnaps + 1, "%s", text);
	}
	plot = itest_slurp(svg, NULL);
	cr_assert(plot, "no SVG written");
	cr_expect(strstr(plot, "<svg") && strstr(plot, "<polyline"), "%s", plot);
	free(plot);
	free(text);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* Snapshots count the program's descriptors exactly: not the trace's,
 * nor libunwind's pipe (open while two threads unwind under --full). */
Test(prod, snapshot_counts_the_programs_descriptors, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep;
	const char *opts[] = { "--full", "--metrics-interval", "0.2", NULL };
	const char *args[] = { "fds", "1000", NULL };
	json_t *tl, *s;
	long long held;
	size_t i;

	itest_run(&r, opts, "prod_work", args);
	cr_assert(WIFEXITED(r.wstatus) && WEXITSTATUS(r.wstatus) == 0, "%s", itest_wdesc(r.wstatus));
	held = strtoll(r.out, NULL, 10);
	cr_assert_geq(held, 10, "stdout: %s", r.out);
	cr_assert_eq(r.ntraces, 1);
	tl = itest_get(itest_report_ok(&rep, r.traces[0]), "timeline");
	cr_assert_geq(json_array_size(tl), 3);
	json_array_foreach(tl, i, s)
		cr_expect_eq(itest_int(s, "open_fds"), held, "snapshot %zu: %lld descriptors, the program held %lld",
			     i, itest_int(s, "open_fds"), held);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* PRESTANDA_MAX_MEMORY: past the cap's share for thread states, new
 * threads run unrecorded; the program runs as ever. */
Test(prod, memory_cap_limits_thread_states, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep;
	json_t *j;
	long long created;

	setenv("PRESTANDA_MAX_MEMORY", "32M", 1);
	itest_run(&r, NULL, "thr_churn", (const char *[]){ "1000", NULL });
	unsetenv("PRESTANDA_MAX_MEMORY");
	cr_assert(WIFEXITED(r.wstatus) && WEXITSTATUS(r.wstatus) == 0, "run: %s; %s",
		  itest_wdesc(r.wstatus), r.err);
	cr_expect_eq(count_lines_with(r.err, "memory cap reached"), 1, "stderr: %s", r.err);
	cr_assert_eq(r.ntraces, 1);
	j = itest_report_ok(&rep, r.traces[0]);
	/* 3/4 of 32 MiB in states of 202 KiB, one of them the main thread's */
	created = itest_int(j, "threads.created");
	cr_expect_lt(created, 1000);
	cr_expect_gt(created, 50);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

struct lock_counts {
	uint64_t waits, other_waits, contended;
};

static int count_lock_records(unsigned type, uint64_t tid, const uint8_t *p, size_t len,
			      void *arg)
{
	struct lock_counts *c = arg;
	const uint8_t *e = p + len;
	uint64_t v[10];

	(void)tid;
	for (int i = 0; i < (type == PST_REC_WAIT ? 3 : 7); i++)
		cr_assert_eq(pst_get_varint(&p, e, &v[i]), 0);
	if (type == PST_REC_WAIT && v[2] <= PST_WAIT_SPIN)
		c->waits++;
	else if (type == PST_REC_WAIT)
		c->other_waits++;
	else if (type == PST_REC_LOCK_STATS && v[1] <= PST_WAIT_SPIN)
		c->contended += v[6];
	return 0;
}

static struct lock_counts lock_counts_of(const char *rate)
{
	struct itest_run r;
	struct pst_trace *t;
	struct lock_counts c = { 0 };
	char err[256];

	setenv("PRESTANDA_SAMPLE_RATE", rate, 1);
	itest_run(&r, NULL, "thr_handoff", (const char *[]){ "200", NULL });
	unsetenv("PRESTANDA_SAMPLE_RATE");
	cr_assert(WIFEXITED(r.wstatus) && WEXITSTATUS(r.wstatus) == 0, "%s", r.err);
	cr_assert_eq(r.ntraces, 1);
	cr_assert_eq(pst_trace_open(r.traces[0], &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(pst_trace_foreach(t, PST_REC_WAIT, PST_REC_LOCK_STATS, count_lock_records, &c),
		     0);
	pst_trace_close(t);
	itest_cleanup(&r);
	return c;
}

/* sample_rate thins the WAIT records of contended locks; LOCK_STATS stay
 * exact, and semaphore, cond and join waits are all kept. thr_handoff's
 * 200 locks are each contended by construction (not by the scheduler's
 * luck): 200 WAITs at rate 1; at 0.25 a binomial draw of 200 at 1/4 (mean
 * 50, sd 6.1), outside 16..100 with odds below 1e-9. */
Test(prod, sample_rate_thins_lock_waits, .timeout = 60)
{
	struct lock_counts all = lock_counts_of("1"), some = lock_counts_of("0.25");

	cr_expect_eq(all.contended, 200, "contended %llu", (unsigned long long)all.contended);
	cr_expect_eq(all.waits, 200, "every contended wait is a WAIT at rate 1: %llu",
		     (unsigned long long)all.waits);
	cr_expect_eq(some.contended, 200, "LOCK_STATS stay exact: %llu",
		     (unsigned long long)some.contended);
	cr_expect(some.waits > 16 && some.waits < 100, "%llu of 200 lock waits kept at rate 0.25",
		  (unsigned long long)some.waits);
	cr_expect_gt(some.other_waits, 0, "semaphore and join waits were thinned too");
}
