/* SPDX-License-Identifier: MIT */
/* prestanda run: start a program under libprestanda.so and say where its traces went. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cli.h"
#include "run.h"
#include "trace_read.h"

#define PRELOAD_NAME "libprestanda.so"

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
 * Does exec of a file with capabilities put a caller whose real uid is not
 * root in secure mode? When the file's effective bit is set, or it grants
 * a permitted capability: the bounding set's share of its permitted set or
 * the caller's inheritable share of its inheritable set (file capabilities
 * clear the ambient set, so any of them is a gain). Under no_new_privs only
 * what the caller already holds is kept.
 */
static bool caps_elevate(const char *path)
{
	struct vfs_ns_cap_data d;
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct cur[2] = { 0 };
	ssize_t n = getxattr(path, "security.capability", &d, sizeof(d));
	bool nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1;
	uint32_t magic;
	int words;

	if (n < (ssize_t)sizeof(d.magic_etc))
		return false;
	magic = le32toh(d.magic_etc);
	if (magic & VFS_CAP_FLAGS_EFFECTIVE)
		return true;
	if (syscall(SYS_capget, &h, cur))
		return true; /* cannot tell: warn rather than not */
	words = (magic & VFS_CAP_REVISION_MASK) == VFS_CAP_REVISION_1 ? 1 : 2;
	for (int i = 0; i < words; i++) {
		uint32_t fp = le32toh(d.data[i].permitted), fi = le32toh(d.data[i].inheritable);

		for (int b = 0; b < 32; b++) {
			bool gain = ((fp >> b & 1) && prctl(PR_CAPBSET_READ, 32 * i + b, 0, 0, 0) == 1) ||
				    ((fi >> b & 1) && (cur[i].inheritable >> b & 1));

			if (gain && (!nnp || (cur[i].permitted >> b & 1)))
				return true;
		}
	}
	return false;
}

/*
 * Will the loader run path in secure-execution mode (AT_SECURE), where it
 * ignores LD_PRELOAD? As the kernel decides it: when exec leaves the
 * effective user or group id other than the real one (a set-id bit whose
 * owner is not the caller: root running a root-owned setuid program changes
 * nothing), or, for a caller whose real uid is not root, when file
 * capabilities elevate it (root gains nothing by them). A nosuid mount
 * honours neither; no_new_privs ignores set-id bits.
 */
static bool secure_exec(const char *path, const struct stat *st)
{
	uid_t euid = geteuid();
	gid_t egid = getegid();
	struct statvfs vfs;

	if (statvfs(path, &vfs) == 0 && (vfs.f_flag & ST_NOSUID))
		return false;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
		if (st->st_mode & S_ISUID)
			euid = st->st_uid;
		if ((st->st_mode & S_ISGID) && (st->st_mode & S_IXGRP))
			egid = st->st_gid;
	}
	if (euid != getuid() || egid != getgid())
		return true;
	return getuid() != 0 && caps_elevate(path);
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
	setenv(pst_options[PST_OPT_OUTPUT].env, pattern, 1);
}

/* Which file run's stderr is ("DEV:INO"): a problem the preload tells a
 * stderr that is this same file (the terminal both share) has been seen
 * already, and need not come again from the manifest. */
static void set_stderr_id(void)
{
	struct stat st;
	char v[48];

	if (fstat(2, &st))
		return;
	snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv(pst_options[PST_OPT_STDERR].env, v, 1);
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

/* Is pid a live process (not a zombie)? */
static bool alive(uint64_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	if (!pid || pid > INT_MAX || (kill((pid_t)pid, 0) && errno != EPERM))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	p = strrchr(buf, ')'); /* "pid (comm) S ...": the comm may hold anything */
	return !p || (p[1] && p[2] != 'Z' && p[2] != 'X');
}

/* A record of something the program did (not a module, stack or setting):
 * a thread's totals, memory, network, thread and lock events, CPU samples,
 * a snapshot of its counters. */
static int is_event(unsigned type, uint64_t tid, const uint8_t *payload, size_t len, void *arg)
{
	(void)tid, (void)payload, (void)len, (void)arg;
	return type == PST_REC_TOTALS || (type >= PST_REC_ALLOC && type <= PST_REC_REALLOC) ||
	       (type >= PST_REC_NET_CONN && type <= PST_REC_NET_LOOKUP) ||
	       (type >= PST_REC_THR_START && type <= PST_REC_LOCK_STATS) ||
	       type == PST_REC_SAMPLE || type == PST_REC_OFFCPU || type == PST_REC_USAMPLE ||
	       type == PST_REC_SNAPSHOT;
}

/* What became of one trace the manifest lists, in one line: written,
 * still being written by a process that runs on, cut, empty or unreadable.
 * Returns true when it can be read (it names the trace to report). */
static bool say_trace(const char *path, uint64_t *pid)
{
	char err[PATH_MAX + 256];
	struct pst_trace *t;
	struct stat st;
	bool empty, ok = false;

	*pid = 0;
	if (pst_trace_open(path, &t, err, sizeof(err))) {
		fprintf(stderr, "prestanda: %s\n", err);
		return false;
	}
	*pid = t->proc.pid;
	empty = !pst_trace_foreach(t, PST_REC_TOTALS, PST_REC_SNAPSHOT, is_event, NULL);
	if (!t->has_end && !t->error_offset && alive(t->proc.pid)) {
		fprintf(stderr, "prestanda: %s: still being written by pid %llu (it runs on; read it once it ends)\n",
			path, (unsigned long long)t->proc.pid);
	} else if (!t->has_end) {
		uint64_t at = t->error_offset ? t->error_offset :
			      stat(path, &st) ? 0 : (uint64_t)st.st_size;

		fprintf(stderr, "prestanda: %s: incomplete (cut at byte %llu: the process was killed, crashed or left by a raw exit_group)%s\n",
			path, (unsigned long long)at, empty ? "; no events were recorded in it" : "");
		ok = !empty;
	} else if (!t->complete) {
		fprintf(stderr, "prestanda: %s: damaged: %s\n", path, t->error);
		ok = !empty;
	} else if (empty) {
		fprintf(stderr, "prestanda: %s: no events were recorded in it\n", path);
	} else {
		fprintf(stderr, "prestanda: trace written to %s\n", path);
		ok = true;
	}
	pst_trace_close(t);
	return ok;
}

/*
 * The manifest: every traced process appends its trace's path, and a line
 * "!PID\tTRACE\tMESSAGE" for every problem it told its own stderr (which
 * may be a log file). The problems are said here first, on run's stderr,
 * then what became of each trace, then how to read the top process's last
 * one (else the first that can be read). pass 0: problems; 1: traces.
 */
static void print_manifest(FILE *f, int pass, pid_t top, char *hint, size_t hintlen, int *n)
{
	char *line = NULL;
	bool hint_top = false;
	size_t cap = 0;
	ssize_t len;

	rewind(f);
	while ((len = getline(&line, &cap, f)) > 0) {
		char *trace = strchr(line, '\t'), *msg = trace ? strchr(trace + 1, '\t') : NULL;
		uint64_t pid;

		if (line[len - 1] == '\n')
			line[--len] = 0;
		if (line[0] == '!') {
			if (!pass && msg)
				fprintf(stderr, "prestanda: %.*s: %s\n", (int)(trace - line - 1), line + 1,
					msg + 1);
			continue;
		}
		if (!pass || line[0] != '/')
			continue; /* traces are absolute paths; other marks are not ours */
		(*n)++;
		if (say_trace(line, &pid) && (pid == (uint64_t)top || (!*hint && !hint_top))) {
			snprintf(hint, hintlen, "%s", line);
			hint_top = pid == (uint64_t)top;
		}
	}
	free(line);
}

static void print_traces(const char *manifest, pid_t top)
{
	FILE *f = fopen(manifest, "re");
	char hint[PATH_MAX] = "";
	int n = 0;

	if (!f) {
		fprintf(stderr, "prestanda: cannot read the list of traces %s: %s\n", manifest,
			strerror(errno));
		return;
	}
	print_manifest(f, 0, top, hint, sizeof(hint), &n);
	print_manifest(f, 1, top, hint, sizeof(hint), &n);
	fclose(f);
	if (!n)
		fprintf(stderr, "prestanda: no trace was written\n");
	else if (*hint)
		fprintf(stderr, "prestanda: read it with: prestanda report %s\n", hint);
}

/* The program's pid for the forwarding handler (0 before it exists). */
static volatile sig_atomic_t child_pid;
static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT };

/*
 * A signal sent to run by a process (kill, systemd, a supervisor: si_code
 * SI_USER or SI_QUEUE, <= 0) is passed on to the program, which decides
 * what it means; run waits for it to end. The terminal's ^C, ^\ and hang-up
 * (SI_KERNEL) already reach the program with the whole foreground group:
 * passing them on would deliver them twice.
 */
static void forward(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;

	(void)uc;
	if (si->si_code <= 0 && child_pid > 0)
		kill((pid_t)child_pid, sig);
	errno = saved;
}

#define NFORWARDED (sizeof(forwarded) / sizeof(forwarded[0]))

/* The dispositions run had, back once the program has ended. */
static struct sigaction before[NFORWARDED];

/* Forward the signals run does not ignore (one ignored by whoever started
 * run is ignored by the program too, as it would be without run). */
static void forward_signals(pid_t pid)
{
	struct sigaction sa = { .sa_sigaction = forward, .sa_flags = SA_SIGINFO };

	sigemptyset(&sa.sa_mask);
	child_pid = pid;
	for (size_t i = 0; i < NFORWARDED; i++)
		if (sigaction(forwarded[i], NULL, &before[i]) == 0 && before[i].sa_handler != SIG_IGN)
			sigaction(forwarded[i], &sa, NULL);
}

/*
 * Wait for the program to end and give its status. It is reaped only once
 * nothing is forwarded any more: until then its pid cannot name another
 * process that reused it.
 */
static int wait_child(pid_t pid, const sigset_t *fwd)
{
	sigset_t mask;
	siginfo_t si;
	int status;

	while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0)
		if (errno != EINTR)
			break;
	sigprocmask(SIG_BLOCK, fwd, &mask);
	child_pid = 0;
	for (size_t i = 0; i < NFORWARDED; i++)
		sigaction(forwarded[i], &before[i], NULL);
	sigprocmask(SIG_SETMASK, &mask, NULL);
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

/* The manifest's path in manifest (a template): 0, or 2 after saying why. */
static int make_manifest(char *manifest)
{
	int fd = mkstemp(manifest);

	if (fd < 0) {
		fprintf(stderr, "prestanda: mkstemp %s: %s\n", manifest, strerror(errno));
		return 2;
	}
	close(fd);
	setenv(pst_options[PST_OPT_MANIFEST].env, manifest, 1);
	return 0;
}

/* Start the program (signals that run forwards held until its pid is
 * known) and wait for it: its status. */
static int start_and_wait(char **program, const char *manifest)
{
	sigset_t fwd, mask;
	pid_t pid, parent = getpid();
	int rc;

	/* Held until the handlers know the program's pid: a signal that
	 * comes meanwhile is forwarded then. */
	sigemptyset(&fwd);
	for (size_t i = 0; i < NFORWARDED; i++)
		sigaddset(&fwd, forwarded[i]);
	sigprocmask(SIG_BLOCK, &fwd, &mask);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "prestanda: fork: %s\n", strerror(errno));
		return 2;
	}
	if (pid == 0) {
		/* run killed outright (SIGKILL) asks the program to end too,
		 * so that it never runs on as an orphan */
		prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
		if (getppid() != parent)
			_exit(128 + SIGTERM);
		sigprocmask(SIG_SETMASK, &mask, NULL);
		execvp(program[0], program);
		fprintf(stderr, "prestanda: cannot run %s: %s\n", program[0], strerror(errno));
		_exit(127);
	}
	forward_signals(pid);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	rc = wait_child(pid, &fwd);
	print_traces(manifest, pid);
	return rc;
}

static int run_program(const struct run_options *o)
{
	char lib[PATH_MAX], manifest[] = "/tmp/prestanda-run.XXXXXX";
	const char *output = o->value[PST_OPT_OUTPUT];
	struct pst_push *push;
	int rc;

	if (find_preload(lib, sizeof(lib)) < 0) {
		fprintf(stderr, "prestanda: cannot find " PRELOAD_NAME " next to prestanda or in "
				"../lib/prestanda/\n");
		return 2;
	}
	pst_run_settings(o);
	check_program(o->program[0]);
	if (make_manifest(manifest))
		return 2;
	set_stderr_id();
	set_output(output ? output : pst_options[PST_OPT_OUTPUT].dflt);
	set_preload(lib);
	push = pst_run_push_start(manifest);
	rc = start_and_wait(o->program, manifest);
	pst_run_push_stop(push);
	unlink(manifest);
	return rc;
}

int pst_cmd_run(int argc, char **argv)
{
	struct run_options o;
	int rc = pst_run_parse(argc, argv, &o);

	return rc == PST_CLI_GO ? run_program(&o) : rc;
}
