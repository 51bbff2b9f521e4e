/* SPDX-License-Identifier: MIT */
/* The options report, flame and diff share: which process of a session, which window of time, which thread. */
#ifndef PST_SELECT_H
#define PST_SELECT_H

#include <stdbool.h>
#include <stdio.h>

#include "filter.h"

/* getopt_long values of the options, past any character. */
enum {
	PST_SEL_SINCE = 0x1000,
	PST_SEL_UNTIL,
	PST_SEL_TID,
	PST_SEL_PID,
	PST_SEL_COMM,
	PST_SEL_ALL,
};

/* Their rows in a command's struct option table. */
#define PST_SELECT_LONGOPTS                                                    \
	{ "since", required_argument, NULL, PST_SEL_SINCE },                   \
	{ "until", required_argument, NULL, PST_SEL_UNTIL },                   \
	{ "tid", required_argument, NULL, PST_SEL_TID },                       \
	{ "pid", required_argument, NULL, PST_SEL_PID },                       \
	{ "comm", required_argument, NULL, PST_SEL_COMM },                     \
	{ "all", no_argument, NULL, PST_SEL_ALL }

struct pst_select {
	struct pst_filter filter; /* --since, --until, --tid (and --pid, --comm of a record -a trace) */
	bool has_pid, all;
	unsigned long pid;
	const char *comm;
	char **paths;             /* the traces the command reads, sessions resolved */
	int npaths;
	int first[2];             /* where each operand's traces start in paths (two operands at most) */
	const char *label;        /* the (first) session operand, NULL: none */
};

/* getopt's value c (with optarg) when it is one of these options: 0, or
 * 2 after saying what is wrong (or when c is getopt's error '?'). */
int pst_select_opt(const char *cmd, int c, const char *arg, struct pst_select *s);

/* The options' lines of a command's --help; all: its --all line(s). */
void pst_select_usage(FILE *f, const char *all);

/*
 * Each of the command's operands as the traces it stands for: a trace as
 * itself, a session as the process the options pick (its main process by
 * default). A command that reads one trace an operand (flame, diff) passes
 * one_each: a choice of several processes is an error then. The filter
 * becomes every trace's (pst_filter_set_default). 0, or 2 after saying why.
 */
int pst_select_paths(const char *cmd, struct pst_select *s, char **operands, int n, bool one_each);

void pst_select_free(struct pst_select *s);

#endif
