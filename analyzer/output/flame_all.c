/* SPDX-License-Identifier: MIT */
/* flame --all: one graph over every process of a session, each stack rooted at its program's name ([program]), drawn from their folded stacks. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flame.h"
#include "trace_read.h"

/*
 * Each process is its own address space: its stacks are symbolized with
 * its own modules (pst_flame_load), then written as folded lines under a
 * root frame "[program]", as perf's --sort comm groups them; the graph is
 * then drawn from those lines as from any folded file, so every format
 * (svg, folded, speedscope, pprof) comes out the same way. The values are
 * the metric's own: summed where two processes share a program and stack.
 */

/* The metric: the one asked for, else the first any process has. */
static const struct pst_metric *pick(const char *name, char *const *paths, int n)
{
	const struct pst_metric *const *list;
	size_t nm = pst_flame_metric_list(&list);
	char err[PATH_MAX + 256];

	if (name)
		return pst_flame_metric_find(name);
	for (size_t k = 0; k < nm; k++)
		for (int i = 0; i < n; i++) {
			struct pst_trace *t;
			bool has;

			if (pst_trace_open(paths[i], &t, err, sizeof(err)))
				continue;
			has = list[k]->present(t);
			pst_trace_close(t);
			if (has)
				return list[k];
		}
	return NULL;
}

/* One process's stacks of m as folded lines under [program] into f: how
 * many, or -errno (-ENODATA: the process has none of m). */
static long fold_one(FILE *f, const char *path, const struct pst_metric *m)
{
	struct pst_flame fl;
	int r = pst_flame_load(&fl, path, m);
	long n = 0;

	for (size_t i = 0; !r && i < fl.nstacks; i++) {
		if (!fl.stacks[i].value[0])
			continue;
		fprintf(f, "[%s];", fl.program ? fl.program : "?");
		pst_flame_put_folded_stack(f, &fl, &fl.stacks[i]);
		fprintf(f, " %" PRId64 "\n", fl.stacks[i].value[0]);
		n++;
	}
	pst_flame_release(&fl);
	return r ? r : n;
}

/* Every process's stacks into the file f: 0, or 1 after saying why. */
static int fold_all(FILE *f, char *const *paths, int n, const struct pst_metric *m)
{
	int with = 0;

	for (int i = 0; i < n; i++) {
		long r = fold_one(f, paths[i], m);

		if (r == -ENODATA)
			continue;
		if (r < 0) {
			fprintf(stderr, "prestanda: %s: %s\n", paths[i],
				r == -ENOMEM ? "out of memory" : "cannot be read");
			return 1;
		}
		with++;
	}
	if (!with) {
		fprintf(stderr, "prestanda: flame: no process has %s data\n", m->name);
		return 2;
	}
	return fflush(f) || ferror(f) ? 1 : 0;
}

int pst_flame_run_all(const struct pst_flame_options *o, const char *label)
{
	const struct pst_metric *m = pick(o->metric, o->paths, o->npaths);
	struct pst_flame_options one = *o;
	char tmp[] = "/tmp/prestanda-flame-all.XXXXXX", title[PATH_MAX + 128];
	char *paths[1] = { tmp };
	int fd, rc;
	FILE *f;

	if (!m) {
		fprintf(stderr, "prestanda: %s: no process has data to draw\n", label);
		return 2;
	}
	fd = mkstemp(tmp);
	f = fd < 0 ? NULL : fdopen(fd, "w+");
	if (!f) {
		fprintf(stderr, "prestanda: flame: a temporary file: %s\n", strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	rc = fold_all(f, o->paths, o->npaths, m);
	fclose(f);
	snprintf(title, sizeof(title), "%s: %s, %d processes", label, m->what, o->npaths);
	one.metric = m->name;
	one.paths = paths;
	one.npaths = 1;
	if (!one.svg.title)
		one.svg.title = title;
	if (!rc)
		rc = pst_flame_run(&one);
	unlink(tmp);
	return rc;
}
