/* SPDX-License-Identifier: MIT */
/* prestanda run's options: parsed from its flags (settings table, common/options.h), handed to the preload in the environment. */
#ifndef PST_RUN_H
#define PST_RUN_H

#include <limits.h>
#include <stdio.h>

#include "options.h"

struct run_options {
	/* what goes into each setting's variable; NULL: left as it is */
	const char *value[PST_OPT_COUNT];
	char num[PST_OPT_COUNT][32]; /* values run worked out (sizes, rates) */
	char config[PATH_MAX];       /* --config made absolute */
	char textfile[PATH_MAX];     /* --metrics-textfile made absolute */
	char **program;              /* PROGRAM [ARGS...], NULL-terminated */
};

/* Fill o from run's command line: PST_CLI_GO, or the status to exit with. */
int pst_run_parse(int argc, char **argv, struct run_options *o);

/* Put o's settings, and what the JSON config says, into the environment
 * the program inherits. */
void pst_run_settings(const struct run_options *o);

/* --push (or the config's performance.push): a thread pushing the first
 * trace the manifest lists, NULL when there is none to push. Stopped, and
 * its last profile sent, when the program has ended. */
struct pst_push;
struct pst_push *pst_run_push_start(const char *manifest);
void pst_run_push_stop(struct pst_push *p);

void pst_run_usage(FILE *f);

/* A run's traces, as run_session.c sums them up when the program has ended. */
struct run_session {
	const char *dir;         /* the session's directory as the user names it;
				  * NULL: the traces went where -o's pattern said */
	char dir_abs[PATH_MAX];  /* dir made absolute */
	char **program;          /* the command */
	char resolved[PATH_MAX]; /* program[0] as execvp finds it, links resolved */
	pid_t top;               /* the process run started */
	int wstatus;             /* its wait status */
	int status;              /* run's exit status */
};

/* What became of each trace the manifest lists (said when it is a
 * problem), the summary of the run's processes, the session's index. */
void pst_run_end(const char *manifest, const struct run_session *rs);

/* The README's table of the preload's settings, from the same table. */
void pst_run_options_markdown(FILE *f);

#endif
