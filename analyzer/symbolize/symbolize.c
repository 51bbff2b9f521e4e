/* SPDX-License-Identifier: MIT */
/* Offline symbolization with libdwfl: each distinct file opened once for every address space, inlined frames, a cache, a string pool. */
#include <dlfcn.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <search.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <zlib.h>

#include "elfopen.h"
#include "grow.h"
#include "symbolize.h"
#include "hash.h"

/* From the C++ ABI runtime (libstdc++). */
char *__cxa_demangle(const char *mangled, char *buf, size_t *n, int *status);

/* Most frames one address expands to (inlining depth + 1). */
#define PST_MAX_INLINE 64
/* Files open in libdwfl at once; the least recently used is closed past it
 * (its symbols stay cached, it is opened again when an address not yet
 * seen needs it). */
#define MAX_OPEN_FILES 64
/* Distinct warnings kept; past them only their number is. */
#define MAX_WARNINGS 100

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
	return pst_fnv_bytes(PST_FNV_OFFSET, s, n);
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

/* ---- frames cache: (file, address in the file) -> frames ---------------- */

struct cache_slot {
	uint64_t addr;	/* relative to the file's own addresses */
	uint32_t file;	/* the file's index + 1; 0 = empty slot */
	uint32_t first; /* index in frames */
	uint32_t count;
};

struct cache {
	struct cache_slot *slots;
	size_t cap, count;
	struct pst_frame *frames;
	size_t nframes, frames_cap;
};

static size_t cache_hash(uint32_t file, uint64_t addr)
{
	return (size_t)hash_u64(addr ^ (uint64_t)file * 0x9e3779b97f4a7c15ULL);
}

static int cache_grow(struct cache *c)
{
	size_t cap = c->cap ? c->cap * 2 : 4096;
	struct cache_slot *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < c->cap; i++) {
		struct cache_slot *e = &c->slots[i];
		size_t j;

		if (!e->file)
			continue;
		j = cache_hash(e->file, e->addr) & (cap - 1);
		while (slots[j].file)
			j = (j + 1) & (cap - 1);
		slots[j] = *e;
	}
	free(c->slots);
	c->slots = slots;
	c->cap = cap;
	return 0;
}

static const struct cache_slot *cache_find(const struct cache *c, uint32_t file, uint64_t addr)
{
	size_t i;

	if (!c->cap)
		return NULL;
	i = cache_hash(file, addr) & (c->cap - 1);
	while (c->slots[i].file) {
		if (c->slots[i].addr == addr && c->slots[i].file == file)
			return &c->slots[i];
		i = (i + 1) & (c->cap - 1);
	}
	return NULL;
}

static int cache_put(struct cache *c, uint32_t file, uint64_t addr, const struct pst_frame *f,
		     int n)
{
	size_t i;

	if ((c->count + 1) * 4 > c->cap * 3 && cache_grow(c))
		return -ENOMEM;
	/* slots hold the first frame's index in 32 bits */
	if (c->nframes + n > UINT32_MAX ||
	    pst_grow(&c->frames, &c->frames_cap, c->nframes + n, sizeof(*c->frames), 4096))
		return -ENOMEM;
	i = cache_hash(file, addr) & (c->cap - 1);
	while (c->slots[i].file)
		i = (i + 1) & (c->cap - 1);
	c->slots[i].addr = addr;
	c->slots[i].file = file;
	c->slots[i].first = (uint32_t)c->nframes;
	c->slots[i].count = (uint32_t)n;
	memcpy(c->frames + c->nframes, f, n * sizeof(*f));
	c->nframes += n;
	c->count++;
	return 0;
}

/* ---- files and address spaces ------------------------------------------ */

/* One distinct path, shared by every address space (process) that maps it:
 * checked once when first declared, opened in libdwfl (at its own
 * addresses, bias 0) when an address first needs it. */
struct sym_file {
	const char *path; /* pooled */
	uint32_t idx;	  /* index + 1 in core->files */
	bool usable;	  /* a regular ELF file when declared */
	bool failed;	  /* libdwfl could not use it */
	bool dwarf_checked;
	const uint8_t *build_id; /* on disk; pooled */
	size_t build_id_len;
	uint64_t vlo, vhi; /* its PT_LOAD range */
	Dwfl *dwfl;	   /* NULL: not open */
	Dwfl_Module *mod;
	struct sym_file *prev, *next; /* open files, most recently used first */
};

/* What the address spaces of one analysis share. */
struct symcore {
	unsigned refs;
	struct strpool pool;
	struct strpool warned; /* every distinct warning, kept or not */
	struct cache cache;
	struct sym_file **files;
	size_t nfiles, files_cap;
	struct sym_file **by_path; /* open addressing on the pooled path */
	size_t by_path_cap;
	struct sym_file *lru_first, *lru_last;
	size_t nopen;
	const char **warnings; /* pooled in warned */
	size_t nwarnings, warnings_cap, dropped;
	const char **nodebug; /* objects without debug info: one summary line for all */
	size_t nnodebug, nodebug_cap;
};

/* One loaded object of an address space. */
struct sym_module {
	uint64_t lo, hi, bias;
	const char *path;      /* pooled */
	struct sym_file *file; /* NULL: a pseudo-object such as [vdso] */
};

struct pst_symbolizer {
	struct symcore *c;
	void *tree; /* struct sym_module by address (tsearch); their ranges are disjoint */
};

__attribute__((format(printf, 2, 3))) static void warn(struct symcore *c, const char *fmt, ...)
{
	char buf[4096];
	const char *w;
	size_t before = c->warned.count;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	w = pool_intern(&c->warned, buf);
	if (!w || c->warned.count == before)
		return;
	if (c->nwarnings >= MAX_WARNINGS) {
		c->dropped++;
		return;
	}
	pst_push(&c->warnings, &c->nwarnings, &c->warnings_cap, sizeof(*c->warnings), &w);
}

static const char *demangle(struct symcore *c, const char *name)
{
	const char *r;
	char *d;
	int status = -1;

	if (!name)
		return NULL;
	if (name[0] != '_' || name[1] != 'Z')
		return pool_intern(&c->pool, name);
	d = __cxa_demangle(name, NULL, NULL, &status);
	r = pool_intern(&c->pool, status == 0 && d ? d : name);
	free(d);
	return r;
}

/* ---- separate debug files, opened as carefully as the objects --------- */

#define DEBUG_DIR "/usr/lib/debug"

/* The GNU build id of the ELF file open at fd: its length (0: none), the
 * bits copied into out (up to outlen). */
static size_t fd_build_id(int fd, uint8_t *out, size_t outlen)
{
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	const void *bits;
	ssize_t n;

	if (!elf)
		return 0;
	n = dwelf_elf_gnu_build_id(elf, &bits);
	if (n > 0)
		memcpy(out, bits, (size_t)n < outlen ? (size_t)n : outlen);
	elf_end(elf);
	return n > 0 ? (size_t)n : 0;
}

static bool crc_matches(int fd, uint32_t want)
{
	unsigned char buf[65536];
	uLong crc = crc32(0, Z_NULL, 0);
	off_t off = 0;
	ssize_t n;

	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		crc = crc32(crc, buf, (uInt)n);
		off += n;
	}
	return n == 0 && (uint32_t)crc == want;
}

/* What a debug file must match: the build id (when len), else the CRC of a
 * .gnu_debuglink (when check_crc); main: the object itself, never taken. */
struct debug_want {
	const uint8_t *id;
	size_t len;
	bool check_crc;
	uint32_t crc;
	bool have_main;
	struct stat main;
};

/* path opened when it is a regular ELF file that matches w; -1 otherwise. */
static int try_debug(const char *path, const struct debug_want *w, char **name)
{
	struct stat st;
	char why[256];
	uint8_t id[64];
	int fd = pst_elf_open(path, &st, why, sizeof(why));

	if (fd < 0)
		return -1;
	if (w->have_main && st.st_dev == w->main.st_dev && st.st_ino == w->main.st_ino)
		goto out_close;
	if (w->len ? fd_build_id(fd, id, sizeof(id)) != w->len || memcmp(id, w->id, w->len) :
		     w->check_crc && !crc_matches(fd, w->crc))
		goto out_close;
	*name = strdup(path);
	if (!*name)
		goto out_close;
	return fd;
out_close:
	close(fd);
	return -1;
}

static int try_build_id_path(const uint8_t *id, size_t len, const struct debug_want *w,
			     char **name)
{
	char path[PATH_MAX], *q;

	if (len < 2)
		return -1;
	q = path + snprintf(path, sizeof(path), DEBUG_DIR "/.build-id/%02x/", id[0]);
	for (size_t i = 1; i < len && q < path + sizeof(path) - 16; i++)
		q += sprintf(q, "%02x", id[i]);
	strcpy(q, ".debug");
	return try_debug(path, w, name);
}

/* debuginfod, when the environment names servers and the library is there. */
static int try_debuginfod(const uint8_t *id, size_t len, char **name)
{
	typedef void *(*begin_fn)(void);
	typedef int (*find_fn)(void *, const unsigned char *, int, char **);
	typedef void (*end_fn)(void *);
	static void *lib;
	static bool tried;
	const char *urls = getenv("DEBUGINFOD_URLS");
	begin_fn begin;
	find_fn find;
	end_fn end;
	struct stat st;
	void *client;
	int fd;

	if (!len || !urls || !*urls)
		return -1;
	if (!tried) {
		tried = true;
		lib = dlopen("libdebuginfod.so.1", RTLD_LAZY | RTLD_LOCAL);
	}
	begin = lib ? (begin_fn)dlsym(lib, "debuginfod_begin") : NULL;
	find = lib ? (find_fn)dlsym(lib, "debuginfod_find_debuginfo") : NULL;
	end = lib ? (end_fn)dlsym(lib, "debuginfod_end") : NULL;
	if (!begin || !find || !end || !(client = begin()))
		return -1;
	fd = find(client, id, (int)len, name);
	end(client);
	if (fd >= 0 && (fstat(fd, &st) || !S_ISREG(st.st_mode))) {
		close(fd);
		free(*name);
		*name = NULL;
		fd = -1;
	}
	return fd < 0 ? -1 : fd;
}

/* dir + sub + file, tried. */
static int try_in(const char *dir, const char *sub, const char *file, const struct debug_want *w,
		  char **name)
{
	char path[PATH_MAX];

	if ((size_t)snprintf(path, sizeof(path), "%s%s/%s", dir, sub, file) >= sizeof(path))
		return -1;
	return try_debug(path, w, name);
}

/* The separate debug file of a module by its .gnu_debuglink (or its own
 * name + ".debug") next to it, in its .debug/ and under /usr/lib/debug. */
static int try_debuglink(const char *file_name, const char *link, const struct debug_want *w,
			 char **name)
{
	char dir[PATH_MAX], *canon = realpath(file_name, NULL);
	const char *paths[2] = { file_name, canon };
	int fd = -1;

	for (int i = 0; i < 2 && fd < 0; i++) {
		const char *slash;

		if (!paths[i] || (i && !strcmp(paths[0], paths[1])))
			continue;
		slash = strrchr(paths[i], '/');
		snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - paths[i]) : 1,
			 slash ? paths[i] : ".");
		fd = try_in(dir, "", link, w, name);
		if (fd < 0)
			fd = try_in(dir, "/.debug", link, w, name);
		if (fd < 0 && dir[0] == '/')
			fd = try_in(DEBUG_DIR, dir, link, w, name);
	}
	free(canon);
	return fd;
}

/*
 * libdwfl's find_debuginfo callback. dwfl_standard_find_debuginfo opens its
 * candidates with a plain open(2), and their names come from the trace (the
 * module's directory) and the file itself (.gnu_debuglink): a FIFO there
 * would block. The same places are searched here, each opened with
 * pst_elf_open and checked against the build id (or the link's CRC).
 * Called again for the dwz file of a module whose DWARF is already open.
 */
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
			  Dwarf_Addr base, const char *file_name, const char *debuglink_file,
			  GElf_Word debuglink_crc, char **debuginfo_file_name)
{
	struct debug_want w = { 0 };
	const unsigned char *bits = NULL;
	char local[NAME_MAX + 1];
	GElf_Addr vaddr;
	Dwarf_Addr bias;
	Dwarf *dw;
	int fd = -1, len;

	(void)userdata;
	(void)modname;
	(void)base;
	*debuginfo_file_name = NULL;
	errno = 0;
	if (!file_name)
		return -1;
	dw = dwfl_module_getdwarf(mod, &bias);
	if (dw) {
		/* The dwz file of DWARF already open. */
		const char *altname;
		const void *alt_id;
		ssize_t alen = dwelf_dwarf_gnu_debugaltlink(dw, &altname, &alt_id);
		const char *slash;

		if (alen <= 0)
			return -1;
		w.id = alt_id;
		w.len = (size_t)alen;
		fd = try_build_id_path(w.id, w.len, &w, debuginfo_file_name);
		if (fd < 0 && altname[0] == '/')
			fd = try_debug(altname, &w, debuginfo_file_name);
		slash = strrchr(altname, '/');
		if (fd < 0)
			fd = try_in(DEBUG_DIR, "/.dwz", slash ? slash + 1 : altname, &w,
				    debuginfo_file_name);
		if (fd < 0 && altname[0] != '/')
			fd = try_debuglink(file_name, altname, &w, debuginfo_file_name);
		if (fd < 0)
			fd = try_debuginfod(w.id, w.len, debuginfo_file_name);
		return fd;
	}
	len = dwfl_module_build_id(mod, &bits, &vaddr);
	if (len > 0) {
		w.id = bits;
		w.len = (size_t)len;
		fd = try_build_id_path(w.id, w.len, &w, debuginfo_file_name);
	}
	w.have_main = !stat(file_name, &w.main);
	if (fd < 0 && debuglink_file) {
		w.check_crc = debuglink_crc != 0;
		w.crc = debuglink_crc;
		fd = try_debuglink(file_name, debuglink_file, &w, debuginfo_file_name);
	}
	if (fd < 0 && !debuglink_file) {
		const char *slash = strrchr(file_name, '/');

		snprintf(local, sizeof(local), "%s.debug", slash ? slash + 1 : file_name);
		w.check_crc = false;
		fd = try_debuglink(file_name, local, &w, debuginfo_file_name);
	}
	if (fd < 0)
		fd = try_debuginfod(w.id, w.len, debuginfo_file_name);
	return fd;
}

static const Dwfl_Callbacks offline_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = find_debuginfo,
	.section_address = dwfl_offline_section_address,
};

/* ---- the shared files ---------------------------------------------------- */

static struct symcore *core_new(void)
{
	struct symcore *c = calloc(1, sizeof(*c));

	if (c)
		c->refs = 1;
	elf_version(EV_CURRENT);
	return c;
}

static void file_close(struct symcore *c, struct sym_file *f)
{
	if (!f->dwfl)
		return;
	dwfl_end(f->dwfl);
	f->dwfl = NULL;
	f->mod = NULL;
	if (f->prev)
		f->prev->next = f->next;
	else
		c->lru_first = f->next;
	if (f->next)
		f->next->prev = f->prev;
	else
		c->lru_last = f->prev;
	f->prev = f->next = NULL;
	c->nopen--;
}

static void core_put(struct symcore *c)
{
	if (!c || --c->refs)
		return;
	for (size_t i = 0; i < c->nfiles; i++) {
		file_close(c, c->files[i]);
		free(c->files[i]);
	}
	free(c->files);
	free(c->by_path);
	free(c->warnings);
	free(c->nodebug);
	free(c->cache.slots);
	free(c->cache.frames);
	pool_free(&c->pool);
	pool_free(&c->warned);
	free(c);
}

/* What a declared file is: a regular ELF file, its build id and its range. */
static void file_check(struct symcore *c, struct sym_file *f)
{
	char why[256];
	uint8_t id[64];
	size_t n, nph = 0;
	Elf *elf;
	int fd = pst_elf_open(f->path, NULL, why, sizeof(why));

	if (fd < 0) {
		warn(c, "%s: %s", f->path, why);
		return;
	}
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		warn(c, "%s: skipped: not an ELF file (%s)", f->path, elf_errmsg(-1));
		goto out;
	}
	f->usable = true;
	n = fd_build_id(fd, id, sizeof(id));
	if (n && n <= sizeof(id)) {
		uint8_t *copy = (uint8_t *)pool_alloc(&c->pool, n);

		if (copy) {
			memcpy(copy, id, n);
			f->build_id = copy;
			f->build_id_len = n;
		}
	}
	f->vlo = UINT64_MAX;
	if (!elf_getphdrnum(elf, &nph))
		for (size_t i = 0; i < nph; i++) {
			GElf_Phdr ph;

			if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
				continue;
			if (ph.p_vaddr < f->vlo)
				f->vlo = ph.p_vaddr;
			if (ph.p_vaddr + ph.p_memsz > f->vhi && ph.p_vaddr + ph.p_memsz >= ph.p_vaddr)
				f->vhi = ph.p_vaddr + ph.p_memsz;
		}
	if (f->vlo > f->vhi)
		f->vlo = f->vhi = 0;
out:
	elf_end(elf);
	close(fd);
}

/* The file of a pooled path, checked when new; NULL without memory. */
static struct sym_file *file_get(struct symcore *c, const char *path)
{
	struct sym_file *f;
	size_t j;

	if ((c->nfiles + 1) * 2 > c->by_path_cap) {
		size_t cap = c->by_path_cap ? c->by_path_cap * 2 : 256;
		struct sym_file **t = calloc(cap, sizeof(*t));

		if (!t)
			return NULL;
		for (size_t i = 0; i < c->nfiles; i++) {
			j = hash_u64((uintptr_t)c->files[i]->path) & (cap - 1);
			while (t[j])
				j = (j + 1) & (cap - 1);
			t[j] = c->files[i];
		}
		free(c->by_path);
		c->by_path = t;
		c->by_path_cap = cap;
	}
	for (j = hash_u64((uintptr_t)path) & (c->by_path_cap - 1); c->by_path[j];
	     j = (j + 1) & (c->by_path_cap - 1))
		if (c->by_path[j]->path == path)
			return c->by_path[j];
	if (pst_grow(&c->files, &c->files_cap, c->nfiles + 1, sizeof(*c->files), 64))
		return NULL;
	if (c->nfiles >= UINT32_MAX - 1 || !(f = calloc(1, sizeof(*f))))
		return NULL;
	f->path = path;
	f->idx = (uint32_t)++c->nfiles;
	c->files[c->nfiles - 1] = f;
	c->by_path[j] = f;
	file_check(c, f);
	return f;
}

/* f open in libdwfl, the most recently used; false when it cannot be. */
static bool file_open(struct symcore *c, struct sym_file *f)
{
	char why[256];
	int fd;

	if (f->dwfl) {
		if (f != c->lru_first) {
			f->prev->next = f->next;
			if (f->next)
				f->next->prev = f->prev;
			else
				c->lru_last = f->prev;
			f->prev = NULL;
			f->next = c->lru_first;
			c->lru_first->prev = f;
			c->lru_first = f;
		}
		return true;
	}
	if (!f->usable || f->failed)
		return false;
	while (c->nopen >= MAX_OPEN_FILES && c->lru_last)
		file_close(c, c->lru_last);
	/* Opened again: it may have been replaced since it was checked. */
	fd = pst_elf_open(f->path, NULL, why, sizeof(why));
	if (fd < 0) {
		warn(c, "%s: %s", f->path, why);
		f->failed = true;
		return false;
	}
	f->dwfl = dwfl_begin(&offline_callbacks);
	if (!f->dwfl) {
		warn(c, "%s: dwfl_begin: %s", f->path, dwfl_errmsg(-1));
		close(fd);
		f->failed = true;
		return false;
	}
	dwfl_report_begin(f->dwfl);
	/* On success the descriptor is libdwfl's. */
	f->mod = dwfl_report_elf(f->dwfl, f->path, f->path, fd, 0, false);
	if (!f->mod) {
		warn(c, "%s: cannot open (dwfl_report_elf: %s)", f->path, dwfl_errmsg(-1));
		close(fd);
	}
	dwfl_report_end(f->dwfl, NULL, NULL);
	if (!f->mod) {
		dwfl_end(f->dwfl);
		f->dwfl = NULL;
		f->failed = true;
		return false;
	}
	f->next = c->lru_first;
	if (c->lru_first)
		c->lru_first->prev = f;
	c->lru_first = f;
	if (!c->lru_last)
		c->lru_last = f;
	c->nopen++;
	return true;
}

/* ---- address spaces ------------------------------------------------------ */

static struct pst_symbolizer *symbolizer_on(struct symcore *c)
{
	struct pst_symbolizer *s = calloc(1, sizeof(*s));

	if (!s) {
		core_put(c);
		return NULL;
	}
	s->c = c;
	return s;
}

struct pst_symbolizer *pst_symbolizer_new(void)
{
	struct symcore *c = core_new();

	return c ? symbolizer_on(c) : NULL;
}

struct pst_symbolizer *pst_symbolizer_new_sharing(struct pst_symbolizer *other)
{
	if (!other)
		return pst_symbolizer_new();
	other->c->refs++;
	return symbolizer_on(other->c);
}

void pst_symbolizer_free(struct pst_symbolizer *s)
{
	if (!s)
		return;
	tdestroy(s->tree, free);
	core_put(s->c);
	free(s);
}

/* Characters of an operator's name that are no template brackets. */
#define OPERATOR_CHARS "<>=-"

char *pst_shorten_templates(const char *name)
{
	char *out = malloc(strlen(name) + 1), *o = out;
	int depth = 0;

	if (!out)
		return NULL;
	for (const char *p = name; *p;) {
		/* operator<, operator<<=, operator->: their '<' and '>' open and close nothing */
		if (!strncmp(p, "operator", 8) &&
		    (p == name || !(isalnum((unsigned char)p[-1]) || p[-1] == '_'))) {
			size_t n = 8 + strspn(p + 8, OPERATOR_CHARS);

			if (!depth)
				o = mempcpy(o, p, n);
			p += n;
			continue;
		}
		if (*p == '<' && !depth++)
			*o++ = '<';
		else if (*p == '>' && depth && !--depth)
			*o++ = '>';
		else if (!depth && *p != '<')
			*o++ = *p;
		p++;
	}
	*o = 0;
	return out;
}

/* Objects listed by name in the debug info summary; the rest are counted. */
#define NODEBUG_LISTED 4

/* One line for every object without debug info, rather than one each:
 * which ones, and the two ways to get file:line for them. */
static const char *nodebug_summary(struct symcore *c)
{
	char buf[2048];
	size_t n = 0;

	n += (size_t)snprintf(buf, sizeof(buf), "no debug info for ");
	for (size_t i = 0; i < c->nnodebug && i < NODEBUG_LISTED && n < sizeof(buf); i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? ", " : "", c->nodebug[i]);
	if (c->nnodebug > NODEBUG_LISTED && n < sizeof(buf))
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, " and %zu more",
				      c->nnodebug - NODEBUG_LISTED);
	if (n < sizeof(buf))
		snprintf(buf + n, sizeof(buf) - n,
			 ": for file:line install %s -dbgsym package%s, or set DEBUGINFOD_URLS",
			 c->nnodebug > 1 ? "their" : "its", c->nnodebug > 1 ? "s" : "");
	return pool_intern(&c->pool, buf);
}

const char *pst_symbolizer_warning(struct pst_symbolizer *s, size_t i)
{
	char buf[256];

	if (!s || i > s->c->nwarnings + 1)
		return NULL;
	if (i < s->c->nwarnings)
		return s->c->warnings[i];
	/* after the warnings: how many were dropped, then the summary */
	if (i == s->c->nwarnings && s->c->dropped) {
		snprintf(buf, sizeof(buf),
			 "%zu more warnings about objects not shown (the first %d are)",
			 s->c->dropped, MAX_WARNINGS);
		return pool_intern(&s->c->pool, buf);
	}
	if (i == s->c->nwarnings + !!s->c->dropped && s->c->nnodebug)
		return nodebug_summary(s->c);
	return NULL;
}

/* Order of disjoint ranges; overlapping ones compare equal. */
static int cmp_range(const void *a, const void *b)
{
	const struct sym_module *x = a, *y = b;

	if (x->hi <= y->lo)
		return -1;
	return x->lo >= y->hi ? 1 : 0;
}

/* An address (a pointer to a uint64_t) against a module's range. */
static int cmp_point(const void *a, const void *b)
{
	uint64_t addr = *(const uint64_t *)a;
	const struct sym_module *y = b;

	if (addr < y->lo)
		return -1;
	return addr >= y->hi ? 1 : 0;
}

int pst_symbolizer_mapping(struct pst_symbolizer *s, uint64_t addr, struct pst_mapping *out)
{
	struct sym_module *const *node = s ? tfind(&addr, &s->tree, cmp_point) : NULL;
	const struct sym_module *m = node ? *node : NULL;

	if (!m)
		return -1;
	*out = (struct pst_mapping){ .lo = m->lo, .hi = m->hi, .bias = m->bias, .path = m->path };
	if (m->file) {
		out->build_id = m->file->build_id;
		out->build_id_len = m->file->build_id_len;
	}
	return 0;
}

int pst_symbolizer_add_module(struct pst_symbolizer *s, const char *path, uint64_t bias,
			      uint64_t lo, uint64_t hi, const uint8_t *build_id,
			      size_t build_id_len)
{
	struct sym_module *m, **node;
	struct sym_file *f = NULL;

	if (!s || !path || !*path)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->bias = bias;
	m->lo = lo;
	m->hi = hi;
	if (lo < hi && tfind(m, &s->tree, cmp_range)) {
		free(m); /* a duplicate, or overlapping: the first one wins */
		return 0;
	}
	m->path = pool_intern(&s->c->pool, path);
	/* Pseudo-objects such as [vdso] have no file: nothing to check. */
	if (!m->path || (path[0] != '[' && !(f = file_get(s->c, m->path)))) {
		free(m);
		return -ENOMEM;
	}
	/* No range recorded: the file's own, at bias. */
	if (lo >= hi && f && f->vlo < f->vhi && bias + f->vhi > bias) {
		lo = bias + f->vlo;
		hi = bias + f->vhi;
	}
	m->lo = lo;
	m->hi = hi;
	m->file = f;
	if (lo >= hi) {
		free(m);
		return 0; /* holds no address */
	}
	node = tsearch(m, &s->tree, cmp_range);
	if (!node) {
		free(m);
		return -ENOMEM;
	}
	if (*node != m) {
		free(m); /* a duplicate, or overlapping: the first one wins */
		return 0;
	}
	if (f && f->usable && build_id && build_id_len &&
	    (f->build_id_len != build_id_len || memcmp(f->build_id, build_id, build_id_len)))
		warn(s->c,
		     "%s changed since the trace was recorded (build id differs): its symbols may be wrong",
		     f->path);
	return 0;
}

const char *pst_demangle(struct pst_symbolizer *s, const char *name)
{
	return demangle(s->c, name);
}

/* ---- resolving --------------------------------------------------------- */

/* The C++ linkage name demangled, else the plain name; follows abstract
 * origins and specifications. A linkage name that is no C++ name (a C asm
 * label such as glibc's __GI_ aliases) loses to DW_AT_name. */
static const char *die_function_name(struct symcore *c, Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	const char *linkage = NULL, *name = NULL;

	if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) ||
	    dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr))
		linkage = dwarf_formstring(&attr);
	if (linkage && linkage[0] == '_' && linkage[1] == 'Z') {
		const char *d = demangle(c, linkage);

		if (d && strcmp(d, linkage))
			return d;
	}
	if (dwarf_attr_integrate(die, DW_AT_name, &attr))
		name = dwarf_formstring(&attr);
	if (name)
		return pool_intern(&c->pool, name);
	return linkage ? pool_intern(&c->pool, linkage) : NULL;
}

/* Where the code around addr starts, from its .eh_frame entry: in stripped
 * code, what tells one function from the next. 0 when there is none. */
static uint64_t cfi_start(Dwfl_Module *mod, uint64_t addr)
{
	Dwarf_Addr bias, start, end;
	Dwarf_CFI *cfi = dwfl_module_eh_cfi(mod, &bias);
	Dwarf_Frame *fr;
	uint64_t r = 0;

	if (!cfi || addr < bias || dwarf_cfi_addrframe(cfi, addr - bias, &fr))
		return 0;
	/* the return address register, or -1 */
	if (dwarf_frame_info(fr, &start, &end, NULL) >= 0)
		r = start + bias;
	free(fr);
	return r;
}

static const char *symtab_name(struct symcore *c, Dwfl_Module *mod, uint64_t addr)
{
	GElf_Off off;
	GElf_Sym sym;
	const char *name = dwfl_module_addrinfo(mod, addr, &off, &sym, NULL, NULL, NULL);

	return name && *name ? demangle(c, name) : NULL;
}

/* The file of index idx in the line table of cu. */
static const char *cu_file(struct symcore *c, Dwarf_Die *cu, Dwarf_Word idx)
{
	Dwarf_Files *files;
	size_t nfiles;
	const char *f;

	if (dwarf_getsrcfiles(cu, &files, &nfiles) || idx >= nfiles)
		return NULL;
	f = dwarf_filesrc(files, idx, NULL, NULL);
	return f ? pool_intern(&c->pool, f) : NULL;
}

static void check_dwarf(struct symcore *c, struct sym_file *m)
{
	Dwarf_Addr bias;

	if (m->dwarf_checked)
		return;
	m->dwarf_checked = 1;
	if (!dwfl_module_getdwarf(m->mod, &bias))
		pst_push(&c->nodebug, &c->nnodebug, &c->nodebug_cap, sizeof(*c->nodebug), &m->path);
}

/* The source file (interned, NULL when unknown) and line of addr in m. */
static void source_line(struct symcore *c, struct sym_file *m, uint64_t addr,
			const char **file, int *lineno)
{
	Dwfl_Line *line = dwfl_module_getsrc(m->mod, addr);

	*file = NULL;
	*lineno = 0;
	if (line) {
		const char *src = dwfl_lineinfo(line, NULL, lineno, NULL, NULL, NULL);

		*file = pool_intern(&c->pool, src);
		if (!*file)
			*lineno = 0;
	}
}

/*
 * The scopes around addr, innermost first, into *scopes (freed by the
 * caller); returns their count, and the compile unit's DIE in *cudie.
 * dwarf_getscopes follows the innermost inlined scope to its abstract
 * definition, so the concrete callers come from dwarf_getscopes_die on
 * the innermost scope: that, its enclosing inlined scopes, then the
 * subprogram they were inlined into.
 */
static int concrete_scopes(struct sym_file *m, uint64_t addr, Dwarf_Die **cudie,
			   Dwarf_Die **scopes)
{
	Dwarf_Addr bias = 0;
	int nscopes;

	*scopes = NULL;
	*cudie = dwfl_module_addrdie(m->mod, addr, &bias);
	nscopes = *cudie ? dwarf_getscopes(*cudie, addr - bias, scopes) : 0;
	if (nscopes > 0) {
		Dwarf_Die *chain = NULL;
		int nchain = dwarf_getscopes_die(&(*scopes)[0], &chain);

		if (nchain > 0) {
			free(*scopes);
			*scopes = chain;
			nscopes = nchain;
		} else {
			free(chain);
		}
	}
	return nscopes;
}

/* Where the inlined scope was inlined: its caller's file and line. */
static void call_site(struct symcore *c, Dwarf_Die *cudie, Dwarf_Die *scope,
		      const char **file, int *lineno)
{
	Dwarf_Attribute attr;
	Dwarf_Word cfile, cline;

	*file = NULL;
	*lineno = 0;
	if (dwarf_attr(scope, DW_AT_call_file, &attr) && !dwarf_formudata(&attr, &cfile))
		*file = cu_file(c, cudie, cfile);
	if (dwarf_attr(scope, DW_AT_call_line, &attr) && !dwarf_formudata(&attr, &cline))
		*lineno = (int)cline;
}

static void set_frame(struct pst_frame *f, const char *function, const char *file, int lineno,
		      int inlined)
{
	f->function = function;
	f->file = file;
	f->line = lineno;
	f->inlined = inlined;
	f->decl_line = 0;
}

/* Frames from the inlined scopes out to their subprogram; *file and
 * *lineno start at addr's position and end at the outermost caller's. */
static int frames_of_scopes(struct symcore *c, Dwarf_Die *cudie, Dwarf_Die *scopes,
			    int nscopes, const char **file, int *lineno, struct pst_frame *f)
{
	int n = 0;

	for (int i = 0; i < nscopes && n < PST_MAX_INLINE; i++) {
		int tag = dwarf_tag(&scopes[i]);

		if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram)
			continue;
		set_frame(&f[n], die_function_name(c, &scopes[i]), *file, *lineno,
			  tag == DW_TAG_inlined_subroutine);
		if (dwarf_decl_line(&scopes[i], &f[n].decl_line))
			f[n].decl_line = 0;
		n++;
		if (tag == DW_TAG_subprogram)
			break;
		/* The caller's position is where this one was inlined. */
		call_site(c, cudie, &scopes[i], file, lineno);
	}
	return n;
}

/* Fill f (PST_MAX_INLINE entries) for addr (an address of the file itself) in m; returns the count. */
static int resolve(struct symcore *c, struct sym_file *m, uint64_t addr,
		   struct pst_frame *f)
{
	Dwarf_Die *cudie, *scopes;
	const char *file;
	int lineno, n, nscopes;

	check_dwarf(c, m);
	source_line(c, m, addr, &file, &lineno);
	nscopes = concrete_scopes(m, addr, &cudie, &scopes);
	n = frames_of_scopes(c, cudie, scopes, nscopes, &file, &lineno, f);
	free(scopes);

	if (n == 0 || f[n - 1].inlined) {
		/* No enclosing subprogram in DWARF: the symbol table names it. */
		if (n == PST_MAX_INLINE)
			n--;
		set_frame(&f[n++], NULL, file, lineno, 0);
	}
	if (!f[n - 1].function)
		f[n - 1].function = symtab_name(c, m->mod, addr);
	if (!f[n - 1].function)
		f[n - 1].fn_start = cfi_start(m->mod, addr);
	for (int i = 0; i < n; i++) {
		f[i].module = m->path;
		f[i].offset = addr;
		if (!f[i].file)
			f[i].line = 0;
	}
	return n;
}

int pst_symbolize(struct pst_symbolizer *s, uint64_t addr, struct pst_frame *out, int max)
{
	struct pst_frame f[PST_MAX_INLINE];
	const struct cache_slot *hit;
	struct sym_module *const *node;
	const struct sym_module *m;
	struct symcore *c = s->c;
	uint64_t rel;
	int n;

	if (max < 1)
		return 0;
	node = tfind(&addr, &s->tree, cmp_point);
	m = node ? *node : NULL;
	memset(f, 0, sizeof(f[0]));
	f[0].offset = addr;
	if (!m) {
		*out = f[0];
		return 1;
	}
	rel = addr - m->bias;
	f[0].module = m->path;
	f[0].offset = rel;
	if (!m->file || !m->file->usable) {
		*out = f[0];
		return 1;
	}
	hit = cache_find(&c->cache, m->file->idx, rel);
	if (hit) {
		n = (int)hit->count < max ? (int)hit->count : max;
		memcpy(out, c->cache.frames + hit->first, n * sizeof(*out));
		return n;
	}
	n = file_open(c, m->file) ? resolve(c, m->file, rel, f) : 1;
	cache_put(&c->cache, m->file->idx, rel, f, n);
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
