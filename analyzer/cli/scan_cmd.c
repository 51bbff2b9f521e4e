/* SPDX-License-Identifier: MIT */
/* prestanda scan: ask a running, recorded process for a reachability scan now, and wait for it. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include "attach.h"
#include "cli.h"
#include "scanctl.h"

#define CMD "scan"

static void usage(FILE *f)
{
	fputs("usage: prestanda scan [-w SECONDS] PID\n"
	      "\n"
	      "Ask the process PID, recorded by `prestanda run` or `attach`, to look now\n"
	      "for the live recorded blocks (sampled mode: the sampled ones) nothing points\n"
	      "at any more, as the scan at exit does, while it runs on: no signal, no stop.\n"
	      "The trace gets the scan with its time; `report` shows it. Needs the right to\n"
	      "ptrace PID. Prints the raw counts of blocks scanned and found lost (the\n"
	      "report scales sampled ones).\n"
	      "\n"
	      "  -w, --wait SECONDS  wait this long for the answer (default 10)\n"
	      "  -h, --help          this help\n",
	      f);
}

static int parse(int argc, char **argv, long *wait_s, pid_t *pid)
{
	static const struct option longopts[] = {
		{ "wait", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	long v;
	int c;

	*wait_s = 10;
	optind = 0;
	while ((c = getopt_long(argc, argv, "+w:h", longopts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		if (c != 'w' || (*wait_s = strtol(optarg, &end, 10)) <= 0 || *end) {
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1 || (v = strtol(argv[optind], &end, 10)) <= 0 || *end) {
		usage(stderr);
		return 2;
	}
	*pid = (pid_t)v;
	return -1;
}

/* n bytes at the target's addr, read (write false) or written. */
static bool xfer(pid_t pid, uint64_t addr, void *buf, size_t n, bool write)
{
	struct iovec l = { buf, n }, r = { (void *)addr, n };
	ssize_t got = write ? process_vm_writev(pid, &l, 1, &r, 1, 0) :
			      process_vm_readv(pid, &l, 1, &r, 1, 0);

	return got == (ssize_t)n;
}

/* The address of the process's control block, checked. */
static int find_ctl(pid_t pid, uint64_t *addr)
{
	struct pst_target tg;
	char err[512];
	uint64_t magic = 0;

	if (pst_target_read(&tg, pid, err, sizeof(err))) {
		fprintf(stderr, "prestanda: " CMD ": %s\n", err);
		return 1;
	}
	if (!tg.ours[0]) {
		fprintf(stderr, "prestanda: " CMD ": %d is not recorded (no libprestanda.so in it)\n",
			(int)pid);
		return 1;
	}
	if (pst_target_symbol(pid, tg.ours, PST_SCAN_SYMBOL, addr, err, sizeof(err))) {
		fprintf(stderr, "prestanda: " CMD ": %s (a preload older than this command)\n", err);
		return 1;
	}
	if (!xfer(pid, *addr, &magic, sizeof(magic), false)) {
		pst_target_why_no_ptrace(pid, errno, err, sizeof(err));
		fprintf(stderr, "prestanda: " CMD ": %d: %s\n", (int)pid, err);
		return 1;
	}
	if (magic != PST_SCAN_MAGIC) {
		fprintf(stderr, "prestanda: " CMD ": %d: not a control block of this version\n",
			(int)pid);
		return 1;
	}
	return 0;
}

/* Ask, then read the block every 10 ms until done reaches the request. */
static int ask_and_wait(pid_t pid, uint64_t addr, long wait_s)
{
	struct pst_scan_ctl c;
	struct timespec gap = { 0, 10000000 };
	uint64_t want;

	if (!xfer(pid, addr, &c, sizeof(c), false))
		goto gone;
	want = c.done + 1;
	if (!xfer(pid, addr + offsetof(struct pst_scan_ctl, requested), &want, sizeof(want), true))
		goto gone;
	for (long waited = 0; waited < wait_s * 100; waited++) {
		nanosleep(&gap, NULL);
		if (!xfer(pid, addr, &c, sizeof(c), false))
			goto gone;
		if (c.done - want < (1ull << 63)) {
			printf("scanned %llu live recorded blocks of %d: %llu lost, %llu reachable\n",
			       (unsigned long long)c.blocks, (int)pid, (unsigned long long)c.lost,
			       (unsigned long long)(c.blocks - c.lost));
			return 0;
		}
	}
	fprintf(stderr, "prestanda: " CMD ": %d: no answer in %ld s (is it recording?)\n", (int)pid,
		wait_s);
	return 1;
gone:
	fprintf(stderr, "prestanda: " CMD ": %d: %s\n", (int)pid, strerror(errno));
	return 1;
}

int pst_cmd_scan(int argc, char **argv)
{
	long wait_s;
	pid_t pid;
	uint64_t addr;
	int rc = parse(argc, argv, &wait_s, &pid);

	if (rc >= 0)
		return rc;
	if (find_ctl(pid, &addr))
		return 1;
	return ask_and_wait(pid, addr, wait_s);
}
