/* SPDX-License-Identifier: MIT */
/* Tests of the symbolizer on this binary, libc and libcriterion: lines, inlining, warnings. */
#include <dlfcn.h>
#include <limits.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "symbolize.h"

/* Where the calls below are written; set as they run. */
static int outer_call_line, inline_call_line, inline_site_line;
static int deep_call_line, middle_site_line, deep_site_line;

__attribute__((noinline, noipa)) static void *callee(void)
{
	return __builtin_return_address(0);
}

__attribute__((noinline, noipa)) void *pst_test_outer(void)
{
	void *ra = callee(); outer_call_line = __LINE__;

	__asm__ volatile("" : "+r"(ra));
	return ra;
}

static inline __attribute__((always_inline)) void *pst_test_inlined(void)
{
	void *ra = callee(); inline_call_line = __LINE__;

	__asm__ volatile("" : "+r"(ra));
	return ra;
}

__attribute__((noinline, noipa)) void *pst_test_inliner(void)
{
	void *ra = pst_test_inlined(); inline_site_line = __LINE__;

	__asm__ volatile("" : "+r"(ra));
	return ra;
}

static inline __attribute__((always_inline)) void *pst_test_deep(void)
{
	void *ra = callee(); deep_call_line = __LINE__;

	__asm__ volatile("" : "+r"(ra));
	return ra;
}

static inline __attribute__((always_inline)) void *pst_test_middle(void)
{
	void *ra = pst_test_deep(); middle_site_line = __LINE__;

	__asm__ volatile("" : "+r"(ra));
	return ra;
}

__attribute__((noinline, noipa)) void *pst_test_nested(void)
{
	void *ra = pst_test_middle(); deep_site_line = __LINE__;

	__asm__ volatile("" : "+r"(ra));
	return ra;
}

struct object {
	uintptr_t addr;
	char path[PATH_MAX];
	uint64_t bias, lo, hi;
	int found;
};

static int find_object(struct dl_phdr_info *info, size_t size, void *data)
{
	struct object *o = data;
	uint64_t lo = UINT64_MAX, hi = 0;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_LOAD)
			continue;
		if (info->dlpi_addr + ph->p_vaddr < lo)
			lo = info->dlpi_addr + ph->p_vaddr;
		if (info->dlpi_addr + ph->p_vaddr + ph->p_memsz > hi)
			hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
	}
	if (o->addr < lo || o->addr >= hi)
		return 0;
	o->bias = info->dlpi_addr;
	o->lo = lo;
	o->hi = hi;
	/* The main program comes first, without a name. */
	if (!info->dlpi_name[0]) {
		if (!realpath("/proc/self/exe", o->path))
			return 0;
	} else {
		snprintf(o->path, sizeof(o->path), "%s", info->dlpi_name);
	}
	o->found = 1;
	return 1;
}

/* Declares the object holding addr to s. */
static void add_object_of(struct pst_symbolizer *s, const void *addr)
{
	struct object o = { .addr = (uintptr_t)addr };

	dl_iterate_phdr(find_object, &o);
	cr_assert(o.found, "no loaded object holds %p", addr);
	cr_assert_eq(pst_symbolizer_add_module(s, o.path, o.bias, o.lo, o.hi, NULL, 0), 0);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

static int has_warning(struct pst_symbolizer *s, const char *part)
{
	const char *w;

	for (size_t i = 0; (w = pst_symbolizer_warning(s, i)); i++)
		if (strstr(w, part))
			return 1;
	return 0;
}

Test(symbolize, function_and_line_in_this_binary)
{
	struct pst_symbolizer *s = pst_symbolizer_new();
	uint64_t pc = (uintptr_t)pst_test_outer() - 1;
	struct pst_frame f[8], g[8];
	char buf[512];
	int n;

	cr_assert_not_null(s);
	add_object_of(s, (void *)pst_test_outer);
	n = pst_symbolize(s, pc, f, 8);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(f[0].function, "pst_test_outer");
	cr_assert_eq(f[0].line, outer_call_line);
	cr_assert_not_null(f[0].file);
	cr_assert(ends_with(f[0].file, "test_symbolize.c"), "file %s", f[0].file);
	cr_assert_eq(f[0].inlined, 0);
	cr_assert_not_null(f[0].module);

	/* Cached: the same strings come back. */
	cr_assert_eq(pst_symbolize(s, pc, g, 8), 1);
	cr_assert_eq(g[0].function, f[0].function);
	cr_assert_eq(g[0].file, f[0].file);

	pst_frame_format(&f[0], buf, sizeof(buf));
	cr_assert(!strncmp(buf, "pst_test_outer (", 16), "%s", buf);
	snprintf(buf + 400, 100, "test_symbolize.c:%d)", outer_call_line);
	cr_assert(ends_with(buf, buf + 400), "%s", buf);
	pst_symbolizer_free(s);
}

Test(symbolize, inlined_frames)
{
	struct pst_symbolizer *s = pst_symbolizer_new();
	uint64_t pc = (uintptr_t)pst_test_inliner() - 1;
	struct pst_frame f[8];
	int n;

	add_object_of(s, (void *)pst_test_inliner);
	n = pst_symbolize(s, pc, f, 8);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(f[0].function, "pst_test_inlined");
	cr_assert_eq(f[0].inlined, 1);
	cr_assert_eq(f[0].line, inline_call_line);
	cr_assert(ends_with(f[0].file, "test_symbolize.c"), "file %s", f[0].file);
	cr_assert_str_eq(f[1].function, "pst_test_inliner");
	cr_assert_eq(f[1].inlined, 0);
	cr_assert_eq(f[1].line, inline_site_line);
	cr_assert(ends_with(f[1].file, "test_symbolize.c"), "file %s", f[1].file);

	/* max bounds the frames. */
	cr_assert_eq(pst_symbolize(s, pc, f, 1), 1);
	cr_assert_str_eq(f[0].function, "pst_test_inlined");
	pst_symbolizer_free(s);
}

Test(symbolize, nested_inlined_frames)
{
	struct pst_symbolizer *s = pst_symbolizer_new();
	uint64_t pc = (uintptr_t)pst_test_nested() - 1;
	static const char *const names[] = { "pst_test_deep", "pst_test_middle", "pst_test_nested" };
	const int lines[] = { deep_call_line, middle_site_line, deep_site_line };
	struct pst_frame f[8];

	add_object_of(s, (void *)pst_test_nested);
	cr_assert_eq(pst_symbolize(s, pc, f, 8), 3);
	for (int i = 0; i < 3; i++) {
		cr_assert_str_eq(f[i].function, names[i]);
		cr_assert_eq(f[i].line, lines[i], "frame %d: line %d", i, f[i].line);
		cr_assert_eq(f[i].inlined, i < 2);
		cr_assert(ends_with(f[i].file, "test_symbolize.c"), "file %s", f[i].file);
		cr_assert_eq(f[i].offset, f[0].offset);
	}
	pst_symbolizer_free(s);
}

Test(symbolize, malloc_in_libc)
{
#ifdef __SANITIZE_ADDRESS__
	cr_skip_test("make check-asan: malloc in this process is the sanitizer's, not the C library's");
#endif
	struct pst_symbolizer *s = pst_symbolizer_new();
	void *(*fn)(size_t) = (void *(*)(size_t))dlsym(RTLD_DEFAULT, "malloc");
	struct pst_frame f[8];
	int n;

	cr_assert_not_null(fn);
	add_object_of(s, (void *)fn);
	n = pst_symbolize(s, (uintptr_t)fn + 4, f, 8);
	cr_assert_geq(n, 1);
	cr_assert_not_null(f[n - 1].function);
	cr_assert(strstr(f[n - 1].function, "malloc"), "function %s", f[n - 1].function);
	cr_assert(strstr(f[n - 1].module, "libc.so"), "module %s", f[n - 1].module);
	pst_symbolizer_free(s);
}

Test(symbolize, symbol_table_only)
{
	struct pst_symbolizer *s = pst_symbolizer_new();
	void *fn = dlsym(RTLD_DEFAULT, "cr_asprintf");
	struct pst_frame f[8];
	char buf[512];
	int n;

	cr_assert_not_null(fn);
	add_object_of(s, fn);
	n = pst_symbolize(s, (uintptr_t)fn + 1, f, 8);
	cr_assert_str_eq(f[n - 1].function, "cr_asprintf");
	if (!f[n - 1].file) {
		/* Its -dbgsym is not installed. */
		cr_assert_eq(n, 1);
		cr_assert_eq(f[0].line, 0);
		cr_assert(has_warning(s, "no debug info for "));
		cr_assert(has_warning(s, f[0].module));
		pst_frame_format(&f[0], buf, sizeof(buf));
		cr_assert(!strncmp(buf, "cr_asprintf (libcriterion.so", 28), "%s", buf);
	}
	pst_symbolizer_free(s);
}

/* A stripped copy of this binary finds its DWARF through .gnu_debuglink in
 * its directory's .debug/. */
Test(symbolize, separate_debug_file_by_debuglink)
{
	struct pst_symbolizer *s = pst_symbolizer_new();
	struct object o = { .addr = (uintptr_t)pst_test_outer };
	char dir[] = "/tmp/pst-symbolize-XXXXXX", cmd[3 * PATH_MAX], path[PATH_MAX + 32];
	struct pst_frame f[8];
	int rc;

	dl_iterate_phdr(find_object, &o);
	cr_assert(o.found);
	if (system("command -v objcopy >/dev/null 2>&1"))
		cr_skip_test("objcopy is not installed");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/stripped", dir);
	snprintf(cmd, sizeof(cmd),
		 "set -e; cd '%s'; mkdir .debug; objcopy --only-keep-debug '%s' .debug/stripped.debug;"
		 " objcopy --strip-debug --add-gnu-debuglink=.debug/stripped.debug '%s' stripped",
		 dir, o.path, o.path);
	rc = system(cmd);
	cr_assert_eq(rc, 0, "%s", cmd);

	cr_assert_eq(pst_symbolizer_add_module(s, path, o.bias, o.lo, o.hi, NULL, 0), 0);
	cr_assert_eq(pst_symbolize(s, (uintptr_t)pst_test_outer() - 1, f, 8), 1);
	cr_assert_str_eq(f[0].function, "pst_test_outer");
	cr_assert_eq(f[0].line, outer_call_line);
	cr_assert_str_eq(f[0].module, path);
	cr_assert_null(pst_symbolizer_warning(s, 0), "%s", pst_symbolizer_warning(s, 0));
	pst_symbolizer_free(s);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

Test(symbolize, address_in_no_module)
{
	struct pst_symbolizer *s = pst_symbolizer_new();
	struct pst_frame f[8];
	char buf[64];

	add_object_of(s, (void *)pst_test_outer);
	cr_assert_eq(pst_symbolize(s, 0x1234, f, 8), 1);
	cr_assert_null(f[0].module);
	cr_assert_null(f[0].function);
	cr_assert_null(f[0].file);
	pst_frame_format(&f[0], buf, sizeof(buf));
	cr_assert_str_eq(buf, "[0x1234]");
	pst_symbolizer_free(s);
}

Test(symbolize, missing_file)
{
	struct pst_symbolizer *s = pst_symbolizer_new();
	const char *path = "/nonexistent/prestanda/libgone.so";
	struct pst_frame f[8];
	char buf[128];

	cr_assert_eq(pst_symbolizer_add_module(s, path, 0x10000, 0x10000, 0x20000, NULL, 0), 0);
	cr_assert(has_warning(s, path));
	cr_assert(has_warning(s, "cannot open"));
	cr_assert_null(pst_symbolizer_warning(s, 1));
	cr_assert_eq(pst_symbolize(s, 0x10abc, f, 8), 1);
	cr_assert_str_eq(f[0].module, path);
	cr_assert_null(f[0].function);
	cr_assert_eq(f[0].offset, 0xabc);
	pst_frame_format(&f[0], buf, sizeof(buf));
	cr_assert_str_eq(buf, "[libgone.so+0xabc]");
	pst_symbolizer_free(s);
}

Test(symbolize, changed_build_id)
{
	struct pst_symbolizer *s = pst_symbolizer_new();
	struct object o = { .addr = (uintptr_t)pst_test_outer };
	static const uint8_t wrong[20] = { 0xde, 0xad, 0xbe, 0xef };
	struct pst_frame f[8];

	dl_iterate_phdr(find_object, &o);
	cr_assert(o.found);
	cr_assert_eq(pst_symbolizer_add_module(s, o.path, o.bias, o.lo, o.hi, wrong, sizeof(wrong)),
		     0);
	cr_assert(has_warning(s, "changed since the trace was recorded (build id differs)"));
	cr_assert(has_warning(s, o.path));
	/* Still used. */
	pst_symbolize(s, (uintptr_t)pst_test_outer() - 1, f, 8);
	cr_assert_str_eq(f[0].function, "pst_test_outer");
	pst_symbolizer_free(s);
}

Test(symbolize, modules_added_after_lookups_and_duplicates)
{
	struct pst_symbolizer *s = pst_symbolizer_new();
	void *fn = dlsym(RTLD_DEFAULT, "malloc");
	struct pst_frame f[8];

	/* Looked up before its module is known, then again after. */
	cr_assert_eq(pst_symbolize(s, (uintptr_t)pst_test_outer() - 1, f, 8), 1);
	cr_assert_null(f[0].module);
	add_object_of(s, (void *)pst_test_outer);
	add_object_of(s, (void *)pst_test_outer); /* duplicate: ignored */
	pst_symbolize(s, (uintptr_t)pst_test_outer() - 1, f, 8);
	cr_assert_str_eq(f[0].function, "pst_test_outer");
	add_object_of(s, fn);
	pst_symbolize(s, (uintptr_t)fn + 4, f, 8);
	cr_assert_not_null(f[0].function);
	/* An overlapping module is ignored: the first one keeps its addresses. */
	cr_assert_eq(pst_symbolizer_add_module(s, "/nonexistent/overlap.so", 0, 0,
					       UINT64_MAX, NULL, 0),
		     0);
	cr_assert_null(pst_symbolizer_warning(s, 0));
	pst_symbolize(s, (uintptr_t)pst_test_outer() - 1, f, 8);
	cr_assert_str_eq(f[0].function, "pst_test_outer");
	pst_symbolizer_free(s);
}

Test(symbolize, demangle)
{
	struct pst_symbolizer *s = pst_symbolizer_new();

	cr_assert_str_eq(pst_demangle(s, "_ZN3foo3barEi"), "foo::bar(int)");
	cr_assert_str_eq(pst_demangle(s, "_ZNSt6vectorIiSaIiEE9push_backERKi"),
			 "std::vector<int, std::allocator<int> >::push_back(int const&)");
	cr_assert_str_eq(pst_demangle(s, "main"), "main");
	cr_assert_str_eq(pst_demangle(s, "_Znot_mangled"), "_Znot_mangled");
	cr_assert_null(pst_demangle(s, NULL));
	/* Pooled: one copy per string. */
	cr_assert_eq(pst_demangle(s, "_ZN3foo3barEi"), pst_demangle(s, "_ZN3foo3barEi"));
	pst_symbolizer_free(s);
}

Test(symbolize, format)
{
	struct pst_frame f = { .function = "f", .file = "a/b.c", .line = 7, .module = "/x/liby.so" };
	char buf[4200], cwd[4096];

	pst_frame_format(&f, buf, sizeof(buf));
	cr_assert_str_eq(buf, "f (a/b.c:7)");
	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	if (strcmp(cwd, "/")) {
		char file[4200];

		snprintf(file, sizeof(file), "%s/src/x.c", cwd);
		f.file = file;
		pst_frame_format(&f, buf, sizeof(buf));
		cr_assert_str_eq(buf, "f (src/x.c:7)");
	}
	f.file = "/elsewhere-not-cwd/x.c";
	pst_frame_format(&f, buf, sizeof(buf));
	cr_assert_str_eq(buf, "f (/elsewhere-not-cwd/x.c:7)");
	f.file = NULL;
	f.line = 0;
	pst_frame_format(&f, buf, sizeof(buf));
	cr_assert_str_eq(buf, "f (liby.so)");
	f.function = NULL;
	f.offset = 0x42;
	pst_frame_format(&f, buf, sizeof(buf));
	cr_assert_str_eq(buf, "[liby.so+0x42]");
}

/* A .gnu_debuglink that leads to a FIFO (the module's directory is named by
 * the trace) is passed over, not opened: the lookup ends, with the symbol
 * table's name. */
Test(symbolize, debuglink_to_a_fifo_is_not_opened, .timeout = 60)
{
	struct pst_symbolizer *s = pst_symbolizer_new();
	struct object o = { .addr = (uintptr_t)pst_test_outer };
	char dir[] = "/tmp/pst-symbolize-XXXXXX", cmd[3 * PATH_MAX], path[PATH_MAX + 32];
	struct pst_frame f[8];

	dl_iterate_phdr(find_object, &o);
	cr_assert(o.found);
	if (system("command -v objcopy >/dev/null 2>&1"))
		cr_skip_test("objcopy is not installed");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/stripped", dir);
	snprintf(cmd, sizeof(cmd),
		 "set -e; cd '%s'; objcopy --only-keep-debug '%s' stripped.debug;"
		 " objcopy --strip-debug --add-gnu-debuglink=stripped.debug '%s' stripped;"
		 " rm stripped.debug; mkfifo stripped.debug; mkdir .debug; mkfifo .debug/stripped.debug",
		 dir, o.path, o.path);
	cr_assert_eq(system(cmd), 0, "%s", cmd);

	cr_assert_eq(pst_symbolizer_add_module(s, path, o.bias, o.lo, o.hi, NULL, 0), 0);
	cr_assert_eq(pst_symbolize(s, (uintptr_t)pst_test_outer() - 1, f, 8), 1);
	cr_assert_str_eq(f[0].function, "pst_test_outer");
	cr_assert_eq(f[0].line, 0);
	cr_assert(has_warning(s, "no debug info for "));
	pst_symbolizer_free(s);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

/* More files than stay open at once: the least recently used are closed
 * and opened again when an address not yet seen needs them. */
Test(symbolize, files_closed_and_opened_again, .timeout = 120)
{
	struct pst_symbolizer *s = pst_symbolizer_new();
	struct object o = { .addr = (uintptr_t)pst_test_outer };
	char dir[] = "/tmp/pst-symbolize-XXXXXX", path[PATH_MAX + 32], cmd[2 * PATH_MAX];
	uint64_t off = (uintptr_t)pst_test_outer() - 1 - o.bias, span;
	struct pst_frame f[8];
	enum { NFILES = 70 };

	dl_iterate_phdr(find_object, &o);
	cr_assert(o.found);
	off = (uintptr_t)pst_test_outer() - 1 - o.bias;
	span = (o.hi - o.bias + 0xfffff) & ~0xfffffull;
	cr_assert_not_null(mkdtemp(dir));
	for (int i = 0; i < NFILES; i++) {
		uint64_t bias = 0x100000000000ull + i * span;

		snprintf(cmd, sizeof(cmd), "cp '%s' '%s/copy%d'", o.path, dir, i);
		cr_assert_eq(system(cmd), 0);
		snprintf(path, sizeof(path), "%s/copy%d", dir, i);
		cr_assert_eq(pst_symbolizer_add_module(s, path, bias, bias + (o.lo - o.bias),
						       bias + (o.hi - o.bias), NULL, 0),
			     0);
	}
	/* Twice round: the second pass finds the first files closed. */
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < NFILES; i++) {
			uint64_t bias = 0x100000000000ull + i * span;

			cr_assert_geq(pst_symbolize(s, bias + off + pass, f, 8), 1);
			cr_assert_str_eq(f[0].function, "pst_test_outer", "copy %d, pass %d", i,
					 pass);
			snprintf(path, sizeof(path), "%s/copy%d", dir, i);
			cr_assert_str_eq(f[0].module, path);
		}
	cr_assert_null(pst_symbolizer_warning(s, 0), "%s", pst_symbolizer_warning(s, 0));
	pst_symbolizer_free(s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}
