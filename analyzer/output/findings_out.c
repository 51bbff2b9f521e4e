/* SPDX-License-Identifier: MIT */
/* The findings of every family as the report writes them: JSON, the text list, the short form of a family's own section. */
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "findings_out.h"
#include "json_util.h"

/* Frames of a site's stack the text report shows. */
#define TEXT_STACK_FRAMES 3

void pst_text_wrap(FILE *out, const char *s, int indent)
{
	int width = PST_TEXT_WIDTH - indent;

	while (*s) {
		int n = (int)strlen(s), cut = n;

		if (n > width) {
			cut = width;
			while (cut > 0 && s[cut] != ' ')
				cut--;
			if (!cut)
				cut = width;
		}
		fprintf(out, "%*s%.*s\n", indent, "", cut, s);
		s += cut;
		while (*s == ' ')
			s++;
	}
}

/* Index of the first frame to list under a site's name: stack[0] is
 * already in the name unless the site is a later frame (C++ headers). */
static size_t first_shown(const struct pst_site *s)
{
	if (!s->depth)
		return 0;
	if (!s->function)
		return 1;
	return strncmp(s->stack[0], s->function, strlen(s->function)) ? 0 : 1;
}

/* The site's frames after the first, as "<- caller" lines. */
void pst_text_site_stack(FILE *out, const struct pst_site *s, int indent)
{
	size_t from = first_shown(s);
	size_t n = s->depth < from + TEXT_STACK_FRAMES ? s->depth : from + TEXT_STACK_FRAMES;

	for (size_t i = from; i < n; i++) {
		fprintf(out, "%*s<- %s\n", indent, "", s->stack[i]);
		/* What runs main is of no interest to the reader. */
		if (!strncmp(s->stack[i], "main ", 5) || !strncmp(s->stack[i], "main(", 5))
			return;
	}
	if (s->depth > n)
		fprintf(out, "%*s   (%zu more frame%s)\n", indent, "", s->depth - n,
			s->depth - n == 1 ? "" : "s");
}

static json_t *json_finding(const struct pst_finding *f)
{
	json_t *o = json_object(), *ev = json_object();

	json_object_set_new(o, "id", json_string(f->id));
	json_object_set_new(o, "severity", json_string(pst_severity_name(f->severity)));
	json_object_set_new(o, "title", json_string(f->title));
	json_object_set_new(o, "advice", json_string(f->advice));
	for (size_t i = 0; i < f->nev; i++) {
		const struct pst_evidence *e = &f->ev[i];

		json_object_set_new(ev, e->key,
				    e->kind == PST_EV_STR  ? json_string(e->s) :
				    e->kind == PST_EV_REAL ? json_real(e->r) :
							     pst_ju64(e->i));
	}
	json_object_set_new(o, "evidence", ev);
	json_object_set_new(o, "stack", pst_jstrings(f->stack, f->depth));
	return o;
}

json_t *pst_findings_json(const struct pst_findings *f)
{
	json_t *a = json_array();

	for (size_t i = 0; i < f->n; i++)
		json_array_append_new(a, json_finding(&f->v[i]));
	return a;
}

/* Is f in the report's findings list (not in its family's section)? */
static bool listed(const struct pst_finding *f)
{
	return !pst_families[f->family]->findings_in_section;
}

static void text_finding(FILE *out, const struct pst_finding *f)
{
	const struct pst_site *s = f->site;
	char name[1200], line[1024];
	int o = 0;

	fprintf(out, "\n  [%s] %s: %s\n", pst_severity_name(f->severity), f->id, f->title);
	pst_text_wrap(out, f->advice, 6);
	for (size_t j = 0; j < f->nev; j++) {
		const struct pst_evidence *e = &f->ev[j];

		if (e->kind == PST_EV_STR)
			continue;
		if (o >= (int)sizeof(line) - 64)
			break;
		if (e->kind == PST_EV_INT)
			o += snprintf(line + o, sizeof(line) - o, "%s%s=%" PRIu64, o ? ", " : "",
				      e->key, e->i);
		else
			o += snprintf(line + o, sizeof(line) - o, "%s%s=%.2f", o ? ", " : "",
				      e->key, e->r);
	}
	fprintf(out, "      evidence: %s\n", line);
	if (!s)
		return;
	pst_site_name(s, name, sizeof(name));
	fprintf(out, "      at %s\n", name);
	pst_text_site_stack(out, s, 9);
}

void pst_findings_text(FILE *out, const struct pst_findings *f, size_t top)
{
	size_t total = 0, shown = 0;

	for (size_t i = 0; i < f->n; i++)
		total += listed(&f->v[i]);
	fprintf(out, "\nFindings (%zu)\n", total);
	if (!total)
		fprintf(out, "  none: no leaks, no hot churn of small blocks, no realloc growth\n");
	for (size_t i = 0; i < f->n && shown < top; i++) {
		if (!listed(&f->v[i]))
			continue;
		text_finding(out, &f->v[i]);
		shown++;
	}
	if (total > shown)
		fprintf(out, "\n  ... and %zu more findings (--top N shows more, --json all)\n",
			total - shown);
}

void pst_findings_text_short(FILE *out, const struct pst_findings *f, unsigned family)
{
	for (size_t i = 0; i < f->n; i++) {
		if (f->v[i].family != family)
			continue;
		fprintf(out, "\n  [%s] %s: %s\n", pst_severity_name(f->v[i].severity), f->v[i].id,
			f->v[i].title);
		fprintf(out, "      %s\n", f->v[i].advice);
	}
}

