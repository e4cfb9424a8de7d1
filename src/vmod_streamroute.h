/*-
 * Copyright (c) 2026 The streamroute authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * What the parts of the VMOD know of each other.
 *
 * Lock order: route cache shard, then Redis pool, then backend shard,
 * then Varnish's own locks (taken inside VRT_new_backend and
 * VRT_Assign_Backend).  Varnish never calls back into the VMOD while it
 * holds a lock of its own: our backends are plain Varnish backends.
 */

struct VSC_streamroute;
struct vsl_log;
struct sr_route;
struct sr_target;

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

struct sr_redis;

const char *sr_redis_location(struct sr_redis_cfg *, const char *spec);
struct sr_redis *sr_redis_new(const struct sr_redis_cfg *,
    struct VSC_streamroute *, const char *name);
void sr_redis_destroy(struct sr_redis **);
void sr_redis_get(struct sr_redis *, struct vsl_log *, const char *key,
    size_t keylen, struct sr_route *);
int sr_redis_ping(struct sr_redis *, struct vsl_log *);
void sr_redis_cold(struct sr_redis *);
/*
 * VTIM_mono() when a connection of this pool first saw a Redis run_id
 * other than the one before (Redis restarted, possibly empty); 0 if
 * never.  Recorded before the reply to a GET sent on that connection is
 * returned.
 */
double sr_redis_restarted(const struct sr_redis *);

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
