/* SPDX-License-Identifier: MIT */
/* Opening the object files a trace names: a regular file with the ELF magic, or a reason why not. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "elfopen.h"

static const char *file_kind(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFIFO: return "a FIFO";
	case S_IFCHR: return "a character device";
	case S_IFBLK: return "a block device";
	case S_IFDIR: return "a directory";
	case S_IFSOCK: return "a socket";
	}
	return "not a regular file";
}

int pst_elf_open(const char *path, struct stat *st, char *why, size_t len)
{
	static const unsigned char magic[4] = { 0x7f, 'E', 'L', 'F' };
	unsigned char head[4];
	struct stat sb;
	ssize_t n;
	int fd;

	/* Devices are refused before they are opened: opening some has effects. */
	if (stat(path, &sb)) {
		snprintf(why, len, "cannot open (%s)", strerror(errno));
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(why, len, "skipped: %s, not a regular file", file_kind(sb.st_mode));
		return -1;
	}
	fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, len, "cannot open (%s)", strerror(errno));
		return -1;
	}
	/* It may have been replaced since the stat. */
	if (fstat(fd, &sb)) {
		snprintf(why, len, "skipped: fstat: %s", strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(why, len, "skipped: %s, not a regular file", file_kind(sb.st_mode));
		goto out_close;
	}
	n = pread(fd, head, sizeof(head), 0);
	if (n < 0) {
		snprintf(why, len, "skipped: read: %s", strerror(errno));
		goto out_close;
	}
	if (n != sizeof(head) || memcmp(head, magic, sizeof(magic))) {
		snprintf(why, len, "skipped: not an ELF file");
		goto out_close;
	}
	if (st)
		*st = sb;
	return fd;
out_close:
	close(fd);
	return -1;
}
