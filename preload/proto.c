/* SPDX-License-Identifier: MIT */
/* Requests on connections: which protocol a connection speaks, its bytes cut into tokens, requests matched to replies, REQ records. */
#include <arpa/inet.h>
#include <stdlib.h>

#include "hash.h"
#include "net.h"
#include "options.h"
#include "proto.h"

/* Shapes of the process: a slot's key is the hash of protocol and text,
 * claimed with a compare-and-swap by the thread that writes its REQ_SHAPE.
 * Its id is the slot + 1; a full table gives 0 ("other"). */
#define SHAPE_SLOTS 4096u
#define SHAPE_PROBES 64u
static uint64_t shape_keys[SHAPE_SLOTS];
/* --request-values: a sample request per shape, literals kept; -1: not read yet */
static int keep_values = -1;

void pst_proto_after_fork(void)
{
	memset(shape_keys, 0, sizeof(shape_keys));
	pst_req_agg_after_fork();
}

static inline uint32_t hash32(uint64_t h)
{
	return (uint32_t)(h ^ h >> 32);
}

/* ---- recognition ---- */

static uint16_t sock_port(const struct pst_sock *e)
{
	if (e->kind == PST_NET_UNIX || e->ep_len < 2)
		return 0;
	return (uint16_t)(e->ep[e->ep_len - 2] << 8 | e->ep[e->ep_len - 1]);
}

static bool is_http(const uint8_t *p, size_t n)
{
	static const char *const methods[] = { "GET ",	   "POST ",  "PUT ",   "DELETE ",
					       "HEAD ",	   "PATCH ", "OPTIONS ", NULL };

	for (unsigned i = 0; methods[i]; i++) {
		size_t l = strlen(methods[i]);

		if (pst_pr_is(p, n, methods[i]) && n > l && (p[l] == '/' || p[l] == 'h'))
			return true;
	}
	return false;
}

static bool is_memcached(const uint8_t *p, size_t n)
{
	static const char *const cmds[] = { "get ",    "gets ",	  "gat ",     "gats ",	"set ",
					    "add ",    "replace ", "append ", "prepend ", "cas ",
					    "delete ", "incr ",	  "decr ",    "touch ",	"version",
					    "stats",   NULL };

	for (unsigned i = 0; cmds[i]; i++)
		if (pst_pr_is(p, n, cmds[i]))
			return true;
	return false;
}

/* The protocol from the first bytes a client sends (or a server reads)
 * and the server's port. */
static unsigned recognise(const uint8_t *p, size_t n, uint16_t port)
{
	if (n >= 8) {
		uint32_t len = (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
		uint32_t code = (uint32_t)p[4] << 24 | p[5] << 16 | p[6] << 8 | p[7];

		if (len >= 8 && len < 10000 &&
		    (code == 196608 || code == 80877103 || code == 80877104))
			return PST_PROTO_POSTGRESQL;
	}
	if (n >= 2 && p[0] == '*' && p[1] >= '0' && p[1] <= '9')
		return PST_PROTO_REDIS;
	if (is_http(p, n))
		return PST_PROTO_HTTP;
	if (port == 6379)
		return PST_PROTO_REDIS; /* an inline command */
	if (port == 11211 || is_memcached(p, n))
		return PST_PROTO_MEMCACHED;
	return PST_PROTO_BYTES;
}

static const struct pst_pr_ops *proto_ops(unsigned proto)
{
	switch (proto) {
	case PST_PROTO_REDIS: return &pst_pr_redis;
	case PST_PROTO_MEMCACHED: return &pst_pr_memcached;
	case PST_PROTO_POSTGRESQL: return &pst_pr_postgresql;
	case PST_PROTO_HTTP: return &pst_pr_http;
	default: return NULL;
	}
}

/* The connection's decoder at its first bytes: NULL when they are not a
 * request of a protocol we know (or there is no memory); the socket is then
 * left alone for good. */
static struct pst_proto_conn *conn_new(struct pst_sock *e, int d, const uint8_t *p, size_t n)
{
	struct pst_proto_conn *c;
	unsigned proto = d == PST_PR_REQ ? recognise(p, n, sock_port(e)) : PST_PROTO_BYTES;

	e->proto = (uint8_t)proto;
	if (proto == PST_PROTO_BYTES || !pst_real.calloc)
		return NULL;
	c = pst_real.calloc(1, sizeof(*c));
	if (!c) {
		e->proto = PST_PROTO_BYTES;
		return NULL;
	}
	c->proto = (uint8_t)proto;
	c->role = e->role;
	c->conn_id = e->conn_id;
	c->ep_hash = pst_fnv_bytes(pst_fnv_bytes(PST_FNV_OFFSET, &e->kind, 1), e->ep, e->ep_len);
	c->port = sock_port(e);
	c->ops = proto_ops(proto);
	if (keep_values < 0)
		keep_values = pst_option_on(PST_OPT_REQUEST_VALUES);
	c->ops->begin(c);
	e->pr = c;
	return c;
}

/* ---- the tokenizer ---- */

void pst_pr_line(struct pst_proto_conn *c, int d)
{
	c->d[d].mode = PST_PR_LINE;
}

void pst_pr_take(struct pst_proto_conn *c, int d, uint64_t n)
{
	struct pst_pr_dir *s = &c->d[d];

	if (!n) { /* nothing to take: the token ends at once */
		s->mode = PST_PR_SKIP;
		s->skip = 0;
		return;
	}
	s->mode = PST_PR_FIXED;
	s->want = n < PST_PR_CAP ? (uint32_t)n : PST_PR_CAP;
	s->have = 0;
	s->skip = n - s->want;
}

void pst_pr_skip(struct pst_proto_conn *c, int d, uint64_t n)
{
	struct pst_pr_dir *s = &c->d[d];

	s->mode = PST_PR_SKIP;
	s->skip = n;
	s->skipped = 0;
}

static size_t tok_skip(struct pst_proto_conn *c, int d, const uint8_t *p, size_t n)
{
	struct pst_pr_dir *s = &c->d[d];
	size_t k = n < s->skip ? n : (size_t)s->skip;

	if (s->skipped < PST_PR_HASHED) {
		size_t h = PST_PR_HASHED - s->skipped;

		s->hash = pst_fnv_bytes(s->hash, p, k < h ? k : h);
	}
	s->skipped += k;
	s->skip -= k;
	s->bytes += k;
	if (!s->skip) {
		s->mode = PST_PR_LINE;
		c->ops->token[d](c, d, NULL, 0, true);
	}
	return k;
}

/* keep of the k bytes at p go into the token (and its hash); all k are the message's. */
static inline void kept(struct pst_pr_dir *s, const uint8_t *p, size_t keep, size_t k)
{
	memcpy(s->buf + s->have, p, keep);
	s->hash = pst_fnv_bytes(s->hash, p, keep);
	s->have += (uint32_t)keep;
	s->bytes += k;
}

static size_t tok_line(struct pst_proto_conn *c, int d, const uint8_t *p, size_t n)
{
	struct pst_pr_dir *s = &c->d[d];
	const uint8_t *nl = memchr(p, '\n', n);
	size_t k = nl ? (size_t)(nl - p) + 1 : n, keep = PST_PR_CAP - s->have;

	if (keep > k)
		keep = k;
	kept(s, p, keep, k);
	if (nl) {
		size_t len = s->have;

		while (len && (s->buf[len - 1] == '\n' || s->buf[len - 1] == '\r'))
			len--;
		s->have = 0;
		c->ops->token[d](c, d, s->buf, len, true);
	}
	return k;
}

static size_t tok_fixed(struct pst_proto_conn *c, int d, const uint8_t *p, size_t n)
{
	struct pst_pr_dir *s = &c->d[d];
	size_t k = s->want - s->have;

	if (k > n)
		k = n;
	kept(s, p, k, k);
	if (s->have == s->want) {
		bool last = !s->skip;

		s->have = 0;
		s->skipped = 0;
		s->mode = last ? PST_PR_LINE : PST_PR_SKIP;
		c->ops->token[d](c, d, s->buf, s->want, last);
	}
	return k;
}

/* n bytes of direction d, cut into the decoder's tokens. */
static void feed(struct pst_proto_conn *c, int d, const uint8_t *p, size_t n, uint64_t ts)
{
	struct pst_pr_dir *s = &c->d[d];

	while (n && c->proto != PST_PROTO_BYTES) {
		size_t k;

		if (!s->bytes) { /* a message begins */
			s->msg_ts = ts;
			s->hash = PST_FNV_OFFSET;
		}
		if (s->mode == PST_PR_SKIP)
			k = s->skip ? tok_skip(c, d, p, n) : 0;
		else if (s->mode == PST_PR_LINE)
			k = tok_line(c, d, p, n);
		else
			k = tok_fixed(c, d, p, n);
		if (!k && s->mode == PST_PR_SKIP && !s->skip) { /* an empty take */
			s->mode = PST_PR_LINE;
			c->ops->token[d](c, d, NULL, 0, true);
		}
		p += k;
		n -= k;
	}
}

/* ---- shapes ---- */

void pst_pr_shape_begin(struct pst_proto_conn *c)
{
	c->shape_len = 0;
	c->sample[0] = 0;
	c->shape_done = 0;
}

void pst_pr_shape_add(struct pst_proto_conn *c, const char *s, size_t n)
{
	if (n > sizeof(c->shape) - 1 - c->shape_len)
		n = sizeof(c->shape) - 1 - c->shape_len;
	memcpy(c->shape + c->shape_len, s, n);
	c->shape_len = (uint16_t)(c->shape_len + n);
	c->shape[c->shape_len] = 0;
}

void pst_pr_sample(struct pst_proto_conn *c, const uint8_t *s, size_t n)
{
	if (!keep_values)
		return;
	if (n > sizeof(c->sample) - 1)
		n = sizeof(c->sample) - 1;
	for (size_t i = 0; i < n; i++) /* one line: the trace's strings are text */
		c->sample[i] = s[i] >= ' ' && s[i] < 0x7f ? (char)s[i] : ' ';
	c->sample[n] = 0;
}

static void shape_declare(uint32_t id, unsigned proto, const char *text, const char *sample)
{
	struct pst_thr *t = pst_thr();

	if (!t)
		return;
	if (pst_rec_enter(t))
		t->pos = pst_enc_req_shape(
			pst_thr_room(t, pst_var_rec_max(4, strlen(text) + strlen(sample))), id,
			proto, text, sample);
	pst_rec_leave(t);
}

uint32_t pst_pr_intern(struct pst_proto_conn *c)
{
	uint64_t h = pst_fnv_str(pst_fnv_bytes(PST_FNV_OFFSET, &c->proto, 1), c->shape) | 1;

	for (unsigned i = 0; i < SHAPE_PROBES; i++) {
		unsigned slot = (unsigned)(h + i) & (SHAPE_SLOTS - 1);
		uint64_t k = __atomic_load_n(&shape_keys[slot], __ATOMIC_ACQUIRE);

		if (!k && __atomic_compare_exchange_n(&shape_keys[slot], &k, h, false,
						      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			shape_declare(slot + 1, c->proto, c->shape, c->sample);
			return slot + 1;
		}
		if (k == h)
			return slot + 1;
	}
	return 0;
}

/* ---- requests and replies ---- */

/* The request in c->cur is whole: its shape interned, its stack taken
 * (the hook's: the call sending or reading it), queued for its reply. */
void pst_pr_request(struct pst_proto_conn *c, uint32_t flags)
{
	struct pst_pr_dir *s = &c->d[PST_PR_REQ];
	struct pst_pr_req *r = &c->cur;
	struct pst_thr *t;

	if (!r->shape)
		r->shape = pst_pr_intern(c);
	r->ts = s->msg_ts;
	r->bytes = s->bytes;
	r->params = c->phash ? c->phash : s->hash;
	r->flags = flags;
	r->stack = 0;
	s->bytes = 0;
	c->phash = 0;
	t = pst_thr();
	if (t && c->cfa) {
		if (pst_rec_enter(t) && !pst_paused)
			r->stack = pst_stack_capture_at(t, c->cfa);
		pst_rec_leave(t);
	}
	if (flags & PST_REQ_NOREPLY) {
		c->rep_first = r->ts;
		pst_pr_emit(c, r, 0, PST_FNV_OFFSET);
	} else if (c->qn < PST_PR_FIFO) {
		c->q[(c->qhead + c->qn++) % PST_PR_FIFO] = *r;
	}
	memset(r, 0, sizeof(*r));
}

void pst_pr_emit(struct pst_proto_conn *c, const struct pst_pr_req *r, uint64_t rbytes,
		 uint64_t rhash)
{
	uint32_t flags = r->flags | c->rep_flags;
	struct pst_thr *t;

	if (!(flags & PST_REQ_READ))
		flags &= ~(PST_REQ_HIT | PST_REQ_MISS);
	if (pst_paused)
		return;
	/* sampled mode: summed, and written only while the sample takes it */
	if (!pst_cfg.full) {
		int kept = pst_req_agg_add(c, r, flags, c->rep_first - r->ts, rbytes);

		if (!kept)
			return;
		flags |= kept > 0 ? PST_REQ_SAMPLED : 0;
	}
	t = pst_thr();
	if (!t)
		return;
	if (pst_rec_enter(t))
		t->pos = pst_enc_req(pst_thr_room(t, 2 + 12 * PST_VARINT_MAX), r->ts, c->conn_id,
				     r->shape, c->rep_first - r->ts, r->bytes, rbytes, r->stack,
				     hash32(r->params), hash32(rhash), hash32(r->key), flags,
				     c->rep_status);
	pst_rec_leave(t);
}

/* The reply to the oldest request is whole. */
void pst_pr_reply_end(struct pst_proto_conn *c)
{
	struct pst_pr_dir *s = &c->d[PST_PR_REP];

	if (c->qn) {
		struct pst_pr_req *r = &c->q[c->qhead];

		c->rep_first = s->msg_ts > r->ts ? s->msg_ts : r->ts;
		pst_pr_emit(c, r, s->bytes, s->hash);
		c->qhead = (c->qhead + 1) % PST_PR_FIFO;
		c->qn--;
	}
	s->bytes = 0;
	c->rep_flags = 0;
	c->rep_status = 0;
}

/* ---- the hooks' entry ---- */

void pst_proto_io(struct pst_sock *e, bool out, const void *buf, const struct iovec *iov,
		  int iovcnt, size_t n, uint64_t ts, const void *cfa)
{
	struct pst_proto_conn *c = e->pr;
	int d = out == (e->role == PST_NET_CLIENT) ? PST_PR_REQ : PST_PR_REP;

	if (!c) {
		uint8_t first[16];
		size_t m = 0;

		if (buf)
			m = n < sizeof(first) ? n : sizeof(first);
		if (buf)
			memcpy(first, buf, m);
		for (int i = 0; !buf && i < iovcnt && m < sizeof(first) && m < n; i++) {
			size_t k = iov[i].iov_len < sizeof(first) - m ? iov[i].iov_len
								    : sizeof(first) - m;

			memcpy(first + m, iov[i].iov_base, k);
			m += k;
		}
		if (m > n)
			m = n;
		if (!(c = conn_new(e, d, first, m)))
			return;
	}
	c->cfa = cfa;
	if (buf) {
		feed(c, d, buf, n, ts);
		return;
	}
	for (int i = 0; i < iovcnt && n; i++) {
		size_t k = iov[i].iov_len < n ? iov[i].iov_len : n;

		feed(c, d, iov[i].iov_base, k, ts);
		n -= k;
	}
}

/* The connection ended: a reply that runs until the close (HTTP without a
 * length) is whole; requests still waiting are written unanswered. */
void pst_proto_end(struct pst_sock *e, uint64_t ts)
{
	struct pst_proto_conn *c = e->pr;

	e->pr = NULL;
	e->proto = PST_PROTO_UNKNOWN;
	if (!c)
		return;
	if (c->until_close && c->qn)
		pst_pr_reply_end(c);
	while (c->qn) {
		struct pst_pr_req *r = &c->q[c->qhead];

		c->rep_first = ts;
		r->flags |= PST_REQ_UNANSWERED;
		pst_pr_emit(c, r, 0, PST_FNV_OFFSET);
		c->qhead = (c->qhead + 1) % PST_PR_FIFO;
		c->qn--;
	}
	pst_real.free(c);
}
