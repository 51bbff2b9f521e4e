/* SPDX-License-Identifier: MIT */
/* A hash map from three integers to an index, for keys without strings. */
#ifndef PST_IMAP_H
#define PST_IMAP_H

#include <stddef.h>
#include <stdint.h>

struct pst_ientry {
	uint64_t k[3];
	uint32_t val; /* UINT32_MAX: empty */
};

struct pst_imap {
	struct pst_ientry *tab;
	size_t cap, n;
};

/* The slot of key (a, b, c): its entry, or the empty one to fill (val
 * UINT32_MAX) with pst_imap_set before the next get. NULL when out of memory. */
struct pst_ientry *pst_imap_get(struct pst_imap *m, uint64_t a, uint64_t b, uint64_t c);

/* Fill the empty entry e of m with val. */
void pst_imap_set(struct pst_imap *m, struct pst_ientry *e, uint32_t val);

void pst_imap_free(struct pst_imap *m);

#endif
