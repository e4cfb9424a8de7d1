/*-
 * Copyright (c) 2026 The streamroute authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * A small Redis client for hundreds of worker threads.  A redisContext
 * is not thread-safe, so each router owns a bounded pool of them: a
 * worker borrows one for a single command and gives it back.
 *
 * Redis being down must cost a request microseconds, not a timeout:
 * after a failed connect or command the pool is "down", and every
 * command fails at once.  A prober thread, which lives only while Redis
 * is down, tries to connect and PING every retry_after; when Redis
 * answers, its connection joins the pool and requests use Redis again.
 * No request ever waits for a Redis that is known to be down.  (Should
 * the thread not start, a request probes once per retry_after instead.)
 */

#include "config.h"

#include <errno.h>
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

struct sr_redis {
	unsigned		magic;
#define SR_REDIS_MAGIC		0x2ed15c0a
	struct sr_redis_cfg	cfg;
	char			*name;
	struct VSC_streamroute	*vsc;

	pthread_mutex_t		mtx;
	pthread_cond_t		cond;		/* a connection came back */
	redisContext		**idle;
	unsigned		nidle;
	unsigned		nconns;		/* idle, lent and connecting */
	unsigned		down;		/* the last attempt failed */
	double			down_until;	/* fail fast until then */

	pthread_cond_t		probe_cond;	/* wakes and stops the prober */
	pthread_t		prober;
	unsigned		prober_running;
	unsigned		prober_joinable;
	unsigned		stopping;	/* no new prober */
};

/*
 * "ip:port", "[ip6]:port" or "/path/to/socket".  The address must be
 * numeric: hiredis would resolve a name with getaddrinfo() at each
 * connect, on the request path and beyond redis_connect_timeout.
 */
const char *
sr_redis_location(struct sr_redis_cfg *cfg, const char *spec)
{
	struct sr_target t;
	const char *err;

	if (spec == NULL || *spec == '\0')
		return ("empty");
	if (*spec == '/') {
		cfg->path = strdup(spec);
		AN(cfg->path);
		return (NULL);
	}
	err = sr_target_parse(&t, spec, strlen(spec));
	if (err != NULL)
		return (err);
	cfg->host = strdup(t.ip);
	AN(cfg->host);
	cfg->port = (int)t.port;
	return (NULL);
}

struct sr_redis *
sr_redis_new(const struct sr_redis_cfg *cfg, struct VSC_streamroute *vsc,
    const char *name)
{
	struct sr_redis *r;
	pthread_condattr_t ca;

	AN(cfg);
	AN(vsc);
	assert(cfg->max_conns > 0);
	ALLOC_OBJ(r, SR_REDIS_MAGIC);
	AN(r);
	r->cfg = *cfg;
	r->vsc = vsc;
	r->name = strdup(name);
	AN(r->name);
	r->idle = calloc(cfg->max_conns, sizeof *r->idle);
	AN(r->idle);
	AZ(pthread_mutex_init(&r->mtx, NULL));
	AZ(pthread_condattr_init(&ca));
	AZ(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC));
	AZ(pthread_cond_init(&r->cond, &ca));
	AZ(pthread_cond_init(&r->probe_cond, &ca));
	AZ(pthread_condattr_destroy(&ca));
	return (r);
}

static void
sr_redis_close_idle(struct sr_redis *r)
{
	redisContext *c;

	CHECK_OBJ_NOTNULL(r, SR_REDIS_MAGIC);
	AZ(pthread_mutex_lock(&r->mtx));
	while (r->nidle > 0) {
		c = r->idle[--r->nidle];
		r->nconns--;
		redisFree(c);
	}
	AZ(pthread_mutex_unlock(&r->mtx));
}

/* Stops the prober, if one runs, and waits for it to end. */
static void
sr_redis_stop_prober(struct sr_redis *r)
{

	AZ(pthread_mutex_lock(&r->mtx));
	r->stopping = 1;
	AZ(pthread_cond_broadcast(&r->probe_cond));
	AZ(pthread_mutex_unlock(&r->mtx));
	if (r->prober_joinable) {
		AZ(pthread_join(r->prober, NULL));
		r->prober_joinable = 0;
	}
	AZ(pthread_mutex_lock(&r->mtx));
	AZ(r->prober_running);
	r->stopping = 0;
	AZ(pthread_mutex_unlock(&r->mtx));
}

/* A cold VCL holds no connection and runs no thread. */
void
sr_redis_cold(struct sr_redis *r)
{

	CHECK_OBJ_NOTNULL(r, SR_REDIS_MAGIC);
	sr_redis_stop_prober(r);
	sr_redis_close_idle(r);
}

void
sr_redis_destroy(struct sr_redis **rp)
{
	struct sr_redis *r;

	TAKE_OBJ_NOTNULL(r, rp, SR_REDIS_MAGIC);
	sr_redis_stop_prober(r);
	sr_redis_close_idle(r);
	/* nothing is lent out: the VCL is cold and no task runs in it */
	AZ(r->nconns);
	AZ(pthread_mutex_destroy(&r->mtx));
	AZ(pthread_cond_destroy(&r->cond));
	AZ(pthread_cond_destroy(&r->probe_cond));
	free(r->idle);
	free(r->name);
	free(r->cfg.host);
	free(r->cfg.path);
	free(r->cfg.password);
	free(r->cfg.master);
	sr_targetlist_fini(&r->cfg.sentinels);
	FREE_OBJ(r);
}

static void
sr_redis_log(const struct sr_redis *r, struct vsl_log *vsl, const char *what,
    const char *detail)
{

	if (vsl != NULL)
		VSLb(vsl, SLT_Error, "streamroute: %s: redis %s%s%s", r->name,
		    what, detail != NULL ? ": " : "",
		    detail != NULL ? detail : "");
}

/* Runs a setup command on a new connection: AUTH, SELECT. */
static int
sr_redis_setup(const struct sr_redis *r, struct vsl_log *vsl, redisContext *c,
    int argc, const char **argv)
{
	redisReply *reply;
	int ok;

	reply = redisCommandArgv(c, argc, argv, NULL);
	if (reply == NULL) {
		sr_redis_log(r, vsl, argv[0], c->errstr);
		return (0);
	}
	ok = reply->type != REDIS_REPLY_ERROR;
	if (!ok)
		sr_redis_log(r, vsl, argv[0], reply->str);
	freeReplyObject(reply);
	return (ok);
}

static redisContext *
sr_redis_open(const struct sr_redis *r, struct vsl_log *vsl, const char *what,
    const char *host, int port)
{
	redisContext *c;

	if (host == NULL)
		c = redisConnectUnixWithTimeout(r->cfg.path,
		    VTIM_timeval(r->cfg.connect_timeout));
	else
		c = redisConnectWithTimeout(host, port,
		    VTIM_timeval(r->cfg.connect_timeout));
	if (c == NULL) {
		sr_redis_log(r, vsl, what, "out of memory");
		return (NULL);
	}
	if (c->err) {
		sr_redis_log(r, vsl, what, c->errstr);
		redisFree(c);
		return (NULL);
	}
	if (redisSetTimeout(c, VTIM_timeval(r->cfg.timeout)) != REDIS_OK ||
	    (host != NULL && redisEnableKeepAlive(c) != REDIS_OK)) {
		sr_redis_log(r, vsl, what, c->errstr);
		redisFree(c);
		return (NULL);
	}
	return (c);
}

/*
 * Asks each Sentinel in turn where the master is now.  Asked at every
 * new connection, which is rare: connections are pooled.
 */
static int
sr_redis_master(const struct sr_redis *r, struct vsl_log *vsl,
    struct sr_target *master)
{
	const struct sr_target *s;
	redisContext *c;
	redisReply *reply;
	const char *argv[3], *err;
	char addr[SR_TARGET_MAX + 8];
	unsigned u;
	int found;

	argv[0] = "SENTINEL";
	argv[1] = "get-master-addr-by-name";
	argv[2] = r->cfg.master;
	for (u = 0; u < r->cfg.sentinels.n; u++) {
		s = &r->cfg.sentinels.targets[u];
		c = sr_redis_open(r, vsl, "sentinel connect", s->ip,
		    (int)s->port);
		if (c == NULL)
			continue;
		reply = redisCommandArgv(c, 3, argv, NULL);
		found = 0;
		err = "no answer";
		if (reply == NULL)
			err = c->errstr;
		else if (reply->type == REDIS_REPLY_ARRAY &&
		    reply->elements == 2 &&
		    reply->element[0]->type == REDIS_REPLY_STRING &&
		    reply->element[1]->type == REDIS_REPLY_STRING) {
			bprintf(addr, strchr(reply->element[0]->str, ':') ?
			    "[%.46s]:%.6s" : "%.46s:%.6s",
			    reply->element[0]->str, reply->element[1]->str);
			err = sr_target_parse(master, addr, strlen(addr));
			found = err == NULL;
		} else if (reply->type == REDIS_REPLY_NIL)
			err = "master name unknown";
		else if (reply->type == REDIS_REPLY_ERROR)
			err = reply->str;
		if (!found)
			sr_redis_log(r, vsl, "sentinel", err);
		else if (vsl != NULL)
			VSLb(vsl, SLT_VCL_Log, "streamroute: %s: redis master "
			    "%s from sentinel %s", r->name, master->addr,
			    s->addr);
		if (reply != NULL)
			freeReplyObject(reply);
		redisFree(c);
		if (found)
			return (1);
	}
	return (0);
}

static redisContext *
sr_redis_connect(const struct sr_redis *r, struct vsl_log *vsl)
{
	struct sr_target master;
	redisContext *c;
	const char *argv[2];
	char db[24];

	SR_COUNT(r->vsc, redis_connects);
	if (r->cfg.sentinels.n > 0) {
		if (!sr_redis_master(r, vsl, &master))
			return (NULL);
		c = sr_redis_open(r, vsl, "connect", master.ip,
		    (int)master.port);
	} else
		c = sr_redis_open(r, vsl, "connect", r->cfg.host,
		    r->cfg.port);
	if (c == NULL)
		return (NULL);
	if (r->cfg.password != NULL) {
		argv[0] = "AUTH";
		argv[1] = r->cfg.password;
		if (!sr_redis_setup(r, vsl, c, 2, argv)) {
			redisFree(c);
			return (NULL);
		}
	}
	if (r->cfg.database != 0) {
		bprintf(db, "%ld", r->cfg.database);
		argv[0] = "SELECT";
		argv[1] = db;
		if (!sr_redis_setup(r, vsl, c, 2, argv)) {
			redisFree(c);
			return (NULL);
		}
	}
	return (c);
}

static void *
sr_redis_prober(void *priv)
{
	struct sr_redis *r;
	struct timespec deadline;
	redisContext *c;
	redisReply *reply;
	int up;

	CAST_OBJ_NOTNULL(r, priv, SR_REDIS_MAGIC);
	AZ(pthread_mutex_lock(&r->mtx));
	while (r->down && !r->stopping) {
		deadline = VTIM_timespec(VTIM_mono() + r->cfg.retry_after);
		(void)pthread_cond_timedwait(&r->probe_cond, &r->mtx,
		    &deadline);
		if (!r->down || r->stopping)
			break;
		AZ(pthread_mutex_unlock(&r->mtx));

		up = 0;
		c = sr_redis_connect(r, NULL);
		if (c != NULL) {
			SR_COUNT(r->vsc, redis_commands);
			reply = redisCommand(c, "PING");
			up = reply != NULL && reply->type == REDIS_REPLY_STATUS;
			if (reply != NULL)
				freeReplyObject(reply);
		}
		if (!up)
			SR_COUNT(r->vsc, redis_errors);

		AZ(pthread_mutex_lock(&r->mtx));
		if (up) {
			r->down = 0;
			r->down_until = 0;
			if (r->nconns < r->cfg.max_conns) {
				r->idle[r->nidle++] = c;
				r->nconns++;
				c = NULL;
				AZ(pthread_cond_signal(&r->cond));
			}
		}
		if (c != NULL)
			redisFree(c);
	}
	r->prober_running = 0;
	AZ(pthread_mutex_unlock(&r->mtx));
	return (NULL);
}

/* Redis failed: fail fast from now on, and start probing it. */
static void
sr_redis_down_locked(struct sr_redis *r)
{

	r->down = 1;
	r->down_until = VTIM_mono() + r->cfg.retry_after;
	if (r->prober_running || r->stopping)
		return;
	if (r->prober_joinable) {
		/* the last one has ended: it only had to return */
		AZ(pthread_join(r->prober, NULL));
		r->prober_joinable = 0;
	}
	if (pthread_create(&r->prober, NULL, sr_redis_prober, r) == 0) {
		r->prober_running = 1;
		r->prober_joinable = 1;
	}
}

static void
sr_redis_mark_down(struct sr_redis *r)
{

	AZ(pthread_mutex_lock(&r->mtx));
	sr_redis_down_locked(r);
	AZ(pthread_mutex_unlock(&r->mtx));
}

/*
 * Borrows a connection.  *fresh tells whether it was just made: a
 * reused one may have been closed by Redis while idle, and deserves a
 * second chance on a new connection.
 */
static redisContext *
sr_redis_take(struct sr_redis *r, struct vsl_log *vsl, int *fresh)
{
	redisContext *c;
	struct timespec deadline;
	double now;

	AZ(pthread_mutex_lock(&r->mtx));
	now = VTIM_mono();
	deadline = VTIM_timespec(now + r->cfg.timeout);
	while (1) {
		if (r->prober_running || now < r->down_until) {
			AZ(pthread_mutex_unlock(&r->mtx));
			SR_COUNT(r->vsc, redis_failfast);
			return (NULL);
		}
		if (r->nidle > 0) {
			c = r->idle[--r->nidle];
			AZ(pthread_mutex_unlock(&r->mtx));
			*fresh = 0;
			return (c);
		}
		if (r->nconns < r->cfg.max_conns)
			break;
		SR_COUNT(r->vsc, redis_pool_waits);
		if (pthread_cond_timedwait(&r->cond, &r->mtx, &deadline) ==
		    ETIMEDOUT) {
			AZ(pthread_mutex_unlock(&r->mtx));
			SR_COUNT(r->vsc, redis_errors);
			sr_redis_log(r, vsl, "pool", "no free connection");
			return (NULL);
		}
		now = VTIM_mono();
	}
	r->nconns++;
	if (r->down) {
		/* no prober: one worker probes, the others fail fast */
		r->down_until = now + r->cfg.connect_timeout + r->cfg.timeout;
	}
	AZ(pthread_mutex_unlock(&r->mtx));

	c = sr_redis_connect(r, vsl);

	AZ(pthread_mutex_lock(&r->mtx));
	if (c == NULL) {
		r->nconns--;
		sr_redis_down_locked(r);
		AZ(pthread_cond_signal(&r->cond));
	} else {
		r->down = 0;
		r->down_until = 0;
	}
	AZ(pthread_mutex_unlock(&r->mtx));
	if (c == NULL)
		SR_COUNT(r->vsc, redis_errors);
	*fresh = 1;
	return (c);
}

static void
sr_redis_give(struct sr_redis *r, redisContext *c)
{
	int keep;

	AN(c);
	keep = (c->err == 0);
	AZ(pthread_mutex_lock(&r->mtx));
	if (keep) {
		assert(r->nidle < r->cfg.max_conns);
		r->idle[r->nidle++] = c;
		/* it answered: Redis is up, whatever failed before */
		r->down = 0;
		r->down_until = 0;
	} else
		r->nconns--;
	AZ(pthread_cond_signal(&r->cond));
	AZ(pthread_mutex_unlock(&r->mtx));
	if (!keep)
		redisFree(c);
}

/*
 * Sends one command; returns its reply or NULL when Redis could not be
 * asked (already logged and counted).
 */
static redisReply *
sr_redis_command(struct sr_redis *r, struct vsl_log *vsl, int argc,
    const char **argv, const size_t *argvlen)
{
	redisContext *c;
	redisReply *reply;
	int fresh, closed;

	while (1) {
		c = sr_redis_take(r, vsl, &fresh);
		if (c == NULL)
			return (NULL);
		SR_COUNT(r->vsc, redis_commands);
		reply = redisCommandArgv(c, argc, argv, argvlen);
		closed = 0;
		if (reply == NULL) {
			AN(c->err);
			/* Redis closes idle connections, or was restarted */
			closed = c->err == REDIS_ERR_EOF ||
			    (c->err == REDIS_ERR_IO &&
			    (errno == ECONNRESET || errno == EPIPE));
			sr_redis_log(r, vsl, argv[0], c->errstr);
		}
		sr_redis_give(r, c);
		if (reply != NULL)
			return (reply);
		SR_COUNT(r->vsc, redis_errors);
		if (fresh || !closed)
			break;
		/* the idle ones are as old as this one: likely as dead */
		sr_redis_close_idle(r);
	}
	/* a timeout or a refused connection: fail fast for a while */
	sr_redis_mark_down(r);
	return (NULL);
}

void
sr_redis_get(struct sr_redis *r, struct vsl_log *vsl, const char *key,
    size_t keylen, struct sr_route *route)
{
	redisReply *reply;
	const char *argv[2];
	size_t argvlen[2];
	size_t n;

	CHECK_OBJ_NOTNULL(r, SR_REDIS_MAGIC);
	AN(route);
	argv[0] = "GET";
	argvlen[0] = 3;
	argv[1] = key;
	argvlen[1] = keylen;
	route->state = SR_ROUTE_ERROR;
	reply = sr_redis_command(r, vsl, 2, argv, argvlen);
	if (reply == NULL)
		return;
	switch (reply->type) {
	case REDIS_REPLY_NIL:
		route->state = SR_ROUTE_ABSENT;
		break;
	case REDIS_REPLY_STRING:
		route->state = SR_ROUTE_FOUND;
		route->len = reply->len;
		n = reply->len;
		if (n > SR_VALUE_MAX)
			n = SR_VALUE_MAX;
		memcpy(route->value, reply->str, n);
		route->value[n] = '\0';
		break;
	case REDIS_REPLY_ERROR:
		SR_COUNT(r->vsc, redis_errors);
		sr_redis_log(r, vsl, "GET", reply->str);
		break;
	default:
		SR_COUNT(r->vsc, redis_errors);
		sr_redis_log(r, vsl, "GET", "unexpected reply type");
		break;
	}
	freeReplyObject(reply);
}

int
sr_redis_ping(struct sr_redis *r, struct vsl_log *vsl)
{
	redisReply *reply;
	const char *argv[1] = { "PING" };
	int ok;

	CHECK_OBJ_NOTNULL(r, SR_REDIS_MAGIC);
	reply = sr_redis_command(r, vsl, 1, argv, NULL);
	if (reply == NULL)
		return (0);
	ok = reply->type == REDIS_REPLY_STATUS;
	freeReplyObject(reply);
	return (ok);
}
