/* SPDX-License-Identifier: MIT */
/* The module map: loaded objects with load bias, address range and build id, written as MODULE records. */
#include <dlfcn.h>
#include <elf.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "pst.h"

struct mod {
	uint64_t bias, lo, hi;
};

/* Objects already written to this trace. Past the limit, more are written
 * but not remembered (the reader dedups). */
#define MAX_MODS 1024
static struct mod mods[MAX_MODS];
static int nmods;
static bool mods_dirty;
static uint64_t own_lo, own_hi;
static pthread_mutex_t mods_lock = PTHREAD_MUTEX_INITIALIZER;

static void phdr_range(const struct dl_phdr_info *info, uint64_t *lo, uint64_t *hi)
{
	*lo = UINT64_MAX;
	*hi = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uint64_t a = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type != PT_LOAD)
			continue;
		if (a < *lo)
			*lo = a;
		if (a + ph->p_memsz > *hi)
			*hi = a + ph->p_memsz;
	}
}

static int find_own(struct dl_phdr_info *info, size_t size, void *arg)
{
	uint64_t lo, hi, addr = (uintptr_t)arg;

	(void)size;
	phdr_range(info, &lo, &hi);
	if (addr >= lo && addr < hi) {
		own_lo = lo;
		own_hi = hi;
		return 1;
	}
	return 0;
}

void pst_modules_init(void)
{
	dl_iterate_phdr(find_own, (void *)(uintptr_t)&pst_modules_init);
}

bool pst_modules_own(uint64_t addr)
{
	return addr >= own_lo && addr < own_hi;
}

/* The GNU build id note, read from the loaded image. */
static size_t build_id(const struct dl_phdr_info *info, const uint8_t **id)
{
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const uint8_t *p, *end;

		if (ph->p_type != PT_NOTE)
			continue;
		p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
		end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
			const uint8_t *name = p + sizeof(*n);
			const uint8_t *desc = name + ((n->n_namesz + 3) & ~3u);

			if (desc + n->n_descsz > end)
				break;
			if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 &&
			    !memcmp(name, "GNU", 4)) {
				*id = desc;
				return n->n_descsz;
			}
			p = desc + ((n->n_descsz + 3) & ~3u);
		}
	}
	return 0;
}

static bool mod_written(uint64_t bias, uint64_t lo)
{
	for (int i = 0; i < nmods; i++)
		if (mods[i].bias == bias && mods[i].lo == lo)
			return true;
	return false;
}

static int emit_one(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct pst_thr *t = arg;
	uint8_t pay[3 * PST_VARINT_MAX + PATH_MAX + 2 * PST_VARINT_MAX + 64], *q = pay;
	char exe[PATH_MAX];
	const char *path = info->dlpi_name;
	const uint8_t *id = NULL;
	size_t idlen = build_id(info, &id);
	uint64_t lo, hi;

	(void)size;
	phdr_range(info, &lo, &hi);
	if (hi <= lo || mod_written(info->dlpi_addr, lo))
		return 0;
	if (!path || !*path) { /* the main program */
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		exe[n > 0 ? n : 0] = 0;
		path = exe;
	}
	if (path[0] != '/' || idlen > 64) /* the vDSO has no file */
		return 0;
	q = pst_put_varint(q, info->dlpi_addr);
	q = pst_put_varint(q, lo);
	q = pst_put_varint(q, hi);
	q = pst_put_bytes(q, path, strnlen(path, PATH_MAX - 1));
	q = pst_put_bytes(q, id, idlen);
	t->pos = pst_enc_framed(pst_thr_room(t, sizeof(pay) + 1 + PST_VARINT_MAX),
				PST_REC_MODULE, pay, (size_t)(q - pay));
	if (nmods < MAX_MODS)
		mods[nmods++] = (struct mod){ info->dlpi_addr, lo, hi };
	return 0;
}

static bool frames_known(const uint64_t *frames, unsigned depth)
{
	for (unsigned f = 0; f < depth; f++) {
		int i;
		for (i = 0; i < nmods; i++)
			if (frames[f] >= mods[i].lo && frames[f] < mods[i].hi)
				break;
		if (i == nmods)
			return false;
	}
	return true;
}

/*
 * Before a new stack is written: if one of its frames lies in no module
 * written so far (a dlopen, or a library the C library loaded itself), or a
 * dlclose happened, write the objects that are new. Only new stacks get
 * here, so this is off the fast path.
 */
void pst_modules_cover(struct pst_thr *t, const uint64_t *frames, unsigned depth)
{
	pthread_mutex_lock(&mods_lock);
	if (mods_dirty) {
		nmods = 0; /* a closed library's range may now hold another */
		mods_dirty = false;
	}
	if (!nmods || !frames_known(frames, depth))
		dl_iterate_phdr(emit_one, t);
	pthread_mutex_unlock(&mods_lock);
}

/* CPU samples: their frames are only known once unwound, offline. */
void pst_modules_write_new(struct pst_thr *t)
{
	uint64_t nowhere = 0;

	pst_modules_cover(t, &nowhere, 1);
}

void pst_modules_dirty(void)
{
	__atomic_store_n(&mods_dirty, true, __ATOMIC_RELAXED);
}

void pst_modules_lock(bool lock)
{
	if (lock)
		pthread_mutex_lock(&mods_lock);
	else
		pthread_mutex_unlock(&mods_lock);
}

void pst_modules_reset(void)
{
	pthread_mutex_init(&mods_lock, NULL);
	nmods = 0;
	mods_dirty = false;
}
