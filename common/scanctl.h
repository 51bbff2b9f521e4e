/* SPDX-License-Identifier: MIT */
/* The control block of the scan on demand: `prestanda scan PID` writes it in the running process, the preload's timer thread answers. */
#ifndef PST_SCANCTL_H
#define PST_SCANCTL_H

#include <stdint.h>

/*
 * libprestanda.so exports one of these as pst_scan_ctl. `prestanda scan`
 * finds it by its dynamic symbol, checks magic, sets requested to done + 1
 * with process_vm_writev (the rights ptrace needs, no stop, no signal) and
 * reads it until done reaches requested; the timer thread sees the request
 * at its next wake-up (at least once a metrics interval), scans, writes
 * LEAK_SCAN (flags bit 1) and its list, and fills blocks and lost with the
 * raw, unweighted counts of the sampled (or, --full, all) live blocks.
 */
#define PST_SCAN_MAGIC 0x70737473636e3031ull /* "pstscn01" */
#define PST_SCAN_SYMBOL "pst_scan_ctl"

struct pst_scan_ctl {
	uint64_t magic;
	uint64_t requested, done;
	uint64_t blocks, lost;
};

#endif
