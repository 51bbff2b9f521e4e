/* SPDX-License-Identifier: MIT */
/* Human-readable units for reports: bytes (KiB, MiB), durations (ms, s), counts and rates. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#include "units.h"

const char *pst_fmt_bytes(double bytes, char *buf, size_t len)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	int u = -1;

	if (bytes < 0)
		bytes = 0;
	if (bytes < 1024) {
		snprintf(buf, len, "%.0f B", bytes);
		return buf;
	}
	while (bytes >= 1024 && u < 4) {
		bytes /= 1024;
		u++;
	}
	snprintf(buf, len, bytes < 10 ? "%.2f %s" : bytes < 100 ? "%.1f %s" : "%.0f %s", bytes,
		 unit[u]);
	return buf;
}

const char *pst_fmt_ns(uint64_t ns, char *buf, size_t len)
{
	double v = (double)ns;

	if (ns < 1000)
		snprintf(buf, len, "%" PRIu64 " ns", ns);
	else if (ns < 1000000)
		snprintf(buf, len, "%.1f us", v / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, len, "%.1f ms", v / 1e6);
	else
		snprintf(buf, len, "%.2f s", v / 1e9);
	return buf;
}

const char *pst_fmt_count(double n, char *buf, size_t len)
{
	char tmp[32];
	int k, i = 0, o = 0;

	snprintf(tmp, sizeof(tmp), "%.0f", n > 0 ? round(n) : 0);
	k = 0;
	while (tmp[k])
		k++;
	for (i = 0; tmp[i] && (size_t)o + 2 < len; i++) {
		if (i && (k - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = tmp[i];
	}
	buf[o] = 0;
	return buf;
}

const char *pst_fmt_short(double n, char *buf, size_t len)
{
	static const char *const unit[] = { "", "k", "M", "G", "T" };
	int u = 0;

	if (n < 0)
		n = 0;
	while (n >= 1000 && u < 4) {
		n /= 1000;
		u++;
	}
	if (!u)
		snprintf(buf, len, "%.0f", n);
	else
		snprintf(buf, len, n < 10 ? "%.2f%s" : n < 100 ? "%.1f%s" : "%.0f%s", n, unit[u]);
	return buf;
}
