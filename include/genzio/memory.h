/* SPDX-License-Identifier: MIT */
/* genzio: protection domains, data space, registrations, address handles.
 * Include <genzio/genzio.h>, which includes every part. */
#ifndef GENZIO_MEMORY_H
#define GENZIO_MEMORY_H

#include <genzio/base.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------ protection, memory */

/**
 * genzio_pd_alloc - Allocate a protection domain with its own R-Key domain
 *
 * R-Keys are honoured only on queue pairs of the same domain, lkeys only
 * in work requests posted to queue pairs of the same domain.
 *
 * Return: 0, -EINVAL, -ENODEV (the device is gone), -ENOSPC (all 4095 key
 * domains in use), -ENOMEM, or the -errno of getrandom(2).
 */
GENZIO_EXPORT int genzio_pd_alloc(struct genzio_context *ctx,
				  struct genzio_pd **pd);
/** genzio_pd_free - Free @pd. Return: 0, -EINVAL, or -EBUSY while in use. */
GENZIO_EXPORT int genzio_pd_free(struct genzio_pd *pd);

enum genzio_mem_flags {
	GENZIO_MEM_NO_HUGE = 1u << 0,	  /* normal pages only */
	GENZIO_MEM_HUGE_1G = 1u << 1,	  /* 1 GiB pages in place of 2 MiB */
	GENZIO_MEM_REQUIRE_HUGE = 1u << 2, /* fail with -ENOMEM, no fallback */
	GENZIO_MEM_LOCK = 1u << 3,	  /* mlock the pages */
};
/* Bind to NUMA node n (default: the node of the calling CPU). */
#define GENZIO_MEM_NODE(n) ((((uint32_t)(n) + 1u) & 0xffu) << 16)

/**
 * struct genzio_mem - Data-space memory that peers can reach (read-only)
 */
struct genzio_mem {
	void *addr;		/* start, page aligned */
	uint64_t length;	/* bytes, rounded up to page_size */
	uint64_t page_size;	/* page size obtained */
	int32_t numa_node;	/* node the pages are bound to, or -1 */
	uint32_t flags;		/* flags given to genzio_mem_alloc() */
};

/**
 * genzio_mem_alloc - Allocate data space that peers can map one-sidedly
 * @ctx:   context
 * @len:   bytes (> 0); rounded up to the page size obtained
 * @flags: enum genzio_mem_flags | GENZIO_MEM_NODE(n)
 * @mem:   out
 *
 * Huge pages are used when reserved and within the budget; otherwise normal
 * pages, reported once. The page size obtained is @mem->page_size.
 *
 * Return: 0, -EINVAL, -ENODEV (the device is gone), -ENOMEM (no memory, or
 * no huge pages with GENZIO_MEM_REQUIRE_HUGE), or another -errno naming
 * the cause.
 */
GENZIO_EXPORT int genzio_mem_alloc(struct genzio_context *ctx, uint64_t len,
				   uint32_t flags, struct genzio_mem **mem);
/** genzio_mem_free - Free @mem. Return: 0, -EINVAL, -EBUSY while registered. */
GENZIO_EXPORT int genzio_mem_free(struct genzio_mem *mem);

enum genzio_access {
	GENZIO_ACCESS_LOCAL_WRITE = 1u << 0,
	GENZIO_ACCESS_REMOTE_WRITE = 1u << 1,
	GENZIO_ACCESS_REMOTE_READ = 1u << 2,
	GENZIO_ACCESS_REMOTE_ATOMIC = 1u << 3,
};

/**
 * struct genzio_mr - A registered region (read-only for the application)
 */
struct genzio_mr {
	void *addr;		/* start of the region */
	uint64_t length;	/* bytes */
	uint32_t lkey;		/* local key for genzio_sge.lkey */
	uint32_t rkey;		/* R-Key peers use; 0 without remote access */
	uint32_t access;	/* enum genzio_access bits */
	uint32_t reserved;
};

/**
 * genzio_mr_reg - Register a region for local use and remote access
 * @pd:     protection domain
 * @addr:   start
 * @len:    bytes (> 0)
 * @access: enum genzio_access; REMOTE_WRITE and REMOTE_ATOMIC need
 *          LOCAL_WRITE, as in verbs
 * @mr:     out
 *
 * Any byte range may be registered for remote access, as with ibv_reg_mr().
 * Peers map genzio_mem_alloc() memory and (GENZIO_CAP_REG_CONVERT) a
 * page-aligned region of private anonymous memory, whose pages shm moves
 * into a shared file in place until the last registration inside it is
 * deregistered; anything else (GENZIO_CAP_REG_ANY) they reach through the
 * kernel: READ and WRITE only, so REMOTE_ATOMIC there is -EOPNOTSUPP.
 * Keys are the provider's: shm's layout is in genzio_shm(7).
 *
 * Return: 0, -EINVAL, -ENODEV (the device is gone), -EOPNOTSUPP (remote
 * atomics, or any remote access without GENZIO_CAP_REG_ANY, on memory
 * peers cannot map), -ENOSPC (registrations, key table or segment ids
 * used up), -ENOMEM, -EMFILE, or another -errno naming the cause.
 */
GENZIO_EXPORT int genzio_mr_reg(struct genzio_pd *pd, void *addr, uint64_t len,
				uint32_t access, struct genzio_mr **mr);
/**
 * genzio_mr_dereg - Revoke @mr and free it
 * @mr: registration
 *
 * As with ibv_dereg_mr(): when it returns 0, no remote access through the
 * R-Key of @mr is in flight or will start, and later uses of its lkey
 * fail. shm revokes the key first, then waits (a membarrier, then the
 * in-flight lanes of every requester) for accesses that passed the key
 * check before, at most $GENZIO_SETUP_TIMEOUT_MS (default 2000). Load/store
 * mappings peers made of the region (genzio_rmap_map()) are not revoked.
 * A converted region is moved back to private anonymous memory, with the
 * same bytes, when its last registration goes.
 *
 * Return: 0, -EINVAL, or -ETIMEDOUT (a requester stayed inside an access,
 * stopped or in a debugger: the key stays revoked, @mr stays registered and
 * its lkey usable; call again later); another -errno from membarrier(2)
 * has the same effect.
 */
GENZIO_EXPORT int genzio_mr_dereg(struct genzio_mr *mr);

/**
 * genzio_ah_create - Address a remote component by GCID
 * @pd:   protection domain
 * @gcid: 28-bit GCID of a live component of the same fabric
 * @ah:   out
 *
 * Return: 0, -EINVAL, -ENODEV (the device is gone), -EOPNOTSUPP (the device
 * has no RD queue pairs: GENZIO_CAP_RD), -EHOSTUNREACH (no
 * live component has @gcid),
 * -EAGAIN (its registry slot stayed mid-update: try again), -ENOENT (it
 * is still being set up), -EMFILE, -ENFILE or -ENOMEM (it cannot be
 * mapped, or its liveness checked, for want of fds or memory: never
 * reported as -EHOSTUNREACH), -EPERM (its files fail the checks), or
 * another -errno naming the cause.
 */
GENZIO_EXPORT int genzio_ah_create(struct genzio_pd *pd, uint32_t gcid,
				   struct genzio_ah **ah);
/**
 * genzio_ah_create_addr - Address the component of a queue-pair address
 * @pd:   protection domain
 * @addr: a genzio_qp_addr() of one of its queue pairs (RD work requests
 *        then name that queue pair, or another, in remote_qpn)
 * @len:  its length
 * @ah:   out
 *
 * As genzio_ah_create() for the address's GCID, but bound to the
 * component that published the address: one that left, whose GCID
 * another holds now, is -EHOSTUNREACH. The form network providers need.
 *
 * Return: as genzio_ah_create(), and -EAFNOSUPPORT (an address of another
 * provider).
 */
GENZIO_EXPORT int genzio_ah_create_addr(struct genzio_pd *pd,
					const void *addr, size_t len,
					struct genzio_ah **ah);
/** genzio_ah_destroy - Free @ah; no work request may still name it.
 *  Return: 0 or -EINVAL. */
GENZIO_EXPORT int genzio_ah_destroy(struct genzio_ah *ah);

#ifdef __cplusplus
}
#endif

#endif /* GENZIO_MEMORY_H */
