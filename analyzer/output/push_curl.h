/* SPDX-License-Identifier: MIT */
/* libcurl for push, opened at the first push: every other command starts without its libraries. */
#ifndef PST_PUSH_CURL_H
#define PST_PUSH_CURL_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

/* The calls push makes, each named as libcurl's without its "curl_". */
struct pst_curl {
	CURLcode (*global_init)(long flags);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *c, CURLoption opt, ...);
	CURLcode (*easy_perform)(CURL *c);
	CURLcode (*easy_getinfo)(CURL *c, CURLINFO info, ...);
	void (*easy_cleanup)(CURL *c);
	const char *(*easy_strerror)(CURLcode code);
	struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
	void (*slist_free_all)(struct curl_slist *l);
	curl_mime *(*mime_init)(CURL *c);
	curl_mimepart *(*mime_addpart)(curl_mime *m);
	CURLcode (*mime_name)(curl_mimepart *p, const char *name);
	CURLcode (*mime_filename)(curl_mimepart *p, const char *name);
	CURLcode (*mime_type)(curl_mimepart *p, const char *type);
	CURLcode (*mime_data)(curl_mimepart *p, const char *data, size_t len);
	void (*mime_free)(curl_mime *m);
};

extern struct pst_curl pst_curl;

/* Open libcurl and fill pst_curl (once; later calls answer the same).
 * False after writing why into why. */
bool pst_curl_open(char *why, size_t whylen);

#endif
