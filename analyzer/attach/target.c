/* SPDX-License-Identifier: MIT */
/* What `prestanda attach` reads of its target first: its modules, their symbols, whether ptrace may stop it. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attach.h"
#include "elfopen.h"

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/* One line of /proc/PID/maps: its range, file offset, permissions, path. */
struct map_line {
	uint64_t lo, hi, off;
	char perms[8];
	char path[4096];
};

static bool parse_line(const char *line, struct map_line *m)
{
	int n = 0;

	m->path[0] = 0;
	if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*s %*s %n", &m->lo, &m->hi,
		   m->perms, &m->off, &n) < 4 || !n)
		return false;
	snprintf(m->path, sizeof(m->path), "%s", line + n);
	m->path[strcspn(m->path, "\n")] = 0;
	return true;
}

static void note_line(struct pst_target *tg, const struct map_line *m)
{
	const char *b = base_name(m->path);

	if (!strncmp(b, "libc.so", 7) || !strncmp(b, "libc-", 5))
		snprintf(tg->libc, sizeof(tg->libc), "%s", m->path);
	if (!strcmp(b, "libprestanda.so") || !strncmp(b, "libprestanda-attach", 19))
		snprintf(tg->ours, sizeof(tg->ours), "%s", m->path);
	if (!strcmp(m->path, tg->exe) && strchr(m->perms, 'x')) {
		if (!tg->exe_lo || m->lo < tg->exe_lo)
			tg->exe_lo = m->lo;
		if (m->hi > tg->exe_hi)
			tg->exe_hi = m->hi;
	}
}

int pst_target_read(struct pst_target *tg, pid_t pid, char *err, size_t len)
{
	char path[64], line[4096 + 128];
	struct map_line m;
	ssize_t n;
	FILE *f;

	memset(tg, 0, sizeof(*tg));
	tg->pid = pid;
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, tg->exe, sizeof(tg->exe) - 1);
	tg->exe[n > 0 ? n : 0] = 0;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f && (errno == EACCES || errno == EPERM)) {
		pst_target_why_no_ptrace(pid, EPERM, err, len); /* the same check as ptrace's */
		return -1;
	}
	if (!f && errno == ENOENT) {
		snprintf(err, len, "no such process");
		return -1;
	}
	if (!f) {
		snprintf(err, len, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f))
		if (parse_line(line, &m))
			note_line(tg, &m);
	fclose(f);
	return 0;
}

/* The load bias of path in the target: where its first mapping (file
 * offset 0) starts, less the first PT_LOAD's page-aligned address. */
static int map_start(pid_t pid, const char *module, uint64_t *lo)
{
	char path[64], line[4096 + 128];
	struct map_line m;
	FILE *f;
	int rc = -1;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	if (!(f = fopen(path, "re")))
		return -1;
	while (rc && fgets(line, sizeof(line), f))
		if (parse_line(line, &m) && !strcmp(m.path, module) && m.off == 0) {
			*lo = m.lo;
			rc = 0;
		}
	fclose(f);
	return rc;
}

/* A dynamic symbol's value and the first PT_LOAD's address in e. */
static int elf_symbol(Elf *e, const char *name, uint64_t *value, uint64_t *first_load)
{
	size_t nph;
	Elf_Scn *scn = NULL;
	GElf_Phdr ph;
	GElf_Shdr sh;

	*first_load = UINT64_MAX;
	if (elf_getphdrnum(e, &nph))
		return -1;
	for (size_t i = 0; i < nph; i++)
		if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD && ph.p_vaddr < *first_load)
			*first_load = ph.p_vaddr & ~(uint64_t)(ph.p_align ? ph.p_align - 1 : 0);
	while ((scn = elf_nextscn(e, scn))) {
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM || !(d = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 0; sh.sh_entsize && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym s;
			const char *n;

			if (gelf_getsym(d, (int)i, &s) && s.st_shndx != SHN_UNDEF && s.st_value &&
			    (n = elf_strptr(e, sh.sh_link, s.st_name)) && !strcmp(n, name)) {
				*value = s.st_value;
				return 0;
			}
		}
	}
	return -1;
}

int pst_target_symbol(pid_t pid, const char *module, const char *name, uint64_t *addr, char *err,
		      size_t len)
{
	char file[PATH_MAX + 64], why[256];
	uint64_t lo, value, first;
	Elf *e;
	int fd, rc;

	if (map_start(pid, module, &lo)) {
		snprintf(err, len, "%s is not mapped in the process", module);
		return -1;
	}
	/* its file as the target sees it (another mount namespace) */
	snprintf(file, sizeof(file), "/proc/%d/root%s", (int)pid, module);
	if ((fd = pst_elf_open(file, NULL, why, sizeof(why))) < 0) {
		snprintf(err, len, "%s: %s", file, why);
		return -1;
	}
	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	rc = e ? elf_symbol(e, name, &value, &first) : -1;
	if (e)
		elf_end(e);
	close(fd);
	if (rc) {
		snprintf(err, len, "%s has no symbol %s", module, name);
		return -1;
	}
	*addr = lo - first + value;
	return 0;
}

/* A number from a /proc or /sys file; -1 when unreadable. */
static long read_long(const char *path)
{
	FILE *f = fopen(path, "re");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* The real uid of pid, -1 when unknown. */
static long owner_uid(pid_t pid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	return stat(path, &st) ? -1 : (long)st.st_uid;
}

void pst_target_why_no_ptrace(pid_t pid, int err, char *why, size_t len)
{
	long scope = read_long("/proc/sys/kernel/yama/ptrace_scope");
	long uid = owner_uid(pid);

	if (err == ESRCH)
		snprintf(why, len, "no such process");
	else if (err != EPERM)
		snprintf(why, len, "ptrace: %s", strerror(err));
	else if (uid >= 0 && (uid_t)uid != geteuid() && geteuid() != 0)
		snprintf(why, len, "it belongs to another user (uid %ld): attach as that user or as root (CAP_SYS_PTRACE)", uid);
	else if (scope == 3)
		snprintf(why, len, "ptrace is disabled for everyone (kernel.yama.ptrace_scope = 3; only a reboot lifts it)");
	else if (scope >= 1 && geteuid() != 0)
		snprintf(why, len, "kernel.yama.ptrace_scope = %ld allows tracing only descendants: run as root (or with CAP_SYS_PTRACE), or set it to 0", scope);
	else
		snprintf(why, len, "ptrace is not permitted (already traced by a debugger, or no CAP_SYS_PTRACE in this container): %s", strerror(err));
}

/* Same file: the same device and inode. */
static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return !stat(a, &sa) && !stat(b, &sb) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;
	ssize_t n;

	if (in < 0)
		return -1;
	unlink(to);
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0755);
	while (out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			break;
	if (out >= 0 && n == 0)
		rc = 0;
	if (out >= 0)
		close(out);
	close(in);
	return rc;
}

int pst_target_lib_path(pid_t pid, const char *lib, char *out, size_t outlen, char *err,
			size_t len)
{
	char there[PATH_MAX + 64], copy[64];

	snprintf(there, sizeof(there), "/proc/%d/root%s", (int)pid, lib);
	if (same_file(there, lib)) {
		snprintf(out, outlen, "%s", lib);
		return 0;
	}
	/* another mount namespace, where that path is another file or none */
	snprintf(copy, sizeof(copy), "/tmp/libprestanda-attach-%d.so", (int)getpid());
	snprintf(there, sizeof(there), "/proc/%d/root%s", (int)pid, copy);
	if (copy_file(lib, there)) {
		snprintf(err, len, "the process sees another file system (mount namespace) and %s could not be copied to its /tmp: %s",
			 lib, strerror(errno));
		return -1;
	}
	snprintf(out, outlen, "%s", copy);
	return 0;
}
