/* SPDX-License-Identifier: MIT */
/* Hostile habits: closing every descriptor at start, running out of descriptors, listing its own, a user namespace, sending a known payload. */
#define _GNU_SOURCE /* unshare, CLONE_NEWUSER */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static __thread void *volatile sink; /* per thread: each frees its own */

static void allocs(int n)
{
	for (int i = 0; i < n; i++)
		sink = malloc(128); /* LINE:allocs */
}

/* As many files as the limit allows; returns how many opened. */
static int open_until_emfile(void)
{
	static int fds[65536];
	int n = 0, fd;

	while (n < 65536 && (fd = open("/dev/null", O_RDONLY)) >= 0)
		fds[n++] = fd;
	if (errno != EMFILE)
		printf("open: %s\n", strerror(errno));
	allocs(1000);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	return n;
}

static void *alloc_thread(void *arg)
{
	(void)arg;
	allocs(1000);
	return NULL;
}

/* Threads allocate and are joined; main allocates again and then lists
 * its descriptors from 10 up (below: the standard ones and what the
 * caller left open). */
static int list_after_threads(void)
{
	pthread_t th[4];
	struct dirent *e;
	DIR *d;
	int n = 0;

	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, alloc_thread, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	allocs(1000);
	d = opendir("/proc/self/fd");
	if (!d)
		return 1;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (fd >= 10 && fd != dirfd(d)) {
			printf("open: %d\n", fd);
			n++;
		}
	}
	closedir(d);
	printf("%d open from 10 up\n", n);
	return 0;
}

/* setns into a child's new user namespace: allowed to a process of one
 * thread only. */
static int join_child_userns(void)
{
	char path[64], c = 0;
	int p[2], fd, rc;
	pid_t child;

	allocs(100);
	if (pipe(p))
		return 1;
	child = fork();
	if (child == 0) {
		c = unshare(CLONE_NEWUSER) ? 'e' : 'k';
		(void)!write(p[1], &c, 1);
		pause();
		_exit(0);
	}
	if (child < 0 || read(p[0], &c, 1) != 1 || c != 'k')
		return 1;
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)child);
	fd = open(path, O_RDONLY);
	rc = fd < 0 ? -1 : setns(fd, CLONE_NEWUSER);
	printf("setns: %s\n", rc ? strerror(errno) : "ok");
	fflush(stdout);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	allocs(100);
	return 0;
}

static void *server(void *arg)
{
	int lsn = *(int *)arg, c = accept(lsn, NULL, NULL);
	char buf[256];
	ssize_t n, got = 0;

	while ((n = recv(c, buf, sizeof(buf), 0)) > 0) {
		send(c, buf, (size_t)n, 0);
		got += n;
	}
	close(c);
	return (void *)got;
}

/* The payload goes over TCP loopback, both ways. */
static int send_payload(const char *payload)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int lsn = socket(AF_INET, SOCK_STREAM, 0), c;
	char back[256];
	size_t len = strlen(payload);
	pthread_t th;
	void *got;

	if (bind(lsn, (struct sockaddr *)&a, sizeof(a)) || listen(lsn, 1) ||
	    getsockname(lsn, (struct sockaddr *)&a, &alen))
		return 1;
	pthread_create(&th, NULL, server, &lsn);
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(c, (struct sockaddr *)&a, sizeof(a)))
		return 1;
	for (int i = 0; i < 10; i++) {
		send(c, payload, len, 0);
		if (recv(c, back, len, MSG_WAITALL) != (ssize_t)len || memcmp(back, payload, len))
			return 1;
	}
	close(c);
	pthread_join(th, &got);
	printf("echoed %ld bytes\n", (long)got);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (!strcmp(mode, "closefrom")) {
		/* as daemons and sandboxes do, before anything else */
		closefrom(3);
		allocs(1000);
		puts("closed");
		return 0;
	}
	if (!strcmp(mode, "close_loop")) {
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
		for (int round = 0; round < 2; round++) {
			allocs(1000);
			/* files of the program's own get the numbers just freed */
			for (int i = 0; i < 16 && !round; i++)
				if (open("/dev/null", O_RDONLY) != 3 + i)
					return 1;
		}
		puts("closed");
		return 0;
	}
	if (!strcmp(mode, "reuse")) {
		/* after closefrom, a pipe of the program's own gets the first numbers */
		char buf[64] = "";
		int p[2];
		ssize_t n;

		closefrom(3);
		if (pipe(p) || write(p[1], "hello", 5) != 5)
			return 1;
		allocs(1000);
		close(p[1]);
		n = read(p[0], buf, sizeof(buf) - 1);
		printf("read %zd: %s\n", n, n == 5 && !memcmp(buf, "hello", 5) ? "intact" : "changed");
		return 0;
	}
	if (!strcmp(mode, "emfile")) {
		printf("opened %d\n", open_until_emfile());
		return 0;
	}
	if (!strcmp(mode, "list_after_threads"))
		return list_after_threads();
	if (!strcmp(mode, "userns")) {
		/* allowed to a process of one thread only */
		int rc;

		allocs(100);
		rc = unshare(CLONE_NEWUSER);
		printf("unshare: %s\n", rc ? strerror(errno) : "ok");
		fflush(stdout);
		allocs(100);
		usleep(1200000);
		allocs(100);
		return 0;
	}
	if (!strcmp(mode, "setns"))
		return join_child_userns();
	if (!strcmp(mode, "payload"))
		return send_payload(argc > 2 ? argv[2] : "payload");
	if (!strcmp(mode, "env")) {
		allocs(10);
		printf("%s\n", getenv("REL_SECRET") ? "has secret" : "no secret");
		return 0;
	}
	return 2;
}
