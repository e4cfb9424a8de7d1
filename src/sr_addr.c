/*-
 * Copyright (c) 2026 The streamroute authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * A route value comes from Redis, which anyone who can write to Redis
 * controls: it is parsed strictly (numeric address, decimal port 1-65535,
 * nothing else) and checked against an allow-list before Varnish ever
 * connects to it.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <ifaddrs.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vdef.h"
#include "vas.h"

#include "sr_addr.h"
#include "sr_http.h"

static const unsigned char v4mapped_prefix[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

static int
sr_port_parse(const char *s, size_t len, unsigned *port)
{
	unsigned v;
	size_t i;

	if (len == 0 || len > 5)
		return (-1);
	v = 0;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return (-1);
	*port = v;
	return (0);
}

/*
 * Parses a Redis value into t.  Returns NULL on success, or why the
 * value is not a route.
 */
/* a.b.c.d, as inet_ntop() writes it but without its sprintf */
static void
sr_put_ipv4(char *p, const struct in_addr *a)
{
	const unsigned char *b;
	int i;

	b = (const unsigned char *)&a->s_addr;
	for (i = 0; i < 4; i++) {
		if (i > 0)
			*p++ = '.';
		p = sr_put_uint(p, b[i]);
	}
	*p = '\0';
}

/* <open><ip><close>:<port>, the canonical form of a target */
static void
sr_put_hostport(char *p, const char *open, const char *ip,
    const char *close, unsigned port)
{
	size_t l;

	l = strlen(open);
	memcpy(p, open, l);
	p += l;
	l = strlen(ip);
	memcpy(p, ip, l);
	p += l;
	l = strlen(close);
	memcpy(p, close, l);
	p += l;
	*p++ = ':';
	p = sr_put_uint(p, port);
	*p = '\0';
}

const char *
sr_target_parse(struct sr_target *t, const char *s, size_t len)
{
	char host[SR_TARGET_MAX];
	const char *colon;
	size_t hlen;
	unsigned port;
	struct in6_addr a6;

	memset(t, 0, sizeof *t);
	if (len == 0)
		return ("empty value");
	if (len >= SR_TARGET_MAX)
		return ("value too long");
	if (memchr(s, '\0', len) != NULL)
		return ("NUL in value");
	colon = NULL;
	if (s[0] == '[') {
		colon = memchr(s, ']', len);
		if (colon == NULL || colon + 1 == s + len || colon[1] != ':')
			return ("expected [ipv6]:port");
		hlen = (size_t)(colon - s) - 1;
		memcpy(host, s + 1, hlen);
		colon++;
	} else {
		for (colon = s + len - 1; colon > s && *colon != ':'; colon--)
			continue;
		if (*colon != ':')
			return ("no port");
		hlen = (size_t)(colon - s);
		memcpy(host, s, hlen);
	}
	host[hlen] = '\0';
	if (sr_port_parse(colon + 1, (size_t)(s + len - colon - 1), &port))
		return ("bad port");

	if (s[0] != '[' && inet_pton(AF_INET, host, &t->sa.sin.sin_addr) == 1) {
		t->family = AF_INET;
	} else if (s[0] == '[' && inet_pton(AF_INET6, host, &a6) == 1) {
		if (!memcmp(a6.s6_addr, v4mapped_prefix, 12)) {
			/* judge ::ffff:a.b.c.d as the IPv4 address it is */
			t->family = AF_INET;
			memcpy(&t->sa.sin.sin_addr, a6.s6_addr + 12, 4);
		} else {
			t->family = AF_INET6;
			t->sa.sin6.sin6_addr = a6;
		}
	} else
		return ("not a numeric address");

	t->port = port;
	if (t->family == AF_INET) {
		t->sa.sin.sin_family = AF_INET;
		t->sa.sin.sin_port = htons((uint16_t)port);
		sr_put_ipv4(t->ip, &t->sa.sin.sin_addr);
		sr_put_hostport(t->addr, "", t->ip, "", port);
	} else {
		t->sa.sin6.sin6_family = AF_INET6;
		t->sa.sin6.sin6_port = htons((uint16_t)port);
		AN(inet_ntop(AF_INET6, &t->sa.sin6.sin6_addr, t->ip,
		    sizeof t->ip));
		sr_put_hostport(t->addr, "[", t->ip, "]", port);
	}
	return (NULL);
}

const struct sockaddr *
sr_target_sockaddr(const struct sr_target *t, unsigned *len)
{

	if (t->family == AF_INET) {
		*len = sizeof t->sa.sin;
		return ((const void *)&t->sa.sin);
	}
	*len = sizeof t->sa.sin6;
	return ((const void *)&t->sa.sin6);
}

static const char *
sr_net_parse(struct sr_net *n, const char *s)
{
	char buf[64], *slash, *end;
	unsigned long prefix;
	unsigned maxbits, i;

	if (strlen(s) >= sizeof buf)
		return ("network too long");
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash++ = '\0';
	memset(n, 0, sizeof *n);
	if (inet_pton(AF_INET, buf, n->addr) == 1) {
		n->family = AF_INET;
		maxbits = 32;
	} else if (inet_pton(AF_INET6, buf, n->addr) == 1) {
		n->family = AF_INET6;
		maxbits = 128;
	} else
		return ("not a numeric network address");
	n->prefix = maxbits;
	if (slash != NULL) {
		if (*slash < '0' || *slash > '9')
			return ("bad prefix length");
		prefix = strtoul(slash, &end, 10);
		if (*end != '\0' || prefix > maxbits)
			return ("bad prefix length");
		n->prefix = (unsigned)prefix;
	}
	/* 10.1.2.3/8 is a typo for 10.0.0.0/8 more often than not */
	for (i = n->prefix; i < maxbits; i++)
		if (n->addr[i / 8] & (0x80 >> (i % 8)))
			return ("host bits set");
	return (NULL);
}

/*
 * Parses "item, item, ..." into a new array of elements of elemsize
 * bytes, one per non-empty item.  Returns NULL or why not.
 */
typedef const char *sr_item_parse_f(void *elem, const char *item);

static const char *
sr_list_parse(const char *spec, size_t elemsize, sr_item_parse_f *parse,
    void **arrp, unsigned *np)
{
	char *copy, *tok, *save, *p;
	const char *err;
	void *arr, *a;
	unsigned n;

	*arrp = NULL;
	*np = 0;
	if (spec == NULL)
		return ("empty list");
	copy = strdup(spec);
	if (copy == NULL)
		return ("out of memory");
	arr = NULL;
	n = 0;
	err = NULL;
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ' || *tok == '\t')
			tok++;
		p = strchr(tok, '\0');
		while (p > tok && (p[-1] == ' ' || p[-1] == '\t'))
			*--p = '\0';
		if (*tok == '\0')
			continue;
		a = realloc(arr, (n + 1) * elemsize);
		if (a == NULL) {
			err = "out of memory";
			break;
		}
		arr = a;
		err = parse((char *)arr + n * elemsize, tok);
		if (err != NULL)
			break;
		n++;
	}
	free(copy);
	if (err == NULL && n == 0)
		err = "empty list";
	if (err != NULL) {
		free(arr);
		return (err);
	}
	*arrp = arr;
	*np = n;
	return (NULL);
}

static const char *
sr_net_item(void *elem, const char *item)
{

	return (sr_net_parse(elem, item));
}

/* "net, net, ..." where net is a.b.c.d[/n] or x:y::z[/n] */
const char *
sr_netlist_parse(struct sr_netlist *nl, const char *spec)
{
	void *arr;
	const char *err;

	memset(nl, 0, sizeof *nl);
	err = sr_list_parse(spec, sizeof *nl->nets, sr_net_item, &arr,
	    &nl->n);
	nl->nets = arr;
	return (err);
}

void
sr_netlist_fini(struct sr_netlist *nl)
{

	free(nl->nets);
	memset(nl, 0, sizeof *nl);
}

static const char *
sr_target_item(void *elem, const char *item)
{

	return (sr_target_parse(elem, item, strlen(item)));
}

/* "ip:port, [ip6]:port, ..." */
const char *
sr_targetlist_parse(struct sr_targetlist *tl, const char *spec)
{
	void *arr;
	const char *err;

	memset(tl, 0, sizeof *tl);
	err = sr_list_parse(spec, sizeof *tl->targets, sr_target_item, &arr,
	    &tl->n);
	tl->targets = arr;
	return (err);
}

void
sr_targetlist_fini(struct sr_targetlist *tl)
{

	free(tl->targets);
	memset(tl, 0, sizeof *tl);
}

static int
sr_net_match(const struct sr_net *n, const unsigned char *a)
{
	unsigned full, rest;

	full = n->prefix / 8;
	rest = n->prefix % 8;
	if (memcmp(n->addr, a, full))
		return (0);
	if (rest == 0)
		return (1);
	return (((n->addr[full] ^ a[full]) & (0xff00 >> rest) & 0xff) == 0);
}

int
sr_netlist_match(const struct sr_netlist *nl, const struct sr_target *t)
{
	const unsigned char *a;
	unsigned i;

	if (t->family == AF_INET)
		a = (const void *)&t->sa.sin.sin_addr;
	else
		a = t->sa.sin6.sin6_addr.s6_addr;
	for (i = 0; i < nl->n; i++)
		if (nl->nets[i].family == t->family &&
		    sr_net_match(&nl->nets[i], a))
			return (1);
	return (0);
}

/*--------------------------------------------------------------------
 * Addresses refused whatever the allow list says.  An allow list is
 * written by a person thinking of media servers; these are what a
 * poisoned Redis would aim at instead, and what a broad allow list
 * (10.0.0.0/8, fc00::/7, 100.64.0.0/10) lets through unnoticed.
 */

#define SR_V4(a, b, c, d)	{ a, b, c, d }

static const struct sr_forbidden {
	struct sr_net		net;
	const char		*why;
} sr_forbidden[] = {
	/* metadata services first, so that the log names them */
	{ { AF_INET, SR_V4(169, 254, 169, 254), 32 },
	    "cloud metadata address (AWS, GCP, Azure, OpenStack)" },
	{ { AF_INET, SR_V4(169, 254, 170, 2), 32 },
	    "cloud metadata address (AWS ECS)" },
	{ { AF_INET, SR_V4(100, 100, 100, 200), 32 },
	    "cloud metadata address (Alibaba Cloud)" },
	{ { AF_INET6, { 0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0,
	    0, 0, 0, 0, 0, 0, 0x02, 0x54 }, 128 },
	    "cloud metadata address (AWS over IPv6)" },
	/* AWS's other instance services: DNS at ::253, time at ::123 */
	{ { AF_INET6, { 0xfd, 0x00, 0x0e, 0xc2 }, 64 },
	    "AWS instance services over IPv6 (fd00:ec2::/64)" },
	{ { AF_INET, SR_V4(169, 254, 0, 0), 16 }, "link-local address" },
	{ { AF_INET6, { 0xfe, 0x80 }, 10 }, "link-local address" },
	/* a connect() to 0.0.0.0 or :: reaches this host */
	{ { AF_INET, SR_V4(0, 0, 0, 0), 8 },
	    "unspecified address (reaches this host)" },
	{ { AF_INET6, { 0 }, 128 },
	    "unspecified address (reaches this host)" },
	{ { AF_INET, SR_V4(224, 0, 0, 0), 4 }, "multicast address" },
	{ { AF_INET6, { 0xff }, 8 }, "multicast address" },
	{ { AF_INET, SR_V4(255, 255, 255, 255), 32 }, "broadcast address" },
	/*
	 * IPv6 forms that carry an IPv4 address for a translator or tunnel
	 * to reach: where they lead depends on the network, and the IPv4
	 * inside may be any of the above.  A media server has a plain
	 * address to register.  (::ffff:a.b.c.d never gets here: the
	 * parser judges it as the IPv4 address it is.)
	 */
	{ { AF_INET6, { 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0 }, 96 },
	    "IPv6 address embedding an IPv4 address (SIIT ::ffff:0:0/96)" },
	{ { AF_INET6, { 0x00, 0x64, 0xff, 0x9b }, 96 },
	    "IPv6 address embedding an IPv4 address (NAT64 64:ff9b::/96)" },
	{ { AF_INET6, { 0x00, 0x64, 0xff, 0x9b, 0x00, 0x01 }, 48 },
	    "IPv6 address embedding an IPv4 address (NAT64 64:ff9b:1::/48)" },
	{ { AF_INET6, { 0x20, 0x02 }, 16 },
	    "IPv6 address embedding an IPv4 address (6to4 2002::/16)" },
	{ { AF_INET6, { 0x20, 0x01, 0x00, 0x00 }, 32 },
	    "IPv6 address embedding an IPv4 address (Teredo 2001::/32)" },
};

static const unsigned char v6_loopback[16] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1
};

static const unsigned char *
sr_target_bytes(const struct sr_target *t)
{

	if (t->family == AF_INET)
		return ((const void *)&t->sa.sin.sin_addr);
	return (t->sa.sin6.sin6_addr.s6_addr);
}

const char *
sr_target_forbidden(const struct sr_target *t)
{
	const unsigned char *a;
	unsigned i;

	a = sr_target_bytes(t);
	for (i = 0; i < sizeof sr_forbidden / sizeof *sr_forbidden; i++)
		if (sr_forbidden[i].net.family == t->family &&
		    sr_net_match(&sr_forbidden[i].net, a))
			return (sr_forbidden[i].why);
	/* ::a.b.c.d, deprecated "IPv4-compatible"; ::1 is loopback */
	if (t->family == AF_INET6 && !memcmp(a, v6_loopback, 12) &&
	    memcmp(a, v6_loopback, 16))
		return ("IPv6 address embedding an IPv4 address "
		    "(IPv4-compatible ::/96)");
	return (NULL);
}

/*--------------------------------------------------------------------
 * Port lists
 */

static const char *
sr_portrange_item(void *elem, const char *item)
{
	struct sr_portrange *r = elem;
	const char *dash;

	dash = strchr(item, '-');
	if (dash == NULL) {
		if (sr_port_parse(item, strlen(item), &r->lo))
			return ("not a port (1-65535)");
		r->hi = r->lo;
		return (NULL);
	}
	if (sr_port_parse(item, (size_t)(dash - item), &r->lo) ||
	    sr_port_parse(dash + 1, strlen(dash + 1), &r->hi))
		return ("not a port range (1-65535)");
	if (r->lo > r->hi)
		return ("port range ends before it starts");
	return (NULL);
}

/* "port, port-port, ..."; NULL or "" for any port */
const char *
sr_portlist_parse(struct sr_portlist *pl, const char *spec)
{
	void *arr;
	const char *err;

	memset(pl, 0, sizeof *pl);
	if (spec == NULL || *spec == '\0')
		return (NULL);
	err = sr_list_parse(spec, sizeof *pl->ranges, sr_portrange_item,
	    &arr, &pl->n);
	pl->ranges = arr;
	return (err);
}

void
sr_portlist_fini(struct sr_portlist *pl)
{

	free(pl->ranges);
	memset(pl, 0, sizeof *pl);
}

int
sr_portlist_match(const struct sr_portlist *pl, unsigned port)
{
	unsigned i;

	if (pl->n == 0)
		return (1);
	for (i = 0; i < pl->n; i++)
		if (port >= pl->ranges[i].lo && port <= pl->ranges[i].hi)
			return (1);
	return (0);
}

/*--------------------------------------------------------------------
 * This process's own listen addresses.
 *
 * A route to varnishd's own listener sends each request back in as a
 * new request: a loop that ends only when a timeout or the workspace
 * does.  Varnish 7.1 tells a VMOD nothing of its listen sockets, but
 * the worker process holds them as file descriptors: bound by the
 * manager, inherited, listen()ed on only when the child starts (after
 * the first vcl_init).  So: every TCP socket among our descriptors that
 * has a local address and no peer is a listener, whatever -a said
 * (names, several addresses, ports chosen by the kernel).  A socket of a
 * backend fetch caught in the middle of its connect() may be counted
 * too: its ephemeral port is no media server's either.
 */

static int
sr_self_add(struct sr_self *self, const struct sr_endpoint *ep)
{
	struct sr_endpoint *a;

	a = realloc(self->ep, (self->n + 1) * sizeof *a);
	if (a == NULL)
		return (-1);
	self->ep = a;
	self->ep[self->n++] = *ep;
	return (0);
}

/* Every address of this host, on port: what a wildcard listener hears */
static int
sr_self_add_host(struct sr_self *self, unsigned port)
{
	struct ifaddrs *ifa, *i;
	struct sr_endpoint ep;
	int r;

	memset(&ep, 0, sizeof ep);
	ep.port = port;
	/* all of 127.0.0.0/8 reaches a wildcard listener */
	ep.net.family = AF_INET;
	ep.net.addr[0] = 127;
	ep.net.prefix = 8;
	if (sr_self_add(self, &ep))
		return (-1);
	memset(&ep.net, 0, sizeof ep.net);
	ep.net.family = AF_INET6;
	memcpy(ep.net.addr, v6_loopback, 16);
	ep.net.prefix = 128;
	if (sr_self_add(self, &ep))
		return (-1);
	if (getifaddrs(&ifa))
		return (-1);
	r = 0;
	for (i = ifa; i != NULL && r == 0; i = i->ifa_next) {
		if (i->ifa_addr == NULL)
			continue;
		memset(&ep.net, 0, sizeof ep.net);
		if (i->ifa_addr->sa_family == AF_INET) {
			ep.net.family = AF_INET;
			memcpy(ep.net.addr, &((const struct sockaddr_in *)
			    (const void *)i->ifa_addr)->sin_addr, 4);
			ep.net.prefix = 32;
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			ep.net.family = AF_INET6;
			memcpy(ep.net.addr, &((const struct sockaddr_in6 *)
			    (const void *)i->ifa_addr)->sin6_addr, 16);
			ep.net.prefix = 128;
		} else
			continue;
		r = sr_self_add(self, &ep);
	}
	freeifaddrs(ifa);
	return (r);
}

/* A listener: a wildcard one stands for every address of the host */
int
sr_self_add_listener(struct sr_self *self, const struct sr_endpoint *ep)
{
	static const unsigned char zero[16];

	if (!memcmp(ep->net.addr, zero, ep->net.family == AF_INET ? 4 : 16))
		return (sr_self_add_host(self, ep->port));
	return (sr_self_add(self, ep));
}

/* Whether fd is a TCP socket bound to a local address, with no peer */
static int
sr_fd_listener(int fd, struct sr_endpoint *ep)
{
	struct sockaddr_storage ss;
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;
	socklen_t len;
	int type;

	len = sizeof type;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) ||
	    type != SOCK_STREAM)
		return (0);
	len = sizeof ss;
	if (getsockname(fd, (void *)&ss, &len))
		return (0);
	memset(ep, 0, sizeof *ep);
	if (ss.ss_family == AF_INET) {
		sin = (const void *)&ss;
		ep->net.family = AF_INET;
		ep->net.prefix = 32;
		memcpy(ep->net.addr, &sin->sin_addr, 4);
		ep->port = ntohs(sin->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		sin6 = (const void *)&ss;
		ep->net.family = AF_INET6;
		ep->net.prefix = 128;
		memcpy(ep->net.addr, &sin6->sin6_addr, 16);
		ep->port = ntohs(sin6->sin6_port);
	} else
		return (0);
	if (ep->port == 0)
		return (0);
	len = sizeof ss;
	if (getpeername(fd, (void *)&ss, &len) == 0)
		return (0);	/* a connection, not a listener */
	return (1);
}

const char *
sr_self_load(struct sr_self *self)
{
	struct sr_endpoint ep;
	struct dirent *de;
	char *end;
	long fd;
	DIR *d;
	int r;

	memset(self, 0, sizeof *self);
	d = opendir("/proc/self/fd");
	if (d == NULL)
		return ("cannot read /proc/self/fd");
	r = 0;
	while (r == 0 && (de = readdir(d)) != NULL) {
		fd = strtol(de->d_name, &end, 10);
		if (*end != '\0' || end == de->d_name || fd < 0 ||
		    fd == dirfd(d) || fd > INT_MAX)
			continue;
		if (sr_fd_listener((int)fd, &ep))
			r = sr_self_add_listener(self, &ep);
	}
	(void)closedir(d);
	if (r != 0) {
		sr_self_fini(self);
		return ("cannot list this host's addresses");
	}
	return (NULL);
}

void
sr_self_fini(struct sr_self *self)
{

	free(self->ep);
	memset(self, 0, sizeof *self);
}

int
sr_self_match(const struct sr_self *self, const struct sr_target *t)
{
	const unsigned char *a;
	unsigned i;

	a = sr_target_bytes(t);
	for (i = 0; i < self->n; i++)
		if (self->ep[i].port == t->port &&
		    self->ep[i].net.family == t->family &&
		    sr_net_match(&self->ep[i].net, a))
			return (1);
	return (0);
}
