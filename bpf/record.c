/* SPDX-License-Identifier: MIT */
/* `prestanda record`: load the CPU and off-CPU probes, drain their counters and stack copies, write a trace. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/perf_event.h>
#include <linux/types.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "offcpu.h"
#include "offcpu.skel.h"
#include "trace.h"
#include "profile.h"
#include "profile.skel.h"
#include "record.h"
#include "unwind.h"

/* Exit status when this system cannot record (no root, no BTF, a kernel
 * that refuses): tests skip on it. */
#define EXIT_UNSUPPORTED 3
/* A process whose sampled address lies in none of its known objects has
 * its maps read again when they were read before the sample was taken:
 * the first few times at once (a program starting up maps its libraries
 * after its first sample), then at most this often (JIT code is in none). */
#define REFRESH_NS 200000000ull
#define REFRESH_EARLY 4
#define STACK_MAP_ENTRIES 16384
#define NO_STACK (-PST_EFAULT_ID)
#define PST_EFAULT_ID 14

/* A sampled process: its objects, written as PMODULE, and its unwinder. */
struct proc {
	pid_t pid;
	struct pst_pmod *mods;
	int nmods;
	struct pst_unwinder *uw;
	uint64_t refreshed;
	unsigned nrefresh;
	struct proc *next;
};

/* One aggregated row of the current interval. */
struct agg {
	uint32_t pid, tid;
	uint64_t ustack, kstack, flags;
	bool off;
	uint64_t count, ns;
	struct agg *next;
};

/* What a stack map id became in the trace. */
struct stack_ref {
	uint64_t id; /* 0: not looked up yet or empty */
	uint64_t outer; /* outermost frame, for the completeness of frame-pointer stacks */
	uint32_t depth;
	bool done;
};

#define NBUCKETS 4096

struct recorder {
	struct pst_record_options *o;
	struct pst_tw *w;
	struct pst_ksyms *ksyms;
	struct profile_bpf *prof;
	struct offcpu_bpf *off;
	struct proc *procs[NBUCKETS];
	struct agg *aggs[NBUCKETS];
	/* pending off-CPU stack copies by tid */
	struct pending {
		uint32_t tid;
		struct pst_bpf_sample *e;
		struct pending *next;
	} *pend[NBUCKETS];
	uint64_t *seen_tasks, *seen_ksyms; /* open-addressing sets, 0 = empty */
	size_t ntasks, ntasks_cap, nksyms, nksyms_cap;
	struct stack_ref *prof_refs, *off_refs;
	uint64_t frames[PST_BPF_MAX_DEPTH];
	uint64_t snap_ns, nsnap; /* CPU time reading process maps, for -v */
	struct pst_recm *metrics; /* --metrics-textfile, else NULL */
	int err;
};

static volatile sig_atomic_t exiting;
static bool verbose;

static void on_signal(int sig)
{
	(void)sig;
	exiting = 1;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (!verbose || level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* ---- small sets ---- */

static bool set_add(uint64_t **set, size_t *n, size_t *cap, uint64_t v)
{
	size_t j;

	if ((*n + 1) * 2 > *cap) {
		size_t nc = *cap ? 2 * *cap : 1024;
		uint64_t *ns = calloc(nc, sizeof(*ns));

		if (!ns)
			return false;
		for (size_t i = 0; i < *cap; i++) {
			if (!(*set)[i])
				continue;
			for (j = (*set)[i] * 0x9e3779b97f4a7c15ull >> 20 & (nc - 1); ns[j];
			     j = (j + 1) & (nc - 1))
				;
			ns[j] = (*set)[i];
		}
		free(*set);
		*set = ns;
		*cap = nc;
	}
	for (j = v * 0x9e3779b97f4a7c15ull >> 20 & (*cap - 1); (*set)[j]; j = (j + 1) & (*cap - 1))
		if ((*set)[j] == v)
			return false;
	(*set)[j] = v;
	(*n)++;
	return true;
}

static unsigned bucket(uint64_t v)
{
	return (unsigned)(v * 0x9e3779b97f4a7c15ull >> 52) & (NBUCKETS - 1);
}

/* ---- trace records ---- */

static void put(struct recorder *r, const uint8_t *rec, const uint8_t *end)
{
	int rc = pst_tw_record(r->w, rec, (size_t)(end - rec));

	if (rc && !r->err) {
		fprintf(stderr, "prestanda: record: writing %s: %s\n", r->o->output, strerror(-rc));
		r->err = rc;
	}
}

static void note_task(struct recorder *r, uint32_t pid, uint32_t tid, const char *comm)
{
	uint8_t rec[64 + PST_BPF_COMM_LEN];
	char name[PST_BPF_COMM_LEN + 1];

	if (!set_add(&r->seen_tasks, &r->ntasks, &r->ntasks_cap, (uint64_t)pid << 32 | tid))
		return;
	memcpy(name, comm, PST_BPF_COMM_LEN);
	name[PST_BPF_COMM_LEN] = 0;
	put(r, rec, pst_enc_task(rec, pid, tid, name));
}

static void note_ksym(struct recorder *r, uint64_t addr)
{
	const char *name, *module;
	uint64_t start;
	uint8_t *rec;

	if (!r->ksyms || !set_add(&r->seen_ksyms, &r->nksyms, &r->nksyms_cap, addr))
		return;
	name = pst_ksyms_find(r->ksyms, addr, &start, &module);
	if (!name)
		return;
	rec = malloc(pst_var_rec_max(4, strlen(name) + strlen(module)));
	if (!rec)
		return;
	put(r, rec, pst_enc_ksym(rec, addr, start, name, module));
	free(rec);
}

/* ---- processes ---- */

/* CPU time of the calling thread in ns. */
static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void write_modules(struct recorder *r, struct proc *p, const struct pst_pmod *old,
			  int nold)
{
	for (int i = 0; i < p->nmods; i++) {
		const struct pst_pmod *m = &p->mods[i];
		bool known = false;
		uint8_t *rec;

		for (int j = 0; j < nold && !known; j++)
			known = old[j].bias == m->bias && !strcmp(old[j].path, m->path);
		if (known)
			continue;
		rec = malloc(pst_var_rec_max(7, strlen(m->path) + m->build_id_len));
		if (!rec)
			return;
		put(r, rec,
		    pst_enc_pmodule(rec, (uint64_t)p->pid, m->bias, m->lo, m->hi, m->path,
				    m->build_id, m->build_id_len));
		free(rec);
	}
}

/* x86-64 DWARF register numbers 0..16 (rax, rdx, rcx, rbx, rsi, rdi, rbp,
 * rsp, r8..r15, rip) as indexes into struct pt_regs. */
static const int dwarf_to_ptregs[PST_UNW_NREGS] = { 10, 12, 11, 5, 13, 14, 4, 19, 9,
						    8,  7,  6,  3, 2, 1,  0, 16 };

static struct pst_unwinder *proc_unwinder(const struct proc *p)
{
	struct pst_unw_module *m = calloc(p->nmods ? p->nmods : 1, sizeof(*m));
	struct pst_unwinder *u;

	if (!m)
		return NULL;
	for (int i = 0; i < p->nmods; i++)
		m[i] = (struct pst_unw_module){ p->mods[i].bias, p->mods[i].lo, p->mods[i].hi,
						p->mods[i].path };
	u = pst_unwinder_new(p->pid, m, p->nmods);
	free(m);
	return u;
}

/* Read the process's maps (again); keep what we had if it is gone. */
static void proc_snapshot(struct recorder *r, struct proc *p)
{
	uint64_t cpu0 = thread_cpu_ns();
	struct pst_pmod *mods;
	int n = pst_procmaps_read(p->pid, &mods);

	p->refreshed = pst_tw_now();
	p->nrefresh++;
	if (n < 0)
		goto out;
	if (p->uw && n == p->nmods) {
		bool same = true;

		for (int i = 0; i < n && same; i++)
			same = mods[i].bias == p->mods[i].bias && !strcmp(mods[i].path, p->mods[i].path);
		if (same) {
			pst_procmaps_free(mods, n);
			goto out;
		}
	}
	{
		struct pst_pmod *old = p->mods;
		int nold = p->nmods;

		p->mods = mods;
		p->nmods = n;
		write_modules(r, p, old, nold);
		pst_procmaps_free(old, nold);
	}
	pst_unwinder_free(p->uw);
	p->uw = r->o->fp_only ? NULL : proc_unwinder(p);
out:
	r->snap_ns += thread_cpu_ns() - cpu0;
	r->nsnap++;
}

static struct proc *proc_get(struct recorder *r, pid_t pid)
{
	unsigned b = bucket((uint64_t)pid);
	struct proc *p;

	for (p = r->procs[b]; p; p = p->next)
		if (p->pid == pid)
			return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	p->next = r->procs[b];
	r->procs[b] = p;
	proc_snapshot(r, p);
	return p;
}

static bool proc_covers(const struct proc *p, uint64_t addr)
{
	for (int i = 0; i < p->nmods; i++)
		if (addr >= p->mods[i].lo && addr < p->mods[i].hi)
			return true;
	return false;
}

/* ---- stacks ---- */

/* Leading kernel frames that are the probe itself (the program and the
 * tracepoint's trampoline into it). */
static unsigned probe_frames(struct recorder *r, unsigned depth)
{
	unsigned i = 0;

	for (; i < depth; i++) {
		const char *name, *module;
		uint64_t start;

		name = pst_ksyms_find(r->ksyms, r->frames[i], &start, &module);
		if (!name || (strncmp(name, "bpf_", 4) && strncmp(name, "__bpf_", 6)))
			break;
	}
	return i < depth ? i : 0;
}

/* A stack map id as a trace stack: kernel frames get KSYM records. */
static const struct stack_ref *map_stack(struct recorder *r, int map_fd, struct stack_ref *refs,
					 int32_t id, bool kernel)
{
	static const struct stack_ref none;
	struct stack_ref *ref;
	unsigned depth = 0, skip = 0;

	if (id < 0 || id >= STACK_MAP_ENTRIES)
		return &none;
	ref = &refs[id];
	if (ref->done)
		return ref;
	ref->done = true;
	if (bpf_map_lookup_elem(map_fd, &id, r->frames))
		return ref;
	while (depth < PST_BPF_MAX_DEPTH && r->frames[depth])
		depth++;
	if (kernel) {
		skip = probe_frames(r, depth);
		for (unsigned i = skip; i < depth; i++)
			note_ksym(r, r->frames[i]);
	}
	ref->depth = depth - skip;
	ref->outer = depth ? r->frames[depth - 1] : 0;
	ref->id = pst_tw_stack(r->w, r->frames + skip, depth - skip);
	return ref;
}

/* A frame-pointer walk is taken as whole when it went past the sampled
 * address and ended inside a known object (a walk through code without
 * frame pointers stops at once or in garbage). */
static bool fp_complete(const struct stack_ref *s, const struct proc *p)
{
	return s->depth >= 2 && s->depth < PST_BPF_MAX_DEPTH && p && proc_covers(p, s->outer);
}

static uint64_t kernel_flags(int32_t kstack)
{
	return kstack < 0 && kstack != NO_STACK ? PST_SAMPLE_KERNEL_LOST : 0;
}

/* ---- aggregation ---- */

static void agg_add(struct recorder *r, bool off, uint32_t pid, uint32_t tid, uint64_t ustack,
		    uint64_t kstack, uint64_t flags, uint64_t count, uint64_t ns)
{
	unsigned b = bucket(((uint64_t)tid << 32) ^ ustack * 31 ^ kstack * 131 ^ off);
	struct agg *a;

	for (a = r->aggs[b]; a; a = a->next)
		if (a->tid == tid && a->pid == pid && a->ustack == ustack && a->kstack == kstack &&
		    a->flags == flags && a->off == off)
			break;
	if (!a) {
		a = calloc(1, sizeof(*a));
		if (!a)
			return;
		*a = (struct agg){ .pid = pid, .tid = tid, .ustack = ustack, .kstack = kstack,
				   .flags = flags, .off = off, .next = r->aggs[b] };
		r->aggs[b] = a;
	}
	a->count += count;
	a->ns += ns;
}

static void agg_flush(struct recorder *r)
{
	uint64_t now = pst_tw_now();
	uint8_t rec[PST_CPU_EVENT_MAX];

	for (unsigned b = 0; b < NBUCKETS; b++) {
		struct agg *a = r->aggs[b], *next;

		for (; a; a = next) {
			next = a->next;
			if (a->off)
				put(r, rec,
				    pst_enc_offcpu(rec, now, a->pid, a->tid, a->ustack, a->kstack,
						   a->count, a->ns, a->flags));
			else {
				put(r, rec,
				    pst_enc_sample(rec, now, a->pid, a->tid, a->ustack, a->kstack,
						   a->count, a->flags));
				pst_recm_add(r->metrics, a->pid, a->count);
			}
			free(a);
		}
		r->aggs[b] = NULL;
	}
}

/* ---- ring buffer events ---- */

static bool may_refresh(const struct proc *p, uint64_t ts)
{
	return p->refreshed < ts &&
	       (p->nrefresh < REFRESH_EARLY || pst_tw_now() - p->refreshed > REFRESH_NS);
}

static int unwind(struct proc *p, const struct pst_bpf_sample *e, uint64_t *frames,
		  bool *complete)
{
	uint64_t regs[PST_UNW_NREGS];

	*complete = false;
	if (!p || !p->uw)
		return 0;
	for (int i = 0; i < PST_UNW_NREGS; i++)
		regs[i] = e->regs[dwarf_to_ptregs[i]];
	return pst_unwind(p->uw, (pid_t)e->h.tid, regs, e->stack,
			  e->h.stack_len > PST_BPF_STACK_BYTES ? PST_BPF_STACK_BYTES :
								   e->h.stack_len,
			  frames, PST_BPF_MAX_DEPTH, complete);
}

/* The user stack of a copied sample: DWARF if it reached the outermost
 * frame, else the deeper of DWARF and frame pointers. */
static uint64_t user_stack(struct recorder *r, struct proc *p, const struct pst_bpf_sample *e,
			   int map_fd, struct stack_ref *refs, uint64_t *flags)
{
	const struct stack_ref *fp;
	bool complete = false;
	int depth = 0;

	if (p && !proc_covers(p, e->regs[PST_BPF_REG_IP]) && may_refresh(p, e->h.ts))
		proc_snapshot(r, p);
	depth = unwind(p, e, r->frames, &complete);
	/* The walk left the known objects: the maps may be older than the
	 * libraries (a sample at start-up); read them again and retry. */
	if (depth && !complete && !proc_covers(p, r->frames[depth - 1]) && may_refresh(p, e->h.ts)) {
		proc_snapshot(r, p);
		depth = unwind(p, e, r->frames, &complete);
	}
	if (complete) {
		*flags |= PST_SAMPLE_DWARF;
		return pst_tw_stack(r->w, r->frames, (unsigned)depth);
	}
	fp = map_stack(r, map_fd, refs, e->h.ustack, false);
	if (fp->id && fp->depth >= (unsigned)depth && (fp_complete(fp, p) || fp->depth > (unsigned)depth)) {
		if (!fp_complete(fp, p))
			*flags |= PST_SAMPLE_USER_TRUNCATED;
		return fp->id;
	}
	*flags |= PST_SAMPLE_USER_TRUNCATED | (depth ? PST_SAMPLE_DWARF : 0);
	return depth ? pst_tw_stack(r->w, r->frames, (unsigned)depth) : 0;
}

static void on_cpu_event(struct recorder *r, const struct pst_bpf_sample *e)
{
	int map_fd = bpf_map__fd(r->prof->maps.stacks);
	struct proc *p = proc_get(r, (pid_t)e->h.pid);
	uint64_t flags = kernel_flags(e->h.kstack), ustack, kstack;

	ustack = user_stack(r, p, e, map_fd, r->prof_refs, &flags);
	kstack = map_stack(r, map_fd, r->prof_refs, e->h.kstack, true)->id;
	note_task(r, e->h.pid, e->h.tid, e->h.comm);
	agg_add(r, false, e->h.pid, e->h.tid, ustack, kstack, flags, 1, 0);
}

static struct pending **pending_slot(struct recorder *r, uint32_t tid)
{
	struct pending **pp = &r->pend[bucket(tid)];

	while (*pp && (*pp)->tid != tid)
		pp = &(*pp)->next;
	return pp;
}

/* Keep a blocked thread's stack copy until it wakes (or is dropped). */
static void on_off_event(struct recorder *r, const struct pst_bpf_sample *e)
{
	struct pending **pp = pending_slot(r, e->h.tid), *pd = *pp;
	size_t len = offsetof(struct pst_bpf_sample, stack) +
		     (e->h.stack_len > PST_BPF_STACK_BYTES ? PST_BPF_STACK_BYTES : e->h.stack_len);

	proc_get(r, (pid_t)e->h.pid);
	if (!pd) {
		pd = calloc(1, sizeof(*pd));
		if (!pd)
			return;
		pd->tid = e->h.tid;
		*pp = pd;
	}
	free(pd->e);
	pd->e = malloc(len);
	if (pd->e)
		memcpy(pd->e, e, len);
}

static void on_wake_event(struct recorder *r, const struct pst_bpf_wake *w)
{
	int map_fd = bpf_map__fd(r->off->maps.stacks);
	struct pending **pp = pending_slot(r, w->h.tid), *pd = *pp;
	struct proc *p = proc_get(r, (pid_t)w->h.pid);
	uint64_t flags = kernel_flags(w->h.kstack), ustack;

	if (pd && pd->e && pd->e->h.ts == w->h.ts - w->blocked_ns) {
		ustack = user_stack(r, p, pd->e, map_fd, r->off_refs, &flags);
		note_task(r, w->h.pid, w->h.tid, pd->e->h.comm);
	} else {
		const struct stack_ref *fp = map_stack(r, map_fd, r->off_refs, w->h.ustack, false);

		ustack = fp->id;
		if (!fp_complete(fp, p) && w->h.ustack != NO_STACK)
			flags |= PST_SAMPLE_USER_TRUNCATED;
	}
	if (pd) {
		*pp = pd->next;
		free(pd->e);
		free(pd);
	}
	agg_add(r, true, w->h.pid, w->h.tid, ustack,
		map_stack(r, map_fd, r->off_refs, w->h.kstack, true)->id, flags, 1, w->blocked_ns);
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct recorder *r = ctx;
	const struct pst_bpf_hdr *h = data;

	if (size < sizeof(*h))
		return 0;
	switch (h->type) {
	case PST_BPF_NEW_PID:
		proc_get(r, (pid_t)h->pid);
		break;
	case PST_BPF_SAMPLE:
		if (size >= offsetof(struct pst_bpf_sample, stack))
			on_cpu_event(r, data);
		break;
	case PST_BPF_OFF:
		if (size >= offsetof(struct pst_bpf_sample, stack))
			on_off_event(r, data);
		break;
	case PST_BPF_WAKE:
		if (size >= sizeof(struct pst_bpf_wake))
			on_wake_event(r, data);
		break;
	}
	return 0;
}

/* ---- in-kernel counters ---- */

/* Move the counters out of a map: every key read and deleted. */
static void drain_counts(struct recorder *r, bool off)
{
	int fd = off ? bpf_map__fd(r->off->maps.counts) : bpf_map__fd(r->prof->maps.counts);
	int sfd = off ? bpf_map__fd(r->off->maps.stacks) : bpf_map__fd(r->prof->maps.stacks);
	struct stack_ref *refs = off ? r->off_refs : r->prof_refs;
	struct pst_bpf_key key, next, *keys = NULL;
	size_t n = 0, cap = 0;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		if (n == cap) {
			void *nk = realloc(keys, (cap = cap ? 2 * cap : 256) * sizeof(*keys));

			if (!nk)
				break;
			keys = nk;
		}
		keys[n++] = next;
		key = next;
		prev = &key;
	}
	for (size_t i = 0; i < n; i++) {
		struct pst_bpf_key *k = &keys[i];
		struct pst_bpf_offval ov = { 0 };
		uint64_t count = 0, flags = kernel_flags(k->kstack);
		const struct stack_ref *us;
		struct proc *p;
		int rc;

		rc = bpf_map_lookup_and_delete_elem(fd, k, off ? (void *)&ov : (void *)&count);
		if (rc) {
			rc = bpf_map_lookup_elem(fd, k, off ? (void *)&ov : (void *)&count);
			bpf_map_delete_elem(fd, k);
		}
		if (rc)
			continue;
		p = proc_get(r, (pid_t)k->pid);
		us = map_stack(r, sfd, refs, k->ustack, false);
		if (k->ustack != NO_STACK && !fp_complete(us, p))
			flags |= PST_SAMPLE_USER_TRUNCATED;
		note_task(r, k->pid, k->tid, k->comm);
		agg_add(r, off, k->pid, k->tid, us->id,
			map_stack(r, sfd, refs, k->kstack, true)->id, flags,
			off ? ov.count : count, off ? ov.ns : 0);
	}
	free(keys);
}

static void read_stats(int fd, uint64_t sums[PST_BPF_NSTATS])
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *v;

	if (ncpu <= 0 || !(v = calloc((size_t)ncpu, sizeof(*v))))
		return;
	for (uint32_t i = 0; i < PST_BPF_NSTATS; i++) {
		if (bpf_map_lookup_elem(fd, &i, v))
			continue;
		for (int c = 0; c < ncpu; c++)
			sums[i] += v[c];
	}
	free(v);
}

/* ---- set-up ---- */

static int unsupported(const char *fmt, ...)
{
	va_list ap;

	fputs("prestanda: record: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -EXIT_UNSUPPORTED;
}

/* Root, or CAP_BPF with CAP_PERFMON (or CAP_SYS_ADMIN). */
static bool privileged(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = { 0 };

	if (geteuid() == 0)
		return true;
	if (syscall(SYS_capget, &h, d))
		return false;
#define HAS_CAP(c) (d[(c) / 32].effective & (1u << ((c) % 32)))
	return HAS_CAP(21 /* CAP_SYS_ADMIN */) || (HAS_CAP(39 /* CAP_BPF */) && HAS_CAP(38));
#undef HAS_CAP
}

/* One line saying what this system lacks, or 0. */
static int probe_features(void)
{
	if (!privileged())
		return unsupported("needs root, or CAP_BPF and CAP_PERFMON: run it with sudo");
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		return unsupported("this kernel has no BTF (/sys/kernel/btf/vmlinux): it needs a kernel "
				   "built with CONFIG_DEBUG_INFO_BTF=y");
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) <= 0)
		return unsupported("this kernel is too old: BPF ring buffers need Linux 5.8 or later");
	if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_PERF_EVENT, NULL) <= 0)
		return unsupported("this kernel cannot attach eBPF to perf events (CONFIG_PERF_EVENTS)");
	return 0;
}

/* A load error as one line. */
static int load_failed(const char *what, int err)
{
	if (err == -EPERM || err == -EACCES)
		return unsupported("the kernel refused to load the %s probe (%s): run it as root, or "
				   "check kernel.unprivileged_bpf_disabled and lockdown",
				   what, strerror(-err));
	return unsupported("the kernel refused to load the %s probe (%s); -v shows the verifier's log",
			   what, strerror(-err));
}

static int open_profile(struct recorder *r, bool dwarf)
{
	struct pst_record_options *o = r->o;
	int err;

	r->prof = profile_bpf__open();
	if (!r->prof)
		return unsupported("opening the CPU probe: %s", strerror(errno));
	r->prof->rodata->filter_pid = !o->all;
	r->prof->rodata->dwarf = dwarf;
	r->prof->rodata->kernel_stacks = !o->no_kernel;
	r->prof->bss->targ_tgid = (uint32_t)o->pid;
	err = profile_bpf__load(r->prof);
	if (err)
		return load_failed("CPU", err);
	return 0;
}

/* The sched_switch probe through BTF, else as a raw tracepoint. */
static int open_offcpu(struct recorder *r, bool dwarf)
{
	struct pst_record_options *o = r->o;
	int err = 0;

	for (int raw = 0; raw < 2; raw++) {
		r->off = offcpu_bpf__open();
		if (!r->off)
			return unsupported("opening the off-CPU probe: %s", strerror(errno));
		r->off->rodata->filter_pid = !o->all;
		r->off->rodata->dwarf = dwarf && !raw;
		r->off->rodata->kernel_stacks = !o->no_kernel;
		r->off->rodata->min_ns = (uint64_t)o->min_block_us * 1000;
		r->off->bss->targ_tgid = (uint32_t)o->pid;
		bpf_program__set_autoload(r->off->progs.pst_switch_btf, !raw);
		bpf_program__set_autoload(r->off->progs.pst_switch_raw, raw);
		err = offcpu_bpf__load(r->off);
		if (!err)
			break;
		offcpu_bpf__destroy(r->off);
		r->off = NULL;
	}
	if (err)
		return load_failed("off-CPU", err);
	err = offcpu_bpf__attach(r->off);
	if (err)
		return unsupported("attaching to sched_switch: %s", strerror(-err));
	return 0;
}

/* One cpu-clock event per online CPU, each running the CPU probe. */
static int attach_perf(struct recorder *r, struct bpf_link ***links, int *nlinks)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.size = sizeof(attr),
		.freq = 1,
		.sample_freq = (uint64_t)r->o->hz,
	};
	int ncpu = libbpf_num_possible_cpus(), attached = 0;

	if (ncpu <= 0)
		return unsupported("cannot count the CPUs: %s", strerror(-ncpu));
	*links = calloc((size_t)ncpu, sizeof(**links));
	if (!*links)
		return -ENOMEM;
	*nlinks = ncpu;
	for (int cpu = 0; cpu < ncpu; cpu++) {
		int fd = (int)syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);

		if (fd < 0) {
			if (errno == ENODEV) /* offline CPU */
				continue;
			if (errno == EACCES || errno == EPERM)
				return unsupported("perf_event_open: %s: needs root or CAP_PERFMON",
						   strerror(errno));
			return unsupported("perf_event_open of cpu-clock on CPU %d: %s", cpu,
					   strerror(errno));
		}
		(*links)[cpu] = bpf_program__attach_perf_event(r->prof->progs.pst_cpu_sample, fd);
		if (!(*links)[cpu]) {
			int err = errno;

			close(fd);
			return unsupported("attaching the CPU probe to CPU %d: %s", cpu, strerror(err));
		}
		attached++;
	}
	return attached ? 0 : unsupported("no CPU is online");
}

/* Start cmd stopped before exec; *go releases it. */
static pid_t spawn(char **cmd, int *go, int *execd)
{
	int g[2], e[2];
	pid_t pid;

	if (pipe2(g, O_CLOEXEC) || pipe2(e, O_CLOEXEC)) {
		fprintf(stderr, "prestanda: record: pipe2: %s\n", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "prestanda: record: fork: %s\n", strerror(errno));
		return -1;
	}
	if (!pid) {
		char c;

		close(g[1]);
		close(e[0]);
		if (read(g[0], &c, 1) != 1)
			_exit(127);
		execvp(cmd[0], cmd);
		fprintf(stderr, "prestanda: record: cannot run %s: execvp: %s\n", cmd[0],
			strerror(errno));
		_exit(127);
	}
	close(g[0]);
	close(e[1]);
	*go = g[1];
	*execd = e[0];
	return pid;
}

/* ---- the command ---- */

/* -p PID names a live process (not one of its threads): 0, or -1 after
 * saying what it is instead. */
static int check_pid(pid_t pid)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	long tgid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT)
			fprintf(stderr, "prestanda: record: no process %d\n", (int)pid);
		else
			fprintf(stderr, "prestanda: record: -p %d: %s: %s\n", (int)pid, path,
				strerror(errno));
		return -1;
	}
	while (getline(&line, &cap, f) > 0)
		if (sscanf(line, "Tgid: %ld", &tgid) == 1)
			break;
	free(line);
	fclose(f);
	if (tgid && tgid != pid) {
		fprintf(stderr, "prestanda: record: %d is a thread of process %ld: give -p %ld\n",
			(int)pid, tgid, tgid);
		return -1;
	}
	return 0;
}

static void exe_name(const struct pst_record_options *o, char *buf, size_t len)
{
	char link[64];
	ssize_t n;

	if (o->cmd) {
		snprintf(buf, len, "%s", o->cmd[0]);
		return;
	}
	if (o->all) {
		snprintf(buf, len, "[host]");
		return;
	}
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)o->pid);
	n = readlink(link, buf, len - 1);
	buf[n > 0 ? n : 0] = 0;
}

/* Objects seen only in a process's mount namespace are kept in
 * TRACE.objects/ (absolute, so that report finds them from anywhere). */
static void keep_objects_next_to(const char *trace)
{
	char dir[PATH_MAX], abs[PATH_MAX], out[2 * PATH_MAX + 16], *slash;
	const char *base = trace;

	snprintf(dir, sizeof(dir), "%s", trace);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = 0;
		base = trace + (slash - dir) + 1;
	}
	if (!realpath(!slash ? "." : *dir ? dir : "/", abs))
		return;
	snprintf(out, sizeof(out), "%s/%s.objects", strcmp(abs, "/") ? abs : "", base);
	pst_procmaps_keep_in(out);
}

static void write_config(struct recorder *r)
{
	uint8_t rec[PST_CPU_EVENT_MAX];
	uint64_t flags = PST_CPU_ON_CPU;

	if (r->o->off_cpu)
		flags |= PST_CPU_OFF_CPU;
	if (!r->o->fp_only)
		flags |= PST_CPU_DWARF;
	if (r->o->all)
		flags |= PST_CPU_HOST_WIDE;
	put(r, rec,
	    pst_enc_cpu_config(rec, PST_CPU_EBPF, (uint64_t)r->o->hz, flags,
			       r->o->fp_only ? 0 : PST_BPF_STACK_BYTES));
}

static void write_stats(struct recorder *r, uint64_t duration)
{
	uint64_t s[PST_BPF_NSTATS] = { 0 };
	uint8_t rec[PST_CPU_EVENT_MAX];

	read_stats(bpf_map__fd(r->prof->maps.stats), s);
	if (r->off)
		read_stats(bpf_map__fd(r->off->maps.stats), s);
	put(r, rec,
	    pst_enc_cpu_stats(rec, duration, s[PST_BPF_LOST_EVENTS], s[PST_BPF_LOST_KSTACKS],
			      s[PST_BPF_LOST_USTACKS]));
}

/* CPU time of this process (user + system) in ns. */
static uint64_t self_cpu_ns(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
}

/* Kernel-side run time of a program (counted only with kernel.bpf_stats_enabled=1). */
static void prog_runtime(const struct bpf_program *prog, uint64_t *ns, uint64_t *cnt)
{
	struct bpf_prog_info info = { 0 };
	uint32_t len = sizeof(info);

	if (prog && bpf_program__fd(prog) >= 0 &&
	    !bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len)) {
		*ns += info.run_time_ns;
		*cnt += info.run_cnt;
	}
}

/* -v: what recording cost, as a share of one CPU. */
static void print_cost(const struct recorder *r, uint64_t startup_ns, uint64_t steady_ns,
		       uint64_t wall_ns)
{
	uint64_t run_ns = 0, run_cnt = 0;
	double wall = wall_ns ? (double)wall_ns : 1;

	prog_runtime(r->prof->progs.pst_cpu_sample, &run_ns, &run_cnt);
	if (r->off) {
		prog_runtime(r->off->progs.pst_switch_btf, &run_ns, &run_cnt);
		prog_runtime(r->off->progs.pst_switch_raw, &run_ns, &run_cnt);
	}
	fprintf(stderr,
		"prestanda: record: cost: start-up %.3f s CPU; loader %.3f%% of one CPU, "
		"probes %.3f%% (%llu runs, %.2f us each%s), total %.3f%% over %.1f s; "
		"the loader's share reading %llu process maps: %.3f%%\n",
		startup_ns / 1e9, 100.0 * steady_ns / wall, 100.0 * run_ns / wall,
		(unsigned long long)run_cnt, run_cnt ? run_ns / 1e3 / run_cnt : 0.0,
		run_cnt ? "" : "; kernel.bpf_stats_enabled=1 counts them",
		100.0 * (steady_ns + run_ns) / wall, wall_ns / 1e9, (unsigned long long)r->nsnap,
		100.0 * r->snap_ns / wall);
}

static void drain(struct recorder *r, struct ring_buffer *rb)
{
	ring_buffer__consume(rb);
	drain_counts(r, false);
	if (r->off)
		drain_counts(r, true);
	agg_flush(r);
	pst_tw_flush(r->w);
	pst_recm_write(r->metrics);
}

static void recorder_free(struct recorder *r)
{
	for (unsigned b = 0; b < NBUCKETS; b++) {
		for (struct proc *p = r->procs[b], *n; p; p = n) {
			n = p->next;
			pst_unwinder_free(p->uw);
			pst_procmaps_free(p->mods, p->nmods);
			free(p);
		}
		for (struct pending *p = r->pend[b], *n; p; p = n) {
			n = p->next;
			free(p->e);
			free(p);
		}
	}
	free(r->seen_tasks);
	free(r->seen_ksyms);
	free(r->prof_refs);
	free(r->off_refs);
	pst_ksyms_free(r->ksyms);
	pst_procmaps_cache_free();
	pst_recm_free(r->metrics); /* and its file */
}

/* One recording: the recorder, its probes and ring buffer, the command it
 * runs and when it stops. */
struct session {
	struct recorder r;
	struct ring_buffer *rb;
	struct bpf_link **links;
	int nlinks, go, execd, wstatus;
	pid_t child;
	uint64_t start, stop;
	bool recorded;
	char exe[PATH_MAX];
};

/* Probes loaded and attached (the command started, held until they are):
 * 0, or the exit status. */
static int record_load(struct session *s)
{
	struct pst_record_options *o = s->r.o;
	bool dwarf;
	int err;

	verbose = o->verbose;
	libbpf_set_print(libbpf_print);
	if (o->pid && check_pid(o->pid))
		return 2;
	err = probe_features();
	if (err)
		return -err;
	dwarf = !o->fp_only;
#if !defined(__x86_64__)
	dwarf = false; /* the stack copy carries x86-64 registers */
#endif
	if (dwarf && libbpf_probe_bpf_helper(BPF_PROG_TYPE_PERF_EVENT, BPF_FUNC_task_pt_regs,
					      NULL) <= 0) {
		fprintf(stderr, "prestanda: record: warning: this kernel cannot copy user registers "
				"(Linux 5.15+): user stacks by frame pointers only\n");
		dwarf = false;
	}
	o->fp_only = !dwarf;
	s->r.prof_refs = calloc(STACK_MAP_ENTRIES, sizeof(*s->r.prof_refs));
	s->r.off_refs = calloc(STACK_MAP_ENTRIES, sizeof(*s->r.off_refs));
	if (!s->r.prof_refs || !s->r.off_refs) {
		fprintf(stderr, "prestanda: record: out of memory\n");
		return 1;
	}
	if (o->cmd) {
		s->child = spawn(o->cmd, &s->go, &s->execd);
		if (s->child < 0)
			return 1;
	}
	/* The command runs only once every probe is in place. */
	err = open_profile(&s->r, dwarf);
	if (!err && o->off_cpu)
		err = open_offcpu(&s->r, dwarf);
	if (!err)
		err = attach_perf(&s->r, &s->links, &s->nlinks);
	return -err;
}

/* Kernel symbols, the ring buffer and the trace: 0, or -1 after saying why. */
static int record_open(struct session *s)
{
	struct pst_record_options *o = s->r.o;
	struct recorder *r = &s->r;

	if (!o->no_kernel) {
		r->ksyms = pst_ksyms_load();
		if (!r->ksyms)
			fprintf(stderr, "prestanda: record: warning: /proc/kallsyms: %s; kernel frames "
					"stay addresses\n",
				strerror(errno));
	}
	s->rb = ring_buffer__new(bpf_map__fd(r->prof->maps.events), on_event, r, NULL);
	if (s->rb && r->off &&
	    ring_buffer__add(s->rb, bpf_map__fd(r->off->maps.events), on_event, r)) {
		ring_buffer__free(s->rb);
		s->rb = NULL;
	}
	if (!s->rb) {
		fprintf(stderr, "prestanda: record: ring_buffer__new: %s\n", strerror(errno));
		return -1;
	}
	exe_name(o, s->exe, sizeof(s->exe));
	r->w = pst_tw_create(o->output, o->cmd ? (uint64_t)s->child : (uint64_t)o->pid, s->exe);
	if (!r->w)
		return -1;
	keep_objects_next_to(o->output);
	write_config(r);
	if (o->metrics_textfile && !(r->metrics = pst_recm_new(o->metrics_textfile, &o->hz))) {
		fprintf(stderr, "prestanda: record: --metrics-textfile %s: %s\n", o->metrics_textfile,
			strerror(errno));
		return -1;
	}
	return 0;
}

/* Release the command, the probes filtering on its pid: 0, or -1. */
static int record_release(struct session *s)
{
	char c = 1;

	/* The filter is set before the command is released, so that
	 * nothing it does early is missed; a sample taken before its
	 * exec has its maps read again (see user_stack). */
	s->r.prof->bss->targ_tgid = (uint32_t)s->child;
	if (s->r.off)
		s->r.off->bss->targ_tgid = (uint32_t)s->child;
	if (write(s->go, &c, 1) != 1 || read(s->execd, &c, 1) < 0) {
		fprintf(stderr, "prestanda: record: starting %s: %s\n", s->r.o->cmd[0],
			strerror(errno));
		return -1;
	}
	return 0;
}

/* Read samples until Ctrl-C, the duration, or the process's end. */
static void record_loop(struct session *s)
{
	const struct pst_record_options *o = s->r.o;
	uint64_t next_drain = s->start + (uint64_t)(o->interval * 1e9);

	while (!exiting && !s->r.err) {
		uint64_t now;
		/* Samples wake us only when the ring buffer fills up (or a
		 * new process is seen): read what came in every 100 ms. */
		int err = ring_buffer__poll(s->rb, 100);

		if (err >= 0)
			err = ring_buffer__consume(s->rb);
		if (err < 0 && err != -EINTR) {
			fprintf(stderr, "prestanda: record: ring_buffer__poll: %s\n", strerror(-err));
			break;
		}
		now = pst_tw_now();
		if (now >= next_drain) {
			drain(&s->r, s->rb);
			next_drain = now + (uint64_t)(o->interval * 1e9);
		}
		if (s->stop && now >= s->stop)
			break;
		if (s->child && waitpid(s->child, &s->wstatus, WNOHANG) == s->child) {
			s->child = 0;
			break;
		}
		if (o->pid && kill(o->pid, 0) && errno == ESRCH)
			break;
	}
}

/* Record from the start to the end and write the trace out: 0, or 1. */
static int record_trace(struct session *s)
{
	const struct pst_record_options *o = s->r.o;
	uint64_t cpu0, cpu1;
	int err;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (o->cmd && record_release(s))
		return 1;
	s->start = pst_tw_now();
	cpu0 = self_cpu_ns();
	if (o->duration > 0)
		s->stop = s->start + (uint64_t)(o->duration * 1e9);
	fprintf(stderr, "prestanda: recording %s at %ld Hz%s%s\n",
		o->all ? "every CPU" : o->cmd ? o->cmd[0] : s->exe, o->hz,
		o->off_cpu ? " with off-CPU time" : "",
		o->duration > 0 ? "" : o->cmd ? "" : "; Ctrl-C stops");
	record_loop(s);
	/* Detach first: nothing more arrives while the rest is read. */
	for (int i = 0; i < s->nlinks; i++)
		bpf_link__destroy(s->links[i]);
	s->nlinks = 0;
	if (s->r.off)
		offcpu_bpf__detach(s->r.off);
	drain(&s->r, s->rb);
	cpu1 = self_cpu_ns();
	if (o->verbose)
		print_cost(&s->r, cpu0, cpu1 - cpu0, pst_tw_now() - s->start);
	write_stats(&s->r, pst_tw_now() - s->start);
	err = pst_tw_close(s->r.w, pst_tw_now());
	s->r.w = NULL;
	if (err || s->r.err) {
		fprintf(stderr, "prestanda: record: writing %s: %s\n", o->output,
			strerror(err ? -err : -s->r.err));
		return 1;
	}
	fprintf(stderr, "prestanda: wrote %s; `prestanda report %s` reads it\n", o->output,
		o->output);
	s->recorded = true;
	return 0;
}

/* Wait for the command (ended when recording was cut short) and free
 * everything: the exit status. */
static int record_end(struct session *s, int status)
{
	if (s->child > 0) {
		if (s->go >= 0)
			close(s->go); /* a child still waiting for the go exits */
		s->go = -1;
		if (exiting || s->stop)
			kill(s->child, SIGTERM);
		while (waitpid(s->child, &s->wstatus, 0) < 0 && errno == EINTR)
			;
		s->child = 0;
	}
	/* Recorded: exit as the command did (128+N when signal N ended it),
	 * as perf record does. */
	if (s->recorded && s->r.o->cmd)
		status = WIFEXITED(s->wstatus) ? WEXITSTATUS(s->wstatus) :
			 WIFSIGNALED(s->wstatus) ? 128 + WTERMSIG(s->wstatus) : 1;
	if (s->go >= 0)
		close(s->go);
	if (s->execd >= 0)
		close(s->execd);
	if (s->r.w)
		pst_tw_close(s->r.w, pst_tw_now());
	ring_buffer__free(s->rb);
	for (int i = 0; i < s->nlinks; i++)
		bpf_link__destroy(s->links[i]);
	free(s->links);
	offcpu_bpf__destroy(s->r.off);
	profile_bpf__destroy(s->r.prof);
	recorder_free(&s->r);
	return status;
}

int pst_record_run(struct pst_record_options *o)
{
	struct session s = { .r = { .o = o }, .go = -1, .execd = -1 };
	int status = record_load(&s);

	if (!status && o->check) {
		printf("prestanda: record: this system can record (eBPF CPU%s probes loaded)\n",
		       o->off_cpu ? " and off-CPU" : "");
	} else if (!status) {
		status = record_open(&s) ? 1 : record_trace(&s);
	}
	return record_end(&s, status);
}
