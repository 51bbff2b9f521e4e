/* SPDX-License-Identifier: MIT */
/* Internal interfaces of `prestanda record`: process maps, kernel symbols, the trace writer. */
#ifndef PST_RECORD_H
#define PST_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* procmaps.c: the objects a process has mapped, read from /proc/PID/maps. */
struct pst_pmod {
	uint64_t bias, lo, hi;
	char *path;
	uint8_t build_id[64];
	size_t build_id_len;
};

/* File-backed objects of pid with load bias, address range and build id.
 * Returns how many (in *out, to pst_procmaps_free), or -errno. */
int pst_procmaps_read(pid_t pid, struct pst_pmod **out);
void pst_procmaps_free(struct pst_pmod *m, int n);

/* Where copies of objects that a process sees only in its own mount
 * namespace go (made on first need), so that its trace can be read after
 * it ends: DIR/BUILDID/NAME. 0, or -ENAMETOOLONG. */
int pst_procmaps_keep_in(const char *dir);

/* Forget the ELF files read so far (each is read once while unchanged). */
void pst_procmaps_cache_free(void);

/* record_metrics.c: --metrics-textfile, CPU seconds sampled per process
 * for node_exporter. NULL (errno set) when the paths cannot be made. */
struct pst_recm;
struct pst_recm *pst_recm_new(const char *dir, const long *hz); /* *hz read at each write */
void pst_recm_add(struct pst_recm *m, uint32_t pid, uint64_t samples); /* m NULL: nothing */
void pst_recm_write(struct pst_recm *m);   /* after each drain */
void pst_recm_free(struct pst_recm *m);    /* and the file goes */

/* ksyms.c: kernel symbols from /proc/kallsyms. */
struct pst_ksyms;

/* NULL with errno set when /proc/kallsyms cannot be read. */
struct pst_ksyms *pst_ksyms_load(void);

/* The function containing addr: its name (NULL if none), start and module
 * ("" for the kernel image). */
const char *pst_ksyms_find(const struct pst_ksyms *k, uint64_t addr, uint64_t *start,
			   const char **module);
void pst_ksyms_free(struct pst_ksyms *k);

/* trace_write.c: a trace file with one writer, stacks deduplicated. */
struct pst_tw;

/* Create path (mode 0600, replaced if it exists) and write the header:
 * PROCESS with pid and exe. NULL after printing why. */
struct pst_tw *pst_tw_create(const char *path, uint64_t pid, const char *exe);

/* Append one framed inner record (at most 64 KiB). 0, or -errno. */
int pst_tw_record(struct pst_tw *w, const void *rec, size_t len);

/* The trace's id for this stack (innermost first), writing its STACK
 * record the first time; 0 for an empty stack or without memory. */
uint64_t pst_tw_stack(struct pst_tw *w, const uint64_t *frames, unsigned depth);

/* Write out what is buffered. 0, or -errno. */
int pst_tw_flush(struct pst_tw *w);

/* Flush, write END at end_ts and close. 0, or -errno. */
int pst_tw_close(struct pst_tw *w, uint64_t end_ts);

/* CLOCK_MONOTONIC in ns, the clock of every trace timestamp. */
uint64_t pst_tw_now(void);

#endif
