/* SPDX-License-Identifier: MIT */
/* Subcommands of the prestanda command; each returns the process exit status. */
#ifndef PST_CLI_H
#define PST_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

/*
 * Every command is parse then run: CMD_parse fills the command's options
 * and returns PST_CLI_GO, or the exit status to end with (0 after --help,
 * 2 after a usage error); the running part takes the options.
 */
#define PST_CLI_GO (-1)

/* "prestanda: CMD: what is wrong" and "Try 'prestanda CMD --help'." on
 * stderr; returns 2, the status of a usage error. */
int pst_cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* getopt_long whose unknown options and missing values are told by
 * pst_cli_fail (then '?'); shortopts may start with '+' (stop at the
 * first operand). Set optind = 0 before the first call. */
int pst_cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
		   const struct option *longopts);

/* arg as a number above 0 into *out: 0, or 2 after saying that flag
 * needs one. */
int pst_cli_positive(const char *cmd, const char *flag, const char *arg, long *out);

/* Create the directories above path (a file to write) that are missing:
 * 0, or 1 after saying which could not be made. */
int pst_cli_make_parent(const char *cmd, const char *path);

/* path when nothing is there (or an empty file), else the first free
 * path.N in buf, as run keeps an earlier trace of the same name. */
const char *pst_cli_free_name(const char *path, char *buf, size_t len);

/* The version, as `prestanda --version` prints it. */
extern const char pst_version[];

/* usage on stdout; 0, the status after --help. */
int pst_cli_help(void (*usage)(FILE *));

/* run.c: run a program under libprestanda.so; argv[0] is "run". */
int pst_cmd_run(int argc, char **argv);
/* run.c: libprestanda.so's real path into out (PATH_MAX): 0, or -1 when not found. */
int pst_cli_find_preload(char *out, size_t len);

/* attach_cmd.c: record a running process for a while; argv[0] is "attach".
 * Exit 0, 1 when it cannot be attached to (said why), 2 on usage errors. */
int pst_cmd_attach(int argc, char **argv);

/* scan_cmd.c: prestanda scan PID, a reachability scan of a recorded process now. */
int pst_cmd_scan(int argc, char **argv);

/* report_cmd.c: read a trace and print findings and totals; argv[0] is "report".
 * Exit 0, or 1 when the trace cannot be read at all, 2 on usage errors. */
int pst_cmd_report(int argc, char **argv);

/* diff_cmd.c: compare two runs (traces or JSON reports); argv[0] is "diff".
 * Exit 0 within noise and budget, 1 on a regression, 2 on usage or input errors. */
int pst_cmd_diff(int argc, char **argv);
/* flame_cmd.c: flame graphs and exports of a trace, or a differential of two;
 * argv[0] is "flame". Exit 0, 1 when a trace cannot be read, 2 on usage
 * errors or a metric the trace lacks. */
int pst_cmd_flame(int argc, char **argv);
/* record_cmd.c: sample CPU stacks with eBPF into a trace; argv[0] is
 * "record". Exit 3 when this system cannot. */
int pst_cmd_record(int argc, char **argv);
/* rules_cmd.c: the config's budgets as a Prometheus rules file; argv[0] is
 * "rules". Exit 0, 1 when writing fails, 2 on usage or config errors. */
int pst_cmd_rules(int argc, char **argv);

/* record's options, as record_cmd.c parses them. */
struct pst_record_options {
	bool all, off_cpu, fp_only, no_kernel, verbose, check;
	pid_t pid;
	char **cmd; /* -- COMMAND [ARGS], NULL-terminated, or NULL */
	long hz;
	double duration, interval;
	unsigned long min_block_us;
	const char *output;
	const char *metrics_textfile; /* --metrics-textfile DIR, or NULL */
};

/* bpf/record.c (bpf/record_none.c without eBPF): record as o says; the
 * command's exit status. */
int pst_record_run(struct pst_record_options *o);

#endif
