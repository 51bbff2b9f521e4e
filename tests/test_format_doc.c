/* SPDX-License-Identifier: MIT */
/* docs/FORMAT.md's record tables are the ones common/records.h declares (`make format-doc`). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format_doc.h"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s = NULL;
	size_t n = 0;

	cr_assert(f, "cannot open %s", path);
	cr_assert_eq(getdelim(&s, &n, '\0', f) > 0, true);
	fclose(f);
	return s;
}

static char *render_table(const char *table, int *nrec)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	*nrec = pst_format_doc_table(f, table);
	fclose(f);
	return s;
}

Test(format_doc, tables_match_the_declarations)
{
	char *md = slurp("docs/FORMAT.md");
	int total = 0, nrec;

	for (size_t i = 0; pst_format_doc_tables[i]; i++) {
		char *t = render_table(pst_format_doc_tables[i], &nrec);

		cr_expect(strstr(md, t), "docs/FORMAT.md lacks the table of %s (make format-doc):\n%s",
			  pst_format_doc_tables[i], t);
		total += nrec;
		free(t);
	}
	cr_expect_eq(total, 37, "every record in one table: %d", total);
	free(md);
}

Test(format_doc, field_tables_match_the_declarations)
{
	char *md = slurp("docs/FORMAT.md"), *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	pst_format_doc_fields(f);
	fclose(f);
	cr_expect(strstr(md, s), "docs/FORMAT.md's field tables differ (make format-doc)");
	/* one of them, written out: the generator itself is checked too */
	cr_expect(strstr(s, "### 0x21 FREE\n\ndts, ptr.\n\n| field | encoding | meaning |\n"
			    "|---|---|---|\n| dts | varint | time since the previous event of the "
			    "block |\n| ptr | varint | the block |\n"),
		  "%s", s);
	free(s);
	free(md);
}

Test(format_doc, summary_row_written_out)
{
	int nrec;
	char *t = render_table("BLOCK", &nrec);

	cr_expect(strstr(t, "| 0x11 | STACK | id, depth, depth × frames |\n"), "%s", t);
	cr_expect(strstr(t, "| 0x31 | NET_LOOKUP | ts, duration_ns, function, result, name "
			    "(string), naddrs, naddrs × addrs (bytes) |\n"),
		  "%s", t);
	cr_expect_eq(nrec, 15); /* with ATTACH and REQ_AGG */
	free(t);
}
