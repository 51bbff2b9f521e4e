/* SPDX-License-Identifier: MIT */
/* Requests on connections: REQ records per shape, endpoint and role, with exact counts and latency percentiles. */
#ifndef PST_REQUESTS_H
#define PST_REQUESTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "findings.h"
#include "symbolize.h"
#include "trace_read.h"

/* REQ.flags (the preload's proto.h says the same) */
#define PST_RQ_ERROR 1u
#define PST_RQ_HIT 2u
#define PST_RQ_MISS 4u
#define PST_RQ_WRITE 8u
#define PST_RQ_NOREPLY 16u
#define PST_RQ_UNANSWERED 32u
#define PST_RQ_READ 64u
#define PST_RQ_SAMPLED 128u /* a sample: its request is counted in a REQ_AGG */

enum { PST_RQ_POSTGRESQL = 1, PST_RQ_REDIS, PST_RQ_MEMCACHED, PST_RQ_HTTP, PST_RQ_PROTOCOLS };

/* One request as recorded, with the thread that recorded it (sampled mode:
 * the samples, PST_RQ_SAMPLED, which rows do not count again). */
struct pst_req {
	uint64_t ts, conn, latency, req_bytes, reply_bytes, stack, tid;
	uint32_t shape, params, reply, key, flags, status;
	uint32_t row; /* its row in pst_requests.rows */
};

/* Requests of one shape to one endpoint in one role (HTTP: and one status). */
struct pst_req_row {
	unsigned protocol, role, status;
	const char *endpoint, *shape, *sample; /* owned by pst_requests; sample NULL: none kept */
	uint64_t count, errors, hits, misses, writes, unanswered;
	/* latency: nearest rank, exact from REQ records; from REQ_AGG's
	 * histogram the middle of the bucket, within 3.2% (max exact) */
	uint64_t p50, p90, p99, max, wait_ns;
	uint64_t bytes_sent, bytes_received;  /* as the traced process sent and received them */
	uint64_t stack_id;                    /* the stack most of them came from */
	char **stack;                         /* it, "fn (file:line)" innermost first */
	size_t depth;
	uint64_t first_ts, last_ts;
	uint32_t slot; /* its place before the rows were sorted */
};

/* Sampled mode's sums (REQ_AGG) over time, for throughput and the flame
 * graph: requests counted at ts, from stack, waiting wait_ns. */
struct pst_req_tick {
	uint64_t ts, n, stack, wait_ns;
};

struct pst_requests {
	struct pst_req *v; /* by time */
	size_t n;
	struct pst_req_tick *ticks; /* by time */
	size_t nticks;
	uint64_t total; /* requests: the rows' counts summed */
	struct pst_req_row *rows; /* by time waited, most first */
	size_t nrows;
	char **strings; /* what rows point to */
	size_t nstrings;
	uint64_t start_ts, duration_ns;
};

/* Every REQ and REQ_AGG of t, grouped; NULL without memory. sym may be NULL (no stacks). */
struct pst_requests *pst_requests_analyze(const struct pst_trace *t, struct pst_symbolizer *sym);
void pst_requests_free(struct pst_requests *r);
const char *pst_req_protocol_name(unsigned protocol); /* "postgresql", ..., "bytes" */

/* Settings of the cacheable-read rule (the config's caching section). */
struct pst_req_caching {
	uint64_t default_ttl_ns; /* suggested when no value changed while traced */
	uint64_t max_memory;     /* a cache's suggested size is at most this */
};
#define PST_REQ_DEFAULT_TTL_NS (60ull * 1000000000ull)
#define PST_REQ_DEFAULT_MAX_MEMORY (64ull << 20)

/* findings_requests.c: n-plus-one, cacheable-read, cache-hit-ratio, slow-request. */
int pst_findings_requests(const struct pst_requests *r, const struct pst_req_caching *c,
			  struct pst_findings *out);

#endif
