/* SPDX-License-Identifier: MIT */
/* HTTP load on loopback: exactly N requests, one connection each, from C concurrent threads; prints what the server answered. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net_util.h"

static int port;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long ok, bad, body_bytes;

/* One request on a fresh connection; the whole answer read to EOF. */
static void request(void)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
	char buf[4096];
	size_t len = 0;
	ssize_t n;
	int fd = dial_loopback(port);
	const char *body;

	if (write(fd, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1) {
		fprintf(stderr, "write: %s\n", strerror(errno));
		exit(2);
	}
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = 0;
	close(fd);
	body = strstr(buf, "\r\n\r\n");
	pthread_mutex_lock(&lock);
	if (!strncmp(buf, "HTTP/1.1 200 ", 13) && body) {
		ok++;
		body_bytes += (long)strlen(body + 4);
	} else {
		bad++;
	}
	pthread_mutex_unlock(&lock);
}

static void *client(void *arg)
{
	for (long i = 0, n = (long)arg; i < n; i++)
		request();
	return NULL;
}

int main(int argc, char **argv)
{
	long n, c;
	pthread_t *t;

	if (argc != 4 || (port = atoi(argv[1])) <= 0 || (n = atol(argv[2])) <= 0 ||
	    (c = atol(argv[3])) <= 0) {
		fprintf(stderr, "usage: srv_load PORT REQUESTS THREADS\n");
		return 2;
	}
	t = calloc((size_t)c, sizeof(*t));
	/* the first request alone: it waits for the server to listen */
	request();
	n--;
	for (long i = 0; i < c; i++) {
		long share = n / c + (i < n % c);

		if (pthread_create(&t[i], NULL, client, (void *)share)) {
			fprintf(stderr, "pthread_create failed\n");
			return 2;
		}
	}
	for (long i = 0; i < c; i++)
		pthread_join(t[i], NULL);
	printf("requests %ld ok %ld bad %ld body_bytes %ld\n", ok + bad, ok, bad, body_bytes);
	free(t);
	return bad ? 1 : 0;
}
