/* SPDX-License-Identifier: MIT */
/* http: not decoded yet. */
#include "proto.h"

static void stub_begin(struct pst_proto_conn *c)
{
	c->proto = PST_PROTO_BYTES;
}

static void stub_token(struct pst_proto_conn *c, int d, const uint8_t *p, size_t n, bool last)
{
	(void)c, (void)d, (void)p, (void)n, (void)last;
}

const struct pst_pr_ops pst_pr_http = { stub_begin, stub_token };
