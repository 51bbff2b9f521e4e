/* SPDX-License-Identifier: MIT */
/* Tests of the CPU analysis on synthetic traces: self and total samples, recursion, truncation, off-CPU time. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpu.h"
#include "findings.h"
#include "trace.h"
#include "trace_read.h"

struct tbuf {
	uint8_t d[65536];
	size_t n;
};

static void put(struct tbuf *b, uint8_t *end)
{
	b->n = (size_t)(end - b->d);
}

static uint8_t *at(struct tbuf *b)
{
	return b->d + b->n;
}

/* Kernel-looking addresses named by KSYM records: no files needed. */
#define F_MAIN 0xffffffff81000100ull
#define F_WORK 0xffffffff81000200ull
#define F_REC 0xffffffff81000300ull
#define F_LEAF 0xffffffff81000400ull
#define F_SLEEP 0xffffffff81000500ull

static void ksym(struct tbuf *b, uint64_t addr, const char *name)
{
	put(b, pst_enc_ksym(at(b), addr, addr, name, ""));
}

static void stack(struct tbuf *b, uint64_t id, const uint64_t *f, unsigned n)
{
	put(b, pst_enc_stack(at(b), id, f, n));
}

/* A trace as `prestanda record` writes it; returns the open trace. */
static struct pst_trace *build(void)
{
	static const uint64_t s1[] = { F_LEAF, F_WORK, F_MAIN };
	/* recursion: rec calls rec calls leaf */
	static const uint64_t s2[] = { F_LEAF, F_REC, F_REC, F_REC, F_MAIN };
	static const uint64_t s3[] = { F_WORK };
	static const uint64_t s4[] = { F_SLEEP, F_WORK, F_MAIN };
	struct tbuf in = { .n = 0 }, file = { .n = 0 };
	uint8_t pay[256], *q = pay, hdr[PST_BLOCK_HEADER_MAX], *e;
	char path[] = "/tmp/pst-test-cpu-XXXXXX";
	struct pst_trace *t;
	char err[256];
	int fd;

	put(&in, pst_enc_cpu_config(at(&in), PST_CPU_EBPF, 99, PST_CPU_ON_CPU | PST_CPU_OFF_CPU, 0));
	ksym(&in, F_MAIN, "main");
	ksym(&in, F_WORK, "work");
	ksym(&in, F_REC, "rec");
	ksym(&in, F_LEAF, "leaf");
	ksym(&in, F_SLEEP, "sleep_here");
	put(&in, pst_enc_task(at(&in), 10, 10, "prog"));
	put(&in, pst_enc_task(at(&in), 10, 11, "worker"));
	stack(&in, 1, s1, 3);
	stack(&in, 2, s2, 5);
	stack(&in, 3, s3, 1);
	stack(&in, 4, s4, 3);
	/* 60 samples main>work>leaf, 30 main>rec>rec>rec>leaf, 10 truncated at work */
	put(&in, pst_enc_sample(at(&in), 1000, 10, 10, 0, 1, 40, 0));
	put(&in, pst_enc_sample(at(&in), 2000, 10, 10, 0, 1, 20, 0));
	put(&in, pst_enc_sample(at(&in), 2000, 10, 11, 0, 2, 30, 0));
	put(&in, pst_enc_sample(at(&in), 2000, 10, 11, 0, 3, 10, PST_SAMPLE_USER_TRUNCATED));
	put(&in, pst_enc_offcpu(at(&in), 2000, 10, 11, 0, 4, 5, 500000000, 0));
	put(&in, pst_enc_offcpu(at(&in), 3000, 10, 11, 0, 4, 5, 250000000, 0));
	put(&in, pst_enc_cpu_stats(at(&in), 2000000000, 0, 0, 0));

	memcpy(file.d, PST_MAGIC, PST_MAGIC_LEN);
	file.n = PST_MAGIC_LEN;
	q = pst_put_varint(q, PST_VERSION);
	q = pst_put_varint(q, 10);
	for (int i = 0; i < 3; i++)
		q = pst_put_varint(q, 0);
	q = pst_put_varint(q, 0);
	q = pst_put_varint(q, 1);
	q = pst_put_bytes(q, "prog", 4);
	q = pst_put_bytes(q, "host", 4);
	put(&file, pst_enc_framed(at(&file), PST_REC_PROCESS, pay, (size_t)(q - pay)));
	e = pst_enc_block_header(hdr, 0, 1, in.n);
	memcpy(at(&file), hdr, (size_t)(e - hdr));
	file.n += (size_t)(e - hdr);
	memcpy(at(&file), in.d, in.n);
	file.n += in.n;
	put(&file, pst_enc_end(at(&file), 3000, PST_END_EXIT, 0));

	fd = mkstemp(path);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, file.d, file.n), (ssize_t)file.n);
	close(fd);
	cr_assert_eq(pst_trace_open(path, &t, err, sizeof(err)), 0, "%s", err);
	unlink(path);
	return t;
}

static const struct pst_cpu_fn *fn(const struct pst_cpu *c, const char *name)
{
	for (size_t i = 0; i < c->nfns; i++)
		if (!strcmp(c->fns[i].function, name))
			return &c->fns[i];
	cr_assert_fail("no function %s", name);
	return NULL;
}

Test(cpu, self_and_total_count_each_sample_once)
{
	struct pst_trace *t = build();
	struct pst_cpu *c = pst_cpu_analyze(t);

	cr_assert(c && c->present);
	cr_expect_eq(c->samples, 100);
	cr_expect_eq(c->hz, 99);
	cr_expect_eq(c->source, PST_CPU_EBPF);
	cr_expect_eq(fn(c, "leaf")->self, 90);
	cr_expect_eq(fn(c, "leaf")->total, 90);
	cr_expect_eq(fn(c, "work")->self, 10);
	cr_expect_eq(fn(c, "work")->total, 70);
	/* rec is three frames deep in 30 samples: 30, not 90 */
	cr_expect_eq(fn(c, "rec")->total, 30);
	cr_expect_eq(fn(c, "rec")->self, 0);
	cr_expect_eq(fn(c, "main")->total, 90);
	/* sorted by self */
	cr_expect_str_eq(c->fns[0].function, "leaf");
	cr_expect_str_eq(c->fns[1].function, "work");
	pst_cpu_free(c);
	pst_trace_close(t);
}

Test(cpu, truncated_threads_and_depth)
{
	struct pst_trace *t = build();
	struct pst_cpu *c = pst_cpu_analyze(t);

	cr_assert(c);
	cr_expect_eq(c->truncated, 10);
	cr_expect_eq(c->duration_ns, 2000000000);
	/* depths: 60 x 3, 30 x 5, 10 x 1 -> median 3 */
	cr_expect_eq(c->median_depth, 3);
	cr_assert_eq(c->nthreads, 2);
	cr_expect_eq(c->threads[0].tid, 10);
	cr_expect_eq(c->threads[0].samples, 60);
	cr_expect_str_eq(c->threads[0].name, "prog");
	cr_expect_eq(c->threads[1].samples, 40);
	cr_expect_str_eq(c->threads[1].name, "worker");
	cr_assert_eq(c->nprocs, 1);
	cr_expect_eq(c->procs[0].samples, 100);
	cr_expect_str_eq(c->procs[0].name, "prog");
	pst_cpu_free(c);
	pst_trace_close(t);
}

Test(cpu, off_cpu_time_by_stack)
{
	struct pst_trace *t = build();
	struct pst_cpu *c = pst_cpu_analyze(t);
	struct pst_findings f = { 0 };
	json_t *j;

	cr_assert(c);
	cr_expect_eq(c->blocked_ns, 750000000);
	cr_expect_eq(c->waits, 10);
	cr_assert_eq(c->nblocked, 1);
	cr_expect_eq(c->blocked[0].blocked_ns, 750000000);
	cr_expect(strstr(c->blocked[0].frames[0], "sleep_here"));
	/* blocked time is no CPU sample */
	cr_expect_eq(fn(c, "sleep_here")->total, 0);
	j = pst_cpu_json(c, 0);
	cr_expect_str_eq(json_string_value(json_object_get(j, "source")), "ebpf");
	cr_expect_eq(json_integer_value(json_object_get(j, "truncated_stacks")), 10);
	cr_expect_eq(json_array_size(json_object_get(j, "functions")), c->nfns);
	cr_assert_eq(pst_findings_cpu(c, &f), 0);
	/* leaf has 90% self: a hot function; sleep_here 100% of blocked time */
	cr_assert_geq(f.n, 2);
	cr_expect_str_eq(f.v[0].id, "cpu-hot-function");
	cr_expect_str_eq(f.v[1].id, "offcpu-blocked");
	json_decref(j);
	pst_findings_free(&f);
	pst_cpu_free(c);
	pst_trace_close(t);
}

Test(cpu, trace_without_cpu_records)
{
	struct tbuf file = { .n = 0 };
	uint8_t pay[64], *q = pay;
	char path[] = "/tmp/pst-test-cpu-XXXXXX", err[256];
	struct pst_trace *t;
	struct pst_cpu *c;
	int fd;

	memcpy(file.d, PST_MAGIC, PST_MAGIC_LEN);
	file.n = PST_MAGIC_LEN;
	q = pst_put_varint(q, PST_VERSION);
	for (int i = 0; i < 6; i++)
		q = pst_put_varint(q, 1);
	q = pst_put_bytes(q, "p", 1);
	q = pst_put_bytes(q, "h", 1);
	put(&file, pst_enc_framed(at(&file), PST_REC_PROCESS, pay, (size_t)(q - pay)));
	fd = mkstemp(path);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, file.d, file.n), (ssize_t)file.n);
	close(fd);
	cr_assert_eq(pst_trace_open(path, &t, err, sizeof(err)), 0, "%s", err);
	unlink(path);
	c = pst_cpu_analyze(t);
	cr_assert(c);
	cr_expect_not(c->present);
	cr_expect_eq(c->samples, 0);
	pst_cpu_free(c);
	pst_trace_close(t);
}
