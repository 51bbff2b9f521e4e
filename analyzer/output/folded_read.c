/* SPDX-License-Identifier: MIT */
/* Reading folded stacks back (`root;...;leaf count`, or `stack count_a count_b`) into a flame. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flame.h"
#include "trace.h"

/* Bytes looked at to tell folded text from a trace. */
#define SNIFF_BYTES 4096
/* The stack of a folded line without one, as the writer puts it. */
#define NO_STACK "[no stack]"

/* One line as read: its stack, and its counts read both ways. */
struct fline {
	char *text;	/* the line, cut in place */
	size_t lineno;
	size_t len2;	/* length of the stack before the last two counts; 0 when not two */
	double last, before_last;
};

/* Fractional counts are rounded so that each slot's running total stays
 * the rounded sum of what was read: no total drifts by a line's fraction. */
struct rounding {
	double sum[2];
	int64_t given[2];
};

static int64_t rounded(struct rounding *r, unsigned slot, double v)
{
	int64_t now;

	r->sum[slot] += v;
	now = llround(r->sum[slot]);
	v = (double)(now - r->given[slot]);
	r->given[slot] = now;
	return (int64_t)v;
}

bool pst_folded_detect(const char *path)
{
	char buf[SNIFF_BYTES];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (!n || (n >= PST_MAGIC_LEN && !memcmp(buf, PST_MAGIC, PST_MAGIC_LEN)))
		return false;
	return !memchr(buf, 0, n);
}

/* The count that ends s[0..*len): *len becomes the length before its
 * space (and before a `;` there, as heaptrack_print -F writes `a;b; 3`);
 * -1 when s does not end in " COUNT", -2 when the count is out of range.
 * Counts may have a fraction (flamegraph.pl sums them as numbers). */
static int count_at_end(const char *s, size_t *len, double *v)
{
	size_t e = *len, b = e, dot = e;
	double x = 0, scale = 1;

	while (b > 0 && ((s[b - 1] >= '0' && s[b - 1] <= '9') || (s[b - 1] == '.' && dot == e)))
		if (s[--b] == '.')
			dot = b;
	if (b == e || b == 0 || s[b - 1] != ' ' || (dot != e && (dot == b || dot == e - 1)))
		return -1;
	for (size_t i = b; i < e; i++) {
		if (i == dot)
			continue;
		x = x * 10 + (s[i] - '0');
		if (i > dot)
			scale *= 10;
	}
	x /= scale;
	if (x >= 0x1p63)
		return -2;
	*v = x;
	*len = b - 1;
	if (*len && s[*len - 1] == ';')
		(*len)--;
	return 0;
}

/* Why stack is not a folded stack, or NULL when it is one. */
static const char *bad_stack(const char *stack)
{
	size_t len = strlen(stack);

	if (!len)
		return "no stack before the count";
	if (stack[0] == ';' || stack[len - 1] == ';' || strstr(stack, ";;"))
		return "empty frame name between semicolons";
	return NULL;
}

static int fail(char *err, size_t errlen, const char *path, size_t lineno, const char *why)
{
	snprintf(err, errlen, "%s:%zu: %s", path, lineno, why);
	return -1;
}

static bool has_suffix(const char *s, size_t len, const char *suf)
{
	size_t n = strlen(suf);

	return len > n && !memcmp(s + len - n, suf, n);
}

/* Add stack ("a;b;c", cut in place) with value v to slot. */
static int add_line(struct pst_flame *fl, unsigned slot, char *stack, int64_t v)
{
	size_t n = 1, depth = 0;
	const char **names;
	enum pst_fkind *kinds;
	int r = -ENOMEM;

	if (!strcmp(stack, NO_STACK))
		return pst_flame_add_named(fl, slot, NULL, NULL, 0, v);
	for (const char *c = stack; *c; c++)
		n += *c == ';';
	names = malloc(n * sizeof(*names));
	kinds = malloc(n * sizeof(*kinds));
	if (!names || !kinds)
		goto out;
	for (char *save = NULL, *tok = strtok_r(stack, ";", &save); tok;
	     tok = strtok_r(NULL, ";", &save)) {
		size_t len = strlen(tok);

		kinds[depth] = tok[0] == '[' ? PST_FK_UNKNOWN : PST_FK_OWN;
		if (has_suffix(tok, len, PST_FOLDED_KERNEL)) {
			tok[len - strlen(PST_FOLDED_KERNEL)] = 0;
			kinds[depth] = PST_FK_KERNEL;
		}
		names[depth++] = tok;
	}
	r = pst_flame_add_named(fl, slot, names, kinds, depth, v);
out:
	free(names);
	free(kinds);
	return r;
}

/* Split buf into lines and read each one's counts. Returns how many lines,
 * or -1 (err set) or -ENOMEM. */
static long split_lines(char *buf, size_t len, struct fline **out, const char *path, char *err,
			size_t errlen)
{
	struct fline *v = NULL;
	size_t n = 0, cap = 0, lineno = 0;

	for (char *p = buf; p < buf + len;) {
		char *e = memchr(p, '\n', (size_t)(buf + len - p));
		size_t l = e ? (size_t)(e - p) : (size_t)(buf + len - p);
		struct fline *f;
		size_t l2;
		int c;

		lineno++;
		p[l] = 0;
		if (l && p[l - 1] == '\r')
			p[--l] = 0;
		/* `#` lines are comments, as flamegraph.pl's input may carry */
		if (l && p[0] != '#') {
			if (n == cap) {
				struct fline *nv = realloc(v, (cap = cap ? 2 * cap : 1024) * sizeof(*v));

				if (!nv) {
					free(v);
					return -ENOMEM;
				}
				v = nv;
			}
			f = &v[n++];
			memset(f, 0, sizeof(*f));
			f->text = p;
			f->lineno = lineno;
			c = count_at_end(p, &l, &f->last);
			if (c) {
				free(v);
				return fail(err, errlen, path, lineno,
					    c == -2 ? "count out of range"
						    : "no count at the end (want `frame;...;frame COUNT`)");
			}
			p[l] = 0;
			l2 = l;
			if (!count_at_end(p, &l2, &f->before_last))
				f->len2 = l2;
		}
		p = e ? e + 1 : buf + len;
	}
	*out = v;
	return (long)n;
}

int pst_folded_read(struct pst_flame *fl, unsigned slot, const char *path, bool *two, char *err,
		    size_t errlen)
{
	FILE *f = fopen(path, "rb");
	struct fline *v = NULL;
	struct rounding rd = {0};
	char *buf = NULL;
	size_t len = 0;
	long n;
	int r;

	*two = false;
	if (!f) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -errno;
	}
	if (getdelim(&buf, &len, 0, f) < 0 && ferror(f)) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		fclose(f);
		free(buf);
		return -EIO;
	}
	fclose(f);
	len = buf ? strlen(buf) : 0;
	n = split_lines(buf ? buf : "", len, &v, path, err, errlen);
	if (n < 0) {
		free(buf);
		return (int)n;
	}
	if (!n) {
		free(buf);
		snprintf(err, errlen, "%s: no folded stacks in it", path);
		return -1;
	}
	/* Two counts on every line: BASE and NEW of a differential. */
	*two = true;
	for (long i = 0; i < n && *two; i++) {
		char *t = v[i].text, c = t[v[i].len2];

		t[v[i].len2] = 0;
		*two = v[i].len2 && !bad_stack(t);
		t[v[i].len2] = c;
	}
	r = 0;
	for (long i = 0; i < n && !r; i++) {
		char *t = v[i].text;
		const char *why;

		if (*two)
			t[v[i].len2] = 0;
		why = bad_stack(t);
		if (why) {
			r = fail(err, errlen, path, v[i].lineno, why);
		} else if (*two) {
			char *copy = strdup(t);

			r = copy ? add_line(fl, 0, t, rounded(&rd, 0, v[i].before_last)) : -ENOMEM;
			if (!r)
				r = add_line(fl, 1, copy, rounded(&rd, 1, v[i].last));
			free(copy);
		} else {
			int64_t c = rounded(&rd, slot, v[i].last);

			/* heaptrack_print -F writes stacks of no cost as 0 */
			r = c ? add_line(fl, slot, t, c) : 0;
		}
	}
	free(v);
	free(buf);
	return r;
}
