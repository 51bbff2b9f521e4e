// SPDX-License-Identifier: GPL-2.0
/* Off-CPU time: sched_switch stamps a blocked thread's switch-out and charges the wait to its stack. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "offcpu.h"
#include "probe.bpf.h"

const volatile __u64 min_ns = 1000; /* shorter waits are not counted */

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
	bool has_mm;

	s.key.tid = BPF_CORE_READ(prev, pid);
	s.key.pid = BPF_CORE_READ(prev, tgid);
	if (!s.key.tid || (filter_pid && s.key.pid != targ_tgid) || !task_blocked(prev))
		return;
	s.ts = bpf_ktime_get_ns();
	has_mm = task_has_mm(prev);
	/* prev is still current here: stacks are its own. */
	take_stacks(ctx, has_mm, &s.key.kstack, &s.key.ustack);
	bpf_get_current_comm(s.key.comm, sizeof(s.key.comm));
	if (btf && dwarf && user_stacks && has_mm)
		s.copied = send_stack(PST_BPF_OFF, &s.key, s.ts, prev);
	bpf_map_update_elem(&start, &s.key.tid, &s, BPF_ANY);
}

/* The wait of a thread whose stack went with its PST_BPF_OFF record: its
 * end, for user space to charge there; false when the ring buffer is full. */
static __always_inline bool send_wake(const struct pst_bpf_start *s, __u64 delta)
{
	struct pst_bpf_wake *w = bpf_ringbuf_reserve(&events, sizeof(*w), 0);

	if (!w) {
		count_stat(PST_BPF_LOST_EVENTS);
		return false;
	}
	__builtin_memset(w, 0, sizeof(*w));
	fill_hdr(&w->h, PST_BPF_WAKE, &s->key, s->ts + delta);
	w->blocked_ns = delta;
	bpf_ringbuf_submit(w, rb_wakeup(&events, PST_BPF_RING_BYTES));
	return true;
}

static __always_inline void switch_in(struct task_struct *next)
{
	__u32 tid = BPF_CORE_READ(next, pid);
	struct pst_bpf_start *s = bpf_map_lookup_elem(&start, &tid);
	struct pst_bpf_offval *v, init = {};
	struct pst_bpf_key key;
	__u64 delta;

	if (!s)
		return;
	delta = bpf_ktime_get_ns() - s->ts;
	if (delta < min_ns || (s->copied && send_wake(s, delta)))
		goto out;
	key = s->key;
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
