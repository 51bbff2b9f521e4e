/* SPDX-License-Identifier: MIT */
/* Pairing the allocation sites of two runs by symbolized stack, so two builds of the same code match. */
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "sort.h"

/* One side's site, while pairing. */
struct ref {
	const struct pst_sum_site *s;
	long i;
	const char *key; /* the grouping key of the current stage */
};

static int cmp_lines(const struct pst_sum_site *a, const struct pst_sum_site *b)
{
	size_t n = a->depth < b->depth ? a->depth : b->depth;

	for (size_t i = 0; i < n; i++)
		if (a->lines[i] != b->lines[i])
			return a->lines[i] < b->lines[i] ? -1 : 1;
	if (a->depth != b->depth)
		return a->depth < b->depth ? -1 : 1;
	return 0;
}

/* By key, then source order (lines frame by frame), then the whole stack. */
static int cmp_ref(const void *x, const void *y)
{
	const struct ref *a = x, *b = y;
	int c = strcmp(a->key, b->key);

	if (c)
		return c;
	c = cmp_lines(a->s, b->s);
	if (c)
		return c;
	c = strcmp(a->s->lkey, b->s->lkey);
	return c ? c : (a->i < b->i ? -1 : a->i > b->i);
}

static void add_pair(struct pst_site_pair *out, long *n, long b, long nw)
{
	out[*n].b = b;
	out[*n].n = nw;
	(*n)++;
}

/*
 * Pair refs of equal key: identical stacks first when exact, then in
 * order. Paired refs get i = -1 in both arrays.
 */
static void pair_stage(struct ref *a, size_t na, struct ref *b, size_t nb, bool exact,
		       struct pst_site_pair *out, long *n)
{
	size_t i = 0, j = 0;

	pst_sort(a, na, sizeof(*a), cmp_ref);
	pst_sort(b, nb, sizeof(*b), cmp_ref);
	while (i < na && j < nb) {
		int c = strcmp(a[i].key, b[j].key);
		size_t ie, je;

		if (c) {
			if (c < 0)
				i++;
			else
				j++;
			continue;
		}
		for (ie = i; ie < na && !strcmp(a[ie].key, a[i].key); ie++)
			;
		for (je = j; je < nb && !strcmp(b[je].key, b[j].key); je++)
			;
		for (size_t x = i; exact && x < ie; x++)
			for (size_t y = j; y < je; y++)
				if (b[y].i >= 0 && !strcmp(a[x].s->lkey, b[y].s->lkey)) {
					add_pair(out, n, a[x].i, b[y].i);
					a[x].i = b[y].i = -1;
					break;
				}
		for (size_t x = i, y = j; x < ie && y < je;) {
			if (a[x].i < 0) {
				x++;
			} else if (b[y].i < 0) {
				y++;
			} else {
				add_pair(out, n, a[x].i, b[y].i);
				a[x].i = b[y].i = -1;
				x++;
				y++;
			}
		}
		i = ie;
		j = je;
	}
}

/* Drop paired refs; set the key of the next stage (the site function). */
static size_t compact(struct ref *r, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (r[i].i >= 0) {
			r[k] = r[i];
			r[k].key = r[k].s->function ? r[k].s->function : r[k].s->name;
			k++;
		}
	return k;
}

static int cmp_pair(const void *x, const void *y)
{
	const struct pst_site_pair *a = x, *b = y;
	long ka = a->n >= 0 ? a->n : a->b, kb = b->n >= 0 ? b->n : b->b;

	/* New's sites in their order, then the ones gone, in base's order. */
	if ((a->n < 0) != (b->n < 0))
		return a->n < 0 ? 1 : -1;
	return ka < kb ? -1 : ka > kb;
}

long pst_match_sites(const struct pst_summary *base, const struct pst_summary *new,
		     struct pst_site_pair **out)
{
	struct ref *a = calloc(base->nsites + 1, sizeof(*a));
	struct ref *b = calloc(new->nsites + 1, sizeof(*b));
	struct pst_site_pair *p = calloc(base->nsites + new->nsites + 1, sizeof(*p));
	size_t na = base->nsites, nb = new->nsites;
	long n = 0;

	if (!a || !b || !p) {
		free(a);
		free(b);
		free(p);
		return -1;
	}
	for (size_t i = 0; i < na; i++)
		a[i] = (struct ref){ &base->sites[i], (long)i, base->sites[i].fkey };
	for (size_t i = 0; i < nb; i++)
		b[i] = (struct ref){ &new->sites[i], (long)i, new->sites[i].fkey };
	pair_stage(a, na, b, nb, true, p, &n);
	na = compact(a, na);
	nb = compact(b, nb);
	pair_stage(a, na, b, nb, false, p, &n);
	for (size_t i = 0; i < na; i++)
		if (a[i].i >= 0)
			add_pair(p, &n, a[i].i, -1);
	for (size_t i = 0; i < nb; i++)
		if (b[i].i >= 0)
			add_pair(p, &n, -1, b[i].i);
	pst_sort(p, (size_t)n, sizeof(*p), cmp_pair);
	free(a);
	free(b);
	*out = p;
	return n;
}
