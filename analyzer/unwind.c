/* SPDX-License-Identifier: MIT */
/* Offline DWARF unwinding of a sample's copied user stack with libdw's frame API, as perf does. */
#include <dwarf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unwind.h"

struct pst_unwinder {
	Dwfl *dwfl;
	pid_t pid;
	bool attached;
	struct pst_unw_module *mods; /* ranges only, for pst_unwinder_covers */
	int nmods;
	/* the sample being unwound */
	const uint64_t *regs;
	const uint8_t *stack;
	size_t len;
	uint64_t sp;
	uint64_t *frames;
	int depth, max;
};

static const Dwfl_Callbacks offline_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
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

	(void)dwfl;
	if (addr < u->sp || addr - u->sp + sizeof(*result) > u->len)
		return false;
	memcpy(result, u->stack + (addr - u->sp), sizeof(*result));
	return true;
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

struct pst_unwinder *pst_unwinder_new(pid_t pid, const struct pst_unw_module *mods, int n)
{
	struct pst_unwinder *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	u->pid = pid;
	u->mods = calloc(n ? n : 1, sizeof(*u->mods));
	u->dwfl = dwfl_begin(&offline_callbacks);
	if (!u->mods || !u->dwfl) {
		pst_unwinder_free(u);
		return NULL;
	}
	dwfl_report_begin(u->dwfl);
	for (int i = 0; i < n; i++) {
		u->mods[u->nmods].lo = mods[i].lo;
		u->mods[u->nmods].hi = mods[i].hi;
		u->nmods++;
		/* A file that cannot be opened leaves its frames to the
		 * frame-pointer fallback. */
		dwfl_report_elf(u->dwfl, mods[i].path, mods[i].path, -1, mods[i].bias, false);
	}
	dwfl_report_end(u->dwfl, NULL, NULL);
	u->attached = dwfl_attach_state(u->dwfl, NULL, pid, &thread_callbacks, u);
	return u;
}

bool pst_unwinder_covers(const struct pst_unwinder *u, uint64_t addr)
{
	for (int i = 0; i < u->nmods; i++)
		if (addr >= u->mods[i].lo && addr < u->mods[i].hi)
			return true;
	return false;
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

int pst_unwind(struct pst_unwinder *u, pid_t tid, const uint64_t regs[PST_UNW_NREGS],
	       const uint8_t *stack, size_t len, uint64_t *frames, int max, bool *complete)
{
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
	if (!u->attached) {
		frames[0] = regs[PST_UNW_IP];
		return 1;
	}
	rc = dwfl_getthread_frames(u->dwfl, tid, frame_cb, u);
	*complete = rc == 0;
	if (!u->depth) {
		frames[0] = regs[PST_UNW_IP];
		u->depth = 1;
	}
	return u->depth;
}

void pst_unwinder_free(struct pst_unwinder *u)
{
	if (!u)
		return;
	if (u->dwfl)
		dwfl_end(u->dwfl);
	free(u->mods);
	free(u);
}
