/* SPDX-License-Identifier: MIT */
/* prestanda rules: its options, then the configuration's budgets as a Prometheus rules file (output/prom_rules.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "prom_rules.h"

struct rules_cmd {
	const char *config; /* --config FILE */
	const char *output; /* -o FILE, or NULL for stdout */
	struct pst_rules_opts o;
};

static void usage(FILE *f)
{
	fputs("usage: prestanda rules --config FILE [options]\n"
	      "\n"
	      "Turns the budgets of FILE (performance.budgets, \"max\" limits) into a Prometheus\n"
	      "rules file: one alerting rule per budget, on the metrics that\n"
	      "`prestanda run --metrics-textfile DIR` writes for node_exporter.\n"
	      "\n"
	      "  --config FILE       the JSON config (as for run --config)\n"
	      "  -o, --output FILE   write the rules to FILE (default: stdout)\n"
	      "  --program NAME      only this program's series (default: every program's)\n"
	      "  --rate-window DUR   rate() range for cpu_percent (default 1m)\n"
	      "  --severity S        the severity label (default warning)\n"
	      "  -h, --help          this help\n"
	      "\n"
	      "Exit status: 0, 1 when the rules cannot be written, 2 a usage error or a\n"
	      "config that cannot be read.\n"
	      "\n"
	      "example:\n"
	      "  prestanda rules --config perf.json -o /etc/prometheus/prestanda.rules.yml\n"
	      "  promtool check rules /etc/prometheus/prestanda.rules.yml\n",
	      f);
}

static int rules_parse(int argc, char **argv, struct rules_cmd *c)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "output", required_argument, NULL, 'o' },
		{ "program", required_argument, NULL, 'p' },
		{ "rate-window", required_argument, NULL, 'w' },
		{ "severity", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	*c = (struct rules_cmd){ .o = { NULL, "1m", "warning" } };
	optind = 0;
	while ((ch = pst_cli_getopt("rules", argc, argv, "o:h", longopts)) != -1) {
		switch (ch) {
		case 'c': c->config = optarg; break;
		case 'o': c->output = optarg; break;
		case 'p': c->o.program = optarg; break;
		case 'w': c->o.rate_window = optarg; break;
		case 's': c->o.severity = optarg; break;
		case 'h': return pst_cli_help(usage);
		default: return 2;
		}
	}
	if (!c->config)
		return pst_cli_fail("rules", "no --config FILE given");
	if (optind < argc)
		return pst_cli_fail("rules", "unexpected argument '%s'", argv[optind]);
	return PST_CLI_GO;
}

/* The rules of c's config into c's output: the exit status. */
static int rules_run(const struct rules_cmd *c)
{
	struct pst_settings s;
	char err[600];
	FILE *out = stdout;
	int n;

	if (pst_settings_load(c->config, NULL, NULL, &s, err, sizeof(err))) {
		fprintf(stderr, "prestanda: rules: %s\n", err);
		return 2;
	}
	if (c->output && !(out = fopen(c->output, "w"))) {
		fprintf(stderr, "prestanda: rules: %s: %s\n", c->output, strerror(errno));
		pst_settings_free(&s);
		return 2;
	}
	n = pst_rules_write(out, &s, &c->o);
	if (fflush(out))
		n = -1;
	if (out != stdout && fclose(out))
		n = -1;
	pst_settings_free(&s);
	if (n < 0) {
		fprintf(stderr, "prestanda: rules: cannot write the rules\n");
		return 1;
	}
	if (!n)
		fprintf(stderr, "prestanda: rules: no budget with a max limit in %s: no rules\n",
			c->config);
	return 0;
}

int pst_cmd_rules(int argc, char **argv)
{
	struct rules_cmd c;
	int rc = rules_parse(argc, argv, &c);

	return rc == PST_CLI_GO ? rules_run(&c) : rc;
}
