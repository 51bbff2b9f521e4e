/* SPDX-License-Identifier: MIT */
/* The preload's settings in one table: run's flag, the environment variable the preload reads, the default, the help. */
#ifndef PST_OPTIONS_H
#define PST_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

/* Every setting, in the order run's help and the README list them. */
enum pst_opt {
	PST_OPT_FULL,
	PST_OPT_SAMPLE_BYTES,
	PST_OPT_OUTPUT,
	PST_OPT_NO_FOLLOW,
	PST_OPT_CPU,
	PST_OPT_CPU_CLOCK,
	PST_OPT_REQUEST_VALUES,
	/* production mode */
	PST_OPT_CONFIG,
	PST_OPT_PUSH,
	PST_OPT_MAX_SIZE,
	PST_OPT_ALERT,
	PST_OPT_TOGGLE_SIGNAL,
	PST_OPT_METRICS_MS,
	PST_OPT_METRICS_TEXTFILE,
	/* the environment only: set by run from the config file, or by hand */
	PST_OPT_ENABLED,
	PST_OPT_SAMPLE_RATE,
	PST_OPT_BUDGETS,
	PST_OPT_MAX_MEMORY,
	PST_OPT_FLUSH_MS,
	PST_OPT_STACK_CACHE,
	PST_OPT_CPU_SIGNAL,
	PST_OPT_MANIFEST,
	PST_OPT_STDERR,
	PST_OPT_COUNT
};

struct pst_option {
	const char *flag;  /* run's long option; NULL: the environment only */
	char letter;       /* run's short option, or 0 */
	int has_arg;       /* as getopt_long's: 0 none, 1 required, 2 optional */
	const char *usage; /* how run's help spells the flag: "--sample-bytes N" */
	const char *env;   /* the variable the preload reads */
	const char *dflt;  /* the default in words, "" when there is none to say */
	const char *help;  /* run's help lines, '\n' between */
	bool production;   /* under "production mode:" in run's help */
};

extern const struct pst_option pst_options[PST_OPT_COUNT];

/* The setting's value in the environment; NULL when unset or empty. */
const char *pst_option_env(enum pst_opt o);

/* Where settings are read from now on: NAME=VALUE strings (NULL-terminated,
 * kept by the caller), or NULL for the environment. */
void pst_option_source(const char *const *vars);
/* A variable of that source, as getenv (of a list, the last NAME=). */
const char *pst_option_get(const char *name);

/* Set to something other than "0". */
bool pst_option_on(enum pst_opt o);

/* Set to exactly v. */
bool pst_option_is(enum pst_opt o, const char *v);

/* The setting as a number into *out (with K, M and G suffixes when size):
 * 1, or 0 when unset, or -1 when it is not a number. */
int pst_option_u64(enum pst_opt o, uint64_t *out, bool size);

/* Budgets a running process can judge (PRESTANDA_BUDGETS holds their
 * absolute limits as "NAME=MAX,NAME=MAX"). */
enum pst_alert_metric {
	PST_ALERT_HEAP,
	PST_ALERT_RSS,
	PST_ALERT_CALLS,
	PST_ALERT_BYTES,
	PST_ALERT_FDS,
	PST_ALERT_THREADS,
	PST_ALERT_CPU,
	PST_ALERT_COUNT
};
extern const char *const pst_alert_metrics[PST_ALERT_COUNT];

#endif
