/* SPDX-License-Identifier: MIT */
/* libcurl for push, opened at the first push: every other command starts without its libraries. */
#include <dlfcn.h>
#include <stdio.h>

#include "push_curl.h"

/*
 * Linked in, libcurl and what it needs (TLS, Kerberos, LDAP, IDN: about
 * thirty libraries) were mapped and relocated by the loader at every start
 * of prestanda, run's included, for the one command that pushes: under
 * load that was most of what `prestanda run` added to a short program.
 * The soname is the one the build's headers come with.
 */
struct pst_curl pst_curl;

/* The name, its address in the library, where it goes in pst_curl. */
#define SYM(field) { "curl_" #field, (void **)&pst_curl.field }

bool pst_curl_open(char *why, size_t whylen)
{
	static int state; /* 0 not tried, 1 open, -1 failed */
	static char err[256];
	const struct {
		const char *name;
		void **at;
	} syms[] = { SYM(global_init),	 SYM(global_cleanup), SYM(easy_init),	  SYM(easy_setopt),
		     SYM(easy_perform),	 SYM(easy_getinfo),   SYM(easy_cleanup),  SYM(easy_strerror),
		     SYM(slist_append),	 SYM(slist_free_all), SYM(mime_init),	  SYM(mime_addpart),
		     SYM(mime_name),	 SYM(mime_filename),  SYM(mime_type),	  SYM(mime_data),
		     SYM(mime_free) };
	void *h;

	if (!state) {
		state = -1;
		h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
		if (!h)
			snprintf(err, sizeof(err), "%s", dlerror());
		for (size_t i = 0; h && i < sizeof(syms) / sizeof(syms[0]); i++)
			if (!(*syms[i].at = dlsym(h, syms[i].name))) {
				snprintf(err, sizeof(err), "libcurl.so.4 has no %s", syms[i].name);
				h = NULL;
			}
		if (h)
			state = 1;
	}
	if (state < 0)
		snprintf(why, whylen, "%s", err);
	return state > 0;
}
