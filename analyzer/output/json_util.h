/* SPDX-License-Identifier: MIT */
/* JSON values the report writes everywhere: clamped integers, strings that may be missing. */
#ifndef PST_JSON_UTIL_H
#define PST_JSON_UTIL_H

#include <jansson.h>
#include <stdint.h>

/* An estimate rounded to an integer, 0 below zero, clamped to JSON's range. */
json_t *pst_jint(double v);
/* A count clamped to JSON's (signed) integer range. */
json_t *pst_ju64(uint64_t v);
/* A string, or null when s is NULL. */
json_t *pst_jstr(const char *s);
/* An array of n strings: a stack, innermost frame first. */
json_t *pst_jstrings(char *const *v, size_t n);

#endif
