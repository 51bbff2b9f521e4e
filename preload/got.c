/* SPDX-License-Identifier: MIT */
/* Attach: the relocation entries (GOT) of every loaded module that name a hooked function point at our hook, and back. */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pst.h"

/*
 * Loaded late (by `prestanda attach`), the preload is not ahead of the C
 * library in the lookup order: nothing calls its malloc. Every module's
 * JUMP_SLOT and GLOB_DAT entries that name one of the functions below are
 * pointed at our definition instead, as the dynamic linker would have done
 * had we been preloaded; the old value of each entry is kept, written back
 * at detach. The hooks themselves call pst_real, resolved in the global
 * scope (the program's own allocator when it brings one, as redis brings
 * jemalloc), so that a block always goes back to the allocator it came from.
 *
 * Only the malloc family, sockets and name lookups, the pthread functions,
 * _exit, pipe2 and dlclose are taken: signals, exec and the sandbox hooks keep
 * tables of what the program did since its start, which an attach never saw.
 */
static const char *const hooked[] = {
	"malloc", "free", "calloc", "realloc", "reallocarray", "posix_memalign",
	"aligned_alloc", "memalign", "valloc", "pvalloc",
	"socket", "connect", "listen", "accept", "accept4", "close", "shutdown",
	"getsockopt", "dup2", "dup3", "send", "sendto", "sendmsg", "recv", "recvfrom",
	"recvmsg", "read", "write", "readv", "writev", "__read_chk", "__recv_chk",
	"__recvfrom_chk", "poll", "ppoll", "select", "pselect", "epoll_wait",
	"epoll_pwait", "getaddrinfo", "gethostbyname",
	"pthread_create", "pthread_exit", "pthread_join", "pthread_mutex_lock",
	"pthread_mutex_timedlock", "pthread_mutex_clocklock", "pthread_rwlock_rdlock",
	"pthread_rwlock_timedrdlock", "pthread_rwlock_wrlock", "pthread_rwlock_timedwrlock",
	"pthread_spin_lock", "pthread_cond_clockwait", "sem_wait", "sem_timedwait",
	"sem_clockwait", "_exit", "_Exit",
	/* libunwind's pipe: ours to know, raise and close (fds.c) */
	"pipe2",
	/* the two with two versions: the old one is the entry after the last */
	"pthread_cond_wait", "pthread_cond_timedwait",
	/* ours in this file: later modules are patched as they come and go */
	"dlopen", "dlclose",
};
#define NHOOK (sizeof(hooked) / sizeof(hooked[0]))
#define NVERSIONED 2
#define FIRST_VERSIONED (NHOOK - 2 - NVERSIONED)
/* what each entry points at while attached; then the old cond_wait and
 * cond_timedwait (GLIBC_2.2.5) */
static void *ours[NHOOK + NVERSIONED];

/* An entry we rewrote: where, what it held, and the module it is in. */
struct got_saved {
	void **slot;
	void *old;
	uintptr_t base;
};
static struct got_saved *saved;
static size_t nsaved, saved_cap;
/* Modules already patched, by load bias (unique while loaded), and their
 * RELRO pages: restoring needs no walk of the loader's list (a forked
 * child may not take its lock). */
struct got_module {
	uintptr_t base, ro_lo, ro_hi;
};
#define MAX_MODULES 4096
static struct got_module *done;
static size_t ndone;
static uintptr_t self_base;
static bool active;
static const char *only; /* pst_got_patch_only: this name alone */
static int got_lock; /* a spin lock: the pthread functions are ours to hook */
static int (*real_dlclose_hook)(void *);
static void *(*real_dlopen)(const char *, int);

static void lock(void)
{
	while (__atomic_exchange_n(&got_lock, 1, __ATOMIC_ACQUIRE))
		sched_yield();
}

static void unlock(void)
{
	__atomic_store_n(&got_lock, 0, __ATOMIC_RELEASE);
}

/* Memory of ours that is not the program's malloc. */
static void *map(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static bool save(void **slot, void *old, uintptr_t base)
{
	if (nsaved == saved_cap) {
		size_t cap = saved_cap ? saved_cap * 2 : 1024;
		struct got_saved *n = map(cap * sizeof(*n));

		if (!n)
			return false;
		if (saved) {
			memcpy(n, saved, nsaved * sizeof(*n));
			munmap(saved, saved_cap * sizeof(*n));
		}
		saved = n;
		saved_cap = cap;
	}
	saved[nsaved++] = (struct got_saved){ slot, old, base };
	return true;
}

/* The dynamic section's addresses: glibc has added the bias to most of
 * them in place, the vDSO's are as linked. */
static uintptr_t dyn_addr(uintptr_t base, uintptr_t v)
{
	return v < base ? base + v : v;
}

struct module {
	uintptr_t base;
	const ElfW(Sym) *sym;
	const char *str;
	const ElfW(Half) *versym;
	const ElfW(Verneed) *verneed;
	const ElfW(Rela) *rel[2];
	size_t nrel[2];
	uintptr_t ro_lo, ro_hi; /* RELRO: read-only once relocated */
};

static void read_dynamic(struct module *m, const ElfW(Dyn) *d)
{
	for (; d->d_tag != DT_NULL; d++) {
		uintptr_t v = dyn_addr(m->base, d->d_un.d_ptr);

		switch (d->d_tag) {
		case DT_SYMTAB: m->sym = (const ElfW(Sym) *)v; break;
		case DT_STRTAB: m->str = (const char *)v; break;
		case DT_VERSYM: m->versym = (const ElfW(Half) *)v; break;
		case DT_VERNEED: m->verneed = (const ElfW(Verneed) *)v; break;
		case DT_JMPREL: m->rel[0] = (const ElfW(Rela) *)v; break;
		case DT_RELA: m->rel[1] = (const ElfW(Rela) *)v; break;
		case DT_PLTRELSZ: m->nrel[0] = d->d_un.d_val / sizeof(ElfW(Rela)); break;
		case DT_RELASZ: m->nrel[1] = d->d_un.d_val / sizeof(ElfW(Rela)); break;
		}
	}
}

static bool read_module(struct dl_phdr_info *info, struct module *m)
{
	const ElfW(Dyn) *dyn = NULL;
	long page = sysconf(_SC_PAGESIZE);

	memset(m, 0, sizeof(*m));
	m->base = info->dlpi_addr;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type == PT_DYNAMIC)
			dyn = (const ElfW(Dyn) *)(m->base + ph->p_vaddr);
		if (ph->p_type == PT_GNU_RELRO) {
			m->ro_lo = (m->base + ph->p_vaddr) & ~(uintptr_t)(page - 1);
			m->ro_hi = (m->base + ph->p_vaddr + ph->p_memsz) & ~(uintptr_t)(page - 1);
		}
	}
	if (!dyn)
		return false;
	read_dynamic(m, dyn);
	return m->sym && m->str;
}

/* The version an import asks for (its verneed name), NULL when none. */
static const char *needed_version(const struct module *m, uint32_t symi)
{
	const ElfW(Verneed) *vn = m->verneed;
	ElfW(Half) want;

	if (!m->versym || !vn)
		return NULL;
	want = m->versym[symi] & 0x7fff;
	for (;; vn = (const ElfW(Verneed) *)((const char *)vn + vn->vn_next)) {
		const ElfW(Vernaux) *a = (const ElfW(Vernaux) *)((const char *)vn + vn->vn_aux);

		for (unsigned i = 0; i < vn->vn_cnt; i++) {
			if (a->vna_other == want)
				return m->str + a->vna_name;
			a = (const ElfW(Vernaux) *)((const char *)a + a->vna_next);
		}
		if (!vn->vn_next)
			return NULL;
	}
}

/* What the entry for symbol symi is to hold; NULL: not one of ours. */
static void *hook_for(const struct module *m, uint32_t symi)
{
	const char *name = m->str + m->sym[symi].st_name, *ver;

	if (only && strcmp(name, only))
		return NULL;
	for (size_t h = 0; h < NHOOK; h++) {
		if (strcmp(name, hooked[h]))
			continue;
		if (h < FIRST_VERSIONED || h >= FIRST_VERSIONED + NVERSIONED)
			return ours[h];
		ver = needed_version(m, symi);
		return ours[ver && !strcmp(ver, "GLIBC_2.2.5") ? h + NHOOK - FIRST_VERSIONED : h];
	}
	return NULL;
}

static void patch_rela(const struct module *m, const ElfW(Rela) *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t type = ELF64_R_TYPE(r[i].r_info), symi = ELF64_R_SYM(r[i].r_info);
		void **slot = (void **)(m->base + r[i].r_offset), *to;

		if ((type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT) || !symi)
			continue;
		to = hook_for(m, symi);
		if (!to || *slot == to || !save(slot, *slot, m->base))
			continue;
		__atomic_store_n(slot, to, __ATOMIC_RELEASE); /* a word: other threads see old or new */
	}
}

static void set_relro(uintptr_t lo, uintptr_t hi, int prot)
{
	if (hi > lo)
		mprotect((void *)lo, hi - lo, prot);
}

static bool is_done(uintptr_t base)
{
	for (size_t i = 0; i < ndone; i++)
		if (done[i].base == base)
			return true;
	return false;
}

/* The dynamic linker (its entries are its own business), the vDSO, us. */
static bool skipped(const struct dl_phdr_info *info)
{
	const char *n = info->dlpi_name ? info->dlpi_name : "";

	return info->dlpi_addr == self_base || strstr(n, "/ld-linux") || strstr(n, "linux-vdso");
}

static int patch_one(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct module m;

	(void)size;
	(void)arg;
	if (skipped(info) || is_done(info->dlpi_addr) || ndone == MAX_MODULES)
		return 0;
	done[ndone++] = (struct got_module){ info->dlpi_addr, 0, 0 };
	if (!read_module(info, &m))
		return 0;
	done[ndone - 1] = (struct got_module){ m.base, m.ro_lo, m.ro_hi };
	set_relro(m.ro_lo, m.ro_hi, PROT_READ | PROT_WRITE);
	for (int k = 0; k < 2; k++)
		if (m.rel[k])
			patch_rela(&m, m.rel[k], m.nrel[k]);
	set_relro(m.ro_lo, m.ro_hi, PROT_READ);
	return 0;
}

static void patch_new(void)
{
	lock();
	if (active)
		dl_iterate_phdr(patch_one, NULL);
	unlock();
}

/* The modules loaded now; what is not among them was unloaded. */
static int mark_loaded(struct dl_phdr_info *info, size_t size, void *arg)
{
	uintptr_t *seen = arg;

	(void)size;
	for (size_t i = 0; i < ndone; i++)
		if (done[i].base == info->dlpi_addr)
			seen[i] = 1;
	return 0;
}

/* After a dlclose: the entries of an unloaded module are gone with it
 * (writing them back would write into whatever is mapped there now). */
static void forget_unloaded(void)
{
	uintptr_t *seen;
	size_t keep = 0, kd = 0, n0;

	lock();
	n0 = ndone;
	seen = n0 ? map(n0 * sizeof(*seen)) : NULL;
	if (seen) {
		dl_iterate_phdr(mark_loaded, seen);
		for (size_t i = 0; i < nsaved; i++) {
			size_t d = 0;

			while (d < ndone && done[d].base != saved[i].base)
				d++;
			if (d == ndone || seen[d])
				saved[keep++] = saved[i];
		}
		nsaved = keep;
		for (size_t d = 0; d < ndone; d++)
			if (seen[d])
				done[kd++] = done[d];
		ndone = kd;
		munmap(seen, n0 * sizeof(*seen));
	}
	unlock();
}

static void *got_dlopen(const char *file, int mode)
{
	void *h = real_dlopen(file, mode);

	if (h)
		patch_new();
	return h;
}

static int got_dlclose(void *h)
{
	int rc = real_dlclose_hook(h);

	forget_unloaded();
	return rc;
}

/* Our definitions, looked up in our own library (a reference from inside
 * it would bind to the C library's: we are not first in the lookup order). */
static bool find_ours(void)
{
	Dl_info di;
	void *self;

	if (!dladdr((void *)find_ours, &di) || !(self = dlopen(di.dli_fname, RTLD_NOW | RTLD_NOLOAD)))
		return false;
	self_base = (uintptr_t)di.dli_fbase;
	for (size_t h = 0; h < FIRST_VERSIONED; h++)
		ours[h] = dlsym(self, hooked[h]);
	for (size_t v = 0; v < NVERSIONED; v++) {
		ours[FIRST_VERSIONED + v] = dlvsym(self, hooked[FIRST_VERSIONED + v], "GLIBC_2.3.2");
		ours[NHOOK + v] = dlvsym(self, hooked[FIRST_VERSIONED + v], "GLIBC_2.2.5");
	}
	*(void **)&real_dlclose_hook = dlsym(self, "dlclose");
	*(void **)&real_dlopen = dlsym(pst_real_scope, "dlopen");
	ours[NHOOK - 2] = (void *)got_dlopen;
	ours[NHOOK - 1] = (void *)got_dlclose;
	dlclose(self); /* the NOLOAD open counted once more */
	for (size_t h = 0; h < NHOOK + NVERSIONED; h++)
		if (!ours[h])
			return false;
	return real_dlopen && real_dlclose_hook;
}

/* Every module's entries of name (NULL: of every hooked function); the
 * modules patched before are looked at again. */
static int patch_all(const char *name)
{
	if (!done && !(done = map(MAX_MODULES * sizeof(*done))))
		return -1;
	if (!self_base && !find_ours())
		return -1;
	lock();
	active = true;
	ndone = 0;
	only = name;
	dl_iterate_phdr(patch_one, NULL);
	only = NULL;
	unlock();
	return 0;
}

int pst_got_patch(void)
{
	return patch_all(NULL);
}

/* Before the start: libunwind makes its pipe as it starts, and the pipe2
 * hook must see that (fds.c keeps the pipe away from the program's
 * numbers and closes it between uses). */
int pst_got_patch_only(const char *name)
{
	return patch_all(name);
}

/* Every entry back to what it held, newest first (an entry saved twice,
 * which cannot happen, would end with its first value). */
static void restore_all(void)
{
	active = false;
	for (size_t d = 0; d < ndone; d++) {
		set_relro(done[d].ro_lo, done[d].ro_hi, PROT_READ | PROT_WRITE);
		for (size_t i = nsaved; i-- > 0;)
			if (saved[i].base == done[d].base)
				__atomic_store_n(saved[i].slot, saved[i].old, __ATOMIC_RELEASE);
		set_relro(done[d].ro_lo, done[d].ro_hi, PROT_READ);
	}
	nsaved = 0;
	ndone = 0;
}

void pst_got_restore(void)
{
	lock();
	restore_all();
	unlock();
}

/* A forked child of an attached process is not attached to: its copy of
 * the entries goes back (the lock may have been held by a thread the
 * child does not have). */
void pst_got_after_fork(void)
{
	got_lock = 0;
	restore_all();
}

size_t pst_got_count(void)
{
	return nsaved;
}
