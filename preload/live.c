/* SPDX-License-Identifier: MIT */
/* The live file: thread buffers in a shared mapping beside the trace, so that a killed process loses nothing it recorded. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pst.h"

/*
 * A buffer in private memory dies with the process: SIGKILL, the OOM
 * killer or Go's raw exit_group took up to a flush interval of events
 * with it. Here each thread's buffer is a slot of TRACE.live, mapped
 * shared: the kernel keeps the pages whatever happens to the process, and
 * the analyzer appends what a slot holds to a trace that has no END
 * (docs/FORMAT.md). Slots are reserved with fallocate, so that a full disk
 * fails here, cleanly, and never as SIGBUS on a page of the buffer; a
 * thread whose slot cannot be had keeps its buffer in its own memory, as
 * before. The file is opened only to add a slot, by its path, or through
 * the descriptor held since a privilege drop.
 *
 * Sampled mode makes the file only at the timer's first flush, one
 * interval in (or before a privilege drop, while the path still opens):
 * two inode creations and a fallocate on the way in, and the freeing of
 * its blocks on the way out, were most of what a short program paid for
 * being recorded. A kill before then loses what a kill lost before the
 * live file existed, at most that interval. At that flush each thread's
 * buffer, just written, moves into a slot (pst_thr_flush_pending).
 * --full makes it at once: the writer's spare slots live there.
 */
#define SLOT_BYTES (PST_LIVE_SLOT_HEADER + PST_BUF_SIZE)

static char live_path[PATH_MAX + 8];
static struct pst_live_header *live_hdr; /* the first page, mapped; NULL: no live file */
static dev_t live_dev;
static ino_t live_ino;
static uint64_t live_slots; /* slots in the file; under the registry lock */
static uint64_t live_pid;
static bool live_wanted; /* a path given and no file made yet: its maker clears it */
static bool live_ending; /* END written: a file made from now on is ended at once */

/* Room for end bytes under the file size limit: past it, fallocate would
 * get the program killed by SIGXFSZ. */
static bool live_fits(off_t end)
{
	struct rlimit rl;

	return getrlimit(RLIMIT_FSIZE, &rl) || rl.rlim_cur == RLIM_INFINITY ||
	       (uint64_t)end <= rl.rlim_cur;
}

static bool live_is(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && st.st_dev == live_dev && st.st_ino == live_ino;
}

static int live_open_again(void)
{
	int fd = pst_held[PST_HELD_LIVE];

	if (fd >= 0 && live_is(fd))
		return fd;
	fd = open(live_path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && !live_is(fd)) {
		pst_fd_close(fd);
		return -1;
	}
	return fd;
}

static void live_create(void)
{
	struct pst_live_header h = { .version = PST_VERSION, .slot_bytes = SLOT_BYTES, .pid = live_pid };
	struct stat st;
	void *m;
	int fd;

	if (!live_fits(PST_LIVE_HEADER + SLOT_BYTES))
		return;
	fd = open(live_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	memcpy(h.magic, PST_LIVE_MAGIC, sizeof(h.magic));
	if (fallocate(fd, 0, 0, PST_LIVE_HEADER) || pwrite(fd, &h, sizeof(h), 0) != sizeof(h) ||
	    fstat(fd, &st) ||
	    (m = mmap(NULL, PST_LIVE_HEADER, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) ==
		    MAP_FAILED) {
		pst_fd_close(fd);
		unlink(live_path);
		return;
	}
	pst_fd_close(fd);
	live_dev = st.st_dev;
	live_ino = st.st_ino;
	__atomic_store_n(&live_hdr, m, __ATOMIC_SEQ_CST);
}

void pst_live_open(const char *trace_abs, uint64_t pid)
{
	live_hdr = NULL;
	live_slots = 0;
	live_pid = pid;
	live_ending = false;
	live_wanted = snprintf(live_path, sizeof(live_path), "%s.live", trace_abs) <
		      (int)sizeof(live_path);
	if (pst_cfg.full)
		pst_live_make();
}

/*
 * The timer's flush can come while the program's last thread writes END
 * (pst_live_end, maybe in a signal handler: no lock there). Whoever clears
 * live_wanted makes the file; END sets live_ending first. Each looks at
 * what the other stored, so that a file made as END was written is ended
 * by one of them (both, at worst: the same mark, a second unlink).
 */
bool pst_live_make(void)
{
	bool wanted = true;

	if (__atomic_compare_exchange_n(&live_wanted, &wanted, false, false, __ATOMIC_SEQ_CST,
					__ATOMIC_SEQ_CST)) {
		live_create();
		if (live_hdr && __atomic_load_n(&live_ending, __ATOMIC_SEQ_CST)) {
			pst_live_end();
			live_hdr = NULL;
		}
	}
	return live_hdr != NULL;
}

/* A new slot of the file, mapped; NULL when it cannot be had. */
static struct pst_live_slot *slot_new(void)
{
	off_t off = PST_LIVE_HEADER + (off_t)live_slots * SLOT_BYTES;
	void *m = MAP_FAILED;
	int fd;

	if (!live_hdr || !live_fits(off + SLOT_BYTES) || (fd = live_open_again()) < 0)
		return NULL;
	if (fallocate(fd, 0, off, SLOT_BYTES) == 0)
		m = mmap(NULL, SLOT_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
	if (fd != pst_held[PST_HELD_LIVE])
		pst_fd_close(fd);
	if (m == MAP_FAILED)
		return NULL;
	live_slots++;
	return m;
}

void pst_live_attach(struct pst_thr *t)
{
	struct pst_live_slot *m;

	if (t->live != &t->own_live || !(m = slot_new()))
		return;
	t->live = m;
	t->live->tid = t->tid;
	t->live->base_ts = t->base_ts;
	t->live->used = 0;
	t->buf = (uint8_t *)m + PST_LIVE_SLOT_HEADER;
	t->pos = t->buf;
	t->end = t->buf + PST_BUF_SIZE;
}

/* Made with the file, before any thread's slot. */
struct pst_live_slot *pst_live_spare(void)
{
	return slot_new();
}

void pst_live_drop(struct pst_live_slot *s)
{
	munmap(s, SLOT_BYTES);
}

void pst_live_detach(struct pst_thr *t)
{
	if (t->live != &t->own_live)
		pst_live_drop(t->live);
	pst_thr_private(t);
}

void pst_live_end(void)
{
	__atomic_store_n(&live_ending, true, __ATOMIC_SEQ_CST);
	if (!__atomic_load_n(&live_hdr, __ATOMIC_SEQ_CST))
		return;
	__atomic_store_n(&live_hdr->ended, 1, __ATOMIC_RELEASE);
	/* after a privilege drop the directory may refuse: the mark says it all */
	unlink(live_path);
}

void pst_live_hold(void)
{
	int fd, guard = pst_guard;

	/* the path may not open after the drop: the file now, or never */
	pst_guard = 1;
	pst_thr_lock_registry(true);
	pst_live_make();
	pst_thr_lock_registry(false);
	pst_guard = guard;
	if (live_hdr && pst_held[PST_HELD_LIVE] < 0 && (fd = live_open_again()) >= 0)
		pst_held[PST_HELD_LIVE] = pst_fd_park(fd);
}

/* The child's slots come from its own file (pst_live_open, then attach). */
void pst_live_after_fork(void)
{
	if (live_hdr)
		munmap(live_hdr, PST_LIVE_HEADER);
	live_hdr = NULL;
	live_slots = 0;
	live_wanted = false;
}
