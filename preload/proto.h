/* SPDX-License-Identifier: MIT */
/* Requests on connections: the protocol recognised from the first bytes, requests and replies decoded incrementally, shapes. */
#ifndef PST_PROTO_H
#define PST_PROTO_H

#include <stdbool.h>
#include <stdint.h>

#include "pst.h"

/* REQ_SHAPE.protocol (the analyzer names them: families/requests.c). */
enum pst_proto {
	PST_PROTO_UNKNOWN = 0, /* not recognised yet */
	PST_PROTO_POSTGRESQL = 1,
	PST_PROTO_REDIS = 2,
	PST_PROTO_MEMCACHED = 3,
	PST_PROTO_HTTP = 4,
	PST_PROTO_BYTES = 5, /* none of these: left as bytes, never looked at again */
};

/* REQ.flags */
#define PST_REQ_ERROR 1u   /* the reply is an error (RESP -, memcached *ERROR, ErrorResponse, HTTP >= 400) */
#define PST_REQ_HIT 2u     /* a cache read that found its value */
#define PST_REQ_MISS 4u    /* a cache read that found nothing */
#define PST_REQ_WRITE 8u   /* a cache write (SET-like) */
#define PST_REQ_NOREPLY 16u /* no reply expected (memcached noreply): no latency */
#define PST_REQ_UNANSWERED 32u /* the connection ended before the reply did */
#define PST_REQ_READ 64u   /* a cache read (GET-like): HIT or MISS says how it went */
#define PST_REQ_SAMPLED 128u /* sampled mode: a sample, also counted in a REQ_AGG */

/* Bytes of a line, header or SQL text looked at; the rest is skipped by length. */
#define PST_PR_CAP 512
/* Requests sent and not yet answered (pipelining); more are not followed. */
#define PST_PR_FIFO 32
/* Prepared statements of a PostgreSQL connection remembered by name. */
#define PST_PR_STMTS 32

/* Bytes of a skipped body that go into the message's hash. */
#define PST_PR_HASHED 4096

enum { PST_PR_LINE, PST_PR_FIXED, PST_PR_SKIP };

/* One direction of a connection: a tokenizer of lines, fixed runs and skips. */
struct pst_pr_dir {
	uint8_t mode;        /* PST_PR_LINE, _FIXED, _SKIP */
	uint8_t tail_last;   /* the skip ends the token a FIXED began */
	uint32_t want, have; /* FIXED: bytes to collect, collected */
	uint64_t skip;       /* SKIP: bytes left; FIXED: what follows the kept part */
	uint64_t skipped;    /* of this skip so far: its first PST_PR_HASHED bytes are hashed */
	uint64_t hash;       /* the current message's bytes so far (FNV-1a) */
	uint64_t bytes;      /* its length so far */
	uint64_t msg_ts;     /* when its first byte went or came */
	uint8_t buf[PST_PR_CAP];
};

/* A request waiting for its reply. */
struct pst_pr_req {
	uint64_t ts, bytes, params, key;
	uint32_t shape, stack, flags, status;
};

struct pst_pr_stmt {
	uint64_t name;       /* hash of the statement's name */
	uint32_t shape, prep; /* its shape executed, and prepared without executing */
};

/* The decoder's state of one connection (allocated at its first bytes). */
struct pst_proto_conn {
	uint8_t proto, role; /* enum pst_proto, enum pst_net_role */
	const struct pst_pr_ops *ops;
	uint8_t st[2];       /* each direction's protocol state */
	struct pst_pr_dir d[2]; /* PST_PR_REQ: requests; PST_PR_REP: replies */
	struct pst_pr_req cur;  /* the request being read */
	struct pst_pr_req q[PST_PR_FIFO];
	unsigned qhead, qn;
	/* the reply being read */
	uint64_t rep_first;  /* its first byte */
	uint32_t rep_flags, rep_status;
	int64_t left;        /* RESP: elements left; HTTP: body bytes */
	int64_t args;        /* RESP: arguments left */
	int64_t blen;        /* RESP: the bulk string being read */
	uint64_t phash;      /* the request's parameters so far */
	uint8_t first_elem;  /* RESP: the reply's first element is next */
	char last_cmd[32];   /* RESP: the last command, its flags and whether it is keyless */
	uint32_t last_flags;
	uint8_t last_keyless;
	unsigned argi;
	uint8_t until_close, shape_done;
	uint64_t conn_id;
	uint64_t ep_hash;    /* of the endpoint and its kind: requests are summed by it */
	void *agg_last;      /* proto_agg.c: the sum its last request went to */
	const void *cfa;     /* the hook's, for the stack of a request */
	uint16_t port;
	uint16_t shape_len;
	char shape[PST_PR_CAP];
	char sample[PST_PR_CAP];
	struct pst_pr_stmt stmts[PST_PR_STMTS];
	unsigned nstmts;
	/* PostgreSQL: each direction's message type; the statement a Sync runs */
	uint8_t type[2], executed;
	struct pst_pr_stmt pend;
	/* HTTP: each direction's body length (-1: none said) and chunked coding */
	int64_t clen[2];
	uint8_t chunked2[2];
};

#define PST_PR_REQ 0
#define PST_PR_REP 1

/* proto.c: the framework */
struct pst_sock;
/* n bytes went out (out) or came in on e, in buf or in iov; ts the hook's time. */
void pst_proto_io(struct pst_sock *e, bool out, const void *buf, const struct iovec *iov,
		  int iovcnt, size_t n, uint64_t ts, const void *cfa);
void pst_proto_end(struct pst_sock *e, uint64_t ts); /* the connection is over */
void pst_proto_after_fork(void);                     /* the child declares its shapes again */

/* The tokenizer's next token in direction d (for the decoders). */
void pst_pr_line(struct pst_proto_conn *c, int d);
void pst_pr_take(struct pst_proto_conn *c, int d, uint64_t n); /* n bytes, the first kept */
void pst_pr_skip(struct pst_proto_conn *c, int d, uint64_t n); /* n > 0 bytes, none kept */
/* Requests and replies (for the decoders). */
void pst_pr_shape_begin(struct pst_proto_conn *c);
void pst_pr_shape_add(struct pst_proto_conn *c, const char *s, size_t n);
void pst_pr_shape_key(struct pst_proto_conn *c, const uint8_t *s, size_t n); /* folded */
void pst_pr_shape_sql(struct pst_proto_conn *c, const uint8_t *s, size_t n); /* normalised */
void pst_pr_shape_path(struct pst_proto_conn *c, const uint8_t *s, size_t n); /* ids as '*' */
void pst_pr_sample(struct pst_proto_conn *c, const uint8_t *s, size_t n);
uint32_t pst_pr_intern(struct pst_proto_conn *c); /* the shape's id; 0: the table is full */
/* c->cur is whole: queued for its reply (its shape c->cur.shape, else c->shape's) */
void pst_pr_request(struct pst_proto_conn *c, uint32_t flags);
void pst_pr_reply_end(struct pst_proto_conn *c);
/* A REQ record of r, its reply rbytes long with hash rhash. */
void pst_pr_emit(struct pst_proto_conn *c, const struct pst_pr_req *r, uint64_t rbytes,
		 uint64_t rhash);

/* proto_agg.c: sampled mode's sums. r of c counted with its reply's flags,
 * latency and bytes: 1, and r is also written as a sample (REQ with
 * PST_REQ_SAMPLED); 0, it is not; -1 not counted (no memory, the table
 * full): it is written as a REQ of its own. */
int pst_req_agg_add(struct pst_proto_conn *c, const struct pst_pr_req *r, uint32_t flags,
		    uint64_t latency, uint64_t rbytes);
/* The sums grown since the last call as REQ_AGG (the timer's, with each
 * snapshot; the exit's, wait: true) */
void pst_req_flush(uint64_t tid, uint64_t ts, bool wait);
void pst_req_agg_after_fork(void);

/* The decoders: recognise(first bytes) -> begin, then each token. */
struct pst_pr_ops {
	void (*begin)(struct pst_proto_conn *c); /* set both directions' first tokens */
	/* a token of direction d: kept bytes (NULL after a skip); last: it ends */
	void (*token[2])(struct pst_proto_conn *c, int d, const uint8_t *p, size_t n, bool last);
};
extern const struct pst_pr_ops pst_pr_redis, pst_pr_memcached, pst_pr_postgresql, pst_pr_http;

static inline bool pst_pr_is(const uint8_t *p, size_t n, const char *word)
{
	size_t l = strlen(word);

	return n >= l && !memcmp(p, word, l);
}

#endif
