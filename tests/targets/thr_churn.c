/* SPDX-License-Identifier: MIT */
/* Thread churn: N (default 200) threads from churn_task, created and joined one after another. */
#include <pthread.h>
#include <stdlib.h>

volatile unsigned long sink;

static void *churn_task(void *arg)
{
	for (unsigned long i = 0; i < 20000; i++)
		sink += i;
	return arg;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 200;

	for (int i = 0; i < n; i++) {
		pthread_t t;

		if (pthread_create(&t, NULL, churn_task, NULL)) /* LINE:spawn */
			return 1;
		if (pthread_join(t, NULL))
			return 1;
	}
	return 0;
}
