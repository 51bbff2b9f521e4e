/* SPDX-License-Identifier: MIT */
/* Folded stacks: one `root;...;leaf count` line per distinct stack, as flamegraph.pl and inferno
 * read. */
#include <inttypes.h>
#include <string.h>

#include "flame.h"

static bool same_funcs(const struct pst_fstack *a, const struct pst_fstack *b)
{
	return a->depth == b->depth && !memcmp(a->funcs, b->funcs, a->depth * sizeof(*a->funcs));
}

int pst_flame_write_folded(FILE *f, const struct pst_flame *fl)
{
	/* Stacks are sorted by their frames: equal ones are neighbours. */
	for (size_t i = 0; i < fl->nstacks;) {
		int64_t v[2] = {0, 0};
		size_t j = i;

		for (; j < fl->nstacks && same_funcs(&fl->stacks[i], &fl->stacks[j]); j++) {
			v[0] += fl->stacks[j].value[0];
			v[1] += fl->stacks[j].value[1];
		}
		pst_flame_put_folded_stack(f, fl, &fl->stacks[i]);
		if (fl->nslots == 2)
			fprintf(f, " %" PRId64 " %" PRId64 "\n", v[0], v[1]);
		else
			fprintf(f, " %" PRId64 "\n", v[0]);
		i = j;
	}
	return 0;
}
