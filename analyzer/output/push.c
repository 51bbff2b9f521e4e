/* SPDX-License-Identifier: MIT */
/* push: the thread that cuts a growing trace into one profile an interval, spools it and sends the spool to Pyroscope with backoff. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "push.h"
#include "push_curl.h"

/* Retries wait BACKOFF_MIN_S, twice that, and so on up to four intervals
 * (at most BACKOFF_MAX_S), each shortened by a random share of up to half
 * so that a fleet that lost its server does not come back all at once. */
#define BACKOFF_MIN_S 0.5
#define BACKOFF_MAX_S 300.0

struct pst_push {
	struct pst_push_options o;
	const char *cmd;
	char trace[PATH_MAX], manifest[PATH_MAX], spool_dir[PATH_MAX];
	struct pst_spool spool;
	struct pst_push_prev *prev;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stopping;
	uint64_t cut_ns;  /* realtime: where the next profile starts */
	uint64_t next_cut; /* monotonic: when it is cut */
	uint64_t retry_at; /* monotonic: no upload before */
	double backoff;	   /* seconds; 0 while the server answers */
	bool down;	   /* said so once */
	unsigned long long sent, refused, lost;
};

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- options ---- */

static struct pst_settings cfg;
static bool cfg_loaded;

static void take_str(const char **dst, const char *src)
{
	if (!*dst)
		*dst = src;
}

int pst_push_options_resolve(const char *cmd, struct pst_push_options *o, bool *on)
{
	char err[600];

	if (o->config && !cfg_loaded) {
		if (pst_settings_load(o->config, NULL, NULL, &cfg, err, sizeof(err))) {
			fprintf(stderr, "prestanda: %s: %s\n", cmd, err);
			return 2;
		}
		cfg_loaded = true;
	}
	take_str(&o->url, cfg.push.url);
	take_str(&o->app, cfg.push.app);
	take_str(&o->labels, cfg.push.labels);
	take_str(&o->spool, cfg.push.spool);
	take_str(&o->token, cfg.push.token);
	take_str(&o->basic_auth, cfg.push.basic_auth);
	take_str(&o->tenant, cfg.push.tenant);
	if (!o->interval)
		o->interval = cfg.push.interval ? cfg.push.interval : PST_PUSH_INTERVAL;
	if (!o->spool_max)
		o->spool_max = cfg.push.spool_max ? (unsigned long long)cfg.push.spool_max
						  : PST_PUSH_SPOOL_MAX;
	*on = o->url != NULL;
	if (*on && strncmp(o->url, "http://", 7) && strncmp(o->url, "https://", 8)) {
		fprintf(stderr, "prestanda: %s: --push %s: not an http:// or https:// URL\n", cmd,
			o->url);
		return 2;
	}
	return 0;
}

void pst_push_options_free(void)
{
	if (cfg_loaded)
		pst_settings_free(&cfg);
	cfg_loaded = false;
}

/* ---- one interval ---- */

/* s into d %-encoded as a query value. */
static void put_escaped(char *d, size_t len, const char *s)
{
	size_t at = strlen(d);

	for (; *s && at + 4 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-_.~", c))
			d[at++] = (char)c;
		else
			at += (size_t)snprintf(d + at, len - at, "%%%02X", c);
	}
	d[at] = 0;
}

/* The default application name: the program's, in the letters an app
 * name takes ("[host]" of record -a becomes "host"). */
static void app_name(const char *program, char *d, size_t len)
{
	size_t at = 0;

	for (; *program && at + 1 < len; program++)
		if (isalnum((unsigned char)*program) || strchr("._-", *program))
			d[at++] = *program;
	d[at] = 0;
	if (!at)
		snprintf(d, len, "prestanda");
}

/* Pyroscope's ingest query for the profile cut over [from, until). */
static void make_query(const struct pst_push *p, const struct pst_push_cut *c, uint64_t from,
		       uint64_t until, char *q, size_t len)
{
	char name[1024], app[sizeof(c->program)];
	unsigned long long f = from / 1000000000u, u = until / 1000000000u;

	app_name(c->program, app, sizeof(app));
	snprintf(name, sizeof(name), "%s%s%s%s", p->o.app ? p->o.app : app,
		 p->o.labels ? "{" : "", p->o.labels ? p->o.labels : "", p->o.labels ? "}" : "");
	snprintf(q, len, "name=");
	put_escaped(q, len, name);
	snprintf(q + strlen(q), len - strlen(q),
		 "&from=%llu&until=%llu&format=pprof&spyName=prestanda", f, u > f ? u : f + 1);
	if (c->hz)
		snprintf(q + strlen(q), len - strlen(q), "&sampleRate=%lu", c->hz);
}

/* The trace's path: given, or the first the manifest lists. */
static const char *trace_path(struct pst_push *p)
{
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (*p->trace || !*p->manifest)
		return *p->trace ? p->trace : NULL;
	f = fopen(p->manifest, "re");
	while (f && (n = getline(&line, &cap, f)) > 0)
		if (line[0] == '/') {
			line[n - (line[n - 1] == '\n')] = 0;
			snprintf(p->trace, sizeof(p->trace), "%s", line);
			break;
		}
	free(line);
	if (f)
		fclose(f);
	return *p->trace ? p->trace : NULL;
}

/* Where profiles wait: --push-spool, else TRACE.push beside the trace. */
static int spool_ready(struct pst_push *p, const char *trace)
{
	int r;

	if (*p->spool.dir)
		return 0;
	if (snprintf(p->spool_dir, sizeof(p->spool_dir), "%s%s", p->o.spool ? p->o.spool : trace,
		     p->o.spool ? "" : ".push") >= (int)sizeof(p->spool_dir))
		return -ENAMETOOLONG;
	r = pst_spool_open(&p->spool, p->spool_dir, p->o.spool_max);
	if (r) {
		fprintf(stderr, "prestanda: %s: push: spool %s: %s\n", p->cmd, p->spool_dir,
			strerror(-r));
		p->spool.dir[0] = 0;
	}
	return r;
}

/* What a cut's child tells its parent; then come the profile's bytes and
 * the totals now. */
struct cut_result {
	int r;		       /* pst_push_profile's */
	size_t len;	       /* the profile's bytes */
	unsigned long hz;
	char program[sizeof(((struct pst_push_cut *)0)->program)];
};

/* In the child: cut [cut_ns, until), everything to fd. 0 or 1. */
static int cut_child(struct pst_push *p, const char *trace, uint64_t until, int fd)
{
	struct cut_result res = { 0 };
	struct pst_push_cut c;

	res.r = pst_push_profile(&p->prev, trace, p->cut_ns, until, &c);
	if (res.r > 0) {
		res.len = c.len;
		res.hz = c.hz;
		memcpy(res.program, c.program, sizeof(res.program));
	}
	if (pst_push_move(fd, &res, sizeof(res), false) ||
	    (res.r > 0 && pst_push_move(fd, c.buf, c.len, false)))
		return 1;
	return res.r >= 0 && pst_push_prev_send(p->prev, fd) ? 1 : 0;
}

/* In the parent: the child's profile into the spool, its totals kept. All
 * of it or none: 0, or -1 (the interval then goes with the next cut). */
static int cut_collect(struct pst_push *p, int fd, pid_t pid, uint64_t until)
{
	struct cut_result res;
	struct pst_push_prev *prev = NULL;
	struct pst_push_cut c = { 0 };
	char query[2048];
	int st = 0, r;

	if (!pst_push_move(fd, &res, sizeof(res), true) && res.r >= 0 &&
	    (res.r == 0 || ((c.buf = malloc(res.len + 1)) &&
			    !pst_push_move(fd, c.buf, res.len, true))))
		prev = pst_push_prev_recv(fd);
	close(fd);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	r = prev && WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : -1;
	if (!r && res.r > 0) {
		c.len = res.len;
		c.hz = res.hz;
		memcpy(c.program, res.program, sizeof(c.program));
		make_query(p, &c, p->cut_ns, until, query, sizeof(query));
		r = pst_spool_put(&p->spool, p->cut_ns, query, c.buf, c.len);
		if (r)
			fprintf(stderr, "prestanda: %s: push: spool %s: %s\n", p->cmd, p->spool.dir,
				strerror(-r));
	}
	free(c.buf);
	if (r) {
		pst_push_prev_free(prev);
		return -1;
	}
	pst_push_prev_free(p->prev);
	p->prev = prev;
	return 0;
}

/*
 * Cut the profile of [cut_ns, now) into the spool. Reading the trace and
 * its programs' debug information takes memory in proportion to them, so
 * it is done in a child process: the pushing process keeps only the last
 * totals, however long it runs. The trace not readable yet (or the spool
 * not ready) leaves the interval to the next cut.
 */
static void cut(struct pst_push *p)
{
	const char *trace = trace_path(p);
	uint64_t until = now_ns(CLOCK_REALTIME);
	int fds[2];
	pid_t pid;

	if (!trace || spool_ready(p, trace) || pipe2(fds, O_CLOEXEC))
		return;
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		_exit(cut_child(p, trace, until, fds[1]));
	}
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return;
	}
	if (!cut_collect(p, fds[0], pid, until))
		p->cut_ns = until;
}

/* ---- sending ---- */

static void failed(struct pst_push *p, const char *why)
{
	double cap = 4 * p->o.interval < BACKOFF_MAX_S ? 4 * p->o.interval : BACKOFF_MAX_S;
	double wait;

	if (!p->down)
		fprintf(stderr, "prestanda: %s: push: %s: %s; profiles wait in %s\n", p->cmd,
			p->o.url, why, p->spool.dir);
	p->down = true;
	p->backoff = p->backoff ? p->backoff * 2 : BACKOFF_MIN_S;
	if (p->backoff > cap)
		p->backoff = cap;
	wait = p->backoff * (0.5 + 0.5 * (double)random() / RAND_MAX);
	p->retry_at = now_ns(CLOCK_MONOTONIC) + (uint64_t)(wait * 1e9);
}

/* Send the oldest spooled profile: 1 sent (or refused for good, and
 * removed), 0 nothing to send or not now. */
static int send_one(struct pst_push *p)
{
	char path[PATH_MAX + 300], why[CURL_ERROR_SIZE + 64], *query;
	const char *body;
	size_t len;
	int r;

	if (!*p->spool.dir || now_ns(CLOCK_MONOTONIC) < p->retry_at ||
	    !pst_spool_oldest(&p->spool, path, sizeof(path)))
		return 0;
	if (pst_spool_read(path, &query, &body, &len)) {
		unlink(path); /* not a profile this spool wrote: not sendable either */
		p->lost++;
		return 1;
	}
	r = pst_push_post(&p->o, query, body, len, why, sizeof(why));
	free(query);
	if (r > 0) {
		failed(p, why);
		return 0;
	}
	if (r < 0) {
		fprintf(stderr, "prestanda: %s: push: %s refused %s: %s\n", p->cmd, p->o.url, path,
			why);
		p->refused++;
	} else {
		if (p->down)
			fprintf(stderr, "prestanda: %s: push: %s answers again\n", p->cmd, p->o.url);
		p->down = false;
		p->backoff = 0;
		p->sent++;
	}
	unlink(path);
	return 1;
}

/* ---- the thread ---- */

static void wait_until(struct pst_push *p, uint64_t mono)
{
	uint64_t rt = now_ns(CLOCK_REALTIME), now = now_ns(CLOCK_MONOTONIC);
	uint64_t at = rt + (mono > now ? mono - now : 0);
	struct timespec ts = { (time_t)(at / 1000000000u), (long)(at % 1000000000u) };

	pthread_mutex_lock(&p->mu);
	while (!p->stopping && pthread_cond_timedwait(&p->cv, &p->mu, &ts) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&p->mu);
}

static bool stopping(struct pst_push *p)
{
	bool s;

	pthread_mutex_lock(&p->mu);
	s = p->stopping;
	pthread_mutex_unlock(&p->mu);
	return s;
}

static void *push_thread(void *arg)
{
	struct pst_push *p = arg;
	uint64_t step = (uint64_t)(p->o.interval * 1e9);

	while (!stopping(p)) {
		if (now_ns(CLOCK_MONOTONIC) >= p->next_cut) {
			cut(p);
			p->next_cut += step;
			/* a cut that took longer than the interval: the next one
			 * an interval on, its profile longer, so that sending
			 * still gets its turn */
			if (p->next_cut < now_ns(CLOCK_MONOTONIC))
				p->next_cut = now_ns(CLOCK_MONOTONIC) + step;
		}
		while (!stopping(p) && send_one(p) && now_ns(CLOCK_MONOTONIC) < p->next_cut)
			;
		wait_until(p, p->retry_at > now_ns(CLOCK_MONOTONIC) && p->retry_at < p->next_cut
				      ? p->retry_at
				      : p->next_cut);
	}
	return NULL;
}

struct pst_push *pst_push_start(const char *cmd, const struct pst_push_options *o,
				const char *trace, const char *manifest)
{
	struct pst_push *p;
	sigset_t all, old;
	char why[300];

	if (!pst_curl_open(why, sizeof(why))) {
		fprintf(stderr, "prestanda: %s: push: cannot start: %s\n", cmd, why);
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p || pst_curl.global_init(CURL_GLOBAL_DEFAULT)) {
		fprintf(stderr, "prestanda: %s: push: cannot start: out of memory\n", cmd);
		free(p);
		return NULL;
	}
	p->o = *o;
	p->cmd = cmd;
	snprintf(p->trace, sizeof(p->trace), "%s", trace ? trace : "");
	snprintf(p->manifest, sizeof(p->manifest), "%s", manifest ? manifest : "");
	p->cut_ns = now_ns(CLOCK_REALTIME);
	p->next_cut = now_ns(CLOCK_MONOTONIC) + (uint64_t)(o->interval * 1e9);
	srandom((unsigned)(p->cut_ns ^ (uint64_t)getpid()));
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	/* signals stay the recording's: the thread takes none */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (pthread_create(&p->thread, NULL, push_thread, p)) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		fprintf(stderr, "prestanda: %s: push: cannot start its thread\n", cmd);
		free(p);
		return NULL;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return p;
}

int pst_push_stop(struct pst_push *p)
{
	unsigned long long bytes;
	size_t files = 0;

	if (!p)
		return 0;
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	/* the trace is whole now: its last interval, then the spool once more
	 * (a server still down gets it from the next run with this spool) */
	cut(p);
	p->retry_at = 0;
	while (send_one(p))
		;
	if (*p->spool.dir)
		pst_spool_usage(&p->spool, &files, &bytes);
	fprintf(stderr,
		"prestanda: %s: push: %llu profiles sent to %s; %zu waiting in %s; %llu dropped "
		"to keep the spool under %llu bytes\n",
		p->cmd, p->sent, p->o.url, files, *p->spool.dir ? p->spool.dir : "(no spool)",
		p->spool.dropped, p->o.spool_max);
	pst_push_prev_free(p->prev);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	files = p->spool.dropped || p->refused || p->lost;
	free(p);
	pst_curl.global_cleanup();
	return files ? 1 : 0;
}
