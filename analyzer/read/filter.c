/* SPDX-License-Identifier: MIT */
/* Which events of a trace an analysis sees: the window and thread of --since, --until and --tid, bound to a trace's clock. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "filter.h"
#include "trace_read.h"

static const struct pst_filter *dflt;

void pst_filter_set_default(const struct pst_filter *f)
{
	dflt = f && pst_filter_active(f) ? f : NULL;
}

const struct pst_filter *pst_filter_default(void)
{
	return dflt;
}

bool pst_filter_timed(const struct pst_filter *f)
{
	return f->has_since || f->has_until;
}

bool pst_filter_active(const struct pst_filter *f)
{
	return pst_filter_timed(f) || f->has_tid || f->has_pid || f->comm;
}

/* Seconds as nanoseconds, clamped to what a uint64 holds. */
static uint64_t sec_ns(double s)
{
	if (!(s > 0))
		return 0;
	if (s >= 18446744073.0)
		return UINT64_MAX;
	return (uint64_t)llround(s * 1e9);
}

/* A bound given as base/value at the process's monotonic time. */
static uint64_t bound_ns(const struct pst_process *p, enum pst_time_base base, double v)
{
	double wall0 = (double)p->start_realtime_ns / 1e9;

	if (base == PST_TIME_DAY) {
		time_t start = (time_t)(p->start_realtime_ns / 1000000000u);
		struct tm tm;

		localtime_r(&start, &tm);
		tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
		tm.tm_isdst = -1;
		v += (double)mktime(&tm);
		base = PST_TIME_EPOCH;
	}
	if (base == PST_TIME_EPOCH)
		v -= wall0; /* as seconds from the start */
	if (v < 0)
		return p->start_monotonic_ns - (uint64_t)fmin((double)p->start_monotonic_ns, -v * 1e9);
	return p->start_monotonic_ns + sec_ns(v);
}

void pst_filter_bind(struct pst_filter *f, const struct pst_process *p)
{
	f->lo_ns = f->has_since ? bound_ns(p, f->since_base, f->since) : 0;
	f->hi_ns = f->has_until ? bound_ns(p, f->until_base, f->until) : UINT64_MAX;
}

/* "HH:MM[:SS[.frac]]" at s: seconds since midnight into *v, the rest's start, or NULL. */
static const char *clock_time(const char *s, double *v)
{
	char *end;
	long h = strtol(s, &end, 10), m;
	double sec = 0;

	if (end == s || *end != ':' || h < 0 || h > 23)
		return NULL;
	s = end + 1;
	m = strtol(s, &end, 10);
	if (end == s || m < 0 || m > 59)
		return NULL;
	if (*end == ':') {
		s = end + 1;
		sec = strtod(s, &end);
		if (end == s || !(sec >= 0 && sec < 61))
			return NULL;
	}
	*v = (double)(h * 3600 + m * 60) + sec;
	return end;
}

/* "YYYY-MM-DD[T ]HH:MM[:SS[.frac]]" (local time) as seconds since the epoch. */
static int date_time(const char *s, double *v)
{
	struct tm tm = { 0 };
	double tod;
	const char *rest = strptime(s, "%Y-%m-%d", &tm);

	if (!rest || (*rest != 'T' && *rest != ' ') || !(rest = clock_time(rest + 1, &tod)) || *rest)
		return -1;
	tm.tm_isdst = -1;
	*v = (double)mktime(&tm) + tod;
	return 0;
}

static int parse_time(const char *arg, enum pst_time_base *base, double *v)
{
	const char *rest;
	char *end;

	if (arg[0] == '@') {
		*base = PST_TIME_EPOCH;
		*v = strtod(arg + 1, &end);
		return end == arg + 1 || *end || !(*v >= 0) ? -1 : 0;
	}
	if (strchr(arg, '-') && strchr(arg, ':')) {
		*base = PST_TIME_EPOCH;
		return date_time(arg, v);
	}
	if (strchr(arg, ':')) {
		*base = PST_TIME_DAY;
		rest = clock_time(arg, v);
		return rest && !*rest ? 0 : -1;
	}
	*base = PST_TIME_START;
	*v = strtod(arg, &end);
	return end == arg || *end || !(*v >= 0) || isinf(*v) ? -1 : 0;
}

int pst_filter_time(struct pst_filter *f, bool until, const char *arg)
{
	enum pst_time_base base;
	double v;

	if (parse_time(arg, &base, &v))
		return -1;
	if (until) {
		f->has_until = true;
		f->until_base = base;
		f->until = v;
	} else {
		f->has_since = true;
		f->since_base = base;
		f->since = v;
	}
	return 0;
}

/* The first n varints of a payload into v: 0, or -1 when it is shorter. */
static int leading(const uint8_t *p, size_t len, uint64_t *v, int n)
{
	const uint8_t *end = p + len;

	for (int i = 0; i < n; i++)
		if (pst_get_varint(&p, end, &v[i]))
			return -1;
	return 0;
}

/* Is pid one of the processes named --comm? */
static bool comm_pid(const struct pst_filter *f, uint64_t pid)
{
	for (size_t i = 0; i < f->ncomm_pids; i++)
		if (f->comm_pids[i] == pid)
			return true;
	return false;
}

/* A record of the process as a whole (the timer thread writes them): no thread's. */
static bool process_wide(unsigned type)
{
	return type == PST_REC_SNAPSHOT || type == PST_REC_PAUSE || type == PST_REC_CAPPED ||
	       type == PST_REC_ALERT || type == PST_REC_SETTINGS ||
	       (type >= PST_REC_CPU_CONFIG && type <= PST_REC_CPU_STATS && type != PST_REC_SAMPLE &&
		type != PST_REC_OFFCPU) ||
	       type == PST_REC_LEAK_SCAN || type == PST_REC_LEAK_PTR;
}

bool pst_filter_record(const struct pst_filter *f, unsigned type, uint64_t tid,
		       const uint8_t *payload, size_t len)
{
	uint64_t v[3], ts = 0;
	bool timed = true;

	switch (type) {
	case PST_REC_SAMPLE:
	case PST_REC_OFFCPU: /* ts, pid, tid */
		if (leading(payload, len, v, 3))
			return true;
		if ((f->has_pid && v[1] != f->pid) || (f->comm && !comm_pid(f, v[1])))
			return false;
		ts = v[0], tid = v[2];
		break;
	case PST_REC_THR_START:
	case PST_REC_THR_END: /* tid, ts */
		if (leading(payload, len, v, 2))
			return true;
		tid = v[0], ts = v[1];
		break;
	case PST_REC_USAMPLE: /* ts, tid */
		if (leading(payload, len, v, 2))
			return true;
		ts = v[0], tid = v[1];
		break;
	case PST_REC_WAIT:
	case PST_REC_SNAPSHOT:
	case PST_REC_PAUSE:
	case PST_REC_CAPPED:
	case PST_REC_ALERT: /* ts first */
		if (leading(payload, len, v, 1))
			return true;
		ts = v[0];
		break;
	case PST_REC_REQ_AGG: /* ts, tid: in the timer's block, the thread is the record's */
		if (leading(payload, len, v, 2))
			return true;
		tid = v[1];
		timed = false; /* as REQ, whose sums these are */
		break;
	default:
		timed = false;
	}
	if (timed && (ts < f->lo_ns || ts >= f->hi_ns))
		return false;
	return process_wide(type) || !f->has_tid || tid == f->tid;
}

/* pst_trace_foreach's callback: a CPU_CONFIG that says host-wide. */
static int on_config(unsigned type, uint64_t tid, const uint8_t *p, size_t len, void *arg)
{
	struct pst_rec_cpu_config c;

	(void)type, (void)tid;
	if (pst_dec_cpu_config(p, p + len, &c) == 0 && (c.flags & PST_CPU_HOST_WIDE)) {
		*(bool *)arg = true;
		return 1;
	}
	return 0;
}

bool pst_filter_host_wide(const struct pst_trace *t)
{
	bool host = false;

	pst_trace_foreach(t, PST_REC_CPU_CONFIG, PST_REC_CPU_CONFIG, on_config, &host);
	return host;
}

/* pst_trace_foreach's callback: a TASK record (a thread prestanda record
 * sampled) of thread *arg; found, it becomes 0. */
static int on_task_tid(unsigned type, uint64_t tid, const uint8_t *p, size_t len, void *arg)
{
	struct pst_rec_task task;

	(void)type, (void)tid;
	if (pst_dec_task(p, p + len, &task) == 0 && task.tid == *(uint64_t *)arg) {
		*(uint64_t *)arg = 0;
		return 1;
	}
	return 0;
}

/* Does t have thread tid (its process's own, a THREAD record's, a total's,
 * a sampled task's)? */
static bool has_thread(const struct pst_trace *t, uint64_t tid)
{
	uint64_t want = tid;

	if (tid == t->proc.pid || !tid)
		return true;
	pst_trace_foreach(t, PST_REC_TASK, PST_REC_TASK, on_task_tid, &want);
	if (!want)
		return true;
	for (size_t i = 0; i < t->nthreads; i++)
		if (t->threads[i].tid == tid)
			return true;
	for (size_t i = 0; i < t->ntotals; i++)
		if (t->totals[i].tid == tid)
			return true;
	return false;
}

/* Is name the program t recorded: its executable's name, or its main
 * thread's (the kernel's comm: a script's interpreter may differ)? The
 * kernel keeps 15 bytes of a name: as ps shows it, it matches too. */
static bool named(const struct pst_trace *t, const char *name)
{
	const char *exe = t->proc.exe ? t->proc.exe : "";
	const char *base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;

	if (!strcmp(name, base) || (strlen(name) == 15 && !strncmp(name, base, 15)))
		return true;
	for (size_t i = 0; i < t->nthreads; i++)
		if (t->threads[i].tid == t->proc.pid && t->threads[i].name &&
		    !strcmp(t->threads[i].name, name))
			return true;
	return false;
}

int pst_filter_check(const struct pst_filter *f, const struct pst_trace *t, bool host_wide,
		     char *why, size_t len)
{
	const char *exe = t->proc.exe ? t->proc.exe : "?";
	const char *comm = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;

	char asked[96];

	if (f->comm)
		snprintf(asked, sizeof(asked), "--comm %s", f->comm);
	else
		snprintf(asked, sizeof(asked), "--pid %llu", (unsigned long long)f->pid);
	if (!host_wide && ((f->has_pid && f->pid != t->proc.pid) || (f->comm && !named(t, f->comm)))) {
		snprintf(why, len, "holds one process, %llu (%s), not %s; --pid and --comm pick a process of a session or of a system-wide trace (record -a)",
			 (unsigned long long)t->proc.pid, comm, asked);
		return -1;
	}
	if (!host_wide && f->has_tid && !has_thread(t, f->tid)) {
		snprintf(why, len, "process %llu (%s) has no thread %llu", (unsigned long long)t->proc.pid,
			 comm, (unsigned long long)f->tid);
		return -1;
	}
	return 0;
}
