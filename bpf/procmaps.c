/* SPDX-License-Identifier: MIT */
/* A process's loaded objects from /proc/PID/maps, with load bias and build id read from each ELF file, also in another mount namespace. */
#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "record.h"

/* The lowest mapping of one file: where its load bias comes from. */
struct first_map {
	uint64_t start, offset;
	dev_t dev;
	ino_t ino;
};

/* What is read from one ELF file, kept for every process that maps it:
 * the page-aligned offsets and addresses of its PT_LOADs and its build id. */
#define MAX_LOADS 8
#define ELF_BUCKETS 1024

struct elf_file {
	dev_t dev;
	ino_t ino;
	int64_t mtime_ns;
	off_t size;
	int rc; /* 0, or why it is no ELF object */
	int nloads;
	uint64_t load_off[MAX_LOADS], load_vaddr[MAX_LOADS];
	uint8_t build_id[64];
	size_t build_id_len;
	struct elf_file *next;
};

static struct elf_file *elf_files[ELF_BUCKETS];

static int elf_read(struct elf_file *ef, const char *path)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t mask = ~(uint64_t)(page - 1);
	const void *id;
	size_t nph;
	ssize_t idlen;
	Elf *elf;
	int fd;

	ef->rc = -ENOENT;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ef->rc = -errno;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || elf_getphdrnum(elf, &nph))
		goto out;
	for (size_t i = 0; i < nph && ef->nloads < MAX_LOADS; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		ef->load_off[ef->nloads] = ph.p_offset & mask;
		ef->load_vaddr[ef->nloads++] = ph.p_vaddr & mask;
		ef->rc = 0;
	}
	idlen = dwelf_elf_gnu_build_id(elf, &id);
	if (idlen > 0 && (size_t)idlen <= sizeof(ef->build_id)) {
		memcpy(ef->build_id, id, (size_t)idlen);
		ef->build_id_len = (size_t)idlen;
	}
out:
	if (elf)
		elf_end(elf);
	close(fd);
	return ef->rc;
}

/* The file at path, read once per (device, inode, mtime, size) while that
 * is still what the process mapped (dev, ino from its maps line); a file
 * replaced since is read on its own and not kept. */
static const struct elf_file *elf_file(const char *path, dev_t dev, ino_t ino,
				       struct elf_file *scratch)
{
	struct stat st;
	struct elf_file *ef;
	unsigned b;

	memset(scratch, 0, sizeof(*scratch));
	if (stat(path, &st) || st.st_dev != dev || st.st_ino != ino) {
		elf_read(scratch, path);
		return scratch;
	}
	b = (unsigned)((ino * 0x9e3779b97f4a7c15ull ^ dev) >> 40) % ELF_BUCKETS;
	for (ef = elf_files[b]; ef; ef = ef->next)
		if (ef->dev == dev && ef->ino == ino && ef->size == st.st_size &&
		    ef->mtime_ns == (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec)
			return ef;
	ef = calloc(1, sizeof(*ef));
	if (!ef) {
		elf_read(scratch, path);
		return scratch;
	}
	ef->dev = dev;
	ef->ino = ino;
	ef->size = st.st_size;
	ef->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	elf_read(ef, path);
	ef->next = elf_files[b];
	elf_files[b] = ef;
	return ef;
}

void pst_procmaps_cache_free(void)
{
	for (unsigned b = 0; b < ELF_BUCKETS; b++) {
		for (struct elf_file *ef = elf_files[b], *n; ef; ef = n) {
			n = ef->next;
			free(ef);
		}
		elf_files[b] = NULL;
	}
}

/* Bias and build id: the PT_LOAD whose page holds the file offset
 * fm.offset was mapped at fm.start. */
static int elf_info(struct pst_pmod *m, struct first_map fm)
{
	struct elf_file scratch;
	const struct elf_file *ef = elf_file(m->path, fm.dev, fm.ino, &scratch);

	if (ef->rc)
		return ef->rc;
	for (int i = 0; i < ef->nloads; i++) {
		if (ef->load_off[i] != fm.offset)
			continue;
		m->bias = fm.start - ef->load_vaddr[i];
		memcpy(m->build_id, ef->build_id, ef->build_id_len);
		m->build_id_len = ef->build_id_len;
		return 0;
	}
	return -ENOENT;
}

/*
 * Objects a process sees in its own mount namespace (a container's root, a
 * private mount) but we do not, or see as another file, are read through
 * /proc/PID/root, and copied while the process lives into keep_dir (next to
 * the trace), named by build id as perf's build-id cache does, so that the
 * trace can be symbolized after it ends.
 */
static char keep_dir[PATH_MAX];

int pst_procmaps_keep_in(const char *dir)
{
	if (strlen(dir) >= sizeof(keep_dir))
		return -ENAMETOOLONG;
	strcpy(keep_dir, dir);
	return 0;
}

/* Does pid see the file system as we do (same mount namespace and root)? */
static bool same_view(pid_t pid)
{
	struct stat a, b;
	char p[64];

	snprintf(p, sizeof(p), "/proc/%d/ns/mnt", (int)pid);
	if (stat(p, &a) || stat("/proc/self/ns/mnt", &b) || a.st_ino != b.st_ino)
		return false;
	snprintf(p, sizeof(p), "/proc/%d/root", (int)pid);
	return !stat(p, &a) && !stat("/", &b) && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* The process's own path to its object when ours is missing or another
 * file: /proc/PID/root/PATH in theirs, false when ours will do (or theirs
 * cannot be reached: the process is gone). */
static bool foreign_path(pid_t pid, const char *path, char *theirs, size_t len)
{
	struct stat a, b;

	if ((size_t)snprintf(theirs, len, "/proc/%d/root%s", (int)pid, path) >= len ||
	    stat(theirs, &b))
		return false;
	return stat(path, &a) || a.st_dev != b.st_dev || a.st_ino != b.st_ino;
}

/* Copy src to dst through a temporary name: 0 or -errno. */
static int copy_file(const char *src, const char *dst)
{
	char tmp[PATH_MAX + 16];
	int in, out, rc = 0;
	struct stat st;
	off_t off = 0;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	if (fstat(in, &st) || !S_ISREG(st.st_mode)) {
		rc = errno ? -errno : -EINVAL;
		goto out_in;
	}
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", dst, (int)getpid());
	out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
	if (out < 0) {
		rc = -errno;
		goto out_in;
	}
	while (off < st.st_size) {
		ssize_t n = sendfile(out, in, &off, (size_t)(st.st_size - off));

		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			break;
		}
	}
	if (close(out) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, dst))
		rc = -errno;
	if (rc)
		unlink(tmp);
out_in:
	close(in);
	return rc;
}

/* keep_dir/BUILDID/NAME, a copy of m->path (the process's own view), made
 * once: m->path becomes it. Without keep_dir, or when copying fails, the
 * path stays /proc/PID/root/PATH, readable while the process lives. */
static void keep_copy(struct pst_pmod *m, const char *name)
{
	static bool warned;
	char dir[PATH_MAX], dst[PATH_MAX], id[2 * sizeof(m->build_id) + 1];
	struct stat st;
	int rc;

	if (!keep_dir[0])
		return;
	if (m->build_id_len) {
		for (size_t i = 0; i < m->build_id_len; i++)
			sprintf(id + 2 * i, "%02x", m->build_id[i]);
	} else if (!stat(m->path, &st)) {
		snprintf(id, sizeof(id), "noid-%llx-%llx-%llx", (unsigned long long)st.st_dev,
			 (unsigned long long)st.st_ino, (unsigned long long)st.st_size);
	} else {
		return;
	}
	if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", keep_dir, id) >= sizeof(dir) ||
	    (size_t)snprintf(dst, sizeof(dst), "%s/%s", dir, name) >= sizeof(dst))
		return;
	rc = access(dst, R_OK) ? 0 : 1;
	if (!rc && ((mkdir(keep_dir, 0700) && errno != EEXIST) || (mkdir(dir, 0700) && errno != EEXIST)))
		rc = -errno;
	if (!rc)
		rc = copy_file(m->path, dst);
	if (rc < 0) {
		if (!warned)
			fprintf(stderr, "prestanda: record: cannot keep a copy of %s (seen only in the process's mount namespace) in %s: %s; it is readable while the process runs\n",
				m->path, keep_dir, strerror(-rc));
		warned = true;
		return;
	}
	free(m->path);
	m->path = strdup(dst);
}

static struct pst_pmod *find_path(struct pst_pmod *v, int n, const char *path)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(v[i].path, path))
			return &v[i];
	return NULL;
}

/* The objects read so far, with where each one's first mapping lies. */
struct maps {
	struct pst_pmod *v;
	struct first_map *first;
	int n, cap;
};

/* A new object at path: NULL without memory. */
static struct pst_pmod *maps_add(struct maps *ms, const char *path)
{
	struct pst_pmod *m;

	if (ms->n == ms->cap) {
		int nc = ms->cap ? 2 * ms->cap : 32;
		void *nv = realloc(ms->v, nc * sizeof(*ms->v)), *nf;

		if (!nv)
			return NULL;
		ms->v = nv;
		nf = realloc(ms->first, nc * sizeof(*ms->first));
		if (!nf)
			return NULL;
		ms->first = nf;
		ms->cap = nc;
	}
	m = &ms->v[ms->n];
	memset(m, 0, sizeof(*m));
	m->path = strdup(path);
	if (!m->path)
		return NULL;
	ms->n++;
	return m;
}

/* One line of /proc/PID/maps: a file-backed mapping widens its object's
 * range (a new object for a new path). 0, or -1 without memory. */
static int maps_line(struct maps *ms, char *line)
{
	uint64_t start, end, offset, ino;
	unsigned major, minor;
	char perms[8], *path, *nl;
	struct pst_pmod *m;
	struct first_map fm;
	int pos = 0;

	if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %x:%x %" SCNu64 " %n", &start,
		   &end, perms, &offset, &major, &minor, &ino, &pos) < 7 || !pos)
		return 0;
	path = line + pos;
	nl = strchr(path, '\n');
	if (nl)
		*nl = 0;
	if (path[0] != '/')
		return 0;
	fm = (struct first_map){ start, offset, makedev(major, minor), (ino_t)ino };
	m = find_path(ms->v, ms->n, path);
	if (!m) {
		m = maps_add(ms, path);
		if (!m)
			return -1;
		m->lo = start;
		m->hi = end;
		ms->first[m - ms->v] = fm;
		return 0;
	}
	if (start < m->lo)
		m->lo = start;
	if (end > m->hi)
		m->hi = end;
	if (offset < ms->first[m - ms->v].offset)
		ms->first[m - ms->v] = fm;
	return 0;
}

/* Keep ELF objects only: data files mapped by the program are not code.
 * Paths seen only in the process's mount namespace are read through it,
 * and a copy kept. */
static void maps_keep_elf(pid_t pid, struct maps *ms)
{
	bool same = same_view(pid);

	for (int i = 0; i < ms->n;) {
		char theirs[PATH_MAX + 32], *name = NULL;
		struct pst_pmod *m = &ms->v[i];

		if (!same && foreign_path(pid, m->path, theirs, sizeof(theirs))) {
			name = m->path;
			m->path = strdup(theirs);
			if (!m->path) {
				m->path = name;
				name = NULL;
			}
		}
		if (elf_info(m, ms->first[i])) {
			free(m->path);
			free(name);
			*m = ms->v[ms->n - 1];
			ms->first[i] = ms->first[ms->n - 1];
			ms->n--;
			continue;
		}
		if (name)
			keep_copy(m, strrchr(name, '/') + 1);
		free(name);
		i++;
	}
}

int pst_procmaps_read(pid_t pid, struct pst_pmod **out)
{
	struct maps ms = { 0 };
	char name[64], *line = NULL;
	size_t cap = 0;
	FILE *f;

	elf_version(EV_CURRENT);
	snprintf(name, sizeof(name), "/proc/%d/maps", (int)pid);
	f = fopen(name, "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0)
		if (maps_line(&ms, line))
			break;
	free(line);
	fclose(f);
	maps_keep_elf(pid, &ms);
	free(ms.first);
	*out = ms.v;
	return ms.n;
}

void pst_procmaps_free(struct pst_pmod *m, int n)
{
	for (int i = 0; i < n; i++)
		free(m[i].path);
	free(m);
}
