/*-
 * Copyright (c) 2026 The streamroute authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * libFuzzer harness for sr_http.c: the Cache-Control value made from
 * VCL durations, which may be anything a double holds (negative, huge,
 * infinite, NaN).  Asserts what the VMOD relies on: the value always
 * fits SR_CACHE_CONTROL_MAX and starts with max-age.
 *
 * Input: two doubles (ttl, grace) and a byte (stale-while-revalidate).
 */

#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "../sr_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[SR_CACHE_CONTROL_MAX], digits[24], *e;
	double ttl, grace;
	unsigned long v;
	size_t n;

	if (size < 2 * sizeof(double) + 1)
		return (0);
	memcpy(&ttl, data, sizeof ttl);
	memcpy(&grace, data + sizeof ttl, sizeof grace);
	n = sr_cache_control(buf, sizeof buf, ttl, grace,
	    data[2 * sizeof(double)] & 1);
	assert(n > 0 && n < sizeof buf);
	assert(strlen(buf) == n);
	assert(!strncmp(buf, "max-age=", 8));

	memcpy(&v, data, sizeof v);
	e = sr_put_uint(digits, v);
	assert(e > digits && e <= digits + 20);
	return (0);
}
