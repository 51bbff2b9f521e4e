/* SPDX-License-Identifier: MIT */
/* CPU benchmark: 2 threads run a fixed amount of arithmetic (argv[1] x 100 M steps each), no allocation. */
#include <pthread.h>
#include <stdlib.h>

static volatile unsigned long sink;
static unsigned long steps = 100000000ul;

__attribute__((noinline)) static unsigned long spin(unsigned long n, unsigned long x)
{
	for (unsigned long i = 0; i < n; i++)
		x = x * 6364136223846793005ul + i;
	return x;
}

static void *work(void *arg)
{
	unsigned long x = (unsigned long)arg;

	for (int i = 0; i < 100; i++)
		x = spin(steps / 100, x);
	sink = x;
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;

	if (argc > 1)
		steps = strtoul(argv[1], NULL, 10) * 100000000ul;
	pthread_create(&t, NULL, work, (void *)1);
	work((void *)2);
	pthread_join(t, NULL);
	return 0;
}
