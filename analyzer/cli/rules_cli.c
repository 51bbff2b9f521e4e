/* SPDX-License-Identifier: MIT */
/* prestanda rules: the configuration's budgets as a Prometheus rules file, for Alertmanager. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "prom_rules.h"

static void rules_usage(FILE *f)
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
	      "\n"
	      "example:\n"
	      "  prestanda rules --config perf.json -o /etc/prometheus/prestanda.rules.yml\n"
	      "  promtool check rules /etc/prometheus/prestanda.rules.yml\n",
	      f);
}

static int write_rules(const char *config, const char *output, const struct pst_rules_opts *o)
{
	struct pst_settings s;
	char err[600];
	FILE *out = stdout;
	int n;

	if (pst_settings_load(config, NULL, NULL, &s, err, sizeof(err))) {
		fprintf(stderr, "prestanda rules: %s\n", err);
		return 2;
	}
	if (output && !(out = fopen(output, "w"))) {
		fprintf(stderr, "prestanda rules: %s: %s\n", output, strerror(errno));
		pst_settings_free(&s);
		return 2;
	}
	n = pst_rules_write(out, &s, o);
	if (out != stdout && fclose(out))
		n = -1;
	pst_settings_free(&s);
	if (n < 0) {
		fprintf(stderr, "prestanda rules: cannot write the rules\n");
		return 1;
	}
	if (!n)
		fprintf(stderr, "prestanda rules: no budget with a max limit in %s: no rules\n", config);
	return 0;
}

int pst_cmd_rules(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "output", required_argument, NULL, 'o' },
		{ "program", required_argument, NULL, 'p' },
		{ "rate-window", required_argument, NULL, 'w' },
		{ "severity", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct pst_rules_opts o = { NULL, "1m", "warning" };
	const char *config = NULL, *output = NULL;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'o': output = optarg; break;
		case 'p': o.program = optarg; break;
		case 'w': o.rate_window = optarg; break;
		case 's': o.severity = optarg; break;
		case 'h': rules_usage(stdout); return 0;
		default: rules_usage(stderr); return 2;
		}
	}
	if (!config || optind < argc) {
		rules_usage(stderr);
		return 2;
	}
	return write_rules(config, output, &o);
}
