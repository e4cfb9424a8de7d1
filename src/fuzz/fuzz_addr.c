/*-
 * Copyright (c) 2026 The streamroute authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * libFuzzer harness for what sr_addr.c parses from outside: the Redis
 * value ("ip:port", "[ip6]:port"), and the allow list, port list and
 * Sentinel list settings.  Besides the sanitizers' checks it asserts
 * what the VMOD relies on: a target parsed has a family and a port in
 * 1..65535, and its canonical form parses back to itself.
 *
 * Input: the Redis value as bytes of the exact length (no NUL after it,
 * as hiredis hands it over: an over-read is an ASan report); then the
 * same bytes NUL-ended as each setting string.
 */

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../sr_addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sr_target t, t2;
	struct sr_netlist nl;
	struct sr_portlist pl;
	struct sr_targetlist tl;
	const char *err;
	unsigned salen;
	char *v, *s;

	v = malloc(size ? size : 1);
	assert(v != NULL);
	memcpy(v, data, size);
	err = sr_target_parse(&t, v, size);
	free(v);
	if (err == NULL) {
		assert(t.family == AF_INET || t.family == AF_INET6);
		assert(t.port >= 1 && t.port <= 65535);
		assert(strlen(t.addr) < sizeof t.addr);
		assert(sr_target_parse(&t2, t.addr, strlen(t.addr)) == NULL);
		assert(!strcmp(t.addr, t2.addr));
		assert(sr_target_sockaddr(&t, &salen) != NULL && salen > 0);
		(void)sr_target_forbidden(&t);
	}

	s = malloc(size + 1);
	assert(s != NULL);
	memcpy(s, data, size);
	s[size] = '\0';
	memset(&nl, 0, sizeof nl);
	if (sr_netlist_parse(&nl, s) == NULL && err == NULL)
		(void)sr_netlist_match(&nl, &t);
	sr_netlist_fini(&nl);
	memset(&pl, 0, sizeof pl);
	if (sr_portlist_parse(&pl, s) == NULL && err == NULL)
		(void)sr_portlist_match(&pl, t.port);
	sr_portlist_fini(&pl);
	memset(&tl, 0, sizeof tl);
	(void)sr_targetlist_parse(&tl, s);
	sr_targetlist_fini(&tl);
	free(s);
	return (0);
}
