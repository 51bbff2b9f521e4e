/* SPDX-License-Identifier: MIT */
/* Leak suppressions: LeakSanitizer's and heaptrack's `leak:PATTERN` files, matched against a site's frames. */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memory.h"
#include "suppress.h"

#define MAX_NAME 1024

static int add(struct pst_suppressions *s, const char *pat, size_t n)
{
	char **v = realloc(s->pat, (s->n + 1) * sizeof(*v));

	if (!v)
		return -1;
	s->pat = v;
	v[s->n] = strndup(pat, n);
	if (!v[s->n])
		return -1;
	s->n++;
	return 0;
}

/* One line: "leak:PATTERN" with blanks around; anything else is no leak's. */
static int parse_line(struct pst_suppressions *s, const char *line)
{
	size_t n;

	line += strspn(line, " \t");
	if (strncmp(line, "leak:", 5))
		return 0;
	line += 5;
	line += strspn(line, " \t");
	n = strcspn(line, "\r\n");
	while (n && (line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	return n ? add(s, line, n) : 0;
}

int pst_suppressions_load(const char *path, struct pst_suppressions *s, char *err, size_t len)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	int rc = 0;

	memset(s, 0, sizeof(*s));
	if (!f) {
		snprintf(err, len, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (!rc && getline(&line, &cap, f) >= 0)
		rc = parse_line(s, line);
	if (!rc && ferror(f))
		rc = -1;
	if (rc)
		snprintf(err, len, "%s: %s", path, strerror(errno ? errno : ENOMEM));
	free(line);
	fclose(f);
	if (rc)
		pst_suppressions_free(s);
	return rc;
}

void pst_suppressions_free(struct pst_suppressions *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->pat[i]);
	free(s->pat);
	s->pat = NULL;
	s->n = 0;
}

/* LeakSanitizer's pattern as an fnmatch glob: unanchored ends get a `*`,
 * fnmatch's other specials are taken literally. */
static void glob_of(const char *pat, char *out, size_t len)
{
	size_t n = strlen(pat), o = 0;
	bool head = pat[0] == '^', tail = n > (size_t)head && pat[n - 1] == '$';

	if (!head)
		out[o++] = '*';
	for (size_t i = head; i < n - tail && o + 3 < len; i++) {
		if (strchr("?[]\\", pat[i]))
			out[o++] = '\\';
		out[o++] = pat[i];
	}
	if (!tail && o + 1 < len)
		out[o++] = '*';
	out[o] = '\0';
}

/* The names a frame offers: its function and source file
 * ("fn (file:line)"), or its module ("[module+0x...]"). */
static void frame_names(const char *fr, char *fn, char *file, size_t len)
{
	const char *p = strstr(fr, " (");
	size_t n;

	fn[0] = file[0] = '\0';
	if (fr[0] == '[') {
		n = strcspn(fr + 1, "+]");
		snprintf(file, len, "%.*s", (int)n, fr + 1);
		return;
	}
	n = p ? (size_t)(p - fr) : strlen(fr);
	snprintf(fn, len, "%.*s", (int)n, fr);
	if (p)
		snprintf(file, len, "%.*s", (int)strcspn(p + 2, ":)"), p + 2);
}

static bool match_frame(const char *glob, const char *fr)
{
	char fn[MAX_NAME], file[MAX_NAME];

	frame_names(fr, fn, file, sizeof(fn));
	return (fn[0] && !fnmatch(glob, fn, 0)) || (file[0] && !fnmatch(glob, file, 0));
}

bool pst_suppressed(const struct pst_suppressions *s, char *const *frames, size_t depth)
{
	char glob[2 * MAX_NAME + 4];

	for (size_t i = 0; s && i < s->n; i++) {
		glob_of(s->pat[i], glob, sizeof(glob));
		for (size_t k = 0; k < depth; k++)
			if (frames[k] && match_frame(glob, frames[k]))
				return true;
	}
	return false;
}

void pst_suppress_sites(struct pst_memory *m, const struct pst_suppressions *s)
{
	if (!s)
		return;
	m->suppressions = true;
	for (size_t i = 0; i < m->nsites; i++) {
		struct pst_site *site = &m->sites[i];
		double bytes = m->reach_known ? site->st.lost_bytes : site->st.leaked_bytes;
		double blocks = m->reach_known ? site->st.lost : site->st.leaked;

		if (!blocks || !pst_suppressed(s, site->stack, site->depth))
			continue;
		site->suppressed = true;
		m->suppressed_bytes += bytes;
		m->suppressed_allocations += blocks;
	}
}
