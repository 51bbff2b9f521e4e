/* SPDX-License-Identifier: MIT */
/* Declared connection pools: which endpoints each one covers (config.c reads them). */
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
