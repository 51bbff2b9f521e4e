/* SPDX-License-Identifier: MIT */
/* `prestanda flame`: pick a metric, turn a trace's stacks into symbolized frames with values, write
 * them. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "family.h"
#include "imap.h"
#include "flame.h"
#include "hash.h"
#include "grow.h"
#include "memory.h"
#include "net.h"
#include "symbolize.h"
#include "threads.h"
#include "trace_read.h"

/* Inlined frames one address can expand to. */
#define MAX_INLINE 32

/* ---- metrics ---- */

/* Folded stacks read back, unless --metric names what their counts are. */
static const struct pst_metric folded_metric = {
    "samples", "samples", "count", "samples", 0, false, NULL, NULL, NULL, PST_PPROF_PLAIN};

/* Room for every family's metrics. */
#define METRICS_MAX 32

static int cmp_rank(const void *x, const void *y)
{
	const struct pst_metric *a = *(const struct pst_metric *const *)x;
	const struct pst_metric *b = *(const struct pst_metric *const *)y;

	return (a->rank > b->rank) - (a->rank < b->rank);
}

size_t pst_flame_metric_list(const struct pst_metric *const **out)
{
	static const struct pst_metric *list[METRICS_MAX];
	static size_t n;

	if (!n) {
		for (size_t i = 0; i < pst_nfamilies; i++)
			for (size_t j = 0; j < pst_families[i]->nmetrics && n < METRICS_MAX; j++)
				list[n++] = &pst_families[i]->metrics[j];
		qsort(list, n, sizeof(*list), cmp_rank);
	}
	*out = list;
	return n;
}

const struct pst_metric *pst_flame_metric_find(const char *name)
{
	const struct pst_metric *const *list;
	size_t n = pst_flame_metric_list(&list);

	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i]->name, name))
			return list[i];
	return NULL;
}

/* ---- string pool and key maps ---- */

struct entry {
	char *key;
	uint32_t val;
};

struct map {
	struct entry *tab;
	size_t cap, n;
};

struct pst_fpool {
	struct map strs, funcs, locs, maps;
	struct pst_symbolizer *sym[2];
	struct pst_trace *t[2];
	size_t caps[5]; /* funcs, lines, locs, maps, stacks */
	signed char has[2][METRICS_MAX]; /* per slot and metric: 1 has data, -1 has none, 0 not known yet */
};

static size_t hash_str(const char *s)
{
	return pst_fnv_str(PST_FNV_OFFSET, s);
}

/* The entry for key, created with val when new (*created set). NULL when
 * out of memory. */
static struct entry *map_get(struct map *m, const char *key, uint32_t val, bool *created)
{
	size_t j;

	if ((m->n + 1) * 2 > m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 256;
		struct entry *nt = calloc(ncap, sizeof(*nt));

		if (!nt)
			return NULL;
		for (size_t i = 0; i < m->cap; i++) {
			if (!m->tab[i].key)
				continue;
			for (j = hash_str(m->tab[i].key) & (ncap - 1); nt[j].key;
			     j = (j + 1) & (ncap - 1))
				;
			nt[j] = m->tab[i];
		}
		free(m->tab);
		m->tab = nt;
		m->cap = ncap;
	}
	for (j = hash_str(key) & (m->cap - 1); m->tab[j].key; j = (j + 1) & (m->cap - 1))
		if (!strcmp(m->tab[j].key, key)) {
			*created = false;
			return &m->tab[j];
		}
	m->tab[j].key = strdup(key);
	if (!m->tab[j].key)
		return NULL;
	m->tab[j].val = val;
	m->n++;
	*created = true;
	return &m->tab[j];
}

static void map_free(struct map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->tab[i].key);
	free(m->tab);
}

/* A copy of s owned by the pool (NULL for NULL). */
static const char *intern(struct pst_fpool *p, const char *s, int *err)
{
	struct entry *e;
	bool created;

	if (!s)
		return NULL;
	e = map_get(&p->strs, s, 0, &created);
	if (!e)
		*err = -ENOMEM;
	return e ? e->key : NULL;
}

/* Room for element n (index), that is n + 1 elements. */
static int grow(void *vp, size_t *cap, size_t n, size_t size)
{
	return pst_grow(vp, cap, n + 1, size, 64);
}

/* ---- which metrics a trace has ---- */

/* Does the trace in slot hold data of metric m?
 * Folded input holds whatever it is said to. */
static bool has_metric(struct pst_flame *fl, unsigned slot, const struct pst_metric *m)
{
	struct pst_fpool *p = fl->pool;
	const struct pst_metric *const *list;
	size_t n = pst_flame_metric_list(&list), i = 0;

	if (!p->t[slot])
		return true;
	while (i < n && list[i] != m)
		i++;
	if (i == n)
		return false;
	if (!p->has[slot][i])
		p->has[slot][i] = m->present(p->t[slot]) ? 1 : -1;
	return p->has[slot][i] > 0;
}

/* "alloc-bytes, alloc-calls, ..." of the metrics the trace in slot has data for. */
static void metrics_present(struct pst_flame *fl, unsigned slot, char *buf, size_t len)
{
	const struct pst_metric *const *list;
	size_t nm = pst_flame_metric_list(&list), n = 0;

	buf[0] = 0;
	for (size_t i = 0; i < nm && n < len; i++)
		if (has_metric(fl, slot, list[i]))
			n += snprintf(buf + n, len - n, "%s%s", n ? ", " : "", list[i]->name);
	if (!n)
		snprintf(buf, len, "nothing");
}

/* ---- frames of one stack ---- */

static bool has_prefix(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

static enum pst_fkind kind_of(const struct pst_frame *f, uint64_t pc)
{
	const char *base;

	if (!f->module)
		return pc >= 0xffff800000000000ull ? PST_FK_KERNEL : PST_FK_UNKNOWN;
	base = strrchr(f->module, '/');
	base = base ? base + 1 : f->module;
	if (has_prefix(f->module, "/lib") || has_prefix(f->module, "/usr/lib") ||
	    has_prefix(base, "ld-linux") || has_prefix(base, "linux-vdso"))
		return PST_FK_LIB;
	return PST_FK_OWN;
}

static uint32_t func_id(struct pst_flame *fl, const struct pst_frame *f, enum pst_fkind kind,
			int *err)
{
	struct pst_fpool *p = fl->pool;
	struct pst_ffunc fn = {0};
	char raw[512], *key, *shortened = NULL;
	const char *name = f->function;
	struct entry *e;
	bool created;

	/* names whole, however long (C++ ones run past a kilobyte) */
	if (!name) {
		pst_frame_format(f, raw, sizeof(raw));
		name = raw;
	} else if (fl->shorten_templates && !(name = shortened = pst_shorten_templates(name))) {
		return *err = -ENOMEM, 0;
	}
	if (asprintf(&key, "%s\x01%s\x01%d\x01%s\x01%d", name, f->function ? f->file ?: "" : "",
		     f->function ? f->decl_line : 0, f->module ?: "", (int)kind) < 0)
		key = NULL;
	e = key ? map_get(&p->funcs, key, (uint32_t)fl->nfuncs, &created) : NULL;
	free(key);
	if (!e || !created) {
		free(shortened);
		return e ? e->val : (*err = -ENOMEM, 0);
	}
	if (grow(&fl->funcs, &p->caps[0], fl->nfuncs, sizeof(*fl->funcs)))
		return *err = -ENOMEM, 0;
	fn.name = intern(p, name, err);
	free(shortened);
	fn.file = f->function ? intern(p, f->file, err) : NULL;
	fn.start_line = f->function ? f->decl_line : 0;
	fn.module = intern(p, f->module, err);
	fn.kind = kind;
	fl->funcs[fl->nfuncs++] = fn;
	return e->val;
}

/* A symbolized frame with the address it came from. */
struct xframe {
	struct pst_frame f;
	uint64_t pc;	 /* 0: a named frame with no address */
	uint64_t space;	 /* address space: the process, 0 for the kernel and the trace's own */
	uint32_t idx;	 /* which address of the stack */
	enum pst_fkind kind;
	struct pst_symbolizer *sym; /* the process's address space, when known */
};

/* The mapping of module mo in slot's list, added the first time. */
static uint32_t map_add(struct pst_flame *fl, unsigned slot, const struct pst_mapping *mo, int *err)
{
	struct pst_fpool *p = fl->pool;
	char hex[128];
	struct pst_fmap *fm;
	struct entry *e;
	bool created;
	char *key;
	size_t n = 0;

	if (asprintf(&key, "%u\x01%s\x01%" PRIx64, slot, mo->path, mo->lo) < 0)
		return *err = -ENOMEM, 0;
	e = map_get(&p->maps, key, (uint32_t)fl->nmaps + 1, &created);
	free(key);
	if (!e || !created)
		return e ? e->val : (*err = -ENOMEM, 0);
	if (grow(&fl->maps, &p->caps[3], fl->nmaps, sizeof(*fl->maps)))
		return *err = -ENOMEM, 0;
	for (size_t b = 0; b < mo->build_id_len && n + 3 < sizeof(hex); b++)
		n += snprintf(hex + n, sizeof(hex) - n, "%02x", mo->build_id[b]);
	hex[n] = 0;
	fm = &fl->maps[fl->nmaps++];
	fm->lo = mo->lo;
	fm->hi = mo->hi;
	fm->file_offset = mo->lo - mo->bias;
	fm->path = intern(p, mo->path, err);
	fm->build_id = intern(p, hex, err);
	fm->slot = slot;
	return e->val;
}

/* The mapping of a frame's address: from the process's own address space
 * when the frame has one (record traces: every process), else from the
 * trace's modules when the address is the traced program's. 0: none. */
static uint32_t map_id(struct pst_flame *fl, const struct pst_trace *t, unsigned slot,
		       const struct xframe *xf, int *err)
{
	struct pst_mapping m;

	if (!xf->pc)
		return 0;
	if (xf->sym && !pst_symbolizer_mapping(xf->sym, xf->pc, &m))
		return map_add(fl, slot, &m, err);
	if (!t || (xf->space && xf->space != t->proc.pid))
		return 0;
	for (size_t i = 0; i < t->nmodules; i++) {
		const struct pst_module *mo = &t->modules[i];

		if (xf->pc < mo->lo || xf->pc >= mo->hi || !mo->path)
			continue;
		m = (struct pst_mapping){ .lo = mo->lo, .hi = mo->hi, .bias = mo->bias,
					  .path = mo->path, .build_id = mo->build_id,
					  .build_id_len = mo->build_id_len };
		return map_add(fl, slot, &m, err);
	}
	return 0;
}

/* The location of the n frames xf[0..n) of one address, innermost first. */
static uint32_t loc_id(struct pst_flame *fl, unsigned slot, const struct xframe *xf, int n,
		       int *err)
{
	struct pst_fpool *p = fl->pool;
	const struct pst_trace *t = p->t[slot];
	struct pst_floc *lo;
	struct entry *e;
	bool created;
	char *key;

	if (asprintf(&key, "%u:%" PRIx64 ":%" PRIx64 ":%d:%s", slot, xf->space, xf->pc, n,
		     xf->pc ? "" : xf->f.function) < 0)
		return *err = -ENOMEM, 0;
	e = map_get(&p->locs, key, (uint32_t)fl->nlocs, &created);
	free(key);
	if (!e || !created)
		return e ? e->val : (*err = -ENOMEM, 0);
	if (grow(&fl->locs, &p->caps[2], fl->nlocs, sizeof(*fl->locs)))
		return *err = -ENOMEM, 0;
	lo = &fl->locs[fl->nlocs++];
	lo->addr = xf->pc;
	lo->slot = slot;
	lo->mapping = map_id(fl, t, slot, xf, err);
	lo->first = (uint32_t)fl->nlines;
	lo->nlines = (uint32_t)n;
	for (int k = 0; k < n; k++) {
		if (grow(&fl->lines, &p->caps[1], fl->nlines, sizeof(*fl->lines)))
			return *err = -ENOMEM, 0;
		fl->lines[fl->nlines].func = func_id(fl, &xf[k].f, xf[k].kind, err);
		fl->lines[fl->nlines++].line = xf[k].f.line;
	}
	return e->val;
}

static bool is_profiler_frame(const struct pst_frame *f)
{
	const char *base = f->module ? strrchr(f->module, '/') : NULL;

	return base && has_prefix(base + 1, "libprestanda.so");
}

/* A new empty stack in slot with value v, room for n funcs and n locs. */
static struct pst_fstack *new_stack(struct pst_flame *fl, unsigned slot, size_t n, int64_t v)
{
	struct pst_fstack *s;

	if (grow(&fl->stacks, &fl->pool->caps[4], fl->nstacks, sizeof(*fl->stacks)))
		return NULL;
	s = &fl->stacks[fl->nstacks];
	memset(s, 0, sizeof(*s));
	s->funcs = malloc((n + 1) * sizeof(*s->funcs));
	s->locs = malloc((n + 1) * sizeof(*s->locs));
	if (!s->funcs || !s->locs) {
		free(s->funcs);
		free(s->locs);
		return NULL;
	}
	fl->nstacks++;
	s->value[slot] = v;
	fl->total[slot] += v;
	return s;
}

/* Add the frames xf[0..nx) (innermost first) as one stack with value v in
 * slot. runtime: drop the allocator's and the profiler's frames on top. */
static int add_xframes(struct pst_flame *fl, unsigned slot, const struct xframe *xf, size_t nx,
		       bool runtime, int64_t v)
{
	struct pst_fstack *s;
	size_t skip = 0;
	int err = 0;

	/* The allocator's own frames on top are dropped, as for sites. */
	while (runtime && skip < nx &&
	       (pst_is_alloc_wrapper(xf[skip].f.function, xf[skip].f.module) ||
		is_profiler_frame(&xf[skip].f)))
		skip++;
	if (skip == nx)
		skip = 0;
	s = new_stack(fl, slot, nx - skip, v);
	if (!s)
		return -ENOMEM;
	for (size_t i = skip; i < nx;) {
		size_t j = i;

		while (j < nx && xf[j].idx == xf[i].idx)
			j++;
		if (!runtime || !is_profiler_frame(&xf[i].f))
			s->locs[s->nlocs++] = loc_id(
			    fl, slot, &xf[i], j - i < MAX_INLINE ? (int)(j - i) : MAX_INLINE, &err);
		i = j;
	}
	/* The profiler's frames in the middle (its thread start wrapper) go too. */
	for (size_t i = nx; i-- > skip;)
		if (!runtime || !is_profiler_frame(&xf[i].f))
			s->funcs[s->depth++] = func_id(fl, &xf[i].f, xf[i].kind, &err);
	return err;
}

/* Add the raw stack stk (may be NULL: no stack) of the trace's own address
 * space with value v in slot. */
int pst_flame_add_stack(struct pst_flame *fl, unsigned slot, const struct pst_stack *stk,
			int64_t v)
{
	struct pst_fpool *p = fl->pool;
	struct xframe *xf = NULL;
	struct pst_frame fr[MAX_INLINE];
	size_t nx = 0, cap = 0;
	int r;

	for (uint32_t i = 0; stk && i < stk->depth; i++) {
		uint64_t pc = stk->frames[i] ? stk->frames[i] - 1 : 0;
		int n = pst_symbolize(p->sym[slot], pc, fr, MAX_INLINE);

		for (int k = 0; k < n; k++) {
			if (grow(&xf, &cap, nx, sizeof(*xf))) {
				free(xf);
				return -ENOMEM;
			}
			xf[nx++] = (struct xframe){
			    .f = fr[k], .pc = pc, .idx = i, .kind = kind_of(&fr[k], pc)};
		}
	}
	r = add_xframes(fl, slot, xf, nx, true, v);
	free(xf);
	return r;
}

int pst_flame_add_named(struct pst_flame *fl, unsigned slot, const char *const *names,
			const enum pst_fkind *kinds, size_t n, int64_t v)
{
	struct xframe *xf = calloc(n + 1, sizeof(*xf));
	int r;

	if (!xf)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		xf[i].f.function = names[n - 1 - i];
		xf[i].idx = (uint32_t)i;
		xf[i].kind = kinds[n - 1 - i];
	}
	r = add_xframes(fl, slot, xf, n, false, v);
	free(xf);
	return r;
}

/* ---- collecting a metric ---- */

/* CPU and off-CPU: one stack per aggregated row of the CPU records. Rows
 * share addresses, so each address is symbolized once, to its location and
 * the functions of its frames, kept in addrs. */
struct cpu_addr {
	uint32_t loc;	      /* UINT32_MAX: the address has no frames */
	uint32_t first, nfns; /* into cpu_walk.fns, innermost first */
};

/* What an address of a row is, in cpu_walk.addr_ids keys. */
enum { CA_KERNEL = 1, CA_LEAF, CA_CALLER, CA_PROCESS };

/* fl->keep's answer for each stack of a trace, by its identity. */
struct keep_set {
	struct pst_flame *fl;
	bool off;
	struct pst_imap ids; /* raw, 0, 0 -> index into v */
	struct keep_sum {
		uint64_t raw;
		int64_t sum;
		bool keep;
	} *v;
	size_t n, cap;
};

struct cpu_walk {
	struct pst_flame *fl;
	unsigned slot;
	bool off;
	const struct keep_set *keep; /* NULL: every stack */
	struct pst_imap rows;     /* pid, ustack, kstack -> its stack: threads share them */
	struct pst_imap addr_ids; /* pid (0: kernel), address, CA_ -> index into addrs */
	struct cpu_addr *addrs;
	size_t naddrs, addrs_cap;
	uint32_t *fns;
	size_t nfns, fns_cap;
	uint32_t *ids; /* the addresses of the row being added, into addrs */
	size_t ids_cap;
};

/* The kernel frame of r at i, named by its symbol, "[kernel 0x...]" when unknown. */
static void kernel_frame(struct pst_fpool *p, struct xframe *x, const char *kname,
			 const char *kmodule, int *err)
{
	char buf[256];

	if (!kname)
		snprintf(buf, sizeof(buf), "[kernel 0x%" PRIx64 "]", x->pc);
	x->f.function = intern(p, kname ?: buf, err);
	snprintf(buf, sizeof(buf), kmodule ? "[kernel:%s]" : "[kernel]", kmodule);
	x->f.module = intern(p, buf, err);
	x->kind = PST_FK_KERNEL;
}

/* Frames of address i of r (i == kd + ud: the process frame of a host-wide
 * trace) into xf; how many. */
static int cpu_xframes(struct cpu_walk *w, const struct pst_cpu_row *r, size_t i,
		       struct xframe *xf, int *err)
{
	size_t kd = r->kstack ? r->kstack->depth : 0, ud = r->ustack ? r->ustack->depth : 0;
	struct pst_fpool *p = w->fl->pool;
	struct pst_frame fr[MAX_INLINE];
	const char *kname, *kmodule;
	char name[64];
	int n;

	if (i == kd + ud) {
		snprintf(name, sizeof(name), "%s", r->comm ? r->comm : "[unknown process]");
		xf[0] = (struct xframe){.idx = (uint32_t)i, .kind = PST_FK_OWN};
		xf[0].f.function = intern(p, name, err);
		return 1;
	}
	n = pst_cpu_row_frame(r, i, fr, MAX_INLINE, &kname, &kmodule);
	for (int k = 0; k < n; k++) {
		struct xframe *x = &xf[k];

		*x = (struct xframe){.f = fr[k], .pc = fr[k].offset, .idx = (uint32_t)i};
		if (i < kd) {
			kernel_frame(p, x, kname, kmodule, err);
			continue;
		}
		x->pc = i == kd ? r->ustack->frames[0] : r->ustack->frames[i - kd] - 1;
		x->space = r->pid;
		x->sym = r->sym;
		x->kind = kind_of(&fr[k], x->pc);
	}
	return n > 0 ? n : 0;
}

/* Address i of r, symbolized the first time it is seen. NULL: out of memory. */
static const struct cpu_addr *cpu_addr(struct cpu_walk *w, const struct pst_cpu_row *r, size_t i)
{
	size_t kd = r->kstack ? r->kstack->depth : 0, ud = r->ustack ? r->ustack->depth : 0;
	struct xframe xf[MAX_INLINE];
	struct pst_ientry *e;
	struct cpu_addr *a;
	int n, err = 0;

	if (i < kd)
		e = pst_imap_get(&w->addr_ids, 0, r->kstack->frames[i], CA_KERNEL);
	else if (i < kd + ud)
		e = pst_imap_get(&w->addr_ids, r->pid, r->ustack->frames[i - kd],
			     i == kd ? CA_LEAF : CA_CALLER);
	else
		e = pst_imap_get(&w->addr_ids, r->pid, 0, CA_PROCESS);
	if (!e)
		return NULL;
	if (e->val != UINT32_MAX)
		return &w->addrs[e->val];
	if (grow(&w->addrs, &w->addrs_cap, w->naddrs, sizeof(*w->addrs)) ||
	    grow(&w->fns, &w->fns_cap, w->nfns + MAX_INLINE, sizeof(*w->fns)))
		return NULL;
	n = cpu_xframes(w, r, i, xf, &err);
	a = &w->addrs[w->naddrs];
	a->loc = n ? loc_id(w->fl, w->slot, xf, n, &err) : UINT32_MAX;
	a->first = (uint32_t)w->nfns;
	a->nfns = (uint32_t)n;
	for (int k = 0; k < n; k++)
		w->fns[w->nfns++] = func_id(w->fl, &xf[k].f, xf[k].kind, &err);
	if (err)
		return NULL;
	pst_imap_set(&w->addr_ids, e, (uint32_t)w->naddrs++);
	return a;
}

/* A row's stack identity in its trace (pst_fstack.raw): record -a's stack
 * ids are the file's own, the same at every read; others may not be (run
 * --cpu's are numbered as its samples are unwound, at each read): 0. */
static uint64_t row_raw(const struct pst_flame *fl, const struct pst_cpu_row *r)
{
	uint64_t ids[4] = { r->pid, fl->per_thread ? r->tid : 0, r->ustack ? r->ustack->id : 0,
			    r->kstack ? r->kstack->id : 0 };

	if (!(r->cpu->flags & PST_CPU_HOST_WIDE))
		return 0;
	return pst_fnv_bytes(PST_FNV_OFFSET, ids, sizeof(ids)) | 1;
}

static int64_t row_value(const struct pst_cpu_row *r, bool off)
{
	uint64_t hz = r->cpu->hz ? r->cpu->hz : 1;

	return off ? (int64_t)r->blocked_ns : (int64_t)(r->count * (1000000000 / hz));
}

/* The first pass when fl->keep is set: every stack's value, added up by
 * its identity without reading a frame. */
static int keep_row(const struct pst_cpu_row *r, void *arg)
{
	struct keep_set *k = arg;
	struct pst_ientry *e;
	uint64_t raw;

	if (r->off != k->off)
		return 0;
	raw = row_raw(k->fl, r);
	e = pst_imap_get(&k->ids, raw, 0, 0);
	if (!e)
		return -ENOMEM;
	if (e->val == UINT32_MAX) {
		if (grow(&k->v, &k->cap, k->n, sizeof(*k->v)))
			return -ENOMEM;
		k->v[k->n] = (struct keep_sum){ .raw = raw };
		pst_imap_set(&k->ids, e, (uint32_t)k->n++);
	}
	k->v[e->val].sum += row_value(r, k->off);
	return 0;
}

/* Is the row's stack one fl->keep wants (always, without a keep set)? */
static bool kept(const struct cpu_walk *w, const struct pst_cpu_row *r)
{
	struct pst_ientry *e;

	if (!w->keep)
		return true;
	e = pst_imap_get((struct pst_imap *)&w->keep->ids, row_raw(w->fl, r), 0, 0);
	return e && e->val != UINT32_MAX && w->keep->v[e->val].keep;
}

static int cpu_row(const struct pst_cpu_row *r, void *arg)
{
	struct cpu_walk *w = arg;
	size_t kd = r->kstack ? r->kstack->depth : 0, ud = r->ustack ? r->ustack->depth : 0;
	size_t na = kd + ud + !!(r->cpu->flags & PST_CPU_HOST_WIDE), nf = 0;
	uint64_t hz = r->cpu->hz ? r->cpu->hz : 1;
	struct pst_fstack *s;
	struct pst_ientry *e;
	int64_t v;

	if (r->off != w->off || !kept(w, r))
		return 0;
	v = row_value(r, w->off);
	/* one stack per thread where the output tells threads apart (pprof's
	 * labels, speedscope's profiles); others merge them, so keep fewer */
	e = pst_imap_get(&w->rows, r->pid << 32 ^ (w->fl->per_thread ? r->tid : 0),
		     r->ustack ? r->ustack->id : 0, r->kstack ? r->kstack->id : 0);
	if (!e)
		return -ENOMEM;
	if (e->val != UINT32_MAX) {
		w->fl->stacks[e->val].value[w->slot] += v;
		w->fl->total[w->slot] += v;
		return 0;
	}
	pst_imap_set(&w->rows, e, (uint32_t)w->fl->nstacks);
	while (na >= w->ids_cap)
		if (grow(&w->ids, &w->ids_cap, na, sizeof(*w->ids)))
			return -ENOMEM;
	for (size_t i = 0; i < na; i++) {
		const struct cpu_addr *a = cpu_addr(w, r, i);

		if (!a)
			return -ENOMEM;
		w->ids[i] = (uint32_t)(a - w->addrs);
		nf += a->nfns;
	}
	s = new_stack(w->fl, w->slot, nf, v);
	if (!s)
		return -ENOMEM;
	s->pid = r->pid;
	s->tid = w->fl->per_thread ? r->tid : 0;
	s->raw = row_raw(w->fl, r);
	/* Locations leaf first, functions root first. */
	for (size_t i = 0; i < na; i++)
		if (w->addrs[w->ids[i]].loc != UINT32_MAX)
			s->locs[s->nlocs++] = w->addrs[w->ids[i]].loc;
	for (size_t i = na; i-- > 0;) {
		const struct cpu_addr *a = &w->addrs[w->ids[i]];

		for (uint32_t k = a->nfns; k-- > 0;)
			s->funcs[s->depth++] = w->fns[a->first + k];
	}
	if (!w->off)
		w->fl->period = 1000000000 / hz;
	return 0;
}

int pst_flame_collect_cpu(struct pst_flame *fl, unsigned slot, bool off)
{
	struct keep_set k = { .fl = fl, .off = off };
	struct cpu_walk w = { .fl = fl, .slot = slot, .off = off, .keep = fl->keep ? &k : NULL };
	int r = 0;

	/* Symbols are most of the time a graph takes: with fl->keep, only the
	 * stacks it wants are read (push: those that grew since its last cut). */
	if (fl->keep)
		r = pst_cpu_foreach_stack(fl->pool->t[slot], fl->pool->sym[slot], keep_row, &k);
	for (size_t i = 0; i < k.n; i++)
		k.v[i].keep = fl->keep(k.v[i].raw, k.v[i].sum, fl->keep_arg);
	if (!r)
		r = pst_cpu_foreach_stack(fl->pool->t[slot], fl->pool->sym[slot], cpu_row, &w);
	pst_imap_free(&k.ids);
	free(k.v);
	pst_imap_free(&w.rows);
	pst_imap_free(&w.addr_ids);
	free(w.addrs);
	free(w.fns);
	free(w.ids);
	return r;
}

const char *pst_flame_program(const struct pst_trace *t)
{
	const char *exe = t->proc.exe ? strrchr(t->proc.exe, '/') : NULL;

	return exe ? exe + 1 : t->proc.exe ? t->proc.exe : "?";
}

/* The metric's stacks of the trace in slot, by its family's collect. */
static int collect(struct pst_flame *fl, unsigned slot)
{
	return fl->metric->collect ? fl->metric->collect(fl, slot) : -ENOTSUP;
}

struct pst_trace *pst_flame_trace(const struct pst_flame *fl, unsigned slot)
{
	return fl->pool->t[slot];
}

struct pst_symbolizer *pst_flame_symbolizer(const struct pst_flame *fl, unsigned slot)
{
	return fl->pool->sym[slot];
}

/* ---- deterministic order ---- */

static int cmp_str(const char *a, const char *b)
{
	return strcmp(a ?: "", b ?: "");
}

static int cmp_func(const void *x, const void *y, void *arg)
{
	const struct pst_ffunc *f = arg;
	const struct pst_ffunc *a = &f[*(const uint32_t *)x], *b = &f[*(const uint32_t *)y];
	int c = cmp_str(a->name, b->name);

	if (!c)
		c = cmp_str(a->file, b->file);
	if (!c)
		c = (a->start_line > b->start_line) - (a->start_line < b->start_line);
	if (!c)
		c = cmp_str(a->module, b->module);
	if (!c)
		c = (int)a->kind - (int)b->kind;
	return c;
}

static int cmp_map(const void *x, const void *y, void *arg)
{
	const struct pst_fmap *f = arg;
	const struct pst_fmap *a = &f[*(const uint32_t *)x], *b = &f[*(const uint32_t *)y];
	int c = (a->slot > b->slot) - (a->slot < b->slot);

	if (!c)
		c = cmp_str(a->path, b->path);
	if (!c)
		c = (a->lo > b->lo) - (a->lo < b->lo);
	return c;
}

static int cmp_loc(const void *x, const void *y, void *arg)
{
	const struct pst_floc *f = arg;
	const struct pst_floc *a = &f[*(const uint32_t *)x], *b = &f[*(const uint32_t *)y];

	if (a->slot != b->slot)
		return a->slot < b->slot ? -1 : 1;
	if (a->mapping != b->mapping)
		return a->mapping < b->mapping ? -1 : 1;
	if (a->addr != b->addr)
		return a->addr < b->addr ? -1 : 1;
	return (a->nlines > b->nlines) - (a->nlines < b->nlines);
}

static int cmp_ids(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
	for (size_t i = 0; i < na && i < nb; i++)
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	return (na > nb) - (na < nb);
}

/* Functions are sorted by name first, so id order is name order. */
static int cmp_stack(const void *x, const void *y)
{
	const struct pst_fstack *a = x, *b = y;
	int c = cmp_ids(a->funcs, a->depth, b->funcs, b->depth);

	if (!c)
		c = cmp_ids(a->locs, a->nlocs, b->locs, b->nlocs);
	for (int k = 0; !c && k < 2; k++)
		c = (a->value[k] > b->value[k]) - (a->value[k] < b->value[k]);
	if (!c)
		c = (a->pid > b->pid) - (a->pid < b->pid);
	if (!c)
		c = (a->tid > b->tid) - (a->tid < b->tid);
	return c;
}

/* Sort n items with cmp and return old index -> new index (NULL: no memory). */
static uint32_t *sorted_order(size_t n, int (*cmp)(const void *, const void *, void *), void *arg)
{
	uint32_t *idx = malloc((n + 1) * sizeof(*idx)), *inv = malloc((n + 1) * sizeof(*inv));

	if (!idx || !inv) {
		free(idx);
		free(inv);
		return NULL;
	}
	for (uint32_t i = 0; i < n; i++)
		idx[i] = i;
	qsort_r(idx, n, sizeof(*idx), cmp, arg);
	for (uint32_t i = 0; i < n; i++)
		inv[idx[i]] = i;
	free(idx);
	return inv;
}

/* Put v (n items of size sz) in the order inv gives. */
static int permute(void *v, size_t n, size_t sz, const uint32_t *inv)
{
	char *tmp;

	if (!n) /* v may be NULL, which memcpy may not take even for 0 bytes */
		return 0;
	tmp = malloc(n * sz);
	if (!tmp)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		memcpy(tmp + inv[i] * sz, (char *)v + i * sz, sz);
	memcpy(v, tmp, n * sz);
	free(tmp);
	return 0;
}

static int flame_sort(struct pst_flame *fl)
{
	uint32_t *fi = sorted_order(fl->nfuncs, cmp_func, fl->funcs);
	uint32_t *mi = sorted_order(fl->nmaps, cmp_map, fl->maps);
	uint32_t *li = NULL;
	int r = -ENOMEM;

	if (!fi || !mi || permute(fl->funcs, fl->nfuncs, sizeof(*fl->funcs), fi) ||
	    permute(fl->maps, fl->nmaps, sizeof(*fl->maps), mi))
		goto out;
	for (size_t i = 0; i < fl->nlines; i++)
		fl->lines[i].func = fi[fl->lines[i].func];
	for (size_t i = 0; i < fl->nlocs; i++)
		if (fl->locs[i].mapping)
			fl->locs[i].mapping = mi[fl->locs[i].mapping - 1] + 1;
	li = sorted_order(fl->nlocs, cmp_loc, fl->locs);
	if (!li || permute(fl->locs, fl->nlocs, sizeof(*fl->locs), li))
		goto out;
	for (size_t i = 0; i < fl->nstacks; i++) {
		struct pst_fstack *s = &fl->stacks[i];

		for (size_t k = 0; k < s->depth; k++)
			s->funcs[k] = fi[s->funcs[k]];
		for (size_t k = 0; k < s->nlocs; k++)
			s->locs[k] = li[s->locs[k]];
	}
	pst_sort(fl->stacks, fl->nstacks, sizeof(*fl->stacks), cmp_stack);
	r = 0;
out:
	free(fi);
	free(mi);
	free(li);
	return r;
}

void pst_flame_put_folded_stack(FILE *f, const struct pst_flame *fl, const struct pst_fstack *s)
{
	if (!s->depth)
		fputs("[no stack]", f);
	for (size_t i = 0; i < s->depth; i++) {
		const char *c = fl->funcs[s->funcs[i]].name;

		if (i)
			putc(';', f);
		/* Most names need nothing replaced: written whole. */
		if (!strpbrk(c, ";\n\r"))
			fputs(c, f);
		else
			for (; *c; c++)
				putc(*c == ';' ? ':' : (*c == '\n' || *c == '\r') ? ' ' : *c, f);
		if (fl->funcs[s->funcs[i]].kind == PST_FK_KERNEL)
			fputs(PST_FOLDED_KERNEL, f);
	}
}

static void flame_free(struct pst_flame *fl)
{
	struct pst_fpool *p = fl->pool;

	for (size_t i = 0; i < fl->nstacks; i++) {
		free(fl->stacks[i].funcs);
		free(fl->stacks[i].locs);
	}
	free(fl->stacks);
	free(fl->funcs);
	free(fl->lines);
	free(fl->locs);
	free(fl->maps);
	if (!p)
		return;
	map_free(&p->strs);
	map_free(&p->funcs);
	map_free(&p->locs);
	map_free(&p->maps);
	for (int i = 0; i < 2; i++) {
		pst_symbolizer_free(p->sym[i]);
		pst_trace_close(p->t[i]);
	}
	free(p);
}

/* ---- the command ---- */

/* Open one trace into slot. Returns 0, 1 when it cannot be read. */
static int open_trace(struct pst_flame *fl, unsigned slot, const char *path, bool *damaged)
{
	struct pst_fpool *p = fl->pool;
	char err[512];

	if (pst_trace_open(path, &p->t[slot], err, sizeof(err))) {
		if (!fl->quiet)
			fprintf(stderr, "prestanda: %s\n", err);
		return 1;
	}
	if (p->t[slot]->error_offset) {
		if (!fl->quiet)
			fprintf(stderr, "prestanda: %s: %s; the graph covers what came before it\n",
				path, p->t[slot]->error);
		*damaged = true;
	} else if (!p->t[slot]->complete && !fl->quiet) {
		fprintf(stderr, "prestanda: warning: %s: %s\n", path,
			p->t[slot]->error[0] ? p->t[slot]->error : "trace is incomplete");
	}
	p->sym[slot] = pst_analysis_symbolizer(p->t[slot]);
	if (!p->sym[slot]) {
		fprintf(stderr, "prestanda: %s: out of memory\n", path);
		return 1;
	}
	return 0;
}

/* Read folded stacks into slot (both slots when they carry two counts).
 * Returns 0, 1 when the file cannot be read, 2 when it is not folded stacks. */
static int open_folded(struct pst_flame *fl, unsigned slot, const char *path)
{
	char err[PATH_MAX + 256];
	bool two;
	int r = pst_folded_read(fl, slot, path, &two, err, sizeof(err));

	if (r == -ENOMEM)
		snprintf(err, sizeof(err), "out of memory");
	if (r) {
		fprintf(stderr, "prestanda: %s\n", err);
		return r == -1 ? 2 : 1;
	}
	if (two && fl->nslots == 2) {
		fprintf(stderr,
			"prestanda: %s: a differential (two counts a line) is drawn on its own\n",
			path);
		return 2;
	}
	if (two)
		fl->nslots = 2;
	return 0;
}

/* Pick the metric: the one asked for when every trace has it, else the
 * first one they all have. Returns 0, or 2 after saying why. */
static int pick_metric(struct pst_flame *fl, const char *name, char *const *paths)
{
	const struct pst_metric *const *list;
	size_t nm = pst_flame_metric_list(&list);
	char have[512];

	if (!fl->pool->t[0] && !name) {
		fl->metric = &folded_metric;
		return 0;
	}
	if (name) {
		/* The command refused an unknown name while parsing. */
		fl->metric = pst_flame_metric_find(name);
		if (!fl->metric) {
			fprintf(stderr, "prestanda: flame: unknown metric '%s'\n", name);
			return 2;
		}
		for (unsigned s = 0; s < fl->nslots; s++)
			if (!has_metric(fl, s, fl->metric)) {
				metrics_present(fl, s, have, sizeof(have));
				fprintf(stderr,
					"prestanda: %s: this trace has no %s data; it has: %s\n",
					paths[s], name, have);
				return 2;
			}
		return 0;
	}
	for (size_t i = 0; i < nm; i++) {
		bool all = true;

		for (unsigned s = 0; s < fl->nslots; s++)
			all = all && has_metric(fl, s, list[i]);
		if (all) {
			fl->metric = list[i];
			return 0;
		}
	}
	if (!fl->quiet)
		fprintf(stderr, "prestanda: %s: this trace has no data to draw\n",
			paths[fl->nslots - 1]);
	return 2;
}

static int write_out(const struct pst_flame *fl, enum pst_flame_format fmt, const char *out,
		     const struct pst_svg_opts *so)
{
	FILE *f = out ? fopen(out, "wb") : stdout;
	int r;

	if (!f) {
		fprintf(stderr, "prestanda: cannot create %s: %s\n", out, strerror(errno));
		return 1;
	}
	switch (fmt) {
	case PST_FLAME_FOLDED: r = pst_flame_write_folded(f, fl); break;
	case PST_FLAME_SPEEDSCOPE: r = pst_flame_write_speedscope(f, fl); break;
	case PST_FLAME_PPROF: r = pst_flame_write_pprof(f, fl); break;
	default: r = pst_flame_write_svg(f, fl, so);
	}
	if (fflush(f) || ferror(f)) {
		fprintf(stderr, "prestanda: cannot write %s: %s\n",
			out ?: "standard output", strerror(errno));
		r = r ? r : -EIO;
	}
	if (out && fclose(f) && !r) {
		fprintf(stderr, "prestanda: cannot write %s: %s\n", out, strerror(errno));
		r = -EIO;
	}
	if (r == -ENOMEM)
		fprintf(stderr, "prestanda: out of memory\n");
	return r ? 1 : 0;
}

/* Open the traces or folded files of o into fl, with its metric
 * picked: 0, or the command's status. */
static int flame_open(struct pst_flame *fl, const struct pst_flame_options *o, bool folded,
		      bool *damaged)
{
	int rc = 0;

	for (unsigned s = 0; s < (unsigned)o->npaths && !rc; s++)
		rc = folded ? open_folded(fl, s, o->paths[s]) : open_trace(fl, s, o->paths[s], damaged);
	if (!rc && fl->nslots == 2 &&
	    (o->format == PST_FLAME_SPEEDSCOPE || o->format == PST_FLAME_PPROF)) {
		fprintf(stderr, "prestanda: flame: a differential graph is written as svg or folded\n");
		rc = 2;
	}
	if (!rc && fl->normalize && fl->nslots != 2) {
		fprintf(stderr, "prestanda: flame: --normalize needs two traces, BASE and NEW\n");
		rc = 2;
	}
	return rc ? rc : pick_metric(fl, o->metric, o->paths);
}

/* The metric's stacks of every trace, sorted: 0, or 1 after saying why. */
static int flame_collect(struct pst_flame *fl, const struct pst_flame_options *o, bool folded)
{
	int rc = 0;

	for (unsigned s = 0; s < fl->nslots && !rc && !folded; s++) {
		int r = collect(fl, s);

		if (r) {
			fprintf(stderr, "prestanda: %s: %s\n", o->paths[s],
				r == -ENOMEM ? "out of memory" : "cannot read this metric");
			rc = 1;
		}
	}
	/* What could not be symbolized and why (a module that is no regular
	 * ELF file, one without debug info), once each. */
	for (unsigned s = 0; s < fl->nslots && !folded && !fl->quiet; s++) {
		const char *w;

		for (size_t i = 0; fl->pool->sym[s] && (w = pst_symbolizer_warning(fl->pool->sym[s], i));
		     i++)
			fprintf(stderr, "prestanda: warning: %s\n", w);
	}
	if (!rc && flame_sort(fl)) {
		fprintf(stderr, "prestanda: out of memory\n");
		rc = 1;
	}
	return rc;
}

int pst_flame_prepare(struct pst_flame *fl, const struct pst_flame_options *o, bool *damaged)
{
	bool folded;
	int rc;

	fl->nslots = (unsigned)o->npaths;
	folded = pst_folded_detect(o->paths[0]);
	if (fl->nslots == 2 && pst_folded_detect(o->paths[1]) != folded) {
		fprintf(stderr, "prestanda: flame: cannot compare a trace with folded stacks\n");
		return 2;
	}
	fl->pool = calloc(1, sizeof(*fl->pool));
	if (!fl->pool) {
		fprintf(stderr, "prestanda: out of memory\n");
		return 1;
	}
	rc = flame_open(fl, o, folded, damaged);
	if (!rc)
		rc = flame_collect(fl, o, folded);
	if (!rc && folded) {
		const char *path = o->paths[o->npaths - 1], *base = strrchr(path, '/');

		fl->program = base ? base + 1 : path;
	} else if (!rc) {
		const struct pst_trace *t = fl->pool->t[fl->nslots - 1];

		fl->program = pst_flame_program(t);
		fl->start_realtime_ns = t->proc.start_realtime_ns;
		fl->duration_ns = t->end_ts > t->proc.start_monotonic_ns
				      ? t->end_ts - t->proc.start_monotonic_ns
				      : 0;
	}
	return rc;
}

int pst_flame_load(struct pst_flame *fl, const char *path, const struct pst_metric *m)
{
	char err[512];
	int r;

	*fl = (struct pst_flame){ .period = 1, .nslots = 1, .metric = m };
	fl->pool = calloc(1, sizeof(*fl->pool));
	if (!fl->pool)
		return -ENOMEM;
	if (pst_trace_open(path, &fl->pool->t[0], err, sizeof(err)))
		return -EIO;
	if (!has_metric(fl, 0, m))
		return -ENODATA;
	fl->pool->sym[0] = pst_analysis_symbolizer(fl->pool->t[0]);
	if (!fl->pool->sym[0])
		return -ENOMEM;
	fl->program = pst_flame_program(fl->pool->t[0]);
	r = collect(fl, 0);
	return r ? r : flame_sort(fl) ? -ENOMEM : 0;
}

void pst_flame_release(struct pst_flame *fl)
{
	flame_free(fl);
}

int pst_flame_run(const struct pst_flame_options *o)
{
	struct pst_flame fl = { .period = 1, .normalize = o->normalize,
				.heap_values = o->format == PST_FLAME_PPROF,
				.per_thread = o->format == PST_FLAME_PPROF ||
					      o->format == PST_FLAME_SPEEDSCOPE,
				.shorten_templates = o->shorten_templates };
	bool damaged = false;
	int rc = pst_flame_prepare(&fl, o, &damaged);

	if (!rc)
		rc = write_out(&fl, o->format, o->output, &o->svg);
	flame_free(&fl);
	return rc ? rc : damaged ? 1 : 0;
}
