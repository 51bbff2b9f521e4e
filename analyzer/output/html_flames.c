/* SPDX-License-Identifier: MIT */
/* The one-page report's flame graphs of the whole run (CPU, waits, connects, temporaries): trees of frames, pruned below 0.1%. */
#include <errno.h>
#include <string.h>

#include "flame.h"
#include "html.h"
#include "json_util.h"

/* A frame narrower than this share of the whole is left out: too thin to
 * see, and a deep profile's long tail would make the page large. */
#define MIN_SHARE 0.001

/* The memory metrics the page draws itself from its sites, per range. */
static const char *const from_sites[] = { "alloc-bytes", "alloc-calls", "peak-bytes",
					  "leaked-bytes" };

static bool drawn_from_sites(const struct pst_metric *m)
{
	for (size_t i = 0; i < sizeof(from_sites) / sizeof(*from_sites); i++)
		if (!strcmp(m->name, from_sites[i]))
			return true;
	return false;
}

/* A frame: {"n": name, "v": value, "c": [children]}. */
static json_t *frame_new(const char *name)
{
	return json_pack("{s:s,s:I,s:[]}", "n", name, "v", (json_int_t)0, "c");
}

static void frame_add(json_t *f, int64_t v)
{
	json_t *jv = json_object_get(f, "v");

	json_integer_set(jv, json_integer_value(jv) + v);
}

/* The child of f named name, made when missing. Stacks come sorted root
 * first, so the one wanted is most often the last. */
static json_t *frame_child(json_t *f, const char *name)
{
	json_t *c = json_object_get(f, "c"), *k;

	for (size_t i = json_array_size(c); i-- > 0;)
		if (!strcmp(json_string_value(json_object_get(k = json_array_get(c, i), "n")), name))
			return k;
	k = frame_new(name);
	json_array_append_new(c, k);
	return k;
}

static void prune(json_t *f, json_int_t min)
{
	json_t *c = json_object_get(f, "c");

	for (size_t i = json_array_size(c); i-- > 0;) {
		json_t *k = json_array_get(c, i);

		if (json_integer_value(json_object_get(k, "v")) < min)
			json_array_remove(c, i);
		else
			prune(k, min);
	}
}

static json_t *tree_of(const struct pst_flame *fl)
{
	json_t *root = frame_new("all");

	for (size_t i = 0; i < fl->nstacks; i++) {
		const struct pst_fstack *s = &fl->stacks[i];
		json_t *f = root;

		frame_add(root, s->value[0]);
		for (size_t d = 0; d < s->depth; d++) {
			f = frame_child(f, fl->funcs[s->funcs[d]].name);
			frame_add(f, s->value[0]);
		}
	}
	prune(root, (json_int_t)((double)json_integer_value(json_object_get(root, "v")) * MIN_SHARE));
	return root;
}

/* Metric m of a's trace as {"name", "what", "unit", "tree"}; NULL when the
 * trace has none of it or it cannot be read. */
static json_t *metric_flame(const struct pst_analysis *a, const struct pst_metric *m)
{
	struct pst_flame fl;
	json_t *o = NULL;

	if (!m->present || !m->present(a->t))
		return NULL;
	if (!pst_flame_load(&fl, a->path, m) && fl.nstacks)
		o = json_pack("{s:s,s:s,s:s,s:o}", "name", m->name, "what", m->what, "unit", m->unit,
			      "tree", tree_of(&fl));
	pst_flame_release(&fl);
	return o;
}

json_t *pst_html_flames(const struct pst_analysis *a)
{
	const struct pst_metric *const *list;
	size_t n = pst_flame_metric_list(&list);
	json_t *all = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *f = drawn_from_sites(list[i]) ? NULL : metric_flame(a, list[i]);

		if (f)
			json_array_append_new(all, f);
	}
	return all;
}
