/* SPDX-License-Identifier: MIT */
/* JSON values the report writes everywhere: clamped integers, strings that may be missing. */
#include <limits.h>
#include <math.h>

#include "json_util.h"

json_t *pst_jint(double v)
{
	if (v <= 0)
		return json_integer(0);
	if (v >= 9.2e18)
		return json_integer(LLONG_MAX);
	return json_integer((json_int_t)llround(v));
}

json_t *pst_ju64(uint64_t v)
{
	return json_integer(v > (uint64_t)LLONG_MAX ? LLONG_MAX : (json_int_t)v);
}

json_t *pst_jstr(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *pst_jstrings(char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}
