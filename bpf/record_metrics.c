/* SPDX-License-Identifier: MIT */
/* `prestanda record -a --metrics-textfile DIR`: CPU seconds sampled per process, in the Prometheus text format for node_exporter's textfile collector. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "record.h"

/*
 * One counter per process: its on-CPU samples so far divided by the
 * frequency, the CPU time the samples stand for. Written after each
 * drain, as the preload writes its own file (a temporary, then a rename);
 * a process that has ended leaves the file, its series goes stale. The
 * file goes when record ends.
 */
struct recm_proc {
	uint32_t pid;
	uint64_t samples;
	char comm[64];
	struct recm_proc *next;
};

struct pst_recm {
	char path[PATH_MAX], tmp[PATH_MAX];
	const long *hz; /* the options' frequency: -F may come after this option */
	struct recm_proc *procs;
	bool warned;
};

struct pst_recm *pst_recm_new(const char *dir, const long *hz)
{
	struct pst_recm *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->hz = hz;
	if (snprintf(m->path, sizeof(m->path), "%s/prestanda-record-%d.prom", dir, (int)getpid()) >=
		    (int)sizeof(m->path) ||
	    snprintf(m->tmp, sizeof(m->tmp), "%s/.prestanda-record-%d.prom.tmp", dir, (int)getpid()) >=
		    (int)sizeof(m->tmp)) {
		free(m);
		errno = ENAMETOOLONG;
		return NULL;
	}
	return m;
}

/* The process's name as a label value: what would end it replaced. */
static void read_comm(uint32_t pid, char *out, size_t len)
{
	char p[64];
	FILE *f;
	size_t n = 0;

	snprintf(p, sizeof(p), "/proc/%u/comm", pid);
	f = fopen(p, "re");
	if (f) {
		n = fread(out, 1, len - 1, f);
		fclose(f);
	}
	out[n] = 0;
	out[strcspn(out, "\n")] = 0;
	for (char *c = out; *c; c++)
		if (*c == '"' || *c == '\\' || (unsigned char)*c < ' ')
			*c = '_';
}

void pst_recm_add(struct pst_recm *m, uint32_t pid, uint64_t samples)
{
	struct recm_proc *p;

	if (!m)
		return;
	for (p = m->procs; p && p->pid != pid; p = p->next)
		;
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p)
			return;
		p->pid = pid;
		read_comm(pid, p->comm, sizeof(p->comm));
		p->next = m->procs;
		m->procs = p;
	}
	p->samples += samples;
}

/* Processes that have ended leave the list (and the file). */
static void prune(struct pst_recm *m)
{
	for (struct recm_proc **pp = &m->procs, *p; (p = *pp);) {
		if (p->pid && kill((pid_t)p->pid, 0) && errno == ESRCH) {
			*pp = p->next;
			free(p);
		} else
			pp = &p->next;
	}
}

static int write_file(const struct pst_recm *m, FILE *f)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	fputs("# HELP prestanda_sampled_cpu_seconds_total CPU time of the process as prestanda record "
	      "sampled it (samples / frequency).\n"
	      "# TYPE prestanda_sampled_cpu_seconds_total counter\n",
	      f);
	for (const struct recm_proc *p = m->procs; p; p = p->next)
		fprintf(f, "prestanda_sampled_cpu_seconds_total{comm=\"%s\",pid=\"%u\"} %.9g\n", p->comm,
			p->pid, (double)p->samples / (double)*m->hz);
	fprintf(f,
		"# HELP prestanda_record_last_write_timestamp_seconds When prestanda record wrote this "
		"file (Unix time): a file that stops moving is stale.\n"
		"# TYPE prestanda_record_last_write_timestamp_seconds gauge\n"
		"prestanda_record_last_write_timestamp_seconds %lld.%09ld\n",
		(long long)now.tv_sec, now.tv_nsec);
	return ferror(f) ? -1 : 0;
}

/* After each drain. A failure is said once; recording goes on. */
void pst_recm_write(struct pst_recm *m)
{
	FILE *f;
	int rc;

	if (!m)
		return;
	prune(m);
	f = fopen(m->tmp, "we");
	rc = f ? write_file(m, f) : -1;
	if (f && fclose(f))
		rc = -1;
	if (!rc && !rename(m->tmp, m->path))
		return;
	if (!m->warned)
		fprintf(stderr, "prestanda: record: metrics textfile %s: %s\n", m->path, strerror(errno));
	m->warned = true;
	unlink(m->tmp);
}

/* Removes the file: record is over. */
void pst_recm_free(struct pst_recm *m)
{
	if (!m)
		return;
	unlink(m->path);
	unlink(m->tmp);
	while (m->procs) {
		struct recm_proc *p = m->procs;

		m->procs = p->next;
		free(p);
	}
	free(m);
}
