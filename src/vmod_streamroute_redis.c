/*-
 * Copyright (c) 2026 The streamroute authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The Redis client of a router, for hundreds of worker threads.
 *
 * Batching.  A burst of distinct new keys (a CDN refilling after an
 * origin restart) must cost Redis round trips in proportion to the
 * connections, not to the keys.  A look-up therefore does not borrow a
 * connection for itself: it queues its key, and whichever worker holds
 * or gets a connection sends every queued key at once, pipelined (one
 * write, then the replies in order), hands each waiter its answer and
 * wakes it.  We pipeline GETRANGE rather than send one MGET, because
 * GETRANGE bounds what is read per key (a route is under 64 bytes, we
 * read at most 256, never an arbitrarily large value) and because a
 * reply that is an error (a key of another type) then spoils one key,
 * not the batch.  An event-driven client (hiredis async on a thread of
 * our own) would do the same with a second thread per router and a
 * hand-off per look-up; the queue reaches the same round trips with the
 * workers' own threads.  A missing key and an empty value both read as
 * "" through GETRANGE: both are "no route", so both are ABSENT.
 *
 * Health.  What we know of a Redis (down or up, its last success, its
 * run_id) lives in a record shared by every router that talks to the
 * same Redis (same location or Sentinels, master name, database and
 * password), across VCL reloads: a new VCL does not wait out a timeout
 * to learn what the old one knew.  States and events of that record:
 *
 *	state	event					next	action
 *	UP	a command is answered			UP	failures = 0
 *	UP	a round trip fails (timeout, I/O)	UP	failures++
 *	UP	... on a second connection in a row	DOWN	log, probe at once
 *	UP	a connect fails (or AUTH/SELECT/INFO)	DOWN	log, probe at once
 *	DOWN	a look-up				DOWN	fails at once
 *	DOWN	a probe fails				DOWN	next in retry_after +-25%
 *	DOWN	a probe or any command is answered	UP	log
 *
 * Waiting for a connection or for another worker's batch is never a
 * Redis failure: it neither counts as an error nor marks Redis down; a
 * look-up that waits longer than the bound below gives up as "busy".
 *
 * A look-up (struct sr_rq, on its worker's stack) is QUEUED, then SENT
 * (in a batch: the sender writes its answer, so it waits untimed for
 * that bounded batch), then DONE; or QUEUED then DONE (busy, or Redis
 * went down).  Each router's pool has a probe thread, started when its
 * VCL turns warm and stopped when it turns cold (so no thread is ever
 * started from a worker); while Redis is up it only looks at the shared
 * record every retry_after (another router may have marked it down),
 * and while the record says down it probes.
 *
 * Bounds.  Every round trip (setup command or batch) has one deadline
 * of redis_timeout for its write and all its replies.  A new connection
 * costs at most setup = Sentinels x (connect + timeout) + connect +
 * timeout x (INFO, AUTH, SELECT).  A look-up waits in the queue at most
 * 4 x (setup + timeout): generous, because under a burst on a saturated
 * host it is the CPU, not Redis, that makes look-ups wait, and a wait
 * beats a 503 that is then cached.  A batch takes at most timeout, or,
 * when a reused connection turns out closed, that plus a new connection
 * and a resend.  sr_redis_wait_bound() is their sum, for the route
 * cache's waiters.
 *
 * Restarts.  Each new connection asks INFO server before its first
 * command, so a Redis that came back empty is known as restarted (its
 * run_id changed) before any answer from it is returned.
 *
 * Sentinel.  A failover does not always break the connections to the
 * old master: after SENTINEL FAILOVER (or a partition) the old master
 * stays up, and stays a master, until Sentinel demotes it some 10 s
 * later, and meanwhile it answers with what it had before the switch.
 * So the pool remembers the master Sentinel named last (asked at each
 * new connection, and by the probe thread at each tick while Redis is
 * up), and when Sentinel names another one, the generation of the pool
 * goes up: idle connections are closed at once, and each connection in
 * use, which carries the generation it was opened in, is closed when it
 * comes back, so the next look-ups connect to the new master.  The push
 * subscriber watches the same generation.  Answers are numbered in the
 * order they were asked, so a slow answer from before a switch does not
 * switch back.  A Sentinel that does not answer a tick changes nothing:
 * Redis is not marked down for it, and no request ever waits for it.
 */

#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "cache/cache.h"
#include "vsb.h"
#include "vtim.h"

#include "sr_addr.h"
#include "sr_cache.h"
#include "vmod_streamroute.h"
#include "VSC_streamroute.h"

#define SR_BATCH_MAX	256	/* keys per round trip */
#define SR_READ_LAST	"255"	/* GETRANGE key 0 255: 256 bytes at most */
#define SR_OK_FRESH	1.0	/* .redis_ok() trusts a success this recent */
#define SR_SLACK	0.1	/* scheduling, in the exported wait bound */
#define SR_QUEUE_WAIT	4	/* x (setup + round trip): a queued look-up */

/*--------------------------------------------------------------------*/

struct sr_redis;

struct sr_health {
	unsigned		magic;
#define SR_HEALTH_MAGIC		0x4ea17e55
	VTAILQ_ENTRY(sr_health)	list;		/* CLI thread only */
	char			*id;		/* who may share it */
	unsigned		refs;		/* CLI thread only */

	struct lock		mtx;
	VTAILQ_HEAD(, sr_redis)	pools;		/* for their gauges */
	unsigned		down;		/* written under mtx */
	unsigned		failures;	/* failed round trips in a row */
	unsigned		last_failed;	/* the latest attempt failed */
	unsigned		pinging;	/* a .redis_ok() PING in flight */
	double			last_ok;	/* a command was answered */
	double			restarted;	/* run_id changed, or 0 */
	char			run_id[48];
};

static VTAILQ_HEAD(, sr_health) sr_healths =
    VTAILQ_HEAD_INITIALIZER(sr_healths);

enum sr_rq_state {
	SR_RQ_QUEUED = 1,
	SR_RQ_SENT,
	SR_RQ_DONE,
};

struct sr_rq {
	unsigned		magic;
#define SR_RQ_MAGIC		0x6b1e0a73
	enum sr_rq_state	state;
	VTAILQ_ENTRY(sr_rq)	list;
	pthread_cond_t		cond;
	const char		*key;		/* NULL: PING */
	size_t			keylen;
	struct sr_route		*route;		/* GET: the answer */
	const char		*why;		/* NULL: answered */
	char			detail[160];	/* what to log, or "" */
};

struct sr_redis {
	unsigned		magic;
#define SR_REDIS_MAGIC		0x2ed15c0a
	struct sr_redis_cfg	cfg;
	char			*name;
	struct VSC_streamroute	*vsc;
	struct sr_health	*health;
	VTAILQ_ENTRY(sr_redis)	health_list;
	double			setup_bound;
	double			queue_bound;
	double			wait_bound;

	struct lock		mtx;
	VTAILQ_HEAD(, sr_rq)	queue;
	redisContext		**idle;
	unsigned		nidle;
	unsigned		nconns;		/* idle, in a batch, connecting */

	/* what Sentinel said: under mtx, gen also read atomically */
	char			master[SR_TARGET_MAX];	/* "": not asked yet */
	unsigned		gen;		/* master switches seen */
	uint64_t		asked;		/* Sentinel questions, numbered */
	uint64_t		heard;		/* the latest answer recorded */

	pthread_cond_t		probe_cond;
	pthread_t		prober;
	unsigned		prober_running;	/* CLI thread only */
	unsigned		stopping;
};

/*--------------------------------------------------------------------
 * Logging: "streamroute: <router>: redis ..." throughout.
 */

static void
sr_redis_log(const struct sr_redis *r, struct vsl_log *vsl,
    enum VSL_tag_e tag, const char *what, const char *detail)
{

	if (vsl != NULL)
		VSLb(vsl, tag, "streamroute: %s: redis %s%s%s", r->name,
		    what, detail != NULL ? ": " : "",
		    detail != NULL ? detail : "");
	else
		VSL(tag, 0, "streamroute: %s: redis %s%s%s", r->name,
		    what, detail != NULL ? ": " : "",
		    detail != NULL ? detail : "");
}

/*--------------------------------------------------------------------
 * The shared health record.  Its lock is taken after a pool's lock,
 * never before, and nothing else is taken under it.
 */

static void
sr_health_gauges(const struct sr_health *h, uint64_t down)
{
	struct sr_redis *r;

	VTAILQ_FOREACH(r, &h->pools, health_list)
		r->vsc->redis_down = down;
}

static int
sr_health_is_down(struct sr_health *h)
{

	CHECK_OBJ_NOTNULL(h, SR_HEALTH_MAGIC);
	return (__atomic_load_n(&h->down, __ATOMIC_ACQUIRE) != 0);
}

/* A command was answered: Redis is up, whatever failed before. */
static void
sr_health_ok(const struct sr_redis *r, struct vsl_log *vsl)
{
	struct sr_health *h;
	unsigned was_down;

	h = r->health;
	CHECK_OBJ_NOTNULL(h, SR_HEALTH_MAGIC);
	Lck_Lock(&h->mtx);
	h->failures = 0;
	h->last_failed = 0;
	h->last_ok = VTIM_mono();
	was_down = h->down;
	if (was_down) {
		__atomic_store_n(&h->down, 0, __ATOMIC_RELEASE);
		sr_health_gauges(h, 0);
	}
	Lck_Unlock(&h->mtx);
	if (was_down)
		sr_redis_log(r, vsl, SLT_VCL_Log, "up", NULL);
}

static void sr_redis_fail_queued(struct sr_redis *, const char *);

/*
 * A connect failed (connect != 0), or a round trip on a connection:
 * returns whether this was the news that Redis is down.
 */
static int
sr_health_failed(struct sr_redis *r, struct vsl_log *vsl, int connect,
    const char *why)
{
	struct sr_health *h;
	unsigned newly;

	h = r->health;
	CHECK_OBJ_NOTNULL(h, SR_HEALTH_MAGIC);
	Lck_Lock(&h->mtx);
	h->last_failed = 1;
	h->failures++;
	newly = !h->down && (connect || h->failures >= 2);
	if (newly) {
		__atomic_store_n(&h->down, 1, __ATOMIC_RELEASE);
		sr_health_gauges(h, 1);
	}
	Lck_Unlock(&h->mtx);
	if (newly) {
		SR_COUNT(r->vsc, redis_marked_down);
		sr_redis_log(r, vsl, SLT_Error, "down", why);
	}
	if (sr_health_is_down(h)) {
		/* nothing queued here waits for it; probe at once */
		Lck_Lock(&r->mtx);
		sr_redis_fail_queued(r, SR_WHY_DOWN);
		if (newly)
			AZ(pthread_cond_signal(&r->probe_cond));
		Lck_Unlock(&r->mtx);
	}
	return (newly);
}

static void
sr_health_run_id(const struct sr_redis *r, struct vsl_log *vsl,
    const char *run_id, const char *uptime)
{
	struct sr_health *h;
	char buf[128];
	int changed;

	h = r->health;
	CHECK_OBJ_NOTNULL(h, SR_HEALTH_MAGIC);
	Lck_Lock(&h->mtx);
	changed = h->run_id[0] != '\0' && strcmp(h->run_id, run_id) != 0;
	if (changed)
		h->restarted = VTIM_mono();
	bprintf(h->run_id, "%s", run_id);
	Lck_Unlock(&h->mtx);
	if (!changed)
		return;
	SR_COUNT(r->vsc, redis_restarts);
	bprintf(buf, "run_id %.40s, up %.20s s", run_id, uptime);
	sr_redis_log(r, vsl, SLT_Error, "restarted", buf);
}

/* Who may share a health record: the same Redis, seen the same way. */
static char *
sr_health_id(const struct sr_redis_cfg *cfg)
{
	struct vsb *vsb;
	unsigned u;
	char *id;

	vsb = VSB_new_auto();
	AN(vsb);
	if (cfg->sentinels.n > 0) {
		VSB_cat(vsb, "sentinels");
		for (u = 0; u < cfg->sentinels.n; u++)
			VSB_printf(vsb, " %s", cfg->sentinels.targets[u].addr);
		VSB_printf(vsb, " master %s", cfg->master);
	} else if (cfg->path != NULL)
		VSB_printf(vsb, "unix %s", cfg->path);
	else
		VSB_printf(vsb, "tcp %s %d", cfg->host, cfg->port);
	VSB_printf(vsb, " db %ld", cfg->database);
	/* a wrong password must not make Redis down for the right one */
	VSB_printf(vsb, " auth %s", cfg->password != NULL ?
	    cfg->password : "");
	AZ(VSB_finish(vsb));
	id = strdup(VSB_data(vsb));
	AN(id);
	VSB_destroy(&vsb);
	return (id);
}

static void
sr_health_join(struct sr_redis *r)
{
	struct sr_health *h;
	char *id;

	id = sr_health_id(&r->cfg);
	VTAILQ_FOREACH(h, &sr_healths, list)
		if (!strcmp(h->id, id))
			break;
	if (h == NULL) {
		ALLOC_OBJ(h, SR_HEALTH_MAGIC);
		AN(h);
		h->id = id;
		Lck_New(&h->mtx, lck_sr_redis_health);
		VTAILQ_INIT(&h->pools);
		VTAILQ_INSERT_TAIL(&sr_healths, h, list);
	} else
		free(id);
	h->refs++;
	Lck_Lock(&h->mtx);
	VTAILQ_INSERT_TAIL(&h->pools, r, health_list);
	r->vsc->redis_down = h->down;
	Lck_Unlock(&h->mtx);
	r->health = h;
}

static void
sr_health_leave(struct sr_redis *r)
{
	struct sr_health *h;

	TAKE_OBJ_NOTNULL(h, &r->health, SR_HEALTH_MAGIC);
	Lck_Lock(&h->mtx);
	VTAILQ_REMOVE(&h->pools, r, health_list);
	Lck_Unlock(&h->mtx);
	assert(h->refs > 0);
	if (--h->refs > 0)
		return;
	VTAILQ_REMOVE(&sr_healths, h, list);
	Lck_Delete(&h->mtx);
	free(h->id);
	FREE_OBJ(h);
}

/*--------------------------------------------------------------------
 * Configuration and life cycle (CLI thread).
 */

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
	double rt, ct;

	AN(cfg);
	AN(vsc);
	assert(cfg->max_conns > 0);
	assert(cfg->retry_after >= SR_REDIS_RETRY_MIN);
	ALLOC_OBJ(r, SR_REDIS_MAGIC);
	AN(r);
	r->cfg = *cfg;
	r->vsc = vsc;
	r->name = strdup(name);
	AN(r->name);
	r->idle = calloc(cfg->max_conns, sizeof *r->idle);
	AN(r->idle);
	Lck_New(&r->mtx, lck_sr_redis_pool);
	VTAILQ_INIT(&r->queue);
	AZ(pthread_cond_init(&r->probe_cond, NULL));

	rt = cfg->timeout;
	ct = cfg->connect_timeout;
	r->setup_bound = cfg->sentinels.n * (ct + rt) + ct +
	    rt * (1 + (cfg->password != NULL) + (cfg->database != 0));
	r->queue_bound = SR_QUEUE_WAIT * (r->setup_bound + rt);
	r->wait_bound = r->queue_bound + rt + r->setup_bound + rt + SR_SLACK;

	sr_health_join(r);
	return (r);
}

double
sr_redis_wait_bound(const struct sr_redis *r)
{

	CHECK_OBJ_NOTNULL(r, SR_REDIS_MAGIC);
	return (r->wait_bound);
}

double
sr_redis_restarted(const struct sr_redis *r)
{
	struct sr_health *h;
	double t;

	CHECK_OBJ_NOTNULL(r, SR_REDIS_MAGIC);
	h = r->health;
	CHECK_OBJ_NOTNULL(h, SR_HEALTH_MAGIC);
	Lck_Lock(&h->mtx);
	t = h->restarted;
	Lck_Unlock(&h->mtx);
	return (t);
}

/* Pool lock held */
static void
sr_redis_close_idle_locked(struct sr_redis *r)
{
	redisContext *c;

	CHECK_OBJ_NOTNULL(r, SR_REDIS_MAGIC);
	Lck_AssertHeld(&r->mtx);
	while (r->nidle > 0) {
		c = r->idle[--r->nidle];
		r->nconns--;
		redisFree(c);
	}
}

static void
sr_redis_close_idle(struct sr_redis *r)
{

	CHECK_OBJ_NOTNULL(r, SR_REDIS_MAGIC);
	Lck_Lock(&r->mtx);
	sr_redis_close_idle_locked(r);
	Lck_Unlock(&r->mtx);
}

static void *sr_redis_prober(void *);

/* The VCL turns warm: its pool gets its probe thread. */
int
sr_redis_warm(struct sr_redis *r)
{

	CHECK_OBJ_NOTNULL(r, SR_REDIS_MAGIC);
	if (r->prober_running)
		return (0);
	r->stopping = 0;
	if (pthread_create(&r->prober, NULL, sr_redis_prober, r) != 0)
		return (-1);
	r->prober_running = 1;
	return (0);
}

/* A cold VCL holds no connection and runs no thread. */
void
sr_redis_cold(struct sr_redis *r)
{

	CHECK_OBJ_NOTNULL(r, SR_REDIS_MAGIC);
	if (r->prober_running) {
		Lck_Lock(&r->mtx);
		r->stopping = 1;
		AZ(pthread_cond_signal(&r->probe_cond));
		Lck_Unlock(&r->mtx);
		AZ(pthread_join(r->prober, NULL));
		r->prober_running = 0;
	}
	sr_redis_close_idle(r);
}

void
sr_redis_destroy(struct sr_redis **rp)
{
	struct sr_redis *r;

	TAKE_OBJ_NOTNULL(r, rp, SR_REDIS_MAGIC);
	sr_redis_cold(r);
	/* nothing is lent out: the VCL is cold and no task runs in it */
	AZ(r->nconns);
	assert(VTAILQ_EMPTY(&r->queue));
	sr_health_leave(r);
	Lck_Delete(&r->mtx);
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

/*--------------------------------------------------------------------
 * Round trips with one deadline for the write and every reply: hiredis
 * only has a timeout per system call.
 */

static int
sr_conn_until(redisContext *c, double deadline)
{
	double left;

	left = deadline - VTIM_mono();
	if (left <= 0) {
		c->err = REDIS_ERR_IO;
		bprintf(c->errstr, "%s", "timeout");
		return (-1);
	}
	if (redisSetTimeout(c, VTIM_timeval(left)) != REDIS_OK)
		return (-1);
	return (0);
}

static int
sr_conn_flush(redisContext *c, double deadline)
{
	int done = 0;

	do {
		if (sr_conn_until(c, deadline) ||
		    redisBufferWrite(c, &done) != REDIS_OK)
			return (-1);
	} while (!done);
	return (0);
}

static redisReply *
sr_conn_read(redisContext *c, double deadline)
{
	void *reply = NULL;

	while (1) {
		if (redisGetReplyFromReader(c, &reply) != REDIS_OK)
			return (NULL);
		if (reply != NULL)
			return (reply);
		if (sr_conn_until(c, deadline))
			return (NULL);
		errno = 0;
		if (redisBufferRead(c) != REDIS_OK) {
			if (c->err == REDIS_ERR_IO &&
			    (errno == EAGAIN || errno == EWOULDBLOCK))
				bprintf(c->errstr, "%s", "timeout");
			return (NULL);
		}
	}
}

static redisReply *
sr_conn_command(redisContext *c, double timeout, int argc, const char **argv)
{
	double deadline;

	deadline = VTIM_mono() + timeout;
	if (redisAppendCommandArgv(c, argc, argv, NULL) != REDIS_OK ||
	    sr_conn_flush(c, deadline))
		return (NULL);
	return (sr_conn_read(c, deadline));
}

/* A closed connection, as Redis leaves an idle one, or after a restart */
static int
sr_conn_closed(const redisContext *c, int err_no)
{

	return (c->err == REDIS_ERR_EOF || (c->err == REDIS_ERR_IO &&
	    (err_no == ECONNRESET || err_no == EPIPE)));
}

/*--------------------------------------------------------------------
 * New connections.
 */

static redisContext *
sr_redis_open(const struct sr_redis *r, const char *host, int port,
    char *why, size_t whylen)
{
	redisContext *c;

	if (host == NULL)
		c = redisConnectUnixWithTimeout(r->cfg.path,
		    VTIM_timeval(r->cfg.connect_timeout));
	else
		c = redisConnectWithTimeout(host, port,
		    VTIM_timeval(r->cfg.connect_timeout));
	if (c == NULL) {
		snprintf(why, whylen, "out of memory");
		return (NULL);
	}
	if (c->err || (host != NULL && redisEnableKeepAlive(c) != REDIS_OK)) {
		snprintf(why, whylen, "%s", c->errstr);
		redisFree(c);
		return (NULL);
	}
	return (c);
}

unsigned
sr_redis_generation(const struct sr_redis *r)
{

	CHECK_OBJ_NOTNULL(r, SR_REDIS_MAGIC);
	return (__atomic_load_n(&r->gen, __ATOMIC_ACQUIRE));
}

/*
 * Sentinel named master, in its answer to question number ticket.
 * Returns the generation a connection to that master belongs to: the
 * current one, or an older one (so that the connection is closed when
 * it comes back) when a newer answer named another master.
 */
static unsigned
sr_redis_master_seen(struct sr_redis *r, struct vsl_log *vsl,
    uint64_t ticket, const struct sr_target *master, const char *sentinel)
{
	char buf[SR_TARGET_MAX * 2 + 80];
	unsigned gen, switched = 0;

	Lck_Lock(&r->mtx);
	if (ticket > r->heard) {
		r->heard = ticket;
		if (strcmp(r->master, master->addr)) {
			if (r->master[0] != '\0') {
				switched = 1;
				bprintf(buf, "%s -> %s (sentinel %.60s)",
				    r->master, master->addr, sentinel);
				__atomic_store_n(&r->gen, r->gen + 1,
				    __ATOMIC_RELEASE);
				/* in use: closed when they come back */
				sr_redis_close_idle_locked(r);
			}
			bprintf(r->master, "%s", master->addr);
		}
	}
	gen = r->gen;
	if (strcmp(r->master, master->addr))
		gen--;
	Lck_Unlock(&r->mtx);
	if (switched) {
		SR_COUNT(r->vsc, redis_master_switches);
		sr_redis_log(r, vsl, SLT_Error, "master switched", buf);
	}
	return (gen);
}

/*
 * Asks each Sentinel in turn where the master is now.  Asked at every
 * new connection, which is rare: connections are pooled, and by the
 * probe thread at each tick (quiet: an unreachable Sentinel would be
 * logged every second).  *gen is the generation of a connection to
 * the master named.
 */
static int
sr_redis_master(struct sr_redis *r, struct vsl_log *vsl, int quiet,
    struct sr_target *master, unsigned *gen, char *why, size_t whylen)
{
	const struct sr_target *s;
	redisContext *c;
	redisReply *reply;
	const char *argv[3], *err;
	char addr[SR_TARGET_MAX + 8], buf[160];
	uint64_t ticket;
	unsigned u;
	int found;

	Lck_Lock(&r->mtx);
	ticket = ++r->asked;
	Lck_Unlock(&r->mtx);
	argv[0] = "SENTINEL";
	argv[1] = "get-master-addr-by-name";
	argv[2] = r->cfg.master;
	snprintf(why, whylen, "no sentinel answered");
	for (u = 0; u < r->cfg.sentinels.n; u++) {
		s = &r->cfg.sentinels.targets[u];
		c = sr_redis_open(r, s->ip, (int)s->port, buf, sizeof buf);
		if (c == NULL) {
			if (!quiet)
				sr_redis_log(r, vsl, SLT_Error,
				    "sentinel connect", buf);
			continue;
		}
		reply = sr_conn_command(c, r->cfg.timeout, 3, argv);
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
		if (!found) {
			if (!quiet)
				sr_redis_log(r, vsl, SLT_Error, "sentinel",
				    err);
			snprintf(why, whylen, "sentinel %.60s: %.80s", s->addr,
			    err);
		} else if (vsl != NULL)
			VSLb(vsl, SLT_VCL_Log, "streamroute: %s: redis master "
			    "%s from sentinel %s", r->name, master->addr,
			    s->addr);
		if (reply != NULL)
			freeReplyObject(reply);
		redisFree(c);
		if (found) {
			*gen = sr_redis_master_seen(r, vsl, ticket, master,
			    s->addr);
			return (1);
		}
	}
	return (0);
}

/* A setup command on a new connection: AUTH, SELECT. */
static int
sr_redis_setup(const struct sr_redis *r, redisContext *c, int argc,
    const char **argv, char *why, size_t whylen)
{
	redisReply *reply;
	int ok;

	reply = sr_conn_command(c, r->cfg.timeout, argc, argv);
	if (reply == NULL) {
		snprintf(why, whylen, "%.10s: %.100s", argv[0], c->errstr);
		return (0);
	}
	ok = reply->type != REDIS_REPLY_ERROR;
	if (!ok)
		snprintf(why, whylen, "%.10s: %.100s", argv[0], reply->str);
	freeReplyObject(reply);
	return (ok);
}

static const char *
sr_info_field(const char *info, const char *name, char *buf, size_t len)
{
	const char *p;
	size_t n, l;

	l = strlen(name);
	for (p = info; p != NULL && *p != '\0'; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (strncmp(p, name, l) || p[l] != ':')
			continue;
		p += l + 1;
		n = strcspn(p, "\r\n");
		if (n >= len)
			n = len - 1;
		memcpy(buf, p, n);
		buf[n] = '\0';
		return (buf);
	}
	return (NULL);
}

/*
 * INFO server, for the run_id.  A Redis that refuses INFO (an ACL, a
 * renamed command) is used all the same, without restart detection.
 */
static int
sr_redis_info(const struct sr_redis *r, struct vsl_log *vsl, redisContext *c,
    char *why, size_t whylen)
{
	const char *argv[2] = { "INFO", "server" };
	redisReply *reply;
	char run_id[48], uptime[24];

	reply = sr_conn_command(c, r->cfg.timeout, 2, argv);
	if (reply == NULL) {
		snprintf(why, whylen, "INFO: %.100s", c->errstr);
		return (0);
	}
	if ((reply->type == REDIS_REPLY_STRING ||
	    reply->type == REDIS_REPLY_STATUS) &&
	    sr_info_field(reply->str, "run_id", run_id, sizeof run_id) &&
	    *run_id != '\0') {
		if (!sr_info_field(reply->str, "uptime_in_seconds", uptime,
		    sizeof uptime))
			bprintf(uptime, "%s", "?");
		sr_health_run_id(r, vsl, run_id, uptime);
	}
	freeReplyObject(reply);
	return (1);
}

/*
 * A connection to the master (the one Sentinel names now, with
 * sentinels), past AUTH when a password is set; or NULL and why.
 */
static redisContext *
sr_redis_open_master(struct sr_redis *r, struct vsl_log *vsl, unsigned *gen,
    char *why, size_t whylen)
{
	struct sr_target master;
	redisContext *c;
	const char *argv[2];
	char buf[128];

	if (r->cfg.sentinels.n > 0) {
		if (!sr_redis_master(r, vsl, 0, &master, gen, why, whylen))
			return (NULL);
		c = sr_redis_open(r, master.ip, (int)master.port, buf,
		    sizeof buf);
	} else {
		*gen = sr_redis_generation(r);
		c = sr_redis_open(r, r->cfg.host, r->cfg.port, buf,
		    sizeof buf);
	}
	if (c == NULL) {
		snprintf(why, whylen, "connect: %.100s", buf);
		return (NULL);
	}
	if (r->cfg.password != NULL) {
		argv[0] = "AUTH";
		argv[1] = r->cfg.password;
		if (!sr_redis_setup(r, c, 2, argv, why, whylen)) {
			redisFree(c);
			return (NULL);
		}
	}
	return (c);
}

/* Returns a connection ready for commands and its generation, or NULL. */
static redisContext *
sr_redis_connect(struct sr_redis *r, struct vsl_log *vsl, unsigned *gen,
    char *why, size_t whylen)
{
	redisContext *c;
	const char *argv[2];
	char db[24];

	c = sr_redis_open_master(r, vsl, gen, why, whylen);
	if (c == NULL)
		return (NULL);
	if (r->cfg.database != 0) {
		bprintf(db, "%ld", r->cfg.database);
		argv[0] = "SELECT";
		argv[1] = db;
		if (!sr_redis_setup(r, c, 2, argv, why, whylen)) {
			redisFree(c);
			return (NULL);
		}
	}
	if (!sr_redis_info(r, vsl, c, why, whylen)) {
		redisFree(c);
		return (NULL);
	}
	return (c);
}

/*
 * A connection for the push subscriber (vmod_streamroute_push.c): to
 * the master Sentinel names now, as the pool's connections are, with
 * AUTH; no SELECT (channels are not per database) and no INFO.  It
 * leaves the shared health record alone: a subscriber that cannot
 * subscribe makes no look-up fail.  *gen is to be compared with
 * sr_redis_generation(): when it differs, Sentinel names another master.
 */
struct redisContext *
sr_redis_connect_push(struct sr_redis *r, unsigned *gen, char *why,
    size_t whylen)
{

	CHECK_OBJ_NOTNULL(r, SR_REDIS_MAGIC);
	AN(gen);
	return (sr_redis_open_master(r, NULL, gen, why, whylen));
}

const struct sr_redis_cfg *
sr_redis_config(const struct sr_redis *r)
{

	CHECK_OBJ_NOTNULL(r, SR_REDIS_MAGIC);
	return (&r->cfg);
}

/*--------------------------------------------------------------------
 * The probe thread.
 */

static double
sr_jitter(double d)
{

	/* +-25%: the routers of several VCLs and origins do not march */
	return (d * (0.75 + 0.5 * (double)random() / (double)RAND_MAX));
}

/* A connect and a PING: returns the connection when Redis answered. */
static redisContext *
sr_redis_probe(struct sr_redis *r, unsigned *gen)
{
	const char *argv[1] = { "PING" };
	redisContext *c;
	redisReply *reply;
	char why[160];
	int up;

	SR_COUNT(r->vsc, redis_probes);
	c = sr_redis_connect(r, NULL, gen, why, sizeof why);
	if (c == NULL)
		return (NULL);
	reply = sr_conn_command(c, r->cfg.timeout, 1, argv);
	up = reply != NULL && reply->type == REDIS_REPLY_STATUS;
	if (reply != NULL)
		freeReplyObject(reply);
	if (!up) {
		redisFree(c);
		return (NULL);
	}
	sr_health_ok(r, NULL);
	return (c);
}

static void sr_redis_kick(const struct sr_redis *);

static void *
sr_redis_prober(void *priv)
{
	struct sr_redis *r;
	struct sr_target master;
	redisContext *c;
	unsigned gen;
	char why[160];

	CAST_OBJ_NOTNULL(r, priv, SR_REDIS_MAGIC);
	Lck_Lock(&r->mtx);
	while (!r->stopping) {
		if (!sr_health_is_down(r->health)) {
			/* a tick: another router may mark Redis down */
			(void)Lck_CondWaitUntil(&r->probe_cond, &r->mtx,
			    VTIM_real() + sr_jitter(r->cfg.retry_after));
			if (r->stopping || r->cfg.sentinels.n == 0 ||
			    sr_health_is_down(r->health))
				continue;
			/* has Sentinel named another master? */
			Lck_Unlock(&r->mtx);
			(void)sr_redis_master(r, NULL, 1, &master, &gen, why,
			    sizeof why);
			Lck_Lock(&r->mtx);
			continue;
		}
		Lck_Unlock(&r->mtx);
		c = sr_redis_probe(r, &gen);
		Lck_Lock(&r->mtx);
		if (c != NULL && r->nconns < r->cfg.max_conns &&
		    !r->stopping && gen == r->gen) {
			r->idle[r->nidle++] = c;
			r->nconns++;
			sr_redis_kick(r);
			c = NULL;
		}
		if (c != NULL) {
			Lck_Unlock(&r->mtx);
			redisFree(c);
			Lck_Lock(&r->mtx);
		} else if (sr_health_is_down(r->health) && !r->stopping)
			(void)Lck_CondWaitUntil(&r->probe_cond, &r->mtx,
			    VTIM_real() + sr_jitter(r->cfg.retry_after));
	}
	Lck_Unlock(&r->mtx);
	return (NULL);
}

/*--------------------------------------------------------------------
 * The queue and its batches.  Pool lock held unless said otherwise.
 */

static void
sr_rq_done(struct sr_rq *rq, const char *why)
{

	CHECK_OBJ_NOTNULL(rq, SR_RQ_MAGIC);
	rq->why = why;
	rq->state = SR_RQ_DONE;
	AZ(pthread_cond_signal(&rq->cond));
}

/* Redis went down: nothing queued waits for it. */
static void
sr_redis_fail_queued(struct sr_redis *r, const char *why)
{
	struct sr_rq *rq;

	while ((rq = VTAILQ_FIRST(&r->queue)) != NULL) {
		assert(rq->state == SR_RQ_QUEUED);
		VTAILQ_REMOVE(&r->queue, rq, list);
		SR_COUNT(r->vsc, redis_failfast);
		sr_rq_done(rq, why);
	}
}

/* A connection is free: the oldest waiter may send the next batch. */
static void
sr_redis_kick(const struct sr_redis *r)
{
	struct sr_rq *rq;

	rq = VTAILQ_FIRST(&r->queue);
	if (rq != NULL)
		AZ(pthread_cond_signal(&rq->cond));
}

/* Takes own (if still queued) and the oldest others into a batch. */
static unsigned
sr_redis_take(struct sr_redis *r, struct sr_rq *own, struct sr_rq **batch)
{
	struct sr_rq *rq;
	unsigned n = 0;

	if (own->state == SR_RQ_QUEUED) {
		VTAILQ_REMOVE(&r->queue, own, list);
		own->state = SR_RQ_SENT;
		batch[n++] = own;
	}
	while (n < SR_BATCH_MAX && (rq = VTAILQ_FIRST(&r->queue)) != NULL) {
		VTAILQ_REMOVE(&r->queue, rq, list);
		rq->state = SR_RQ_SENT;
		batch[n++] = rq;
	}
	return (n);
}

static void
sr_batch_append(redisContext *c, struct sr_rq * const *batch, unsigned n)
{
	const char *argv[4];
	size_t argvlen[4];
	unsigned u;

	argv[0] = "GETRANGE";
	argvlen[0] = 8;
	argv[2] = "0";
	argvlen[2] = 1;
	argv[3] = SR_READ_LAST;
	argvlen[3] = strlen(SR_READ_LAST);
	for (u = 0; u < n; u++) {
		if (batch[u]->key == NULL) {
			argv[0] = "PING";
			AZ(redisAppendCommandArgv(c, 1, argv, NULL));
			argv[0] = "GETRANGE";
			continue;
		}
		argv[1] = batch[u]->key;
		argvlen[1] = batch[u]->keylen;
		AZ(redisAppendCommandArgv(c, 4, argv, argvlen));
		/* when the key expires: a route is fresh no longer */
		argv[0] = "PTTL";
		argvlen[0] = 4;
		AZ(redisAppendCommandArgv(c, 2, argv, argvlen));
		argv[0] = "GETRANGE";
		argvlen[0] = 8;
	}
}

/* The replies a batch member gets: a look-up's two, or PING's one */
static unsigned
sr_batch_replies(const struct sr_rq *rq)
{

	return (rq->key == NULL ? 1 : 2);
}

/* PTTL's reply: milliseconds left, -1 for no expiry, -2 for no key. */
static void
sr_batch_expiry(struct sr_rq *rq, const redisReply *reply)
{

	if (rq->key == NULL || rq->why != NULL)
		return;
	AN(rq->route);
	rq->route->expires_in = 0;
	if (reply->type == REDIS_REPLY_INTEGER && reply->integer >= 0 &&
	    rq->route->state == SR_ROUTE_FOUND)
		/* at least a millisecond: 0 means "never" */
		rq->route->expires_in = reply->integer > 0 ?
		    reply->integer * 1e-3 : 1e-3;
}

/* One reply for one look-up: never fails the connection. */
static void
sr_batch_answer(struct sr_redis *r, struct sr_rq *rq, const redisReply *reply)
{
	struct sr_route *route;
	size_t n;

	if (reply->type == REDIS_REPLY_ERROR) {
		SR_COUNT(r->vsc, redis_errors);
		rq->why = SR_WHY_FAILED;
		bprintf(rq->detail, "%s: %.80s",
		    rq->key == NULL ? "PING" : "GETRANGE", reply->str);
		return;
	}
	if (rq->key == NULL) {
		if (reply->type != REDIS_REPLY_STATUS) {
			rq->why = SR_WHY_FAILED;
			bprintf(rq->detail, "%s", "PING: unexpected reply");
		}
		return;
	}
	route = rq->route;
	AN(route);
	switch (reply->type) {
	case REDIS_REPLY_NIL:
		route->state = SR_ROUTE_ABSENT;
		break;
	case REDIS_REPLY_STRING:
		if (reply->len == 0) {
			/* missing, or "": no route either way */
			route->state = SR_ROUTE_ABSENT;
			break;
		}
		route->state = SR_ROUTE_FOUND;
		n = reply->len;
		if (n > SR_VALUE_MAX)
			n = SR_VALUE_MAX;
		route->len = n;
		memcpy(route->value, reply->str, n);
		route->value[n] = '\0';
		break;
	default:
		SR_COUNT(r->vsc, redis_errors);
		rq->why = SR_WHY_FAILED;
		bprintf(rq->detail, "%s", "GETRANGE: unexpected reply type");
		break;
	}
}

/*
 * Sends a batch and reads its replies, without the pool lock.  Returns
 * the connection, or NULL when it is lost.  A reused connection found
 * closed before any reply gets one resend on a new connection.
 */
static redisContext *
sr_batch_send(struct sr_redis *r, struct vsl_log *vsl, redisContext *c,
    unsigned *gen, int fresh, struct sr_rq * const *batch, unsigned n)
{
	redisReply *reply;
	double deadline;
	unsigned u, got;
	char why[160];
	int err_no, connect;

	for (u = 0; u < n; u++) {
		batch[u]->why = NULL;
		batch[u]->detail[0] = '\0';
	}
	while (1) {
		SR_COUNT(r->vsc, redis_batches);
		/* a look-up (GETRANGE and PTTL) or a PING: one each */
		(void)__atomic_add_fetch(&r->vsc->redis_commands, n,
		    __ATOMIC_RELAXED);
		deadline = VTIM_mono() + r->cfg.timeout;
		sr_batch_append(c, batch, n);
		got = 0;
		errno = 0;
		if (!sr_conn_flush(c, deadline)) {
			for (; got < n; got++) {
				reply = sr_conn_read(c, deadline);
				if (reply == NULL)
					break;
				sr_batch_answer(r, batch[got], reply);
				freeReplyObject(reply);
				if (sr_batch_replies(batch[got]) == 1)
					continue;
				reply = sr_conn_read(c, deadline);
				if (reply == NULL)
					break;
				sr_batch_expiry(batch[got], reply);
				freeReplyObject(reply);
			}
		}
		if (got == n) {
			sr_health_ok(r, vsl);
			return (c);
		}
		err_no = errno;
		AN(c->err);
		bprintf(why, "%s: %s", batch[got]->key == NULL ? "PING" :
		    "GETRANGE", c->errstr);
		if (fresh || got > 0 || !sr_conn_closed(c, err_no))
			break;
		/* closed while idle: the idle ones are as old, likely dead */
		redisFree(c);
		sr_redis_close_idle(r);
		SR_COUNT(r->vsc, redis_connects);
		c = sr_redis_connect(r, vsl, gen, why, sizeof why);
		if (c == NULL) {
			SR_COUNT(r->vsc, redis_errors);
			got = 0;
			break;
		}
		fresh = 1;
	}
	for (u = got; u < n; u++) {
		batch[u]->why = SR_WHY_FAILED;
		bprintf(batch[u]->detail, "%s", why);
	}
	connect = (c == NULL);
	if (!connect) {
		SR_COUNT(r->vsc, redis_errors);
		redisFree(c);
	}
	(void)sr_health_failed(r, vsl, connect, why);
	return (NULL);
}

static void
sr_gauge_max(volatile uint64_t *g, uint64_t v)
{
	uint64_t o;

	o = __atomic_load_n(g, __ATOMIC_RELAXED);
	while (v > o && !__atomic_compare_exchange_n(g, &o, v, 1,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		continue;
}

/*
 * Queues rq, and waits for its answer, sending batches whenever this
 * worker holds a connection.
 */
static void
sr_redis_ask(struct sr_redis *r, struct vsl_log *vsl, struct sr_rq *rq)
{
	struct sr_rq *batch[SR_BATCH_MAX];
	redisContext *c;
	double t0, now, deadline;
	unsigned n, u, waited, gen;
	int fresh;
	char why[160];

	CHECK_OBJ_NOTNULL(r, SR_REDIS_MAGIC);
	CHECK_OBJ_NOTNULL(rq, SR_RQ_MAGIC);
	if (sr_health_is_down(r->health)) {
		SR_COUNT(r->vsc, redis_failfast);
		rq->why = SR_WHY_DOWN;
		return;
	}
	t0 = VTIM_mono();
	deadline = t0 + r->queue_bound;
	waited = 0;
	AZ(pthread_cond_init(&rq->cond, NULL));
	Lck_Lock(&r->mtx);
	rq->state = SR_RQ_QUEUED;
	VTAILQ_INSERT_TAIL(&r->queue, rq, list);
	while (rq->state != SR_RQ_DONE) {
		if (rq->state == SR_RQ_SENT) {
			/* in another worker's batch, which is bounded */
			(void)Lck_CondWait(&rq->cond, &r->mtx);
			continue;
		}
		if (r->nidle > 0) {
			/* a switch closes the idle ones: this one is current */
			c = r->idle[--r->nidle];
			gen = r->gen;
			fresh = 0;
		} else if (r->nconns < r->cfg.max_conns) {
			r->nconns++;
			Lck_Unlock(&r->mtx);
			SR_COUNT(r->vsc, redis_connects);
			c = sr_redis_connect(r, vsl, &gen, why, sizeof why);
			if (c == NULL) {
				SR_COUNT(r->vsc, redis_errors);
				sr_redis_log(r, vsl, SLT_Error, why, NULL);
				Lck_Lock(&r->mtx);
				r->nconns--;
				if (rq->state == SR_RQ_QUEUED) {
					VTAILQ_REMOVE(&r->queue, rq, list);
					sr_rq_done(rq, SR_WHY_FAILED);
				}
				Lck_Unlock(&r->mtx);
				/* fails what is queued here: Redis is down */
				(void)sr_health_failed(r, vsl, 1, why);
				Lck_Lock(&r->mtx);
				continue;
			}
			Lck_Lock(&r->mtx);
			fresh = 1;
		} else {
			now = VTIM_mono();
			if (now >= deadline) {
				/* the client is saturated, not Redis */
				VTAILQ_REMOVE(&r->queue, rq, list);
				SR_COUNT(r->vsc, redis_busy);
				sr_rq_done(rq, SR_WHY_BUSY);
				break;
			}
			if (!waited) {
				SR_COUNT(r->vsc, redis_pool_waits);
				waited = 1;
			}
			(void)Lck_CondWaitUntil(&rq->cond, &r->mtx,
			    VTIM_real() + (deadline - now));
			continue;
		}

		/*
		 * Send batches while look-ups are queued and this one's
		 * queue budget lasts: a worker already on a CPU with a
		 * connection in hand beats waking another, which is what
		 * costs under a burst.  The batch after the budget is one
		 * more bounded batch: see the bounds at the top.
		 */
		while (gen == r->gen &&
		    (n = sr_redis_take(r, rq, batch)) > 0) {
			Lck_Unlock(&r->mtx);
			c = sr_batch_send(r, vsl, c, &gen, fresh, batch, n);
			Lck_Lock(&r->mtx);
			for (u = 0; u < n; u++)
				sr_rq_done(batch[u], batch[u]->why);
			fresh = 0;
			if (c == NULL || VTIM_mono() >= deadline)
				break;
		}
		if (c != NULL && gen == r->gen)
			r->idle[r->nidle++] = c;
		else {
			/* lost, or to a master Sentinel no longer names */
			if (c != NULL)
				redisFree(c);
			r->nconns--;
		}
		sr_redis_kick(r);
	}
	Lck_Unlock(&r->mtx);
	AZ(pthread_cond_destroy(&rq->cond));
	sr_gauge_max(&r->vsc->redis_wait_max,
	    (uint64_t)((VTIM_mono() - t0) * 1e6));
	if (rq->why != NULL && rq->detail[0] != '\0')
		sr_redis_log(r, vsl, SLT_Error, rq->detail, NULL);
}

/*--------------------------------------------------------------------*/

const char *
sr_redis_get(struct sr_redis *r, struct vsl_log *vsl, const char *key,
    size_t keylen, struct sr_route *route)
{
	struct sr_rq rq;

	CHECK_OBJ_NOTNULL(r, SR_REDIS_MAGIC);
	AN(key);
	AN(route);
	INIT_OBJ(&rq, SR_RQ_MAGIC);
	rq.key = key;
	rq.keylen = keylen;
	rq.route = route;
	route->state = SR_ROUTE_ERROR;
	sr_redis_ask(r, vsl, &rq);
	if (rq.why != NULL)
		route->state = SR_ROUTE_ERROR;
	return (rq.why);
}

/*
 * For a deep health check, answered from what is known: false while
 * Redis is down, true after a success less than a second old, else one
 * caller PINGs while the others take the latest result.
 */
int
sr_redis_ok(struct sr_redis *r, struct vsl_log *vsl)
{
	struct sr_health *h;
	struct sr_rq rq;
	int ok;

	CHECK_OBJ_NOTNULL(r, SR_REDIS_MAGIC);
	h = r->health;
	CHECK_OBJ_NOTNULL(h, SR_HEALTH_MAGIC);
	Lck_Lock(&h->mtx);
	if (h->down) {
		Lck_Unlock(&h->mtx);
		SR_COUNT(r->vsc, redis_failfast);
		return (0);
	}
	if (h->pinging || h->last_ok + SR_OK_FRESH > VTIM_mono()) {
		ok = !h->last_failed;
		Lck_Unlock(&h->mtx);
		return (ok);
	}
	h->pinging = 1;
	Lck_Unlock(&h->mtx);

	INIT_OBJ(&rq, SR_RQ_MAGIC);
	sr_redis_ask(r, vsl, &rq);

	Lck_Lock(&h->mtx);
	h->pinging = 0;
	Lck_Unlock(&h->mtx);
	return (rq.why == NULL);
}
