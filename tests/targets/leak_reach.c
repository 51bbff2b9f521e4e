/* SPDX-License-Identifier: MIT */
/* Ground truth for the reachability scan: 5 blocks lost (696 bytes), 7 still reachable at exit (5,737 bytes). */
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Lost: three blocks whose pointers are dropped (100, 200, 300 bytes) and
 * a cycle of two 48-byte blocks pointing at each other that nothing else
 * points at. Reachable: two blocks from a global (1000, 1001), one from a
 * thread-local (1100), one from main's stack frame (1200; main leaves by
 * exit, so its frame is still there), a 64-byte list node from a global
 * and the 72-byte node only it points at, and a block (1300) on the stack
 * of a thread still blocked when the process exits. No stdio: the C
 * library allocates nothing of its own.
 */
struct node {
	struct node *next;
	char pad[56];
};

void *volatile g_keep[2];
struct node *volatile g_list;
static __thread void *volatile tl_keep;
static sem_t started, never;

static __attribute__((noinline)) void lose_plain(void)
{
	static const size_t sizes[] = { 100, 200, 300 };

	for (int i = 0; i < 3; i++) {
		char *p = malloc(sizes[i]);

		memset(p, 0x5a, sizes[i]);
		__asm__ volatile("" : : "r"(p) : "memory");
	}
}

static __attribute__((noinline)) void lose_cycle(void)
{
	void **a = malloc(48), **b = malloc(48);

	memset(a, 0, 48);
	memset(b, 0, 48);
	a[0] = b;
	b[0] = a;
	__asm__ volatile("" : : "r"(a), "r"(b) : "memory");
}

static __attribute__((noinline)) void keep_global(void)
{
	g_keep[0] = malloc(1000);
	g_keep[1] = malloc(1001);
}

static __attribute__((noinline)) void keep_tls(void)
{
	tl_keep = malloc(1100);
}

static __attribute__((noinline)) void keep_list(void)
{
	struct node *head = malloc(64);

	head->next = malloc(72);
	memset(head->next, 0, 72);
	g_list = head;
}

static void *holder(void *arg)
{
	void *volatile mine = malloc(1300);

	(void)arg;
	sem_post(&started);
	sem_wait(&never);
	return mine;
}

/* Old copies of the dropped pointers may sit below main's frame, where
 * exit's frames will reuse the stack: overwrite them. */
static __attribute__((noinline)) void scrub(void)
{
	volatile char junk[16384];

	memset((char *)junk, 0, sizeof(junk));
}

int main(void)
{
	void *volatile on_stack;
	pthread_t th;

	sem_init(&started, 0, 0);
	sem_init(&never, 0, 0);
	pthread_create(&th, NULL, holder, NULL);
	sem_wait(&started);
	lose_plain();
	lose_cycle();
	keep_global();
	keep_tls();
	keep_list();
	on_stack = malloc(1200);
	scrub();
	(void)on_stack;
	exit(0);
}
