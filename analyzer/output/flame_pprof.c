/* SPDX-License-Identifier: MIT */
/* pprof export: the stacks as a profile.proto message (protobuf-c), gzipped with zlib. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "flame.h"
#include "hash.h"
#include "profile.pb-c.h"

typedef Perftools__Profiles__Profile Profile;
typedef Perftools__Profiles__ValueType ValueType;
typedef Perftools__Profiles__Sample Sample;
typedef Perftools__Profiles__Mapping Mapping;
typedef Perftools__Profiles__Location Location;
typedef Perftools__Profiles__Line Line;
typedef Perftools__Profiles__Function Function;
typedef Perftools__Profiles__Label Label;

/* A sample type as pprof names it. */
struct ptype {
	const char *type, *unit;
};

/* Go's heap profiles carry these four together (pst_fstack.heap's order);
 * go tool pprof -sample_index picks one. */
static const struct ptype heap_types[4] = {
	{"alloc_objects", "count"},
	{"alloc_space", "bytes"},
	{"inuse_objects", "count"},
	{"inuse_space", "bytes"},
};

/* The most sample types one profile has: the heap's four and the metric's own. */
#define MAX_TYPES 5

/* What the samples carry: which types, and where each value comes from. */
struct shape {
	struct ptype t[MAX_TYPES];
	int n;
	int deflt;   /* index of the metric's own type */
	bool heap;   /* t[0..4) are heap_types, from pst_fstack.heap */
	bool count;  /* CPU: t[0] is samples/count, value / period, as Go's CPU profiles */
};

static void shape_of(const struct pst_flame *fl, struct shape *sh)
{
	const struct pst_metric *m = fl->metric;

	memset(sh, 0, sizeof(*sh));
	if (fl->heap_values && m->pprof_shape == PST_PPROF_HEAP) {
		sh->heap = true;
		memcpy(sh->t, heap_types, sizeof(heap_types));
		sh->n = 4;
		for (int i = 0; i < 4; i++)
			if (!strcmp(heap_types[i].type, m->pprof_type))
				sh->deflt = i + 1;
	} else if (m->pprof_shape == PST_PPROF_CPU && fl->period > 0) {
		sh->count = true;
		sh->t[sh->n++] = (struct ptype){"samples", "count"};
	}
	if (!sh->deflt) {
		sh->t[sh->n] = (struct ptype){m->pprof_type, m->unit};
		sh->deflt = ++sh->n;
	}
	sh->deflt--;
}

/* Value k of the shape for stack s. */
static int64_t value_of(const struct pst_flame *fl, const struct shape *sh,
			const struct pst_fstack *s, int k)
{
	if (sh->heap && k < 4)
		return s->heap[k];
	if (sh->count && k == 0)
		return s->value[0] / (int64_t)fl->period;
	return s->value[0];
}

/* The string table: index 0 is "", every other string once. */
struct strtab {
	char **v;
	size_t n, cap;
	size_t *slot; /* index + 1; 0 empty */
	size_t nslots;
	int err;
};

static size_t hash_str(const char *s)
{
	return pst_fnv_str(PST_FNV_OFFSET, s);
}

static int strtab_grow(struct strtab *t)
{
	size_t ncap = t->cap ? t->cap * 2 : 256, nslots = ncap * 2;
	char **nv = realloc(t->v, ncap * sizeof(*nv));
	size_t *ns = calloc(nslots, sizeof(*ns));

	if (nv)
		t->v = nv;
	if (!nv || !ns) {
		free(ns);
		return -ENOMEM;
	}
	for (size_t i = 0; i < t->n; i++) {
		size_t j = hash_str(t->v[i]) & (nslots - 1);

		while (ns[j])
			j = (j + 1) & (nslots - 1);
		ns[j] = i + 1;
	}
	free(t->slot);
	t->slot = ns;
	t->nslots = nslots;
	t->cap = ncap;
	return 0;
}

/* Index of s (NULL: "") in the table. */
static int64_t str_id(struct strtab *t, const char *s)
{
	size_t j;

	if (!s)
		s = "";
	if (t->n == t->cap && strtab_grow(t)) {
		t->err = -ENOMEM;
		return 0;
	}
	for (j = hash_str(s) & (t->nslots - 1); t->slot[j]; j = (j + 1) & (t->nslots - 1))
		if (!strcmp(t->v[t->slot[j] - 1], s))
			return (int64_t)(t->slot[j] - 1);
	/* The profile only points at strings the flame owns. */
	t->v[t->n] = (char *)s;
	t->slot[j] = ++t->n;
	return (int64_t)(t->n - 1);
}

/* Gzip len bytes of buf into f. */
static int gzip_to(FILE *f, const uint8_t *buf, size_t len)
{
	z_stream z = {0};
	uint8_t out[65536];
	int zr;

	/* 15 + 16: a gzip wrapper (its time stamp stays 0, so output is stable). */
	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK)
		return -ENOMEM;
	z.next_in = (uint8_t *)buf;
	z.avail_in = (uInt)len;
	do {
		z.next_out = out;
		z.avail_out = sizeof(out);
		zr = deflate(&z, Z_FINISH);
		if (zr == Z_STREAM_ERROR)
			break;
		if (fwrite(out, 1, sizeof(out) - z.avail_out, f) != sizeof(out) - z.avail_out) {
			zr = Z_ERRNO;
			break;
		}
	} while (zr != Z_STREAM_END);
	deflateEnd(&z);
	return zr == Z_STREAM_END ? 0 : -EIO;
}

/* Everything the message points at, freed together. */
struct parts {
	ValueType st[MAX_TYPES], pt;
	ValueType *stp[MAX_TYPES];
	Label *labels;
	Label **plabels;
	uint64_t *map_ids; /* flame mapping index -> pprof id: the program's first */
	Sample *samples;
	Sample **psamples;
	int64_t *values;
	uint64_t *locids;
	Mapping *maps;
	Mapping **pmaps;
	Location *locs;
	Location **plocs;
	Line *lines;
	Line **plines;
	Function *funcs;
	Function **pfuncs;
};

static void parts_free(struct parts *p)
{
	free(p->labels);
	free(p->plabels);
	free(p->map_ids);
	free(p->samples);
	free(p->psamples);
	free(p->values);
	free(p->locids);
	free(p->maps);
	free(p->pmaps);
	free(p->locs);
	free(p->plocs);
	free(p->lines);
	free(p->plines);
	free(p->funcs);
	free(p->pfuncs);
}

static int parts_alloc(struct parts *p, const struct pst_flame *fl, size_t nlocids)
{
	p->samples = calloc(fl->nstacks + 1, sizeof(*p->samples));
	p->psamples = calloc(fl->nstacks + 1, sizeof(*p->psamples));
	p->values = calloc((fl->nstacks + 1) * MAX_TYPES, sizeof(*p->values));
	p->labels = calloc((fl->nstacks + 1) * 2, sizeof(*p->labels));
	p->plabels = calloc((fl->nstacks + 1) * 2, sizeof(*p->plabels));
	p->map_ids = calloc(fl->nmaps + 1, sizeof(*p->map_ids));
	p->locids = calloc(nlocids + 1, sizeof(*p->locids));
	p->maps = calloc(fl->nmaps + 1, sizeof(*p->maps));
	p->pmaps = calloc(fl->nmaps + 1, sizeof(*p->pmaps));
	p->locs = calloc(fl->nlocs + 1, sizeof(*p->locs));
	p->plocs = calloc(fl->nlocs + 1, sizeof(*p->plocs));
	p->lines = calloc(fl->nlines + 1, sizeof(*p->lines));
	p->plines = calloc(fl->nlines + 1, sizeof(*p->plines));
	p->funcs = calloc(fl->nfuncs + 1, sizeof(*p->funcs));
	p->pfuncs = calloc(fl->nfuncs + 1, sizeof(*p->pfuncs));
	return p->labels && p->plabels && p->map_ids &&
		       p->samples && p->psamples && p->values && p->locids && p->maps && p->pmaps &&
		       p->locs && p->plocs && p->lines && p->plines && p->funcs && p->pfuncs
		   ? 0
		   : -ENOMEM;
}

static void fill_functions(Profile *pr, struct parts *p, const struct pst_flame *fl,
			   struct strtab *t)
{
	for (size_t i = 0; i < fl->nfuncs; i++) {
		Function *fn = &p->funcs[i];

		perftools__profiles__function__init(fn);
		fn->id = i + 1;
		fn->name = str_id(t, fl->funcs[i].name);
		fn->system_name = fn->name;
		fn->filename = str_id(t, fl->funcs[i].file);
		fn->start_line = fl->funcs[i].start_line;
		p->pfuncs[i] = fn;
	}
	pr->n_function = fl->nfuncs;
	pr->function = p->pfuncs;
}

/* The program's own mapping first: pprof names a profile after its first
 * mapping ("File:" in -top, the web UI's title); the rest keep their order. */
static void order_mappings(struct parts *p, const struct pst_flame *fl)
{
	size_t main = fl->nmaps;
	uint64_t next = 2;

	for (size_t i = 0; i < fl->nmaps && main == fl->nmaps; i++) {
		const char *b = strrchr(fl->maps[i].path, '/');

		if (fl->program && !strcmp(b ? b + 1 : fl->maps[i].path, fl->program))
			main = i;
	}
	for (size_t i = 0; i < fl->nmaps; i++)
		p->map_ids[i] = main == fl->nmaps ? i + 1 : i == main ? 1 : next++;
}

static void fill_mappings(Profile *pr, struct parts *p, const struct pst_flame *fl,
			  struct strtab *t)
{
	order_mappings(p, fl);
	for (size_t i = 0; i < fl->nmaps; i++) {
		const struct pst_fmap *fm = &fl->maps[i];
		Mapping *m = &p->maps[p->map_ids[i] - 1];
		bool lines = false;

		perftools__profiles__mapping__init(m);
		m->id = p->map_ids[i];
		m->memory_start = fm->lo;
		m->memory_limit = fm->hi;
		m->file_offset = fm->file_offset;
		m->filename = str_id(t, fm->path);
		m->build_id = str_id(t, fm->build_id);
		for (size_t k = 0; k < fl->nlocs && !lines; k++)
			if (fl->locs[k].mapping == i + 1 && fl->locs[k].nlines &&
			    fl->funcs[fl->lines[fl->locs[k].first].func].file)
				lines = true;
		m->has_functions = true;
		m->has_filenames = lines;
		m->has_line_numbers = lines;
		m->has_inline_frames = lines;
		p->pmaps[m->id - 1] = m;
	}
	pr->n_mapping = fl->nmaps;
	pr->mapping = p->pmaps;
}

static void fill_locations(Profile *pr, struct parts *p, const struct pst_flame *fl)
{
	for (size_t i = 0; i < fl->nlocs; i++) {
		const struct pst_floc *fo = &fl->locs[i];
		Location *lo = &p->locs[i];

		perftools__profiles__location__init(lo);
		lo->id = i + 1;
		lo->mapping_id = fo->mapping ? p->map_ids[fo->mapping - 1] : 0;
		lo->address = fo->addr;
		/* line[0] is the innermost inlined frame, as pprof wants. */
		for (uint32_t k = 0; k < fo->nlines; k++) {
			Line *ln = &p->lines[fo->first + k];

			perftools__profiles__line__init(ln);
			ln->function_id = fl->lines[fo->first + k].func + 1;
			ln->line = fl->lines[fo->first + k].line;
			p->plines[fo->first + k] = ln;
		}
		lo->n_line = fo->nlines;
		lo->line = fo->nlines ? &p->plines[fo->first] : NULL;
		p->plocs[i] = lo;
	}
	pr->n_location = fl->nlocs;
	pr->location = p->plocs;
}

/* pid and tid of a sampled thread, as numeric labels (pprof -tagfocus). */
static void fill_labels(Sample *sa, struct parts *p, size_t i, const struct pst_fstack *s,
			struct strtab *t)
{
	const char *keys[2] = {"pid", "tid"};
	uint64_t v[2] = {s->pid, s->tid};

	if (!s->pid)
		return;
	for (int k = 0; k < 2; k++) {
		Label *l = &p->labels[2 * i + k];

		perftools__profiles__label__init(l);
		l->key = str_id(t, keys[k]);
		l->num = (int64_t)v[k];
		p->plabels[2 * i + k] = l;
	}
	sa->label = &p->plabels[2 * i];
	sa->n_label = 2;
}

static void fill_samples(Profile *pr, struct parts *p, const struct pst_flame *fl,
			 const struct shape *sh, struct strtab *t)
{
	size_t used = 0;

	for (size_t i = 0; i < fl->nstacks; i++) {
		const struct pst_fstack *s = &fl->stacks[i];
		Sample *sa = &p->samples[i];

		perftools__profiles__sample__init(sa);
		for (size_t k = 0; k < s->nlocs; k++)
			p->locids[used + k] = s->locs[k] + 1;
		sa->location_id = &p->locids[used];
		sa->n_location_id = s->nlocs;
		used += s->nlocs;
		for (int k = 0; k < sh->n; k++)
			p->values[i * MAX_TYPES + k] = value_of(fl, sh, s, k);
		sa->value = &p->values[i * MAX_TYPES];
		sa->n_value = (size_t)sh->n;
		fill_labels(sa, p, i, s, t);
		p->psamples[i] = sa;
	}
	pr->n_sample = fl->nstacks;
	pr->sample = p->psamples;
}

/* Sample types, and the period in the metric's own type. */
static void fill_types(Profile *pr, struct parts *p, const struct shape *sh, struct strtab *t)
{
	for (int k = 0; k < sh->n; k++) {
		perftools__profiles__value_type__init(&p->st[k]);
		p->st[k].type = str_id(t, sh->t[k].type);
		p->st[k].unit = str_id(t, sh->t[k].unit);
		p->stp[k] = &p->st[k];
	}
	pr->sample_type = p->stp;
	pr->n_sample_type = (size_t)sh->n;
	perftools__profiles__value_type__init(&p->pt);
	p->pt.type = p->st[sh->deflt].type;
	p->pt.unit = p->st[sh->deflt].unit;
	pr->period_type = &p->pt;
	pr->default_sample_type = p->st[sh->deflt].type;
}

int pst_flame_write_pprof(FILE *f, const struct pst_flame *fl)
{
	struct strtab t = {0};
	struct parts p = {0};
	struct shape sh;
	Profile pr = PERFTOOLS__PROFILES__PROFILE__INIT;
	size_t nlocids = 0, len;
	uint8_t *buf = NULL;
	int r = -ENOMEM;

	for (size_t i = 0; i < fl->nstacks; i++)
		nlocids += fl->stacks[i].nlocs;
	if (parts_alloc(&p, fl, nlocids))
		goto out;
	str_id(&t, "");
	shape_of(fl, &sh);
	fill_types(&pr, &p, &sh, &t);
	pr.period = (int64_t)fl->period;
	pr.time_nanos = (int64_t)fl->start_realtime_ns;
	pr.duration_nanos = (int64_t)fl->duration_ns;
	fill_functions(&pr, &p, fl, &t);
	fill_mappings(&pr, &p, fl, &t);
	fill_locations(&pr, &p, fl);
	fill_samples(&pr, &p, fl, &sh, &t);
	if (t.err)
		goto out;
	pr.string_table = t.v;
	pr.n_string_table = t.n;
	len = perftools__profiles__profile__get_packed_size(&pr);
	buf = malloc(len + 1);
	if (!buf)
		goto out;
	perftools__profiles__profile__pack(&pr, buf);
	r = gzip_to(f, buf, len);
out:
	free(buf);
	free(t.v);
	free(t.slot);
	parts_free(&p);
	return r;
}
