/* SPDX-License-Identifier: MIT */
/* PostgreSQL's wire protocol: startup, simple queries, Parse/Bind/Execute/Sync by statement; ReadyForQuery ends a reply, ErrorResponse marks it. */
#include "hash.h"
#include "proto.h"

/* Direction states */
enum { PG_STARTUP, PG_STARTUP_BODY, PG_HEADER, PG_BODY, PG_SSL_ANSWER };

#define PG_SSL_REQUEST 80877103u
#define PG_GSS_REQUEST 80877104u

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void pg_header(struct pst_proto_conn *c, int d)
{
	c->st[d] = PG_HEADER;
	pst_pr_take(c, d, 5);
}

static void pg_begin(struct pst_proto_conn *c)
{
	c->st[PST_PR_REQ] = PG_STARTUP;
	pst_pr_take(c, PST_PR_REQ, 8);
	pg_header(c, PST_PR_REP);
}

/* ---- the frontend's messages ---- */

static struct pst_pr_stmt *stmt_find(struct pst_proto_conn *c, uint64_t name)
{
	for (unsigned i = 0; i < c->nstmts; i++)
		if (c->stmts[i].name == name)
			return &c->stmts[i];
	return NULL;
}

/* Parse: name, SQL. Its shapes are interned now: run (Bind, Execute) and
 * prepared only (a Sync with no Execute since). */
static void on_parse(struct pst_proto_conn *c, const uint8_t *p, size_t n)
{
	size_t nl = strnlen((const char *)p, n), ql;
	struct pst_pr_stmt st = { .name = pst_fnv_bytes(PST_FNV_OFFSET, p, nl) }, *old;

	if (nl >= n)
		return;
	p += nl + 1;
	n -= nl + 1;
	ql = strnlen((const char *)p, n);
	pst_pr_shape_begin(c);
	pst_pr_sample(c, p, ql);
	pst_pr_shape_add(c, "PREPARE ", 8);
	pst_pr_shape_sql(c, p, ql);
	st.prep = pst_pr_intern(c);
	pst_pr_shape_begin(c);
	pst_pr_sample(c, p, ql);
	pst_pr_shape_sql(c, p, ql);
	st.shape = pst_pr_intern(c);
	c->pend = st;
	if (!nl) /* the unnamed statement is only ever the next Bind's */
		return;
	if ((old = stmt_find(c, st.name)))
		*old = st;
	else if (c->nstmts < PST_PR_STMTS)
		c->stmts[c->nstmts++] = st;
}

/* Bind: portal, statement name. */
static void on_bind(struct pst_proto_conn *c, const uint8_t *p, size_t n)
{
	size_t pl = strnlen((const char *)p, n), sl;
	const struct pst_pr_stmt *st;

	if (pl >= n)
		return;
	sl = strnlen((const char *)p + pl + 1, n - pl - 1);
	if (!sl)
		return; /* the unnamed statement: the last Parse's */
	st = stmt_find(c, pst_fnv_bytes(PST_FNV_OFFSET, p + pl + 1, sl));
	if (st)
		c->pend = *st;
}

/* A whole message of the frontend, type t, its first n bytes at p. */
static void req_message(struct pst_proto_conn *c, uint8_t t, const uint8_t *p, size_t n)
{
	switch (t) {
	case 'Q':
		pst_pr_shape_begin(c);
		pst_pr_sample(c, p, strnlen((const char *)p, n));
		pst_pr_shape_sql(c, p, strnlen((const char *)p, n));
		c->cur.shape = 0;
		pst_pr_request(c, 0);
		break;
	case 'P': on_parse(c, p, n); break;
	case 'B': on_bind(c, p, n); break;
	case 'E': c->executed = 1; break;
	case 'S':
		c->cur.shape = c->executed ? c->pend.shape : c->pend.prep;
		c->executed = 0;
		if (c->cur.shape)
			pst_pr_request(c, 0);
		break;
	}
}

/* The startup packet's first 8 bytes: its length and code. */
static void req_startup(struct pst_proto_conn *c, const uint8_t *p)
{
	uint32_t len = be32(p), code = be32(p + 4);

	if (code == PG_SSL_REQUEST || code == PG_GSS_REQUEST) {
		c->d[PST_PR_REQ].bytes = 0; /* not a request */
		c->st[PST_PR_REP] = PG_SSL_ANSWER;
		pst_pr_take(c, PST_PR_REP, 1);
		pst_pr_take(c, PST_PR_REQ, 8);
		return;
	}
	if (len <= 8) {
		pg_header(c, PST_PR_REQ);
		return;
	}
	c->st[PST_PR_REQ] = PG_STARTUP_BODY;
	pst_pr_skip(c, PST_PR_REQ, len - 8);
}

static void req_token(struct pst_proto_conn *c, int d, const uint8_t *p, size_t n, bool last)
{
	(void)d;
	uint32_t len;

	switch (c->st[PST_PR_REQ]) {
	case PG_STARTUP:
		req_startup(c, p);
		return;
	case PG_STARTUP_BODY:
		c->d[PST_PR_REQ].bytes = 0;
		pg_header(c, PST_PR_REQ);
		return;
	case PG_HEADER:
		c->type[PST_PR_REQ] = p[0];
		len = be32(p + 1);
		if (len <= 4) {
			req_message(c, p[0], (const uint8_t *)"", 0);
			pg_header(c, PST_PR_REQ);
			return;
		}
		c->st[PST_PR_REQ] = PG_BODY;
		pst_pr_take(c, PST_PR_REQ, len - 4);
		return;
	}
	if (p) /* PG_BODY: the message's first bytes */
		req_message(c, c->type[PST_PR_REQ], p, n);
	if (last)
		pg_header(c, PST_PR_REQ);
}

/* ---- the backend's messages ---- */

static void rep_end_of(struct pst_proto_conn *c, uint8_t t)
{
	if (t == 'Z')
		pst_pr_reply_end(c);
	pg_header(c, PST_PR_REP);
}

static void rep_token(struct pst_proto_conn *c, int d, const uint8_t *p, size_t n, bool last)
{
	(void)d;
	uint32_t len;

	(void)n;
	switch (c->st[PST_PR_REP]) {
	case PG_SSL_ANSWER:
		if (p[0] != 'N') {
			c->proto = PST_PROTO_BYTES; /* encrypted from here */
			return;
		}
		c->d[PST_PR_REP].bytes = 0;
		pg_header(c, PST_PR_REP);
		return;
	case PG_HEADER:
		c->type[PST_PR_REP] = p[0];
		if (p[0] == 'E')
			c->rep_flags |= PST_REQ_ERROR;
		len = be32(p + 1);
		if (len <= 4) {
			rep_end_of(c, p[0]);
			return;
		}
		c->st[PST_PR_REP] = PG_BODY;
		pst_pr_skip(c, PST_PR_REP, len - 4);
		return;
	}
	if (last)
		rep_end_of(c, c->type[PST_PR_REP]);
}

const struct pst_pr_ops pst_pr_postgresql = { pg_begin, { req_token, rep_token } };
