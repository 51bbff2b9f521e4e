/* SPDX-License-Identifier: MIT */
/* The preload's CPU samples (registers and a stack copy each) unwound offline into STACKs with DWARF CFI. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "trace_unwind.h"
#include "grow.h"
#include "unwind.h"
#include "sort.h"

/* Frames kept per sample, as `prestanda record` keeps. */
#define MAX_FRAMES 127

struct interned {
	uint64_t hash;
	size_t idx; /* in t->stacks */
};

struct ctx {
	struct pst_trace *t;
	struct pst_unwinder *uw;
	struct pst_usample_ref *refs;
	size_t nrefs, cap_refs, cap_stacks;
	struct interned *tab; /* open addressing; idx SIZE_MAX: empty */
	size_t tab_size, ntab;
	uint64_t next_id;
	int err;
};

static uint64_t frames_hash(const uint64_t *f, unsigned n)
{
	uint64_t h = 0xcbf29ce484222325ull ^ n;

	for (unsigned i = 0; i < n; i++)
		h = (h ^ f[i]) * 0x100000001b3ull;
	return h ? h : 1;
}

static int tab_grow(struct ctx *c)
{
	size_t n = c->tab_size ? 2 * c->tab_size : 1024;
	struct interned *nt = malloc(n * sizeof(*nt));

	if (!nt)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		nt[i].idx = SIZE_MAX;
	for (size_t i = 0; i < c->tab_size; i++) {
		size_t j;

		if (c->tab[i].idx == SIZE_MAX)
			continue;
		for (j = c->tab[i].hash & (n - 1); nt[j].idx != SIZE_MAX; j = (j + 1) & (n - 1))
			;
		nt[j] = c->tab[i];
	}
	free(c->tab);
	c->tab = nt;
	c->tab_size = n;
	return 0;
}

/* The id of this stack among the unwound ones, added when new; 0 without memory. */
static uint64_t intern(struct ctx *c, const uint64_t *f, unsigned n)
{
	struct pst_trace *t = c->t;
	uint64_t h = frames_hash(f, n);
	struct pst_stack *s;
	size_t j;

	if ((c->ntab + 1) * 2 > c->tab_size && tab_grow(c))
		return 0;
	for (j = h & (c->tab_size - 1); c->tab[j].idx != SIZE_MAX; j = (j + 1) & (c->tab_size - 1)) {
		s = &t->stacks[c->tab[j].idx];
		if (c->tab[j].hash == h && s->depth == n && !memcmp(s->frames, f, n * sizeof(*f)))
			return s->id;
	}
	/* The reader's array has room for nstacks: ours starts above it. */
	if (pst_grow(&t->stacks, &c->cap_stacks, t->nstacks + 1, sizeof(*t->stacks),
		     t->nstacks + 256))
		return 0;
	s = &t->stacks[t->nstacks];
	s->frames = malloc((n ? n : 1) * sizeof(*f));
	if (!s->frames)
		return 0;
	memcpy(s->frames, f, n * sizeof(*f));
	s->depth = n;
	s->id = c->next_id++;
	c->tab[j] = (struct interned){ h, t->nstacks++ };
	c->ntab++;
	return s->id;
}

static int on_usample(unsigned type, uint64_t tid, const uint8_t *p, size_t len, void *arg)
{
	struct ctx *c = arg;
	uint64_t regs[PST_UNW_NREGS] = { 0 };
	uint64_t frames[MAX_FRAMES];
	struct pst_rec_usample u;
	struct pst_usample_ref *r;
	bool complete = false;
	int depth = 0;

	(void)type;
	(void)tid;
	if (pst_dec_usample(p, p + len, &u))
		return 0;
	for (uint64_t i = 0; i < u.nregs; i++) {
		uint64_t v = pst_tail_u(&u.regs);

		if (i < PST_UNW_NREGS)
			regs[i] = v;
	}
	if (u.nregs >= PST_UNW_NREGS && c->uw)
		depth = pst_unwind(c->uw, (pid_t)u.tid, regs, u.stack, u.stack_len, frames,
				   MAX_FRAMES, &complete);
	if (u.nregs > PST_UNW_IP && !depth) {
		frames[0] = regs[PST_UNW_IP];
		depth = 1;
	}
	if (pst_grow(&c->refs, &c->cap_refs, c->nrefs + 1, sizeof(*c->refs), 1024))
		return c->err = -ENOMEM;
	r = &c->refs[c->nrefs++];
	r->payload = (uintptr_t)p;
	r->ts = u.ts;
	r->tid = u.tid;
	r->count = u.count;
	r->flags = (u.flags & PST_SAMPLE_BLOCKED) | PST_SAMPLE_DWARF |
		   (complete ? 0 : PST_SAMPLE_USER_TRUNCATED);
	r->stack = depth ? intern(c, frames, (unsigned)depth) : 0;
	if (depth && !r->stack)
		return c->err = -ENOMEM;
	return 0;
}

/* The trace's modules (a module is written again after every dlopen: the
 * unwinder keeps each address range once, the first written). */
static struct pst_unwinder *trace_unwinder(const struct pst_trace *t)
{
	struct pst_unw_module *m = calloc(t->nmodules + 1, sizeof(*m));
	struct pst_unwinder *u;
	int n = 0;

	if (!m || t->nmodules > INT_MAX) {
		free(m);
		return NULL;
	}
	for (size_t i = 0; i < t->nmodules; i++) {
		const struct pst_module *x = &t->modules[i];

		if (x->path)
			m[n++] = (struct pst_unw_module){ x->bias, x->lo, x->hi, x->path };
	}
	u = pst_unwinder_new((pid_t)t->proc.pid, m, n);
	free(m);
	return u;
}

static int cmp_ref(const void *a, const void *b)
{
	const struct pst_usample_ref *x = a, *y = b;

	return x->payload < y->payload ? -1 : x->payload > y->payload;
}

static int any(unsigned type, uint64_t tid, const uint8_t *p, size_t len, void *arg)
{
	(void)type;
	(void)tid;
	(void)p;
	(void)len;
	(void)arg;
	return 1;
}

int pst_trace_unwind(struct pst_trace *t, struct pst_usample_ref **out, size_t *n)
{
	struct ctx c = { .t = t, .cap_stacks = t->nstacks };

	*out = NULL;
	*n = 0;
	c.next_id = t->nstacks ? t->stacks[t->nstacks - 1].id + 1 : 1;
	if (!pst_trace_foreach(t, PST_REC_USAMPLE, PST_REC_USAMPLE, any, NULL))
		return 0;
	c.uw = trace_unwinder(t);
	pst_trace_foreach(t, PST_REC_USAMPLE, PST_REC_USAMPLE, on_usample, &c);
	pst_unwinder_free(c.uw);
	free(c.tab);
	if (c.err) {
		free(c.refs);
		return c.err;
	}
	pst_sort(c.refs, c.nrefs, sizeof(*c.refs), cmp_ref);
	*out = c.refs;
	*n = c.nrefs;
	return 0;
}
