/* SPDX-License-Identifier: MIT */
/* A process's loaded objects from /proc/PID/maps, with load bias and build id read from each ELF file. */
#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record.h"

/* The lowest mapping of one file: where its load bias comes from. */
struct first_map {
	uint64_t start, offset;
};

/* Bias and build id from the ELF program headers: the PT_LOAD whose page
 * holds the file offset fm.offset was mapped at fm.start. */
static int elf_info(struct pst_pmod *m, struct first_map fm)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t mask = ~(uint64_t)(page - 1);
	const void *id;
	size_t nph;
	ssize_t idlen;
	Elf *elf;
	int fd, rc = -ENOENT;

	fd = open(m->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || elf_getphdrnum(elf, &nph))
		goto out;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if ((ph.p_offset & mask) != fm.offset)
			continue;
		m->bias = fm.start - (ph.p_vaddr & mask);
		rc = 0;
		break;
	}
	idlen = dwelf_elf_gnu_build_id(elf, &id);
	if (idlen > 0 && (size_t)idlen <= sizeof(m->build_id)) {
		memcpy(m->build_id, id, (size_t)idlen);
		m->build_id_len = (size_t)idlen;
	}
out:
	if (elf)
		elf_end(elf);
	close(fd);
	return rc;
}

static struct pst_pmod *find_path(struct pst_pmod *v, int n, const char *path)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(v[i].path, path))
			return &v[i];
	return NULL;
}

int pst_procmaps_read(pid_t pid, struct pst_pmod **out)
{
	struct pst_pmod *v = NULL, *m;
	struct first_map *first = NULL;
	char name[64], *line = NULL;
	size_t cap = 0;
	int n = 0, vcap = 0;
	FILE *f;

	elf_version(EV_CURRENT);
	snprintf(name, sizeof(name), "/proc/%d/maps", (int)pid);
	f = fopen(name, "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		uint64_t start, end, offset;
		char perms[8], *path, *nl;
		int pos = 0;

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*s %*s %n", &start, &end,
			   perms, &offset, &pos) < 4 || !pos)
			continue;
		path = line + pos;
		nl = strchr(path, '\n');
		if (nl)
			*nl = 0;
		if (path[0] != '/')
			continue;
		m = find_path(v, n, path);
		if (!m) {
			if (n == vcap) {
				int nc = vcap ? 2 * vcap : 32;
				void *nv = realloc(v, nc * sizeof(*v)), *nf;

				if (!nv)
					break;
				v = nv;
				nf = realloc(first, nc * sizeof(*first));
				if (!nf)
					break;
				first = nf;
				vcap = nc;
			}
			m = &v[n];
			memset(m, 0, sizeof(*m));
			m->path = strdup(path);
			if (!m->path)
				break;
			m->lo = start;
			m->hi = end;
			first[n].start = start;
			first[n].offset = offset;
			n++;
			continue;
		}
		if (start < m->lo)
			m->lo = start;
		if (end > m->hi)
			m->hi = end;
		if (offset < first[m - v].offset) {
			first[m - v].start = start;
			first[m - v].offset = offset;
		}
	}
	free(line);
	fclose(f);
	/* Keep ELF objects only: data files mapped by the program are not code. */
	for (int i = 0; i < n;) {
		if (elf_info(&v[i], first[i])) {
			free(v[i].path);
			v[i] = v[n - 1];
			first[i] = first[n - 1];
			n--;
			continue;
		}
		i++;
	}
	free(first);
	*out = v;
	return n;
}

void pst_procmaps_free(struct pst_pmod *m, int n)
{
	for (int i = 0; i < n; i++)
		free(m[i].path);
	free(m);
}
