/*-
 * Copyright (c) 2026 The streamroute authors
 * SPDX-License-Identifier: BSD-2-Clause
 */

#include <math.h>
#include <string.h>

#include "../sr_http.h"
#include "unit.h"

static int
cc_is(double ttl, double grace, int swr, const char *want)
{
	char buf[SR_CACHE_CONTROL_MAX];
	size_t l;

	memset(buf, 'X', sizeof buf);
	l = sr_cache_control(buf, sizeof buf, ttl, grace, swr);
	if (l != strlen(want) || strcmp(buf, want) != 0) {
		fprintf(stderr, "cache_control(%g, %g, %d) = \"%s\", want "
		    "\"%s\"\n", ttl, grace, swr, l ? buf : "", want);
		return (0);
	}
	return (1);
}

int
main(void)
{
	char small[SR_CACHE_CONTROL_MAX - 1];

	/* the shipped TTLs */
	CHECK(cc_is(60, 60, 1,
	    "max-age=60, stale-while-revalidate=60, stale-if-error=60"));
	CHECK(cc_is(1, 5, 0, "max-age=1, stale-if-error=5"));
	CHECK(cc_is(1, 5, 1,
	    "max-age=1, stale-while-revalidate=5, stale-if-error=5"));
	/* errors: no grace, no stale directives */
	CHECK(cc_is(1, 0, 1, "max-age=1"));
	/* rounded to the nearest second, half up */
	CHECK(cc_is(0.5, 0.49, 1, "max-age=1"));
	CHECK(cc_is(1.49, 0.5, 0, "max-age=1, stale-if-error=1"));
	CHECK(cc_is(2.5, 59.999, 1,
	    "max-age=3, stale-while-revalidate=60, stale-if-error=60"));
	/* nothing negative, nothing not a number */
	CHECK(cc_is(-3, -1, 1, "max-age=0"));
	CHECK(cc_is(0, 0, 1, "max-age=0"));
	CHECK(cc_is(NAN, NAN, 1, "max-age=0"));
	/* RFC 9111 1.2.2: at most 2^31 */
	CHECK(cc_is(1e300, INFINITY, 1, "max-age=2147483648, "
	    "stale-while-revalidate=2147483648, stale-if-error=2147483648"));
	CHECK(cc_is(2147483646.4, 0, 1, "max-age=2147483646"));
	/* the longest value fits */
	CHECK(sr_cache_control(small, sizeof small, 1, 1, 1) == 0);
	CHECK(sr_cache_control(NULL, 1000, 1, 1, 1) == 0);
	return (unit_report("unit_http"));
}
