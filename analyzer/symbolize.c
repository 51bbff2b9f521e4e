/* SPDX-License-Identifier: MIT */
/* Offline symbolization with libdwfl: modules, inlined frames from DWARF scopes, a cache, a string pool. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>

#include "symbolize.h"

/* From the C++ ABI runtime (libstdc++). */
char *__cxa_demangle(const char *mangled, char *buf, size_t *n, int *status);

/* Most frames one address expands to (inlining depth + 1). */
#define PST_MAX_INLINE 64

/* ---- string pool ---------------------------------------------------- */

#define POOL_CHUNK 65536

struct pool_chunk {
	struct pool_chunk *next;
	size_t used, size;
	char data[];
};

struct strpool {
	struct pool_chunk *chunks;
	const char **slots; /* open addressing, NULL = empty */
	size_t cap, count;
};

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static uint64_t hash_u64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static char *pool_alloc(struct strpool *p, size_t n)
{
	struct pool_chunk *c = p->chunks;

	if (!c || c->size - c->used < n) {
		size_t size = n > POOL_CHUNK ? n : POOL_CHUNK;

		c = malloc(sizeof(*c) + size);
		if (!c)
			return NULL;
		c->size = size;
		c->used = 0;
		/* A big one-off string goes behind the current chunk so the
		 * current one keeps filling. */
		if (p->chunks && n > POOL_CHUNK) {
			c->next = p->chunks->next;
			p->chunks->next = c;
		} else {
			c->next = p->chunks;
			p->chunks = c;
		}
	}
	c->used += n;
	return c->data + c->used - n;
}

static int pool_grow(struct strpool *p)
{
	size_t cap = p->cap ? p->cap * 2 : 1024;
	const char **slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < p->cap; i++) {
		const char *s = p->slots[i];
		size_t j;

		if (!s)
			continue;
		j = hash_bytes(s, strlen(s)) & (cap - 1);
		while (slots[j])
			j = (j + 1) & (cap - 1);
		slots[j] = s;
	}
	free(p->slots);
	p->slots = slots;
	p->cap = cap;
	return 0;
}

/* The pooled copy of s[0..n), or NULL when out of memory. */
static const char *pool_intern_n(struct strpool *p, const char *s, size_t n)
{
	size_t i;
	char *copy;

	if ((p->count + 1) * 4 > p->cap * 3 && pool_grow(p))
		return NULL;
	i = hash_bytes(s, n) & (p->cap - 1);
	while (p->slots[i]) {
		if (!strncmp(p->slots[i], s, n) && p->slots[i][n] == '\0')
			return p->slots[i];
		i = (i + 1) & (p->cap - 1);
	}
	copy = pool_alloc(p, n + 1);
	if (!copy)
		return NULL;
	memcpy(copy, s, n);
	copy[n] = '\0';
	p->slots[i] = copy;
	p->count++;
	return copy;
}

static const char *pool_intern(struct strpool *p, const char *s)
{
	return s ? pool_intern_n(p, s, strlen(s)) : NULL;
}

static void pool_free(struct strpool *p)
{
	struct pool_chunk *c = p->chunks;

	while (c) {
		struct pool_chunk *next = c->next;

		free(c);
		c = next;
	}
	free(p->slots);
	memset(p, 0, sizeof(*p));
}

/* ---- address cache --------------------------------------------------- */

struct cache_slot {
	uint64_t addr;
	uint32_t first; /* index in frames */
	uint32_t count; /* 0 = empty slot */
};

struct cache {
	struct cache_slot *slots;
	size_t cap, count;
	struct pst_frame *frames;
	size_t nframes, frames_cap;
};

static int cache_grow(struct cache *c)
{
	size_t cap = c->cap ? c->cap * 2 : 4096;
	struct cache_slot *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < c->cap; i++) {
		struct cache_slot *e = &c->slots[i];
		size_t j;

		if (!e->count)
			continue;
		j = hash_u64(e->addr) & (cap - 1);
		while (slots[j].count)
			j = (j + 1) & (cap - 1);
		slots[j] = *e;
	}
	free(c->slots);
	c->slots = slots;
	c->cap = cap;
	return 0;
}

static const struct cache_slot *cache_find(const struct cache *c, uint64_t addr)
{
	size_t i;

	if (!c->cap)
		return NULL;
	i = hash_u64(addr) & (c->cap - 1);
	while (c->slots[i].count) {
		if (c->slots[i].addr == addr)
			return &c->slots[i];
		i = (i + 1) & (c->cap - 1);
	}
	return NULL;
}

static int cache_put(struct cache *c, uint64_t addr, const struct pst_frame *f, int n)
{
	size_t i;

	if ((c->count + 1) * 4 > c->cap * 3 && cache_grow(c))
		return -ENOMEM;
	if (c->nframes + n > c->frames_cap) {
		size_t cap = c->frames_cap ? c->frames_cap * 2 : 4096;
		struct pst_frame *frames;

		while (cap < c->nframes + n)
			cap *= 2;
		if (cap > UINT32_MAX)
			return -ENOMEM;
		frames = realloc(c->frames, cap * sizeof(*frames));
		if (!frames)
			return -ENOMEM;
		c->frames = frames;
		c->frames_cap = cap;
	}
	i = hash_u64(addr) & (c->cap - 1);
	while (c->slots[i].count)
		i = (i + 1) & (c->cap - 1);
	c->slots[i].addr = addr;
	c->slots[i].first = (uint32_t)c->nframes;
	c->slots[i].count = (uint32_t)n;
	memcpy(c->frames + c->nframes, f, n * sizeof(*f));
	c->nframes += n;
	c->count++;
	return 0;
}

static void cache_clear(struct cache *c)
{
	if (c->slots)
		memset(c->slots, 0, c->cap * sizeof(*c->slots));
	c->count = 0;
	c->nframes = 0;
}

/* ---- the symbolizer ---------------------------------------------------- */

struct sym_module {
	const char *path; /* pooled */
	uint64_t bias, lo, hi;
	Dwfl_Module *mod; /* NULL: the file could not be used */
	int dwarf_checked;
};

struct pst_symbolizer {
	Dwfl *dwfl;
	int reporting; /* between dwfl_report_begin(_add) and dwfl_report_end */
	struct sym_module *mods;
	size_t nmods, mods_cap;
	struct strpool pool;
	struct cache cache;
	const char **warnings; /* pooled */
	size_t nwarnings, warnings_cap;
};

/* Where separate debug files are searched: next to the object, in its
 * .debug/ directory, and under /usr/lib/debug (by build id and by path). */
static char *debuginfo_path = ":.debug:/usr/lib/debug";

static const Dwfl_Callbacks offline_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
	.debuginfo_path = &debuginfo_path,
};

__attribute__((format(printf, 2, 3))) static void warn(struct pst_symbolizer *s,
							 const char *fmt, ...)
{
	char buf[4096];
	const char *w;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < s->nwarnings; i++)
		if (!strcmp(s->warnings[i], buf))
			return;
	if (s->nwarnings == s->warnings_cap) {
		size_t cap = s->warnings_cap ? s->warnings_cap * 2 : 8;
		const char **ws = realloc(s->warnings, cap * sizeof(*ws));

		if (!ws)
			return;
		s->warnings = ws;
		s->warnings_cap = cap;
	}
	w = pool_intern(&s->pool, buf);
	if (w)
		s->warnings[s->nwarnings++] = w;
}

struct pst_symbolizer *pst_symbolizer_new(void)
{
	struct pst_symbolizer *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->dwfl = dwfl_begin(&offline_callbacks);
	if (!s->dwfl) {
		fprintf(stderr, "prestanda: dwfl_begin: %s\n", dwfl_errmsg(-1));
		free(s);
		return NULL;
	}
	dwfl_report_begin(s->dwfl);
	s->reporting = 1;
	return s;
}

void pst_symbolizer_free(struct pst_symbolizer *s)
{
	if (!s)
		return;
	dwfl_end(s->dwfl);
	free(s->mods);
	free(s->warnings);
	free(s->cache.slots);
	free(s->cache.frames);
	pool_free(&s->pool);
	free(s);
}

const char *pst_symbolizer_warning(struct pst_symbolizer *s, size_t i)
{
	return s && i < s->nwarnings ? s->warnings[i] : NULL;
}

static int ranges_overlap(uint64_t lo1, uint64_t hi1, uint64_t lo2, uint64_t hi2)
{
	return lo1 < hi2 && lo2 < hi1;
}

static void check_build_id(struct pst_symbolizer *s, struct sym_module *m, const uint8_t *build_id,
			   size_t build_id_len)
{
	const unsigned char *bits;
	GElf_Addr vaddr;
	int n;

	if (!build_id || !build_id_len)
		return;
	n = dwfl_module_build_id(m->mod, &bits, &vaddr);
	if (n < 0 || (size_t)n != build_id_len || memcmp(bits, build_id, build_id_len))
		warn(s, "%s changed since the trace was recorded (build id differs): its symbols may be wrong",
		     m->path);
}

int pst_symbolizer_add_module(struct pst_symbolizer *s, const char *path, uint64_t bias,
			      uint64_t lo, uint64_t hi, const uint8_t *build_id,
			      size_t build_id_len)
{
	struct sym_module *m;
	int fd;

	if (!s || !path || !*path)
		return -EINVAL;
	for (size_t i = 0; i < s->nmods; i++) {
		struct sym_module *o = &s->mods[i];

		if (o->bias == bias && !strcmp(o->path, path))
			return 0; /* duplicate */
		if (lo < hi && o->lo < o->hi && ranges_overlap(lo, hi, o->lo, o->hi))
			return 0; /* overlapping: the first one wins */
	}
	if (s->nmods == s->mods_cap) {
		size_t cap = s->mods_cap ? s->mods_cap * 2 : 64;
		struct sym_module *mods = realloc(s->mods, cap * sizeof(*mods));

		if (!mods)
			return -ENOMEM;
		s->mods = mods;
		s->mods_cap = cap;
	}
	m = &s->mods[s->nmods];
	memset(m, 0, sizeof(*m));
	m->path = pool_intern(&s->pool, path);
	if (!m->path)
		return -ENOMEM;
	m->bias = bias;
	m->lo = lo;
	m->hi = hi;
	s->nmods++;

	/* A later module may cover addresses cached as in none. */
	cache_clear(&s->cache);

	/* Pseudo-objects such as [vdso] have no file: nothing to warn about. */
	if (path[0] == '[')
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		warn(s, "%s: cannot open (%s)", path, strerror(errno));
		return 0;
	}
	close(fd);

	if (!s->reporting) {
		dwfl_report_begin_add(s->dwfl);
		s->reporting = 1;
	}
	m->mod = dwfl_report_elf(s->dwfl, m->path, m->path, -1, bias, false);
	if (!m->mod) {
		warn(s, "%s: cannot open (dwfl_report_elf: %s)", path, dwfl_errmsg(-1));
		return 0;
	}
	check_build_id(s, m, build_id, build_id_len);
	return 0;
}

const char *pst_demangle(struct pst_symbolizer *s, const char *name)
{
	const char *r;
	char *d;
	int status = -1;

	if (!name)
		return NULL;
	if (name[0] != '_' || name[1] != 'Z')
		return pool_intern(&s->pool, name);
	d = __cxa_demangle(name, NULL, NULL, &status);
	r = pool_intern(&s->pool, status == 0 && d ? d : name);
	free(d);
	return r;
}

static int end_reporting(struct pst_symbolizer *s)
{
	if (!s->reporting)
		return 0;
	s->reporting = 0;
	if (dwfl_report_end(s->dwfl, NULL, NULL)) {
		warn(s, "dwfl_report_end: %s", dwfl_errmsg(-1));
		return -1;
	}
	return 0;
}

static struct sym_module *find_module(struct pst_symbolizer *s, Dwfl_Module *mod, uint64_t addr)
{
	for (size_t i = 0; i < s->nmods; i++) {
		struct sym_module *m = &s->mods[i];

		if (mod ? m->mod == mod : (m->lo <= addr && addr < m->hi))
			return m;
	}
	return NULL;
}

/* The C++ linkage name demangled, else the plain name; follows abstract
 * origins and specifications. A linkage name that is no C++ name (a C asm
 * label such as glibc's __GI_ aliases) loses to DW_AT_name. */
static const char *die_function_name(struct pst_symbolizer *s, Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	const char *linkage = NULL, *name = NULL;

	if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) ||
	    dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr))
		linkage = dwarf_formstring(&attr);
	if (linkage && linkage[0] == '_' && linkage[1] == 'Z') {
		const char *d = pst_demangle(s, linkage);

		if (d && strcmp(d, linkage))
			return d;
	}
	if (dwarf_attr_integrate(die, DW_AT_name, &attr))
		name = dwarf_formstring(&attr);
	if (name)
		return pool_intern(&s->pool, name);
	return linkage ? pool_intern(&s->pool, linkage) : NULL;
}

static const char *symtab_name(struct pst_symbolizer *s, Dwfl_Module *mod, uint64_t addr)
{
	GElf_Off off;
	GElf_Sym sym;
	const char *name = dwfl_module_addrinfo(mod, addr, &off, &sym, NULL, NULL, NULL);

	return name && *name ? pst_demangle(s, name) : NULL;
}

/* The file of index idx in the line table of cu. */
static const char *cu_file(struct pst_symbolizer *s, Dwarf_Die *cu, Dwarf_Word idx)
{
	Dwarf_Files *files;
	size_t nfiles;
	const char *f;

	if (dwarf_getsrcfiles(cu, &files, &nfiles) || idx >= nfiles)
		return NULL;
	f = dwarf_filesrc(files, idx, NULL, NULL);
	return f ? pool_intern(&s->pool, f) : NULL;
}

static void check_dwarf(struct pst_symbolizer *s, struct sym_module *m)
{
	Dwarf_Addr bias;

	if (m->dwarf_checked)
		return;
	m->dwarf_checked = 1;
	if (!dwfl_module_getdwarf(m->mod, &bias))
		warn(s, "no debug info for %s: install its -dbgsym package for file:line", m->path);
}

/* Fill f (PST_MAX_INLINE entries) for addr in m; returns the count. */
static int resolve(struct pst_symbolizer *s, struct sym_module *m, uint64_t addr,
		   struct pst_frame *f)
{
	Dwarf_Addr bias = 0;
	Dwarf_Die *cudie, *scopes = NULL;
	Dwfl_Line *line;
	const char *file = NULL;
	int lineno = 0, n = 0, nscopes;

	check_dwarf(s, m);

	line = dwfl_module_getsrc(m->mod, addr);
	if (line) {
		const char *src = dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL);

		file = pool_intern(&s->pool, src);
		if (!file)
			lineno = 0;
	}

	/*
	 * dwarf_getscopes follows the innermost inlined scope to its abstract
	 * definition, so the concrete callers come from dwarf_getscopes_die on
	 * the innermost scope: that, its enclosing inlined scopes, then the
	 * subprogram they were inlined into.
	 */
	cudie = dwfl_module_addrdie(m->mod, addr, &bias);
	nscopes = cudie ? dwarf_getscopes(cudie, addr - bias, &scopes) : 0;
	if (nscopes > 0) {
		Dwarf_Die *chain = NULL;
		int nchain = dwarf_getscopes_die(&scopes[0], &chain);

		if (nchain > 0) {
			free(scopes);
			scopes = chain;
			nscopes = nchain;
		} else {
			free(chain);
		}
	}
	for (int i = 0; i < nscopes && n < PST_MAX_INLINE; i++) {
		int tag = dwarf_tag(&scopes[i]);
		Dwarf_Attribute attr;
		Dwarf_Word cfile, cline;

		if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram)
			continue;
		f[n].function = die_function_name(s, &scopes[i]);
		f[n].file = file;
		f[n].line = lineno;
		f[n].inlined = tag == DW_TAG_inlined_subroutine;
		f[n].decl_line = 0;
		if (dwarf_decl_line(&scopes[i], &f[n].decl_line))
			f[n].decl_line = 0;
		n++;
		if (tag == DW_TAG_subprogram)
			break;
		/* The caller's position is where this one was inlined. */
		file = NULL;
		lineno = 0;
		if (dwarf_attr(&scopes[i], DW_AT_call_file, &attr) &&
		    !dwarf_formudata(&attr, &cfile))
			file = cu_file(s, cudie, cfile);
		if (dwarf_attr(&scopes[i], DW_AT_call_line, &attr) &&
		    !dwarf_formudata(&attr, &cline))
			lineno = (int)cline;
	}
	free(scopes);

	if (n == 0 || f[n - 1].inlined) {
		/* No enclosing subprogram in DWARF: the symbol table names it. */
		if (n == PST_MAX_INLINE)
			n--;
		f[n].function = NULL;
		f[n].file = file;
		f[n].line = lineno;
		f[n].inlined = 0;
		f[n].decl_line = 0;
		n++;
	}
	if (!f[n - 1].function)
		f[n - 1].function = symtab_name(s, m->mod, addr);
	for (int i = 0; i < n; i++) {
		f[i].module = m->path;
		f[i].offset = addr - m->bias;
		if (!f[i].file)
			f[i].line = 0;
	}
	return n;
}

int pst_symbolize(struct pst_symbolizer *s, uint64_t addr, struct pst_frame *out, int max)
{
	struct pst_frame f[PST_MAX_INLINE];
	const struct cache_slot *hit;
	struct sym_module *m = NULL;
	Dwfl_Module *mod;
	int n;

	if (max < 1)
		return 0;
	hit = cache_find(&s->cache, addr);
	if (hit) {
		n = (int)hit->count < max ? (int)hit->count : max;
		memcpy(out, s->cache.frames + hit->first, n * sizeof(*out));
		return n;
	}

	end_reporting(s);
	mod = dwfl_addrmodule(s->dwfl, addr);
	if (mod)
		m = find_module(s, mod, addr);
	if (!m)
		m = find_module(s, NULL, addr); /* a file we could not use, or none of its segments */

	if (m && m->mod && m->mod == mod) {
		n = resolve(s, m, addr, f);
	} else {
		memset(f, 0, sizeof(f[0]));
		f[0].module = m ? m->path : NULL;
		f[0].offset = m ? addr - m->bias : addr;
		n = 1;
	}
	cache_put(&s->cache, addr, f, n);
	if (n > max)
		n = max;
	memcpy(out, f, n * sizeof(*out));
	return n;
}

/* file relative to the working directory when it lies under it. */
static const char *relative_file(const char *file)
{
	char cwd[4096];
	size_t n;

	if (file[0] != '/' || !getcwd(cwd, sizeof(cwd)))
		return file;
	n = strlen(cwd);
	if (n > 1 && !strncmp(file, cwd, n) && file[n] == '/')
		return file + n + 1;
	return file;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

void pst_frame_format(const struct pst_frame *f, char *buf, size_t len)
{
	if (!len)
		return;
	if (!f->module && !f->function)
		snprintf(buf, len, "[0x%" PRIx64 "]", f->offset);
	else if (!f->function)
		snprintf(buf, len, "[%s+0x%" PRIx64 "]", base_name(f->module), f->offset);
	else if (f->file && f->line > 0)
		snprintf(buf, len, "%s (%s:%d)", f->function, relative_file(f->file), f->line);
	else if (f->module)
		snprintf(buf, len, "%s (%s)", f->function, base_name(f->module));
	else
		snprintf(buf, len, "%s", f->function);
}
