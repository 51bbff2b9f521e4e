/* SPDX-License-Identifier: MIT */
/* The prestanda command: dispatch to run, report and the other subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* The Makefile passes VERSION (and the commit it was built from). */
#ifndef PST_VERSION
#define PST_VERSION "unknown"
#endif
const char pst_version[] = PST_VERSION;

static void usage(FILE *f)
{
	fputs("usage: prestanda <command> [options]\n"
	      "\n"
	      "commands:\n"
	      "  run [options] -- PROGRAM [ARGS]   run PROGRAM under the preload and record a trace\n"
	      "  report [--json] [--top N] TRACE   findings, top sites and totals of a trace\n"
	      "  diff [--budget FILE] BASE NEW     compare two runs; exit 1 on a regression\n"
	      "  flame [options] TRACE [NEW]       flame graph (SVG), folded, speedscope or pprof\n"
	      "  record [-a|-p PID|-- CMD]         sample CPU stacks with eBPF (root) into a trace\n"
	      "  attach [-d SECONDS] PID           record a running process for a while, then detach\n"
	      "  scan PID                          find lost blocks in a recorded process now\n"
	      "  rules --config FILE               budgets as Prometheus alerting rules\n"
	      "\n"
	      "\n"
	      "  -h, --help       this help\n"
	      "  -V, --version    the version of prestanda\n"
	      "\n"
	      "`prestanda COMMAND --help` describes each command.\n",
	      f);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "run"))
		return pst_cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "record"))
		return pst_cmd_record(argc - 1, argv + 1);
	if (!strcmp(argv[1], "attach"))
		return pst_cmd_attach(argc - 1, argv + 1);
	if (!strcmp(argv[1], "scan"))
		return pst_cmd_scan(argc - 1, argv + 1);
	if (!strcmp(argv[1], "report"))
		return pst_cmd_report(argc - 1, argv + 1);
	if (!strcmp(argv[1], "diff"))
		return pst_cmd_diff(argc - 1, argv + 1);
	if (!strcmp(argv[1], "flame"))
		return pst_cmd_flame(argc - 1, argv + 1);
	if (!strcmp(argv[1], "rules"))
		return pst_cmd_rules(argc - 1, argv + 1);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf("prestanda %s\n", pst_version);
		return 0;
	}
	fprintf(stderr, "prestanda: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
