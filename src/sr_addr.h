/*-
 * Copyright (c) 2026 The streamroute authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Route targets ("ip:port", "[ip6]:port") and allow-lists of networks:
 * pure parsing, no Varnish, no name resolution.
 */

#include <arpa/inet.h>
#include <netinet/in.h>

/* "[" 45 "]:" 5 and a NUL, rounded up */
#define SR_TARGET_MAX	64

struct sr_target {
	int			family;		/* AF_INET or AF_INET6 */
	union {
		struct sockaddr_in	sin;
		struct sockaddr_in6	sin6;
	} sa;
	char			ip[INET6_ADDRSTRLEN];
	unsigned		port;
	char			addr[SR_TARGET_MAX];	/* canonical form */
};

const char *sr_target_parse(struct sr_target *, const char *s, size_t len);
const struct sockaddr *sr_target_sockaddr(const struct sr_target *,
    unsigned *len);

struct sr_targetlist {
	unsigned		n;
	struct sr_target	*targets;
};

const char *sr_targetlist_parse(struct sr_targetlist *, const char *spec);
void sr_targetlist_fini(struct sr_targetlist *);

struct sr_net {
	int			family;
	unsigned char		addr[16];
	unsigned		prefix;
};

struct sr_netlist {
	unsigned		n;
	struct sr_net		*nets;
};

const char *sr_netlist_parse(struct sr_netlist *, const char *spec);
void sr_netlist_fini(struct sr_netlist *);
int sr_netlist_match(const struct sr_netlist *, const struct sr_target *);
