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
 *
 * No Varnish call is made under a shard lock: a new backend is made
 * after a placeholder has claimed its address (the other fetches for
 * that address wait for it; fetches for other addresses do not), and
 * idle backends are taken out of the table under the lock but deleted
 * after it.  A sweep inside a fetch deletes at most SR_SWEEP_MAX
 * backends; when the table is full, a fetch for a new address sweeps at
 * once rather than wait for the next periodic sweep.
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
#define SR_SWEEP_MAX		8	/* deletions per sweep in a fetch */

struct sr_backend {
	unsigned			magic;
#define SR_BACKEND_MAGIC		0x6bac4e1d
	VRBT_ENTRY(sr_backend)		tree;
	VCL_BACKEND			dir;	/* the table's reference */
	unsigned			creating; /* dir is on its way */
	double				last_used;
	char				addr[SR_TARGET_MAX];
};

VRBT_HEAD(sr_btree, sr_backend);

struct sr_backend_shard {
	struct lock			mtx;
	pthread_cond_t			cond;	/* a creation ended */
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

	struct lock			sweep_mtx;
	double				next_sweep;
	unsigned			sweep_shard;	/* where to go on */

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
	Lck_New(&bs->sweep_mtx, lck_sr_backends);
	for (u = 0; u < SR_BACKEND_SHARDS; u++) {
		Lck_New(&bs->shard[u].mtx, lck_sr_backends);
		AZ(pthread_cond_init(&bs->shard[u].cond, NULL));
		VRBT_INIT(&bs->shard[u].tree);
	}
	return (bs);
}

/* Deletes a backend already out of the table; no lock held. */
static void
sr_backend_delete(VRT_CTX, struct sr_backends *bs, struct sr_backend *b)
{

	CHECK_OBJ_NOTNULL(b, SR_BACKEND_MAGIC);
	AZ(b->creating);
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
		VRBT_FOREACH_SAFE(b, sr_btree, &sh->tree, b2) {
			VRBT_REMOVE(sr_btree, &sh->tree, b);
			sr_backend_delete(ctx, bs, b);
		}
		Lck_Delete(&sh->mtx);
		AZ(pthread_cond_destroy(&sh->cond));
	}
	AZ(bs->n);
	Lck_Delete(&bs->sweep_mtx);
	free(bs->hosthdr);
	free(bs->name);
	FREE_OBJ(bs);
}

/*
 * Idle backends are swept on the request path, at most a few times per
 * idle period, by whichever worker comes first, or at once when the
 * table is full (`full`).  One sweep deletes at most SR_SWEEP_MAX
 * backends; when more are idle, the next fetch goes on where it ended.
 */
static void
sr_backends_sweep(VRT_CTX, struct sr_backends *bs, double now, int full)
{
	struct sr_backend_shard *sh;
	struct sr_backend *b, *b2, *victim[SR_SWEEP_MAX];
	unsigned u, i, n, more;

	if ((!full && now < bs->next_sweep) ||
	    Lck_Trylock(&bs->sweep_mtx))
		return;
	if (!full && now < bs->next_sweep) {
		Lck_Unlock(&bs->sweep_mtx);
		return;
	}
	n = more = 0;
	for (u = 0; u < SR_BACKEND_SHARDS && !more; u++) {
		i = (bs->sweep_shard + u) % SR_BACKEND_SHARDS;
		sh = &bs->shard[i];
		Lck_Lock(&sh->mtx);
		VRBT_FOREACH_SAFE(b, sr_btree, &sh->tree, b2) {
			CHECK_OBJ(b, SR_BACKEND_MAGIC);
			if (b->creating || b->last_used + bs->idle_timeout > now)
				continue;
			if (n == SR_SWEEP_MAX) {
				more = 1;
				bs->sweep_shard = i;
				break;
			}
			VRBT_REMOVE(sr_btree, &sh->tree, b);
			victim[n++] = b;
		}
		Lck_Unlock(&sh->mtx);
	}
	bs->next_sweep = more ? now : now + bs->idle_timeout / 4;
	Lck_Unlock(&bs->sweep_mtx);

	for (i = 0; i < n; i++) {
		VSLb(ctx->vsl, SLT_VCL_Log,
		    "streamroute: %s: deleting idle backend %s",
		    bs->name, victim[i]->addr);
		sr_backend_delete(ctx, bs, victim[i]);
	}
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
	size_t namesz;
	char *name;

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
	/* the object name has no length limit but the VCL compiler's */
	namesz = strlen(bs->name) + strlen(t->addr) + 3;
	name = malloc(namesz);
	AN(name);
	assert(snprintf(name, namesz, "%s(%s)", bs->name, t->addr) <
	    (int)namesz);
	be.vcl_name = name;
	/* probes need a Host header: default to the address itself */
	be.hosthdr = bs->hosthdr != NULL ? bs->hosthdr : t->addr;
	dir = VRT_new_backend(ctx, &be);
	free(name);
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
	VCL_BACKEND ref = NULL, dir;
	unsigned tries = 0;
	double now;

	CHECK_OBJ_NOTNULL(ctx, VRT_CTX_MAGIC);
	CHECK_OBJ_NOTNULL(bs, SR_BACKENDS_MAGIC);
	AN(t);
	AN(status);
	*status = SR_BACKEND_OK;
	now = VTIM_mono();
	sr_backends_sweep(ctx, bs, now, 0);

	sh = sr_backend_shard(bs, t->addr);
	bstrcpy(needle.addr, t->addr);
  again:
	Lck_Lock(&sh->mtx);
	while ((b = VRBT_FIND(sr_btree, &sh->tree, &needle)) != NULL &&
	    b->creating)
		(void)Lck_CondWait(&sh->cond, &sh->mtx);
	if (b != NULL) {
		CHECK_OBJ(b, SR_BACKEND_MAGIC);
		b->last_used = now;
		VRT_Assign_Backend(&ref, b->dir);
		Lck_Unlock(&sh->mtx);
		return (ref);
	}
	Lck_Unlock(&sh->mtx);

	/* a new media server: when the table is full, make room first */
	if (__atomic_load_n(&bs->n, __ATOMIC_RELAXED) >= bs->max)
		sr_backends_sweep(ctx, bs, now, 1);
	if (__atomic_add_fetch(&bs->n, 1, __ATOMIC_RELAXED) > bs->max) {
		(void)__atomic_sub_fetch(&bs->n, 1, __ATOMIC_RELAXED);
		*status = SR_BACKEND_FULL;
		return (NULL);
	}

	/* claim the address, then make its backend outside the lock */
	ALLOC_OBJ(b, SR_BACKEND_MAGIC);
	AN(b);
	bstrcpy(b->addr, t->addr);
	b->creating = 1;
	b->last_used = now;
	Lck_Lock(&sh->mtx);
	if (VRBT_INSERT(sr_btree, &sh->tree, b) != NULL) {
		/* another fetch claimed it meanwhile: use theirs */
		Lck_Unlock(&sh->mtx);
		(void)__atomic_sub_fetch(&bs->n, 1, __ATOMIC_RELAXED);
		FREE_OBJ(b);
		if (++tries < 3)
			goto again;
		/* theirs keeps failing: so would ours */
		*status = SR_BACKEND_REFUSED;
		return (NULL);
	}
	Lck_Unlock(&sh->mtx);

	dir = sr_backend_create(ctx, bs, t);

	Lck_Lock(&sh->mtx);
	b->creating = 0;
	if (dir == NULL)
		VRBT_REMOVE(sr_btree, &sh->tree, b);
	else {
		b->dir = dir;
		VRT_Assign_Backend(&ref, b->dir);
	}
	AZ(pthread_cond_broadcast(&sh->cond));
	Lck_Unlock(&sh->mtx);

	if (dir == NULL) {
		(void)__atomic_sub_fetch(&bs->n, 1, __ATOMIC_RELAXED);
		FREE_OBJ(b);
		*status = SR_BACKEND_REFUSED;
		return (NULL);
	}
	SR_COUNT(bs->vsc, backends_created);
	SR_COUNT(bs->vsc, backends);
	VSLb(ctx->vsl, SLT_VCL_Log, "streamroute: %s: created backend %s",
	    bs->name, t->addr);
	return (ref);
}
