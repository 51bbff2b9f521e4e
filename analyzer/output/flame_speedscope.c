/* SPDX-License-Identifier: MIT */
/* speedscope's JSON file format: shared frames with file and line, one sampled profile of the
 * metric. */
#include <errno.h>
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

static int samples_json(const struct pst_flame *fl, json_t *samples, json_t *weights)
{
	for (size_t i = 0; i < fl->nstacks;) {
		const struct pst_fstack *s = &fl->stacks[i];
		json_t *st = json_array();
		int64_t v = 0;
		size_t j = i;

		for (; j < fl->nstacks && same_funcs(s, &fl->stacks[j]); j++)
			v += fl->stacks[j].value[0];
		for (size_t k = 0; st && k < s->depth; k++)
			if (json_array_append_new(st, json_integer(s->funcs[k])))
				json_decref(st), st = NULL;
		if (!st || json_array_append_new(samples, st) ||
		    json_array_append_new(weights, json_integer(v)))
			return -ENOMEM;
		i = j;
	}
	return 0;
}

int pst_flame_write_speedscope(FILE *f, const struct pst_flame *fl)
{
	json_t *samples = json_array(), *weights = json_array(), *doc;
	char name[512];
	int r = -ENOMEM;

	snprintf(name, sizeof(name), "%s: %s", fl->program, fl->metric->name);
	if (!samples || !weights || samples_json(fl, samples, weights)) {
		json_decref(samples);
		json_decref(weights);
		return -ENOMEM;
	}
	doc = json_pack("{s:s, s:{s:o*}, s:[{s:s, s:s, s:s, s:I, s:I, s:o, s:o}], s:s, s:i, s:s}",
			"$schema", SPEEDSCOPE_SCHEMA, "shared", "frames", frames_json(fl),
			"profiles", "type", "sampled", "name", name, "unit", unit_of(fl->metric),
			"startValue", (json_int_t)0, "endValue", (json_int_t)fl->total[0],
			"samples", samples, "weights", weights, "name", name, "activeProfileIndex",
			0, "exporter", "prestanda");
	if (doc && json_dumpf(doc, f, JSON_COMPACT | JSON_PRESERVE_ORDER) == 0 &&
	    fputc('\n', f) != EOF)
		r = 0;
	else if (doc)
		r = -EIO;
	json_decref(doc);
	return r;
}
