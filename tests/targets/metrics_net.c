/* SPDX-License-Identifier: MIT */
/* Connects K times to one loopback listener and L times to another, accepting each, then says so and waits: the per-endpoint metrics. */
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
	int pa, pb, la, lb;

	if (argc != 4) {
		fprintf(stderr, "usage: metrics_net K L HOLD_MS\n");
		return 2;
	}
	la = listen_loopback(&pa);
	lb = listen_loopback(&pb);
	connects(la, pa, atoi(argv[1]));
	connects(lb, pb, atoi(argv[2]));
	/* the test reads the ports to know which endpoint is which */
	printf("ready %d %d\n", pa, pb);
	fflush(stdout);
	nanosleep(&(struct timespec){ atol(argv[3]) / 1000, atol(argv[3]) % 1000 * 1000000 }, NULL);
	close(la);
	close(lb);
	return 0;
}
