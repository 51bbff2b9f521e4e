/* SPDX-License-Identifier: MIT */
/* memcached client on loopback: exactly C connections doing K sets and K gets each, then the server's own stats over one more. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net_util.h"

static int port;

static void send_all(int fd, const char *s)
{
	size_t len = strlen(s);

	while (len) {
		ssize_t n = write(fd, s, len);

		if (n <= 0) {
			fprintf(stderr, "write: %s\n", strerror(errno));
			exit(2);
		}
		s += n;
		len -= (size_t)n;
	}
}

/* Read until the answer ends with end (a whole line); returns its length. */
static size_t recv_until(int fd, char *buf, size_t cap, const char *end)
{
	size_t len = 0, e = strlen(end);

	for (;;) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);

		if (n <= 0) {
			fprintf(stderr, "read: %s\n", n ? strerror(errno) : "connection closed");
			exit(2);
		}
		len += (size_t)n;
		buf[len] = 0;
		if (len >= e && !strcmp(buf + len - e, end))
			return len;
		if (len == cap - 1) {
			fprintf(stderr, "answer too long: %.80s\n", buf);
			exit(2);
		}
	}
}

/* The value of "STAT name V" in a stats answer, "?" when absent. */
static const char *stat_of(const char *stats, const char *name, char *out, size_t len)
{
	char key[64];
	const char *at;

	snprintf(key, sizeof(key), "STAT %s ", name);
	at = strstr(stats, key);
	if (!at)
		return "?";
	at += strlen(key);
	snprintf(out, len, "%.*s", (int)strcspn(at, "\r\n"), at);
	return out;
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "total_connections", "cmd_set", "cmd_get",
					     "get_hits", "get_misses", "curr_items" };
	char cmd[256], buf[16384], val[64];
	long c, k, bad = 0;
	int *fds, sfd;

	if (argc != 4 || (port = atoi(argv[1])) <= 0 || (c = atol(argv[2])) <= 0 ||
	    (k = atol(argv[3])) <= 0) {
		fprintf(stderr, "usage: srv_memc PORT CONNECTIONS OPS\n");
		return 2;
	}
	fds = calloc((size_t)c, sizeof(*fds));
	/* all C open at once: the server holds C client connections together */
	for (long i = 0; i < c; i++)
		fds[i] = dial_loopback(port);
	for (long i = 0; i < c; i++) {
		for (long j = 0; j < k; j++) {
			snprintf(val, sizeof(val), "value-%ld-%ld", i, j);
			snprintf(cmd, sizeof(cmd), "set key:%ld:%ld 0 0 %zu\r\n%s\r\n", i, j,
				 strlen(val), val);
			send_all(fds[i], cmd);
			recv_until(fds[i], buf, sizeof(buf), "\r\n");
			bad += strcmp(buf, "STORED\r\n") != 0;
		}
		for (long j = 0; j < k; j++) {
			snprintf(cmd, sizeof(cmd), "get key:%ld:%ld\r\n", i, j);
			send_all(fds[i], cmd);
			recv_until(fds[i], buf, sizeof(buf), "END\r\n");
			snprintf(val, sizeof(val), "\r\nvalue-%ld-%ld\r\n", i, j);
			bad += !strstr(buf, val);
		}
	}
	for (long i = 0; i < c; i++)
		close(fds[i]);
	/* the server's own count, over one more connection */
	sfd = dial_loopback(port);
	send_all(sfd, "stats\r\n");
	recv_until(sfd, buf, sizeof(buf), "END\r\n");
	printf("connections %ld ops %ld bad %ld\n", c, 2 * c * k, bad);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		printf("%s %s\n", names[i], stat_of(buf, names[i], val, sizeof(val)));
	send_all(sfd, "quit\r\n");
	close(sfd);
	free(fds);
	return bad ? 1 : 0;
}
