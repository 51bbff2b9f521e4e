/* SPDX-License-Identifier: MIT */
/* ZBLOCKs opened: the unpacked copy of a trace and the map from its offsets back to the file's. */
#ifndef PRESTANDA_TRACE_ZBLOCK_H
#define PRESTANDA_TRACE_ZBLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* From exp on, the copy came from file offset file: byte for byte (linear),
 * or unpacked from the ZBLOCK there. */
struct pst_zx_seg {
	uint64_t exp, file;
	bool linear;
};

struct pst_zx {
	const uint8_t *map; /* the copy, mapped; NULL: the trace holds no ZBLOCK */
	size_t size;
	struct pst_zx_seg *seg;
	size_t n, cap;
};

/* The copy of the trace mapped at map (records from off on): 1 made, 0 not
 * needed (no ZBLOCK), -1 it could not be made (no memory, no temporary file). */
int pst_zx_open(const uint8_t *map, size_t size, size_t off, struct pst_zx *zx);
/* The file's offset of the copy's offset off (off itself without a copy). */
uint64_t pst_zx_file_off(const struct pst_zx *zx, uint64_t off);
void pst_zx_free(struct pst_zx *zx);

#endif
