/* SPDX-License-Identifier: MIT */
/* Allocation sites: symbolize each stack, drop allocator frames, merge identical stacks. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memory.h"
#include "hash.h"
#include "sort.h"
#include "symbolize.h"
#include "trace_read.h"

/* Inlined frames one address can expand to. */
#define MAX_INLINE 32

/* Allocation entry points: a frame in one of these is the allocator itself. */
static const char *const alloc_functions[] = {
	"malloc",	 "calloc",	  "realloc",	  "reallocarray", "free",
	"cfree",	 "posix_memalign", "aligned_alloc", "memalign",	  "valloc",
	"pvalloc",	 "__libc_malloc",  "__libc_calloc", "__libc_realloc", "__libc_memalign",
	"__libc_free",
};

/* Name prefixes of the C++ runtime's allocation plumbing (operator new and
 * the standard allocator templates that only forward to it). */
static const char *const alloc_prefixes[] = {
	"operator new",		   "operator delete",	    "std::__new_allocator<",
	"__gnu_cxx::new_allocator<", "std::allocator<",	    "std::allocator_traits<",
	"__gnu_cxx::__alloc_traits<",
};

/* Runtime libraries whose frames on top of a stack are the allocator's or
 * a library call's (strdup, fopen, the C++ runtime's operator new); the
 * site is the program's frame that called into them. */
static const char *const runtime_modules[] = {
	"libc.so", "libstdc++.so", "libc++.so", "libc++abi.so", "ld-linux", "libgcc_s.so",
};

static bool has_prefix(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

bool pst_is_alloc_wrapper(const char *function, const char *module)
{
	if (function) {
		for (size_t i = 0; i < sizeof(alloc_functions) / sizeof(*alloc_functions); i++)
			if (!strcmp(function, alloc_functions[i]))
				return true;
		for (size_t i = 0; i < sizeof(alloc_prefixes) / sizeof(*alloc_prefixes); i++)
			if (has_prefix(function, alloc_prefixes[i]))
				return true;
	}
	if (module) {
		const char *base = strrchr(module, '/');

		base = base ? base + 1 : module;
		for (size_t i = 0; i < sizeof(runtime_modules) / sizeof(*runtime_modules); i++)
			if (has_prefix(base, runtime_modules[i]))
				return true;
	}
	return false;
}

/* A frame from the C++ standard library's headers (std::vector's growth and
 * the like): kept in the stack, but the site is the code that called it. */
static bool in_std_headers(const char *file)
{
	return file && strstr(file, "/include/c++/");
}

/* One symbolized frame while building a site. */
struct sframe {
	char *text;
	const char *function, *file, *module; /* owned by the symbolizer */
	int line;
};

struct frames {
	struct sframe *v;
	size_t n, cap;
};

static int frames_push(struct frames *f, const struct sframe *x)
{
	if (f->n == f->cap) {
		size_t ncap = f->cap ? f->cap * 2 : 16;
		struct sframe *nv = realloc(f->v, ncap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		f->v = nv;
		f->cap = ncap;
	}
	f->v[f->n++] = *x;
	return 0;
}

/* "[module+0xoff]" from the trace's modules, for when there is no symbolizer. */
static void format_raw(const struct pst_trace *t, uint64_t addr, char *buf, size_t len)
{
	for (size_t i = 0; i < t->nmodules; i++) {
		const struct pst_module *mo = &t->modules[i];
		const char *base;

		if (addr < mo->lo || addr >= mo->hi || !mo->path)
			continue;
		base = strrchr(mo->path, '/');
		snprintf(buf, len, "[%s+0x%" PRIx64 "]", base ? base + 1 : mo->path,
			 addr - mo->bias);
		return;
	}
	snprintf(buf, len, "[0x%" PRIx64 "]", addr);
}

/* The first limit addresses of stk (UINT32_MAX: all), symbolized into out. */
static int symbolize_stack(const struct pst_trace *t, const struct pst_stack *stk,
			   struct pst_symbolizer *sym, struct frames *out, uint32_t limit)
{
	struct pst_frame fr[MAX_INLINE];
	char buf[1024];

	for (uint32_t i = 0; stk && i < stk->depth && i < limit; i++) {
		uint64_t pc = stk->frames[i] ? stk->frames[i] - 1 : 0;
		int n = sym ? pst_symbolize(sym, pc, fr, MAX_INLINE) : 0;

		if (n <= 0) {
			struct sframe x = { 0 };

			format_raw(t, pc, buf, sizeof(buf));
			x.text = strdup(buf);
			if (!x.text || frames_push(out, &x))
				return free(x.text), -ENOMEM;
			continue;
		}
		for (int k = 0; k < n; k++) {
			struct sframe x = { .function = fr[k].function, .file = fr[k].file,
					    .module = fr[k].module, .line = fr[k].line };
			const char *base = fr[k].module ? strrchr(fr[k].module, '/') : NULL;

			/* the profiler's thread start wrapper is not the program's */
			if (base && !strncmp(base + 1, "libprestanda.so", 15))
				continue;

			pst_frame_format(&fr[k], buf, sizeof(buf));
			x.text = strdup(buf);
			if (!x.text || frames_push(out, &x))
				return free(x.text), -ENOMEM;
		}
	}
	return 0;
}

void pst_stats_add(struct pst_stack_stats *d, const struct pst_stack_stats *s, bool peaks)
{
	if (!d->events || (s->events && s->min_size < d->min_size))
		d->min_size = s->min_size;
	if (s->max_size > d->max_size)
		d->max_size = s->max_size;
	if (s->max_chain > d->max_chain)
		d->max_chain = s->max_chain;
	if (s->final_size_max > d->final_size_max)
		d->final_size_max = s->final_size_max;
	d->calls += s->calls;
	d->bytes += s->bytes;
	if (peaks) {
		d->max_live += s->max_live; /* an upper bound until pst_memory_peaks */
		d->peak_bytes += s->peak_bytes;
	}
	d->leaked_bytes += s->leaked_bytes;
	d->leaked += s->leaked;
	d->lost_bytes += s->lost_bytes;
	d->lost += s->lost;
	d->temporary += s->temporary;
	d->short_lived += s->short_lived;
	d->freed += s->freed;
	d->reallocs += s->reallocs;
	d->chains += s->chains;
	d->geometric_chains += s->geometric_chains;
	d->chain_len_sum += s->chain_len_sum;
	d->final_size_sum += s->final_size_sum;
	d->events += s->events;
}

/* Sites by key (the joined stack), open addressing over indexes into sites. */
struct pst_site_index {
	size_t *slot; /* index + 1; 0 empty */
	char **keys;  /* per site */
	size_t cap;
	size_t sites_cap; /* of m->sites */
	struct frames f;  /* scratch */
	char **wrappers;  /* the program's own allocator wrappers, by name */
	size_t nwrappers;
};

static size_t hash_str(const char *s)
{
	return pst_fnv_str(PST_FNV_OFFSET, s);
}

static char *join(const struct sframe *v, size_t n)
{
	size_t len = 1;
	char *s, *p;

	for (size_t i = 0; i < n; i++)
		len += strlen(v[i].text) + 1;
	s = p = malloc(len);
	if (!s)
		return NULL;
	*p = 0;
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s%s", i ? "\n" : "", v[i].text);
	return s;
}

static int cmp_site(const void *x, const void *y, void *arg)
{
	const struct pst_site *sites = arg;
	const struct pst_site *a = &sites[*(const uint32_t *)x], *b = &sites[*(const uint32_t *)y];

	if (a->st.calls != b->st.calls)
		return a->st.calls > b->st.calls ? -1 : 1;
	if (a->st.bytes != b->st.bytes)
		return a->st.bytes > b->st.bytes ? -1 : 1;
	return a->first_stack_id < b->first_stack_id ? -1 : a->first_stack_id > b->first_stack_id;
}

/* Sort the sites and renumber site_of to match. */
static int sort_sites(struct pst_memory *m)
{
	uint32_t *idx = malloc((m->nsites + 1) * sizeof(*idx));
	uint32_t *inv = malloc((m->nsites + 1) * sizeof(*inv));
	struct pst_site *sorted = malloc((m->nsites + 1) * sizeof(*sorted));

	if (!idx || !inv || !sorted) {
		free(idx);
		free(inv);
		free(sorted);
		return -ENOMEM;
	}
	for (uint32_t k = 0; k < m->nsites; k++)
		idx[k] = k;
	qsort_r(idx, m->nsites, sizeof(*idx), cmp_site, m->sites);
	for (uint32_t k = 0; k < m->nsites; k++) {
		sorted[k] = m->sites[idx[k]];
		inv[idx[k]] = k;
	}
	for (size_t i = 0; i < m->nper_stack; i++)
		if (m->site_of[i] != UINT32_MAX)
			m->site_of[i] = inv[m->site_of[i]];
	free(m->sites);
	m->sites = sorted;
	free(idx);
	free(inv);
	return 0;
}

static bool is_wrapper(const struct pst_site_index *ix, const struct sframe *x)
{
	for (size_t i = 0; x->function && i < ix->nwrappers; i++)
		if (!strcmp(ix->wrappers[i], x->function))
			return true;
	return false;
}

/* Fill a new site from its frames: drop the allocator's frames on top, then
 * the site is the first frame outside the C++ library headers and the
 * program's own wrappers (both kept in its stack). */
static int site_init(const struct pst_site_index *ix, struct pst_site *s, struct frames *f,
		     size_t skip)
{
	size_t k;

	s->depth = f->n - skip;
	s->stack = calloc(s->depth ? s->depth : 1, sizeof(*s->stack));
	if (!s->stack)
		return -ENOMEM;
	for (size_t i = 0; i < s->depth; i++) {
		s->stack[i] = f->v[skip + i].text;
		f->v[skip + i].text = NULL;
	}
	for (k = skip; k < f->n && (in_std_headers(f->v[k].file) || is_wrapper(ix, &f->v[k])); k++)
		;
	if (k == f->n)
		k = skip;
	if (k < f->n && f->v[k].function) {
		s->function = strdup(f->v[k].function);
		s->file = f->v[k].file ? strdup(f->v[k].file) : NULL;
		s->line = f->v[k].file ? f->v[k].line : 0;
		if (!s->function || (f->v[k].file && !s->file))
			return -ENOMEM;
	}
	return 0;
}

static struct pst_site_index *site_index_new(struct pst_memory *m)
{
	struct pst_site_index *ix = calloc(1, sizeof(*ix));

	if (!ix)
		return NULL;
	ix->cap = 16;
	while (ix->cap < m->nper_stack * 2)
		ix->cap *= 2;
	ix->slot = calloc(ix->cap, sizeof(*ix->slot));
	ix->keys = calloc(m->nper_stack, sizeof(*ix->keys));
	if (!ix->slot || !ix->keys) {
		free(ix->slot);
		free(ix->keys);
		free(ix);
		return NULL;
	}
	return ix;
}

void pst_site_index_free(struct pst_memory *m)
{
	struct pst_site_index *ix = m->site_ix;

	if (!ix)
		return;
	for (size_t k = 0; k < ix->f.n; k++)
		free(ix->f.v[k].text);
	free(ix->f.v);
	for (size_t k = 0; k < m->nsites; k++)
		free(ix->keys[k]);
	free(ix->keys);
	free(ix->slot);
	for (size_t k = 0; k < ix->nwrappers; k++)
		free(ix->wrappers[k]);
	free(ix->wrappers);
	free(ix);
	m->site_ix = NULL;
}

/* Room for one more site, zeroed. */
static int sites_grow(struct pst_memory *m, struct pst_site_index *ix)
{
	size_t ncap = ix->sites_cap ? ix->sites_cap * 2 : 64;
	struct pst_site *ns;

	if (m->nsites < ix->sites_cap)
		return 0;
	if (ncap > m->nper_stack)
		ncap = m->nper_stack;
	ns = reallocarray(m->sites, ncap, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	memset(ns + ix->sites_cap, 0, (ncap - ix->sites_cap) * sizeof(*ns));
	m->sites = ns;
	ix->sites_cap = ncap;
	return 0;
}

/*
 * The program's own allocator wrappers (xmalloc, g_malloc, sqlite3Malloc):
 * a function that is the first frame outside the allocator in stacks from
 * at least WRAPPER_MIN_CALLERS distinct calling functions, through at most
 * WRAPPER_MAX_LINES lines of its own (it calls malloc and does little
 * else). A wrapper of a wrapper (xcalloc over xmalloc) shows in the next
 * round. Frames looked at per stack: WRAPPER_FRAMES addresses.
 */
#define WRAPPER_MIN_CALLERS 3
#define WRAPPER_MAX_LINES 2
#define WRAPPER_ROUNDS 3
#define WRAPPER_FRAMES 16

struct call {
	const char *fn, *caller; /* owned by the symbolizer */
	int line;
};

static int cmp_call(const void *x, const void *y)
{
	const struct call *a = x, *b = y;
	int c = strcmp(a->fn, b->fn);

	if (!c)
		c = strcmp(a->caller, b->caller);
	return c ? c : (a->line > b->line) - (a->line < b->line);
}

/* The first frame of f that is neither the allocator's, nor the C++
 * headers', nor a wrapper found so far. */
static size_t first_own(const struct pst_site_index *ix, const struct frames *f)
{
	size_t k = 0;

	while (k < f->n && (pst_is_alloc_wrapper(f->v[k].function, f->v[k].module) ||
			    in_std_headers(f->v[k].file) || is_wrapper(ix, &f->v[k])))
		k++;
	return k;
}

/* One round over every stack: each one's own first frame and its caller. */
static int collect_calls(struct pst_site_index *ix, const struct pst_trace *t,
			 struct pst_symbolizer *sym, struct call *v, size_t *n)
{
	struct frames *f = &ix->f;

	*n = 0;
	for (size_t i = 0; i < t->nstacks; i++) {
		size_t k;

		for (size_t j = 0; j < f->n; j++)
			free(f->v[j].text);
		f->n = 0;
		if (symbolize_stack(t, &t->stacks[i], sym, f, WRAPPER_FRAMES))
			return -ENOMEM;
		k = first_own(ix, f);
		if (k + 1 < f->n && f->v[k].function && f->v[k + 1].function)
			v[(*n)++] = (struct call){ f->v[k].function, f->v[k + 1].function,
						   f->v[k].line };
	}
	return 0;
}

/* Functions of sorted calls with enough callers and few lines: wrappers. */
static int note_wrappers(struct pst_site_index *ix, const struct call *v, size_t n, bool *found)
{
	for (size_t a = 0, b; a < n; a = b) {
		int line[WRAPPER_MAX_LINES + 1];
		size_t callers = 1, lines = 0, l;
		char **nw;

		for (b = a; b < n && !strcmp(v[b].fn, v[a].fn); b++) {
			callers += b > a && strcmp(v[b].caller, v[b - 1].caller) != 0;
			for (l = 0; l < lines && line[l] != v[b].line; l++)
				;
			if (l == lines && lines <= WRAPPER_MAX_LINES)
				line[lines++] = v[b].line;
		}
		if (callers < WRAPPER_MIN_CALLERS || lines > WRAPPER_MAX_LINES)
			continue;
		nw = realloc(ix->wrappers, (ix->nwrappers + 1) * sizeof(*nw));
		if (!nw)
			return -ENOMEM;
		ix->wrappers = nw;
		if (!(ix->wrappers[ix->nwrappers] = strdup(v[a].fn)))
			return -ENOMEM;
		ix->nwrappers++;
		*found = true;
	}
	return 0;
}

static int find_wrappers(struct pst_site_index *ix, const struct pst_trace *t,
			 struct pst_symbolizer *sym)
{
	struct call *v;
	bool found = true;
	size_t n;
	int rc = 0;

	if (!sym || !t->nstacks)
		return 0;
	v = malloc(t->nstacks * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (int r = 0; r < WRAPPER_ROUNDS && found && !rc; r++) {
		found = false;
		rc = collect_calls(ix, t, sym, v, &n);
		if (!rc) {
			pst_sort(v, n, sizeof(*v), cmp_call);
			rc = note_wrappers(ix, v, n, &found);
		}
	}
	free(v);
	return rc;
}

long pst_site_map(struct pst_memory *m, const struct pst_trace *t, struct pst_symbolizer *sym,
		  size_t i)
{
	const struct pst_stack *stk = i < t->nstacks ? &t->stacks[i] : NULL;
	struct pst_site_index *ix = m->site_ix;
	struct frames *f;
	size_t skip = 0, j, n;
	bool runtime;
	char *key;

	if (!ix && (!(ix = m->site_ix = site_index_new(m)) || find_wrappers(ix, t, sym)))
		return -ENOMEM;
	f = &ix->f;
	for (size_t k = 0; k < f->n; k++)
		free(f->v[k].text);
	f->n = 0;
	if (symbolize_stack(t, stk, sym, f, UINT32_MAX))
		return -ENOMEM;
	while (skip < f->n && pst_is_alloc_wrapper(f->v[skip].function, f->v[skip].module))
		skip++;
	runtime = f->n && skip == f->n;
	if (runtime)
		skip = 0;
	/* an empty stack has no frames array: no pointer arithmetic on NULL */
	key = join(f->n ? f->v + skip : NULL, f->n - skip);
	if (!key)
		return -ENOMEM;
	for (j = hash_str(key) & (ix->cap - 1); ix->slot[j]; j = (j + 1) & (ix->cap - 1))
		if (!strcmp(ix->keys[ix->slot[j] - 1], key))
			break;
	if (ix->slot[j]) {
		free(key);
		m->site_of[i] = (uint32_t)(ix->slot[j] - 1);
		return (long)(ix->slot[j] - 1);
	}
	if (sites_grow(m, ix)) {
		free(key);
		return -ENOMEM;
	}
	n = m->nsites++;
	m->site_of[i] = (uint32_t)n;
	ix->keys[n] = key;
	ix->slot[j] = n + 1;
	m->sites[n].runtime = runtime;
	if (site_init(ix, &m->sites[n], f, skip))
		return -ENOMEM;
	return (long)n;
}

int pst_memory_sites(struct pst_memory *m, const struct pst_trace *t, struct pst_symbolizer *sym)
{
	if (!m->site_of) {
		m->site_of = malloc(m->nper_stack * sizeof(*m->site_of));
		if (!m->site_of)
			return -ENOMEM;
		for (size_t i = 0; i < m->nper_stack; i++)
			m->site_of[i] = UINT32_MAX;
	}
	/* in stack order, whenever the sites were made: the same sums */
	for (size_t i = 0; i < m->nper_stack; i++) {
		const struct pst_stack_stats *st = &m->per_stack[i];
		const struct pst_stack *stk = i < t->nstacks ? &t->stacks[i] : NULL;
		struct pst_site *s;

		if (!st->events)
			continue;
		if (m->site_of[i] == UINT32_MAX && pst_site_map(m, t, sym, i) < 0)
			return -ENOMEM;
		s = &m->sites[m->site_of[i]];
		pst_stats_add(&s->st, st, !m->sites_exact);
		if (stk && (!s->first_stack_id || stk->id < s->first_stack_id))
			s->first_stack_id = stk->id;
	}
	pst_site_index_free(m);
	return sort_sites(m);
}

void pst_site_name(const struct pst_site *s, char *buf, size_t len)
{
	if (s->function && s->file)
		snprintf(buf, len, "%s (%s:%d)", s->function, s->file, s->line);
	else if (s->function)
		snprintf(buf, len, "%s", s->function);
	else if (s->depth)
		snprintf(buf, len, "%s", s->stack[0]);
	else
		snprintf(buf, len, "[no stack]");
}
