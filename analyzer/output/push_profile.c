/* SPDX-License-Identifier: MIT */
/* One interval's pprof for push: the trace's stacks now, less what earlier intervals already sent. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flame.h"
#include "hash.h"
#include "push.h"

/*
 * A trace only grows: its counts are sums over all that came before. The
 * interval's profile is each stack's value now less its value at the last
 * cut, so nothing is sent twice and nothing is missed however the cuts fall
 * against the recording's own writes. What is kept between cuts is one
 * entry a stack: its key and its values then.
 */
#define NVALS 5 /* value[0] and the heap's four */

struct entry {
	uint64_t key; /* 0: empty slot */
	int64_t v[NVALS];
};

struct pst_push_prev {
	const struct pst_metric *metric; /* a trace that changes metric starts over */
	struct entry *slot;
	size_t nslots, n;
};

/* A stack's identity across cuts: the trace's own (CPU), else its frames'
 * names and addresses, its objects, process and thread (the flame's ids
 * are renumbered at every load). */
static uint64_t stack_key(const struct pst_flame *fl, const struct pst_fstack *s)
{
	uint64_t h = PST_FNV_OFFSET;

	if (s->raw)
		return s->raw;

	for (size_t i = 0; i < s->depth; i++) {
		const struct pst_ffunc *f = &fl->funcs[s->funcs[i]];

		h = pst_fnv_str(h, f->name);
		h = pst_fnv_bytes(h, &f->kind, sizeof(f->kind));
	}
	for (size_t i = 0; i < s->nlocs; i++) {
		const struct pst_floc *l = &fl->locs[s->locs[i]];

		h = pst_fnv_bytes(h, &l->addr, sizeof(l->addr));
		if (l->mapping)
			h = pst_fnv_str(h, fl->maps[l->mapping - 1].path);
	}
	h = pst_fnv_bytes(h, &s->pid, sizeof(s->pid));
	h = pst_fnv_bytes(h, &s->tid, sizeof(s->tid));
	return h ? h : 1;
}

static struct entry *find(struct pst_push_prev *p, uint64_t key)
{
	size_t j = key & (p->nslots - 1);

	while (p->slot[j].key && p->slot[j].key != key)
		j = (j + 1) & (p->nslots - 1);
	return &p->slot[j];
}

/* Room for n more entries at under half load. 0 or -ENOMEM. */
static int reserve(struct pst_push_prev *p, size_t n)
{
	size_t nslots = p->nslots ? p->nslots : 64;
	struct pst_push_prev q = *p;

	while ((p->n + n) * 2 > nslots)
		nslots *= 2;
	if (nslots == p->nslots)
		return 0;
	q.slot = calloc(nslots, sizeof(*q.slot));
	if (!q.slot)
		return -ENOMEM;
	q.nslots = nslots;
	for (size_t i = 0; i < p->nslots; i++)
		if (p->slot[i].key)
			*find(&q, p->slot[i].key) = p->slot[i];
	free(p->slot);
	*p = q;
	return 0;
}

void pst_push_prev_free(struct pst_push_prev *prev)
{
	if (prev)
		free(prev->slot);
	free(prev);
}

int pst_push_move(int fd, void *b, size_t n, bool rd)
{
	for (char *c = b; n;) {
		ssize_t k = rd ? read(fd, c, n) : write(fd, c, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		c += k;
		n -= (size_t)k;
	}
	return 0;
}

int pst_push_prev_send(const struct pst_push_prev *prev, int fd)
{
	return pst_push_move(fd, (void *)prev, sizeof(*prev), false) ||
			       pst_push_move(fd, prev->slot, prev->nslots * sizeof(*prev->slot), false)
		       ? -1
		       : 0;
}

struct pst_push_prev *pst_push_prev_recv(int fd)
{
	struct pst_push_prev *p = calloc(1, sizeof(*p));

	if (!p || pst_push_move(fd, p, sizeof(*p), true))
		goto fail;
	p->slot = NULL; /* the sender's pointer */
	/* a table of a power of two slots at under half load, or none */
	if (p->nslots & (p->nslots - 1) || p->n * 2 > p->nslots || p->nslots > (1u << 30))
		goto fail;
	p->slot = p->nslots ? calloc(p->nslots, sizeof(*p->slot)) : NULL;
	if (p->nslots && (!p->slot || pst_push_move(fd, p->slot, p->nslots * sizeof(*p->slot), true)))
		goto fail;
	return p;
fail:
	if (p)
		free(p->slot);
	free(p);
	return NULL;
}

/* The values of s that are sums (sent as the interval's delta); the
 * in-use ones are a state, sent as they are now. */
static bool is_sum(const struct pst_flame *fl, int k)
{
	if (k == 0)
		return strncmp(fl->metric->pprof_type, "inuse", 5) != 0;
	return k - 1 == PST_HEAP_ALLOC_OBJECTS || k - 1 == PST_HEAP_ALLOC_SPACE;
}

/* Turn fl's stacks into the interval's, remember the totals now; stacks
 * with nothing new are left out. 0 or -ENOMEM. */
static int subtract(struct pst_push_prev *p, struct pst_flame *fl, int64_t *total)
{
	size_t kept = 0;

	if (reserve(p, fl->nstacks))
		return -ENOMEM;
	*total = 0;
	for (size_t i = 0; i < fl->nstacks; i++) {
		struct pst_fstack *s = &fl->stacks[i];
		int64_t *v[NVALS] = { &s->value[0], &s->heap[0], &s->heap[1], &s->heap[2], &s->heap[3] };
		struct entry *e = find(p, stack_key(fl, s));
		bool any = false;

		if (!e->key) {
			e->key = stack_key(fl, s);
			p->n++;
		}
		for (int k = 0; k < NVALS; k++) {
			int64_t now = *v[k];

			if (is_sum(fl, k))
				*v[k] -= e->v[k];
			e->v[k] = now;
			any = any || (*v[k] && (k == 0 || fl->heap_values));
		}
		*total += s->value[0];
		if (any)
			fl->stacks[kept++] = *s;
		else {
			free(s->funcs);
			free(s->locs);
		}
	}
	fl->nstacks = kept;
	return 0;
}

/* fl as gzipped pprof into out->buf. 0 or -errno. */
static int to_pprof(const struct pst_flame *fl, struct pst_push_cut *out)
{
	FILE *f = open_memstream(&out->buf, &out->len);
	int r;

	if (!f)
		return -errno;
	r = pst_flame_write_pprof(f, fl);
	if (fclose(f) && !r)
		r = -EIO;
	if (r) {
		free(out->buf);
		out->buf = NULL;
	}
	return r;
}

/* A stack whose value moved since the last cut (or is new). */
static bool changed(uint64_t raw, int64_t value, void *arg)
{
	struct pst_push_prev *p = arg;
	const struct entry *e = p->nslots ? find(p, raw) : NULL;

	return !e || !e->key || e->v[0] != value;
}

int pst_push_profile(struct pst_push_prev **prev, const char *path, uint64_t from_ns,
		     uint64_t until_ns, struct pst_push_cut *out)
{
	char *paths[1] = { (char *)path };
	struct pst_flame_options o = { .format = PST_FLAME_PPROF, .paths = paths, .npaths = 1 };
	struct pst_flame fl = { .period = 1, .heap_values = true, .per_thread = true,
				.quiet = true };
	bool damaged = false;
	int r = -1;

	memset(out, 0, sizeof(*out));
	if (!*prev)
		*prev = calloc(1, sizeof(**prev));
	if (!*prev)
		goto out;
	fl.keep = changed;
	fl.keep_arg = *prev;
	if (pst_flame_prepare(&fl, &o, &damaged))
		goto out;
	if ((*prev)->metric != fl.metric) {
		free((*prev)->slot);
		**prev = (struct pst_push_prev){ .metric = fl.metric };
	}
	if (subtract(*prev, &fl, &out->total))
		goto out;
	snprintf(out->program, sizeof(out->program), "%s", fl.program);
	out->hz = fl.metric->pprof_shape == PST_PPROF_CPU && fl.period > 1
			  ? (unsigned long)(1000000000 / fl.period)
			  : 0;
	fl.start_realtime_ns = from_ns;
	fl.duration_ns = until_ns > from_ns ? until_ns - from_ns : 0;
	r = 0;
	if (fl.nstacks)
		r = to_pprof(&fl, out) ? -1 : 1;
out:
	pst_flame_release(&fl);
	return r;
}
