/* SPDX-License-Identifier: MIT */
/* Shapes of requests: cache keys and paths with their ids folded, SQL with its literals as $n. */
#include <stdio.h>

#include "proto.h"

/* Longest key or path kept in a shape: past it the shape says nothing new. */
#define KEY_MAX 128

static inline bool is_digit(uint8_t ch)
{
	return ch >= '0' && ch <= '9';
}

static inline bool is_alnum(uint8_t ch)
{
	return is_digit(ch) || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z');
}

static inline bool is_hex(uint8_t ch)
{
	return is_digit(ch) || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f');
}

/* A run of alphanumerics that names one thing among many: a hex id of 8 or
 * more characters with a digit (object ids, hashes, UUID parts). */
static bool hex_id(const uint8_t *s, size_t n)
{
	bool digit = false;

	if (n < 8)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!is_hex(s[i]))
			return false;
		digit |= is_digit(s[i]);
	}
	return digit;
}

/* The key (or path) with every run of digits and every hex id as '*':
 * user:1234:cart and user:77:cart are one pattern, user:*:cart. */
void pst_pr_shape_key(struct pst_proto_conn *c, const uint8_t *s, size_t n)
{
	size_t i = 0;

	if (n > KEY_MAX)
		n = KEY_MAX;
	while (i < n) {
		size_t j = i;

		while (j < n && is_alnum(s[j]))
			j++;
		if (j == i) { /* a separator */
			pst_pr_shape_add(c, (const char *)s + i, 1);
			i++;
			continue;
		}
		if (hex_id(s + i, j - i)) {
			pst_pr_shape_add(c, "*", 1);
			i = j;
			continue;
		}
		while (i < j) { /* runs of letters as they are, of digits as '*' */
			size_t k = i;

			while (k < j && is_digit(s[k]) == is_digit(s[i]))
				k++;
			pst_pr_shape_add(c, is_digit(s[i]) ? "*" : (const char *)s + i,
					 is_digit(s[i]) ? 1 : k - i);
			i = k;
		}
	}
}

/* ---- SQL ---- */

struct sql_out {
	struct pst_proto_conn *c;
	unsigned param;  /* the last $n written */
	char last;       /* the last character written, ' ' at the start */
	bool space;      /* whitespace is pending */
};

static void sql_put(struct sql_out *o, const char *s, size_t n)
{
	if (o->space && o->last != ' ' && o->last != '(' && s[0] != ')' && s[0] != ',')
		pst_pr_shape_add(o->c, " ", 1);
	o->space = false;
	pst_pr_shape_add(o->c, s, n);
	o->last = s[n - 1];
}

static void sql_param(struct sql_out *o)
{
	char p[16];
	int n = snprintf(p, sizeof(p), "$%u", ++o->param);

	sql_put(o, p, (size_t)n);
}

/* The end of the literal starting at s[i] (a quoted string or a number), or
 * i when none starts there. */
static size_t sql_literal(const struct sql_out *o, const uint8_t *s, size_t n, size_t i)
{
	size_t j = i;

	if (s[i] == '\'') {
		for (j = i + 1; j < n; j++)
			if (s[j] == '\'' && !(j + 1 < n && s[j + 1] == '\'' && ++j))
				return j + 1;
		return n;
	}
	if (s[i] == '-' && j + 1 < n && is_digit(s[j + 1]) && strchr("=<>(,+-*/ ", o->last))
		j++;
	else if (!is_digit(s[i]) || (!o->space && (is_alnum((uint8_t)o->last) || o->last == '_' ||
						    o->last == '$' || o->last == '.' || o->last == '"')))
		return i;
	while (j < n && (is_digit(s[j]) || s[j] == '.'))
		j++;
	return j;
}

/* The statement with whitespace folded, literals as $1, $2, ... in order
 * (a statement's own $n kept), comments and the final ';' dropped. */
void pst_pr_shape_sql(struct pst_proto_conn *c, const uint8_t *s, size_t n)
{
	struct sql_out o = { .c = c, .last = ' ' };
	size_t i = 0;

	for (size_t k = 0; k < n; k++) /* numbering goes on after the statement's own */
		if (s[k] == '$' && k + 1 < n && is_digit(s[k + 1]))
			o.param = o.param > (unsigned)(s[k + 1] - '0') ? o.param : (unsigned)(s[k + 1] - '0');
	while (i < n && s[i]) {
		size_t j;

		if (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r' || s[i] == ';') {
			o.space = true;
			i++;
		} else if (s[i] == '-' && i + 1 < n && s[i + 1] == '-') {
			while (i < n && s[i] != '\n')
				i++;
		} else if ((j = sql_literal(&o, s, n, i)) > i) {
			sql_param(&o);
			i = j;
		} else {
			sql_put(&o, (const char *)s + i, 1);
			i++;
		}
	}
}

/* A URL's path without its query, each segment that is an id ('*'): all
 * digits, or a hex id, or a UUID. /users/42/cart and /users/7/cart are
 * one template, the id a star. */
void pst_pr_shape_path(struct pst_proto_conn *c, const uint8_t *s, size_t n)
{
	size_t i = 0;

	for (size_t k = 0; k < n; k++)
		if (s[k] == '?' || s[k] == '#')
			n = k;
	if (n > KEY_MAX)
		n = KEY_MAX;
	while (i < n) {
		size_t j = i, digits = 0, hex = 0;

		while (j < n && s[j] != '/') {
			digits += is_digit(s[j]);
			hex += is_hex(s[j]) || s[j] == '-';
			j++;
		}
		if (j > i && (digits == j - i || (hex == j - i && digits && j - i >= 8)))
			pst_pr_shape_add(c, "*", 1);
		else
			pst_pr_shape_add(c, (const char *)s + i, j - i);
		if (j < n)
			pst_pr_shape_add(c, "/", 1);
		i = j + 1;
	}
}
