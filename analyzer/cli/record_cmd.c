/* SPDX-License-Identifier: MIT */
/* prestanda record: its options, then the eBPF recording (bpf/record.c). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "push.h"

/* getopt_long's values of the long-only flags. */
enum { OPT_PUSH = 256, OPT_PUSH_APP, OPT_PUSH_LABEL, OPT_PUSH_INTERVAL, OPT_PUSH_SPOOL,
       OPT_PUSH_SPOOL_MAX, OPT_CONFIG };

/* --push and its flags, kept beside the recording's options (bpf/ has no
 * use for them). */
static struct pst_push_options push;
static char push_labels[1024];

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
	      "      --push=URL             Every interval, send what was sampled to the\n"
	      "                             Pyroscope server at URL (its /ingest) as pprof\n"
	      "      --push-app=NAME        Application name there (default: the program's)\n"
	      "      --push-label=KEY=VALUE Label every profile sent (repeat for more)\n"
	      "      --push-interval=SEC    Seconds one profile covers (default 10)\n"
	      "      --push-spool=DIR       Profiles not sent yet wait here (default\n"
	      "                             TRACE.push)\n"
	      "      --push-spool-max=SIZE  Cap on the spool, K, M or G (default 64M): the\n"
	      "                             oldest go first\n"
	      "      --config=FILE          The JSON config: its performance.push gives what\n"
	      "                             the --push flags leave out\n"
	      "  -h, --help                 this help\n"
	      "\n"
	      "examples:\n"
	      "  prestanda record -a -d 10 -o host.trace            # every CPU, 10 s\n"
	      "  prestanda record -p 1234 -F 99 -o app.trace        # one process, 99 Hz\n"
	      "  prestanda record --off-cpu -p 1234 -o wait.trace   # and time blocked, by stack\n"
	      "  prestanda record -- ./cmd args                     # run and sample one command\n"
	      "  prestanda report app.trace                         # read it\n"
	      "  prestanda record -a --push http://pyroscope:4040 --push-label env=prod\n",
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

/* SIZE with an optional K, M or G: 0, or 2 after saying it is not. */
static int size_in(const char *flag, const char *s, unsigned long long *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (*end == 'K' || *end == 'k')
		v *= 1 << 10, end++;
	else if (*end == 'M' || *end == 'm')
		v *= 1 << 20, end++;
	else if (*end == 'G' || *end == 'g')
		v *= 1 << 30, end++;
	if (errno || *end || end == s || v < 4096 || v > 1e12)
		return pst_cli_fail("record", "%s: '%s' is not a size from 4K to 1000G", flag, s);
	*out = (unsigned long long)v;
	return 0;
}

/* A --push flag: 0, or 2 after saying what is wrong. */
static int take_push(int c, const char *arg)
{
	switch (c) {
	case OPT_PUSH: push.url = arg; break;
	case OPT_PUSH_APP: push.app = arg; break;
	case OPT_PUSH_SPOOL: push.spool = arg; break;
	case OPT_CONFIG: push.config = arg; break;
	case OPT_PUSH_INTERVAL: return number_in("--push-interval", arg, 1, 86400, &push.interval);
	case OPT_PUSH_SPOOL_MAX: return size_in("--push-spool-max", arg, &push.spool_max);
	case OPT_PUSH_LABEL:
		if (!strchr(arg, '=') || arg[0] == '=' || strpbrk(arg, "{},& \t") ||
		    strlen(push_labels) + strlen(arg) + 2 > sizeof(push_labels))
			return pst_cli_fail("record", "--push-label: '%s' is not KEY=VALUE", arg);
		snprintf(push_labels + strlen(push_labels),
			 sizeof(push_labels) - strlen(push_labels), "%s%s", *push_labels ? "," : "",
			 arg);
		push.labels = push_labels;
		break;
	}
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
	default: return take_push(c, arg);
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
		{ "push", required_argument, NULL, OPT_PUSH },
		{ "push-app", required_argument, NULL, OPT_PUSH_APP },
		{ "push-label", required_argument, NULL, OPT_PUSH_LABEL },
		{ "push-interval", required_argument, NULL, OPT_PUSH_INTERVAL },
		{ "push-spool", required_argument, NULL, OPT_PUSH_SPOOL },
		{ "push-spool-max", required_argument, NULL, OPT_PUSH_SPOOL_MAX },
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "help", no_argument, NULL, 'h' },	     { NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct pst_record_options){ .hz = 99, .interval = 1, .min_block_us = 1,
					  .output = "prestanda.record.trace" };
	push = (struct pst_push_options){ 0 };
	push_labels[0] = 0;
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

/* The recording, with a thread pushing its trace's intervals when --push
 * (or the config) names a server. */
static int record_pushing(struct pst_record_options *o)
{
	struct pst_push *p = NULL;
	bool on = false;
	int rc;

	if (!o->check && pst_push_options_resolve("record", &push, &on))
		return 2;
	if (on && !(p = pst_push_start("record", &push, o->output, NULL)))
		return 1;
	rc = pst_record_run(o);
	pst_push_stop(p);
	pst_push_options_free();
	return rc;
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
	return record_pushing(&o);
}
