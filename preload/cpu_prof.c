/* SPDX-License-Identifier: MIT */
/* CPU samples without root: per-thread timers, a handler that copies registers and stack, a wall-clock sampler. */
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>

#include "pst.h"

/*
 * Each thread has a timer on its own CPU clock (wall clock: one sampler
 * thread instead) whose signal lands on that thread. The handler never
 * unwinds: unwinding reads the loader's tables under the dl_iterate_phdr
 * lock, and the interrupted code may hold it (or malloc's). It copies the
 * registers and up to STACK_BYTES of the stack into the thread's own buffer
 * as a USAMPLE record, and the analyzer unwinds it offline with DWARF CFI,
 * as `perf --call-graph dwarf` does. A thread that is inside the profiler,
 * or whose buffer another thread is writing out, loses the sample (counted).
 */
#define STACK_BYTES 8192
/* pst_thr.cpu_timer of a thread the wall-clock sampler samples */
#define WALL (-1)

#if defined(__x86_64__)
#define CPU_NREGS 17
#define CPU_SUPPORTED 1
#else
#define CPU_NREGS 1
#define CPU_SUPPORTED 0
#endif

static int cpu_sig;             /* 0: not sampling */
static volatile int cpu_on;
static uint64_t cpu_lost;       /* samples dropped by the handler */
static uint64_t cpu_start_ts;
static uint64_t cpu_interval_ns;
static pthread_t sampler;
static volatile int sampler_stop;
static pthread_mutex_t sampler_lock = PTHREAD_MUTEX_INITIALIZER;
static bool sampler_running;
/* the sampler and the timer thread are never sampled */
static __thread int cpu_exempt;

/* ---- the signal handler ---- */

static void regs_of(const ucontext_t *uc, uint64_t *r)
{
#if defined(__x86_64__)
	/* DWARF order: rax, rdx, rcx, rbx, rsi, rdi, rbp, rsp, r8..r15, rip */
	static const int greg[CPU_NREGS] = { REG_RAX, REG_RDX, REG_RCX, REG_RBX, REG_RSI, REG_RDI,
					     REG_RBP, REG_RSP, REG_R8,  REG_R9,  REG_R10, REG_R11,
					     REG_R12, REG_R13, REG_R14, REG_R15, REG_RIP };

	for (int i = 0; i < CPU_NREGS; i++)
		r[i] = (uint64_t)uc->uc_mcontext.gregs[greg[i]];
#else
	(void)uc;
	r[0] = 0;
#endif
}

/* Append one USAMPLE; the owner's buffer, entered as pst_rec_enter does. */
static void put_sample(struct pst_thr *t, uint64_t tid, uint64_t count, uint64_t flags,
		       const uint64_t *regs, const void *stack, size_t len)
{
	size_t need = pst_usample_max(CPU_NREGS, len);
	uint8_t *p;

	if ((size_t)(t->end - t->pos) < need)
		pst_thr_flush(t); /* writev(2): async-signal-safe, no lock */
	if ((size_t)(t->end - t->pos) < need) {
		__atomic_add_fetch(&cpu_lost, 1, __ATOMIC_RELAXED);
		return;
	}
	p = pst_enc_usample(t->pos, pst_now(), tid, count, flags, regs, CPU_NREGS, len);
	memcpy(p, stack, len);
	t->pos = p + len;
}

/* Async-signal-safe: plain loads and stores, clock_gettime, and writev
 * when the buffer is full. errno is the program's and stays so. */
static void on_sample(int sig, siginfo_t *si, void *ctx)
{
	int saved = errno;
	struct pst_thr *t = pst_self;
	uint64_t regs[CPU_NREGS], sp, len = 0, count = 1;

	(void)sig;
	if (!t || pst_guard || t->in_use || !cpu_on) {
		__atomic_add_fetch(&cpu_lost, 1, __ATOMIC_RELAXED);
		goto out;
	}
	pst_guard = 1;
	t->in_use = 1;
	barrier();
	/* borrowed or stolen: the timer or exit flusher has the buffer */
	if (t->borrowed || t->stolen || pst_out_broken || pst_state != PST_ON) {
		__atomic_add_fetch(&cpu_lost, 1, __ATOMIC_RELAXED);
		goto leave;
	}
	regs_of(ctx, regs);
	sp = CPU_SUPPORTED ? regs[7] : 0;
	/* only this thread's own stack is known to be mapped above sp */
	if (t->stack_hi > 1 && sp >= t->stack_lo && sp < t->stack_hi)
		len = t->stack_hi - sp < STACK_BYTES ? t->stack_hi - sp : STACK_BYTES;
	/* CPU timers expire on the scheduler's tick: past its rate (often
	 * 250 Hz) expirations merge, and the sample stands for all of them */
	if (si->si_code == SI_TIMER && si->si_overrun > 0)
		count += si->si_overrun < 1000 ? (uint64_t)si->si_overrun : 1000;
	put_sample(t, t->tid, count, 0, regs, (const void *)(uintptr_t)sp, len);
leave:
	barrier();
	t->in_use = 0;
	pst_guard = 0;
out:
	errno = saved;
}

/* ---- timers ---- */

static void timer_arm(struct pst_thr *t)
{
	struct sigevent sev;
	struct itimerspec its;
	int id;

	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = cpu_sig;
	sev._sigev_un._tid = (pid_t)t->tid; /* sigev_notify_thread_id */
	/* the system call, not the C library's wrapper: nothing allocated */
	if (syscall(SYS_timer_create, CLOCK_THREAD_CPUTIME_ID, &sev, &id))
		return;
	its.it_interval.tv_sec = (time_t)(cpu_interval_ns / 1000000000u);
	its.it_interval.tv_nsec = (long)(cpu_interval_ns % 1000000000u);
	/* a first period drawn at random: threads do not tick in step */
	its.it_value.tv_sec = 0;
	its.it_value.tv_nsec = (long)(1 + (t->rng >> 11) % cpu_interval_ns % 1000000000u);
	if (syscall(SYS_timer_settime, id, 0, &its, NULL)) {
		syscall(SYS_timer_delete, id);
		return;
	}
	t->cpu_timer = id + 1;
}

static void timer_disarm(struct pst_thr *t)
{
	if (t->cpu_timer > 0) {
		syscall(SYS_timer_delete, t->cpu_timer - 1);
		t->cpu_timer = 0;
	}
}

void pst_cpu_thread_start(struct pst_thr *t)
{
	int guard = pst_guard;

	if (!cpu_on || cpu_exempt || t->cpu_timer)
		return;
	pst_guard = 1; /* the bounds look-up opens /proc */
	if (!t->stack_hi)
		pst_stack_bounds(t);
	if (pst_cfg.cpu_wall)
		t->cpu_timer = WALL;
	else
		timer_arm(t);
	pst_guard = guard;
}

void pst_cpu_thread_exit(struct pst_thr *t)
{
	if (t->cpu_timer == WALL) {
		pthread_mutex_lock(&sampler_lock); /* no signal for it after this */
		t->cpu_timer = 0;
		pthread_mutex_unlock(&sampler_lock);
	}
	timer_disarm(t);
}

/* ---- the wall-clock sampler ---- */

struct target {
	uint64_t tid;
	uintptr_t lo, hi;
};

#define MAX_TARGETS 4096

struct targets {
	struct target *v;
	size_t n;
	uint64_t self;
};

static void collect(struct pst_thr *t, void *arg)
{
	struct targets *ts = arg;

	if (t->exited || t->tid == ts->self || ts->n >= MAX_TARGETS || t->cpu_timer != WALL)
		return;
	ts->v[ts->n++] = (struct target){ t->tid, t->stack_lo, t->stack_hi };
}

/* A blocked thread's user pc and sp, from /proc: 1 when it sleeps in the kernel. */
static int blocked_at(uint64_t tid, uint64_t *sp, uint64_t *pc)
{
	char path[64], buf[256];
	long long nr;
	unsigned long long a[6], s, p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%llu/syscall", (unsigned long long)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	if (!strncmp(buf, "running", 7))
		return 0;
	if (sscanf(buf, "%lld %llx %llx %llx %llx %llx %llx %llx %llx", &nr, &a[0], &a[1], &a[2],
		   &a[3], &a[4], &a[5], &s, &p) == 9) {
		*sp = s;
		*pc = p;
		return 1;
	}
	if (sscanf(buf, "%lld %llx %llx", &nr, &s, &p) == 3 && nr == -1) {
		*sp = s;
		*pc = p;
		return 1;
	}
	return -1;
}

/* A blocked thread cannot be interrupted without waking it (a sleep would
 * end early, EINTR): its stack is read from here, the kernel saved the rest. */
static void sample_blocked(struct pst_thr *self, const struct target *tg, uint64_t sp,
			   uint64_t pc, uint8_t *copy)
{
	uint64_t regs[CPU_NREGS] = { 0 };
	struct iovec local, remote;
	ssize_t got = 0;
	size_t len = 0;

	if (tg->hi > 1 && sp >= tg->lo && sp < tg->hi) {
		len = tg->hi - sp < STACK_BYTES ? tg->hi - sp : STACK_BYTES;
		local = (struct iovec){ copy, len };
		remote = (struct iovec){ (void *)(uintptr_t)sp, len };
		got = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	}
#if defined(__x86_64__)
	regs[7] = sp;
	regs[16] = pc;
#endif
	if (pst_rec_enter(self))
		put_sample(self, tg->tid, 1, PST_SAMPLE_BLOCKED, regs, copy,
			   got > 0 ? (size_t)got : 0);
	pst_rec_leave(self);
	pst_guard = 1;
}

static void sampler_tick(struct pst_thr *self, struct targets *ts, uint8_t *copy)
{
	ts->n = 0;
	pst_thr_foreach(collect, ts);
	for (size_t i = 0; i < ts->n; i++) {
		uint64_t sp, pc;
		int r = blocked_at(ts->v[i].tid, &sp, &pc);

		if (r == 0)
			syscall(SYS_tgkill, getpid(), (pid_t)ts->v[i].tid, cpu_sig);
		else if (r == 1)
			sample_blocked(self, &ts->v[i], sp, pc, copy);
	}
}

static void *sampler_main(void *arg)
{
	struct targets ts = { 0 };
	struct timespec next;
	struct pst_thr *self;
	uint8_t *copy;

	(void)arg;
	cpu_exempt = 1;
	prctl(PR_SET_NAME, "prestanda-cpu", 0, 0, 0);
	self = pst_thr();
	pst_guard = 1;
	ts.v = mmap(NULL, MAX_TARGETS * sizeof(*ts.v) + STACK_BYTES, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!self || ts.v == MAP_FAILED)
		return NULL;
	copy = (uint8_t *)(ts.v + MAX_TARGETS);
	ts.self = self->tid;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		next.tv_nsec += (long)cpu_interval_ns;
		while (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
		pthread_mutex_lock(&sampler_lock);
		if (sampler_stop || pst_state != PST_ON) {
			pthread_mutex_unlock(&sampler_lock);
			break;
		}
		sampler_tick(self, &ts, copy);
		pthread_mutex_unlock(&sampler_lock);
		/* no thread left to sample (main called pthread_exit, the
		 * others ended): the sampler must not keep the process alive */
		if (ts.n == 0)
			break;
	}
	munmap(ts.v, MAX_TARGETS * sizeof(*ts.v) + STACK_BYTES);
	return NULL;
}

static void sampler_start(void)
{
	sigset_t all, old;
	pthread_attr_t attr;

	sampler_stop = 0;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	sampler_running = pst_real.pthread_create &&
			  !pst_real.pthread_create(&sampler, &attr, sampler_main, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* ---- start, fork, exec, end ---- */

/* The signal: PRESTANDA_CPU_SIGNAL, else the highest real-time signal the
 * program has left at its default. SIGPROF stays the program's own. */
static int pick_signal(void)
{
	struct sigaction sa;

	if (pst_cfg.cpu_signal) {
		if (pst_cfg.cpu_signal >= SIGRTMIN && pst_cfg.cpu_signal <= SIGRTMAX)
			return pst_cfg.cpu_signal;
		if (pst_cfg.cpu_signal == SIGPROF && !sigaction(SIGPROF, NULL, &sa) &&
		    sa.sa_handler == SIG_DFL)
			return SIGPROF;
		return 0;
	}
	for (int sig = SIGRTMAX - 1; sig > SIGRTMIN + 2; sig--)
		if (!sigaction(sig, NULL, &sa) && !(sa.sa_flags & SA_SIGINFO) &&
		    sa.sa_handler == SIG_DFL)
			return sig;
	return 0;
}

static void say(const char *msg)
{
	(void)!write(2, msg, strlen(msg));
}

/* CPU_CONFIG and the objects loaded so far, into t's buffer. */
static void write_config(struct pst_thr *t)
{
	uint64_t flags = PST_CPU_ON_CPU | PST_CPU_DWARF | (pst_cfg.cpu_wall ? PST_CPU_WALL : 0);

	if (pst_rec_enter(t)) {
		t->pos = pst_enc_cpu_config(pst_thr_room(t, PST_CPU_EVENT_MAX), PST_CPU_PRELOAD,
					    pst_cfg.cpu_hz, flags, STACK_BYTES);
		pst_modules_write_new(t);
	}
	pst_rec_leave(t);
}

static void start_sampling(void)
{
	struct pst_thr *t = pst_thr();

	if (!t)
		return;
	cpu_start_ts = pst_now();
	write_config(t);
	cpu_on = 1;
	pst_cpu_thread_start(t);
	if (pst_cfg.cpu_wall)
		sampler_start();
}

void pst_cpu_start(void)
{
	struct sigaction sa;

	if (!pst_cfg.cpu_hz || pst_state != PST_ON || cpu_sig)
		return;
	if (!CPU_SUPPORTED) {
		say("prestanda: --cpu: CPU samples are only taken on x86-64 so far\n");
		return;
	}
	if (pst_cfg.cpu_hz > 10000)
		pst_cfg.cpu_hz = 10000;
	cpu_interval_ns = 1000000000u / pst_cfg.cpu_hz;
	cpu_sig = pick_signal();
	if (!cpu_sig) {
		say("prestanda: --cpu: no free signal for the CPU timers (PRESTANDA_CPU_SIGNAL), "
		    "no CPU samples\n");
		return;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sample;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(cpu_sig, &sa, NULL)) {
		char line[160];

		snprintf(line, sizeof(line), "prestanda: --cpu: sigaction: %s\n", strerror(errno));
		say(line);
		cpu_sig = 0;
		return;
	}
	start_sampling();
}

/* Modules dlopened since the last look: written from the timer thread,
 * through a buffer of its own, when the loader's counters moved. */
static int load_count(struct dl_phdr_info *info, size_t size, void *arg)
{
	if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs))
		*(unsigned long long *)arg = info->dlpi_adds + info->dlpi_subs;
	return 1;
}

static unsigned long long loads_seen;
static struct pst_thr *mod_thr;
static pthread_mutex_t mod_lock = PTHREAD_MUTEX_INITIALIZER;

static void write_new_modules(void)
{
	unsigned long long loads = 0;

	dl_iterate_phdr(load_count, &loads);
	pthread_mutex_lock(&mod_lock);
	if (loads != loads_seen) {
		if (!mod_thr) {
			void *m = mmap(NULL, sizeof(*mod_thr), PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			mod_thr = m == MAP_FAILED ? NULL : m;
		}
		if (mod_thr) {
			pst_thr_private(mod_thr);
			mod_thr->tid = (uint64_t)syscall(SYS_gettid);
			mod_thr->base_ts = mod_thr->last_ts = pst_now();
			pst_modules_write_new(mod_thr);
			pst_thr_flush(mod_thr);
			loads_seen = loads;
		}
	}
	pthread_mutex_unlock(&mod_lock);
}

void pst_cpu_tick(void)
{
	if (cpu_on)
		write_new_modules();
}

/* Stop this thread's timer and the sampler, then take any signal still
 * pending: exec keeps pending signals, and the new image would die of one. */
static void stop_for_exec(void)
{
	struct timespec zero = { 0, 0 };
	struct pst_thr *t = pst_self;
	sigset_t set, old;

	cpu_on = 0;
	pthread_mutex_lock(&sampler_lock);
	sampler_stop = 1;
	pthread_mutex_unlock(&sampler_lock);
	if (t)
		timer_disarm(t);
	sigemptyset(&set);
	sigaddset(&set, cpu_sig);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	while (sigtimedwait(&set, NULL, &zero) == cpu_sig)
		;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void pst_cpu_finish(bool exec)
{
	struct pst_thr *t;

	if (!cpu_on)
		return;
	write_new_modules();
	t = pst_thr();
	if (t) {
		if (pst_rec_enter(t))
			t->pos = pst_enc_cpu_stats(pst_thr_room(t, PST_CPU_EVENT_MAX),
						   pst_now() - cpu_start_ts,
						   __atomic_load_n(&cpu_lost, __ATOMIC_RELAXED), 0, 0);
		pst_rec_leave(t);
	}
	if (exec)
		stop_for_exec();
}

/* The child has only the forking thread and no timers: its trace gets its
 * own CONFIG, the thread a new timer, wall clock a new sampler. */
void pst_cpu_after_fork(void)
{
	struct pst_thr *t = pst_self;

	if (!cpu_sig || !cpu_on)
		return;
	pthread_mutex_init(&sampler_lock, NULL);
	pthread_mutex_init(&mod_lock, NULL);
	cpu_on = 0;
	cpu_lost = 0;
	loads_seen = 0;
	if (t)
		t->cpu_timer = 0;
	if (pst_state == PST_ON)
		start_sampling();
}
