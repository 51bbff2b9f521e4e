/* SPDX-License-Identifier: MIT */
/* `prestanda record` in a build without eBPF support: say so. */
#include <stdio.h>

#include "cli.h"

int pst_record_run(struct pst_record_options *o)
{
	(void)o;
	fputs("prestanda: record: this prestanda was built without eBPF support (it needs clang, "
	      "bpftool, libbpf and a kernel with BTF at build time)\n",
	      stderr);
	return 3;
}
