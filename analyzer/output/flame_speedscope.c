/* SPDX-License-Identifier: MIT */
/* speedscope's JSON file format: shared frames with file and line, one sampled profile of the
 * metric, and one a thread for CPU stacks of several threads. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <jansson.h>
#include <string.h>

#include "flame.h"

#define SPEEDSCOPE_SCHEMA "https://www.speedscope.app/file-format-schema.json"

/* speedscope's units: bytes and times it knows, anything else is "none". */
static const char *unit_of(const struct pst_metric *m)
{
	if (!strcmp(m->unit, "bytes") || !strcmp(m->unit, "nanoseconds"))
		return m->unit;
	return "none";
}

static json_t *frames_json(const struct pst_flame *fl)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < fl->nfuncs; i++) {
		const struct pst_ffunc *fn = &fl->funcs[i];
		json_t *o = json_pack("{s:s}", "name", fn->name);

		if (o && fn->file)
			json_object_set_new(o, "file", json_string(fn->file));
		if (o && fn->start_line > 0)
			json_object_set_new(o, "line", json_integer(fn->start_line));
		if (!o || json_array_append_new(a, o)) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static bool same_funcs(const struct pst_fstack *a, const struct pst_fstack *b)
{
	return a->depth == b->depth && !memcmp(a->funcs, b->funcs, a->depth * sizeof(*a->funcs));
}

/* A thread of CPU stacks: its own profile. */
struct thread {
	uint64_t pid, tid;
};

static bool in_thread(const struct pst_fstack *s, const struct thread *th)
{
	return !th || (s->pid == th->pid && s->tid == th->tid);
}

/* A sample: merged stacks of the same frames, and their weight. */
struct ssample {
	const uint32_t *funcs;
	size_t depth;
	int64_t w;
};

/* Samples of one frame at a depth: where they start, how many, their weight. */
struct run {
	size_t at, n;
	int64_t w;
};

static int cmp_run(const void *x, const void *y)
{
	const struct run *a = x, *b = y;

	if (a->w != b->w)
		return a->w > b->w ? -1 : 1;
	return (a->at > b->at) - (a->at < b->at);
}

/*
 * Order samples sharing their first d frames (sorted by names) heaviest
 * subtree first, at every depth: speedscope opens a file in "Time Order",
 * which for stacks with no time order then draws what "Left Heavy" does.
 */
static int heavy_first(struct ssample *v, size_t n, size_t d)
{
	size_t i = 0, nr = 0, k = 0;
	struct run *r;
	struct ssample *tmp;
	int rc = 0;

	while (i < n && v[i].depth <= d)
		i++;
	if (i == n)
		return 0;
	r = malloc((n - i) * sizeof(*r));
	tmp = malloc((n - i) * sizeof(*tmp));
	if (!r || !tmp) {
		free(r);
		free(tmp);
		return -ENOMEM;
	}
	for (size_t j = i; j < n; j++) {
		if (j == i || v[j].funcs[d] != v[j - 1].funcs[d])
			r[nr++] = (struct run){j, 0, 0};
		r[nr - 1].n++;
		r[nr - 1].w += v[j].w;
	}
	qsort(r, nr, sizeof(*r), cmp_run);
	for (size_t q = 0; q < nr; k += r[q++].n)
		memcpy(tmp + k, v + r[q].at, r[q].n * sizeof(*tmp));
	memcpy(v + i, tmp, (n - i) * sizeof(*tmp));
	free(tmp);
	for (size_t q = 0, at = i; q < nr && !rc; at += r[q++].n)
		rc = heavy_first(v + at, r[q].n, d + 1);
	free(r);
	return rc;
}

/* Stacks of th (NULL: all) with the same frames merged into one sample,
 * into v (fl->nstacks long); how many. */
static size_t merged(const struct pst_flame *fl, const struct thread *th, struct ssample *v)
{
	size_t n = 0;

	for (size_t i = 0; i < fl->nstacks;) {
		const struct pst_fstack *s = &fl->stacks[i];
		int64_t w = 0;
		size_t j = i;

		for (; j < fl->nstacks && same_funcs(s, &fl->stacks[j]); j++)
			if (in_thread(&fl->stacks[j], th))
				w += fl->stacks[j].value[0];
		i = j;
		if (!th || w)
			v[n++] = (struct ssample){s->funcs, s->depth, w};
	}
	return n;
}

/* A JSON string, as jansson writes one. */
static int put_string(FILE *f, const char *s)
{
	json_t *j = json_string(s);
	int r = j ? json_dumpf(j, f, JSON_ENCODE_ANY) : -1;

	json_decref(j);
	return r ? -ENOMEM : 0;
}

/* One sampled profile, every stack (th NULL) or one thread's, written as
 * it goes: a profile of many threads' stacks is too large to build in
 * jansson first. Its keys in the order the document had them. */
static int put_profile(FILE *f, const struct pst_flame *fl, const char *name,
		       const struct thread *th)
{
	struct ssample *v = malloc((fl->nstacks + 1) * sizeof(*v));
	size_t n = v ? merged(fl, th, v) : 0;
	int64_t total = 0;
	int r = v ? heavy_first(v, n, 0) : -ENOMEM;

	for (size_t i = 0; i < n; i++)
		total += v[i].w;
	/* without threads, the whole trace's total as before, merged or not */
	if (!th)
		total = fl->total[0];
	if (!r && (fputs("{\"type\":\"sampled\",\"name\":", f) == EOF || put_string(f, name)))
		r = -ENOMEM;
	if (!r)
		fprintf(f, ",\"unit\":\"%s\",\"startValue\":0,\"endValue\":%" PRId64 ",\"samples\":[",
			unit_of(fl->metric), total);
	for (size_t i = 0; i < n && !r; i++) {
		fputs(i ? ",[" : "[", f);
		for (size_t k = 0; k < v[i].depth; k++)
			fprintf(f, k ? ",%" PRIu32 : "%" PRIu32, v[i].funcs[k]);
		fputc(']', f);
	}
	if (!r)
		fputs("],\"weights\":[", f);
	for (size_t i = 0; i < n && !r; i++)
		fprintf(f, i ? ",%" PRId64 : "%" PRId64, v[i].w);
	if (!r)
		fputs("]}", f);
	free(v);
	return r;
}

static int cmp_thread(const void *x, const void *y)
{
	const struct thread *a = x, *b = y;

	if (a->pid != b->pid)
		return a->pid < b->pid ? -1 : 1;
	return (a->tid > b->tid) - (a->tid < b->tid);
}

/* The distinct threads of the stacks, by pid and tid; how many (0: none
 * known, or out of memory). */
static size_t threads_of(const struct pst_flame *fl, struct thread **out)
{
	struct thread *v = calloc(fl->nstacks + 1, sizeof(*v));
	size_t n = 0, k = 1;

	*out = v;
	for (size_t i = 0; v && i < fl->nstacks; i++)
		if (fl->stacks[i].pid)
			v[n++] = (struct thread){fl->stacks[i].pid, fl->stacks[i].tid};
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_thread);
	for (size_t i = 1; i < n; i++)
		if (cmp_thread(&v[i], &v[k - 1]))
			v[k++] = v[i];
	return k;
}

/* Every stack first; then, with more than one thread, a profile each. */
static int put_profiles(FILE *f, const struct pst_flame *fl, const char *name)
{
	struct thread *th;
	size_t n = threads_of(fl, &th);
	char tname[600];
	int r = put_profile(f, fl, name, NULL);

	for (size_t i = 0; n > 1 && i < n && !r; i++) {
		snprintf(tname, sizeof(tname), "%s: pid %" PRIu64 " tid %" PRIu64, name, th[i].pid,
			 th[i].tid);
		fputc(',', f);
		r = put_profile(f, fl, tname, &th[i]);
	}
	free(th);
	return r;
}

int pst_flame_write_speedscope(FILE *f, const struct pst_flame *fl)
{
	json_t *frames = frames_json(fl);
	char name[512];
	int r = frames ? 0 : -ENOMEM;

	snprintf(name, sizeof(name), "%s: %s", fl->program, fl->metric->name);
	if (!r && fputs("{\"$schema\":\"" SPEEDSCOPE_SCHEMA "\",\"shared\":{\"frames\":", f) == EOF)
		r = -EIO;
	if (!r && json_dumpf(frames, f, JSON_COMPACT | JSON_PRESERVE_ORDER))
		r = -EIO;
	json_decref(frames);
	if (!r && fputs("},\"profiles\":[", f) != EOF)
		r = put_profiles(f, fl, name);
	if (!r && (fputs("],\"name\":", f) == EOF || put_string(f, name)))
		r = -EIO;
	if (!r && fputs(",\"activeProfileIndex\":0,\"exporter\":\"prestanda\"}\n", f) == EOF)
		r = -EIO;
	return r;
}
