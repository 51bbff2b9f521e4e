/* SPDX-License-Identifier: MIT */
/* Declared connection pools (read by config.c from {"performance": {"pools": {...}}}) and the endpoints they cover. */
#ifndef PST_NET_POOLS_H
#define PST_NET_POOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct pst_net_pool {
	char *name;
	long long min_size, max_size; /* 0 when not given */
	char *endpoint; /* "host:port", ":port", "port" or a socket path; NULL: by name */
};

struct pst_net_pools {
	struct pst_net_pool *v;
	size_t n;
};

/* Pools are read with the rest of the configuration (config.h,
 * pst_settings_load) and freed by config.c. */
void pst_net_pools_free(struct pst_net_pools *p);

/* Does pool p cover the client endpoint named ep_name ("127.0.0.1:5432")?
 * By its "endpoint" when given, else by the well-known port of its name
 * ("database" and "postgres" 5432, "redis" 6379, "http" 80 and 8080, ...). */
bool pst_net_pool_covers(const struct pst_net_pool *p, const char *ep_name);

#endif
