/*-
 * Copyright (c) 2026 The streamroute authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The VCL face of streamroute: the router object, its methods and the
 * VCL events.  Parsing lives in sr_key.c and sr_addr.c, the route cache
 * in sr_cache.c, Redis in vmod_streamroute_redis.c and the backends in
 * vmod_streamroute_backend.c.
 */

#include "config.h"

#include <sys/socket.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "vrnd.h"
#include "vsa.h"
#include "vsb.h"
#include "vtim.h"

#include "sr_addr.h"
#include "sr_cache.h"
#include "sr_http.h"
#include "sr_key.h"
#include "vmod_streamroute.h"
#include "vcc_streamroute_if.h"
#include "VSC_streamroute.h"

struct vmod_streamroute_router {
	unsigned			magic;
#define VMOD_STREAMROUTE_ROUTER_MAGIC	0x57e3a40e
	char				*vcl_name;
	VCL_VCL				vcl;
	struct sr_key_template		key_template;
	/* what a route may point at: see sr_refusal() */
	VCL_ACL				allow_acl;	/* or NULL: */
	struct sr_netlist		allow;		/* the default */
	struct sr_portlist		ports;
	struct sr_self			self;
	struct sr_cache			*cache;
	char				*cache_id;	/* see sr_router_cache */
	struct sr_redis			*redis;
	struct sr_push			*push;		/* or NULL */
	struct sr_backends		*backends;
	struct vsc_seg			*vsc_seg;
	struct VSC_streamroute		*vsc;
	VTAILQ_ENTRY(vmod_streamroute_router)	list;
};

/* Every router of every VCL, for the VCL events.  CLI thread only. */
static VTAILQ_HEAD(, vmod_streamroute_router) routers =
    VTAILQ_HEAD_INITIALIZER(routers);

/* What .outcome() reports; lives for one task. */
struct sr_task {
	unsigned			magic;
#define SR_TASK_MAGIC			0x7a5c0e11
	const char			*outcome;
	VCL_BACKEND			dir;	/* the task's reference */
};

static const char OUTCOME_ROUTED[] = "routed";
static const char OUTCOME_UNKNOWN[] = "unknown";
static const char OUTCOME_UNAVAILABLE[] = "unavailable";
static const char OUTCOME_INVALID[] = "invalid";
static const char OUTCOME_REFUSED[] = "refused";
static const char OUTCOME_OVERFLOW[] = "overflow";
static const char OUTCOME_BADKEY[] = "badkey";

/*
 * Logs to the task, or, in vcl_init (no task log there), to the shared
 * log without a transaction.
 */
static void v_printflike_(3, 4)
sr_log(VRT_CTX, enum VSL_tag_e tag, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (ctx->vsl != NULL)
		VSLbv(ctx->vsl, tag, fmt, ap);
	else
		VSLv(tag, 0, fmt, ap);
	va_end(ap);
}

/* The same, for a line put together from parts (no printf on a fetch) */
static void
sr_log_strands(VRT_CTX, enum VSL_tag_e tag, const struct strands *s)
{
	char buf[1024];
	size_t l, n;
	int i;

	if (ctx->vsl != NULL) {
		VSLbs(ctx->vsl, tag, s);
		return;
	}
	for (i = 0, n = 0; i < s->n && n < sizeof buf - 1; i++) {
		if (s->p[i] == NULL)
			continue;
		l = strlen(s->p[i]);
		if (l > sizeof buf - 1 - n)
			l = sizeof buf - 1 - n;
		memcpy(buf + n, s->p[i], l);
		n += l;
	}
	buf[n] = '\0';
	VSL(tag, 0, "%s", buf);
}

/*
 * When no allow ACL is given: loopback and the private ranges.  What
 * sr_target_forbidden() refuses inside them (100.100.100.200,
 * fd00:ec2::254) stays refused.
 */
#define SR_ALLOW_DEFAULT \
	"127.0.0.0/8, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, " \
	"100.64.0.0/10, ::1/128, fc00::/7"

/*--------------------------------------------------------------------*/

struct VSC_lck *lck_sr_redis_pool, *lck_sr_redis_health, *lck_sr_backends;
static struct vsc_seg *lck_seg_redis_pool, *lck_seg_redis_health,
    *lck_seg_backends;
static unsigned lck_holders;

static void
sr_locks_hold(void)
{

	if (lck_holders++ > 0)
		return;
	lck_sr_redis_pool = Lck_CreateClass(&lck_seg_redis_pool,
	    "sr_redis_pool");
	lck_sr_redis_health = Lck_CreateClass(&lck_seg_redis_health,
	    "sr_redis_health");
	lck_sr_backends = Lck_CreateClass(&lck_seg_backends, "sr_backends");
}

static void
sr_locks_release(void)
{

	assert(lck_holders > 0);
	if (--lck_holders > 0)
		return;
	Lck_DestroyClass(&lck_seg_redis_pool);
	Lck_DestroyClass(&lck_seg_redis_health);
	Lck_DestroyClass(&lck_seg_backends);
}

/*--------------------------------------------------------------------*/

int v_matchproto_(vmod_event_f)
vmod_event_function(VRT_CTX, struct vmod_priv *priv, enum vcl_event_e e)
{
	struct vmod_streamroute_router *rt;

	CHECK_OBJ_NOTNULL(ctx, VRT_CTX_MAGIC);
	(void)priv;
	switch (e) {
	case VCL_EVENT_LOAD:
	case VCL_EVENT_DISCARD:
		break;
	case VCL_EVENT_WARM:
		VTAILQ_FOREACH(rt, &routers, list) {
			if (rt->vcl != ctx->vcl)
				continue;
			if (sr_redis_warm(rt->redis)) {
				VRT_fail(ctx, "streamroute: %s: no Redis probe "
				    "thread", rt->vcl_name);
				return (1);
			}
			if (rt->push != NULL && sr_push_warm(rt->push)) {
				VRT_fail(ctx, "streamroute: %s: no push "
				    "subscriber thread", rt->vcl_name);
				return (1);
			}
		}
		break;
	case VCL_EVENT_COLD:
		VTAILQ_FOREACH(rt, &routers, list) {
			if (rt->vcl != ctx->vcl)
				continue;
			if (rt->push != NULL)
				sr_push_cold(rt->push);
			sr_redis_cold(rt->redis);
		}
		break;
	default:
		WRONG("VCL event");
	}
	return (0);
}

/*--------------------------------------------------------------------*/

VCL_STRING v_matchproto_(td_streamroute_key)
vmod_key(VRT_CTX, VCL_STRING url, VCL_STRING prefix)
{
	const char *key;
	char *p;
	size_t len;

	CHECK_OBJ_NOTNULL(ctx, VRT_CTX_MAGIC);
	len = sr_key_from_url(url, prefix, &key);
	if (len == 0)
		return ("");
	p = WS_Alloc(ctx->ws, (unsigned)len + 1);
	if (p != NULL) {
		memcpy(p, key, len);
		p[len] = '\0';
	}
	key = p;
	if (key == NULL) {
		VRT_fail(ctx, "streamroute.key(): out of workspace");
		return ("");
	}
	return (key);
}

/*--------------------------------------------------------------------*/

static void
sr_router_free(VRT_CTX, struct vmod_streamroute_router *rt)
{

	if (rt->backends != NULL)
		sr_backends_destroy(ctx, &rt->backends);
	if (rt->push != NULL)
		sr_push_destroy(&rt->push);
	if (rt->redis != NULL)
		sr_redis_destroy(&rt->redis);
	if (rt->cache != NULL)
		sr_cache_destroy(&rt->cache);
	if (rt->vsc != NULL)
		VSC_streamroute_Destroy(&rt->vsc_seg);
	sr_key_template_fini(&rt->key_template);
	sr_netlist_fini(&rt->allow);
	sr_portlist_fini(&rt->ports);
	sr_self_fini(&rt->self);
	free(rt->cache_id);
	free(rt->vcl_name);
	FREE_OBJ(rt);
	sr_locks_release();
}

/*--------------------------------------------------------------------
 * Route-cache takeover.  A reload must not cost the routes learned so
 * far: Redis may be down right now, and a new VCL with an empty cache
 * would then fail every stream.  So a new router shares the route store
 * of the most recent router of the same name that reads the same data
 * (same Redis location, database and key template, compared as
 * written).  Only plain data is shared: keys, values, states and when
 * Redis said so.  Each router keeps its own TTLs, computed at look-up
 * time, its own Redis pool and its own backends.
 */

static double v_matchproto_(sr_restarted_f)
sr_fetch_restarted(void *priv);

static int
sr_router_cache(VRT_CTX, struct vmod_streamroute_router *rt,
    const struct VARGS(router__init) *a, struct sr_cache_cfg *ccfg)
{
	struct vmod_streamroute_router *old, *o;
	struct vsb *vsb;
	unsigned n;

	vsb = VSB_new_auto();
	AN(vsb);
#define S(x) ((x) != NULL ? (x) : "")
	VSB_printf(vsb, "redis=%s\nsentinels=%s\nsentinel_master=%s\n"
	    "database=%jd\nkey_template=%s", S(a->redis), S(a->sentinels),
	    S(a->sentinel_master), (intmax_t)a->database, S(a->key_template));
#undef S
	AZ(VSB_finish(vsb));
	rt->cache_id = strdup(VSB_data(vsb));
	AN(rt->cache_id);
	VSB_destroy(&vsb);

	old = NULL;
	VTAILQ_FOREACH(o, &routers, list)
		if (!strcmp(o->vcl_name, rt->vcl_name) &&
		    !strcmp(o->cache_id, rt->cache_id))
			old = o;

	ccfg->restarted = sr_fetch_restarted;
	ccfg->restart_grace = a->restart_grace;
	if (old == NULL) {
		/* the shard hash's seed: the best randomness at hand */
		if (VRND_RandomCrypto(&ccfg->seed, sizeof ccfg->seed))
			ccfg->seed = (uint64_t)(VTIM_real() * 1e9) ^
			    (uintptr_t)rt;
		rt->cache = sr_cache_new(ccfg);
		return (rt->cache != NULL);
	}
	rt->cache = sr_cache_share(old->cache, ccfg);
	if (rt->cache == NULL)
		return (0);
	n = sr_cache_entries(rt->cache);
	rt->vsc->routes_taken_over += n;
	sr_log(ctx, SLT_VCL_Log, "streamroute: %s: takes over the route "
	    "cache of %s.%s (%u routes)", rt->vcl_name, VCL_Name(old->vcl),
	    old->vcl_name, n);
	return (1);
}

/*
 * The push subscriber: keyspace notifications of the route keys, and
 * push_channel unless it is empty.  Started when the VCL turns warm.
 */
static int
sr_router_push(struct vmod_streamroute_router *rt,
    const struct VARGS(router__init) *a)
{
	char pattern[SR_PATTERN_MAX];
	size_t prefixlen;
	const char *channel;

	if (!a->push)
		return (0);
	prefixlen = sr_key_template_pattern(&rt->key_template, a->database,
	    pattern, sizeof pattern);
	if (prefixlen == 0)
		return (-1);
	channel = a->push_channel;
	if (channel != NULL && *channel == '\0')
		channel = NULL;
	rt->push = sr_push_new(rt->redis, rt->cache, rt->vsc, rt->vcl_name,
	    pattern, prefixlen, channel);
	return (0);
}

VCL_VOID v_matchproto_(td_streamroute_router__init)
vmod_router__init(VRT_CTX, struct vmod_streamroute_router **rtp,
    const char *vcl_name, struct VARGS(router__init) *a)
{
	struct vmod_streamroute_router *rt;
	struct sr_redis_cfg rcfg;
	struct sr_cache_cfg ccfg;
	struct vrt_backend tmpl;
	const char *err;

	CHECK_OBJ_NOTNULL(ctx, VRT_CTX_MAGIC);
	AN(rtp);
	AZ(*rtp);
	AN(vcl_name);
	AN(a);

	/* First what needs no allocation: a failure here leaks nothing */
#define SR_CHECK(cond, ...)						\
	do {								\
		if (!(cond)) {						\
			VRT_fail(ctx, "streamroute.router %s: "		\
			    __VA_ARGS__);				\
			return;						\
		}							\
	} while (0)
#define SR_CHECK_DURATION(arg, zero_ok)					\
	SR_CHECK(a->arg > 0 || ((zero_ok) && a->arg == 0),		\
	    "%s must be %s", vcl_name, #arg,				\
	    (zero_ok) ? "zero or more" : "more than zero")

	SR_CHECK(a->database >= 0, "%s must be zero or more", vcl_name,
	    "database");
	SR_CHECK(a->redis_connections >= 1 && a->redis_connections <= 1024,
	    "redis_connections must be 1 to 1024", vcl_name);
	SR_CHECK_DURATION(redis_connect_timeout, 0);
	SR_CHECK_DURATION(redis_timeout, 0);
	SR_CHECK(a->redis_retry_after >= SR_REDIS_RETRY_MIN,
	    "redis_retry_after must be at least %gs", vcl_name,
	    SR_REDIS_RETRY_MIN);
	SR_CHECK_DURATION(route_ttl, 1);
	SR_CHECK_DURATION(negative_ttl, 1);
	SR_CHECK_DURATION(stale_ttl, 1);
	SR_CHECK_DURATION(backend_idle_timeout, 0);
	SR_CHECK_DURATION(connect_timeout, 0);
	SR_CHECK_DURATION(first_byte_timeout, 0);
	SR_CHECK_DURATION(between_bytes_timeout, 0);
	SR_CHECK(a->max_routes >= 1, "max_routes must be at least 1",
	    vcl_name);
	SR_CHECK(a->max_backends >= 1, "max_backends must be at least 1",
	    vcl_name);
	SR_CHECK(a->max_connections >= 0,
	    "max_connections must be zero or more", vcl_name);
	/* BEGIN route cache checks */
	SR_CHECK_DURATION(restart_grace, 1);
	/* END route cache checks */
#undef SR_CHECK_DURATION
#undef SR_CHECK

	ALLOC_OBJ(rt, VMOD_STREAMROUTE_ROUTER_MAGIC);
	AN(rt);
	sr_locks_hold();
	rt->vcl_name = strdup(vcl_name);
	AN(rt->vcl_name);
	rt->vcl = ctx->vcl;
	memset(&rcfg, 0, sizeof rcfg);

	if (a->sentinels != NULL && *a->sentinels != '\0') {
		err = sr_targetlist_parse(&rcfg.sentinels, a->sentinels);
		if (err != NULL) {
			VRT_fail(ctx, "streamroute.router %s: sentinels must be "
			    "ip:port, ... (%s)", vcl_name, err);
			goto fail;
		}
		rcfg.master = strdup(a->sentinel_master != NULL ?
		    a->sentinel_master : "");
		AN(rcfg.master);
	} else {
		err = sr_redis_location(&rcfg, a->redis);
		if (err != NULL) {
			VRT_fail(ctx, "streamroute.router %s: redis must be "
			    "ip:port, [ip6]:port or /socket/path (%s)",
			    vcl_name, err);
			goto fail;
		}
	}
	if (sr_key_template_parse(&rt->key_template, a->key_template)) {
		VRT_fail(ctx, "streamroute.router %s: key_template must "
		    "contain {key} exactly once and be shorter than %d bytes",
		    vcl_name, SR_KEY_TEMPLATE_MAX);
		goto fail;
	}
	/* --- what a route may point at (allow, ports, our listeners) --- */
	if (a->valid_allow)
		rt->allow_acl = a->allow;
	else
		AZ(sr_netlist_parse(&rt->allow, SR_ALLOW_DEFAULT));
	err = sr_portlist_parse(&rt->ports, a->ports);
	if (err != NULL) {
		VRT_fail(ctx, "streamroute.router %s: ports must be "
		    "port, port-port, ... (%s)", vcl_name, err);
		goto fail;
	}
	/*
	 * The listen sockets are fixed for the life of the worker process
	 * (-a), and this runs in it: read them once, here.
	 */
	err = sr_self_load(&rt->self);
	if (err != NULL) {
		VRT_fail(ctx, "streamroute.router %s: cannot learn this "
		    "varnishd's listen addresses, which routes must never "
		    "point at (%s)", vcl_name, err);
		goto fail;
	}
	/* --- end of what a route may point at --- */

	rt->vsc = VSC_streamroute_New(NULL, &rt->vsc_seg, "%s.%s",
	    VCL_Name(ctx->vcl), vcl_name);
	AN(rt->vsc);

	if (a->password != NULL && *a->password != '\0') {
		rcfg.password = strdup(a->password);
		AN(rcfg.password);
	}
	rcfg.database = a->database;
	rcfg.connect_timeout = a->redis_connect_timeout;
	rcfg.timeout = a->redis_timeout;
	rcfg.retry_after = a->redis_retry_after;
	rcfg.max_conns = (unsigned)a->redis_connections;
	/* the pool owns the strings from here on */
	rt->redis = sr_redis_new(&rcfg, rt->vsc, vcl_name);

	memset(&ccfg, 0, sizeof ccfg);
	ccfg.ttl = a->route_ttl;
	ccfg.negative_ttl = a->negative_ttl;
	ccfg.stale_ttl = a->stale_ttl;
	ccfg.max_entries = (unsigned)a->max_routes;
	/* The longest a leader can take: the Redis client knows */
	ccfg.wait_timeout = sr_redis_wait_bound(rt->redis);
	/* BEGIN route cache: a new one, or the one of the router replaced */
	AN(sr_router_cache(ctx, rt, a, &ccfg));
	/* END route cache */
	if (sr_router_push(rt, a)) {
		/* cannot happen with the bounds above; said all the same */
		VRT_fail(ctx, "streamroute.router %s: key_template too long "
		    "for a keyspace pattern", vcl_name);
		/* the pool owns rcfg's strings by now: not "fail" */
		sr_router_free(ctx, rt);
		return;
	}

	INIT_OBJ(&tmpl, VRT_BACKEND_MAGIC);
	tmpl.hosthdr = a->host_header;
	tmpl.connect_timeout = a->connect_timeout;
	tmpl.first_byte_timeout = a->first_byte_timeout;
	tmpl.between_bytes_timeout = a->between_bytes_timeout;
	tmpl.max_connections = (unsigned)a->max_connections;
	if (a->valid_probe)
		tmpl.probe = a->probe;
	rt->backends = sr_backends_new(&tmpl, vcl_name,
	    (unsigned)a->max_backends, a->backend_idle_timeout, rt->vsc);

	VTAILQ_INSERT_TAIL(&routers, rt, list);
	*rtp = rt;
	return;

  fail:
	free(rcfg.host);
	free(rcfg.path);
	free(rcfg.master);
	sr_targetlist_fini(&rcfg.sentinels);
	sr_router_free(ctx, rt);
}

VCL_VOID v_matchproto_(td_streamroute_router__fini)
vmod_router__fini(struct vmod_streamroute_router **rtp)
{
	struct vmod_streamroute_router *rt;
	struct vrt_ctx ctx;

	TAKE_OBJ_NOTNULL(rt, rtp, VMOD_STREAMROUTE_ROUTER_MAGIC);
	VTAILQ_REMOVE(&routers, rt, list);
	/*
	 * The VCL is cold and no task runs in it: the table holds the only
	 * reference to each backend, and deleting it frees the backend
	 * before vcl_KillBackends could see it.
	 */
	INIT_OBJ(&ctx, VRT_CTX_MAGIC);
	ctx.vcl = rt->vcl;
	sr_router_free(&ctx, rt);
}

/*--------------------------------------------------------------------*/

static void v_matchproto_(vmod_priv_fini_f)
sr_task_fini(VRT_CTX, void *p)
{
	struct sr_task *task;

	CHECK_OBJ_NOTNULL(ctx, VRT_CTX_MAGIC);
	CAST_OBJ_NOTNULL(task, p, SR_TASK_MAGIC);
	if (task->dir != NULL)
		VRT_Assign_Backend(&task->dir, NULL);
}

static const struct vmod_priv_methods sr_task_methods[1] = {{
	.magic = VMOD_PRIV_METHODS_MAGIC,
	.type = "streamroute task",
	.fini = sr_task_fini
}};

static struct sr_task *
sr_task_get(VRT_CTX, const struct vmod_streamroute_router *rt)
{
	struct vmod_priv *p;
	struct sr_task *task;

	p = VRT_priv_task(ctx, rt);
	if (p == NULL) {
		VRT_fail(ctx, "streamroute: out of workspace");
		return (NULL);
	}
	if (p->priv != NULL) {
		CAST_OBJ_NOTNULL(task, p->priv, SR_TASK_MAGIC);
		return (task);
	}
	task = WS_Alloc(ctx->ws, sizeof *task);
	if (task == NULL) {
		VRT_fail(ctx, "streamroute: out of workspace");
		return (NULL);
	}
	INIT_OBJ(task, SR_TASK_MAGIC);
	p->priv = task;
	p->methods = sr_task_methods;
	return (task);
}

/* A Redis key: room for the longest key and template */
#define SR_RKEY_MAX		(SR_KEY_MAX + SR_KEY_TEMPLATE_MAX)

/* Returns the length of the Redis key for key, or 0 if key is invalid. */
static size_t
sr_redis_key(const struct vmod_streamroute_router *rt, VCL_STRING key,
    char *buf)
{
	size_t keylen;

	keylen = key != NULL ? strlen(key) : 0;
	if (!sr_key_valid(key, keylen))
		return (0);
	return (sr_key_template_expand(&rt->key_template, key, keylen,
	    buf, SR_RKEY_MAX));
}

struct sr_fetch_ctx {
	struct vmod_streamroute_router	*rt;
	struct vsl_log			*vsl;
	const char			*why;	/* Redis did not answer */
};

static void v_matchproto_(sr_fetch_f)
sr_fetch_redis(void *priv, const char *key, size_t keylen,
    struct sr_route *route)
{
	struct sr_fetch_ctx *fc = priv;

	fc->why = sr_redis_get(fc->rt->redis, fc->vsl, key, keylen, route);
}

static double v_matchproto_(sr_restarted_f)
sr_fetch_restarted(void *priv)
{
	struct sr_fetch_ctx *fc = priv;

	return (sr_redis_restarted(fc->rt->redis));
}

/*
 * Redis values are anyone's bytes: they reach the log escaped, on one
 * line, and cut short.
 */
#define SR_LOG_VALUE_MAX	64

static const char *
sr_quote(struct vsb *vsb, const char *s, size_t len)
{

	VSB_clear(vsb);
	VSB_putc(vsb, '"');
	VSB_quote(vsb, s, (int)(len > SR_LOG_VALUE_MAX ?
	    SR_LOG_VALUE_MAX : len), VSB_QUOTE_PLAIN);
	if (len > SR_LOG_VALUE_MAX)
		VSB_cat(vsb, "...");
	VSB_putc(vsb, '"');
	if (VSB_finish(vsb) != 0)
		return ("\"...\"");
	return (VSB_data(vsb));
}

/* Why a route to t is refused, or NULL when it is not */
static const char *
sr_refusal(VRT_CTX, const struct vmod_streamroute_router *rt,
    const struct sr_target *t)
{
	char vsabuf[vsa_suckaddr_len];
	const struct suckaddr *sua;
	const struct sockaddr *sa;
	const char *why;
	unsigned salen;

	why = sr_target_forbidden(t);
	if (why != NULL)
		return (why);
	if (sr_self_match(&rt->self, t))
		return ("this origin's own listen address (a request loop)");
	if (!sr_portlist_match(&rt->ports, t->port))
		return ("port outside the ports list");
	if (rt->allow_acl == NULL)
		return (sr_netlist_match(&rt->allow, t) ? NULL :
		    "address outside the allow list");
	sa = sr_target_sockaddr(t, &salen);
	sua = VSA_Build(vsabuf, sa, salen);
	AN(sua);
	return (VRT_acl_match(ctx, rt->allow_acl, sua) ? NULL :
	    "address outside the allow list");
}

/*
 * Looks key up; returns the outcome and, when routed, fills *t.  route
 * receives the raw value.
 */
static const char *
sr_lookup(VRT_CTX, struct vmod_streamroute_router *rt, VCL_STRING key,
    struct sr_route *route, struct sr_target *t)
{
	struct sr_fetch_ctx fc;
	struct vsb vsb[1];
	char rkey[SR_RKEY_MAX], qbuf[SR_LOG_VALUE_MAX * 4 + 8];
	const char *outcome, *why, *part[14];
	struct strands line;
	size_t rkeylen, vlen;
	unsigned flags;

	memset(route, 0, sizeof *route);
	rkeylen = sr_redis_key(rt, key, rkey);
	if (rkeylen == 0) {
		sr_log(ctx, SLT_Error, "streamroute: %s: invalid key",
		    rt->vcl_name);
		return (OUTCOME_BADKEY);
	}

	SR_COUNT(rt->vsc, lookups);
	fc.rt = rt;
	fc.vsl = ctx->vsl;
	fc.why = NULL;
	flags = sr_cache_lookup(rt->cache, rkey, rkeylen, VTIM_mono(),
	    sr_fetch_redis, &fc, route);
	if (flags & SR_LOOKUP_EVICTED)
		SR_COUNT(rt->vsc, routes_evicted);
	if (flags & SR_LOOKUP_PROTECTED)
		SR_COUNT(rt->vsc, routes_protected);
	switch (route->source) {
	case SR_SRC_CACHE:	SR_COUNT(rt->vsc, cache_hits); break;
	case SR_SRC_COALESCED:	SR_COUNT(rt->vsc, coalesced); break;
	case SR_SRC_STALE:	SR_COUNT(rt->vsc, stale); break;
	case SR_SRC_KEPT:	SR_COUNT(rt->vsc, routes_kept); break;
	default:		break;
	}

	AN(VSB_init(vsb, qbuf, sizeof qbuf));
	why = NULL;
	switch (route->state) {
	case SR_ROUTE_ABSENT:
		outcome = OUTCOME_UNKNOWN;
		SR_COUNT(rt->vsc, unknown);
		break;
	case SR_ROUTE_FOUND:
		vlen = route->len;
		why = sr_target_parse(t, route->value, vlen);
		if (why != NULL) {
			outcome = OUTCOME_INVALID;
			SR_COUNT(rt->vsc, invalid);
		} else if ((why = sr_refusal(ctx, rt, t)) != NULL) {
			outcome = OUTCOME_REFUSED;
			SR_COUNT(rt->vsc, refused);
		} else {
			outcome = OUTCOME_ROUTED;
			SR_COUNT(rt->vsc, routed);
		}
		if (why != NULL)
			sr_log(ctx, SLT_Error,
			    "streamroute: %s: key=%s value=%s: %s",
			    rt->vcl_name, key,
			    sr_quote(vsb, route->value, vlen), why);
		break;
	default:
		outcome = OUTCOME_UNAVAILABLE;
		SR_COUNT(rt->vsc, unavailable);
		/* a waiter's own reason: the look-up it waited for failed */
		why = fc.why != NULL ? fc.why : "coalesced_failed";
		break;
	}
	/*
	 * One line per fetch: put together without printf, which would
	 * cost a miss more than the rest of the look-up.
	 */
	part[0] = "streamroute: ";
	part[1] = rt->vcl_name;
	part[2] = " key=";
	part[3] = key;
	part[4] = " outcome=";
	part[5] = outcome;
	part[6] = " source=";
	part[7] = sr_route_source_name(route->source);
	part[8] = " route=";
	if (outcome == OUTCOME_ROUTED) {
		/* it parsed as an address: nothing in it to quote */
		part[9] = "\"";
		part[10] = route->value;
		part[11] = "\"";
	} else {
		part[9] = route->state == SR_ROUTE_FOUND ?
		    sr_quote(vsb, route->value, route->len) : "-";
		part[10] = "";
		part[11] = "";
	}
	part[12] = outcome == OUTCOME_UNAVAILABLE ? " reason=" : "";
	part[13] = outcome == OUTCOME_UNAVAILABLE ? why : "";
	line.n = 14;
	line.p = part;
	sr_log_strands(ctx, SLT_VCL_Log, &line);
	VSB_fini(vsb);
	return (outcome);
}

VCL_BACKEND v_matchproto_(td_streamroute_router_backend)
vmod_router_backend(VRT_CTX, struct vmod_streamroute_router *rt,
    VCL_STRING key)
{
	struct sr_task *task;
	struct sr_route route;
	struct sr_target t;
	enum sr_backend_status status;
	VCL_BACKEND dir;

	CHECK_OBJ_NOTNULL(ctx, VRT_CTX_MAGIC);
	CHECK_OBJ_NOTNULL(rt, VMOD_STREAMROUTE_ROUTER_MAGIC);
	if (ctx->bo == NULL) {
		VRT_fail(ctx, "%s.backend() may only be called in "
		    "vcl_backend_* subroutines", rt->vcl_name);
		return (NULL);
	}
	task = sr_task_get(ctx, rt);
	if (task == NULL)
		return (NULL);
	task->outcome = sr_lookup(ctx, rt, key, &route, &t);
	if (task->dir != NULL)
		VRT_Assign_Backend(&task->dir, NULL);
	if (task->outcome != OUTCOME_ROUTED)
		return (NULL);

	dir = sr_backends_get(ctx, rt->backends, &t, &status);
	if (dir == NULL) {
		if (status == SR_BACKEND_FULL) {
			task->outcome = OUTCOME_OVERFLOW;
			SR_COUNT(rt->vsc, overflow);
		} else {
			task->outcome = OUTCOME_UNAVAILABLE;
			SR_COUNT(rt->vsc, unavailable);
		}
		VSLb(ctx->vsl, SLT_Error, "streamroute: %s: key=%s route=%s: %s",
		    rt->vcl_name, key, t.addr, status == SR_BACKEND_FULL ?
		    "max_backends reached" : "Varnish refused a new backend");
		return (NULL);
	}
	/* the task keeps its reference until it ends */
	task->dir = dir;
	return (dir);
}

VCL_STRING v_matchproto_(td_streamroute_router_outcome)
vmod_router_outcome(VRT_CTX, struct vmod_streamroute_router *rt)
{
	struct vmod_priv *p;
	struct sr_task *task;

	CHECK_OBJ_NOTNULL(ctx, VRT_CTX_MAGIC);
	CHECK_OBJ_NOTNULL(rt, VMOD_STREAMROUTE_ROUTER_MAGIC);
	p = VRT_priv_task_get(ctx, rt);
	if (p == NULL || p->priv == NULL)
		return ("");
	CAST_OBJ_NOTNULL(task, p->priv, SR_TASK_MAGIC);
	return (task->outcome != NULL ? task->outcome : "");
}

VCL_STRING v_matchproto_(td_streamroute_router_route)
vmod_router_route(VRT_CTX, struct vmod_streamroute_router *rt,
    VCL_STRING key)
{
	struct sr_task *task;
	struct sr_route route;
	struct sr_target t;
	const char *v;

	CHECK_OBJ_NOTNULL(ctx, VRT_CTX_MAGIC);
	CHECK_OBJ_NOTNULL(rt, VMOD_STREAMROUTE_ROUTER_MAGIC);
	task = sr_task_get(ctx, rt);
	if (task == NULL)
		return ("");
	task->outcome = sr_lookup(ctx, rt, key, &route, &t);
	if (route.state != SR_ROUTE_FOUND)
		return ("");
	v = WS_Copy(ctx->ws, route.value, -1);
	if (v == NULL) {
		VRT_fail(ctx, "%s.route(): out of workspace", rt->vcl_name);
		return ("");
	}
	return (v);
}

VCL_VOID v_matchproto_(td_streamroute_router_invalidate)
vmod_router_invalidate(VRT_CTX, struct vmod_streamroute_router *rt,
    VCL_STRING key)
{
	char rkey[SR_RKEY_MAX];
	size_t rkeylen;

	CHECK_OBJ_NOTNULL(ctx, VRT_CTX_MAGIC);
	CHECK_OBJ_NOTNULL(rt, VMOD_STREAMROUTE_ROUTER_MAGIC);
	rkeylen = sr_redis_key(rt, key, rkey);
	if (rkeylen == 0)
		return;
	sr_log(ctx, SLT_VCL_Log, "streamroute: %s key=%s invalidated%s",
	    rt->vcl_name, key,
	    sr_cache_invalidate(rt->cache, rkey, rkeylen) ? "" : " (not cached)");
}

VCL_VOID v_matchproto_(td_streamroute_router_refresh)
vmod_router_refresh(VRT_CTX, struct vmod_streamroute_router *rt,
    VCL_STRING key)
{
	char rkey[SR_RKEY_MAX];
	size_t rkeylen;

	CHECK_OBJ_NOTNULL(ctx, VRT_CTX_MAGIC);
	CHECK_OBJ_NOTNULL(rt, VMOD_STREAMROUTE_ROUTER_MAGIC);
	rkeylen = sr_redis_key(rt, key, rkey);
	if (rkeylen == 0)
		return;
	(void)sr_cache_expire(rt->cache, rkey, rkeylen);
	SR_COUNT(rt->vsc, refreshes);
	sr_log(ctx, SLT_VCL_Log, "streamroute: %s key=%s refresh", rt->vcl_name,
	    key);
}

VCL_BOOL v_matchproto_(td_streamroute_router_redis_ok)
vmod_router_redis_ok(VRT_CTX, struct vmod_streamroute_router *rt)
{

	CHECK_OBJ_NOTNULL(ctx, VRT_CTX_MAGIC);
	CHECK_OBJ_NOTNULL(rt, VMOD_STREAMROUTE_ROUTER_MAGIC);
	return (sr_redis_ok(rt->redis, ctx->vsl));
}

/*--------------------------------------------------------------------
 * The URL, parsed once: the settings object holds the client-side
 * settings (so that none travels in a header a client could send) and
 * hands the VCL the upstream URL it parsed.
 */

VCL_STRING v_matchproto_(td_streamroute_type)
vmod_type(VRT_CTX, VCL_STRING url)
{

	CHECK_OBJ_NOTNULL(ctx, VRT_CTX_MAGIC);
	return (sr_url_type_name(sr_url_type(url)));
}

VCL_BOOL v_matchproto_(td_streamroute_blocking)
vmod_blocking(VRT_CTX, VCL_STRING url)
{

	CHECK_OBJ_NOTNULL(ctx, VRT_CTX_MAGIC);
	return (sr_url_blocking(url));
}

VCL_STRING v_matchproto_(td_streamroute_cache_control)
vmod_cache_control(VRT_CTX, VCL_DURATION ttl, VCL_DURATION grace,
    VCL_BOOL stale_while_revalidate)
{
	char *p;

	CHECK_OBJ_NOTNULL(ctx, VRT_CTX_MAGIC);
	p = WS_Alloc(ctx->ws, SR_CACHE_CONTROL_MAX);
	if (p == NULL) {
		VRT_fail(ctx, "streamroute.cache_control(): out of workspace");
		return (NULL);
	}
	AN(sr_cache_control(p, SR_CACHE_CONTROL_MAX, ttl, grace,
	    stale_while_revalidate));
	return (p);
}

struct vmod_streamroute_settings {
	unsigned		magic;
#define VMOD_STREAMROUTE_SETTINGS_MAGIC	0x5e77a9c1
	char			*vcl_name;
	char			*prefix;
	char			*cors_origin;
	VCL_BOOL		debug;
};

/* What .parse() found, for .url() and .error() in the same task. */
struct sr_parsed {
	unsigned		magic;
#define SR_PARSED_MAGIC		0x9a85ed01
	const char		*url;
	const char		*error;
};

VCL_VOID v_matchproto_(td_streamroute_settings__init)
vmod_settings__init(VRT_CTX, struct vmod_streamroute_settings **stp,
    const char *vcl_name, VCL_STRING prefix, VCL_STRING cors_origin,
    VCL_BOOL debug)
{
	struct vmod_streamroute_settings *st;

	CHECK_OBJ_NOTNULL(ctx, VRT_CTX_MAGIC);
	AN(stp);
	AZ(*stp);
	AN(vcl_name);
	if (prefix == NULL)
		prefix = "";
	if (cors_origin == NULL)
		cors_origin = "";
	if (!sr_prefix_valid(prefix)) {
		VRT_fail(ctx, "%s: prefix must be \"\" or a path such as "
		    "\"/live\" of [A-Za-z0-9._-] segments, not \"%s\"",
		    vcl_name, prefix);
		return;
	}
	if (*cors_origin == '\0') {
		VRT_fail(ctx, "%s: cors_origin must not be empty", vcl_name);
		return;
	}
	ALLOC_OBJ(st, VMOD_STREAMROUTE_SETTINGS_MAGIC);
	AN(st);
	REPLACE(st->vcl_name, vcl_name);
	/* Stored without a trailing slash, as /status shows it. */
	st->prefix = strdup(prefix);
	AN(st->prefix);
	if (*st->prefix != '\0' && st->prefix[strlen(st->prefix) - 1] == '/')
		st->prefix[strlen(st->prefix) - 1] = '\0';
	REPLACE(st->cors_origin, cors_origin);
	st->debug = debug;
	*stp = st;
}

VCL_VOID v_matchproto_(td_streamroute_settings__fini)
vmod_settings__fini(struct vmod_streamroute_settings **stp)
{
	struct vmod_streamroute_settings *st;

	TAKE_OBJ_NOTNULL(st, stp, VMOD_STREAMROUTE_SETTINGS_MAGIC);
	free(st->vcl_name);
	free(st->prefix);
	free(st->cors_origin);
	FREE_OBJ(st);
}

static struct sr_parsed *
sr_parsed_get(VRT_CTX, const struct vmod_streamroute_settings *st)
{
	struct vmod_priv *p;
	struct sr_parsed *pd;

	p = VRT_priv_task(ctx, st);
	if (p == NULL) {
		VRT_fail(ctx, "%s: out of workspace", st->vcl_name);
		return (NULL);
	}
	if (p->priv != NULL) {
		CAST_OBJ_NOTNULL(pd, p->priv, SR_PARSED_MAGIC);
		return (pd);
	}
	pd = WS_Alloc(ctx->ws, sizeof *pd);
	if (pd == NULL) {
		VRT_fail(ctx, "%s: out of workspace", st->vcl_name);
		return (NULL);
	}
	INIT_OBJ(pd, SR_PARSED_MAGIC);
	p->priv = pd;
	return (pd);
}

VCL_BOOL v_matchproto_(td_streamroute_settings_parse)
vmod_settings_parse(VRT_CTX, struct vmod_streamroute_settings *st,
    VCL_STRING url)
{
	struct sr_parsed *pd;
	char buf[SR_UPSTREAM_MAX];

	CHECK_OBJ_NOTNULL(ctx, VRT_CTX_MAGIC);
	CHECK_OBJ_NOTNULL(st, VMOD_STREAMROUTE_SETTINGS_MAGIC);
	pd = sr_parsed_get(ctx, st);
	if (pd == NULL)
		return (0);
	pd->url = NULL;
	pd->error = sr_url_upstream(url, st->prefix, buf, sizeof buf);
	if (pd->error != NULL)
		return (0);
	pd->url = WS_Copy(ctx->ws, buf, -1);
	if (pd->url == NULL) {
		pd->error = "Out of workspace";
		VRT_fail(ctx, "%s.parse(): out of workspace", st->vcl_name);
		return (0);
	}
	return (1);
}

VCL_STRING v_matchproto_(td_streamroute_settings_url)
vmod_settings_url(VRT_CTX, struct vmod_streamroute_settings *st)
{
	struct sr_parsed *pd;

	CHECK_OBJ_NOTNULL(ctx, VRT_CTX_MAGIC);
	CHECK_OBJ_NOTNULL(st, VMOD_STREAMROUTE_SETTINGS_MAGIC);
	pd = sr_parsed_get(ctx, st);
	if (pd == NULL)
		return (NULL);
	if (pd->url == NULL) {
		VRT_fail(ctx, "%s.url(): no URL parsed in this task",
		    st->vcl_name);
		return (NULL);
	}
	return (pd->url);
}

VCL_STRING v_matchproto_(td_streamroute_settings_error)
vmod_settings_error(VRT_CTX, struct vmod_streamroute_settings *st)
{
	struct sr_parsed *pd;

	CHECK_OBJ_NOTNULL(ctx, VRT_CTX_MAGIC);
	CHECK_OBJ_NOTNULL(st, VMOD_STREAMROUTE_SETTINGS_MAGIC);
	pd = sr_parsed_get(ctx, st);
	if (pd == NULL || pd->error == NULL)
		return ("");
	return (pd->error);
}

VCL_STRING v_matchproto_(td_streamroute_settings_prefix)
vmod_settings_prefix(VRT_CTX, struct vmod_streamroute_settings *st)
{

	CHECK_OBJ_NOTNULL(ctx, VRT_CTX_MAGIC);
	CHECK_OBJ_NOTNULL(st, VMOD_STREAMROUTE_SETTINGS_MAGIC);
	return (st->prefix);
}

VCL_STRING v_matchproto_(td_streamroute_settings_cors_origin)
vmod_settings_cors_origin(VRT_CTX, struct vmod_streamroute_settings *st)
{

	CHECK_OBJ_NOTNULL(ctx, VRT_CTX_MAGIC);
	CHECK_OBJ_NOTNULL(st, VMOD_STREAMROUTE_SETTINGS_MAGIC);
	return (st->cors_origin);
}

VCL_BOOL v_matchproto_(td_streamroute_settings_debug)
vmod_settings_debug(VRT_CTX, struct vmod_streamroute_settings *st)
{

	CHECK_OBJ_NOTNULL(ctx, VRT_CTX_MAGIC);
	CHECK_OBJ_NOTNULL(st, VMOD_STREAMROUTE_SETTINGS_MAGIC);
	return (st->debug);
}
