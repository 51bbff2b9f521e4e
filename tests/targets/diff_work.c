/* SPDX-License-Identifier: MIT */
/* Two builds for `prestanda diff`: a factor multiplies parse_request's allocations; "leak" leaks; a port makes requests over loopback. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * Exact figures with factor F (argv[1], default 1), 100 requests
 * (tests/test_diff.c checks them):
 *   cache_init      1 x malloc(4096), freed at the end
 *   parse_request   100 * F x malloc(64), held during the request
 *   build_response  100 x malloc(256), freed with the request
 *   leak_some       10 x malloc(100) never freed, pointers dropped (definitely
 *                   lost at exit), only with argv[2] "leak"
 * Totals: 201 + 100 * (F - 1) calls, 36096 + 6400 * (F - 1) bytes,
 * peak 4096 + 64 * F + 256. No stdio: nothing else allocates.
 * Usage: diff_work [F [leak] [PORT [per-request]]]. With a PORT each
 * request also sends REQ_SIZE bytes to 127.0.0.1:PORT and reads as many
 * back (an echo server the caller runs), over one connection, or over a
 * new connection per request with "per-request": 1 or 100 connects.
 * The port is fixed by the caller so that endpoints match across runs.
 * Built a second time with -DSHIFT_LINES: the same code, every line after
 * the #line below 100 lines further down, as a reformatted next version.
 */
#ifdef SHIFT_LINES
#line 120
#endif
#define REQUESTS 100
#define MAX_FACTOR 16
#define REQ_SIZE 16

void *volatile sink;

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

int connect_server(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* One request and its echo; 0, or -1 when the connection fails. */
int exchange(int fd)
{
	char buf[REQ_SIZE] = "request";
	size_t got = 0;

	if (send(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
		return -1;
	while (got < sizeof(buf)) {
		ssize_t n = recv(fd, buf + got, sizeof(buf) - got, 0);

		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

/* No pointer to the blocks survives: the scan at exit finds them lost. */
void leak_some(void)
{
	for (int i = 0; i < 10; i++) {
		char *p = malloc(100); /* LINE:leak_some */

		memset(p, 0x5a, 100);
		__asm__ volatile("" : : "r"(p) : "memory");
	}
}

/* Old copies of leak_some's pointers may sit below main's frame, where
 * exit's frames will reuse the stack: overwrite them. */
static __attribute__((noinline)) void scrub(void)
{
	volatile char junk[16384];

	memset((char *)junk, 0, sizeof(junk));
}

int main(int argc, char **argv)
{
	int factor = argc > 1 ? atoi(argv[1]) : 1, port = 0, fd = -1;
	bool leak = false, per_request = false;
	void *cache;

	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "leak"))
			leak = true;
		else if (!strcmp(argv[i], "per-request"))
			per_request = true;
		else
			port = atoi(argv[i]);
	}
	if (factor < 1 || factor > MAX_FACTOR || port < 0 || port > 65535)
		return 2;
	cache = cache_init();
	for (int r = 0; r < REQUESTS; r++) {
		handle_request(factor);
		if (!port)
			continue;
		if (fd < 0)
			fd = connect_server(port);
		if (fd < 0 || exchange(fd))
			return 3;
		if (per_request) {
			close(fd);
			fd = -1;
		}
	}
	if (fd >= 0)
		close(fd);
	if (leak) {
		leak_some();
		scrub();
	}
	sink = cache;
	free(cache);
	return 0;
}
