/*-
 * Copyright (c) 2026 The streamroute authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * libFuzzer harness for the route cache (sr_cache.c): a random sequence
 * of look-ups (each answered by a fake Redis: found, absent or error),
 * changes in that Redis, invalidations, expiries (a push) and clock
 * steps, on few keys and few places, so that eviction happens often;
 * checked against a small model of what the cache may answer:
 *   - a cache hit is the last answer Redis gave for the key, given less
 *     than its TTL ago, with no invalidation or expiry since;
 *   - a stale route is the last answer Redis gave, a route, less than
 *     ttl + stale_ttl ago, given when Redis fails now, never after an
 *     invalidation;
 *   - Redis is asked exactly when the answer says so (fetch, stale);
 *   - the cache never holds more than its bound.
 * Single-threaded: the threads are unit_cache's and TSan's business.
 */

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../sr_cache.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define NKEYS		24
#define TTL		1.0
#define NEG_TTL		0.5
#define STALE_TTL	3.0
#define MAX_ENTRIES	64	/* one per shard: keys often compete */
#define SHARDS		64

struct model_key {
	/* what the fake Redis answers now */
	enum sr_route_state	redis;
	unsigned		version;
	/* the last answer it gave (FOUND or ABSENT), and when */
	enum sr_route_state	learned;
	char			value[32];
	double			at;
	int			dirty;		/* invalidated or expired since */
	int			invalidated;	/* since the last answer */
};

static struct model_key keys[NKEYS];
static unsigned fetches;

static void
fetch(void *priv, const char *key, size_t keylen, struct sr_route *r)
{
	struct model_key *m;
	unsigned k;

	(void)priv;
	assert(keylen == 3 && key[0] == 'k');
	k = (unsigned)(key[1] - 'a') * 10 + (unsigned)(key[2] - '0');
	assert(k < NKEYS);
	m = &keys[k];
	fetches++;
	r->state = m->redis;
	if (m->redis == SR_ROUTE_FOUND) {
		r->len = (size_t)snprintf(r->value, sizeof r->value,
		    "10.0.%u.%u:80", k, m->version % 250);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sr_cache_cfg cfg;
	struct sr_cache *c;
	struct sr_route r;
	struct model_key *m;
	char key[4];
	double now = 1000.0;
	unsigned k, before;
	size_t i;

	memset(keys, 0, sizeof keys);
	for (k = 0; k < NKEYS; k++)
		keys[k].redis = SR_ROUTE_FOUND;
	memset(&cfg, 0, sizeof cfg);
	cfg.ttl = TTL;
	cfg.negative_ttl = NEG_TTL;
	cfg.stale_ttl = STALE_TTL;
	cfg.wait_timeout = 1.0;
	cfg.max_entries = MAX_ENTRIES;
	c = sr_cache_new(&cfg);
	assert(c != NULL);

	for (i = 0; i + 1 < size; i += 2) {
		k = data[i + 1] % NKEYS;
		m = &keys[k];
		key[0] = 'k';
		key[1] = (char)('a' + k / 10);
		key[2] = (char)('0' + k % 10);
		key[3] = '\0';
		switch (data[i] % 8) {
		case 0: case 1: case 2:
			before = fetches;
			(void)sr_cache_lookup(c, key, 3, now, fetch, NULL, &r);
			switch (r.source) {
			case SR_SRC_CACHE:
				assert(fetches == before);
				assert(!m->dirty);
				assert(r.state == m->learned);
				if (r.state == SR_ROUTE_FOUND) {
					assert(now < m->at + TTL);
					assert(!strcmp(r.value, m->value));
				} else {
					assert(r.state == SR_ROUTE_ABSENT);
					assert(now < m->at + NEG_TTL);
				}
				break;
			case SR_SRC_STALE:
				assert(fetches == before + 1);
				assert(m->redis == SR_ROUTE_ERROR);
				assert(r.state == SR_ROUTE_FOUND);
				assert(m->learned == SR_ROUTE_FOUND);
				assert(!m->invalidated);
				assert(now < m->at + TTL + STALE_TTL);
				assert(!strcmp(r.value, m->value));
				break;
			case SR_SRC_FETCH:
				assert(fetches == before + 1);
				assert(r.state == m->redis);
				if (r.state == SR_ROUTE_ERROR)
					break;
				m->learned = r.state;
				(void)snprintf(m->value, sizeof m->value, "%s",
				    r.state == SR_ROUTE_FOUND ? r.value : "");
				m->at = now;
				m->dirty = 0;
				m->invalidated = 0;
				break;
			default:
				/* one thread, no restart callback */
				assert(0);
			}
			break;
		case 3:
			m->redis = SR_ROUTE_FOUND;
			m->version++;
			break;
		case 4:
			m->redis = data[i + 1] & 0x80 ?
			    SR_ROUTE_ERROR : SR_ROUTE_ABSENT;
			break;
		case 5:
			(void)sr_cache_invalidate(c, key, 3);
			m->dirty = 1;
			m->invalidated = 1;
			break;
		case 6:
			(void)sr_cache_expire(c, key, 3);
			m->dirty = 1;
			break;
		case 7:
			now += (data[i + 1] & 0x7f) * 0.05;
			break;
		}
		assert(sr_cache_entries(c) <= SHARDS * (MAX_ENTRIES / SHARDS));
	}
	sr_cache_destroy(&c);
	assert(c == NULL);
	return (0);
}
