/*-
 * Copyright (c) 2026 The streamroute authors
 * SPDX-License-Identifier: BSD-2-Clause
 */

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../sr_cache.h"
#include "unit.h"

struct source {
	pthread_mutex_t		mtx;
	unsigned		calls;
	enum sr_route_state	state;
	const char		*value;
	useconds_t		delay;
};

static void
fetch(void *priv, const char *key, size_t keylen, struct sr_route *r)
{
	struct source *src = priv;

	(void)key;
	(void)keylen;
	pthread_mutex_lock(&src->mtx);
	src->calls++;
	pthread_mutex_unlock(&src->mtx);
	if (src->delay)
		usleep(src->delay);
	r->state = src->state;
	if (src->state == SR_ROUTE_FOUND) {
		r->len = strlen(src->value);
		snprintf(r->value, sizeof r->value, "%s", src->value);
	}
}

static struct sr_cache *
cache(double ttl, double neg, double stale, unsigned max, double wait)
{
	struct sr_cache_cfg cfg;

	memset(&cfg, 0, sizeof cfg);
	cfg.ttl = ttl;
	cfg.negative_ttl = neg;
	cfg.stale_ttl = stale;
	cfg.max_entries = max;
	cfg.wait_timeout = wait;
	return (sr_cache_new(&cfg));
}

static struct source src = { PTHREAD_MUTEX_INITIALIZER, 0, SR_ROUTE_NONE,
    NULL, 0 };
static struct sr_cache *herd_cache;
static struct sr_route herd_result[50];

static void *
herd_member(void *priv)
{
	struct sr_route *r = priv;

	sr_cache_lookup(herd_cache, "herd", 4, 100.0, fetch, &src, r);
	return (NULL);
}

static void
source_set(enum sr_route_state state, const char *value, useconds_t delay)
{

	src.calls = 0;
	src.state = state;
	src.value = value;
	src.delay = delay;
}

int
main(void)
{
	struct sr_cache *c;
	struct sr_route r;
	pthread_t thr[50];
	unsigned u, fetched, coalesced;
	char key[32];

	/* positive entries live ttl, then the source is asked again */
	c = cache(1.0, 0.5, 10.0, 1000, 1.0);
	source_set(SR_ROUTE_FOUND, "10.0.0.1:80", 0);
	sr_cache_lookup(c, "a", 1, 100.0, fetch, &src, &r);
	CHECK(r.state == SR_ROUTE_FOUND && r.source == SR_SRC_FETCH);
	CHECK(!strcmp(r.value, "10.0.0.1:80") && r.len == 11);
	sr_cache_lookup(c, "a", 1, 100.9, fetch, &src, &r);
	CHECK(r.state == SR_ROUTE_FOUND && r.source == SR_SRC_CACHE);
	CHECK(!strcmp(r.value, "10.0.0.1:80"));
	CHECK(src.calls == 1);
	source_set(SR_ROUTE_FOUND, "10.0.0.2:80", 0);
	sr_cache_lookup(c, "a", 1, 101.0, fetch, &src, &r);
	CHECK(r.source == SR_SRC_FETCH && !strcmp(r.value, "10.0.0.2:80"));
	CHECK(src.calls == 1);

	/* negative entries live negative_ttl */
	source_set(SR_ROUTE_ABSENT, NULL, 0);
	sr_cache_lookup(c, "b", 1, 100.0, fetch, &src, &r);
	CHECK(r.state == SR_ROUTE_ABSENT && r.source == SR_SRC_FETCH);
	sr_cache_lookup(c, "b", 1, 100.4, fetch, &src, &r);
	CHECK(r.state == SR_ROUTE_ABSENT && r.source == SR_SRC_CACHE);
	sr_cache_lookup(c, "b", 1, 100.5, fetch, &src, &r);
	CHECK(r.source == SR_SRC_FETCH);
	CHECK(src.calls == 2);

	/* errors are never cached; a known route is used stale instead */
	source_set(SR_ROUTE_ERROR, NULL, 0);
	sr_cache_lookup(c, "a", 1, 105.0, fetch, &src, &r);
	CHECK(r.state == SR_ROUTE_FOUND && r.source == SR_SRC_STALE);
	CHECK(!strcmp(r.value, "10.0.0.2:80"));
	sr_cache_lookup(c, "a", 1, 105.1, fetch, &src, &r);
	CHECK(r.source == SR_SRC_STALE);
	CHECK(src.calls == 2);
	/* ... but not past stale_ttl */
	sr_cache_lookup(c, "a", 1, 112.0, fetch, &src, &r);
	CHECK(r.state == SR_ROUTE_ERROR);
	/* ... and not for a key never routed */
	sr_cache_lookup(c, "new", 3, 105.0, fetch, &src, &r);
	CHECK(r.state == SR_ROUTE_ERROR && r.source == SR_SRC_FETCH);
	/* ... nor for a key Redis said it does not know */
	sr_cache_lookup(c, "b", 1, 105.0, fetch, &src, &r);
	CHECK(r.state == SR_ROUTE_ERROR);

	/* invalidation forgets the route, stale copy included */
	source_set(SR_ROUTE_FOUND, "10.0.0.3:80", 0);
	sr_cache_lookup(c, "a", 1, 200.0, fetch, &src, &r);
	CHECK(r.source == SR_SRC_FETCH);
	CHECK(sr_cache_invalidate(c, "a", 1) == 1);
	CHECK(sr_cache_invalidate(c, "a", 1) == 0);
	source_set(SR_ROUTE_ERROR, NULL, 0);
	sr_cache_lookup(c, "a", 1, 200.1, fetch, &src, &r);
	CHECK(r.state == SR_ROUTE_ERROR);
	CHECK(src.calls == 1);

	/* keys are compared whole, not as C strings */
	source_set(SR_ROUTE_FOUND, "10.0.0.4:80", 0);
	sr_cache_lookup(c, "ab", 2, 300.0, fetch, &src, &r);
	sr_cache_lookup(c, "ab", 1, 300.0, fetch, &src, &r);
	CHECK(src.calls == 2);

	/* over-long values keep their true length, truncated */
	{
		static char longv[SR_VALUE_MAX + 50];

		memset(longv, 'x', sizeof longv - 1);
		source_set(SR_ROUTE_FOUND, longv, 0);
		sr_cache_lookup(c, "long", 4, 300.0, fetch, &src, &r);
		CHECK(r.len == sizeof longv - 1);
		CHECK(strlen(r.value) == SR_VALUE_MAX);
		sr_cache_lookup(c, "long", 4, 300.1, fetch, &src, &r);
		CHECK(r.source == SR_SRC_CACHE && r.len == sizeof longv - 1);
	}
	sr_cache_destroy(&c);
	CHECK(c == NULL);

	/* ttl 0: nothing kept, every look-up asks */
	c = cache(0, 0, 0, 1000, 1.0);
	source_set(SR_ROUTE_FOUND, "10.0.0.1:80", 0);
	sr_cache_lookup(c, "a", 1, 100.0, fetch, &src, &r);
	sr_cache_lookup(c, "a", 1, 100.0, fetch, &src, &r);
	CHECK(src.calls == 2);
	sr_cache_destroy(&c);

	/* the number of entries is bounded */
	c = cache(100, 100, 100, 640, 1.0);
	source_set(SR_ROUTE_ABSENT, NULL, 0);
	for (u = 0; u < 10000; u++) {
		snprintf(key, sizeof key, "key%u", u);
		sr_cache_lookup(c, key, strlen(key), 100.0, fetch, &src, &r);
	}
	CHECK(sr_cache_entries(c) <= 640);
	CHECK(sr_cache_entries(c) >= 320);
	sr_cache_destroy(&c);

	/* a herd of 50 on one key makes one fetch; all get its answer */
	herd_cache = cache(1.0, 1.0, 10.0, 1000, 5.0);
	source_set(SR_ROUTE_FOUND, "10.9.9.9:80", 200000);
	for (u = 0; u < 50; u++)
		CHECK(pthread_create(&thr[u], NULL, herd_member,
		    &herd_result[u]) == 0);
	for (u = 0; u < 50; u++)
		CHECK(pthread_join(thr[u], NULL) == 0);
	CHECK(src.calls == 1);
	fetched = coalesced = 0;
	for (u = 0; u < 50; u++) {
		CHECK(herd_result[u].state == SR_ROUTE_FOUND);
		CHECK(!strcmp(herd_result[u].value, "10.9.9.9:80"));
		fetched += herd_result[u].source == SR_SRC_FETCH;
		coalesced += herd_result[u].source == SR_SRC_COALESCED;
	}
	CHECK(fetched == 1);
	CHECK(fetched + coalesced == 50);
	sr_cache_destroy(&herd_cache);

	/* waiters give up after wait_timeout rather than hang */
	herd_cache = cache(1.0, 1.0, 10.0, 1000, 0.05);
	source_set(SR_ROUTE_FOUND, "10.9.9.9:80", 400000);
	for (u = 0; u < 5; u++)
		CHECK(pthread_create(&thr[u], NULL, herd_member,
		    &herd_result[u]) == 0);
	for (u = 0; u < 5; u++)
		CHECK(pthread_join(thr[u], NULL) == 0);
	CHECK(src.calls == 1);
	fetched = 0;
	for (u = 0; u < 5; u++) {
		if (herd_result[u].source == SR_SRC_FETCH) {
			fetched++;
			CHECK(herd_result[u].state == SR_ROUTE_FOUND);
		} else
			CHECK(herd_result[u].state == SR_ROUTE_ERROR);
	}
	CHECK(fetched == 1);
	sr_cache_destroy(&herd_cache);

	return (unit_report("unit_cache"));
}
