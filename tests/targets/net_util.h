/* SPDX-License-Identifier: MIT */
/* Socket helpers shared by the loopback client targets (srv_load, srv_memc). */
#ifndef PST_TARGET_NET_UTIL_H
#define PST_TARGET_NET_UTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/*
 * A socket connected to 127.0.0.1:port; exits 2 on failure. Refused
 * connects are retried (up to 20 s) so the first one also waits for the
 * server to listen: a refused connect reaches no accept, so the server
 * accepts exactly one connection per dial and nothing else.
 */
static inline int dial_loopback(int port)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int tries = 0; tries < 2000; tries++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (fd < 0) {
			fprintf(stderr, "socket: %s\n", strerror(errno));
			exit(2);
		}
		if (!connect(fd, (struct sockaddr *)&in, sizeof(in)))
			return fd;
		if (errno != ECONNREFUSED) {
			fprintf(stderr, "connect: %s\n", strerror(errno));
			exit(2);
		}
		close(fd);
		nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
	}
	fprintf(stderr, "connect: nothing listens on port %d\n", port);
	exit(2);
}

#endif
