/*-
 * Copyright (c) 2026 The streamroute authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Dynamic backends, one per media server address, shared by every
 * stream on that server.
 *
 * Reference counting (Varnish 7.1): the table holds exactly one
 * reference to each backend it lists; each caller is handed a reference
 * of its own, taken under the shard lock, which it keeps until its task
 * ends.  Deleting an idle backend drops only the table's reference, so a
 * fetch still using it is never left with a freed backend, and at VCL
 * discard nothing but the table's single reference is left to drop.
 *
 * Backends are only created here, on the request path, where the VCL is
 * warm (a task holds it busy); never from a background thread.
 */

#include "config.h"

#include <sys/socket.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "vsa.h"
#include "vtim.h"
#include "vtree.h"

#include "sr_addr.h"
#include "vmod_streamroute.h"
#include "VSC_streamroute.h"

#define SR_BACKEND_SHARDS	16

struct sr_backend {
	unsigned			magic;
#define SR_BACKEND_MAGIC		0x6bac4e1d
	VRBT_ENTRY(sr_backend)		tree;
	VCL_BACKEND			dir;	/* the table's reference */
	double				last_used;
	char				addr[SR_TARGET_MAX];
};

VRBT_HEAD(sr_btree, sr_backend);

struct sr_backend_shard {
	pthread_mutex_t			mtx;
	struct sr_btree			tree;
};

struct sr_backends {
	unsigned			magic;
#define SR_BACKENDS_MAGIC		0x6bac4e1e
	struct vrt_backend		tmpl;
	char				*hosthdr;
	char				*name;
	unsigned			max;
	unsigned			n;	/* atomic */
	double				idle_timeout;
	struct VSC_streamroute		*vsc;

	pthread_mutex_t			sweep_mtx;
	double				next_sweep;

	struct sr_backend_shard		shard[SR_BACKEND_SHARDS];
};

static int
sr_backend_cmp(const struct sr_backend *a, const struct sr_backend *b)
{

	return (strcmp(a->addr, b->addr));
}

VRBT_GENERATE_STATIC(sr_btree, sr_backend, tree, sr_backend_cmp)

static struct sr_backend_shard *
sr_backend_shard(struct sr_backends *bs, const char *addr)
{
	unsigned h = 5381;

	while (*addr != '\0')
		h = h * 33 + (unsigned char)*addr++;
	return (&bs->shard[h % SR_BACKEND_SHARDS]);
}

struct sr_backends *
sr_backends_new(const struct vrt_backend *tmpl, const char *name,
    unsigned max, double idle_timeout, struct VSC_streamroute *vsc)
{
	struct sr_backends *bs;
	unsigned u;

	CHECK_OBJ_NOTNULL(tmpl, VRT_BACKEND_MAGIC);
	AN(name);
	AN(vsc);
	ALLOC_OBJ(bs, SR_BACKENDS_MAGIC);
	AN(bs);
	bs->tmpl = *tmpl;
	if (tmpl->hosthdr != NULL && *tmpl->hosthdr != '\0') {
		bs->hosthdr = strdup(tmpl->hosthdr);
		AN(bs->hosthdr);
	}
	bs->tmpl.hosthdr = NULL;
	bs->name = strdup(name);
	AN(bs->name);
	bs->max = max;
	bs->idle_timeout = idle_timeout;
	bs->vsc = vsc;
	AZ(pthread_mutex_init(&bs->sweep_mtx, NULL));
	for (u = 0; u < SR_BACKEND_SHARDS; u++) {
		AZ(pthread_mutex_init(&bs->shard[u].mtx, NULL));
		VRBT_INIT(&bs->shard[u].tree);
	}
	return (bs);
}

static void
sr_backend_delete(VRT_CTX, struct sr_backends *bs, struct sr_backend_shard *sh,
    struct sr_backend *b)
{

	VRBT_REMOVE(sr_btree, &sh->tree, b);
	VRT_delete_backend(ctx, &b->dir);
	AZ(b->dir);
	FREE_OBJ(b);
	(void)__atomic_sub_fetch(&bs->n, 1, __ATOMIC_RELAXED);
	SR_COUNT(bs->vsc, backends_deleted);
	SR_UNCOUNT(bs->vsc, backends);
}

void
sr_backends_destroy(VRT_CTX, struct sr_backends **bsp)
{
	struct sr_backends *bs;
	struct sr_backend_shard *sh;
	struct sr_backend *b, *b2;
	unsigned u;

	TAKE_OBJ_NOTNULL(bs, bsp, SR_BACKENDS_MAGIC);
	for (u = 0; u < SR_BACKEND_SHARDS; u++) {
		sh = &bs->shard[u];
		VRBT_FOREACH_SAFE(b, sr_btree, &sh->tree, b2)
			sr_backend_delete(ctx, bs, sh, b);
		AZ(pthread_mutex_destroy(&sh->mtx));
	}
	AZ(bs->n);
	AZ(pthread_mutex_destroy(&bs->sweep_mtx));
	free(bs->hosthdr);
	free(bs->name);
	FREE_OBJ(bs);
}

/*
 * Idle backends are swept on the request path, at most a few times per
 * idle period, by whichever worker comes first.
 */
static void
sr_backends_sweep(VRT_CTX, struct sr_backends *bs, double now)
{
	struct sr_backend_shard *sh;
	struct sr_backend *b, *b2;
	unsigned u;

	if (now < bs->next_sweep || pthread_mutex_trylock(&bs->sweep_mtx))
		return;
	if (now < bs->next_sweep) {
		AZ(pthread_mutex_unlock(&bs->sweep_mtx));
		return;
	}
	bs->next_sweep = now + bs->idle_timeout / 4;
	for (u = 0; u < SR_BACKEND_SHARDS; u++) {
		sh = &bs->shard[u];
		AZ(pthread_mutex_lock(&sh->mtx));
		VRBT_FOREACH_SAFE(b, sr_btree, &sh->tree, b2) {
			CHECK_OBJ(b, SR_BACKEND_MAGIC);
			if (b->last_used + bs->idle_timeout > now)
				continue;
			VSLb(ctx->vsl, SLT_VCL_Log,
			    "streamroute: %s: deleting idle backend %s",
			    bs->name, b->addr);
			sr_backend_delete(ctx, bs, sh, b);
		}
		AZ(pthread_mutex_unlock(&sh->mtx));
	}
	AZ(pthread_mutex_unlock(&bs->sweep_mtx));
}

static VCL_BACKEND
sr_backend_create(VRT_CTX, const struct sr_backends *bs,
    const struct sr_target *t)
{
	struct vrt_endpoint ep;
	struct vrt_backend be;
	struct suckaddr *sa;
	const struct sockaddr *sockaddr;
	VCL_BACKEND dir;
	unsigned salen;
	char name[SR_TARGET_MAX + 64];

	sockaddr = sr_target_sockaddr(t, &salen);
	sa = VSA_Malloc(sockaddr, salen);
	AN(sa);
	INIT_OBJ(&ep, VRT_ENDPOINT_MAGIC);
	if (t->family == AF_INET)
		ep.ipv4 = sa;
	else
		ep.ipv6 = sa;
	be = bs->tmpl;
	be.endpoint = &ep;
	bprintf(name, "%s(%s)", bs->name, t->addr);
	be.vcl_name = name;
	/* probes need a Host header: default to the address itself */
	be.hosthdr = bs->hosthdr != NULL ? bs->hosthdr : t->addr;
	dir = VRT_new_backend(ctx, &be);
	free(sa);
	return (dir);
}

/*
 * Returns a backend for t with a reference that the caller owns, or NULL
 * with *status saying why.
 */
VCL_BACKEND
sr_backends_get(VRT_CTX, struct sr_backends *bs, const struct sr_target *t,
    enum sr_backend_status *status)
{
	struct sr_backend_shard *sh;
	struct sr_backend needle, *b;
	VCL_BACKEND ref = NULL;
	double now;

	CHECK_OBJ_NOTNULL(ctx, VRT_CTX_MAGIC);
	CHECK_OBJ_NOTNULL(bs, SR_BACKENDS_MAGIC);
	AN(t);
	AN(status);
	*status = SR_BACKEND_OK;
	now = VTIM_mono();
	sr_backends_sweep(ctx, bs, now);

	sh = sr_backend_shard(bs, t->addr);
	bprintf(needle.addr, "%s", t->addr);
	AZ(pthread_mutex_lock(&sh->mtx));
	b = VRBT_FIND(sr_btree, &sh->tree, &needle);
	if (b == NULL) {
		if (__atomic_add_fetch(&bs->n, 1, __ATOMIC_RELAXED) > bs->max) {
			(void)__atomic_sub_fetch(&bs->n, 1, __ATOMIC_RELAXED);
			AZ(pthread_mutex_unlock(&sh->mtx));
			*status = SR_BACKEND_FULL;
			return (NULL);
		}
		ALLOC_OBJ(b, SR_BACKEND_MAGIC);
		AN(b);
		bprintf(b->addr, "%s", t->addr);
		b->dir = sr_backend_create(ctx, bs, t);
		if (b->dir == NULL) {
			(void)__atomic_sub_fetch(&bs->n, 1, __ATOMIC_RELAXED);
			AZ(pthread_mutex_unlock(&sh->mtx));
			FREE_OBJ(b);
			*status = SR_BACKEND_REFUSED;
			return (NULL);
		}
		AZ(VRBT_INSERT(sr_btree, &sh->tree, b));
		SR_COUNT(bs->vsc, backends_created);
		SR_COUNT(bs->vsc, backends);
		VSLb(ctx->vsl, SLT_VCL_Log,
		    "streamroute: %s: created backend %s", bs->name, b->addr);
	}
	CHECK_OBJ(b, SR_BACKEND_MAGIC);
	b->last_used = now;
	VRT_Assign_Backend(&ref, b->dir);
	AZ(pthread_mutex_unlock(&sh->mtx));
	return (ref);
}
