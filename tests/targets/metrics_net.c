/* SPDX-License-Identifier: MIT */
/* Connects N1 times to one loopback listener, N2 times to another, ..., accepting each, then says so and waits: the per-endpoint metrics. */
#include <stdio.h>
#include <stdlib.h>

#include "net_util.h"

/* A listener on 127.0.0.1 at a port the kernel picks: its fd, the port in *port. */
static int listen_loopback(int *port)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	socklen_t len = sizeof(in);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&in, sizeof(in)) || listen(fd, 64) ||
	    getsockname(fd, (struct sockaddr *)&in, &len)) {
		perror("listen");
		exit(2);
	}
	*port = ntohs(in.sin_port);
	return fd;
}

/* n connects to the listener lfd at port, each accepted and both ends closed. */
static void connects(int lfd, int port, int n)
{
	for (int i = 0; i < n; i++) {
		int c = dial_loopback(port), a = accept(lfd, NULL, NULL);

		if (a < 0) {
			perror("accept");
			exit(2);
		}
		close(a);
		close(c);
	}
}

int main(int argc, char **argv)
{
	int port[16], lfd[16], n = argc - 2;

	if (n < 1 || n > 16) {
		fprintf(stderr, "usage: metrics_net HOLD_MS N1 [N2 ...] (up to 16 listeners)\n");
		return 2;
	}
	for (int i = 0; i < n; i++)
		lfd[i] = listen_loopback(&port[i]);
	for (int i = 0; i < n; i++)
		connects(lfd[i], port[i], atoi(argv[i + 2]));
	/* the test reads the ports to know which endpoint is which */
	printf("ready");
	for (int i = 0; i < n; i++)
		printf(" %d", port[i]);
	printf("\n");
	fflush(stdout);
	nanosleep(&(struct timespec){ atol(argv[1]) / 1000, atol(argv[1]) % 1000 * 1000000 }, NULL);
	for (int i = 0; i < n; i++)
		close(lfd[i]);
	return 0;
}
