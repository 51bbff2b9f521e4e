/* SPDX-License-Identifier: MIT */
/* Internal interfaces of libprestanda.so, grouped by the file that defines them. */
#ifndef PST_PRELOAD_H
#define PST_PRELOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <netdb.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "prestanda/trace.h"


#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define barrier() __asm__ __volatile__("" ::: "memory")

/* Frames kept per stack, after the preload's own frames are dropped. */
#define PST_MAX_DEPTH 64
/* Bytes of a thread's event buffer; a full buffer is written as one BLOCK. */
#define PST_BUF_SIZE (64 * 1024)

/* One thread's recording state: mmap'd, reached through a TLS pointer. */
struct pst_thr {
	uint8_t *pos, *end;      /* free room in buf */
	uint64_t tid;
	uint64_t base_ts;        /* BLOCK base: time of the block's first event */
	uint64_t last_ts;        /* time of the last event written */
	int64_t countdown;       /* sampled mode: bytes until the next sample */
	uint64_t rng;
	/* exact counters since the last TOTALS record */
	uint64_t alloc_calls, free_calls, alloc_bytes;
	uint64_t by_kind[PST_KIND_COUNT];
	uint64_t hist[PST_HIST_BUCKETS];
	/* stack cache: hash of frames -> stack id, direct mapped */
	uint64_t cache_hash[256];
	uint32_t cache_id[256];
	volatile int in_use;     /* owner is appending; see thread.c */
	volatile int stolen;     /* the exit flusher took this buffer */
	int exited, dtor_rounds;
	uint64_t exit_ts;
	struct pst_thr *next;    /* registry */
	uint8_t buf[PST_BUF_SIZE];
};

/* What was configured through the environment (init.c). */
struct pst_config {
	bool full;              /* record every event */
	bool follow_exec;
	uint64_t sample_bytes;  /* mean sampling interval in bytes */
};

/* Process-wide state, set once at init (init.c). */
enum pst_state { PST_UNINIT, PST_INITING, PST_ON, PST_OFF };
extern volatile int pst_state;
extern struct pst_config pst_cfg;
extern __thread int pst_guard;          /* inside the profiler on this thread */
extern __thread struct pst_thr *pst_self; /* this thread's state, NULL before first use */
extern volatile int pst_out_broken;     /* output.c: writing failed, recording stopped */

/* init.c */
void pst_init(void);                    /* init once; safe from any hook */
void pst_finish(uint64_t reason);       /* flush everything and write END */
void pst_finish_signal(int sig);        /* the same from a fatal signal's handler */
static inline uint64_t pst_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* real.c: the functions the hooks wrap, resolved with dlsym(RTLD_NEXT). */
struct pst_real {
	void *(*malloc)(size_t);
	void (*free)(void *);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	void *(*reallocarray)(void *, size_t, size_t);
	int (*posix_memalign)(void **, size_t, size_t);
	void *(*aligned_alloc)(size_t, size_t);
	void *(*memalign)(size_t, size_t);
	void *(*valloc)(size_t);
	void *(*pvalloc)(size_t);
	int (*dlclose)(void *);
	void (*exit_)(int) __attribute__((noreturn));
	void (*Exit_)(int) __attribute__((noreturn));
	int (*execve)(const char *, char *const[], char *const[]);
	int (*execvpe)(const char *, char *const[], char *const[]);
	int (*fexecve)(int, char *const[], char *const[]);
	/* hook_net.c */
	int (*socket)(int, int, int);
	int (*connect)(int, const struct sockaddr *, socklen_t);
	int (*listen)(int, int);
	int (*accept)(int, struct sockaddr *, socklen_t *);
	int (*accept4)(int, struct sockaddr *, socklen_t *, int);
	int (*close)(int);
	int (*shutdown)(int, int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*getsockopt)(int, int, int, void *, socklen_t *);
	ssize_t (*send)(int, const void *, size_t, int);
	ssize_t (*sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
	ssize_t (*sendmsg)(int, const struct msghdr *, int);
	ssize_t (*recv)(int, void *, size_t, int);
	ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
	ssize_t (*recvmsg)(int, struct msghdr *, int);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*readv)(int, const struct iovec *, int);
	ssize_t (*writev)(int, const struct iovec *, int);
	ssize_t (*read_chk)(int, void *, size_t, size_t);
	ssize_t (*recv_chk)(int, void *, size_t, size_t, int);
	ssize_t (*recvfrom_chk)(int, void *, size_t, size_t, int, struct sockaddr *, socklen_t *);
	int (*poll)(struct pollfd *, nfds_t, int);
	int (*ppoll)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
	int (*select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
	int (*pselect)(int, fd_set *, fd_set *, fd_set *, const struct timespec *,
		       const sigset_t *);
	int (*epoll_wait)(int, struct epoll_event *, int, int);
	int (*epoll_pwait)(int, struct epoll_event *, int, int, const sigset_t *);
	int (*getaddrinfo)(const char *, const char *, const struct addrinfo *,
			   struct addrinfo **);
	struct hostent *(*gethostbyname)(const char *);
};
extern struct pst_real pst_real;
void pst_resolve_real(void);
bool pst_boot_owns(const void *p);      /* p was served by the bootstrap arena */
void *pst_boot_alloc(size_t size, size_t align);
size_t pst_boot_size(const void *p);

/* thread.c */
struct pst_thr *pst_thr_slow(void);     /* register this thread, NULL if it cannot record */
static inline struct pst_thr *pst_thr(void)
{
	struct pst_thr *t = pst_self;
	return likely(t) ? t : pst_thr_slow();
}
void pst_thr_flush(struct pst_thr *t);  /* write buf as one BLOCK; owner or thief only */
void pst_thr_totals(struct pst_thr *t); /* append TOTALS of the counters, reset them */
void pst_thr_setup(void);               /* the exit key, membarrier */
void pst_thr_flush_all(bool resume, bool try_lock); /* at exit/exec/crash: every buffer */
void pst_thr_after_fork(void);          /* child: keep only the calling thread */
void pst_thr_after_fork_open(void);     /* child: first records of its new trace */
void pst_thr_lock_registry(bool lock);
static inline uint8_t *pst_thr_room(struct pst_thr *t, size_t n)
{
	if (unlikely((size_t)(t->end - t->pos) < n))
		pst_thr_flush(t);
	return t->pos;
}

/*
 * Writing an event, for every hook family:
 *	if (pst_rec_enter(t)) { b = pst_ev_begin(t, &dts); t->pos = pst_enc_...(b, dts, ...); }
 *	pst_rec_leave(t);
 * The guard keeps the profiler's own allocations (the unwinder's) out, and
 * in_use tells the exit flusher that this buffer is being written.
 */
static inline bool pst_rec_enter(struct pst_thr *t)
{
	pst_guard = 1;
	t->in_use = 1;
	barrier();
	return !t->stolen && !pst_out_broken;
}

static inline void pst_rec_leave(struct pst_thr *t)
{
	barrier();
	t->in_use = 0;
	pst_guard = 0;
}

/* Room for one event of at most PST_EVENT_MAX bytes, and its time delta.
 * Take the time after any stack walk, so that a stack id another thread
 * sees is always older than its use. */
static inline uint8_t *pst_ev_begin(struct pst_thr *t, uint64_t *dts)
{
	uint8_t *b = pst_thr_room(t, PST_EVENT_MAX);
	uint64_t ts = pst_now();

	*dts = ts - t->last_ts;
	t->last_ts = ts;
	return b;
}

/* output.c: the trace file. */
int pst_out_open(uint64_t pid);         /* open a new trace and write PROCESS; 0 or -errno */
void pst_out_write(const void *a, size_t alen, const void *b, size_t blen);
void pst_out_end(uint64_t reason, uint64_t sig);
const char *pst_out_path(void);

/* stacks.c */
void pst_stacks_init(void);
uint32_t pst_stack_capture(struct pst_thr *t); /* unwind, dedup, emit STACK if new */
void pst_stacks_reset(void);            /* forked child: ids start over */
void pst_stacks_lock(bool lock);

/* modules.c */
void pst_modules_init(void);            /* own text range; does not write */
bool pst_modules_own(uint64_t addr);    /* addr is inside libprestanda.so */
/* write MODULE records so that every frame lies in a written module */
void pst_modules_cover(struct pst_thr *t, const uint64_t *frames, unsigned depth);
void pst_modules_dirty(void);           /* after dlclose: rescan on next need */
void pst_modules_lock(bool lock);
void pst_modules_reset(void);           /* forked child: write them all again */

/* crash.c */
void pst_crash_install(void);           /* fatal signals flush before the process dies */

/* sampled.c: the set of sampled live blocks (sampled mode only). */
void pst_sampled_init(void);
void pst_sampled_reset(void);           /* forked child: empty */
bool pst_sampled_add(uint64_t ptr);     /* false when its bucket is full */
bool pst_sampled_take(uint64_t ptr);    /* remove; true if it was there */

/* net_table.c and hook_net.c: sockets, per fd. */
void pst_net_flush_all(void);           /* a segment for every open connection (exit, exec) */
void pst_net_after_fork(void);          /* child: inherited connections start from zero */

#endif
