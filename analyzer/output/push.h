/* SPDX-License-Identifier: MIT */
/* Continuous profiling into Pyroscope: a growing trace cut into one pprof an interval, each sent to the server's /ingest through a bounded spool. */
#ifndef PST_PUSH_H
#define PST_PUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Defaults: Pyroscope's own agents send every 10 s. */
#define PST_PUSH_INTERVAL 10.0
#define PST_PUSH_SPOOL_MAX (64ull << 20)

/* What run's and record's flags say; NULL and 0 are "not given", then the
 * JSON config's performance.push, then the defaults. */
struct pst_push_options {
	const char *url;	/* the server, "http://host:4040"; /ingest is added */
	const char *app;	/* application name (default: the trace's program) */
	const char *labels;	/* "key=value,..." */
	const char *spool;	/* directory of profiles not sent yet (default TRACE.push) */
	const char *token;	/* Authorization: Bearer TOKEN */
	const char *basic_auth; /* "user:password" */
	const char *tenant;	/* X-Scope-OrgID */
	double interval;	/* seconds one profile covers */
	unsigned long long spool_max; /* bytes the spool may hold */
	const char *config;	/* JSON config file, or NULL */
};

struct pst_push;

/*
 * Fill what o leaves unset from the config's performance.push (o->config;
 * NULL: none). The strings stay valid until pst_push_options_free. 0, or 2
 * after saying why (cmd names the command). *on: a URL was given.
 */
int pst_push_options_resolve(const char *cmd, struct pst_push_options *o, bool *on);
void pst_push_options_free(void);

/*
 * Start the pushing thread over trace, the file a recording is writing
 * (NULL: the first trace manifest lists, once it lists one). NULL after
 * saying why.
 */
struct pst_push *pst_push_start(const char *cmd, const struct pst_push_options *o,
				const char *trace, const char *manifest);

/*
 * The recording has ended: the last interval's profile, one more try at
 * sending the spool, and a line saying what was sent, what waits in the
 * spool and what was dropped. Frees p. 0, or 1 when something was lost.
 */
int pst_push_stop(struct pst_push *p);

/* ---- the parts, each in its file ---- */

/* push_profile.c: what a trace gained since the last cut. */
struct pst_push_prev;

struct pst_push_cut {
	char *buf;	       /* gzipped pprof (malloc) */
	size_t len;
	unsigned long hz;      /* samples per second (CPU), else 0 */
	char program[64];      /* the trace's program, for the default app name */
	int64_t total;	       /* sum of the profile's default values */
};

/*
 * The pprof of what the trace at path gained since the previous call with
 * *prev (NULL at first; pst_push_prev_free frees it), stamped
 * [from_ns, until_ns) of the realtime clock. 1: out filled; 0: nothing new;
 * -1: the trace cannot be read (yet).
 */
int pst_push_profile(struct pst_push_prev **prev, const char *path, uint64_t from_ns,
		     uint64_t until_ns, struct pst_push_cut *out);
void pst_push_prev_free(struct pst_push_prev *prev);
/* prev through a pipe: the cut is made in a child process, whose memory
 * goes back to the system when it ends, and hands the totals back. 0 or -1;
 * NULL when what came was short or not a table. */
int pst_push_prev_send(const struct pst_push_prev *prev, int fd);
/* n bytes at b to fd, or from it (rd): 0, or -1 when short. */
int pst_push_move(int fd, void *b, size_t n, bool rd);
struct pst_push_prev *pst_push_prev_recv(int fd);

/* push_spool.c: one file a profile, oldest first, never over max bytes. */
struct pst_spool {
	char dir[4096];
	unsigned long long max;
	unsigned long long dropped; /* profiles removed to stay under max */
};

/* Create dir (and its parents). 0, or -errno. */
int pst_spool_open(struct pst_spool *s, const char *dir, unsigned long long max);
/* Keep one profile: its ingest query and body, named so that names sort in
 * time order. Removes the oldest while the spool holds more than max. 0 or
 * -errno. */
int pst_spool_put(struct pst_spool *s, uint64_t from_ns, const char *query, const void *body,
		  size_t len);
/* The oldest profile's path into path: 1, or 0 when the spool is empty. */
int pst_spool_oldest(const struct pst_spool *s, char *path, size_t len);
/* Profiles and bytes in the spool now. */
void pst_spool_usage(const struct pst_spool *s, size_t *files, unsigned long long *bytes);
/* A spooled file split: its query, body and body length (malloc, free
 * *query). 0 or -errno. */
int pst_spool_read(const char *path, char **query, const char **body, size_t *len);

/* push_http.c: one POST to URL/ingest?QUERY, the body as the multipart
 * form field "profile". 0 sent; 1 try again later (no answer, 5xx, 429);
 * -1 the server refused it for good (other 4xx). why says what happened. */
int pst_push_post(const struct pst_push_options *o, const char *query, const void *body,
		  size_t len, char *why, size_t whylen);

#endif
