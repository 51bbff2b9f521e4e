/* SPDX-License-Identifier: MIT */
/* push's upload: one POST to a Pyroscope server's /ingest with libcurl (push_curl.c), the pprof as the multipart field "profile". */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "push.h"
#include "push_curl.h"

/* A server that does not answer holds the pushing thread no longer than
 * this; the recording goes on meanwhile in its own thread. */
#define CONNECT_TIMEOUT_S 3L
#define TIMEOUT_S 15L

/* The answer's body is not wanted. */
static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* One header line appended to *h; false when there is no memory. */
static bool add_header(struct curl_slist **h, const char *fmt, const char *v)
{
	char line[1024];
	struct curl_slist *n;

	snprintf(line, sizeof(line), fmt, v);
	n = pst_curl.slist_append(*h, line);
	if (n)
		*h = n;
	return n != NULL;
}

/* The authentication headers of o (NULL on no memory). */
static struct curl_slist *auth_headers(const struct pst_push_options *o)
{
	struct curl_slist *h = NULL;

	/* no "Expect: 100-continue": one round trip less */
	if (add_header(&h, "%s", "Expect:") &&
	    (!o->token || add_header(&h, "Authorization: Bearer %s", o->token)) &&
	    (!o->tenant || add_header(&h, "X-Scope-OrgID: %s", o->tenant)))
		return h;
	pst_curl.slist_free_all(h);
	return NULL;
}

/* The status of the answer: 0 sent, 1 again later, -1 refused. */
static int judge(CURLcode c, long code, const char *cerr, char *why, size_t whylen)
{
	if (c != CURLE_OK) {
		snprintf(why, whylen, "%s", *cerr ? cerr : pst_curl.easy_strerror(c));
		return 1;
	}
	if (code >= 200 && code < 300)
		return 0;
	snprintf(why, whylen, "the server answered %ld", code);
	/* too many requests, a timeout, or the server's own trouble: later */
	return code == 408 || code == 429 || code >= 500 ? 1 : -1;
}

int pst_push_post(const struct pst_push_options *o, const char *query, const void *body,
		  size_t len, char *why, size_t whylen)
{
	char url[8192], cerr[CURL_ERROR_SIZE] = "";
	CURL *c = pst_curl.easy_init();
	struct curl_slist *h = NULL;
	curl_mime *mime = NULL;
	curl_mimepart *part;
	CURLcode rc = CURLE_OUT_OF_MEMORY;
	long code = 0;
	size_t ulen = strlen(o->url);

	/* "http://host:4040/" and "http://host:4040" alike */
	snprintf(url, sizeof(url), "%.*s/ingest?%s", (int)(ulen - (ulen && o->url[ulen - 1] == '/')),
		 o->url, query);
	if (c)
		mime = pst_curl.mime_init(c);
	if (mime && (part = pst_curl.mime_addpart(mime))) {
		pst_curl.mime_name(part, "profile");
		pst_curl.mime_filename(part, "profile.pprof");
		pst_curl.mime_type(part, "application/octet-stream");
		pst_curl.mime_data(part, body, len);
		h = auth_headers(o);
	}
	if (h) {
		pst_curl.easy_setopt(c, CURLOPT_URL, url);
		pst_curl.easy_setopt(c, CURLOPT_MIMEPOST, mime);
		pst_curl.easy_setopt(c, CURLOPT_HTTPHEADER, h);
		pst_curl.easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
		pst_curl.easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
		pst_curl.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		pst_curl.easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
		pst_curl.easy_setopt(c, CURLOPT_TIMEOUT, TIMEOUT_S);
		if (o->basic_auth) {
			pst_curl.easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
			pst_curl.easy_setopt(c, CURLOPT_USERPWD, o->basic_auth);
		}
		rc = pst_curl.easy_perform(c);
		pst_curl.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	}
	pst_curl.slist_free_all(h);
	pst_curl.mime_free(mime);
	pst_curl.easy_cleanup(c);
	return judge(rc, code, cerr, why, whylen);
}
