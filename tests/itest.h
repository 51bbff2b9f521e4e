/* SPDX-License-Identifier: MIT */
/* Integration test helpers: run targets under build/prestanda, read reports as JSON, find sites. */
#ifndef PST_ITEST_H
#define PST_ITEST_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * Paths are relative to the repository root, where the suites run; the build
 * directory is the Makefile's (build-asan for make check-asan).
 */
#ifndef PST_BUILD_DIR
#define PST_BUILD_DIR "build"
#endif
#define ITEST_PRESTANDA PST_BUILD_DIR "/prestanda"
#define ITEST_PRELOAD PST_BUILD_DIR "/libprestanda.so"
#define ITEST_TARGETS PST_BUILD_DIR "/targets/"
#define ITEST_SOURCES "tests/targets/"
#define ITEST_MAX_TRACES 16
#define ITEST_MAX_ARGS 64

#define ITEST_UNUSED __attribute__((unused))

struct itest_run {
	char dir[64];  /* fresh mkdtemp directory: traces and captured output */
	int wstatus;   /* raw wait status of `prestanda run` */
	char *out;     /* its stdout */
	char *err;     /* its stderr */
	int ntraces;   /* trace files found in dir, sorted by name */
	char traces[ITEST_MAX_TRACES][PATH_MAX];
};

struct itest_report {
	int wstatus; /* raw wait status of `prestanda report` */
	char *out, *err;
	json_t *json; /* stdout parsed, NULL when it is not JSON */
};

/* Whole file as a NUL-terminated string (NULL when unreadable). */
static ITEST_UNUSED char *itest_slurp(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return NULL;
	do {
		if (cap - len < 4096) {
			cap = cap ? 2 * cap : 65536;
			buf = realloc(buf, cap + 1);
			cr_assert(buf);
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = 0;
	if (lenp)
		*lenp = len;
	return buf;
}

static ITEST_UNUSED void itest_write(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	cr_assert(f, "cannot create %s: %s", path, strerror(errno));
	cr_assert_eq(fwrite(data, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

/* The string s written into the existing file path (a /proc or cgroup
 * knob) in one write; false when that fails. Asserts nothing: safe in a
 * forked child. */
static ITEST_UNUSED bool itest_write_ok(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	bool ok;

	if (fd < 0)
		return false;
	ok = write(fd, s, strlen(s)) == (ssize_t)strlen(s);
	close(fd);
	return ok;
}

/* What itest_exec_child does besides redirecting: */
#define ITEST_CHILD_PGRP 1        /* lead a process group of its own */
#define ITEST_CHILD_CLOSE_FDS 2   /* close every descriptor above 2 */
#define ITEST_CHILD_DFL_SIGNALS 4 /* default TERM, INT, HUP, QUIT; nothing blocked */
#define ITEST_CHILD_CORES 8       /* keep the core limit (else: no core dumps) */

/* In a forked child: stdin from /dev/null, stdout and stderr to the given
 * files (NULL: /dev/null), then exec argv (no shell). Never returns: exits
 * 126 when the set-up fails, 127 when exec does. */
static ITEST_UNUSED void itest_exec_child(char *const argv[], const char *out_path,
					  const char *err_path, int flags)
{
	struct rlimit nocore = { 0, 0 };
	int in = open("/dev/null", O_RDONLY);
	int out = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int err = open(err_path ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (in < 0 || out < 0 || err < 0 || ((flags & ITEST_CHILD_PGRP) && setpgid(0, 0) != 0))
		_exit(126);
	if (!(flags & ITEST_CHILD_CORES))
		setrlimit(RLIMIT_CORE, &nocore);
	dup2(in, 0);
	dup2(out, 1);
	dup2(err, 2);
	/* nothing else open (ours, the runner's): targets count their descriptors */
	if (flags & ITEST_CHILD_CLOSE_FDS)
		close_range(3, ~0U, 0);
	if (flags & ITEST_CHILD_DFL_SIGNALS) {
		sigset_t none;

		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGQUIT, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
	}
	execv(argv[0], argv);
	_exit(127);
}

/* fork/exec argv (no shell), stdout and stderr to the given files (NULL:
 * /dev/null), no core dumps. Returns the raw wait status. */
static ITEST_UNUSED int itest_spawn(char *const argv[], const char *out_path, const char *err_path)
{
	int st;
	pid_t pid = fork();

	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0)
		itest_exec_child(argv, out_path, err_path, 0);
	while (waitpid(pid, &st, 0) < 0)
		cr_assert(errno == EINTR, "waitpid: %s", strerror(errno));
	return st;
}

/* The NULL-terminated list (or NULL) appended to argv at n; the new n. */
static ITEST_UNUSED int itest_argv_add(char **argv, int n, const char *const *list)
{
	for (; list && *list; list++) {
		cr_assert(n < ITEST_MAX_ARGS - 1);
		argv[n++] = (char *)*list;
	}
	return n;
}

/* `build/prestanda run OPTS... -o PATTERN --` appended to argv at n; the new n. */
static ITEST_UNUSED int itest_argv_run(char **argv, int n, const char *const *opts,
				       const char *pattern)
{
	const char *const head[] = { ITEST_PRESTANDA, "run", NULL };
	const char *const tail[] = { "-o", pattern, "--", NULL };

	n = itest_argv_add(argv, n, head);
	n = itest_argv_add(argv, n, opts);
	return itest_argv_add(argv, n, tail);
}

/* "exited N" or "killed by signal N", for messages. */
static ITEST_UNUSED const char *itest_wdesc(int st)
{
	static char buf[64];

	if (WIFEXITED(st))
		snprintf(buf, sizeof(buf), "exited %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, sizeof(buf), "killed by signal %d (%s)", WTERMSIG(st),
			 strsignal(WTERMSIG(st)));
	else
		snprintf(buf, sizeof(buf), "wait status %#x", st);
	return buf;
}

static ITEST_UNUSED int itest_cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Rescan r->dir for trace files: names starting "t." and holding ".trace"
 * (an exec'd image of the same pid writes "t.PID.trace.1"). */
static ITEST_UNUSED void itest_collect(struct itest_run *r)
{
	char dir[sizeof(r->dir)], path[PATH_MAX];
	DIR *d;
	struct dirent *e;

	strcpy(dir, r->dir);
	d = opendir(dir);
	cr_assert(d, "opendir %s", dir);
	r->ntraces = 0;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);

		if (strncmp(e->d_name, "t.", 2) || n < 8 || !strstr(e->d_name, ".trace") ||
		    !strcmp(e->d_name + n - 5, ".live"))
			continue;
		cr_assert(r->ntraces < ITEST_MAX_TRACES);
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		strcpy(r->traces[r->ntraces++], path);
	}
	closedir(d);
	qsort(r->traces, r->ntraces, PATH_MAX, itest_cmp_str);
}

/* A `prestanda run` command being made and its captured output's files. */
struct itest_cmd {
	char *argv[ITEST_MAX_ARGS];
	char pattern[PATH_MAX], prog[PATH_MAX], outp[PATH_MAX], errp[PATH_MAX];
};

/*
 * `VIA... build/prestanda run OPTS... -o DIR/NAME -- build/targets/TARGET
 * ARGS...` into c, with r's fresh temporary directory DIR; via, opts and
 * args are NULL-terminated (or NULL). NAME is a pattern that starts with
 * "t." ("t.%p.trace").
 */
static ITEST_UNUSED void itest_run_begin(struct itest_run *r, struct itest_cmd *c,
					 const char *const *via, const char *const *opts,
					 const char *name, const char *target,
					 const char *const *args)
{
	int n;

	memset(r, 0, sizeof(*r));
	strcpy(r->dir, "/tmp/pst-itest.XXXXXX");
	cr_assert(mkdtemp(r->dir), "mkdtemp: %s", strerror(errno));
	snprintf(c->pattern, sizeof(c->pattern), "%s/%s", r->dir, name);
	snprintf(c->prog, sizeof(c->prog), ITEST_TARGETS "%s", target);
	snprintf(c->outp, sizeof(c->outp), "%s/run.out", r->dir);
	snprintf(c->errp, sizeof(c->errp), "%s/run.err", r->dir);
	cr_assert(access(ITEST_PRESTANDA, X_OK) == 0, "%s not built", ITEST_PRESTANDA);
	cr_assert(access(c->prog, X_OK) == 0, "%s not built", c->prog);

	n = itest_argv_add(c->argv, 0, via);
	n = itest_argv_run(c->argv, n, opts, c->pattern);
	n = itest_argv_add(c->argv, n, (const char *const[]){ c->prog, NULL });
	n = itest_argv_add(c->argv, n, args);
	c->argv[n] = NULL;
}

/* The run of c ended with wait status wstatus: its output and traces into r. */
static ITEST_UNUSED void itest_run_end(struct itest_run *r, struct itest_cmd *c, int wstatus)
{
	r->wstatus = wstatus;
	r->out = itest_slurp(c->outp, NULL);
	r->err = itest_slurp(c->errp, NULL);
	unlink(c->outp);
	unlink(c->errp);
	itest_collect(r);
}

/* itest_run_begin's command (no via) run to its end. */
static ITEST_UNUSED void itest_run_as(struct itest_run *r, const char *const *opts, const char *name,
				      const char *target, const char *const *args)
{
	struct itest_cmd c;

	itest_run_begin(r, &c, NULL, opts, name, target, args);
	itest_run_end(r, &c, itest_spawn(c.argv, c.outp, c.errp));
}

/* What a target printed as "name=N" (on stdout, in out). */
static ITEST_UNUSED long long itest_printed(const char *out, const char *name)
{
	char key[64];
	const char *p;
	long long v;

	snprintf(key, sizeof(key), "%s=", name);
	p = out ? strstr(out, key) : NULL;
	cr_assert(p && sscanf(p + strlen(key), "%lld", &v) == 1, "no %s in: %s", key,
		  out ? out : "");
	return v;
}

/* `build/prestanda run OPTS... -o DIR/t.%p.trace -- ARGV...` of a program
 * outside the targets (a runtime, a system tool), to its end. */
static ITEST_UNUSED void itest_run_program(struct itest_run *r, const char *const *opts,
					   const char *const *argv)
{
	struct itest_cmd c;
	int n;

	memset(r, 0, sizeof(*r));
	strcpy(r->dir, "/tmp/pst-itest.XXXXXX");
	cr_assert(mkdtemp(r->dir), "mkdtemp: %s", strerror(errno));
	snprintf(c.pattern, sizeof(c.pattern), "%s/t.%%p.trace", r->dir);
	snprintf(c.outp, sizeof(c.outp), "%s/run.out", r->dir);
	snprintf(c.errp, sizeof(c.errp), "%s/run.err", r->dir);
	n = itest_argv_run(c.argv, 0, opts, c.pattern);
	n = itest_argv_add(c.argv, n, argv);
	c.argv[n] = NULL;
	itest_run_end(r, &c, itest_spawn(c.argv, c.outp, c.errp));
}

static ITEST_UNUSED void itest_run(struct itest_run *r, const char *const *opts, const char *target,
				   const char *const *args)
{
	itest_run_as(r, opts, "t.%p.trace", target, args);
}

/* Remove the run's directory (flat: only files). */
static ITEST_UNUSED void itest_cleanup(struct itest_run *r)
{
	DIR *d = opendir(r->dir);
	struct dirent *e;
	char p[PATH_MAX];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", r->dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(r->dir);
	free(r->out);
	free(r->err);
}

/* A fresh empty file for captured output; its name in path. */
static ITEST_UNUSED void itest_tmpfile(char *path, size_t len)
{
	int fd;

	snprintf(path, len, "/tmp/pst-itest-out.XXXXXX");
	fd = mkstemp(path);
	cr_assert(fd >= 0, "mkstemp: %s", strerror(errno));
	close(fd);
}

/* A loopback port that was free a moment ago. */
static ITEST_UNUSED int itest_free_port(void)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	socklen_t len = sizeof(in);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(fd >= 0 && !bind(fd, (struct sockaddr *)&in, sizeof(in)) &&
			  !getsockname(fd, (struct sockaddr *)&in, &len),
		  "bind: %s", strerror(errno));
	close(fd);
	return ntohs(in.sin_port);
}

/* itest_spawn with stderr dropped: stdout in *out (to free; NULL when it
 * could not be read). Returns the raw wait status. */
static ITEST_UNUSED int itest_spawn_out(char *const argv[], char **out)
{
	char path[PATH_MAX];
	int st;

	itest_tmpfile(path, sizeof(path));
	st = itest_spawn(argv, path, NULL);
	*out = itest_slurp(path, NULL);
	unlink(path);
	return st;
}

/* `build/prestanda report --json --top 100000 TRACE`; json is stdout parsed
 * (NULL when not JSON). */
static ITEST_UNUSED void itest_report(struct itest_report *rep, const char *trace)
{
	char outp[PATH_MAX], errp[PATH_MAX];
	char *argv[] = { ITEST_PRESTANDA, "report", "--json", "--top", "100000", (char *)trace, NULL };
	json_error_t jerr;

	memset(rep, 0, sizeof(*rep));
	itest_tmpfile(outp, sizeof(outp));
	itest_tmpfile(errp, sizeof(errp));
	rep->wstatus = itest_spawn(argv, outp, errp);
	rep->out = itest_slurp(outp, NULL);
	rep->err = itest_slurp(errp, NULL);
	unlink(outp);
	unlink(errp);
	cr_assert(rep->out && rep->err);
	rep->json = json_loads(rep->out, 0, &jerr);
}

static ITEST_UNUSED void itest_report_free(struct itest_report *rep)
{
	json_decref(rep->json);
	free(rep->out);
	free(rep->err);
}

/* Report a trace and require exit 0 with valid v1 JSON; returns the JSON (owned by rep). */
static ITEST_UNUSED json_t *itest_report_ok(struct itest_report *rep, const char *trace)
{
	itest_report(rep, trace);
	cr_assert(WIFEXITED(rep->wstatus) && WEXITSTATUS(rep->wstatus) == 0,
		  "report %s: %s; stderr: %s", trace, itest_wdesc(rep->wstatus), rep->err);
	cr_assert(rep->json, "report %s: stdout is not JSON: %.300s", trace, rep->out);
	cr_assert(json_is_integer(json_object_get(rep->json, "prestanda_report")) &&
			  json_integer_value(json_object_get(rep->json, "prestanda_report")) == 1,
		  "report %s: no \"prestanda_report\": 1", trace);
	return rep->json;
}

/* The value at a dotted path ("memory.alloc_calls"), asserting it exists. */
static ITEST_UNUSED json_t *itest_get(json_t *obj, const char *path)
{
	char buf[256], *save = NULL, *key;
	json_t *v = obj;

	snprintf(buf, sizeof(buf), "%s", path);
	for (key = strtok_r(buf, ".", &save); key; key = strtok_r(NULL, ".", &save)) {
		cr_assert(json_is_object(v), "JSON: no object at '%s' of '%s'", key, path);
		v = json_object_get(v, key);
		cr_assert(v, "JSON: no key '%s' of '%s'", key, path);
	}
	return v;
}

static ITEST_UNUSED long long itest_int(json_t *obj, const char *path)
{
	json_t *v = itest_get(obj, path);

	cr_assert(json_is_integer(v), "JSON: '%s' is not an integer", path);
	return json_integer_value(v);
}

static ITEST_UNUSED const char *itest_str(json_t *obj, const char *path)
{
	json_t *v = itest_get(obj, path);

	cr_assert(json_is_string(v), "JSON: '%s' is not a string", path);
	return json_string_value(v);
}

static ITEST_UNUSED bool itest_bool(json_t *obj, const char *path)
{
	json_t *v = itest_get(obj, path);

	cr_assert(json_is_boolean(v), "JSON: '%s' is not a boolean", path);
	return json_is_true(v);
}

/* Does a symbolized function name denote fn? Exact, or fn followed by a C++
 * parameter list ("make_nodes(int)"). */
static ITEST_UNUSED bool itest_fn_is(const char *name, const char *fn)
{
	size_t n = strlen(fn);

	return name && !strncmp(name, fn, n) && (name[n] == 0 || name[n] == '(');
}

static ITEST_UNUSED bool itest_has_suffix(const char *s, const char *suffix)
{
	size_t a = s ? strlen(s) : 0, b = strlen(suffix);

	return s && a >= b && !strcmp(s + a - b, suffix);
}

/* Number of sites whose function is fn. */
static ITEST_UNUSED int itest_nsites(json_t *report, const char *fn)
{
	json_t *sites = itest_get(report, "memory.sites"), *s;
	size_t i;
	int n = 0;

	cr_assert(json_is_array(sites), "JSON: memory.sites is not an array");
	json_array_foreach(sites, i, s)
		n += itest_fn_is(json_string_value(json_object_get(s, "function")), fn);
	return n;
}

/* The one site whose function is fn (asserting there is exactly one). */
static ITEST_UNUSED json_t *itest_site(json_t *report, const char *fn)
{
	json_t *sites = itest_get(report, "memory.sites"), *s, *found = NULL;
	size_t i;
	int n = itest_nsites(report, fn);

	cr_assert_eq(n, 1, "expected exactly one site at function %s, found %d", fn, n);
	json_array_foreach(sites, i, s)
		if (itest_fn_is(json_string_value(json_object_get(s, "function")), fn))
			found = s;
	return found;
}

/* The first finding with this id, or NULL. */
static ITEST_UNUSED json_t *itest_finding(json_t *report, const char *id)
{
	json_t *fs = itest_get(report, "findings"), *f;
	size_t i;

	cr_assert(json_is_array(fs), "JSON: findings is not an array");
	json_array_foreach(fs, i, f)
		if (json_is_string(json_object_get(f, "id")) &&
		    !strcmp(json_string_value(json_object_get(f, "id")), id))
			return f;
	return NULL;
}

/* Line number of the `LINE:name` marker in tests/targets/SRC. */
static ITEST_UNUSED int itest_marker_line(const char *src, const char *name)
{
	char path[PATH_MAX], marker[128], line[1024];
	FILE *f;
	int n = 0, found = 0;

	snprintf(path, sizeof(path), ITEST_SOURCES "%s", src);
	snprintf(marker, sizeof(marker), "LINE:%s", name);
	f = fopen(path, "r");
	cr_assert(f, "cannot open %s", path);
	while (fgets(line, sizeof(line), f)) {
		char *m;

		n++;
		m = strstr(line, marker);
		if (m && !(m[strlen(marker)] == '_' || isalnum((unsigned char)m[strlen(marker)]))) {
			cr_assert_eq(found, 0, "marker %s twice in %s", marker, path);
			found = n;
		}
	}
	fclose(f);
	cr_assert(found, "no marker %s in %s", marker, path);
	return found;
}

/* Count lines of a string (newline-terminated lines plus a last partial one). */
static ITEST_UNUSED int itest_lines(const char *s)
{
	int n = 0;

	for (; s && *s; s++)
		if (*s == '\n' || !s[1])
			n++;
	return n;
}

/* pid encoded in a trace path ".../t.PID.trace". */
static ITEST_UNUSED long itest_trace_pid(const char *path)
{
	const char *b = strrchr(path, '/');

	b = b ? b + 1 : path;
	cr_assert(!strncmp(b, "t.", 2));
	return strtol(b + 2, NULL, 10);
}

/* Skip the test, saying why, where this kernel or build cannot record with
 * eBPF (`record --check` exits 3); off_cpu: the off-CPU probe too. */
static ITEST_UNUSED void itest_need_ebpf(bool off_cpu)
{
	char *argv[] = { ITEST_PRESTANDA, "record", "--check", off_cpu ? "--off-cpu" : "-K", NULL };
	char errp[PATH_MAX], *err;
	int st;

	itest_tmpfile(errp, sizeof(errp));
	st = itest_spawn(argv, NULL, errp);
	err = itest_slurp(errp, NULL);
	unlink(errp);
	cr_assert(err);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 3) {
		char why[512];

		snprintf(why, sizeof(why), "eBPF unavailable here: %s", err);
		free(err);
		cr_skip_test("%s", why);
	}
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "record --check: %s; stderr: %s",
		  itest_wdesc(st), err);
	free(err);
}

#endif
