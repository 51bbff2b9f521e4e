/* SPDX-License-Identifier: MIT */
/* Types of the off-CPU probe: a blocked thread's switch-out, kept until it runs again. */
#ifndef PST_BPF_OFFCPU_H
#define PST_BPF_OFFCPU_H

#include "profile.h"

/* A thread that switched out blocked, by tid. */
struct pst_bpf_start {
	__u64 ts;
	struct pst_bpf_key key; /* the thread and its stacks, as counted */
	__u32 copied;           /* a PST_BPF_OFF record with its stack went to user space */
};

#endif
