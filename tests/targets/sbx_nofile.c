/* SPDX-License-Identifier: MIT */
/* RLIMIT_NOFILE of 5 to 16: opens files until EMFILE, prints how many, allocates; the limit set by itself or before exec. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void *volatile sink;

static void after_files(int n)
{
	for (int i = 0; i < n; i++) {
		sink = malloc(64); /* LINE:after_files */
		free(sink);
	}
}

/* Opens /dev/null until EMFILE; returns how many it got (-1 on another error). */
static int open_all(void)
{
	int fds[64], n = 0, err = 0;

	while (n < 64) {
		int fd = open("/dev/null", O_RDONLY);

		if (fd < 0) {
			err = errno;
			break;
		}
		fds[n++] = fd;
	}
	for (int i = 0; i < n; i++)
		close(fds[i]);
	if (err != EMFILE) {
		fprintf(stderr, "open: %s\n", strerror(err));
		return -1;
	}
	return n;
}

/*
 * sbx_nofile set SOFT [hard]: sets the soft limit (and the hard one to it),
 * then counts. sbx_nofile exec SOFT: sets both, execs itself to count
 * (the limit inherited from the parent, as prlimit or systemd would).
 */
int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	struct rlimit rl;
	int n;

	if (argc > 2) {
		if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
			return 2;
		rl.rlim_cur = strtoul(argv[2], NULL, 10);
		if (!strcmp(mode, "exec") || (argc > 3 && !strcmp(argv[3], "hard")))
			rl.rlim_max = rl.rlim_cur;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
			perror("setrlimit");
			return 2;
		}
	}
	if (!strcmp(mode, "exec")) {
		char *args[] = { argv[0], "count", NULL };

		execv("/proc/self/exe", args);
		perror("execv");
		return 2;
	}
	if (strcmp(mode, "set") && strcmp(mode, "count"))
		return 2;
	n = open_all();
	if (n < 0)
		return 3;
	printf("opened %d\n", n);
	after_files(250);
	return 0;
}
