/* SPDX-License-Identifier: MIT */
/* Budget files: both shapes, every kind of limit, the errors, judging values against limits, and every numeric setting's range. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "units.h"

static const char *const totals[] = { "alloc_calls", "peak_heap_bytes", NULL };
static const char *const site_metrics[] = { "calls", "bytes", NULL };

static int parse(const char *text, struct pst_budgets *b, char *err, size_t len)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	int r;

	cr_assert(j, "test JSON does not parse: %s", je.text);
	r = pst_budgets_parse(j, totals, site_metrics, b, err, len);
	json_decref(j);
	return r;
}

static const char *fmt_bytes(double v, char *buf, size_t len)
{
	return pst_fmt_count(v, buf, len);
}

Test(config, whole_config_shape)
{
	struct pst_budgets b;
	char err[256] = "";
	const struct pst_budget_limit *l;

	cr_assert_eq(parse("{\"performance\": {\"monitoring\": {\"enabled\": true},"
			   " \"budgets\": {\"peak_heap_bytes\": 268435456}}}",
			   &b, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(b.n, 1);
	l = pst_budgets_find(&b, "peak_heap_bytes", NULL);
	cr_assert(l);
	cr_expect(l->has_max && !l->has_increase && !l->has_increase_pct);
	cr_expect_eq(l->max, 268435456.0);
	cr_expect_null(pst_budgets_find(&b, "alloc_calls", NULL));
	cr_expect_null(pst_budgets_find(&b, "peak_heap_bytes", "main"));
	pst_budgets_free(&b);
}

Test(config, budgets_object_alone)
{
	struct pst_budgets b;
	char err[256] = "";
	const struct pst_budget_limit *l;
	const struct pst_noise_override *nz;

	cr_assert_eq(parse("{\"alloc_calls\": {\"max\": 1000, \"max_increase\": 10, \"max_increase_pct\": 2.5},"
			   " \"default\": {\"max_increase_pct\": 10},"
			   " \"sites\": {\"parse_request\": {\"calls\": 300, \"bytes\": {\"max_increase_pct\": 0}}},"
			   " \"noise\": {\"peak_heap_bytes\": {\"rel_pct\": 2, \"abs\": 65536}}}",
			   &b, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(b.n, 3);
	l = pst_budgets_find(&b, "alloc_calls", NULL);
	cr_assert(l);
	cr_expect(l->has_max && l->has_increase && l->has_increase_pct);
	cr_expect_eq(l->max, 1000.0);
	cr_expect_eq(l->max_increase, 10.0);
	cr_expect_eq(l->max_increase_pct, 2.5);
	/* Not named: the default. */
	l = pst_budgets_find(&b, "peak_heap_bytes", NULL);
	cr_assert(l);
	cr_expect(!l->has_max && l->has_increase_pct && l->max_increase_pct == 10.0);
	l = pst_budgets_find(&b, "calls", "parse_request");
	cr_assert(l);
	cr_expect(l->has_max && l->max == 300.0);
	l = pst_budgets_find(&b, "bytes", "parse_request");
	cr_assert(l);
	cr_expect(l->has_increase_pct && l->max_increase_pct == 0.0 && !l->has_max);
	/* The default is for the program's metrics, not sites. */
	cr_expect_null(pst_budgets_find(&b, "calls", "other"));
	nz = pst_budgets_noise(&b, "peak_heap_bytes");
	cr_assert(nz);
	cr_expect(nz->has_rel && nz->has_abs);
	cr_expect_float_eq(nz->rel, 0.02, 1e-12);
	cr_expect_eq(nz->abs, 65536.0);
	cr_expect_null(pst_budgets_noise(&b, "alloc_calls"));
	pst_budgets_free(&b);
}

/* Arrays, not pointers: parameters are copied into the test's own process. */
struct bad {
	char json[96];
	char msg[128];
};

ParameterizedTestParameters(config, rejects)
{
	static struct bad v[] = {
		{ "[]", "budget: the file is not a JSON object" },
		{ "{\"performance\": 3}", "budget: \"performance\" is not an object" },
		{ "{\"performance\": {\"pools\": {}}}", "budget: no \"performance.budgets\" object in the file" },
		{ "{\"peak_heap\": 1}", "budget: unknown metric 'peak_heap'" },
		{ "{\"alloc_calls\": -1}", "budget alloc_calls: -1 is out of range (0 to 1e+18)" },
		{ "{\"alloc_calls\": 1e26}", "budget alloc_calls: 1e26 is out of range (0 to 1e+18)" },
		{ "{\"alloc_calls\": \"10%\"}",
		  "budget alloc_calls: expected a number or an object with max, max_increase, max_increase_pct" },
		{ "{\"alloc_calls\": {\"max_pct\": 1}}",
		  "budget alloc_calls: unknown key 'max_pct' (max, max_increase, max_increase_pct)" },
		{ "{\"alloc_calls\": {}}", "budget alloc_calls: an empty limit" },
		{ "{\"alloc_calls\": {\"max\": true}}",
		  "budget alloc_calls.max: true is not a number (0 to 1e+18)" },
		{ "{\"alloc_calls\": {\"max_increase_pct\": 2e6}}",
		  "budget alloc_calls.max_increase_pct: 2000000.0 is out of range (0 to 1000000)" },
		{ "{\"noise\": {\"alloc_calls\": {\"rel_pct\": -0.5}}}",
		  "budget noise.alloc_calls.rel_pct: -0.5 is out of range (0 to 1000000)" },
		{ "{\"sites\": {\"f\": {\"leaks\": 1}}}", "budget sites.f.leaks: unknown site metric 'leaks'" },
		{ "{\"sites\": {\"f\": 1}}", "budget sites.f: expected an object of metrics" },
		{ "{\"noise\": {\"alloc_calls\": {\"pct\": 1}}}",
		  "budget noise.alloc_calls: unknown key 'pct' (rel_pct, abs)" },
	};

	return cr_make_param_array(struct bad, v, sizeof(v) / sizeof(*v));
}

ParameterizedTest(struct bad *p, config, rejects)
{
	struct pst_budgets b;
	char err[256] = "";

	cr_assert_eq(parse(p->json, &b, err, sizeof(err)), -1, "accepted %s", p->json);
	cr_expect_str_eq(err, p->msg);
	cr_expect_eq(b.n, 0);
	cr_expect_null(b.v);
}

Test(config, any_name_without_lists)
{
	struct pst_budgets b;
	char err[256] = "";
	json_t *j = json_loads("{\"connects\": 5, \"sites\": {\"f\": {\"lock_wait_ns\": 9}}}", 0, NULL);

	cr_assert_eq(pst_budgets_parse(j, NULL, NULL, &b, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(b.n, 2);
	cr_expect(pst_budgets_find(&b, "lock_wait_ns", "f"));
	json_decref(j);
	pst_budgets_free(&b);
}

Test(config, load_errors)
{
	struct pst_budgets b;
	char err[512], path[] = "/tmp/pst-config.XXXXXX";
	int fd = mkstemp(path);

	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, "{\"alloc_calls\": 1,}", 19), 19);
	close(fd);
	cr_expect_eq(pst_budgets_load(path, totals, site_metrics, &b, err, sizeof(err)), -1);
	cr_expect(strstr(err, "not valid JSON"), "%s", err);
	cr_expect(!strncmp(err, path, strlen(path)), "%s", err);
	unlink(path);
	cr_expect_eq(pst_budgets_load(path, totals, site_metrics, &b, err, sizeof(err)), -1);
	cr_expect(strstr(err, "cannot open: No such file or directory"), "%s", err);
}

Test(config, check_limits)
{
	struct pst_budget_limit max = { .has_max = true, .max = 4500 };
	struct pst_budget_limit inc = { .has_increase = true, .max_increase = 100 };
	struct pst_budget_limit pct = { .has_increase_pct = true, .max_increase_pct = 50 };
	char why[256] = "";

	cr_expect(pst_budget_check(&max, "peak", 0, 4500, fmt_bytes, why, sizeof(why)));
	cr_expect(!pst_budget_check(&max, "peak", 0, 4501, fmt_bytes, why, sizeof(why)));
	cr_expect_str_eq(why, "peak is 4,501, over the limit of 4,500");
	cr_expect(pst_budget_check(&inc, "calls", 201, 301, fmt_bytes, why, sizeof(why)));
	cr_expect(!pst_budget_check(&inc, "calls", 201, 302, fmt_bytes, why, sizeof(why)));
	cr_expect_str_eq(why, "calls grew by 101 (201 to 302), over the allowed increase of 100");
	cr_expect(pst_budget_check(&pct, "calls", 200, 300, fmt_bytes, why, sizeof(why)));
	cr_expect(!pst_budget_check(&pct, "calls", 200, 301, fmt_bytes, why, sizeof(why)));
	cr_expect_str_eq(why, "calls grew by 50.5% (200 to 301), over the allowed increase of 50%");
	cr_expect(!pst_budget_check(&pct, "leaks", 0, 10, fmt_bytes, why, sizeof(why)));
	cr_expect_str_eq(why, "leaks grew from 0 to 10, over the allowed increase of 50%");
	/* Decreases are always within. */
	cr_expect(pst_budget_check(&pct, "calls", 300, 10, fmt_bytes, why, sizeof(why)));
}

/* The whole file: monitoring, pools and budgets from one parse. */
static int parse_settings(const char *text, struct pst_settings *s, char *err, size_t len)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	int r;

	cr_assert(j, "test JSON does not parse: %s", je.text);
	r = pst_settings_parse(j, totals, site_metrics, s, err, len);
	json_decref(j);
	return r;
}

Test(config, settings_of_the_design_example)
{
	struct pst_settings s;
	char err[256] = "";

	cr_assert_eq(parse_settings("{\"performance\": {\"monitoring\": {\"enabled\": true,"
				    " \"sample_rate\": 0.1, \"metrics_interval\": 60},"
				    " \"pools\": {\"database\": {\"min_size\": 5, \"max_size\": 20},"
				    " \"http\": {\"min_size\": 10, \"max_size\": 100}},"
				    " \"budgets\": {\"peak_heap_bytes\": 268435456, \"rss_bytes\": 1e9}}}",
				    &s, err, sizeof(err)),
		     0, "%s", err);
	cr_expect(s.mon.enabled);
	cr_expect_float_eq(s.mon.sample_rate, 0.1, 1e-12);
	cr_expect_float_eq(s.mon.metrics_interval, 60, 1e-12);
	cr_assert_eq(s.pools.n, 2);
	cr_expect_str_eq(s.pools.v[0].name, "database");
	cr_expect_eq(s.pools.v[0].min_size, 5);
	cr_expect_eq(s.pools.v[1].max_size, 100);
	cr_assert(s.has_budgets);
	cr_expect_float_eq(pst_budgets_find(&s.budgets, "peak_heap_bytes", NULL)->max, 268435456, 1);
	/* a runtime-only metric is accepted next to diff's own */
	cr_expect_float_eq(pst_budgets_find(&s.budgets, "rss_bytes", NULL)->max, 1e9, 1);
	pst_settings_free(&s);
}

Test(config, settings_defaults_and_disabled)
{
	struct pst_settings s;
	char err[256] = "";

	cr_assert_eq(parse_settings("{\"performance\": {}}", &s, err, sizeof(err)), 0, "%s", err);
	cr_expect(s.mon.enabled);
	cr_expect_float_eq(s.mon.sample_rate, 1, 1e-12);
	cr_expect_eq(s.pools.n, 0);
	cr_expect_not(s.has_budgets);
	pst_settings_free(&s);
	cr_assert_eq(parse_settings("{\"performance\": {\"monitoring\": {\"enabled\": false}}}", &s,
				    err, sizeof(err)),
		     0, "%s", err);
	cr_expect_not(s.mon.enabled);
	pst_settings_free(&s);
}

struct bad_settings {
	char text[112];
	char err[112];
};

ParameterizedTestParameters(config, settings_errors)
{
	static struct bad_settings v[] = {
		{ "{\"monitoring\": {}}", "config: no \"performance\" object" },
		{ "{\"performance\": {\"monitoring\": {\"enabled\": 1}}}",
		  "monitoring.enabled must be true or false" },
		{ "{\"performance\": {\"monitoring\": {\"sample_rate\": 1.5}}}",
		  "monitoring.sample_rate: 1.5 is out of range (above 0, at most 1)" },
		{ "{\"performance\": {\"monitoring\": {\"sample_rate\": 0}}}",
		  "monitoring.sample_rate: 0 is out of range (above 0, at most 1)" },
		{ "{\"performance\": {\"monitoring\": {\"metrics_interval\": 0}}}",
		  "monitoring.metrics_interval: 0 is out of range (0.001 to 86400 seconds)" },
		/* 1e26 s once became 1 ms: converted to ms it overflowed */
		{ "{\"performance\": {\"monitoring\": {\"metrics_interval\": 1e26}}}",
		  "monitoring.metrics_interval: 1e26 is out of range (0.001 to 86400 seconds)" },
		{ "{\"performance\": {\"monitoring\": {\"metrics_interval\": -1}}}",
		  "monitoring.metrics_interval: -1 is out of range (0.001 to 86400 seconds)" },
		{ "{\"performance\": {\"monitoring\": {\"metrics_interval\": 86401}}}",
		  "monitoring.metrics_interval: 86401 is out of range (0.001 to 86400 seconds)" },
		{ "{\"performance\": {\"monitoring\": {\"metrics_interval\": \"NaN\"}}}",
		  "monitoring.metrics_interval: \"NaN\" is not a number (0.001 to 86400 seconds)" },
		{ "{\"performance\": {\"pools\": {\"db\": {\"min_size\": \"5\"}}}}",
		  "pools.db.min_size: \"5\" is not a number (0 to 1000000)" },
		{ "{\"performance\": {\"pools\": {\"db\": {\"min_size\": -1}}}}",
		  "pools.db.min_size: -1 is out of range (0 to 1000000)" },
		{ "{\"performance\": {\"pools\": {\"db\": {\"max_size\": 1e26}}}}",
		  "pools.db.max_size: 1e26 is out of range (0 to 1000000)" },
		{ "{\"performance\": {\"pools\": {\"db\": {\"max_size\": 2.5}}}}",
		  "pools.db.max_size: 2.5 is not a whole number (0 to 1000000)" },
		{ "{\"performance\": {\"pools\": {\"db\": {\"min_size\": 20, \"max_size\": 10}}}}",
		  "pools.db: min_size 20 is above max_size 10" },
		{ "{\"performance\": {\"pools\": {\"db\": {\"endpoint\": 5}}}}",
		  "pools.db needs integer min_size/max_size and an optional endpoint string" },
		{ "{\"performance\": {\"budgets\": {\"rss\": 1}}}", "budget: unknown metric 'rss'" },
		{ "{\"performance\": {\"caching\": 5}}", "performance.caching is not an object" },
		{ "{\"performance\": {\"caching\": {\"default_ttl\": 0}}}",
		  "caching.default_ttl: 0 is out of range (above 0, at most 31536000 seconds)" },
		{ "{\"performance\": {\"caching\": {\"max_memory\": 1.5}}}",
		  "caching.max_memory: 1.5 is not a whole number (above 0, at most 1e+15 bytes)" },
	};
	return cr_make_param_array(struct bad_settings, v, sizeof(v) / sizeof(v[0]));
}

ParameterizedTest(struct bad_settings *c, config, settings_errors)
{
	struct pst_settings s;
	char err[256] = "";

	cr_expect_eq(parse_settings(c->text, &s, err, sizeof(err)), -1);
	cr_expect_str_eq(err, c->err);
}

/* The edges of each range are in it; a value the file wrote as a real but
 * whole is a pool size. */
Test(config, settings_at_the_edges_of_their_ranges)
{
	struct pst_settings s;
	char err[256] = "";

	cr_assert_eq(parse_settings("{\"performance\": {\"monitoring\": {\"sample_rate\": 1,"
				    " \"metrics_interval\": 0.001},"
				    " \"pools\": {\"db\": {\"min_size\": 0, \"max_size\": 1e6}}}}",
				    &s, err, sizeof(err)),
		     0, "%s", err);
	cr_expect_float_eq(s.mon.sample_rate, 1, 1e-12);
	cr_expect_float_eq(s.mon.metrics_interval, 0.001, 1e-12);
	cr_expect_eq(s.pools.v[0].min_size, 0);
	cr_expect_eq(s.pools.v[0].max_size, 1000000);
	pst_settings_free(&s);
	cr_assert_eq(parse_settings("{\"performance\": {\"monitoring\": {\"metrics_interval\": 86400},"
				    " \"budgets\": {\"alloc_calls\": 1e18}}}",
				    &s, err, sizeof(err)),
		     0, "%s", err);
	cr_expect_float_eq(s.mon.metrics_interval, 86400, 1e-9);
	cr_expect_float_eq(pst_budgets_find(&s.budgets, "alloc_calls", NULL)->max, 1e18, 1);
	pst_settings_free(&s);
	cr_assert_eq(parse_settings("{\"performance\": {\"caching\": {\"default_ttl\": 0.5,"
				    " \"max_memory\": 1048576}}}",
				    &s, err, sizeof(err)),
		     0, "%s", err);
	cr_expect_float_eq(s.caching.default_ttl, 0.5, 1e-12);
	cr_expect_float_eq(s.caching.max_memory, 1048576, 1e-6);
	pst_settings_free(&s);
}

/* NaN is no JSON: the file is refused with where it stands. */
Test(config, nan_in_a_file_is_refused)
{
	char path[] = "/tmp/pst-config-XXXXXX", want[256];
	const char *text = "{\"performance\": {\"monitoring\": {\"metrics_interval\": NaN}}}";
	struct pst_settings s;
	char err[512] = "";
	int fd = mkstemp(path);

	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	cr_expect_eq(pst_settings_load(path, NULL, NULL, &s, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:1:55: not valid JSON: invalid token near 'NaN'", path);
	cr_expect_str_eq(err, want);
	unlink(path);
}

/* Run the program in argv with env (and PATH) and the given config file
 * text; its stderr into buf. The config's path in path. */
static void run_with_config(char *const *argv, const char *env0, const char *text, char *path,
			    char *buf, size_t len)
{
	char trace[] = "/tmp/pst-config-trace-XXXXXX", errp[] = "/tmp/pst-config-err-XXXXXX";
	char env_cfg[64], env_out[80];
	char *envp[] = { env_cfg, env_out, "PATH=/usr/bin:/bin", (char *)env0, NULL };
	int fd = mkstemp(path), efd = mkstemp(errp), tfd = mkstemp(trace), st;
	ssize_t n;
	pid_t pid;

	cr_assert(fd >= 0 && efd >= 0 && tfd >= 0);
	close(tfd);
	unlink(trace);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	snprintf(env_cfg, sizeof(env_cfg), "PRESTANDA_CONFIG=%s", path);
	snprintf(env_out, sizeof(env_out), "PRESTANDA_OUTPUT=%s", trace);
	pid = fork();
	cr_assert(pid >= 0);
	if (!pid) {
		dup2(efd, 2);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	n = pread(efd, buf, len - 1, 0);
	cr_assert(n >= 0);
	buf[n] = 0;
	if (env0)
		cr_expect_eq(access(trace, F_OK), -1, "a trace was written; stderr: %s", buf);
	close(efd);
	unlink(errp);
	unlink(trace);
}

/* run refuses the same file and names why (1e26 s once became one
 * snapshot a millisecond); the program runs with the defaults. */
Test(config, run_refuses_an_overflowing_interval, .timeout = 60)
{
	char path[] = "/tmp/pst-config-XXXXXX", want[256], buf[4096];
	const char *text = "{\"performance\": {\"monitoring\": {\"metrics_interval\": 1e26}}}";
	char dir[] = "/tmp/pst-config-run-XXXXXX", out[64];
	char *argv[] = { PST_BUILD_DIR "/prestanda", "run", "-o", out, "--", "/bin/true", NULL };

	cr_assert(mkdtemp(dir));
	snprintf(out, sizeof(out), "%s/t.trace", dir);
	run_with_config(argv, NULL, text, path, buf, sizeof(buf));
	unlink(out);
	rmdir(dir);
	snprintf(want, sizeof(want),
		 "prestanda: PRESTANDA_CONFIG ignored: %s: monitoring.metrics_interval: 1e26 is out of "
		 "range (0.001 to 86400 seconds)\n",
		 path);
	cr_expect(strstr(buf, want), "stderr: %s", buf);
	unlink(path);
}

/* The preload reads no JSON: a PRESTANDA_CONFIG set by hand beside
 * LD_PRELOAD is said to be run's, once, and nothing is recorded. */
Test(config, preload_sends_a_config_by_hand_to_run, .timeout = 60)
{
	char path[] = "/tmp/pst-config-XXXXXX", want[256], buf[4096];
	const char *text = "{\"performance\": {\"monitoring\": {\"metrics_interval\": 2}}}";
	char *argv[] = { "/bin/true", NULL };

	run_with_config(argv, "LD_PRELOAD=" PST_BUILD_DIR "/libprestanda.so", text, path, buf,
			sizeof(buf));
	snprintf(want, sizeof(want),
		 "prestanda: PRESTANDA_CONFIG is read by prestanda run, not by the preload: nothing "
		 "is recorded; start the program with: prestanda run --config %s\n",
		 path);
	cr_expect_str_eq(buf, want);
	unlink(path);
}

/* The preload links no JSON library into every program it enters. */
Test(config, preload_needs_no_json_library)
{
	FILE *p = popen("readelf -d " PST_BUILD_DIR "/libprestanda.so", "r");
	char line[512];
	int needed = 0;

	cr_assert(p);
	while (fgets(line, sizeof(line), p)) {
		if (!strstr(line, "(NEEDED)"))
			continue;
		needed++;
		cr_expect_null(strstr(line, "jansson"), "%s", line);
	}
	cr_expect_eq(pclose(p), 0);
	cr_expect_gt(needed, 0, "readelf listed no NEEDED entry");
}
