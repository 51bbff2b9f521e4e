/* SPDX-License-Identifier: MIT */
/* The heap of several processes at once (a session's, for report --all). */
#ifndef PST_HEAP_ALL_H
#define PST_HEAP_ALL_H

#include <stdint.h>

struct pst_heap_peak {
	double bytes; /* the most bytes live in all the processes together */
	uint64_t ts;  /* when (CLOCK_MONOTONIC, shared by the processes) */
	uint64_t pid; /* the process whose event reached it */
};

/*
 * The peak of the heaps of the n traces' processes added at each moment:
 * their events merged by time (the clock is the machine's), each block
 * counted as the memory family counts it. Full mode only: 0; -ENODATA
 * when a trace is sampled; -EIO when one cannot be read; -ENOMEM.
 */
int pst_heap_peak_all(char *const *paths, int n, struct pst_heap_peak *out);

#endif
