/* SPDX-License-Identifier: MIT */
/* Redis (RESP and inline commands): the command and its key's pattern, replies to their end, hits and misses of reads. */
#include <stdlib.h>

#include "hash.h"
#include "proto.h"

/* Commands whose first argument is not a key. */
static const char *const keyless[] = { "PING",	  "ECHO",     "AUTH",	"SELECT", "INFO",
				       "CONFIG",  "CLIENT",   "HELLO",	"COMMAND", "DBSIZE",
				       "FLUSHALL", "FLUSHDB", "SCAN",	"MULTI",  "EXEC",
				       "DISCARD", "QUIT",     "TIME",	"SUBSCRIBE", "PUBLISH",
				       "EVAL",	  "EVALSHA",  "SCRIPT", "SAVE",	  "BGSAVE",
				       NULL };
/* Reads of one value: the reply says hit (a value) or miss (nil). */
static const char *const reads[] = { "GET", "HGET", "GETEX", "GETDEL", "LINDEX", "HGETALL", NULL };
static const char *const writes[] = { "SET", "SETEX", "PSETEX", "SETNX", "HSET", "MSET", "HMSET", NULL };

static bool listed(const char *const *list, const char *cmd)
{
	for (unsigned i = 0; list[i]; i++)
		if (!strcmp(list[i], cmd))
			return true;
	return false;
}

/* The decimal at p (RESP's counts and lengths: an optional '-', digits),
 * read by hand: strtoll on a copy showed in the client's profile. As
 * strtoll, leading spaces and what follows the digits are ignored. */
static long long num(const uint8_t *p, size_t n)
{
	long long v = 0;
	size_t i = 0;
	bool neg;

	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	neg = i < n && p[i] == '-';
	i += i < n && (p[i] == '-' || p[i] == '+');
	for (size_t end = i + 18 < n ? i + 18 : n; i < end && p[i] >= '0' && p[i] <= '9'; i++)
		v = v * 10 + (p[i] - '0');
	return neg ? -v : v;
}

static void redis_begin(struct pst_proto_conn *c)
{
	pst_pr_line(c, PST_PR_REQ);
	pst_pr_line(c, PST_PR_REP);
}

/* Argument i of the request (its first n bytes). */
static void req_arg(struct pst_proto_conn *c, unsigned i, const uint8_t *p, size_t n)
{
	if (i == 0) {
		char cmd[32];
		size_t l = n < sizeof(cmd) - 1 ? n : sizeof(cmd) - 1;

		for (size_t k = 0; k < l; k++)
			cmd[k] = (char)(p[k] >= 'a' && p[k] <= 'z' ? p[k] - 32 : p[k]);
		cmd[l] = 0;
		pst_pr_shape_begin(c);
		pst_pr_shape_add(c, cmd, l);
		/* a connection mostly sends the command it sent before: the
		 * lists' lookups (a profile's hot spot) are made once per change */
		if (strcmp(cmd, c->last_cmd)) {
			memcpy(c->last_cmd, cmd, l + 1);
			c->last_flags = listed(reads, cmd) ? PST_REQ_READ :
					listed(writes, cmd) ? PST_REQ_WRITE : 0;
			c->last_keyless = listed(keyless, cmd);
		}
		c->cur.flags = c->last_flags;
		c->shape_done = c->last_keyless;
		c->phash = PST_FNV_OFFSET;
		return;
	}
	c->phash = pst_fnv_bytes(c->phash, p, n);
	if (i == 1 && !c->shape_done) {
		pst_pr_shape_add(c, " ", 1);
		pst_pr_shape_key(c, p, n);
		c->cur.key = pst_fnv_bytes(PST_FNV_OFFSET, p, n);
	}
}

static void req_done(struct pst_proto_conn *c)
{
	pst_pr_request(c, c->cur.flags);
}

/* An inline command: words split by spaces. */
static void req_inline(struct pst_proto_conn *c, const uint8_t *p, size_t n)
{
	unsigned i = 0;
	size_t a = 0;

	if (!n)
		return;
	pst_pr_sample(c, p, n);
	while (a < n) {
		size_t b = a;

		while (b < n && p[b] != ' ')
			b++;
		if (b > a)
			req_arg(c, i++, p + a, b - a);
		a = b + 1;
	}
	req_done(c);
}

static void req_token(struct pst_proto_conn *c, int d, const uint8_t *p, size_t n, bool last)
{
	(void)d;
	if (c->st[PST_PR_REQ] == 0) { /* a line: *N, $L or an inline command */
		if (n && p[0] == '*') {
			c->args = num(p + 1, n - 1);
			c->argi = 0;
			if (c->args <= 0)
				return;
		} else if (n && p[0] == '$' && c->args > 0) {
			c->blen = num(p + 1, n - 1);
			c->st[PST_PR_REQ] = 1;
			pst_pr_take(c, PST_PR_REQ, (uint64_t)(c->blen < 0 ? 0 : c->blen) + 2);
		} else {
			req_inline(c, p, n);
		}
		return;
	}
	if (p) { /* a bulk argument, its first bytes */
		size_t l = (int64_t)n < c->blen ? n : (size_t)c->blen;

		if (c->argi == 1)
			pst_pr_sample(c, p, l);
		req_arg(c, c->argi, p, l);
	}
	if (!last)
		return;
	c->st[PST_PR_REQ] = 0;
	c->argi++;
	if (--c->args == 0)
		req_done(c);
}

static void rep_elem_done(struct pst_proto_conn *c)
{
	c->first_elem = 0;
	if (--c->left <= 0) {
		c->left = 0;
		pst_pr_reply_end(c);
	}
}

static void rep_token(struct pst_proto_conn *c, int d, const uint8_t *p, size_t n, bool last)
{
	(void)d;
	long long v;

	if (c->st[PST_PR_REP] == 1) { /* the bulk string's end */
		if (last) {
			c->st[PST_PR_REP] = 0;
			rep_elem_done(c);
		}
		return;
	}
	if (!c->left) {
		c->left = 1;
		c->first_elem = 1;
	}
	if (!n)
		return rep_elem_done(c);
	v = num(p + 1, n - 1);
	switch (p[0]) {
	case '-':
		c->rep_flags |= PST_REQ_ERROR;
		break;
	case '$':
		c->rep_flags |= c->first_elem ? (v < 0 ? PST_REQ_MISS : PST_REQ_HIT) : 0;
		if (v >= 0) {
			c->st[PST_PR_REP] = 1;
			pst_pr_take(c, PST_PR_REP, (uint64_t)v + 2);
			return;
		}
		break;
	case '*':
		c->rep_flags |= c->first_elem ? (v <= 0 ? PST_REQ_MISS : PST_REQ_HIT) : 0;
		if (v > 0)
			c->left += v;
		break;
	}
	rep_elem_done(c);
}

const struct pst_pr_ops pst_pr_redis = { redis_begin, { req_token, rep_token } };
