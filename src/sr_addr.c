/*-
 * Copyright (c) 2026 The streamroute authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * A route value comes from Redis, which anyone who can write to Redis
 * controls: it is parsed strictly (numeric address, decimal port 1-65535,
 * nothing else) and checked against an allow-list before Varnish ever
 * connects to it.
 */

#include <arpa/inet.h>
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vdef.h"
#include "vas.h"

#include "sr_addr.h"

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
		AN(inet_ntop(AF_INET, &t->sa.sin.sin_addr, t->ip,
		    sizeof t->ip));
		snprintf(t->addr, sizeof t->addr, "%s:%u", t->ip, port);
	} else {
		t->sa.sin6.sin6_family = AF_INET6;
		t->sa.sin6.sin6_port = htons((uint16_t)port);
		AN(inet_ntop(AF_INET6, &t->sa.sin6.sin6_addr, t->ip,
		    sizeof t->ip));
		snprintf(t->addr, sizeof t->addr, "[%s]:%u", t->ip, port);
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
