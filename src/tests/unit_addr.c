/*-
 * Copyright (c) 2026 The streamroute authors
 * SPDX-License-Identifier: BSD-2-Clause
 */

#include <sys/socket.h>
#include <arpa/inet.h>

#include <string.h>

#include "../sr_addr.h"
#include "unit.h"

static struct sr_target t;

static int
parses_to(const char *s, const char *want)
{

	if (sr_target_parse(&t, s, strlen(s)) != NULL)
		return (0);
	return (!strcmp(t.addr, want));
}

static int
refused(const char *s)
{

	return (sr_target_parse(&t, s, strlen(s)) != NULL);
}

static int
allowed(const char *spec, const char *target)
{
	struct sr_netlist nl;
	int r;

	if (sr_netlist_parse(&nl, spec) != NULL)
		return (-1);
	if (sr_target_parse(&t, target, strlen(target)) != NULL)
		r = -2;
	else
		r = sr_netlist_match(&nl, &t);
	sr_netlist_fini(&nl);
	return (r);
}

int
main(void)
{
	struct sr_netlist nl;
	const struct sockaddr_in *sin;
	unsigned len;
	char big[300];

	CHECK(parses_to("10.0.0.1:8080", "10.0.0.1:8080"));
	CHECK(parses_to("127.0.0.1:1", "127.0.0.1:1"));
	CHECK(parses_to("127.0.0.1:65535", "127.0.0.1:65535"));
	CHECK(parses_to("[::1]:80", "[::1]:80"));
	CHECK(parses_to("[fd00:0:0::1]:8080", "[fd00::1]:8080"));
	CHECK(parses_to("[::ffff:10.1.2.3]:80", "10.1.2.3:80"));
	CHECK(t.family == AF_INET);
	CHECK(parses_to("10.0.0.1:08080", "10.0.0.1:8080"));

	CHECK(parses_to("192.168.1.2:1935", "192.168.1.2:1935"));
	sin = (const void *)sr_target_sockaddr(&t, &len);
	CHECK(len == sizeof *sin);
	CHECK(sin->sin_family == AF_INET);
	CHECK(ntohs(sin->sin_port) == 1935);

	CHECK(refused(""));
	CHECK(refused("garbage"));
	CHECK(refused("10.0.0.1"));
	CHECK(refused("10.0.0.1:"));
	CHECK(refused("10.0.0.1:0"));
	CHECK(refused("10.0.0.1:70000"));
	CHECK(refused("10.0.0.1:65536"));
	CHECK(refused("10.0.0.1:-1"));
	CHECK(refused("10.0.0.1:+80"));
	CHECK(refused("10.0.0.1:80 "));
	CHECK(refused(" 10.0.0.1:80"));
	CHECK(refused("10.0.0.1:8a"));
	CHECK(refused("10.0.0.1:123456"));
	CHECK(refused("10.0.0:80"));
	CHECK(refused("10.0.0.256:80"));
	CHECK(refused("media1.example.com:80"));
	CHECK(refused("localhost:80"));
	CHECK(refused("::1:80"));
	CHECK(refused("[::1]80"));
	CHECK(refused("[::1]:"));
	CHECK(refused("[10.0.0.1]:80"));
	CHECK(refused("[::1:80"));
	CHECK(refused("10.0.0.1:80\r\nX: y"));
	CHECK(sr_target_parse(&t, "10.0.0.1:80\0", 12) != NULL);
	memset(big, '1', sizeof big);
	CHECK(sr_target_parse(&t, big, sizeof big) != NULL);
	CHECK(sr_target_parse(&t, "10.0.0.1:80", 0) != NULL);

	CHECK(allowed("10.0.0.0/8", "10.200.3.4:80") == 1);
	CHECK(allowed("10.0.0.0/8", "11.0.0.1:80") == 0);
	CHECK(allowed("10.0.0.0/8, 169.254.0.0/16", "169.254.169.254:80") == 1);
	CHECK(allowed("127.0.0.0/8, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16",
	    "169.254.169.254:80") == 0);
	CHECK(allowed("172.16.0.0/12", "172.31.255.255:80") == 1);
	CHECK(allowed("172.16.0.0/12", "172.32.0.1:80") == 0);
	CHECK(allowed("10.1.2.3", "10.1.2.3:80") == 1);
	CHECK(allowed("10.1.2.3", "10.1.2.4:80") == 0);
	CHECK(allowed("10.1.2.3/31", "10.1.2.3:80") == -1);
	CHECK(allowed("0.0.0.0/0", "8.8.8.8:53") == 1);
	CHECK(allowed("0.0.0.0/0", "[::1]:53") == 0);
	CHECK(allowed("::/0", "[2001:db8::1]:80") == 1);
	CHECK(allowed("fc00::/7", "[fd12::1]:80") == 1);
	CHECK(allowed("fc00::/7", "[fe80::1]:80") == 0);
	CHECK(allowed("::1/128", "[::1]:80") == 1);
	CHECK(allowed("10.0.0.0/8", "[::ffff:10.0.0.1]:80") == 1);
	CHECK(allowed("::/0", "[::ffff:169.254.169.254]:80") == 0);
	CHECK(allowed("", "10.0.0.1:80") == -1);
	CHECK(allowed(" , ", "10.0.0.1:80") == -1);
	CHECK(allowed("10.0.0.0/33", "10.0.0.1:80") == -1);
	CHECK(allowed("10.0.0.0/-1", "10.0.0.1:80") == -1);
	CHECK(allowed("10.0.0.0/8x", "10.0.0.1:80") == -1);
	CHECK(allowed("example.com/8", "10.0.0.1:80") == -1);
	/* lists of targets, for Sentinel */
	{
		struct sr_targetlist tl;

		CHECK(sr_targetlist_parse(&tl,
		    " 127.0.0.1:26379 ,[::1]:26380,") == NULL);
		CHECK(tl.n == 2);
		CHECK(!strcmp(tl.targets[0].ip, "127.0.0.1"));
		CHECK(tl.targets[0].port == 26379);
		CHECK(!strcmp(tl.targets[1].ip, "::1"));
		CHECK(!strcmp(tl.targets[1].addr, "[::1]:26380"));
		sr_targetlist_fini(&tl);
		CHECK(tl.n == 0 && tl.targets == NULL);
		CHECK(sr_targetlist_parse(&tl, "127.0.0.1:26379, sentinel:1")
		    != NULL);
		CHECK(tl.n == 0 && tl.targets == NULL);
		CHECK(sr_targetlist_parse(&tl, "") != NULL);
		CHECK(sr_targetlist_parse(&tl, NULL) != NULL);
	}
	CHECK(sr_netlist_parse(&nl, "10.0.0.0/8,,192.168.0.0/16") == NULL);
	CHECK(nl.n == 2);
	sr_netlist_fini(&nl);

	return (unit_report("unit_addr"));
}
