/* SPDX-License-Identifier: MIT */
/* memcached's text protocol: the command and its key's pattern, data blocks skipped by length, hits and misses of gets. */
#include <stdlib.h>

#include "hash.h"
#include "proto.h"

#define WORDS 8

struct words {
	const uint8_t *w[WORDS];
	size_t len[WORDS];
	unsigned n;
};

static void split(const uint8_t *p, size_t n, struct words *ws)
{
	size_t a = 0;

	ws->n = 0;
	while (a < n && ws->n < WORDS) {
		size_t b = a;

		while (b < n && p[b] != ' ')
			b++;
		if (b > a) {
			ws->w[ws->n] = p + a;
			ws->len[ws->n++] = b - a;
		}
		a = b + 1;
	}
}

static bool word_is(const struct words *ws, unsigned i, const char *s)
{
	return i < ws->n && ws->len[i] == strlen(s) && !memcmp(ws->w[i], s, ws->len[i]);
}

static uint64_t word_num(const struct words *ws, unsigned i)
{
	char b[24];
	size_t n = i < ws->n ? ws->len[i] : 0;

	if (n > sizeof(b) - 1)
		n = sizeof(b) - 1;
	memcpy(b, i < ws->n ? (const char *)ws->w[i] : "", n);
	b[n] = 0;
	return strtoull(b, NULL, 10);
}

static void memc_begin(struct pst_proto_conn *c)
{
	pst_pr_line(c, PST_PR_REQ);
	pst_pr_line(c, PST_PR_REP);
}

static bool is_storage(const struct words *ws)
{
	return word_is(ws, 0, "set") || word_is(ws, 0, "add") || word_is(ws, 0, "replace") ||
	       word_is(ws, 0, "append") || word_is(ws, 0, "prepend") || word_is(ws, 0, "cas");
}

/* A command line: its shape, and the data block a storage command carries. */
static void req_line(struct pst_proto_conn *c, const uint8_t *p, size_t n)
{
	struct words ws;
	bool get, gat;
	unsigned k;

	split(p, n, &ws);
	if (!ws.n)
		return;
	get = word_is(&ws, 0, "get") || word_is(&ws, 0, "gets");
	gat = word_is(&ws, 0, "gat") || word_is(&ws, 0, "gats");
	k = gat ? 2 : 1; /* the first key */
	pst_pr_shape_begin(c);
	pst_pr_sample(c, p, n);
	pst_pr_shape_add(c, (const char *)ws.w[0], ws.len[0]);
	if (k < ws.n && !word_is(&ws, 0, "stats") && !word_is(&ws, 0, "verbosity")) {
		pst_pr_shape_add(c, " ", 1);
		pst_pr_shape_key(c, ws.w[k], ws.len[k]);
		c->cur.key = pst_fnv_bytes(PST_FNV_OFFSET, ws.w[k], ws.len[k]);
		if (ws.n > k + 1 && (get || gat))
			pst_pr_shape_add(c, " ...", 4);
	}
	c->cur.flags = get || gat ? PST_REQ_READ : is_storage(&ws) ? PST_REQ_WRITE : 0;
	if (ws.n > 1 && word_is(&ws, ws.n - 1, "noreply"))
		c->cur.flags |= PST_REQ_NOREPLY;
	if (is_storage(&ws)) {
		c->st[PST_PR_REQ] = 1;
		pst_pr_take(c, PST_PR_REQ, word_num(&ws, 4) + 2);
		return;
	}
	pst_pr_request(c, c->cur.flags);
}

static void rep_line(struct pst_proto_conn *c, const uint8_t *p, size_t n)
{
	struct words ws;

	split(p, n, &ws);
	if (word_is(&ws, 0, "VALUE")) {
		c->rep_flags |= PST_REQ_HIT;
		c->st[PST_PR_REP] = 1;
		pst_pr_take(c, PST_PR_REP, word_num(&ws, 3) + 2);
		return;
	}
	if (word_is(&ws, 0, "STAT"))
		return;
	if (word_is(&ws, 0, "END") && !(c->rep_flags & PST_REQ_HIT))
		c->rep_flags |= PST_REQ_MISS;
	if (word_is(&ws, 0, "ERROR") || word_is(&ws, 0, "CLIENT_ERROR") ||
	    word_is(&ws, 0, "SERVER_ERROR"))
		c->rep_flags |= PST_REQ_ERROR;
	pst_pr_reply_end(c);
}

static void memc_token(struct pst_proto_conn *c, int d, const uint8_t *p, size_t n, bool last)
{
	if (c->st[d] == 1) { /* a data block */
		if (last) {
			c->st[d] = 0;
			if (d == PST_PR_REQ)
				pst_pr_request(c, c->cur.flags);
		}
		return;
	}
	if (d == PST_PR_REQ)
		req_line(c, p, n);
	else
		rep_line(c, p, n);
}

const struct pst_pr_ops pst_pr_memcached = { memc_begin, { memc_token, memc_token } };
