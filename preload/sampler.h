/* SPDX-License-Identifier: MIT */
/* Byte-interval sampling: exponential waits with a given mean, from a per-thread xorshift generator. */
#ifndef PST_SAMPLER_H
#define PST_SAMPLER_H

#include <math.h>
#include <stdint.h>

/* xorshift64*: state must be non-zero. */
static inline uint64_t pst_rng_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/*
 * Bytes to the next sample: an exponential draw with mean `mean`. Because the
 * wait is memoryless, an allocation of s bytes is sampled with probability
 * 1 - exp(-s/mean) whatever came before, which makes the reader's weights
 * unbiased. Called once per sample, never on the fast path.
 */
static inline int64_t pst_sample_interval(uint64_t *rng, uint64_t mean)
{
	/* 53 random bits -> u in (0, 1] */
	double u = (double)((pst_rng_next(rng) >> 11) + 1) * (1.0 / 9007199254740992.0);
	double w = -log(u) * (double)mean;

	return w < 1.0 ? 1 : (int64_t)w;
}

#endif
