/* SPDX-License-Identifier: MIT */
/* Offline symbolization of return addresses with elfutils libdw: functions, lines, inlined frames. */
#ifndef PST_SYMBOLIZE_H
#define PST_SYMBOLIZE_H

#include <stddef.h>
#include <stdint.h>

struct pst_symbolizer;

/* One source-level frame. Strings are owned by the symbolizer and live
 * until pst_symbolizer_free. */
struct pst_frame {
	const char *function; /* demangled; NULL when unknown */
	const char *file;     /* NULL when unknown */
	int line;             /* 0 when unknown */
	int decl_line;        /* line where the function starts; 0 when unknown */
	const char *module;   /* path of the object, NULL when the address is in none */
	uint64_t offset;      /* address relative to the module's bias (or the raw address) */
	int inlined;          /* 1: this frame was inlined into the next one */
	uint64_t fn_start;    /* no function name: where its code starts (module-relative,
			       * from .eh_frame); 0 when unknown */
};

/* One address space (a process): its modules. */
struct pst_symbolizer *pst_symbolizer_new(void);

/* Another address space sharing other's files, symbols, strings and
 * warnings: a file mapped by many processes is read once. Each is freed on
 * its own. other NULL: as pst_symbolizer_new. */
struct pst_symbolizer *pst_symbolizer_new_sharing(struct pst_symbolizer *other);

/* Declare one loaded object. bias is the load bias, [lo, hi) its address
 * range (empty: the file's own PT_LOAD range at bias); build_id (may be
 * NULL) is checked against the file on disk. Returns 0 or -errno.
 * Overlapping or duplicate modules are ignored (0). Each distinct path is
 * checked once, when first declared: only a regular ELF file is used (see
 * pst_elf_open); any other is still declared (its addresses format as
 * "[module+0xoff]") and adds one warning naming it and why; so does a file
 * whose build id differs from build_id. Files are opened for symbols when
 * an address first needs them, at most 64 at once. */
int pst_symbolizer_add_module(struct pst_symbolizer *s, const char *path, uint64_t bias,
			      uint64_t lo, uint64_t hi, const uint8_t *build_id,
			      size_t build_id_len);

/* Resolve a code address (a return address minus 1) into up to max frames,
 * innermost (most deeply inlined) first, the last being the real function.
 * Always returns at least 1 frame when max >= 1; results are cached. */
int pst_symbolize(struct pst_symbolizer *s, uint64_t addr, struct pst_frame *out, int max);

/* "function (file:line)", "function (module)" or "[module+0xoff]" for f. */
void pst_frame_format(const struct pst_frame *f, char *buf, size_t len);

/* Warnings gathered so far (a file that changed since the trace was taken,
 * one that is no regular ELF file): one line each, or NULL at the end. The
 * first 100 distinct ones are kept; past them a line says how many more
 * there were. Modules without debug info come last, in one line. */
const char *pst_symbolizer_warning(struct pst_symbolizer *s, size_t i);

/* name demangled if it is a C++ mangled name, else name itself; the result
 * is pooled in s. NULL for NULL. */
const char *pst_demangle(struct pst_symbolizer *s, const char *name);

/* The object mapped at an address, as pprof's mappings want it. */
struct pst_mapping {
	uint64_t lo, hi, bias;
	const char *path;	 /* owned by the symbolizer */
	const uint8_t *build_id; /* as on disk; NULL when unknown */
	size_t build_id_len;
};

/* The module of s that holds addr into *out: 0, or -1 when none does. */
int pst_symbolizer_mapping(struct pst_symbolizer *s, uint64_t addr, struct pst_mapping *out);

/* name with every template's arguments dropped, as heaptrack_print
 * --shorten-templates does: "std::vector<int, std::allocator<int> >::push_back"
 * becomes "std::vector<>::push_back"; operator< and the like are kept.
 * Malloc'd; NULL when out of memory. */
char *pst_shorten_templates(const char *name);

void pst_symbolizer_free(struct pst_symbolizer *s);

#endif
