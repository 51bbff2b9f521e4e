/* SPDX-License-Identifier: MIT */
/* push's spool: profiles not sent yet, one file each, kept under a cap in bytes by dropping the oldest. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "push.h"

/*
 * A spooled profile is PREFIX + 20 digits of its start (realtime ns) +
 * ".pprof": names sort in time order, and a spool left by an earlier run
 * is sent first by the next one. The file holds the ingest query, a line
 * break, then the gzipped pprof. It is written under a dot name and
 * renamed, so that a crash never leaves half a profile to send.
 */
#define PREFIX "profile-"
#define SUFFIX ".pprof"

static bool spooled(const char *name)
{
	size_t n = strlen(name);

	return !strncmp(name, PREFIX, strlen(PREFIX)) && n > strlen(SUFFIX) &&
	       !strcmp(name + n - strlen(SUFFIX), SUFFIX);
}

static int mkdirs(const char *dir)
{
	char p[sizeof(((struct pst_spool *)0)->dir)];

	snprintf(p, sizeof(p), "%s", dir);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			if (mkdir(p, 0700) && errno != EEXIST)
				return -errno;
			*s = '/';
		}
	return mkdir(p, 0700) && errno != EEXIST ? -errno : 0;
}

int pst_spool_open(struct pst_spool *s, const char *dir, unsigned long long max)
{
	memset(s, 0, sizeof(*s));
	if (snprintf(s->dir, sizeof(s->dir), "%s", dir) >= (int)sizeof(s->dir))
		return -ENAMETOOLONG;
	s->max = max;
	return mkdirs(dir);
}

/* The spool's oldest file (name into oldest, when not NULL), how many
 * there are and their bytes. */
static void scan(const struct pst_spool *s, char *oldest, size_t len, size_t *files,
		 unsigned long long *bytes)
{
	DIR *d = opendir(s->dir);
	char best[256] = "";
	struct dirent *e;

	*files = 0;
	*bytes = 0;
	while (d && (e = readdir(d))) {
		struct stat st;

		if (!spooled(e->d_name) || fstatat(dirfd(d), e->d_name, &st, 0))
			continue;
		++*files;
		*bytes += (unsigned long long)st.st_size;
		if (!*best || strcmp(e->d_name, best) < 0)
			snprintf(best, sizeof(best), "%s", e->d_name);
	}
	if (d)
		closedir(d);
	if (oldest)
		snprintf(oldest, len, "%s%s%s", *best ? s->dir : "", *best ? "/" : "", best);
}

void pst_spool_usage(const struct pst_spool *s, size_t *files, unsigned long long *bytes)
{
	scan(s, NULL, 0, files, bytes);
}

int pst_spool_oldest(const struct pst_spool *s, char *path, size_t len)
{
	unsigned long long bytes;
	size_t files;

	scan(s, path, len, &files, &bytes);
	return files > 0;
}

static int write_file(const char *path, const char *query, const void *body, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	int r = 0;

	if (!f) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		return r;
	}
	if (fprintf(f, "%s\n", query) < 0 || fwrite(body, 1, len, f) != len || fflush(f) ||
	    fsync(fileno(f)))
		r = -(errno ? errno : EIO);
	if (fclose(f) && !r)
		r = -EIO;
	return r;
}

int pst_spool_put(struct pst_spool *s, uint64_t from_ns, const char *query, const void *body,
		  size_t len)
{
	char tmp[sizeof(s->dir) + 64], path[sizeof(s->dir) + 64];
	unsigned long long bytes;
	size_t files;
	int r;

	snprintf(tmp, sizeof(tmp), "%s/.%020llu.tmp", s->dir, (unsigned long long)from_ns);
	snprintf(path, sizeof(path), "%s/" PREFIX "%020llu" SUFFIX, s->dir,
		 (unsigned long long)from_ns);
	r = write_file(tmp, query, body, len);
	if (!r && rename(tmp, path))
		r = -errno;
	if (r) {
		unlink(tmp);
		return r;
	}
	/* Oldest first: a server that stays down loses its oldest hours
	 * first, and the spool never holds more than max. */
	for (scan(s, path, sizeof(path), &files, &bytes); bytes > s->max;
	     scan(s, path, sizeof(path), &files, &bytes)) {
		if (unlink(path))
			return -errno;
		s->dropped++;
	}
	return 0;
}

int pst_spool_read(const char *path, char **query, const char **body, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL, *nl;
	long n = -1;

	if (f && !fseek(f, 0, SEEK_END))
		n = ftell(f);
	if (n >= 0 && !fseek(f, 0, SEEK_SET))
		buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		int e = errno ? errno : EIO;

		free(buf);
		if (f)
			fclose(f);
		return -e;
	}
	fclose(f);
	buf[n] = 0;
	nl = memchr(buf, '\n', (size_t)n);
	if (!nl) {
		free(buf);
		return -EINVAL;
	}
	*nl = 0;
	*query = buf;
	*body = nl + 1;
	*len = (size_t)(buf + n - (nl + 1));
	return 0;
}
