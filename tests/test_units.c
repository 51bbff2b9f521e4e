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

struct d_case {
	double v;
	const char *want;
};

static void expect_all(const char *(*fmt)(double, char *, size_t), const struct d_case *c,
		       size_t n)
{
	char buf[32];

	for (size_t i = 0; i < n; i++)
		cr_expect_str_eq(fmt(c[i].v, buf, sizeof(buf)), c[i].want, "%.17g", c[i].v);
}

Test(units, bytes_exact_at_every_boundary)
{
	static const struct d_case c[] = {
		{ -5, "0 B" },
		{ 0, "0 B" },
		{ 1023, "1023 B" },
		{ 1024, "1.00 KiB" },
		{ 1536, "1.50 KiB" },
		{ 10 * 1024, "10.0 KiB" },
		{ 100 * 1024, "100 KiB" },
		{ 1048576, "1.00 MiB" },
		{ 12.3 * 1048576, "12.3 MiB" },
		{ 2.0 * 1073741824, "2.00 GiB" },
		{ 1099511627776.0, "1.00 TiB" },
		{ 1125899906842624.0 * 2048, "2048 PiB" },
	};

	expect_all(pst_fmt_bytes, c, sizeof(c) / sizeof(c[0]));
}

Test(units, counts_have_thousands_separators)
{
	static const struct d_case c[] = {
		{ -3, "0" },
		{ 0, "0" },
		{ 999, "999" },
		{ 1000, "1,000" },
		{ 999999.6, "1,000,000" },
		{ 1234567, "1,234,567" },
		{ 100000, "100,000" },
	};

	expect_all(pst_fmt_count, c, sizeof(c) / sizeof(c[0]));
}

Test(units, short_rates_exact_at_every_boundary)
{
	static const struct d_case c[] = {
		{ -1, "0" },
		{ 950, "950" },
		{ 999, "999" },
		{ 1000, "1.00k" },
		{ 12300, "12.3k" },
		{ 456000, "456k" },
		{ 4.56e6, "4.56M" },
		{ 1.2e9, "1.20G" },
		{ 5e12, "5.00T" },
		{ 5e15, "5000T" },
	};

	expect_all(pst_fmt_short, c, sizeof(c) / sizeof(c[0]));
}

/* A buffer too short is cut, never overrun. */
Test(units, short_buffers_are_cut)
{
	char buf[4];

	cr_expect_str_eq(pst_fmt_count(1234567, buf, sizeof(buf)), "1,2");
	cr_expect_str_eq(pst_fmt_ns(45600000, buf, sizeof(buf)), "45.");
}
