/* SPDX-License-Identifier: MIT */
/* --push: record -a's intervals sent to a local stand-in for Pyroscope's /ingest, each decoded with go tool pprof and added up against the trace. */
#include <time.h>

#include "itest.h"

#define GO "/usr/bin/go"
#define RECEIVER "tests/push_receiver.py"

/* A test's directory, its receiver and its recording. */
struct push_test {
	char dir[64];
	char rx[128];	 /* where the receiver stores uploads */
	char trace[128];
	char err[128];	 /* record's stderr */
	int port;
	pid_t receiver, record;
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
	if (!t->receiver)
		itest_exec_child(argv, log, NULL, ITEST_CHILD_DFL_SIGNALS);
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

/* `prestanda record -a -d SEC --push URL --push-interval 1 ...` in the
 * background; extra: more flags (NULL-terminated). */
static void record_start(struct push_test *t, const char *sec, const char *const *extra)
{
	char url[64], *argv[ITEST_MAX_ARGS] = { ITEST_PRESTANDA, "record", "-a", "-K", "-d",
						 (char *)sec, "-o", t->trace, "--push", url,
						 "--push-interval", "1", "--push-label",
						 "env=test" };

	snprintf(url, sizeof(url), "http://127.0.0.1:%d", t->port);
	argv[itest_argv_add(argv, 14, extra)] = NULL;
	t->record = fork();
	cr_assert(t->record >= 0);
	if (!t->record)
		itest_exec_child(argv, NULL, t->err, ITEST_CHILD_DFL_SIGNALS);
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
static long long uploads_ns(const struct push_test *t, int *n)
{
	long long sum = 0, prev_from = 0;
	char path[256];

	for (*n = 0;; ++*n) {
		unsigned long long from, until;
		unsigned hz;
		char *q;
		long long ns;

		snprintf(path, sizeof(path), "%s/%d.query", t->rx, *n + 1);
		if (!(q = itest_slurp(path, NULL)))
			break;
		cr_expect_eq(sscanf(q, "name=host%%7Benv%%3Dtest%%7D&from=%llu&until=%llu&format=pprof"
				       "&spyName=prestanda&sampleRate=%u\n",
				    &from, &until, &hz),
			     3, "%s", q);
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

/* Each interval's profile arrives as one upload; together they hold every
 * sample of the trace, to the nanosecond. */
Test(push, intervals_add_up_to_the_trace, .timeout = 180)
{
	struct push_test t;
	long long sent, whole;
	char *err;
	int n;

	setup(&t);
	receiver_start(&t);
	record_start(&t, "5", NULL);
	err = record_wait(&t);
	sent = uploads_ns(&t, &n);
	whole = trace_ns(&t);
	cr_expect_geq(n, 2, "%s", err);
	cr_expect_gt(whole, 0);
	cr_expect_eq(sent, whole, "%d uploads: %lld ns; the trace: %lld ns", n, sent, whole);
	cr_expect(strstr(err, "profiles sent to http://127.0.0.1:") && strstr(err, "; 0 waiting in "),
		  "%s", err);
	free(err);
	cleanup(&t);
}

/* Wait (up to 20 s) until the spool holds a profile the server missed. */
static void wait_spooled(const struct push_test *t)
{
	char spool[160];

	snprintf(spool, sizeof(spool), "%s.push", t->trace);
	for (int i = 0; i < 400; i++) {
		DIR *d = opendir(spool);
		struct dirent *e;
		bool any = false;

		while (d && (e = readdir(d)))
			any = any || !strncmp(e->d_name, "profile-", 8);
		if (d)
			closedir(d);
		if (any)
			return;
		sleep_ms(50);
	}
	cr_assert_fail("nothing came into %s", spool);
}

/* A server down for the first seconds: what was cut meanwhile waits in the
 * spool and arrives once it answers; nothing is lost. */
Test(push, a_server_that_comes_back_gets_every_interval, .timeout = 180)
{
	struct push_test t;
	long long sent, whole;
	char *err;
	int n;

	setup(&t);
	record_start(&t, "8", NULL);
	wait_spooled(&t);
	receiver_start(&t);
	err = record_wait(&t);
	sent = uploads_ns(&t, &n);
	whole = trace_ns(&t);
	cr_expect_geq(n, 3, "%s", err);
	cr_expect_eq(sent, whole, "%d uploads: %lld ns; the trace: %lld ns", n, sent, whole);
	cr_expect(strstr(err, "; profiles wait in ") && strstr(err, " answers again\n") &&
			  strstr(err, "; 0 waiting in ") && strstr(err, "; 0 dropped "),
		  "%s", err);
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

/* A server that stays down: the spool keeps the newest profiles under its
 * cap, says how many it dropped, and the pushing process's memory stays
 * flat while the profiles pile up. */
Test(push, a_server_that_stays_down_costs_bounded_disk_and_memory, .timeout = 180)
{
	struct push_test t;
	char spool[160], *err, *p;
	long rss[2];
	unsigned long long dropped = 0;
	long long bytes;
	int files;

	setup(&t);
	record_start(&t, "12", (const char *[]){ "--push-spool-max", "150K", NULL });
	sleep_ms(4000);
	rss[0] = rss_kb(t.record);
	sleep_ms(7000);
	rss[1] = rss_kb(t.record);
	err = record_wait(&t);
	snprintf(spool, sizeof(spool), "%s.push", t.trace);
	bytes = dir_bytes(spool, &files);
	p = strstr(err, " dropped to keep the spool under 153600 bytes");
	cr_assert(p, "%s", err);
	while (p > err && p[-1] >= '0' && p[-1] <= '9')
		p--;
	dropped = strtoull(p, NULL, 10);
	cr_expect(bytes <= 150 * 1024 && files >= 1, "%lld bytes in %d files", bytes, files);
	cr_expect_gt(dropped, 0, "%s", err);
	cr_expect(rss[0] > 0 && rss[1] - rss[0] < 4096, "RSS %ld KB then %ld KB", rss[0], rss[1]);
	fprintf(stderr, "push: spool %lld bytes in %d files, %llu dropped; RSS %ld KB then %ld KB\n",
		bytes, files, dropped, rss[0], rss[1]);
	free(err);
	cleanup(&t);
}
