/* SPDX-License-Identifier: MIT */
/* The reader's side of the preload's CPU samples: USAMPLE records unwound into stacks when a trace is opened. */
#ifndef PST_TRACE_UNWIND_H
#define PST_TRACE_UNWIND_H

#include <stddef.h>
#include <stdint.h>

#include "trace_read.h"

/* One unwound USAMPLE, found again by where its payload lies in the mapped file. */
struct pst_usample_ref {
	uintptr_t payload;
	uint64_t ts, tid, count, stack, flags;
};

/* Unwind every USAMPLE of t with DWARF CFI over the trace's modules, adding
 * their stacks to t->stacks (new ids above the trace's own). *out is sorted
 * by payload. Returns 0 (*n 0 when there are none), or -ENOMEM. */
int pst_trace_unwind(struct pst_trace *t, struct pst_usample_ref **out, size_t *n);

#endif
