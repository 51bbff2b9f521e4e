/* SPDX-License-Identifier: MIT */
/* Tests of the network analysis and findings on traces built with the NET_CONN and NET_LOOKUP encoders. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"
#include "net.h"
#include "trace.h"
#include "trace_read.h"

#define START 1000000000ull

/* A trace in memory: header, then one block of records. */
struct tb {
	uint8_t file[1 << 20], blk[1 << 19];
	size_t n, bn;
};

static void tb_init(struct tb *b)
{
	uint8_t pay[128], *q = pay;

	memset(b, 0, sizeof(*b));
	memcpy(b->file, PST_MAGIC, PST_MAGIC_LEN);
	b->n = PST_MAGIC_LEN;
	q = pst_put_varint(q, PST_VERSION);
	q = pst_put_varint(q, 77);
	q = pst_put_varint(q, 1);
	q = pst_put_varint(q, PST_PROC_FULL);
	q = pst_put_varint(q, 0);
	q = pst_put_varint(q, 1700000000000000000ull);
	q = pst_put_varint(q, START);
	q = pst_put_bytes(q, "/usr/bin/nettest", 16);
	q = pst_put_bytes(q, "host", 4);
	b->n = (size_t)(pst_enc_framed(b->file + b->n, PST_REC_PROCESS, pay, (size_t)(q - pay)) -
			b->file);
}

static void tb_conn(struct tb *b, const struct pst_net_conn_rec *r)
{
	b->bn = (size_t)(pst_enc_net_conn(b->blk + b->bn, r) - b->blk);
}

static void tb_lookup(struct tb *b, uint64_t ts, uint64_t dur, const char *name)
{
	const uint8_t a[1][16] = { { 10, 0, 0, 5 } }, len[1] = { 4 };

	b->bn = (size_t)(pst_enc_net_lookup(b->blk + b->bn, ts, dur, PST_LOOKUP_GETADDRINFO, 0,
					    name, strlen(name), a, len, 1) -
			 b->blk);
}

/* Close the block, write END at end_ts, and the trace to a new file path
 * (of 24 bytes or more). */
static void tb_write(struct tb *b, uint64_t end_ts, char *path)
{
	uint8_t *p = b->file + b->n;
	FILE *f;
	int fd;

	p = pst_enc_block_header(p, 1, START, b->bn);
	memcpy(p, b->blk, b->bn);
	p = pst_enc_end(p + b->bn, end_ts, PST_END_EXIT, 0);
	strcpy(path, "/tmp/pst-nettest.XXXXXX");
	fd = mkstemp(path);
	cr_assert(fd >= 0);
	f = fdopen(fd, "wb");
	cr_assert_eq(fwrite(b->file, 1, (size_t)(p - b->file), f), (size_t)(p - b->file));
	fclose(f);
}

/* Close the block, write END at end_ts, analyze. */
static struct pst_net *tb_analyze(struct tb *b, uint64_t end_ts, struct pst_trace **tp)
{
	char path[32], err[256];
	struct pst_net *n;

	tb_write(b, end_ts, path);
	cr_assert_eq(pst_trace_open(path, tp, err, sizeof(err)), 0, "%s", err);
	unlink(path);
	n = pst_net_analyze(*tp);
	cr_assert(n);
	return n;
}

/* A client connection to 10.0.0.5:5432. */
static struct pst_net_conn_rec conn(uint64_t id, uint64_t open, uint64_t end, unsigned flags)
{
	struct pst_net_conn_rec r;
	uint16_t port = (uint16_t)((5432 >> 8) | ((5432 & 0xff) << 8));

	memset(&r, 0, sizeof(r));
	r.conn_id = id;
	r.kind = PST_NET_TCP;
	r.role = PST_NET_CLIENT;
	r.flags = flags;
	memcpy(r.ep, (uint8_t[]){ 10, 0, 0, 5 }, 4);
	memcpy(r.ep + 4, &port, 2);
	r.ep_len = 6;
	r.open_ts = open;
	r.connect_ns = 100;
	r.end_ts = end;
	return r;
}

Test(net_analysis, segments_of_a_connection_are_summed)
{
	static struct tb b;
	struct pst_net_conn_rec r = conn(1, START + 1000, START + 5000, PST_NET_FIRST);
	struct pst_trace *t;
	struct pst_net *n;

	tb_init(&b);
	r.bytes_sent = 100;
	r.requests = 1;
	tb_conn(&b, &r); /* a snapshot: open */
	r = conn(1, START + 1000, START + 9000, PST_NET_CLOSED);
	r.bytes_sent = 50;
	r.requests = 1;
	tb_conn(&b, &r);
	n = tb_analyze(&b, START + 10000, &t);
	cr_assert_eq(n->neps, 1);
	cr_expect_str_eq(n->eps[0].name, "10.0.0.5:5432");
	cr_expect_eq(n->eps[0].connects, 1);
	cr_expect_eq(n->eps[0].closed, 1);
	cr_expect_eq(n->eps[0].open_at_end, 0);
	cr_expect_eq(n->eps[0].bytes_sent, 150);
	cr_expect_eq(n->eps[0].single_request, 0, "two requests over two segments");
	cr_expect_eq(n->eps[0].lifetime_ns.p50, 8000);
	cr_expect_eq(n->eps[0].connect_ns.max, 100);
	pst_net_free(n);
	pst_trace_close(t);
}

/* Open connections weighted by time: 1 open for 500 ns, 2 for 500 ns. */
Test(net_analysis, concurrency_is_time_weighted)
{
	static struct tb b;
	struct pst_net_conn_rec r;
	struct pst_trace *t;
	struct pst_net *n;

	tb_init(&b);
	r = conn(1, START + 1000 - 100, START + 2000, PST_NET_FIRST | PST_NET_CLOSED);
	tb_conn(&b, &r);
	r = conn(2, START + 1500 - 100, START + 2000, PST_NET_FIRST | PST_NET_CLOSED);
	tb_conn(&b, &r);
	r = conn(3, START + 1600, START + 1700, PST_NET_FIRST | PST_NET_CLOSED);
	r.connect_err = ECONNREFUSED;
	tb_conn(&b, &r);
	n = tb_analyze(&b, START + 3000, &t);
	cr_assert_eq(n->neps, 1);
	cr_expect_eq(n->eps[0].conc_max, 2);
	cr_expect_eq(n->eps[0].conc_p50, 1);
	cr_expect_eq(n->eps[0].conc_p95, 2);
	cr_expect_eq(n->eps[0].connects, 3);
	cr_expect_eq(n->eps[0].connect_failures, 1);
	cr_assert_eq(n->eps[0].nerrs, 1);
	cr_expect_eq(n->eps[0].errs[0].err, ECONNREFUSED);
	pst_net_free(n);
	pst_trace_close(t);
}

Test(net_analysis, request_percentiles_within_a_bucket)
{
	static struct tb b;
	struct pst_net_conn_rec r = conn(1, START, START + 100, PST_NET_FIRST | PST_NET_CLOSED);
	struct pst_trace *t;
	struct pst_net *n;

	tb_init(&b);
	r.requests = 100;
	r.hist[pst_net_bucket(1000000)] = 90;
	r.hist[pst_net_bucket(50000000)] = 10;
	tb_conn(&b, &r);
	n = tb_analyze(&b, START + 1000, &t);
	cr_expect(n->eps[0].request_p50 > 1000000 * 0.85 && n->eps[0].request_p50 < 1000000 * 1.2,
		  "p50 %llu", (unsigned long long)n->eps[0].request_p50);
	cr_expect(n->eps[0].request_p99 > 50000000 * 0.85 && n->eps[0].request_p99 < 50000000 * 1.2,
		  "p99 %llu", (unsigned long long)n->eps[0].request_p99);
	pst_net_free(n);
	pst_trace_close(t);
}

Test(net_analysis, bucket_bounds)
{
	for (uint64_t v = 0; v < 1000000; v = v * 3 / 2 + 1) {
		unsigned b = pst_net_bucket(v);

		cr_assert_leq(pst_net_bucket_lo(b), v);
		cr_assert_gt(pst_net_bucket_lo(b + 1), v, "v %llu bucket %u",
			     (unsigned long long)v, b);
	}
}

/* 30 connections, 3 open at any time: a pool of 3, and the lookups of its name. */
Test(net_analysis, churn_pool_sizes_from_concurrency_and_lookup_cache)
{
	static struct tb b;
	struct pst_findings f = { 0 };
	struct pst_trace *t;
	struct pst_net *n;
	const struct pst_finding *churn = NULL, *cache = NULL;

	tb_init(&b);
	for (uint64_t i = 0; i < 30; i++) {
		uint64_t open = START + (i / 3) * 1000000 + (i % 3);
		struct pst_net_conn_rec r = conn(i + 1, open, open + 900000,
						 PST_NET_FIRST | PST_NET_CLOSED);

		r.requests = 1;
		r.connect_ns = 50000;
		tb_conn(&b, &r);
		tb_lookup(&b, open, 20000, "db.internal");
	}
	n = tb_analyze(&b, START + 11000000, &t);
	cr_expect_eq(n->eps[0].conc_max, 3);
	cr_assert_eq(n->nlookups, 1);
	cr_expect_eq(n->lookups[0].count, 30);
	cr_expect_eq(n->lookups[0].total_ns, 600000);
	cr_assert_eq(pst_findings_net(n, NULL, &f), 0);
	for (size_t i = 0; i < f.n; i++) {
		if (!strcmp(f.v[i].id, "connection-churn"))
			churn = &f.v[i];
		if (!strcmp(f.v[i].id, "repeated-lookup"))
			cache = &f.v[i];
	}
	cr_assert(churn, "no churn finding");
	cr_expect(strstr(churn->advice, "min_size=3 and max_size=3"), "%s", churn->advice);
	cr_assert(cache, "no lookup finding");
	cr_expect(strstr(cache->advice, "\"db.internal\""), "%s", cache->advice);
	pst_findings_free(&f);
	pst_net_free(n);
	pst_trace_close(t);
}

/* ---- uneven-balance, through `prestanda report --json` ---- */

/* n5 connections to 10.0.0.5 and n6 to 10.0.0.6, each after a lookup of
 * "db.pair" that gives both addresses; the report's uneven-balance finding
 * (NULL when none). */
static json_t *balance(int n5, int n6, struct itest_report *rep)
{
	static struct tb b;
	const uint8_t a[2][16] = { { 10, 0, 0, 5 }, { 10, 0, 0, 6 } }, len[2] = { 4, 4 };
	char path[32];
	json_t *j;

	tb_init(&b);
	for (int i = 0; i < n5 + n6; i++) {
		uint64_t open = START + (uint64_t)i * 10000000;
		struct pst_net_conn_rec r = conn((uint64_t)i + 1, open, open + 1000000,
						 PST_NET_FIRST | PST_NET_CLOSED);

		r.ep[3] = i < n5 ? 5 : 6;
		b.bn = (size_t)(pst_enc_net_lookup(b.blk + b.bn, open - 1000, 500,
						   PST_LOOKUP_GETADDRINFO, 0, "db.pair", 7, a, len,
						   2) -
				b.blk);
		tb_conn(&b, &r);
	}
	tb_write(&b, START + (uint64_t)(n5 + n6 + 1) * 10000000, path);
	j = itest_report_ok(rep, path);
	unlink(path);
	return itest_finding(j, "uneven-balance");
}

/* 10 connections (the rule's minimum) all to the first address. */
Test(net_analysis, uneven_balance_fires_exact)
{
	struct itest_report rep;
	json_t *f = balance(10, 0, &rep);

	cr_assert(f, "no uneven-balance finding");
	cr_expect_str_eq(itest_str(f, "severity"), "low");
	cr_expect_str_eq(itest_str(f, "evidence.name"), "db.pair");
	cr_expect_eq(itest_int(f, "evidence.connects"), 10);
	cr_expect_str_eq(itest_str(f, "evidence.split"), "10.0.0.5 10 (100%), 10.0.0.6 0 (0%)");
	cr_expect(strstr(itest_str(f, "title"), "resolves to 2 addresses but 100% of"), "%s",
		  itest_str(f, "title"));
	itest_report_free(&rep);
}

/* 80% to one address is uneven (the rule's bound); 70% is not. */
Test(net_analysis, uneven_balance_share_boundary)
{
	struct itest_report rep;
	json_t *f = balance(8, 2, &rep);

	cr_assert(f, "8 of 10 to one address: no uneven-balance finding");
	cr_expect_str_eq(itest_str(f, "evidence.split"), "10.0.0.5 8 (80%), 10.0.0.6 2 (20%)");
	cr_expect_eq(itest_int(f, "evidence.connects"), 10, "all of them, not the top address's");
	itest_report_free(&rep);
	cr_expect_null(balance(7, 3, &rep), "7 of 10 to one address is not uneven");
	itest_report_free(&rep);
	cr_expect_null(balance(5, 5, &rep), "an even split is not uneven");
	itest_report_free(&rep);
}

/* Fewer than 10 connections say nothing of the balance. */
Test(net_analysis, uneven_balance_needs_ten_connections)
{
	struct itest_report rep;

	cr_expect_null(balance(9, 0, &rep));
	itest_report_free(&rep);
}
