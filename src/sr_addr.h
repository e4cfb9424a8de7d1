/*-
 * Copyright (c) 2026 The streamroute authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Route targets ("ip:port", "[ip6]:port"), allow-lists of networks and
 * ports, the addresses always refused: pure logic, no Varnish, no name
 * resolution.  And this process's own listen addresses, read from its
 * file descriptors (sr_self_load).
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

/*
 * Addresses no route may point at, whatever the allow list says: returns
 * why, or NULL.
 */
const char *sr_target_forbidden(const struct sr_target *);

/* "80, 443, 8080-8090"; an empty list allows every port */
struct sr_portrange {
	unsigned		lo;
	unsigned		hi;
};

struct sr_portlist {
	unsigned		n;
	struct sr_portrange	*ranges;
};

const char *sr_portlist_parse(struct sr_portlist *, const char *spec);
void sr_portlist_fini(struct sr_portlist *);
int sr_portlist_match(const struct sr_portlist *, unsigned port);

/*
 * This process's own TCP listen addresses, so that no route points back
 * at them.  A wildcard listener stands for every address of the host.
 */
struct sr_endpoint {
	struct sr_net		net;
	unsigned		port;
};

struct sr_self {
	unsigned		n;
	struct sr_endpoint	*ep;
};

int sr_self_add_listener(struct sr_self *, const struct sr_endpoint *);
const char *sr_self_load(struct sr_self *);
void sr_self_fini(struct sr_self *);
int sr_self_match(const struct sr_self *, const struct sr_target *);
