/* SPDX-License-Identifier: MIT */
/* Signals: allocating in a handler, a SIGPROF storm, every signal blocked, and calls interrupted with EINTR. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static __thread void *volatile sink; /* per thread: each frees its own */
static volatile sig_atomic_t hits;

static void alloc_handler(int sig)
{
	(void)sig;
	sink = malloc(48); /* LINE:alloc_handler */
	free(sink);
	hits++;
}

static void count_handler(int sig)
{
	(void)sig;
	hits++;
}

static void main_work(int n)
{
	for (int i = 0; i < n; i++) {
		sink = malloc(32); /* LINE:main_work */
		free(sink);
	}
}

static void on(int sig, void (*fn)(int), int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static void *blocked_worker(void *arg)
{
	(void)arg;
	main_work(5000);
	return NULL;
}

/* Keeps sending SIGUSR1 to the main thread until told to stop. */
static pthread_t main_th;
static volatile int stop_kicking;

static void *kicker(void *arg)
{
	(void)arg;
	while (!stop_kicking) {
		pthread_kill(main_th, SIGUSR1);
		usleep(20000);
	}
	return NULL;
}

/* SIGPROF at the main thread as fast as it can be sent. */
static void *storm(void *arg)
{
	(void)arg;
	while (!stop_kicking)
		pthread_kill(main_th, SIGPROF);
	return NULL;
}

static void report(const char *call, long rc)
{
	printf("%s: %s\n", call, rc < 0 && errno == EINTR ? "EINTR" : rc < 0 ? strerror(errno) : "ok");
}

/* Every blocking call the preload wraps, interrupted by a handler without SA_RESTART. */
static void eintr_all(void)
{
	int pfd[2], sv[2], lsn, ep;
	char buf[16];
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	struct pollfd p;
	fd_set rs;
	struct epoll_event ev = { .events = EPOLLIN }, out;
	struct timespec ts = { 5, 0 };
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	sem_t sem;
	pthread_t k;

	on(SIGUSR1, count_handler, 0);
	main_th = pthread_self();
	if (pipe(pfd) || socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		exit(3);
	lsn = socket(AF_INET, SOCK_STREAM, 0);
	bind(lsn, (struct sockaddr *)&a, sizeof(a));
	listen(lsn, 1);
	getsockname(lsn, (struct sockaddr *)&a, &alen);
	ep = epoll_create1(0);
	ev.data.fd = pfd[0];
	epoll_ctl(ep, EPOLL_CTL_ADD, pfd[0], &ev);
	sem_init(&sem, 0, 0);
	pthread_create(&k, NULL, kicker, NULL);

	report("read", read(pfd[0], buf, sizeof(buf)));
	report("recv", recv(sv[0], buf, sizeof(buf), 0));
	report("recvfrom", recvfrom(sv[0], buf, sizeof(buf), 0, NULL, NULL));
	report("recvmsg", recvmsg(sv[0], &mh, 0));
	report("readv", readv(sv[0], &iov, 1));
	report("accept", accept(lsn, NULL, NULL));
	report("accept4", accept4(lsn, NULL, NULL, SOCK_CLOEXEC));
	p.fd = pfd[0];
	p.events = POLLIN;
	report("poll", poll(&p, 1, 5000));
	report("ppoll", ppoll(&p, 1, &ts, NULL));
	FD_ZERO(&rs);
	FD_SET(pfd[0], &rs);
	report("select", select(pfd[0] + 1, &rs, NULL, NULL, &(struct timeval){ 5, 0 }));
	FD_ZERO(&rs);
	FD_SET(pfd[0], &rs);
	report("pselect", pselect(pfd[0] + 1, &rs, NULL, NULL, &ts, NULL));
	report("epoll_wait", epoll_wait(ep, &out, 1, 5000));
	report("epoll_pwait", epoll_pwait(ep, &out, 1, 5000, NULL));
	report("sem_wait", sem_wait(&sem));
	report("nanosleep", nanosleep(&ts, NULL));
	pid_t c = fork();
	if (c == 0) {
		pause();
		_exit(0);
	}
	report("waitpid", waitpid(c, NULL, 0));
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	stop_kicking = 1;
	pthread_join(k, NULL);
	/* and the connection still works afterwards */
	if (write(sv[1], "x", 1) == 1)
		report("recv after", recv(sv[0], buf, sizeof(buf), 0));
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (!strcmp(mode, "handler")) {
		on(SIGUSR1, alloc_handler, SA_RESTART);
		for (int i = 0; i < 1000; i++)
			raise(SIGUSR1);
		main_work(1000);
		printf("handler ran %d times\n", (int)hits);
	} else if (!strcmp(mode, "storm")) {
		pthread_t s;
		on(SIGPROF, count_handler, SA_RESTART);
		main_th = pthread_self();
		pthread_create(&s, NULL, storm, NULL);
		while (!hits)
			;
		/* at least one signal per round: pending ones arrive at a system call */
		for (int i = 0; i < 300; i++) {
			int before = hits;
			main_work(1000);
			while (hits == before)
				sched_yield();
		}
		stop_kicking = 1;
		pthread_join(s, NULL);
		printf("storm %s\n", hits >= 300 ? "hit" : "missed");
	} else if (!strcmp(mode, "blockall")) {
		sigset_t all;
		pthread_t t[4];
		sigfillset(&all);
		sigprocmask(SIG_BLOCK, &all, NULL);
		for (int i = 0; i < 4; i++)
			pthread_create(&t[i], NULL, blocked_worker, NULL);
		for (int i = 0; i < 4; i++)
			pthread_join(t[i], NULL);
		puts("blocked all");
	} else if (!strcmp(mode, "eintr")) {
		eintr_all();
	} else {
		return 2;
	}
	return 0;
}
