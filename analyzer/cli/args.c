/* SPDX-License-Identifier: MIT */
/* What every command's option parsing shares: getopt_long with our messages, one error format, one pointer to --help. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

int pst_cli_fail(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "prestanda: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'prestanda %s --help'.\n", cmd);
	return 2;
}

int pst_cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
		   const struct option *longopts)
{
	char opts[64];
	const char *bad;
	bool in_order = shortopts[0] == '+';
	int c;

	/* ':' first (after '+'): a missing value is told apart from an
	 * unknown option, and getopt itself says nothing */
	snprintf(opts, sizeof(opts), "%s:%s", in_order ? "+" : "", shortopts + in_order);
	opterr = 0;
	c = getopt_long(argc, argv, opts, longopts, NULL);
	if (c != '?' && c != ':')
		return c;
	bad = argv[optind - 1];
	if (optopt > 0 && optopt < 128 && bad[1] != '-') {
		pst_cli_fail(cmd, "%s option '-%c'", c == ':' ? "a value is missing after the" : "unknown",
			     optopt);
	} else if (c == '?' && optopt) {
		/* a long option given a value it does not take */
		pst_cli_fail(cmd, "the option '%.*s' takes no value", (int)strcspn(bad, "="), bad);
	} else if (c == ':') {
		pst_cli_fail(cmd, "a value is missing after the option '%s'", bad);
	} else {
		pst_cli_fail(cmd, "unknown option '%s'", bad);
	}
	return '?';
}

int pst_cli_help(void (*usage)(FILE *))
{
	usage(stdout);
	return 0;
}

int pst_cli_positive(const char *cmd, const char *flag, const char *arg, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(arg, &end, 10);
	if (errno || *end || end == arg || *out < 1)
		return pst_cli_fail(cmd, "%s needs a positive number, not '%s'", flag, arg);
	return 0;
}

int pst_cli_make_parent(const char *cmd, const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	if (!path || snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return 0;
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = 0;
	/* Each missing level in turn, as mkdir -p: the output lands where it
	 * was asked to, the way heaptrack -o does. */
	for (char *p = dir + 1;; p++) {
		bool last = !*p;

		if (*p != '/' && !last)
			continue;
		*p = 0;
		if (mkdir(dir, 0777) && errno != EEXIST) {
			fprintf(stderr, "prestanda: %s: cannot create the directory %s: %s\n", cmd, dir,
				strerror(errno));
			return 1;
		}
		if (last)
			return 0;
		*p = '/';
	}
}

const char *pst_cli_free_name(const char *path, char *buf, size_t len)
{
	struct stat st;

	/* An empty file loses nothing when written over (mkstemp's, say). */
	if (lstat(path, &st) || (S_ISREG(st.st_mode) && !st.st_size))
		return path;
	for (int i = 1; i < 100; i++) {
		snprintf(buf, len, "%s.%d", path, i);
		if (lstat(buf, &st) && errno == ENOENT)
			return buf;
	}
	return path;
}
