/* SPDX-License-Identifier: MIT */
/* Network analysis of a trace: connections per endpoint, their latencies, lifetimes and concurrency, name lookups. */
#ifndef PST_NET_ANALYSIS_H
#define PST_NET_ANALYSIS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "findings.h"
#include "trace.h"

struct pst_trace;

struct pst_net_errcount {
	uint64_t err; /* errno, or PST_NET_ERR_ABANDONED */
	uint64_t count;
};

/* Percentiles of a set of durations, nearest rank; all 0 when empty. */
struct pst_net_pct {
	uint64_t n, p50, p90, p99, max, total;
};

/*
 * One endpoint: a remote address for a client, a listening address for a
 * server. Counts are exact. connects are attempts (a client's connect
 * calls that start a connection, a server's accepts); connect_failures
 * are the attempts that did not establish one.
 */
struct pst_net_endpoint {
	char *name;               /* "127.0.0.1:5432", "[::1]:6379", "/run/app.sock" */
	unsigned kind, role;      /* enum pst_net_kind, enum pst_net_role */
	uint8_t ep[PST_NET_EP_MAX];
	size_t ep_len;
	uint64_t connects, connect_failures;
	struct pst_net_errcount *errs; /* failures by errno, most first */
	size_t nerrs;
	struct pst_net_pct connect_ns;  /* established connects */
	struct pst_net_pct lifetime_ns; /* connections closed during the trace */
	uint64_t established, closed, open_at_end;
	uint64_t single_request;  /* closed connections that carried at most one request */
	uint64_t inherited;       /* connections opened before this process image (fork) */
	/* open connections over time, weighted by time from the first open to
	 * the last close */
	uint64_t conc_max, conc_p50, conc_p95, conc_p99;
	uint64_t first_ts, last_ts;
	uint64_t bytes_sent, send_calls, send_ns, small_sends;
	uint64_t bytes_recv, recv_calls, recv_ns;
	uint64_t requests, bursts, burst_sends, max_burst;
	uint64_t request_p50, request_p90, request_p99; /* from a histogram: within 10% */
	uint64_t hist[PST_NET_HIST_BUCKETS];
};

struct pst_net_lookup {
	char *name;
	uint64_t count, failures, total_ns, max_ns;
	uint64_t first_ts, last_ts;
	uint8_t addrs[PST_NET_ADDRS_MAX][16]; /* distinct addresses it resolved to */
	uint8_t addr_len[PST_NET_ADDRS_MAX];
	unsigned naddrs;
};

struct pst_net {
	struct pst_net_endpoint *eps; /* clients then servers, by connects */
	size_t neps;
	struct pst_net_lookup *lookups; /* by count */
	size_t nlookups;
	uint64_t duration_ns; /* of the traced process */
	uint64_t start_ts;
};

/* Read every network record of t. NULL when out of memory. */
struct pst_net *pst_net_analyze(const struct pst_trace *t);
void pst_net_free(struct pst_net *n);

/* "127.0.0.1:5432" for an endpoint's bytes; returns buf. */
const char *pst_net_ep_name(unsigned kind, const uint8_t *ep, size_t len, char *buf,
			    size_t buflen);
const char *pst_net_kind_name(unsigned kind);
const char *pst_net_err_name(uint64_t err); /* "ECONNREFUSED", "abandoned" */

/* findings_net.c: append the network findings to out, checking the
 * declared pools of the configuration (NULL: none). 0 or -ENOMEM. */
struct pst_net_pools;
int pst_findings_net(const struct pst_net *n, const struct pst_net_pools *declared,
		     struct pst_findings *out);

/* net_report.c: the report's "network" section. */
json_t *pst_net_json(const struct pst_net *n);
void pst_net_text(FILE *out, const struct pst_net *n, size_t top);

#endif
