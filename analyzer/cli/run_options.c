/* SPDX-License-Identifier: MIT */
/* prestanda run's options: its flags, help and README table from the settings table; the JSON config read here and handed to the preload. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "push.h"
#include "run.h"

/* getopt_long's value for a setting without a short letter. */
#define OPT_BASE 256

static const char run_tail[] =
	"\n"
	"SIGTERM, SIGINT, SIGHUP and SIGQUIT sent to run go to PROGRAM; run exits\n"
	"with its status (128+N when signal N ended it), says which trace went\n"
	"wrong, and sums the run up: its processes as a tree, the main one (the\n"
	"process that ran PROGRAM), and the command to read it.\n"
	"\n"
	"examples:\n"
	"  prestanda run -- sqlite3 :memory: < work.sql\n"
	"  prestanda run --full -o /tmp/%e.%p.trace -- ./server --port 8080\n"
	"  prestanda run --cpu -- ./server --port 8080\n"
	"  prestanda run --cpu=999 --cpu-clock=wall -- ./server\n"
	"  prestanda run --config perf.json --max-size 50M -- ./server\n";

/* One flag's lines: its spelling, then the help from column 22. */
static void usage_lines(FILE *f, const struct pst_option *p)
{
	const char *h = p->help;

	if (strlen(p->usage) < 20)
		fprintf(f, "  %-20s", p->usage);
	else
		fprintf(f, "  %s  ", p->usage);
	while (*h) {
		size_t n = strcspn(h, "\n");

		fprintf(f, "%.*s\n", (int)n, h);
		h += n + (h[n] == '\n');
		if (*h)
			fprintf(f, "%22s", "");
	}
}

void pst_run_usage(FILE *f)
{
	fputs("usage: prestanda run [options] [--] PROGRAM [ARGS...]\n\n", f);
	for (int prod = 0; prod < 2; prod++) {
		if (prod)
			fputs("\nproduction mode:\n", f);
		for (int i = 0; i < PST_OPT_COUNT; i++)
			if (pst_options[i].flag && pst_options[i].production == prod)
				usage_lines(f, &pst_options[i]);
	}
	fputs(run_tail, f);
}

/* s in a markdown table cell: '|' escaped, lines joined. */
static void cell(FILE *f, const char *s)
{
	for (; *s; s++)
		fputs(*s == '\n' ? " " : *s == '|' ? "\\|" : (char[]){ *s, 0 }, f);
}

void pst_run_options_markdown(FILE *f)
{
	fputs("| `run` option | environment | default | meaning |\n|---|---|---|---|\n", f);
	for (int i = 0; i < PST_OPT_COUNT; i++) {
		const struct pst_option *p = &pst_options[i];

		fputs(p->flag ? "| `" : "| ", f);
		cell(f, p->usage);
		fprintf(f, "%s| `%s` | %s%s%s | ", p->flag ? "` " : "", p->env, *p->dflt ? "`" : "",
			p->dflt, *p->dflt ? "`" : "");
		cell(f, p->help);
		fputs(" |\n", f);
	}
}

static int parse_size(const char *s, unsigned long long *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	}
	if (*end || !v)
		return -1;
	*out = v;
	return 0;
}

/* A value that must be one of two words. */
static int one_of(const char *flag, const char *arg, const char *a, const char *b)
{
	if (!strcmp(arg, a) || !strcmp(arg, b))
		return 0;
	return pst_cli_fail("run", "%s: '%s' is neither %s nor %s", flag, arg, a, b);
}

/* A numeric flag into its variable's form in o->num: 0, or 2 after saying why. */
static int take_number(struct run_options *o, enum pst_opt id, const char *arg)
{
	unsigned long long n;
	char *end;
	double d;

	switch (id) {
	case PST_OPT_SAMPLE_BYTES:
	case PST_OPT_MAX_SIZE:
		if (parse_size(arg, &n) < 0)
			return pst_cli_fail("run", "--%s: '%s' is not a size", pst_options[id].flag, arg);
		break;
	case PST_OPT_CPU:
		n = arg ? strtoul(arg, &end, 10) : 99;
		if (arg && (*end || !n || n > 10000))
			return pst_cli_fail("run", "--cpu: '%s' is not a rate from 1 to 10000 Hz", arg);
		break;
	default: /* PST_OPT_METRICS_MS */
		d = strtod(arg, &end);
		if (*end || !(d > 0) || d > 86400)
			return pst_cli_fail("run", "--metrics-interval: '%s' is not a number of seconds",
					    arg);
		n = (unsigned long long)(d * 1000 + 0.5) ?: 1;
	}
	snprintf(o->num[id], sizeof(o->num[id]), "%llu", n);
	o->value[id] = o->num[id];
	return 0;
}

/* One flag of the table: 0, or 2 after saying what is wrong. */
static int take(struct run_options *o, enum pst_opt id, const char *arg)
{
	switch (id) {
	case PST_OPT_SAMPLE_BYTES:
	case PST_OPT_MAX_SIZE:
	case PST_OPT_CPU:
	case PST_OPT_METRICS_MS:
		return take_number(o, id, arg);
	case PST_OPT_CPU_CLOCK:
		if (one_of("--cpu-clock", arg, "cpu", "wall"))
			return 2;
		break;
	case PST_OPT_ALERT:
		if (one_of("--alert", arg, "stderr", "syslog"))
			return 2;
		break;
	case PST_OPT_CONFIG:
		if (!realpath(arg, o->config) || access(o->config, R_OK))
			return pst_cli_fail("run", "--config %s: %s", arg, strerror(errno));
		return 0;
	case PST_OPT_PUSH:
		if (strncmp(arg, "http://", 7) && strncmp(arg, "https://", 8))
			return pst_cli_fail("run", "--push %s: not an http:// or https:// URL", arg);
		break;
	case PST_OPT_METRICS_TEXTFILE:
		/* absolute, so that a program changing directory writes there */
		if (!realpath(arg, o->textfile) || access(o->textfile, W_OK | X_OK))
			return pst_cli_fail("run", "--metrics-textfile %s: %s", arg, strerror(errno));
		o->value[id] = o->textfile;
		return 0;
	default:
		break;
	}
	o->value[id] = pst_options[id].has_arg ? arg : "1";
	return 0;
}

int pst_run_parse(int argc, char **argv, struct run_options *o)
{
	struct option opts[PST_OPT_COUNT + 2] = { { 0 } };
	char shortopts[16] = "+h";
	int c, n = 0;

	memset(o, 0, sizeof(*o));
	for (int i = 0; i < PST_OPT_COUNT; i++) {
		const struct pst_option *p = &pst_options[i];

		if (!p->flag)
			continue;
		opts[n++] = (struct option){ p->flag, p->has_arg, NULL, p->letter ?: OPT_BASE + i };
		if (p->letter)
			snprintf(shortopts + strlen(shortopts), 4, "%c%s", p->letter,
				 p->has_arg ? ":" : "");
	}
	opts[n] = (struct option){ "help", no_argument, NULL, 'h' };
	optind = 0;
	while ((c = pst_cli_getopt("run", argc, argv, shortopts, opts)) != -1) {
		int id = c >= OPT_BASE ? c - OPT_BASE : -1;

		for (int i = 0; c < OPT_BASE && i < PST_OPT_COUNT; i++)
			if (pst_options[i].letter && pst_options[i].letter == c)
				id = i;
		if (c == 'h')
			return pst_cli_help(pst_run_usage);
		if (id < 0)
			return 2;
		if (take(o, (enum pst_opt)id, optarg))
			return 2;
	}
	if (optind >= argc)
		return pst_cli_fail("run", "no program given");
	o->program = argv + optind;
	return PST_CLI_GO;
}

/* A setting from the config, unless the environment (run's flags) has one. */
static void from_config(enum pst_opt id, const char *fmt, double v)
{
	char s[64];

	snprintf(s, sizeof(s), fmt, v);
	setenv(pst_options[id].env, s, 0);
}

/* The absolute limits of the budgets a running process judges, as
 * PRESTANDA_BUDGETS: "NAME=MAX,...". */
static void budgets_to_env(const struct pst_budgets *b)
{
	char v[PST_ALERT_COUNT * 64] = "";

	for (int m = 0; m < PST_ALERT_COUNT; m++) {
		const struct pst_budget_limit *l = pst_budgets_find(b, pst_alert_metrics[m], NULL);

		if (l && l->has_max)
			snprintf(v + strlen(v), sizeof(v) - strlen(v), "%s%s=%.17g", *v ? "," : "",
				 pst_alert_metrics[m], l->max);
	}
	if (*v)
		setenv(pst_options[PST_OPT_BUDGETS].env, v, 0);
}

/*
 * The JSON config (--config, else PRESTANDA_CONFIG), read here so that the
 * preload links no JSON library: what it says goes to the preload as the
 * table's variables, below run's flags. PRESTANDA_CONFIG itself is not
 * passed on (the preload takes it for one set by hand).
 */
static void config_to_env(const char *path)
{
	struct pst_settings s;
	char err[600];

	unsetenv(pst_options[PST_OPT_CONFIG].env);
	if (!path)
		return;
	if (pst_settings_load(path, NULL, NULL, &s, err, sizeof(err))) {
		fprintf(stderr, "prestanda: PRESTANDA_CONFIG ignored: %s\n", err);
		return;
	}
	if (!s.mon.enabled)
		setenv(pst_options[PST_OPT_ENABLED].env, "0", 0);
	if (s.mon.sample_rate > 0 && s.mon.sample_rate < 1)
		from_config(PST_OPT_SAMPLE_RATE, "%.17g", s.mon.sample_rate);
	if (s.mon.metrics_interval > 0)
		from_config(PST_OPT_METRICS_MS, "%.0f",
			    (double)((uint64_t)(s.mon.metrics_interval * 1000 + 0.5) ?: 1));
	if (s.mon.metrics_textfile)
		setenv(pst_options[PST_OPT_METRICS_TEXTFILE].env, s.mon.metrics_textfile, 0);
	if (s.has_budgets)
		budgets_to_env(&s.budgets);
	pst_settings_free(&s);
}

/* The config run read (pst_run_settings takes it out of the environment),
 * for push's settings. */
static char run_config[PATH_MAX];

struct pst_push *pst_run_push_start(const char *manifest)
{
	struct pst_push_options po = { .url = pst_option_env(PST_OPT_PUSH),
				       .config = *run_config ? run_config : NULL };
	bool on = false;

	if (pst_push_options_resolve("run", &po, &on) || !on)
		return NULL;
	return pst_push_start("run", &po, NULL, manifest);
}

void pst_run_push_stop(struct pst_push *p)
{
	pst_push_stop(p);
	pst_push_options_free();
}

void pst_run_settings(const struct run_options *o)
{
	const char *env = pst_option_env(PST_OPT_CONFIG);
	char config[PATH_MAX];

	/* a copy: config_to_env takes the variable out of the environment */
	snprintf(config, sizeof(config), "%s", *o->config ? o->config : env ? env : "");
	for (int i = 0; i < PST_OPT_COUNT; i++)
		if (o->value[i] && i != PST_OPT_OUTPUT)
			setenv(pst_options[i].env, o->value[i], 1);
	/* --cpu-clock alone asks for CPU samples too */
	if (!o->value[PST_OPT_CPU] && pst_option_env(PST_OPT_CPU_CLOCK))
		setenv(pst_options[PST_OPT_CPU].env, "99", 1);
	config_to_env(*config ? config : NULL);
	snprintf(run_config, sizeof(run_config), "%s", config);
}
