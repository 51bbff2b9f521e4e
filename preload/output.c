/* SPDX-License-Identifier: MIT */
/* The trace file: naming (%p %h %e), exclusive creation, open only while whole blocks are written, PROCESS and END. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "pst.h"

volatile int pst_out_broken;
volatile int pst_capped;
static uint64_t out_size;   /* bytes written or reserved */
static dev_t out_dev;
static ino_t out_ino;
static int out_writers; /* threads holding the trace open this moment */
static char out_path[PATH_MAX];
static char out_abs[PATH_MAX + 2]; /* out_path from /: the program may chdir */

#define DEFAULT_PATTERN "prestanda.%e.%p.trace"

static void say(const char *what, const char *path, int err)
{
	char line[PATH_MAX + 160];
	int n = snprintf(line, sizeof(line), "prestanda: %s %s: %s\n", what, path, strerror(err));

	if (n > 0)
		(void)!write(2, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* Copy src into dst[len] at *at, truncating. */
static void put(char *dst, size_t len, size_t *at, const char *src)
{
	while (*src && *at + 1 < len)
		dst[(*at)++] = *src++;
	dst[*at] = 0;
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
			put(dst, len, &at, program_invocation_short_name);
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

static void manifest_add(const char *path)
{
	const char *m = getenv("PRESTANDA_MANIFEST");
	char abs[PATH_MAX + 2];
	int fd;

	if (!m || !*m)
		return;
	if (path[0] != '/' && getcwd(abs, PATH_MAX - strlen(path) - 2))
		snprintf(abs + strlen(abs), sizeof(abs) - strlen(abs), "/%s\n", path);
	else
		snprintf(abs, sizeof(abs), "%s\n", path);
	fd = open(m, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		(void)!write(fd, abs, strlen(abs));
		close(fd);
	}
}

static void write_process(uint64_t pid)
{
	uint8_t pay[8 * PST_VARINT_MAX + 2 * (PATH_MAX + PST_VARINT_MAX)], *q = pay;
	uint8_t rec[sizeof(pay) + 1 + PST_VARINT_MAX], *e;
	char exe[PATH_MAX], host[HOST_NAME_MAX + 1] = "";
	struct timespec rt;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	exe[n > 0 ? n : 0] = 0;
	gethostname(host, sizeof(host) - 1);
	clock_gettime(CLOCK_REALTIME, &rt);
	q = pst_put_varint(q, PST_VERSION);
	q = pst_put_varint(q, pid);
	q = pst_put_varint(q, (uint64_t)getppid());
	q = pst_put_varint(q, pst_cfg.full ? PST_PROC_FULL : 0);
	q = pst_put_varint(q, pst_cfg.sample_bytes);
	q = pst_put_varint(q, (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec);
	q = pst_put_varint(q, pst_now());
	q = pst_put_bytes(q, exe, strlen(exe));
	q = pst_put_bytes(q, host, strlen(host));
	e = pst_enc_framed(rec, PST_REC_PROCESS, pay, (size_t)(q - pay));
	pst_out_write_meta(PST_MAGIC, PST_MAGIC_LEN, rec, (size_t)(e - rec));
}

int pst_out_open(uint64_t pid)
{
	const char *pattern = getenv("PRESTANDA_OUTPUT");
	struct stat st;
	int fd;

	pst_out_broken = 0;
	pst_capped = 0;
	out_size = 0;
	expand(pattern && *pattern ? pattern : DEFAULT_PATTERN, pid, out_path,
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
	close(fd);
	out_dev = st.st_dev;
	out_ino = st.st_ino;
	if (out_path[0] == '/' || !getcwd(out_abs, PATH_MAX - strlen(out_path) - 2))
		snprintf(out_abs, sizeof(out_abs), "%s", out_path);
	else
		snprintf(out_abs + strlen(out_abs), sizeof(out_abs) - strlen(out_abs), "/%s",
			 out_path);
	write_process(pid);
	manifest_add(out_path);
	return pst_out_broken ? -EIO : 0;
}

/*
 * The trace is open only while a block is written: a program listing its
 * own descriptors (/proc/self/fd, closefrom, a child's inherited set) never
 * sees it, and one that closes every number cannot close it under us.
 * Reopened by its absolute path without following a link, and written only
 * if it is still the file we created. The cost, an open, fstat and close
 * per write, is small beside the write of a 64 KiB block.
 */
static int out_open_again(void)
{
	struct stat st;
	struct rlimit old;
	int fd = open(out_abs, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && errno == EMFILE && pst_limit_raise(&old, 1)) {
		fd = open(out_abs, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
		pst_limit_restore(&old);
	}
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || st.st_dev != out_dev || st.st_ino != out_ino) {
		close(fd);
		errno = ESTALE;
		return -1;
	}
	return fd;
}

static void out_fail(int err)
{
	if (!__atomic_exchange_n(&pst_out_broken, 1, __ATOMIC_RELAXED))
		say("writing the trace failed, recording stopped:", out_path, err);
}

/*
 * --max-size: events fill the file up to the cap less a reserve; the
 * reserve holds the records that say what happened next (SNAPSHOT, PAUSE,
 * ALERT, CAPPED) and END, so the file never grows past the cap itself.
 */
#define END_ROOM 64

static uint64_t reserve(uint64_t cap)
{
	uint64_t r = cap / 8;

	return r > (1u << 20) ? 1u << 20 : r;
}

/* Claim n bytes below limit: false when they do not fit. */
static bool out_claim(size_t n, uint64_t limit)
{
	uint64_t at = __atomic_fetch_add(&out_size, n, __ATOMIC_RELAXED);

	if (!pst_cfg.max_size || at + n <= limit)
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
static void out_cap(const void *a, size_t alen)
{
	uint8_t rec[PST_PROD_REC_MAX], *e;
	uint64_t ts;
	char line[160];
	int n;

	if (__atomic_exchange_n(&pst_capped, 1, __ATOMIC_RELAXED))
		return;
	ts = alen && *(const uint8_t *)a == PST_REC_BLOCK ? block_base_ts(a, alen) : pst_now();
	e = pst_enc_capped(rec, ts, pst_cfg.max_size);
	pst_out_record(0, ts, rec, (size_t)(e - rec));
	n = snprintf(line, sizeof(line),
		     "prestanda: trace reached --max-size (%llu bytes): from now on only snapshots are written\n",
		     (unsigned long long)pst_cfg.max_size);
	if (n > 0)
		(void)!write(2, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
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
	fd = out_open_again();
	if (fd < 0) {
		__atomic_sub_fetch(&out_writers, 1, __ATOMIC_RELAXED);
		out_fail(errno);
		errno = err;
		return;
	}
	while (i < 2) {
		ssize_t n = writev(fd, iov + i, 2 - i);
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
	close(fd);
	__atomic_sub_fetch(&out_writers, 1, __ATOMIC_RELAXED);
	errno = err;
}

/* fd is the trace, open for a write this moment (for counting the program's
 * descriptors: a fstat only while some thread writes). */
bool pst_out_is_trace(int fd)
{
	struct stat st;

	return __atomic_load_n(&out_writers, __ATOMIC_RELAXED) && fstat(fd, &st) == 0 &&
	       st.st_dev == out_dev && st.st_ino == out_ino;
}

void pst_out_write(const void *a, size_t alen, const void *b, size_t blen)
{
	if (pst_capped)
		return;
	if (!out_claim(alen + blen, pst_cfg.max_size - reserve(pst_cfg.max_size) - END_ROOM)) {
		out_cap(a, alen);
		return;
	}
	out_writev(a, alen, b, blen);
}

void pst_out_write_meta(const void *a, size_t alen, const void *b, size_t blen)
{
	if (out_claim(alen + blen, pst_cfg.max_size - END_ROOM))
		out_writev(a, alen, b, blen);
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

	if (out_claim((size_t)(e - rec), pst_cfg.max_size))
		out_writev(rec, (size_t)(e - rec), NULL, 0);
}

const char *pst_out_path(void)
{
	return out_path;
}
