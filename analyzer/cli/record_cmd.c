/* SPDX-License-Identifier: MIT */
/* prestanda record: its options, then the eBPF recording (bpf/record.c). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
	fputs("usage: prestanda record [options] (-a | -p PID | [--] COMMAND [ARGS...])\n"
	      "\n"
	      "Sample CPU stacks (and time blocked) with eBPF and write a prestanda trace.\n"
	      "With -- COMMAND it exits with the command's status (128+N when signal N\n"
	      "ended it). Objects a process sees only in its own mount namespace (a\n"
	      "container) are copied to TRACE.objects/ so that the trace reads after it ends.\n"
	      "\n"
	      "  -a, --all-cpus             Sample every process of the host\n"
	      "  -C, --check                Only check that this system can record; exit 0 if\n"
	      "                             so, 3 if not\n"
	      "  -d, --duration=SEC         Stop after SEC seconds (default: Ctrl-C, or when\n"
	      "                             the process ends)\n"
	      "  -F, --frequency=HZ         Samples per second per CPU (default 99)\n"
	      "  -g, --call-graph=dwarf|fp  User stacks: DWARF unwinding of a stack copy\n"
	      "                             (default) or frame pointers only\n"
	      "  -i, --interval=SEC         Move counters from the kernel to the trace this\n"
	      "                             often (default 1)\n"
	      "  -K, --no-kernel            No kernel stacks\n"
	      "  -m, --min-block=USEC       Off-CPU: ignore waits shorter than USEC (default\n"
	      "                             1)\n"
	      "  -T, --metrics-textfile=DIR Write CPU seconds sampled per process into DIR\n"
	      "                             every interval, for node_exporter's textfile\n"
	      "                             collector\n"
	      "  -o, --output=FILE          Trace file (default prestanda.record.trace; when\n"
	      "                             FILE exists, FILE.1 and so on)\n"
	      "  -O, --off-cpu              Also record time blocked (off CPU), by stack\n"
	      "  -p, --pid=PID              Sample this process (all its threads)\n"
	      "  -v, --verbose              Show libbpf's messages and the verifier's log\n"
	      "  -h, --help                 this help\n"
	      "\n"
	      "examples:\n"
	      "  prestanda record -a -d 10 -o host.trace            # every CPU, 10 s\n"
	      "  prestanda record -p 1234 -F 99 -o app.trace        # one process, 99 Hz\n"
	      "  prestanda record --off-cpu -p 1234 -o wait.trace   # and time blocked, by stack\n"
	      "  prestanda record -- ./cmd args                     # run and sample one command\n"
	      "  prestanda report app.trace                         # read it\n",
	      f);
}

/* A number in [lo, hi]: 0, or 2 after saying it is not. */
static int number_in(const char *flag, const char *s, double lo, double hi, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	if (errno || *end || end == s || *out < lo || *out > hi)
		return pst_cli_fail("record", "%s: '%s' is not a number in [%g, %g]", flag, s, lo, hi);
	return 0;
}

/* An option with a value: 0, or 2 after saying what is wrong. */
static int take(struct pst_record_options *o, int c, const char *arg)
{
	double v;

	switch (c) {
	case 'p':
		if (number_in("--pid", arg, 1, INT_MAX, &v))
			return 2;
		o->pid = (pid_t)v;
		break;
	case 'F':
		if (number_in("--frequency", arg, 1, 10000, &v))
			return 2;
		o->hz = (long)v;
		break;
	case 'd': return number_in("--duration", arg, 0.001, 1e9, &o->duration);
	case 'i': return number_in("--interval", arg, 0.01, 3600, &o->interval);
	case 'm':
		if (number_in("--min-block", arg, 0, 1e12, &v))
			return 2;
		o->min_block_us = (unsigned long)v;
		break;
	case 'g':
		if (strcmp(arg, "fp") && strcmp(arg, "dwarf"))
			return pst_cli_fail("record", "--call-graph is dwarf or fp, not '%s'", arg);
		o->fp_only = !strcmp(arg, "fp");
		break;
	}
	return 0;
}

static int record_parse(int argc, char **argv, struct pst_record_options *o)
{
	static const struct option longopts[] = {
		{ "all-cpus", no_argument, NULL, 'a' },	     { "pid", required_argument, NULL, 'p' },
		{ "frequency", required_argument, NULL, 'F' }, { "duration", required_argument, NULL, 'd' },
		{ "output", required_argument, NULL, 'o' },    { "off-cpu", no_argument, NULL, 'O' },
		{ "min-block", required_argument, NULL, 'm' }, { "call-graph", required_argument, NULL, 'g' },
		{ "interval", required_argument, NULL, 'i' },  { "no-kernel", no_argument, NULL, 'K' },
		{ "check", no_argument, NULL, 'C' },	     { "verbose", no_argument, NULL, 'v' },
		{ "metrics-textfile", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },	     { NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct pst_record_options){ .hz = 99, .interval = 1, .min_block_us = 1,
					  .output = "prestanda.record.trace" };
	optind = 0;
	while ((c = pst_cli_getopt("record", argc, argv, "+ap:F:d:o:Om:g:i:KCvT:h", longopts)) != -1) {
		switch (c) {
		case 'a': o->all = true; break;
		case 'o': o->output = optarg; break;
		case 'T': o->metrics_textfile = optarg; break;
		case 'O': o->off_cpu = true; break;
		case 'K': o->no_kernel = true; break;
		case 'C': o->check = true; break;
		case 'v': o->verbose = true; break;
		case 'h': return pst_cli_help(usage);
		case '?': return 2;
		default:
			if (take(o, c, optarg))
				return 2;
		}
	}
	/* The command and its own options. */
	if (optind < argc)
		o->cmd = argv + optind;
	if (!o->check && (o->all ? 1 : 0) + (o->pid ? 1 : 0) + (o->cmd ? 1 : 0) != 1)
		return pst_cli_fail("record", "give one of -a, -p PID or -- COMMAND");
	return PST_CLI_GO;
}

int pst_cmd_record(int argc, char **argv)
{
	struct pst_record_options o;
	int rc = record_parse(argc, argv, &o);
	char other[PATH_MAX + 8];

	if (rc != PST_CLI_GO)
		return rc;
	if (!o.check) {
		const char *given = o.output;

		/* An earlier trace stays, as run keeps both */
		o.output = pst_cli_free_name(given, other, sizeof(other));
		if (o.output != given)
			fprintf(stderr, "prestanda: record: %s exists; writing %s\n", given, o.output);
		if (pst_cli_make_parent("record", o.output))
			return 1;
	}
	return pst_record_run(&o);
}
