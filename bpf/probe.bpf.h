// SPDX-License-Identifier: GPL-2.0
/* What both probes (profile, offcpu) share: their settings, the stack map, the ring buffer, and how a stack is taken and sent. */
#ifndef PST_PROBE_BPF_H
#define PST_PROBE_BPF_H

#include "stackcopy.bpf.h"

/* Set before load by record.c. */
const volatile bool filter_pid = false; /* only targ_tgid */
const volatile bool dwarf = true;       /* copy user stacks for DWARF unwinding */
const volatile bool user_stacks = true;
const volatile bool kernel_stacks = true;

/* Writable after load: `record -- CMD` sets it once the command has started. */
__u32 targ_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, PST_BPF_MAX_DEPTH * sizeof(__u64));
	__uint(max_entries, 16384);
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, PST_BPF_RING_BYTES);
} events SEC(".maps");

/* The current task's stack ids, kernel and user (the user one only for
 * a task with memory of its own), as the settings ask; -1 for none. */
static __always_inline void take_stacks(void *ctx, bool has_mm, __s32 *kstack, __s32 *ustack)
{
	*kstack = kernel_stacks ? stack_id(ctx, &stacks, 0, PST_BPF_LOST_KSTACKS) : -1;
	*ustack = user_stacks && has_mm ?
			  stack_id(ctx, &stacks, BPF_F_USER_STACK, PST_BPF_LOST_USTACKS) :
			  -1;
}

/* A ring buffer record's header for the thread and stacks of key. */
static __always_inline void fill_hdr(struct pst_bpf_hdr *h, __u32 type, const struct pst_bpf_key *key,
				     __u64 ts)
{
	h->type = type;
	h->pid = key->pid;
	h->tid = key->tid;
	h->ustack = key->ustack;
	h->kstack = key->kstack;
	h->ts = ts;
}

/* A record of type type with a copy of task's user stack to user space,
 * for DWARF unwinding; false, counted as a lost event, when the ring
 * buffer is full (the frame-pointer stack ids then serve). */
static __always_inline bool send_stack(__u32 type, const struct pst_bpf_key *key, __u64 ts,
				       struct task_struct *task)
{
	struct pst_bpf_sample *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		count_stat(PST_BPF_LOST_EVENTS);
		return false;
	}
	fill_hdr(&e->h, type, key, ts);
	__builtin_memcpy(e->h.comm, key->comm, sizeof(key->comm));
	copy_user_stack(e, task);
	bpf_ringbuf_submit(e, rb_wakeup(&events, PST_BPF_RING_BYTES));
	return true;
}

#endif
