/*-
 * Copyright (c) 2026 The streamroute authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * What the parts of the VMOD know of each other.
 *
 * Locks.  The parts never hold a lock of theirs while calling another
 * part: the route cache calls the Redis client with no shard lock held,
 * and the router calls the backends after the look-up has returned.
 * Within the Redis client, a pool's lock and a health record's lock are
 * never held together.  Within the backends: the sweep lock, then a
 * backend shard lock, then Varnish's own lock inside VRT_Assign_Backend;
 * VRT_new_backend and VRT_delete_backend run with no lock of ours held.
 * Varnish never calls back into the VMOD while it holds a lock of its
 * own: our backends are plain Varnish backends.
 */

struct VSC_streamroute;
struct vsl_log;
struct sr_route;
struct sr_target;

/*
 * vmod_streamroute.c: the lock classes, so that LCK.sr_redis_pool.*,
 * LCK.sr_redis_health.* and LCK.sr_backends.* show contention.  They
 * exist while any router does.  CLI thread only.
 */
extern struct VSC_lck *lck_sr_redis_pool, *lck_sr_redis_health,
    *lck_sr_backends;

#define SR_COUNT(vsc, field)						\
	(void)__atomic_add_fetch(&(vsc)->field, 1, __ATOMIC_RELAXED)
#define SR_UNCOUNT(vsc, field)						\
	(void)__atomic_sub_fetch(&(vsc)->field, 1, __ATOMIC_RELAXED)

/* vmod_streamroute_redis.c */

struct sr_redis_cfg {
	char		*host;		/* NULL for a unix socket */
	int		port;
	char		*path;		/* unix socket, or NULL */
	struct sr_targetlist sentinels;	/* when set: ask them for host */
	char		*master;	/* the name Sentinel knows it by */
	char		*password;	/* NULL for none */
	long		database;
	double		connect_timeout;
	double		timeout;
	double		retry_after;
	unsigned	max_conns;
};

/* Below this the probe thread would hammer a dead Redis (0 spins) */
#define SR_REDIS_RETRY_MIN	0.1

/* Why Redis did not answer a look-up (the "reason" in the VCL_Log) */
#define SR_WHY_DOWN	"redis_down"	/* known down: not asked */
#define SR_WHY_BUSY	"redis_busy"	/* no connection in time */
#define SR_WHY_FAILED	"redis_failed"	/* asked, and it failed */

struct sr_redis;

const char *sr_redis_location(struct sr_redis_cfg *, const char *spec);
struct sr_redis *sr_redis_new(const struct sr_redis_cfg *,
    struct VSC_streamroute *, const char *name);
void sr_redis_destroy(struct sr_redis **);
int sr_redis_warm(struct sr_redis *);
void sr_redis_cold(struct sr_redis *);
/* Returns NULL when Redis answered, else an SR_WHY_* */
const char *sr_redis_get(struct sr_redis *, struct vsl_log *, const char *key,
    size_t keylen, struct sr_route *);
int sr_redis_ok(struct sr_redis *, struct vsl_log *);
/* The longest sr_redis_get() can take, in seconds */
double sr_redis_wait_bound(const struct sr_redis *);
/*
 * VTIM_mono() when a connection to this Redis (any router's) first saw
 * a run_id other than the one before (Redis restarted, possibly empty);
 * 0 if never.  Recorded before the reply to a look-up sent on that
 * connection is returned.
 */
double sr_redis_restarted(const struct sr_redis *);
struct redisContext;
struct redisContext *sr_redis_connect_push(struct sr_redis *,
    unsigned *gen, char *why, size_t whylen);
/* Goes up at each master switch Sentinel announces */
unsigned sr_redis_generation(const struct sr_redis *);
const struct sr_redis_cfg *sr_redis_config(const struct sr_redis *);

/* vmod_streamroute_push.c */

struct sr_push;
struct sr_cache;

struct sr_push *sr_push_new(struct sr_redis *, struct sr_cache *,
    struct VSC_streamroute *, const char *name, const char *pattern,
    size_t prefixlen, const char *channel);
void sr_push_destroy(struct sr_push **);
int sr_push_warm(struct sr_push *);
void sr_push_cold(struct sr_push *);

/* vmod_streamroute_backend.c */

struct sr_backends;
struct vrt_backend;

struct sr_backends *sr_backends_new(const struct vrt_backend *tmpl,
    const char *name, unsigned max, double idle_timeout,
    struct VSC_streamroute *);
void sr_backends_destroy(VRT_CTX, struct sr_backends **);
enum sr_backend_status {
	SR_BACKEND_OK = 0,
	SR_BACKEND_FULL,	/* max_backends reached */
	SR_BACKEND_REFUSED,	/* Varnish made none: the VCL is cooling */
};

VCL_BACKEND sr_backends_get(VRT_CTX, struct sr_backends *,
    const struct sr_target *, enum sr_backend_status *);
