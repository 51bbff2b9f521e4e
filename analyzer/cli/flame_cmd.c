/* SPDX-License-Identifier: MIT */
/* prestanda flame: its options, then the graph or export (output/flame.c). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "flame.h"
#include "select.h"

/* SVG: frames narrower than this many pixels are merged. */
#define DEFAULT_MIN_WIDTH 0.5

static void usage(FILE *f)
{
	fputs(
	    "usage: prestanda flame [options] TRACE|SESSION\n"
	    "       prestanda flame [options] BASE.trace NEW.trace    (differential)\n"
	    "       prestanda flame [options] FOLDED [NEW.FOLDED]\n"
	    "\n"
	    "Draw a flame graph of one metric of TRACE, or export its stacks.\n"
	    "Folded stacks (prestanda's, flamegraph.pl's, heaptrack_print -F's) are read\n"
	    "back too, told from a trace by their content: `#` lines are comments and\n"
	    "fractional counts are rounded, keeping the total; a folded file with two\n"
	    "counts a line is a differential; --metric then only names what the counts\n"
	    "are.\n"
	    "\n"
	    "  -m, --metric M     what the widths measure (default: the first one the trace has:\n"
	    "                     cpu for a prestanda record trace, alloc-bytes for a memory one)\n"
	    "  -f, --format F     svg (default), folded, speedscope or pprof\n"
	    "  -o, --output FILE  write to FILE instead of standard output\n"
	    "      --normalize    differential: scale BASE to NEW's total before comparing\n"
	    "      --title T      SVG title instead of program, metric and totals\n"
	    "      --min-width PX SVG: merge frames narrower than PX pixels (default 0.5)\n"
	    "      --shorten-templates  C++ names without template arguments\n"
	    "                     (std::vector<>::push_back), as heaptrack_print -t\n"
	    "  -h, --help         this help\n",
	    f);
	pst_select_usage(f, "  --all      of a session: every process in one graph, each stack under\n"
			    "             a root frame [program]\n");
	fputs(
	    "\n"
	    "metrics:\n"
	    "  cpu            CPU time: samples of prestanda record times the period\n"
	    "  alloc-bytes    bytes allocated\n"
	    "  alloc-calls    calls to allocation functions\n"
	    "  peak-bytes     bytes live at the moment the heap peaked\n"
	    "  leaked-bytes   bytes still allocated at exit\n"
	    "  temporary      allocations freed before the thread's next allocation\n"
	    "  off-cpu        time blocked off CPU (prestanda record --off-cpu)\n"
	    "  lock-wait      time waiting for contended mutexes, rwlocks and spinlocks,\n"
	    "                 by the stack that waited\n"
	    "  connect-time   time established connects took; connections carry no stack,\n"
	    "                 so each endpoint is a frame under the program\n"
	    "\n"
	    "formats:\n"
	    "  svg         self-contained interactive SVG: click to zoom, Search, Reset zoom\n"
	    "  folded      `root;...;leaf count` lines for flamegraph.pl and inferno,\n"
	    "              kernel frames marked _[k]\n"
	    "              (`stack count_base count_new` in a differential)\n"
	    "  speedscope  speedscope's JSON file format: heaviest stacks first, and for\n"
	    "              CPU stacks a profile per thread after the whole\n"
	    "  pprof       gzipped profile.proto for go tool pprof, Pyroscope and Parca:\n"
	    "              memory as Go's heap profiles (alloc_objects, alloc_space,\n"
	    "              inuse_objects, inuse_space: -sample_index), CPU as samples and\n"
	    "              cpu, with pid and tid labels; never to a terminal\n"
	    "\n"
	    "examples:\n"
	    "  prestanda flame prestanda.server.4242.trace -o heap.svg\n"
	    "  prestanda flame --metric peak-bytes TRACE -o peak.svg\n"
	    "  prestanda flame --format folded TRACE > heap.folded\n"
	    "  prestanda flame --format speedscope TRACE -o heap.speedscope.json\n"
	    "  prestanda flame --format pprof TRACE -o heap.pb.gz && go tool pprof -top "
	    "heap.pb.gz\n"
	    "  prestanda flame --normalize base.trace new.trace -o diff.svg\n"
	    "  prestanda flame host.folded -o host.svg\n"
	    "\n"
	    "A differential graph takes widths from NEW and colours growth red and\n"
	    "shrinkage blue.\n",
	    f);
}

static int parse_format(const char *s, enum pst_flame_format *out)
{
	static const char *const names[] = { "svg", "folded", "speedscope", "pprof" };

	for (int i = 0; i < 4; i++)
		if (!strcmp(s, names[i])) {
			*out = (enum pst_flame_format)i;
			return 0;
		}
	return pst_cli_fail("flame", "unknown format '%s'; use svg, folded, speedscope or pprof", s);
}

static int flame_parse(int argc, char **argv, struct pst_flame_options *o, struct pst_select *sel)
{
	static const struct option longopts[] = {
		{ "metric", required_argument, NULL, 'm' }, { "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' }, { "normalize", no_argument, NULL, 'N' },
		{ "title", required_argument, NULL, 'T' },  { "min-width", required_argument, NULL, 'W' },
		{ "shorten-templates", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },	    PST_SELECT_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	*o = (struct pst_flame_options){ .format = PST_FLAME_SVG,
					 .svg = { .min_width = DEFAULT_MIN_WIDTH } };
	optind = 0;
	while ((c = pst_cli_getopt("flame", argc, argv, "m:f:o:h", longopts)) != -1) {
		switch (c) {
		case 'm':
			o->metric = optarg;
			if (!pst_flame_metric_find(optarg))
				return pst_cli_fail("flame", "unknown metric '%s'", optarg);
			break;
		case 'f':
			if (parse_format(optarg, &o->format))
				return 2;
			break;
		case 'o': o->output = optarg; break;
		case 'N': o->normalize = true; break;
		case 'S': o->shorten_templates = true; break;
		case 'T': o->svg.title = optarg; break;
		case 'W':
			o->svg.min_width = strtod(optarg, &end);
			if (*end || !(o->svg.min_width >= 0))
				return pst_cli_fail("flame", "--min-width wants a number of pixels, not '%s'",
						    optarg);
			break;
		case 'h': return pst_cli_help(usage);
		default:
			if (pst_select_opt("flame", c, optarg, sel))
				return 2;
		}
	}
	if (argc - optind < 1 || argc - optind > 2)
		return pst_cli_fail("flame", "expected TRACE, or BASE and NEW, got %d arguments",
				    argc - optind);
	if (sel->all && (argc - optind != 1 || o->normalize))
		return pst_cli_fail("flame", "--all draws one SESSION's processes together, not a differential");
	if (pst_select_paths("flame", sel, argv + optind, argc - optind, true))
		return 2;
	o->paths = sel->paths;
	o->npaths = sel->npaths;
	/* gzip is no text: a terminal would show garbage (go tool pprof
	 * refuses the same way) */
	if (o->format == PST_FLAME_PPROF && !o->output && isatty(STDOUT_FILENO))
		return pst_cli_fail("flame", "pprof output is gzip data; give -o FILE or redirect it");
	return PST_CLI_GO;
}

int pst_cmd_flame(int argc, char **argv)
{
	struct pst_flame_options o;
	struct pst_select sel = { 0 };
	int rc = flame_parse(argc, argv, &o, &sel);

	if (rc == PST_CLI_GO && pst_cli_make_parent("flame", o.output))
		rc = 1;
	if (rc == PST_CLI_GO)
		rc = sel.all ? pst_flame_run_all(&o, sel.label) : pst_flame_run(&o);
	pst_select_free(&sel);
	return rc;
}
