/*-
 * Copyright (c) 2026 The streamroute authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The route cache: stream key -> Redis value, with negative entries,
 * stale values for when Redis fails, and one fetch in flight per key.
 * Pure: it knows nothing of Varnish or Redis; the caller passes the
 * function that asks Redis.
 *
 * The entries (the store) can be shared by several caches, one per
 * router, so that a router of a new VCL starts with what the router it
 * replaces knew.  An entry holds only facts -- the value, its state,
 * when Redis last answered -- and every expiry is computed at look-up
 * time with the settings of the cache that looks.
 */

#include <stdint.h>

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
	SR_SRC_KEPT,		/* a Redis that just restarted said absent */
};

struct sr_route {
	enum sr_route_state	state;
	enum sr_route_source	source;
	size_t			len;	/* length in Redis */
	double			expires_in; /* s until Redis drops it; 0: never */
	char			value[SR_VALUE_MAX + 1];
};

/*
 * Asks the source of truth.  Fills route->state and, when FOUND,
 * route->value, route->len and route->expires_in (a FOUND entry is fresh
 * no longer than that, whatever the ttl).  Called without any cache
 * lock held.
 */
typedef void sr_fetch_f(void *priv, const char *key, size_t keylen,
    struct sr_route *route);

/*
 * When the source of truth last lost its data (a Redis that restarted
 * empty), on the clock of the look-ups; 0 if never.  Asked, with the
 * fetch's priv, after a fetch answered ABSENT, without any cache lock
 * held.
 */
typedef double sr_restarted_f(void *priv);

struct sr_cache_cfg {
	double		ttl;		/* FOUND entries */
	double		negative_ttl;	/* ABSENT entries */
	double		stale_ttl;	/* FOUND entries, once expired */
	double		wait_timeout;	/* longest wait for another's fetch */
	double		restart_grace;	/* see sr_cache_keep() */
	sr_restarted_f	*restarted;	/* NULL: never */
	unsigned	max_entries;	/* kept when this cache adds one */
	uint64_t	seed;		/* of the shard hash, for a new store */
};

/* What a look-up did besides answering; see sr_cache_lookup() */
#define SR_LOOKUP_EVICTED	(1U << 0)	/* a known route made room */
#define SR_LOOKUP_PROTECTED	(1U << 1)	/* a failure made none */

struct sr_cache;

struct sr_cache *sr_cache_new(const struct sr_cache_cfg *);
struct sr_cache *sr_cache_share(const struct sr_cache *,
    const struct sr_cache_cfg *);
void sr_cache_destroy(struct sr_cache **);
unsigned sr_cache_lookup(struct sr_cache *, const char *key, size_t keylen,
    double now, sr_fetch_f *, void *priv, struct sr_route *);
int sr_cache_invalidate(struct sr_cache *, const char *key, size_t keylen);
/* Returns the state the entry had, SR_ROUTE_NONE when there was none */
enum sr_route_state sr_cache_expire(struct sr_cache *, const char *key,
    size_t keylen);
int sr_cache_push_up(struct sr_cache *, double now);
void sr_cache_push_down(struct sr_cache *);
unsigned sr_cache_entries(struct sr_cache *);
unsigned sr_cache_shard(const struct sr_cache *, const char *key,
    size_t keylen);
int sr_cache_keep(const struct sr_cache_cfg *, double learned,
    double restarted, double now);
const char *sr_route_source_name(enum sr_route_source);
