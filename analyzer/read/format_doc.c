/* SPDX-License-Identifier: MIT */
/* docs/FORMAT.md's record tables, printed from the declarations in records.h (`make format-doc`). */
#include <stdio.h>
#include <string.h>

#include "format_doc.h"
#include "trace.h"

struct field_desc {
	const char *kind, *name, *doc;
};

struct record_desc {
	unsigned code;
	const char *name, *table, *doc;
	const struct field_desc *fields;
	size_t nfields;
};

#define FIELD_DESC_(X, kind, n, doc) { #kind, #n, doc },
#define FIELDS_(N, n, code, table, framing, doc)                                        \
	static const struct field_desc fields_##n[] = { PST_F_##N(FIELD_DESC_, _) };
PST_RECORDS(FIELDS_)

#define RECORD_DESC_(N, n, code, table, framing, doc)                                   \
	{ code, #N, #table, doc, fields_##n, sizeof(fields_##n) / sizeof(fields_##n[0]) },
static const struct record_desc records[] = { PST_RECORDS(RECORD_DESC_) };

#define NRECORDS (sizeof(records) / sizeof(records[0]))

/* A field as the summary table names it; count is the last N field's name. */
static void put_label(FILE *f, const struct field_desc *d, const char *count)
{
	const char *k = d->kind;

	if (!strcmp(k, "S") || !strcmp(k, "OS"))
		fprintf(f, "%s (string)", d->name);
	else if (!strcmp(k, "B") || !strcmp(k, "OB"))
		fprintf(f, "%s (bytes)", d->name);
	else if (!strcmp(k, "K"))
		fprintf(f, "PST_KIND_COUNT × %s", d->name);
	else if (!strcmp(k, "V") || !strcmp(k, "V2"))
		fprintf(f, "%s × %s", count, d->name);
	else if (!strcmp(k, "VB"))
		fprintf(f, "%s × %s (bytes)", count, d->name);
	else if (!strcmp(k, "IN"))
		fprintf(f, "then inner records up to the end of the payload");
	else if (!strcmp(k, "Z"))
		fprintf(f, "then %s (bytes) up to the end of the payload", d->name);
	else
		fputs(d->name, f);
}

/* How a field is written, for the per-record tables. */
static const char *encoding(const char *k)
{
	static const char *const names[][2] = {
		{ "U", "varint" },		{ "OU", "varint, optional" },
		{ "N", "varint: a count" },	{ "S", "string" },
		{ "OS", "string, optional" },	{ "B", "bytes" },
		{ "OB", "bytes, optional" },	{ "K", "PST_KIND_COUNT varints" },
		{ "V", "count varints" },	{ "V2", "count × 2 varints" },
		{ "VB", "count × bytes" },	{ "IN", "records" },
		{ "Z", "bytes to the end" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(names[i][0], k))
			return names[i][1];
	return "?";
}

int pst_format_doc_table(FILE *f, const char *table)
{
	int n = 0;

	fputs("| type | name | payload |\n|---|---|---|\n", f);
	for (size_t i = 0; i < NRECORDS; i++) {
		const struct record_desc *r = &records[i];
		const char *count = "";

		if (strcmp(r->table, table))
			continue;
		fprintf(f, "| 0x%02x | %s | ", r->code, r->name);
		for (size_t j = 0; j < r->nfields; j++) {
			fputs(j ? ", " : "", f);
			put_label(f, &r->fields[j], count);
			if (!strcmp(r->fields[j].kind, "N"))
				count = r->fields[j].name;
		}
		fputs(" |\n", f);
		n++;
	}
	return n;
}

void pst_format_doc_fields(FILE *f)
{
	for (size_t i = 0; i < NRECORDS; i++) {
		const struct record_desc *r = &records[i];

		fprintf(f, "### 0x%02x %s\n\n%s.\n\n| field | encoding | meaning |\n|---|---|---|\n",
			r->code, r->name, r->doc);
		for (size_t j = 0; j < r->nfields; j++)
			fprintf(f, "| %s | %s | %s |\n", r->fields[j].name,
				encoding(r->fields[j].kind), r->fields[j].doc);
		fputs(i + 1 < NRECORDS ? "\n" : "", f);
	}
}

const char *const pst_format_doc_tables[] = { "TOP", "BLOCK", "THR", "CPU", "PROD", NULL };

#ifdef PST_FORMAT_DOC_MAIN
/* Every table, each after a line naming it: paste them into docs/FORMAT.md. */
int main(void)
{
	for (size_t i = 0; pst_format_doc_tables[i]; i++) {
		printf("<!-- table %s -->\n", pst_format_doc_tables[i]);
		pst_format_doc_table(stdout, pst_format_doc_tables[i]);
		putchar('\n');
	}
	puts("<!-- fields -->");
	pst_format_doc_fields(stdout);
	return 0;
}
#endif
