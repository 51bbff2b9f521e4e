/* SPDX-License-Identifier: MIT */
/* libFuzzer targets: the trace reader (FUZZ_TRACE) or the JSON report reader used by diff (FUZZ_JSON). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "diff.h"
#include "trace_read.h"

/* The input as a file the readers can open by path. */
static int as_file(const uint8_t *data, size_t size, char *path, size_t len)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);

	if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
		perror("memfd_create/write");
		abort();
	}
	snprintf(path, len, "/proc/self/fd/%d", fd);
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], err[256];
	int fd = as_file(data, size, path, sizeof(path));

#ifdef FUZZ_JSON
	struct pst_summary s = { 0 };

	if (pst_summary_load(path, &s, err, sizeof(err)) == 0)
		pst_summary_free(&s);
#else
	struct pst_trace *t = NULL;
	struct pst_event ev;

	if (pst_trace_open(path, &t, err, sizeof(err)) == 0) {
		while (pst_trace_next(t, &ev) > 0)
			;
		pst_trace_close(t);
	}
#endif
	close(fd);
	return 0;
}
