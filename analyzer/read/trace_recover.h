/* SPDX-License-Identifier: MIT */
/* Taking back the events a killed process left in its live file. */
#ifndef PST_TRACE_RECOVER_H
#define PST_TRACE_RECOVER_H

#include <stddef.h>

/*
 * trace has no END and its process is gone: append what TRACE.live kept
 * (each thread's buffer not yet written) and remove the live file. 1: events
 * were taken back, msg says how many; 0: nothing to do (no live file, the
 * process still runs, or the trace ended well); -1: msg says what failed.
 */
int pst_trace_recover(const char *trace, char *msg, size_t msglen);

#endif
