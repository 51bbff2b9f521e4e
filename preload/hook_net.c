/* SPDX-License-Identifier: MIT */
/* Sockets and name lookups: per-connection counters in the fd table, one NET_CONN segment per close or snapshot. */
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/un.h>
#include <unistd.h>

#include "net.h"
#include "proto.h"

#define EXPORT __attribute__((visibility("default")))

/* Connections get ids unique in a trace; a forked child goes on from its
 * parent's count, so inherited ids never collide with its own. */
static uint64_t next_conn_id;
/* Connects in progress: while none, the wait hooks pass straight through. */
static int pending_connects;

/* A hook called before init or while it runs finds the real function
 * itself; without one the call fails as the system would say it is missing. */
static __attribute__((noinline)) void *real_sym(void **slot, const char *name)
{
	if (!*slot)
		*slot = dlsym(RTLD_NEXT, name);
	return *slot;
}

#define NEED_REAL(field, sym, fail)                                                    \
	do {                                                                           \
		if (unlikely(!pst_real.field) &&                                       \
		    !real_sym((void **)&pst_real.field, sym)) {                        \
			errno = ENOSYS;                                                \
			return fail;                                                   \
		}                                                                      \
	} while (0)

/* Recording is on and this call is the program's, not the profiler's. */
static inline bool net_on(void)
{
	if (unlikely(pst_state != PST_ON)) {
		if (pst_state == PST_UNINIT)
			pst_init();
		if (pst_state != PST_ON)
			return false;
	}
	return !pst_guard;
}

#define ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define TAKE(p) __atomic_exchange_n((p), 0, __ATOMIC_RELAXED)

/* ---- endpoints ---- */

/* An IP endpoint: the address (4 or 16 bytes), then the port; true. */
static bool ep_ip(struct pst_sock *e, const void *addr, size_t alen, const void *port, uint8_t kind)
{
	memcpy(e->ep, addr, alen);
	memcpy(e->ep + alen, port, 2);
	e->ep_len = (uint16_t)(alen + 2);
	e->kind = kind;
	return true;
}

/* The endpoint of a socket address; false for families we do not follow. */
static bool ep_set(struct pst_sock *e, const struct sockaddr *sa, socklen_t len)
{
	if (!sa || len < sizeof(sa_family_t))
		return false;
	switch (sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *in = (const void *)sa;

		return len >= sizeof(*in) && ep_ip(e, &in->sin_addr, 4, &in->sin_port, PST_NET_TCP);
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		return len >= sizeof(*in6) &&
		       ep_ip(e, &in6->sin6_addr, 16, &in6->sin6_port, PST_NET_TCP6);
	}
	case AF_UNIX: {
		const struct sockaddr_un *un = (const void *)sa;
		size_t n = len - offsetof(struct sockaddr_un, sun_path);

		if (len <= offsetof(struct sockaddr_un, sun_path))
			n = 0;
		if (n > PST_NET_EP_MAX)
			n = PST_NET_EP_MAX;
		if (n && un->sun_path[0])
			n = strnlen(un->sun_path, n);
		memcpy(e->ep, un->sun_path, n);
		e->ep_len = (uint16_t)n;
		e->kind = PST_NET_UNIX;
		return true;
	}
	default:
		return false;
	}
}

/* A socket's entry from its domain and type: followed are stream and
 * seqpacket sockets over IPv4, IPv6 and Unix. */
static void sock_classify(struct pst_sock *e, int domain, int type)
{
	type &= ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
	if ((domain == AF_INET || domain == AF_INET6 || domain == AF_UNIX) &&
	    (type == SOCK_STREAM || type == SOCK_SEQPACKET))
		e->state = PST_SOCK_NEW;
	else
		e->state = PST_SOCK_OTHER;
}

/* An fd the table has not seen (made before we started, or by a path we do
 * not hook): ask the kernel once what it is. */
static struct pst_sock *sock_learn(int fd)
{
	struct pst_sock *e = pst_sock_get(fd);
	int domain, type;
	socklen_t l1 = sizeof(domain), l2 = sizeof(type);

	if (e && e->state != PST_SOCK_NONE)
		return e;
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &l1) ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l2))
		return NULL;
	e = pst_sock_make(fd);
	if (e)
		sock_classify(e, domain, type);
	return e;
}

/* ---- segments ---- */

static void sock_reset(struct pst_sock *e)
{
	memset(&e->c, 0, sizeof(e->c));
	e->dir = e->cur_burst = 0;
	e->turn_start = 0;
}

static void sock_begin(struct pst_sock *e, unsigned role, uint64_t ts)
{
	pst_proto_end(e, ts); /* a decoder left by a connection we did not see end */
	e->conn_id = __atomic_add_fetch(&next_conn_id, 1, __ATOMIC_RELAXED);
	e->role = (uint8_t)role;
	e->first = 1;
	e->flags = 0;
	e->open_ts = ts;
	e->connect_ns = 0;
	e->done_ts = 0;
	sock_reset(e);
}

static void end_burst(struct pst_sock *e)
{
	uint32_t n = __atomic_exchange_n(&e->cur_burst, 0, __ATOMIC_RELAXED);

	if (!n)
		return;
	ADD(&e->c.bursts, 1);
	ADD(&e->c.burst_sends, n);
	if (n > __atomic_load_n(&e->c.max_burst, __ATOMIC_RELAXED))
		__atomic_store_n(&e->c.max_burst, n, __ATOMIC_RELAXED);
}

/* Write the connection's counters since its last segment, and zero them.
 * Called by the thread that closes, fails or snapshots the connection. */
static __attribute__((noinline)) void sock_emit(struct pst_sock *e, uint64_t end_ts,
						unsigned flags, uint64_t err)
{
	struct pst_net_conn_rec r;
	struct pst_thr *t;

	end_burst(e);
	r.conn_id = e->conn_id;
	r.kind = e->kind;
	r.role = e->role;
	r.flags = flags | e->flags | (e->first ? PST_NET_FIRST : 0);
	memcpy(r.ep, e->ep, e->ep_len);
	r.ep_len = e->ep_len;
	r.open_ts = e->open_ts;
	r.connect_ns = e->connect_ns;
	r.connect_err = err;
	r.end_ts = end_ts;
	r.bytes_sent = TAKE(&e->c.bytes_sent);
	r.send_calls = TAKE(&e->c.send_calls);
	r.send_ns = TAKE(&e->c.send_ns);
	r.bytes_recv = TAKE(&e->c.bytes_recv);
	r.recv_calls = TAKE(&e->c.recv_calls);
	r.recv_ns = TAKE(&e->c.recv_ns);
	r.small_sends = TAKE(&e->c.small_sends);
	r.requests = TAKE(&e->c.requests);
	r.bursts = TAKE(&e->c.bursts);
	r.burst_sends = TAKE(&e->c.burst_sends);
	r.max_burst = TAKE(&e->c.max_burst);
	for (unsigned b = 0; b < PST_NET_HIST_BUCKETS; b++)
		r.hist[b] = TAKE(&e->c.hist[b]);
	e->first = 0;

	t = pst_thr();
	if (!t)
		return;
	if (pst_rec_enter(t))
		t->pos = pst_enc_net_conn(pst_thr_room(t, PST_NET_CONN_MAX), &r);
	pst_rec_leave(t);
}

/* The connection on this entry is over: write it and forget the socket. */
static void sock_close(struct pst_sock *e, uint64_t ts)
{
	uint32_t st = e->state;

	if (e->pr)
		pst_proto_end(e, ts);
	if (st == PST_SOCK_OPEN) {
		sock_emit(e, ts, PST_NET_CLOSED, 0);
	} else if (st == PST_SOCK_CONNECTING) {
		__atomic_sub_fetch(&pending_connects, 1, __ATOMIC_RELAXED);
		e->connect_ns = ts - e->open_ts;
		sock_emit(e, ts, PST_NET_CLOSED, PST_NET_ERR_ABANDONED);
	}
	e->state = PST_SOCK_NONE;
}

/* ---- connect ---- */

/* The connect is over, the socket now in state to: false when another
 * thread settled it first. */
static bool conn_settle(struct pst_sock *e, uint32_t to, uint64_t ts)
{
	uint32_t expect = PST_SOCK_CONNECTING;

	if (!__atomic_compare_exchange_n(&e->state, &expect, to, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_RELAXED))
		return false;
	__atomic_sub_fetch(&pending_connects, 1, __ATOMIC_RELAXED);
	e->connect_ns = ts - e->open_ts;
	return true;
}

static void conn_ok(struct pst_sock *e, uint64_t ts)
{
	if (conn_settle(e, PST_SOCK_OPEN, ts))
		pst_ep_connected(e, e->connect_ns);
}

/* A failed attempt is a segment of its own; the socket may try again. */
static void conn_fail(struct pst_sock *e, int err, uint64_t ts)
{
	if (conn_settle(e, PST_SOCK_NEW, ts)) {
		pst_ep_failed(e);
		sock_emit(e, ts, PST_NET_CLOSED, (uint64_t)err);
	}
}

/* What a call on a connecting socket says about the connect. */
static __attribute__((noinline)) void conn_verdict(struct pst_sock *e, int err, uint64_t ts)
{
	if (!err || err == EISCONN)
		conn_ok(e, e->done_ts ? e->done_ts : ts);
	else if (err != EAGAIN && err != EWOULDBLOCK && err != EINTR && err != EINPROGRESS &&
		 err != EALREADY && err != ENOTCONN)
		conn_fail(e, err, ts);
}

/* A poll, select or epoll wait reported fd ready while its connect runs. */
static void conn_waited(int fd, uint64_t ts)
{
	struct pst_sock *e = pst_sock_get(fd);

	if (e && e->state == PST_SOCK_CONNECTING && !e->done_ts)
		e->done_ts = ts;
}

EXPORT int socket(int domain, int type, int protocol)
{
	struct pst_sock *e;
	int fd, err;

	NEED_REAL(socket, "socket", -1);
	fd = pst_real.socket(domain, type, protocol);
	if (fd < 0 || !net_on())
		return fd;
	err = errno;
	e = pst_sock_make(fd);
	if (e) {
		sock_close(e, pst_now()); /* closed behind our back: stale */
		sock_classify(e, domain, type);
	}
	errno = err;
	return fd;
}

EXPORT int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct pst_sock *e;
	uint64_t t0, t1;
	int rc, err;

	NEED_REAL(connect, "connect", -1);
	if (!net_on())
		return pst_real.connect(fd, sa, len);
	err = errno;
	e = sock_learn(fd);
	errno = err;
	if (!e || e->state == PST_SOCK_OTHER || e->state == PST_SOCK_OPEN ||
	    e->state == PST_SOCK_LISTEN)
		return pst_real.connect(fd, sa, len);
	if (e->state == PST_SOCK_CONNECTING) { /* asked again how it goes */
		rc = pst_real.connect(fd, sa, len);
		err = errno;
		conn_verdict(e, rc ? err : 0, pst_now());
		errno = err;
		return rc;
	}
	if (!ep_set(e, sa, len))
		return pst_real.connect(fd, sa, len);
	t0 = pst_now();
	rc = pst_real.connect(fd, sa, len);
	err = errno;
	t1 = pst_now();
	sock_begin(e, PST_NET_CLIENT, t0);
	if (!rc) {
		e->connect_ns = t1 - t0;
		e->state = PST_SOCK_OPEN;
		pst_ep_connected(e, e->connect_ns);
	} else if (err == EINPROGRESS || err == EINTR) {
		/* an interrupted connect goes on in the kernel, as a non-blocking one */
		__atomic_add_fetch(&pending_connects, 1, __ATOMIC_RELAXED);
		e->state = PST_SOCK_CONNECTING;
	} else {
		e->connect_ns = t1 - t0;
		pst_ep_failed(e);
		sock_emit(e, t1, PST_NET_CLOSED, (uint64_t)err);
	}
	errno = err;
	return rc;
}

/* A new socket that listens: its endpoint is its own address. */
static bool listen_ep(struct pst_sock *e, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (e->state != PST_SOCK_NEW || getsockname(fd, (struct sockaddr *)&ss, &len) ||
	    !ep_set(e, (struct sockaddr *)&ss, len))
		return false;
	e->state = PST_SOCK_LISTEN;
	return true;
}

EXPORT int listen(int fd, int backlog)
{
	struct pst_sock *e;
	int rc, err;

	NEED_REAL(listen, "listen", -1);
	rc = pst_real.listen(fd, backlog);
	if (rc || !net_on())
		return rc;
	err = errno;
	e = sock_learn(fd);
	if (e)
		listen_ep(e, fd);
	errno = err;
	return rc;
}

/* The listening socket's entry, learnt once if listen was not seen. */
static struct pst_sock *listener(int lfd)
{
	struct pst_sock *l = sock_learn(lfd);

	if (!l || l->state == PST_SOCK_LISTEN)
		return l;
	return listen_ep(l, lfd) ? l : NULL;
}

static void accepted_sock(int lfd, int fd)
{
	struct pst_sock *l, *e;
	uint64_t ts = pst_now();

	l = listener(lfd);
	if (!l || l->state != PST_SOCK_LISTEN)
		return;
	pst_ep_accepted(l);
	e = pst_sock_make(fd);
	if (!e)
		return;
	sock_close(e, ts);
	memcpy(e->ep, l->ep, l->ep_len);
	e->ep_len = l->ep_len;
	e->kind = l->kind;
	sock_begin(e, PST_NET_SERVER, ts);
	e->state = PST_SOCK_OPEN;
}

/* What accept returned: fd, a connection from listening socket lfd. */
static int accepted(int lfd, int fd)
{
	int err;

	if (fd < 0 || !net_on())
		return fd;
	err = errno;
	accepted_sock(lfd, fd);
	errno = err;
	return fd;
}

EXPORT int accept(int lfd, struct sockaddr *sa, socklen_t *len)
{
	NEED_REAL(accept, "accept", -1);
	return accepted(lfd, pst_real.accept(lfd, sa, len));
}

EXPORT int accept4(int lfd, struct sockaddr *sa, socklen_t *len, int flags)
{
	NEED_REAL(accept4, "accept4", -1);
	return accepted(lfd, pst_real.accept4(lfd, sa, len, flags));
}

/* ---- close ---- */

/* Before the real close: the fd number may be handed out again at once. */
static inline void forget(int fd)
{
	struct pst_sock *e = pst_sock_get(fd);
	int err;

	if (likely(!e || e->state == PST_SOCK_NONE) || !net_on())
		return;
	err = errno;
	sock_close(e, pst_now());
	errno = err;
}

EXPORT int close(int fd)
{
	NEED_REAL(close, "close", -1);
	if (unlikely(pst_unw_stale(fd)))
		return 0; /* libunwind renewing its pipe: fds.c */
	if (unlikely(pst_out_held(fd) || pst_unw_is_open(fd)) && !pst_guard) {
		errno = EBADF; /* not the program's: as if never open (output.c, fds.c) */
		return -1;
	}
	forget(fd);
	return pst_real.close(fd);
}

/* The program takes a number: a socket there ends, a descriptor of ours
 * there moves away first. */
static inline void taking(int oldfd, int newfd)
{
	if (oldfd == newfd)
		return;
	if (unlikely(pst_out_held(newfd)) && !pst_guard)
		pst_out_move(newfd);
	if (!pst_guard)
		pst_unw_taken(newfd);
	forget(newfd);
}

EXPORT int dup2(int oldfd, int newfd)
{
	NEED_REAL(dup2, "dup2", -1);
	taking(oldfd, newfd);
	return pst_real.dup2(oldfd, newfd);
}

EXPORT int dup3(int oldfd, int newfd, int flags)
{
	NEED_REAL(dup3, "dup3", -1);
	taking(oldfd, newfd);
	return pst_real.dup3(oldfd, newfd, flags);
}

EXPORT int shutdown(int fd, int how)
{
	struct pst_sock *e = pst_sock_get(fd);

	NEED_REAL(shutdown, "shutdown", -1);
	if (e && e->state == PST_SOCK_OPEN && net_on())
		e->flags |= PST_NET_SHUTDOWN;
	return pst_real.shutdown(fd, how);
}

EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	struct pst_sock *e;
	int rc, err;

	NEED_REAL(getsockopt, "getsockopt", -1);
	rc = pst_real.getsockopt(fd, level, name, val, len);
	if (rc || level != SOL_SOCKET || name != SO_ERROR || !val || !len ||
	    *len < sizeof(int))
		return rc;
	e = pst_sock_get(fd);
	if (!e || e->state != PST_SOCK_CONNECTING || !net_on())
		return rc;
	err = errno;
	/* 0 before any wait said the socket is ready means "not yet" */
	if (*(int *)val || e->done_ts)
		conn_verdict(e, *(int *)val, pst_now());
	errno = err;
	return rc;
}

/* ---- send and receive ---- */

#define DIR_OUT 1
#define DIR_IN 2

/* A request turn: for a client, from the first send after a receive to the
 * next receive's first bytes; for a server, from a request's first bytes to
 * the first send of its answer. */
static inline void turn_out(struct pst_sock *e, uint64_t ts)
{
	if (e->dir != DIR_OUT) {
		e->turn_start = ts;
		e->dir = DIR_OUT;
	}
}

static inline void turn_in(struct pst_sock *e, uint64_t ts)
{
	if (e->dir == DIR_OUT) {
		ADD(&e->c.requests, 1);
		ADD(&e->c.hist[pst_net_bucket(ts - e->turn_start)], 1);
	}
	e->dir = DIR_IN;
}

/* The entry of fd when it is a connection being counted. */
static inline struct pst_sock *io_sock(int fd)
{
	struct pst_sock *e = pst_sock_get(fd);

	if (likely(!e) || e->state < PST_SOCK_CONNECTING)
		return NULL;
	return net_on() ? e : NULL;
}

/* What went out or came in, for the request decoder: a buffer, or iovecs. */
struct io_data {
	const void *buf;
	const struct iovec *iov;
	int iovcnt;
};

/* n bytes on a connection whose protocol is known or not yet looked at. */
static inline void note_data(struct pst_sock *e, bool out, ssize_t n, uint64_t ts,
			     struct io_data io, const void *cfa)
{
	if (n > 0 && e->proto != PST_PROTO_BYTES)
		pst_proto_io(e, out, io.buf, io.iov, io.iovcnt, (size_t)n, ts, cfa);
}

static void note_send(struct pst_sock *e, ssize_t n, int err, uint64_t t0, uint64_t t1,
		      struct io_data io, const void *cfa)
{
	if (unlikely(e->state == PST_SOCK_CONNECTING))
		conn_verdict(e, n >= 0 ? 0 : err, t0);
	ADD(&e->c.send_calls, 1);
	ADD(&e->c.send_ns, t1 - t0);
	if (n <= 0)
		return;
	ADD(&e->c.bytes_sent, (uint64_t)n);
	if (n < PST_NET_SMALL_SEND)
		ADD(&e->c.small_sends, 1);
	ADD(&e->cur_burst, 1);
	if (e->role == PST_NET_CLIENT)
		turn_out(e, t0);
	else
		turn_in(e, t0);
	note_data(e, true, n, t0, io, cfa);
}

static void note_recv(struct pst_sock *e, ssize_t n, int err, uint64_t t0, uint64_t t1,
		      struct io_data io, const void *cfa)
{
	if (unlikely(e->state == PST_SOCK_CONNECTING))
		conn_verdict(e, n >= 0 ? 0 : err, t0);
	ADD(&e->c.recv_calls, 1);
	ADD(&e->c.recv_ns, t1 - t0);
	if (n < 0)
		return;
	end_burst(e);
	if (!n)
		return;
	ADD(&e->c.bytes_recv, (uint64_t)n);
	if (e->role == PST_NET_CLIENT)
		turn_in(e, t1);
	else
		turn_out(e, t1);
	note_data(e, false, n, t1, io, cfa);
}

/*
 * One I/O hook: on an fd that is not a counted connection (files, pipes,
 * other sockets) a table lookup, a compare and the call; on a connection
 * two clock reads (vDSO) and a few relaxed adds on its entry, and its bytes
 * to the request decoder until it says the protocol is none it knows.
 */
#define IO_HOOK(ret, name, field, sym, params, args, fd, skip, note, data)             \
	EXPORT ret name params                                                         \
	{                                                                              \
		struct pst_sock *e;                                                    \
		uint64_t t0;                                                           \
		ssize_t n;                                                             \
		int err;                                                               \
                                                                                       \
		NEED_REAL(field, sym, -1);                                             \
		if (unlikely(pst_unw_stale(fd))) { /* fds.c */                         \
			errno = EBADF;                                                 \
			return -1;                                                     \
		}                                                                      \
		e = io_sock(fd);                                                       \
		if (likely(!e) || (skip))                                              \
			return pst_real.field args;                                    \
		t0 = pst_now();                                                        \
		n = pst_real.field args;                                               \
		err = errno;                                                           \
		note(e, n, err, t0, pst_now(), (struct io_data)data,                   \
		     __builtin_dwarf_cfa());                                           \
		errno = err;                                                           \
		return n;                                                              \
	}

#define IO_BUF(b) { .buf = (b) }
#define IO_VEC(v, c) { .iov = (v), .iovcnt = (c) }

IO_HOOK(ssize_t, send, send, "send", (int fd, const void *buf, size_t len, int flags),
	(fd, buf, len, flags), fd, false, note_send,
	IO_BUF(buf))
IO_HOOK(ssize_t, sendto, sendto, "sendto",
	(int fd, const void *buf, size_t len, int flags, const struct sockaddr *sa,
	 socklen_t salen),
	(fd, buf, len, flags, sa, salen), fd, false, note_send,
	IO_BUF(buf))
IO_HOOK(ssize_t, sendmsg, sendmsg, "sendmsg", (int fd, const struct msghdr *msg, int flags),
	(fd, msg, flags), fd, false, note_send,
	IO_VEC(msg->msg_iov, (int)msg->msg_iovlen))
IO_HOOK(ssize_t, write, write, "write", (int fd, const void *buf, size_t len),
	(fd, buf, len), fd, false, note_send,
	IO_BUF(buf))
IO_HOOK(ssize_t, writev, writev, "writev", (int fd, const struct iovec *iov, int cnt),
	(fd, iov, cnt), fd, false, note_send,
	IO_VEC(iov, cnt))
/* A peek reads nothing away: not counted. */
IO_HOOK(ssize_t, recv, recv, "recv", (int fd, void *buf, size_t len, int flags),
	(fd, buf, len, flags), fd, flags & MSG_PEEK, note_recv,
	IO_BUF(buf))
IO_HOOK(ssize_t, recvfrom, recvfrom, "recvfrom",
	(int fd, void *buf, size_t len, int flags, struct sockaddr *sa, socklen_t *salen),
	(fd, buf, len, flags, sa, salen), fd, flags & MSG_PEEK, note_recv,
	IO_BUF(buf))
IO_HOOK(ssize_t, recvmsg, recvmsg, "recvmsg", (int fd, struct msghdr *msg, int flags),
	(fd, msg, flags), fd, flags & MSG_PEEK, note_recv,
	IO_VEC(msg->msg_iov, (int)msg->msg_iovlen))
IO_HOOK(ssize_t, read, read, "read", (int fd, void *buf, size_t len), (fd, buf, len), fd,
	false, note_recv,
	IO_BUF(buf))
IO_HOOK(ssize_t, readv, readv, "readv", (int fd, const struct iovec *iov, int cnt),
	(fd, iov, cnt), fd, false, note_recv,
	IO_VEC(iov, cnt))
/* What _FORTIFY_SOURCE builds call instead of read, recv and recvfrom. */
IO_HOOK(ssize_t, __read_chk, read_chk, "__read_chk",
	(int fd, void *buf, size_t len, size_t buflen), (fd, buf, len, buflen), fd, false,
	note_recv,
	IO_BUF(buf))
IO_HOOK(ssize_t, __recv_chk, recv_chk, "__recv_chk",
	(int fd, void *buf, size_t len, size_t buflen, int flags),
	(fd, buf, len, buflen, flags), fd, flags & MSG_PEEK, note_recv,
	IO_BUF(buf))
IO_HOOK(ssize_t, __recvfrom_chk, recvfrom_chk, "__recvfrom_chk",
	(int fd, void *buf, size_t len, size_t buflen, int flags, struct sockaddr *sa,
	 socklen_t *salen),
	(fd, buf, len, buflen, flags, sa, salen), fd, flags & MSG_PEEK, note_recv,
	IO_BUF(buf))

/* ---- waits that complete non-blocking connects ---- */

static inline bool connects_pending(void)
{
	return unlikely(__atomic_load_n(&pending_connects, __ATOMIC_RELAXED) > 0);
}

/* A wait returned rc events while connects are pending: their time in *ts,
 * or false when there is nothing to look at. */
static bool wait_ready(int rc, uint64_t *ts)
{
	if (rc <= 0 || !net_on())
		return false;
	*ts = pst_now();
	return true;
}

static void polled(const struct pollfd *fds, nfds_t n, int rc)
{
	uint64_t ts;

	if (!wait_ready(rc, &ts))
		return;
	for (nfds_t i = 0; i < n; i++)
		if (fds[i].revents & (POLLOUT | POLLERR | POLLHUP))
			conn_waited(fds[i].fd, ts);
}

static void selected(int nfds, const fd_set *w, const fd_set *x, int rc)
{
	uint64_t ts;

	if (!wait_ready(rc, &ts))
		return;
	for (int fd = 0; fd < nfds && fd < FD_SETSIZE; fd++)
		if ((w && FD_ISSET(fd, w)) || (x && FD_ISSET(fd, x)))
			conn_waited(fd, ts);
}

/* epoll returns the program's data, not the fd: read as an fd (what most
 * programs register), it only ever completes a socket that is connecting. */
static void epolled(const struct epoll_event *ev, int rc)
{
	uint64_t ts;

	if (!wait_ready(rc, &ts))
		return;
	for (int i = 0; i < rc; i++)
		if (ev[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			conn_waited(ev[i].data.fd, ts);
}

#define WAIT_HOOK(name, field, params, args, after)                                    \
	EXPORT int name params                                                         \
	{                                                                              \
		int rc, err;                                                           \
                                                                                       \
		NEED_REAL(field, #name, -1);                                           \
		if (likely(!connects_pending()))                                       \
			return pst_real.field args;                                    \
		rc = pst_real.field args;                                              \
		err = errno;                                                           \
		after;                                                                 \
		errno = err;                                                           \
		return rc;                                                             \
	}

WAIT_HOOK(poll, poll, (struct pollfd *fds, nfds_t n, int timeout), (fds, n, timeout),
	  polled(fds, n, rc))
WAIT_HOOK(ppoll, ppoll,
	  (struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask),
	  (fds, n, ts, mask), polled(fds, n, rc))
WAIT_HOOK(select, select, (int nfds, fd_set *r, fd_set *w, fd_set *x, struct timeval *tv),
	  (nfds, r, w, x, tv), selected(nfds, w, x, rc))
WAIT_HOOK(pselect, pselect,
	  (int nfds, fd_set *r, fd_set *w, fd_set *x, const struct timespec *ts,
	   const sigset_t *mask),
	  (nfds, r, w, x, ts, mask), selected(nfds, w, x, rc))
WAIT_HOOK(epoll_wait, epoll_wait, (int epfd, struct epoll_event *ev, int max, int timeout),
	  (epfd, ev, max, timeout), epolled(ev, rc))
WAIT_HOOK(epoll_pwait, epoll_pwait,
	  (int epfd, struct epoll_event *ev, int max, int timeout, const sigset_t *mask),
	  (epfd, ev, max, timeout, mask), epolled(ev, rc))

/* ---- name lookups ---- */

struct lookup_addrs {
	uint8_t a[PST_NET_ADDRS_MAX][16];
	uint8_t len[PST_NET_ADDRS_MAX];
	unsigned n;
};

/* Distinct addresses only: getaddrinfo lists one per socket type. */
static void addr_add(struct lookup_addrs *la, const void *a, unsigned len)
{
	for (unsigned i = 0; i < la->n; i++)
		if (la->len[i] == len && !memcmp(la->a[i], a, len))
			return;
	if (la->n == PST_NET_ADDRS_MAX)
		return;
	memcpy(la->a[la->n], a, len);
	la->len[la->n++] = (uint8_t)len;
}

static void rec_lookup(uint64_t t0, uint64_t t1, unsigned fn, uint64_t result,
		       const char *name, const struct lookup_addrs *la)
{
	struct pst_thr *t = pst_thr();

	if (!t)
		return;
	if (pst_rec_enter(t))
		t->pos = pst_enc_net_lookup(pst_thr_room(t, pst_net_lookup_max()), t0, t1 - t0, fn,
					    result, name, strnlen(name, PST_NET_NAME_MAX),
					    (const uint8_t(*)[16])la->a, la->len, la->n);
	pst_rec_leave(t);
}

EXPORT int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		       struct addrinfo **res)
{
	struct lookup_addrs la = { .n = 0 };
	uint64_t t0, t1;
	int rc, err;

	NEED_REAL(getaddrinfo, "getaddrinfo", EAI_SYSTEM);
	if (!node || !net_on())
		return pst_real.getaddrinfo(node, service, hints, res);
	t0 = pst_now();
	rc = pst_real.getaddrinfo(node, service, hints, res);
	err = errno;
	t1 = pst_now();
	for (const struct addrinfo *ai = rc ? NULL : *res; ai; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET && ai->ai_addrlen >= sizeof(struct sockaddr_in))
			addr_add(&la, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
		else if (ai->ai_family == AF_INET6 &&
			 ai->ai_addrlen >= sizeof(struct sockaddr_in6))
			addr_add(&la, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, 16);
	}
	rec_lookup(t0, t1, PST_LOOKUP_GETADDRINFO, rc < 0 ? (uint64_t)-rc : (uint64_t)rc, node,
		   &la);
	errno = err;
	return rc;
}

EXPORT struct hostent *gethostbyname(const char *name)
{
	struct lookup_addrs la = { .n = 0 };
	struct hostent *h;
	uint64_t t0, t1;
	int err, herr;

	NEED_REAL(gethostbyname, "gethostbyname", NULL);
	if (!name || !net_on())
		return pst_real.gethostbyname(name);
	t0 = pst_now();
	h = pst_real.gethostbyname(name);
	err = errno;
	herr = h_errno;
	t1 = pst_now();
	if (h && (h->h_length == 4 || h->h_length == 16))
		for (char **a = h->h_addr_list; a && *a; a++)
			addr_add(&la, *a, (unsigned)h->h_length);
	rec_lookup(t0, t1, PST_LOOKUP_GETHOSTBYNAME, h ? 0 : (uint64_t)(herr > 0 ? herr : 1),
		   name, &la);
	h_errno = herr;
	errno = err;
	return h;
}

/* ---- snapshots and fork ---- */

static void snapshot_one(struct pst_sock *e, void *arg)
{
	uint64_t ts = *(uint64_t *)arg;

	if (e->state == PST_SOCK_OPEN)
		sock_emit(e, ts, 0, 0);
	else if (e->state == PST_SOCK_CONNECTING && e->first) {
		e->connect_ns = ts - e->open_ts;
		sock_emit(e, ts, 0, PST_NET_ERR_ABANDONED);
	}
}

/* At exit and exec: what every open connection did since its last segment.
 * The connections stay open: a failed exec goes on counting. */
void pst_net_flush_all(void)
{
	uint64_t ts;
	int err = errno;

	if (pst_state != PST_ON || pst_guard)
		return;
	ts = pst_now();
	pst_sock_foreach(snapshot_one, &ts);
	pst_req_flush(pst_self ? pst_self->tid : 0, ts, true);
	errno = err;
}

static void fork_one(struct pst_sock *e, void *arg)
{
	(void)arg;
	sock_reset(e);
	e->first = 0;
}

/* The child's trace holds only what the child does on inherited sockets;
 * their connects are in the parent's trace. */
void pst_net_after_fork(void)
{
	pst_proto_after_fork();
	pst_sock_foreach(fork_one, NULL);
	pst_ep_reset();
}
