/* SPDX-License-Identifier: MIT */
/* Network, end to end: net_load's known connects, bytes, concurrency and lookups under `prestanda run`, checked exactly. */
#include "itest.h"
#include "trace.h"

/* Run net_load ARGS under prestanda; one trace, its report's JSON, and the
 * port the target printed (0 when none). */
struct net_run {
	struct itest_run r;
	struct itest_report rep;
	json_t *j;
	int port;
};

static void net_run(struct net_run *n, const char *const *args)
{
	const char *p;

	itest_run(&n->r, NULL, "net_load", args);
	cr_assert(WIFEXITED(n->r.wstatus) && WEXITSTATUS(n->r.wstatus) == 0,
		  "prestanda run net_load: %s; stderr: %s", itest_wdesc(n->r.wstatus), n->r.err);
	cr_assert_eq(n->r.ntraces, 1, "expected 1 trace, found %d", n->r.ntraces);
	n->j = itest_report_ok(&n->rep, n->r.traces[0]);
	p = n->r.out ? strstr(n->r.out, "port=") : NULL;
	n->port = p ? atoi(p + 5) : 0;
}

static void net_done(struct net_run *n)
{
	itest_report_free(&n->rep);
	itest_cleanup(&n->r);
}

/* The endpoint with this name and role (asserting there is exactly one). */
static json_t *endpoint(json_t *j, const char *name, const char *role)
{
	json_t *eps = itest_get(j, "network.endpoints"), *e, *found = NULL;
	size_t i;
	int n = 0;

	cr_assert(json_is_array(eps));
	json_array_foreach(eps, i, e) {
		if (!strcmp(itest_str(e, "endpoint"), name) && !strcmp(itest_str(e, "role"), role)) {
			found = e;
			n++;
		}
	}
	cr_assert_eq(n, 1, "expected one %s endpoint %s, found %d: %s", role, name, n,
		     json_dumps(eps, 0));
	return found;
}

#define EXPECT_INT(obj, path, want)                                                          \
	cr_expect_eq(itest_int(obj, path), (want), "%s: %lld, expected %lld", path,          \
		     itest_int(obj, path), (long long)(want))

/* What net_load measured itself ("self NAME n=.. p50=.. ..."): each of the
 * profiler's durations lies inside one of these, however loaded the machine. */
struct self_pct {
	long long n, p50, p90, p99, max, total;
};

static struct self_pct self_of(const char *out, const char *name)
{
	struct self_pct s = { 0 };
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "self %s ", name);
	p = out ? strstr(out, key) : NULL;
	cr_assert(p, "net_load printed no %s: %s", name, out ? out : "");
	cr_assert_eq(sscanf(p + strlen(key), "n=%lld p50=%lld p90=%lld p99=%lld max=%lld total=%lld",
			    &s.n, &s.p50, &s.p90, &s.p99, &s.max, &s.total),
		     6, "%s", p);
	return s;
}

/* The value a request percentile of v takes in the report: the middle of
 * v's histogram bucket (analyzer/families/net.c, hist_pct). */
static long long bucket_mid(long long v)
{
	unsigned b = pst_net_bucket((uint64_t)v);
	uint64_t lo = pst_net_bucket_lo(b);
	uint64_t hi = b + 1 < PST_NET_HIST_BUCKETS ? pst_net_bucket_lo(b + 1) : lo;

	return (long long)(lo + (hi - lo) / 2);
}

/* A duration in the report: measured (above 0) and at most what the client
 * measured around the same calls. */
#define EXPECT_WITHIN(obj, path, bound)                                                     \
	cr_expect(itest_int(obj, path) > 0 && itest_int(obj, path) <= (bound),             \
		  "%s: %lld, the client measured %lld", path, itest_int(obj, path),         \
		  (long long)(bound))

/* Exact durations (connects, lifetimes) of the client against its own. */
static void expect_self_exact(json_t *c, const char *out, const char *name, long long n)
{
	struct self_pct s = self_of(out, name);
	char path[64];
	const char *const fields[] = { "p50", "p90", "p99", "max", "total" };
	const long long bounds[] = { s.p50, s.p90, s.p99, s.max, s.total };

	cr_expect_eq(s.n, n, "net_load measured %lld %s, expected %lld", s.n, name, n);
	for (size_t i = 0; i < sizeof(fields) / sizeof(*fields); i++) {
		snprintf(path, sizeof(path), "%s.%s", name, fields[i]);
		EXPECT_WITHIN(c, path, bounds[i]);
	}
}

/* Request percentiles (histogram middles) of one side against the
 * client's own, each request of either side inside the client's. */
static void expect_self_requests(json_t *side, const char *out, long long n)
{
	struct self_pct s = self_of(out, "request_ns");

	cr_expect_eq(s.n, n, "net_load measured %lld requests, expected %lld", s.n, n);
	EXPECT_WITHIN(side, "request_ns.p50", bucket_mid(s.p50));
	EXPECT_WITHIN(side, "request_ns.p90", bucket_mid(s.p90));
	EXPECT_WITHIN(side, "request_ns.p99", bucket_mid(s.p99));
}

/* Both sides of n request/response connections of 16 and 32 bytes. */
static void check_both_sides(struct net_run *n, const char *ep, const char *kind, int conns,
			     int reqs)
{
	json_t *c = endpoint(n->j, ep, "client"), *s = endpoint(n->j, ep, "server");

	cr_expect_str_eq(itest_str(c, "kind"), kind);
	EXPECT_INT(c, "connects", conns);
	EXPECT_INT(c, "connect_failures", 0);
	EXPECT_INT(c, "closed", conns);
	EXPECT_INT(c, "bytes_sent", 16 * reqs);
	EXPECT_INT(c, "bytes_received", 32 * reqs);
	EXPECT_INT(c, "send_calls", reqs);
	EXPECT_INT(c, "requests", reqs);
	expect_self_exact(c, n->r.out, "connect_ns", conns);
	expect_self_exact(c, n->r.out, "lifetime_ns", conns);
	expect_self_requests(c, n->r.out, reqs);
	expect_self_requests(s, n->r.out, reqs);
	EXPECT_INT(s, "connects", conns);
	EXPECT_INT(s, "closed", conns);
	EXPECT_INT(s, "bytes_sent", 32 * reqs);
	EXPECT_INT(s, "bytes_received", 16 * reqs);
	EXPECT_INT(s, "send_calls", reqs);
}

Test(net, churn_200_short_connections, .timeout = 60)
{
	struct net_run n;
	char ep[64];
	json_t *c, *f;

	net_run(&n, (const char *[]){ "churn", "200", NULL });
	snprintf(ep, sizeof(ep), "127.0.0.1:%d", n.port);
	check_both_sides(&n, ep, "tcp", 200, 200);
	c = endpoint(n.j, ep, "client");
	EXPECT_INT(c, "single_request_connections", 200);
	EXPECT_INT(c, "concurrent.max", 1);
	EXPECT_INT(endpoint(n.j, ep, "server"), "single_request_connections", 200);
	/* one send per request, and no pools declared */
	cr_expect_null(itest_finding(n.j, "chatty-connection"));
	cr_expect_null(itest_finding(n.j, "pool-config"));

	f = itest_finding(n.j, "connection-churn");
	cr_assert(f, "no connection-churn finding");
	cr_expect_str_eq(itest_str(f, "evidence.endpoint"), ep);
	EXPECT_INT(f, "evidence.connects", 200);
	/* sizes come from the concurrency seen: one at a time */
	EXPECT_INT(f, "evidence.min_size", 1);
	EXPECT_INT(f, "evidence.max_size", 1);
	cr_expect(strstr(itest_str(f, "advice"), "max_size=1"), "advice: %s",
		  itest_str(f, "advice"));
	net_done(&n);
}

Test(net, pool_of_4_kept_connections, .timeout = 60)
{
	struct net_run n;
	char ep[64];
	json_t *c;

	net_run(&n, (const char *[]){ "pool", "4", "400", NULL });
	snprintf(ep, sizeof(ep), "127.0.0.1:%d", n.port);
	check_both_sides(&n, ep, "tcp", 4, 400);
	c = endpoint(n.j, ep, "client");
	EXPECT_INT(c, "concurrent.max", 4);
	EXPECT_INT(c, "concurrent.p50", 4);
	EXPECT_INT(c, "single_request_connections", 0);
	EXPECT_INT(endpoint(n.j, ep, "server"), "concurrent.max", 4);
	cr_expect_null(itest_finding(n.j, "connection-churn"), "churn reported for a pool");
	net_done(&n);
}

Test(net, unix_socket_server, .timeout = 60)
{
	struct net_run n;
	char path[64];

	snprintf(path, sizeof(path), "/tmp/pst-net-%d.sock", (int)getpid());
	net_run(&n, (const char *[]){ "unix", "30", path, NULL });
	check_both_sides(&n, path, "unix", 30, 30);
	cr_expect_not_null(itest_finding(n.j, "connection-churn"));
	net_done(&n);
}

Test(net, ipv6_loopback, .timeout = 60)
{
	struct net_run n;
	char ep[64];

	net_run(&n, (const char *[]){ "ipv6", "10", NULL });
	snprintf(ep, sizeof(ep), "[::1]:%d", n.port);
	check_both_sides(&n, ep, "tcp6", 10, 10);
	/* below the churn threshold */
	cr_expect_null(itest_finding(n.j, "connection-churn"));
	net_done(&n);
}

Test(net, refused_port, .timeout = 60)
{
	struct net_run n;
	char ep[64];
	json_t *c;

	net_run(&n, (const char *[]){ "refused", "7", NULL });
	snprintf(ep, sizeof(ep), "127.0.0.1:%d", n.port);
	c = endpoint(n.j, ep, "client");
	EXPECT_INT(c, "connects", 7);
	EXPECT_INT(c, "connect_failures", 7);
	EXPECT_INT(c, "failures_by_errno.ECONNREFUSED", 7);
	EXPECT_INT(c, "established", 0);
	EXPECT_INT(c, "concurrent.max", 0);
	net_done(&n);
}

/* A non-blocking connect is one attempt, not a failure, measured up to the
 * wait that saw it complete. */
static void nonblock(const char *how)
{
	struct net_run n;
	char ep[64];
	json_t *c;

	net_run(&n, (const char *[]){ "nonblock", "6", how, NULL });
	snprintf(ep, sizeof(ep), "127.0.0.1:%d", n.port);
	check_both_sides(&n, ep, "tcp", 6, 6);
	c = endpoint(n.j, ep, "client");
	cr_expect_eq(json_object_size(itest_get(c, "failures_by_errno")), 0);
	net_done(&n);
}

Test(net, nonblocking_connect_poll, .timeout = 60)
{
	nonblock("poll");
}

Test(net, nonblocking_connect_select, .timeout = 60)
{
	nonblock("select");
}

Test(net, nonblocking_connect_epoll, .timeout = 60)
{
	nonblock("epoll");
}

Test(net, lookups_counted_per_name, .timeout = 60)
{
	struct net_run n;
	json_t *ls, *l, *f;

	net_run(&n, (const char *[]){ "lookup", "10", "4", NULL });
	ls = itest_get(n.j, "network.lookups");
	cr_assert_eq(json_array_size(ls), 1, "lookups: %s", json_dumps(ls, 0));
	l = json_array_get(ls, 0);
	cr_expect_str_eq(itest_str(l, "name"), "localhost");
	EXPECT_INT(l, "count", 14);
	EXPECT_INT(l, "repeats", 13);
	EXPECT_INT(l, "failures", 0);
	/* inside the calls net_load timed itself */
	cr_expect_eq(self_of(n.r.out, "lookup_ns").n, 14);
	EXPECT_WITHIN(l, "total_ns", self_of(n.r.out, "lookup_ns").total);
	f = itest_finding(n.j, "repeated-lookup");
	cr_assert(f, "no repeated-lookup finding");
	cr_expect_str_eq(itest_str(f, "evidence.name"), "localhost");
	EXPECT_INT(f, "evidence.count", 14);
	cr_expect_gt(itest_int(f, "evidence.ttl_s"), 0);
	net_done(&n);
}

Test(net, chatty_connection, .timeout = 60)
{
	struct net_run n;
	char ep[64];
	json_t *c, *f;

	net_run(&n, (const char *[]){ "chatty", "12", "8", NULL });
	snprintf(ep, sizeof(ep), "127.0.0.1:%d", n.port);
	c = endpoint(n.j, ep, "client");
	EXPECT_INT(c, "connects", 1);
	EXPECT_INT(c, "send_calls", 12 * 8);
	EXPECT_INT(c, "bytes_sent", 12 * 64);
	EXPECT_INT(c, "requests", 12);
	EXPECT_INT(c, "max_sends_per_burst", 8);
	f = itest_finding(n.j, "chatty-connection");
	cr_assert(f, "no chatty-connection finding");
	cr_expect_str_eq(itest_str(f, "evidence.endpoint"), ep);
	EXPECT_INT(f, "evidence.bursts", 12);
	EXPECT_INT(f, "evidence.sends", 96);
	net_done(&n);
}

/* The server answers after 3 ms: every request of either side lasts at
 * least that (usleep's promise), and no longer than the client measured
 * it around the same calls. */
Test(net, request_latency_client_side, .timeout = 60)
{
	struct net_run n;
	char ep[64];
	json_t *c, *s;

	net_run(&n, (const char *[]){ "slow", "10", "3000", NULL });
	snprintf(ep, sizeof(ep), "127.0.0.1:%d", n.port);
	c = endpoint(n.j, ep, "client");
	s = endpoint(n.j, ep, "server");
	EXPECT_INT(c, "requests", 10);
	EXPECT_INT(s, "requests", 10);
	cr_expect_geq(itest_int(c, "request_ns.p50"), bucket_mid(3000000));
	cr_expect_geq(itest_int(s, "request_ns.p50"), bucket_mid(3000000));
	expect_self_requests(c, n.r.out, 10);
	expect_self_requests(s, n.r.out, 10);
	net_done(&n);
}

/* Declared pools are checked: a pool too small for what was open at once,
 * and a pool that matched nothing. */
Test(net, declared_pools_checked, .timeout = 60)
{
	struct net_run n;
	char cfg[PATH_MAX], json[512], out[PATH_MAX], err[PATH_MAX], *text;
	json_t *rep, *fs, *f;
	json_error_t jerr;
	size_t i;
	int small = 0, unused = 0;

	net_run(&n, (const char *[]){ "pool", "4", "40", NULL });
	snprintf(cfg, sizeof(cfg), "%s/config.json", n.r.dir);
	snprintf(json, sizeof(json),
		 "{\"performance\": {\"pools\": {\"backend\": {\"min_size\": 1, \"max_size\": 2, "
		 "\"endpoint\": \"127.0.0.1:%d\"}, \"database\": {\"min_size\": 5, \"max_size\": 20}}}}",
		 n.port);
	itest_write(cfg, json, strlen(json));
	itest_tmpfile(out, sizeof(out));
	itest_tmpfile(err, sizeof(err));
	{
		char *argv[] = { ITEST_PRESTANDA, "report", "--json", "--config", cfg,
				 n.r.traces[0], NULL };

		cr_assert_eq(itest_spawn(argv, out, err), 0);
	}
	text = itest_slurp(out, NULL);
	rep = json_loads(text, 0, &jerr);
	cr_assert(rep, "not JSON: %.200s", text);
	fs = itest_get(rep, "findings");
	json_array_foreach(fs, i, f) {
		if (strcmp(itest_str(f, "id"), "pool-config"))
			continue;
		if (!strcmp(itest_str(f, "evidence.pool"), "backend")) {
			small++;
			EXPECT_INT(f, "evidence.concurrent_max", 4);
			EXPECT_INT(f, "evidence.max_size", 2);
		} else if (!strcmp(itest_str(f, "evidence.pool"), "database")) {
			unused++;
			cr_expect(strstr(itest_str(f, "title"), "never used"));
		}
	}
	cr_expect_eq(small, 1, "no max_size finding for pool backend");
	cr_expect_eq(unused, 1, "no never-used finding for pool database");
	json_decref(rep);
	free(text);
	unlink(out);
	unlink(err);
	net_done(&n);
}

/* The text report has a Network section naming the endpoint. */
Test(net, text_report_section, .timeout = 60)
{
	struct net_run n;
	char out[PATH_MAX], ep[64], *text;

	net_run(&n, (const char *[]){ "churn", "25", NULL });
	snprintf(ep, sizeof(ep), "127.0.0.1:%d", n.port);
	itest_tmpfile(out, sizeof(out));
	{
		char *argv[] = { ITEST_PRESTANDA, "report", n.r.traces[0], NULL };

		cr_assert_eq(itest_spawn(argv, out, NULL), 0);
	}
	text = itest_slurp(out, NULL);
	cr_expect(strstr(text, "\nNetwork (2 endpoints"), "no Network section: %s", text);
	cr_expect(strstr(text, ep));
	cr_expect(strstr(text, "connection-churn"));
	free(text);
	unlink(out);
	net_done(&n);
}
