/* SPDX-License-Identifier: MIT */
/* Subcommands of the prestanda command; each returns the process exit status. */
#ifndef PST_CLI_H
#define PST_CLI_H

/* run.c: run a program under libprestanda.so; argv[0] is "run". */
int pst_cmd_run(int argc, char **argv);

/* report.c: read a trace and print findings and totals; argv[0] is "report".
 * Exit 0, or 1 when the trace cannot be read at all, 2 on usage errors. */
int pst_cmd_report(int argc, char **argv);

/* bpf/record.c (or bpf/record_none.c without eBPF): sample CPU stacks with
 * eBPF into a trace; argv[0] is "record". Exit 3 when this system cannot. */
int pst_cmd_record(int argc, char **argv);

#endif
