/* SPDX-License-Identifier: MIT */
/* The byte sampler: exponential waits with the configured mean, and the sampling probability it implies. */
#include <criterion/criterion.h>
#include <math.h>

#include "sampler.h"

#define DRAWS 1000000

Test(sampler, mean_interval_within_2_percent)
{
	const uint64_t means[] = { 4096, 512 * 1024, 8u << 20 };

	for (size_t m = 0; m < sizeof(means) / sizeof(means[0]); m++) {
		uint64_t rng = 0x1234567 + m;
		double sum = 0;

		for (int i = 0; i < DRAWS; i++)
			sum += (double)pst_sample_interval(&rng, means[m]);
		cr_expect(fabs(sum / DRAWS / (double)means[m] - 1.0) < 0.02,
			  "mean %llu: got %.1f", (unsigned long long)means[m], sum / DRAWS);
	}
}

/* Exponential: the standard deviation equals the mean, and the median is
 * mean * ln 2 (not the mean: this is not a fixed interval). */
Test(sampler, waits_are_exponential)
{
	const uint64_t mean = 512 * 1024;
	uint64_t rng = 42;
	double sum = 0, sum2 = 0;
	int below_median = 0;

	for (int i = 0; i < DRAWS; i++) {
		double w = (double)pst_sample_interval(&rng, mean);
		sum += w;
		sum2 += w * w;
		below_median += w < (double)mean * M_LN2;
	}
	double avg = sum / DRAWS, sd = sqrt(sum2 / DRAWS - avg * avg);
	cr_expect(fabs(sd / (double)mean - 1.0) < 0.02, "sd %.1f", sd);
	cr_expect(fabs(below_median / (double)DRAWS - 0.5) < 0.01, "below median %d", below_median);
}

/* The countdown the hooks run: an allocation of s bytes is sampled with
 * probability 1 - exp(-s/mean), whatever sizes came before it. */
Test(sampler, countdown_samples_with_expected_probability)
{
	const uint64_t mean = 64 * 1024;
	const uint64_t sizes[] = { 100, 4096, 65536 };
	uint64_t rng = 7;
	int64_t countdown = pst_sample_interval(&rng, mean);

	for (size_t k = 0; k < 3; k++) {
		int hits = 0, n = 400000;
		for (int i = 0; i < n; i++) {
			/* a small allocation in between, to show memorylessness */
			countdown -= 24;
			if (countdown < 0)
				countdown = pst_sample_interval(&rng, mean);
			countdown -= (int64_t)sizes[k];
			if (countdown < 0) {
				hits++;
				countdown = pst_sample_interval(&rng, mean);
			}
		}
		double p = 1.0 - exp(-(double)sizes[k] / (double)mean);
		cr_expect(fabs(hits / (double)n / p - 1.0) < 0.03, "size %llu: %f vs %f",
			  (unsigned long long)sizes[k], hits / (double)n, p);
	}
}

Test(sampler, never_zero_and_state_advances)
{
	uint64_t rng = 1, before = rng;

	for (int i = 0; i < 1000; i++)
		cr_assert_geq(pst_sample_interval(&rng, 1), 1);
	cr_expect_neq(rng, before);
}
