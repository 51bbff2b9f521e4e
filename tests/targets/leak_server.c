/* SPDX-License-Identifier: MIT */
/* Ground truth for the scan on demand: a server-like program that leaks N blocks, keeps M reachable, waits to be scanned, then leaks N2 more and waits again. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * leak_server CTL DIR N M N2: blocks of 100 bytes. Lost: N, then N2 more,
 * pointers dropped. Reachable: M from a global array, one list node from
 * a global and the node only it points at, and one on main's frame (M + 3
 * in all). After each phase it writes DIR/ready.K holding its pid and
 * blocks in read(CTL) (a FIFO the test writes a byte into), as a server
 * waits for work: the scan sees its stack from where it sleeps. No stdio
 * that allocates: the C library adds no block of its own.
 */
#define MAX 200000

struct node {
	struct node *next;
	char pad[92];
};

void *volatile keep[MAX];
struct node *volatile g_list;

/* Written, then its only pointer dropped with the frame. */
static __attribute__((noinline)) void fill(char *p)
{
	memset(p, 0x5a, 100);
}

static __attribute__((noinline)) void lose(long n)
{
	while (n-- > 0)
		fill(malloc(100));
}

static __attribute__((noinline)) void hold(long m)
{
	struct node *head = malloc(sizeof(*head));

	for (long i = 0; i < m && i < MAX; i++) {
		keep[i] = malloc(100);
		memset(keep[i], 0x5a, 100);
	}
	memset(head, 0, sizeof(*head));
	head->next = malloc(sizeof(*head));
	memset(head->next, 0, sizeof(*head));
	g_list = head;
}

/* Old copies of the dropped pointers below main's frame: overwritten. */
static __attribute__((noinline)) void scrub(void)
{
	volatile char junk[16384];

	memset((char *)junk, 0, sizeof(junk));
}

/* DIR/ready.K with the pid, whole or not at all (renamed into place). */
static void ready(const char *dir, int k)
{
	char tmp[4096], path[4096], pid[32];
	int fd, len = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());

	snprintf(tmp, sizeof(tmp), "%s/ready.%d.tmp", dir, k);
	snprintf(path, sizeof(path), "%s/ready.%d", dir, k);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, pid, (size_t)len) != len || close(fd) || rename(tmp, path))
		_exit(3);
}

static __attribute__((noinline)) void wait_for_work(int ctl, const char *dir, int k)
{
	char c;

	scrub();
	ready(dir, k);
	if (read(ctl, &c, 1) != 1)
		_exit(4);
}

int main(int argc, char **argv)
{
	void *volatile mine;
	int ctl;

	if (argc != 6 || (ctl = open(argv[1], O_RDONLY)) < 0)
		return 2;
	mine = malloc(100);
	memset(mine, 0, 100);
	lose(atol(argv[3]));
	hold(atol(argv[4]));
	wait_for_work(ctl, argv[2], 1);
	lose(atol(argv[5]));
	wait_for_work(ctl, argv[2], 2);
	exit(0);
}
