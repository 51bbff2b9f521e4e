/* SPDX-License-Identifier: MIT */
/* Threads and locks: thread lifetimes, acquisitions, and the time spent waiting on locks, condition variables, semaphores and joins. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pst.h"

#define EXPORT __attribute__((visibility("default")))

/*
 * Locks are timed only when contended, as mutrace does: the hook tries the
 * lock first; a try that succeeds is counted in the thread's cache of
 * locks and returns. Only a failed try takes the stack of the waiter, two
 * timestamps and the real, blocking call. Condition variables, semaphores
 * and joins are waits by nature: every wait that blocks is timed.
 */

/* Not yet initialised, initialising, or off: calls pass straight through. */
static __attribute__((noinline)) bool not_on(void)
{
	if (pst_state == PST_UNINIT)
		pst_init();
	return pst_state != PST_ON;
}

/* A real function still unresolved (a hook called while the preload is
 * being set up): resolve it now. */
static __attribute__((noinline)) void *lazy(void **slot, const char *sym)
{
	if (!*slot)
		*slot = dlsym(RTLD_NEXT, sym);
	return *slot;
}
#define REAL(name, sym) ((__typeof__(pst_real.name))(pst_real.name ? (void *)pst_real.name : \
	lazy((void **)&pst_real.name, sym)))

/* This thread's state when its pthread calls are to be measured: not from
 * inside the profiler, not before it is on, and not if a function it
 * needs is missing. */
static inline struct pst_thr *pt_thr(void)
{
	if (unlikely(pst_state != PST_ON) && not_on())
		return NULL;
	if (unlikely(pst_guard))
		return NULL;
	return pst_thr();
}

/* The stack of a thread about to wait, taken before it blocks so that the
 * time measured is the wait's own. */
static uint32_t wait_stack(struct pst_thr *t)
{
	uint32_t id = 0;

	if (pst_rec_enter(t))
		id = pst_stack_capture(t);
	pst_rec_leave(t);
	return id;
}

/* ---- threads ---- */

/* What a new thread needs to know about its creation. */
struct start_box {
	void *(*fn)(void *);
	void *arg;
	uint64_t parent, create_ts;
	uint32_t stack;
};

void pst_thread_end(struct pst_thr *t, uint64_t ts, uint64_t flags)
{
	struct timespec cpu = { 0, 0 };
	int saved = errno;
	uint64_t runnable = 0;

	if (t->thr_ended)
		return;
	t->thr_ended = 1;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
	if (pst_rec_enter(t)) {
		if (pst_thread_runnable(t->tid, &runnable))
			flags |= PST_THR_END_RUNNABLE;
		t->pos = pst_enc_thr_end(pst_thr_room(t, PST_THR_EVENT_MAX), t->tid, ts,
					 (uint64_t)cpu.tv_sec * 1000000000u + (uint64_t)cpu.tv_nsec,
					 flags, runnable);
	}
	pst_rec_leave(t);
	errno = saved;
}

/* Runs when the start routine returns, calls pthread_exit or is cancelled. */
static void thread_finish(void *arg)
{
	struct pst_thr *t = pst_self;

	(void)arg;
	pst_last_exit = PST_EXIT_KNOWN; /* glibc ends the thread with exit(0) */
	if (t && pst_state == PST_ON)
		pst_thread_end(t, pst_now(), 0);
	/* a thread that forked is its child's first thread: when it ends there,
	 * the timer thread must not keep the child alive */
	if (getpid() == (pid_t)syscall(SYS_gettid))
		pst_timer_main_exited();
}

static void thread_begin(const struct start_box *b)
{
	struct pst_thr *t;

	pst_stack_bounds_at_start();
	t = pt_thr();

	if (!t)
		return;
	/* the scan at exit reads the stacks of threads still running: know
	 * this one's even if it never allocates (a worker blocked in epoll) */
	if (pst_leakscan_on && !t->stack_hi)
		pst_stack_bounds(t);
	if (pst_rec_enter(t))
		t->pos = pst_enc_thr_start(pst_thr_room(t, PST_THR_EVENT_MAX), t->tid, pst_now(),
					   b->parent, (uintptr_t)b->fn, b->stack, b->create_ts);
	pst_rec_leave(t);
}

static void *thread_start(void *v)
{
	struct start_box b = *(struct start_box *)v;
	void *ret;

	pst_real.free(v);
	pst_altstack_start();
	thread_begin(&b);
	pthread_cleanup_push(thread_finish, NULL);
	ret = b.fn(b.arg);
	pthread_cleanup_pop(1);
	pst_altstack_end();
	return ret;
}

EXPORT int pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *),
			  void *arg)
{
	struct pst_thr *t = pt_thr();
	struct start_box *b;
	int saved = errno, r;

	if (!t || !pst_real.malloc || !pst_real.free ||
	    !(b = pst_real.malloc(sizeof(*b))))
		return REAL(pthread_create, "pthread_create")(th, attr, fn, arg);
	b->fn = fn;
	b->arg = arg;
	b->parent = t->tid;
	b->stack = wait_stack(t);
	b->create_ts = pst_now();
	errno = saved;
	r = pst_real.pthread_create(th, attr, thread_start, b);
	if (r)
		pst_real.free(b);
	return r;
}

EXPORT void pthread_exit(void *ret)
{
	static void (*real_exit)(void *) __attribute__((noreturn));
	struct pst_thr *t = pst_self;

	/* threads that were not started through pthread_create above, the
	 * main thread among them, end here */
	if (t && pst_state == PST_ON && !pst_guard)
		pst_thread_end(t, pst_now(), 0);
	if (getpid() == (pid_t)syscall(SYS_gettid))
		pst_timer_main_exited();
	if (!real_exit)
		*(void **)&real_exit = dlsym(RTLD_NEXT, "pthread_exit");
	if (real_exit)
		real_exit(ret);
	syscall(SYS_exit, 0);
	__builtin_unreachable();
}

/* A call that waits every time (join, cond wait), timed as a wait of its
 * kind on obj, with no stack. */
#define TIMED_WAIT(t, obj, kind, call)                                                 \
	({                                                                             \
		uint64_t t0_ = pst_now();                                              \
		int r_ = call;                                                         \
		pst_locks_wait(t, obj, kind, 0, t0_, pst_now(), r_ == 0);              \
		r_;                                                                    \
	})

EXPORT int pthread_join(pthread_t th, void **ret)
{
	struct pst_thr *t = pt_thr();

	if (!t)
		return REAL(pthread_join, "pthread_join")(th, ret);
	return TIMED_WAIT(t, NULL, PST_WAIT_JOIN, pst_real.pthread_join(th, ret));
}

/* ---- locks ---- */

/* The blocking call after a failed try. */
#define CONTENDED(t, obj, kind, call)                                                  \
	({                                                                             \
		int saved_ = errno, r_;                                                \
		uint32_t stack_ = wait_stack(t);                                       \
		uint64_t t0_ = pst_now();                                              \
		errno = saved_;                                                        \
		r_ = call;                                                             \
		pst_locks_wait(t, obj, kind, stack_, t0_, pst_now(), r_ == 0);         \
		r_;                                                                    \
	})

static __attribute__((noinline)) int mutex_wait(struct pst_thr *t, pthread_mutex_t *m)
{
	return CONTENDED(t, m, PST_WAIT_MUTEX, pst_real.mutex_lock(m));
}

/*
 * The fast path of every lock: the real try, then the count in the
 * thread's cache. A robust mutex whose owner died is acquired with
 * EOWNERDEAD; any other error (EAGAIN, EINVAL) is the program's answer.
 */
#define TRY_FIRST(t, obj, kind, try_call)                                              \
	do {                                                                           \
		int r_ = try_call;                                                     \
		if (likely(r_ == 0) || r_ == EOWNERDEAD) {                             \
			pst_lock_count(t, obj, kind);                                  \
			return r_;                                                     \
		}                                                                      \
		if (r_ != EBUSY)                                                       \
			return r_;                                                     \
	} while (0)

/*
 * The hook of pthread_FIELD, a blocking lock of l (of type type), passed
 * to the real functions as obj (l, or l cast for the spinlock's volatile
 * int): pst_real.try first, its wait in the noinline wait function, so
 * that the fast path stays a try, a count and a return.
 */
#define LOCK_HOOK(field, type, kind, try, obj, wait)                                   \
	EXPORT int pthread_##field(type *l)                                            \
	{                                                                              \
		struct pst_thr *t = pt_thr();                                          \
                                                                                       \
		if (unlikely(!t))                                                      \
			return REAL(field, "pthread_" #field)(obj);                    \
		TRY_FIRST(t, (const void *)l, kind, pst_real.try(obj));                \
		return wait(t, l);                                                     \
	}

/*
 * The hook of pthread_FIELD, a lock of l with a deadline: params after
 * the lock, passed on as args; the wait is timed in place. missing is
 * true when the real function may be absent (a C library older than it).
 */
#define DEADLINE_HOOK(field, type, kind, try, missing, params, args)                   \
	EXPORT int pthread_##field(type *l, params)                                    \
	{                                                                              \
		struct pst_thr *t = pt_thr();                                          \
                                                                                       \
		if (!t || (missing))                                                   \
			return REAL(field, "pthread_" #field)(l, args);                \
		TRY_FIRST(t, l, kind, pst_real.try(l));                                \
		return CONTENDED(t, l, kind, pst_real.field(l, args));                 \
	}

/* Two parameters, or two arguments, as one macro argument. */
#define ARGS2(a, b) a, b

LOCK_HOOK(mutex_lock, pthread_mutex_t, PST_WAIT_MUTEX, mutex_trylock, l, mutex_wait)
DEADLINE_HOOK(mutex_timedlock, pthread_mutex_t, PST_WAIT_MUTEX, mutex_trylock, false,
	      const struct timespec *abs, abs)
DEADLINE_HOOK(mutex_clocklock, pthread_mutex_t, PST_WAIT_MUTEX, mutex_trylock,
	      !pst_real.mutex_clocklock, ARGS2(clockid_t clk, const struct timespec *abs),
	      ARGS2(clk, abs))

static __attribute__((noinline)) int rd_wait(struct pst_thr *t, pthread_rwlock_t *l)
{
	return CONTENDED(t, l, PST_WAIT_RDLOCK, pst_real.rwlock_rdlock(l));
}

static __attribute__((noinline)) int wr_wait(struct pst_thr *t, pthread_rwlock_t *l)
{
	return CONTENDED(t, l, PST_WAIT_WRLOCK, pst_real.rwlock_wrlock(l));
}

LOCK_HOOK(rwlock_rdlock, pthread_rwlock_t, PST_WAIT_RDLOCK, rwlock_tryrdlock, l, rd_wait)
LOCK_HOOK(rwlock_wrlock, pthread_rwlock_t, PST_WAIT_WRLOCK, rwlock_trywrlock, l, wr_wait)
DEADLINE_HOOK(rwlock_timedrdlock, pthread_rwlock_t, PST_WAIT_RDLOCK, rwlock_tryrdlock, false,
	      const struct timespec *abs, abs)
DEADLINE_HOOK(rwlock_timedwrlock, pthread_rwlock_t, PST_WAIT_WRLOCK, rwlock_trywrlock, false,
	      const struct timespec *abs, abs)

static __attribute__((noinline)) int spin_wait(struct pst_thr *t, pthread_spinlock_t *l)
{
	return CONTENDED(t, (const void *)l, PST_WAIT_SPIN, pst_real.spin_lock((void *)l));
}

LOCK_HOOK(spin_lock, pthread_spinlock_t, PST_WAIT_SPIN, spin_trylock, (void *)l, spin_wait)

/* ---- condition variables ---- */

/* A cond wait always blocks until signalled: every one is timed, as idle
 * time of the waiting thread. */
static int cond_wait(int (*real)(void *, void *), pthread_cond_t *c, pthread_mutex_t *m)
{
	struct pst_thr *t = pt_thr();

	if (!t)
		return real(c, m);
	return TIMED_WAIT(t, c, PST_WAIT_COND, real(c, m));
}

static int cond_timedwait(int (*real)(void *, void *, const struct timespec *), pthread_cond_t *c,
			  pthread_mutex_t *m, const struct timespec *abs)
{
	struct pst_thr *t = pt_thr();

	if (!t)
		return real(c, m, abs);
	return TIMED_WAIT(t, c, PST_WAIT_COND, real(c, m, abs));
}

#ifdef __x86_64__
/* Both versions of the C library's condition variables, each calling its
 * own; the version script exports them under their versions. */
__asm__(".symver pst_cond_wait_new, pthread_cond_wait@@GLIBC_2.3.2");
__asm__(".symver pst_cond_wait_old, pthread_cond_wait@GLIBC_2.2.5");
__asm__(".symver pst_cond_timedwait_new, pthread_cond_timedwait@@GLIBC_2.3.2");
__asm__(".symver pst_cond_timedwait_old, pthread_cond_timedwait@GLIBC_2.2.5");

EXPORT int pst_cond_wait_new(pthread_cond_t *c, pthread_mutex_t *m)
{
	return cond_wait(REAL(cond_wait, "pthread_cond_wait"), c, m);
}

EXPORT int pst_cond_wait_old(pthread_cond_t *c, pthread_mutex_t *m)
{
	return cond_wait(pst_real.cond_wait_old ? pst_real.cond_wait_old :
						 REAL(cond_wait, "pthread_cond_wait"), c, m);
}

EXPORT int pst_cond_timedwait_new(pthread_cond_t *c, pthread_mutex_t *m,
				  const struct timespec *abs)
{
	return cond_timedwait(REAL(cond_timedwait, "pthread_cond_timedwait"), c, m, abs);
}

EXPORT int pst_cond_timedwait_old(pthread_cond_t *c, pthread_mutex_t *m,
				  const struct timespec *abs)
{
	return cond_timedwait(pst_real.cond_timedwait_old ?
				      pst_real.cond_timedwait_old :
				      REAL(cond_timedwait, "pthread_cond_timedwait"),
			      c, m, abs);
}
#else
EXPORT int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	return cond_wait(REAL(cond_wait, "pthread_cond_wait"), c, m);
}

EXPORT int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
				  const struct timespec *abs)
{
	return cond_timedwait(REAL(cond_timedwait, "pthread_cond_timedwait"), c, m, abs);
}
#endif

EXPORT int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clk,
				  const struct timespec *abs)
{
	struct pst_thr *t = pt_thr();

	if (!t || !pst_real.cond_clockwait)
		return REAL(cond_clockwait, "pthread_cond_clockwait")(c, m, clk, abs);
	return TIMED_WAIT(t, c, PST_WAIT_COND, pst_real.cond_clockwait(c, m, clk, abs));
}

/* ---- semaphores ---- */

/* sem_trywait first: a semaphore that has a count is taken at once; only
 * one that makes the thread block is timed. */
static bool sem_took(struct pst_thr *t, sem_t *s)
{
	int saved = errno;

	if (pst_real.sem_trywait(s) == 0) {
		pst_lock_count(t, s, PST_WAIT_SEM);
		return true;
	}
	errno = saved;
	return false;
}

EXPORT int sem_wait(sem_t *s)
{
	struct pst_thr *t = pt_thr();

	if (!t)
		return REAL(sem_wait, "sem_wait")(s);
	if (sem_took(t, s))
		return 0;
	return CONTENDED(t, s, PST_WAIT_SEM, pst_real.sem_wait(s));
}

EXPORT int sem_timedwait(sem_t *s, const struct timespec *abs)
{
	struct pst_thr *t = pt_thr();

	if (!t)
		return REAL(sem_timedwait, "sem_timedwait")(s, abs);
	if (sem_took(t, s))
		return 0;
	return CONTENDED(t, s, PST_WAIT_SEM, pst_real.sem_timedwait(s, abs));
}

EXPORT int sem_clockwait(sem_t *s, clockid_t clk, const struct timespec *abs)
{
	struct pst_thr *t = pt_thr();

	if (!t || !pst_real.sem_clockwait)
		return REAL(sem_clockwait, "sem_clockwait")(s, clk, abs);
	if (sem_took(t, s))
		return 0;
	return CONTENDED(t, s, PST_WAIT_SEM, pst_real.sem_clockwait(s, clk, abs));
}
