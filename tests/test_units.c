/* SPDX-License-Identifier: MIT */
/* The report's unit formatters: every ns/us/ms/s, byte, count and rate string comes from these four. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "units.h"

struct ns_case {
	uint64_t ns;
	const char *want;
};

/* Each unit's first and last value, and one in its middle: a unit off by a
 * factor of 1000, or a boundary moved by one, changes one of these. */
Test(units, durations_exact_at_every_boundary)
{
	static const struct ns_case c[] = {
		{ 0, "0 ns" },
		{ 999, "999 ns" },
		{ 1000, "1.0 us" },
		{ 12345, "12.3 us" },
		{ 999949, "999.9 us" },
		{ 1000000, "1.0 ms" },
		{ 45600000, "45.6 ms" },
		{ 999900000, "999.9 ms" },
		{ 1000000000, "1.00 s" },
		{ 1234000000, "1.23 s" },
		{ 3600000000000ull, "3600.00 s" },
	};
	char buf[32];

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		cr_expect_str_eq(pst_fmt_ns(c[i].ns, buf, sizeof(buf)), c[i].want, "%llu ns",
				 (unsigned long long)c[i].ns);
}

typedef const char *(*fmt_fn)(double, char *, size_t);

/* The byte, count and rate formatters, case by case: each unit's first
 * value and its neighbours. */
static const struct d_case {
	fmt_fn fmt;
	double v;
	const char *want;
} d_cases[] = {
	{ pst_fmt_bytes, -5, "0 B" },
	{ pst_fmt_bytes, 0, "0 B" },
	{ pst_fmt_bytes, 1023, "1023 B" },
	{ pst_fmt_bytes, 1024, "1.00 KiB" },
	{ pst_fmt_bytes, 1536, "1.50 KiB" },
	{ pst_fmt_bytes, 10 * 1024, "10.0 KiB" },
	{ pst_fmt_bytes, 100 * 1024, "100 KiB" },
	{ pst_fmt_bytes, 1048576, "1.00 MiB" },
	{ pst_fmt_bytes, 12.3 * 1048576, "12.3 MiB" },
	{ pst_fmt_bytes, 2.0 * 1073741824, "2.00 GiB" },
	{ pst_fmt_bytes, 1099511627776.0, "1.00 TiB" },
	{ pst_fmt_bytes, 1125899906842624.0 * 2048, "2048 PiB" },
	{ pst_fmt_count, -3, "0" },
	{ pst_fmt_count, 0, "0" },
	{ pst_fmt_count, 999, "999" },
	{ pst_fmt_count, 1000, "1,000" },
	{ pst_fmt_count, 999999.6, "1,000,000" },
	{ pst_fmt_count, 1234567, "1,234,567" },
	{ pst_fmt_count, 100000, "100,000" },
	{ pst_fmt_short, -1, "0" },
	{ pst_fmt_short, 950, "950" },
	{ pst_fmt_short, 999, "999" },
	{ pst_fmt_short, 1000, "1.00k" },
	{ pst_fmt_short, 12300, "12.3k" },
	{ pst_fmt_short, 456000, "456k" },
	{ pst_fmt_short, 4.56e6, "4.56M" },
	{ pst_fmt_short, 1.2e9, "1.20G" },
	{ pst_fmt_short, 5e12, "5.00T" },
	{ pst_fmt_short, 5e15, "5000T" },
};

static void expect_all(fmt_fn fmt)
{
	char buf[32];
	int n = 0;

	for (size_t i = 0; i < sizeof(d_cases) / sizeof(d_cases[0]); i++) {
		if (d_cases[i].fmt != fmt)
			continue;
		cr_expect_str_eq(fmt(d_cases[i].v, buf, sizeof(buf)), d_cases[i].want, "%.17g",
				 d_cases[i].v);
		n++;
	}
	cr_assert_gt(n, 0);
}

Test(units, bytes_exact_at_every_boundary)
{
	expect_all(pst_fmt_bytes);
}

Test(units, counts_have_thousands_separators)
{
	expect_all(pst_fmt_count);
}

Test(units, short_rates_exact_at_every_boundary)
{
	expect_all(pst_fmt_short);
}

/* A buffer too short is cut, never overrun. */
Test(units, short_buffers_are_cut)
{
	char buf[4];

	cr_expect_str_eq(pst_fmt_count(1234567, buf, sizeof(buf)), "1,2");
	cr_expect_str_eq(pst_fmt_ns(45600000, buf, sizeof(buf)), "45.");
}
