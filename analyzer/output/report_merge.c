/* SPDX-License-Identifier: MIT */
/* report --all: one process's report (JSON) merged into the session's, key by key: numbers summed, rows matched by their names and stacks. */
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "report_all.h"

/*
 * Why JSON: processes are separate address spaces and separate heaps, so
 * nothing before symbolization (addresses, stack ids, blocks) means the
 * same in two of them; a report is the first place where every row is
 * named by what it is (a function, file and line, an endpoint, a thread
 * group's routine). Each family's keys keep their meaning when summed,
 * but for the few that are levels or extremes, listed here.
 */
enum how { SUM, MAX, MIN, KEEP };

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

static bool listed(const char *const *v, const char *key)
{
	for (; *v; v++)
		if (!strcmp(*v, key))
			return true;
	return false;
}

/* How the values of key in two processes combine. */
static enum how how_of(const char *key)
{
	/* settings, identities and positions: one process's */
	static const char *const keep[] = { "line", "tid", "pid", "ppid", "parent", "port",
					    "stack_id", "hz", "cores", "sample_bytes",
					    "wait_sample_rate", "metrics_interval_s",
					    "max_memory", "max_size", "toggle_signal",
					    "peak_time_ns", "median_stack_depth", NULL };
	/* levels and extremes: the largest process's (peaks do not add
	 * unless the processes peaked at once) */
	static const char *const max[] = { "peak", "peak_concurrent", "peak_heap_bytes", "p50",
					   "p90", "p95", "p99", "max", "duration_ns", "median_lifetime_ns",
					   "share_of_peak_heap", "busy_fraction", NULL };

	if (listed(keep, key))
		return KEEP;
	if (listed(max, key) || !strncmp(key, "max_", 4) || ends_with(key, "_pct") ||
	    ends_with(key, "_share"))
		return MAX;
	if (!strcmp(key, "min") || !strncmp(key, "min_", 4))
		return MIN;
	return SUM;
}

/* Flags that hold of the whole only when they hold of every process. */
static bool every(const char *key)
{
	static const char *const all[] = { "complete", "totals_exact", "peak_seen", NULL };

	return listed(all, key);
}

static json_t *number(double v, bool integer)
{
	return integer ? json_integer((json_int_t)v) : json_real(v);
}

/* The combined value of two numbers of key. */
static json_t *combine(const char *key, const json_t *d, const json_t *s)
{
	double a = json_number_value(d), b = json_number_value(s), v;

	switch (how_of(key)) {
	case MAX: v = a > b ? a : b; break;
	case MIN: v = a < b ? a : b; break;
	case KEEP: v = a; break;
	default: v = a + b;
	}
	return number(v, json_is_integer(d) && json_is_integer(s));
}

/* Numeric fields that name a row rather than measure it. */
static bool id_number(const char *key)
{
	static const char *const ids[] = { "line", "tid", "pid", "port", "min", "max", NULL };

	return listed(ids, key);
}

/*
 * A row's identity: its names (strings, stacks, flags) and numeric ids,
 * as one string; NULL when it has none (rows that are a series, kept one
 * after another). A lock's address means nothing in another process: its
 * stack names it.
 */
static char *row_key(const json_t *row)
{
	json_t *id = json_object();
	const char *k;
	json_t *v;
	char *s;

	json_object_foreach((json_t *)row, k, v)
	{
		bool names = json_is_string(v) || json_is_boolean(v) || json_is_null(v) ||
			     (json_is_array(v) && (!json_array_size(v) ||
						   json_is_string(json_array_get(v, 0))));

		if (strcmp(k, "lock") && (names || (json_is_number(v) && id_number(k))))
			json_object_set(id, k, v);
	}
	s = json_object_size(id) ? json_dumps(id, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(id);
	return s;
}

static int merge_value(json_t *dst, const char *key, json_t *s);

/* Rows of src into dst: a row with the identity of one there merges
 * into it, the others are appended. */
static int merge_rows(json_t *dst, json_t *src)
{
	json_t *seen = json_object();
	size_t i;
	json_t *row;
	int rc = 0;

	json_array_foreach(dst, i, row)
	{
		char *k = row_key(row);

		if (k)
			json_object_set_new(seen, k, json_integer((json_int_t)i));
		free(k);
	}
	json_array_foreach(src, i, row)
	{
		char *k = row_key(row);
		json_t *at = k ? json_object_get(seen, k) : NULL;

		if (at)
			rc |= pst_report_merge_object(json_array_get(dst, (size_t)json_integer_value(at)),
						      row);
		else
			json_array_append_new(dst, json_deep_copy(row));
		free(k);
	}
	json_decref(seen);
	return rc;
}

/* src's value of key into dst's (an object): 0, or -1 when out of memory. */
static int merge_value(json_t *dst, const char *key, json_t *s)
{
	json_t *d = json_object_get(dst, key);

	if (!d || json_is_null(d))
		return json_object_set_new(dst, key, json_deep_copy(s));
	if (json_is_object(d) && json_is_object(s))
		return pst_report_merge_object(d, s);
	if (json_is_array(d) && json_is_array(s) && json_is_object(json_array_get(s, 0)))
		return merge_rows(d, s);
	if (json_is_number(d) && json_is_number(s))
		return json_object_set_new(dst, key, combine(key, d, s));
	if (json_is_boolean(d) && json_is_boolean(s) && json_is_true(d) != json_is_true(s))
		return json_object_set_new(dst, key, json_boolean(!every(key))); /* one process had it */
	return 0; /* names and lists of names: the first process's */
}

int pst_report_merge_object(json_t *dst, json_t *src)
{
	const char *k;
	json_t *v;
	int rc = 0;

	json_object_foreach(src, k, v)
		rc |= merge_value(dst, k, v);
	return rc;
}
