// SPDX-License-Identifier: GPL-2.0
/* Kernel-side helpers shared by the probes: the user stack copy for DWARF unwinding and drop counters. */
#ifndef PST_STACKCOPY_BPF_H
#define PST_STACKCOPY_BPF_H

#define PST_EFAULT 14

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PST_BPF_NSTATS);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void count_stat(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &which);

	if (v)
		*v += 1;
}

/* A stack id, counting failures other than "no stack at all" as lost. */
static __always_inline __s32 stack_id(void *ctx, void *map, __u64 flags, __u32 stat)
{
	long id = bpf_get_stackid(ctx, map, flags);

	if (id < 0 && id != -PST_EFAULT)
		count_stat(stat);
	return (__s32)id;
}

/*
 * Submit flags for a ring buffer record: user space drains the buffer on a
 * timer, so a record wakes it only once the buffer is a quarter full (a
 * wakeup per sample cost the loader more than the sample itself).
 */
static __always_inline __u64 rb_wakeup(void *ring, __u64 ring_size)
{
	return bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA) > ring_size / 4 ? BPF_RB_FORCE_WAKEUP :
									  BPF_RB_NO_WAKEUP;
}

static __always_inline bool task_has_mm(struct task_struct *task)
{
	return BPF_CORE_READ(task, mm) != NULL;
}

/* Bytes above the top of the main thread's stack copied too: argc and
 * argv, in case an unwinder reads past _start's frame. */
#define PST_BPF_TOP_SLACK 64

/*
 * The user registers of task and as much of its stack as is readable from
 * the stack pointer up, to PST_BPF_STACK_BYTES. A process's main thread
 * knows the top of its stack (mm->start_stack: argc, right above _start's
 * frame), so a shallow stack costs one shallow read. Elsewhere, reads of
 * halving sizes down to one word, so that the end of the stack mapping
 * costs at most one failed read per size and the outermost frames, right
 * below it, are kept.
 */
static __always_inline void copy_user_stack(struct pst_bpf_sample *e, struct task_struct *task)
{
#if defined(__TARGET_ARCH_x86)
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	__u64 sp, top, len, off = 0;
	__u32 size = PST_BPF_STACK_BYTES;

	e->h.stack_len = 0;
	if (bpf_probe_read_kernel(e->regs, sizeof(e->regs), regs))
		return;
	sp = e->regs[PST_BPF_REG_SP];
	if (BPF_CORE_READ(task, pid) == BPF_CORE_READ(task, tgid)) {
		top = BPF_CORE_READ(task, mm, start_stack);
		len = (top - sp + PST_BPF_TOP_SLACK + 7) & ~7ull;
		if (top > sp && len <= PST_BPF_STACK_BYTES &&
		    !bpf_probe_read_user(e->stack, len, (void *)sp)) {
			e->h.stack_len = (__u32)len;
			return;
		}
	}
#pragma unroll
	for (int i = 0; i < 12; i++) { /* 16 KiB down to 8 bytes */
		if (off <= PST_BPF_STACK_BYTES - size &&
		    !bpf_probe_read_user(e->stack + off, size, (void *)(sp + off)))
			off += size;
		size >>= 1;
	}
	e->h.stack_len = (__u32)off;
#else
	e->h.stack_len = 0;
#endif
}

#endif
