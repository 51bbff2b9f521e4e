/* SPDX-License-Identifier: MIT */
/* The session index (docs/FORMAT.md, "Sessions"): written by run into the session's directory, read back by report, flame and diff. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "grow.h"
#include "session.h"

#define MAGIC "prestanda-session 1"

bool pst_session_is(const char *path)
{
	char idx[PATH_MAX];
	struct stat st;

	if (stat(path, &st) || !S_ISDIR(st.st_mode))
		return false;
	snprintf(idx, sizeof(idx), "%s/" PST_SESSION_INDEX, path);
	return access(idx, R_OK) == 0;
}

/* s with tabs and line ends as spaces: one field of one line. */
static void put_field(FILE *f, const char *s)
{
	for (; s && *s; s++)
		fputc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, f);
}

int pst_session_write(const struct pst_session *s)
{
	char idx[PATH_MAX], tmp[PATH_MAX + 8];
	FILE *f;
	int bad;

	snprintf(idx, sizeof(idx), "%s/" PST_SESSION_INDEX, s->dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", idx);
	f = fopen(tmp, "we");
	if (!f)
		return -1;
	fprintf(f, MAGIC "\ncommand\t");
	put_field(f, s->command);
	fprintf(f, "\ntop\t%llu\nmain\t%llu\nstatus\t%d\n", (unsigned long long)s->top,
		(unsigned long long)s->main, s->status);
	for (size_t i = 0; i < s->ntraces; i++) {
		const struct pst_session_trace *t = &s->traces[i];

		fprintf(f, "trace\t%llu\t%llu\t%d\t", (unsigned long long)t->pid,
			(unsigned long long)t->ppid, t->ok);
		put_field(f, t->name);
		fputc('\t', f);
		put_field(f, t->path);
		fputc('\n', f);
	}
	bad = ferror(f);
	if (fclose(f) || bad || rename(tmp, idx)) {
		int err = errno ? errno : EIO;

		unlink(tmp);
		errno = err;
		return -1;
	}
	return 0;
}

int pst_session_add(struct pst_session *s, const struct pst_session_trace *t)
{
	struct pst_session_trace *n;

	if (pst_grow(&s->traces, &s->cap, s->ntraces + 1, sizeof(*s->traces), 8))
		return -1;
	n = &s->traces[s->ntraces];
	*n = *t;
	n->name = strdup(t->name ? t->name : "");
	n->path = strdup(t->path ? t->path : "");
	if (!n->name || !n->path) {
		free(n->name);
		free(n->path);
		return -1;
	}
	s->ntraces++;
	return 0;
}

/* One "trace" line's fields (after the key) into s. */
static int parse_trace(struct pst_session *s, char *v)
{
	struct pst_session_trace t = { 0 };
	char *f[5];
	int ok;

	for (int i = 0; i < 5; i++) {
		f[i] = v;
		v = i < 4 ? strchr(v, '\t') : NULL;
		if (i < 4 && !v)
			return -1;
		if (v)
			*v++ = 0;
	}
	t.pid = strtoull(f[0], NULL, 10);
	t.ppid = strtoull(f[1], NULL, 10);
	ok = atoi(f[2]);
	t.ok = ok != 0;
	t.name = f[3];
	t.path = f[4];
	return pst_session_add(s, &t);
}

static int parse_line(struct pst_session *s, char *line)
{
	char *v = strchr(line, '\t');

	if (!v)
		return -1;
	*v++ = 0;
	if (!strcmp(line, "command"))
		return (s->command = strdup(v)) ? 0 : -1;
	if (!strcmp(line, "top"))
		s->top = strtoull(v, NULL, 10);
	else if (!strcmp(line, "main"))
		s->main = strtoull(v, NULL, 10);
	else if (!strcmp(line, "status"))
		s->status = atoi(v);
	else if (!strcmp(line, "trace"))
		return parse_trace(s, v);
	return 0; /* a key a later version added */
}

static int read_index(struct pst_session *s, FILE *f, char *err, size_t errlen)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int no = 0, rc = 0;

	while (!rc && (n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = 0;
		if (!no++) {
			if (strcmp(line, MAGIC)) {
				snprintf(err, errlen, "%s: not a prestanda session index", s->dir);
				rc = -1;
			}
			continue;
		}
		if (parse_line(s, line)) {
			snprintf(err, errlen, "%s/" PST_SESSION_INDEX ": line %d cannot be read", s->dir,
				 no);
			rc = -1;
		}
	}
	if (!rc && !no) {
		snprintf(err, errlen, "%s/" PST_SESSION_INDEX ": empty", s->dir);
		rc = -1;
	}
	free(line);
	return rc;
}

int pst_session_open(const char *dir, struct pst_session **out, char *err, size_t errlen)
{
	struct pst_session *s = calloc(1, sizeof(*s));
	char idx[PATH_MAX];
	FILE *f;

	*out = NULL;
	if (!s || !(s->dir = strdup(dir))) {
		snprintf(err, errlen, "%s: out of memory", dir);
		free(s);
		return -1;
	}
	snprintf(idx, sizeof(idx), "%s/" PST_SESSION_INDEX, dir);
	f = fopen(idx, "re");
	if (!f) {
		snprintf(err, errlen, "%s: %s", idx, strerror(errno));
		pst_session_free(s);
		return -1;
	}
	if (read_index(s, f, err, errlen)) {
		fclose(f);
		pst_session_free(s);
		return -1;
	}
	fclose(f);
	*out = s;
	return 0;
}

const struct pst_session_trace *pst_session_last(const struct pst_session *s, uint64_t pid)
{
	const struct pst_session_trace *last = NULL, *last_ok = NULL;

	for (size_t i = 0; i < s->ntraces; i++) {
		if (s->traces[i].pid != pid)
			continue;
		last = &s->traces[i];
		if (last->ok)
			last_ok = last;
	}
	return last_ok ? last_ok : last;
}

const char *pst_session_path(const struct pst_session *s, const struct pst_session_trace *t,
			     char *buf, size_t len)
{
	if (t->path[0] == '/')
		snprintf(buf, len, "%s", t->path);
	else
		snprintf(buf, len, "%s/%s", s->dir, t->path);
	return buf;
}

void pst_session_free(struct pst_session *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->ntraces; i++) {
		free(s->traces[i].name);
		free(s->traces[i].path);
	}
	free(s->traces);
	free(s->command);
	free(s->dir);
	free(s);
}
