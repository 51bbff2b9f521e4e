/* SPDX-License-Identifier: MIT */
/* A minimal stand-in for Criterion, whose forking runner ThreadSanitizer cannot start: tests run in-process. */
#ifndef PST_TSAN_CRITERION_H
#define PST_TSAN_CRITERION_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

struct pst_tsan_test {
	const char *suite, *name;
	void (*fn)(void);
	struct pst_tsan_test *next;
};

struct pst_tsan_suite {
	const char *name;
	void (*init)(void);
};

extern struct pst_tsan_test *pst_tsan_tests;
extern struct pst_tsan_suite *pst_tsan_suite;
extern int pst_tsan_failed;

#define TestSuite(s, ...) \
	static struct pst_tsan_suite pst_tsan_suite_##s = { .name = #s, __VA_ARGS__ }; \
	__attribute__((constructor)) static void pst_tsan_suite_reg_##s(void) \
	{ \
		pst_tsan_suite = &pst_tsan_suite_##s; \
	}

#define Test(s, n, ...) \
	static void pst_tsan_##s##_##n(void); \
	__attribute__((constructor)) static void pst_tsan_reg_##s##_##n(void) \
	{ \
		static struct pst_tsan_test t = { #s, #n, pst_tsan_##s##_##n, NULL }; \
		t.next = pst_tsan_tests; \
		pst_tsan_tests = &t; \
	} \
	static void pst_tsan_##s##_##n(void)

#define pst_tsan_check(cond, fatal, ...) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
			pst_tsan_failed++; \
			if (fatal) \
				return; \
		} \
	} while (0)

#define cr_assert(c, ...) pst_tsan_check(c, true)
#define cr_assert_not(c, ...) pst_tsan_check(!(c), true)
#define cr_assert_eq(a, b, ...) pst_tsan_check((a) == (b), true)
#define cr_expect(c, ...) pst_tsan_check(c, false)
#define cr_expect_not(c, ...) pst_tsan_check(!(c), false)
#define cr_expect_eq(a, b, ...) pst_tsan_check((a) == (b), false)
#define cr_expect_neq(a, b, ...) pst_tsan_check((a) != (b), false)

#endif
