/* SPDX-License-Identifier: MIT */
/* The options report, flame and diff share: --since, --until, --tid, and which process of a session (--pid, --comm, --all). */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "select.h"

static int number(const char *cmd, const char *flag, const char *arg, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(arg, &end, 10);
	if (errno || *end || end == arg || arg[0] == '-')
		return pst_cli_fail(cmd, "%s needs a number, not '%s'", flag, arg);
	return 0;
}

int pst_select_opt(const char *cmd, int c, const char *arg, struct pst_select *s)
{
	unsigned long v;

	switch (c) {
	case PST_SEL_SINCE:
	case PST_SEL_UNTIL:
		if (pst_filter_time(&s->filter, c == PST_SEL_UNTIL, arg))
			return pst_cli_fail(cmd, "%s wants seconds from the start (2.5) or a wall time (16:30:05, 2026-12-03T16:30:05, @EPOCH), not '%s'",
					    c == PST_SEL_SINCE ? "--since" : "--until", arg);
		return 0;
	case PST_SEL_TID:
		if (number(cmd, "--tid", arg, &v))
			return 2;
		s->filter.has_tid = true;
		s->filter.tid = v;
		return 0;
	case PST_SEL_PID:
		if (number(cmd, "--pid", arg, &s->pid))
			return 2;
		s->has_pid = true;
		return 0;
	case PST_SEL_COMM: s->comm = arg; return 0;
	case PST_SEL_ALL: s->all = true; return 0;
	}
	return 2; /* getopt said what was wrong */
}

void pst_select_usage(FILE *f, bool all)
{
	(void)all;
	fputs("  --since S, --until U  only what happened from S up to (not at) U: seconds\n"
	      "             from the process's start (2.5), or wall times as a snapshot's\n"
	      "             (16:30:05 on the trace's day, 2026-12-03T16:30:05.25, @EPOCH)\n"
	      "  --tid T    only thread T's events\n"
	      "  --pid P    of a system-wide trace (record -a): only process P's samples\n",
	      f);
}

int pst_select_paths(const char *cmd, struct pst_select *s, char **operands, int n, bool one_each)
{
	(void)one_each;
	if (s->filter.has_since && s->filter.has_until && s->filter.since_base == s->filter.until_base &&
	    s->filter.until <= s->filter.since)
		return pst_cli_fail(cmd, "--until must come after --since");
	if (s->has_pid) {
		s->filter.has_pid = true;
		s->filter.pid = s->pid;
	}
	if (s->comm || s->all)
		return pst_cli_fail(cmd, "%s needs a session", s->all ? "--all" : "--comm");
	s->paths = calloc((size_t)n + 1, sizeof(*s->paths));
	if (!s->paths)
		return pst_cli_fail(cmd, "out of memory");
	for (int i = 0; i < n; i++)
		s->paths[s->npaths++] = strdup(operands[i]);
	pst_filter_set_default(&s->filter);
	return 0;
}

void pst_select_free(struct pst_select *s)
{
	for (int i = 0; i < s->npaths; i++)
		free(s->paths[i]);
	free(s->paths);
	s->paths = NULL;
	s->npaths = 0;
	pst_filter_set_default(NULL);
}
