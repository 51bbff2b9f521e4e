/* SPDX-License-Identifier: MIT */
/* The end of prestanda run: what became of each trace, the processes as one session (tree, main process), its index, and how to read it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "grow.h"
#include "run.h"
#include "session.h"
#include "trace_read.h"

/* The tree lists this many processes; the rest are counted. */
#define TREE_LINES 20

/* One trace of the run: one process image. */
struct image {
	struct pst_session_trace st;
	char exe[PATH_MAX];     /* its executable, as the trace names it */
	char shown[PATH_MAX];   /* the trace's path as the user gave the output */
	uint64_t start_ns, end_ns;
	enum { IMG_EXIT, IMG_EXEC, IMG_SIGNAL, IMG_CUT, IMG_RUNNING, IMG_BAD } end;
	uint64_t sig;
	bool shown_in_tree;
};

struct run_end {
	const struct run_session *rs;
	struct image *img;
	size_t n, cap;
	size_t lines; /* tree lines printed */
};

/* Is pid a live process (not a zombie)? */
static bool alive(uint64_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	if (!pid || pid > INT_MAX || (kill((pid_t)pid, 0) && errno != EPERM))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	p = strrchr(buf, ')'); /* "pid (comm) S ...": the comm may hold anything */
	return !p || (p[1] && p[2] != 'Z' && p[2] != 'X');
}

/* A record of something the program did (not a module, stack or setting):
 * a thread's totals, memory, network, thread and lock events, CPU samples,
 * a snapshot of its counters. */
static int is_event(unsigned type, uint64_t tid, const uint8_t *payload, size_t len, void *arg)
{
	(void)tid, (void)payload, (void)len, (void)arg;
	return type == PST_REC_TOTALS || (type >= PST_REC_ALLOC && type <= PST_REC_REALLOC) ||
	       (type >= PST_REC_NET_CONN && type <= PST_REC_NET_LOOKUP) ||
	       (type >= PST_REC_THR_START && type <= PST_REC_LOCK_STATS) ||
	       type == PST_REC_SAMPLE || type == PST_REC_OFFCPU || type == PST_REC_USAMPLE ||
	       type == PST_REC_SNAPSHOT;
}

/* How the image ended, as its trace tells. */
static void image_end(struct image *im, const struct pst_trace *t)
{
	im->start_ns = t->proc.start_monotonic_ns;
	im->end_ns = t->end_ts > im->start_ns ? t->end_ts : im->start_ns;
	if (t->has_end) {
		im->end = t->end_reason == PST_END_EXEC	  ? IMG_EXEC :
			  t->end_reason == PST_END_SIGNAL ? IMG_SIGNAL :
							    IMG_EXIT;
		im->sig = t->end_signal;
	} else {
		im->end = !t->error_offset && alive(t->proc.pid) ? IMG_RUNNING : IMG_CUT;
	}
}

/* What became of one trace, said only when it is a problem: still being
 * written by a process that runs on, cut, damaged, empty or unreadable.
 * Its process, program and end into im; im->st.ok when it can be read. */
static void say_trace(const char *path, struct image *im)
{
	char err[PATH_MAX + 256];
	struct pst_trace *t;
	struct stat st;
	bool empty;

	im->end = IMG_BAD;
	if (pst_trace_open(path, &t, err, sizeof(err))) {
		fprintf(stderr, "prestanda: %s\n", err);
		return;
	}
	im->st.pid = t->proc.pid;
	im->st.ppid = t->proc.ppid;
	snprintf(im->exe, sizeof(im->exe), "%s", t->proc.exe ? t->proc.exe : "");
	image_end(im, t);
	empty = !pst_trace_foreach(t, PST_REC_TOTALS, PST_REC_SNAPSHOT, is_event, NULL);
	im->st.ok = !empty;
	if (!t->has_end && im->end == IMG_RUNNING) {
		fprintf(stderr, "prestanda: %s: still being written by pid %llu (it runs on; read it once it ends)\n",
			path, (unsigned long long)t->proc.pid);
		im->st.ok = false;
	} else if (!t->has_end) {
		uint64_t at = t->error_offset ? t->error_offset :
			      stat(path, &st) ? 0 : (uint64_t)st.st_size;

		fprintf(stderr, "prestanda: %s: incomplete (cut at byte %llu: the process was killed, crashed or left by a raw exit_group)%s\n",
			path, (unsigned long long)at, empty ? "; no events were recorded in it" : "");
	} else if (!t->complete) {
		fprintf(stderr, "prestanda: %s: damaged: %s\n", path, t->error);
	} else if (empty) {
		fprintf(stderr, "prestanda: %s: no events were recorded in it\n", path);
	}
	pst_trace_close(t);
}

/* The last component of a path. */
static const char *base(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/* The program's name: in a session, the %e its trace's name starts with
 * ("NAME.PID.trace"); else the executable's. */
static void image_name(const struct run_end *e, struct image *im, char *name, size_t len)
{
	const char *b = base(im->shown), *tail;
	char pidpart[32];

	snprintf(pidpart, sizeof(pidpart), ".%llu.trace", (unsigned long long)im->st.pid);
	tail = e->rs->dir ? strstr(b, pidpart) : NULL;
	if (tail)
		snprintf(name, len, "%.*s", (int)(tail - b), b);
	else
		snprintf(name, len, "%s", im->exe[0] ? base(im->exe) : "?");
}

/* One trace the manifest lists: its image added. */
static void add_image(struct run_end *e, const char *path)
{
	struct image *im;
	char name[PATH_MAX];
	size_t dl = e->rs->dir ? strlen(e->rs->dir_abs) : 0;

	if (pst_grow(&e->img, &e->cap, e->n + 1, sizeof(*e->img), 16))
		return;
	im = &e->img[e->n++];
	memset(im, 0, sizeof(*im));
	snprintf(im->shown, sizeof(im->shown), "%s", path);
	say_trace(path, im);
	image_name(e, im, name, sizeof(name));
	im->st.name = strdup(name);
	/* a session's traces are named from its directory, which may move */
	im->st.path = strdup(dl && !strncmp(path, e->rs->dir_abs, dl) && path[dl] == '/' ?
				     path + dl + 1 :
				     path);
}

/*
 * The manifest: every traced process appends its trace's path, and a line
 * "!PID\tTRACE\tMESSAGE" for every problem it told its own stderr (which
 * may be a log file). The problems are said here first, on run's stderr,
 * then what went wrong with any trace. pass 0: problems; 1: traces.
 */
static void read_manifest(FILE *f, int pass, struct run_end *e)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	rewind(f);
	while ((len = getline(&line, &cap, f)) > 0) {
		char *trace = strchr(line, '\t'), *msg = trace ? strchr(trace + 1, '\t') : NULL;

		if (line[len - 1] == '\n')
			line[--len] = 0;
		if (line[0] == '!') {
			if (!pass && msg)
				fprintf(stderr, "prestanda: %.*s: %s\n", (int)(trace - line - 1), line + 1,
					msg + 1);
			continue;
		}
		if (pass && line[0] == '/') /* traces are absolute paths; other marks are not ours */
			add_image(e, line);
	}
	free(line);
}

/* Did im run the program the user gave (by the name it was started as,
 * its executable's name, or the very file execvp found)? */
static bool runs_program(const struct run_end *e, const struct image *im)
{
	const char *want = base(e->rs->program[0]);

	return !strcmp(im->st.name, want) ||
	       (im->exe[0] && (!strcmp(base(im->exe), want) || !strcmp(im->exe, e->rs->resolved)));
}

/* The first image of pid, or NULL. */
static const struct image *first_image(const struct run_end *e, uint64_t pid)
{
	for (size_t i = 0; i < e->n; i++)
		if (e->img[i].st.pid == pid)
			return &e->img[i];
	return NULL;
}

/* The name of pid's last image when it is not its first, else NULL. */
static const char *exec_name(const struct run_end *e, uint64_t pid)
{
	const struct image *first = first_image(e, pid), *last = first;

	for (size_t i = 0; i < e->n; i++)
		if (e->img[i].st.pid == pid)
			last = &e->img[i];
	return last != first ? last->st.name : NULL;
}

/*
 * The process that runs the user's program: the command's own process
 * when one of its images is the program (a wrapper that execs it keeps
 * the pid), else the first other process that ran it, else the command's
 * own. why says which, in words.
 */
static uint64_t pick_main(const struct run_end *e, char *why, size_t len)
{
	const struct image *top = first_image(e, (uint64_t)e->rs->top);
	const char *want = base(e->rs->program[0]);

	for (size_t i = 0; top && i < e->n; i++) {
		if (e->img[i].st.pid != top->st.pid || !runs_program(e, &e->img[i]))
			continue;
		if (&e->img[i] == top && exec_name(e, top->st.pid))
			snprintf(why, len, "the command itself, which exec'd %s",
				 exec_name(e, top->st.pid));
		else if (&e->img[i] == top)
			snprintf(why, len, "the command itself");
		else
			snprintf(why, len, "%s exec'd %s", top->st.name, e->img[i].st.name);
		return top->st.pid;
	}
	for (size_t i = 0; i < e->n; i++)
		if (runs_program(e, &e->img[i])) {
			snprintf(why, len, "the first process that ran %s", want);
			return e->img[i].st.pid;
		}
	if (top && exec_name(e, top->st.pid))
		snprintf(why, len, "the command's process: %s exec'd %s", top->st.name,
			 exec_name(e, top->st.pid));
	else
		snprintf(why, len, "the command's process; none ran %s by that name", want);
	return (uint64_t)e->rs->top;
}

/* How a process ended: the command's from its wait status, another's from
 * its last image's trace. */
static void proc_state(const struct run_end *e, const struct image *last, char *buf, size_t len)
{
	static const char *const word[] = { "exited", "exec'd an untraced program", "killed",
					    "cut", "running", "unreadable" };
	int ws = e->rs->wstatus;

	if (last->st.pid == (uint64_t)e->rs->top && WIFEXITED(ws))
		snprintf(buf, len, "exit %d", WEXITSTATUS(ws));
	else if (last->st.pid == (uint64_t)e->rs->top && WIFSIGNALED(ws))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(ws));
	else if (last->end == IMG_SIGNAL)
		snprintf(buf, len, "killed by signal %llu", (unsigned long long)last->sig);
	else
		snprintf(buf, len, "%s", word[last->end]);
}

/* "sh -> prog": the programs pid ran, in turn; its last image in *lastp. */
static void proc_chain(const struct run_end *e, uint64_t pid, char *buf, size_t len,
		       const struct image **lastp)
{
	size_t at = 0;

	buf[0] = 0;
	for (size_t i = 0; i < e->n; i++) {
		if (e->img[i].st.pid != pid)
			continue;
		if (at < len)
			at += (size_t)snprintf(buf + at, len - at, "%s%s", at ? " -> " : "",
					       e->img[i].st.name);
		*lastp = &e->img[i];
	}
}

/* One line of the tree: pid, programs, duration, end (and, without a
 * session directory, the trace to read). Every line run says starts
 * "prestanda: ", told apart from the program's own. */
static void tree_line(struct run_end *e, const struct image *first, int depth, uint64_t main)
{
	const struct image *last = first;
	char chain[512], state[64], dur[32] = "";

	proc_chain(e, first->st.pid, chain, sizeof(chain), &last);
	proc_state(e, last, state, sizeof(state));
	if (last->end != IMG_RUNNING && last->end != IMG_BAD)
		snprintf(dur, sizeof(dur), "%.3f s  ", (double)(last->end_ns - first->start_ns) / 1e9);
	fprintf(stderr, "prestanda: %*s%llu %s  %s%s%s%s%s\n", 2 + 2 * depth, "",
		(unsigned long long)first->st.pid, chain, dur, state,
		first->st.pid == main ? "  [main]" : "", e->rs->dir ? "" : "  ",
		e->rs->dir ? "" : last->shown);
	e->lines++;
}

/* pid's subtree, children in the order they started. */
static void tree(struct run_end *e, const struct image *first, int depth, uint64_t main)
{
	if (e->lines < TREE_LINES)
		tree_line(e, first, depth, main);
	for (size_t i = 0; i < e->n; i++) {
		const struct image *c = &e->img[i];

		if (c->st.ppid == first->st.pid && c->st.pid != first->st.pid &&
		    first_image(e, c->st.pid) == c)
			tree(e, c, depth + 1, main);
	}
}

/* Processes of the session: distinct pids. */
static size_t count_procs(const struct run_end *e)
{
	size_t n = 0;

	for (size_t i = 0; i < e->n; i++)
		n += first_image(e, e->img[i].st.pid) == &e->img[i];
	return n;
}

/* The command's words as one line, for the index. */
static char *command_line(char **program)
{
	size_t len = 1;
	char *s;

	for (char **p = program; *p; p++)
		len += strlen(*p) + 1;
	s = calloc(1, len);
	for (char **p = program; s && *p; p++) {
		if (p != program)
			strcat(s, " ");
		strcat(s, *p);
	}
	return s;
}

/* The session's index, in its directory: where report, flame and diff
 * find the traces and the main process. */
static void write_index(const struct run_end *e, uint64_t main)
{
	struct pst_session s = { .dir = (char *)e->rs->dir_abs, .top = (uint64_t)e->rs->top,
				 .main = main, .status = e->rs->status,
				 .traces = NULL, .ntraces = 0 };
	bool bad = !(s.command = command_line(e->rs->program));

	for (size_t i = 0; i < e->n && !bad; i++)
		bad = pst_session_add(&s, &e->img[i].st) != 0;
	if (bad || pst_session_write(&s))
		fprintf(stderr, "prestanda: %s/" PST_SESSION_INDEX ": cannot write the session's index: %s\n",
			e->rs->dir, bad ? strerror(ENOMEM) : strerror(errno));
	for (size_t i = 0; i < s.ntraces; i++) {
		free(s.traces[i].name);
		free(s.traces[i].path);
	}
	free(s.traces);
	free(s.command);
}

/* The trace to read: main's last that can be read, else the first of
 * any process; NULL when none can. */
static const struct image *readable(const struct run_end *e, uint64_t main)
{
	const struct image *any = NULL, *mine = NULL;

	for (size_t i = 0; i < e->n; i++) {
		if (!e->img[i].st.ok)
			continue;
		if (!any)
			any = &e->img[i];
		if (e->img[i].st.pid == main)
			mine = &e->img[i];
	}
	return mine ? mine : any;
}

/* The summary: the processes as a tree under the command's, which is the
 * main one, and how to read it. */
static void summary(struct run_end *e)
{
	const struct image *m, *last = NULL;
	char why[PATH_MAX + 64], chain[512];
	uint64_t main = pick_main(e, why, sizeof(why));
	size_t nprocs = count_procs(e);

	proc_chain(e, main, chain, sizeof(chain), &last);
	if (e->rs->dir)
		fprintf(stderr, "prestanda: session %s: ", e->rs->dir);
	else
		fprintf(stderr, "prestanda: ");
	fprintf(stderr, "%zu process%s, main %llu %s (%s)\n", nprocs, nprocs == 1 ? "" : "es",
		(unsigned long long)main, last ? last->st.name : "?", why);
	for (size_t i = 0; i < e->n; i++)
		if (!first_image(e, e->img[i].st.ppid) && first_image(e, e->img[i].st.pid) == &e->img[i])
			tree(e, &e->img[i], 0, main);
	if (e->lines < nprocs)
		fprintf(stderr, "prestanda:   ... and %zu more (prestanda report --all %s lists them)\n",
			nprocs - e->lines, e->rs->dir ? e->rs->dir : "SESSION");
	if (e->rs->dir) {
		write_index(e, main);
		if (readable(e, main))
		fprintf(stderr, "prestanda: read it with: prestanda report %s\n", e->rs->dir);
	} else if ((m = readable(e, main))) {
		fprintf(stderr, "prestanda: read it with: prestanda report %s\n", m->shown);
	}
}

void pst_run_end(const char *manifest, const struct run_session *rs)
{
	FILE *f = fopen(manifest, "re");
	struct run_end e = { .rs = rs };

	if (!f) {
		fprintf(stderr, "prestanda: cannot read the list of traces %s: %s\n", manifest,
			strerror(errno));
		return;
	}
	read_manifest(f, 0, &e);
	read_manifest(f, 1, &e);
	fclose(f);
	if (!e.n)
		fprintf(stderr, "prestanda: no trace was written\n");
	else
		summary(&e);
	for (size_t i = 0; i < e.n; i++) {
		free(e.img[i].st.name);
		free(e.img[i].st.path);
	}
	free(e.img);
}
