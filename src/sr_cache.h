/*-
 * Copyright (c) 2026 The streamroute authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The route cache: stream key -> Redis value, with negative entries,
 * stale values for when Redis fails, and one fetch in flight per key.
 * Pure: it knows nothing of Varnish or Redis; the caller passes the
 * function that asks Redis.
 */

#define SR_VALUE_MAX	256	/* longer values are kept truncated */

enum sr_route_state {
	SR_ROUTE_NONE = 0,
	SR_ROUTE_FOUND,		/* the key has a value */
	SR_ROUTE_ABSENT,	/* the key is not in Redis */
	SR_ROUTE_ERROR,		/* Redis could not answer */
};

enum sr_route_source {
	SR_SRC_CACHE = 0,	/* a fresh cache entry */
	SR_SRC_FETCH,		/* this caller asked Redis */
	SR_SRC_COALESCED,	/* another caller's fetch answered */
	SR_SRC_STALE,		/* Redis failed, an expired value was used */
};

struct sr_route {
	enum sr_route_state	state;
	enum sr_route_source	source;
	size_t			len;	/* length in Redis */
	char			value[SR_VALUE_MAX + 1];
};

/*
 * Asks the source of truth.  Fills route->state and, when FOUND,
 * route->value and route->len.  Called without any cache lock held.
 */
typedef void sr_fetch_f(void *priv, const char *key, size_t keylen,
    struct sr_route *route);

struct sr_cache_cfg {
	double		ttl;		/* FOUND entries */
	double		negative_ttl;	/* ABSENT entries */
	double		stale_ttl;	/* FOUND entries, once expired */
	double		wait_timeout;	/* longest wait for another's fetch */
	unsigned	max_entries;
};

struct sr_cache;

struct sr_cache *sr_cache_new(const struct sr_cache_cfg *);
void sr_cache_destroy(struct sr_cache **);
void sr_cache_lookup(struct sr_cache *, const char *key, size_t keylen,
    double now, sr_fetch_f *, void *priv, struct sr_route *);
int sr_cache_invalidate(struct sr_cache *, const char *key, size_t keylen);
unsigned sr_cache_entries(struct sr_cache *);
const char *sr_route_source_name(enum sr_route_source);
