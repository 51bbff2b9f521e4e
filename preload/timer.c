/* SPDX-License-Identifier: MIT */
/* The timer thread: writes every buffer out once an interval and records a SNAPSHOT of the process. */
#include <dirent.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pst.h"

/*
 * One thread, all signals blocked, never recorded (its guard is always
 * set). A killed process loses at most one interval of events, and the
 * snapshots give the report figures over time: calls and bytes so far,
 * resident memory, open descriptors, threads and CPU time.
 */
static bool started;
static int main_exited; /* a futex word: the timer sleeps on it */

/* Resident set in bytes, from the second field of /proc/self/statm. */
static uint64_t rss_bytes(void)
{
	char buf[128];
	unsigned long long size, resident;
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
		return 0;
	return resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Entries of a /proc directory (fds, tasks), without . and .. */
static uint64_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	uint64_t n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void write_snapshot(uint64_t tid)
{
	uint8_t pay[9 * PST_VARINT_MAX], rec[sizeof(pay) + 1 + PST_VARINT_MAX];
	uint8_t hdr[PST_BLOCK_HEADER_MAX], *q = pay, *e, *h;
	uint64_t calls, frees, bytes, now = pst_now();
	struct timespec cpu;

	pst_thr_counters(&calls, &frees, &bytes);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
	q = pst_put_varint(q, now);
	q = pst_put_varint(q, calls);
	q = pst_put_varint(q, frees);
	q = pst_put_varint(q, bytes);
	q = pst_put_varint(q, rss_bytes());
	/* our own trace descriptor is not the program's */
	q = pst_put_varint(q, count_entries("/proc/self/fd") - 1);
	q = pst_put_varint(q, count_entries("/proc/self/task") - 1);
	q = pst_put_varint(q, (uint64_t)cpu.tv_sec * 1000000000u + (uint64_t)cpu.tv_nsec);
	e = pst_enc_framed(rec, PST_REC_SNAPSHOT, pay, (size_t)(q - pay));
	h = pst_enc_block_header(hdr, tid, now, (size_t)(e - rec));
	pst_out_write(hdr, (size_t)(h - hdr), rec, (size_t)(e - rec));
}

/*
 * A process ends when its last thread does. After main's pthread_exit the
 * timer must not be what keeps it alive: it then looks every 10 ms whether
 * it is alone, and if so returns, and the process exits as it would have.
 */
static bool alone_after_main(void)
{
	/* the main thread stays listed, a zombie, until the process ends */
	return main_exited && count_entries("/proc/self/task") <= 2;
}

static void timer_sleep(uint64_t ms)
{
	struct timespec gap = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };

	if (main_exited) {
		struct timespec poll = { 0, 10000000 };
		for (uint64_t waited = 0; waited < ms && !alone_after_main(); waited += 10)
			nanosleep(&poll, NULL);
		return;
	}
	/* woken early by pst_timer_main_exited */
	syscall(SYS_futex, &main_exited, FUTEX_WAIT_PRIVATE, 0, &gap, NULL, 0);
	if (main_exited)
		timer_sleep(ms);
}

static void *timer_main(void *arg)
{
	uint64_t tid = (uint64_t)syscall(SYS_gettid);

	(void)arg;
	pst_guard = 1;
	prctl(PR_SET_NAME, "prestanda", 0, 0, 0);
	for (;;) {
		timer_sleep(pst_cfg.flush_ms);
		if (pst_state != PST_ON || pst_out_broken || alone_after_main())
			break;
		pst_cpu_tick();
		pst_thr_flush_pending();
		write_snapshot(tid);
	}
	return NULL;
}

void pst_timer_main_exited(void)
{
	__atomic_store_n(&main_exited, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, &main_exited, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void pst_timer_start(void)
{
	sigset_t all, old;
	pthread_attr_t attr;
	pthread_t th;
	int guard = pst_guard;

	if (started || pst_state != PST_ON || !pst_cfg.flush_ms || !pst_real.pthread_create)
		return;
	started = true;
	pst_guard = 1;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	if (pst_real.pthread_create(&th, &attr, timer_main, NULL))
		started = false;
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pst_guard = guard;
}

void pst_timer_after_fork(void)
{
	started = false;
	main_exited = 0;
	pst_timer_start();
}
