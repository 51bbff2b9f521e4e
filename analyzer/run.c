/* SPDX-License-Identifier: MIT */
/* prestanda run: start a program under libprestanda.so and say where its traces went. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cli.h"

#define PRELOAD_NAME "libprestanda.so"

/* Long options without a short letter. */
enum { OPT_CPU = 256, OPT_CPU_CLOCK };

static void run_usage(FILE *f)
{
	fputs("usage: prestanda run [options] [--] PROGRAM [ARGS...]\n"
	      "\n"
	      "  --full              record every allocation and free with its stack (exact)\n"
	      "  --sample-bytes N    sampled mode: one sample per N bytes on average\n"
	      "                      (default 512K; K, M and G suffixes)\n"
	      "  -o, --output PAT    trace path; %p pid, %h host, %e program name\n"
	      "                      (default prestanda.%e.%p.trace)\n"
	      "  --no-follow         do not trace the programs PROGRAM execs\n"
	      "  --cpu[=HZ]          sample CPU stacks of every thread HZ times per second of\n"
	      "                      its CPU time (default 99), no root needed\n"
	      "  --cpu-clock=CLOCK   cpu (default): on-CPU time; wall: wall-clock time, blocked\n"
	      "                      threads too\n"
	      "\n"
	      "production mode:\n"
	      "  --config FILE       the JSON config: monitoring (enabled, sample_rate,\n"
	      "                      metrics_interval), pools, budgets (PRESTANDA_CONFIG)\n"
	      "  --max-size SIZE     cap the trace at SIZE bytes (K, M, G): then only\n"
	      "                      snapshots are written, never more than SIZE\n"
	      "  --alert stderr|syslog  where budget alerts go while the program runs\n"
	      "  --toggle-signal SIG pause/resume recording on SIG (default USR2; none)\n"
	      "  --metrics-interval S  seconds between snapshots (default 1)\n"
	      "\n"
	      "examples:\n"
	      "  prestanda run -- sqlite3 :memory: < work.sql\n"
	      "  prestanda run --full -o /tmp/%e.%p.trace -- ./server --port 8080\n"
	      "  prestanda run --cpu -- ./server --port 8080\n"
	      "  prestanda run --cpu=999 --cpu-clock=wall -- ./server\n"
	      "  prestanda run --config perf.json --max-size 50M -- ./server\n",
	      f);
}

/* libprestanda.so next to this program, or in ../lib/prestanda/ after install. */
static int find_preload(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	const char *rel[] = { PRELOAD_NAME, "../lib/prestanda/" PRELOAD_NAME };
	char *slash;

	if (n <= 0)
		return -1;
	self[n] = 0;
	slash = strrchr(self, '/');
	*slash = 0;
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		char path[PATH_MAX + 64];
		snprintf(path, sizeof(path), "%s/%s", self, rel[i]);
		if (access(path, R_OK) == 0 && realpath(path, out)) {
			(void)len;
			return 0;
		}
	}
	return -1;
}

static int parse_size(const char *s, unsigned long long *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	}
	if (*end || !v)
		return -1;
	*out = v;
	return 0;
}

/* The program as execvp would find it. */
static int find_program(const char *prog, char *out)
{
	const char *path = getenv("PATH");
	char dir[PATH_MAX];

	if (strchr(prog, '/'))
		return realpath(prog, out) ? 0 : -1;
	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		size_t n = strcspn(p, ":");
		snprintf(dir, sizeof(dir), "%.*s/%s", (int)n, p, prog);
		if (access(dir, X_OK) == 0 && realpath(dir, out))
			return 0;
		p += n + (p[n] == ':');
	}
	return -1;
}

/*
 * Will the loader run path in secure-execution mode, where it ignores
 * LD_PRELOAD? When exec changes the user or group id (a set-id bit whose
 * owner differs from who runs it: root running a root-owned setuid program
 * changes nothing), or grants file capabilities.
 */
static bool secure_exec(const char *path, const struct stat *st)
{
	if ((st->st_mode & S_ISUID) && st->st_uid != getuid())
		return true;
	if ((st->st_mode & S_ISGID) && (st->st_mode & S_IXGRP) && st->st_gid != getgid())
		return true;
	return getxattr(path, "security.capability", NULL, 0) > 0;
}

/* A program the loader will not preload into: say so before running it. */
static void check_program(const char *prog)
{
	char path[PATH_MAX];
	struct stat st;
	bool dynamic = false;
	Elf *e;
	size_t nph;
	int fd;

	if (find_program(prog, path) < 0 || stat(path, &st) < 0)
		return;
	if (secure_exec(path, &st))
		fprintf(stderr, "prestanda: %s runs with other privileges (setuid, setgid or file capabilities): the loader ignores LD_PRELOAD for it, nothing will be recorded\n", path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (e && elf_kind(e) == ELF_K_ELF && elf_getphdrnum(e, &nph) == 0) {
		for (size_t i = 0; i < nph; i++) {
			GElf_Phdr ph;
			if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_INTERP)
				dynamic = true;
		}
		if (!dynamic)
			fprintf(stderr, "prestanda: %s is statically linked: a preload cannot enter it, nothing will be recorded; for a CPU profile use: prestanda record -- %s\n", path, prog);
	}
	if (e)
		elf_end(e);
	close(fd);
}

/* The trace pattern made absolute, so that a program that changes directory
 * still writes where the user asked. */
static void set_output(const char *pattern)
{
	char cwd[PATH_MAX], abs[2 * PATH_MAX];

	if (pattern[0] != '/' && getcwd(cwd, sizeof(cwd))) {
		snprintf(abs, sizeof(abs), "%s/%s", cwd, pattern);
		pattern = abs;
	}
	setenv("PRESTANDA_OUTPUT", pattern, 1);
}

static void set_preload(const char *lib)
{
	const char *old = getenv("LD_PRELOAD");
	char v[2 * PATH_MAX];

	if (old && *old)
		snprintf(v, sizeof(v), "%s:%s", lib, old);
	else
		snprintf(v, sizeof(v), "%s", lib);
	setenv("LD_PRELOAD", v, 1);
}

/* Every traced process appends its trace path to the manifest. */
static void print_traces(const char *manifest)
{
	FILE *f = fopen(manifest, "r");
	char line[PATH_MAX + 2];
	int n = 0;

	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		fprintf(stderr, "prestanda: trace written to %s\n", line);
		fprintf(stderr, "prestanda: read it with: prestanda report %s\n", line);
		n++;
	}
	if (f)
		fclose(f);
	if (!n)
		fprintf(stderr, "prestanda: no trace was written\n");
}

static int wait_child(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "prestanda: %d killed by signal %d (%s)\n", (int)pid,
			WTERMSIG(status), strsignal(WTERMSIG(status)));
		return 128 + WTERMSIG(status);
	}
	return 1;
}

/* A production option, passed on to the preload as PRESTANDA_*: 0 or -1
 * after saying what is wrong. */
static int production_option(int c, const char *arg)
{
	unsigned long long n;
	char v[PATH_MAX], *end;
	double d;

	switch (c) {
	case 'c':
		if (!realpath(arg, v) || access(v, R_OK)) {
			fprintf(stderr, "prestanda: --config %s: %s\n", arg, strerror(errno));
			return -1;
		}
		setenv("PRESTANDA_CONFIG", v, 1);
		return 0;
	case 'm':
		if (parse_size(arg, &n) < 0) {
			fprintf(stderr, "prestanda: --max-size: '%s' is not a size\n", arg);
			return -1;
		}
		snprintf(v, sizeof(v), "%llu", n);
		setenv("PRESTANDA_MAX_SIZE", v, 1);
		return 0;
	case 'a':
		if (strcmp(arg, "stderr") && strcmp(arg, "syslog")) {
			fprintf(stderr, "prestanda: --alert: '%s' is neither stderr nor syslog\n", arg);
			return -1;
		}
		setenv("PRESTANDA_ALERT", arg, 1);
		return 0;
	case 't':
		setenv("PRESTANDA_TOGGLE_SIGNAL", arg, 1);
		return 0;
	case 'i':
		d = strtod(arg, &end);
		if (*end || !(d > 0) || d > 86400) {
			fprintf(stderr, "prestanda: --metrics-interval: '%s' is not a number of seconds\n",
				arg);
			return -1;
		}
		snprintf(v, sizeof(v), "%llu", (unsigned long long)(d * 1000 + 0.5) ?: 1);
		setenv("PRESTANDA_METRICS_MS", v, 1);
		return 0;
	}
	return -1;
}

int pst_cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "full", no_argument, NULL, 'f' },
		{ "sample-bytes", required_argument, NULL, 's' },
		{ "output", required_argument, NULL, 'o' },
		{ "no-follow", no_argument, NULL, 'n' },
		{ "cpu", optional_argument, NULL, OPT_CPU },
		{ "cpu-clock", required_argument, NULL, OPT_CPU_CLOCK },
		{ "config", required_argument, NULL, 'c' },
		{ "max-size", required_argument, NULL, 'm' },
		{ "alert", required_argument, NULL, 'a' },
		{ "toggle-signal", required_argument, NULL, 't' },
		{ "metrics-interval", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char lib[PATH_MAX], manifest[] = "/tmp/prestanda-run.XXXXXX";
	const char *output = "prestanda.%e.%p.trace";
	unsigned long long sample = 0;
	char cpu_hz[16] = "";
	int c, fd, rc;
	pid_t pid;

	while ((c = getopt_long(argc, argv, "+o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': setenv("PRESTANDA_FULL", "1", 1); break;
		case 's':
			if (parse_size(optarg, &sample) < 0) {
				fprintf(stderr, "prestanda: --sample-bytes: '%s' is not a size\n",
					optarg);
				return 2;
			}
			break;
		case 'o': output = optarg; break;
		case 'n': setenv("PRESTANDA_NO_FOLLOW", "1", 1); break;
		case OPT_CPU: {
			char *end;
			unsigned long hz = optarg ? strtoul(optarg, &end, 10) : 99;

			if (optarg && (*end || !hz || hz > 10000)) {
				fprintf(stderr, "prestanda: --cpu: '%s' is not a rate from 1 to 10000 Hz\n",
					optarg);
				return 2;
			}
			snprintf(cpu_hz, sizeof(cpu_hz), "%lu", hz);
			break;
		}
		case OPT_CPU_CLOCK:
			if (strcmp(optarg, "cpu") && strcmp(optarg, "wall")) {
				fprintf(stderr, "prestanda: --cpu-clock: '%s' is neither cpu nor wall\n",
					optarg);
				return 2;
			}
			setenv("PRESTANDA_CPU_CLOCK", optarg, 1);
			break;
		case 'c':
		case 'm':
		case 'a':
		case 't':
		case 'i':
			if (production_option(c, optarg))
				return 2;
			break;
		case 'h': run_usage(stdout); return 0;
		default: run_usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "prestanda run: no program given\n");
		run_usage(stderr);
		return 2;
	}
	if (find_preload(lib, sizeof(lib)) < 0) {
		fprintf(stderr, "prestanda: cannot find " PRELOAD_NAME " next to prestanda or in "
				"../lib/prestanda/\n");
		return 2;
	}
	if (sample) {
		char v[32];
		snprintf(v, sizeof(v), "%llu", sample);
		setenv("PRESTANDA_SAMPLE_BYTES", v, 1);
	}
	if (getenv("PRESTANDA_CPU_CLOCK") && !*cpu_hz)
		strcpy(cpu_hz, "99"); /* --cpu-clock alone asks for CPU samples too */
	if (*cpu_hz)
		setenv("PRESTANDA_CPU", cpu_hz, 1);
	check_program(argv[optind]);
	fd = mkstemp(manifest);
	if (fd < 0) {
		fprintf(stderr, "prestanda: mkstemp %s: %s\n", manifest, strerror(errno));
		return 2;
	}
	close(fd);
	setenv("PRESTANDA_MANIFEST", manifest, 1);
	set_output(output);
	set_preload(lib);

	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "prestanda: fork: %s\n", strerror(errno));
		unlink(manifest);
		return 2;
	}
	if (pid == 0) {
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "prestanda: cannot run %s: %s\n", argv[optind], strerror(errno));
		_exit(127);
	}
	/* The terminal's ^C and ^\ are for the program; we wait for it to end. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	rc = wait_child(pid);
	print_traces(manifest);
	unlink(manifest);
	return rc;
}
