/* SPDX-License-Identifier: MIT */
/* Declared connection pools: the "performance.pools" block of the JSON config, and which endpoints each one covers. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "net_pools.h"

/* Pools declared without "endpoint" are matched by the well-known port of
 * their name. */
static const struct {
	const char *name;
	unsigned port;
} well_known[] = {
	{ "database", 5432 }, { "db", 5432 },	     { "postgres", 5432 }, { "postgresql", 5432 },
	{ "pg", 5432 },	      { "mysql", 3306 },     { "mariadb", 3306 },  { "redis", 6379 },
	{ "cache", 6379 },    { "memcached", 11211 }, { "http", 80 },	   { "http", 8080 },
	{ "https", 443 },     { "mongodb", 27017 },  { "mongo", 27017 },   { "amqp", 5672 },
	{ "rabbitmq", 5672 },
};

void pst_net_pools_free(struct pst_net_pools *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].name);
		free(p->v[i].endpoint);
	}
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

int pst_net_pools_load(const char *path, struct pst_net_pools *out, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root, *pools, *v;
	const char *name;

	memset(out, 0, sizeof(*out));
	root = json_load_file(path, 0, &jerr);
	if (!root) {
		snprintf(err, errlen, "config %s: line %d: %s", path, jerr.line, jerr.text);
		return -EINVAL;
	}
	pools = json_object_get(json_object_get(root, "performance"), "pools");
	if (pools && !json_is_object(pools)) {
		snprintf(err, errlen, "config %s: performance.pools is not an object", path);
		json_decref(root);
		return -EINVAL;
	}
	out->v = calloc(json_object_size(pools) + 1, sizeof(*out->v));
	if (!out->v) {
		json_decref(root);
		return -ENOMEM;
	}
	json_object_foreach(pools, name, v) {
		struct pst_net_pool *p = &out->v[out->n];
		json_t *mn = json_object_get(v, "min_size"), *mx = json_object_get(v, "max_size");
		json_t *ep = json_object_get(v, "endpoint");

		if (!json_is_object(v) || (mn && !json_is_integer(mn)) ||
		    (mx && !json_is_integer(mx)) || (ep && !json_is_string(ep))) {
			snprintf(err, errlen,
				 "config %s: pools.%s needs integer min_size/max_size and an optional endpoint string",
				 path, name);
			json_decref(root);
			pst_net_pools_free(out);
			return -EINVAL;
		}
		p->name = strdup(name);
		p->min_size = mn ? json_integer_value(mn) : 0;
		p->max_size = mx ? json_integer_value(mx) : 0;
		p->endpoint = ep ? strdup(json_string_value(ep)) : NULL;
		out->n++;
		if (!p->name || (ep && !p->endpoint)) {
			json_decref(root);
			pst_net_pools_free(out);
			return -ENOMEM;
		}
	}
	json_decref(root);
	return 0;
}

/* The port at the end of "host:port" or "[v6]:port", 0 for a Unix path. */
static unsigned ep_port(const char *name)
{
	const char *c = strrchr(name, ':');

	if (!c || name[0] == '/' || name[0] == '@')
		return 0;
	return (unsigned)strtoul(c + 1, NULL, 10);
}

bool pst_net_pool_covers(const struct pst_net_pool *p, const char *ep_name)
{
	unsigned port = ep_port(ep_name);

	if (p->endpoint) {
		const char *want = p->endpoint;

		if (!strcmp(want, ep_name))
			return true;
		if (want[0] == ':')
			want++;
		/* a bare port matches that port at any address */
		return port && strspn(want, "0123456789") == strlen(want) &&
		       (unsigned)strtoul(want, NULL, 10) == port;
	}
	for (size_t i = 0; i < sizeof(well_known) / sizeof(well_known[0]); i++)
		if (!strcasecmp(p->name, well_known[i].name) && port == well_known[i].port)
			return true;
	return false;
}
