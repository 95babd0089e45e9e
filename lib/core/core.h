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

/*
 * Local keys: lkey = generation << GZ_LKEY_IDX_BITS | slot. Each slot has
 * its own generation and slots are reused round robin, so a stale lkey
 * meets its own slot again only after 2^18 reuses of that one slot. The
 * lkey word doubles as the entry's seqlock: it is 0 while the entry is
 * rewritten and a new value after, so a reader that finds the lkey it
 * wants before and after copying the fields has a consistent copy.
 */
#define GZ_LKEY_IDX_BITS 14
#define GZ_MAX_MR (1u << GZ_LKEY_IDX_BITS)
#define GZ_LKEY_GEN_MASK ((1u << (32 - GZ_LKEY_IDX_BITS)) - 1)

struct gz_lkey {
	_Atomic uint32_t lkey;	/* 0 when free */
	uint32_t access;
	uint64_t addr;
	uint64_t len;
	uint32_t domain;	/* key domain of the registering pd */
	/* the provider's, for its fast path (shm: the data-space segment
	 * and the address of its first byte; GZ_LKEY_COOKIE_NONE: none) */
	uint32_t cookie;
	uint64_t cookie_va;
	uint32_t gen;		/* this slot's last generation */
	uint32_t pad;
};

/* What gz_lkey_get() copies out of an entry. */
struct gz_lkey_snap {
	uint32_t cookie;
	uint64_t cookie_va;
};

#define GZ_LKEY_COOKIE_NONE UINT32_MAX
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
	uint32_t lkey_next;		/* round robin over free slots */
	uint64_t domains[4096 / 64];	/* key domains of live pds */
	uint32_t nchannel, nrmap;
	struct gz_events ev;
	_Atomic uint32_t fatal;		/* the device is gone (fatal.c) */
};

struct genzio_pd {
	struct genzio_context *ctx;
	uint32_t key_domain;		/* 12 bits, random, nonzero */
	uint32_t users;			/* mr + qp + ah */
	void *priv;			/* the provider's (verbs: ibv_pd) */
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
	uint32_t cookie;	/* set by the provider: see struct gz_lkey */
	uint64_t cookie_va;
};

/* A registration's public fields; its keys and cookie still the
 * provider's to give (none until it does). */
static inline void gz_mr_init(struct gz_mr *mr, void *addr, uint64_t len,
			      uint32_t access)
{
	mr->pub.addr = addr;
	mr->pub.length = len;
	mr->pub.access = access;
	mr->cookie = GZ_LKEY_COOKIE_NONE;
}

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
 * [@addr, @addr + @len) and grants @need; @snap (if not NULL) gets its
 * provider cookie. */
GZ_INLINE int gz_lkey_get(const struct gz_lkey *tab, uint32_t max_mr,
			  uint32_t lkey, uint32_t domain, uint64_t addr,
			  uint64_t len, uint32_t need,
			  struct gz_lkey_snap *snap)
{
	const struct gz_lkey *e = &tab[lkey & (GZ_MAX_MR - 1)];
	uint64_t ea, el;
	uint32_t acc, dom;

	if (GZ_UNLIKELY((lkey & (GZ_MAX_MR - 1)) >= max_mr))
		return 0;
	/* Acquire pairs with the release in gz_lkey_alloc(). */
	if (GZ_UNLIKELY(atomic_load_explicit(&e->lkey, memory_order_acquire) !=
			lkey))
		return 0;
	/* Seqlock read side: another thread may free and reuse the slot
	 * while we copy; then the lkey moves on. Acquire loads keep the
	 * re-read after the copy (plain loads on x86). */
	acc = __atomic_load_n(&e->access, __ATOMIC_ACQUIRE);
	dom = __atomic_load_n(&e->domain, __ATOMIC_ACQUIRE);
	ea = __atomic_load_n(&e->addr, __ATOMIC_ACQUIRE);
	el = __atomic_load_n(&e->len, __ATOMIC_ACQUIRE);
	if (snap) {
		snap->cookie = __atomic_load_n(&e->cookie, __ATOMIC_ACQUIRE);
		snap->cookie_va = __atomic_load_n(&e->cookie_va,
						  __ATOMIC_ACQUIRE);
	}
	if (GZ_UNLIKELY(atomic_load_explicit(&e->lkey, memory_order_relaxed) !=
			lkey))
		return 0;
	return (acc & need) == need && dom == domain && addr >= ea &&
	       len <= el && addr - ea <= el - len;
}

GZ_INLINE int gz_lkey_ok(const struct gz_lkey *tab, uint32_t max_mr,
			 uint32_t lkey, uint32_t domain, uint64_t addr,
			 uint64_t len, uint32_t need)
{
	return gz_lkey_get(tab, max_mr, lkey, domain, addr, len, need, NULL);
}

/* Called by the core with ctx->lock held. */
int gz_lkey_alloc(struct genzio_context *ctx, const struct gz_mr *mr,
		  uint32_t *lkey);
void gz_lkey_free(struct genzio_context *ctx, uint32_t lkey);

/* A cq's destroy refused (cq.c): -EBUSY, and the line that says why. */
int gz_cq_busy(uint32_t users);

/* The device is gone (fatal.c), with the ctx lock held: once, every
 * queue pair to ERR with @status, every waiter woken, DEVICE_FATAL
 * raised; from then on setup calls fail (gz_ctx_gone). */
void gz_device_fatal(struct genzio_context *ctx, uint8_t status,
		     const char *why);
/* -ENODEV (and a line under GENZIO_DEBUG) once the device is gone, else
 * 0. */
int gz_ctx_gone(struct genzio_context *ctx);

/* Events: set up at open, torn down at close; push from any thread. */
int gz_events_init(struct gz_events *ev);
void gz_events_fini(struct gz_events *ev);
void gz_event_push(struct genzio_context *ctx, const struct genzio_event *e);

/* What the open attributes and the environment ask for (openattr.c):
 * fabric (GENZIO_FABRIC, default "default"), subnet (default 1;
 * subnet_set: named), huge-page budget (GENZIO_HUGE_BUDGET, default
 * unlimited). 0, or -EINVAL with a message. */
struct gz_open_opts {
	const char *fabric;
	uint32_t subnet;
	int subnet_set;
	uint64_t budget;
};
int gz_open_opts_get(const struct genzio_open_attr *attr,
		     struct gz_open_opts *o);

/* Check and take/put a use of an object under ctx->lock. */
/* The device to open: by @name or the environment; @attr checked. */
int gz_device_choose(const char *name, const struct genzio_open_attr *attr,
		     const struct gz_provider **p, char dev[GENZIO_NAME_MAX]);
void gz_ctx_lock(struct genzio_context *ctx);
void gz_ctx_unlock(struct genzio_context *ctx);

#endif /* GZ_CORE_CORE_H */
