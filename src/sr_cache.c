/*-
 * Copyright (c) 2026 The streamroute authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The route cache is on the path of every miss, so it is split into
 * shards, each with its own lock: workers fetching different streams
 * rarely meet.  A key whose entry is being fetched is marked busy; other
 * callers for that key wait on the shard's condition variable for the
 * answer instead of asking Redis themselves, so a burst of misses on one
 * stream costs one GET.
 */

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vdef.h"
#include "vas.h"
#include "miniobj.h"
#include "vqueue.h"
#include "vtree.h"

#include "sr_cache.h"

#define SR_CACHE_SHARDS	64

struct sr_entry {
	unsigned		magic;
#define SR_ENTRY_MAGIC		0x5e7a11c3
	VRBT_ENTRY(sr_entry)	tree;
	VTAILQ_ENTRY(sr_entry)	lru;
	enum sr_route_state	state;
	unsigned		busy;		/* a fetch is in flight */
	unsigned		waiters;	/* pins the entry in memory */
	unsigned		gen;		/* bumped by invalidation */
	unsigned		fetches;	/* completed fetches */
	enum sr_route_state	last_fetch;
	double			expires;
	double			stale_until;
	size_t			len;
	char			*value;
	size_t			keylen;
	char			*key;
};

VRBT_HEAD(sr_tree, sr_entry);

struct sr_shard {
	pthread_mutex_t		mtx;
	pthread_cond_t		cond;
	struct sr_tree		tree;
	VTAILQ_HEAD(sr_lru, sr_entry) lru;	/* newest first */
	unsigned		n;
};

struct sr_cache {
	unsigned		magic;
#define SR_CACHE_MAGIC		0x1a7e5c0d
	struct sr_cache_cfg	cfg;
	unsigned		max_per_shard;
	struct sr_shard		shard[SR_CACHE_SHARDS];
};

static int
sr_entry_cmp(const struct sr_entry *a, const struct sr_entry *b)
{

	if (a->keylen != b->keylen)
		return (a->keylen < b->keylen ? -1 : 1);
	return (memcmp(a->key, b->key, a->keylen));
}

VRBT_GENERATE_STATIC(sr_tree, sr_entry, tree, sr_entry_cmp)

static uint32_t
sr_hash(const char *key, size_t len)
{
	uint32_t h = 2166136261U;	/* FNV-1a */

	while (len--) {
		h ^= (unsigned char)*key++;
		h *= 16777619U;
	}
	return (h);
}

struct sr_cache *
sr_cache_new(const struct sr_cache_cfg *cfg)
{
	struct sr_cache *c;
	pthread_condattr_t ca;
	unsigned u;

	AN(cfg);
	ALLOC_OBJ(c, SR_CACHE_MAGIC);
	if (c == NULL)
		return (NULL);
	c->cfg = *cfg;
	c->max_per_shard = cfg->max_entries / SR_CACHE_SHARDS;
	if (c->max_per_shard == 0)
		c->max_per_shard = 1;
	AZ(pthread_condattr_init(&ca));
	AZ(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC));
	for (u = 0; u < SR_CACHE_SHARDS; u++) {
		AZ(pthread_mutex_init(&c->shard[u].mtx, NULL));
		AZ(pthread_cond_init(&c->shard[u].cond, &ca));
		VRBT_INIT(&c->shard[u].tree);
		VTAILQ_INIT(&c->shard[u].lru);
	}
	AZ(pthread_condattr_destroy(&ca));
	return (c);
}

static void
sr_entry_free(struct sr_entry *e)
{

	CHECK_OBJ_NOTNULL(e, SR_ENTRY_MAGIC);
	free(e->value);
	FREE_OBJ(e);
}

static void
sr_shard_remove(struct sr_shard *sh, struct sr_entry *e)
{

	AZ(e->busy);
	AZ(e->waiters);
	VRBT_REMOVE(sr_tree, &sh->tree, e);
	VTAILQ_REMOVE(&sh->lru, e, lru);
	sh->n--;
	sr_entry_free(e);
}

void
sr_cache_destroy(struct sr_cache **cp)
{
	struct sr_cache *c;
	struct sr_shard *sh;
	unsigned u;

	TAKE_OBJ_NOTNULL(c, cp, SR_CACHE_MAGIC);
	for (u = 0; u < SR_CACHE_SHARDS; u++) {
		sh = &c->shard[u];
		while (!VTAILQ_EMPTY(&sh->lru))
			sr_shard_remove(sh, VTAILQ_FIRST(&sh->lru));
		AZ(pthread_mutex_destroy(&sh->mtx));
		AZ(pthread_cond_destroy(&sh->cond));
	}
	FREE_OBJ(c);
}

/* Makes room for one more entry: the oldest entry nobody uses goes. */
static void
sr_shard_evict(const struct sr_cache *c, struct sr_shard *sh)
{
	struct sr_entry *e, *e2;

	VTAILQ_FOREACH_REVERSE_SAFE(e, &sh->lru, sr_lru, lru, e2) {
		if (sh->n < c->max_per_shard)
			return;
		if (!e->busy && e->waiters == 0)
			sr_shard_remove(sh, e);
	}
}

static struct sr_entry *
sr_shard_get(const struct sr_cache *c, struct sr_shard *sh, const char *key,
    size_t keylen)
{
	struct sr_entry needle, *e;

	needle.key = TRUST_ME(key);
	needle.keylen = keylen;
	e = VRBT_FIND(sr_tree, &sh->tree, &needle);
	if (e != NULL) {
		CHECK_OBJ(e, SR_ENTRY_MAGIC);
		if (e != VTAILQ_FIRST(&sh->lru)) {
			VTAILQ_REMOVE(&sh->lru, e, lru);
			VTAILQ_INSERT_HEAD(&sh->lru, e, lru);
		}
		return (e);
	}
	if (sh->n >= c->max_per_shard)
		sr_shard_evict(c, sh);
	e = calloc(1, sizeof *e + keylen + 1);
	if (e == NULL)
		return (NULL);
	e->magic = SR_ENTRY_MAGIC;
	e->key = (char *)(e + 1);
	memcpy(e->key, key, keylen);
	e->keylen = keylen;
	AZ(VRBT_INSERT(sr_tree, &sh->tree, e));
	VTAILQ_INSERT_HEAD(&sh->lru, e, lru);
	sh->n++;
	return (e);
}

static void
sr_route_from_entry(const struct sr_entry *e, struct sr_route *r,
    enum sr_route_source src)
{

	r->state = e->state;
	r->source = src;
	r->len = 0;
	r->value[0] = '\0';
	if (e->state == SR_ROUTE_FOUND && e->value != NULL) {
		r->len = e->len;
		strcpy(r->value, e->value);
	}
}

/* Redis failed: an expired value still within its stale time will do. */
static void
sr_route_stale(const struct sr_entry *e, double now, struct sr_route *r)
{

	if (e->state == SR_ROUTE_FOUND && now < e->stale_until) {
		sr_route_from_entry(e, r, SR_SRC_STALE);
		return;
	}
	memset(r, 0, sizeof *r);
	r->state = SR_ROUTE_ERROR;
	r->source = SR_SRC_COALESCED;
}

static void
sr_entry_fill(const struct sr_cache *c, struct sr_entry *e,
    const struct sr_route *r, double now, unsigned gen)
{
	char *v;

	switch (r->state) {
	case SR_ROUTE_FOUND:
		v = strdup(r->value);
		if (v == NULL) {
			e->expires = 0;
			return;
		}
		free(e->value);
		e->value = v;
		e->len = r->len;
		e->state = SR_ROUTE_FOUND;
		e->expires = now + c->cfg.ttl;
		e->stale_until = e->expires + c->cfg.stale_ttl;
		break;
	case SR_ROUTE_ABSENT:
		free(e->value);
		e->value = NULL;
		e->len = 0;
		e->state = SR_ROUTE_ABSENT;
		e->expires = now + c->cfg.negative_ttl;
		e->stale_until = 0;
		break;
	default:
		/* keep what we had: it may serve as a stale route */
		return;
	}
	if (e->gen != gen) {
		/* invalidated while we asked: answer, but do not keep it */
		e->expires = 0;
		e->stale_until = 0;
	}
}

static int
sr_wait(struct sr_shard *sh, const struct timespec *deadline)
{

	return (pthread_cond_timedwait(&sh->cond, &sh->mtx, deadline));
}

void
sr_cache_lookup(struct sr_cache *c, const char *key, size_t keylen,
    double now, sr_fetch_f *fetch, void *priv, struct sr_route *r)
{
	struct sr_shard *sh;
	struct sr_entry *e;
	struct timespec deadline;
	unsigned gen, seen;
	double w;

	CHECK_OBJ_NOTNULL(c, SR_CACHE_MAGIC);
	AN(key);
	AN(fetch);
	AN(r);
	memset(r, 0, sizeof *r);

	sh = &c->shard[sr_hash(key, keylen) % SR_CACHE_SHARDS];
	AZ(pthread_mutex_lock(&sh->mtx));
	e = sr_shard_get(c, sh, key, keylen);
	if (e == NULL) {
		/* out of memory: ask without caching */
		AZ(pthread_mutex_unlock(&sh->mtx));
		fetch(priv, key, keylen, r);
		r->source = SR_SRC_FETCH;
		return;
	}
	if (!e->busy && e->state != SR_ROUTE_NONE && now < e->expires) {
		sr_route_from_entry(e, r, SR_SRC_CACHE);
		AZ(pthread_mutex_unlock(&sh->mtx));
		return;
	}

	if (e->busy) {
		AZ(clock_gettime(CLOCK_MONOTONIC, &deadline));
		w = c->cfg.wait_timeout;
		deadline.tv_sec += (time_t)w;
		deadline.tv_nsec += (long)((w - (time_t)w) * 1e9);
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
		seen = e->fetches;
		e->waiters++;
		while (e->busy && e->fetches == seen &&
		    sr_wait(sh, &deadline) != ETIMEDOUT)
			continue;
		e->waiters--;
		if (e->fetches != seen && e->last_fetch != SR_ROUTE_ERROR)
			sr_route_from_entry(e, r, SR_SRC_COALESCED);
		else
			sr_route_stale(e, now, r);
		AZ(pthread_mutex_unlock(&sh->mtx));
		return;
	}

	e->busy = 1;
	gen = e->gen;
	AZ(pthread_mutex_unlock(&sh->mtx));

	fetch(priv, key, keylen, r);
	r->source = SR_SRC_FETCH;
	if (r->state != SR_ROUTE_FOUND && r->state != SR_ROUTE_ABSENT)
		r->state = SR_ROUTE_ERROR;

	AZ(pthread_mutex_lock(&sh->mtx));
	CHECK_OBJ_NOTNULL(e, SR_ENTRY_MAGIC);
	sr_entry_fill(c, e, r, now, gen);
	e->busy = 0;
	e->fetches++;
	e->last_fetch = r->state;
	if (e->waiters > 0)
		AZ(pthread_cond_broadcast(&sh->cond));
	if (r->state == SR_ROUTE_ERROR)
		sr_route_stale(e, now, r);
	if (r->state == SR_ROUTE_ERROR)
		r->source = SR_SRC_FETCH;
	AZ(pthread_mutex_unlock(&sh->mtx));
}

int
sr_cache_invalidate(struct sr_cache *c, const char *key, size_t keylen)
{
	struct sr_shard *sh;
	struct sr_entry needle, *e;

	CHECK_OBJ_NOTNULL(c, SR_CACHE_MAGIC);
	needle.key = TRUST_ME(key);
	needle.keylen = keylen;
	sh = &c->shard[sr_hash(key, keylen) % SR_CACHE_SHARDS];
	AZ(pthread_mutex_lock(&sh->mtx));
	e = VRBT_FIND(sr_tree, &sh->tree, &needle);
	if (e != NULL) {
		if (e->busy || e->waiters > 0) {
			e->gen++;
			e->expires = 0;
			e->stale_until = 0;
		} else
			sr_shard_remove(sh, e);
	}
	AZ(pthread_mutex_unlock(&sh->mtx));
	return (e != NULL);
}

unsigned
sr_cache_entries(struct sr_cache *c)
{
	unsigned u, n;

	CHECK_OBJ_NOTNULL(c, SR_CACHE_MAGIC);
	n = 0;
	for (u = 0; u < SR_CACHE_SHARDS; u++) {
		AZ(pthread_mutex_lock(&c->shard[u].mtx));
		n += c->shard[u].n;
		AZ(pthread_mutex_unlock(&c->shard[u].mtx));
	}
	return (n);
}

const char *
sr_route_source_name(enum sr_route_source src)
{

	switch (src) {
	case SR_SRC_CACHE:	return ("cache");
	case SR_SRC_FETCH:	return ("redis");
	case SR_SRC_COALESCED:	return ("coalesced");
	case SR_SRC_STALE:	return ("stale");
	default:		WRONG("route source");
	}
	NEEDLESS(return (NULL));
}
