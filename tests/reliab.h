/* SPDX-License-Identifier: MIT */
/* Helpers of the reliability suites: run a target, read every trace it left, count sites. */
#ifndef PST_RELIAB_H
#define PST_RELIAB_H

#include "itest.h"

#define REL_UNUSED __attribute__((unused))

/* prestanda run ended with the program's own exit status. */
#define REL_EXITED(r, code)                                                                  \
	cr_assert(WIFEXITED((r)->wstatus) && WEXITSTATUS((r)->wstatus) == (code),            \
		  "prestanda run: %s, want exit %d; stderr: %s", itest_wdesc((r)->wstatus),  \
		  (code), (r)->err)

/* Calls at the one site of function fn, 0 when there is none. */
static REL_UNUSED long long rel_calls(json_t *rep, const char *fn)
{
	return itest_nsites(rep, fn) ? itest_int(itest_site(rep, fn), "calls") : 0;
}

/* Calls at every site of function fn, whatever the stack below it. */
static REL_UNUSED long long rel_calls_in(json_t *rep, const char *fn)
{
	json_t *sites = itest_get(rep, "memory.sites"), *s;
	long long n = 0;
	size_t i;

	json_array_foreach(sites, i, s)
		if (itest_fn_is(itest_str(s, "function"), fn))
			n += json_integer_value(json_object_get(s, "calls"));
	return n;
}

/* Calls of all sites together. */
static REL_UNUSED long long rel_sum_calls(json_t *rep)
{
	json_t *sites = itest_get(rep, "memory.sites"), *s;
	long long n = 0;
	size_t i;

	json_array_foreach(sites, i, s)
		n += json_integer_value(json_object_get(s, "calls"));
	return n;
}

/* A site's calls, bytes, leaked bytes and source line, exactly. */
static REL_UNUSED void rel_check_site(json_t *rep, const char *src, const char *fn,
				      long long calls, long long bytes, long long leaked)
{
	json_t *s = itest_site(rep, fn);

	cr_expect_eq(itest_int(s, "calls"), calls, "%s: calls %lld, expected %lld", fn,
		     itest_int(s, "calls"), calls);
	cr_expect_eq(itest_int(s, "bytes"), bytes, "%s: bytes %lld, expected %lld", fn,
		     itest_int(s, "bytes"), bytes);
	cr_expect_eq(itest_int(s, "leaked_bytes"), leaked, "%s: leaked %lld, expected %lld", fn,
		     itest_int(s, "leaked_bytes"), leaked);
	cr_expect_eq(itest_int(s, "line"), itest_marker_line(src, fn), "%s: line %lld", fn,
		     itest_int(s, "line"));
	cr_expect(itest_has_suffix(itest_str(s, "file"), src), "%s: file %s", fn,
		  itest_str(s, "file"));
}

/* Reports of all of a run's traces, each complete and of the pid its name says. */
static REL_UNUSED void rel_reports(struct itest_run *r, struct itest_report *rep)
{
	for (int i = 0; i < r->ntraces; i++) {
		json_t *j = itest_report_ok(&rep[i], r->traces[i]);

		cr_expect(itest_bool(j, "process.complete"), "%s incomplete: %s", r->traces[i],
			  rep[i].err);
		cr_expect_eq(itest_int(j, "process.pid"), itest_trace_pid(r->traces[i]));
	}
}

static REL_UNUSED void rel_reports_free(struct itest_run *r, struct itest_report *rep)
{
	for (int i = 0; i < r->ntraces; i++)
		itest_report_free(&rep[i]);
}

/* The index of the one report that has a site at fn (asserting there is one). */
static REL_UNUSED int rel_which(struct itest_run *r, struct itest_report *rep, const char *fn)
{
	int found = -1;

	for (int i = 0; i < r->ntraces; i++) {
		if (!itest_nsites(rep[i].json, fn))
			continue;
		cr_assert_eq(found, -1, "%s in two traces: %s and %s", fn, r->traces[found],
			     r->traces[i]);
		found = i;
	}
	cr_assert_neq(found, -1, "no trace has a site in %s", fn);
	return found;
}

/* Does the file at path contain the bytes s? */
static REL_UNUSED bool rel_file_has(const char *path, const char *s)
{
	size_t len, n = strlen(s);
	char *buf = itest_slurp(path, &len);
	bool found = false;

	cr_assert(buf, "cannot read %s", path);
	for (size_t i = 0; i + n <= len && !found; i++)
		found = !memcmp(buf + i, s, n);
	free(buf);
	return found;
}

#include <time.h> /* the helpers below: clock_gettime */

/* Every thread's stack of every process in group pgid but its leader,
 * appended to the file at path (where gdb is installed): what a hung
 * program was waiting for. */
static REL_UNUSED void rel_dump_group_stacks(pid_t pgid, const char *path)
{
	DIR *d = opendir("/proc");
	struct dirent *e;

	if (!d || !path || access("/usr/bin/gdb", X_OK) != 0) {
		if (d)
			closedir(d);
		return;
	}
	while ((e = readdir(d))) {
		char statp[64], buf[512], *rp, cmd[PATH_MAX + 128];
		long pid = strtol(e->d_name, NULL, 10), pgrp = 0;
		FILE *f;

		if (pid <= 0 || pid == pgid)
			continue;
		snprintf(statp, sizeof(statp), "/proc/%ld/stat", pid);
		f = fopen(statp, "r");
		if (!f)
			continue;
		buf[0] = 0;
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		fclose(f);
		rp = strrchr(buf, ')');
		if (!rp || sscanf(rp + 1, " %*c %*d %ld", &pgrp) != 1 || pgrp != pgid)
			continue;
		/* each thread's name, state and kernel wait, then gdb through a
		 * live thread (a leader that left by the raw exit is a zombie) */
		snprintf(cmd, sizeof(cmd),
			 "cd /proc/%ld/task && { echo '== threads of hung pid %ld'; live=; "
			 "for t in *; do st=$(sed 's/.*) //' $t/stat | cut -c1); "
			 "echo \"$t $(cat $t/comm) $st $(cat $t/wchan)\"; "
			 "[ -z \"$live\" ] && [ \"$st\" != Z ] && live=$t; done; "
			 "[ -n \"$live\" ] && timeout 60 /usr/bin/gdb -p $live -batch -nx "
			 "-ex 'thread apply all bt'; } >> %s 2>&1",
			 pid, pid, path);
		(void)!system(cmd);
	}
	closedir(d);
}

/*
 * Wait for pid, which leads a process group, until secs seconds after t0
 * (CLOCK_MONOTONIC); when it has not ended by then, the stacks of the
 * group's processes are appended to stacks_path (NULL: not looked at), the
 * whole group is killed with SIGKILL and *hung set. Returns the raw wait
 * status.
 */
static REL_UNUSED int rel_wait_group(pid_t pid, const struct timespec *t0, int secs,
				     const char *stacks_path, bool *hung)
{
	struct timespec now;
	int st;
	pid_t w;

	*hung = false;
	for (;;) {
		w = waitpid(pid, &st, WNOHANG);
		cr_assert(w >= 0 || errno == EINTR, "waitpid: %s", strerror(errno));
		if (w == pid)
			return st;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0->tv_sec >= secs)
			break;
		usleep(20000);
	}
	*hung = true;
	if (stacks_path)
		rel_dump_group_stacks(pid, stacks_path);
	kill(-pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0)
		cr_assert(errno == EINTR, "waitpid: %s", strerror(errno));
	return st;
}

/*
 * itest_spawn with a deadline: the child leads a process group of its own,
 * and when it has not ended within secs the whole group (prestanda run and
 * the program under it) is killed with SIGKILL and *hung set, after the
 * stacks of the program's threads are appended to err_path. Returns the
 * raw wait status.
 */
static REL_UNUSED int rel_spawn_within(char *const argv[], const char *out_path,
				       const char *err_path, int secs, bool *hung)
{
	struct timespec t0;
	pid_t pid;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0)
		itest_exec_child(argv, out_path, err_path,
				 ITEST_CHILD_PGRP | ITEST_CHILD_CLOSE_FDS);
	setpgid(pid, pid); /* either side may come first */
	return rel_wait_group(pid, &t0, secs, err_path, hung);
}

/*
 * itest_run_as within secs seconds (see rel_spawn_within), started through
 * the command via (NULL-terminated: "prlimit", "--nofile=8:8"; or NULL);
 * true when it hung and was killed. Traces are collected either way, for
 * the message.
 */
static REL_UNUSED bool rel_run_within_via(struct itest_run *r, const char *const *via,
					  const char *const *opts, const char *name,
					  const char *target, const char *const *args, int secs)
{
	struct itest_cmd c;
	bool hung;

	itest_run_begin(r, &c, via, opts, name, target, args);
	itest_run_end(r, &c, rel_spawn_within(c.argv, c.outp, c.errp, secs, &hung));
	return hung;
}

static REL_UNUSED bool rel_run_within(struct itest_run *r, const char *const *opts,
				      const char *name, const char *target,
				      const char *const *args, int secs)
{
	return rel_run_within_via(r, NULL, opts, name, target, args, secs);
}

/* A target run bare (no preload) within secs, through via as in
 * rel_run_within_via: its stdout in *out (to free), its raw wait status
 * returned; asserts it did not hang. */
static REL_UNUSED int rel_bare_within_via(const char *const *via, const char *target,
					  const char *const *args, char **out, int secs)
{
	char *argv[ITEST_MAX_ARGS], prog[PATH_MAX], outp[PATH_MAX];
	bool hung;
	int n, st;

	snprintf(prog, sizeof(prog), ITEST_TARGETS "%s", target);
	cr_assert(access(prog, X_OK) == 0, "%s not built", prog);
	n = itest_argv_add(argv, 0, via);
	n = itest_argv_add(argv, n, (const char *const[]){ prog, NULL });
	argv[itest_argv_add(argv, n, args)] = NULL;
	itest_tmpfile(outp, sizeof(outp));
	st = rel_spawn_within(argv, outp, NULL, secs, &hung);
	*out = itest_slurp(outp, NULL);
	unlink(outp);
	cr_assert(*out);
	cr_assert(!hung, "bare %s did not end within %d s", target, secs);
	return st;
}

static REL_UNUSED int rel_bare_within(const char *target, const char *const *args, char **out,
				      int secs)
{
	return rel_bare_within_via(NULL, target, args, out, secs);
}

/* Does `prestanda run`'s status r stand for the program's bare status?
 * (run exits 128+N for a program killed by signal N.) */
static REL_UNUSED bool rel_same_status(int bare, int run)
{
	if (!WIFEXITED(run))
		return false;
	if (WIFEXITED(bare))
		return WEXITSTATUS(run) == WEXITSTATUS(bare);
	return WIFSIGNALED(bare) && WEXITSTATUS(run) == 128 + WTERMSIG(bare);
}

/* "NAME: SIZE bytes; ..." for every trace of a run, for messages. */
static REL_UNUSED const char *rel_trace_sizes(struct itest_run *r)
{
	static char buf[2048];
	size_t at = 0;

	buf[0] = 0;
	if (!r->ntraces)
		snprintf(buf, sizeof(buf), "no trace");
	for (int i = 0; i < r->ntraces && at < sizeof(buf); i++) {
		struct stat st;
		const char *b = strrchr(r->traces[i], '/');

		at += (size_t)snprintf(buf + at, sizeof(buf) - at, "%s%s: %lld bytes", i ? "; " : "",
				       b ? b + 1 : r->traces[i],
				       stat(r->traces[i], &st) == 0 ? (long long)st.st_size : -1LL);
	}
	return buf;
}

#endif
