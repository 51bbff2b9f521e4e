/* SPDX-License-Identifier: MIT */
/* The process-wide table of distinct stacks (stacktab.c), shared by every thread. */
#ifndef PST_STACKTAB_H
#define PST_STACKTAB_H

#include <stdbool.h>
#include <stdint.h>

/* Capacity is 3/4 of 2^bits stacks; past it new stacks get id 0 (none). */
#define PST_STACKTAB_BITS 18

/* (Re)create an empty table; ids start at 1. 0, or -1 without memory. */
int pst_stacktab_init(void);

/* Hash of a stack; never 0. */
uint64_t pst_stacktab_hash(const uint64_t *frames, unsigned depth);

/* Id of this stack, 0 if not in the table. Lock-free. */
uint32_t pst_stacktab_find(uint64_t hash, const uint64_t *frames, unsigned depth);

/* Id of this stack, inserting it if new (*added true then); 0 when full. */
uint32_t pst_stacktab_add(uint64_t hash, const uint64_t *frames, unsigned depth, bool *added);

/* At most this many bytes of frames (the memory cap); past it new stacks get id 0. */
void pst_stacktab_limit(uint64_t bytes);

/* Held across fork so that the child never inherits it taken. */
void pst_stacktab_lock(bool lock);

#endif
