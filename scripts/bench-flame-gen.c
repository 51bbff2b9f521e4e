/* SPDX-License-Identifier: MIT */
/* Benchmark input: a synthetic `prestanda record` trace of N CPU samples over thousands of distinct stacks and frames. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace.h"
#include "record.h"

#define NFUNCS 6000
#define NSTACKS 40000
#define KBASE 0xffffffff81000000ull

static uint64_t rng = 88172645463325252ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

int main(int argc, char **argv)
{
	static uint64_t frames[NSTACKS][48], ids[NSTACKS];
	uint8_t rec[PST_EVENT_MAX + 256];
	unsigned long samples = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000000;
	struct pst_tw *w;
	uint64_t ts;

	if (argc < 2) {
		fprintf(stderr, "usage: bench-flame-gen OUT.trace [SAMPLES]\n");
		return 2;
	}
	w = pst_tw_create(argv[1], 4242, "/usr/bin/synthetic");
	if (!w)
		return 1;
	ts = pst_tw_now();
	pst_tw_record(w, rec, (size_t)(pst_enc_cpu_config(rec, PST_CPU_EBPF, 999, 0, 0) - rec));
	for (unsigned i = 0; i < NFUNCS; i++) {
		char name[32];

		snprintf(name, sizeof(name), "subsystem%u_function%u", i % 37, i);
		pst_tw_record(w, rec,
			      (size_t)(pst_enc_ksym(rec, KBASE + i * 0x100ull, KBASE + i * 0x100ull,
						    name, "") - rec));
	}
	/* Call paths as a tree: a few roots, each caller with a few callees. */
	for (unsigned s = 0; s < NSTACKS; s++) {
		unsigned depth = 8 + (unsigned)(next() % 40), f = (unsigned)(next() % 4);

		for (unsigned d = 0; d < depth; d++) {
			frames[s][depth - 1 - d] = KBASE + f * 0x100ull;
			f = (unsigned)((f * 2654435761u + 1 + next() % 3) % NFUNCS);
		}
		ids[s] = pst_tw_stack(w, frames[s], depth);
	}
	/* Skewed: low-numbered stacks are sampled most. */
	for (unsigned long i = 0; i < samples; i++) {
		uint64_t a = next() % NSTACKS, b = next() % NSTACKS;

		pst_tw_record(w, rec,
			      (size_t)(pst_enc_sample(rec, ts + i * 1000, 4242, 4242 + next() % 16, 0,
						      ids[a * b / NSTACKS], 1, 0) - rec));
	}
	return pst_tw_close(w, ts + samples * 1000) ? 1 : 0;
}
