/* SPDX-License-Identifier: MIT */
/* Opening the object files a trace names: regular ELF files only, never blocking, never a terminal. */
#ifndef PST_ELFOPEN_H
#define PST_ELFOPEN_H

#include <stddef.h>
#include <sys/stat.h>

/*
 * Open path to read symbols from it. A path from a trace may name anything
 * (a FIFO, a device, a file the user should not have us read), so: stat it
 * and refuse all but regular files, open it O_RDONLY|O_NOCTTY|O_NONBLOCK|
 * O_CLOEXEC, fstat again, and check the ELF magic. Returns the descriptor,
 * or -1 with why ("cannot open (...)", "skipped: a FIFO, not a regular
 * file", "skipped: not an ELF file") in why. st (may be NULL) gets the
 * file's status.
 */
int pst_elf_open(const char *path, struct stat *st, char *why, size_t len);

#endif
