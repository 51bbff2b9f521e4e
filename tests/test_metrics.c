/* SPDX-License-Identifier: MIT */
/* --metrics-textfile and prestanda rules against the real node_exporter, Prometheus and promtool, on loopback. */
#include <ftw.h>
#include <math.h>
#include <stddef.h>
#include <sys/time.h>
#include <time.h>

#include "config.h"
#include "itest.h"
#include "timeline.h"
#include "trace_read.h"

#define NODE_EXPORTER "/usr/bin/prometheus-node-exporter"
#define PROMETHEUS "/usr/bin/prometheus"
#define PROMTOOL "/usr/bin/promtool"
#define INTERVAL_S 0.5 /* --metrics-interval, and Prometheus' scrape and rule intervals */

/* A node_exporter reading only the textfile directory, and a Prometheus
 * scraping it, both in a temporary directory of their own. */
struct mon {
	char dir[64];
	char text[PATH_MAX]; /* the textfile directory */
	char rules[PATH_MAX];
	pid_t node, prom;
	int node_port, prom_port;
};

static void sleep_s(double s)
{
	struct timespec t = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };

	nanosleep(&t, NULL);
}

static pid_t spawn_bg(char *const argv[], const char *out, const char *err)
{
	pid_t pid = fork();

	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0)
		itest_exec_child(argv, out, err, ITEST_CHILD_CLOSE_FDS);
	return pid;
}

/* The body of GET path on 127.0.0.1:port when the answer is 200, else NULL. */
static char *http_get(int port, const char *path)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char req[4096], *buf = NULL, *body;
	size_t len = 0, cap = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ssize_t n;

	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&in, sizeof(in))) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		close(fd);
		return NULL;
	}
	do {
		if (cap - len < 65536) {
			cap = cap ? 2 * cap : 1 << 17;
			buf = realloc(buf, cap + 1);
			cr_assert(buf);
		}
		n = read(fd, buf + len, cap - len);
		len += n > 0 ? (size_t)n : 0;
	} while (n > 0);
	close(fd);
	buf[len] = 0;
	body = strstr(buf, "\r\n\r\n");
	if (strncmp(buf, "HTTP/1.", 7) || strncmp(buf + 8, " 200", 4) || !body) {
		free(buf);
		return NULL;
	}
	memmove(buf, body + 4, strlen(body + 4) + 1);
	return buf;
}

/* PromQL through the query API at time t (0: now): the whole answer, parsed. */
static json_t *prom_query(const struct mon *m, const char *promql, double t)
{
	char path[4096], *body;
	size_t at = (size_t)snprintf(path, sizeof(path), "/api/v1/query?query=");
	json_t *j;

	for (const unsigned char *p = (const unsigned char *)promql; *p && at + 4 < sizeof(path); p++)
		at += isalnum(*p) || *p == '_' ? (size_t)snprintf(path + at, 2, "%c", *p) :
						 (size_t)snprintf(path + at, 4, "%%%02X", *p);
	if (t > 0)
		snprintf(path + at, sizeof(path) - at, "&time=%.3f", t);
	body = http_get(m->prom_port, path);
	cr_assert(body, "query %s failed", promql);
	j = json_loads(body, 0, NULL);
	cr_assert(j, "not JSON: %s", body);
	free(body);
	cr_assert_str_eq(itest_str(j, "status"), "success");
	return j;
}

static void write_prom_config(const struct mon *m, const char *path)
{
	char cfg[2048];
	int n = snprintf(cfg, sizeof(cfg),
			 "global:\n"
			 "  scrape_interval: 500ms\n"
			 "  evaluation_interval: 500ms\n"
			 "%s%s%s"
			 "scrape_configs:\n"
			 "  - job_name: node\n"
			 "    static_configs:\n"
			 "      - targets: ['127.0.0.1:%d']\n",
			 m->rules[0] ? "rule_files:\n  - '" : "", m->rules, m->rules[0] ? "'\n" : "",
			 m->node_port);

	itest_write(path, cfg, (size_t)n);
}

/* Until Prometheus has scraped node_exporter once (60 s at most). */
static void wait_scraping(const struct mon *m)
{
	for (int i = 0; i < 600; i++) {
		char *body = http_get(m->prom_port, "/-/ready");
		json_t *j;
		bool up;

		free(body);
		if (body) {
			j = prom_query(m, "up", 0);
			up = json_array_size(itest_get(j, "data.result")) == 1;
			json_decref(j);
			if (up)
				return;
		}
		sleep_s(0.1);
	}
	cr_assert_fail("Prometheus did not come up and scrape node_exporter in 60 s");
}

/* rules: a rules file for Prometheus to load, or NULL. */
static void mon_start(struct mon *m, const char *rules)
{
	char node_addr[64], prom_addr[64], textdir[PATH_MAX + 40], cfg[PATH_MAX], cfg_arg[PATH_MAX + 20],
		data_arg[PATH_MAX + 30], log[PATH_MAX];

	cr_assert(access(NODE_EXPORTER, X_OK) == 0 && access(PROMETHEUS, X_OK) == 0,
		  "prometheus and prometheus-node-exporter are not installed (scripts/install-deps.sh)");
	memset(m, 0, sizeof(*m));
	strcpy(m->dir, "/tmp/pst-metrics.XXXXXX");
	cr_assert(mkdtemp(m->dir));
	snprintf(m->text, sizeof(m->text), "%s/text", m->dir);
	cr_assert(!mkdir(m->text, 0755));
	if (rules)
		snprintf(m->rules, sizeof(m->rules), "%s", rules);
	m->node_port = itest_free_port();
	m->prom_port = itest_free_port();
	snprintf(node_addr, sizeof(node_addr), "--web.listen-address=127.0.0.1:%d", m->node_port);
	snprintf(prom_addr, sizeof(prom_addr), "--web.listen-address=127.0.0.1:%d", m->prom_port);
	snprintf(textdir, sizeof(textdir), "--collector.textfile.directory=%s", m->text);
	snprintf(cfg, sizeof(cfg), "%s/prometheus.yml", m->dir);
	snprintf(cfg_arg, sizeof(cfg_arg), "--config.file=%s", cfg);
	snprintf(data_arg, sizeof(data_arg), "--storage.tsdb.path=%s/data", m->dir);
	write_prom_config(m, cfg);
	{
		char *node[] = { NODE_EXPORTER, node_addr, "--collector.disable-defaults",
				 "--collector.textfile", textdir, NULL };
		char *prom[] = { PROMETHEUS, cfg_arg, data_arg, prom_addr, NULL };

		snprintf(log, sizeof(log), "%s/node.log", m->dir);
		m->node = spawn_bg(node, NULL, log);
		snprintf(log, sizeof(log), "%s/prom.log", m->dir);
		m->prom = spawn_bg(prom, NULL, log);
	}
	wait_scraping(m);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void mon_stop(struct mon *m)
{
	if (m->prom > 0)
		kill(m->prom, SIGTERM);
	if (m->node > 0)
		kill(m->node, SIGTERM);
	if (m->prom > 0)
		waitpid(m->prom, NULL, 0);
	if (m->node > 0)
		waitpid(m->node, NULL, 0);
	nftw(m->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Entries of dir other than . and .. */
static int dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	cr_assert(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."));
	closedir(d);
	return n;
}

/* ---- the textfile against the trace ---- */

struct snaps {
	struct pst_trace *t;
	struct pst_timeline *tl;
	double wall0; /* wall-clock time of monotonic 0 */
};

static void snaps_open(struct snaps *s, const char *trace)
{
	char err[256];

	cr_assert(!pst_trace_open(trace, &s->t, err, sizeof(err)), "%s", err);
	s->tl = pst_timeline_read(s->t);
	cr_assert(s->tl && s->tl->nsnaps >= 4, "too few snapshots");
	s->wall0 = ((double)s->t->proc.start_realtime_ns - (double)s->t->proc.start_monotonic_ns) / 1e9;
}

static void snaps_close(struct snaps *s)
{
	pst_timeline_free(s->tl);
	pst_trace_close(s->t);
}

/* A snapshot's figure, as the textfile has it times its scale (CPU in ns). */
static uint64_t snap_value(const struct pst_snapshot *s, const char *metric)
{
	static const struct {
		const char *name;
		size_t off;
	} fields[] = {
		{ "prestanda_alloc_calls_total", offsetof(struct pst_snapshot, alloc_calls) },
		{ "prestanda_free_calls_total", offsetof(struct pst_snapshot, free_calls) },
		{ "prestanda_alloc_bytes_total", offsetof(struct pst_snapshot, alloc_bytes) },
		{ "prestanda_resident_memory_bytes", offsetof(struct pst_snapshot, rss_bytes) },
		{ "prestanda_open_fds", offsetof(struct pst_snapshot, open_fds) },
		{ "prestanda_threads", offsetof(struct pst_snapshot, threads) },
		{ "prestanda_cpu_seconds_total", offsetof(struct pst_snapshot, cpu_ns) },
	};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (!strcmp(fields[i].name, metric))
			return *(const uint64_t *)((const char *)s + fields[i].off);
	cr_assert_fail("no snapshot field for %s", metric);
	return 0;
}

/* Every sample Prometheus has of metric for pid is a snapshot's figure
 * from the same time, give or take one interval (and scheduling slack):
 * returns the samples. */
static json_t *check_samples(const struct mon *m, const struct snaps *s, const char *metric, long pid,
			     double scale)
{
	char q[256];
	json_t *j, *res, *vals, *v;
	size_t i;

	snprintf(q, sizeof(q), "%s{pid=\"%ld\",program=\"metrics_phases\"}[10m]", metric, pid);
	j = prom_query(m, q, 0);
	res = itest_get(j, "data.result");
	cr_assert_eq(json_array_size(res), 1, "%s: %zu series", metric, json_array_size(res));
	vals = json_incref(json_object_get(json_array_get(res, 0), "values"));
	json_decref(j);
	json_array_foreach(vals, i, v) {
		double at = json_number_value(json_array_get(v, 0));
		uint64_t val = (uint64_t)llround(strtod(json_string_value(json_array_get(v, 1)), NULL) * scale);
		bool found = false;

		for (size_t k = 0; k < s->tl->nsnaps && !found; k++) {
			double w = s->wall0 + (double)s->tl->snaps[k].ts / 1e9;

			found = snap_value(&s->tl->snaps[k], metric) == val && fabs(w - at) <= INTERVAL_S + 0.3;
		}
		cr_expect(found, "%s = %llu at %.3f: no snapshot with it within one interval", metric,
			  (unsigned long long)val, at);
	}
	return vals;
}

/* The distinct values seen in two samples or more, in order: the quiet
 * spells between phases. */
static size_t plateaus(json_t *vals, uint64_t *out, size_t max)
{
	size_t n = 0, i, run = 0;
	uint64_t prev = UINT64_MAX;
	json_t *v;

	json_array_foreach(vals, i, v) {
		uint64_t x = strtoull(json_string_value(json_array_get(v, 1)), NULL, 10);

		run = x == prev ? run + 1 : 1;
		prev = x;
		if (run == 2 && n < max)
			out[n++] = x;
	}
	return n;
}

Test(metrics, textfile_through_prometheus_equals_the_snapshots, .timeout = 180)
{
	static const char *const counters[] = { "prestanda_alloc_calls_total", "prestanda_free_calls_total",
						"prestanda_resident_memory_bytes", "prestanda_open_fds",
						"prestanda_threads" };
	struct mon m;
	struct itest_run r;
	struct snaps s;
	const char *args[] = { "phases", "2000", NULL };
	uint64_t calls[8], bytes[8];
	json_t *vals;
	long pid;

	mon_start(&m, NULL);
	{
		const char *opts[] = { "--metrics-interval", "0.5", "--metrics-textfile", m.text, NULL };

		itest_run(&r, opts, "metrics_phases", args);
	}
	cr_assert(WIFEXITED(r.wstatus) && WEXITSTATUS(r.wstatus) == 0, "%s", itest_wdesc(r.wstatus));
	/* gone with the process, its temporary too */
	cr_expect_eq(dir_entries(m.text), 0, "the textfile outlived the process");
	cr_assert_eq(r.ntraces, 1);
	pid = itest_trace_pid(r.traces[0]);
	snaps_open(&s, r.traces[0]);
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		json_decref(check_samples(&m, &s, counters[i], pid, 1));
	json_decref(check_samples(&m, &s, "prestanda_cpu_seconds_total", pid, 1e9));
	/* the quiet spells: the phases' known calls and bytes between them */
	vals = check_samples(&m, &s, "prestanda_alloc_calls_total", pid, 1);
	cr_assert_eq(plateaus(vals, calls, 8), 4, "calls: %s", json_dumps(vals, 0));
	json_decref(vals);
	vals = check_samples(&m, &s, "prestanda_alloc_bytes_total", pid, 1);
	cr_assert_eq(plateaus(vals, bytes, 8), 4, "bytes: %s", json_dumps(vals, 0));
	json_decref(vals);
	for (int k = 1; k <= 3; k++) {
		cr_expect_eq(calls[k] - calls[k - 1], (uint64_t)k * 1000, "phase %d", k);
		cr_expect_eq(bytes[k] - bytes[k - 1], (uint64_t)k * 1000 * k * 64, "phase %d", k);
	}
	/* and the last quiet spell is the trace's last snapshot */
	cr_expect_eq(calls[3], s.tl->snaps[s.tl->nsnaps - 1].alloc_calls);
	snaps_close(&s);
	itest_cleanup(&r);
	mon_stop(&m);
}

/* The preload removes the file however the process ends, as far as it
 * sees the end: exec (the new program runs without the preload here, so
 * only the old one can have removed it) and a fatal signal. */
static void ends_without_file(const char *const *args, bool no_follow)
{
	char text[] = "/tmp/pst-text.XXXXXX";
	struct itest_run r;
	struct snaps s;

	cr_assert(mkdtemp(text));
	{
		const char *opts[] = { "--metrics-interval", "0.1", "--metrics-textfile", text,
				       no_follow ? "--no-follow" : NULL, NULL };

		itest_run(&r, opts, "metrics_phases", args);
	}
	cr_assert_eq(r.ntraces, 1, "%s", r.err);
	/* the file was written: the snapshots it was written from are there */
	snaps_open(&s, r.traces[0]);
	snaps_close(&s);
	cr_expect_eq(dir_entries(text), 0, "the textfile outlived %s", args[0]);
	nftw(text, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	itest_cleanup(&r);
}

Test(metrics, textfile_goes_at_exec, .timeout = 60)
{
	ends_without_file((const char *const[]){ "exec", "800", "/bin/sleep", "0.3", NULL }, true);
}

Test(metrics, textfile_goes_at_a_fatal_signal, .timeout = 60)
{
	ends_without_file((const char *const[]){ "abort", "800", NULL }, false);
}

/* ---- alerts from the budgets ---- */

/* The alert states seen for one process. */
struct seen {
	long pid;
	bool pending, firing, firing_first; /* firing_first: firing before any pending */
};

static void note_alerts(const struct mon *m, struct seen *sv, size_t n)
{
	char *body = http_get(m->prom_port, "/api/v1/alerts");
	json_t *j, *a;
	size_t i;

	cr_assert(body);
	j = json_loads(body, 0, NULL);
	free(body);
	cr_assert(j);
	json_array_foreach(itest_get(j, "data.alerts"), i, a) {
		long pid = strtol(itest_str(a, "labels.pid"), NULL, 10);
		const char *state = itest_str(a, "state");

		cr_expect_str_eq(itest_str(a, "labels.alertname"), "PrestandaRssOverBudget");
		cr_expect_str_eq(itest_str(a, "labels.program"), "metrics_phases");
		cr_expect_str_eq(itest_str(a, "labels.severity"), "warning");
		cr_expect_str_eq(itest_str(a, "annotations.limit"), "40000000");
		for (size_t k = 0; k < n; k++) {
			if (sv[k].pid != pid)
				continue;
			sv[k].firing_first |= !strcmp(state, "firing") && !sv[k].pending;
			sv[k].pending |= !strcmp(state, "pending");
			sv[k].firing |= !strcmp(state, "firing");
		}
	}
	json_decref(j);
}

/* The pid of a run in progress: the name of its textfile (prestanda-PID.prom). */
static long textfile_pid(const char *text, long other)
{
	DIR *d = opendir(text);
	struct dirent *e;
	long pid = 0;

	cr_assert(d);
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "prestanda-", 10) && itest_has_suffix(e->d_name, ".prom") &&
		    strtol(e->d_name + 10, NULL, 10) != other)
			pid = strtol(e->d_name + 10, NULL, 10);
	closedir(d);
	return pid;
}

/* The rules from cfg into dir/rules.yml, checked by promtool. */
static void make_rules(const char *dir, const char *cfg, char *rules, size_t len)
{
	char *out = NULL;
	int st;

	snprintf(rules, len, "%s/rules.yml", dir);
	{
		char *argv[] = { ITEST_PRESTANDA, "rules", "--config", (char *)cfg, "--program",
				 "metrics_phases", "-o", rules, NULL };

		st = itest_spawn(argv, NULL, NULL);
	}
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "rules: %s", itest_wdesc(st));
	cr_assert(access(PROMTOOL, X_OK) == 0, "promtool is not installed (scripts/install-deps.sh)");
	{
		char *argv[] = { PROMTOOL, "check", "rules", rules, NULL };

		st = itest_spawn_out(argv, &out);
	}
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "promtool: %s", out);
	cr_expect(strstr(out, "SUCCESS: 1 rules found"), "%s", out);
	free(out);
}

Test(metrics, rules_fire_for_the_program_over_budget_only, .timeout = 180)
{
	static const char config[] = "{\"performance\": {\"monitoring\": {\"metrics_interval\": 0.5},"
				     " \"budgets\": {\"rss_bytes\": 40000000}}}";
	struct mon m;
	struct itest_run over, within;
	struct itest_cmd co, cw;
	struct seen sv[2] = { { 0 } };
	char dir[] = "/tmp/pst-rules.XXXXXX", cfg[PATH_MAX], rules[PATH_MAX];
	pid_t po, pw;
	int so = -1, sw = -1;

	cr_assert(mkdtemp(dir));
	snprintf(cfg, sizeof(cfg), "%s/perf.json", dir);
	itest_write(cfg, config, strlen(config));
	make_rules(dir, cfg, rules, sizeof(rules));
	mon_start(&m, rules);
	{
		const char *opts[] = { "--config", cfg, "--metrics-textfile", m.text, NULL };

		itest_run_begin(&over, &co, NULL, opts, "t.%p.trace", "metrics_phases",
				(const char *const[]){ "hold", "80", "6000", NULL });
		itest_run_begin(&within, &cw, NULL, opts, "t.%p.trace", "metrics_phases",
				(const char *const[]){ "hold", "5", "6000", NULL });
	}
	po = spawn_bg(co.argv, co.outp, co.errp);
	for (int i = 0; i < 100 && !(sv[0].pid = textfile_pid(m.text, 0)); i++)
		sleep_s(0.05);
	pw = spawn_bg(cw.argv, cw.outp, cw.errp);
	for (int i = 0; i < 100 && !(sv[1].pid = textfile_pid(m.text, sv[0].pid)); i++)
		sleep_s(0.05);
	while (so < 0 || sw < 0) {
		int st;

		note_alerts(&m, sv, 2);
		if (so < 0 && waitpid(po, &st, WNOHANG) == po)
			so = st;
		if (sw < 0 && waitpid(pw, &st, WNOHANG) == pw)
			sw = st;
		sleep_s(0.2);
	}
	itest_run_end(&over, &co, so);
	itest_run_end(&within, &cw, sw);
	cr_assert(over.ntraces == 1 && within.ntraces == 1);
	cr_assert_eq(sv[0].pid, itest_trace_pid(over.traces[0]));
	cr_assert_eq(sv[1].pid, itest_trace_pid(within.traces[0]));
	cr_expect(sv[0].pending && sv[0].firing && !sv[0].firing_first,
		  "over budget: pending %d, firing %d, firing first %d", sv[0].pending, sv[0].firing,
		  sv[0].firing_first);
	cr_expect(!sv[1].pending && !sv[1].firing, "within budget, yet an alert");
	itest_cleanup(&over);
	itest_cleanup(&within);
	mon_stop(&m);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- record -a ---- */

/* The spinner's line in record's textfile: its CPU seconds, or -1. */
static double record_line(const char *text, pid_t pid)
{
	char path[PATH_MAX + 256], want[128], *body, *line;
	double v = -1;
	DIR *d = opendir(text);
	struct dirent *e;

	cr_assert(d);
	path[0] = 0;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "prestanda-record-", 17) && itest_has_suffix(e->d_name, ".prom"))
			snprintf(path, sizeof(path), "%s/%s", text, e->d_name);
	closedir(d);
	body = path[0] ? itest_slurp(path, NULL) : NULL;
	snprintf(want, sizeof(want), "prestanda_sampled_cpu_seconds_total{comm=\"metrics_phases\",pid=\"%d\"} ",
		 (int)pid);
	line = body ? strstr(body, want) : NULL;
	if (line)
		v = strtod(line + strlen(want), NULL);
	free(body);
	return v;
}

Test(metrics, record_host_wide_writes_cpu_seconds_per_process, .timeout = 120)
{
	char dir[] = "/tmp/pst-rec.XXXXXX", text[PATH_MAX], trace[PATH_MAX];
	pid_t rec, spin;
	double v, last = -1, cpu;
	struct rusage ru;
	int st;

	itest_need_ebpf(false);
	cr_assert(mkdtemp(dir));
	snprintf(text, sizeof(text), "%s/text", dir);
	snprintf(trace, sizeof(trace), "%s/t.trace", dir);
	cr_assert(!mkdir(text, 0755));
	{
		char *argv[] = { ITEST_PRESTANDA, "record", "-a", "-d", "4", "-i", "0.5", "--metrics-textfile",
				 text, "-o", trace, NULL };
		char *sargv[] = { ITEST_TARGETS "metrics_phases", "spin", "2500", NULL };

		rec = spawn_bg(argv, NULL, NULL);
		sleep_s(0.5);
		spin = spawn_bg(sargv, NULL, NULL);
	}
	while (waitpid(rec, &st, WNOHANG) != rec) {
		v = record_line(text, spin);
		/* a counter: it never goes down */
		cr_expect(v < 0 || v >= last, "%f after %f", v, last);
		last = v > last ? v : last;
		sleep_s(0.1);
	}
	cr_assert_eq(wait4(spin, NULL, 0, &ru), spin);
	cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	      (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "record: %s", itest_wdesc(st));
	/* the CPU time the spinner had (on a loaded machine less than its 2.5 s
	 * of wall time), sampled at 99 Hz: alone on a CPU every tick finds it;
	 * sharing one, each tick finds it by chance, so n = cpu * 99 samples
	 * are expected within three standard deviations (3 sqrt(n)) and a tick */
	cr_expect(cpu > 0.05 && fabs(last - cpu) * 99 <= 3 * sqrt(cpu * 99) + 1,
		  "the spinner's CPU seconds: %f sampled, %f by its rusage", last, cpu);
	cr_expect_eq(dir_entries(text), 0, "record's textfile outlived it");
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- the ways to ask for the file ---- */

/* Whether a run with opts wrote a textfile into text while it ran. */
static bool saw_textfile(const char *const *opts, const char *text)
{
	struct itest_run r;
	struct itest_cmd c;
	pid_t pid;
	int st;
	bool seen = false;

	itest_run_begin(&r, &c, NULL, opts, "t.%p.trace", "metrics_phases",
			(const char *const[]){ "hold", "1", "1500", NULL });
	pid = spawn_bg(c.argv, c.outp, c.errp);
	while (waitpid(pid, &st, WNOHANG) != pid) {
		seen |= dir_entries(text) > 0;
		sleep_s(0.05);
	}
	itest_run_end(&r, &c, st);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: %s", itest_wdesc(st), r.err);
	cr_expect_eq(dir_entries(text), 0);
	itest_cleanup(&r);
	return seen;
}

Test(metrics, config_key_and_environment_ask_for_the_file, .timeout = 60)
{
	char dir[] = "/tmp/pst-mcfg.XXXXXX", text[PATH_MAX], cfg[PATH_MAX], json[PATH_MAX + 128];
	const char *plain[] = { "--metrics-interval", "0.1", NULL };
	const char *with_cfg[] = { "--config", cfg, NULL };

	cr_assert(mkdtemp(dir));
	snprintf(text, sizeof(text), "%s/text", dir);
	cr_assert(!mkdir(text, 0755));
	snprintf(cfg, sizeof(cfg), "%s/perf.json", dir);
	snprintf(json, sizeof(json),
		 "{\"performance\": {\"monitoring\": {\"metrics_interval\": 0.1, \"metrics_textfile\": \"%s\"}}}",
		 text);
	itest_write(cfg, json, strlen(json));
	cr_expect(!saw_textfile(plain, text), "a file without being asked for one");
	cr_expect(saw_textfile(with_cfg, text), "monitoring.metrics_textfile: no file");
	setenv("PRESTANDA_METRICS_TEXTFILE", text, 1);
	cr_expect(saw_textfile(plain, text), "PRESTANDA_METRICS_TEXTFILE: no file");
	unsetenv("PRESTANDA_METRICS_TEXTFILE");
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

Test(metrics, config_key_must_be_a_directory_name)
{
	struct pst_settings s;
	char err[256];
	json_t *j = json_loads("{\"performance\": {\"monitoring\": {\"metrics_textfile\": 5}}}", 0, NULL);

	cr_assert_eq(pst_settings_parse(j, NULL, NULL, &s, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "monitoring.metrics_textfile must be a directory name");
	json_decref(j);
	j = json_loads("{\"performance\": {\"monitoring\": {\"metrics_textfile\": \"/var/lib/x\"}}}", 0, NULL);
	cr_assert_eq(pst_settings_parse(j, NULL, NULL, &s, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(s.mon.metrics_textfile, "/var/lib/x");
	pst_settings_free(&s);
	json_decref(j);
}

/* ---- connects per endpoint and heap in use, read from the file ---- */

/* The text of the one *.prom file in dir, or NULL (none, or gone). */
static char *prom_text(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[PATH_MAX + 300], *text = NULL;

	cr_assert(d);
	while (!text && (e = readdir(d))) {
		size_t n = strlen(e->d_name);

		if (e->d_name[0] == '.' || n < 5 || strcmp(e->d_name + n - 5, ".prom"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		text = itest_slurp(path, NULL);
	}
	closedir(d);
	return text;
}

/* The value of the sample name{...} whose labels hold with (or the only
 * one: with NULL); -1 when there is none. */
static double prom_value(const char *text, const char *name, const char *with)
{
	size_t n = strlen(name);

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		const char *end = strchr(l, '}');

		if (strncmp(l, name, n) || l[n] != '{' || !end)
			continue;
		if (!with || (memmem(l, (size_t)(end - l), with, strlen(with))))
			return strtod(end + 1, NULL);
	}
	return -1;
}

/* Runs target under opts with the file written every 0.1 s into a new
 * directory: the last text read from it while the target ran, and the
 * largest value of max_of seen; the target's output in *out. */
static char *watch_textfile(const char *const *opts, const char *target, const char *const *args,
			    const char *max_of, double *max, char **out)
{
	char text[] = "/tmp/pst-mwatch.XXXXXX", *last = NULL;
	const char *all[16] = { "--metrics-interval", "0.1", "--metrics-textfile", text };
	struct itest_run r;
	struct itest_cmd c;
	pid_t pid;
	int st, n = 4;

	cr_assert(mkdtemp(text));
	for (; opts && *opts && n < 15; opts++)
		all[n++] = *opts;
	*max = -1;
	itest_run_begin(&r, &c, NULL, all, "t.%p.trace", target, args);
	pid = spawn_bg(c.argv, c.outp, c.errp);
	while (waitpid(pid, &st, WNOHANG) != pid) {
		char *t = prom_text(text);

		if (t) {
			if (max_of && prom_value(t, max_of, NULL) > *max)
				*max = prom_value(t, max_of, NULL);
			free(last);
			last = t;
		}
		sleep_s(0.02);
	}
	itest_run_end(&r, &c, st);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: %s", itest_wdesc(st), r.err);
	cr_assert(last, "no textfile seen");
	*out = strdup(r.out ? r.out : "");
	itest_cleanup(&r);
	nftw(text, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return last;
}

/* One endpoint's connects, accepts and connect-time histogram are n:
 * buckets in order of le, never going down, the last (+Inf) the count. */
static void check_endpoint(const char *text, int port, int n)
{
	char ep[64], needle[96];
	double prev_le = 0, prev = 0;
	int buckets = 0;

	snprintf(ep, sizeof(ep), "endpoint=\"127.0.0.1:%d\"", port);
	cr_expect_eq(prom_value(text, "prestanda_connects_total", ep), n, "%s connects", ep);
	cr_expect_eq(prom_value(text, "prestanda_accepts_total", ep), n, "%s accepts", ep);
	cr_expect_eq(prom_value(text, "prestanda_connect_failures_total", ep), -1, "%s failures", ep);
	cr_expect_eq(prom_value(text, "prestanda_connect_seconds_count", ep), n, "%s count", ep);
	cr_expect_gt(prom_value(text, "prestanda_connect_seconds_sum", ep), 0);
	for (const char *l = strstr(text, "prestanda_connect_seconds_bucket{"); l;
	     l = strstr(l + 1, "prestanda_connect_seconds_bucket{")) {
		const char *le = strstr(l, "le=\""), *end = strchr(l, '}');
		double v = strtod(end + 1, NULL), bound;

		snprintf(needle, sizeof(needle), "%s,", ep);
		if (!memmem(l, (size_t)(end - l), needle, strlen(needle)))
			continue;
		bound = !strncmp(le + 4, "+Inf", 4) ? INFINITY : strtod(le + 4, NULL);
		cr_expect_gt(bound, prev_le, "%s: le %g after %g", ep, bound, prev_le);
		cr_expect_geq(v, prev, "%s: bucket le=%g goes down", ep, bound);
		prev_le = bound;
		prev = v;
		buckets++;
	}
	cr_expect_eq(buckets, 20, "%s: %d buckets", ep, buckets);
	cr_expect(isinf(prev_le) && prev == n, "%s: +Inf bucket %g", ep, prev);
}

Test(metrics, connects_per_endpoint_and_their_times, .timeout = 60)
{
	char *out, *text, path[] = "/tmp/pst-mnet.XXXXXX", cmd[128];
	char *promtool[] = { "/bin/sh", "-c", cmd, NULL };
	double unused;
	int pa = 0, pb = 0, fd;

	text = watch_textfile(NULL, "metrics_net", (const char *const[]){ "1000", "7", "3", NULL }, NULL,
			      &unused, &out);
	cr_assert_eq(sscanf(out, "ready %d %d", &pa, &pb), 2, "%s", out);
	check_endpoint(text, pa, 7);
	check_endpoint(text, pb, 3);
	/* two endpoints: no other */
	cr_expect_eq(prom_value(text, "prestanda_connects_total", "endpoint=\"other\""), -1);
	/* Prometheus' own parser takes the file, histograms and all */
	fd = mkstemp(path);
	cr_assert(fd >= 0);
	itest_write(path, text, strlen(text));
	close(fd);
	snprintf(cmd, sizeof(cmd), "%s check metrics < %s", PROMTOOL, path);
	cr_expect_eq(itest_spawn(promtool, NULL, NULL), 0, "promtool check metrics:\n%s", text);
	unlink(path);
	free(text);
	free(out);
}

/* A 64 MiB block held for a while: the heap in use the file shows at
 * most is the block and what the program had besides (under 1 MiB). */
static void heap_holds(const char *mode)
{
	const char *opts[] = { mode, NULL };
	double max;
	char *out, *text;

	text = watch_textfile(opts, "metrics_phases", (const char *const[]){ "hold", "64", "1000", NULL },
			      "prestanda_heap_bytes", &max, &out);
	cr_expect(max >= 64.0 * 1048576 && max < 65.0 * 1048576, "%s: heap at most %.0f", mode ? mode : "sampled",
		  max);
	free(text);
	free(out);
}

Test(metrics, heap_in_use_sampled, .timeout = 60)
{
	heap_holds(NULL);
}

Test(metrics, heap_in_use_full, .timeout = 60)
{
	heap_holds("--full");
}

/* Ten endpoints, the busiest first: the first eight have series of their
 * own, the last two (2 and 1 connects) add up under "other". */
Test(metrics, endpoints_past_eight_fold_into_other, .timeout = 60)
{
	const char *args[] = { "1000", "10", "9", "8", "7", "6", "5", "4", "3", "2", "1", NULL };
	char *out, *text, *at, ep[64];
	double unused;

	text = watch_textfile(NULL, "metrics_net", args, NULL, &unused, &out);
	cr_assert(!strncmp(out, "ready", 5), "%s", out);
	at = out + 5;
	for (int i = 0; i < 10; i++) {
		int port = (int)strtol(at, &at, 10);

		snprintf(ep, sizeof(ep), "endpoint=\"127.0.0.1:%d\"", port);
		cr_expect_eq(prom_value(text, "prestanda_connects_total", ep), i < 8 ? 10 - i : -1, "%s", ep);
		cr_expect_eq(prom_value(text, "prestanda_accepts_total", ep), i < 8 ? 10 - i : -1, "%s", ep);
	}
	cr_expect_eq(prom_value(text, "prestanda_connects_total", "endpoint=\"other\""), 3);
	cr_expect_eq(prom_value(text, "prestanda_accepts_total", "endpoint=\"other\""), 3);
	cr_expect_eq(prom_value(text, "prestanda_connect_seconds_count", "endpoint=\"other\""), 3);
	free(text);
	free(out);
}
