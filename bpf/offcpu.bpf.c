// SPDX-License-Identifier: GPL-2.0
/* Off-CPU time: sched_switch stamps a blocked thread's switch-out and charges the wait to its stack. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "offcpu.h"
#include "stackcopy.bpf.h"

const volatile bool filter_pid = false;
const volatile bool dwarf = true;
const volatile bool user_stacks = true;
const volatile bool kernel_stacks = true;
const volatile __u64 min_ns = 1000; /* shorter waits are not counted */

__u32 targ_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, PST_BPF_MAX_DEPTH * sizeof(__u64));
	__uint(max_entries, 16384);
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct pst_bpf_start);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct pst_bpf_key);
	__type(value, struct pst_bpf_offval);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, PST_BPF_RING_BYTES);
} events SEC(".maps");

/* Kernels before 5.14 call the field state. */
struct task_struct___pre514 {
	volatile long state;
} __attribute__((preserve_access_index));

static __always_inline bool task_blocked(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state) != 0;
	return BPF_CORE_READ((struct task_struct___pre514 *)t, state) != 0;
}

static __always_inline void switch_out(void *ctx, struct task_struct *prev, bool btf)
{
	struct pst_bpf_start s = {};
	struct pst_bpf_sample *e;
	__u32 tid = BPF_CORE_READ(prev, pid);
	bool has_mm;

	s.pid = BPF_CORE_READ(prev, tgid);
	if (!tid || (filter_pid && s.pid != targ_tgid) || !task_blocked(prev))
		return;
	s.ts = bpf_ktime_get_ns();
	has_mm = task_has_mm(prev);
	/* prev is still current here: stacks are its own. */
	s.kstack = kernel_stacks ? stack_id(ctx, &stacks, 0, PST_BPF_LOST_KSTACKS) : -1;
	s.ustack = user_stacks && has_mm ?
			   stack_id(ctx, &stacks, BPF_F_USER_STACK, PST_BPF_LOST_USTACKS) :
			   -1;
	bpf_get_current_comm(s.comm, sizeof(s.comm));
	if (btf && dwarf && user_stacks && has_mm) {
		e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
		if (e) {
			e->h.type = PST_BPF_OFF;
			e->h.pid = s.pid;
			e->h.tid = tid;
			e->h.ustack = s.ustack;
			e->h.kstack = s.kstack;
			e->h.ts = s.ts;
			__builtin_memcpy(e->h.comm, s.comm, sizeof(s.comm));
			copy_user_stack(e, prev);
			bpf_ringbuf_submit(e, rb_wakeup(&events, PST_BPF_RING_BYTES));
			s.copied = 1;
		} else {
			count_stat(PST_BPF_LOST_EVENTS);
		}
	}
	bpf_map_update_elem(&start, &tid, &s, BPF_ANY);
}

static __always_inline void switch_in(struct task_struct *next)
{
	__u32 tid = BPF_CORE_READ(next, pid);
	struct pst_bpf_start *s = bpf_map_lookup_elem(&start, &tid);
	struct pst_bpf_offval *v, init = {};
	struct pst_bpf_key key = {};
	struct pst_bpf_wake *w;
	__u64 delta;

	if (!s)
		return;
	delta = bpf_ktime_get_ns() - s->ts;
	if (delta < min_ns)
		goto out;
	if (s->copied) {
		w = bpf_ringbuf_reserve(&events, sizeof(*w), 0);
		if (w) {
			__builtin_memset(w, 0, sizeof(*w));
			w->h.type = PST_BPF_WAKE;
			w->h.pid = s->pid;
			w->h.tid = tid;
			w->h.ustack = s->ustack;
			w->h.kstack = s->kstack;
			w->h.ts = s->ts + delta;
			w->blocked_ns = delta;
			bpf_ringbuf_submit(w, rb_wakeup(&events, PST_BPF_RING_BYTES));
			goto out;
		}
		count_stat(PST_BPF_LOST_EVENTS);
	}
	key.pid = s->pid;
	key.tid = tid;
	key.ustack = s->ustack;
	key.kstack = s->kstack;
	__builtin_memcpy(key.comm, s->comm, sizeof(key.comm));
	v = bpf_map_lookup_elem(&counts, &key);
	if (!v) {
		bpf_map_update_elem(&counts, &key, &init, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&counts, &key);
		if (!v)
			goto out;
	}
	__sync_fetch_and_add(&v->ns, delta);
	__sync_fetch_and_add(&v->count, 1);
out:
	bpf_map_delete_elem(&start, &tid);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(pst_switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	switch_out(ctx, prev, true);
	switch_in(next);
	return 0;
}

/* For kernels whose sched_switch cannot be attached through BTF; user stacks by frame pointers only. */
SEC("raw_tp/sched_switch")
int BPF_PROG(pst_switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	switch_out(ctx, prev, false);
	switch_in(next);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
