/* SPDX-License-Identifier: MIT */
/* Kernel symbols from /proc/kallsyms: the function that holds a kernel address. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

struct ksym {
	uint64_t addr;
	char *name;   /* "name\0module\0" in one allocation */
	char *module; /* "" for the kernel image */
};

struct pst_ksyms {
	struct ksym *v;
	size_t n;
};

static int cmp_ksym(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Only code: text symbols of the kernel and its modules. */
static int is_text(char type)
{
	return type == 't' || type == 'T' || type == 'w' || type == 'W';
}

struct pst_ksyms *pst_ksyms_load(void)
{
	struct pst_ksyms *k = calloc(1, sizeof(*k));
	char *line = NULL;
	size_t cap = 0, vcap = 0;
	FILE *f;

	if (!k)
		return NULL;
	f = fopen("/proc/kallsyms", "re");
	if (!f) {
		free(k);
		return NULL;
	}
	while (getline(&line, &cap, f) > 0) {
		char type, name[256], module[128] = "";
		uint64_t addr;
		size_t nl, ml;
		struct ksym *s;

		if (sscanf(line, "%" SCNx64 " %c %255s [%127[^]]]", &addr, &type, name, module) < 3)
			continue;
		if (!is_text(type) || !addr)
			continue;
		if (k->n == vcap) {
			size_t nc = vcap ? 2 * vcap : 65536;
			void *nv = realloc(k->v, nc * sizeof(*k->v));

			if (!nv)
				break;
			k->v = nv;
			vcap = nc;
		}
		nl = strlen(name);
		ml = strlen(module);
		s = &k->v[k->n];
		s->addr = addr;
		s->name = malloc(nl + ml + 2);
		if (!s->name)
			break;
		memcpy(s->name, name, nl + 1);
		s->module = s->name + nl + 1;
		memcpy(s->module, module, ml + 1);
		k->n++;
	}
	free(line);
	fclose(f);
	if (!k->n) {
		/* Addresses are all 0 without the right to see them. */
		pst_ksyms_free(k);
		errno = EPERM;
		return NULL;
	}
	qsort(k->v, k->n, sizeof(*k->v), cmp_ksym);
	return k;
}

const char *pst_ksyms_find(const struct pst_ksyms *k, uint64_t addr, uint64_t *start,
			   const char **module)
{
	size_t lo = 0, hi = k ? k->n : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (k->v[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	*start = k->v[lo - 1].addr;
	*module = k->v[lo - 1].module;
	return k->v[lo - 1].name;
}

void pst_ksyms_free(struct pst_ksyms *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k->n; i++)
		free(k->v[i].name);
	free(k->v);
	free(k);
}
