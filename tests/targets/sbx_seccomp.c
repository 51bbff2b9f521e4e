/* SPDX-License-Identifier: MIT */
/* A sandboxed service: a libseccomp filter (allow all, open and openat refused with an errno) installed mid-run. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * libseccomp through dlopen: the suites' targets link only libdl and
 * libpthread, and this one is still built by the generic rule.
 */
static scmp_filter_ctx (*p_init)(uint32_t);
static int (*p_rule_add)(scmp_filter_ctx, uint32_t, int, unsigned int, ...);
static int (*p_load)(const scmp_filter_ctx);
static void (*p_release)(scmp_filter_ctx);

static void *volatile sink;

static void before_filter(int n)
{
	for (int i = 0; i < n; i++) {
		sink = malloc(40); /* LINE:before_filter */
		free(sink);
	}
}

static void after_filter(int n)
{
	for (int i = 0; i < n; i++) {
		sink = malloc(88); /* LINE:after_filter */
		free(sink);
	}
}

static int need(void *lib, void **fn, const char *name)
{
	*fn = dlsym(lib, name);
	if (!*fn)
		fprintf(stderr, "dlsym %s: %s\n", name, dlerror());
	return *fn != NULL;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "eperm";
	int err = !strcmp(mode, "eacces") ? EACCES : EPERM;
	void *lib = dlopen("libseccomp.so.2", RTLD_NOW);
	scmp_filter_ctx ctx;
	int fd;

	if (!lib) {
		fprintf(stderr, "dlopen libseccomp.so.2: %s\n", dlerror());
		return 5;
	}
	if (!need(lib, (void **)&p_init, "seccomp_init") ||
	    !need(lib, (void **)&p_rule_add, "seccomp_rule_add") ||
	    !need(lib, (void **)&p_load, "seccomp_load") ||
	    !need(lib, (void **)&p_release, "seccomp_release"))
		return 5;
	ctx = p_init(SCMP_ACT_ALLOW);
	if (!ctx || p_rule_add(ctx, SCMP_ACT_ERRNO(err), SCMP_SYS(openat), 0) != 0 ||
	    p_rule_add(ctx, SCMP_ACT_ERRNO(err), SCMP_SYS(open), 0) != 0 ||
	    p_rule_add(ctx, SCMP_ACT_ERRNO(err), SCMP_SYS(openat2), 0) != 0) {
		fprintf(stderr, "seccomp_init/seccomp_rule_add failed\n");
		return 5;
	}
	before_filter(200);
	if (p_load(ctx) != 0) {
		fprintf(stderr, "seccomp_load failed\n");
		return 5;
	}
	p_release(ctx);
	after_filter(300);
	fd = open("/etc/hostname", O_RDONLY);
	printf("open after the filter: %s\n", fd < 0 ? strerror(errno) : "allowed");
	return 0;
}
