/* SPDX-License-Identifier: MIT */
/* The trace file: naming (%p %h %e), exclusive creation, writing whole blocks, size caps, PROCESS and END; the manifest. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "pst.h"

/* Our own descriptors are written past our hooks, and closed so
 * (pst_fd_close): a number libunwind once held is refused there. */
static ssize_t own_write(int fd, const void *p, size_t n)
{
	return pst_real.write ? pst_real.write(fd, p, n) : syscall(SYS_write, fd, p, n);
}

static ssize_t own_writev(int fd, const struct iovec *iov, int n)
{
	return pst_real.writev ? pst_real.writev(fd, iov, n) : syscall(SYS_writev, fd, iov, n);
}

volatile int pst_out_broken;
volatile int pst_capped;
static uint64_t out_size;   /* bytes written or reserved */
static dev_t out_dev;
static ino_t out_ino;
static int out_writers; /* threads holding the trace open this moment */
static char out_path[PATH_MAX];
static char out_abs[PATH_MAX + 2]; /* out_path from /: the program may chdir */
/* Held since pst_out_hold, -1 before: the trace, the manifest, the live file. */
int pst_held[PST_HELD_N] = { -1, -1, -1 };
#define out_fd pst_held[PST_HELD_TRACE]
#define man_fd pst_held[PST_HELD_MANIFEST]
static bool out_final;     /* exit: the summary records go out past the event cap */
static char prog_name[64]; /* %e: the program's name at start, safe in a file name */
static char out_pattern[PATH_MAX]; /* PRESTANDA_OUTPUT and PRESTANDA_MANIFEST, read at */
static char man_path[PATH_MAX];    /* start: --no-follow takes them out of the environment */
static unsigned long long run_err_dev, run_err_ino; /* PRESTANDA_STDERR: run's own stderr */

#define DEFAULT_PATTERN "prestanda.%e.%p.trace"

static void manifest_add(const char *line, size_t len);

/* A problem of the trace, on the program's stderr and, under `prestanda
 * run`, in the manifest as "!PID\tTRACE\tMESSAGE" for run to tell its user. */
void pst_say(const char *fmt, ...)
{
	char msg[PATH_MAX + 256], line[sizeof(msg) + PATH_MAX + 48];
	struct stat st;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	n = snprintf(line, sizeof(line), "prestanda: %s\n", msg);
	if (n > 0)
		(void)!own_write(2, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	if (fstat(2, &st) == 0 && st.st_dev == run_err_dev && st.st_ino == run_err_ino)
		return; /* said where run's user reads it already */
	n = snprintf(line, sizeof(line), "!%d\t%s\t%s\n", (int)getpid(), out_abs, msg);
	if (n > 0)
		manifest_add(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static void say(const char *what, const char *path, int err)
{
	pst_say("%s %s: %s", what, path, strerror(err));
}

/* Copy src into dst[len] at *at, truncating. */
static void put(char *dst, size_t len, size_t *at, const char *src)
{
	while (*src && *at + 1 < len)
		dst[(*at)++] = *src++;
	dst[*at] = 0;
}

/*
 * The name the program started with: a process that retitles itself
 * (nginx, postgres, perl's $0) rewrites the memory argv[0] and
 * program_invocation_short_name point into, and a forked child's %e would
 * otherwise read "nginx: worker process". Taken once; a character that
 * does not belong in a file name becomes '_'.
 */
static void name_once(void)
{
	const char *n = program_invocation_short_name;
	size_t i = 0;

	if (prog_name[0])
		return;
	for (; n && n[i] && i + 1 < sizeof(prog_name); i++) {
		unsigned char c = (unsigned char)n[i];
		prog_name[i] = c == '/' || c <= ' ' || c == 0x7f ? '_' : (char)c;
	}
	prog_name[i] = 0;
	if (!i)
		strcpy(prog_name, "unknown");
}

static void expand(const char *pattern, uint64_t pid, char *dst, size_t len)
{
	char num[24], host[HOST_NAME_MAX + 1] = "";
	size_t at = 0;

	dst[0] = 0;
	for (const char *p = pattern; *p && at + 1 < len; p++) {
		if (*p != '%' || !p[1]) {
			dst[at++] = *p;
			dst[at] = 0;
			continue;
		}
		switch (*++p) {
		case 'p':
			snprintf(num, sizeof(num), "%llu", (unsigned long long)pid);
			put(dst, len, &at, num);
			break;
		case 'h':
			gethostname(host, sizeof(host) - 1);
			put(dst, len, &at, host);
			break;
		case 'e':
			put(dst, len, &at, prog_name);
			break;
		default: /* %% and unknown: the character itself */
			dst[at++] = *p;
			dst[at] = 0;
		}
	}
}

/* O_EXCL|O_NOFOLLOW: never follow a planted link, never overwrite. A name
 * taken by another process image (exec keeps the pid) gets a suffix; a
 * symbolic link at the name is refused outright (ELOOP): someone put it
 * where the trace was to go. */
static int create_exclusive(char *path, size_t len)
{
	size_t base = strlen(path);
	struct stat st;
	int fd = -1;

	for (int i = 0; i < 100; i++) {
		if (i)
			snprintf(path + base, len - base, ".%d", i);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_APPEND | O_CLOEXEC,
			  0600);
		if (fd >= 0 || errno != EEXIST)
			break;
		if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
			errno = ELOOP;
			break;
		}
	}
	return fd;
}

/*
 * The manifest (PRESTANDA_MANIFEST, made by `prestanda run`): a trace path
 * per line, and the problems pst_say tells. Appended to only when it is
 * the kind of file run makes: a regular file of this user, readable and
 * writable by nobody else, never through a link; anything else named there
 * is left alone.
 */
static int manifest_open(void)
{
	struct stat st;
	int fd;

	if (!man_path[0])
		return -1;
	fd = open(man_path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) || st.st_nlink != 1) {
		pst_fd_close(fd);
		return -1;
	}
	return fd;
}

static void manifest_add(const char *line, size_t len)
{
	int fd = man_fd >= 0 ? man_fd : manifest_open();

	if (fd < 0)
		return;
	(void)!own_write(fd, line, len);
	if (fd != man_fd)
		pst_fd_close(fd);
}

static void manifest_trace(void)
{
	char line[sizeof(out_abs) + 1];
	int n = snprintf(line, sizeof(line), "%s\n", out_abs);

	if (n > 0 && (size_t)n < sizeof(line))
		manifest_add(line, (size_t)n);
}

static void write_process(uint64_t pid)
{
	uint8_t rec[1 + 9 * PST_VARINT_MAX + PATH_MAX + HOST_NAME_MAX + 1 + PST_VARINT_MAX], *e;
	char exe[PATH_MAX], host[HOST_NAME_MAX + 1] = "";
	struct timespec rt;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	exe[n > 0 ? n : 0] = 0;
	gethostname(host, sizeof(host) - 1);
	clock_gettime(CLOCK_REALTIME, &rt);
	e = pst_enc_process(rec, PST_VERSION, pid, (uint64_t)getppid(),
			    pst_cfg.full ? PST_PROC_FULL : 0, pst_cfg.sample_bytes,
			    (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec, pst_now(), exe,
			    host);
	pst_out_write_meta(PST_MAGIC, PST_MAGIC_LEN, rec, (size_t)(e - rec));
}

void pst_out_env(void)
{
	const char *v = getenv("PRESTANDA_OUTPUT");

	snprintf(out_pattern, sizeof(out_pattern), "%s", v && *v ? v : DEFAULT_PATTERN);
	v = getenv("PRESTANDA_MANIFEST");
	snprintf(man_path, sizeof(man_path), "%s", v ? v : "");
	v = getenv("PRESTANDA_STDERR");
	if (!v || sscanf(v, "%llu:%llu", &run_err_dev, &run_err_ino) != 2)
		run_err_dev = run_err_ino = 0;
}

int pst_out_open(uint64_t pid)
{
	struct stat st;
	int fd;

	pst_out_broken = 0;
	pst_capped = 0;
	out_final = false;
	out_size = 0;
	out_abs[0] = 0;
	pst_out_release(); /* a forked child: the parent's trace is not ours */
	pst_zw_after_fork();
	name_once();
	expand(out_pattern[0] ? out_pattern : DEFAULT_PATTERN, pid, out_path,
	       sizeof(out_path) - 8);
	fd = create_exclusive(out_path, sizeof(out_path));
	if (fd < 0) {
		int err = errno;
		if (err == ELOOP)
			say("refusing to write the trace through the symbolic link at", out_path,
			    err);
		else
			say("cannot create trace", out_path, err);
		pst_out_broken = 1;
		return -err;
	}
	fstat(fd, &st);
	pst_fd_close(fd);
	out_dev = st.st_dev;
	out_ino = st.st_ino;
	if (out_path[0] == '/' || !getcwd(out_abs, PATH_MAX - strlen(out_path) - 2))
		snprintf(out_abs, sizeof(out_abs), "%s", out_path);
	else
		snprintf(out_abs + strlen(out_abs), sizeof(out_abs) - strlen(out_abs), "/%s",
			 out_path);
	pst_live_open(out_abs, pid);
	pst_zq_open();
	write_process(pid);
	manifest_trace();
	return pst_out_broken ? -EIO : 0;
}

/*
 * The trace is open only while a block is written: a program listing its
 * own descriptors (/proc/self/fd, closefrom, a child's inherited set) never
 * sees it, and one that closes every number cannot close it under us.
 * Reopened by its absolute path without following a link, and written only
 * if it is still the file we created. The cost, an open, fstat and close
 * per write, is small beside the write of a 64 KiB block.
 *
 * A program about to lose the path (a privilege drop, chroot, a seccomp or
 * Landlock sandbox, a new mount namespace) makes us hold the trace open
 * from then on instead (pst_out_hold), far from the low numbers; the close,
 * dup2, dup3, close_range and closefrom hooks keep the program from closing
 * it, and each write checks it is still our file.
 */
static bool is_ours(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && st.st_dev == out_dev && st.st_ino == out_ino;
}

static int out_open_again(void)
{
	struct rlimit old;
	int fd = open(out_abs, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && errno == EMFILE && pst_limit_raise(&old, 1)) {
		fd = open(out_abs, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
		pst_limit_restore(&old);
	}
	if (fd < 0)
		return -1;
	if (!is_ours(fd)) {
		pst_fd_close(fd);
		errno = ESTALE;
		return -1;
	}
	return fd;
}

void pst_out_hold(void)
{
	int fd, err = errno;

	if (out_fd < 0 && pst_state == PST_ON && !pst_out_broken && (fd = out_open_again()) >= 0)
		out_fd = pst_fd_park(fd);
	if (man_fd < 0 && (fd = manifest_open()) >= 0)
		man_fd = pst_fd_park(fd);
	pst_live_hold();
	errno = err;
}

void pst_out_release(void)
{
	for (int i = 0; i < PST_HELD_N; i++) {
		if (pst_held[i] >= 0)
			pst_fd_close(pst_held[i]);
		pst_held[i] = -1;
	}
}

bool pst_out_held(int fd)
{
	return fd >= 0 && (fd == out_fd || fd == man_fd || fd == pst_held[PST_HELD_LIVE]);
}

/* The numbers held, in increasing order: how many. */
int pst_out_held_list(int fds[PST_HELD_N])
{
	int n = 0;

	for (int i = 0; i < PST_HELD_N; i++) {
		int j = n++;

		if (pst_held[i] < 0) {
			n--;
			continue;
		}
		for (; j > 0 && fds[j - 1] > pst_held[i]; j--)
			fds[j] = fds[j - 1];
		fds[j] = pst_held[i];
	}
	return n;
}

/* The program dup2s onto a number we hold: ours moves first. */
void pst_out_move(int fd)
{
	int *held = NULL, to;

	for (int i = 0; i < PST_HELD_N; i++)
		if (fd >= 0 && pst_held[i] == fd)
			held = &pst_held[i];
	if (!held)
		return;
	to = fcntl(fd, F_DUPFD_CLOEXEC, fd + 1);
	if (to >= 0)
		to = pst_fd_park(to);
	pst_fd_close(fd);
	*held = to;
}

static void out_fail(int err)
{
	if (!__atomic_exchange_n(&pst_out_broken, 1, __ATOMIC_RELAXED))
		say("writing the trace failed, recording stopped:", out_path, err);
}

/*
 * Caps: --max-size, and the file size limit (RLIMIT_FSIZE), past which a
 * write would get the program killed by SIGXFSZ. Events fill the file up
 * to the cap less a reserve; the reserve holds the records that say what
 * happened next (SNAPSHOT, PAUSE, ALERT, CAPPED), the exit's summary
 * records and END, so the file never grows past the cap itself.
 */
#define END_ROOM 64

static uint64_t reserve(uint64_t cap)
{
	uint64_t r = cap / 8;

	return r > (1u << 20) ? 1u << 20 : r;
}

/* The cap now, 0 for none; *fsize whether it is the file size limit. */
static uint64_t cap_now(bool *fsize)
{
	struct rlimit rl;
	uint64_t cap = pst_cfg.max_size;

	*fsize = false;
	if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (!cap || rl.rlim_cur < cap)) {
		cap = rl.rlim_cur;
		*fsize = true;
	}
	return cap;
}

static uint64_t below(uint64_t cap, uint64_t room)
{
	return cap > room ? cap - room : 0;
}

/* Claim n bytes below limit (cap 0: no limit): false when they do not fit. */
static bool out_claim(size_t n, uint64_t cap, uint64_t limit)
{
	uint64_t at = __atomic_fetch_add(&out_size, n, __ATOMIC_RELAXED);

	if (!cap || at + n <= limit)
		return true;
	__atomic_fetch_sub(&out_size, n, __ATOMIC_RELAXED);
	return false;
}

/* The base time of a BLOCK header: when the first event left out happened. */
static uint64_t block_base_ts(const uint8_t *h, size_t len)
{
	const uint8_t *e = h + len;
	uint64_t v = 0;

	h++;
	if (len < 1 || pst_get_varint(&h, e, &v) || pst_get_varint(&h, e, &v) ||
	    pst_get_varint(&h, e, &v))
		return pst_now();
	return v;
}

/* The first block that does not fit: stop recording events, once. */
static void out_cap(const void *a, size_t alen, uint64_t cap, bool fsize)
{
	uint8_t rec[PST_PROD_REC_MAX], *e;
	uint64_t ts;

	if (__atomic_exchange_n(&pst_capped, 1, __ATOMIC_RELAXED))
		return;
	ts = alen && (*(const uint8_t *)a == PST_REC_BLOCK || *(const uint8_t *)a == PST_REC_ZBLOCK) ?
		     block_base_ts(a, alen) :
		     pst_now();
	e = pst_enc_capped(rec, ts, cap);
	pst_out_record(0, ts, rec, (size_t)(e - rec));
	if (fsize)
		pst_say("trace reached the file size limit (RLIMIT_FSIZE, %llu bytes): from now on only snapshots are written",
			(unsigned long long)cap);
	else
		pst_say("trace reached --max-size (%llu bytes): from now on only snapshots are written",
			(unsigned long long)cap);
}

/* Both parts go out in one writev: with O_APPEND, blocks of different
 * threads never interleave. */
static void out_writev(const void *a, size_t alen, const void *b, size_t blen)
{
	struct iovec iov[2] = { { (void *)a, alen }, { (void *)b, blen } };
	int i = 0, fd, err = errno;

	if (pst_out_broken)
		return;
	__atomic_add_fetch(&out_writers, 1, __ATOMIC_RELAXED);
	if (out_fd >= 0 && !is_ours(out_fd))
		out_fd = -1; /* closed behind our back (a raw syscall): the number is not ours */
	fd = out_fd >= 0 ? out_fd : out_open_again();
	if (fd < 0) {
		__atomic_sub_fetch(&out_writers, 1, __ATOMIC_RELAXED);
		out_fail(errno);
		errno = err;
		return;
	}
	while (i < 2) {
		ssize_t n = own_writev(fd, iov + i, 2 - i);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			out_fail(errno);
			break;
		}
		while (i < 2 && (size_t)n >= iov[i].iov_len)
			n -= (ssize_t)iov[i++].iov_len;
		if (i < 2) {
			iov[i].iov_base = (char *)iov[i].iov_base + n;
			iov[i].iov_len -= (size_t)n;
		}
	}
	if (fd != out_fd)
		pst_fd_close(fd);
	__atomic_sub_fetch(&out_writers, 1, __ATOMIC_RELAXED);
	errno = err;
}

/* fd is the trace, open for a write this moment (for counting the program's
 * descriptors: a fstat only while some thread writes). */
bool pst_out_is_trace(int fd)
{
	struct stat st;

	return (fd == out_fd || __atomic_load_n(&out_writers, __ATOMIC_RELAXED)) &&
	       fstat(fd, &st) == 0 && st.st_dev == out_dev && st.st_ino == out_ino;
}

void pst_out_write(const void *a, size_t alen, const void *b, size_t blen)
{
	bool fsize;
	uint64_t cap;

	if (pst_capped)
		return;
	cap = cap_now(&fsize);
	if (!out_claim(alen + blen, cap,
		       out_final ? below(cap, END_ROOM) : below(cap, reserve(cap) + END_ROOM))) {
		if (!out_final)
			out_cap(a, alen, cap, fsize);
		return;
	}
	out_writev(a, alen, b, blen);
}

void pst_out_write_meta(const void *a, size_t alen, const void *b, size_t blen)
{
	bool fsize;
	uint64_t cap = cap_now(&fsize);

	if (out_claim(alen + blen, cap, below(cap, END_ROOM)))
		out_writev(a, alen, b, blen);
}

/* Exit: after a cap, the threads' TOTALS, lock and connection summaries
 * still go out, into the reserve, so that the exact figures stay exact. */
void pst_out_final(void)
{
	if (pst_capped) {
		out_final = true;
		pst_capped = 0;
	}
}

void pst_out_record(uint64_t tid, uint64_t ts, const uint8_t *rec, size_t len)
{
	uint8_t hdr[PST_BLOCK_HEADER_MAX];
	uint8_t *h = pst_enc_block_header(hdr, tid, ts, len);

	pst_out_write_meta(hdr, (size_t)(h - hdr), rec, len);
}

uint64_t pst_out_size(void)
{
	return __atomic_load_n(&out_size, __ATOMIC_RELAXED);
}

void pst_out_end(uint64_t reason, uint64_t sig)
{
	uint8_t rec[2 + 3 * PST_VARINT_MAX];
	uint8_t *e = pst_enc_end(rec, pst_now(), reason, sig);
	bool fsize;
	uint64_t cap = cap_now(&fsize);

	if (out_claim((size_t)(e - rec), cap, cap))
		out_writev(rec, (size_t)(e - rec), NULL, 0);
	pst_live_end();
}

const char *pst_out_path(void)
{
	return out_path;
}
