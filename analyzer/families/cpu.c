/* SPDX-License-Identifier: MIT */
/* CPU samples: aggregate SAMPLE/OFFCPU records by stack, symbolize per process, rank functions, find hot spots. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "hash.h"
#include "family.h"
#include "findings.h"
#include "findings_out.h"
#include "imap.h"
#include "json_util.h"
#include "symbolize.h"
#include "units.h"
#include "sort.h"

/* Stacks kept for the report: the hottest on CPU, the longest off. */
#define KEEP_STACKS 20
/* Inlined frames asked of the symbolizer per address. */
#define MAX_INLINE 8

/* One aggregated (thread, user stack, kernel stack) of the trace. */
struct row {
	uint64_t pid, tid, ustack, kstack, flags;
	bool off;
	uint64_t count, ns;
	int *fns; /* function indexes, innermost first */
	size_t depth;
	struct row *next;
};

struct pmod {
	uint64_t pid, seq, bias, lo, hi;
	char *path;
	uint8_t *id;
	size_t idlen;
};

struct ksym {
	uint64_t addr;
	char *name, *module;
};

struct task {
	uint64_t pid, tid, seq;
	char *name;
};

/* Rows are handed out chained in this many buckets (their order is the
 * order of ties in the outputs); a host-wide trace has 100k+ rows. */
#define NBUCKETS 65536

struct state {
	const struct pst_trace *t;
	struct pst_cpu *c;
	struct row *rows[NBUCKETS]; /* chained by row_chain() once all are read */
	struct row *rowv;	    /* every row, in the order first seen */
	size_t nrows, rowv_cap;
	/* Open addressing over rowv: the hash's low half << 32 | index + 1; 0 empty. */
	uint64_t *row_hash;
	size_t row_hash_size;
	struct pmod *pmods;
	size_t npmods, pmods_cap;
	struct ksym *ksyms;
	size_t nksyms, ksyms_cap;
	struct task *tasks; /* by pid, tid, then file order once read */
	size_t ntasks, tasks_cap;
	/* Every process's address space shares base's files; a process
	 * without PMODULE records gets own (the trace's MODULEs). */
	struct pst_symbolizer *share, *base, *own;
	struct pst_symbolizer **syms;
	size_t nsyms, syms_cap;
	struct pst_imap sym_of; /* pid -> index in syms */
	bool pmods_sorted;
	struct pst_imap thread_of; /* pid, tid, is process -> index in c->threads or c->procs */
	size_t fns_cap;
	int *fn_hash; /* open addressing over c->fns, -1 empty */
	size_t fn_hash_size;
	struct pst_imap fn_of; /* pid (0: kernel), address, kernel << 1 | exact -> function */
	int err;
};

static void *grow(void *v, size_t *cap, size_t n, size_t size)
{
	void *nv;

	if (n < *cap)
		return v;
	*cap = *cap ? 2 * *cap : 64;
	nv = realloc(v, *cap * size);
	if (!nv)
		free(v);
	return nv;
}

/* ---- reading ---- */

static uint64_t row_key_hash(uint64_t pid, uint64_t tid, uint64_t u, uint64_t k)
{
	return (pid * 31 + tid) * 0x9e3779b97f4a7c15ull ^ (u * 131 + k) * 0xff51afd7ed558ccdull;
}

static unsigned row_bucket(const struct row *r)
{
	return (unsigned)(row_key_hash(r->pid, r->tid, r->ustack, r->kstack) >> 40) &
	       (NBUCKETS - 1);
}

/* Double the row index, at least to twice the rows. */
static int row_rehash(struct state *s)
{
	size_t n = s->row_hash_size ? 2 * s->row_hash_size : 4096;
	uint64_t *h = calloc(n, sizeof(*h));

	if (!h)
		return -ENOMEM;
	for (size_t i = 0; i < s->nrows; i++) {
		const struct row *r = &s->rowv[i];
		uint64_t hash = row_key_hash(r->pid, r->tid, r->ustack, r->kstack);
		size_t j = hash >> 32 & (n - 1);

		while (h[j])
			j = (j + 1) & (n - 1);
		h[j] = hash << 32 | (i + 1);
	}
	free(s->row_hash);
	s->row_hash = h;
	s->row_hash_size = n;
	return 0;
}

static int add_row(struct state *s, bool off, const uint64_t *v)
{
	/* v: ts, pid, tid, ustack, kstack, count, [ns,] flags */
	uint64_t pid = v[1], tid = v[2], u = v[3], k = v[4], count = v[5];
	uint64_t ns = off ? v[6] : 0, flags = off ? v[7] : v[6];
	uint64_t hash = row_key_hash(pid, tid, u, k), tag = hash << 32;
	struct row *r = NULL;
	size_t j;

	if ((s->nrows + 1) * 2 > s->row_hash_size && row_rehash(s))
		return -ENOMEM;
	/* The hash's low half in the index spares reading rows that differ. */
	for (j = hash >> 32 & (s->row_hash_size - 1); s->row_hash[j];
	     j = (j + 1) & (s->row_hash_size - 1)) {
		if ((s->row_hash[j] & 0xffffffff00000000ull) != tag)
			continue;
		r = &s->rowv[(uint32_t)s->row_hash[j] - 1];
		if (r->pid == pid && r->tid == tid && r->ustack == u && r->kstack == k &&
		    r->off == off && r->flags == flags)
			break;
		r = NULL;
	}
	if (!r) {
		s->rowv = grow(s->rowv, &s->rowv_cap, s->nrows, sizeof(*s->rowv));
		if (!s->rowv) {
			s->nrows = 0; /* their fns are not set yet */
			return -ENOMEM;
		}
		r = &s->rowv[s->nrows];
		*r = (struct row){ .pid = pid, .tid = tid, .ustack = u, .kstack = k,
				   .flags = flags, .off = off };
		s->row_hash[j] = tag | ++s->nrows;
	}
	r->count += count;
	r->ns += ns;
	return 0;
}

/* Chain the rows into their buckets, newest first. */
static void row_chain(struct state *s)
{
	for (size_t i = 0; i < s->nrows; i++) {
		struct row *r = &s->rowv[i];
		unsigned b = row_bucket(r);

		r->next = s->rows[b];
		s->rows[b] = r;
	}
}

/* CPU_CONFIG and CPU_STATS: the recording's settings and losses. */
static void on_counts(struct pst_cpu *c, unsigned type, const uint8_t *p, const uint8_t *end)
{
	struct pst_rec_cpu_config cf;
	struct pst_rec_cpu_stats st;

	if (type == PST_REC_CPU_CONFIG && !pst_dec_cpu_config(p, end, &cf)) {
		c->source = cf.source;
		c->hz = cf.hz;
		c->flags = cf.flags;
		c->stack_bytes = cf.stack_bytes;
	} else if (type == PST_REC_CPU_STATS && !pst_dec_cpu_stats(p, end, &st)) {
		c->duration_ns = st.duration_ns;
		c->lost_events = st.lost_events;
	}
}

/* SAMPLE's and OFFCPU's fields are add_row's v, in its order. */
_Static_assert(sizeof(struct pst_rec_sample) == 7 * sizeof(uint64_t) &&
		       sizeof(struct pst_rec_offcpu) == 8 * sizeof(uint64_t),
	       "SAMPLE and OFFCPU are varints only");

static int on_record(unsigned type, uint64_t tid, const uint8_t *p, size_t len, void *arg)
{
	struct state *s = arg;
	struct pst_cpu *c = s->c;
	const uint8_t *end = p + len;
	union {
		struct pst_rec_sample sa;
		struct pst_rec_offcpu off;
		uint64_t v[8]; /* either, as add_row's v */
		struct pst_rec_pmodule pm;
		struct pst_rec_task ta;
		struct pst_rec_ksym ks;
	} r;

	(void)tid;
	c->present = true;
	switch (type) {
	case PST_REC_CPU_CONFIG:
	case PST_REC_CPU_STATS:
		on_counts(c, type, p, end);
		break;
	case PST_REC_SAMPLE:
	case PST_REC_OFFCPU:
		if (type == PST_REC_SAMPLE ? pst_dec_sample(p, end, &r.sa) :
					     pst_dec_offcpu(p, end, &r.off))
			return 0;
		return add_row(s, type == PST_REC_OFFCPU, r.v);
	case PST_REC_PMODULE: {
		struct pmod m = { 0 };

		if (pst_dec_pmodule(p, end, &r.pm) || !(m.path = pst_span_dup(r.pm.path, r.pm.path_len)))
			return 0;
		m = (struct pmod){ .pid = r.pm.pid, .bias = r.pm.bias, .lo = r.pm.lo, .hi = r.pm.hi,
				   .path = m.path };
		if (r.pm.build_id && (m.id = (uint8_t *)pst_span_dup(r.pm.build_id, r.pm.build_id_len)))
			m.idlen = r.pm.build_id_len;
		s->pmods = grow(s->pmods, &s->pmods_cap, s->npmods, sizeof(*s->pmods));
		if (!s->pmods)
			return -ENOMEM;
		m.seq = s->npmods;
		s->pmods[s->npmods++] = m;
		break;
	}
	case PST_REC_TASK: {
		struct task t = { 0 };

		if (pst_dec_task(p, end, &r.ta) || !(t.name = pst_span_dup(r.ta.name, r.ta.name_len)))
			return 0;
		t.pid = r.ta.pid;
		t.tid = r.ta.tid;
		s->tasks = grow(s->tasks, &s->tasks_cap, s->ntasks, sizeof(*s->tasks));
		if (!s->tasks)
			return -ENOMEM;
		t.seq = s->ntasks;
		s->tasks[s->ntasks++] = t;
		break;
	}
	case PST_REC_KSYM: {
		struct ksym k = { 0 };

		if (pst_dec_ksym(p, end, &r.ks) || !(k.name = pst_span_dup(r.ks.name, r.ks.name_len)))
			return 0;
		k.addr = r.ks.address;
		if (r.ks.module)
			k.module = pst_span_dup(r.ks.module, r.ks.module_len);
		s->ksyms = grow(s->ksyms, &s->ksyms_cap, s->nksyms, sizeof(*s->ksyms));
		if (!s->ksyms)
			return -ENOMEM;
		s->ksyms[s->nksyms++] = k;
		break;
	}
	}
	return 0;
}

/* ---- symbols ---- */

static int cmp_ksym(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static const struct ksym *find_ksym(const struct state *s, uint64_t addr)
{
	size_t lo = 0, hi = s->nksyms;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->ksyms[mid].addr == addr)
			return &s->ksyms[mid];
		if (s->ksyms[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int cmp_pmod(const void *a, const void *b)
{
	const struct pmod *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The first PMODULE of pid in the sorted pmods (npmods: none). */
static size_t first_pmod(const struct state *s, uint64_t pid)
{
	size_t lo = 0, hi = s->npmods;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->pmods[mid].pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The address space every other one shares its files with. */
static struct pst_symbolizer *base_symbolizer(struct state *s)
{
	if (!s->base)
		s->base = pst_symbolizer_new_sharing(s->share);
	return s->base;
}

/* The trace's own modules (a trace of one process from the preload). */
static struct pst_symbolizer *own_symbolizer(struct state *s)
{
	if (s->own || !base_symbolizer(s))
		return s->own;
	s->own = pst_symbolizer_new_sharing(s->base);
	for (size_t i = 0; s->own && i < s->t->nmodules; i++) {
		const struct pst_module *m = &s->t->modules[i];

		if (m->path && pst_symbolizer_add_module(s->own, m->path, m->bias, m->lo, m->hi,
							 m->build_id, m->build_id_len) == -ENOMEM)
			return NULL;
	}
	return s->own;
}

/* The symbolizer for pid's address space: its PMODULEs, else the trace's
 * own modules. Each file is read once for all of them. */
static struct pst_symbolizer *symbolizer(struct state *s, uint64_t pid)
{
	struct pst_ientry *e = pst_imap_get(&s->sym_of, pid, 0, 0);
	struct pst_symbolizer *sym;
	size_t i;

	if (!e)
		return NULL;
	if (e->val != UINT32_MAX)
		return s->syms[e->val];
	if (!s->pmods_sorted) {
		pst_sort(s->pmods, s->npmods, sizeof(*s->pmods), cmp_pmod);
		s->pmods_sorted = true;
	}
	i = first_pmod(s, pid);
	if (i == s->npmods || s->pmods[i].pid != pid) {
		sym = own_symbolizer(s);
	} else {
		sym = base_symbolizer(s) ? pst_symbolizer_new_sharing(s->base) : NULL;
		for (; sym && i < s->npmods && s->pmods[i].pid == pid; i++) {
			const struct pmod *m = &s->pmods[i];

			if (pst_symbolizer_add_module(sym, m->path, m->bias, m->lo, m->hi, m->id,
						      m->idlen) == -ENOMEM) {
				pst_symbolizer_free(sym);
				sym = NULL;
			}
		}
		if (sym && sym != s->own) {
			s->syms = grow(s->syms, &s->syms_cap, s->nsyms, sizeof(*s->syms));
			if (!s->syms) {
				s->nsyms = 0;
				pst_symbolizer_free(sym);
				return NULL;
			}
			s->syms[s->nsyms++] = sym;
			/* Looked up again: the table may have grown. */
			e = pst_imap_get(&s->sym_of, pid, 0, 0);
			if (e)
				pst_imap_set(&s->sym_of, e, (uint32_t)(s->nsyms - 1));
		}
		return sym;
	}
	return sym;
}

static uint64_t str_hash(const char *a, const char *b)
{
	uint64_t h = pst_fnv_str(PST_FNV_OFFSET, a ? a : "");

	h = (h ^ 0x1f) * PST_FNV_PRIME;
	return pst_fnv_str(h, b ? b : "");
}

static bool same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static int fn_rehash(struct state *s)
{
	size_t n = s->fn_hash_size ? 2 * s->fn_hash_size : 1024;
	int *h = malloc(n * sizeof(*h));

	if (!h)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		h[i] = -1;
	for (size_t i = 0; i < s->c->nfns; i++) {
		size_t j = str_hash(s->c->fns[i].function, s->c->fns[i].module) & (n - 1);

		while (h[j] >= 0)
			j = (j + 1) & (n - 1);
		h[j] = (int)i;
	}
	free(s->fn_hash);
	s->fn_hash = h;
	s->fn_hash_size = n;
	return 0;
}

/* Index of the function (name, module), added when new; -1 without memory. */
static int fn_index(struct state *s, const char *function, const char *file, const char *module)
{
	struct pst_cpu *c = s->c;
	struct pst_cpu_fn *f;
	size_t j;

	if ((c->nfns + 1) * 2 > s->fn_hash_size && fn_rehash(s))
		return -1;
	for (j = str_hash(function, module) & (s->fn_hash_size - 1); s->fn_hash[j] >= 0;
	     j = (j + 1) & (s->fn_hash_size - 1)) {
		f = &c->fns[s->fn_hash[j]];
		if (same(f->function, function) && same(f->module, module))
			return s->fn_hash[j];
	}
	c->fns = grow(c->fns, &s->fns_cap, c->nfns, sizeof(*c->fns));
	if (!c->fns)
		return -1;
	f = &c->fns[c->nfns];
	memset(f, 0, sizeof(*f));
	f->function = strdup(function);
	f->file = file ? strdup(file) : NULL;
	f->module = module ? strdup(module) : NULL;
	if (!f->function)
		return -1;
	s->fn_hash[j] = (int)c->nfns;
	return (int)c->nfns++;
}

/* The frames of one address: a kernel frame is its symbol (*kp, NULL when
 * unknown; fr zeroed); a user frame is symbolized with its inlined frames,
 * innermost first. exact: addr is an instruction pointer, not a return
 * address. Returns how many frames were filled (>= 1). */
static int resolve(const struct state *s, struct pst_symbolizer *sym, uint64_t addr, bool kernel,
		   bool exact, struct pst_frame *fr, int max, const struct ksym **kp)
{
	*kp = NULL;
	if (kernel || !sym) {
		memset(fr, 0, sizeof(*fr));
		fr->offset = addr;
		if (kernel)
			*kp = find_ksym(s, addr);
		return 1;
	}
	return pst_symbolize(sym, exact ? addr : addr - 1, fr, max);
}

/* The function of one frame, and its display string when disp is given. */
static int frame_fn_of(struct state *s, struct pst_symbolizer *sym, uint64_t addr, bool kernel,
		       bool exact, char *disp, size_t displen, bool *has_source)
{
	struct pst_frame fr[MAX_INLINE];
	const struct pst_frame *f;
	const struct ksym *k;
	char name[64], module[160];
	int n;

	*has_source = false;
	n = resolve(s, sym, addr, kernel, exact, fr, MAX_INLINE, &k);
	if (kernel) {
		snprintf(module, sizeof(module), k && k->module && *k->module ? "[kernel:%s]" : "[kernel]",
			 k && k->module ? k->module : "");
		if (!k) {
			snprintf(name, sizeof(name), "[kernel 0x%" PRIx64 "]", addr);
			if (disp)
				snprintf(disp, displen, "%s", name);
			return fn_index(s, name, NULL, "[kernel]");
		}
		if (disp)
			snprintf(disp, displen, "%s (%s)", k->name, module);
		return fn_index(s, k->name, NULL, module);
	}
	if (!sym)
		return fn_index(s, "[unknown]", NULL, NULL);
	f = &fr[n > 0 ? n - 1 : 0];
	if (disp)
		pst_frame_format(f, disp, displen);
	*has_source = f->file != NULL;
	if (!f->function) {
		/* No symbol: one entry per function start the object's .eh_frame
		 * gives (as perf's [module+0x...]), else one per object. */
		if (f->module && f->fn_start)
			snprintf(module, sizeof(module), "[%s+0x%" PRIx64 "]",
				 strrchr(f->module, '/') ? strrchr(f->module, '/') + 1 : f->module,
				 f->fn_start);
		else
			snprintf(module, sizeof(module), "[%s]", f->module ? f->module : "unknown");
		return fn_index(s, f->module ? module : "[unknown]", NULL, f->module);
	}
	return fn_index(s, f->function, f->file, f->module);
}

/* frame_fn_of, once per address of a process (or of the kernel) for rows
 * that keep no display strings: rows share most of their frames. */
static int frame_fn(struct state *s, struct pst_symbolizer *sym, uint64_t pid, uint64_t addr,
		    bool kernel, bool exact, char *disp, size_t displen, bool *has_source)
{
	struct pst_ientry *e;
	int fi;

	if (disp)
		return frame_fn_of(s, sym, addr, kernel, exact, disp, displen, has_source);
	e = pst_imap_get(&s->fn_of, kernel ? 0 : pid, addr, (uint64_t)kernel << 1 | exact);
	if (!e)
		return -1;
	if (e->val != UINT32_MAX)
		return (int)e->val;
	fi = frame_fn_of(s, sym, addr, kernel, exact, NULL, 0, has_source);
	if (fi >= 0)
		pst_imap_set(&s->fn_of, e, (uint32_t)fi);
	return fi;
}

/* Symbolize one row into function indexes (and display strings into keep). */
static int symbolize_row(struct state *s, struct row *r, struct pst_cpu_stack *keep)
{
	const struct pst_stack *us = r->ustack ? pst_trace_stack(s->t, r->ustack) : NULL;
	const struct pst_stack *ks = r->kstack ? pst_trace_stack(s->t, r->kstack) : NULL;
	size_t kd = ks ? ks->depth : 0, ud = us ? us->depth : 0, n = 0;
	struct pst_symbolizer *sym = ud ? symbolizer(s, r->pid) : NULL;
	char disp[1024];

	free(r->fns);
	r->fns = malloc((kd + ud + 1) * sizeof(*r->fns));
	if (!r->fns)
		return -ENOMEM;
	if (keep) {
		keep->frames = calloc(kd + ud + 1, sizeof(char *));
		if (!keep->frames)
			return -ENOMEM;
	}
	for (size_t i = 0; i < kd + ud; i++) {
		bool kernel = i < kd, src;
		uint64_t addr = kernel ? ks->frames[i] : us->frames[i - kd];
		int fi = frame_fn(s, sym, r->pid, addr, kernel, i == 0 || i == kd,
				  keep ? disp : NULL, sizeof(disp), &src);

		if (fi < 0)
			return -ENOMEM;
		r->fns[n++] = fi;
		if (keep) {
			keep->frames[i] = strdup(disp);
			if (!keep->frames[i])
				return -ENOMEM;
			keep->depth = i + 1;
			if (!keep->reason && !kernel && src)
				keep->reason = keep->frames[i];
		}
	}
	if (keep && !keep->reason && kd < kd + ud)
		keep->reason = keep->frames[kd];
	r->depth = n;
	return 0;
}

/* ---- aggregation ---- */

/* The row of (pid, tid) in v (the process's own when proc), added when new. */
static struct pst_cpu_thread *thread_of(struct state *s, struct pst_cpu_thread **v, size_t *n,
					size_t *cap, uint64_t pid, uint64_t tid, bool proc)
{
	struct pst_ientry *e = pst_imap_get(&s->thread_of, pid, tid, proc);

	if (!e)
		return NULL;
	if (e->val != UINT32_MAX)
		return &(*v)[e->val];
	*v = grow(*v, cap, *n, sizeof(**v));
	if (!*v) {
		*n = 0;
		return NULL;
	}
	memset(&(*v)[*n], 0, sizeof(**v));
	(*v)[*n].pid = pid;
	(*v)[*n].tid = tid;
	pst_imap_set(&s->thread_of, e, (uint32_t)*n);
	return &(*v)[(*n)++];
}

static int cmp_task(const void *a, const void *b)
{
	const struct task *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The first task at or after (pid, tid) in the sorted tasks. */
static size_t task_at(const struct state *s, uint64_t pid, uint64_t tid)
{
	size_t lo = 0, hi = s->ntasks;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct task *t = &s->tasks[mid];

		if (t->pid < pid || (t->pid == pid && t->tid < tid))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The name of thread tid, or for tid 0 of the process: its main thread's
 * (the last one recorded), else its first recorded thread's. */
static const char *task_name(const struct state *s, uint64_t pid, uint64_t tid)
{
	const struct task *first = NULL;
	size_t i = task_at(s, pid, tid);

	if (i < s->ntasks && s->tasks[i].pid == pid && s->tasks[i].tid == tid)
		return s->tasks[i].name;
	if (tid)
		return NULL;
	i = task_at(s, pid, pid);
	if (i < s->ntasks && s->tasks[i].pid == pid && s->tasks[i].tid == pid) {
		while (i + 1 < s->ntasks && s->tasks[i + 1].pid == pid && s->tasks[i + 1].tid == pid)
			i++;
		return s->tasks[i].name;
	}
	for (i = task_at(s, pid, 0); i < s->ntasks && s->tasks[i].pid == pid; i++)
		if (!first || s->tasks[i].seq < first->seq)
			first = &s->tasks[i];
	return first ? first->name : NULL;
}

static int cmp_row_count(const void *a, const void *b)
{
	const struct row *x = *(struct row *const *)a, *y = *(struct row *const *)b;

	if (x->off != y->off)
		return x->off - y->off;
	if (x->off && x->ns != y->ns)
		return x->ns > y->ns ? -1 : 1;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return 0;
}

static int cmp_fn(const void *a, const void *b)
{
	const struct pst_cpu_fn *x = a, *y = b;

	if (x->self != y->self)
		return x->self > y->self ? -1 : 1;
	if (x->total != y->total)
		return x->total > y->total ? -1 : 1;
	return strcmp(x->function, y->function);
}

static int cmp_thread(const void *a, const void *b)
{
	const struct pst_cpu_thread *x = a, *y = b;

	if (x->samples != y->samples)
		return x->samples > y->samples ? -1 : 1;
	if (x->blocked_ns != y->blocked_ns)
		return x->blocked_ns > y->blocked_ns ? -1 : 1;
	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

struct depth_count {
	size_t depth;
	uint64_t count;
};

static int cmp_depth(const void *a, const void *b)
{
	const struct depth_count *x = a, *y = b;

	return x->depth < y->depth ? -1 : x->depth > y->depth;
}

/* The slot in hot[] or blocked[] that keeps row r's stack, filled but for
 * its frames, or NULL once KEEP_STACKS of its kind are kept (rows come in
 * falling count, so the first ones are the heaviest). */
static struct pst_cpu_stack *keep_stack(struct pst_cpu *c, const struct row *r)
{
	struct pst_cpu_stack *keep = NULL;

	if (!r->off && c->nhot < KEEP_STACKS)
		keep = &c->hot[c->nhot++];
	else if (r->off && c->nblocked < KEEP_STACKS)
		keep = &c->blocked[c->nblocked++];
	if (keep) {
		keep->pid = r->pid;
		keep->tid = r->tid;
		keep->samples = r->count;
		keep->blocked_ns = r->ns;
		keep->truncated = r->flags & PST_SAMPLE_USER_TRUNCATED;
	}
	return keep;
}

/* An on-CPU row's samples into the totals, and into the self and total
 * counts of its functions; *stamp tells each function it was already
 * counted for this row. */
static void count_on_cpu(struct pst_cpu *c, const struct row *r, uint64_t *stamp)
{
	c->samples += r->count;
	if (r->flags & PST_SAMPLE_USER_TRUNCATED)
		c->truncated += r->count;
	if (r->flags & PST_SAMPLE_KERNEL_LOST)
		c->kernel_lost += r->count;
	if (r->flags & PST_SAMPLE_BLOCKED)
		c->blocked_samples += r->count;
	if (!r->depth)
		return;
	++*stamp;
	c->fns[r->fns[0]].self += r->count;
	for (size_t j = 0; j < r->depth; j++) {
		struct pst_cpu_fn *f = &c->fns[r->fns[j]];

		if (f->stamp == *stamp)
			continue; /* recursion: once per sample */
		f->stamp = *stamp;
		f->total += r->count;
	}
}

/* Weighted median of the stack depth over samples. */
static size_t median_depth(struct depth_count *dc, size_t ndc, uint64_t samples)
{
	uint64_t half = (samples + 1) / 2, acc = 0;

	pst_sort(dc, ndc, sizeof(*dc), cmp_depth);
	for (size_t i = 0; i < ndc; i++) {
		acc += dc[i].count;
		if (acc >= half)
			return dc[i].depth;
	}
	return 0;
}

/* An off-CPU row's waits into a thread's or a process's figures. */
static void add_blocked(struct pst_cpu_thread *t, const struct row *r)
{
	t->blocked_ns += r->ns;
	t->waits += r->count;
}

/* Row r into its kept stack, its thread, its process and the totals; dc
 * gathers the depths of on-CPU rows. */
static int count_row(struct state *s, struct row *r, size_t *threads_cap, size_t *procs_cap,
		     struct depth_count *dc, size_t *ndc, uint64_t *stamp)
{
	struct pst_cpu *c = s->c;
	struct pst_cpu_thread *th, *pr;
	int rc = symbolize_row(s, r, keep_stack(c, r));

	if (rc)
		return rc;
	th = thread_of(s, &c->threads, &c->nthreads, threads_cap, r->pid, r->tid, false);
	pr = thread_of(s, &c->procs, &c->nprocs, procs_cap, r->pid, 0, true);
	if (!th || !pr)
		return -ENOMEM;
	if (r->off) {
		add_blocked(th, r);
		add_blocked(pr, r);
		c->blocked_ns += r->ns;
		c->waits += r->count;
		return 0;
	}
	th->samples += r->count;
	pr->samples += r->count;
	dc[(*ndc)++] = (struct depth_count){ r->depth, r->count };
	count_on_cpu(c, r, stamp);
	return 0;
}

/* Names of threads and processes, and the order the report shows. */
static void name_and_sort(struct state *s)
{
	struct pst_cpu *c = s->c;

	for (size_t i = 0; i < c->nthreads; i++)
		c->threads[i].name = task_name(s, c->threads[i].pid, c->threads[i].tid);
	for (size_t i = 0; i < c->nprocs; i++)
		c->procs[i].name = task_name(s, c->procs[i].pid, 0);
	/* hot[] and blocked[] point into fns by index no more: sorting is safe. */
	pst_sort(c->fns, c->nfns, sizeof(*c->fns), cmp_fn);
	pst_sort(c->threads, c->nthreads, sizeof(*c->threads), cmp_thread);
	pst_sort(c->procs, c->nprocs, sizeof(*c->procs), cmp_thread);
}

static int aggregate(struct state *s)
{
	struct pst_cpu *c = s->c;
	struct row **all = malloc((s->nrows + 1) * sizeof(*all));
	struct depth_count *dc = malloc((s->nrows + 1) * sizeof(*dc));
	size_t n = 0, ndc = 0, threads_cap = 0, procs_cap = 0;
	uint64_t stamp = 0;
	int rc = 0;

	if (!all || !dc) {
		free(all);
		free(dc);
		return -ENOMEM;
	}
	for (unsigned b = 0; b < NBUCKETS; b++)
		for (struct row *r = s->rows[b]; r; r = r->next)
			all[n++] = r;
	pst_sort(all, n, sizeof(*all), cmp_row_count);
	c->hot = calloc(KEEP_STACKS, sizeof(*c->hot));
	c->blocked = calloc(KEEP_STACKS, sizeof(*c->blocked));
	if (!c->hot || !c->blocked)
		rc = -ENOMEM;
	for (size_t i = 0; i < n && !rc; i++)
		rc = count_row(s, all[i], &threads_cap, &procs_cap, dc, &ndc, &stamp);
	if (!rc) {
		c->median_depth = median_depth(dc, ndc, c->samples);
		name_and_sort(s);
	}
	free(all);
	free(dc);
	return rc;
}

static void state_free(struct state *s)
{
	for (size_t i = 0; i < s->nrows; i++)
		free(s->rowv[i].fns);
	free(s->rowv);
	free(s->row_hash);
	for (size_t i = 0; i < s->npmods; i++) {
		free(s->pmods[i].path);
		free(s->pmods[i].id);
	}
	free(s->pmods);
	for (size_t i = 0; i < s->nksyms; i++) {
		free(s->ksyms[i].name);
		free(s->ksyms[i].module);
	}
	free(s->ksyms);
	for (size_t i = 0; i < s->nsyms; i++)
		pst_symbolizer_free(s->syms[i]);
	free(s->syms);
	pst_symbolizer_free(s->own);
	pst_symbolizer_free(s->base);
	pst_imap_free(&s->sym_of);
	pst_imap_free(&s->thread_of);
	free(s->fn_hash);
	pst_imap_free(&s->fn_of);
}

/* The symbolizers' warnings (one list: they share it) into c. */
static void collect_warnings(struct state *s)
{
	struct pst_cpu *c = s->c;
	const char *w;

	for (size_t j = 0; s->base && (w = pst_symbolizer_warning(s->base, j)); j++) {
		char **nv = realloc(c->warnings, (c->nwarnings + 1) * sizeof(*nv));

		if (!nv)
			return;
		c->warnings = nv;
		c->warnings[c->nwarnings] = strdup(w);
		if (c->warnings[c->nwarnings])
			c->nwarnings++;
	}
}

struct pst_cpu *pst_cpu_analyze(const struct pst_trace *t)
{
	struct pst_cpu *c = calloc(1, sizeof(*c));
	struct state *s = calloc(1, sizeof(*s));
	int rc;

	if (!c || !s) {
		free(c);
		free(s);
		return NULL;
	}
	s->t = t;
	s->c = c;
	rc = pst_trace_foreach(t, PST_REC_CPU_CONFIG, 0x5f, on_record, s);
	if (!rc && c->present) {
		pst_sort(s->ksyms, s->nksyms, sizeof(*s->ksyms), cmp_ksym);
		pst_sort(s->tasks, s->ntasks, sizeof(*s->tasks), cmp_task);
		row_chain(s);
		rc = aggregate(s);
		collect_warnings(s);
	}
	/* Tasks' names are referenced by threads: keep them with c. */
	if (!rc && c->present && !c->duration_ns && t->end_ts > t->proc.start_monotonic_ns)
		c->duration_ns = t->end_ts - t->proc.start_monotonic_ns;
	for (size_t i = 0; i < c->nthreads; i++)
		if (c->threads[i].name)
			c->threads[i].name = strdup(c->threads[i].name);
	for (size_t i = 0; i < c->nprocs; i++)
		if (c->procs[i].name)
			c->procs[i].name = strdup(c->procs[i].name);
	for (size_t i = 0; i < s->ntasks; i++)
		free(s->tasks[i].name);
	free(s->tasks);
	state_free(s);
	free(s);
	if (rc) {
		pst_cpu_free(c);
		return NULL;
	}
	return c;
}

/* ---- stacks for flame graphs ---- */

int pst_cpu_foreach_stack(const struct pst_trace *t, struct pst_symbolizer *share,
			  pst_cpu_row_fn cb, void *arg)
{
	struct pst_cpu *c = calloc(1, sizeof(*c));
	struct state *s = calloc(1, sizeof(*s));
	int rc = -ENOMEM;

	if (!c || !s)
		goto out;
	s->t = t;
	s->c = c;
	s->share = share;
	rc = pst_trace_foreach(t, PST_REC_CPU_CONFIG, 0x5f, on_record, s);
	pst_sort(s->ksyms, s->nksyms, sizeof(*s->ksyms), cmp_ksym);
	pst_sort(s->tasks, s->ntasks, sizeof(*s->tasks), cmp_task);
	row_chain(s);
	for (unsigned b = 0; b < NBUCKETS && !rc; b++)
		for (struct row *r = s->rows[b]; r && !rc; r = r->next) {
			struct pst_cpu_row w = {
				.pid = r->pid, .tid = r->tid, .off = r->off, .count = r->count,
				.blocked_ns = r->ns, .cpu = c, .priv = s,
				.ustack = r->ustack ? pst_trace_stack(t, r->ustack) : NULL,
				.kstack = r->kstack ? pst_trace_stack(t, r->kstack) : NULL,
				.comm = task_name(s, r->pid, 0),
			};

			if (w.ustack && w.ustack->depth && !(w.sym = symbolizer(s, r->pid)))
				rc = -ENOMEM;
			else
				rc = cb(&w, arg);
		}
out:
	if (s) {
		for (size_t i = 0; i < s->ntasks; i++)
			free(s->tasks[i].name);
		free(s->tasks);
		state_free(s);
	}
	free(s);
	pst_cpu_free(c);
	return rc;
}

int pst_cpu_row_frame(const struct pst_cpu_row *r, size_t i, struct pst_frame *fr, int max,
		      const char **kname, const char **kmodule)
{
	size_t kd = r->kstack ? r->kstack->depth : 0;
	bool kernel = i < kd;
	uint64_t addr = kernel ? r->kstack->frames[i] : r->ustack->frames[i - kd];
	const struct ksym *k;
	int n = resolve(r->priv, r->sym, addr, kernel, i == 0 || i == kd, fr, max, &k);

	*kname = k ? k->name : NULL;
	*kmodule = k && k->module && *k->module ? k->module : NULL;
	return n;
}

static void stacks_free(struct pst_cpu_stack *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		for (size_t j = 0; j < v[i].depth; j++)
			free(v[i].frames[j]);
		free(v[i].frames);
	}
	free(v);
}

void pst_cpu_free(struct pst_cpu *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nfns; i++) {
		free(c->fns[i].function);
		free(c->fns[i].file);
		free(c->fns[i].module);
	}
	free(c->fns);
	for (size_t i = 0; i < c->nthreads; i++)
		free((char *)c->threads[i].name);
	free(c->threads);
	for (size_t i = 0; i < c->nprocs; i++)
		free((char *)c->procs[i].name);
	free(c->procs);
	stacks_free(c->hot, c->nhot);
	stacks_free(c->blocked, c->nblocked);
	for (size_t i = 0; i < c->nwarnings; i++)
		free(c->warnings[i]);
	free(c->warnings);
	free(c);
}

/* ---- output ---- */

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0;
}

static json_t *json_threads(const struct pst_cpu_thread *v, size_t n, bool threads)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();

		json_object_set_new(o, "pid", pst_ju64(v[i].pid));
		if (threads)
			json_object_set_new(o, "tid", pst_ju64(v[i].tid));
		json_object_set_new(o, "name", pst_jstr(v[i].name));
		json_object_set_new(o, "samples", pst_ju64(v[i].samples));
		json_object_set_new(o, "blocked_ns", pst_ju64(v[i].blocked_ns));
		json_array_append_new(a, o);
	}
	return a;
}

json_t *pst_cpu_json(const struct pst_cpu *c, size_t top)
{
	json_t *o = json_object(), *fns = json_array(), *hot = json_array(), *off;
	size_t nf = top && top < c->nfns ? top : c->nfns;

	json_object_set_new(o, "source", json_string(c->source == PST_CPU_EBPF ? "ebpf" : "preload"));
	json_object_set_new(o, "hz", pst_ju64(c->hz));
	json_object_set_new(o, "clock", json_string(c->flags & PST_CPU_WALL ? "wall" : "cpu"));
	json_object_set_new(o, "samples", pst_ju64(c->samples));
	json_object_set_new(o, "truncated_stacks", pst_ju64(c->truncated));
	json_object_set_new(o, "duration_ns", pst_ju64(c->duration_ns));
	json_object_set_new(o, "unwinding", json_string(c->flags & PST_CPU_DWARF ? "dwarf" :
										   "frame-pointer"));
	json_object_set_new(o, "host_wide", json_boolean(c->flags & PST_CPU_HOST_WIDE));
	json_object_set_new(o, "kernel_stacks_lost", pst_ju64(c->kernel_lost));
	json_object_set_new(o, "lost_events", pst_ju64(c->lost_events));
	json_object_set_new(o, "blocked_samples", pst_ju64(c->blocked_samples));
	json_object_set_new(o, "median_stack_depth", pst_ju64(c->median_depth));
	for (size_t i = 0; i < nf; i++) {
		const struct pst_cpu_fn *f = &c->fns[i];
		json_t *j = json_object();

		json_object_set_new(j, "function", json_string(f->function));
		json_object_set_new(j, "file", pst_jstr(f->file));
		json_object_set_new(j, "module", pst_jstr(f->module));
		json_object_set_new(j, "self", pst_ju64(f->self));
		json_object_set_new(j, "total", pst_ju64(f->total));
		json_object_set_new(j, "self_pct", json_real(round(pct(f->self, c->samples) * 100) / 100));
		json_object_set_new(j, "total_pct",
				    json_real(round(pct(f->total, c->samples) * 100) / 100));
		json_array_append_new(fns, j);
	}
	json_object_set_new(o, "functions", fns);
	for (size_t i = 0; i < c->nhot && (!top || i < top); i++) {
		json_t *j = json_object();

		json_object_set_new(j, "pid", pst_ju64(c->hot[i].pid));
		json_object_set_new(j, "tid", pst_ju64(c->hot[i].tid));
		json_object_set_new(j, "samples", pst_ju64(c->hot[i].samples));
		json_object_set_new(j, "truncated", json_boolean(c->hot[i].truncated));
		json_object_set_new(j, "stack", pst_jstrings(c->hot[i].frames, c->hot[i].depth));
		json_array_append_new(hot, j);
	}
	json_object_set_new(o, "stacks", hot);
	json_object_set_new(o, "threads", json_threads(c->threads, c->nthreads, true));
	json_object_set_new(o, "processes", json_threads(c->procs, c->nprocs, false));
	if (c->flags & PST_CPU_OFF_CPU) {
		json_t *st = json_array();

		off = json_object();
		json_object_set_new(off, "blocked_ns", pst_ju64(c->blocked_ns));
		json_object_set_new(off, "waits", pst_ju64(c->waits));
		for (size_t i = 0; i < c->nblocked && (!top || i < top); i++) {
			json_t *j = json_object();

			json_object_set_new(j, "pid", pst_ju64(c->blocked[i].pid));
			json_object_set_new(j, "tid", pst_ju64(c->blocked[i].tid));
			json_object_set_new(j, "blocked_ns", pst_ju64(c->blocked[i].blocked_ns));
			json_object_set_new(j, "waits", pst_ju64(c->blocked[i].samples));
			json_object_set_new(j, "reason", pst_jstr(c->blocked[i].reason));
			json_object_set_new(j, "truncated", json_boolean(c->blocked[i].truncated));
			json_object_set_new(j, "stack", pst_jstrings(c->blocked[i].frames, c->blocked[i].depth));
			json_array_append_new(st, j);
		}
		json_object_set_new(off, "stacks", st);
		json_object_set_new(o, "off_cpu", off);
	}
	return o;
}

static void text_stack(FILE *out, const struct pst_cpu_stack *st, size_t frames)
{
	for (size_t j = 0; j < st->depth && j < frames; j++)
		fprintf(out, "        %s %s\n", j ? "<-" : "  ", st->frames[j]);
	if (st->depth > frames)
		fprintf(out, "           (%zu more frames%s)\n", st->depth - frames,
			st->truncated ? ", truncated" : "");
	else if (st->truncated)
		fprintf(out, "           (truncated: the callers are unknown)\n");
}

/* The section's head: the source and the samples. */
static void text_head(FILE *out, const struct pst_cpu *c)
{
	char a[32];

	fprintf(out, "\nCPU (%s, %" PRIu64 " Hz, %s unwinding)\n",
		c->source == PST_CPU_EBPF ? "eBPF" :
		c->flags & PST_CPU_WALL ? "preload, wall clock" :
					  "preload timers",
		c->hz,
		c->flags & PST_CPU_DWARF ? "DWARF" : "frame-pointer");
	fprintf(out, "  samples      %" PRIu64 " in %s; %" PRIu64 " stacks truncated (%.1f%%)",
		c->samples, pst_fmt_ns(c->duration_ns, a, sizeof(a)), c->truncated,
		pct(c->truncated, c->samples));
	if (c->lost_events && c->source == PST_CPU_EBPF)
		fprintf(out, "; %" PRIu64 " stack copies dropped (frame pointers used)", c->lost_events);
	else if (c->lost_events)
		fprintf(out, "; %" PRIu64 " samples dropped (taken inside the profiler)", c->lost_events);
	if (c->blocked_samples)
		fprintf(out, "; %" PRIu64 " of blocked threads", c->blocked_samples);
	fprintf(out, "\n  stack depth  median %" PRIu64 " frames\n", c->median_depth);
}

/* Functions, hottest stacks, threads and off-CPU stacks. */
static void text_tables(FILE *out, const struct pst_cpu *c, size_t top)
{
	char a[32];

	if (c->nfns) {
		fprintf(out, "\n  %3s  %8s %7s  %8s %7s  %s\n", "#", "self", "", "total", "", "function");
		for (size_t i = 0; i < c->nfns && i < top; i++) {
			const struct pst_cpu_fn *f = &c->fns[i];

			fprintf(out, "  %3zu  %8" PRIu64 " %6.1f%%  %8" PRIu64 " %6.1f%%  %s (%s)\n", i + 1,
				f->self, pct(f->self, c->samples), f->total, pct(f->total, c->samples),
				f->function, f->file ? f->file : f->module ? f->module : "?");
		}
	}
	if (c->nhot) {
		fprintf(out, "\n  Hottest stacks\n");
		for (size_t i = 0; i < c->nhot && i < 3; i++) {
			fprintf(out, "    %" PRIu64 " samples (%.1f%%), thread %" PRIu64 "\n",
				c->hot[i].samples, pct(c->hot[i].samples, c->samples), c->hot[i].tid);
			text_stack(out, &c->hot[i], 8);
		}
	}
	if (c->nthreads > 1 || c->nprocs > 1) {
		fprintf(out, "\n  %10s %10s  %-16s %10s %12s\n", "pid", "tid", "name", "samples",
			"blocked");
		for (size_t i = 0; i < c->nthreads && i < top; i++) {
			const struct pst_cpu_thread *t = &c->threads[i];

			fprintf(out, "  %10" PRIu64 " %10" PRIu64 "  %-16s %10" PRIu64 " %12s\n", t->pid,
				t->tid, t->name ? t->name : "-", t->samples,
				pst_fmt_ns(t->blocked_ns, a, sizeof(a)));
		}
	}
	if (c->flags & PST_CPU_OFF_CPU) {
		fprintf(out, "\n  Off-CPU: %s blocked in %" PRIu64 " waits\n",
			pst_fmt_ns(c->blocked_ns, a, sizeof(a)), c->waits);
		for (size_t i = 0; i < c->nblocked && i < 5; i++) {
			fprintf(out, "    %s (%.1f%%) in %" PRIu64 " waits, thread %" PRIu64 "\n",
				pst_fmt_ns(c->blocked[i].blocked_ns, a, sizeof(a)),
				pct(c->blocked[i].blocked_ns, c->blocked_ns), c->blocked[i].samples,
				c->blocked[i].tid);
			text_stack(out, &c->blocked[i], 8);
		}
	}
}

/* ---- the family ---- */

static void *family_analyze(struct pst_analysis *a)
{
	return pst_cpu_analyze(a->t);
}

static int family_warnings(struct pst_analysis *a, void *self)
{
	const struct pst_cpu *c = self;

	for (size_t i = 0; i < c->nwarnings; i++)
		if (pst_analysis_warn(a, c->warnings[i]))
			return -ENOMEM;
	return 0;
}

static int family_findings(struct pst_analysis *a, void *self, struct pst_findings *out)
{
	(void)a;
	return pst_findings_cpu(self, out);
}

static void family_json(const struct pst_analysis *a, const void *self, json_t *root)
{
	const struct pst_cpu *c = self;

	if (c->present)
		json_object_set_new(root, "cpu", pst_cpu_json(c, a->json_top));
}

/* The whole section comes before the heap's totals; its findings in it. */
static bool family_text(FILE *out, const struct pst_analysis *a, const void *self)
{
	const struct pst_cpu *c = self;

	if (!c->present)
		return true;
	text_head(out, c);
	pst_findings_text_short(out, &a->f, pst_family_index(&pst_family_cpu));
	text_tables(out, c, a->top);
	return true;
}

static void family_free(void *self)
{
	pst_cpu_free(self);
}

/* ---- flame graph metrics ---- */

static int stop_at_first(unsigned type, uint64_t tid, const uint8_t *p, size_t len, void *arg)
{
	(void)type, (void)tid, (void)p, (void)len, (void)arg;
	return 1;
}

static bool has_samples(const struct pst_trace *t)
{
	return pst_trace_foreach(t, PST_REC_SAMPLE, PST_REC_SAMPLE, stop_at_first, NULL) == 1;
}

static bool has_offcpu(const struct pst_trace *t)
{
	return pst_trace_foreach(t, PST_REC_OFFCPU, PST_REC_OFFCPU, stop_at_first, NULL) == 1;
}

static int collect_on(struct pst_flame *fl, unsigned slot)
{
	return pst_flame_collect_cpu(fl, slot, false);
}

static int collect_off(struct pst_flame *fl, unsigned slot)
{
	return pst_flame_collect_cpu(fl, slot, true);
}

/* Diff's rows: CPU samples follow the sampling clock (562 to 575 at
 * 999 Hz: 25% and 20). */
static const struct pst_metric_def diff_rows[] = {
	{ "cpu_samples", "CPU samples", PST_UNIT_COUNT, "cpu.samples", true, false,
	  { 0.25, 20 }, { 0.25, 20 } },
};

static const struct pst_keyed_def diff_keyed[] = {
	{ { "function_cpu_samples", "CPU samples in", PST_UNIT_COUNT, "cpu.functions", true, false,
	    { 0.25, 20 }, { 0.25, 20 } },
	  "function", "self", NULL, NULL },
};

static const struct pst_metric metrics[] = {
	{ "cpu", "CPU time", "nanoseconds", "cpu", 10, false, NULL, has_samples, collect_on,
	  PST_PPROF_CPU },
	{ "off-cpu", "time off CPU", "nanoseconds", "off_cpu", 30, false, NULL, has_offcpu,
	  collect_off, PST_PPROF_PLAIN },
};

const struct pst_family_ops pst_family_cpu = {
	.name = "cpu",
	.json_rank = 3,
	.text_rank = 0,
	.findings_in_section = true,
	.analyze = family_analyze,
	.warnings = family_warnings,
	.findings = family_findings,
	.json = family_json,
	.text_summary = family_text,
	.metrics = metrics,
	.nmetrics = sizeof(metrics) / sizeof(*metrics),
	.diff_metrics = diff_rows,
	.ndiff_metrics = 1,
	.diff_keyed = diff_keyed,
	.ndiff_keyed = 1,
	.free = family_free,
};
