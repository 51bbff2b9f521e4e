// SPDX-License-Identifier: GPL-2.0
/* CPU samples: one perf_event program per CPU counts stacks in the kernel, or sends a user stack copy. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "profile.h"
#include "probe.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct pst_bpf_key);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} seen SEC(".maps");

/* Tell user space about a process the first time it is sampled, so that
 * its module map is read while it still runs. */
static __always_inline void note_pid(__u32 pid)
{
	struct pst_bpf_wake *e;
	__u8 one = 1;

	if (bpf_map_update_elem(&seen, &pid, &one, BPF_NOEXIST))
		return;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_stat(PST_BPF_LOST_EVENTS);
		bpf_map_delete_elem(&seen, &pid);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->h.type = PST_BPF_NEW_PID;
	e->h.pid = pid;
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
}

static __always_inline void count_key(struct pst_bpf_key *key)
{
	__u64 one = 1, *v = bpf_map_lookup_elem(&counts, key);

	if (v) {
		__sync_fetch_and_add(v, 1);
		return;
	}
	bpf_map_update_elem(&counts, key, &one, BPF_NOEXIST);
}

SEC("perf_event")
int pst_cpu_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct task_struct *task = bpf_get_current_task_btf();
	struct pst_bpf_key key = {};
	bool has_mm;

	key.pid = id >> 32;
	key.tid = (__u32)id;
	if (!key.tid) /* the idle task */
		return 0;
	if (filter_pid && key.pid != targ_tgid)
		return 0;
	note_pid(key.pid);
	has_mm = task_has_mm(task);
	take_stacks(ctx, has_mm, &key.kstack, &key.ustack);
	bpf_get_current_comm(key.comm, sizeof(key.comm));

	/* With the ring buffer full the sample keeps its frame-pointer stack. */
	if (dwarf && user_stacks && has_mm &&
	    send_stack(PST_BPF_SAMPLE, &key, bpf_ktime_get_ns(), task))
		return 0;
	count_key(&key);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
