/* SPDX-License-Identifier: MIT */
/* Known network work over loopback: a server thread and a client doing exact connects, requests and lookups. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/*
 * A request is req_size bytes (16 unless chatty), an answer RESP_SIZE bytes.
 * The server answers each request after delay_us, one thread per
 * connection, and counts the connections it has closed so that the client
 * can wait for them before exiting (the server side's figures are then
 * exact too).
 */
#define RESP_SIZE 32

static size_t req_size = 16;
static unsigned delay_us;
static int served;
static int family = AF_INET;
static const char *unix_path;
static struct sockaddr_storage srv;
static socklen_t srv_len;

static void die(const char *what)
{
	fprintf(stderr, "net_load: %s: %s\n", what, strerror(errno));
	exit(1);
}

/*
 * The client's own clock around what the profiler times: each connect
 * (to the wait that saw a non-blocking one complete), each connection from
 * socket() to close(), each request from its first send to the end of its
 * answer. Each of the profiler's figures lies inside one of these, so they
 * bound it from above whatever the machine's load (tests/test_net.c).
 */
#define SELF_MAX 4096

struct self {
	const char *name;
	long long v[SELF_MAX];
	int n;
};

static struct self self_connect = { "connect_ns" }, self_lifetime = { "lifetime_ns" },
		   self_request = { "request_ns" }, self_lookup = { "lookup_ns" };

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void self_add(struct self *s, long long since)
{
	if (s->n < SELF_MAX)
		s->v[s->n++] = now_ns() - since;
}

static int cmp_ll(const void *x, const void *y)
{
	long long a = *(const long long *)x, b = *(const long long *)y;

	return a < b ? -1 : a > b;
}

/* The value of rank ceil(p * n), the profiler's own rule for a percentile. */
static long long self_rank(const struct self *s, double p)
{
	int k = (int)(p * s->n + 0.999999);

	return s->v[(k ? k : 1) - 1];
}

static void self_print(struct self *s)
{
	long long total = 0;

	if (!s->n)
		return;
	qsort(s->v, (size_t)s->n, sizeof(*s->v), cmp_ll);
	for (int i = 0; i < s->n; i++)
		total += s->v[i];
	printf("self %s n=%d p50=%lld p90=%lld p99=%lld max=%lld total=%lld\n", s->name, s->n,
	       self_rank(s, 0.50), self_rank(s, 0.90), self_rank(s, 0.99), s->v[s->n - 1], total);
}

static int read_full(int fd, char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = recv(fd, buf + got, n - got, 0);

		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static void *serve_conn(void *arg)
{
	int fd = (int)(long)arg;
	char req[4096], resp[RESP_SIZE];

	memset(resp, 'r', sizeof(resp));
	while (read_full(fd, req, req_size) == 0) {
		if (delay_us)
			usleep(delay_us);
		if (send(fd, resp, sizeof(resp), 0) != (ssize_t)sizeof(resp))
			break;
	}
	close(fd);
	__atomic_add_fetch(&served, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void *acceptor(void *arg)
{
	int lfd = (int)(long)arg;

	for (;;) {
		pthread_t th;
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0)
			continue;
		pthread_create(&th, NULL, serve_conn, (void *)(long)fd);
		pthread_detach(th);
	}
	return NULL;
}

/* Listen on loopback (or unix_path); print the port for the test. */
static void start_server(void)
{
	pthread_t th;
	int lfd = socket(family, SOCK_STREAM, 0), one = 1;

	if (lfd < 0)
		die("socket");
	memset(&srv, 0, sizeof(srv));
	if (family == AF_UNIX) {
		struct sockaddr_un *un = (struct sockaddr_un *)&srv;

		un->sun_family = AF_UNIX;
		snprintf(un->sun_path, sizeof(un->sun_path), "%s", unix_path);
		unlink(unix_path);
		srv_len = sizeof(*un);
	} else if (family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&srv;

		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_loopback;
		srv_len = sizeof(*in6);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&srv;

		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		srv_len = sizeof(*in);
	}
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&srv, srv_len) || listen(lfd, 512))
		die("bind/listen");
	if (getsockname(lfd, (struct sockaddr *)&srv, &srv_len))
		die("getsockname");
	if (family != AF_UNIX)
		printf("port=%d\n", ntohs(family == AF_INET6 ?
						  ((struct sockaddr_in6 *)&srv)->sin6_port :
						  ((struct sockaddr_in *)&srv)->sin_port));
	fflush(stdout);
	pthread_create(&th, NULL, acceptor, (void *)(long)lfd);
	pthread_detach(th);
}

static void wait_served(int n)
{
	while (__atomic_load_n(&served, __ATOMIC_SEQ_CST) < n)
		usleep(1000);
}

/* Born times of the client's connections, by fd, for their lifetimes. */
static long long born[1024];

static int dial(void)
{
	long long t0 = now_ns(), t1;
	int fd = socket(family, SOCK_STREAM, 0);

	if (fd < 0 || fd >= 1024)
		die("socket");
	born[fd] = t0;
	t1 = now_ns();
	if (connect(fd, (struct sockaddr *)&srv, srv_len))
		die("connect");
	self_add(&self_connect, t1);
	return fd;
}

static void hang_up(int fd)
{
	close(fd);
	self_add(&self_lifetime, born[fd]);
}

/* One request of req_size bytes in `pieces` sends, then the whole answer. */
static void request(int fd, int pieces)
{
	char req[4096], resp[RESP_SIZE];
	size_t each = req_size / (size_t)pieces;
	long long t0;

	memset(req, 'q', sizeof(req));
	t0 = now_ns();
	for (int i = 0; i < pieces; i++)
		if (send(fd, req, each, 0) != (ssize_t)each)
			die("send");
	if (read_full(fd, resp, sizeof(resp)))
		die("recv");
	self_add(&self_request, t0);
}

static void churn(int n)
{
	for (int i = 0; i < n; i++) {
		int fd = dial();

		request(fd, 1);
		hang_up(fd);
	}
	wait_served(n);
}

static void pool(int k, int m)
{
	int fds[64];

	if (k > 64)
		k = 64;
	for (int i = 0; i < k; i++)
		fds[i] = dial();
	for (int i = 0; i < m; i++)
		request(fds[i % k], 1);
	for (int i = 0; i < k; i++)
		hang_up(fds[i]);
	wait_served(k);
}

static void refused(int n)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	socklen_t len = sizeof(in);
	int probe = socket(AF_INET, SOCK_STREAM, 0);

	/* a port that was free a moment ago, and nobody listens on */
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(probe, (struct sockaddr *)&in, sizeof(in)) ||
	    getsockname(probe, (struct sockaddr *)&in, &len))
		die("bind");
	close(probe);
	printf("port=%d\n", ntohs(in.sin_port));
	fflush(stdout);
	for (int i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (connect(fd, (struct sockaddr *)&in, sizeof(in)) == 0 || errno != ECONNREFUSED)
			die("connect was not refused");
		close(fd);
	}
}

/* Wait until fd is writable with the given mechanism. */
static void wait_writable(int fd, const char *how)
{
	if (!strcmp(how, "select")) {
		fd_set w;

		FD_ZERO(&w);
		FD_SET(fd, &w);
		if (select(fd + 1, NULL, &w, NULL, NULL) != 1)
			die("select");
	} else if (!strcmp(how, "epoll")) {
		struct epoll_event ev = { .events = EPOLLOUT, .data.fd = fd }, out;
		int ep = epoll_create1(0);

		if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) || epoll_wait(ep, &out, 1, -1) != 1)
			die("epoll");
		close(ep);
	} else {
		struct pollfd p = { .fd = fd, .events = POLLOUT };

		if (poll(&p, 1, -1) != 1)
			die("poll");
	}
}

static void nonblock(int n, const char *how)
{
	for (int i = 0; i < n; i++) {
		long long t0 = now_ns(), t1;
		int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0), err = 0;
		socklen_t len = sizeof(err);

		if (fd < 0 || fd >= 1024)
			die("socket");
		born[fd] = t0;
		t1 = now_ns();
		if (connect(fd, (struct sockaddr *)&srv, srv_len) == 0)
			die("a non-blocking connect finished at once");
		if (errno != EINPROGRESS)
			die("connect");
		wait_writable(fd, how);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) || err)
			die("SO_ERROR");
		self_add(&self_connect, t1);
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		request(fd, 1);
		hang_up(fd);
	}
	wait_served(n);
}

static void lookups(int n, int m)
{
	for (int i = 0; i < n; i++) {
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
		long long t0 = now_ns();

		if (getaddrinfo("localhost", "80", &hints, &res))
			die("getaddrinfo");
		self_add(&self_lookup, t0);
		freeaddrinfo(res);
	}
	for (int i = 0; i < m; i++) {
		long long t0 = now_ns();

		if (!gethostbyname("localhost"))
			die("gethostbyname");
		self_add(&self_lookup, t0);
	}
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	int a = argc > 2 ? atoi(argv[2]) : 0, b = argc > 3 ? atoi(argv[3]) : 0;

	if (!strcmp(mode, "refused")) {
		refused(a);
	} else if (!strcmp(mode, "lookup")) {
		lookups(a, b);
	} else if (!strcmp(mode, "churn") || !strcmp(mode, "ipv6") || !strcmp(mode, "unix")) {
		if (!strcmp(mode, "ipv6"))
			family = AF_INET6;
		if (!strcmp(mode, "unix")) {
			family = AF_UNIX;
			unix_path = argc > 3 ? argv[3] : "/tmp/net_load.sock";
		}
		start_server();
		churn(a);
		if (unix_path)
			unlink(unix_path);
	} else if (!strcmp(mode, "pool")) {
		start_server();
		pool(a, b);
	} else if (!strcmp(mode, "slow")) { /* pool of 1, the server takes b us per answer */
		delay_us = (unsigned)b;
		start_server();
		pool(1, a);
	} else if (!strcmp(mode, "chatty")) { /* one connection, a requests of b sends of 8 bytes */
		req_size = 8 * (size_t)b;
		start_server();
		{
			int fd = dial();

			for (int i = 0; i < a; i++)
				request(fd, b);
			hang_up(fd);
		}
		wait_served(1);
	} else if (!strcmp(mode, "nonblock")) {
		start_server();
		nonblock(a, argc > 3 ? argv[3] : "poll");
	} else {
		fprintf(stderr, "usage: net_load churn|ipv6 N | unix N PATH | pool K M | slow N US |\n"
				"       chatty N PIECES | nonblock N poll|select|epoll | refused N |\n"
				"       lookup N M\n");
		return 2;
	}
	self_print(&self_connect);
	self_print(&self_lifetime);
	self_print(&self_request);
	self_print(&self_lookup);
	return 0;
}
