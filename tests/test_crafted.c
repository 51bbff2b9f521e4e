/* SPDX-License-Identifier: MIT */
/* The analyzer against crafted traces: modules naming FIFOs, devices and non-ELF files, and module counts that once took it quadratic time and gigabytes. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <link.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"
#include "trace.h"

/* x86-64 DWARF registers of a USAMPLE (as common/unwind.h numbers them). */
#define PST_UNW_NREGS_TEST 17
#define PST_UNW_SP_TEST 7
#define PST_UNW_IP_TEST 16

/* The analyzer runs under these: far above what it needs for any trace
 * here (under 0.1 s and 100 MB each, measured), far below what each
 * crafted trace took before (seconds to minutes, gigabytes). */
#define LIMIT_AS (1ull << 30)
#define LIMIT_CPU_S 20
/* A child still running after this long is blocked (it needs milliseconds). */
#define LIMIT_WALL_S 60

/* ---- functions whose addresses the crafted stacks hold ---- */

__attribute__((noinline, noipa)) int pst_crafted_leaf(int x)
{
	__asm__ volatile("" ::: "memory");
	return x + 1;
}

__attribute__((noinline, noipa)) int pst_crafted_caller(int x)
{
	return pst_crafted_leaf(x) * 2;
}

/* The object holding the test functions: this binary. */
struct self {
	char path[PATH_MAX];
	uint64_t bias, lo, hi;
};

static int find_self(struct dl_phdr_info *info, size_t size, void *data)
{
	struct self *s = data;
	uint64_t lo = UINT64_MAX, hi = 0, fn = (uintptr_t)pst_crafted_leaf;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_LOAD)
			continue;
		if (info->dlpi_addr + ph->p_vaddr < lo)
			lo = info->dlpi_addr + ph->p_vaddr;
		if (info->dlpi_addr + ph->p_vaddr + ph->p_memsz > hi)
			hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
	}
	if (fn < lo || fn >= hi)
		return 0;
	s->bias = info->dlpi_addr;
	s->lo = lo;
	s->hi = hi;
	return realpath("/proc/self/exe", s->path) != NULL;
}

static struct self self_object(void)
{
	struct self s = { .path = "" };

	cr_assert(dl_iterate_phdr(find_self, &s), "the test binary is not among the loaded objects");
	return s;
}

/* ---- writing traces ---- */

struct tw {
	FILE *f;
	uint8_t *in; /* the BLOCK being filled */
	size_t n, cap;
};

/* Room for one more record of at most len bytes in the block. */
static uint8_t *tw_room(struct tw *w, size_t len)
{
	if (w->n + len > w->cap) {
		w->cap = (w->n + len) * 2;
		w->in = realloc(w->in, w->cap);
		cr_assert(w->in);
	}
	return w->in + w->n;
}

static void tw_put(struct tw *w, uint8_t *end)
{
	w->n = (size_t)(end - w->in);
}

static void tw_block(struct tw *w)
{
	uint8_t hdr[PST_BLOCK_HEADER_MAX], *e;

	if (!w->n)
		return;
	e = pst_enc_block_header(hdr, 1, 1, w->n);
	cr_assert_eq(fwrite(hdr, 1, (size_t)(e - hdr), w->f), (size_t)(e - hdr));
	cr_assert_eq(fwrite(w->in, 1, w->n, w->f), w->n);
	w->n = 0;
}

/* A trace of process pid in the preload's mode flags, sampled every
 * sample_bytes when not PST_PROC_FULL. */
static void tw_open_mode(struct tw *w, const char *path, uint64_t pid, uint64_t flags,
			 uint64_t sample_bytes)
{
	uint8_t pay[256], *q = pay, rec[300], *e;

	memset(w, 0, sizeof(*w));
	w->f = fopen(path, "wb");
	cr_assert(w->f, "fopen %s: %s", path, strerror(errno));
	cr_assert_eq(fwrite(PST_MAGIC, 1, PST_MAGIC_LEN, w->f), PST_MAGIC_LEN);
	q = pst_put_varint(q, PST_VERSION);
	q = pst_put_varint(q, pid);
	q = pst_put_varint(q, 1);		 /* ppid */
	q = pst_put_varint(q, flags);
	q = pst_put_varint(q, sample_bytes);
	q = pst_put_varint(q, 1700000000000000000ull);
	q = pst_put_varint(q, 1);		 /* start, monotonic */
	q = pst_put_bytes(q, "crafted", 7);
	q = pst_put_bytes(q, "host", 4);
	e = pst_enc_framed(rec, PST_REC_PROCESS, pay, (size_t)(q - pay));
	cr_assert_eq(fwrite(rec, 1, (size_t)(e - rec), w->f), (size_t)(e - rec));
}

/* A trace of process pid (the preload's, or with CPU records from `record`). */
static void tw_open(struct tw *w, const char *path, uint64_t pid)
{
	tw_open_mode(w, path, pid, PST_PROC_FULL, 0);
}

/* The last block written, then END when the process is to have exited
 * (else the trace ends as a killed process's does). */
static void tw_finish(struct tw *w, bool end)
{
	uint8_t rec[64], *e;

	tw_block(w);
	if (end) {
		e = pst_enc_end(rec, 1000000, PST_END_EXIT, 0);
		cr_assert_eq(fwrite(rec, 1, (size_t)(e - rec), w->f), (size_t)(e - rec));
	}
	cr_assert_eq(fclose(w->f), 0);
	free(w->in);
}

static void tw_close(struct tw *w)
{
	tw_finish(w, true);
}

static void tw_module(struct tw *w, const char *path, uint64_t bias, uint64_t lo, uint64_t hi)
{
	uint8_t pay[PATH_MAX + 64], *q = pay;

	q = pst_put_varint(q, bias);
	q = pst_put_varint(q, lo);
	q = pst_put_varint(q, hi);
	q = pst_put_bytes(q, path, strlen(path));
	q = pst_put_bytes(q, "", 0);
	tw_put(w, pst_enc_framed(tw_room(w, (size_t)(q - pay) + PST_VARINT_MAX + 1), PST_REC_MODULE,
				 pay, (size_t)(q - pay)));
}

static void tw_stack(struct tw *w, uint64_t id, const uint64_t *frames, unsigned depth)
{
	tw_put(w, pst_enc_stack(tw_room(w, pst_stack_rec_max(depth)), id, frames, depth));
}

/* ---- running the analyzer ---- */

struct run {
	int status;	  /* raw wait status */
	double cpu_s;	  /* user + system */
	long maxrss_kb;
	char *out, *err;
	json_t *json;	  /* stdout parsed, NULL when not JSON */
};

/* argv[0] under LIMIT_AS, LIMIT_CPU_S and an alarm at LIMIT_WALL_S; out and
 * err captured. */
/* ASan reserves terabytes of shadow memory at start: under make check-asan
 * the memory bound is left to the plain build's run of this suite. */
#ifdef __SANITIZE_ADDRESS__
#define LIMIT_ADDRESS_SPACE 0
#else
#define LIMIT_ADDRESS_SPACE 1
#endif

static void run_limited(struct run *r, char *const argv[])
{
	char outp[PATH_MAX], errp[PATH_MAX];
	struct rusage ru;
	json_error_t je;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	itest_tmpfile(outp, sizeof(outp));
	itest_tmpfile(errp, sizeof(errp));
	pid = fork();
	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		struct rlimit as = { LIMIT_AS, LIMIT_AS }, cpu = { LIMIT_CPU_S, LIMIT_CPU_S };
		struct rlimit nocore = { 0, 0 };
		int in = open("/dev/null", O_RDONLY);
		int out = open(outp, O_WRONLY | O_TRUNC);
		int err = open(errp, O_WRONLY | O_TRUNC);

		if (in < 0 || out < 0 || err < 0 || (LIMIT_ADDRESS_SPACE && setrlimit(RLIMIT_AS, &as)) ||
		    setrlimit(RLIMIT_CPU, &cpu) || setrlimit(RLIMIT_CORE, &nocore))
			_exit(126);
		dup2(in, 0);
		dup2(out, 1);
		dup2(err, 2);
		alarm(LIMIT_WALL_S);
		execv(argv[0], argv);
		_exit(127);
	}
	while (wait4(pid, &r->status, 0, &ru) < 0)
		cr_assert(errno == EINTR, "wait4: %s", strerror(errno));
	r->cpu_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		   (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	r->maxrss_kb = ru.ru_maxrss;
	r->out = itest_slurp(outp, NULL);
	r->err = itest_slurp(errp, NULL);
	unlink(outp);
	unlink(errp);
	cr_assert(r->out && r->err);
	r->json = json_loads(r->out, 0, &je);
	cr_log_info("%s: %s, %.2f s CPU, %ld MB peak", argv[1], itest_wdesc(r->status), r->cpu_s,
		    r->maxrss_kb / 1024);
}

static void run_free(struct run *r)
{
	json_decref(r->json);
	free(r->out);
	free(r->err);
}

static void assert_exit0(const struct run *r, const char *what)
{
	cr_assert(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0,
		  "%s: %s (%.1f s CPU, %ld MB; SIGXCPU: over %d s of CPU, SIGALRM: blocked %d s, "
		  "out of memory: over %llu MB); stderr: %.500s",
		  what, itest_wdesc(r->status), r->cpu_s, r->maxrss_kb / 1024, LIMIT_CPU_S,
		  LIMIT_WALL_S, LIMIT_AS >> 20, r->err);
}

static int count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* `prestanda report --json` of trace, which must succeed. */
static void report(struct run *r, const char *trace)
{
	char *argv[] = { ITEST_PRESTANDA, "report", "--json", "--top", "100000", (char *)trace,
			 NULL };

	run_limited(r, argv);
	assert_exit0(r, "report");
	cr_assert(r->json, "report: stdout is not JSON: %.300s", r->out);
}

/* Folded stacks of the cpu metric count samples times the period, in ns. */
#define PERIOD_NS (1000000000 / 99)

/* Whether folded has a line that is stack (after the process's frame, in
 * a trace of many) worth samples. */
static bool has_folded(const char *folded, const char *stack, long long samples)
{
	char line[512];

	snprintf(line, sizeof(line), "%s %lld\n", stack, samples * PERIOD_NS);
	for (const char *p = folded; (p = strstr(p, line)); p++)
		if (p == folded || p[-1] == ';' || p[-1] == '\n')
			return true;
	return false;
}

/* `prestanda flame --format folded` of trace, which must succeed. */
static void flame(struct run *r, const char *trace)
{
	char *argv[] = { ITEST_PRESTANDA, "flame", "--metric", "cpu", "--format", "folded",
			 (char *)trace, NULL };

	run_limited(r, argv);
	assert_exit0(r, "flame");
}

static void tw_cpu_config(struct tw *w, uint64_t source, uint64_t flags)
{
	tw_put(w, pst_enc_cpu_config(tw_room(w, PST_CPU_EVENT_MAX), source, 99, flags, 0));
}

static void tw_sample(struct tw *w, uint64_t pid, uint64_t stack, uint64_t count)
{
	tw_put(w, pst_enc_sample(tw_room(w, PST_CPU_EVENT_MAX), 1000, pid, pid, stack, 0, count, 0));
}

/* Where the crafted object with a bad path is mapped: far from this binary. */
#define BAD_BASE 0x100000000ull

/*
 * A process that maps bad_path (a FIFO, a device, a file that is no ELF)
 * and this binary, with 3 CPU samples of one stack: pst_crafted_leaf,
 * called by pst_crafted_caller, called from code in bad_path.
 */
static void bad_module_trace(const char *trace, const char *bad_path)
{
	struct self s = self_object();
	const uint64_t frames[] = { (uintptr_t)pst_crafted_leaf, (uintptr_t)pst_crafted_caller + 1,
				    BAD_BASE + 0x1235 };
	struct tw w;

	tw_open(&w, trace, 4242);
	tw_module(&w, bad_path, BAD_BASE, BAD_BASE, BAD_BASE + 0x10000);
	tw_module(&w, s.path, s.bias, s.lo, s.hi);
	tw_cpu_config(&w, PST_CPU_PRELOAD, PST_CPU_ON_CPU);
	tw_stack(&w, 1, frames, 3);
	tw_sample(&w, 4242, 1, 3);
	tw_close(&w);
}

/* A function of the report's CPU section by name, or NULL. */
static json_t *cpu_fn(json_t *rep, const char *name)
{
	json_t *fns = json_object_get(json_object_get(rep, "cpu"), "functions"), *f;
	size_t i;

	json_array_foreach(fns, i, f)
		if (!strcmp(json_string_value(json_object_get(f, "function")), name))
			return f;
	return NULL;
}

/* Functions of the CPU section with a name (not "[...]"). */
static size_t cpu_named_fns(json_t *rep)
{
	json_t *fns = json_object_get(json_object_get(rep, "cpu"), "functions"), *f;
	size_t i, n = 0;

	json_array_foreach(fns, i, f)
		n += json_string_value(json_object_get(f, "function"))[0] != '[';
	return n;
}

static void expect_fn(json_t *rep, const char *name, long long self, long long total)
{
	json_t *f = cpu_fn(rep, name);

	cr_assert(f, "no function %s in the CPU section", name);
	cr_expect_eq(json_integer_value(json_object_get(f, "self")), self, "%s self", name);
	cr_expect_eq(json_integer_value(json_object_get(f, "total")), total, "%s total", name);
}

/* The report's warnings that mention part. */
static int warnings_with(json_t *rep, const char *part, const char **first)
{
	json_t *ws = json_object_get(rep, "warnings"), *w;
	size_t i;
	int n = 0;

	json_array_foreach(ws, i, w)
		if (strstr(json_string_value(w), part)) {
			if (!n && first)
				*first = json_string_value(w);
			n++;
		}
	return n;
}

/*
 * report (JSON and text) and flame of a trace mapping bad_path: they end,
 * exit 0, resolve both functions of this binary, and say once, naming the
 * path, why it was skipped (why: the warning's text after "path: ").
 */
static void check_bad_module(const char *bad_path, const char *why)
{
	char dir[] = "/tmp/pst-crafted-XXXXXX", trace[PATH_MAX], want[PATH_MAX + 256];
	char *text_argv[] = { ITEST_PRESTANDA, "report", trace, NULL };
	const char *w = NULL;
	struct run r;

	cr_assert(mkdtemp(dir));
	snprintf(trace, sizeof(trace), "%s/bad.trace", dir);
	bad_module_trace(trace, bad_path);
	snprintf(want, sizeof(want), "%s: %s", bad_path, why);

	report(&r, trace);
	cr_expect_eq(itest_int(r.json, "cpu.samples"), 3);
	cr_expect_eq(cpu_named_fns(r.json), 2, "functions resolved: %zu", cpu_named_fns(r.json));
	expect_fn(r.json, "pst_crafted_leaf", 3, 3);
	expect_fn(r.json, "pst_crafted_caller", 0, 3);
	cr_expect_eq(warnings_with(r.json, bad_path, &w), 1);
	cr_expect_str_eq(w ? w : "", want);
	run_free(&r);

	run_limited(&r, text_argv);
	assert_exit0(&r, "report (text)");
	snprintf(want, sizeof(want), "prestanda: warning: %s: %s\n", bad_path, why);
	cr_expect_eq(count_of(r.err, want), 1, "want once: %s; stderr: %s", want, r.err);
	cr_expect_eq(count_of(r.err, bad_path), 1, "the path once; stderr: %s", r.err);
	run_free(&r);

	flame(&r, trace);
	cr_expect(has_folded(r.out, "pst_crafted_caller;pst_crafted_leaf", 3), "folded: %s", r.out);
	cr_expect_eq(count_of(r.err, want), 1, "want once: %s; stderr: %s", want, r.err);
	run_free(&r);

	unlink(trace);
	rmdir(dir);
}

Test(crafted, fifo_module_is_skipped_not_read, .timeout = 240)
{
	char dir[] = "/tmp/pst-crafted-fifo-XXXXXX", fifo[PATH_MAX];

	cr_assert(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/libfifo.so", dir);
	cr_assert_eq(mkfifo(fifo, 0600), 0, "mkfifo: %s", strerror(errno));
	check_bad_module(fifo, "skipped: a FIFO, not a regular file");
	unlink(fifo);
	rmdir(dir);
}

Test(crafted, device_modules_are_skipped_unopened, .timeout = 240)
{
	check_bad_module("/dev/zero", "skipped: a character device, not a regular file");
	check_bad_module("/dev/null", "skipped: a character device, not a regular file");
	if (!access("/dev/tty", F_OK))
		check_bad_module("/dev/tty", "skipped: a character device, not a regular file");
}

Test(crafted, non_elf_module_is_skipped, .timeout = 240)
{
	char dir[] = "/tmp/pst-crafted-txt-XXXXXX", path[PATH_MAX];

	cr_assert(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/libtext.so", dir);
	itest_write(path, "not an ELF file, only text\n", 27);
	check_bad_module(path, "skipped: not an ELF file");
	/* A secret is read no further than its first four bytes, if at all. */
	if (!access("/etc/shadow", R_OK))
		check_bad_module("/etc/shadow", "skipped: not an ELF file");
	else if (!access("/etc/shadow", F_OK))
		check_bad_module("/etc/shadow", "cannot open (Permission denied)");
	unlink(path);
	rmdir(dir);
}

#define NPIDS 20000

/* 20,000 processes (as `record -a` writes them), each mapping this binary
 * and sampled once in pst_crafted_leaf: one file, read once. */
Test(crafted, many_processes_share_one_file, .timeout = 240)
{
	char dir[] = "/tmp/pst-crafted-pids-XXXXXX", trace[PATH_MAX];
	struct self s = self_object();
	const uint64_t frames[] = { (uintptr_t)pst_crafted_leaf, (uintptr_t)pst_crafted_caller + 1 };
	size_t plen = strlen(s.path);
	struct run r;
	struct tw w;

	cr_assert(mkdtemp(dir));
	snprintf(trace, sizeof(trace), "%s/pids.trace", dir);
	tw_open(&w, trace, 1);
	tw_cpu_config(&w, PST_CPU_EBPF, PST_CPU_ON_CPU | PST_CPU_HOST_WIDE);
	tw_stack(&w, 1, frames, 2);
	for (uint64_t pid = 100; pid < 100 + NPIDS; pid++) {
		tw_put(&w, pst_enc_pmodule(tw_room(&w, pst_var_rec_max(7, plen)), pid, s.bias, s.lo,
					   s.hi, s.path, NULL, 0));
		tw_sample(&w, pid, 1, 1);
		if (w.n > 60000)
			tw_block(&w);
	}
	tw_close(&w);

	report(&r, trace);
	cr_expect_eq(itest_int(r.json, "cpu.samples"), NPIDS);
	cr_expect_eq(json_array_size(itest_get(r.json, "cpu.processes")), NPIDS);
	cr_expect_eq(cpu_named_fns(r.json), 2);
	expect_fn(r.json, "pst_crafted_leaf", NPIDS, NPIDS);
	expect_fn(r.json, "pst_crafted_caller", 0, NPIDS);
	run_free(&r);

	flame(&r, trace);
	cr_expect(has_folded(r.out, "pst_crafted_caller;pst_crafted_leaf", NPIDS), "folded: %.300s",
		  r.out);
	run_free(&r);
	unlink(trace);
	rmdir(dir);
}

#define NMODS 50000
#define MOD_BASE 0x200000000000ull
#define MOD_STRIDE 0x1000000ull

/* 50,000 MODULE records (a process that loaded and unloaded this binary
 * again and again, each time elsewhere), 50 samples in 50 of them and one
 * sample to unwind. */
Test(crafted, fifty_thousand_modules, .timeout = 240)
{
	char dir[] = "/tmp/pst-crafted-mods-XXXXXX", trace[PATH_MAX];
	struct self s = self_object();
	uint64_t regs[PST_UNW_NREGS_TEST] = { 0 };
	struct run r;
	struct tw w;

	cr_assert(s.hi - s.lo < MOD_STRIDE);
	cr_assert(mkdtemp(dir));
	snprintf(trace, sizeof(trace), "%s/mods.trace", dir);
	tw_open(&w, trace, 4242);
	tw_cpu_config(&w, PST_CPU_PRELOAD, PST_CPU_ON_CPU | PST_CPU_DWARF);
	for (uint64_t k = 0; k < NMODS; k++) {
		uint64_t bias = MOD_BASE + k * MOD_STRIDE;

		tw_module(&w, s.path, bias, bias + (s.lo - s.bias), bias + (s.hi - s.bias));
		if (k % 1000 == 0) {
			const uint64_t frames[] = {
				bias + ((uintptr_t)pst_crafted_leaf - s.bias),
				bias + ((uintptr_t)pst_crafted_caller + 1 - s.bias),
			};

			tw_stack(&w, 1 + k / 1000, frames, 2);
			tw_sample(&w, 4242, 1 + k / 1000, 1);
		}
		if (w.n > 60000)
			tw_block(&w);
	}
	/* Registers only, no stack copy: unwound to the interrupted address. */
	regs[PST_UNW_IP_TEST] = MOD_BASE + 7 * MOD_STRIDE + ((uintptr_t)pst_crafted_leaf - s.bias);
	regs[PST_UNW_SP_TEST] = 0x7ffd00000000ull;
	tw_put(&w, pst_enc_usample(tw_room(&w, pst_usample_max(PST_UNW_NREGS_TEST, 0)), 1000, 4242,
				   1, 0, regs, PST_UNW_NREGS_TEST, 0));
	tw_close(&w);

	report(&r, trace);
	cr_expect_eq(itest_int(r.json, "cpu.samples"), NMODS / 1000 + 1);
	cr_expect_eq(cpu_named_fns(r.json), 2);
	expect_fn(r.json, "pst_crafted_leaf", NMODS / 1000 + 1, NMODS / 1000 + 1);
	expect_fn(r.json, "pst_crafted_caller", 0, NMODS / 1000);
	cr_expect_eq(json_array_size(itest_get(r.json, "warnings")), 0, "%s",
		     json_dumps(itest_get(r.json, "warnings"), 0));
	run_free(&r);

	flame(&r, trace);
	cr_expect(has_folded(r.out, "pst_crafted_caller;pst_crafted_leaf", NMODS / 1000),
		  "folded: %.300s", r.out);
	run_free(&r);
	unlink(trace);
	rmdir(dir);
}

/* CPU records of process 1 for report --json: stack k+1 (a leaf function of
 * its own under pst_crafted_caller) has on[k] samples and off[k] ns blocked in 3 waits;
 * truncated more samples of stack 1 are flagged truncated. */
struct cpu_craft {
	const uint64_t *on, *off;
	size_t non, noff;
	uint64_t truncated;
};

static void cpu_report(struct run *r, const struct cpu_craft *c)
{
	/* leaves: functions of this binary, each a function of its own */
	const uintptr_t leaf[] = { (uintptr_t)tw_room, (uintptr_t)tw_put,  (uintptr_t)tw_block,
				   (uintptr_t)tw_open, (uintptr_t)tw_close, (uintptr_t)tw_module };
	char trace[] = "/tmp/pst-crafted-cpu-XXXXXX";
	struct self self = self_object();
	struct tw w;
	int fd = mkstemp(trace);
	size_t n = c->non > c->noff ? c->non : c->noff;

	cr_assert(fd >= 0 && n <= sizeof(leaf) / sizeof(leaf[0]));
	close(fd);
	tw_open(&w, trace, 1);
	tw_cpu_config(&w, PST_CPU_EBPF, PST_CPU_ON_CPU | (c->noff ? PST_CPU_OFF_CPU : 0));
	tw_module(&w, self.path, self.bias, self.lo, self.hi);
	for (size_t k = 0; k < n; k++) {
		const uint64_t frames[] = { leaf[k] + 1, (uintptr_t)pst_crafted_caller + 1 };

		tw_stack(&w, k + 1, frames, 2);
		if (k < c->non && c->on[k])
			tw_put(&w, pst_enc_sample(tw_room(&w, PST_CPU_EVENT_MAX), 1000, 1, 1, k + 1, 0,
						  c->on[k], 0));
		if (k < c->noff)
			tw_put(&w, pst_enc_offcpu(tw_room(&w, PST_CPU_EVENT_MAX), 2000, 1, 1, k + 1, 0,
						  3, c->off[k], 0));
	}
	if (c->truncated)
		tw_put(&w, pst_enc_sample(tw_room(&w, PST_CPU_EVENT_MAX), 2000, 1, 1, 1, 0,
					  c->truncated, PST_SAMPLE_USER_TRUNCATED));
	tw_close(&w);
	report(r, trace);
	unlink(trace);
}

/* The report's findings of id (asserting how many there are). */
static json_t *cpu_findings(struct run *r, const char *id, size_t want)
{
	json_t *fs = itest_get(r->json, "findings"), *f, *first = NULL;
	size_t i, n = 0;

	json_array_foreach(fs, i, f)
		if (!strcmp(itest_str(f, "id"), id) && n++ == 0)
			first = f;
	cr_expect_eq(n, want, "%zu %s findings, expected %zu", n, id, want);
	return first;
}

/* samples in all, truncated of them flagged truncated: the report's
 * cpu-truncated-stacks finding, NULL when none. */
static json_t *truncated_finding(struct run *r, uint64_t samples, uint64_t truncated)
{
	const uint64_t on[] = { samples - truncated };

	cpu_report(r, &(struct cpu_craft){ .on = on, .non = 1, .truncated = truncated });
	cr_expect_eq(itest_int(r->json, "cpu.samples"), samples);
	cr_expect_eq(itest_int(r->json, "cpu.truncated_stacks"), truncated);
	return itest_finding(r->json, "cpu-truncated-stacks");
}

/* More than a tenth of at least 20 samples truncated: the finding, with its
 * counts exact. */
Test(crafted, truncated_stacks_finding_fires_exact, .timeout = 60)
{
	struct run r;
	json_t *f = truncated_finding(&r, 100, 11);

	cr_assert(f, "11 of 100 stacks truncated: no cpu-truncated-stacks finding");
	cr_expect_str_eq(itest_str(f, "severity"), "low");
	cr_expect_eq(itest_int(f, "evidence.truncated"), 11);
	cr_expect_eq(itest_int(f, "evidence.samples"), 100);
	cr_expect_str_eq(itest_str(f, "title"), "11% of the sampled stacks are truncated");
	run_free(&r);
	f = truncated_finding(&r, 20, 3);
	cr_expect(f, "3 of 20 (the fewest samples judged): no finding");
	run_free(&r);
}

/* A tenth exactly is not enough, nor are fewer than 20 samples. */
Test(crafted, truncated_stacks_finding_bounds, .timeout = 60)
{
	struct run r;

	cr_expect_null(truncated_finding(&r, 100, 10), "10 of 100 truncated");
	run_free(&r);
	cr_expect_null(truncated_finding(&r, 19, 19), "19 samples, all truncated");
	run_free(&r);
	cr_expect_null(truncated_finding(&r, 100, 0), "nothing truncated");
	run_free(&r);
}

/* One function with 60 of 100 samples: hot, and high; the second (40)
 * is not judged. A top function of 30%: medium. */
Test(crafted, hot_function_finding_fires_exact, .timeout = 60)
{
	struct run r;
	json_t *f;

	cpu_report(&r, &(struct cpu_craft){ .on = (const uint64_t[]){ 60, 40 }, .non = 2 });
	f = cpu_findings(&r, "cpu-hot-function", 1);
	cr_assert(f);
	cr_expect_str_eq(itest_str(f, "severity"), "high");
	cr_expect_eq(itest_int(f, "evidence.self"), 60);
	cr_expect_eq(itest_int(f, "evidence.total"), 60);
	cr_expect_eq(itest_int(f, "evidence.samples"), 100);
	cr_expect_eq(json_real_value(itest_get(f, "evidence.self_pct")), 60.0);
	run_free(&r);
	cpu_report(&r, &(struct cpu_craft){ .on = (const uint64_t[]){ 30, 25, 25, 20 }, .non = 4 });
	f = cpu_findings(&r, "cpu-hot-function", 1);
	cr_assert(f);
	cr_expect_str_eq(itest_str(f, "severity"), "medium");
	cr_expect_eq(itest_int(f, "evidence.self"), 30);
	run_free(&r);
}

/* A fifth of the samples is hot, less is not; fewer than 20 samples are
 * not judged. */
Test(crafted, hot_function_finding_bounds, .timeout = 60)
{
	struct run r;

	cpu_report(&r, &(struct cpu_craft){ .on = (const uint64_t[]){ 20, 20, 20, 20, 20 },
					    .non = 5 });
	cpu_findings(&r, "cpu-hot-function", 1);
	run_free(&r);
	cpu_report(&r, &(struct cpu_craft){ .on = (const uint64_t[]){ 19, 19, 19, 19, 19, 5 },
					    .non = 6 });
	cpu_findings(&r, "cpu-hot-function", 0);
	run_free(&r);
	cpu_report(&r, &(struct cpu_craft){ .on = (const uint64_t[]){ 19 }, .non = 1 });
	cpu_findings(&r, "cpu-hot-function", 0);
	run_free(&r);
}

/* Blocked 850, 100 and 50 ms at three stacks: the first is a medium
 * finding (85%), the second low (10%, the bound), the third none (5%). */
Test(crafted, offcpu_blocked_findings_exact, .timeout = 60)
{
	struct run r;
	json_t *fs, *f;
	size_t i, n = 0;

	cpu_report(&r, &(struct cpu_craft){ .on = (const uint64_t[]){ 1 }, .non = 1,
					    .off = (const uint64_t[]){ 850000000, 100000000,
								       50000000 },
					    .noff = 3 });
	cr_expect_eq(itest_int(r.json, "cpu.off_cpu.blocked_ns"), 1000000000);
	cpu_findings(&r, "offcpu-blocked", 2);
	fs = itest_get(r.json, "findings");
	json_array_foreach(fs, i, f) {
		if (strcmp(itest_str(f, "id"), "offcpu-blocked"))
			continue;
		cr_expect_str_eq(itest_str(f, "severity"), n ? "low" : "medium");
		cr_expect_eq(itest_int(f, "evidence.blocked_ns"), n ? 100000000 : 850000000);
		cr_expect_eq(itest_int(f, "evidence.waits"), 3);
		cr_expect_eq(json_real_value(itest_get(f, "evidence.blocked_pct")), n ? 10.0 : 85.0);
		n++;
	}
	run_free(&r);
}


/* ---- totals and leaks of cut traces ---- */

/* Ten sampled 16-byte blocks (each standing for about sample / 16 calls),
 * a snapshot counting 100 calls, 40 frees and 1600 bytes, and, when capped,
 * the --max-size mark; END only when ended. */
static void cut_memory_report(struct run *r, bool capped, bool ended)
{
	char trace[] = "/tmp/pst-crafted-cut-XXXXXX";
	const uint64_t frames[] = { (uintptr_t)tw_room + 1, (uintptr_t)pst_crafted_caller + 1 };
	struct self self = self_object();
	struct tw w;
	int fd = mkstemp(trace);

	cr_assert(fd >= 0);
	close(fd);
	tw_open_mode(&w, trace, 1, 0, 4096);
	tw_module(&w, self.path, self.bias, self.lo, self.hi);
	tw_stack(&w, 1, frames, 2);
	for (uint64_t i = 0; i < 10; i++)
		tw_put(&w, pst_enc_alloc(tw_room(&w, PST_EVENT_MAX), 10, 0x10000 + 64 * i, 16, 1, 0));
	tw_put(&w, pst_enc_snapshot(tw_room(&w, 128), 500, 100, 40, 1600, 1 << 20, 4, 1, 1000));
	if (capped)
		tw_put(&w, pst_enc_capped(tw_room(&w, 64), 600, 65536));
	tw_finish(&w, ended);
	report(r, trace);
	unlink(trace);
}

/* A killed sampled process: the exact counts of its last snapshot, not the
 * estimate from its sampled events (here far above them). */
Test(crafted, killed_sampled_totals_are_the_snapshots, .timeout = 60)
{
	struct run r;

	cut_memory_report(&r, false, false);
	cr_expect_not(itest_bool(r.json, "process.complete"));
	cr_expect_eq(itest_int(r.json, "memory.alloc_calls"), 100);
	cr_expect_eq(itest_int(r.json, "memory.free_calls"), 40);
	cr_expect_eq(itest_int(r.json, "memory.allocated_bytes"), 1600);
	cr_expect_str_eq(itest_str(r.json, "memory.totals_source"), "last snapshot");
	run_free(&r);
}

/* A capped trace lacks the frees after the cap: what is live at its end is
 * no leak, even though the process exited. */
Test(crafted, capped_trace_reports_no_leak, .timeout = 60)
{
	struct run r;

	cut_memory_report(&r, true, true);
	cr_expect(itest_bool(r.json, "process.complete"));
	cr_expect_null(itest_finding(r.json, "leak"), "a leak finding in a capped trace");
	run_free(&r);
	cut_memory_report(&r, false, true);
	cr_expect_not_null(itest_finding(r.json, "leak"), "no leak finding without the cap");
	run_free(&r);
}

