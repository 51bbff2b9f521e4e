/* SPDX-License-Identifier: MIT */
/* Offline DWARF unwinding of a sample's copied user stack with libdw's frame API, as perf does. */
#include <dwarf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "elfopen.h"
#include "sort.h"
#include "unwind.h"

/*
 * A walk is a function of the registers it starts from and the stack words
 * it reads: the CFA rules are found by address and computed from SP or BP,
 * and every saved register and return address comes from the stack. A
 * sample of a loop that starts at the same IP, SP and BP and whose stack
 * holds the same words wherever the last walk read gets that walk's frames
 * back without libdw (registers other than SP and BP in a CFA expression,
 * as in a stack realignment prologue, are the rare case this ignores).
 */
#define CACHE_SLOTS 256 /* per process, direct-mapped */
#define CACHE_READS 512 /* stack words logged per walk; longer walks are not cached */
#define READ_FAILED (1ull << 63)

struct walk {
	uint64_t ip, sp, bp;
	uint32_t nreads, depth;
	int max;
	bool complete;
	uint64_t *data; /* nreads offsets (READ_FAILED: outside the copy), nreads words, depth frames */
};

struct pst_unwinder {
	Dwfl *dwfl;
	pid_t pid;
	bool attached, tried_attach;
	/* Objects are opened for libdw as walks reach them: a process maps
	 * dozens and its samples touch a few. */
	struct pst_unw_module *mods; /* by lo, disjoint; path: our copy */
	bool *reported;
	int nmods;
	int nopen; /* reported and opened */
	/* the sample being unwound */
	const uint64_t *regs;
	const uint8_t *stack;
	size_t len;
	uint64_t sp;
	uint64_t *frames;
	int depth, max;
	struct walk *cache; /* CACHE_SLOTS, allocated with the first walk */
	uint32_t nreads; /* > CACHE_READS: overflowed */
	uint64_t reads[2 * CACHE_READS];
};

/* No separate debug files: .eh_frame is in every loaded object, and a
 * walk that needs more (a PLT stub, code without CFI) would otherwise load
 * and scan a whole .debug_frame per process. */
static int no_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
			const char *file_name, const char *debuglink_file, GElf_Word debuglink_crc,
			char **debuginfo_file_name)
{
	(void)mod;
	(void)userdata;
	(void)modname;
	(void)base;
	(void)file_name;
	(void)debuglink_file;
	(void)debuglink_crc;
	(void)debuginfo_file_name;
	return -1;
}

static const Dwfl_Callbacks offline_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = no_debuginfo,
	.section_address = dwfl_offline_section_address,
};

static pid_t next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
	(void)dwfl;
	(void)arg;
	(void)thread_argp;
	return 0; /* threads are asked for by tid (get_thread) */
}

static bool get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_argp)
{
	(void)dwfl;
	(void)tid;
	*thread_argp = arg;
	return true;
}

/* Only the copied stack is known memory: that is where the CFA rules point. */
static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
	struct pst_unwinder *u = arg;

	bool ok;

	(void)dwfl;
	ok = addr >= u->sp && addr - u->sp + sizeof(*result) <= u->len;
	if (ok)
		memcpy(result, u->stack + (addr - u->sp), sizeof(*result));
	if (u->nreads < CACHE_READS) {
		u->reads[u->nreads] = ok ? addr - u->sp : READ_FAILED | (addr - u->sp);
		u->reads[CACHE_READS + u->nreads] = ok ? *result : 0;
	}
	if (u->nreads <= CACHE_READS)
		u->nreads++;
	return ok;
}

static bool set_initial_registers(Dwfl_Thread *thread, void *arg)
{
	struct pst_unwinder *u = arg;
	Dwarf_Word regs[PST_UNW_NREGS];

	for (int i = 0; i < PST_UNW_NREGS; i++)
		regs[i] = u->regs[i];
	return dwfl_thread_state_registers(thread, 0, PST_UNW_NREGS, regs);
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
	.next_thread = next_thread,
	.get_thread = get_thread,
	.memory_read = memory_read,
	.set_initial_registers = set_initial_registers,
};

/* An object and its place in the caller's list. */
struct seq_mod {
	struct pst_unw_module m;
	int seq;
};

static int cmp_mod(const void *a, const void *b)
{
	const struct seq_mod *x = a, *y = b;

	if (x->m.lo != y->m.lo)
		return x->m.lo < y->m.lo ? -1 : 1;
	return x->seq - y->seq;
}

struct pst_unwinder *pst_unwinder_new(pid_t pid, const struct pst_unw_module *mods, int n)
{
	struct pst_unwinder *u = calloc(1, sizeof(*u));
	struct seq_mod *sm;
	int nsm = 0;

	if (!u)
		return NULL;
	u->pid = pid;
	u->mods = calloc(n ? n : 1, sizeof(*u->mods));
	u->reported = calloc(n ? n : 1, sizeof(*u->reported));
	u->dwfl = dwfl_begin(&offline_callbacks);
	if (!u->mods || !u->reported || !u->dwfl) {
		pst_unwinder_free(u);
		return NULL;
	}
	/* By address, each address in one object: where two overlap (a
	 * stale map, a library unloaded and another loaded there), the one
	 * that starts lower keeps the addresses, at the same start the one
	 * listed first. */
	sm = calloc(n ? n : 1, sizeof(*sm));
	if (!sm) {
		pst_unwinder_free(u);
		return NULL;
	}
	for (int i = 0; i < n; i++)
		if (mods[i].lo < mods[i].hi && mods[i].path)
			sm[nsm++] = (struct seq_mod){ mods[i], i };
	pst_sort(sm, (size_t)nsm, sizeof(*sm), cmp_mod);
	for (int i = 0; i < nsm; i++) {
		if (u->nmods && sm[i].m.lo < u->mods[u->nmods - 1].hi)
			continue;
		u->mods[u->nmods] = sm[i].m;
		u->mods[u->nmods].path = strdup(sm[i].m.path);
		if (!u->mods[u->nmods].path) {
			free(sm);
			pst_unwinder_free(u);
			return NULL;
		}
		u->nmods++;
	}
	free(sm);
	return u;
}

/* The index of the object holding addr, or -1. */
static int module_at(const struct pst_unwinder *u, uint64_t addr)
{
	int lo = 0, hi = u->nmods;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;

		if (addr < u->mods[mid].lo)
			hi = mid;
		else if (addr >= u->mods[mid].hi)
			lo = mid + 1;
		else
			return mid;
	}
	return -1;
}

/* Open object i for libdw (once, whether it can be or not): only a regular
 * ELF file, never blocking on what a trace names. */
static bool report_one(struct pst_unwinder *u, int i, bool *added)
{
	char why[256];
	int fd;

	if (u->reported[i])
		return false;
	u->reported[i] = true;
	fd = pst_elf_open(u->mods[i].path, NULL, why, sizeof(why));
	if (fd < 0)
		return false;
	if (!*added)
		dwfl_report_begin_add(u->dwfl);
	*added = true;
	/* On success the descriptor is libdw's. */
	if (!dwfl_report_elf(u->dwfl, u->mods[i].path, u->mods[i].path, fd, u->mods[i].bias,
			     false)) {
		close(fd);
		return false;
	}
	u->nopen++;
	return true;
}

/* Open for libdw the objects holding any of addrs (when all and none of
 * them could be, the first object that opens: libdw needs one to attach):
 * whether one was new. A file that cannot be opened leaves its frames to
 * the frame-pointer fallback. */
static bool report_modules(struct pst_unwinder *u, const uint64_t *addrs, int n, bool all)
{
	bool added = false, any = false;

	for (int j = 0; j < n; j++) {
		int i = module_at(u, addrs[j]);

		if (i >= 0)
			any |= report_one(u, i, &added);
	}
	for (int i = 0; all && !any && !u->nopen && i < u->nmods; i++)
		any = report_one(u, i, &added);
	if (added)
		dwfl_report_end(u->dwfl, NULL, NULL);
	return any;
}

/* The first walk: libdw is attached once an object is open. */
static void attach(struct pst_unwinder *u, uint64_t ip)
{
	if (!report_modules(u, &ip, 1, false))
		report_modules(u, NULL, 0, true); /* JIT code or a stale map: any one object */
	u->attached = dwfl_attach_state(u->dwfl, NULL, u->pid, &thread_callbacks, u);
	if (!u->attached && report_modules(u, NULL, 0, true))
		u->attached = dwfl_attach_state(u->dwfl, NULL, u->pid, &thread_callbacks, u);
}

bool pst_unwinder_covers(const struct pst_unwinder *u, uint64_t addr)
{
	return module_at(u, addr) >= 0;
}

static int frame_cb(Dwfl_Frame *state, void *arg)
{
	struct pst_unwinder *u = arg;
	Dwarf_Addr pc;
	bool activation;

	if (!dwfl_frame_pc(state, &pc, &activation) || !pc)
		return DWARF_CB_ABORT;
	/* A return address of the caller when !activation. */
	u->frames[u->depth++] = pc;
	return u->depth < u->max ? DWARF_CB_OK : DWARF_CB_ABORT;
}

static struct walk *cache_slot(struct pst_unwinder *u, const uint64_t regs[PST_UNW_NREGS])
{
	uint64_t h = regs[PST_UNW_IP] * 0x9e3779b97f4a7c15ull ^ regs[PST_UNW_SP] * 0xc2b2ae3d27d4eb4full ^
		     regs[PST_UNW_BP];

	if (!u->cache)
		u->cache = calloc(CACHE_SLOTS, sizeof(*u->cache));
	return u->cache ? &u->cache[(h ^ h >> 29) % CACHE_SLOTS] : NULL;
}

/* Whether w's walk applies to this sample: same start, same words read. */
static bool cache_hit(const struct walk *w, const struct pst_unwinder *u,
		      const uint64_t regs[PST_UNW_NREGS])
{
	if (!w->data || w->ip != regs[PST_UNW_IP] || w->sp != regs[PST_UNW_SP] ||
	    w->bp != regs[PST_UNW_BP] || w->max != u->max)
		return false;
	for (uint32_t i = 0; i < w->nreads; i++) {
		uint64_t off = w->data[i] & ~READ_FAILED;
		bool ok = off + sizeof(uint64_t) <= u->len;

		if (ok != !(w->data[i] & READ_FAILED) ||
		    (ok && memcmp(u->stack + off, &w->data[w->nreads + i], sizeof(uint64_t))))
			return false;
	}
	return true;
}

static void cache_store(struct walk *w, const struct pst_unwinder *u,
			const uint64_t regs[PST_UNW_NREGS], bool complete)
{
	uint64_t *data;

	if (u->nreads > CACHE_READS)
		return;
	data = malloc((2 * (size_t)u->nreads + (size_t)u->depth) * sizeof(*data));
	if (!data)
		return;
	free(w->data);
	memcpy(data, u->reads, u->nreads * sizeof(*data));
	memcpy(data + u->nreads, u->reads + CACHE_READS, u->nreads * sizeof(*data));
	memcpy(data + 2 * u->nreads, u->frames, (size_t)u->depth * sizeof(*data));
	*w = (struct walk){ regs[PST_UNW_IP], regs[PST_UNW_SP], regs[PST_UNW_BP], u->nreads,
			    (uint32_t)u->depth, u->max, complete, data };
}

int pst_unwind(struct pst_unwinder *u, pid_t tid, const uint64_t regs[PST_UNW_NREGS],
	       const uint8_t *stack, size_t len, uint64_t *frames, int max, bool *complete)
{
	struct walk *w;
	int rc;

	*complete = false;
	if (max < 1)
		return 0;
	u->regs = regs;
	u->stack = stack;
	u->len = len;
	u->sp = regs[PST_UNW_SP];
	u->frames = frames;
	u->depth = 0;
	u->max = max;
	if (!u->tried_attach) {
		u->tried_attach = true;
		attach(u, regs[PST_UNW_IP]);
	}
	if (!u->attached) {
		frames[0] = regs[PST_UNW_IP];
		return 1;
	}
	w = cache_slot(u, regs);
	if (w && cache_hit(w, u, regs)) {
		memcpy(frames, w->data + 2 * w->nreads, w->depth * sizeof(*frames));
		*complete = w->complete;
		return (int)w->depth;
	}
	/* A walk that reached an object not yet open is walked again with it. */
	do {
		u->depth = 0;
		u->nreads = 0;
		rc = dwfl_getthread_frames(u->dwfl, tid, frame_cb, u);
	} while (u->depth && report_modules(u, frames, u->depth, false));
	*complete = rc == 0;
	if (!u->depth) {
		frames[0] = regs[PST_UNW_IP];
		u->depth = 1;
	}
	if (w)
		cache_store(w, u, regs, *complete);
	return u->depth;
}

void pst_unwinder_free(struct pst_unwinder *u)
{
	if (!u)
		return;
	if (u->dwfl)
		dwfl_end(u->dwfl);
	if (u->cache)
		for (int i = 0; i < CACHE_SLOTS; i++)
			free(u->cache[i].data);
	free(u->cache);
	for (int i = 0; i < u->nmods; i++)
		free((char *)u->mods[i].path);
	free(u->mods);
	free(u->reported);
	free(u);
}
