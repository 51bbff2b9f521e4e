/* SPDX-License-Identifier: MIT */
/* A hash map from three integers to an index: open addressing, doubled at half full. */
#include <stdlib.h>
#include <string.h>

#include "imap.h"

static size_t hash_ints(const uint64_t *k)
{
	uint64_t h = (k[0] * 0x9e3779b97f4a7c15ull ^ k[1]) * 0xff51afd7ed558ccdull ^ k[2];

	h = (h ^ h >> 29) * 0xc4ceb9fe1a85ec53ull;
	return (size_t)(h ^ h >> 32);
}

struct pst_ientry *pst_imap_get(struct pst_imap *m, uint64_t a, uint64_t b, uint64_t c)
{
	const uint64_t k[3] = {a, b, c};
	size_t j;

	if ((m->n + 1) * 2 > m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 1024;
		struct pst_ientry *nt = malloc(ncap * sizeof(*nt));

		if (!nt)
			return NULL;
		for (size_t i = 0; i < ncap; i++)
			nt[i].val = UINT32_MAX;
		for (size_t i = 0; i < m->cap; i++) {
			if (m->tab[i].val == UINT32_MAX)
				continue;
			for (j = hash_ints(m->tab[i].k) & (ncap - 1); nt[j].val != UINT32_MAX;
			     j = (j + 1) & (ncap - 1))
				;
			nt[j] = m->tab[i];
		}
		free(m->tab);
		m->tab = nt;
		m->cap = ncap;
	}
	for (j = hash_ints(k) & (m->cap - 1); m->tab[j].val != UINT32_MAX;
	     j = (j + 1) & (m->cap - 1))
		if (!memcmp(m->tab[j].k, k, sizeof(k)))
			return &m->tab[j];
	memcpy(m->tab[j].k, k, sizeof(k));
	return &m->tab[j];
}

void pst_imap_set(struct pst_imap *m, struct pst_ientry *e, uint32_t val)
{
	e->val = val;
	m->n++;
}

void pst_imap_free(struct pst_imap *m)
{
	free(m->tab);
	memset(m, 0, sizeof(*m));
}
