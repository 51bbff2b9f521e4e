/* SPDX-License-Identifier: MIT */
/* The options report, flame and diff share: --since, --until, --tid, and which process of a session (--pid, --comm, --all). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "select.h"
#include "session.h"
#include "trace_read.h"

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

void pst_select_usage(FILE *f, const char *all)
{
	fputs("  --since S, --until U  only what happened from S up to (not at) U: seconds\n"
	      "             from the process's start (2.5), or wall times as a snapshot's\n"
	      "             (16:30:05 on the trace's day, 2026-12-03T16:30:05.25, @EPOCH)\n"
	      "  --tid T    only thread T's events\n"
	      "  --pid P    of a session: process P (default: the main process); of a\n"
	      "             system-wide trace (record -a): only process P's samples\n"
	      "  --comm N   of a session: the process that ran program N; of a\n"
	      "             system-wide trace: only the samples of processes named N\n",
	      f);
	fputs("             (of a trace that is neither: its own process, else an error)\n", f);
	if (all)
		fputs(all, f);
}

/* A trace's path appended to s->paths (grown to hold it): 0, or -1. */
static int add_path(struct pst_select *s, const char *path, int *cap)
{
	char **p;

	if (s->npaths >= *cap) {
		p = realloc(s->paths, (size_t)(*cap * 2 + 4) * sizeof(*p));
		if (!p)
			return -1;
		s->paths = p;
		*cap = *cap * 2 + 4;
	}
	s->paths[s->npaths] = strdup(path);
	return s->paths[s->npaths] ? (s->npaths++, 0) : -1;
}

/* Does trace t of the session belong to the processes the options pick? */
static bool picked(const struct pst_select *s, const struct pst_session *ss,
		   const struct pst_session_trace *t)
{
	if (s->comm) /* with --all: every process that ran it, as one */
		return !strcmp(t->name, s->comm) && t == pst_session_last(ss, t->pid);
	if (s->all)
		return t == pst_session_last(ss, t->pid);
	return t == pst_session_last(ss, s->has_pid ? s->pid : ss->main);
}

/* The traces of session dir the options pick, into s->paths: 0, or 2
 * after saying why not. */
static int add_session(const char *cmd, struct pst_select *s, const char *dir, bool one, int *cap)
{
	struct pst_session *ss;
	char err[PATH_MAX + 128], path[2 * PATH_MAX];
	int before = s->npaths, rc = 0;

	if (pst_session_open(dir, &ss, err, sizeof(err))) {
		fprintf(stderr, "prestanda: %s: %s\n", cmd, err);
		return 2;
	}
	for (size_t i = 0; i < ss->ntraces && !rc; i++)
		if (picked(s, ss, &ss->traces[i]) &&
		    add_path(s, pst_session_path(ss, &ss->traces[i], path, sizeof(path)), cap))
			rc = pst_cli_fail(cmd, "out of memory");
	if (!rc && s->npaths == before)
		rc = s->comm ? pst_cli_fail(cmd, "%s: no process ran %s", dir, s->comm) :
			       pst_cli_fail(cmd, "%s: no process %lu", dir,
					    s->has_pid ? s->pid : (unsigned long)ss->main);
	if (!rc && one && !s->all && s->npaths - before > 1)
		rc = pst_cli_fail(cmd, "%s: %d processes ran %s; pick one with --pid", dir,
				  s->npaths - before, s->comm ? s->comm : "");
	pst_session_free(ss);
	return rc;
}

/*
 * --pid, --comm and --tid against the traces they would select from: of
 * a plain trace (not a session's) its own process or an error, never the
 * whole trace in silence; --tid a thread of the trace (of each process
 * but with --all). *host: a trace is system-wide (record -a), where they
 * pick samples. 0, or 2 after naming the trace and what it holds.
 */
static int check_traces(const char *cmd, const struct pst_select *s, bool sessions, bool *host)
{
	struct pst_filter f = s->filter;
	char err[PATH_MAX + 256];

	f.has_pid = !sessions && s->has_pid;
	f.pid = s->pid;
	f.comm = sessions ? NULL : s->comm;
	f.has_tid = f.has_tid && !s->all;
	*host = false;
	if (!f.has_pid && !f.comm && !f.has_tid)
		return 0;
	for (int i = 0; i < s->npaths; i++) {
		struct pst_trace *t;
		bool h;
		int bad;

		if (pst_trace_open(s->paths[i], &t, err, sizeof(err)))
			continue; /* the command says why it cannot read it */
		h = pst_filter_host_wide(t);
		*host = *host || h;
		bad = pst_filter_check(&f, t, h, err, sizeof(err));
		pst_trace_close(t);
		if (bad)
			return pst_cli_fail(cmd, "%s: %s", s->paths[i], err);
	}
	return 0;
}

int pst_select_paths(const char *cmd, struct pst_select *s, char **operands, int n, bool one_each)
{
	bool sessions = false, host;
	int cap = 0;

	if (s->filter.has_since && s->filter.has_until && s->filter.since_base == s->filter.until_base &&
	    s->filter.until <= s->filter.since)
		return pst_cli_fail(cmd, "--until must come after --since");
	for (int i = 0; i < n; i++) {
		int rc = 0;

		if (i < 2)
			s->first[i] = s->npaths;
		if (pst_session_is(operands[i])) {
			sessions = true;
			if (!s->label)
				s->label = operands[i];
			rc = add_session(cmd, s, operands[i], one_each, &cap);
		} else if (add_path(s, operands[i], &cap)) {
			rc = pst_cli_fail(cmd, "out of memory");
		}
		if (rc)
			return rc;
	}
	if (check_traces(cmd, s, sessions, &host))
		return 2;
	/* without a session, --pid and --comm pick samples of a system-wide
	 * trace; of a plain trace they named its own process: all of it */
	if (!sessions && host) {
		s->filter.has_pid = s->has_pid;
		s->filter.pid = s->pid;
		s->filter.comm = s->comm;
	}
	if (!sessions && s->all)
		return pst_cli_fail(cmd, "--all needs a session");
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
