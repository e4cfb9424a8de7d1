/*-
 * Copyright (c) 2026 The streamroute authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The push subscriber of a router: one Redis connection, in subscribe
 * mode, on a thread of its own that runs while the router's VCL is warm
 * (started by the WARM event, stopped and joined by COLD, like the
 * Redis client's probe thread).  It hears of a route key changed in
 * Redis in two ways:
 *
 *	PSUBSCRIBE __keyspace@<db>__:<key template, * for the key>
 *		keyspace notifications, when Redis has them turned on
 *		(notify-keyspace-events K$gx): SET, DEL, EXPIRE, expiry;
 *	SUBSCRIBE <push_channel>
 *		for a Redis where they cannot be: media servers PUBLISH
 *		the key they SET or DEL.
 *
 * Each message makes the route cache ask Redis again for that key at
 * the next look-up (sr_cache_expire: the old route stays, as a stale
 * route for an outage), and a stream that starts bans the cached 404s
 * of unknown streams (sr_push_ban).  The thread touches nothing else
 * but its own counters: never a backend, never the Redis pool or its
 * health record.
 *
 * While the connection is down, changes are missed: route_ttl bounds
 * how long a cached route may then be wrong, and when the connection is
 * back the cache asks again for everything learned before
 * (sr_cache_push_up).  The thread reconnects with a backoff from
 * SR_PUSH_BACKOFF_MIN doubling to SR_PUSH_BACKOFF_MAX (+-25%), through
 * Sentinel when the router has Sentinels, so it follows a failover as
 * the pool does.  A failover need not break the connection (the old
 * master may stay up, a master, until Sentinel demotes it), so the
 * thread also leaves it within SR_PUSH_TICK of the pool seeing Sentinel
 * name another master (sr_redis_generation()).  A connection that stays
 * silent is checked with a PING (allowed in subscribe mode): a Redis
 * that vanished without closing the connection is found within
 * 3 x SR_PUSH_IDLE.
 *
 * Stopping: COLD sets stopping and shuts the socket down, which wakes
 * the thread from poll(2) at once; a connect in progress ends within
 * its timeouts.
 */

#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "cache/cache.h"
#include "vtim.h"

#include "sr_addr.h"
#include "sr_cache.h"
#include "vmod_streamroute.h"
#include "VSC_streamroute.h"

#define SR_PUSH_BACKOFF_MIN	0.1	/* s, first reconnect */
#define SR_PUSH_BACKOFF_MAX	2.0	/* s */
#define SR_PUSH_IDLE		5.0	/* s of silence before a PING */
#define SR_PUSH_TICK		1.0	/* s, to look at the pool's master */

struct sr_push {
	unsigned		magic;
#define SR_PUSH_MAGIC		0x9b5c0a11
	struct sr_redis		*redis;		/* the router's */
	struct sr_cache		*cache;		/* the router's */
	struct VSC_streamroute	*vsc;
	char			*name;
	char			*pattern;	/* keyspace, or NULL */
	size_t			prefixlen;	/* of a keyspace channel */
	char			*channel;	/* named channel, or NULL */

	pthread_mutex_t		mtx;
	pthread_cond_t		cond;
	unsigned		stopping;	/* under mtx */
	int			fd;		/* under mtx; -1: none */
	pthread_t		thread;
	unsigned		running;	/* CLI thread only */
	unsigned		warned;		/* notifications off: said so */
};

struct sr_push *
sr_push_new(struct sr_redis *redis, struct sr_cache *cache,
    struct VSC_streamroute *vsc, const char *name, const char *pattern,
    size_t prefixlen, const char *channel)
{
	struct sr_push *p;
	pthread_condattr_t ca;

	AN(redis);
	AN(cache);
	AN(vsc);
	AN(name);
	assert(pattern != NULL || channel != NULL);
	ALLOC_OBJ(p, SR_PUSH_MAGIC);
	AN(p);
	p->redis = redis;
	p->cache = cache;
	p->vsc = vsc;
	REPLACE(p->name, name);
	if (pattern != NULL)
		REPLACE(p->pattern, pattern);
	p->prefixlen = prefixlen;
	if (channel != NULL)
		REPLACE(p->channel, channel);
	p->fd = -1;
	AZ(pthread_mutex_init(&p->mtx, NULL));
	AZ(pthread_condattr_init(&ca));
	AZ(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC));
	AZ(pthread_cond_init(&p->cond, &ca));
	AZ(pthread_condattr_destroy(&ca));
	return (p);
}

void
sr_push_destroy(struct sr_push **pp)
{
	struct sr_push *p;

	TAKE_OBJ_NOTNULL(p, pp, SR_PUSH_MAGIC);
	sr_push_cold(p);
	AZ(pthread_mutex_destroy(&p->mtx));
	AZ(pthread_cond_destroy(&p->cond));
	free(p->name);
	free(p->pattern);
	free(p->channel);
	FREE_OBJ(p);
}

/*--------------------------------------------------------------------*/

static void
sr_push_log(const struct sr_push *p, enum VSL_tag_e tag, const char *what,
    const char *detail)
{

	VSL(tag, 0, "streamroute: %s: push %s%s%s", p->name, what,
	    detail != NULL ? ": " : "", detail != NULL ? detail : "");
}

/* Waits d seconds, or until told to stop; returns stopping. */
static unsigned
sr_push_sleep(struct sr_push *p, double d)
{
	struct timespec ts;
	double t;
	unsigned stopping;

	t = VTIM_mono() + d;
	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	AZ(pthread_mutex_lock(&p->mtx));
	while (!p->stopping &&
	    pthread_cond_timedwait(&p->cond, &p->mtx, &ts) != ETIMEDOUT)
		continue;
	stopping = p->stopping;
	AZ(pthread_mutex_unlock(&p->mtx));
	return (stopping);
}

/* A message: which Redis key it names, or NULL when it is not one. */
static const char *
sr_push_key(const struct sr_push *p, const redisReply *m, size_t *len)
{
	const redisReply *ch;

	if (m->type != REDIS_REPLY_ARRAY || m->elements < 3 ||
	    m->element[0]->type != REDIS_REPLY_STRING)
		return (NULL);
	if (!strcmp(m->element[0]->str, "pmessage") && m->elements == 4) {
		/* pmessage, pattern, __keyspace@<db>__:<key>, event */
		ch = m->element[2];
		if (ch->type != REDIS_REPLY_STRING ||
		    ch->len <= p->prefixlen)
			return (NULL);
		*len = ch->len - p->prefixlen;
		return (ch->str + p->prefixlen);
	}
	if (!strcmp(m->element[0]->str, "message") && m->elements == 3) {
		/* message, <push_channel>, <key> */
		ch = m->element[2];
		if (ch->type != REDIS_REPLY_STRING || ch->len == 0)
			return (NULL);
		*len = ch->len;
		return (ch->str);
	}
	return (NULL);
}

/*
 * A key the route cache knew as absent changed: a stream starts, and
 * players that asked for it before may hold a cached 404 "Unknown
 * stream".  The objects marked as such (the shipped VCL sets
 * X-SR-Backend: outcome=unknown on them) are banned, so that the next
 * request fetches.  The ban tests obj.* only, so the ban lurker clears
 * it, and each ban is the same string, so Varnish marks the older ones
 * as duplicates: the ban list does not grow with stream starts.  All
 * unknown-stream 404s go, not only this stream's: they are refetched at
 * the cost of a route-cache hit.
 *
 * VRT_ban_string() needs of its ctx only the magic when the ban is good
 * (ours always is), but its error paths (e.g. "Shutting down") log to
 * ctx->vsl and print on ctx->ws: this thread has neither, so both are
 * made here on the stack.  What it logs there is not flushed: the
 * error is logged again with VSL().
 */
#define SR_PUSH_BAN \
	"obj.status == 404 && obj.http.X-SR-Backend == outcome=unknown"

static void
sr_push_ban(struct sr_push *p)
{
	struct vrt_ctx ctx;
	struct vsl_log vsl;
	struct ws ws;
	uint32_t vslbuf[256];
	char wsbuf[512];
	const char *err;

	INIT_OBJ(&ctx, VRT_CTX_MAGIC);
	memset(&vsl, 0, sizeof vsl);
	vsl.wlb = vsl.wlp = vslbuf;
	vsl.wle = vslbuf + sizeof vslbuf / sizeof *vslbuf;
	WS_Init(&ws, "srp", wsbuf, sizeof wsbuf);
	ctx.vsl = &vsl;
	ctx.ws = &ws;
	err = VRT_ban_string(&ctx, SR_PUSH_BAN);
	if (err != NULL)
		sr_push_log(p, SLT_Error, "ban failed", err);
	else
		SR_COUNT(p->vsc, push_bans);
}

static void
sr_push_message(struct sr_push *p, const redisReply *m)
{
	enum sr_route_state state;
	const char *key;
	size_t len;

	key = sr_push_key(p, m, &len);
	if (key == NULL)
		return;		/* a subscription's reply, a PONG */
	SR_COUNT(p->vsc, push_messages);
	state = sr_cache_expire(p->cache, key, len);
	if (state == SR_ROUTE_NONE)
		return;
	SR_COUNT(p->vsc, push_invalidations);
	if (state == SR_ROUTE_ABSENT)
		sr_push_ban(p);
}

/*
 * Whether Redis publishes the keyspace events of the route keys: K, and
 * $ (SET), g (DEL, EXPIRE, RENAME), x (expiry), or A for all of them.
 * Said once while it is not so, since routes then follow only
 * push_channel or route_ttl.  A Redis that refuses CONFIG (an ACL, a
 * renamed command) is not judged.
 */
static void
sr_push_check_config(struct sr_push *p, redisContext *c)
{
	redisReply *reply;
	const char *v;
	char buf[200];
	int on;

	if (p->pattern == NULL)
		return;
	reply = redisCommand(c, "CONFIG GET notify-keyspace-events");
	if (reply == NULL)
		return;
	if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
	    reply->element[1]->type == REDIS_REPLY_STRING) {
		v = reply->element[1]->str;
		on = strchr(v, 'K') != NULL && (strchr(v, 'A') != NULL ||
		    (strchr(v, '$') != NULL && strchr(v, 'g') != NULL &&
		    strchr(v, 'x') != NULL));
		if (!on && !p->warned) {
			bprintf(buf, "notify-keyspace-events is \"%.40s\" in "
			    "Redis: route changes are heard through %.60s "
			    "only (set it to K$gx)", v, p->channel != NULL ?
			    p->channel : "no channel");
			sr_push_log(p, SLT_Error, "keyspace notifications "
			    "off", buf);
		}
		p->warned = !on;
	}
	freeReplyObject(reply);
}

/*
 * Connects and subscribes; the confirmations are read within the
 * timeout, and a message that comes between them is handled.
 */
static redisContext *
sr_push_connect(struct sr_push *p, unsigned *gen, char *why, size_t whylen)
{
	redisContext *c;
	redisReply *reply;
	void *r;
	unsigned want = 0;
	int ok = 1;

	c = sr_redis_connect_push(p->redis, gen, why, whylen);
	if (c == NULL)
		return (NULL);
	if (redisSetTimeout(c,
	    VTIM_timeval(sr_redis_config(p->redis)->timeout)) != REDIS_OK) {
		snprintf(why, whylen, "subscribe: %.100s", c->errstr);
		redisFree(c);
		return (NULL);
	}
	sr_push_check_config(p, c);
	if (c->err) {
		snprintf(why, whylen, "CONFIG GET: %.100s", c->errstr);
		redisFree(c);
		return (NULL);
	}
	if (p->pattern != NULL) {
		AZ(redisAppendCommand(c, "PSUBSCRIBE %s", p->pattern));
		want++;
	}
	if (p->channel != NULL) {
		AZ(redisAppendCommand(c, "SUBSCRIBE %s", p->channel));
		want++;
	}
	/* redisGetReply() sends what is appended first */
	while (want > 0) {
		r = NULL;
		if (redisGetReply(c, &r) != REDIS_OK) {
			snprintf(why, whylen, "subscribe: %.100s", c->errstr);
			ok = 0;
			break;
		}
		reply = r;
		AN(reply);
		if (reply->type == REDIS_REPLY_ERROR) {
			snprintf(why, whylen, "subscribe: %.100s", reply->str);
			ok = 0;
		} else if (reply->type == REDIS_REPLY_ARRAY &&
		    reply->elements == 3 &&
		    reply->element[0]->type == REDIS_REPLY_STRING &&
		    (!strcmp(reply->element[0]->str, "psubscribe") ||
		    !strcmp(reply->element[0]->str, "subscribe")))
			want--;
		else
			sr_push_message(p, reply);
		freeReplyObject(reply);
		if (!ok)
			break;
	}
	if (!ok) {
		redisFree(c);
		return (NULL);
	}
	return (c);
}

/*
 * Reads messages until the connection fails or the thread is told to
 * stop.  Returns why it ended.
 */
static const char *
sr_push_listen(struct sr_push *p, redisContext *c, unsigned gen)
{
	struct pollfd pfd;
	void *reply;
	double last, now;
	unsigned pinged = 0;
	int n, done;

	last = VTIM_mono();
	while (1) {
		pfd.fd = c->fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		n = poll(&pfd, 1, (int)(SR_PUSH_TICK * 1e3));
		AZ(pthread_mutex_lock(&p->mtx));
		done = p->stopping;
		AZ(pthread_mutex_unlock(&p->mtx));
		if (done)
			return (NULL);
		if (sr_redis_generation(p->redis) != gen)
			return ("Sentinel names another master");
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ("poll failed");
		now = VTIM_mono();
		if (n == 0) {
			/* a PING after each SR_PUSH_IDLE of silence */
			if (now - last < SR_PUSH_IDLE * (pinged + 1))
				continue;
			if (pinged >= 2)
				return ("no answer to PING");
			/* silent: is Redis still there? */
			pinged++;
			if (redisAppendCommand(c, "PING") != REDIS_OK)
				return ("PING failed");
			do {
				if (redisBufferWrite(c, &done) != REDIS_OK)
					return (c->errstr);
			} while (!done);
			continue;
		}
		if (redisBufferRead(c) != REDIS_OK)
			return (c->err == REDIS_ERR_EOF ? "closed by Redis" :
			    c->errstr);
		last = now;
		pinged = 0;
		while (1) {
			reply = NULL;
			if (redisGetReplyFromReader(c, &reply) != REDIS_OK)
				return (c->errstr);
			if (reply == NULL)
				break;
			sr_push_message(p, reply);
			freeReplyObject(reply);
		}
	}
}

static void *
sr_push_thread(void *priv)
{
	struct sr_push *p;
	redisContext *c;
	double backoff;
	const char *lost;
	unsigned connected = 0, failing = 0, stop, gen;
	char why[160];

	CAST_OBJ_NOTNULL(p, priv, SR_PUSH_MAGIC);
	backoff = 0;
	while (1) {
		if (backoff > 0 && sr_push_sleep(p,
		    backoff * (0.75 + 0.5 * (double)random() / (double)RAND_MAX)))
			break;
		if (backoff < SR_PUSH_BACKOFF_MIN)
			backoff = SR_PUSH_BACKOFF_MIN;
		else if (backoff * 2 <= SR_PUSH_BACKOFF_MAX)
			backoff *= 2;
		else
			backoff = SR_PUSH_BACKOFF_MAX;

		c = sr_push_connect(p, &gen, why, sizeof why);
		if (c == NULL) {
			/* once per outage: the pool logs Redis down too */
			if (!failing)
				sr_push_log(p, SLT_Error, "cannot subscribe",
				    why);
			failing = 1;
			continue;
		}
		AZ(pthread_mutex_lock(&p->mtx));
		stop = p->stopping;
		if (!stop)
			p->fd = c->fd;
		AZ(pthread_mutex_unlock(&p->mtx));
		if (stop) {
			redisFree(c);
			break;
		}
		if (connected++ > 0)
			SR_COUNT(p->vsc, push_reconnects);
		failing = 0;
		backoff = 0;
		p->vsc->push_connected = 1;
		(void)sr_cache_push_up(p->cache, VTIM_mono());
		sr_push_log(p, SLT_VCL_Log, "subscribed", NULL);

		lost = sr_push_listen(p, c, gen);

		sr_cache_push_down(p->cache);
		p->vsc->push_connected = 0;
		AZ(pthread_mutex_lock(&p->mtx));
		p->fd = -1;
		AZ(pthread_mutex_unlock(&p->mtx));
		redisFree(c);
		if (lost == NULL)
			break;
		sr_push_log(p, SLT_Error, "connection lost", lost);
		/* reconnect at once: a Redis restart is over in a moment */
	}
	return (NULL);
}

/*--------------------------------------------------------------------
 * Life cycle: CLI thread.
 */

int
sr_push_warm(struct sr_push *p)
{

	CHECK_OBJ_NOTNULL(p, SR_PUSH_MAGIC);
	if (p->running)
		return (0);
	p->stopping = 0;
	if (pthread_create(&p->thread, NULL, sr_push_thread, p) != 0)
		return (-1);
	p->running = 1;
	return (0);
}

void
sr_push_cold(struct sr_push *p)
{

	CHECK_OBJ_NOTNULL(p, SR_PUSH_MAGIC);
	if (!p->running)
		return;
	AZ(pthread_mutex_lock(&p->mtx));
	p->stopping = 1;
	if (p->fd >= 0)
		(void)shutdown(p->fd, SHUT_RDWR);
	AZ(pthread_cond_signal(&p->cond));
	AZ(pthread_mutex_unlock(&p->mtx));
	AZ(pthread_join(p->thread, NULL));
	p->running = 0;
}
