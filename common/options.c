/* SPDX-License-Identifier: MIT */
/* The preload's settings table (run's flags, their environment variables, defaults, help) and reading them from the environment. */
#include <stdlib.h>
#include <string.h>

#include "options.h"

/* run's help and the README's table are made from these lines: a setting
 * is named here once. */
const struct pst_option pst_options[PST_OPT_COUNT] = {
	[PST_OPT_FULL] = { "full", 0, 0, "--full", "PRESTANDA_FULL", "",
			   "record every allocation and free with its stack (exact)", false },
	[PST_OPT_SAMPLE_BYTES] = { "sample-bytes", 0, 1, "--sample-bytes N", "PRESTANDA_SAMPLE_BYTES",
				   "512K",
				   "sampled mode: one sample per N bytes on average\n"
				   "(default 512K; K, M and G suffixes)",
				   false },
	[PST_OPT_OUTPUT] = { "output", 'o', 1, "-o, --output PAT", "PRESTANDA_OUTPUT",
			     "prestanda.%e.%p.trace",
			     "trace path; %p pid, %h host, %e program name;\n"
			     "DIR/ for a session directory (default: the session\n"
			     "prestanda.PROG.PID/, traces %e.%p.trace in it)",
			     false },
	[PST_OPT_NO_FOLLOW] = { "no-follow", 0, 0, "--no-follow", "PRESTANDA_NO_FOLLOW", "",
				"do not trace the programs PROGRAM execs", false },
	[PST_OPT_CPU] = { "cpu", 0, 2, "--cpu[=HZ]", "PRESTANDA_CPU", "off",
			  "sample CPU stacks of every thread HZ times per second of\n"
			  "its CPU time (default 99), no root needed",
			  false },
	[PST_OPT_CPU_CLOCK] = { "cpu-clock", 0, 1, "--cpu-clock=CLOCK", "PRESTANDA_CPU_CLOCK", "cpu",
				"cpu (default): on-CPU time; wall: wall-clock time, blocked\n"
				"threads too",
				false },
	[PST_OPT_REQUEST_VALUES] = { "request-values", 0, 0, "--request-values",
				     "PRESTANDA_REQUEST_VALUES", "",
				     "keep one request per shape as sent, literal values and\n"
				     "keys included (default: only shapes leave the process)",
				     false },
	[PST_OPT_CONFIG] = { "config", 0, 1, "--config FILE", "PRESTANDA_CONFIG", "",
			     "the JSON config: monitoring (enabled, sample_rate,\n"
			     "metrics_interval), pools, budgets (PRESTANDA_CONFIG)",
			     true },
	/* read by run itself, which pushes: the preload has no use for it */
	[PST_OPT_PUSH] = { "push", 0, 1, "--push URL", "PRESTANDA_PUSH", "",
			   "every interval, send a profile to the Pyroscope server\n"
			   "at URL (more in the config's performance.push)",
			   true },
	[PST_OPT_MAX_SIZE] = { "max-size", 0, 1, "--max-size SIZE", "PRESTANDA_MAX_SIZE", "no cap",
			       "cap the trace at SIZE bytes (K, M, G): then only\n"
			       "snapshots are written, never more than SIZE",
			       true },
	[PST_OPT_ALERT] = { "alert", 0, 1, "--alert stderr|syslog", "PRESTANDA_ALERT", "stderr",
			    "where budget alerts go while the program runs", true },
	[PST_OPT_TOGGLE_SIGNAL] = { "toggle-signal", 0, 1, "--toggle-signal SIG",
				    "PRESTANDA_TOGGLE_SIGNAL", "USR2",
				    "pause/resume recording on SIG (default USR2; none)", true },
	[PST_OPT_METRICS_MS] = { "metrics-interval", 0, 1, "--metrics-interval S",
				 "PRESTANDA_METRICS_MS", "1000",
				 "seconds between snapshots (default 1)", true },
	[PST_OPT_METRICS_TEXTFILE] = { "metrics-textfile", 0, 1, "--metrics-textfile DIR",
				       "PRESTANDA_METRICS_TEXTFILE", "",
				       "write each snapshot into DIR for node_exporter's\n"
				       "textfile collector (PRESTANDA_METRICS_TEXTFILE)",
				       true },
	[PST_OPT_ENABLED] = { NULL, 0, 0, "", "PRESTANDA_ENABLED", "1",
			      "0: the preload stays off, calls pass straight through\n"
			      "(monitoring.enabled false)",
			      true },
	[PST_OPT_SAMPLE_RATE] = { NULL, 0, 0, "", "PRESTANDA_SAMPLE_RATE", "1",
				  "share of contended-lock WAIT records written\n"
				  "(monitoring.sample_rate)",
				  true },
	[PST_OPT_BUDGETS] = { NULL, 0, 0, "", "PRESTANDA_BUDGETS", "",
			      "limits judged while the program runs, NAME=MAX,...\n"
			      "(the config's budgets)",
			      true },
	[PST_OPT_MAX_MEMORY] = { NULL, 0, 0, "", "PRESTANDA_MAX_MEMORY", "512M",
				 "cap on the preload's own memory", true },
	[PST_OPT_FLUSH_MS] = { NULL, 0, 0, "", "PRESTANDA_FLUSH_MS", "1000",
			       "milliseconds between writes of every buffer (0: none)", false },
	[PST_OPT_STACK_CACHE] = { NULL, 0, 0, "", "PRESTANDA_STACK_CACHE", "1",
				  "0: unwind every stack again, no reuse of checked ones", false },
	[PST_OPT_CPU_SIGNAL] = { NULL, 0, 0, "", "PRESTANDA_CPU_SIGNAL", "highest free RT signal",
				 "the signal of --cpu's timers", false },
	[PST_OPT_MANIFEST] = { NULL, 0, 0, "", "PRESTANDA_MANIFEST", "",
			       "run's list of traces and problems (set by run)", false },
	[PST_OPT_STDERR] = { NULL, 0, 0, "", "PRESTANDA_STDERR", "",
			     "run's stderr as DEV:INO (set by run)", false },
};

const char *const pst_alert_metrics[PST_ALERT_COUNT] = {
	[PST_ALERT_HEAP] = "peak_heap_bytes", [PST_ALERT_RSS] = "rss_bytes",
	[PST_ALERT_CALLS] = "alloc_calls",    [PST_ALERT_BYTES] = "allocated_bytes",
	[PST_ALERT_FDS] = "open_fds",	      [PST_ALERT_THREADS] = "threads",
	[PST_ALERT_CPU] = "cpu_percent",
};

/* NULL: the environment. Else NAME=VALUE strings, NULL-terminated: what
 * `prestanda attach` passed, the running program's environment being
 * none of ours. */
static const char *const *option_vars;

void pst_option_source(const char *const *vars)
{
	option_vars = vars;
}

const char *pst_option_get(const char *name)
{
	size_t n = strlen(name);
	const char *last = NULL;

	if (!option_vars)
		return getenv(name);
	for (const char *const *v = option_vars; *v; v++)
		if (!strncmp(*v, name, n) && (*v)[n] == '=')
			last = *v + n + 1; /* the last one given wins */
	return last;
}

const char *pst_option_env(enum pst_opt o)
{
	const char *v = pst_option_get(pst_options[o].env);

	return v && *v ? v : NULL;
}

bool pst_option_on(enum pst_opt o)
{
	const char *v = pst_option_env(o);

	return v && strcmp(v, "0");
}

bool pst_option_is(enum pst_opt o, const char *want)
{
	const char *v = pst_option_env(o);

	return v && !strcmp(v, want);
}

int pst_option_u64(enum pst_opt o, uint64_t *out, bool size)
{
	const char *v = pst_option_env(o);
	char *end;
	unsigned long long n;

	if (!v)
		return 0;
	n = strtoull(v, &end, 10);
	switch (size ? *end : 0) {
	case 'k': case 'K': n <<= 10; end++; break;
	case 'm': case 'M': n <<= 20; end++; break;
	case 'g': case 'G': n <<= 30; end++; break;
	}
	if (*end)
		return -1;
	*out = n;
	return 1;
}
