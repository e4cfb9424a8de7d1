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
 *
 * The entries live in a store that the caches of several routers may
 * share (a new VCL's router and the one it replaces): the store holds
 * facts, each cache its own TTLs.
 *
 * Eviction protects what an outage needs.  Each shard keeps two LRU
 * lists: "known" holds the entries with a route, "other" everything
 * else (negative answers, keys being fetched for the first time).  A new
 * key may only push out an entry of the other list; it displaces a known
 * route only once Redis has really answered for it.  A key whose first
 * fetch failed is dropped, never kept at the expense of a route: made-up
 * keys sent while Redis is down cannot push a live stream's stale route
 * out.  The shard of a key comes from a hash seeded per store, so which
 * keys share a shard cannot be computed from outside the process.
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
/* How far up the known list to look for a route past its stale time */
#define SR_EVICT_SCAN	16

struct sr_entry {
	unsigned		magic;
#define SR_ENTRY_MAGIC		0x5e7a11c3
	VRBT_ENTRY(sr_entry)	tree;
	VTAILQ_ENTRY(sr_entry)	lru;
	enum sr_route_state	state;
	unsigned		known;		/* on the known list */
	unsigned		dead;		/* invalidated: serves nothing */
	unsigned		pushed;		/* changed in Redis: ask again */
	unsigned		pgen;		/* bumped by each push */
	unsigned		busy;		/* a fetch is in flight */
	unsigned		waiters;	/* pins the entry in memory */
	unsigned		gen;		/* bumped by invalidation */
	unsigned		fetches;	/* completed fetches */
	enum sr_route_state	last_fetch;
	double			learned;	/* Redis last answered */
	double			expires;	/* Redis drops it; 0: never */
	size_t			len;
	char			*value;
	size_t			keylen;
	char			*key;
};

VRBT_HEAD(sr_tree, sr_entry);
VTAILQ_HEAD(sr_lru, sr_entry);

struct sr_shard {
	pthread_mutex_t		mtx;
	pthread_cond_t		cond;
	struct sr_tree		tree;
	struct sr_lru		known;		/* newest first */
	struct sr_lru		other;		/* newest first */
	unsigned		n;
	double			flushed;	/* learned before: not fresh */
};

struct sr_store {
	unsigned		magic;
#define SR_STORE_MAGIC		0x5107e5c0
	unsigned		refcnt;		/* caches sharing it */
	unsigned		subscribers;	/* push connections up */
	uint64_t		seed;
	struct sr_shard		shard[SR_CACHE_SHARDS];
};

struct sr_cache {
	unsigned		magic;
#define SR_CACHE_MAGIC		0x1a7e5c0d
	struct sr_cache_cfg	cfg;
	unsigned		max_per_shard;
	struct sr_store		*store;
};

static int
sr_entry_cmp(const struct sr_entry *a, const struct sr_entry *b)
{

	if (a->keylen != b->keylen)
		return (a->keylen < b->keylen ? -1 : 1);
	return (memcmp(a->key, b->key, a->keylen));
}

VRBT_GENERATE_STATIC(sr_tree, sr_entry, tree, sr_entry_cmp)

/*
 * FNV-1a from a seeded basis, then the splitmix64 finaliser: FNV's low
 * bits depend only on the low bits of its input, and the shard is taken
 * from them.  Not a MAC, but without the seed the shard of a key cannot
 * be told from outside.
 */
static unsigned
sr_hash(uint64_t seed, const char *key, size_t len)
{
	uint64_t h = seed ^ 14695981039346656037ULL;

	while (len--) {
		h ^= (unsigned char)*key++;
		h *= 1099511628211ULL;
	}
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return ((unsigned)(h % SR_CACHE_SHARDS));
}

static unsigned
sr_max_per_shard(unsigned max_entries)
{
	unsigned m;

	m = max_entries / SR_CACHE_SHARDS;
	return (m > 0 ? m : 1);
}

static struct sr_cache *
sr_cache_view(struct sr_store *st, const struct sr_cache_cfg *cfg)
{
	struct sr_cache *c;

	ALLOC_OBJ(c, SR_CACHE_MAGIC);
	if (c == NULL)
		return (NULL);
	c->cfg = *cfg;
	c->max_per_shard = sr_max_per_shard(cfg->max_entries);
	c->store = st;
	return (c);
}

struct sr_cache *
sr_cache_new(const struct sr_cache_cfg *cfg)
{
	struct sr_store *st;
	struct sr_cache *c;
	pthread_condattr_t ca;
	unsigned u;

	AN(cfg);
	ALLOC_OBJ(st, SR_STORE_MAGIC);
	if (st == NULL)
		return (NULL);
	c = sr_cache_view(st, cfg);
	if (c == NULL) {
		FREE_OBJ(st);
		return (NULL);
	}
	st->refcnt = 1;
	st->seed = cfg->seed;
	AZ(pthread_condattr_init(&ca));
	AZ(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC));
	for (u = 0; u < SR_CACHE_SHARDS; u++) {
		AZ(pthread_mutex_init(&st->shard[u].mtx, NULL));
		AZ(pthread_cond_init(&st->shard[u].cond, &ca));
		VRBT_INIT(&st->shard[u].tree);
		VTAILQ_INIT(&st->shard[u].known);
		VTAILQ_INIT(&st->shard[u].other);
	}
	AZ(pthread_condattr_destroy(&ca));
	return (c);
}

/*
 * A cache with settings of its own on the entries of another.  Each
 * cache keeps the store within its own bound when it adds an entry: a
 * VCL that is loaded but never used, or fails to load, changes nothing
 * for the others.
 */
struct sr_cache *
sr_cache_share(const struct sr_cache *old, const struct sr_cache_cfg *cfg)
{
	struct sr_store *st;
	struct sr_cache *c;

	CHECK_OBJ_NOTNULL(old, SR_CACHE_MAGIC);
	AN(cfg);
	st = old->store;
	CHECK_OBJ_NOTNULL(st, SR_STORE_MAGIC);
	c = sr_cache_view(st, cfg);
	if (c == NULL)
		return (NULL);
	(void)__atomic_add_fetch(&st->refcnt, 1, __ATOMIC_SEQ_CST);
	return (c);
}

static struct sr_lru *
sr_entry_list(struct sr_shard *sh, const struct sr_entry *e)
{

	return (e->known ? &sh->known : &sh->other);
}

/* Puts e at the head of the list its state belongs on. */
static void
sr_entry_touch(struct sr_shard *sh, struct sr_entry *e)
{
	unsigned known;

	known = e->state == SR_ROUTE_FOUND && e->value != NULL && !e->dead;
	VTAILQ_REMOVE(sr_entry_list(sh, e), e, lru);
	e->known = known;
	VTAILQ_INSERT_HEAD(sr_entry_list(sh, e), e, lru);
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
	VTAILQ_REMOVE(sr_entry_list(sh, e), e, lru);
	sh->n--;
	sr_entry_free(e);
}

void
sr_cache_destroy(struct sr_cache **cp)
{
	struct sr_cache *c;
	struct sr_store *st;
	struct sr_shard *sh;
	struct sr_entry *e;
	unsigned u;

	TAKE_OBJ_NOTNULL(c, cp, SR_CACHE_MAGIC);
	st = c->store;
	FREE_OBJ(c);
	CHECK_OBJ_NOTNULL(st, SR_STORE_MAGIC);
	if (__atomic_sub_fetch(&st->refcnt, 1, __ATOMIC_SEQ_CST) > 0)
		return;
	for (u = 0; u < SR_CACHE_SHARDS; u++) {
		sh = &st->shard[u];
		while ((e = VRBT_ROOT(&sh->tree)) != NULL)
			sr_shard_remove(sh, e);
		AZ(sh->n);
		AZ(pthread_mutex_destroy(&sh->mtx));
		AZ(pthread_cond_destroy(&sh->cond));
	}
	FREE_OBJ(st);
}

static int
sr_entry_idle(const struct sr_entry *e)
{

	return (!e->busy && e->waiters == 0);
}

static int
sr_entry_fresh(const struct sr_cache_cfg *cfg, const struct sr_shard *sh,
    const struct sr_entry *e, double now)
{

	if (e->dead || e->busy || e->pushed || e->learned < sh->flushed)
		return (0);
	switch (e->state) {
	case SR_ROUTE_FOUND:
		/* never past the moment Redis expires the key */
		return (now < e->learned + cfg->ttl &&
		    (e->expires == 0 || now < e->expires));
	case SR_ROUTE_ABSENT:
		return (now < e->learned + cfg->negative_ttl);
	default:
		return (0);
	}
}

/* A route Redis gave, expired less than stale_ttl ago */
static int
sr_entry_stale(const struct sr_cache_cfg *cfg, const struct sr_entry *e,
    double now)
{

	return (e->known && now < e->learned + cfg->ttl + cfg->stale_ttl);
}

/*
 * Removes one entry nobody uses, the least recently used of the other
 * list first; a known route only when known_too, and then one past its
 * stale time first.  Returns whether it removed one.
 */
static int
sr_shard_evict_one(const struct sr_cache *c, struct sr_shard *sh, double now,
    int known_too, unsigned *flags)
{
	struct sr_entry *e;
	unsigned u;

	VTAILQ_FOREACH_REVERSE(e, &sh->other, sr_lru, lru) {
		if (sr_entry_idle(e)) {
			sr_shard_remove(sh, e);
			return (1);
		}
	}
	if (!known_too)
		return (0);
	u = 0;
	VTAILQ_FOREACH_REVERSE(e, &sh->known, sr_lru, lru) {
		if (u++ == SR_EVICT_SCAN)
			break;
		if (sr_entry_idle(e) && !sr_entry_stale(&c->cfg, e, now)) {
			sr_shard_remove(sh, e);
			return (1);
		}
	}
	VTAILQ_FOREACH_REVERSE(e, &sh->known, sr_lru, lru) {
		if (sr_entry_idle(e)) {
			sr_shard_remove(sh, e);
			*flags |= SR_LOOKUP_EVICTED;
			return (1);
		}
	}
	return (0);
}

static struct sr_shard *
sr_cache_shardp(const struct sr_cache *c, const char *key, size_t keylen)
{

	return (&c->store->shard[sr_hash(c->store->seed, key, keylen)]);
}

static unsigned
sr_cache_max(const struct sr_cache *c)
{

	return (c->max_per_shard);
}

/* The entry of key in sh, or NULL; sh is locked */
static struct sr_entry *
sr_shard_find(struct sr_shard *sh, const char *key, size_t keylen)
{
	struct sr_entry needle, *e;

	needle.key = TRUST_ME(key);
	needle.keylen = keylen;
	e = VRBT_FIND(sr_tree, &sh->tree, &needle);
	if (e != NULL)
		CHECK_OBJ(e, SR_ENTRY_MAGIC);
	return (e);
}

static struct sr_entry *
sr_shard_get(const struct sr_cache *c, struct sr_shard *sh, const char *key,
    size_t keylen, double now, unsigned *flags)
{
	struct sr_entry *e;

	e = sr_shard_find(sh, key, keylen);
	if (e != NULL) {
		if (e != VTAILQ_FIRST(sr_entry_list(sh, e)))
			sr_entry_touch(sh, e);
		return (e);
	}
	/*
	 * A new key has not earned a route's place yet: it may go over
	 * the bound until Redis has answered for it.
	 */
	while (sh->n >= sr_cache_max(c) &&
	    sr_shard_evict_one(c, sh, now, 0, flags))
		continue;
	e = calloc(1, sizeof *e + keylen + 1);
	if (e == NULL)
		return (NULL);
	e->magic = SR_ENTRY_MAGIC;
	e->key = (char *)(e + 1);
	memcpy(e->key, key, keylen);
	e->keylen = keylen;
	AZ(VRBT_INSERT(sr_tree, &sh->tree, e));
	VTAILQ_INSERT_HEAD(&sh->other, e, lru);
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
sr_route_stale(const struct sr_cache *c, const struct sr_entry *e,
    double now, struct sr_route *r)
{

	if (sr_entry_stale(&c->cfg, e, now)) {
		sr_route_from_entry(e, r, SR_SRC_STALE);
		return;
	}
	memset(r, 0, sizeof *r);
	r->state = SR_ROUTE_ERROR;
	r->source = SR_SRC_COALESCED;
}

/*
 * Whether a route learned at `learned` outlives the word "absent" of a
 * Redis that lost its data at `restarted`: for restart_grace after the
 * restart, a route that was still usable (fresh, or within stale_ttl)
 * when Redis restarted is kept, since its media server has not had the
 * time to write it again.  A route learned after the restart is Redis's
 * own word, and so is any answer once the grace has passed.
 */
int
sr_cache_keep(const struct sr_cache_cfg *cfg, double learned,
    double restarted, double now)
{

	AN(cfg);
	if (cfg->restart_grace <= 0 || restarted <= 0)
		return (0);
	if (learned >= restarted)
		return (0);
	if (now >= restarted + cfg->restart_grace)
		return (0);
	return (restarted < learned + cfg->ttl + cfg->stale_ttl);
}

/* Returns whether the route in e was kept against an ABSENT answer */
static int
sr_entry_fill(const struct sr_cache *c, struct sr_shard *sh,
    struct sr_entry *e, const struct sr_route *r, double now, unsigned gen,
    unsigned pgen, double restarted)
{
	char *v;

	switch (r->state) {
	case SR_ROUTE_FOUND:
		v = strdup(r->value);
		if (v == NULL)
			return (0);
		free(e->value);
		e->value = v;
		e->len = r->len;
		e->state = SR_ROUTE_FOUND;
		e->learned = now;
		e->expires = r->expires_in > 0 ? now + r->expires_in : 0;
		break;
	case SR_ROUTE_ABSENT:
		if (e->gen == gen && e->known &&
		    sr_cache_keep(&c->cfg, e->learned, restarted, now))
			return (1);
		free(e->value);
		e->value = NULL;
		e->len = 0;
		e->state = SR_ROUTE_ABSENT;
		e->learned = now;
		break;
	default:
		/* keep what we had: it may serve as a stale route */
		return (0);
	}
	/* invalidated while we asked: answer, but do not keep it */
	e->dead = e->gen != gen;
	/* changed in Redis while we asked: the answer may predate it */
	e->pushed = e->pgen != pgen;
	sr_entry_touch(sh, e);
	return (0);
}

static int
sr_wait(struct sr_shard *sh, const struct timespec *deadline)
{

	return (pthread_cond_timedwait(&sh->cond, &sh->mtx, deadline));
}

/*
 * Returns SR_LOOKUP_* flags: EVICTED when a known route was pushed out
 * to make room for this key, PROTECTED when this key's first fetch
 * failed and its entry was dropped rather than take a known route's
 * place.
 */
unsigned
sr_cache_lookup(struct sr_cache *c, const char *key, size_t keylen,
    double now, sr_fetch_f *fetch, void *priv, struct sr_route *r)
{
	struct sr_shard *sh;
	struct sr_entry *e;
	struct timespec deadline;
	unsigned gen, pgen, seen, flags = 0;
	double w, restarted;
	int kept;

	CHECK_OBJ_NOTNULL(c, SR_CACHE_MAGIC);
	CHECK_OBJ_NOTNULL(c->store, SR_STORE_MAGIC);
	AN(key);
	AN(fetch);
	AN(r);
	memset(r, 0, sizeof *r);

	sh = sr_cache_shardp(c, key, keylen);
	AZ(pthread_mutex_lock(&sh->mtx));
	e = sr_shard_get(c, sh, key, keylen, now, &flags);
	if (e == NULL) {
		/* out of memory: ask without caching */
		AZ(pthread_mutex_unlock(&sh->mtx));
		fetch(priv, key, keylen, r);
		r->source = SR_SRC_FETCH;
		return (flags);
	}
	if (sr_entry_fresh(&c->cfg, sh, e, now)) {
		sr_route_from_entry(e, r, SR_SRC_CACHE);
		AZ(pthread_mutex_unlock(&sh->mtx));
		return (flags);
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
			sr_route_stale(c, e, now, r);
		AZ(pthread_mutex_unlock(&sh->mtx));
		return (flags);
	}

	e->busy = 1;
	gen = e->gen;
	pgen = e->pgen;
	AZ(pthread_mutex_unlock(&sh->mtx));

	fetch(priv, key, keylen, r);
	r->source = SR_SRC_FETCH;
	if (r->state != SR_ROUTE_FOUND && r->state != SR_ROUTE_ABSENT)
		r->state = SR_ROUTE_ERROR;
	/* asked before the lock: it may take locks of its own */
	restarted = 0;
	if (r->state == SR_ROUTE_ABSENT && c->cfg.restarted != NULL)
		restarted = c->cfg.restarted(priv);

	AZ(pthread_mutex_lock(&sh->mtx));
	CHECK_OBJ_NOTNULL(e, SR_ENTRY_MAGIC);
	kept = sr_entry_fill(c, sh, e, r, now, gen, pgen, restarted);
	e->busy = 0;
	e->fetches++;
	e->last_fetch = kept ? SR_ROUTE_FOUND : r->state;
	if (e->waiters > 0)
		AZ(pthread_cond_broadcast(&sh->cond));
	if (kept)
		sr_route_from_entry(e, r, SR_SRC_KEPT);
	else if (r->state == SR_ROUTE_ERROR) {
		sr_route_stale(c, e, now, r);
		if (r->state == SR_ROUTE_ERROR)
			r->source = SR_SRC_FETCH;
	}
	if (r->state != SR_ROUTE_ERROR) {
		/* Redis answered: now this key may take a route's place */
		while (sh->n > sr_cache_max(c) &&
		    sr_shard_evict_one(c, sh, now, 1, &flags))
			continue;
	} else if (e->state == SR_ROUTE_NONE && sr_entry_idle(e)) {
		/* nothing learned: nothing worth a place */
		if (sh->n > sr_cache_max(c))
			flags |= SR_LOOKUP_PROTECTED;
		sr_shard_remove(sh, e);
	}
	AZ(pthread_mutex_unlock(&sh->mtx));
	return (flags);
}

int
sr_cache_invalidate(struct sr_cache *c, const char *key, size_t keylen)
{
	struct sr_shard *sh;
	struct sr_entry *e;

	CHECK_OBJ_NOTNULL(c, SR_CACHE_MAGIC);
	sh = sr_cache_shardp(c, key, keylen);
	AZ(pthread_mutex_lock(&sh->mtx));
	e = sr_shard_find(sh, key, keylen);
	if (e != NULL) {
		if (e->busy || e->waiters > 0) {
			e->gen++;
			e->dead = 1;
			sr_entry_touch(sh, e);
		} else
			sr_shard_remove(sh, e);
	}
	AZ(pthread_mutex_unlock(&sh->mtx));
	return (e != NULL);
}

/*
 * The key changed in Redis (a push): the next look-up asks Redis again.
 * Unlike sr_cache_invalidate() the value stays, as a route whose TTL
 * has passed: it still serves as a stale route if Redis fails now, so a
 * push never costs what an outage needs.  A fetch in flight may have
 * been answered before the change: its answer is not kept as fresh.
 */
enum sr_route_state
sr_cache_expire(struct sr_cache *c, const char *key, size_t keylen)
{
	struct sr_shard *sh;
	struct sr_entry *e;
	enum sr_route_state state = SR_ROUTE_NONE;

	CHECK_OBJ_NOTNULL(c, SR_CACHE_MAGIC);
	sh = sr_cache_shardp(c, key, keylen);
	AZ(pthread_mutex_lock(&sh->mtx));
	e = sr_shard_find(sh, key, keylen);
	if (e != NULL) {
		state = e->state;
		e->pushed = 1;
		e->pgen++;
	}
	AZ(pthread_mutex_unlock(&sh->mtx));
	return (state);
}

/*
 * Push connections: while at least one is up, every change in Redis
 * reaches the cache.  When the first comes up after none was (start, or
 * a reconnect), changes may have been missed: everything learned before
 * now is asked again (and kept as stale meanwhile).  Returns whether it
 * was the first.
 */
int
sr_cache_push_up(struct sr_cache *c, double now)
{
	struct sr_store *st;
	unsigned u;

	CHECK_OBJ_NOTNULL(c, SR_CACHE_MAGIC);
	st = c->store;
	CHECK_OBJ_NOTNULL(st, SR_STORE_MAGIC);
	if (__atomic_fetch_add(&st->subscribers, 1, __ATOMIC_SEQ_CST) > 0)
		return (0);
	for (u = 0; u < SR_CACHE_SHARDS; u++) {
		AZ(pthread_mutex_lock(&st->shard[u].mtx));
		if (st->shard[u].flushed < now)
			st->shard[u].flushed = now;
		AZ(pthread_mutex_unlock(&st->shard[u].mtx));
	}
	return (1);
}

void
sr_cache_push_down(struct sr_cache *c)
{
	struct sr_store *st;
	unsigned was;

	CHECK_OBJ_NOTNULL(c, SR_CACHE_MAGIC);
	st = c->store;
	CHECK_OBJ_NOTNULL(st, SR_STORE_MAGIC);
	was = __atomic_fetch_sub(&st->subscribers, 1, __ATOMIC_SEQ_CST);
	assert(was > 0);
}

unsigned
sr_cache_entries(struct sr_cache *c)
{
	struct sr_store *st;
	unsigned u, n;

	CHECK_OBJ_NOTNULL(c, SR_CACHE_MAGIC);
	st = c->store;
	CHECK_OBJ_NOTNULL(st, SR_STORE_MAGIC);
	n = 0;
	for (u = 0; u < SR_CACHE_SHARDS; u++) {
		AZ(pthread_mutex_lock(&st->shard[u].mtx));
		n += st->shard[u].n;
		AZ(pthread_mutex_unlock(&st->shard[u].mtx));
	}
	return (n);
}

/* For tests: which shard a key falls in. */
unsigned
sr_cache_shard(const struct sr_cache *c, const char *key, size_t keylen)
{

	CHECK_OBJ_NOTNULL(c, SR_CACHE_MAGIC);
	return (sr_hash(c->store->seed, key, keylen));
}

const char *
sr_route_source_name(enum sr_route_source src)
{

	switch (src) {
	case SR_SRC_CACHE:	return ("cache");
	case SR_SRC_FETCH:	return ("redis");
	case SR_SRC_COALESCED:	return ("coalesced");
	case SR_SRC_STALE:	return ("stale");
	case SR_SRC_KEPT:	return ("kept");
	default:		WRONG("route source");
	}
	NEEDLESS(return (NULL));
}
