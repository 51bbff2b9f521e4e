/* SPDX-License-Identifier: MIT */
/* prestanda diff: its options, then the comparison of two runs (diff/diff.c). */
#include <string.h>

#include "cli.h"
#include "diff.h"
#include "report.h"
#include "select.h"

/* Regressed sites the outputs list when --top is not given. */
#define DEFAULT_TOP 10

static void usage(FILE *f)
{
	fputs("usage: prestanda diff [options] BASE NEW\n"
	      "\n"
	      "Compare two runs of a program: totals (allocation calls and bytes, peak heap,\n"
	      "leaks, temporaries, thread creations, lock wait, CPU samples), connects per\n"
	      "endpoint, CPU samples per function, and allocation sites, matched by the\n"
	      "function names of their stacks so that two builds of the same code match.\n"
	      "BASE and NEW are traces, sessions (their main process, the one --pid or\n"
	      "--comm picks, or with --all every process merged) or JSON reports\n"
	      "(`prestanda report --json`), in any mix.\n"
	      "\n"
	      "A change counts when it exceeds the metric's noise thresholds (relative and\n"
	      "absolute, wider for sampled estimates); a budget file replaces that judgement\n"
	      "for the metrics it names.\n"
	      "\n"
	      "  --budget FILE          limits per metric, in the shape of the configuration's\n"
	      "                         {\"performance\": {\"budgets\": {...}}} or the budgets object alone\n"
	      "  --format FMT           text (default), markdown (for a pull-request comment) or json\n"
	      "  --markdown, --json     the same as --format markdown, --format json\n"
	      "  --per UNIT=N           divide flow metrics (calls, bytes, leaks) by N units of work\n"
	      "                         done by each run; UNIT=N1:N2 for BASE and NEW apart;\n"
	      "                         UNIT=METRIC to take the count from each run's metric\n"
	      "  --top N                regressed sites to list (default 10)\n"
	      "  -h, --help             this help\n",
	      f);
	pst_select_usage(f, "  --all      of sessions: each one's processes merged into one report\n"
			    "             (as report --all), compared\n");
	fputs("\n"
	      "Exit status: 0 within budget and noise, 1 a regression or a budget exceeded,\n"
	      "2 a usage error or an input that cannot be read.\n"
	      "\n"
	      "Budget file (numbers are limits; objects take max, max_increase, max_increase_pct):\n"
	      "  {\"peak_heap_bytes\": 268435456,\n"
	      "   \"alloc_calls\": {\"max_increase_pct\": 5},\n"
	      "   \"default\": {\"max_increase_pct\": 10},\n"
	      "   \"sites\": {\"parse_request\": {\"calls\": {\"max_increase\": 100}}},\n"
	      "   \"noise\": {\"peak_heap_bytes\": {\"rel_pct\": 2, \"abs\": 65536}}}\n"
	      "\n"
	      "Metrics: alloc_calls, allocated_bytes, peak_heap_bytes, leaked_bytes,\n"
	      "leaked_allocations, temporary_allocations, threads_created, lock_wait_ns,\n"
	      "cpu_samples; per endpoint (its exact address:port): connects, accepts,\n"
	      "connect_time_ns (the median); per function: function_cpu_samples; per site:\n"
	      "calls, bytes, peak_bytes, leaked_bytes. A default budget leaves the timings\n"
	      "(lock_wait_ns, connect_time_ns) to their noise thresholds.\n"
	      "\n"
	      "Examples:\n"
	      "  prestanda diff base.trace head.trace\n"
	      "  prestanda diff --budget perf-budget.json --format markdown base.json head.trace\n"
	      "  prestanda diff --per requests=10000 base.trace head.trace\n",
	      f);
}

/* --format's word: 0, or 2 after saying it is none of them. */
static int parse_format(const char *arg, enum pst_diff_format *fmt)
{
	if (!strcmp(arg, "text"))
		*fmt = PST_DIFF_TEXT;
	else if (!strcmp(arg, "markdown") || !strcmp(arg, "md"))
		*fmt = PST_DIFF_MARKDOWN;
	else if (!strcmp(arg, "json"))
		*fmt = PST_DIFF_JSON;
	else
		return pst_cli_fail("diff", "--format is text, markdown or json, not '%s'", arg);
	return 0;
}

static int diff_parse(int argc, char **argv, struct pst_diff_options *o, struct pst_select *sel)
{
	static const struct option longopts[] = {
		{ "budget", required_argument, NULL, 'b' },
		{ "format", required_argument, NULL, 'f' },
		{ "markdown", no_argument, NULL, 'M' },
		{ "json", no_argument, NULL, 'J' },
		{ "per", required_argument, NULL, 'p' },
		{ "top", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		PST_SELECT_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	long top;
	int c;

	*o = (struct pst_diff_options){ .top = DEFAULT_TOP, .fmt = PST_DIFF_TEXT };
	optind = 0;
	while ((c = pst_cli_getopt("diff", argc, argv, "b:f:p:n:h", longopts)) != -1) {
		switch (c) {
		case 'b': o->budget = optarg; break;
		case 'f':
			if (parse_format(optarg, &o->fmt))
				return 2;
			break;
		case 'M': o->fmt = PST_DIFF_MARKDOWN; break;
		case 'J': o->fmt = PST_DIFF_JSON; break;
		case 'p': o->per = optarg; break;
		case 'n':
			if (pst_cli_positive("diff", "--top", optarg, &top))
				return 2;
			o->top = (size_t)top;
			break;
		case 'h': return pst_cli_help(usage);
		default:
			if (pst_select_opt("diff", c, optarg, sel))
				return 2;
		}
	}
	if (argc - optind != 2)
		return pst_cli_fail("diff", "expected BASE and NEW, got %d argument%s", argc - optind,
				    argc - optind == 1 ? "" : "s");
	if (pst_select_paths("diff", sel, argv + optind, 2, true))
		return 2;
	o->base = sel->all ? argv[optind] : sel->paths[0];
	o->new = sel->all ? argv[optind + 1] : sel->paths[1];
	return PST_CLI_GO;
}

/* diff --all: each operand's processes merged into one report (as report
 * --all --json makes it). 0, or 2 after saying why not. */
static int merged_reports(struct pst_diff_options *o, const struct pst_select *sel)
{
	struct pst_report_options ro = { .json = true };
	int n0 = sel->first[1] - sel->first[0], n1 = sel->npaths - sel->first[1], st;

	o->base_report = pst_report_all_json(&ro, sel->paths + sel->first[0], n0, o->base, &st);
	if (o->base_report && !st)
		o->new_report = pst_report_all_json(&ro, sel->paths + sel->first[1], n1, o->new, &st);
	if (!o->base_report || !o->new_report || st) {
		fprintf(stderr, "prestanda: diff: %s: a process cannot be read or is damaged; "
				"a damaged trace cannot be compared\n",
			o->new_report || !o->base_report ? o->base : o->new);
		return 2;
	}
	return 0;
}

int pst_cmd_diff(int argc, char **argv)
{
	struct pst_diff_options o;
	struct pst_select sel = { 0 };
	int rc = diff_parse(argc, argv, &o, &sel);

	if (rc == PST_CLI_GO && sel.all)
		rc = merged_reports(&o, &sel) ? 2 : PST_CLI_GO;
	if (rc == PST_CLI_GO)
		rc = pst_diff_run(&o);
	json_decref(o.base_report);
	json_decref(o.new_report);
	pst_select_free(&sel);
	return rc;
}
