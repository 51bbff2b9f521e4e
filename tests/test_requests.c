/* SPDX-License-Identifier: MIT */
/* Requests decoded against real servers on loopback: redis-benchmark, memcached, PostgreSQL (pgbench, psql), nginx; counts checked against what each client sent. */
#include <arpa/inet.h>
#include <glob.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "itest.h"
#include "reqhist.h"

/* ---- servers ---- */

/* Something listens on the loopback port: binding it fails. */
static bool port_open(int port)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	bool taken;

	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	taken = bind(fd, (struct sockaddr *)&in, sizeof(in)) != 0 && errno == EADDRINUSE;
	close(fd);
	return taken;
}

/* argv started in the background, its output in log; waits until port
 * takes connections. */
static pid_t server_start(char *const *argv, const char *log, int port)
{
	pid_t pid = fork();

	cr_assert(pid >= 0);
	if (pid == 0)
		itest_exec_child(argv, log, log, 0);
	for (int i = 0; i < 1000 && !port_open(port); i++)
		usleep(10000);
	cr_assert(port_open(port), "%s did not start: %s", argv[0], itest_slurp(log, NULL));
	return pid;
}

/* argv (argv[0] an installed server naming portstr) in the new directory
 * dir, on port (its number written into portstr[16] first). */
static pid_t server_in(char *dir, int port, char *portstr, char *const *argv)
{
	char log[PATH_MAX];

	cr_assert(access(argv[0], X_OK) == 0, "%s not found: run scripts/install-deps.sh", argv[0]);
	cr_assert(mkdtemp(dir));
	snprintf(portstr, 16, "%d", port);
	snprintf(log, sizeof(log), "%s/server.log", dir);
	return server_start(argv, log, port);
}

static pid_t memcached_start(char *dir, int port, char *portstr)
{
	return server_in(dir, port, portstr,
			 (char *[]){ "/usr/bin/memcached", "-u", "nobody", "-l", "127.0.0.1", "-p",
				     portstr, "-U", "0", NULL });
}

static void server_stop(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

/* ---- runs and rows ---- */

/* Every test runs in both modes: the default (sampled: sums per shape,
 * REQ_AGG, and samples) and --full (a REQ per request); the counts are
 * exact in both. */
static const char *const *mode_opts(int full)
{
	static const char *const opts[] = { "--full", NULL };

	return full ? opts : NULL;
}

static const char *mode_name(int full)
{
	return full ? "--full" : "sampled";
}

/* `prestanda run OPTS -o DIR/t.%p.trace -- argv` in a fresh DIR: the report
 * of its one trace (owned by rep); the trace's path in trace. */
static json_t *traced(struct itest_run *r, const char *const *opts, char *const *argv,
		      struct itest_report *rep)
{
	char *av[ITEST_MAX_ARGS], pattern[PATH_MAX], logp[PATH_MAX];
	int n, st;

	memset(r, 0, sizeof(*r));
	strcpy(r->dir, "/tmp/pst-req.XXXXXX");
	cr_assert(mkdtemp(r->dir));
	snprintf(pattern, sizeof(pattern), "%s/t.%%p.trace", r->dir);
	snprintf(logp, sizeof(logp), "%s/run.log", r->dir);
	n = itest_argv_run(av, 0, opts, pattern);
	av[itest_argv_add(av, n, (const char *const *)argv)] = NULL;
	st = itest_spawn(av, logp, logp);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: %s; log: %s", argv[0],
		  itest_wdesc(st), itest_slurp(logp, NULL));
	unlink(logp);
	itest_collect(r);
	cr_assert_eq(r->ntraces, 1, "expected 1 trace in %s, found %d", r->dir, r->ntraces);
	return itest_report_ok(rep, r->traces[0]);
}

/* The row of network.requests with this shape (and HTTP status, when not
 * 0), NULL when there is none. */
static json_t *row_of(json_t *j, const char *shape, int status)
{
	json_t *net = json_object_get(j, "network"), *v = json_object_get(net, "requests"), *e;
	size_t i;

	json_array_foreach(v, i, e)
		if (!strcmp(itest_str(e, "shape"), shape) &&
		    (!status || itest_int(e, "status") == status))
			return e;
	return NULL;
}

static long long count_of(json_t *j, const char *shape)
{
	json_t *e = row_of(j, shape, 0);

	return e ? itest_int(e, "count") : 0;
}

/* What every row says of itself: its protocol, endpoint and role, and
 * latencies in order. */
static void row_sane(json_t *e, const char *protocol, int port)
{
	char ep[64];

	snprintf(ep, sizeof(ep), "127.0.0.1:%d", port);
	cr_expect_str_eq(itest_str(e, "protocol"), protocol);
	cr_expect_str_eq(itest_str(e, "endpoint"), ep);
	cr_expect_str_eq(itest_str(e, "role"), "client");
	cr_expect_gt(itest_int(e, "latency_ns.p50"), 0);
	cr_expect_leq(itest_int(e, "latency_ns.p50"), itest_int(e, "latency_ns.p90"));
	cr_expect_leq(itest_int(e, "latency_ns.p90"), itest_int(e, "latency_ns.p99"));
	cr_expect_leq(itest_int(e, "latency_ns.p99"), itest_int(e, "latency_ns.max"));
	cr_expect_gt(itest_int(e, "bytes_sent"), 0);
	cr_expect_gt(itest_int(e, "bytes_received"), 0);
}

/* Does the file hold these bytes? */
static bool file_has(const char *path, const char *s)
{
	size_t n;
	char *d = itest_slurp(path, &n);
	bool has = d && memmem(d, n, s, strlen(s));

	free(d);
	return has;
}

/* ---- Redis ---- */

/* Each command's count is what redis-benchmark was told to send (-n per
 * test; LRANGE's test fills its list with as many LPUSHes first). */
static void redis_counts(char *portstr, int port, int full)
{
	struct itest_report rep;
	struct itest_run r;
	json_t *j, *e;

	j = traced(&r, mode_opts(full),
		   (char *[]){ "/usr/bin/redis-benchmark", "-p", portstr, "-c", "4", "-n", "1000",
			       "-t", "set,get,incr,lpush,lrange_100,mset", "-q", NULL },
		   &rep);
	cr_expect_eq(count_of(j, "SET key:__rand_int__"), 1000, "%s", mode_name(full));
	cr_expect_eq(count_of(j, "GET key:__rand_int__"), 1000);
	cr_expect_eq(count_of(j, "INCR counter:__rand_int__"), 1000);
	cr_expect_eq(count_of(j, "LPUSH mylist"), 2000);
	cr_expect_eq(count_of(j, "LRANGE mylist"), 1000);
	cr_expect_eq(count_of(j, "MSET key:__rand_int__"), 1000);
	e = row_of(j, "GET key:__rand_int__", 0);
	cr_assert(e, "no GET row: %s", rep.out);
	row_sane(e, "redis", port);
	cr_expect_eq(itest_int(e, "errors"), 0);
	cr_expect_eq(itest_int(e, "hits"), 1000, "every GET reads the key SET wrote");
	cr_expect_eq(itest_int(e, "misses"), 0);
	/* the default keeps no values */
	cr_expect_null(json_object_get(e, "sample"));
	itest_report_free(&rep);
	itest_cleanup(&r);
}

static void redis_pipelined(char *portstr, int full)
{
	struct itest_report rep;
	struct itest_run r;
	json_t *j;

	j = traced(&r, mode_opts(full),
		   (char *[]){ "/usr/bin/redis-benchmark", "-p", portstr, "-c", "2", "-n", "1000",
			       "-P", "10", "-r", "100000", "-t", "set,get", "-q", NULL },
		   &rep);
	cr_expect_eq(count_of(j, "SET key:*"), 1000, "%s: %s", mode_name(full), rep.out);
	cr_expect_eq(count_of(j, "GET key:*"), 1000);
	cr_expect_null(json_object_get(row_of(j, "GET key:*", 0), "unanswered"));
	cr_expect_not(file_has(r.traces[0], "key:0000"), "a key left the process");
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* redis-benchmark's counts in both modes, its values kept only when asked. */
Test(requests, redis_benchmark_counts_per_command, .timeout = 120)
{
	char dir[] = "/tmp/pst-reqsrv.XXXXXX", portstr[16];
	int port = itest_free_port();
	struct itest_report rep;
	struct itest_run r;
	pid_t srv;
	json_t *j, *e;

	cr_assert(access("/usr/bin/redis-benchmark", X_OK) == 0,
		  "redis-benchmark not found: run scripts/install-deps.sh");
	srv = server_in(dir, port, portstr,
			(char *[]){ "/usr/bin/redis-server", "--port", portstr, "--bind", "127.0.0.1",
				    "--save", "", "--appendonly", "no", "--dir", dir, NULL });
	for (int full = 0; full < 2; full++)
		redis_counts(portstr, port, full);

	/* pipelined (-P 10): replies matched to requests in order; random keys
	 * (-r) fold to one pattern, and their values stay in the process */
	for (int full = 0; full < 2; full++)
		redis_pipelined(portstr, full);

	/* --request-values keeps one request per shape as sent */
	j = traced(&r, (const char *const[]){ "--request-values", NULL },
		   (char *[]){ "/usr/bin/redis-benchmark", "-p", portstr, "-c", "1", "-n", "100",
			       "-r", "100000", "-t", "get", "-q", NULL },
		   &rep);
	e = row_of(j, "GET key:*", 0);
	cr_assert(e);
	cr_expect(!strncmp(itest_str(e, "sample"), "key:0000", 8), "%s", itest_str(e, "sample"));
	itest_report_free(&rep);
	itest_cleanup(&r);
	server_stop(srv);
}

/* Sampled mode writes sums, not requests: 100,000 GETs and 100,000 SETs
 * are counted exactly, in a trace smaller than one REQ per request would
 * make it. A REQ is at least 19 bytes (type and length; a ts of 6 bytes or
 * more, CLOCK_MONOTONIC being past 34 s; 11 more varints of a byte at
 * least): 200,000 of them take 3.8 MB, the bound is 1 MB. The timeline
 * counts them too, interval by interval. */
Test(requests, sampled_trace_holds_sums_not_requests, .timeout = 300)
{
	char dir[] = "/tmp/pst-reqsrv.XXXXXX", portstr[16];
	int port = itest_free_port();
	long long in_timeline = 0, busy = 0;
	struct itest_report rep;
	struct itest_run r;
	struct stat st;
	json_t *j, *e;
	size_t i;
	pid_t srv;

	srv = server_in(dir, port, portstr,
			(char *[]){ "/usr/bin/redis-server", "--port", portstr, "--bind", "127.0.0.1",
				    "--save", "", "--appendonly", "no", "--dir", dir, NULL });
	j = traced(&r, NULL,
		   (char *[]){ "/usr/bin/redis-benchmark", "-p", portstr, "-c", "4", "-n", "100000",
			       "-t", "get,set", "-q", NULL },
		   &rep);
	server_stop(srv);
	cr_expect_eq(count_of(j, "GET key:__rand_int__"), 100000, "%s", rep.out);
	cr_expect_eq(count_of(j, "SET key:__rand_int__"), 100000);
	cr_expect_eq(itest_int(row_of(j, "GET key:__rand_int__", 0), "hits"), 100000);
	cr_assert_eq(stat(r.traces[0], &st), 0);
	cr_expect_lt(st.st_size, 1000000, "the trace holds %lld bytes for 200,000 requests",
		     (long long)st.st_size);
	json_array_foreach(itest_get(j, "timeline"), i, e) {
		in_timeline += itest_int(e, "requests");
		busy += itest_int(e, "requests") > 0;
	}
	cr_expect_gt(busy, 0, "no interval of the timeline counted requests");
	cr_expect_leq(in_timeline, 200000 + count_of(j, "CONFIG"));
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* The latency histogram's promise: the middle of a value's bucket is within
 * 1/32 of it; buckets follow the values' order; each middle is in its own
 * bucket. */
Test(requests, histogram_error_bound)
{
	unsigned prev = 0;

	for (uint64_t v = 1; v < (1ull << 37); v += v / 61 + 1) {
		unsigned b = pst_rqh_bucket(v);
		uint64_t m = pst_rqh_mid(b);
		uint64_t err = m > v ? m - v : v - m;

		cr_assert_leq(err * 32, v, "%llu is in bucket %u, its middle %llu",
			      (unsigned long long)v, b, (unsigned long long)m);
		cr_assert_geq(b, prev);
		prev = b;
	}
	for (unsigned b = 0; b < PST_RQH_BUCKETS; b++)
		cr_assert_eq(pst_rqh_bucket(pst_rqh_mid(b)), b, "bucket %u", b);
	cr_expect_eq(pst_rqh_bucket(~0ull), PST_RQH_BUCKETS - 1);
}

/* ---- memcached ---- */

/* req_cache's sequence: 15 sets, 20 gets of which 10 find their key, a
 * set with noreply, a version: exact counts and a hit ratio of one half;
 * 5 keys set and never read. */
static void memcached_sequence(char *portstr, int port, int full)
{
	struct itest_run r;
	struct itest_report rep;
	json_t *j, *e;

	j = traced(&r, mode_opts(full), (char *[]){ ITEST_TARGETS "req_cache", portstr, NULL },
		   &rep);
	e = row_of(j, "get user:*", 0);
	cr_assert(e, "%s: no get row: %s", mode_name(full), rep.out);
	row_sane(e, "memcached", port);
	cr_expect_eq(itest_int(e, "count"), 20, "%s", mode_name(full));
	cr_expect_eq(itest_int(e, "hits"), 10);
	cr_expect_eq(itest_int(e, "misses"), 10);
	cr_expect_eq(itest_int(e, "errors"), 0);
	e = row_of(j, "set user:*", 0);
	cr_assert(e);
	cr_expect_eq(itest_int(e, "count"), 15);
	cr_expect_eq(itest_int(e, "writes"), 15);
	e = itest_finding(j, "cache-hit-ratio");
	cr_assert(e, "%s: no cache-hit-ratio finding: %s", mode_name(full), rep.out);
	cr_expect_eq(itest_int(e, "evidence.hits"), 10);
	cr_expect_eq(itest_int(e, "evidence.misses"), 10);
	cr_expect_eq(itest_int(e, "evidence.keys_set_never_read"), 5, "user:21 to user:25");
	cr_expect_eq(count_of(j, "set session:*"), 1, "the noreply set, its hex id folded");
	cr_expect_eq(count_of(j, "version"), 1);
	cr_expect_eq(json_array_size(itest_get(j, "network.requests")), 4);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

Test(requests, memcached_known_sequence_hit_ratio, .timeout = 60)
{
	char dir[] = "/tmp/pst-reqsrv.XXXXXX", portstr[16];
	int port = itest_free_port();
	pid_t srv;

	srv = memcached_start(dir, port, portstr);
	for (int full = 0; full < 2; full++)
		memcached_sequence(portstr, port, full);
	server_stop(srv);
}

/* ---- PostgreSQL: a private cluster as user postgres ---- */

struct pg {
	char dir[64], bin[256], port[16];
};

/* /usr/lib/postgresql/N/bin/NAME of the newest N. */
static const char *pg_tool(struct pg *pg, const char *name)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", pg->bin, name);
	return path;
}

/* `runuser -u postgres -- TOOL ARGS...` (PostgreSQL refuses root), 0 on success. */
static int pg_as(struct pg *pg, const char *tool, const char *const *args)
{
	char *av[ITEST_MAX_ARGS];
	int n = itest_argv_add(av, 0, (const char *const[]){ "/usr/sbin/runuser", "-u", "postgres",
							     "--", pg_tool(pg, tool), NULL });

	av[itest_argv_add(av, n, args)] = NULL;
	return itest_spawn(av, NULL, NULL);
}

static void pg_start(struct pg *pg)
{
	char data[PATH_MAX], log[PATH_MAX], opts[256];
	glob_t g;

	cr_assert(glob("/usr/lib/postgresql/*/bin", 0, NULL, &g) == 0 && g.gl_pathc,
		  "PostgreSQL not found: run scripts/install-deps.sh");
	snprintf(pg->bin, sizeof(pg->bin), "%s", g.gl_pathv[g.gl_pathc - 1]);
	globfree(&g);
	strcpy(pg->dir, "/tmp/pst-reqpg.XXXXXX");
	cr_assert(mkdtemp(pg->dir));
	chmod(pg->dir, 0777);
	snprintf(pg->port, sizeof(pg->port), "%d", itest_free_port());
	snprintf(data, sizeof(data), "%s/data", pg->dir);
	snprintf(log, sizeof(log), "%s/server.log", pg->dir);
	snprintf(opts, sizeof(opts), "-p %s -k %s -c listen_addresses=127.0.0.1 -c fsync=off",
		 pg->port, pg->dir);
	cr_assert_eq(pg_as(pg, "initdb", (const char *const[]){ "-D", data, "-A", "trust", "-U",
								"postgres", NULL }), 0);
	cr_assert_eq(pg_as(pg, "pg_ctl", (const char *const[]){ "-D", data, "-o", opts, "-w", "-l",
								log, "start", NULL }),
		     0, "pg_ctl start: %s", itest_slurp(log, NULL));
	cr_assert_eq(itest_spawn((char *[]){ (char *)pg_tool(pg, "pgbench"), "-i", "-q", "-h",
					     "127.0.0.1", "-p", pg->port, "-U", "postgres",
					     "postgres", NULL },
				 NULL, NULL),
		     0, "pgbench -i");
}

static void pg_stop(struct pg *pg)
{
	char data[PATH_MAX];

	snprintf(data, sizeof(data), "%s/data", pg->dir);
	pg_as(pg, "pg_ctl", (const char *const[]){ "-D", data, "-m", "immediate", "-w", "stop", NULL });
	itest_spawn((char *[]){ "/bin/rm", "-rf", pg->dir, NULL }, NULL, NULL);
}

/* pgbench's built-in transaction (TPC-B like), as shapes: simple mode's
 * literals and prepared mode's parameters are both $n. */
static const char *const tpcb[] = {
	"BEGIN",
	"UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2",
	"SELECT abalance FROM pgbench_accounts WHERE aid = $1",
	"UPDATE pgbench_tellers SET tbalance = tbalance + $1 WHERE tid = $2",
	"UPDATE pgbench_branches SET bbalance = bbalance + $1 WHERE bid = $2",
	"INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, "
	"CURRENT_TIMESTAMP)",
	"END",
	NULL
};

static void pgbench_mode(struct pg *pg, const char *mode, int full)
{
	struct itest_report rep;
	struct itest_run r;
	json_t *j;

	j = traced(&r, mode_opts(full),
		   (char *[]){ (char *)pg_tool(pg, "pgbench"), "-n", "-M", (char *)mode, "-c", "2",
			       "-j", "1", "-t", "25", "-h", "127.0.0.1", "-p", pg->port, "-U",
			       "postgres", "postgres", NULL },
		   &rep);
	for (unsigned i = 0; tpcb[i]; i++) {
		json_t *e = row_of(j, tpcb[i], 0);

		cr_assert(e, "-M %s: no row %s in %s", mode, tpcb[i],
			  json_dumps(itest_get(j, "network.requests"), JSON_INDENT(1)));
		row_sane(e, "postgresql", atoi(pg->port));
		cr_expect_eq(itest_int(e, "count"), 50, "-M %s, %s: %s: %lld", mode,
			     mode_name(full), tpcb[i], itest_int(e, "count"));
		cr_expect_eq(itest_int(e, "errors"), 0);
	}
	itest_report_free(&rep);
	itest_cleanup(&r);
}

Test(requests, postgresql_pgbench_simple_and_prepared, .timeout = 180)
{
	struct pg pg;

	pg_start(&pg);
	for (int full = 0; full < 2; full++) {
		pgbench_mode(&pg, "simple", full);
		pgbench_mode(&pg, "prepared", full);
		pgbench_mode(&pg, "extended", full);
	}
	pg_stop(&pg);
}

/* ---- HTTP: nginx and ab ---- */

struct web {
	char dir[64], conf[PATH_MAX], url[128];
	int port;
	pid_t pid;
};

/* nginx in the foreground, one process, serving DIR/www/index.html and
 * /api/ from its configuration (a written body, no file). */
static void web_conf(struct web *w)
{
	char p[PATH_MAX], text[2048];

	strcpy(w->dir, "/tmp/pst-reqweb.XXXXXX");
	cr_assert(mkdtemp(w->dir));
	w->port = itest_free_port();
	snprintf(p, sizeof(p), "%s/www", w->dir);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/www/index.html", w->dir);
	itest_write(p, "hello\n", 6);
	snprintf(text, sizeof(text),
		 "daemon off; master_process off; worker_processes 1;\n"
		 "error_log %s/error.log; pid %s/nginx.pid;\n"
		 "events { worker_connections 64; }\n"
		 "http { access_log off; client_body_temp_path %s;\n"
		 "  server { listen 127.0.0.1:%d; root %s/www;\n"
		 "    location /api/ { return 200 \"ok\\n\"; } } }\n",
		 w->dir, w->dir, w->dir, w->port, w->dir);
	snprintf(w->conf, sizeof(w->conf), "%s/nginx.conf", w->dir);
	itest_write(w->conf, text, strlen(text));
}

/* `ab -q [-k] -n N -c 2 http://127.0.0.1:PORT/PATH`, untraced; asserts it
 * completed N requests. */
static void ab(const struct web *w, const char *path, const char *n, bool keepalive)
{
	char url[256], *out = NULL;
	char *av[] = { "/usr/bin/ab", "-q", "-n", (char *)n, "-c", "2", url, NULL, NULL };
	int st;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", w->port, path);
	if (keepalive) {
		memmove(av + 2, av + 1, 6 * sizeof(*av));
		av[1] = "-k";
	}
	st = itest_spawn_out(av, &out);
	cr_assert_eq(st, 0, "ab: %s", itest_wdesc(st));
	cr_assert(strstr(out, "Failed requests:        0"), "%s", out);
	free(out);
}

static long long http_count(json_t *j, const char *shape, int status, const char *role)
{
	json_t *e = row_of(j, shape, status);

	if (!e)
		return 0;
	cr_expect_str_eq(itest_str(e, "protocol"), "http");
	cr_expect_str_eq(itest_str(e, "role"), role);
	cr_expect_eq(itest_int(e, "errors"), status >= 400 ? itest_int(e, "count") : 0);
	return itest_int(e, "count");
}

/* ab traced as the client: one path per run, with and without keep-alive. */
Test(requests, http_ab_client_counts_per_path_and_status, .timeout = 120)
{
	struct web w;
	struct itest_report rep;
	struct itest_run r;
	char log[PATH_MAX], url[256];
	pid_t srv;
	json_t *j;

	web_conf(&w);
	snprintf(log, sizeof(log), "%s/nginx.out", w.dir);
	srv = server_start((char *[]){ "/usr/sbin/nginx", "-c", w.conf, NULL }, log, w.port);
	for (int full = 0; full < 2; full++) {
		snprintf(url, sizeof(url), "http://127.0.0.1:%d/index.html", w.port);
		j = traced(&r, mode_opts(full),
			   (char *[]){ "/usr/bin/ab", "-q", "-n", "100", "-c", "4", url, NULL }, &rep);
		cr_expect_eq(http_count(j, "GET /index.html", 200, "client"), 100, "%s: %s",
			     mode_name(full), rep.out);
		row_sane(row_of(j, "GET /index.html", 200), "http", w.port);
		itest_report_free(&rep);
		itest_cleanup(&r);
		snprintf(url, sizeof(url), "http://127.0.0.1:%d/missing/12345", w.port);
		j = traced(&r, mode_opts(full),
			   (char *[]){ "/usr/bin/ab", "-q", "-k", "-n", "40", "-c", "2", url, NULL },
			   &rep);
		cr_expect_eq(http_count(j, "GET /missing/*", 404, "client"), 40, "%s", rep.out);
		itest_report_free(&rep);
		itest_cleanup(&r);
	}
	server_stop(srv);
	itest_spawn((char *[]){ "/bin/rm", "-rf", w.dir, NULL }, NULL, NULL);
}

/* nginx traced as the server: requests per path template and status, as
 * ab sent them. */
static void nginx_served(int full)
{
	struct web w;
	struct itest_report rep;
	struct itest_run r;
	char *av[ITEST_MAX_ARGS], pattern[PATH_MAX], log[PATH_MAX];
	pid_t srv;
	int n, st;
	json_t *j;

	web_conf(&w);
	memset(&r, 0, sizeof(r));
	snprintf(r.dir, sizeof(r.dir), "%s", w.dir);
	snprintf(pattern, sizeof(pattern), "%s/t.%%p.trace", w.dir);
	snprintf(log, sizeof(log), "%s/nginx.out", w.dir);
	n = itest_argv_run(av, 0, mode_opts(full), pattern);
	av[itest_argv_add(av, n, (const char *const[]){ "/usr/sbin/nginx", "-c", w.conf, NULL })] =
		NULL;
	srv = server_start(av, log, w.port);
	ab(&w, "/api/users/42", "30", false);
	ab(&w, "/api/users/77", "20", true);
	ab(&w, "/index.html", "25", true);
	ab(&w, "/nothere", "10", false);
	kill(srv, SIGQUIT);
	waitpid(srv, &st, 0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "nginx: %s", itest_wdesc(st));
	itest_collect(&r);
	cr_assert_eq(r.ntraces, 1);
	j = itest_report_ok(&rep, r.traces[0]);
	cr_expect_eq(http_count(j, "GET /api/users/*", 200, "server"), 50, "%s: %s",
		     mode_name(full), rep.out);
	cr_expect_eq(http_count(j, "GET /index.html", 200, "server"), 25);
	cr_expect_eq(http_count(j, "GET /nothere", 404, "server"), 10);
	cr_expect_eq(json_array_size(itest_get(j, "network.requests")), 3);
	itest_report_free(&rep);
	itest_spawn((char *[]){ "/bin/rm", "-rf", w.dir, NULL }, NULL, NULL);
}

Test(requests, http_nginx_server_counts_per_path_and_status, .timeout = 180)
{
	for (int full = 0; full < 2; full++)
		nginx_served(full);
}

/* Findings of the requests family in report j (the memory family's, on
 * psql's own allocations, come and go with sampling). */
static size_t requests_findings(json_t *j)
{
	static const char *const ids[] = { "n-plus-one", "cacheable-read", "cache-hit-ratio",
					   "slow-request", NULL };
	size_t i, n = 0;
	json_t *f;

	json_array_foreach(itest_get(j, "findings"), i, f)
		for (unsigned k = 0; ids[k]; k++)
			n += !strcmp(itest_str(f, "id"), ids[k]);
	return n;
}

/* psql running a script: an N+1 loop (one SELECT per account, 50 of them)
 * and one identical read repeated 30 times. Each is found, with its
 * numbers, and nothing else is. */
/* The config's caching section reaches the advice: report --config with
 * default_ttl 30 s and max_memory 1 byte suggests exactly those. */
static void configured_caching(struct itest_run *r)
{
	char cfg[PATH_MAX], *out = NULL;
	static const char body[] =
		"{\"performance\": {\"caching\": {\"default_ttl\": 30, \"max_memory\": 1}}}";
	json_t *j, *f;
	int st;

	snprintf(cfg, sizeof(cfg), "%s/caching.json", r->dir);
	itest_write(cfg, body, sizeof(body) - 1);
	st = itest_spawn_out((char *[]){ ITEST_PRESTANDA, "report", "--json", "--config", cfg,
					 r->traces[0], NULL },
			     &out);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0 && out, "report --config: %s",
		  itest_wdesc(st));
	j = json_loads(out, 0, NULL);
	cr_assert(j, "report --config: not JSON: %.200s", out);
	f = itest_finding(j, "cacheable-read");
	cr_assert(f, "no cacheable-read finding with --config");
	cr_expect_eq(itest_int(f, "evidence.ttl_ns"), 30000000000LL, "caching.default_ttl");
	cr_expect_eq(itest_int(f, "evidence.cache_bytes"), 1, "caching.max_memory");
	unlink(cfg);
	json_decref(j);
	free(out);
}

/* psql running script in mode full: the N+1 loop and the repeated read
 * found with their numbers, and nothing else. */
static void psql_findings(struct pg *pg, const char *script, int full)
{
	struct itest_report rep;
	struct itest_run r;
	json_t *j, *f;

	j = traced(&r, mode_opts(full),
		   (char *[]){ (char *)pg_tool(pg, "psql"), "-X", "-q", "-h", "127.0.0.1", "-p",
			       pg->port, "-U", "postgres", "-f", (char *)script, "postgres", NULL },
		   &rep);
	cr_expect_eq(count_of(j, "SELECT abalance FROM pgbench_accounts WHERE aid = $1"), 50, "%s",
		     mode_name(full));
	cr_expect_eq(count_of(j, "SELECT count(*) FROM pgbench_branches"), 30);
	f = itest_finding(j, "n-plus-one");
	cr_assert(f, "%s: no n-plus-one finding: %s", mode_name(full), rep.out);
	cr_expect_eq(itest_int(f, "evidence.requests"), 50);
	cr_expect_eq(itest_int(f, "evidence.round_trips_saved"), 49);
	cr_expect_str_eq(itest_str(f, "evidence.shape"),
			 "SELECT abalance FROM pgbench_accounts WHERE aid = $1");
	f = itest_finding(j, "cacheable-read");
	cr_assert(f, "%s: no cacheable-read finding: %s", mode_name(full), rep.out);
	cr_expect_str_eq(itest_str(f, "evidence.shape"), "SELECT count(*) FROM pgbench_branches");
	cr_expect_eq(itest_int(f, "evidence.reads"), 30);
	cr_expect_eq(itest_int(f, "evidence.repeated_identical"), 29);
	cr_expect_eq(itest_int(f, "evidence.distinct_params"), 1);
	cr_expect_eq(itest_int(f, "evidence.answer_changes"), 0);
	cr_expect_eq(itest_int(f, "evidence.ttl_ns"), 60000000000LL, "caching.default_ttl");
	cr_expect_gt(itest_int(f, "evidence.cache_bytes"), 1);
	configured_caching(&r);
	cr_expect_null(itest_finding(j, "cache-hit-ratio"));
	cr_expect_null(itest_finding(j, "slow-request"));
	cr_expect_eq(requests_findings(j), 2, "%s",
		     json_dumps(itest_get(j, "findings"), JSON_INDENT(1)));
	itest_report_free(&rep);
	itest_cleanup(&r);
}

Test(requests, postgresql_nplus1_and_cacheable_read_found, .timeout = 180)
{
	char script[PATH_MAX], sql[8192];
	struct pg pg;
	size_t len = 0;

	pg_start(&pg);
	for (int i = 1; i <= 50; i++)
		len += (size_t)snprintf(sql + len, sizeof(sql) - len,
					"SELECT abalance FROM pgbench_accounts WHERE aid = %d;\n", i);
	for (int i = 0; i < 30; i++)
		len += (size_t)snprintf(sql + len, sizeof(sql) - len,
					"SELECT count(*) FROM pgbench_branches;\n");
	snprintf(script, sizeof(script), "%s/loop.sql", pg.dir);
	itest_write(script, sql, len);
	for (int full = 0; full < 2; full++)
		psql_findings(&pg, script, full);
	pg_stop(&pg);
}

/* The metric named name with key in a `diff --json`'s metrics, NULL: none. */
static json_t *diff_metric(json_t *d, const char *name, const char *key)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(d, "metrics"), i, e)
		if (!strcmp(itest_str(e, "name"), name) && json_is_string(json_object_get(e, "key")) &&
		    !strcmp(itest_str(e, "key"), key))
			return e;
	return NULL;
}

/* flame's request-wait metric of trace is the time waited for replies,
 * all of it (its report j's rows), by the stack that sent. */
static void flame_wait_matches(const char *trace, json_t *j)
{
	long long waited = 0, folded = 0;
	char *out = NULL;
	json_t *e;
	size_t i;

	json_array_foreach(itest_get(j, "network.requests"), i, e)
		waited += itest_int(e, "wait_ns");
	cr_assert_eq(itest_spawn_out((char *[]){ ITEST_PRESTANDA, "flame", "--metric", "request-wait",
						 "-f", "folded", (char *)trace, NULL },
				     &out),
		     0);
	for (char *save = NULL, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		folded += atoll(strrchr(l, ' ') ? strrchr(l, ' ') + 1 : "0");
	cr_expect_gt(waited, 0);
	cr_expect_eq(folded, waited, "%s: flame's total %lld, the rows' wait %lld", trace, folded,
		     waited);
	free(out);
}

/* diff compares counts and p99 per shape, a sampled run with a --full one;
 * flame's request-wait metric is the rows' wait in both modes. */
Test(requests, diff_per_shape_and_flame_wait, .timeout = 60)
{
	char dir[] = "/tmp/pst-reqsrv.XXXXXX", portstr[16], *out = NULL;
	int port = itest_free_port();
	struct itest_report rep1, rep2;
	struct itest_run r1, r2;
	json_error_t jerr;
	int st;
	json_t *j1, *j2, *d, *e;
	pid_t srv;

	srv = memcached_start(dir, port, portstr);
	j1 = traced(&r1, NULL, (char *[]){ ITEST_TARGETS "req_cache", portstr, NULL }, &rep1);
	j2 = traced(&r2, mode_opts(1), (char *[]){ ITEST_TARGETS "req_cache", portstr, NULL }, &rep2);
	server_stop(srv);
	/* 1 when some metric of the two runs differs beyond its noise: not ours to judge here */
	st = itest_spawn_out((char *[]){ ITEST_PRESTANDA, "diff", "--json", r1.traces[0],
					 r2.traces[0], NULL },
			     &out);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) <= 1, "diff: %s", itest_wdesc(st));
	d = json_loads(out, 0, &jerr);
	cr_assert(d, "%s", out);
	e = diff_metric(d, "requests", "get user:*");
	cr_assert(e, "%s", out);
	cr_expect_eq(itest_int(e, "base"), 20);
	cr_expect_eq(itest_int(e, "new"), 20);
	cr_expect_str_eq(itest_str(e, "verdict"), "same");
	cr_expect_not_null(diff_metric(d, "request_p99_ns", "set user:*"));
	json_decref(d);
	free(out);
	flame_wait_matches(r1.traces[0], j1);
	flame_wait_matches(r2.traces[0], j2);
	itest_report_free(&rep1);
	itest_report_free(&rep2);
	itest_cleanup(&r1);
	itest_cleanup(&r2);
}
