/* SPDX-License-Identifier: MIT */
/* Sends its stderr to /dev/null (as a server does to its log), then makes argv[1] allocations of 16 bytes at churn. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static void *volatile sink;

void churn(long n)
{
	for (long i = 0; i < n; i++) {
		sink = malloc(16); /* LINE:churn */
		free(sink);
	}
}

int main(int argc, char **argv)
{
	int fd = open("/dev/null", O_WRONLY);

	if (argc < 2 || fd < 0 || dup2(fd, 2) < 0)
		return 2;
	close(fd);
	churn(atol(argv[1]));
	return 0;
}
