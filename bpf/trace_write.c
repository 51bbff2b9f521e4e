/* SPDX-License-Identifier: MIT */
/* The trace file of `prestanda record`: PROCESS, buffered inner records in BLOCKs, stacks written once, END. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "trace.h"
#include "record.h"

#define BUF_SIZE (256 << 10)

/* A distinct stack and its id, in an open-addressing table. */
struct stack_slot {
	uint64_t hash;
	uint64_t id;
	uint64_t *frames;
	unsigned depth;
};

struct pst_tw {
	int fd;
	uint64_t base_ts;
	uint8_t *buf;
	size_t len;
	struct stack_slot *slots;
	size_t nslots, nstacks;
	uint64_t next_id;
	int err;
};

uint64_t pst_tw_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = write(fd, b, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

int pst_tw_flush(struct pst_tw *w)
{
	uint8_t hdr[PST_BLOCK_HEADER_MAX], *e;
	int rc;

	if (w->err)
		return w->err;
	if (!w->len)
		return 0;
	e = pst_enc_block_header(hdr, 0, w->base_ts, w->len);
	rc = write_all(w->fd, hdr, (size_t)(e - hdr));
	if (!rc)
		rc = write_all(w->fd, w->buf, w->len);
	w->len = 0;
	if (rc)
		w->err = rc;
	return rc;
}

int pst_tw_record(struct pst_tw *w, const void *rec, size_t len)
{
	int rc;

	if (len > BUF_SIZE)
		return -EMSGSIZE;
	if (w->len + len > BUF_SIZE) {
		rc = pst_tw_flush(w);
		if (rc)
			return rc;
	}
	memcpy(w->buf + w->len, rec, len);
	w->len += len;
	return w->err;
}

static uint64_t hash_frames(const uint64_t *f, unsigned depth)
{
	uint64_t h = 0xcbf29ce484222325ull ^ depth;

	for (unsigned i = 0; i < depth; i++) {
		h ^= f[i];
		h *= 0x100000001b3ull;
		h ^= h >> 29;
	}
	return h ? h : 1;
}

static int grow(struct pst_tw *w)
{
	size_t n = w->nslots ? 2 * w->nslots : 4096;
	struct stack_slot *s = calloc(n, sizeof(*s));

	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < w->nslots; i++) {
		size_t j;

		if (!w->slots[i].hash)
			continue;
		for (j = w->slots[i].hash & (n - 1); s[j].hash; j = (j + 1) & (n - 1))
			;
		s[j] = w->slots[i];
	}
	free(w->slots);
	w->slots = s;
	w->nslots = n;
	return 0;
}

uint64_t pst_tw_stack(struct pst_tw *w, const uint64_t *frames, unsigned depth)
{
	uint64_t h = hash_frames(frames, depth);
	struct stack_slot *s;
	uint8_t *rec;
	size_t j;

	if (!depth)
		return 0;
	if ((w->nstacks + 1) * 4 > w->nslots * 3 && grow(w))
		return 0;
	for (j = h & (w->nslots - 1); w->slots[j].hash; j = (j + 1) & (w->nslots - 1)) {
		s = &w->slots[j];
		if (s->hash == h && s->depth == depth &&
		    !memcmp(s->frames, frames, depth * sizeof(*frames)))
			return s->id;
	}
	s = &w->slots[j];
	s->frames = malloc(depth * sizeof(*frames));
	rec = malloc(pst_stack_rec_max(depth));
	if (!s->frames || !rec) {
		free(s->frames);
		s->frames = NULL;
		free(rec);
		return 0;
	}
	memcpy(s->frames, frames, depth * sizeof(*frames));
	s->hash = h;
	s->depth = depth;
	s->id = ++w->next_id;
	w->nstacks++;
	pst_tw_record(w, rec, (size_t)(pst_enc_stack(rec, s->id, frames, depth) - rec));
	free(rec);
	return s->id;
}

struct pst_tw *pst_tw_create(const char *path, uint64_t pid, const char *exe)
{
	struct pst_tw *w = calloc(1, sizeof(*w));
	uint8_t rec[8192 + 16], *e;
	char host[256] = "", exe_c[4097];
	struct timespec rt;

	if (!w || !(w->buf = malloc(BUF_SIZE))) {
		fprintf(stderr, "prestanda: record: out of memory\n");
		free(w);
		return NULL;
	}
	w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (w->fd < 0) {
		fprintf(stderr, "prestanda: record: cannot create %s: open: %s\n", path,
			strerror(errno));
		free(w->buf);
		free(w);
		return NULL;
	}
	gethostname(host, sizeof(host) - 1);
	clock_gettime(CLOCK_REALTIME, &rt);
	w->base_ts = pst_tw_now();
	snprintf(exe_c, sizeof(exe_c), "%s", exe); /* at most 4096 bytes of it */
	/* ppid, flags (no allocation events) and sample_bytes 0 */
	e = pst_enc_process(rec, PST_VERSION, pid, 0, 0, 0,
			    (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec, w->base_ts,
			    exe_c, host);
	if (write_all(w->fd, PST_MAGIC, PST_MAGIC_LEN) || write_all(w->fd, rec, (size_t)(e - rec))) {
		fprintf(stderr, "prestanda: record: writing %s: %s\n", path, strerror(errno));
		close(w->fd);
		free(w->buf);
		free(w);
		return NULL;
	}
	return w;
}

int pst_tw_close(struct pst_tw *w, uint64_t end_ts)
{
	uint8_t rec[PST_EVENT_MAX], *e;
	int rc = pst_tw_flush(w);

	e = pst_enc_end(rec, end_ts, PST_END_EXIT, 0);
	if (!rc)
		rc = write_all(w->fd, rec, (size_t)(e - rec));
	if (close(w->fd) && !rc)
		rc = -errno;
	for (size_t i = 0; i < w->nslots; i++)
		free(w->slots[i].frames);
	free(w->slots);
	free(w->buf);
	free(w);
	return rc;
}
