/* SPDX-License-Identifier: MIT */
/* Real servers and runtimes under prestanda run: nginx (user nobody, two workers) and memcached -u nobody under loopback load, the JVM, Go with cgo; output and status as bare, trace counts exact. */
#include <arpa/inet.h>
#include <criterion/hooks.h>
#include <ftw.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <time.h>

#include "reliab.h"

/* Seconds before a program counts as hung: each ends in a few seconds bare. */
#define DEADLINE 60
/* A server case's own limit: bare and preloaded, each a client and a stop
 * of at most DEADLINE (and a hang's stacks, gdb's minute per process), so
 * that a slow step under load or a hang ends with its own message, never
 * with Criterion's bare "timed out" (180 s was below the sum). */
#define CASE_TIMEOUT (4 * DEADLINE + 4 * 60 + 60)

#define NGINX "/usr/sbin/nginx"
#define MEMCACHED "/usr/bin/memcached"
#define JAVA "/usr/bin/java"
#define JAVAC "/usr/bin/javac"
#define GO "/usr/bin/go"
#define WORK_SRC "tests/runtimes/Work.java"
#define CGO_SRC "tests/runtimes/cgo/main.go"

/* Environment variable naming the directory where the suite's builds (Work.class, the cgo
 * program) are cached across its tests; made before the first test, removed after the last. */
#define CACHE_ENV "PST_SRV_CACHE"

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* rm -r dir (the servers' temp dirs hold directories of nobody's). */
static void rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
	char dir[] = "/tmp/pst-itest-srvcache.XXXXXX";

	(void)set;
	if (mkdtemp(dir))
		setenv(CACHE_ENV, dir, 1);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	(void)stats;
	if (getenv(CACHE_ENV))
		rm_tree(getenv(CACHE_ENV));
}

static void need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("not root: the servers start as root and drop to nobody");
}

static void need(const char *path)
{
	cr_assert(access(path, X_OK) == 0, "%s not found: run scripts/install-deps.sh", path);
}

/* A fresh directory for one test, readable by nobody (the servers' workers). */
static void fresh_dir(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/pst-itest-srv.XXXXXX");
	cr_assert(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	cr_assert(chmod(dir, 0755) == 0, "chmod %s: %s", dir, strerror(errno));
}

/*
 * argv, under `prestanda run OPTS -o DIR/t.%e.%p.trace --` when opts is not
 * NULL (an empty list: the defaults), into av (NULL-terminated).
 */
static void wrap(char **av, const char *const *opts, const char *dir, char *pattern, size_t plen,
		 char *const *argv)
{
	int n = 0;

	if (opts) {
		snprintf(pattern, plen, "%s/t.%%e.%%p.trace", dir);
		n = itest_argv_run(av, n, opts, pattern);
	}
	av[itest_argv_add(av, n, (const char *const *)argv)] = NULL;
}

/* Process groups started and not yet waited for: a failed test kills them. */
static pid_t groups[8];

static void kill_groups(void)
{
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		if (groups[i] > 0)
			kill(-groups[i], SIGKILL);
}

TestSuite(reliab_servers, .fini = kill_groups);

static void group_track(pid_t pid, pid_t was)
{
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		if (groups[i] == was) {
			groups[i] = pid;
			return;
		}
}

/* Start argv in the background, leading a process group of its own, stdout
 * and stderr to files. */
static pid_t start(char *const argv[], const char *out, const char *err)
{
	pid_t pid = fork();

	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0)
		itest_exec_child(argv, out, err,
				 ITEST_CHILD_PGRP | ITEST_CHILD_CLOSE_FDS | ITEST_CHILD_CORES);
	setpgid(pid, pid);
	group_track(pid, 0);
	return pid;
}

/* Wait for pid within secs; when it has not ended, append the stacks of
 * every thread of its group (but pid's own) to the file stacks, SIGKILL the
 * group and set *hung: a hang names what it waited for. Returns the raw
 * wait status. */
static int wait_within(pid_t pid, int secs, const char *stacks, bool *hung)
{
	struct timespec t0;
	int st;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	st = rel_wait_group(pid, &t0, secs, stacks, hung);
	group_track(0, pid);
	return st;
}

/* argv run to its end within secs (see wait_within); the raw wait status. */
static int run_within(char *const argv[], const char *out, const char *err, int secs, bool *hung)
{
	return wait_within(start(argv, out, err), secs, err, hung);
}

/* itest_wdesc into buf: two in one message. */
static const char *wdesc(int st, char *buf, size_t len)
{
	snprintf(buf, len, "%s", itest_wdesc(st));
	return buf;
}

/* The one child of `prestanda run` (pid): the program it started. */
static pid_t program_of(pid_t run)
{
	char path[64], *s;
	pid_t child = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", run, run);
	for (int i = 0; i < 500 && !child; i++) {
		s = itest_slurp(path, NULL);
		cr_assert(s, "cannot read %s", path);
		child = (pid_t)atoi(s);
		free(s);
		if (!child)
			usleep(20000);
	}
	cr_assert(child > 0, "prestanda run (pid %d) started no program", run);
	return child;
}

/* stderr with the lines of `prestanda run` itself ("prestanda: ...") left
 * out: what the program wrote. */
static char *program_err(const char *err)
{
	char *out = calloc(1, strlen(err) + 1), *at = out;

	cr_assert(out);
	while (*err) {
		size_t n = strcspn(err, "\n");

		if (strncmp(err, "prestanda: ", 11)) {
			memcpy(at, err, n + (err[n] == '\n'));
			at += n + (err[n] == '\n');
		}
		err += n + (err[n] == '\n');
	}
	*at = 0;
	return out;
}

/* program_err of the file at path. */
static char *program_err_file(const char *path)
{
	char *all = itest_slurp(path, NULL), *s;

	cr_assert(all, "cannot read %s", path);
	s = program_err(all);
	free(all);
	return s;
}

/*
 * The traces of a run in dir, each named t.NAME.PID.trace (NAME: the
 * program's name at start, whatever title it gives itself later), reported:
 * each of the pid its name says and, when complete is set, complete.
 * Returns how many. (A TRACE.live file left beside a trace is no trace.)
 */
static int reports(const char *dir, const char *name, bool complete, struct itest_run *r,
		   struct itest_report *rep)
{
	char want[64];
	int n = 0;

	memset(r, 0, sizeof(*r));
	snprintf(r->dir, sizeof(r->dir), "%s", dir);
	itest_collect(r);
	for (int i = 0; i < r->ntraces; i++)
		if (!itest_has_suffix(r->traces[i], ".live"))
			memmove(r->traces[n++], r->traces[i], PATH_MAX);
	r->ntraces = n;
	snprintf(want, sizeof(want), "t.%s.", name);
	for (int i = 0; i < r->ntraces; i++) {
		const char *b = strrchr(r->traces[i], '/') + 1;
		json_t *j;

		cr_assert(!strncmp(b, want, strlen(want)) && itest_has_suffix(b, ".trace"),
			  "trace %s is not named %sPID.trace", b, want);
		j = itest_report_ok(&rep[i], r->traces[i]);
		cr_expect(!complete || itest_bool(j, "process.complete"), "%s incomplete: %s; %s", b,
			  rep[i].err, rel_trace_sizes(r));
		cr_expect_eq(itest_int(j, "process.pid"), atol(b + strlen(want)),
			     "%s: the report says pid %lld", b, itest_int(j, "process.pid"));
	}
	return r->ntraces;
}

/* Sum of one field over the endpoints of a role named by either string
 * (the second may be NULL). */
static long long ep_sum(json_t *rep, const char *role, const char *name, const char *name2,
			const char *field)
{
	json_t *eps = itest_get(rep, "network.endpoints"), *e;
	long long n = 0;
	size_t i;

	cr_assert(json_is_array(eps), "JSON: network.endpoints is not an array");
	json_array_foreach(eps, i, e) {
		const char *ep = itest_str(e, "endpoint");

		if (strcmp(itest_str(e, "role"), role))
			continue;
		if (!strcmp(ep, name) || (name2 && !strcmp(ep, name2)))
			n += itest_int(e, field);
	}
	return n;
}

/* Lines in a file (0 when it does not exist). */
static int file_lines(const char *path)
{
	char *s = itest_slurp(path, NULL);
	int n = itest_lines(s);

	free(s);
	return n;
}

/* The output of argv run to its end (asserting it ends within DEADLINE),
 * its raw status in *st. */
static char *run_client(char *const argv[], int *st)
{
	char out[PATH_MAX], err[PATH_MAX], *s, *e;
	bool hung;

	itest_tmpfile(out, sizeof(out));
	itest_tmpfile(err, sizeof(err));
	*st = run_within(argv, out, err, DEADLINE, &hung);
	s = itest_slurp(out, NULL);
	e = itest_slurp(err, NULL);
	unlink(out);
	unlink(err);
	cr_assert(s && e);
	cr_assert(!hung, "%s did not end within %d s; stdout: %s; stderr: %s", argv[0], DEADLINE,
		  s, e);
	free(e);
	return s;
}

/* ---- nginx: user nobody, two workers, N requests over C connections at a time ---- */

#define NGINX_REQUESTS 2000
#define NGINX_CLIENTS 4

struct nginx_run {
	int port;
	pid_t run, master; /* run: prestanda run, or the master when bare */
	int status;	   /* the master's (or run's) raw wait status */
	char *load_out;	   /* srv_load's stdout */
	int load_st;
	int access_lines;
	char errlog[PATH_MAX];
	char err[PATH_MAX]; /* nginx's (and run's) stderr */
};

static void nginx_conf(const char *dir, const char *tag, int port)
{
	char path[PATH_MAX], text[4096];
	int n;

	n = snprintf(text, sizeof(text),
		     "user nobody nogroup;\n"
		     "worker_processes 2;\n"
		     "pid %s/%s.pid;\n"
		     "error_log %s/%s.error.log notice;\n"
		     "events { worker_connections 256; }\n"
		     "http {\n"
		     "  access_log %s/%s.access.log;\n"
		     "  client_body_temp_path %s/%s.body;\n"
		     "  proxy_temp_path %s/%s.proxy;\n"
		     "  fastcgi_temp_path %s/%s.fastcgi;\n"
		     "  uwsgi_temp_path %s/%s.uwsgi;\n"
		     "  scgi_temp_path %s/%s.scgi;\n"
		     "  keepalive_timeout 0;\n"
		     "  server {\n"
		     "    listen 127.0.0.1:%d;\n"
		     "    location / { return 200 \"hello\\n\"; }\n"
		     "  }\n"
		     "}\n",
		     dir, tag, dir, tag, dir, tag, dir, tag, dir, tag, dir, tag, dir, tag, dir, tag,
		     port);
	cr_assert(n > 0 && n < (int)sizeof(text));
	snprintf(path, sizeof(path), "%s/%s.conf", dir, tag);
	itest_write(path, text, (size_t)n);
}

/*
 * nginx in the foreground (preloaded when opts is not NULL), loaded with
 * NGINX_REQUESTS requests, then stopped gracefully with SIGQUIT to its master
 * (or, via_run, to `prestanda run`, which passes it on).
 */
static void nginx_once(const char *dir, const char *tag, const char *const *opts, bool via_run,
		       struct nginx_run *o)
{
	char conf[PATH_MAX], prefix[PATH_MAX], elog[PATH_MAX], out[PATH_MAX];
	char pattern[PATH_MAX], port[16], reqs[16], clients[16], alog[PATH_MAX];
	char *av[ITEST_MAX_ARGS], *err = o->err;
	bool hung;

	memset(o, 0, sizeof(*o));
	o->port = itest_free_port();
	nginx_conf(dir, tag, o->port);
	snprintf(conf, sizeof(conf), "%s/%s.conf", dir, tag);
	snprintf(prefix, sizeof(prefix), "%s/", dir);
	/* the log before the configuration is read: never the system's */
	snprintf(elog, sizeof(elog), "%s/%s.early.log", dir, tag);
	snprintf(out, sizeof(out), "%s/%s.out", dir, tag);
	snprintf(err, sizeof(o->err), "%s/%s.err", dir, tag);
	snprintf(o->errlog, sizeof(o->errlog), "%s/%s.error.log", dir, tag);
	wrap(av, opts, dir, pattern, sizeof(pattern),
	     (char *[]){ NGINX, "-p", prefix, "-e", elog, "-c", conf, "-g", "daemon off;", NULL });
	o->run = start(av, out, err);

	snprintf(port, sizeof(port), "%d", o->port);
	snprintf(reqs, sizeof(reqs), "%d", NGINX_REQUESTS);
	snprintf(clients, sizeof(clients), "%d", NGINX_CLIENTS);
	o->load_out = run_client((char *[]){ ITEST_TARGETS "srv_load", port, reqs, clients, NULL },
				 &o->load_st);

	o->master = opts ? program_of(o->run) : o->run;
	cr_assert(kill(via_run ? o->run : o->master, SIGQUIT) == 0, "kill(%d, SIGQUIT): %s",
		  via_run ? o->run : o->master, strerror(errno));
	o->status = wait_within(o->run, DEADLINE, err, &hung);
	cr_assert(!hung, "HUNG: nginx (%s) did not stop within %d s of SIGQUIT to %s (killed); %s",
		  tag, DEADLINE, via_run ? "prestanda run" : "its master", itest_slurp(err, NULL));
	snprintf(alog, sizeof(alog), "%s/%s.access.log", dir, tag);
	o->access_lines = file_lines(alog);
}

static void nginx_case(const char *const *opts, bool via_run)
{
	char dir[64], ep[64];
	struct nginx_run bare, pre;
	struct itest_run r;
	struct itest_report rep[ITEST_MAX_TRACES];
	long long accepts = 0, closed = 0;
	int nworkers = 0, master = -1;
	char *bare_err, *pre_err, b1[64], b2[64];

	need_root();
	need(NGINX);
	fresh_dir(dir, sizeof(dir));

	nginx_once(dir, "bare", NULL, false, &bare);
	cr_assert(WIFEXITED(bare.load_st) && WEXITSTATUS(bare.load_st) == 0,
		  "srv_load against bare nginx: %s: %s", itest_wdesc(bare.load_st), bare.load_out);
	cr_assert(WIFEXITED(bare.status) && WEXITSTATUS(bare.status) == 0, "bare nginx: %s",
		  itest_wdesc(bare.status));
	cr_assert_eq(bare.access_lines, NGINX_REQUESTS, "bare nginx logged %d requests",
		     bare.access_lines);

	nginx_once(dir, "pre", opts, via_run, &pre);
	cr_expect_str_eq(pre.load_out, bare.load_out, "load results: \"%s\" preloaded, \"%s\" bare",
			 pre.load_out, bare.load_out);
	cr_expect(rel_same_status(bare.status, pre.status), "nginx: bare %s, preloaded run %s",
		  wdesc(bare.status, b1, sizeof(b1)), wdesc(pre.status, b2, sizeof(b2)));
	cr_expect_eq(pre.access_lines, NGINX_REQUESTS, "preloaded nginx logged %d requests",
		     pre.access_lines);
	bare_err = itest_slurp(bare.err, NULL);
	pre_err = program_err_file(pre.err);
	cr_expect_str_eq(pre_err, bare_err, "nginx's stderr: \"%s\" preloaded, \"%s\" bare",
			 pre_err, bare_err);
	/* the preload's complaints belong on run's terminal, not in the server's log */
	cr_expect(!rel_file_has(pre.errlog, "prestanda"), "nginx's error log names prestanda: %s",
		  itest_slurp(pre.errlog, NULL));

	/* a trace per process: the master and both workers, each complete */
	cr_assert_eq(reports(dir, "nginx", true, &r, rep), 3, "%d traces, want 3 (master, 2 workers): %s",
		     r.ntraces, rel_trace_sizes(&r));
	snprintf(ep, sizeof(ep), "127.0.0.1:%d", pre.port);
	for (int i = 0; i < r.ntraces; i++) {
		json_t *j = rep[i].json;
		long long pid = itest_int(j, "process.pid"), ppid = itest_int(j, "process.ppid");

		if (pid == pre.master) {
			master = i;
			cr_expect_eq(ppid, pre.run);
			cr_expect_eq(ep_sum(j, "server", ep, NULL, "connects"), 0,
				     "the master accepted connections");
			continue;
		}
		cr_expect_eq(ppid, pre.master, "%s: not a worker of master %d", r.traces[i],
			     pre.master);
		nworkers++;
		/* a worker that dropped to nobody still records */
		cr_expect_gt(itest_int(j, "memory.alloc_calls"), 0,
			     "worker %lld recorded no allocation: %s", pid, rel_trace_sizes(&r));
		accepts += ep_sum(j, "server", ep, NULL, "connects");
		closed += ep_sum(j, "server", ep, NULL, "closed");
	}
	cr_expect_neq(master, -1, "no trace of the master %d: %s", pre.master, rel_trace_sizes(&r));
	cr_expect_eq(nworkers, 2);
	cr_expect_eq(accepts, NGINX_REQUESTS, "workers accepted %lld at %s, the client made %d",
		     accepts, ep, NGINX_REQUESTS);
	cr_expect_eq(accepts, pre.access_lines, "workers accepted %lld, nginx logged %d", accepts,
		     pre.access_lines);
	cr_expect_eq(closed, NGINX_REQUESTS, "workers closed %lld of %d", closed, NGINX_REQUESTS);
	for (int i = 0; i < r.ntraces; i++)
		itest_report_free(&rep[i]);
	free(bare.load_out);
	free(pre.load_out);
	free(bare_err);
	free(pre_err);
	rm_tree(dir);
}

Test(reliab_servers, nginx_sampled, .timeout = CASE_TIMEOUT)
{
	nginx_case((const char *[]){ NULL }, false);
}

Test(reliab_servers, nginx_full, .timeout = CASE_TIMEOUT)
{
	nginx_case((const char *[]){ "--full", NULL }, false);
}

/* Stopped as a user stops it: SIGQUIT to `prestanda run` in front of it. */
Test(reliab_servers, nginx_quit_through_run, .timeout = CASE_TIMEOUT)
{
	nginx_case((const char *[]){ NULL }, true);
}

/* ---- memcached -u nobody: C connections of K sets and K gets, then its stats ---- */

#define MEMC_CONNS 8
#define MEMC_OPS 200

struct memc_run {
	int port;
	pid_t run, server;
	int status, client_st;
	char *client_out; /* srv_memc's stdout: the server's stats */
	char err[PATH_MAX]; /* the server's (and run's) stderr */
};

/* memcached (preloaded when opts is not NULL), the client, then SIGTERM. */
static void memc_once(const char *dir, const char *tag, const char *const *opts,
		      struct memc_run *o)
{
	char out[PATH_MAX], pattern[PATH_MAX], port[16], conns[16], ops[16];
	char *av[ITEST_MAX_ARGS], *err = o->err;
	bool hung;

	memset(o, 0, sizeof(*o));
	o->port = itest_free_port();
	snprintf(port, sizeof(port), "%d", o->port);
	snprintf(out, sizeof(out), "%s/%s.out", dir, tag);
	snprintf(err, sizeof(o->err), "%s/%s.err", dir, tag);
	wrap(av, opts, dir, pattern, sizeof(pattern),
	     (char *[]){ MEMCACHED, "-u", "nobody", "-l", "127.0.0.1", "-p", port, "-U", "0",
			 NULL });
	o->run = start(av, out, err);
	snprintf(conns, sizeof(conns), "%d", MEMC_CONNS);
	snprintf(ops, sizeof(ops), "%d", MEMC_OPS);
	o->client_out = run_client((char *[]){ ITEST_TARGETS "srv_memc", port, conns, ops, NULL },
				   &o->client_st);
	o->server = opts ? program_of(o->run) : o->run;
	cr_assert(kill(o->server, SIGTERM) == 0, "kill(%d, SIGTERM): %s", o->server,
		  strerror(errno));
	o->status = wait_within(o->run, DEADLINE, err, &hung);
	cr_assert(!hung, "HUNG: memcached (%s) did not end within %d s of SIGTERM (killed); %s",
		  tag, DEADLINE, itest_slurp(err, NULL));
}

/* The number after "name " in the client's output. */
static long long memc_stat(const char *out, const char *name)
{
	char key[64];
	const char *at;

	snprintf(key, sizeof(key), "\n%s ", name);
	at = strstr(out, key);
	cr_assert(at, "no %s in the client's output: %s", name, out);
	return atoll(at + strlen(key));
}

static void memc_case(const char *const *opts)
{
	char dir[64], ep[64];
	struct memc_run bare, pre;
	struct itest_run r;
	struct itest_report rep[ITEST_MAX_TRACES];
	long long total, accepts, closed;
	char *bare_err, *pre_err, b1[64], b2[64];

	need_root();
	need(MEMCACHED);
	fresh_dir(dir, sizeof(dir));

	memc_once(dir, "bare", NULL, &bare);
	cr_assert(WIFEXITED(bare.client_st) && WEXITSTATUS(bare.client_st) == 0,
		  "srv_memc against bare memcached: %s: %s", itest_wdesc(bare.client_st),
		  bare.client_out);
	/* memcached counts its listening socket as a connection too */
	total = memc_stat(bare.client_out, "total_connections");
	cr_assert_eq(total, MEMC_CONNS + 2, "bare memcached: total_connections %lld", total);
	cr_assert_eq(memc_stat(bare.client_out, "cmd_set"), MEMC_CONNS * MEMC_OPS);
	cr_assert_eq(memc_stat(bare.client_out, "get_hits"), MEMC_CONNS * MEMC_OPS);

	memc_once(dir, "pre", opts, &pre);
	cr_expect_str_eq(pre.client_out, bare.client_out,
			 "memcached's stats: \"%s\" preloaded, \"%s\" bare", pre.client_out,
			 bare.client_out);
	cr_expect(rel_same_status(bare.status, pre.status), "memcached: bare %s, preloaded run %s",
		  wdesc(bare.status, b1, sizeof(b1)), wdesc(pre.status, b2, sizeof(b2)));
	bare_err = itest_slurp(bare.err, NULL);
	pre_err = program_err_file(pre.err);
	cr_expect_str_eq(pre_err, bare_err, "memcached's stderr: \"%s\" preloaded, \"%s\" bare",
			 pre_err, bare_err);

	cr_assert_eq(reports(dir, "memcached", true, &r, rep), 1, "%d traces, want 1: %s", r.ntraces,
		     rel_trace_sizes(&r));
	cr_expect_eq(itest_int(rep[0].json, "process.pid"), pre.server);
	cr_expect_gt(itest_int(rep[0].json, "memory.alloc_calls"), 0, "no allocation recorded: %s",
		     rel_trace_sizes(&r));
	/* every connection memcached counted but its listener: the C clients and the stats one */
	snprintf(ep, sizeof(ep), "127.0.0.1:%d", pre.port);
	total = memc_stat(pre.client_out, "total_connections");
	accepts = ep_sum(rep[0].json, "server", ep, NULL, "connects");
	cr_expect_eq(accepts, total - 1,
		     "accepted %lld at %s; memcached counted %lld connections (one its listener)",
		     accepts, ep, total);
	cr_expect_eq(accepts, MEMC_CONNS + 1, "accepted %lld at %s; the client made %d", accepts,
		     ep, MEMC_CONNS + 1);
	/* the stats connection may still be open when SIGTERM comes */
	closed = ep_sum(rep[0].json, "server", ep, NULL, "closed") +
		 ep_sum(rep[0].json, "server", ep, NULL, "open_at_end");
	cr_expect_eq(closed, MEMC_CONNS + 1, "closed and open at the end: %lld, want %d", closed,
		     MEMC_CONNS + 1);
	itest_report_free(&rep[0]);
	free(bare.client_out);
	free(pre.client_out);
	free(bare_err);
	free(pre_err);
	rm_tree(dir);
}

Test(reliab_servers, memcached_sampled, .timeout = CASE_TIMEOUT)
{
	memc_case((const char *[]){ NULL });
}

Test(reliab_servers, memcached_full, .timeout = CASE_TIMEOUT)
{
	memc_case((const char *[]){ "--full", NULL });
}

/* memcached's 4 workers sit in epoll_wait for 3 s with no client: idle, not
 * busy (blocking in the kernel is not work), and no pool-undersized. */
Test(reliab_servers, memcached_idle_workers, .timeout = CASE_TIMEOUT)
{
	char dir[64], out[PATH_MAX], err[PATH_MAX], pattern[PATH_MAX], port[16];
	char *av[ITEST_MAX_ARGS];
	struct itest_run r;
	struct itest_report rep[ITEST_MAX_TRACES];
	json_t *groups, *g, *workers = NULL;
	size_t i;
	pid_t run;
	bool hung;

	need_root();
	need(MEMCACHED);
	fresh_dir(dir, sizeof(dir));
	snprintf(port, sizeof(port), "%d", itest_free_port());
	snprintf(out, sizeof(out), "%s/idle.out", dir);
	snprintf(err, sizeof(err), "%s/idle.err", dir);
	wrap(av, (const char *[]){ NULL }, dir, pattern, sizeof(pattern),
	     (char *[]){ MEMCACHED, "-u", "nobody", "-l", "127.0.0.1", "-p", port, "-U", "0", "-t",
			 "4", NULL });
	run = start(av, out, err);
	sleep(3);
	cr_assert(kill(program_of(run), SIGTERM) == 0, "kill: %s", strerror(errno));
	wait_within(run, DEADLINE, err, &hung);
	cr_assert(!hung, "HUNG: memcached did not end within %d s of SIGTERM; %s", DEADLINE,
		  itest_slurp(err, NULL));
	cr_assert_eq(reports(dir, "memcached", true, &r, rep), 1, "%d traces", r.ntraces);
	groups = itest_get(rep[0].json, "threads.groups");
	json_array_foreach(groups, i, g)
		if (itest_int(g, "threads") == 4)
			workers = g;
	cr_assert(workers, "no group of 4 worker threads");
	cr_expect_lt(json_real_value(itest_get(workers, "busy_fraction")), 0.05,
		     "idle workers busy %.3f", json_real_value(itest_get(workers, "busy_fraction")));
	cr_expect_gt(itest_int(workers, "idle_ns"), itest_int(workers, "lifetime_ns") * 9 / 10);
	cr_expect_null(itest_finding(rep[0].json, "pool-undersized"));
	itest_report_free(&rep[0]);
	rm_tree(dir);
}

/* ---- builds shared by the tests of one suite run ---- */

/* The suite's cache directory, locked against the other tests: close the
 * returned descriptor to unlock. */
static int cache_lock(char *dir, size_t len)
{
	const char *c = getenv(CACHE_ENV);
	char lock[PATH_MAX];
	int fd;

	cr_assert(c, "no cache directory: $%s unset (mkdtemp failed before the first test)",
		  CACHE_ENV);
	snprintf(dir, len, "%s", c);
	snprintf(lock, sizeof(lock), "%s/lock", c);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	cr_assert(fd >= 0, "open %s: %s", lock, strerror(errno));
	while (flock(fd, LOCK_EX) < 0)
		cr_assert(errno == EINTR, "flock %s: %s", lock, strerror(errno));
	return fd;
}

/* Run a build command, asserting it succeeds; its output in the message. */
static void build(char *const argv[], const char *what)
{
	char log[PATH_MAX], *text;
	int st;

	itest_tmpfile(log, sizeof(log));
	st = itest_spawn(argv, log, log);
	text = itest_slurp(log, NULL);
	unlink(log);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "building %s: %s: %s", what,
		  itest_wdesc(st), text);
	free(text);
}

/* The directory holding Work.class, compiled once per suite run. */
static void work_class(char *out, size_t len)
{
	char dir[256];
	int lock = cache_lock(dir, sizeof(dir));

	snprintf(out, len, "%s/java", dir);
	if (access(out, F_OK) != 0) {
		char tmp[PATH_MAX];

		snprintf(tmp, sizeof(tmp), "%s/java.tmp", dir);
		cr_assert(mkdir(tmp, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", tmp,
			  strerror(errno));
		build((char *[]){ JAVAC, "-d", tmp, WORK_SRC, NULL }, WORK_SRC);
		cr_assert(rename(tmp, out) == 0, "rename %s: %s", tmp, strerror(errno));
	}
	close(lock);
}

/* The cgo program, built once per suite run with its Go caches in the
 * suite's directory; C compiled as the targets are, frames and lines kept. */
static void cgo_program(char *out, size_t len)
{
	char dir[256], cache[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX];
	int lock = cache_lock(dir, sizeof(dir));

	snprintf(out, len, "%s/cgoprog", dir);
	if (access(out, X_OK) != 0) {
		snprintf(cache, sizeof(cache), "%s/gocache", dir);
		snprintf(path, sizeof(path), "%s/gopath", dir);
		snprintf(tmp, sizeof(tmp), "%s/cgoprog.tmp", dir);
		setenv("GOCACHE", cache, 1);
		setenv("GOPATH", path, 1);
		setenv("GO111MODULE", "off", 1);
		setenv("GOFLAGS", "", 1);
		setenv("CGO_ENABLED", "1", 1);
		setenv("CGO_CFLAGS",
		       "-O1 -g -fno-inline -fno-omit-frame-pointer -fno-optimize-sibling-calls", 1);
		build((char *[]){ GO, "build", "-o", tmp, CGO_SRC, NULL }, CGO_SRC);
		cr_assert(rename(tmp, out) == 0, "rename %s: %s", tmp, strerror(errno));
	}
	close(lock);
}

/*
 * argv bare, then under `prestanda run OPTS` (traces in dir), each within
 * DEADLINE: the run must end with the bare status, the bare stdout and,
 * apart from run's own lines, the bare stderr. want_out (or NULL) is the
 * stdout the bare run must print, want_st its exit status. Returns the
 * number of traces (reported into r and rep; see reports for complete).
 */
static int bare_then_run(const char *dir, const char *const *opts, char *const argv[],
			 const char *want_out, int want_st, const char *name, bool complete,
			 struct itest_run *r, struct itest_report *rep)
{
	char out[PATH_MAX], err[PATH_MAX], pattern[PATH_MAX];
	char *av[ITEST_MAX_ARGS], *bare_out, *bare_err, *pre_out, *pre_err, *prog_err;
	char b1[64], b2[64];
	int bare_st, pre_st;
	bool hung;

	snprintf(out, sizeof(out), "%s/bare.out", dir);
	snprintf(err, sizeof(err), "%s/bare.err", dir);
	bare_st = run_within(argv, out, err, DEADLINE, &hung);
	bare_out = itest_slurp(out, NULL);
	bare_err = itest_slurp(err, NULL);
	cr_assert(!hung, "bare %s did not end within %d s", argv[0], DEADLINE);
	cr_assert(WIFEXITED(bare_st) && WEXITSTATUS(bare_st) == want_st,
		  "bare %s: %s, want exit %d; stderr: %s", argv[0], itest_wdesc(bare_st), want_st,
		  bare_err);
	if (want_out)
		cr_assert_str_eq(bare_out, want_out, "bare %s printed \"%s\", want \"%s\"", argv[0],
				 bare_out, want_out);

	snprintf(out, sizeof(out), "%s/pre.out", dir);
	snprintf(err, sizeof(err), "%s/pre.err", dir);
	wrap(av, opts, dir, pattern, sizeof(pattern), argv);
	pre_st = run_within(av, out, err, DEADLINE, &hung);
	pre_out = itest_slurp(out, NULL);
	pre_err = itest_slurp(err, NULL);
	memset(r, 0, sizeof(*r));
	snprintf(r->dir, sizeof(r->dir), "%s", dir);
	itest_collect(r);
	cr_assert(!hung,
		  "HUNG: %s under prestanda run did not end within %d s (killed); bare it %s; "
		  "stdout so far: \"%s\"; traces: %s; stderr: %s",
		  argv[0], DEADLINE, itest_wdesc(bare_st), pre_out, rel_trace_sizes(r), pre_err);
	cr_expect(rel_same_status(bare_st, pre_st), "%s: bare %s, under prestanda run %s; %s",
		  argv[0], wdesc(bare_st, b1, sizeof(b1)), wdesc(pre_st, b2, sizeof(b2)), pre_err);
	cr_expect_str_eq(pre_out, bare_out, "%s: stdout \"%s\" preloaded, \"%s\" bare", argv[0],
			 pre_out, bare_out);
	prog_err = program_err(pre_err);
	cr_expect_str_eq(prog_err, bare_err, "%s: stderr \"%s\" preloaded, \"%s\" bare", argv[0],
			 prog_err, bare_err);
	free(prog_err);
	free(bare_out);
	free(bare_err);
	free(pre_out);
	free(pre_err);
	return reports(dir, name, complete, r, rep);
}

/* ---- the JVM: threads opening exactly K connections to its own listener ---- */

#define JVM_CONNS 60
#define JVM_THREADS 4

static void jvm_case(const char *const *opts)
{
	char dir[64], classes[PATH_MAX], port[16], k[16], t[16], ep[64], ep6[64], want[128];
	struct itest_run r;
	struct itest_report rep[ITEST_MAX_TRACES];
	json_t *j;

	need(JAVA);
	need(JAVAC);
	work_class(classes, sizeof(classes));
	fresh_dir(dir, sizeof(dir));
	snprintf(port, sizeof(port), "%d", itest_free_port());
	snprintf(k, sizeof(k), "%d", JVM_CONNS);
	snprintf(t, sizeof(t), "%d", JVM_THREADS);
	snprintf(want, sizeof(want), "threads %d connections %d echoed %d accepted %d\n",
		 JVM_THREADS, JVM_CONNS, JVM_CONNS, JVM_CONNS);
	cr_assert_eq(bare_then_run(dir, opts,
				   (char *[]){ JAVA, "-cp", classes, "Work", port, k, t, NULL },
				   want, 0, "java", true, &r, rep),
		     1, "%d traces, want 1: %s", r.ntraces, rel_trace_sizes(&r));
	j = rep[0].json;
	/* a Java socket is IPv6 with the IPv4 address mapped */
	snprintf(ep, sizeof(ep), "127.0.0.1:%s", port);
	snprintf(ep6, sizeof(ep6), "[::ffff:127.0.0.1]:%s", port);
	cr_expect_eq(ep_sum(j, "client", ep, ep6, "connects"), JVM_CONNS,
		     "connects to %s: %lld, Work made %d", ep,
		     ep_sum(j, "client", ep, ep6, "connects"), JVM_CONNS);
	cr_expect_eq(ep_sum(j, "client", ep, ep6, "connect_failures"), 0);
	cr_expect_eq(ep_sum(j, "server", ep, ep6, "connects"), JVM_CONNS,
		     "accepts at %s: %lld, Work made %d", ep, ep_sum(j, "server", ep, ep6, "connects"),
		     JVM_CONNS);
	cr_expect_gt(itest_int(j, "memory.alloc_calls"), 0);
	itest_report_free(&rep[0]);
	rm_tree(dir);
}

Test(reliab_servers, jvm_full, .timeout = 180)
{
	jvm_case((const char *[]){ "--full", NULL });
}

Test(reliab_servers, jvm_sampled, .timeout = 180)
{
	jvm_case((const char *[]){ NULL });
}

/* ---- Go with cgo: N mallocs at one C function, the process ended by exit_group ---- */

/* Line of the `LINE:name` marker in path. */
static int marker_line(const char *path, const char *name)
{
	char marker[128], line[1024];
	FILE *f = fopen(path, "r");
	int n = 0, found = 0;

	cr_assert(f, "cannot open %s: %s", path, strerror(errno));
	snprintf(marker, sizeof(marker), "LINE:%s", name);
	while (fgets(line, sizeof(line), f)) {
		char *m = strstr(line, marker);

		n++;
		if (m && !isalnum((unsigned char)m[strlen(marker)]) && m[strlen(marker)] != '_') {
			cr_assert_eq(found, 0, "marker %s twice in %s", marker, path);
			found = n;
		}
	}
	fclose(f);
	cr_assert(found, "no marker %s in %s", marker, path);
	return found;
}

/*
 * The cgo program in mode ("quick": returns from main at once; "long": 2 s
 * of goroutines, then os.Exit(3)) making n mallocs in srv_cgo_alloc over
 * calls of n / calls each: block i of a call is 16 + (i % 8) * 16 bytes,
 * every fourth (i % 4 == 0) kept live. Go ends the process with a raw
 * exit_group: no END record, so the trace reads as incomplete (docs/FORMAT.md,
 * the live file), but every event must be there.
 */
static void cgo_case(const char *mode, int n, int calls, int status)
{
	char dir[64], prog[PATH_MAX], arg[16], want[128];
	struct itest_run r;
	struct itest_report rep[ITEST_MAX_TRACES];
	long long bytes = 0, leaked = 0;
	json_t *s;

	need(GO);
	cgo_program(prog, sizeof(prog));
	fresh_dir(dir, sizeof(dir));
	for (int i = 0; i < n / calls; i++) {
		bytes += 16 + (i % 8) * 16;
		leaked += i % 4 == 0 ? 16 + (i % 8) * 16 : 0;
	}
	bytes *= calls;
	leaked *= calls;
	snprintf(arg, sizeof(arg), "%d", n);
	/* the program's own account, bare, agrees with ours */
	snprintf(want, sizeof(want), "mallocs %d bytes %lld\n", n, bytes);
	cr_assert_eq(bare_then_run(dir, (const char *[]){ "--full", NULL },
				   (char *[]){ prog, (char *)mode, arg, NULL }, want, status,
				   "cgoprog", false, &r, rep),
		     1, "%d traces, want 1: %s", r.ntraces, rel_trace_sizes(&r));
	cr_assert_eq(itest_nsites(rep[0].json, "srv_cgo_alloc"), 1,
		     "%d sites at srv_cgo_alloc, want 1 (%lld calls recorded in all): %s",
		     itest_nsites(rep[0].json, "srv_cgo_alloc"),
		     itest_int(rep[0].json, "memory.alloc_calls"), rel_trace_sizes(&r));
	s = itest_site(rep[0].json, "srv_cgo_alloc");
	cr_expect_eq(itest_int(s, "calls"), n, "srv_cgo_alloc: %lld calls recorded, it made %d",
		     itest_int(s, "calls"), n);
	cr_expect_eq(itest_int(s, "bytes"), bytes, "srv_cgo_alloc: %lld bytes recorded, want %lld",
		     itest_int(s, "bytes"), bytes);
	cr_expect_eq(itest_int(s, "leaked_bytes"), leaked,
		     "srv_cgo_alloc: %lld bytes leaked, want %lld", itest_int(s, "leaked_bytes"),
		     leaked);
	cr_expect_eq(itest_int(s, "line"), marker_line(CGO_SRC, "srv_cgo_alloc"));
	cr_expect(itest_has_suffix(itest_str(s, "file"), CGO_SRC), "srv_cgo_alloc: file %s",
		  itest_str(s, "file"));
	itest_report_free(&rep[0]);
	rm_tree(dir);
}

Test(reliab_servers, go_cgo_return_from_main, .timeout = 180)
{
	cgo_case("quick", 10000, 1, 0);
}

Test(reliab_servers, go_cgo_goroutines_os_exit, .timeout = 180)
{
	cgo_case("long", 8000, 80, 3);
}
