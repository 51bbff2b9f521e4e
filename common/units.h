/* SPDX-License-Identifier: MIT */
/* Human-readable units for reports: bytes (KiB, MiB), durations (ms, s), counts and rates. */
#ifndef PST_UNITS_H
#define PST_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* "512 B", "1.5 KiB", "12.3 MiB", "2.00 GiB". Returns buf. */
const char *pst_fmt_bytes(double bytes, char *buf, size_t len);

/* "850 ns", "12.3 us", "45.6 ms", "1.23 s". Returns buf. */
const char *pst_fmt_ns(uint64_t ns, char *buf, size_t len);

/* An exact integer with thousands separators: "1,234,567". Returns buf. */
const char *pst_fmt_count(double n, char *buf, size_t len);

/* A rate or large estimate, short: "950", "12.3k", "4.56M", "1.2G". Returns buf. */
const char *pst_fmt_short(double n, char *buf, size_t len);

#endif
