/* SPDX-License-Identifier: MIT */
/* prestanda attach: exact counts of the attached window, the process as it was after detach, attaching again, the refusals, redis under load. */
#include <gelf.h>
#include <signal.h>
#include <sys/stat.h>

#include "itest.h"

#define PHASES ITEST_TARGETS "attach_phases"

/* attach_phases, its stdin and stdout as pipes of ours. */
struct phases {
	pid_t pid;      /* our child (attach_phases, or what runs it) */
	pid_t target;   /* attach_phases itself, as it says */
	FILE *in, *out;
};

static void phases_start(struct phases *p, const char *exe)
{
	int to[2], from[2];

	cr_assert(!pipe(to) && !pipe(from));
	p->pid = fork();
	cr_assert(p->pid >= 0);
	if (p->pid == 0) {
		dup2(to[0], 0);
		dup2(from[1], 1);
		dup2(open("/dev/null", O_WRONLY), 2); /* never our stderr's pipe */
		for (int fd = 3; fd < 64; fd++)
			close(fd);
		/* every entry bound at the start: none changes later but by us */
		setenv("LD_BIND_NOW", "1", 1);
		execl(exe, exe, (char *)NULL);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	p->in = fdopen(to[1], "w");
	p->out = fdopen(from[0], "r");
	cr_assert(p->in && p->out);
}

/* One command and its answer, "ok mallocs M frees F". */
static void phases_cmd(struct phases *p, const char *cmd, long want_m, long want_f)
{
	char line[128];
	long m = -1, f = -1;

	fprintf(p->in, "%s\n", cmd);
	fflush(p->in);
	cr_assert(fgets(line, sizeof(line), p->out), "%s: no answer", cmd);
	cr_assert(sscanf(line, "ok mallocs %ld frees %ld", &m, &f) == 2, "%s: %s", cmd, line);
	cr_assert(m == want_m && f == want_f, "%s: %s", cmd, line);
}

static void phases_ready(struct phases *p)
{
	char line[128];
	int pid = 0;

	cr_assert(fgets(line, sizeof(line), p->out) && sscanf(line, "ready %d", &pid) == 1);
	p->target = (pid_t)pid;
}

static void phases_end(struct phases *p)
{
	int st;

	fprintf(p->in, "quit\n");
	fclose(p->in);
	fclose(p->out);
	cr_assert(waitpid(p->pid, &st, 0) == p->pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "attach_phases: %s", itest_wdesc(st));
}

/* `prestanda attach ARGS... PID` in the background, stderr to err. */
static pid_t attach_bg(const char *const *args, pid_t target, const char *err)
{
	char *argv[16] = { ITEST_PRESTANDA, "attach" }, spid[16];
	int n = itest_argv_add(argv, 2, args);
	pid_t pid;

	snprintf(spid, sizeof(spid), "%d", (int)target);
	argv[n++] = spid;
	argv[n] = NULL;
	cr_assert(!truncate(err, 0)); /* not the last attach's words */
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0)
		itest_exec_child(argv, NULL, err, 0);
	return pid;
}

/* Until the attach command a says it records (10 s at most). */
static void wait_recording(pid_t a, const char *err)
{
	for (int i = 0; i < 1000; i++) {
		char *s = itest_slurp(err, NULL);
		bool on = s && strstr(s, "recording");
		int st;

		cr_assert(on || waitpid(a, &st, WNOHANG) != a, "attach failed: %s", s);
		free(s);
		if (on)
			return;
		usleep(10000);
	}
	cr_assert_fail("attach did not start recording");
}

/* Ctrl-C to the attach command: it detaches and exits 0. */
static void attach_end(pid_t a, const char *err)
{
	int st;
	char *s;

	kill(a, SIGINT);
	cr_assert(waitpid(a, &st, 0) == a);
	s = itest_slurp(err, NULL);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "attach: %s: %s", itest_wdesc(st), s);
	cr_assert(strstr(s, "detached from") || strstr(s, "detached already"), "%s", s);
	free(s);
}

/* `prestanda attach ARGS... PID` run to its end; its exit code, stderr in *err. */
static int attach_run(const char *const *args, pid_t target, char **err)
{
	char path[PATH_MAX];
	pid_t a;
	int st;

	itest_tmpfile(path, sizeof(path));
	a = attach_bg(args, target, path);
	cr_assert(waitpid(a, &st, 0) == a);
	*err = itest_slurp(path, NULL);
	unlink(path);
	cr_assert(WIFEXITED(st), "attach: %s", itest_wdesc(st));
	return WEXITSTATUS(st);
}

/* The descriptors of pid, as "N -> what" lines. */
static char *fd_list(pid_t pid)
{
	char dir[64], *out = calloc(1, 65536);
	struct dirent *e;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	cr_assert(out && (d = opendir(dir)));
	while ((e = readdir(d))) {
		char link[PATH_MAX + 64], to[PATH_MAX] = "";

		if (e->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
		cr_assert(readlink(link, to, sizeof(to) - 1) > 0);
		snprintf(out + strlen(out), 65536 - strlen(out), "%s -> %s\n", e->d_name, to);
	}
	closedir(d);
	return out;
}

/* Where module (its path in the maps) starts in pid: the mapping of file offset 0. */
static uint64_t module_base(pid_t pid, const char *module)
{
	char path[64], line[PATH_MAX + 128], file[PATH_MAX];
	unsigned long long lo, off;
	FILE *f;
	uint64_t base = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	cr_assert((f = fopen(path, "r")));
	while (!base && fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx-%*x %*s %llx %*s %*s %4095s", &lo, &off, file) == 3 &&
		    !strcmp(file, module) && off == 0)
			base = lo;
	fclose(f);
	cr_assert(base, "%s not mapped in %d", module, (int)pid);
	return base;
}

/*
 * The JUMP_SLOT and GLOB_DAT entries of module in pid, read from its
 * memory (the module's first PT_LOAD is at address 0: a PIE or a shared
 * library). Returns how many, at most max.
 */
static size_t got_values(pid_t pid, const char *module, uint64_t *vals, size_t max)
{
	char mem[64];
	int fd = open(module, O_RDONLY), mfd;
	uint64_t base = module_base(pid, module);
	Elf *e;
	Elf_Scn *scn = NULL;
	size_t n = 0;

	snprintf(mem, sizeof(mem), "/proc/%d/mem", (int)pid);
	mfd = open(mem, O_RDONLY);
	cr_assert(fd >= 0 && mfd >= 0);
	elf_version(EV_CURRENT);
	cr_assert((e = elf_begin(fd, ELF_C_READ, NULL)));
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA || !(d = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize && n < max; i++) {
			GElf_Rela r;
			unsigned type;

			cr_assert(gelf_getrela(d, (int)i, &r));
			type = (unsigned)GELF_R_TYPE(r.r_info);
			if (type == R_X86_64_JUMP_SLOT || type == R_X86_64_GLOB_DAT)
				cr_assert(pread(mfd, &vals[n++], 8, (off_t)(base + r.r_offset)) == 8);
		}
	}
	elf_end(e);
	close(fd);
	close(mfd);
	return n;
}

/* The C library of pid, as its maps name it. */
static void libc_of(pid_t pid, char *out, size_t len)
{
	char path[64], line[PATH_MAX + 128], file[PATH_MAX];
	FILE *f;

	out[0] = 0;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	cr_assert((f = fopen(path, "r")));
	while (!out[0] && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %*s %*s %*s %*s %4095s", file) == 1 && strstr(file, "/libc.so"))
			snprintf(out, len, "%s", file);
	fclose(f);
	cr_assert(out[0]);
}

#define MAX_GOT 4096

/* The entries of the executable and its C library, in one array. */
static size_t got_all(pid_t pid, uint64_t *vals)
{
	char exe[PATH_MAX], libc[PATH_MAX];

	cr_assert(realpath(PHASES, exe));
	libc_of(pid, libc, sizeof(libc));
	size_t n = got_values(pid, exe, vals, MAX_GOT);
	return n + got_values(pid, libc, vals + n, MAX_GOT - n);
}

static size_t got_differ(const uint64_t *a, const uint64_t *b, size_t n)
{
	size_t d = 0;

	for (size_t i = 0; i < n; i++)
		d += a[i] != b[i];
	return d;
}

/* A trace path of our own in dir (made with mkdtemp). */
static void trace_dir(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/pst-attach.XXXXXX");
	cr_assert(mkdtemp(dir));
}

/* The signals pid catches (SigCgt of its status), a mask, without glibc's
 * own 32 and 33 (SIGCANCEL, SIGSETXID: set at the first pthread_create,
 * ours of the timer thread in a program of one thread). */
static unsigned long long caught(pid_t pid)
{
	char path[64], *s, *at;
	unsigned long long mask = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	cr_assert((s = itest_slurp(path, NULL)) && (at = strstr(s, "SigCgt:")));
	sscanf(at + 7, "%llx", &mask);
	free(s);
	return mask & ~(3ull << 31);
}

/* pid's descriptors are still the list fds0, taken before the attach. */
static void fds_unchanged(pid_t pid, const char *fds0)
{
	char *now = fd_list(pid);

	cr_assert_str_eq(now, fds0);
	free(now);
}

static void check_window(json_t *rep, long allocs, long frees, long unknown)
{
	cr_assert_eq(itest_int(rep, "memory.alloc_calls"), allocs);
	cr_assert_eq(itest_int(rep, "memory.free_calls"), frees);
	cr_assert_eq(itest_int(rep, "memory.unknown_frees"), unknown);
	cr_assert(itest_bool(rep, "process.attached"));
	cr_assert_str_eq(itest_str(rep, "process.end_reason"), "detach");
	cr_assert(itest_int(rep, "process.attach_ns") > 0);
	cr_assert_eq(itest_int(rep, "process.detach_ns") - itest_int(rep, "process.attach_ns"),
		     itest_int(rep, "process.duration_ns"));
}

/* The attached trace's window: these calls, no others. */
static void trace_window(const char *trace, long allocs, long frees, long unknown)
{
	struct itest_report rep;

	check_window(itest_report_ok(&rep, trace), allocs, frees, unknown);
	itest_report_free(&rep);
}

/*
 * The program counts its own calls per phase; --full records exactly the
 * attached phase: 500 allocations, 500 frees and the 100 frees of blocks
 * kept from before the attach (unknown_frees, not errors). After the
 * detach its relocation entries and descriptors are what they were.
 */
Test(attach, full_window_exact_and_restored, .timeout = 120)
{
	struct phases p;
	char dir[64], trace[128], err[PATH_MAX], *fds0;
	static uint64_t got0[MAX_GOT], got1[MAX_GOT], got2[MAX_GOT];
	unsigned long long sigs;
	size_t n0;
	pid_t a;

	trace_dir(dir, sizeof(dir));
	snprintf(trace, sizeof(trace), "%s/t.trace", dir);
	itest_tmpfile(err, sizeof(err));
	phases_start(&p, PHASES);
	phases_ready(&p);
	phases_cmd(&p, "keep 100", 100, 0);
	phases_cmd(&p, "churn 10", 10, 10);
	fds0 = fd_list(p.target);
	n0 = got_all(p.target, got0);
	sigs = caught(p.target);
	a = attach_bg((const char *const[]){ "--full", "-o", trace, NULL }, p.target, err);
	wait_recording(a, err);
	cr_assert_eq(caught(p.target), sigs, "a handler of ours while attached");
	cr_assert_eq(got_all(p.target, got1), n0);
	cr_assert(got_differ(got0, got1, n0) >= 2, "no entry points at the hooks while attached");
	phases_cmd(&p, "churn 500", 500, 500);
	phases_cmd(&p, "fork 70", 0, 0); /* the child's calls are its own: no trace */
	phases_cmd(&p, "drop", 0, 100);
	attach_end(a, err);
	cr_assert_eq(got_all(p.target, got2), n0);
	cr_assert_eq(got_differ(got0, got2, n0), 0, "relocation entries differ after the detach");
	fds_unchanged(p.target, fds0);
	cr_assert_eq(caught(p.target), sigs);
	phases_cmd(&p, "churn 300", 300, 300);
	phases_end(&p);
	trace_window(trace, 500, 600, 100);
	strcat(trace, ".1"); /* a second trace of that name: the child's */
	cr_assert(access(trace, F_OK) != 0, "the forked child wrote %s", trace);
	free(fds0);
	unlink(err);
}

/* flame and diff read attached traces like any other: the churn's stack,
 * its 70 calls against 200 (+ 20 kept) a regression. */
static void flame_and_diff(const char *t1, const char *t2)
{
	char *folded[] = { ITEST_PRESTANDA, "flame", "-f", "folded", (char *)t1, NULL };
	char *diff[] = { ITEST_PRESTANDA, "diff", (char *)t1, (char *)t2, NULL }, *out;
	int st = itest_spawn_out(folded, &out);

	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0 && out && strstr(out, ";main;churn "),
		  "flame: %s", out);
	free(out);
	st = itest_spawn_out(diff, &out);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1 && strstr(out, "allocation calls"),
		  "diff: %s: %s", itest_wdesc(st), out);
	free(out);
}

/* `attach --stop PID` ends a recording another attach started; a second
 * attach records again, exactly, into a trace of its own. */
Test(attach, stop_then_attach_again, .timeout = 120)
{
	struct phases p;
	char dir[64], t1[128], t2[128], err[PATH_MAX], *msg, *fds0;
	pid_t a;

	trace_dir(dir, sizeof(dir));
	snprintf(t1, sizeof(t1), "%s/one.trace", dir);
	snprintf(t2, sizeof(t2), "%s/two.trace", dir);
	itest_tmpfile(err, sizeof(err));
	phases_start(&p, PHASES);
	phases_ready(&p);
	phases_cmd(&p, "churn 10", 10, 10);
	fds0 = fd_list(p.target);
	a = attach_bg((const char *const[]){ "--full", "-o", t1, NULL }, p.target, err);
	wait_recording(a, err);
	phases_cmd(&p, "churn 70", 70, 70);
	cr_assert_eq(attach_run((const char *const[]){ "--stop", NULL }, p.target, &msg), 0, "%s", msg);
	free(msg);
	phases_cmd(&p, "churn 30", 30, 30);
	attach_end(a, err);
	trace_window(t1, 70, 70, 0);
	/* a toggle signal asked for: its handler while attached, not after */
	setenv("PRESTANDA_TOGGLE_SIGNAL", "USR1", 1);
	a = attach_bg((const char *const[]){ "--full", "-o", t2, NULL }, p.target, err);
	unsetenv("PRESTANDA_TOGGLE_SIGNAL");
	wait_recording(a, err);
	cr_assert_eq(caught(p.target), 1ull << (SIGUSR1 - 1));
	phases_cmd(&p, "keep 20", 20, 0);
	phases_cmd(&p, "churn 200", 200, 200);
	attach_end(a, err);
	cr_assert_eq(caught(p.target), 0);
	fds_unchanged(p.target, fds0);
	phases_cmd(&p, "drop", 0, 20);
	phases_end(&p);
	trace_window(t2, 220, 200, 0);
	flame_and_diff(t1, t2);
	cr_assert_eq(attach_run((const char *const[]){ "--stop", NULL }, getpid(), &msg), 1);
	free(msg);
	free(fds0);
	unlink(err);
}

static void refused(const char *const *args, pid_t pid, const char *why)
{
	char *msg;
	int rc = attach_run(args, pid, &msg);

	cr_assert_eq(rc, 1, "attach %d: exit %d: %s", (int)pid, rc, msg);
	cr_assert(strstr(msg, why), "attach %d: wanted \"%s\" in: %s", (int)pid, why, msg);
	free(msg);
}

/* Each refusal says why, and leaves the process as it was. */
Test(attach, refusals_say_why, .timeout = 120)
{
	struct phases p, s;
	char dir[64], trace[128], err[PATH_MAX];
	pid_t a, none = 4194304 + 7; /* above pid_max's highest value */

	trace_dir(dir, sizeof(dir));
	snprintf(trace, sizeof(trace), "%s/t.trace", dir);
	refused((const char *const[]){ NULL }, none, "no such process");
	phases_start(&s, ITEST_TARGETS "attach_phases_static");
	phases_ready(&s);
	refused((const char *const[]){ NULL }, s.target, "static binary");
	phases_cmd(&s, "churn 5", 5, 5);
	phases_end(&s);
	phases_start(&p, PHASES);
	phases_ready(&p);
	itest_tmpfile(err, sizeof(err));
	a = attach_bg((const char *const[]){ "-o", trace, NULL }, p.target, err);
	wait_recording(a, err);
	refused((const char *const[]){ "-o", trace, NULL }, p.target, "already attached");
	attach_end(a, err);
	phases_cmd(&p, "churn 5", 5, 5);
	phases_end(&p);
	unlink(err);
}

/* Another user's process: ptrace says no, and attach says why. */
Test(attach, another_user_refused, .timeout = 60)
{
	struct phases p;
	char spid[16], errp[PATH_MAX], *msg;
	pid_t c;
	int st;

	if (geteuid() != 0)
		cr_skip_test("needs root to act as another user");
	phases_start(&p, PHASES);
	phases_ready(&p);
	snprintf(spid, sizeof(spid), "%d", (int)p.target);
	itest_tmpfile(errp, sizeof(errp));
	chmod(errp, 0666);
	c = fork();
	cr_assert(c >= 0);
	if (c == 0) {
		char *argv[] = { ITEST_PRESTANDA, "attach", spid, NULL };

		if (setgid(65534) || setuid(65534))
			_exit(99);
		itest_exec_child(argv, NULL, errp, 0);
	}
	cr_assert(waitpid(c, &st, 0) == c);
	msg = itest_slurp(errp, NULL);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "%s: %s", itest_wdesc(st), msg);
	cr_assert(strstr(msg, "another user") || strstr(msg, "ptrace_scope"), "%s", msg);
	free(msg);
	unlink(errp);
	phases_cmd(&p, "churn 5", 5, 5);
	phases_end(&p);
}

/* Under `prestanda run` the preload is there already: attach refuses. */
Test(attach, under_run_refused, .timeout = 60)
{
	struct phases p;
	char dir[64], exe[PATH_MAX], wrapper[PATH_MAX + 64];
	FILE *f;

	trace_dir(dir, sizeof(dir));
	cr_assert(realpath(ITEST_PRESTANDA, exe));
	/* a script, so that phases_start can exec one program */
	snprintf(wrapper, sizeof(wrapper), "%s/run.sh", dir);
	cr_assert((f = fopen(wrapper, "w")));
	fprintf(f, "#!/bin/sh\nexec %s run -o %s/run.trace -- %s 2>/dev/null\n", exe, dir, PHASES);
	fclose(f);
	chmod(wrapper, 0755);
	phases_start(&p, wrapper);
	phases_ready(&p);
	refused((const char *const[]){ NULL }, p.target, "prestanda run");
	phases_cmd(&p, "churn 5", 5, 5);
	phases_end(&p);
}

/* redis-cli -p port CMD ARGS... (up to four words): its first line, to free. */
static char *redis(const char *port, const char *cmd, const char *a1, const char *a2)
{
	char *argv[] = { "/usr/bin/redis-cli", "-p", (char *)port, (char *)cmd, (char *)a1,
			 (char *)a2, NULL }, *out = NULL;

	itest_spawn_out(argv, &out);
	cr_assert(out, "redis-cli %s: no output", cmd);
	out[strcspn(out, "\r\n")] = 0;
	return out;
}

/* A figure of INFO's section on port ("total_connections_received"). */
static long long redis_info(const char *port, const char *section, const char *name)
{
	char *argv[] = { "/usr/bin/redis-cli", "-p", (char *)port, "info", (char *)section, NULL };
	char *out = NULL, *at;
	long long v = -1;

	itest_spawn_out(argv, &out);
	cr_assert(out && (at = strstr(out, name)), "INFO %s has no %s", section, name);
	sscanf(at + strlen(name), ":%lld", &v);
	free(out);
	return v;
}

/* jemalloc's count of allocation requests so far (MEMORY MALLOC-STATS,
 * "total:" nrequests); exact with its thread caches off. */
static long long redis_requests(const char *port)
{
	char *argv[] = { "/usr/bin/redis-cli", "-p", (char *)port, "memory", "malloc-stats", NULL };
	char *out = NULL, *at;
	long long v = -1;

	itest_spawn_out(argv, &out);
	cr_assert(out && (at = strstr(out, "\ntotal:")), "no totals in MEMORY MALLOC-STATS");
	/* allocated, nmalloc, its rate, ndalloc, its rate, nrequests */
	sscanf(at + 7, "%*d %*d %*d %*d %*d %lld", &v);
	free(out);
	return v;
}

/* A bounded load on port: SET and GET on 1000 keys from 4 clients. */
static void redis_load(const char *port, const char *n)
{
	char *argv[] = { "/usr/bin/redis-benchmark", "-p", (char *)port, "-c", "4", "-n", (char *)n,
			 "-r", "1000", "-t", "set,get", "-q", NULL }, *out = NULL;
	int st = itest_spawn_out(argv, &out);

	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "redis-benchmark: %s", itest_wdesc(st));
	cr_assert(out && strstr(out, "GET:") && !strstr(out, "rror"), "redis-benchmark: %s", out);
	free(out);
}

static void redis_expect(const char *port, const char *key, const char *want)
{
	char *v = redis(port, "get", key, NULL);

	cr_assert_str_eq(v, want, "GET %s", key);
	free(v);
}

/* The server's endpoint in the report: its accepted connections. */
static long long accepted(json_t *rep)
{
	json_t *eps = itest_get(rep, "network.endpoints"), *e;
	size_t i;
	long long n = 0;

	json_array_foreach(eps, i, e)
		if (!strcmp(json_string_value(json_object_get(e, "role")), "server"))
			n += json_integer_value(json_object_get(e, "connects"));
	return n;
}

/*
 * redis-server (Debian's: jemalloc, its own allocator) attached while
 * redis-benchmark loads it: it answers as before, during and after; the
 * trace's accepts equal INFO's total_connections_received over the window
 * (the INFO that opens it is the window's first connection); its
 * allocations equal jemalloc's own count of requests (thread caches off,
 * so that it counts each) over the window, within 1%: the edges are
 * the loading of our library and the stats command's own allocations;
 * afterwards its descriptors are what they were (several threads:
 * libunwind's pipe was pinned open, and is closed).
 */
Test(attach, redis_under_load, .timeout = 240)
{
	char dir[64], trace[128], port[16], err[PATH_MAX], log[PATH_MAX], *fds0, *ok;
	char *argv[] = { "/usr/bin/env", "MALLOC_CONF=tcache:false", "/usr/bin/redis-server", "--port",
			 port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir,
			 NULL };
	struct itest_report rep;
	long long c1, c2, k1, k2, n1, n2, allocs;
	pid_t srv, a;
	int st;

	trace_dir(dir, sizeof(dir));
	snprintf(trace, sizeof(trace), "%s/redis.trace", dir);
	snprintf(log, sizeof(log), "%s/redis.log", dir);
	snprintf(port, sizeof(port), "%d", itest_free_port());
	itest_tmpfile(err, sizeof(err));
	srv = fork();
	cr_assert(srv >= 0);
	if (srv == 0)
		itest_exec_child(argv, log, log, 0);
	for (int i = 0; i < 500 && strcmp((ok = redis(port, "ping", NULL, NULL)), "PONG"); i++) {
		free(ok);
		usleep(10000);
	}
	free(ok);
	free(redis(port, "set", "attach:key", "before"));
	redis_load(port, "2000");
	fds0 = fd_list(srv);
	n1 = redis_requests(port);
	a = attach_bg((const char *const[]){ "-o", trace, NULL }, srv, err);
	wait_recording(a, err);
	c1 = redis_info(port, "stats", "total_connections_received");
	k1 = redis_info(port, "stats", "total_commands_processed");
	redis_expect(port, "attach:key", "before");
	redis_load(port, "20000");
	k2 = redis_info(port, "stats", "total_commands_processed");
	c2 = redis_info(port, "stats", "total_connections_received"); /* the window's last */
	attach_end(a, err);
	n2 = redis_requests(port);
	fds_unchanged(srv, fds0);
	redis_expect(port, "attach:key", "before");
	redis_load(port, "2000");
	free(redis(port, "shutdown", "nosave", NULL));
	cr_assert(waitpid(srv, &st, 0) == srv);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "redis-server: %s", itest_wdesc(st));
	itest_report_ok(&rep, trace);
	cr_assert_eq(accepted(rep.json), c2 - c1 + 1, "accepts %lld, INFO %lld..%lld",
		     accepted(rep.json), c1, c2);
	allocs = itest_int(rep.json, "memory.alloc_calls");
	cr_assert(k2 - k1 >= 40000, "commands %lld", k2 - k1);
	cr_assert(llabs(allocs - (n2 - n1)) * 100 <= n2 - n1, "allocations %lld, jemalloc's %lld",
		  allocs, n2 - n1);
	cr_assert(itest_bool(rep.json, "process.attached"));
	itest_report_free(&rep);
	free(fds0);
	unlink(err);
}

/*
 * A process in another mount namespace, where build/ (and our library in
 * it) is hidden under an empty tmpfs: attach loads a copy it puts in the
 * process's own /tmp, and records as ever.
 */
Test(attach, other_mount_namespace_gets_a_copy, .timeout = 120)
{
	struct phases p;
	char dir[64], trace[128], exe[PATH_MAX], build[PATH_MAX], script[PATH_MAX + 64], err[PATH_MAX];
	char copy[64], cmd[PATH_MAX * 3], lib[PATH_MAX + 64];
	pid_t a;
	FILE *f;
	int st;

	if (geteuid() != 0)
		cr_skip_test("needs root for a mount namespace");
	trace_dir(dir, sizeof(dir));
	snprintf(trace, sizeof(trace), "%s/t.trace", dir);
	snprintf(exe, sizeof(exe), "%s/attach_phases", dir);
	snprintf(cmd, sizeof(cmd), "cp %s %s", PHASES, exe);
	cr_assert(system(cmd) == 0);
	cr_assert(realpath(PST_BUILD_DIR, build));
	snprintf(script, sizeof(script), "%s/ns.sh", dir);
	cr_assert((f = fopen(script, "w")));
	fprintf(f, "#!/bin/sh\nexec unshare --mount --propagation private sh -c 'mount -t tmpfs none %s && exec %s'\n",
		build, exe);
	fclose(f);
	chmod(script, 0755);
	phases_start(&p, script);
	phases_ready(&p);
	snprintf(lib, sizeof(lib), "/proc/%d/root%s/libprestanda.so", (int)p.target, build);
	cr_assert(access(lib, F_OK) != 0, "the library is visible in the namespace: no test");
	itest_tmpfile(err, sizeof(err));
	a = attach_bg((const char *const[]){ "--full", "-o", trace, NULL }, p.target, err);
	wait_recording(a, err);
	phases_cmd(&p, "churn 50", 50, 50);
	attach_end(a, err);
	phases_end(&p);
	trace_window(trace, 50, 50, 0);
	snprintf(copy, sizeof(copy), "/tmp/libprestanda-attach-%d.so", (int)a);
	cr_assert(unlink(copy) == 0, "no copy at %s", copy);
	cr_assert(waitpid(p.pid, &st, WNOHANG) >= 0 || errno == ECHILD);
	unlink(err);
}
