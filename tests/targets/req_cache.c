/* SPDX-License-Identifier: MIT */
/* memcached client with a known sequence: 15 sets (5 never read), 20 gets (10 hit, 10 miss), one noreply set, one version; one connection. */
#include "net_util.h"

static int fd;

/* One write of s (write itself: stdio's dprintf writes past the hooks). */
static void say(const char *s)
{
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s)) {
		fprintf(stderr, "write: %s\n", strerror(errno));
		exit(2);
	}
}

/* The reply up to and including its last line, end ("END\r\n" or "\r\n"). */
static void answer(const char *end, char *buf, size_t cap)
{
	size_t len = 0, el = strlen(end);

	for (;;) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);

		if (n <= 0) {
			fprintf(stderr, "read: %s\n", n ? strerror(errno) : "closed");
			exit(2);
		}
		len += (size_t)n;
		buf[len] = 0;
		if (len >= el && !strcmp(buf + len - el, end))
			return;
	}
}

int main(int argc, char **argv)
{
	char cmd[128], buf[4096];
	int hits = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: req_cache PORT\n");
		return 2;
	}
	fd = dial_loopback(atoi(argv[1]));
	for (int i = 1; i <= 25; i++) {
		if (i > 10 && i <= 20)
			continue; /* the gets of these miss */
		snprintf(cmd, sizeof(cmd), "set user:%d 0 0 5\r\nhello\r\n", i);
		say(cmd);
		answer("\r\n", buf, sizeof(buf));
	}
	for (int i = 1; i <= 20; i++) {
		snprintf(cmd, sizeof(cmd), "get user:%d\r\n", i);
		say(cmd);
		answer("END\r\n", buf, sizeof(buf));
		hits += !strncmp(buf, "VALUE ", 6);
	}
	say("set session:9f8e7d6c5b4a 0 0 3 noreply\r\nxyz\r\n");
	say("version\r\n");
	answer("\r\n", buf, sizeof(buf));
	close(fd);
	printf("hits %d\n", hits);
	return 0;
}
