/* SPDX-License-Identifier: MIT */
/* Network against real servers from Debian's packages on loopback: PostgreSQL with pgbench, Redis with redis-benchmark, counts checked against strace. */
#include <arpa/inet.h>
#include <glob.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "itest.h"

static bool can_connect(int port)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok;

	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&in, sizeof(in)) == 0;
	close(fd);
	return ok;
}

/* The first path matching pattern, asserting there is one. */
static void find_bin(const char *pattern, char *out, size_t len)
{
	glob_t g;

	cr_assert(glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc > 0,
		  "%s not found: run scripts/install-deps.sh", pattern);
	snprintf(out, len, "%s", g.gl_pathv[g.gl_pathc - 1]);
	globfree(&g);
}

/* argv as the server's user: PostgreSQL refuses to run as root. */
static int spawn_as(const char *user, char **argv, const char *log)
{
	char *av[ITEST_MAX_ARGS];
	int n = 0;

	if (getuid() == 0) {
		av[n++] = "/usr/sbin/runuser";
		av[n++] = "-u";
		av[n++] = (char *)user;
		av[n++] = "--";
	}
	for (; *argv; argv++)
		av[n++] = *argv;
	av[n] = NULL;
	return itest_spawn(av, log, log);
}

/*
 * Connection attempts in a `strace -f -e trace=connect,close` log to this
 * port: every connect call, less the calls that only ask how a connect in
 * progress on the same fd is going (hiredis calls connect a second time;
 * strace -c counts both).
 */
static long strace_attempts(const char *log, int port, long *calls)
{
	char *text = itest_slurp(log, NULL), *line, *save = NULL, want[64];
	static char pending[256][1024]; /* pid % 256, fd < 1024 */
	long attempts = 0;

	cr_assert(text, "no strace log %s", log);
	memset(pending, 0, sizeof(pending));
	*calls = 0;
	snprintf(want, sizeof(want), "htons(%d)", port);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int pid, fd;
		char call[16];

		if (sscanf(line, "%d %15[a-z](%d", &pid, call, &fd) != 3 || fd < 0 || fd >= 1024)
			continue;
		pid &= 0xff;
		if (!strcmp(call, "close")) {
			pending[pid][fd] = 0;
			continue;
		}
		if (strcmp(call, "connect") || !strstr(line, want))
			continue;
		(*calls)++;
		if (strstr(line, "EINPROGRESS")) {
			attempts++;
			pending[pid][fd] = 1;
		} else if (pending[pid][fd]) {
			pending[pid][fd] = 0; /* the answer to a connect in progress */
		} else {
			attempts++;
		}
	}
	free(text);
	return attempts;
}

/* `strace ... prestanda run -o DIR/t.%p.trace -- argv`: the same run seen
 * by both. Returns the report of the one trace (owned by rep). */
static json_t *traced_run(const char *dir, char **argv, const char *strace_log,
			  struct itest_report *rep)
{
	char *av[ITEST_MAX_ARGS], pattern[PATH_MAX], logp[PATH_MAX];
	int n = 0, st;
	struct itest_run r;

	memset(&r, 0, sizeof(r));
	snprintf(r.dir, sizeof(r.dir), "%s", dir);
	snprintf(pattern, sizeof(pattern), "%s/t.%%p.trace", dir);
	snprintf(logp, sizeof(logp), "%s/run.log", dir);
	av[n++] = "/usr/bin/strace";
	av[n++] = "-f";
	av[n++] = "-e";
	av[n++] = "trace=connect,close";
	av[n++] = "-o";
	av[n++] = (char *)strace_log;
	n = itest_argv_run(av, n, NULL, pattern);
	av[itest_argv_add(av, n, (const char *const *)argv)] = NULL;
	/* earlier traces of this directory are gone: one run, one trace */
	itest_collect(&r);
	for (int i = 0; i < r.ntraces; i++)
		unlink(r.traces[i]);
#ifdef __SANITIZE_ADDRESS__
	/* make check-asan: LeakSanitizer cannot run under strace's ptrace */
	setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
#endif
	st = itest_spawn(av, logp, logp);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: %s; log: %s", av[11],
		  itest_wdesc(st), itest_slurp(logp, NULL));
	itest_collect(&r);
	cr_assert_eq(r.ntraces, 1, "expected 1 trace in %s, found %d", dir, r.ntraces);
	return itest_report_ok(rep, r.traces[0]);
}

static json_t *client_endpoint(json_t *j, int port)
{
	json_t *eps = itest_get(j, "network.endpoints"), *e;
	char name[64];
	size_t i;

	snprintf(name, sizeof(name), "127.0.0.1:%d", port);
	json_array_foreach(eps, i, e)
		if (!strcmp(itest_str(e, "endpoint"), name) && !strcmp(itest_str(e, "role"), "client"))
			return e;
	cr_assert_fail("no client endpoint %s in %s", name, json_dumps(eps, 0));
	return NULL;
}

static void rm_rf(const char *dir)
{
	char *av[] = { "/bin/rm", "-rf", (char *)dir, NULL };

	itest_spawn(av, NULL, NULL);
}

Test(net_servers, postgresql_pgbench_churn_and_pooled, .timeout = 180)
{
	char dir[] = "/tmp/pst-pg.XXXXXX", data[PATH_MAX], log[PATH_MAX], opts[PATH_MAX + 128];
	char initdb[PATH_MAX], pg_ctl[PATH_MAX], pgbench[PATH_MAX], portstr[16], slog[PATH_MAX];
	struct itest_report rep;
	long calls, attempts;
	json_t *j, *e;
	int port = itest_free_port(), st;

	find_bin("/usr/lib/postgresql/*/bin/initdb", initdb, sizeof(initdb));
	find_bin("/usr/lib/postgresql/*/bin/pg_ctl", pg_ctl, sizeof(pg_ctl));
	find_bin("/usr/lib/postgresql/*/bin/pgbench", pgbench, sizeof(pgbench));
	cr_assert(mkdtemp(dir));
	chmod(dir, 0777);
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(log, sizeof(log), "%s/server.log", dir);
	snprintf(slog, sizeof(slog), "%s/strace.log", dir);
	snprintf(portstr, sizeof(portstr), "%d", port);
	snprintf(opts, sizeof(opts), "-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off",
		 port, dir);
	st = spawn_as("postgres", (char *[]){ initdb, "-D", data, "-A", "trust", "-U", "postgres", NULL },
		      NULL);
	cr_assert_eq(st, 0, "initdb: %s", itest_wdesc(st));
	st = spawn_as("postgres",
		      (char *[]){ pg_ctl, "-D", data, "-o", opts, "-w", "-l", log, "start", NULL },
		      NULL);
	cr_assert_eq(st, 0, "pg_ctl start: %s; %s", itest_wdesc(st), itest_slurp(log, NULL));
	st = itest_spawn((char *[]){ pgbench, "-i", "-q", "-h", "127.0.0.1", "-p", portstr, "-U",
				     "postgres", "postgres", NULL },
			 NULL, NULL);
	cr_expect_eq(st, 0, "pgbench -i: %s", itest_wdesc(st));

	/* a new connection per transaction: libpq connects non-blocking */
	j = traced_run(dir,
		       (char *[]){ pgbench, "-C", "-c", "1", "-j", "1", "-t", "50", "-S", "-h",
				   "127.0.0.1", "-p", portstr, "-U", "postgres", "postgres", NULL },
		       slog, &rep);
	e = client_endpoint(j, port);
	attempts = strace_attempts(slog, port, &calls);
	cr_expect_eq(calls, attempts, "pgbench re-called connect: %ld calls, %ld attempts", calls,
		     attempts);
	cr_expect_eq(itest_int(e, "connects"), calls, "connects %lld, strace %ld",
		     itest_int(e, "connects"), calls);
	cr_expect_geq(calls, 51);
	cr_expect_eq(itest_int(e, "connect_failures"), 0, "EINPROGRESS counted as a failure");
	cr_expect_not_null(itest_finding(j, "connection-churn"), "no churn finding for pgbench -C");
	itest_report_free(&rep);

	/* two kept connections */
	j = traced_run(dir,
		       (char *[]){ pgbench, "-c", "2", "-j", "1", "-t", "50", "-S", "-h",
				   "127.0.0.1", "-p", portstr, "-U", "postgres", "postgres", NULL },
		       slog, &rep);
	e = client_endpoint(j, port);
	attempts = strace_attempts(slog, port, &calls);
	cr_expect_eq(itest_int(e, "connects"), attempts);
	cr_expect_eq(itest_int(e, "concurrent.max"), 2);
	cr_expect_null(itest_finding(j, "connection-churn"), "churn reported for pooled pgbench");
	itest_report_free(&rep);

	spawn_as("postgres", (char *[]){ pg_ctl, "-D", data, "-m", "immediate", "-w", "stop", NULL },
		 NULL);
	rm_rf(dir);
}

Test(net_servers, redis_benchmark_reconnect_and_keepalive, .timeout = 120)
{
	char dir[] = "/tmp/pst-redis.XXXXXX", portstr[16], slog[PATH_MAX], log[PATH_MAX];
	struct itest_report rep;
	long calls, attempts;
	json_t *j, *e;
	int port = itest_free_port();
	pid_t srv;

	cr_assert(access("/usr/bin/redis-server", X_OK) == 0 &&
		  access("/usr/bin/redis-benchmark", X_OK) == 0,
		  "redis-server/redis-benchmark not found: run scripts/install-deps.sh");
	cr_assert(mkdtemp(dir));
	snprintf(portstr, sizeof(portstr), "%d", port);
	snprintf(slog, sizeof(slog), "%s/strace.log", dir);
	snprintf(log, sizeof(log), "%s/server.log", dir);
	srv = fork();
	cr_assert(srv >= 0);
	if (srv == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(fd, 1);
		dup2(fd, 2);
		execl("/usr/bin/redis-server", "redis-server", "--port", portstr, "--bind",
		      "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500 && !can_connect(port); i++)
		usleep(10000);
	cr_assert(can_connect(port), "redis-server did not start: %s", itest_slurp(log, NULL));

	/* -k 0: a new connection per request */
	j = traced_run(dir,
		       (char *[]){ "/usr/bin/redis-benchmark", "-p", portstr, "-c", "1", "-n", "300",
				   "-k", "0", "-t", "ping_inline", "-q", NULL },
		       slog, &rep);
	e = client_endpoint(j, port);
	attempts = strace_attempts(slog, port, &calls);
	cr_expect_eq(itest_int(e, "connects"), attempts, "connects %lld, strace attempts %ld (%ld calls)",
		     itest_int(e, "connects"), attempts, calls);
	cr_expect_geq(attempts, 300);
	cr_expect_eq(itest_int(e, "connect_failures"), 0);
	cr_expect_not_null(itest_finding(j, "connection-churn"));
	itest_report_free(&rep);

	/* -k 1: four kept connections */
	j = traced_run(dir,
		       (char *[]){ "/usr/bin/redis-benchmark", "-p", portstr, "-c", "4", "-n", "2000",
				   "-k", "1", "-t", "ping_inline", "-q", NULL },
		       slog, &rep);
	e = client_endpoint(j, port);
	attempts = strace_attempts(slog, port, &calls);
	cr_expect_eq(itest_int(e, "connects"), attempts);
	cr_expect_eq(itest_int(e, "concurrent.max"), 4);
	cr_expect_geq(itest_int(e, "requests"), 2000);
	cr_expect_null(itest_finding(j, "connection-churn"));
	itest_report_free(&rep);

	kill(srv, SIGTERM);
	waitpid(srv, NULL, 0);
	rm_rf(dir);
}
