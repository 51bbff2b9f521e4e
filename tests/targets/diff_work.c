/* SPDX-License-Identifier: MIT */
/* Two builds for `prestanda diff`: argv[1] multiplies parse_request's allocations, argv[2] "leak" adds a leak. */
#include <stdlib.h>
#include <string.h>

/*
 * Exact figures with factor F (argv[1], default 1), 100 requests
 * (tests/test_diff.c checks them):
 *   cache_init      1 x malloc(4096), freed at the end
 *   parse_request   100 * F x malloc(64), held during the request
 *   build_response  100 x malloc(256), freed with the request
 *   leak_some       10 x malloc(100) never freed, only with argv[2] "leak"
 * Totals: 201 + 100 * (F - 1) calls, 36096 + 6400 * (F - 1) bytes,
 * peak 4096 + 64 * F + 256. No stdio: nothing else allocates.
 * Built a second time with -DSHIFT_LINES: the same code, every line after
 * the #line below 100 lines further down, as a reformatted next version.
 */
#ifdef SHIFT_LINES
#line 120
#endif
#define REQUESTS 100
#define MAX_FACTOR 16

void *volatile sink;
static void *leaked[10];

void *cache_init(void)
{
	return malloc(4096); /* LINE:cache_init */
}

int parse_request(void **parts, int factor)
{
	for (int i = 0; i < factor; i++)
		parts[i] = malloc(64); /* LINE:parse_request */
	return factor;
}

void *build_response(void)
{
	return malloc(256); /* LINE:build_response */
}

void handle_request(int factor)
{
	void *parts[MAX_FACTOR], *resp;
	int n = parse_request(parts, factor);

	resp = build_response();
	sink = resp;
	free(resp);
	for (int i = 0; i < n; i++)
		free(parts[i]);
}

void leak_some(void)
{
	for (int i = 0; i < 10; i++)
		leaked[i] = malloc(100); /* LINE:leak_some */
	sink = leaked;
}

int main(int argc, char **argv)
{
	int factor = argc > 1 ? atoi(argv[1]) : 1;
	void *cache = cache_init();

	if (factor < 1 || factor > MAX_FACTOR)
		return 2;
	for (int r = 0; r < REQUESTS; r++)
		handle_request(factor);
	if (argc > 2 && !strcmp(argv[2], "leak"))
		leak_some();
	sink = cache;
	free(cache);
	return 0;
}
