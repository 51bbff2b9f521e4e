/* SPDX-License-Identifier: MIT */
/* A trace cut by a kill gets back what its live file kept: each thread's unwritten events, as BLOCKs. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trace.h"
#include "trace_recover.h"

struct slot {
	struct pst_live_slot h;
	uint64_t off; /* of its buffer in the live file */
	bool written; /* the trace has its BLOCK already */
};

static void say(char *msg, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
}

static int open_regular(const char *path, int flags, struct stat *st)
{
	int fd = open(path, flags | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, st) || !S_ISREG(st->st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

static int by_base_ts(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;

	if (x->h.base_ts != y->h.base_ts)
		return x->h.base_ts < y->h.base_ts ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

/* The slots that hold events: tid set, 0 < used <= the buffer. */
static size_t read_slots(int fd, const struct pst_live_header *h, off_t size, struct slot **out)
{
	size_t cap = (size_t)((size - PST_LIVE_HEADER) / h->slot_bytes), n = 0;
	struct slot *v = calloc(cap ? cap : 1, sizeof(*v));

	for (size_t i = 0; v && i < cap; i++) {
		off_t at = PST_LIVE_HEADER + (off_t)i * h->slot_bytes;
		struct slot s = { .off = (uint64_t)at + PST_LIVE_SLOT_HEADER };

		if (pread(fd, &s.h, sizeof(s.h), at) != (ssize_t)sizeof(s.h))
			break;
		if (s.h.tid && s.h.used && s.h.used <= h->slot_bytes - PST_LIVE_SLOT_HEADER)
			v[n++] = s;
	}
	/* a thread's blocks in time order: the one it handed to the writer
	 * thread (a spare slot) before its current buffer */
	if (v)
		qsort(v, n, sizeof(*v), by_base_ts);
	*out = v;
	return v ? n : 0;
}

/*
 * Walk the trace's top-level records: mark the slots whose BLOCK is there
 * already (a kill between a write and the buffer's reset), and find where
 * the last whole record ends. Returns -1 on a read error, 1 if END is
 * there (nothing was lost), else 0 with *good the length to keep.
 */
static int scan_trace(int fd, struct slot *s, size_t n, off_t *good)
{
	uint8_t head[1 + 3 * PST_VARINT_MAX];
	off_t at = PST_MAGIC_LEN, size = lseek(fd, 0, SEEK_END);

	while (at < size) {
		ssize_t got = pread(fd, head, sizeof(head), at);
		const uint8_t *p = head + 1, *e = head + (got > 0 ? got : 0);
		uint64_t len;
		unsigned type = head[0];
		struct pst_rec_block h;
		off_t body;

		if (got <= 0 || pst_get_varint(&p, e, &len))
			break;
		body = at + (p - head);
		if ((uint64_t)(size - body) < len)
			break; /* cut inside this record */
		if (type == PST_REC_END)
			return 1;
		/* the head holds a BLOCK's (or ZBLOCK's) tid and base_ts, not its
		 * inner records */
		if ((type == PST_REC_BLOCK || type == PST_REC_ZBLOCK) && !pst_dec_block(p, e, &h))
			for (size_t i = 0; i < n; i++)
				if (s[i].h.tid == h.tid && s[i].h.base_ts == h.base_ts)
					s[i].written = true;
		at = body + (off_t)len;
	}
	*good = at;
	return 0;
}

static int append_slots(int tfd, int lfd, const struct slot *s, size_t n, off_t at, size_t *blocks,
			uint64_t *bytes)
{
	uint8_t *buf = NULL, hdr[PST_BLOCK_HEADER_MAX];
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i++) {
		uint8_t *e;
		void *nb;

		if (s[i].written)
			continue;
		nb = realloc(buf, s[i].h.used);
		if (!nb || pread(lfd, nb, s[i].h.used, (off_t)s[i].off) != (ssize_t)s[i].h.used) {
			buf = nb ? nb : buf;
			rc = -1;
			break;
		}
		buf = nb;
		e = pst_enc_block_header(hdr, s[i].h.tid, s[i].h.base_ts, s[i].h.used);
		if (pwrite(tfd, hdr, (size_t)(e - hdr), at) != e - hdr ||
		    pwrite(tfd, buf, s[i].h.used, at + (e - hdr)) != (ssize_t)s[i].h.used)
			rc = -1;
		at += (e - hdr) + s[i].h.used;
		(*blocks)++;
		*bytes += s[i].h.used;
	}
	free(buf);
	return rc;
}

int pst_trace_recover(const char *trace, char *msg, size_t msglen)
{
	char live[PATH_MAX + 8];
	struct pst_live_header h;
	struct stat lst, tst;
	struct slot *slots = NULL;
	size_t n, blocks = 0;
	uint64_t bytes = 0;
	off_t good = 0;
	int lfd, tfd = -1, rc = 0, ended;

	msg[0] = 0;
	if (snprintf(live, sizeof(live), "%s.live", trace) >= (int)sizeof(live))
		return 0;
	lfd = open_regular(live, O_RDONLY, &lst);
	if (lfd < 0)
		return 0;
	if (pread(lfd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    memcmp(h.magic, PST_LIVE_MAGIC, sizeof(h.magic)) || h.version != PST_VERSION ||
	    h.slot_bytes <= PST_LIVE_SLOT_HEADER || lst.st_size < PST_LIVE_HEADER) {
		say(msg, msglen, "%s: not a live file of this version, left alone", live);
		rc = -1;
		goto out;
	}
	if (h.ended) {
		unlink(live);
		goto out;
	}
	/* the process writes on: its buffers are not leftovers yet */
	if (h.pid && (kill((pid_t)h.pid, 0) == 0 || errno == EPERM))
		goto out;
	tfd = open_regular(trace, O_RDWR, &tst);
	if (tfd < 0) {
		say(msg, msglen, "%s: cannot take back the events kept in %s: %s", trace, live,
		    strerror(errno));
		rc = -1;
		goto out;
	}
	n = read_slots(lfd, &h, lst.st_size, &slots);
	ended = scan_trace(tfd, slots, n, &good);
	if (ended == 0 && (ftruncate(tfd, good) ||
			   append_slots(tfd, lfd, slots, n, good, &blocks, &bytes))) {
		say(msg, msglen, "%s: writing the events kept in %s failed: %s", trace, live,
		    strerror(errno));
		rc = -1;
		goto out;
	}
	if (ended == 0 && blocks)
		say(msg, msglen,
		    "%s: the process died with events not yet written: %llu bytes from %zu thread buffers taken back from %s",
		    trace, (unsigned long long)bytes, blocks, live);
	rc = ended == 0 && blocks;
	unlink(live);
out:
	free(slots);
	if (tfd >= 0)
		close(tfd);
	close(lfd);
	return rc;
}
