/* SPDX-License-Identifier: MIT */
/* Offline DWARF unwinding of a sample's registers and copied user stack, for `record` and the preload's CPU samples. */
#ifndef PST_UNWIND_H
#define PST_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Registers of a sample, in x86-64 DWARF numbering: rax, rdx, rcx, rbx,
 * rsi, rdi, rbp, rsp, r8..r15, rip. */
#define PST_UNW_NREGS 17
#define PST_UNW_BP 6
#define PST_UNW_SP 7
#define PST_UNW_IP 16

/* One object of the sampled address space. */
struct pst_unw_module {
	uint64_t bias, lo, hi;
	const char *path;
};

struct pst_unwinder;

/* An unwinder for pid over its objects mods (copied); NULL on failure. */
struct pst_unwinder *pst_unwinder_new(pid_t pid, const struct pst_unw_module *mods, int n);

/* Walk the stack of a sample: its registers and len bytes copied from the
 * stack pointer up. Writes up to max frames (frame 0 the interrupted
 * address, then return addresses); *complete tells whether the walk ended
 * at the outermost frame. Returns the depth. */
int pst_unwind(struct pst_unwinder *u, pid_t tid, const uint64_t regs[PST_UNW_NREGS],
	       const uint8_t *stack, size_t len, uint64_t *frames, int max, bool *complete);

/* Whether addr lies in one of the unwinder's objects. */
bool pst_unwinder_covers(const struct pst_unwinder *u, uint64_t addr);

void pst_unwinder_free(struct pst_unwinder *u);

#endif
