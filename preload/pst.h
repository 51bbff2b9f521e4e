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

#include "trace.h"


#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define barrier() __asm__ __volatile__("" ::: "memory")

/* Frames kept per stack, after the preload's own frames are dropped. */
#define PST_MAX_DEPTH 64
/* Bytes of a thread's event buffer; a full buffer is written as one BLOCK. */
#define PST_BUF_SIZE (64 * 1024)

/* Stacks seen from one call site at one stack depth, and where their return
 * addresses sit on the stack, so that the next capture from there can check
 * them instead of unwinding again (stacks.c). */
#define PST_SCACHE 128
struct pst_scache {
	uint64_t ra, cfa;        /* the hook's return address and its CFA: the key */
	uint64_t last_hash;      /* the stack last seen at this key */
	uint32_t id, depth;      /* depth 0: no checked stack yet */
	uint32_t hits;           /* checks passed since the slots were found */
	uint16_t streak, need;   /* misses in a row with one stack; how many earn a walk */
	uint64_t frame[PST_MAX_DEPTH];
	uint64_t sp[PST_MAX_DEPTH]; /* frame[i] was read from sp[i] - 8 */
};

/* Per-thread lock counting (locks.c): a direct-mapped cache of lock
 * addresses whose acquisitions are counted here, folded into the process
 * table when evicted and when the thread's TOTALS are written. */
#define PST_LOCK_SLOTS 64
struct pst_lock_slot {
	uintptr_t key;           /* lock address; | 1 for an rwlock taken to read */
	uint32_t ent;            /* index in the process lock table */
	uint64_t n;              /* acquisitions not yet folded */
};

/* One thread's recording state: mmap'd, reached through a TLS pointer. */
struct pst_thr {
	uint8_t *pos, *end;      /* free room in buf */
	uint8_t *buf;            /* PST_BUF_SIZE bytes: a slot of the live file, or own_buf */
	struct pst_live_slot *live; /* what a reader needs of buf after a kill, or own_live */
	uint64_t tid;
	uint64_t base_ts;        /* BLOCK base: time of the block's first event */
	uint64_t last_ts;        /* time of the last event written */
	int64_t countdown;       /* sampled mode: bytes until the next sample */
	bool full;               /* pst_cfg.full, where the hot path has it at hand */
	uint64_t rng;
	/* exact counters since the last TOTALS record */
	uint64_t alloc_calls, free_calls, alloc_bytes;
	uint64_t by_kind[PST_KIND_COUNT];
	uint64_t hist[PST_HIST_BUCKETS];
	/* frees of the block last allocated with nothing freed since (heaptrack's
	 * temporary), counted here because sampled mode sees few of them */
	uint64_t temporary;
	uintptr_t last_alloc;
	/* stack cache: hash of frames -> stack id, direct mapped */
	uint64_t cache_hash[256];
	uint32_t cache_id[256];
	uintptr_t stack_lo, stack_hi; /* this thread's stack; hi 0: not yet known */
	uint64_t scache_hits, scache_walks; /* does the stack cache pay on this thread? */
	struct pst_scache scache[PST_SCACHE];
	volatile int in_use;     /* owner is appending; see thread.c */
	volatile int stolen;     /* the exit flusher took this buffer */
	volatile int borrowed;   /* the timer thread is writing this buffer out */
	int exited, dtor_rounds;
	uint64_t exit_ts;
	struct pst_thr *next;    /* registry */
	struct pst_lock_slot lslot[PST_LOCK_SLOTS];
	int thr_ended;           /* hook_pthread.c: THR_END written */
	int sealed;              /* hook_sandbox.c: in seccomp strict mode, no system calls */
	int cpu_timer;           /* cpu_prof.c: the thread's timer id + 1; 0 none */
	struct pst_leaks *leaks; /* leakset.c: the live blocks this thread allocated (--full) */
	uint32_t zq;             /* zqueue.c: blocks handed to the writer since the last settle */
	struct pst_live_slot own_live;
	uint8_t own_buf[PST_BUF_SIZE]; /* where the live file cannot be had */
};

/* What was configured through the environment (init.c). */
struct pst_config {
	bool full;              /* record every event */
	bool follow_exec;
	uint64_t sample_bytes;  /* mean sampling interval in bytes */
	bool stack_cache;       /* reuse checked stacks (PRESTANDA_STACK_CACHE=0: unwind always) */
	uint64_t flush_ms;      /* buffers are written at least this often; 0: only when full */
	uint64_t cpu_hz;        /* CPU samples per second of each thread; 0: off */
	bool cpu_wall;          /* sample wall-clock time, blocked threads too */
	int cpu_signal;         /* the timers' signal; 0: a free real-time signal */
	/* production mode (prod.c) */
	uint32_t wait_keep;     /* WAIT records kept, out of 2^32 (sample_rate); 0: all */
	uint64_t metrics_ms;    /* SNAPSHOT and budget checks this often */
	uint64_t max_size;      /* trace cap in bytes; 0: none */
	uint64_t max_memory;    /* cap on the preload's own memory */
	int toggle_sig;         /* pauses and resumes recording; 0: none */
	bool alert_syslog;      /* budget alerts to syslog instead of stderr */
};

/* Process-wide state, set once at init (init.c). */
enum pst_state { PST_UNINIT, PST_INITING, PST_ON, PST_OFF };
extern volatile int pst_state;
extern struct pst_config pst_cfg;
/* The two thread-locals every hook reads, side by side: one TLS address. */
struct pst_tls {
	struct pst_thr *self; /* this thread's state, NULL before first use */
	int guard;            /* inside the profiler on this thread */
};
extern __thread struct pst_tls pst_tls;
#define pst_self (pst_tls.self)
#define pst_guard (pst_tls.guard)
extern volatile int pst_out_broken;     /* output.c: writing failed, recording stopped */
extern volatile int pst_capped;         /* output.c: --max-size reached, events no longer written */
extern volatile int pst_paused;         /* prod.c: the toggle signal paused recording */

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
	int (*pipe2)(int[2], int);
	int (*unshare)(int);
	int (*setns)(int, int);
	/* hook_pthread.c */
	int (*pthread_create)(void *, const void *, void *(*)(void *), void *);
	int (*pthread_join)(unsigned long, void **);
	int (*mutex_lock)(void *);
	int (*mutex_trylock)(void *);
	int (*mutex_timedlock)(void *, const struct timespec *);
	int (*mutex_clocklock)(void *, clockid_t, const struct timespec *);
	int (*rwlock_rdlock)(void *);
	int (*rwlock_tryrdlock)(void *);
	int (*rwlock_timedrdlock)(void *, const struct timespec *);
	int (*rwlock_wrlock)(void *);
	int (*rwlock_trywrlock)(void *);
	int (*rwlock_timedwrlock)(void *, const struct timespec *);
	int (*spin_lock)(void *);
	int (*spin_trylock)(void *);
	int (*cond_wait)(void *, void *);           /* the current version */
	int (*cond_timedwait)(void *, void *, const struct timespec *);
	int (*cond_wait_old)(void *, void *);       /* the first version (x86-64) */
	int (*cond_timedwait_old)(void *, void *, const struct timespec *);
	int (*cond_clockwait)(void *, void *, clockid_t, const struct timespec *);
	int (*sem_wait)(void *);
	int (*sem_trywait)(void *);
	int (*sem_timedwait)(void *, const struct timespec *);
	int (*sem_clockwait)(void *, clockid_t, const struct timespec *);
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
#define PST_BOOT_ARENA (64 * 1024)
extern unsigned char pst_boot_arena[PST_BOOT_ARENA];
static inline bool pst_boot_owns(const void *p) /* p was served by the bootstrap arena */
{
	return (uintptr_t)p - (uintptr_t)pst_boot_arena < PST_BOOT_ARENA;
}
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
void pst_thr_flush_full(struct pst_thr *t); /* the same when full: to the writer thread if it can */
/* Room a sealed thread's buffer keeps past `end`: more than any one record. */
#define PST_SEAL_SLACK (16 * 1024)
void pst_thr_seal(struct pst_thr *t, bool now); /* no system call from now: before (write), now (seal) */
void pst_thr_raw_exit(struct pst_thr *t); /* the thread leaves by the exit system call */
void pst_thr_private(struct pst_thr *t); /* a struct outside the registry: buffer in itself */
void pst_thr_totals(struct pst_thr *t); /* append TOTALS of the counters, reset them */
void pst_thr_setup(void);               /* the exit key, membarrier */
void pst_thr_flush_all(bool resume, bool try_lock); /* at exit/exec/crash: every buffer */
void pst_thr_after_fork(void);          /* child: keep only the calling thread */
void pst_thr_after_fork_open(void);     /* child: first records of its new trace */
void pst_thr_restart(void);             /* attach again: every thread from zero (thr_zero) */
void pst_thr_restart_open(void);        /* then, the new trace open: live slots, THREAD */
void pst_thr_lock_registry(bool lock);
void pst_thr_flush_pending(void);       /* timer: write out every buffer holding events */
extern int pst_live_threads;            /* registered threads that have not exited */
/* Exact counters of the whole process so far (for SNAPSHOT). */
void pst_thr_counters(uint64_t *alloc_calls, uint64_t *free_calls, uint64_t *alloc_bytes);
/* fn on every registered thread's struct, under the registry lock */
void pst_thr_foreach(void (*fn)(struct pst_thr *t, void *arg), void *arg);
/* The same with every other thread held out of its buffer (borrowed, as the
 * timer's flush does): for reading what only the owner writes. */
void pst_thr_quiet_foreach(void (*fn)(struct pst_thr *t, void *arg), void *arg);
static inline uint8_t *pst_thr_room(struct pst_thr *t, size_t n)
{
	if (unlikely((size_t)(t->end - t->pos) < n))
		pst_thr_flush_full(t);
	return t->pos;
}

/*
 * Writing an event, for every hook family:
 *	if (pst_rec_enter(t)) { b = pst_ev_begin(t, &dts); t->pos = pst_enc_...(b, dts, ...); }
 *	pst_rec_leave(t);
 * The guard keeps the profiler's own allocations (the unwinder's) out, and
 * in_use tells the exit flusher that this buffer is being written.
 */
void pst_rec_wait(struct pst_thr *t);   /* thread.c: until the timer thread is done */
static inline bool pst_rec_enter(struct pst_thr *t)
{
	pst_guard = 1;
	t->in_use = 1;
	barrier();
	if (unlikely(t->borrowed))
		pst_rec_wait(t);
	return !t->stolen && !pst_out_broken && !pst_capped && pst_state == PST_ON;
}

static inline void pst_rec_leave(struct pst_thr *t)
{
	barrier();
	t->live->used = (uint32_t)(t->pos - t->buf); /* whole records: a kill keeps them */
	t->in_use = 0;
	pst_guard = 0;
}

/* Room for one event of at most PST_EVENT_MAX bytes, and its time delta.
 * Take the time after any stack walk, so that a stack id another thread
 * sees is always older than its use. */
static inline uint8_t *pst_ev_begin(struct pst_thr *t, uint64_t *dts)
{
	uint8_t *b = pst_thr_room(t, PST_EVENT_MAX);
	/* seccomp strict mode traps the TSC the clock reads: time stands still */
	uint64_t ts = likely(!t->sealed) ? pst_now() : t->last_ts;

	*dts = ts - t->last_ts;
	t->last_ts = ts;
	return b;
}

/* locks.c: the process-wide table of locks, keyed by address. */
void pst_locks_miss(struct pst_thr *t, struct pst_lock_slot *s, uintptr_t key, unsigned kind);
/* a wait (contended lock, cond, sem, join) that ended at t1 */
void pst_locks_wait(struct pst_thr *t, const void *obj, unsigned kind, uint32_t stack,
		    uint64_t t0, uint64_t t1, bool acquired);
void pst_locks_fold(struct pst_thr *t);  /* the thread's cached counts into the table */
void pst_locks_emit(void);              /* LOCK_STATS, THR_INFO, live threads' THR_END */
void pst_locks_after_fork(void);        /* child: empty table */
extern uint64_t pst_lock_wait_ns;       /* waits for contended mutexes, rwlocks, spinlocks so far */
/* Count one acquisition: about ten instructions when the lock is in the
 * thread's cache (a shift, a mask, a compare and an add). */
static inline void pst_lock_count(struct pst_thr *t, const void *lock, unsigned kind)
{
	uintptr_t key = (uintptr_t)lock | (kind == PST_WAIT_RDLOCK);
	struct pst_lock_slot *s = &t->lslot[(key >> 4 ^ key >> 11) & (PST_LOCK_SLOTS - 1)];

	if (likely(s->key == key))
		s->n++;
	else
		pst_locks_miss(t, s, key, kind);
}

/* hook_pthread.c */
void pst_pthread_resolve(void);         /* the real pthread functions, into pst_real */
void pst_thread_end(struct pst_thr *t, uint64_t ts, uint64_t flags); /* THR_END */
/* The kernel's run delay of a thread of this process (ns runnable but not
 * running); false when it cannot be read. */
bool pst_thread_runnable(uint64_t tid, uint64_t *ns);
/* A small file (of /proc) into buf, NUL-terminated; false when unreadable or empty. */
bool pst_read_proc(const char *path, char *buf, size_t len);

/* fds.c: the profiler's descriptors, far from the low numbers programs expect. */
#define PST_FD_MIN 700
int pst_fd_raise(int fd);               /* fd moved up (close-on-exec); fd itself if it cannot be */
struct rlimit;
bool pst_limit_raise(struct rlimit *old, unsigned extra); /* RLIMIT_NOFILE + extra, for one call of ours */
void pst_limit_restore(const struct rlimit *old);
int pst_unw_enter(void);                /* around each libunwind call: 1, 0 (see fds.c), -1 do not unwind */
void pst_unw_leave(int counted);        /* what pst_unw_enter returned */
void pst_unw_lock(bool lock);           /* fork */
void pst_unw_after_fork(void);
void pst_unw_shut(void);                /* detach: libunwind's pipe closed */
bool pst_unw_stale(int fd);             /* a number of libunwind's closed pipe, seen under our guard */
bool pst_fd_ours(int fd);               /* libunwind's pipe or the trace, open this moment */
void pst_unw_taken(int fd);             /* the program dup2s onto fd: libunwind's pipe there is given up */
bool pst_unw_is_open(int fd);           /* fd is libunwind's pipe, open now */
int pst_fd_close(int fd);               /* one of ours, past the close hook */
int pst_fd_park(int fd);                /* fd moved above every number the program can get; held for good */

/* output.c: the trace file. */
void pst_out_env(void);                 /* PRESTANDA_OUTPUT and _MANIFEST, once at start */
int pst_out_open(uint64_t pid);         /* open a new trace and write PROCESS; 0 or -errno */
void pst_out_write(const void *a, size_t alen, const void *b, size_t blen); /* events */
/* Snapshots and marks: past the event cap, up to max_size itself. */
void pst_out_write_meta(const void *a, size_t alen, const void *b, size_t blen);
/* One record in a BLOCK of its own (tid), through pst_out_write_meta. */
void pst_out_record(uint64_t tid, uint64_t ts, const uint8_t *rec, size_t len);
uint64_t pst_out_size(void);            /* bytes written so far */
bool pst_out_is_trace(int fd);          /* fd is the trace, open for a write */
void pst_out_end(uint64_t reason, uint64_t sig);
const char *pst_out_path(void);
void pst_say(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* a problem: stderr and the manifest */
void pst_out_hold(void);                /* the program may lose the trace's path: hold it open from now */
void pst_out_release(void);             /* close what is held (a forked child's inherited copies) */
enum { PST_HELD_TRACE, PST_HELD_MANIFEST, PST_HELD_LIVE, PST_HELD_N };
extern int pst_held[PST_HELD_N];        /* descriptors held since pst_out_hold, -1: none */
bool pst_out_held(int fd);              /* fd is one we hold */
int pst_out_held_list(int fds[PST_HELD_N]); /* the held numbers, increasing: how many */
void pst_out_move(int fd);              /* the program takes number fd: ours moves */
void pst_out_final(void);               /* exit: summaries go out past the event cap */

/* zwrite.c: a thread's buffer as one ZBLOCK (--full and pack), else a BLOCK. */
void pst_zw_write(uint64_t tid, uint64_t base_ts, const uint8_t *buf, size_t n, bool pack);
void pst_zw_after_fork(void);           /* a forked child: the compressor is free */

/* stacks.c */
void pst_stacks_init(void);
uint32_t pst_stack_capture(struct pst_thr *t); /* unwind, dedup, emit STACK if new */
/* The same for a hook whose CFA (__builtin_dwarf_cfa() in the exported
 * function) is cfa: a stack seen before from there costs a check of its
 * return addresses instead of an unwind. */
uint32_t pst_stack_capture_at(struct pst_thr *t, const void *cfa);
void pst_stacks_reset(void);            /* forked child: ids start over */
void pst_stacks_lock(bool lock);
void pst_stack_bounds(struct pst_thr *t); /* stack_lo, stack_hi of the calling thread; safe anywhere */
void pst_stack_bounds_at_start(void);   /* a new thread, before its start routine: ask glibc once */

/* modules.c */
void pst_modules_init(void);            /* own text range; does not write */
bool pst_modules_own(uint64_t addr);    /* addr is inside libprestanda.so */
/* write MODULE records so that every frame lies in a written module */
void pst_modules_cover(struct pst_thr *t, const uint64_t *frames, unsigned depth);
void pst_modules_dirty(void);           /* after dlclose: rescan on next need */
void pst_modules_write_new(struct pst_thr *t); /* every loaded object not written yet */
void pst_modules_lock(bool lock);
void pst_modules_reset(void);           /* forked child: write them all again */

/* timer.c: the flush and snapshot thread */
void pst_timer_start(void);             /* from the constructor */
void pst_timer_after_fork(void);        /* the child has no timer thread: start one */
void pst_timer_kick(void);              /* wake the timer: a buffer waits (zqueue.c) */
void pst_timer_main_exited(void);       /* pthread_exit from main: the timer must not outlive the program */
bool pst_timer_pause(void);             /* stop the timer thread around unshare/setns (user namespaces) */
void pst_timer_resume(void);
void pst_timer_stop(void);              /* attach's end: join the timer thread */
void pst_timer_finish(void);            /* a normal exit: the timer ends first (bounded) */

/* attach.c and got.c: `prestanda attach` */
extern bool pst_attached;               /* loaded into a running process */
bool pst_attach_loaded_late(void);      /* dlopen'd (not preloaded): wait for pst_attach_start */
void pst_attach_forked(void);           /* a child of an attached process: entries back */
void pst_init_again(void);              /* init.c: attach again after a detach */
extern void *pst_real_scope;            /* real.c: where pst_real is looked up */
int pst_got_patch(void);                /* the hooked functions' entries to ours: 0, -1 */
int pst_got_patch_only(const char *name); /* that function's entries alone, first */
void pst_got_restore(void);             /* every entry back to its value before */
void pst_got_after_fork(void);          /* a child: its entries back, without locks */
size_t pst_got_count(void);             /* entries rewritten now */

/* cpu_prof.c: CPU samples (`prestanda run --cpu`) */
void pst_cpu_start(void);               /* from the constructor: handler, first thread, CONFIG */
void pst_cpu_thread_start(struct pst_thr *t); /* a thread registered: arm its timer */
void pst_cpu_thread_exit(struct pst_thr *t);  /* its last destructor round: delete it */
void pst_cpu_tick(void);                /* timer thread: write newly loaded modules */
void pst_cpu_finish(bool exec);         /* before the last flush: STATS; exec: stop, drain */
void pst_cpu_after_fork(void);          /* child: CONFIG to its trace, re-arm, sampler */

/* prod.c: production mode. */
bool pst_prod_config(void);             /* the production settings (options.h); false: stay off */
void pst_prod_start(void);              /* trace open: SETTINGS, the toggle signal's handler */
void pst_prod_stop(void);               /* detach: the toggle signal's default back */
/* A SNAPSHOT's figures, taken by the timer thread. */
struct pst_snap {
	uint64_t ts, alloc_calls, free_calls, alloc_bytes, rss, fds, threads, cpu_ns;
};
void pst_prod_check(uint64_t tid, const struct pst_snap *now, const struct pst_snap *prev);
/* metrics.c: --metrics-textfile, the Prometheus text format for node_exporter */
void pst_metrics_set_dir(const char *dir); /* the directory; at start only */
bool pst_metrics_on(void);
void pst_metrics_write(const struct pst_snap *s); /* timer thread: the snapshot's figures */
void pst_metrics_remove(void);          /* exit, exec, fatal signal; async-signal-safe */
void pst_metrics_after_fork(void);      /* child: a file of its own */
/* hook_sandbox.c */
/* The exit code of the thread that ended last, | PST_EXIT_KNOWN: when the
 * main thread has left by a raw exit, the process ends with it. */
#define PST_EXIT_KNOWN 0x100
extern int pst_last_exit;

/* zqueue.c: --full buffers handed to the timer thread to pack and write */
void pst_zq_open(void);                 /* with the trace: the spare slots */
void pst_zq_writer(bool up);            /* timer.c: the writer runs, or stops */
int pst_zq_hand(struct pst_thr *t, size_t n); /* owner's full buffer: 1 handed, 0 no writer, -1 behind */
void pst_zq_settle(struct pst_thr *t, bool pack); /* before t's next block: those handed written */
void pst_zq_work(void);                 /* timer.c: write what waits */

/* live.c: the live file, where thread buffers survive a kill */
void pst_live_open(const char *trace_abs, uint64_t pid); /* with the trace: its path (--full: the file) */
void pst_live_attach(struct pst_thr *t); /* give t a slot (its buffer empty); else its own memory */
void pst_live_detach(struct pst_thr *t); /* back to its own memory (forked child) */
bool pst_live_make(void); /* under the registry lock: the file made if not yet; whether there is one */
struct pst_live_slot *pst_live_spare(void); /* a slot of no thread's (zqueue.c); NULL: none */
void pst_live_drop(struct pst_live_slot *s); /* unmapped (a forked child's spare) */
void pst_live_end(void);                /* END written: nothing to recover */
void pst_live_hold(void);               /* pst_out_hold: the file held open too */
void pst_live_after_fork(void);         /* child: the parent's file is not ours */

/* crash.c */
void pst_crash_install(void);           /* crash and stop signals flush before the process dies */
void pst_crash_handler(int sig, void *info, void *uc); /* the handler (siginfo_t *info) */
/* hook_signal.c: the program sees its dispositions and alternate stacks as bare */
bool pst_sig_adopt(int sig);            /* our handler where the program left SIG_DFL */
void pst_sig_release(int sig);          /* from the handler: SIG_DFL, for the signal to end us */
void pst_sig_after_fork(void);          /* child: the table is its own */
void pst_altstack_setup(void);          /* once, at init */
void pst_altstack_start(void);          /* this thread: an alternate signal stack if it has none */
void pst_altstack_end(void);            /* this thread ends: free ours */

/* leakset.c: the recorded live blocks and their sizes, for the scan at exit. */
struct pst_leak_block {
	uint64_t ptr, size;
};
extern bool pst_leakset_on;             /* --full: every live block kept here */
extern bool pst_leakscan_on;            /* the scan at exit is wanted (either mode) */
void pst_leakset_init(bool on);         /* once, at init: on, and the first tables */
void pst_leakset_add_slow(struct pst_thr *t, uint64_t p, uint64_t size);
void pst_leakset_del_slow(struct pst_thr *t, uint64_t p);
uint64_t pst_leakset_count(void);
uint64_t pst_leakset_copy(struct pst_leak_block *out, uint64_t max);
void pst_leakset_reset(void);           /* forked child: empty */
/* t's own table, no lock: call with t->in_use set (between pst_rec_enter
 * and pst_rec_leave), where the exit scan can hold its owner out. */
static inline void pst_leakset_add(struct pst_thr *t, uint64_t p, uint64_t size)
{
	if (pst_leakset_on)
		pst_leakset_add_slow(t, p, size);
}
static inline void pst_leakset_del(struct pst_thr *t, uint64_t p)
{
	if (pst_leakset_on)
		pst_leakset_del_slow(t, p);
}

/* leakscan.c: at exit, LEAK_SCAN and its list of lost or reachable blocks. */
void pst_leak_scan(void);
void pst_leak_scan_pending(void);       /* timer thread: the scan `prestanda scan` asked for */

/* sampled.c: the set of sampled live blocks (sampled mode only). */
void pst_sampled_init(void);
void pst_sampled_reset(void);           /* forked child: empty */
bool pst_sampled_add(uint64_t ptr, uint64_t size); /* false when its bucket is full */
bool pst_sampled_take_slow(uint64_t ptr);
uint64_t pst_sampled_count(void);       /* at exit: the live sampled blocks, about */
uint64_t pst_sampled_copy(struct pst_leak_block *out, uint64_t max); /* and their sizes */
/* A byte per hash of an address: how many sampled live blocks hash there.
 * Mostly zero, so a free reads one byte and is done. 64 KiB stays in cache
 * (1 MiB did not: 2 threads freeing paid a miss per free); with a few hundred
 * sampled blocks alive, under 1% of frees look further. */
#define PST_FILTER_BITS 16
extern uint8_t *pst_sampled_filter;
static inline uint32_t pst_sampled_hash(uint64_t ptr)
{
	return (uint32_t)(((ptr >> 4) * 0x9E3779B97F4A7C15ull) >> (64 - PST_FILTER_BITS));
}
/* Remove ptr from the set; true if it was there. */
static inline bool pst_sampled_take(uint64_t ptr)
{
	if (likely(!pst_sampled_filter[pst_sampled_hash(ptr)]))
		return false;
	return pst_sampled_take_slow(ptr);
}

/* net_table.c and hook_net.c: sockets, per fd. */
void pst_net_flush_all(void);           /* a segment for every open connection (exit, exec) */
void pst_net_after_fork(void);          /* child: inherited connections start from zero */

#endif
