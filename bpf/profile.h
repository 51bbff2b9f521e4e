/* SPDX-License-Identifier: MIT */
/* Types shared by the CPU and off-CPU probes and their loader: keys, counters and ring buffer events. */
#ifndef PST_BPF_PROFILE_H
#define PST_BPF_PROFILE_H

/* Frames per stack in the kernel's stack map (its own limit is 127). */
#define PST_BPF_MAX_DEPTH 127
/* User stack copied with a sample for DWARF unwinding, from the stack pointer up. */
#define PST_BPF_STACK_BYTES 16384
/* x86-64 struct pt_regs, as the kernel saves it on entry from user space. */
#define PST_BPF_NREGS 21
#define PST_BPF_REG_BP 4
#define PST_BPF_REG_IP 16
#define PST_BPF_REG_SP 19
#define PST_BPF_COMM_LEN 16
/* Each probe's ring buffer; records wake the loader only past a quarter of it. */
#define PST_BPF_RING_BYTES (16 << 20)

/* What a ring buffer record is (pst_bpf_hdr.type). */
enum pst_bpf_event_type {
	PST_BPF_NEW_PID = 1, /* a process was sampled for the first time: snapshot its maps */
	PST_BPF_SAMPLE = 2,  /* one CPU sample with a copy of its user stack */
	PST_BPF_OFF = 3,     /* a thread blocked: its user stack at the switch-out */
	PST_BPF_WAKE = 4,    /* the thread ran again after blocked_ns */
};

/* Indexes of the per-CPU stats array. */
enum pst_bpf_stat {
	PST_BPF_LOST_EVENTS = 0, /* ring buffer full: the sample fell back to frame pointers */
	PST_BPF_LOST_KSTACKS = 1,
	PST_BPF_LOST_USTACKS = 2,
	PST_BPF_NSTATS = 4,
};

/* Key of the in-kernel counters: one thread, one pair of stacks (ids in the
 * stack map, negative when there is none). */
struct pst_bpf_key {
	__u32 pid;
	__u32 tid;
	__s32 ustack;
	__s32 kstack;
	char comm[PST_BPF_COMM_LEN];
};

/* Off-CPU counter: time blocked and how many times. */
struct pst_bpf_offval {
	__u64 ns;
	__u64 count;
};

/* Every ring buffer record starts with this. */
struct pst_bpf_hdr {
	__u32 type;
	__u32 pid;
	__u32 tid;
	__s32 ustack; /* frame-pointer user stack in the stack map, the fallback */
	__s32 kstack;
	__u32 stack_len; /* bytes of stack[] that were copied */
	__u64 ts;
	char comm[PST_BPF_COMM_LEN];
};

/* PST_BPF_SAMPLE and PST_BPF_OFF. */
struct pst_bpf_sample {
	struct pst_bpf_hdr h;
	__u64 regs[PST_BPF_NREGS];
	__u8 stack[PST_BPF_STACK_BYTES];
};

/* PST_BPF_WAKE and PST_BPF_NEW_PID. */
struct pst_bpf_wake {
	struct pst_bpf_hdr h;
	__u64 blocked_ns;
};

#endif
