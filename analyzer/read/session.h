/* SPDX-License-Identifier: MIT */
/* A session: every trace of one `prestanda run`, the process tree they come from and its main process, as the directory's index names them. */
#ifndef PST_SESSION_H
#define PST_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The index's name inside a session directory. */
#define PST_SESSION_INDEX "session"

/* One trace of the session: one process image (exec starts another). */
struct pst_session_trace {
	uint64_t pid, ppid;
	char *name;  /* the program as it was started (%e), or its executable's name */
	char *path;  /* the trace: relative to the session's directory, or absolute */
	bool ok;     /* it can be read and holds events */
};

struct pst_session {
	char *dir;      /* the directory, as the user named it */
	char *command;  /* the command run was given, words joined by spaces */
	uint64_t top;   /* the process run started */
	uint64_t main;  /* the process that runs the user's program */
	int status;     /* run's exit status */
	struct pst_session_trace *traces; /* in the order the processes made them */
	size_t ntraces, cap;
};

/* Is path a session directory (one holding an index)? */
bool pst_session_is(const char *path);

/* Read the index of the session directory dir: 0, or -1 with why in err. */
int pst_session_open(const char *dir, struct pst_session **out, char *err, size_t errlen);

/* Write s's index into its directory: 0, or -1 (errno set). */
int pst_session_write(const struct pst_session *s);

/* Add a trace (the strings copied): 0, or -1 when out of memory. */
int pst_session_add(struct pst_session *s, const struct pst_session_trace *t);

/* The trace to read of process pid: its last image that can be read,
 * else its last; NULL when the session has no trace of pid. */
const struct pst_session_trace *pst_session_last(const struct pst_session *s, uint64_t pid);

/* A trace's path as a reader opens it (the directory joined to a relative
 * path) into buf. */
const char *pst_session_path(const struct pst_session *s, const struct pst_session_trace *t,
			     char *buf, size_t len);

void pst_session_free(struct pst_session *s);

#endif
