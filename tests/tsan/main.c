/* SPDX-License-Identifier: MIT */
/* Runner for Criterion suites built against tests/tsan/criterion/criterion.h (make check-tsan). */
#include <criterion/criterion.h>

struct pst_tsan_test *pst_tsan_tests;
struct pst_tsan_suite *pst_tsan_suite;
int pst_tsan_failed;

int main(void)
{
	int n = 0;

	for (struct pst_tsan_test *t = pst_tsan_tests; t; t = t->next, n++) {
		if (pst_tsan_suite && pst_tsan_suite->init)
			pst_tsan_suite->init();
		fprintf(stderr, "%s::%s\n", t->suite, t->name);
		t->fn();
	}
	fprintf(stderr, "%d tests, %d failed checks\n", n, pst_tsan_failed);
	return pst_tsan_failed ? 1 : 0;
}
