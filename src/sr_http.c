/*-
 * Copyright (c) 2026 The streamroute authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Header values the origin writes: pure formatting, no Varnish.
 *
 * Written without printf: this runs on every fetch, and printf with its
 * locale and format machinery costs more than the rest of it.
 */

#include <stddef.h>
#include <string.h>

#include "sr_http.h"

/*
 * RFC 9111 1.2.2: a delta-seconds too large to represent is taken as
 * 2^31; a cache need not understand more.
 */
#define SR_DELTA_SECONDS_MAX	2147483648.0

/* Whole seconds, rounded to the nearest: a 1 s playlist says 1, not 0. */
static unsigned long
sr_delta_seconds(double d)
{

	if (!(d > 0.0))		/* also NaN */
		return (0);
	if (d + 0.5 >= SR_DELTA_SECONDS_MAX)
		return ((unsigned long)SR_DELTA_SECONDS_MAX);
	return ((unsigned long)(d + 0.5));
}

/* Writes v in decimal, without a NUL; returns the end. */
char *
sr_put_uint(char *p, unsigned long v)
{
	char digits[24], *d;
	size_t l;

	d = digits + sizeof digits;
	do {
		*--d = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	l = (size_t)(digits + sizeof digits - d);
	memcpy(p, d, l);
	return (p + l);
}

static char *
sr_put_directive(char *p, const char *name, unsigned long v)
{
	size_t l;

	l = strlen(name);
	memcpy(p, name, l);
	return (sr_put_uint(p + l, v));
}

/*
 * Cache-Control towards CDNs and players: "max-age=<ttl>", and, when
 * the grace is at least half a second, "stale-while-revalidate=<grace>"
 * (unless left out) and "stale-if-error=<grace>".  Returns the length
 * written, or 0 when buf is too short (never, with SR_CACHE_CONTROL_MAX).
 */
size_t
sr_cache_control(char *buf, size_t len, double ttl, double grace,
    int stale_while_revalidate)
{
	unsigned long g;
	char *p;

	if (buf == NULL || len < SR_CACHE_CONTROL_MAX)
		return (0);
	p = sr_put_directive(buf, "max-age=", sr_delta_seconds(ttl));
	g = sr_delta_seconds(grace);
	if (g > 0 && stale_while_revalidate)
		p = sr_put_directive(p, ", stale-while-revalidate=", g);
	if (g > 0)
		p = sr_put_directive(p, ", stale-if-error=", g);
	*p = '\0';
	return ((size_t)(p - buf));
}
