/* SPDX-License-Identifier: MIT */
/* prestanda report: its options, then the reports of the traces (output/report.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "options.h"
#include "report.h"
#include "select.h"

struct report_cmd {
	struct pst_report_options o;
	char **traces;
	int ntraces;
	struct pst_select sel;
};

static void usage(FILE *f)
{
	fputs("usage: prestanda report [--json] [--top N] [--config FILE] [--timeline]\n"
	      "                       [--suppressions FILE] [--since S] [--until U] [--tid T]\n"
	      "                       [--pid P | --comm N | --all] [--html FILE]\n"
	      "                       TRACE|SESSION...\n"
	      "\n"
	      "Analyze the heap of each TRACE: findings (leaks, churn of small blocks,\n"
	      "realloc growth), totals, top allocation sites, sizes and threads. A SESSION\n"
	      "(the directory prestanda run wrote) stands for its main process's trace,\n"
	      "or with --all for all its processes as one.\n"
	      "\n"
	      "  --json     one JSON object per trace (an array for several traces)\n"
	      "  --top N    N sites per table (text, default 10); limits the JSON site list\n"
	      "  --config FILE  declared pools to check ({\"performance\": {\"pools\": ...}})\n"
	      "             and the caching advice's defaults (\"caching\": default_ttl, max_memory);\n"
	      "             default: the file named by PRESTANDA_CONFIG\n"
	      "  --timeline figures per snapshot interval: allocation calls and bytes per\n"
	      "             second, RSS, open fds, threads, CPU% (JSON: always, \"timeline\")\n"
	      "  --timeline-svg FILE  a small plot of RSS and allocation calls over time\n"
	      "  --html FILE one self-contained page of the trace (one TRACE): charts over\n"
	      "             time, findings, sortable tables and flame graphs, for a time\n"
	      "             range chosen on the charts too\n"
	      "  --suppressions FILE  leaks to leave out of the findings: `leak:PATTERN`\n"
	      "             lines (LeakSanitizer's and heaptrack's files), matched against\n"
	      "             each frame's function, source file or module; counted apart\n"
	      "  -h, --help this help\n",
	      f);
	pst_select_usage(f, "  --all      of a session: every process as one report, merged by name\n"
			    "             (sites by their frames, numbers summed), after a table of\n"
			    "             each process's totals; with --comm N, the processes that\n"
			    "             ran N\n");
}

static int report_parse(int argc, char **argv, struct report_cmd *c)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "top", required_argument, NULL, 'n' },
		{ "config", required_argument, NULL, 'c' },
		{ "timeline", no_argument, NULL, 't' },
		{ "timeline-svg", required_argument, NULL, 's' },
		{ "html", required_argument, NULL, 'H' },
		{ "suppressions", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		PST_SELECT_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct pst_report_options *o = &c->o;
	int opt;

	memset(c, 0, sizeof(*c));
	o->config = getenv(pst_options[PST_OPT_CONFIG].env);
	optind = 0;
	while ((opt = pst_cli_getopt("report", argc, argv, "jn:h", longopts)) != -1) {
		switch (opt) {
		case 'j': o->json = true; break;
		case 'c': o->config = optarg; break;
		case 't': o->timeline = true; break;
		case 's': o->svg = optarg; break;
		case 'H': o->html = optarg; break;
		case 'S': o->suppressions_path = optarg; break;
		case 'n':
			if (pst_cli_positive("report", "--top", optarg, &o->top))
				return 2;
			o->top_given = true;
			break;
		case 'h': return pst_cli_help(usage);
		default:
			if (pst_select_opt("report", opt, optarg, &c->sel))
				return 2;
		}
	}
	if (optind >= argc)
		return pst_cli_fail("report", "no TRACE given");
	if (c->sel.all && argc - optind > 1)
		return pst_cli_fail("report", "--all merges the processes of one SESSION, not %d operands",
				    argc - optind);
	if (pst_select_paths("report", &c->sel, argv + optind, argc - optind, false))
		return 2;
	if (o->suppressions_path) {
		char err[600];

		if (pst_suppressions_load(o->suppressions_path, &o->supp, err, sizeof(err)))
			return pst_cli_fail("report", "--suppressions %s", err);
	}
	c->traces = c->sel.paths;
	c->ntraces = c->sel.npaths;
	if (c->sel.all && (o->html || o->svg))
		return pst_cli_fail("report", "--all merges the processes' figures; --html and --timeline-svg draw one trace");
	if (o->html && c->ntraces > 1)
		return pst_cli_fail("report", "--html draws one TRACE, not %d", c->ntraces);
	return PST_CLI_GO;
}

static int report_run(struct report_cmd *c)
{
	struct pst_report_options *o = &c->o;
	int status;

	if (o->config && *o->config) {
		char err[600];

		if (pst_settings_load(o->config, NULL, NULL, &o->settings, err, sizeof(err)))
			fprintf(stderr, "prestanda: warning: %s; declared pools are not checked\n",
				err);
		else
			o->has_settings = true;
	}
	if (c->sel.all)
		status = pst_report_all_print(o, c->traces, c->ntraces, c->sel.label);
	else
		status = pst_report_print(o, c->traces, c->ntraces);
	if (o->has_settings)
		pst_settings_free(&o->settings);
	pst_suppressions_free(&o->supp);
	if (fflush(stdout)) {
		fprintf(stderr, "prestanda: report: writing: %s\n", strerror(errno));
		return 1;
	}
	return status;
}

int pst_cmd_report(int argc, char **argv)
{
	struct report_cmd c;
	int rc = report_parse(argc, argv, &c);

	if (rc == PST_CLI_GO && (pst_cli_make_parent("report", c.o.svg) ||
				 pst_cli_make_parent("report", c.o.html)))
		rc = 1;
	if (rc == PST_CLI_GO)
		rc = report_run(&c);
	pst_select_free(&c.sel);
	return rc;
}
