/* SPDX-License-Identifier: MIT */
/*
 * The objects behind the opaque public types, as every provider sees them.
 * The core checks arguments and keeps the books (who uses what); providers
 * do the mechanics through struct gz_provider (lib/provider.h).
 */
#ifndef GZ_CORE_CORE_H
#define GZ_CORE_CORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "gz.h"

struct gz_provider;

/* Local key: the lkey is (generation << 16 | index). */
#define GZ_LKEY_BITS 16
#define GZ_MAX_MR (1u << GZ_LKEY_BITS)

struct gz_lkey {
	_Atomic uint32_t lkey;	/* 0 when free */
	uint32_t access;
	uint64_t addr;
	uint64_t len;
	uint32_t domain;	/* key domain of the registering pd */
	uint32_t seg;		/* provider's data-space segment, or
				 * GZ_SEG_NONE: receives need one */
	uint64_t seg_va;	/* address of that segment's first byte */
};

#define GZ_SEG_NONE UINT32_MAX
#define GZ_EVENTS 256		/* queued unsolicited events per context */

/* Unsolicited events of a context (event.c). */
struct gz_events {
	pthread_mutex_t lock;
	int epfd;		/* the fd users wait on: efd + provider fds */
	int efd;		/* eventfd: readable while q is not empty */
	uint32_t head, tail;	/* q[head..tail) */
	uint32_t lost;		/* pushed while full: reported, not hidden */
	struct genzio_event q[GZ_EVENTS];
};

struct genzio_context {
	const struct gz_provider *prov;
	pthread_mutex_t lock;		/* books and tables below */
	struct genzio_device_attr attr;	/* limits, filled at open */
	/* live objects, so close/free can answer -EBUSY */
	uint32_t npd, ncq, nqp, nmr, nmem, nah;
	struct gz_lkey *lkeys;		/* attr.max_mr entries */
	uint32_t lkey_gen;
	uint64_t domains[4096 / 64];	/* key domains of live pds */
	uint32_t nchannel, nrmap;
	struct gz_events ev;
};

struct genzio_pd {
	struct genzio_context *ctx;
	uint32_t key_domain;		/* 12 bits, random, nonzero */
	uint32_t users;			/* mr + qp + ah */
};

struct genzio_ah {
	struct genzio_pd *pd;
	uint32_t gcid;
};

/* The object behind struct genzio_mem; providers embed it first. */
struct gz_mem {
	struct genzio_mem pub;
	struct genzio_context *ctx;
};

/* The object behind struct genzio_mr; providers embed it first. */
struct gz_mr {
	struct genzio_mr pub;
	struct genzio_pd *pd;
	uint32_t seg;		/* set by the provider: see struct gz_lkey */
	uint64_t seg_va;
};

/* The object behind struct genzio_cq; providers embed it first. */
struct gz_cq {
	struct genzio_cq pub;
	struct genzio_comp_channel *channel;	/* or NULL */
	uint32_t events;	/* delivered by get_event */
	uint32_t acked;
};

/* The object behind struct genzio_comp_channel. */
struct gz_channel {
	struct genzio_comp_channel pub;
	uint32_t users;		/* cqs */
	uint32_t id;
};

/* The object behind struct genzio_rmap; providers embed it first. */
struct gz_rmap {
	struct genzio_rmap pub;
	struct genzio_context *ctx;
};

/* Count mappings of non-coherent memory (+1 on map, -1 on unmap). */
void gz_rmap_noncoherent(int delta);

/* The object behind struct genzio_qp; providers embed it first. */
struct gz_qp {
	struct genzio_qp pub;
	struct genzio_pd *pd;
};

/* Local-key check for the fast path: the region of @lkey covers
 * [@addr, @addr + @len) and grants @need. */
GZ_INLINE int gz_lkey_ok(const struct gz_lkey *tab, uint32_t max_mr,
			     uint32_t lkey, uint32_t domain, uint64_t addr,
			     uint64_t len, uint32_t need)
{
	const struct gz_lkey *e = &tab[lkey & (GZ_MAX_MR - 1)];

	if (GZ_UNLIKELY((lkey & (GZ_MAX_MR - 1)) >= max_mr))
		return 0;
	/* Acquire pairs with the release in gz_lkey_alloc(). */
	if (GZ_UNLIKELY(atomic_load_explicit(&e->lkey, memory_order_acquire) !=
			lkey))
		return 0;
	return (e->access & need) == need && e->domain == domain &&
	       addr >= e->addr &&
	       len <= e->len && addr - e->addr <= e->len - len;
}

/* Called by the core with ctx->lock held. */
int gz_lkey_alloc(struct genzio_context *ctx, const struct gz_mr *mr,
		  uint32_t *lkey);
void gz_lkey_free(struct genzio_context *ctx, uint32_t lkey);

/* Events: set up at open, torn down at close; push from any thread. */
int gz_events_init(struct gz_events *ev);
void gz_events_fini(struct gz_events *ev);
void gz_event_push(struct genzio_context *ctx, const struct genzio_event *e);

/* Check and take/put a use of an object under ctx->lock. */
void gz_ctx_lock(struct genzio_context *ctx);
void gz_ctx_unlock(struct genzio_context *ctx);

#endif /* GZ_CORE_CORE_H */
