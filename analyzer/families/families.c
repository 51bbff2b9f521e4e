/* SPDX-License-Identifier: MIT */
/* The table of families, and one trace's analysis run through it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "family.h"

/* In the order of analysis and of findings of one severity. A new family
 * is one line here (its hooks and report ranks are in its own file). */
const struct pst_family_ops *const pst_families[] = {
	&pst_family_memory,
	&pst_family_threads,
	&pst_family_net,
	&pst_family_cpu,
	&pst_family_timeline,
	&pst_family_requests,
};
const size_t pst_nfamilies = sizeof(pst_families) / sizeof(*pst_families);

_Static_assert(sizeof(pst_families) / sizeof(*pst_families) <= PST_FAMILIES_MAX,
	       "PST_FAMILIES_MAX is too small for the table");

unsigned pst_family_index(const struct pst_family_ops *fam)
{
	for (size_t i = 0; i < pst_nfamilies; i++)
		if (pst_families[i] == fam)
			return (unsigned)i;
	return (unsigned)pst_nfamilies;
}

void *pst_analysis_of(const struct pst_analysis *a, const struct pst_family_ops *fam)
{
	unsigned i = pst_family_index(fam);

	return i < pst_nfamilies ? a->data[i] : NULL;
}

int pst_analysis_warn(struct pst_analysis *a, const char *w)
{
	char **nv;

	for (size_t i = 0; i < a->nwarnings; i++)
		if (!strcmp(a->warnings[i], w))
			return 0;
	nv = realloc(a->warnings, (a->nwarnings + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	a->warnings = nv;
	a->warnings[a->nwarnings] = strdup(w);
	return a->warnings[a->nwarnings++] ? 0 : -ENOMEM;
}

struct pst_symbolizer *pst_analysis_symbolizer(const struct pst_trace *t)
{
	struct pst_symbolizer *sym = pst_symbolizer_new();

	for (size_t i = 0; sym && i < t->nmodules; i++) {
		const struct pst_module *mo = &t->modules[i];

		if (mo->path)
			pst_symbolizer_add_module(sym, mo->path, mo->bias, mo->lo, mo->hi,
						  mo->build_id, mo->build_id_len);
	}
	return sym;
}

/* Every family's findings, each tagged with its family, in the one order. */
static int run_findings(struct pst_analysis *a)
{
	for (size_t i = 0; i < pst_nfamilies; i++) {
		size_t first = a->f.n;

		if (pst_families[i]->findings &&
		    pst_families[i]->findings(a, a->data[i], &a->f))
			return -ENOMEM;
		for (size_t j = first; j < a->f.n; j++)
			a->f.v[j].family = (unsigned)i;
	}
	return pst_findings_sort(&a->f);
}

int pst_analysis_run(struct pst_analysis *a)
{
	for (size_t i = 0; i < pst_nfamilies; i++)
		if (pst_families[i]->analyze && !(a->data[i] = pst_families[i]->analyze(a)))
			return -ENOMEM;
	/* What the symbolizer could not read comes first among the warnings. */
	for (size_t i = 0; a->sym; i++) {
		const char *w = pst_symbolizer_warning(a->sym, i);

		if (!w)
			break;
		if (pst_analysis_warn(a, w))
			return -ENOMEM;
	}
	for (size_t i = 0; i < pst_nfamilies; i++)
		if (pst_families[i]->warnings && pst_families[i]->warnings(a, a->data[i]))
			return -ENOMEM;
	return run_findings(a);
}

void pst_analysis_free(struct pst_analysis *a)
{
	pst_findings_free(&a->f);
	for (size_t i = 0; i < pst_nfamilies; i++)
		if (a->data[i] && pst_families[i]->free)
			pst_families[i]->free(a->data[i]);
	memset(a->data, 0, sizeof(a->data));
	for (size_t i = 0; i < a->nwarnings; i++)
		free(a->warnings[i]);
	free(a->warnings);
	a->warnings = NULL;
	a->nwarnings = 0;
}
