/* SPDX-License-Identifier: MIT */
/* The latency histogram of REQ_AGG: log-linear buckets (16 per power of two), shared by the preload that fills it and the analyzer that reads it. */
#ifndef PST_REQHIST_H
#define PST_REQHIST_H

#include <stdint.h>

/*
 * Values below 16 ns have a bucket each; above, every power of two
 * [2^e, 2^(e+1)) is cut into 16 equal buckets, as HdrHistogram does with
 * one significant hex digit. A bucket is at most 1/16 of its lower bound
 * wide, so its middle is within 1/32 (3.2%) of any value in it. Values of
 * 2^37 ns (137 s) and more share the last bucket (the exact max is kept
 * beside the histogram).
 */
#define PST_RQH_SUB_BITS 4
#define PST_RQH_SUB (1u << PST_RQH_SUB_BITS)
#define PST_RQH_TOP_EXP 36
#define PST_RQH_BUCKETS ((PST_RQH_TOP_EXP - PST_RQH_SUB_BITS + 2) * PST_RQH_SUB)

static inline unsigned pst_rqh_bucket(uint64_t v)
{
	unsigned e;

	if (v < PST_RQH_SUB)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v);
	if (e > PST_RQH_TOP_EXP)
		return PST_RQH_BUCKETS - 1;
	return (e - PST_RQH_SUB_BITS + 1) * PST_RQH_SUB +
	       (unsigned)((v >> (e - PST_RQH_SUB_BITS)) & (PST_RQH_SUB - 1));
}

/* The middle of bucket b (its value below 16 ns): the value a percentile
 * falling in b is given. */
static inline uint64_t pst_rqh_mid(unsigned b)
{
	unsigned g = b / PST_RQH_SUB, e = g + PST_RQH_SUB_BITS - 1;
	uint64_t lo, width;

	if (b < PST_RQH_SUB)
		return b;
	width = 1ull << (e - PST_RQH_SUB_BITS);
	lo = (uint64_t)(PST_RQH_SUB + b % PST_RQH_SUB) << (e - PST_RQH_SUB_BITS);
	return lo + width / 2;
}

#endif
