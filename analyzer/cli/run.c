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
int pst_cli_find_preload(char *out, size_t len)
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
static int wait_child(pid_t pid, const sigset_t *fwd, int *wstatus)
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
	*wstatus = status;
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

/* The session's directory made (mkdir -p) and its path from / in rs. */
static int session_dir(struct run_session *rs, const char *dir)
{
	char probe[PATH_MAX + 2];

	snprintf(probe, sizeof(probe), "%s/x", dir);
	if (pst_cli_make_parent("run", probe))
		return -1;
	if (!realpath(dir, rs->dir_abs)) {
		fprintf(stderr, "prestanda: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* The default session directory, named after the program and the pid of
 * the process run started (".N" after it when that name is taken):
 * created in the current directory, its name in dir. */
static int default_dir(struct run_session *rs, char *dir, size_t len)
{
	char name[64];
	size_t i = 0;

	for (const char *p = strrchr(rs->program[0], '/') ? strrchr(rs->program[0], '/') + 1 :
							  rs->program[0];
	     *p && i + 1 < sizeof(name); p++)
		name[i++] = (unsigned char)*p <= ' ' || *p == 0x7f ? '_' : *p;
	name[i] = 0;
	for (int n = 0; n < 100; n++) {
		if (n)
			snprintf(dir, len, "prestanda.%s.%d.%d", name, (int)rs->top, n);
		else
			snprintf(dir, len, "prestanda.%s.%d", name, (int)rs->top);
		if (mkdir(dir, 0777) == 0)
			return session_dir(rs, dir);
		if (errno != EEXIST)
			break;
	}
	fprintf(stderr, "prestanda: cannot create the session directory %s: %s\n", dir,
		strerror(errno));
	return -1;
}

/* Tell the program where its traces go, once its session directory is
 * named after its pid: the pattern down the pipe it waits on ("" leaves
 * the pattern it has). */
static void release_child(int fd, struct run_session *rs, char *dir, size_t len)
{
	char pattern[PATH_MAX + 32] = "";

	if (rs->dir == dir && !dir[0]) {
		if (default_dir(rs, dir, len))
			rs->dir = NULL;
		else
			snprintf(pattern, sizeof(pattern), "%s/%%e.%%p.trace", rs->dir_abs);
	}
	if (pattern[0] && write(fd, pattern, strlen(pattern)) < 0)
		fprintf(stderr, "prestanda: telling the program its traces' directory: %s\n",
			strerror(errno));
	close(fd);
}

/* In the program before exec: wait for run to say where the traces go. */
static void await_output(int fd)
{
	char pattern[PATH_MAX + 32];
	size_t at = 0;
	ssize_t n;

	while (at + 1 < sizeof(pattern) &&
	       ((n = read(fd, pattern + at, sizeof(pattern) - 1 - at)) > 0 || (n < 0 && errno == EINTR)))
		at += n > 0 ? (size_t)n : 0;
	close(fd);
	pattern[at] = 0;
	if (at)
		setenv(pst_options[PST_OPT_OUTPUT].env, pattern, 1);
}

/* Start the program (signals that run forwards held until its pid is
 * known) and wait for it: its status. */
static int start_and_wait(struct run_session *rs, char *dir, size_t dirlen, const char *manifest)
{
	sigset_t fwd, mask;
	pid_t pid, parent = getpid();
	int go[2];

	/* Held until the handlers know the program's pid: a signal that
	 * comes meanwhile is forwarded then. */
	sigemptyset(&fwd);
	for (size_t i = 0; i < NFORWARDED; i++)
		sigaddset(&fwd, forwarded[i]);
	if (pipe2(go, O_CLOEXEC)) {
		fprintf(stderr, "prestanda: pipe: %s\n", strerror(errno));
		return 2;
	}
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
		close(go[1]);
		await_output(go[0]);
		sigprocmask(SIG_SETMASK, &mask, NULL);
		execvp(rs->program[0], rs->program);
		fprintf(stderr, "prestanda: cannot run %s: %s\n", rs->program[0], strerror(errno));
		_exit(127);
	}
	close(go[0]);
	rs->top = pid;
	release_child(go[1], rs, dir, dirlen);
	forward_signals(pid);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	rs->status = wait_child(pid, &fwd, &rs->wstatus);
	pst_run_end(manifest, rs);
	if (rs->dir)
		rmdir(rs->dir_abs); /* nothing was written into it: not left behind */
	return rs->status;
}

/* Where the traces go: a session directory (none given, or -o DIR/), or
 * -o's pattern. 0, or 2 after saying why not. */
static int set_session(const struct run_options *o, struct run_session *rs, char *dir,
		       size_t len)
{
	const char *output = o->value[PST_OPT_OUTPUT];
	size_t n = output ? strlen(output) : 0;
	char pattern[PATH_MAX + 32];

	rs->program = o->program;
	if (find_program(o->program[0], rs->resolved))
		rs->resolved[0] = 0;
	/* until the default directory is named: the default pattern */
	set_output(output ? output : pst_options[PST_OPT_OUTPUT].dflt);
	if (!output) {
		rs->dir = dir; /* named once the program's pid is known */
		return 0;
	}
	if (!n || output[n - 1] != '/')
		return 0;
	while (n > 1 && output[n - 1] == '/')
		n--;
	snprintf(dir, len, "%.*s", (int)n, output);
	if (session_dir(rs, dir))
		return 2;
	rs->dir = dir;
	snprintf(pattern, sizeof(pattern), "%s/%%e.%%p.trace", rs->dir_abs);
	set_output(pattern);
	return 0;
}

static int run_program(const struct run_options *o)
{
	char lib[PATH_MAX], manifest[] = "/tmp/prestanda-run.XXXXXX", dir[PATH_MAX] = "";
	struct run_session rs = { 0 };
	struct pst_push *push;
	int rc;

	if (pst_cli_find_preload(lib, sizeof(lib)) < 0) {
		fprintf(stderr, "prestanda: cannot find " PRELOAD_NAME " next to prestanda or in "
				"../lib/prestanda/\n");
		return 2;
	}
	pst_run_settings(o);
	check_program(o->program[0]);
	if (make_manifest(manifest))
		return 2;
	set_stderr_id();
	if (set_session(o, &rs, dir, sizeof(dir))) {
		unlink(manifest);
		return 2;
	}
	set_preload(lib);
	push = pst_run_push_start(manifest);
	rc = start_and_wait(&rs, dir, sizeof(dir), manifest);
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
