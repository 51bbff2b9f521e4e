/* SPDX-License-Identifier: MIT */
/* --metrics-textfile: each SNAPSHOT's figures in the Prometheus text format, one file per process, for node_exporter's textfile collector. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "net.h"

/*
 * The timer thread writes the file from the very numbers of the SNAPSHOT it
 * has just recorded, so the file and the trace agree by construction. It
 * writes a hidden temporary file (node_exporter reads only *.prom) and
 * renames it over the last one: a scrape sees a whole file or the previous
 * one. No descriptor is held between writes and nothing is allocated: the
 * text goes through a static buffer (the timer thread is the only writer).
 * The file goes away when the process ends in a way the preload sees (exit,
 * exec, a fatal signal); after SIGKILL it stays, and its
 * prestanda_last_write_timestamp_seconds stops moving.
 */
static char dir[512];          /* "" : off */
static char path[600], tmp[600]; /* this process's file and its temporary */
static int ended;              /* the process is ending: write no more */
static char text[49152]; /* ten metrics, and nine endpoints' histograms */

/* Made once per process, never while another thread may read them. */
static void set_paths(void)
{
	snprintf(path, sizeof(path), "%s/prestanda-%d.prom", dir, (int)getpid());
	snprintf(tmp, sizeof(tmp), "%s/.prestanda-%d.prom.tmp", dir, (int)getpid());
}

void pst_metrics_set_dir(const char *d)
{
	size_t n = strlen(d);

	if (n >= sizeof(dir)) {
		pst_say("metrics textfile directory too long, ignored: %s", d);
		return;
	}
	memcpy(dir, d, n + 1);
	while (n > 1 && dir[n - 1] == '/')
		dir[--n] = 0;
	set_paths();
}

bool pst_metrics_on(void)
{
	return dir[0] != 0;
}

/* n bytes of in (up to a 0) as a label value: what would end a quoted
 * value replaced, and with ascii what is not ASCII (a socket path need
 * not be UTF-8, as Prometheus asks). */
static void label_clean(const char *in, size_t n, bool ascii, char *out, size_t len)
{
	size_t i = 0;

	for (; in && i < n && in[i] && i + 1 < len; i++) {
		unsigned char c = (unsigned char)in[i];

		out[i] = c == '"' || c == '\\' || c < ' ' || c == 0x7f || (ascii && c > 0x7f) ? '_' :
													   (char)c;
	}
	out[i] = 0;
}

/* The program label: the name the process has now. */
static void program_label(char *out, size_t len)
{
	label_clean(program_invocation_short_name, len, false, out, len);
}

/* A value is a whole number divided by its scale: exact in the file
 * (CPU time to the nanosecond, as in the trace). */
struct metric {
	const char *name, *type, *help;
	uint64_t scale; /* 1, 1000 (ms) or 1000000000 (ns) */
};

/* In the order of the values metrics_values fills. */
static const struct metric metrics[] = {
	{ "prestanda_alloc_calls_total", "counter",
	  "Allocation calls (malloc, calloc, realloc, new, ...) since the process started, counted exactly.", 1 },
	{ "prestanda_free_calls_total", "counter", "Calls of free (and delete) since the process started.", 1 },
	{ "prestanda_alloc_bytes_total", "counter", "Bytes asked for by allocation calls since the process started.", 1 },
	{ "prestanda_heap_bytes", "gauge",
	  "Heap in use as the C library's malloc counts it (mallinfo2: chunks in use in the arenas and mmapped), exact in sampled and full mode alike, chunk headers included; read at most 0.1% of the time (a large fragmented heap: less often than this file is written), and no more once one read took over 1 ms (the last figure stays); 0 under another allocator.",
	  1 },
	{ "prestanda_resident_memory_bytes", "gauge", "Resident set of the process (heap included).", 1 },
	{ "prestanda_open_fds", "gauge", "Descriptors the program holds open (not the profiler's own).", 1 },
	{ "prestanda_threads", "gauge", "Threads of the program (not the profiler's own).", 1 },
	{ "prestanda_cpu_seconds_total", "counter", "CPU time of the process, user and system.", 1000000000 },
	{ "prestanda_lock_wait_seconds_total", "counter",
	  "Time threads waited for contended mutexes, rwlocks and spinlocks.", 1000000000 },
	{ "prestanda_metrics_interval_seconds", "gauge", "How often this file is written.", 1000 },
	{ "prestanda_last_write_timestamp_seconds", "gauge",
	  "When this file was written (Unix time): a file that stops moving is stale (process killed by SIGKILL).",
	  1000000000 },
};
#define NMETRICS (sizeof(metrics) / sizeof(metrics[0]))

/*
 * The preload cannot know the heap in use itself: a free does not say its
 * size, and the sampled set keeps addresses only. The allocator knows,
 * exactly: mallinfo2 adds up each arena and the mmapped chunks. But it
 * holds each arena's lock while it walks that arena's free lists:
 * microseconds for a usual heap, 1 ms with 50,000 free chunks, 90 ms with
 * 500,000. So it is called at most a thousandth of the time: after a call
 * that took d, not again for 1000 d (the file repeats the last figure
 * meanwhile), and never again after a call over 1 ms. Only the timer thread calls it, and only with
 * --metrics-textfile. Chunks cached per thread (tcache) count as in use,
 * as malloc sees them.
 */
#define HEAP_DUTY 1000
#define HEAP_MAX_STALL_NS 1000000
static uint64_t last_heap, heap_next_ns; /* a forked child reads its own at once */

static uint64_t heap_bytes(void)
{
	uint64_t t0 = pst_now(), t1;
	struct mallinfo2 mi;

	if (t0 < heap_next_ns)
		return last_heap;
	mi = mallinfo2();
	t1 = pst_now();
	/* A heap whose walk held the allocator's locks over HEAP_MAX_STALL_NS is
	 * not walked again: the program's threads must never wait that long. */
	heap_next_ns = t1 - t0 > HEAP_MAX_STALL_NS ? UINT64_MAX : t1 + (t1 - t0) * HEAP_DUTY;
	last_heap = (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
	return last_heap;
}

static void metrics_values(const struct pst_snap *s, uint64_t v[NMETRICS])
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	v[0] = s->alloc_calls;
	v[1] = s->free_calls;
	v[2] = s->alloc_bytes;
	v[3] = heap_bytes();
	v[4] = s->rss;
	v[5] = s->fds;
	v[6] = s->threads;
	v[7] = s->cpu_ns;
	v[8] = __atomic_load_n(&pst_lock_wait_ns, __ATOMIC_RELAXED);
	v[9] = pst_cfg.metrics_ms;
	v[10] = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

/* One metric's lines at text + at: how many bytes, or -1 when they do not fit. */
static int format_metric(size_t at, const struct metric *m, const char *labels, uint64_t v)
{
	int n = snprintf(text + at, sizeof(text) - at, "# HELP %s %s\n# TYPE %s %s\n%s{%s} ", m->name,
			 m->help, m->name, m->type, m->name, labels);
	int k;

	if (n < 0 || (size_t)n >= sizeof(text) - at)
		return -1;
	if (m->scale == 1)
		k = snprintf(text + at + n, sizeof(text) - at - (size_t)n, "%llu\n", (unsigned long long)v);
	else
		k = snprintf(text + at + n, sizeof(text) - at - (size_t)n, "%llu.%0*llu\n",
			     (unsigned long long)(v / m->scale), m->scale == 1000 ? 3 : 9,
			     (unsigned long long)(v % m->scale));
	if (k < 0 || (size_t)k >= sizeof(text) - at - (size_t)n)
		return -1;
	return n + k;
}

/* ---- connects and accepts per endpoint ---- */

/*
 * Bounded cardinality: TOP_EP endpoints get series of their own, the rest
 * add up under endpoint="other". An endpoint keeps its series once given
 * one, so that every counter only grows: while places are free, each write
 * gives them to the busiest endpoints (connects, failures and accepts)
 * still without one.
 */
#define TOP_EP 8
#define EP_LABEL_MAX (PST_NET_EP_MAX + 16)

struct ep_row {
	char label[EP_LABEL_MAX];
	uint64_t connects, failures, accepts, connect_ns;
	uint64_t hist[PST_CONNECT_BUCKETS];
};

static uint16_t chosen[TOP_EP]; /* slots with series of their own */
static unsigned nchosen;
static struct ep_row rows[TOP_EP + 1]; /* the chosen, then "other" */

/* One slot's counters read into row (added to what is there). */
static void ep_read(const struct pst_ep_stat *e, struct ep_row *r)
{
	for (unsigned b = 0; b < PST_CONNECT_BUCKETS; b++) {
		uint64_t n = __atomic_load_n(&e->hist[b], __ATOMIC_RELAXED);

		r->hist[b] += n;
		r->connects += n;
	}
	r->failures += __atomic_load_n(&e->failures, __ATOMIC_RELAXED);
	r->accepts += __atomic_load_n(&e->accepts, __ATOMIC_RELAXED);
	r->connect_ns += __atomic_load_n(&e->connect_ns, __ATOMIC_RELAXED);
}

static bool ep_chosen(unsigned slot)
{
	for (unsigned i = 0; i < nchosen; i++)
		if (chosen[i] == slot)
			return true;
	return false;
}

/* The busiest ready slot without a series, or PST_EP_SLOTS when none is busy. */
static unsigned ep_busiest(void)
{
	unsigned best = PST_EP_SLOTS;
	uint64_t most = 0;

	for (unsigned i = 0; i < PST_EP_SLOTS; i++) {
		struct ep_row r = { .connects = 0 };

		if (!__atomic_load_n(&pst_ep_stats[i].ready, __ATOMIC_ACQUIRE) || ep_chosen(i))
			continue;
		ep_read(&pst_ep_stats[i], &r);
		if (r.connects + r.failures + r.accepts > most) {
			most = r.connects + r.failures + r.accepts;
			best = i;
		}
	}
	return best;
}

/* An endpoint as a label value: 127.0.0.1:80, [::1]:80, unix:/path, unix:@abstract. */
static void ep_label(const struct pst_ep_stat *e, char *out, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";
	uint16_t port;

	if (e->kind == PST_NET_UNIX) {
		char p[PST_NET_EP_MAX + 1];
		bool abstract = e->ep_len && !e->ep[0];

		label_clean((const char *)e->ep + abstract, e->ep_len - abstract, true, p, sizeof(p));
		snprintf(out, len, "unix:%s%s", abstract ? "@" : "", p);
		return;
	}
	memcpy(&port, e->ep + e->ep_len - 2, 2);
	inet_ntop(e->kind == PST_NET_TCP6 ? AF_INET6 : AF_INET, e->ep, a, sizeof(a));
	snprintf(out, len, e->kind == PST_NET_TCP6 ? "[%s]:%u" : "%s:%u", a, ntohs(port));
}

/* The rows of this write: how many (the last one "other"). */
static unsigned ep_rows(void)
{
	unsigned slot;

	while (nchosen < TOP_EP && (slot = ep_busiest()) < PST_EP_SLOTS)
		chosen[nchosen++] = (uint16_t)slot;
	memset(rows, 0, sizeof(rows));
	for (unsigned i = 0; i < nchosen; i++) {
		ep_label(&pst_ep_stats[chosen[i]], rows[i].label, EP_LABEL_MAX);
		ep_read(&pst_ep_stats[chosen[i]], &rows[i]);
	}
	strcpy(rows[nchosen].label, "other");
	for (unsigned i = 0; i <= PST_EP_SLOTS; i++)
		if (!ep_chosen(i))
			ep_read(&pst_ep_stats[i], &rows[nchosen]);
	return nchosen + 1;
}

/* printf to text + *at; false when it does not fit. */
static __attribute__((format(printf, 2, 3))) bool put(size_t *at, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text + *at, sizeof(text) - *at, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(text) - *at)
		return false;
	*at += (size_t)n;
	return true;
}

/* A counter family over the rows where it is not 0. */
static bool ep_counter(size_t *at, const char *labels, unsigned nrows, const char *name,
		       const char *help, size_t off)
{
	if (!put(at, "# HELP %s %s\n# TYPE %s counter\n", name, help, name))
		return false;
	for (unsigned i = 0; i < nrows; i++) {
		uint64_t v = *(const uint64_t *)((const char *)&rows[i] + off);

		if (v && !put(at, "%s{%s,endpoint=\"%s\"} %llu\n", name, labels, rows[i].label,
			      (unsigned long long)v))
			return false;
	}
	return true;
}

/* One row's histogram lines: cumulative buckets, then sum and count. */
static bool ep_histogram_row(size_t *at, const char *labels, const struct ep_row *r)
{
	const char *name = "prestanda_connect_seconds";
	uint64_t cum = 0;

	for (unsigned b = 0; b < PST_CONNECT_BUCKETS; b++) {
		char le[32] = "+Inf";

		cum += r->hist[b];
		if (b < PST_CONNECT_BUCKETS - 1)
			snprintf(le, sizeof(le), "%g", (double)pst_connect_le_ns[b] / 1e9);
		if (!put(at, "%s_bucket{%s,endpoint=\"%s\",le=\"%s\"} %llu\n", name, labels, r->label, le,
			 (unsigned long long)cum))
			return false;
	}
	return put(at, "%s_sum{%s,endpoint=\"%s\"} %llu.%09llu\n%s_count{%s,endpoint=\"%s\"} %llu\n",
		   name, labels, r->label, (unsigned long long)(r->connect_ns / 1000000000u),
		   (unsigned long long)(r->connect_ns % 1000000000u), name, labels, r->label,
		   (unsigned long long)cum);
}

/* The families per endpoint; false when they do not fit. */
static bool format_endpoints(size_t *at, const char *labels)
{
	unsigned n = ep_rows();

	if (!ep_counter(at, labels, n, "prestanda_connects_total",
			"Connects that succeeded, per endpoint (the busiest 8, the rest as other).",
			offsetof(struct ep_row, connects)) ||
	    !ep_counter(at, labels, n, "prestanda_connect_failures_total",
			"Connects that failed at once or when the wait for them ended, per endpoint.",
			offsetof(struct ep_row, failures)) ||
	    !ep_counter(at, labels, n, "prestanda_accepts_total",
			"Connections accepted, per listening address.", offsetof(struct ep_row, accepts)))
		return false;
	if (!put(at, "# HELP prestanda_connect_seconds Time a successful connect took, per endpoint.\n"
		     "# TYPE prestanda_connect_seconds histogram\n"))
		return false;
	for (unsigned i = 0; i < n; i++)
		if (rows[i].connects && !ep_histogram_row(at, labels, &rows[i]))
			return false;
	return true;
}

/* The file's text into the static buffer: its length, 0 when it does not fit. */
static size_t format_text(const struct pst_snap *s)
{
	char prog[128], labels[200];
	uint64_t v[NMETRICS];
	size_t at = 0;

	program_label(prog, sizeof(prog));
	snprintf(labels, sizeof(labels), "program=\"%s\",pid=\"%d\"", prog, (int)getpid());
	metrics_values(s, v);
	for (size_t i = 0; i < NMETRICS; i++) {
		int n = format_metric(at, &metrics[i], labels, v[i]);

		if (n < 0)
			return 0;
		at += (size_t)n;
	}
	return format_endpoints(&at, labels) ? at : 0;
}

static bool write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* Timer thread only, with its guard set. */
void pst_metrics_write(const struct pst_snap *s)
{
	static bool warned;
	size_t len;
	int fd, saved = errno;
	bool ok;

	if (!dir[0] || __atomic_load_n(&ended, __ATOMIC_SEQ_CST) || !(len = format_text(s)))
		return;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ok = fd >= 0 && write_all(fd, text, len);
	if (fd >= 0)
		pst_fd_close(fd);
	ok = ok && rename(tmp, path) == 0;
	if (!ok) {
		if (!warned)
			pst_say("metrics textfile %s: %s", path, strerror(errno));
		warned = true;
		unlink(tmp);
	}
	/* the process began to end while this was written: pst_metrics_remove
	 * may have looked before the rename */
	if (__atomic_load_n(&ended, __ATOMIC_SEQ_CST))
		unlink(path);
	errno = saved;
}

/* At exit, exec and a fatal signal: async-signal-safe (a store, two unlinks). */
void pst_metrics_remove(void)
{
	int saved = errno;

	if (!dir[0])
		return;
	__atomic_store_n(&ended, 1, __ATOMIC_SEQ_CST);
	unlink(path);
	unlink(tmp);
	errno = saved;
}

/* A forked child writes a file of its own and never removes its parent's. */
void pst_metrics_after_fork(void)
{
	ended = 0;
	nchosen = 0;
	heap_next_ns = 0;
	if (dir[0])
		set_paths();
}
