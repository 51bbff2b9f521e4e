/* SPDX-License-Identifier: MIT */
/* Thread churn: 200 threads from churn_task, created and joined one after another (at most one alive). */
#include <pthread.h>

#define NTHREADS 200

volatile unsigned long sink;

static void *churn_task(void *arg)
{
	for (unsigned long i = 0; i < 20000; i++)
		sink += i;
	return arg;
}

int main(void)
{
	for (int i = 0; i < NTHREADS; i++) {
		pthread_t t;

		if (pthread_create(&t, NULL, churn_task, NULL)) /* LINE:spawn */
			return 1;
		if (pthread_join(t, NULL))
			return 1;
	}
	return 0;
}
