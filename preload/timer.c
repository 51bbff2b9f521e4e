/* SPDX-License-Identifier: MIT */
/* The timer thread: writes every buffer out once an interval, records SNAPSHOTs of the process and checks budgets. */
#include <dirent.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "proto.h" /* pst_req_flush */
#include "pst.h"

/*
 * One thread, all signals blocked, never recorded (its guard is always
 * set). A killed process loses at most one interval of events, and the
 * snapshots give the report figures over time: calls and bytes so far,
 * resident memory, open descriptors, threads and CPU time.
 */
static bool started;
static pthread_t timer_thread;
static int main_exited;
static unsigned timer_wake; /* a futex word: the timer sleeps on it, bumped to wake it */
static int timer_stop;  /* pst_timer_pause: return now */

bool pst_read_proc(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	return true;
}

/* Resident set in bytes, from the second field of /proc/self/statm. */
static uint64_t rss_bytes(void)
{
	char buf[128];
	unsigned long long size, resident;

	if (!pst_read_proc("/proc/self/statm", buf, sizeof(buf)))
		return 0;
	if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
		return 0;
	return resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Entries of a /proc directory (fds, tasks), without . and .. and, with
 * skip_ours, without the directory's own descriptor and the profiler's. */
static uint64_t count_entries(const char *dir, bool skip_ours)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	uint64_t n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		/* one closed since the listing was made (a trace write's) is gone */
		if (e->d_name[0] == '.' ||
		    (skip_ours && (fd == dirfd(d) || pst_fd_ours(fd) || fcntl(fd, F_GETFD) < 0)))
			continue;
		n++;
	}
	closedir(d);
	return n;
}

static void take_snapshot(struct pst_snap *s)
{
	struct timespec cpu;

	s->ts = pst_now();
	pst_thr_counters(&s->alloc_calls, &s->free_calls, &s->alloc_bytes);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
	s->rss = rss_bytes();
	/* neither our descriptors nor this thread are the program's */
	s->fds = count_entries("/proc/self/fd", true);
	s->threads = count_entries("/proc/self/task", false);
	s->threads = s->threads > 1 ? s->threads - 1 : 0;
	s->cpu_ns = (uint64_t)cpu.tv_sec * 1000000000u + (uint64_t)cpu.tv_nsec;
}

/* Written past the event cap (--max-size): the timeline goes on. */
static void write_snapshot(uint64_t tid, const struct pst_snap *s)
{
	uint8_t rec[2 + 8 * PST_VARINT_MAX], *e; /* 8 varints */

	e = pst_enc_snapshot(rec, s->ts, s->alloc_calls, s->free_calls, s->alloc_bytes, s->rss,
			     s->fds, s->threads, s->cpu_ns);
	pst_out_record(tid, s->ts, rec, (size_t)(e - rec));
}

/*
 * A process ends when its last thread does. After main's pthread_exit the
 * timer must not be what keeps it alive: it then looks every 10 ms whether
 * it is alone, and if so returns, and the process exits as it would have.
 */
static bool alone_after_main(void)
{
	/* the main thread stays listed, a zombie, until the process ends */
	return main_exited && count_entries("/proc/self/task", false) <= 2;
}

/*
 * A program whose last thread left by the exit system call (seccomp strict
 * mode allows no other way out) ran no destructor: its main thread is a
 * zombie and this thread alone keeps the process alive. Then the trace is
 * finished here and the process ends with the status it would have had
 * bare: the exit code of the thread that ended last. *status: that code.
 */
static bool program_gone(int *status)
{
	char buf[1024], *p;
	int field = 2;
	long long code = 0;

	if (count_entries("/proc/self/task", false) > 2)
		return false;
	if (!pst_read_proc("/proc/self/stat", buf, sizeof(buf)))
		return false;
	p = strrchr(buf, ')'); /* the name may hold spaces and parentheses */
	if (!p || p[1] != ' ' || p[2] != 'Z')
		return false;
	/* field 52, exit_code: the status as waitpid reports it */
	for (p += 2; *p && field < 52; p++)
		if (*p == ' ')
			field++;
	if (field == 52)
		code = strtoll(p, NULL, 10);
	/* the kernel gives the process the exit code of its last thread */
	*status = pst_last_exit ? pst_last_exit & 0xff : (int)((code >> 8) & 0xff);
	return true;
}

static void timer_sleep(uint64_t ms, unsigned seen)
{
	struct timespec gap = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };

	if (main_exited) {
		struct timespec poll = { 0, 10000000 };
		for (uint64_t waited = 0;
		     waited < ms && !alone_after_main() && !__atomic_load_n(&timer_stop, __ATOMIC_ACQUIRE);
		     waited += 10)
			nanosleep(&poll, NULL);
		return;
	}
	/* woken early by pst_timer_main_exited, pst_timer_pause and a buffer
	 * handed over (pst_timer_kick); one bumped since `seen` returns now */
	syscall(SYS_futex, &timer_wake, FUTEX_WAIT_PRIVATE, seen, &gap, NULL, 0);
	if (main_exited)
		timer_sleep(ms, seen);
}

/* The next of two deadlines; a period of 0 never comes. */
static uint64_t next_due(uint64_t flush_at, uint64_t snap_at)
{
	if (!pst_cfg.flush_ms)
		return snap_at;
	return flush_at < snap_at ? flush_at : snap_at;
}

/*
 * Buffers are written every flush_ms, snapshots taken every metrics_ms
 * (monitoring.metrics_interval), the budgets checked with each snapshot.
 * A snapshot always follows a flush, so its counters cover every event
 * written before it.
 */
static void *timer_main(void *arg)
{
	uint64_t tid = (uint64_t)syscall(SYS_gettid), now = pst_now();
	uint64_t flush_at = now + pst_cfg.flush_ms * 1000000, snap_at = now + pst_cfg.metrics_ms * 1000000;
	struct pst_snap snap, prev;
	bool have_prev = false;
	int status;

	(void)arg;
	pst_guard = 1;
	prctl(PR_SET_NAME, "prestanda", 0, 0, 0);
	pst_zq_writer(true);
	for (;;) {
		uint64_t due = next_due(flush_at, snap_at);
		unsigned seen = __atomic_load_n(&timer_wake, __ATOMIC_ACQUIRE);

		pst_zq_work();
		now = pst_now();
		/* a stop asked before `seen` was read bumped it already: the
		 * futex would not wake, and a program that ends before this
		 * thread first runs waited the whole join (0.5 s at exit) */
		if (due > now && !__atomic_load_n(&timer_stop, __ATOMIC_ACQUIRE))
			timer_sleep((due - now + 999999) / 1000000, seen);
		if (pst_state != PST_ON || pst_out_broken || alone_after_main() ||
		    __atomic_load_n(&timer_stop, __ATOMIC_ACQUIRE))
			break;
		if (!main_exited && program_gone(&status)) {
			pst_finish(PST_END_EXIT);
			syscall(SYS_exit_group, status);
		}
		now = pst_now();
		pst_leak_scan_pending();
		if (now < due)
			continue; /* woken early: main exited, or a buffer to write */
		if (now >= snap_at || (pst_cfg.flush_ms && now >= flush_at)) {
			pst_cpu_tick();
			pst_thr_flush_pending();
			flush_at = now + pst_cfg.flush_ms * 1000000;
		}
		if (now >= snap_at) {
			pst_req_flush(tid, now, false); /* the requests' sums of the interval */
			take_snapshot(&snap);
			write_snapshot(tid, &snap);
			pst_metrics_write(&snap);
			pst_prod_check(tid, &snap, have_prev ? &prev : NULL);
			prev = snap;
			have_prev = true;
			snap_at += pst_cfg.metrics_ms * 1000000;
			if (snap_at <= now)
				snap_at = now + pst_cfg.metrics_ms * 1000000;
		}
	}
	pst_zq_writer(false);
	pst_zq_work(); /* what was handed before the writer stopped */
	return NULL;
}

void pst_timer_kick(void)
{
	__atomic_add_fetch(&timer_wake, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, &timer_wake, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void pst_timer_main_exited(void)
{
	__atomic_store_n(&main_exited, 1, __ATOMIC_RELEASE);
	pst_timer_kick();
}

void pst_timer_start(void)
{
	sigset_t all, old;
	pthread_attr_t attr;
	int guard = pst_guard;

	if (started || pst_state != PST_ON || !pst_cfg.metrics_ms || !pst_real.pthread_create)
		return;
	started = true;
	pst_guard = 1;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	if (pst_real.pthread_create(&timer_thread, &attr, timer_main, NULL))
		started = false;
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pst_guard = guard;
}

/* Ask the timer thread to return, and join it. */
static void timer_join(void)
{
	__atomic_store_n(&timer_stop, 1, __ATOMIC_RELEASE);
	pst_timer_kick();
	pst_real.pthread_join(timer_thread, NULL);
	started = false;
}

/* Detach: the thread ends, whatever else runs (pst_timer_resume starts
 * one again at the next attach). */
void pst_timer_stop(void)
{
	int guard = pst_guard;

	if (!started || !pst_real.pthread_join)
		return;
	pst_guard = 1;
	timer_join();
	pst_guard = guard;
}

/*
 * A normal exit: the timer ends before the trace does, so that a snapshot
 * it is writing gets its budget check, alert and metrics file too (the
 * last interval's alert was lost when exit_group came between them).
 * Bounded: a timer stuck behind a lock the exiting thread holds (exit from
 * a signal handler inside malloc) is left to exit_group, as before.
 */
void pst_timer_finish(void)
{
	struct timespec until;
	int guard = pst_guard;

	if (!started || pthread_equal(pthread_self(), timer_thread))
		return;
	pst_guard = 1;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += 500000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	__atomic_store_n(&timer_stop, 1, __ATOMIC_RELEASE);
	pst_timer_kick();
	if (pthread_timedjoin_np(timer_thread, NULL, &until) == 0)
		started = false;
	pst_guard = guard;
}

/*
 * unshare(CLONE_NEWUSER) and setns into a user namespace refuse a process
 * of several threads: the timer must not be what makes the program one.
 * When the program runs one thread, the timer ends and is gone from the
 * thread group before the call (bounded: 1 s), and pst_timer_resume starts
 * it again. Returns whether it was stopped.
 */
bool pst_timer_pause(void)
{
	int guard = pst_guard;
	struct timespec gap = { 0, 100000 };

	if (!started || main_exited || __atomic_load_n(&pst_live_threads, __ATOMIC_RELAXED) > 1 ||
	    !pst_real.pthread_join)
		return false;
	pst_guard = 1;
	timer_join();
	/* joined once its tid is cleared; it leaves the group just after */
	for (int i = 0; i < 10000 && count_entries("/proc/self/task", false) > 1; i++)
		nanosleep(&gap, NULL);
	pst_guard = guard;
	return true;
}

void pst_timer_resume(void)
{
	__atomic_store_n(&timer_stop, 0, __ATOMIC_RELEASE);
	pst_timer_start();
}

void pst_timer_after_fork(void)
{
	started = false;
	main_exited = 0;
	pst_timer_start();
}
