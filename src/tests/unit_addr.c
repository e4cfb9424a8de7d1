/*-
 * Copyright (c) 2026 The streamroute authors
 * SPDX-License-Identifier: BSD-2-Clause
 */

#include <sys/socket.h>
#include <arpa/inet.h>

#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* parses s, then: 1 if always refused, 0 if not, -1 if not a route */
static int
forbidden(const char *s)
{

	if (sr_target_parse(&t, s, strlen(s)) != NULL)
		return (-1);
	return (sr_target_forbidden(&t) != NULL);
}

/* the reason s is refused contains want */
static int
forbidden_as(const char *s, const char *want)
{
	const char *why;

	if (sr_target_parse(&t, s, strlen(s)) != NULL)
		return (0);
	why = sr_target_forbidden(&t);
	return (why != NULL && strstr(why, want) != NULL);
}

static int
ports(const char *spec, unsigned port)
{
	struct sr_portlist pl;
	int r;

	if (sr_portlist_parse(&pl, spec) != NULL)
		return (-1);
	r = sr_portlist_match(&pl, port);
	sr_portlist_fini(&pl);
	return (r);
}

/* a TCP socket bound to addr (port chosen by the kernel), listening */
static int
bound(int family, const char *addr, unsigned *port, int dolisten)
{
	struct sockaddr_in6 s6;
	struct sockaddr_in s4;
	struct sockaddr *sa;
	socklen_t len;
	int fd;

	fd = socket(family, SOCK_STREAM, 0);
	if (fd < 0)
		return (-1);
	if (family == AF_INET) {
		memset(&s4, 0, sizeof s4);
		s4.sin_family = AF_INET;
		(void)inet_pton(AF_INET, addr, &s4.sin_addr);
		sa = (void *)&s4;
		len = sizeof s4;
	} else {
		memset(&s6, 0, sizeof s6);
		s6.sin6_family = AF_INET6;
		(void)inet_pton(AF_INET6, addr, &s6.sin6_addr);
		sa = (void *)&s6;
		len = sizeof s6;
	}
	if (bind(fd, sa, len) || (dolisten && listen(fd, 1)) ||
	    getsockname(fd, sa, &len)) {
		(void)close(fd);
		return (-1);
	}
	*port = ntohs(family == AF_INET ? s4.sin_port : s6.sin6_port);
	return (fd);
}

static int
listener(int family, const char *addr, unsigned *port)
{

	return (bound(family, addr, port, 1));
}

/* a connection from this process to 127.0.0.1:port; its local port */
static int
connection(unsigned port, unsigned *local)
{
	struct sockaddr_in s4;
	socklen_t len;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return (-1);
	memset(&s4, 0, sizeof s4);
	s4.sin_family = AF_INET;
	s4.sin_port = htons((uint16_t)port);
	s4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	len = sizeof s4;
	if (connect(fd, (void *)&s4, sizeof s4) ||
	    getsockname(fd, (void *)&s4, &len)) {
		(void)close(fd);
		return (-1);
	}
	*local = ntohs(s4.sin_port);
	return (fd);
}

static int
self_has(const struct sr_self *self, const char *ip, unsigned port)
{
	char buf[80];

	if (strchr(ip, ':') != NULL)
		snprintf(buf, sizeof buf, "[%s]:%u", ip, port);
	else
		snprintf(buf, sizeof buf, "%s:%u", ip, port);
	if (sr_target_parse(&t, buf, strlen(buf)) != NULL)
		return (-1);
	return (sr_self_match(self, &t));
}

static void
test_forbidden(void)
{
	static const char * const md[] = {
		/* 169.254.169.254 in every spelling the parser takes */
		"169.254.169.254:80",
		"[::ffff:169.254.169.254]:80",
		"[::FFFF:169.254.169.254]:80",
		"[::ffff:a9fe:a9fe]:80",
		"[0:0:0:0:0:ffff:a9fe:a9fe]:80",
		"[0000:0000:0000:0000:0000:FFFF:169.254.169.254]:80",
		/* AWS ECS */
		"169.254.170.2:80",
		"[::ffff:169.254.170.2]:80",
		"[::ffff:a9fe:aa02]:80",
		/* Alibaba Cloud, inside 100.64.0.0/10 */
		"100.100.100.200:80",
		"[::ffff:100.100.100.200]:80",
		"[::ffff:6464:64c8]:80",
		/* AWS over IPv6, inside fc00::/7 */
		"[fd00:ec2::254]:80",
		"[FD00:EC2::254]:80",
		"[fd00:0ec2:0000:0000:0000:0000:0000:0254]:80",
		"[fd00:ec2:0:0:0:0:0:254]:80",
		"[fd00:ec2::0.0.2.84]:80",
	};
	unsigned i;

	for (i = 0; i < sizeof md / sizeof *md; i++) {
		if (!forbidden_as(md[i], "metadata"))
			fprintf(stderr, "not refused as metadata: %s\n", md[i]);
		CHECK(forbidden_as(md[i], "metadata"));
	}

	CHECK(forbidden_as("169.254.0.1:80", "link-local"));
	CHECK(forbidden_as("169.254.255.255:8080", "link-local"));
	CHECK(forbidden_as("[::ffff:169.254.1.1]:80", "link-local"));
	CHECK(forbidden_as("[fe80::1]:80", "link-local"));
	CHECK(forbidden_as("[FE80::a9fe:a9fe]:80", "link-local"));
	CHECK(forbidden_as("[febf:ffff::1]:80", "link-local"));
	CHECK(forbidden("[fec0::1]:80") == 0);
	CHECK(forbidden("169.253.255.255:80") == 0);
	CHECK(forbidden("169.255.0.0:80") == 0);

	CHECK(forbidden_as("0.0.0.0:80", "unspecified"));
	CHECK(forbidden_as("0.1.2.3:80", "unspecified"));
	CHECK(forbidden_as("[::ffff:0.0.0.0]:80", "unspecified"));
	CHECK(forbidden_as("[::]:80", "unspecified"));
	CHECK(forbidden_as("[0:0::0]:80", "unspecified"));
	CHECK(forbidden("1.0.0.0:80") == 0);

	CHECK(forbidden_as("224.0.0.1:80", "multicast"));
	CHECK(forbidden_as("239.255.255.250:1900", "multicast"));
	CHECK(forbidden_as("[::ffff:224.0.0.1]:80", "multicast"));
	CHECK(forbidden_as("[ff02::1]:80", "multicast"));
	CHECK(forbidden_as("[FF05::1:3]:80", "multicast"));
	CHECK(forbidden("223.255.255.255:80") == 0);

	CHECK(forbidden_as("255.255.255.255:80", "broadcast"));
	CHECK(forbidden_as("[::ffff:255.255.255.255]:80", "broadcast"));

	/* IPv6 forms that embed an IPv4 address: refused outright */
	CHECK(forbidden_as("[::ffff:0:169.254.169.254]:80", "SIIT"));
	CHECK(forbidden_as("[::ffff:0:10.20.0.1]:80", "SIIT"));
	CHECK(forbidden_as("[64:ff9b::169.254.169.254]:80", "NAT64"));
	CHECK(forbidden_as("[64:ff9b::a14:1]:80", "NAT64"));
	CHECK(forbidden_as("[64:ff9b:1::a9fe:a9fe]:80", "NAT64"));
	CHECK(forbidden_as("[::169.254.169.254]:80", "IPv4-compatible"));
	CHECK(forbidden_as("[::10.20.0.1]:80", "IPv4-compatible"));
	CHECK(forbidden_as("[::0.0.0.2]:80", "IPv4-compatible"));
	CHECK(forbidden_as("[2002:a9fe:a9fe::1]:80", "6to4"));
	CHECK(forbidden_as("[2001:0:4136:e378:8000:63bf:3fff:fdd2]:80",
	    "Teredo"));
	CHECK(forbidden("[2001:db8::1]:80") == 0);
	CHECK(forbidden("[2001:1::1]:80") == 0);
	CHECK(forbidden("[64:ff9c::1]:80") == 0);

	/* what allow decides, not this */
	CHECK(forbidden("[::1]:80") == 0);
	CHECK(forbidden("127.0.0.1:80") == 0);
	CHECK(forbidden("[::ffff:127.0.0.1]:80") == 0);
	CHECK(forbidden("10.20.0.1:80") == 0);
	CHECK(forbidden("100.100.100.201:80") == 0);
	CHECK(forbidden("100.64.0.1:80") == 0);
	CHECK(forbidden_as("[fd00:ec2::253]:53", "fd00:ec2::/64"));
	CHECK(forbidden_as("[fd00:ec2::123]:123", "fd00:ec2::/64"));
	CHECK(forbidden_as("[fd00:ec2::1:254]:80", "fd00:ec2::/64"));
	CHECK(forbidden_as("[fd00:ec2:0:0:ffff::1]:80", "fd00:ec2::/64"));
	CHECK(forbidden("[fd00:ec2:0:1::254]:80") == 0);
	CHECK(forbidden("[fd00:ec3::254]:80") == 0);
	CHECK(forbidden_as("169.254.169.253:80", "link-local"));
	CHECK(forbidden("8.8.8.8:53") == 0);

	/* spellings the parser refuses are no way around it either */
	CHECK(forbidden("0251.0376.0251.0376:80") == -1);
	CHECK(forbidden("0xa9.0xfe.0xa9.0xfe:80") == -1);
	CHECK(forbidden("2852039166:80") == -1);
	CHECK(forbidden("169.254.43518:80") == -1);
	CHECK(forbidden("169.254.169.0254:80") == -1);
	CHECK(forbidden("[fe80::1%eth0]:80") == -1);
	CHECK(forbidden("[fe80::1%25eth0]:80") == -1);
	CHECK(forbidden("[::ffff:169.254.169.254 ]:80") == -1);
}

static void
test_ports(void)
{
	struct sr_portlist pl;

	CHECK(ports("", 1) == 1);
	CHECK(ports("", 65535) == 1);
	CHECK(ports(NULL, 6081) == 1);
	CHECK(ports("80", 80) == 1);
	CHECK(ports("80", 81) == 0);
	CHECK(ports("80, 443,8080-8090", 443) == 1);
	CHECK(ports("80, 443,8080-8090", 8080) == 1);
	CHECK(ports("80, 443,8080-8090", 8085) == 1);
	CHECK(ports("80, 443,8080-8090", 8090) == 1);
	CHECK(ports("80, 443,8080-8090", 8091) == 0);
	CHECK(ports("80, 443,8080-8090", 8079) == 0);
	CHECK(ports("80, 443,8080-8090", 6379) == 0);
	CHECK(ports("1-65535", 1) == 1);
	CHECK(ports("1-65535", 65535) == 1);
	CHECK(ports("8080-8080", 8080) == 1);
	CHECK(ports("80,", 80) == 1);
	CHECK(ports("0", 80) == -1);
	CHECK(ports("65536", 80) == -1);
	CHECK(ports("80-", 80) == -1);
	CHECK(ports("-80", 80) == -1);
	CHECK(ports("90-80", 80) == -1);
	CHECK(ports("80 - 90", 80) == -1);
	CHECK(ports("80-90-100", 80) == -1);
	CHECK(ports("http", 80) == -1);
	CHECK(ports("+80", 80) == -1);
	CHECK(ports("80;443", 80) == -1);
	CHECK(ports(" , ", 80) == -1);
	CHECK(sr_portlist_parse(&pl, "80, 1935, 8000-8999") == NULL);
	CHECK(pl.n == 3);
	CHECK(pl.ranges[2].lo == 8000 && pl.ranges[2].hi == 8999);
	sr_portlist_fini(&pl);
	CHECK(pl.n == 0 && pl.ranges == NULL);
	CHECK(sr_portlist_parse(&pl, "80, x") != NULL);
	CHECK(pl.n == 0 && pl.ranges == NULL);
}

/* the listeners this very process holds, and only those */
static void
test_self(void)
{
	struct sr_self self;
	struct sr_endpoint ep;
	unsigned p4, p6 = 0, pb = 0, pother, pc = 0;
	int fd4, fd6, fdb, fdc, pfd[2];
	pid_t pid;

	fd4 = listener(AF_INET, "127.0.0.1", &p4);
	CHECK(fd4 >= 0);
	fd6 = listener(AF_INET6, "::1", &p6);	/* -1 without IPv6 */
	/* varnishd's child: bound by the manager, listen() comes later */
	fdb = bound(AF_INET, "127.0.0.1", &pb, 0);
	CHECK(fdb >= 0);

	/* a listener in another process is not ours */
	CHECK(pipe(pfd) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int fd;
		unsigned p;

		fd = listener(AF_INET, "127.0.0.1", &p);
		if (fd < 0 || write(pfd[1], &p, sizeof p) != sizeof p)
			_exit(1);
		(void)pause();
		_exit(0);
	}
	pother = 0;
	CHECK(read(pfd[0], &pother, sizeof pother) == sizeof pother);
	CHECK(pother != 0);
	/* a connection of ours (to it) is no listener */
	fdc = connection(pother, &pc);
	CHECK(fdc >= 0);

	CHECK(sr_self_load(&self) == NULL);
	CHECK(self_has(&self, "127.0.0.1", p4) == 1);
	CHECK(self_has(&self, "::ffff:127.0.0.1", p4) == 1);
	CHECK(self_has(&self, "127.0.0.2", p4) == 0);
	if (fd6 >= 0) {
		CHECK(self_has(&self, "::1", p6) == 1);
		CHECK(self_has(&self, "127.0.0.1", p6) == 0);
	}
	CHECK(self_has(&self, "127.0.0.1", pb) == 1);
	CHECK(self_has(&self, "127.0.0.1", pother) == 0);
	CHECK(self_has(&self, "127.0.0.1", pc) == 0);
	sr_self_fini(&self);
	CHECK(self.n == 0 && self.ep == NULL);

	/* closed: no longer a listener */
	(void)close(fd4);
	(void)close(fdb);
	(void)close(fdc);
	CHECK(sr_self_load(&self) == NULL);
	CHECK(self_has(&self, "127.0.0.1", p4) == 0);
	CHECK(self_has(&self, "127.0.0.1", pb) == 0);
	sr_self_fini(&self);

	/*
	 * A wildcard listener (0.0.0.0 or ::, as "-a :80" makes) hears
	 * every address of the host; tests listen on loopback only, so
	 * it is handed in as getsockname() gives it.
	 */
	memset(&self, 0, sizeof self);
	memset(&ep, 0, sizeof ep);
	ep.net.family = AF_INET;
	ep.net.prefix = 32;
	ep.port = 6081;
	CHECK(sr_self_add_listener(&self, &ep) == 0);
	CHECK(self_has(&self, "127.0.0.1", 6081) == 1);
	CHECK(self_has(&self, "127.3.2.1", 6081) == 1);
	CHECK(self_has(&self, "::1", 6081) == 1);
	CHECK(self_has(&self, "127.0.0.1", 6082) == 0);
	CHECK(self_has(&self, "10.253.254.253", 6081) == 0);
	/* and the host's own addresses: those of the loopback interface */
	CHECK(self.n >= 3);
	sr_self_fini(&self);
	ep.net.family = AF_INET6;
	ep.net.prefix = 128;
	ep.port = 80;
	CHECK(sr_self_add_listener(&self, &ep) == 0);
	CHECK(self_has(&self, "::1", 80) == 1);
	CHECK(self_has(&self, "127.0.0.1", 80) == 1);
	CHECK(self_has(&self, "fd12::1", 80) == 0);
	sr_self_fini(&self);
	/* a specific address is just that */
	ep.net.addr[0] = 0xfd;
	ep.net.addr[1] = 0x12;
	ep.net.addr[15] = 1;
	CHECK(sr_self_add_listener(&self, &ep) == 0);
	CHECK(self.n == 1);
	CHECK(self_has(&self, "fd12::1", 80) == 1);
	CHECK(self_has(&self, "::1", 80) == 0);
	sr_self_fini(&self);

	if (fd6 >= 0)
		(void)close(fd6);
	(void)kill(pid, SIGTERM);
	(void)waitpid(pid, NULL, 0);
	(void)close(pfd[0]);
	(void)close(pfd[1]);
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

	test_forbidden();
	test_ports();
	test_self();

	return (unit_report("unit_addr"));
}
