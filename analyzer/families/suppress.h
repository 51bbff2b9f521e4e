/* SPDX-License-Identifier: MIT */
/* Leak suppressions: LeakSanitizer's and heaptrack's `leak:PATTERN` files, matched against a site's frames. */
#ifndef PST_SUPPRESS_H
#define PST_SUPPRESS_H

#include <stdbool.h>
#include <stddef.h>

struct pst_memory;

struct pst_suppressions {
	char **pat; /* the patterns as written, anchors included */
	size_t n;
};

/* Read path's `leak:PATTERN` lines (`#` comments and blank lines skipped;
 * other kinds, as LeakSanitizer's other sanitizers' lines, ignored). 0, or
 * -1 with why in err. */
int pst_suppressions_load(const char *path, struct pst_suppressions *s, char *err, size_t len);
void pst_suppressions_free(struct pst_suppressions *s);

/* Does a pattern match one of the frames ("fn (file:line)", or
 * "[module+0x...]")? As LeakSanitizer: against the function, the source
 * file or the module, `*` any run of characters, a leading `^` / trailing
 * `$` anchors it, else it may match inside the name. */
bool pst_suppressed(const struct pst_suppressions *s, char *const *frames, size_t depth);

/* Mark m's sites whose leak (lost blocks when the scan at exit is there,
 * else those not freed) a pattern matches, and count them apart. */
void pst_suppress_sites(struct pst_memory *m, const struct pst_suppressions *s);

#endif
