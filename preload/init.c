/* SPDX-License-Identifier: MIT */
/* Start-up from the environment, fork handling, and the final flush at exit. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"
#include "pst.h"

volatile int pst_state = PST_UNINIT;
struct pst_config pst_cfg = { .sample_bytes = 512 * 1024, .follow_exec = true,
			       .stack_cache = true, .flush_ms = 1000 };
__thread struct pst_tls pst_tls;
static pid_t traced_pid;

/* A number setting; def when unset or not a number, or when it is 0 and
 * zero_ok is false. */
static uint64_t env_u64(enum pst_opt o, uint64_t def, bool zero_ok)
{
	uint64_t n;

	return pst_option_u64(o, &n, false) <= 0 || (!n && !zero_ok) ? def : n;
}

static void read_config(void)
{
	pst_cfg.full = pst_option_on(PST_OPT_FULL);
	pst_cfg.follow_exec = !pst_option_on(PST_OPT_NO_FOLLOW);
	pst_cfg.sample_bytes = env_u64(PST_OPT_SAMPLE_BYTES, pst_cfg.sample_bytes, false);
	pst_cfg.flush_ms = env_u64(PST_OPT_FLUSH_MS, pst_cfg.flush_ms, true);
	pst_cfg.stack_cache = !pst_option_is(PST_OPT_STACK_CACHE, "0");
	pst_cfg.cpu_hz = env_u64(PST_OPT_CPU, 0, false);
	pst_cfg.cpu_wall = pst_option_is(PST_OPT_CPU_CLOCK, "wall");
	pst_cfg.cpu_signal = (int)env_u64(PST_OPT_CPU_SIGNAL, 0, false);
}

/* --no-follow: programs this one execs run without the preload. Only our
 * entry is taken out of LD_PRELOAD; the user's other entries stay, and
 * our PRESTANDA_* settings go (read by now). */
static void stop_following(void)
{
	const char *pre = getenv("LD_PRELOAD");
	char keep[4096] = "", *save = NULL, *tok, copy[4096];

	if (!pre)
		return;
	snprintf(copy, sizeof(copy), "%s", pre);
	for (tok = strtok_r(copy, ": ", &save); tok; tok = strtok_r(NULL, ": ", &save)) {
		const char *base = strrchr(tok, '/');
		if (!strcmp(base ? base + 1 : tok, "libprestanda.so"))
			continue;
		snprintf(keep + strlen(keep), sizeof(keep) - strlen(keep), "%s%s",
			 *keep ? ":" : "", tok);
	}
	if (*keep)
		setenv("LD_PRELOAD", keep, 1);
	else
		unsetenv("LD_PRELOAD");
	for (char **e = environ; *e;) {
		char name[128];
		size_t n = strcspn(*e, "=");

		if (strncmp(*e, "PRESTANDA_", 10) || n >= sizeof(name)) {
			e++;
			continue;
		}
		memcpy(name, *e, n);
		name[n] = 0;
		unsetenv(name); /* moves the later entries down: look here again */
	}
}

/* The guard keeps the profiler's own locking out of the pthread hooks. */
static __thread int fork_guard;

static void fork_prepare(void)
{
	fork_guard = pst_guard;
	pst_guard = 1;
	pst_modules_lock(true);
	pst_stacks_lock(true);
	pst_thr_lock_registry(true);
}

static void fork_parent(void)
{
	pst_thr_lock_registry(false);
	pst_stacks_lock(false);
	pst_modules_lock(false);
	pst_guard = fork_guard;
}

/* What the last trace knew: a new one starts from an empty slate. */
static void forget_recorded(void)
{
	pst_modules_reset();
	pst_stacks_reset();
	pst_sampled_reset();
	pst_leakset_reset();
	pst_net_after_fork();
}

/* The child writes a trace of its own, from an empty slate. */
static void fork_child(void)
{
	int guard = fork_guard;

	pst_guard = 1;
	if (pst_attached) {
		/* attach recorded the parent only: the child runs as ever,
		 * and may be attached to itself later */
		pst_attach_forked();
		pst_thr_after_fork();
		pst_state = PST_OFF;
		pst_guard = guard;
		return;
	}
	forget_recorded();
	pst_thr_after_fork();
	pst_locks_after_fork();
	pst_metrics_after_fork();
	traced_pid = getpid();
	if (pst_state == PST_ON && pst_out_open((uint64_t)traced_pid) == 0) {
		pst_prod_start();
		pst_thr_after_fork_open();
	} else
		pst_state = PST_OFF;
	pst_timer_after_fork();
	pst_cpu_after_fork();
	pst_guard = guard;
}

/*
 * Runs from the constructor, or from the first hooked call if that comes
 * earlier. The state leaves UNINIT before anything here can allocate, so
 * the allocations dlsym makes go to the bootstrap arena. Any failure leaves
 * the preload OFF: calls pass straight through, the program runs as ever.
 */
void pst_init(void)
{
	int expect = PST_UNINIT;

	if (!__atomic_compare_exchange_n(&pst_state, &expect, PST_INITING, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return;
	pst_guard = 1;
	pst_resolve_real();
	read_config();
	/* monitoring.enabled false: the calls pass straight through */
	if (!pst_real.malloc || !pst_real.free || !pst_real.calloc || !pst_real.realloc ||
	    !pst_prod_config()) {
		pst_state = PST_OFF;
		pst_guard = 0;
		return;
	}
	/* --full: the live blocks are kept for the reachability scan at exit */
	pst_leakset_init(pst_cfg.full);
	pst_modules_init();
	pst_stacks_init();
	pst_sampled_init();
	pst_thr_setup();
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	/* attached, the program's signal dispositions are not ours to change */
	if (!pst_attached)
		pst_crash_install();
	pst_out_env();
	traced_pid = getpid();
	pst_state = pst_out_open((uint64_t)traced_pid) == 0 ? PST_ON : PST_OFF;
	pst_prod_start();
	if (!pst_cfg.follow_exec)
		stop_following();
	pst_guard = 0;
}

/* `prestanda attach` again, after a detach (attach.c): settings anew, and
 * a new trace from an empty slate, as a forked child's. */
void pst_init_again(void)
{
	pst_guard = 1;
	read_config();
	if (!pst_prod_config()) { /* monitoring.enabled false: stay off */
		pst_guard = 0;
		return;
	}
	forget_recorded();
	pst_thr_restart();
	pst_locks_after_fork();
	pst_out_env();
	traced_pid = getpid();
	if (pst_out_open((uint64_t)traced_pid) == 0) {
		pst_state = PST_ON;
		pst_prod_start();
		pst_thr_restart_open();
	}
	pst_guard = 0;
}

/*
 * Flush every thread's buffer and write END. For exec the process may go
 * on (exec can fail), so recording resumes. A vfork child shares our memory
 * and must not touch it: it has another pid and does nothing here.
 */
void pst_finish(uint64_t reason)
{
	int guard = pst_guard;

	if (pst_state != PST_ON || getpid() != traced_pid)
		return;
	if (reason == PST_END_EXIT)
		pst_timer_finish();
	pst_metrics_remove();
	pst_out_final();
	pst_cpu_finish(reason == PST_END_EXEC);
	pst_locks_emit();
	pst_net_flush_all();
	pst_guard = 1;
	if (reason == PST_END_EXIT)
		pst_leak_scan();
	/* the threads' buffers serve again at the next exec or attach */
	pst_thr_flush_all(reason == PST_END_EXEC || reason == PST_END_DETACH, false);
	pst_out_end(reason, 0);
	if (reason != PST_END_EXEC)
		pst_state = PST_OFF;
	pst_guard = guard;
}

void pst_finish_signal(int sig)
{
	if (pst_state != PST_ON || getpid() != traced_pid)
		return;
	pst_metrics_remove();
	pst_guard = 1;
	pst_thr_flush_all(false, true);
	pst_out_end(PST_END_SIGNAL, (uint64_t)sig);
	pst_state = PST_OFF;
}

__attribute__((constructor)) static void pst_ctor(void)
{
	/* dlopen'd by `prestanda attach`: its call starts us, with its settings */
	if (pst_state == PST_UNINIT && pst_attach_loaded_late())
		return;
	if (pst_state == PST_UNINIT)
		pst_init();
	pst_timer_start();
	pst_cpu_start();
}

__attribute__((destructor)) static void pst_dtor(void)
{
	pst_finish(PST_END_EXIT);
}
