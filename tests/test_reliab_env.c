/* SPDX-License-Identifier: MIT */
/* Hostile environments and security: no place to write, a full disk, no descriptors, programs the loader will not preload, planted links, secrets. */
#include <sys/mount.h>

#include "reliab.h"

#define SRC "rel_host.c"

/* Mount a tmpfs with opts on dir (root only; the test is skipped elsewhere). */
static void mount_tmpfs(const char *dir, const char *opts)
{
	cr_assert_eq(mkdir(dir, 0700), 0, "mkdir %s: %s", dir, strerror(errno));
	if (mount("none", dir, "tmpfs", 0, opts) != 0) {
		rmdir(dir);
		cr_skip_test("mount -t tmpfs -o %s: %s (needs root)", opts, strerror(errno));
	}
}

static void unmount(const char *dir)
{
	cr_expect_eq(umount(dir), 0, "umount %s: %s", dir, strerror(errno));
	rmdir(dir);
}

/* The program runs as ever, the reason is on stderr, and run says no trace was written. */
static void check_no_trace(struct itest_run *r, const char *why)
{
	REL_EXITED(r, 0);
	cr_expect_str_eq(r->out, "no secret\n");
	cr_expect(strstr(r->err, "prestanda: cannot create trace "), "stderr: %s", r->err);
	cr_expect(strstr(r->err, why), "stderr lacks '%s': %s", why, r->err);
	cr_expect(strstr(r->err, "prestanda: no trace was written\n"), "stderr: %s", r->err);
}

Test(reliab_env, output_directory_missing, .timeout = 60)
{
	struct itest_run r;

	itest_run_as(&r, NULL, "missing/t.%p.trace", "rel_host", (const char *[]){ "env", NULL });
	check_no_trace(&r, "No such file or directory");
	itest_cleanup(&r);
}

/* A scratch directory of the test's own, and a run pattern that reaches it
 * from the run's directory (itest_run_as puts patterns under that). */
static void scratch(char *base, size_t len)
{
	snprintf(base, len, "/tmp/pst-itest-rel.XXXXXX");
	cr_assert(mkdtemp(base), "mkdtemp: %s", strerror(errno));
}

static void pattern_in(char *out, size_t len, const char *base, const char *leaf)
{
	snprintf(out, len, "../%s/%s", strrchr(base, '/') + 1, leaf);
}

/* Root writes anywhere a mode allows nobody to, so read-only is a mount. */
Test(reliab_env, output_directory_read_only, .timeout = 60)
{
	struct itest_run r;
	char base[64], ro[PATH_MAX], pat[PATH_MAX];

	scratch(base, sizeof(base));
	snprintf(ro, sizeof(ro), "%s/ro", base);
	mount_tmpfs(ro, "ro,size=64k");
	pattern_in(pat, sizeof(pat), base, "ro/t.%p.trace");
	itest_run_as(&r, NULL, pat, "rel_host", (const char *[]){ "env", NULL });
	check_no_trace(&r, "Read-only file system");
	itest_cleanup(&r);
	unmount(ro);
	rmdir(base);
}

/* A 64 KiB disk fills at once: recording stops, the program does not, and
 * what was written reads as a trace cut short. */
Test(reliab_env, disk_full, .timeout = 120)
{
	struct itest_run r;
	struct itest_report rep;
	char base[64], small[PATH_MAX], pat[PATH_MAX], trace[PATH_MAX + 256];
	DIR *d;
	struct dirent *e;
	int n = 0;

	scratch(base, sizeof(base));
	snprintf(small, sizeof(small), "%s/small", base);
	mount_tmpfs(small, "size=64k");
	pattern_in(pat, sizeof(pat), base, "small/t.%p.trace");
	itest_run_as(&r, (const char *[]){ "--full", NULL }, pat, "rel_thr",
		     (const char *[]){ "churn", NULL });
	REL_EXITED(&r, 0);
	cr_expect_str_eq(r.out, "churn done\n");
	cr_expect(strstr(r.err, "prestanda: writing the trace failed, recording stopped: "),
		  "stderr: %s", r.err);
	cr_expect(strstr(r.err, "No space left on device\n"), "stderr: %s", r.err);
	d = opendir(small);
	cr_assert(d);
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "t.", 2)) {
			snprintf(trace, sizeof(trace), "%s/%s", small, e->d_name);
			n++;
		}
	closedir(d);
	cr_assert_eq(n, 1, "%d traces on the full disk", n);
	itest_report(&rep, trace);
	cr_expect(WIFEXITED(rep.wstatus) && WEXITSTATUS(rep.wstatus) == 1, "report: %s",
		  itest_wdesc(rep.wstatus));
	cr_assert(rep.json, "report of a trace cut by a full disk is not JSON: %s", rep.err);
	cr_expect_not(itest_bool(rep.json, "process.complete"));
	cr_expect(strstr(rep.err, ": truncated at offset "), "stderr: %s", rep.err);
	cr_expect_eq(itest_lines(rep.err), 1, "stderr: %s", rep.err);
	itest_report_free(&rep);
	unlink(trace);
	itest_cleanup(&r);
	unmount(small);
	rmdir(base);
}

/* Opening files until EMFILE: the profiler holds no descriptor between its
 * own calls, so the program opens as many files as bare, and the trace is
 * complete. While the program holds every descriptor and the limit cannot
 * be raised (no CAP_SYS_RESOURCE), libunwind has no pipe to check
 * addresses with: those allocations' stacks stop at the first frame. */
Test(reliab_env, descriptor_limit_reached, .timeout = 60)
{
	struct rlimit lim = { 64, 64 };
	struct itest_run r;
	struct itest_report rep;
	char *argv[] = { ITEST_TARGETS "rel_host", "emfile", NULL }, out[PATH_MAX], *bare;
	int st, nbare = 0, npre = 0;
	json_t *j;

	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &lim), 0);
	itest_tmpfile(out, sizeof(out));
	st = itest_spawn(argv, out, NULL);
	bare = itest_slurp(out, NULL);
	unlink(out);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	cr_assert_eq(sscanf(bare, "opened %d", &nbare), 1, "bare: %s", bare);
	itest_run(&r, (const char *[]){ "--full", NULL }, "rel_host", (const char *[]){ "emfile", NULL });
	REL_EXITED(&r, 0);
	cr_assert_eq(sscanf(r.out, "opened %d", &npre), 1, "preloaded: %s", r.out);
	cr_expect_eq(npre, nbare, "bare opened %d files, preloaded %d", nbare, npre);
	cr_expect_eq(r.err && strstr(r.err, "recording stopped"), NULL, "stderr: %s", r.err);
	cr_assert_eq(r.ntraces, 1);
	j = itest_report_ok(&rep, r.traces[0]);
	cr_expect(itest_bool(j, "process.complete"));
	itest_report_free(&rep);
	itest_cleanup(&r);
	free(bare);
}

/* closefrom(3) at start, and a loop of close() over every number: the
 * trace is reopened by its path and nothing is lost. */
static void check_closer(const char *mode, int calls)
{
	struct itest_run r;
	struct itest_report rep;
	json_t *j;

	itest_run(&r, (const char *[]){ "--full", NULL }, "rel_host", (const char *[]){ mode, NULL });
	REL_EXITED(&r, 0);
	cr_expect_str_eq(r.out, "closed\n");
	cr_expect_eq(r.err && strstr(r.err, "recording stopped"), NULL, "stderr: %s", r.err);
	cr_assert_eq(r.ntraces, 1);
	j = itest_report_ok(&rep, r.traces[0]);
	cr_expect(itest_bool(j, "process.complete"));
	rel_check_site(j, SRC, "allocs", calls, calls * 128LL, calls * 128LL);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

Test(reliab_env, closefrom_at_start, .timeout = 60)
{
	check_closer("closefrom", 1000);
}

Test(reliab_env, close_every_descriptor, .timeout = 60)
{
	check_closer("close_loop", 2000);
}

/* After closefrom, the program's own pipe gets the first numbers: nothing of
 * the profiler reads from it or writes into it. */
Test(reliab_env, closefrom_then_own_pipe_intact, .timeout = 60)
{
	for (int i = 0; i < 3; i++) {
		struct itest_run r;

		itest_run(&r, (const char *[]){ "--full", NULL }, "rel_host",
			  (const char *[]){ "reuse", NULL });
		REL_EXITED(&r, 0);
		cr_expect_str_eq(r.out, "read 5: intact\n");
		itest_cleanup(&r);
	}
}

/* rel_host MODE under `run --full` into r, then bare: the bare run's stdout. */
static char *run_and_bare(struct itest_run *r, const char *mode)
{
	char *argv[] = { ITEST_TARGETS "rel_host", (char *)mode, NULL }, out[PATH_MAX], *bare;

	itest_run(r, (const char *[]){ "--full", NULL }, "rel_host", (const char *[]){ mode, NULL });
	REL_EXITED(r, 0);
	snprintf(out, sizeof(out), "%s/bare.out", r->dir);
	cr_assert_eq(itest_spawn(argv, out, NULL), 0);
	bare = itest_slurp(out, NULL);
	unlink(out);
	cr_assert(bare);
	return bare;
}

/* Threads ran and were joined: the program, of one thread again, lists
 * its descriptors and finds none of the profiler's (libunwind's pipe,
 * open while several threads unwind, is closed after the next use). */
Test(reliab_env, no_descriptor_of_ours_after_threads, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep;
	char *bare = run_and_bare(&r, "list_after_threads");
	json_t *j;

	cr_assert(strstr(bare, " open from 10 up\n"), "bare: %s", bare);
	cr_expect_str_eq(r.out, bare, "preloaded and bare differ");
	free(bare);
	cr_assert_eq(r.ntraces, 1);
	j = itest_report_ok(&rep, r.traces[0]);
	cr_expect_eq(rel_calls_in(j, "allocs"), 5000);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* unshare(CLONE_NEWUSER) needs a process of one thread: the profiler's
 * timer thread steps aside for it, and comes back (a snapshot after). */
Test(reliab_env, unshare_user_namespace, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep;
	char *bare = run_and_bare(&r, "userns");
	json_t *j;

	if (strcmp(bare, "unshare: ok\n"))
		cr_skip_test("unshare(CLONE_NEWUSER) fails here without the profiler: %s", bare);
	free(bare);
	cr_expect_str_eq(r.out, "unshare: ok\n");
	cr_assert_eq(r.ntraces, 1);
	j = itest_report_ok(&rep, r.traces[0]);
	cr_expect(itest_bool(j, "process.complete"));
	cr_expect_eq(rel_calls_in(j, "allocs"), 300);
	cr_expect_geq(json_array_size(itest_get(j, "timeline")), 1, "no snapshot after the timer stepped aside");
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* setns into a user namespace (a child's), the same. */
Test(reliab_env, setns_user_namespace, .timeout = 60)
{
	struct itest_run r;
	struct itest_report rep;
	char *bare = run_and_bare(&r, "setns");
	json_t *j;
	int parent = -1;

	if (strcmp(bare, "setns: ok\n"))
		cr_skip_test("setns into a user namespace fails here without the profiler: %s", bare);
	free(bare);
	cr_expect_str_eq(r.out, "setns: ok\n");
	cr_assert_eq(r.ntraces, 2, "the program and its child");
	for (int i = 0; i < r.ntraces; i++) {
		j = itest_report_ok(&rep, r.traces[i]);
		if (rel_calls_in(j, "allocs") == 200)
			parent = i;
		itest_report_free(&rep);
	}
	cr_expect_geq(parent, 0, "no trace with the parent's 200 allocations");
	itest_cleanup(&r);
}

/* A copy of rel_host with a set-user-id bit, owned by uid, among the targets. */
static void setuid_copy(char *name, size_t len, uid_t uid)
{
	char path[PATH_MAX];
	size_t n;
	char *buf = itest_slurp(ITEST_TARGETS "rel_host", &n);

	snprintf(name, len, "rel_host_suid.%d", (int)getpid());
	snprintf(path, sizeof(path), ITEST_TARGETS "%s", name);
	cr_assert(buf);
	itest_write(path, buf, n);
	free(buf);
	cr_assert_eq(chown(path, uid, (gid_t)-1), 0, "chown: %s", strerror(errno));
	cr_assert_eq(chmod(path, 04755), 0);
}

static void setuid_remove(const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), ITEST_TARGETS "%s", name);
	unlink(path);
}

/* setuid to another user: the loader drops LD_PRELOAD, and run says so first. */
Test(reliab_env, setuid_binary, .timeout = 60)
{
	struct itest_run r;
	char prog[64];

	if (geteuid() != 0)
		cr_skip_test("needs root to make a setuid binary of another user");
	setuid_copy(prog, sizeof(prog), 65534);
	itest_run(&r, NULL, prog, (const char *[]){ "env", NULL });
	setuid_remove(prog);
	REL_EXITED(&r, 0);
	cr_expect_str_eq(r.out, "no secret\n");
	cr_expect(strstr(r.err, "runs with other privileges (setuid, setgid or file capabilities): the loader ignores LD_PRELOAD for it, nothing will be recorded\n"),
		  "stderr: %s", r.err);
	cr_expect(strstr(r.err, "prestanda: no trace was written\n"), "stderr: %s", r.err);
	cr_expect_eq(r.ntraces, 0);
	itest_cleanup(&r);
}

/* Root running a root-owned setuid program changes no id: it is preloaded. */
Test(reliab_env, setuid_to_self_is_traced, .timeout = 60)
{
	struct itest_run r;
	char prog[64];

	if (geteuid() != 0)
		cr_skip_test("needs root");
	setuid_copy(prog, sizeof(prog), 0);
	itest_run(&r, NULL, prog, (const char *[]){ "env", NULL });
	setuid_remove(prog);
	REL_EXITED(&r, 0);
	cr_expect_str_eq(r.out, "no secret\n");
	cr_expect_eq(strstr(r.err, "loader ignores"), NULL, "stderr: %s", r.err);
	cr_expect_eq(r.ntraces, 1);
	itest_cleanup(&r);
}

Test(reliab_env, static_binary, .timeout = 60)
{
	struct itest_run r;

	itest_run(&r, NULL, "rel_static", NULL);
	REL_EXITED(&r, 4);
	cr_expect_str_eq(r.out, "static ran\n");
	cr_expect(strstr(r.err, "/rel_static is statically linked: a preload cannot enter it, nothing will be recorded; for a CPU profile use: prestanda record -- "),
		  "stderr: %s", r.err);
	cr_expect(strstr(r.err, "prestanda: no trace was written\n"), "stderr: %s", r.err);
	cr_expect_eq(r.ntraces, 0);
	itest_cleanup(&r);
}

/* A program linked against an allocator of its own: its malloc calls are
 * recorded (the preload comes first) and served by that allocator, as
 * without the preload (it answers with its version). */
static void check_own_malloc(const char *target, const char *out)
{
	struct itest_run r;
	struct itest_report rep;
	json_t *j;

	itest_run(&r, (const char *[]){ "--full", NULL }, target, NULL);
	REL_EXITED(&r, 0);
	cr_expect_str_eq(r.out, out);
	cr_assert_eq(r.ntraces, 1);
	j = itest_report_ok(&rep, r.traces[0]);
	cr_expect(itest_bool(j, "process.complete"));
	rel_check_site(j, "rel_own_malloc.c", "own_work", 1000, 40000, 0);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

Test(reliab_env, own_malloc_jemalloc, .timeout = 60)
{
	check_own_malloc("rel_own_malloc", "jemalloc 5\n");
}

Test(reliab_env, own_malloc_tcmalloc, .timeout = 60)
{
	check_own_malloc("rel_own_tcmalloc", "tcmalloc 2\n");
}

/* Trace files are the owner's alone. */
Test(reliab_env, trace_mode_0600, .timeout = 60)
{
	struct itest_run r;
	struct stat st;

	itest_run(&r, NULL, "rel_host", (const char *[]){ "env", NULL });
	REL_EXITED(&r, 0);
	cr_assert_eq(r.ntraces, 1);
	cr_assert_eq(lstat(r.traces[0], &st), 0);
	cr_expect(S_ISREG(st.st_mode));
	cr_expect_eq(st.st_mode & 07777, 0600, "mode %o", st.st_mode & 07777);
	itest_cleanup(&r);
}

/* A link planted where the trace goes is not followed, and run says why. */
Test(reliab_env, planted_symlink_refused, .timeout = 60)
{
	struct itest_run r;
	char victim[PATH_MAX], link[PATH_MAX], *after;

	itest_run_as(&r, NULL, "t.first.trace", "rel_host", (const char *[]){ "env", NULL });
	snprintf(victim, sizeof(victim), "%s/victim", r.dir);
	snprintf(link, sizeof(link), "%s/t.fixed.trace", r.dir);
	itest_write(victim, "victim\n", 7);
	cr_assert_eq(symlink(victim, link), 0);
	free(r.out);
	free(r.err);
	{
		struct itest_run r2;
		char pat[PATH_MAX];

		snprintf(pat, sizeof(pat), "../%s/t.fixed.trace", strrchr(r.dir, '/') + 1);
		itest_run_as(&r2, NULL, pat, "rel_host", (const char *[]){ "env", NULL });
		REL_EXITED(&r2, 0);
		cr_expect_str_eq(r2.out, "no secret\n");
		cr_expect(strstr(r2.err, "prestanda: refusing to write the trace through the symbolic link at "),
			  "stderr: %s", r2.err);
		cr_expect(strstr(r2.err, "prestanda: no trace was written\n"), "stderr: %s", r2.err);
		itest_cleanup(&r2);
	}
	after = itest_slurp(victim, NULL);
	cr_expect_str_eq(after, "victim\n");
	free(after);
	itest_collect(&r);
	/* the first run's trace and the link, nothing next to the link */
	cr_expect_eq(r.ntraces, 2, "%d trace names in %s", r.ntraces, r.dir);
	r.out = r.err = NULL;
	itest_cleanup(&r);
}

/* What went over a socket never reaches the trace; its counts do. */
Test(reliab_env, no_payload_bytes, .timeout = 60)
{
	static const char payload[] = "PST-PAYLOAD-5b1e9d2c";
	struct itest_run r;

	itest_run(&r, (const char *[]){ "--full", NULL }, "rel_host",
		  (const char *[]){ "payload", payload, NULL });
	REL_EXITED(&r, 0);
	cr_expect_str_eq(r.out, "echoed 200 bytes\n");
	cr_assert_eq(r.ntraces, 1);
	cr_expect_not(rel_file_has(r.traces[0], payload), "the payload is in %s", r.traces[0]);
	/* the program's name is, so the search itself works */
	cr_expect(rel_file_has(r.traces[0], "rel_host"));
	itest_cleanup(&r);
}

/* An environment value is not recorded, only the program's name. */
Test(reliab_env, no_environment_values, .timeout = 60)
{
	static const char secret[] = "pst-secret-9d41c07e";
	struct itest_run r;

	setenv("REL_SECRET", secret, 1);
	itest_run(&r, (const char *[]){ "--full", NULL }, "rel_host", (const char *[]){ "env", NULL });
	REL_EXITED(&r, 0);
	cr_expect_str_eq(r.out, "has secret\n");
	cr_assert_eq(r.ntraces, 1);
	cr_expect_not(rel_file_has(r.traces[0], secret), "the secret is in %s", r.traces[0]);
	cr_expect(rel_file_has(r.traces[0], "rel_host"));
	itest_cleanup(&r);
}

/* --no-follow: the program's children run without the preload and without
 * our settings; the program itself sees none of them either, as bare. */
Test(reliab_env, no_follow_leaves_no_settings, .timeout = 60)
{
	struct itest_run r;

	itest_run(&r, (const char *[]){ "--no-follow", NULL }, "rel_env", NULL);
	REL_EXITED(&r, 0);
	cr_expect_str_eq(r.out, "parent: 0 settings, 0 preload\nchild: 0 settings, 0 preload\n");
	cr_expect_eq(r.ntraces, 1, "%d traces: the child was traced", r.ntraces);
	itest_cleanup(&r);

	/* followed: the child gets both, and a trace of its own */
	itest_run(&r, NULL, "rel_env", NULL);
	REL_EXITED(&r, 0);
	cr_expect(strstr(r.out, "child: 0 settings") == NULL, "stdout: %s", r.out);
	cr_expect_eq(r.ntraces, 2, "%d traces", r.ntraces);
	itest_cleanup(&r);
}

/* PRESTANDA_MANIFEST names a file to append trace paths to: only one made
 * the way run makes it (a regular file of this user, 0600, one link). */
static char *manifest_after(const char *dir, const char *name, mode_t mode, bool fifo)
{
	char path[PATH_MAX], pattern[PATH_MAX + 32];
	char *argv[] = { ITEST_TARGETS "rel_env", "child", NULL };
	int st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(pattern, sizeof(pattern), "%s/t.%%p.trace", dir);
	if (fifo)
		cr_assert_eq(mkfifo(path, mode), 0);
	else {
		itest_write(path, "keep\n", 5);
		cr_assert_eq(chmod(path, mode), 0);
	}
	setenv("LD_PRELOAD", ITEST_PRELOAD, 1);
	setenv("PRESTANDA_MANIFEST", path, 1);
	setenv("PRESTANDA_OUTPUT", pattern, 1);
	st = itest_spawn(argv, NULL, NULL);
	unsetenv("LD_PRELOAD");
	unsetenv("PRESTANDA_MANIFEST");
	unsetenv("PRESTANDA_OUTPUT");
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", itest_wdesc(st));
	return fifo ? NULL : itest_slurp(path, NULL);
}

Test(reliab_env, manifest_only_where_run_makes_it, .timeout = 60)
{
	char dir[] = "/tmp/pst-itest.XXXXXX", *m;
	struct itest_run r = { 0 };

	cr_assert(mkdtemp(dir));
	m = manifest_after(dir, "shared", 0644, false);
	cr_expect_str_eq(m, "keep\n", "a file others may read was appended to: %s", m);
	free(m);
	m = manifest_after(dir, "private", 0600, false);
	cr_expect(!strncmp(m, "keep\n/", 6) && strstr(m, ".trace\n"), "not appended: %s", m);
	free(m);
	/* a FIFO with no reader: never opened, the program does not block */
	manifest_after(dir, "fifo", 0600, true);
	strcpy(r.dir, dir);
	itest_cleanup(&r);
}
