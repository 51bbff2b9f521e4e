/* SPDX-License-Identifier: MIT */
/* --push: record -a's intervals sent to a local stand-in for Pyroscope's /ingest, each decoded with go tool pprof and added up against the trace. */
#include <sys/prctl.h>
#include <time.h>

#include "config.h"
#include "itest.h"
#include "push.h"

#define GO "/usr/bin/go"
#define RECEIVER "tests/push_receiver.py"

/* A test's directory, its receiver and its recording. */
struct push_test {
	char dir[64];
	char rx[128];	 /* where the receiver stores uploads */
	char trace[384];
	char err[128];	 /* record's stderr */
	char url[64];
	int port;
	pid_t receiver, record; /* record: the pushing process */
};

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void setup(struct push_test *t)
{
	memset(t, 0, sizeof(*t));
	itest_need_ebpf(false);
	cr_assert(access(GO, X_OK) == 0, GO " missing: run scripts/install-deps.sh");
	snprintf(t->dir, sizeof(t->dir), "/tmp/pst-push.XXXXXX");
	cr_assert(mkdtemp(t->dir));
	snprintf(t->rx, sizeof(t->rx), "%s/rx", t->dir);
	snprintf(t->trace, sizeof(t->trace), "%s/h.trace", t->dir);
	snprintf(t->err, sizeof(t->err), "%s/record.err", t->dir);
	cr_assert(mkdir(t->rx, 0700) == 0);
	t->port = itest_free_port();
	snprintf(t->url, sizeof(t->url), "http://127.0.0.1:%d", t->port);
}

/* Start the receiver on t->port and wait until it listens. */
static void receiver_start(struct push_test *t)
{
	char port[16], log[160], *argv[] = { "/usr/bin/python3", RECEIVER, port, t->rx, NULL };

	snprintf(port, sizeof(port), "%d", t->port);
	snprintf(log, sizeof(log), "%s/rx.log", t->dir);
	unlink(log);
	t->receiver = fork();
	cr_assert(t->receiver >= 0);
	if (!t->receiver) {
		/* a test that fails an assertion ends without its cleanup:
		 * the receiver goes with it */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		itest_exec_child(argv, log, NULL, ITEST_CHILD_DFL_SIGNALS);
	}
	for (int i = 0; i < 200; i++) {
		char *s = itest_slurp(log, NULL);
		bool ready = s && strstr(s, "ready");

		free(s);
		if (ready)
			return;
		sleep_ms(50);
	}
	cr_assert_fail("the receiver did not start on port %d", t->port);
}

static void receiver_stop(struct push_test *t)
{
	if (t->receiver > 0) {
		kill(t->receiver, SIGTERM);
		waitpid(t->receiver, NULL, 0);
	}
	t->receiver = 0;
}

/* `prestanda ARGS...` in the background, its stderr to t->err. */
static void pusher_start(struct push_test *t, char **argv)
{
	t->record = fork();
	cr_assert(t->record >= 0);
	if (!t->record)
		itest_exec_child(argv, NULL, t->err, ITEST_CHILD_DFL_SIGNALS);
}

/* `prestanda record -o TRACE --push URL --push-interval 1 ... WHAT...` in
 * the background; what: what to record and how (NULL-terminated). */
static void record_start(struct push_test *t, const char *const *what)
{
	char *argv[ITEST_MAX_ARGS] = { ITEST_PRESTANDA, "record", "-o", t->trace,
				       "--push", t->url, "--push-interval", "1",
				       "--push-label", "env=test" };

	argv[itest_argv_add(argv, 10, what)] = NULL;
	pusher_start(t, argv);
}

/* `prestanda run --cpu --config CONFIG --push URL -- cpu_split SEC` in the
 * background, the config's performance.push saying the rest; t->trace
 * the pattern then. */
static void run_start(struct push_test *t, const char *sec, const char *push_json)
{
	char config[160], json[512], *argv[] = { ITEST_PRESTANDA, "run", "--cpu", "--config",
						 config, "--push", t->url, "-o", t->trace, "--",
						 ITEST_TARGETS "cpu_split", (char *)sec, NULL };

	snprintf(config, sizeof(config), "%s/push.json", t->dir);
	snprintf(json, sizeof(json), "{\"performance\": {\"push\": {%s}}}", push_json);
	itest_write(config, json, strlen(json));
	snprintf(t->trace, sizeof(t->trace), "%s/t.%%p.trace", t->dir);
	pusher_start(t, argv);
}

/* Wait for the recording; its stderr (to free). */
static char *record_wait(struct push_test *t)
{
	int st;
	char *err;

	cr_assert(waitpid(t->record, &st, 0) == t->record);
	err = itest_slurp(t->err, NULL);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "record %s: %s", itest_wdesc(st), err);
	return err;
}

/* The CPU nanoseconds of a pprof file, added up from go tool pprof -raw. */
static long long pprof_ns(const char *path)
{
	char *argv[] = { GO, "tool", "pprof", "-raw", (char *)path, NULL }, *out, *p;
	long long ns = 0, a, b;
	int st = itest_spawn_out(argv, &out);

	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0 && out, "go tool pprof -raw %s", path);
	p = strstr(out, "\nsamples/count cpu/nanoseconds[dflt]\n");
	cr_assert(p, "%s: %s", path, out);
	for (p = strchr(p + 1, '\n') + 1; *p == ' '; p = strchr(p, '\n') + 1)
		if (sscanf(p, "%lld %lld:", &a, &b) == 2) {
			cr_expect_eq(a * 10101010, b, "%s: %.60s", path, p);
			ns += b;
		}
	free(out);
	return ns;
}

/* The whole trace's CPU nanoseconds, by flame -f pprof and go tool pprof. */
static long long trace_ns(const struct push_test *t)
{
	char out[160], *argv[] = { ITEST_PRESTANDA, "flame", "-f", "pprof", "-o", out,
				   (char *)t->trace, NULL };
	int st;

	snprintf(out, sizeof(out), "%s/whole.pprof", t->dir);
	st = itest_spawn(argv, NULL, NULL);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "flame -f pprof: %s", itest_wdesc(st));
	return pprof_ns(out);
}

/* Every upload: its query as Pyroscope's ingest wants it, its profile's
 * nanoseconds (none empty), in time order. Returns their sum; *n how many. */
static long long uploads_ns(const struct push_test *t, const char *app, int *n)
{
	long long sum = 0, prev_from = 0;
	char path[256], fmt[256];

	snprintf(fmt, sizeof(fmt), "name=%s%%%%7Benv%%%%3Dtest%%%%7D&from=%%llu&until=%%llu&"
		 "format=pprof&spyName=prestanda&sampleRate=%%u\n", app);

	for (*n = 0;; ++*n) {
		unsigned long long from, until;
		unsigned hz;
		char *q;
		long long ns;

		snprintf(path, sizeof(path), "%s/%d.query", t->rx, *n + 1);
		if (!(q = itest_slurp(path, NULL)))
			break;
		cr_expect_eq(sscanf(q, fmt, &from, &until, &hz), 3, "%s", q);
		cr_expect(from < until && (long long)from >= prev_from && hz == 99, "%s", q);
		prev_from = (long long)from;
		free(q);
		snprintf(path, sizeof(path), "%s/%d.pprof", t->rx, *n + 1);
		ns = pprof_ns(path);
		cr_expect_gt(ns, 0, "%s", path);
		sum += ns;
	}
	return sum;
}

static void cleanup(struct push_test *t)
{
	char *argv[] = { "/bin/rm", "-rf", t->dir, NULL };

	receiver_stop(t);
	itest_spawn(argv, NULL, NULL);
}

/* The trace run wrote (t.PID.trace) into t->trace. */
static void find_trace(struct push_test *t)
{
	DIR *d = opendir(t->dir);
	struct dirent *e;

	cr_assert(d);
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "t.", 2) && itest_has_suffix(e->d_name, ".trace"))
			snprintf(t->trace, sizeof(t->trace), "%s/%s", t->dir, e->d_name);
	closedir(d);
	cr_assert(itest_has_suffix(t->trace, ".trace"), "no trace in %s", t->dir);
}

/* Wait for the pusher; then at least min uploads (the app's), whose CPU
 * time adds up to the trace's to the nanosecond. Its stderr (to free). */
static char *expect_every_sample_sent(struct push_test *t, const char *app, int min)
{
	char *err = record_wait(t);
	long long sent, whole;
	int n;

	if (strchr(t->trace, '%'))
		find_trace(t);
	sent = uploads_ns(t, app, &n);
	whole = trace_ns(t);
	cr_expect_geq(n, min, "%s", err);
	cr_expect_gt(whole, 0);
	cr_expect_eq(sent, whole, "%d uploads: %lld ns; the trace: %lld ns", n, sent, whole);
	cr_expect(strstr(err, "; 0 waiting in ") && strstr(err, "; 0 dropped "), "%s", err);
	return err;
}

/* Each interval's profile arrives as one upload; together they hold every
 * sample of the trace, to the nanosecond. */
Test(push, intervals_add_up_to_the_trace, .timeout = 180)
{
	struct push_test t;

	setup(&t);
	receiver_start(&t);
	record_start(&t, (const char *[]){ "-a", "-K", "-d", "5", NULL });
	free(expect_every_sample_sent(&t, "host", 2));
	cleanup(&t);
}

/* Wait (up to 30 s) until the pusher says the server did not answer. */
static void wait_refused(const struct push_test *t)
{
	for (int i = 0; i < 600; i++) {
		char *err = itest_slurp(t->err, NULL);
		bool said = err && strstr(err, "; profiles wait in ");

		free(err);
		if (said)
			return;
		sleep_ms(50);
	}
	cr_assert_fail("the pusher never found the server down");
}

/* A server down for the first seconds: what was cut meanwhile waits in the
 * spool and arrives once it answers; nothing is lost. (One command
 * recorded, whose cuts are quick: the host's take longer on a busy machine
 * than this test may wait.) */
Test(push, a_server_that_comes_back_gets_every_interval, .timeout = 180)
{
	struct push_test t;
	char *err;

	setup(&t);
	record_start(&t, (const char *[]){ "--", ITEST_TARGETS "cpu_split", "4", NULL });
	wait_refused(&t);
	receiver_start(&t);
	err = expect_every_sample_sent(&t, "cpu_split", 3);
	cr_expect(strstr(err, "; profiles wait in ") && strstr(err, " answers again\n"), "%s", err);
	free(err);
	cleanup(&t);
}

/* Resident kilobytes of pid (VmRSS). */
static long rss_kb(pid_t pid)
{
	char path[64], *s, *p;
	long kb = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	s = itest_slurp(path, NULL);
	cr_assert(s, "%s", path);
	p = strstr(s, "\nVmRSS:");
	if (p)
		kb = strtol(p + 7, NULL, 10);
	free(s);
	return kb;
}

/* Bytes and files in dir. */
static long long dir_bytes(const char *dir, int *files)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	long long sum = 0;

	cr_assert(d, "%s: %s", dir, strerror(errno));
	for (*files = 0; (e = readdir(d));) {
		struct stat st;

		if (e->d_name[0] != '.' && !fstatat(dirfd(d), e->d_name, &st, 0)) {
			sum += st.st_size;
			++*files;
		}
	}
	closedir(d);
	return sum;
}

/* A production run: run itself pushes the program's trace as the preload
 * writes it; the uploads hold every sample of the trace. */
Test(push, a_production_run_pushes_every_sample, .timeout = 180)
{
	struct push_test t;

	setup(&t);
	receiver_start(&t);
	run_start(&t, "2", "\"interval\": 1, \"labels\": {\"env\": \"test\"}");
	free(expect_every_sample_sent(&t, "cpu_split", 2));
	cleanup(&t);
}

/* A server that stays down: the spool keeps the newest profiles under its
 * cap and says how many it dropped; the pushing process (run, which does
 * nothing else) keeps the same memory while they pile up. */
Test(push, a_server_that_stays_down_costs_bounded_disk_and_memory, .timeout = 180)
{
	struct push_test t;
	char spool[96], json[512], *err, *p;
	long rss[2];
	unsigned long long dropped;
	long long bytes;
	int files;

	setup(&t);
	snprintf(spool, sizeof(spool), "%s/spool", t.dir);
	snprintf(json, sizeof(json),
		 "\"interval\": 1, \"labels\": {\"env\": \"test\"}, \"spool\": \"%s\", "
		 "\"spool_max\": 4096", spool);
	/* 10 s of CPU in each of two threads: 10 s at least */
	run_start(&t, "10", json);
	sleep_ms(2000);
	rss[0] = rss_kb(t.record);
	sleep_ms(6000);
	rss[1] = rss_kb(t.record);
	err = record_wait(&t);
	bytes = dir_bytes(spool, &files);
	p = strstr(err, " dropped to keep the spool under 4096 bytes\n");
	cr_assert(p, "%s", err);
	while (p > err && p[-1] >= '0' && p[-1] <= '9')
		p--;
	dropped = strtoull(p, NULL, 10);
	cr_expect(bytes <= 4096 && files >= 1, "%lld bytes in %d files", bytes, files);
	cr_expect_gt(dropped, 0, "%s", err);
	cr_expect(rss[0] > 0 && rss[1] > 0 && rss[1] - rss[0] < 1024, "RSS %ld KB then %ld KB",
		  rss[0], rss[1]);
	fprintf(stderr, "push: spool %lld bytes in %d files, %llu dropped; RSS %ld KB then %ld KB\n",
		bytes, files, dropped, rss[0], rss[1]);
	free(err);
	cleanup(&t);
}

/* ---- the settings and the spool, without a server ---- */

/* A config file holding json; its name in path (a mkstemp template). */
static void config_file(char *path, const char *json)
{
	int fd = mkstemp(path);

	cr_assert(fd >= 0, "mkstemp: %s", strerror(errno));
	close(fd);
	itest_write(path, json, strlen(json));
}

/* performance.push as push_json says, read from a file as run and record
 * read it. */
static int parse_push(const char *push_json, struct pst_settings *s, char *err, size_t len)
{
	char path[] = "/tmp/pst-push-config.XXXXXX", text[1024];
	int r;

	snprintf(text, sizeof(text), "{\"performance\": {\"push\": %s}}", push_json);
	config_file(path, text);
	r = pst_settings_load(path, NULL, NULL, s, err, len);
	unlink(path);
	return r;
}

/* Every key of performance.push, the labels as Pyroscope's name takes them. */
Test(push_config, every_key)
{
	struct pst_settings s;
	char err[256] = "";

	cr_assert_eq(parse_push("{\"url\": \"http://pyro:4040\", \"app\": \"web\","
				" \"labels\": {\"env\": \"prod\", \"region\": \"eu-1\"},"
				" \"spool\": \"/var/spool/p\", \"spool_max\": 1048576,"
				" \"interval\": 15, \"token\": \"t0k\", \"basic_auth\": \"u:p\","
				" \"tenant\": \"team-a\"}",
				&s, err, sizeof(err)),
		     0, "%s", err);
	cr_expect_str_eq(s.push.url, "http://pyro:4040");
	cr_expect_str_eq(s.push.app, "web");
	cr_expect_str_eq(s.push.labels, "env=prod,region=eu-1");
	cr_expect_str_eq(s.push.spool, "/var/spool/p");
	cr_expect_str_eq(s.push.token, "t0k");
	cr_expect_str_eq(s.push.basic_auth, "u:p");
	cr_expect_str_eq(s.push.tenant, "team-a");
	cr_expect_eq(s.push.spool_max, 1048576);
	cr_expect_eq(s.push.interval, 15);
	pst_settings_free(&s);
}

/* A wrong value is refused with its key named. */
Test(push_config, wrong_values_name_their_key)
{
	static const char *const cases[][2] = {
		{ "{\"url\": \"\"}", "push.url must be a non-empty string" },
		{ "{\"interval\": 0.5}", "push.interval: 0.5 is out of range (1 to 86400 seconds)" },
		{ "{\"spool_max\": 1000}",
		  "push.spool_max: 1000 is out of range (4096 to 1099511627776 bytes)" },
		{ "{\"labels\": {\"env\": \"a,b\"}}",
		  "push.labels.env: names and values are non-empty strings without { } , = & or spaces" },
		{ "{\"labels\": [\"env\"]}", "push.labels must be an object of strings" },
		{ "[]", "performance.push is not an object" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct pst_settings s;
		char err[256] = "";

		cr_expect_eq(parse_push(cases[i][0], &s, err, sizeof(err)), -1, "%s", cases[i][0]);
		cr_expect(strstr(err, ": ") && !strcmp(strstr(err, ": ") + 2, cases[i][1]), "%s", err);
	}
}

/* The flags win; the config fills in what they leave out; then the defaults. */
Test(push_config, flags_then_config_then_defaults)
{
	char path[] = "/tmp/pst-push-config.XXXXXX";
	const char *json = "{\"performance\": {\"push\": {\"url\": \"http://a:1\","
			   " \"app\": \"from-config\", \"labels\": {\"env\": \"prod\"}}}}";
	struct pst_push_options o = { .app = "from-flag", .config = path };
	bool on = false;

	config_file(path, json);
	cr_assert_eq(pst_push_options_resolve("test", &o, &on), 0);
	cr_expect(on);
	cr_expect_str_eq(o.url, "http://a:1");
	cr_expect_str_eq(o.app, "from-flag");
	cr_expect_str_eq(o.labels, "env=prod");
	cr_expect_eq(o.interval, PST_PUSH_INTERVAL);
	cr_expect_eq(o.spool_max, PST_PUSH_SPOOL_MAX);
	cr_expect_null(o.spool);
	pst_push_options_free();
	unlink(path);
}

/* The spool drops its oldest profiles to stay under its cap, and hands
 * back the oldest kept, query and body as they were put. */
Test(push_spool, oldest_dropped_to_stay_under_the_cap)
{
	char dir[] = "/tmp/pst-push-spool.XXXXXX", path[PATH_MAX], query[64], body[1000];
	char *q, *rm[] = { "/bin/rm", "-rf", dir, NULL };
	struct pst_spool sp;
	unsigned long long bytes;
	const char *b;
	size_t files, len;

	cr_assert(mkdtemp(dir));
	cr_assert_eq(pst_spool_open(&sp, dir, 2500), 0);
	for (int i = 1; i <= 5; i++) {
		memset(body, '0' + i, sizeof(body));
		snprintf(query, sizeof(query), "name=app&from=%d", i);
		cr_assert_eq(pst_spool_put(&sp, (uint64_t)i * 1000000000u, query, body, sizeof(body)), 0);
	}
	pst_spool_usage(&sp, &files, &bytes);
	cr_expect_eq(files, 2);
	cr_expect_eq(bytes, 2 * (sizeof(body) + strlen("name=app&from=4\n")));
	cr_expect_eq(sp.dropped, 3);
	cr_assert_eq(pst_spool_oldest(&sp, path, sizeof(path)), 1);
	cr_assert_eq(pst_spool_read(path, &q, &b, &len), 0);
	cr_expect_str_eq(q, "name=app&from=4");
	cr_expect(len == sizeof(body) && b[0] == '4' && b[len - 1] == '4');
	free(q);
	itest_spawn(rm, NULL, NULL);
}

/* ---- libcurl, opened by push alone (output/push_curl.c) ---- */

/* `run` without --push never maps libcurl: the program it runs reads its
 * parent's (run's) mappings while run waits for it. */
Test(push_curl, run_without_push_maps_no_libcurl, .timeout = 60)
{
	struct itest_run r;

	itest_run_program(&r, NULL, (const char *[]){ "/bin/sh", "-c", "cat /proc/$PPID/maps", NULL });
	cr_assert(r.out && strstr(r.out, "/prestanda"), "no maps of run: %s", r.err);
	cr_expect_null(strstr(r.out, "libcurl"), "run mapped libcurl");
	itest_cleanup(&r);
}
