/* SPDX-License-Identifier: MIT */
/*
 * The provider ABI (private). The core validates every argument and keeps
 * the books before it calls a provider, so providers see sane input only.
 * Ops are sorted by name.
 */
#ifndef GZ_PROVIDER_H
#define GZ_PROVIDER_H

#include "core/core.h"

struct gz_fabric;
struct gz_fm;
struct genzio_component;

struct gz_provider {
	const char *name;
	uint8_t addr_id;	/* names it in addresses (core/addr.h) */
	/* 1: mr_reg sets pub.lkey itself and the core keeps no lkey table
	 * (verbs: the HCA's lkey goes straight into the sge); 0: the core
	 * allocates lkeys (struct gz_lkey) */
	uint8_t own_lkeys;
	/* The devices this provider can open here: names (and details) of
	 * up to @max in @devs, the number there are returned; with none,
	 * why not in @why (for genzio-info and the error of an open). */
	int (*probe)(struct genzio_device_desc *devs, int max, char *why,
		     size_t len);

	/* @a, @len: the provider part of an address of @gcid
	 * (genzio_ah_create_addr), to check; NULL by GCID alone. */
	int (*ah_create)(struct genzio_pd *pd, uint32_t gcid, const uint8_t *a,
			 size_t len, struct genzio_ah **ah);
	void (*ah_destroy)(struct genzio_ah *ah);
	int (*channel_create)(struct genzio_context *ctx,
			      struct gz_channel **ch);
	void (*channel_destroy)(struct gz_channel *ch);
	/* Wait up to @timeout_ms; 0 and *cq, or -EAGAIN/-ETIMEDOUT/-errno.
	 * Counts the event in (*cq)->events before it lets go of whatever
	 * keeps the cq alive: from then on the count does (cq_destroy
	 * refuses while events are unacknowledged). */
	int (*channel_get_event)(struct gz_channel *ch, int timeout_ms,
				 struct gz_cq **cq);
	/* Read component @gcid's control space (gz_fm_ctl_read). Optional:
	 * without it genzio_component_query() is -ENOTSUP. */
	int (*component_query)(struct genzio_context *ctx, uint32_t gcid,
			       struct genzio_component *c);
	int (*cq_create)(struct genzio_context *ctx,
			 const struct genzio_cq_attr *attr,
			 struct gz_cq **cq);
	/* -EBUSY while a queue pair uses it, saying how many work queues
	 * (gz_cq_busy). */
	int (*cq_destroy)(struct gz_cq *cq);
	int (*cq_req_notify)(struct gz_cq *cq);
	/* Releases everything of @ctx but its memory, which the core frees
	 * (after its own event queue) with free(3). */
	void (*device_close)(struct genzio_context *ctx);
	/* Opens device @dev (a name probe gave). Allocates the context
	 * (malloc family, struct genzio_context first), fills ctx->attr and
	 * ctx->fabric; the core sets up everything else of ctx. */
	int (*device_open)(const char *dev, const struct genzio_open_attr *attr,
			   struct genzio_context **ctx);
	/* View the host fabric @attr (or the environment) names, without
	 * creating or joining it (gz_fabric_view), for genzio_member_list();
	 * the core closes it with gz_fabric_close(). -ENOENT: nobody ever
	 * joined it; -ENOTSUP: no host fabric (a network). */
	int (*fabric_open)(const char *dev, const struct genzio_open_attr *attr,
			   struct gz_fabric *f);
	/* Open the host fabric's manager file without creating it, for
	 * genzio_fabric_open(): -ENOENT when nobody ever joined. Optional. */
	int (*fm_open)(const char *dev, const struct genzio_open_attr *attr,
		       struct gz_fm *fm);
	/* After the core set up ctx->ev: add the provider's fds to it. */
	void (*event_watch)(struct genzio_context *ctx);
	/* Turn what provider fds in ctx->ev.epfd say into events. */
	void (*event_harvest)(struct genzio_context *ctx);
	/* Under the ctx lock, once, from gz_device_fatal(): move every
	 * queue pair to ERR with @status (its work completes FLUSHED) and
	 * wake every completion channel; no QP_ERR events. */
	void (*device_fatal)(struct genzio_context *ctx, uint8_t status);
	/* Optional, under the ctx lock: the provider's part of @pd
	 * (pd->priv). */
	int (*pd_alloc)(struct genzio_pd *pd);
	void (*pd_free)(struct genzio_pd *pd);
	int (*mem_alloc)(struct genzio_context *ctx, uint64_t len,
			 uint32_t flags, struct genzio_mem **mem);
	int (*mem_free)(struct genzio_mem *mem);
	/* Under the ctx lock: frees everything of @mr; after mr_revoke (if
	 * the provider has it) and mr_quiesce returned 0. */
	void (*mr_dereg)(struct gz_mr *mr);
	/* Under the ctx lock: make the R-Key of @mr unusable for new
	 * accesses. Return: 1 if accesses may still be in flight (call
	 * quiesce), 0 if not. */
	int (*mr_revoke)(struct gz_mr *mr);
	/* Without the ctx lock: wait until no access that started before
	 * a revoke (or qp_stop) is still in flight. @best_effort: skip the
	 * accesses an earlier wait already found stuck. 0, or -ETIMEDOUT
	 * (the caller may try again), or another -errno. */
	int (*quiesce)(struct genzio_context *ctx, int best_effort);
	/* Allocates the gz_mr (its own struct around it) and sets rkey. */
	int (*mr_reg)(struct genzio_pd *pd, void *addr, uint64_t len,
		      uint32_t access, struct gz_mr **mr);
	/* The provider's part of @qp's address, in @buf of @len bytes:
	 * its length, or -ENOSPC. */
	int (*qp_addr)(struct genzio_qp *qp, uint8_t *buf, size_t len);
	/* Connect to the queue pair of component @gcid whose address has
	 * provider part @a of @len bytes (not yet checked). */
	int (*qp_connect)(struct genzio_qp *qp, uint32_t gcid, const uint8_t *a,
			  size_t len);
	int (*qp_create)(struct genzio_pd *pd, const struct genzio_qp_attr *attr,
			 struct genzio_qp **qp);
	/* Under the ctx lock, first: peers can no longer reach @qp. Return:
	 * 1 if deliveries to it may be in flight (call quiesce), else 0. */
	int (*qp_stop)(struct genzio_qp *qp);
	/* @qp's state into @info (zeroed by the core). */
	void (*qp_query)(struct genzio_qp *qp, struct genzio_qp_info *info);
	/* Under the ctx lock: flush (or drop) everything of @qp, back to
	 * RESET. 0, or -errno (then @qp is in ERR). */
	int (*qp_reset)(struct genzio_qp *qp);
	/* Under the ctx lock, after qp_stop and quiesce: free @qp. */
	void (*qp_destroy)(struct genzio_qp *qp);
	/* Optional, under the ctx lock: @qp's own first PSN from its next
	 * connect on (verbs); -EISCONN when it is not in RESET. */
	int (*qp_psn_set)(struct genzio_qp *qp, uint32_t psn);
	int (*rmap_map)(struct genzio_ah *ah, uint32_t remote_qpn,
			uint64_t raddr, uint64_t len, uint32_t rkey,
			uint32_t mode, struct genzio_rmap **rmap);
	void (*rmap_unmap)(struct genzio_rmap *rmap);
	/* Optional, both: verbs-style names for ports of verbs code
	 * (genzio_verbs_port, genzio_qp_connect_verbs). @d's fields are in
	 * range (checked); verbs_addr writes the provider part of the address
	 * @d names into @buf of @len bytes and its GCID: its length, or
	 * -errno. */
	void (*verbs_port)(struct genzio_context *ctx,
			   struct genzio_verbs_port *port);
	int (*verbs_addr)(struct genzio_context *ctx,
			  const struct genzio_verbs_dest *d, uint8_t *buf,
			  size_t len, uint32_t *gcid);
};

extern const struct gz_provider gz_shm_provider;
extern const struct gz_provider gz_vfio_provider;
#ifdef GZ_HAVE_VERBS
extern const struct gz_provider gz_verbs_provider;
#endif

#endif /* GZ_PROVIDER_H */
