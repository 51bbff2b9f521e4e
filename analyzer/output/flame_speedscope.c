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

static int samples_json(const struct pst_flame *fl, const struct thread *th, json_t *samples,
			json_t *weights, int64_t *total)
{
	struct ssample *v = malloc((fl->nstacks + 1) * sizeof(*v));
	size_t n = v ? merged(fl, th, v) : 0;
	int r = v ? heavy_first(v, n, 0) : -ENOMEM;

	*total = 0;
	for (size_t i = 0; i < n && !r; i++) {
		json_t *st = json_array();

		for (size_t k = 0; st && k < v[i].depth; k++)
			if (json_array_append_new(st, json_integer(v[i].funcs[k])))
				json_decref(st), st = NULL;
		if (!st || json_array_append_new(samples, st) ||
		    json_array_append_new(weights, json_integer(v[i].w)))
			r = -ENOMEM;
		*total += v[i].w;
	}
	free(v);
	return r;
}

/* One sampled profile: every stack (th NULL) or one thread's. */
static json_t *profile_json(const struct pst_flame *fl, const char *name, const struct thread *th)
{
	json_t *samples = json_array(), *weights = json_array();
	int64_t total;

	if (!samples || !weights || samples_json(fl, th, samples, weights, &total)) {
		json_decref(samples);
		json_decref(weights);
		return NULL;
	}
	/* without threads, the whole trace's total as before, merged or not */
	if (!th)
		total = fl->total[0];
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:o, s:o}", "type", "sampled", "name", name,
			 "unit", unit_of(fl->metric), "startValue", (json_int_t)0, "endValue",
			 (json_int_t)total, "samples", samples, "weights", weights);
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
static json_t *profiles_json(const struct pst_flame *fl, const char *name)
{
	json_t *a = json_array(), *p = profile_json(fl, name, NULL);
	struct thread *th;
	size_t n = threads_of(fl, &th);
	char tname[600];

	if (!a || !p || json_array_append_new(a, p))
		goto fail;
	for (size_t i = 0; n > 1 && i < n; i++) {
		snprintf(tname, sizeof(tname), "%s: pid %" PRIu64 " tid %" PRIu64, name, th[i].pid,
			 th[i].tid);
		if (json_array_append_new(a, profile_json(fl, tname, &th[i])))
			goto fail;
	}
	free(th);
	return a;
fail:
	free(th);
	json_decref(a);
	return NULL;
}

int pst_flame_write_speedscope(FILE *f, const struct pst_flame *fl)
{
	json_t *doc;
	char name[512];
	int r = -ENOMEM;

	snprintf(name, sizeof(name), "%s: %s", fl->program, fl->metric->name);
	doc = json_pack("{s:s, s:{s:o*}, s:o*, s:s, s:i, s:s}", "$schema", SPEEDSCOPE_SCHEMA,
			"shared", "frames", frames_json(fl), "profiles", profiles_json(fl, name),
			"name", name, "activeProfileIndex", 0, "exporter", "prestanda");
	if (doc && json_dumpf(doc, f, JSON_COMPACT | JSON_PRESERVE_ORDER) == 0 &&
	    fputc('\n', f) != EOF)
		r = 0;
	else if (doc)
		r = -EIO;
	json_decref(doc);
	return r;
}
