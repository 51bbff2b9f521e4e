/* SPDX-License-Identifier: MIT */
/* Subcommands of the prestanda command; each returns the process exit status. */
#ifndef PST_CLI_H
#define PST_CLI_H

/* run.c: run a program under libprestanda.so; argv[0] is "run". */
int pst_cmd_run(int argc, char **argv);

/* report.c: read a trace and print findings and totals; argv[0] is "report".
 * Exit 0, or 1 when the trace cannot be read at all, 2 on usage errors. */
int pst_cmd_report(int argc, char **argv);

/* diff.c: compare two runs (traces or JSON reports); argv[0] is "diff".
 * Exit 0 within noise and budget, 1 on a regression, 2 on usage or input errors. */
int pst_cmd_diff(int argc, char **argv);
/* flame.c: flame graphs and exports of a trace, or a differential of two;
 * argv[0] is "flame". Exit 0, 1 when a trace cannot be read, 2 on usage
 * errors or a metric the trace lacks. */
int pst_cmd_flame(int argc, char **argv);
/* bpf/record.c (or bpf/record_none.c without eBPF): sample CPU stacks with
 * eBPF into a trace; argv[0] is "record". Exit 3 when this system cannot. */
int pst_cmd_record(int argc, char **argv);
/* rules_cli.c: the config's budgets as a Prometheus rules file; argv[0] is
 * "rules". Exit 0, 1 when writing fails, 2 on usage or config errors. */
int pst_cmd_rules(int argc, char **argv);

#endif
