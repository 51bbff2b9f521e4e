/* SPDX-License-Identifier: MIT */
/* Transparency on a real server: redis-server bare and under prestanda run, loaded by redis-benchmark, identical results. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "reliab.h"

/* The output of redis-cli -p port ARGS..., trailing newline dropped. */
static char *cli(const char *port, char *const *args)
{
	char *argv[16] = { "/usr/bin/redis-cli", "-p", (char *)port }, *s;
	int n = 3, st;

	for (; *args; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	st = itest_spawn_out(argv, &s);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "redis-cli: %s", itest_wdesc(st));
	s[strcspn(s, "\r\n")] = 0;
	return s;
}

/* The figures a benchmark leaves in the server, as one string. */
struct outcome {
	char dbsize[32], llen[32], counter[32], sets[64];
};

/* redis-server on port, storing in dir (under prestanda run, traces in dir,
 * when preload), its output to log; returns its pid. */
static pid_t start_server(bool preload, const char *port, char *dir, const char *log)
{
	char pattern[PATH_MAX], *argv[ITEST_MAX_ARGS];
	int n = 0;
	pid_t srv;

	snprintf(pattern, sizeof(pattern), "%s/t.%%p.trace", dir);
	if (preload)
		n = itest_argv_run(argv, n, NULL, pattern);
	n = itest_argv_add(argv, n, (const char *const[]){ "/usr/bin/redis-server", "--port", port,
							   "--bind", "127.0.0.1", "--save", "",
							   "--appendonly", "no", "--dir", dir, NULL });
	argv[n] = NULL;
	srv = fork();
	cr_assert(srv >= 0);
	if (srv == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	return srv;
}

/* Until the server on port answers PING (5 s at most). */
static void wait_pong(char *port)
{
	for (int i = 0; i < 500; i++) {
		char *pong = NULL;
		char *ping[] = { "/usr/bin/redis-cli", "-p", port, "ping", NULL };
		bool up;

		itest_spawn_out(ping, &pong);
		up = pong && !strncmp(pong, "PONG", 4);
		free(pong);
		if (up)
			break;
		usleep(10000);
	}
}

/* The output of redis-cli -p port ARGS... into buf. */
static void cli_into(const char *port, char *const *args, char *buf, size_t len)
{
	char *s = cli(port, args);

	snprintf(buf, len, "%s", s);
	free(s);
}

/* The figures the benchmark left in the server on port. */
static void read_outcome(char *port, struct outcome *o)
{
	char *all, *at;
	char *info[] = { "/usr/bin/redis-cli", "-p", port, "info", "commandstats", NULL };

	cli_into(port, (char *[]){ "dbsize", NULL }, o->dbsize, sizeof(o->dbsize));
	cli_into(port, (char *[]){ "llen", "mylist", NULL }, o->llen, sizeof(o->llen));
	cli_into(port, (char *[]){ "get", "counter:__rand_int__", NULL }, o->counter,
		 sizeof(o->counter));
	itest_spawn_out(info, &all);
	at = strstr(all, "cmdstat_set:calls=");
	cr_assert(at, "no SET in INFO commandstats: %s", all);
	snprintf(o->sets, sizeof(o->sets), "%.*s", (int)strcspn(at, ","), at);
	free(all);
}

/* Start redis-server (preloaded or not), run the benchmark, read the outcome. */
static void bench(bool preload, struct outcome *o, char *dir)
{
	char port[16], log[PATH_MAX];
	char *b[] = { "/usr/bin/redis-benchmark", "-p", port, "-c", "8", "-n", "20000",
		      "-t", "set,incr,lpush", "-q", NULL };
	char *down[] = { "/usr/bin/redis-cli", "-p", port, "shutdown", "nosave", NULL };
	int st;
	pid_t srv;

	snprintf(port, sizeof(port), "%d", itest_free_port());
	snprintf(log, sizeof(log), "%s/server-%d.log", dir, preload);
	srv = start_server(preload, port, dir, log);
	wait_pong(port);
	st = itest_spawn(b, NULL, NULL);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "redis-benchmark: %s", itest_wdesc(st));
	read_outcome(port, o);
	itest_spawn(down, NULL, NULL);
	while (waitpid(srv, &st, 0) < 0 && errno == EINTR)
		;
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "redis-server (preload %d): %s", preload,
		  itest_wdesc(st));
}

Test(reliab_redis, benchmark_results_identical, .timeout = 180)
{
	char dir[] = "/tmp/pst-itest-redis.XXXXXX";
	struct outcome bare, pre;
	struct itest_run r = { 0 };
	struct itest_report rep;

	cr_assert(access("/usr/bin/redis-server", X_OK) == 0 &&
		  access("/usr/bin/redis-benchmark", X_OK) == 0,
		  "redis-server/redis-benchmark not found: run scripts/install-deps.sh");
	cr_assert(mkdtemp(dir));
	bench(false, &bare, dir);
	bench(true, &pre, dir);
	cr_expect_str_eq(bare.dbsize, "3");
	cr_expect_str_eq(bare.llen, "20000");
	cr_expect_str_eq(bare.counter, "20000");
	cr_expect_str_eq(bare.sets, "cmdstat_set:calls=20000");
	cr_expect_str_eq(pre.dbsize, bare.dbsize);
	cr_expect_str_eq(pre.llen, bare.llen);
	cr_expect_str_eq(pre.counter, bare.counter);
	cr_expect_str_eq(pre.sets, bare.sets);
	/* and the server's trace is whole */
	strcpy(r.dir, dir);
	itest_collect(&r);
	cr_assert_eq(r.ntraces, 1, "%d traces", r.ntraces);
	itest_report_ok(&rep, r.traces[0]);
	cr_expect(itest_bool(rep.json, "process.complete"));
	cr_expect_gt(itest_int(rep.json, "memory.alloc_calls"), 3 * 20000);
	itest_report_free(&rep);
	itest_cleanup(&r);
}
