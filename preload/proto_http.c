/* SPDX-License-Identifier: MIT */
/* HTTP/1.x: request line and status line, headers read for the body's length (Content-Length, chunked, until close), bodies skipped. */
#include <stdlib.h>
#include <strings.h>

#include "hash.h"
#include "proto.h"

/* Direction states */
enum { H_START, H_HEADERS, H_BODY, H_CHUNK_SIZE, H_CHUNK, H_TRAILER };

static void http_begin(struct pst_proto_conn *c)
{
	for (int d = 0; d < 2; d++) {
		c->st[d] = H_START;
		c->clen[d] = -1;
		pst_pr_line(c, d);
	}
}

static bool header_is(const uint8_t *p, size_t n, const char *name, const char **val)
{
	size_t l = strlen(name);

	if (n <= l || strncasecmp((const char *)p, name, l) || p[l] != ':')
		return false;
	for (l++; l < n && p[l] == ' '; l++)
		;
	*val = (const char *)p + l;
	return true;
}

/* The message of direction d is whole. */
static void msg_done(struct pst_proto_conn *c, int d)
{
	c->st[d] = H_START;
	c->clen[d] = -1;
	c->chunked2[d] = 0;
	pst_pr_line(c, d);
	if (d == PST_PR_REQ)
		pst_pr_request(c, 0);
	else
		pst_pr_reply_end(c);
}

/* The reply to the oldest request has no body: HEAD, 1xx, 204, 304. */
static bool no_body(const struct pst_proto_conn *c)
{
	unsigned st = c->rep_status;

	return (c->qn && c->q[c->qhead].status) || (st >= 100 && st < 200) || st == 204 ||
	       st == 304;
}

/* The headers ended: the body, by its length or its chunks. */
static void body_begin(struct pst_proto_conn *c, int d)
{
	if (d == PST_PR_REP) {
		c->d[d].hash = PST_FNV_OFFSET; /* a reply's hash is its body's */
		if (c->rep_status >= 100 && c->rep_status < 200) { /* interim: the reply goes on */
			c->st[d] = H_START;
			return;
		}
		if (no_body(c))
			return msg_done(c, d);
	}
	if (c->chunked2[d]) {
		c->st[d] = H_CHUNK_SIZE;
	} else if (c->clen[d] > 0) {
		c->st[d] = H_BODY;
		pst_pr_skip(c, d, (uint64_t)c->clen[d]);
	} else if (c->clen[d] < 0 && d == PST_PR_REP) { /* until the connection closes */
		c->st[d] = H_BODY;
		c->until_close = 1;
		pst_pr_skip(c, d, UINT64_MAX);
	} else {
		msg_done(c, d);
	}
}

/* The request line (d REQ) or the status line (d REP). */
static void first_line(struct pst_proto_conn *c, int d, const uint8_t *p, size_t n)
{
	const uint8_t *sp = memchr(p, ' ', n), *sp2;

	if (!n)
		return; /* the CRLF some clients send between requests */
	c->st[d] = H_HEADERS;
	if (d == PST_PR_REP) {
		c->rep_status = 0;
		for (const uint8_t *q = sp ? sp + 1 : p + n; q < p + n && *q >= '0' && *q <= '9'; q++)
			c->rep_status = c->rep_status * 10 + (uint32_t)(*q - '0');
		if (c->rep_status >= 400)
			c->rep_flags |= PST_REQ_ERROR;
		return;
	}
	pst_pr_shape_begin(c);
	pst_pr_sample(c, p, n);
	if (!sp) {
		pst_pr_shape_add(c, (const char *)p, n);
		return;
	}
	pst_pr_shape_add(c, (const char *)p, (size_t)(sp - p) + 1);
	sp2 = memchr(sp + 1, ' ', n - (size_t)(sp + 1 - p));
	pst_pr_shape_path(c, sp + 1, (size_t)((sp2 ? sp2 : p + n) - (sp + 1)));
	c->cur.status = (sp - p == 4 && !memcmp(p, "HEAD", 4));
}

static void line_token(struct pst_proto_conn *c, int d, const uint8_t *p, size_t n)
{
	char line[PST_PR_CAP + 1];
	const char *v;

	memcpy(line, p, n);
	line[n] = 0;
	switch (c->st[d]) {
	case H_START:
		return first_line(c, d, p, n);
	case H_HEADERS:
		if (!n)
			return body_begin(c, d);
		if (header_is(p, n, "content-length", &v))
			c->clen[d] = atoll(line + (v - (const char *)p));
		else if (header_is(p, n, "transfer-encoding", &v))
			c->chunked2[d] = strstr(line, "chunked") != NULL;
		return;
	case H_CHUNK_SIZE:
		c->clen[d] = strtoll(line, NULL, 16);
		if (c->clen[d] <= 0) {
			c->st[d] = H_TRAILER;
			return;
		}
		c->st[d] = H_CHUNK;
		pst_pr_skip(c, d, (uint64_t)c->clen[d] + 2);
		return;
	case H_TRAILER:
		if (!n)
			msg_done(c, d);
		return;
	}
}

static void http_token(struct pst_proto_conn *c, int d, const uint8_t *p, size_t n, bool last)
{
	(void)last;
	if (p)
		return line_token(c, d, p, n);
	if (c->st[d] == H_CHUNK) /* a skip ended: a chunk's or the body's */
		c->st[d] = H_CHUNK_SIZE;
	else
		msg_done(c, d);
}

const struct pst_pr_ops pst_pr_http = { http_begin, { http_token, http_token } };
