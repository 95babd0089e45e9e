/* SPDX-License-Identifier: MIT */
/*
 * verbs provider: genzio on rdma-core's libibverbs, so one job spans many
 * machines on a real RDMA fabric (InfiniBand, RoCE; Soft-RoCE in tests).
 * rdma-core moves the bytes; this layer only translates. A genzio queue
 * pair is one RC ibv_qp, a registration one ibv_mr (its lkey and rkey are
 * genzio's, so a genzio_sge is handed to verbs as it is), a completion
 * queue one ibv_cq, a channel one ibv_comp_channel, a pd one ibv_pd.
 *
 * Work request ids. Verbs leaves an error completion's opcode undefined
 * and one cq serves many queue pairs, so the wr_id verbs carries is ours:
 *   bit 63      a receive
 *   bits 51-62  the queue pair's slot in the context (ctx->qp[])
 *   bits 40-50  that slot's generation (a reused or reset slot drops
 *               completions of before)
 *   bits 0-39   the low bits of the request's sequence number on its
 *               queue; poll rebuilds the whole one from the ring's tail
 * The user's wr_id, its opcode and where its result goes wait in the
 * queue pair's ring at that sequence (struct gz_vb_wqe).
 *
 * The device and the kernel driver are trusted as the kernel is; the
 * wr_id that comes back is still checked against the slot table before
 * it is used, so a stale completion of a destroyed queue pair is dropped.
 */
#ifndef GZ_PROVIDERS_VERBS_VERBS_H
#define GZ_PROVIDERS_VERBS_VERBS_H

#include <infiniband/verbs.h>
#include <stdatomic.h>
#include <stdint.h>

#include "fabric/fabric.h"
#include "provider.h"

#define GZ_VB_MAX_QP 4096u		/* queue pairs per context */
#define GZ_VB_ADDR_LEN 48		/* our part of an address */
#define GZ_VB_MAX_CHANNELS 64		/* as the core allows */

#define GZ_VB_RECV (1ull << 63)
#define GZ_VB_SLOT_SHIFT 51
#define GZ_VB_SLOT_MASK 0xfffu
#define GZ_VB_GEN_SHIFT 40
#define GZ_VB_GEN_MASK 0x7ffu
#define GZ_VB_SEQ_MASK ((1ull << GZ_VB_GEN_SHIFT) - 1)
/* the bits that name a queue pair: slot and generation */
#define GZ_VB_TAG_MASK (~GZ_VB_RECV & ~GZ_VB_SEQ_MASK)
_Static_assert(GZ_VB_MAX_QP - 1 <= GZ_VB_SLOT_MASK, "slot bits");

/* The whole sequence number of a completion whose wr_id carries @low,
 * given the ring's @tail (completions come in order, at or after it). */
static inline uint64_t gz_vb_seq(uint64_t tail, uint64_t low)
{
	return tail + ((low - tail) & GZ_VB_SEQ_MASK);
}

/* ---- the context ---- */
struct gz_vb_ctx {
	struct genzio_context base;
	struct ibv_context *ib;
	struct ibv_device_attr dev;
	uint8_t port;
	uint8_t link_layer;		/* IBV_LINK_LAYER_* */
	uint8_t ack_timeout;		/* qp attr timeout: 4.096 us << it */
	uint8_t retry_cnt;
	int gid_index;
	union ibv_gid gid;
	uint16_t lid;
	enum ibv_mtu mtu;
	uint32_t peer_timeout_ms;	/* a dead peer is reported in about */
	uint64_t stall_ns;		/* no completion that long while one is
					 * owed: the device stalled (0: never) */
	_Atomic uint32_t port_up;	/* last port state we reported */
	int membarrier;			/* private expedited registered */
	uint64_t huge_budget, huge_used;	/* bytes of huge pages */
	struct gz_vb_mem *mems;		/* data space, under ctx lock */
	struct gz_vb_cq *cqs;		/* live cqs, under ctx lock */
	int poll_fence;			/* no membarrier here: pollers fence */
	struct gz_fabric fabric;	/* where our CID comes from */
	uint32_t cid;
	uint64_t incarnation;
	struct gz_vb_channel *chan[GZ_VB_MAX_CHANNELS];	/* under ctx lock */
	struct gz_vb_qp *_Atomic qp[GZ_VB_MAX_QP];	/* by slot */
	uint8_t qp_gen[GZ_VB_MAX_QP];
	uint32_t next_slot;		/* round robin: slots rest longest */
};

static inline struct gz_vb_ctx *gz_vb_ctx_of(struct genzio_context *c)
{
	return container_of(c, struct gz_vb_ctx, base);
}

/* ---- protection domains, data space (verbs_mem.c) ---- */
struct gz_vb_pd {
	struct ibv_pd *ib;
	/* what a peer's SYNC reads: 8 bytes in this pd (verbs checks a
	 * READ's key against the target queue pair's pd) */
	uint64_t sync_word;
	struct ibv_mr *sync_mr;
};

static inline struct gz_vb_pd *gz_vb_pd_of(struct genzio_pd *pd)
{
	return pd->priv;
}

struct gz_vb_mem {
	struct gz_mem base;
	struct gz_vb_mem *next;
	uint32_t users;			/* registrations inside it */
	int huge;			/* counted in huge_used */
};

/* ---- completion queues and channels (verbs_cq.c) ---- */
struct gz_vb_cq {
	struct gz_cq base;
	struct ibv_cq *ib;
	struct gz_vb_ctx *ctx;
	/* odd while a poll runs: a queue pair's destroy waits for the
	 * pollers of its cqs to leave its ring (gz_vb_cq_drain) */
	_Atomic uint32_t in_poll;
	_Atomic uint32_t overrun;	/* verbs' CQ error came: said once */
	uint32_t users;			/* send and receive queues, ctx lock */
	struct gz_vb_cq *next;		/* ctx->cqs */
	/* the stall watchdog, the poller's own (verbs_cq.c) */
	uint32_t idle;			/* empty polls since a completion */
	uint64_t idle_since_ns;		/* 0: not looking */
};

struct gz_vb_channel {
	struct gz_channel base;		/* base.pub.fd: an epoll set of the
					 * two below */
	struct ibv_comp_channel *ib;
	int efd;			/* eventfd: the device is gone */
	uint32_t idx;			/* in ctx->chan */
};

/* The device is gone: every channel waiter wakes (-ENODEV). */
void gz_vb_channels_wake(struct gz_vb_ctx *ctx);

/* The context's pollers are out of any ring of @qp they might have met
 * before it left the slot table. */
struct gz_vb_qp;
void gz_vb_cq_drain(struct gz_vb_qp *qp);
/* ibv_wc_status -> genzio status. */
uint32_t gz_vb_status(enum ibv_wc_status s);

/* ---- queue pairs (verbs_qp.c, verbs_post.c) ---- */
enum gz_vb_wqe_kind {
	GZ_VB_PLAIN = 0,
	GZ_VB_RESULT,			/* an atomic: its old value at dst */
	GZ_VB_COPY,			/* an inline READ: copy the scratch
					 * slot to the user's dst */
};

struct gz_vb_wqe {
	uint64_t wr_id;			/* the user's */
	void *dst;			/* see kind */
	uint32_t len;			/* bytes it moves, for byte_len */
	uint8_t opcode;			/* enum genzio_wc_opcode */
	uint8_t hidden;			/* signaled for us only: a success
					 * makes no user completion */
	uint8_t kind;			/* enum gz_vb_wqe_kind */
	uint8_t pad;
};
_Static_assert(sizeof(struct gz_vb_wqe) == 24, "ring entry size");

struct gz_vb_qp {
	struct gz_qp base;
	struct ibv_qp *ib;
	struct gz_vb_ctx *ctx;
	struct gz_vb_cq *scq, *rcq;
	struct gz_vb_pd *pd;
	_Atomic uint32_t state;		/* enum genzio_qp_state */
	_Atomic uint32_t err_status;	/* the status that moved it to ERR */
	_Atomic uint32_t told;		/* QP_ERR raised */
	uint32_t slot;
	_Atomic uint64_t tag;		/* slot and generation, in wr_id form */
	uint32_t max_sge, max_recv_sge, max_inline;
	/* read-mostly, by post and poll: the rings ([tail, head) posted)
	 * and, per send slot, room for an atomic's old value or an inline
	 * READ's bytes when the user gave no buffer verbs may write */
	struct gz_vb_wqe *sq;
	uint32_t sq_mask, sq_depth;
	uint64_t *rq;			/* the users' receive wr_ids */
	uint32_t rq_mask, rq_depth;
	uint8_t *scratch;
	struct ibv_mr *scratch_mr;
	uint32_t scratch_stride;
	uint32_t unsig_max;		/* every so many unsignaled requests,
					 * one signaled for us (hidden) */
	uint64_t sync_addr;		/* the peer's sync word and its key */
	uint32_t sync_rkey;
	/* written by the poster */
	uint64_t sq_head GZ_ALIGNED;
	uint64_t rq_head;
	_Atomic uint64_t sig_head;	/* after the last signaled request */
	uint32_t unsig;			/* unsignaled since the last signaled */
	_Atomic uint32_t stalled;	/* the watchdog moved it to ERR */
	/* written by the poller */
	_Atomic uint64_t sq_tail GZ_ALIGNED;
	_Atomic uint64_t rq_tail;
	uint32_t psn GZ_ALIGNED;	/* our first packet sequence number */
	uint32_t rdm_timeout_us;
	uint8_t rnr_code;		/* the RNR timer we ask the peer for */
	uint8_t rnr_retry;
	uint32_t peer_len;		/* connected: the address we used */
	uint8_t peer[GENZIO_ADDR_MAX];
	uint32_t peer_gcid;
};

static inline struct gz_vb_qp *gz_vb_qp_of(struct genzio_qp *q)
{
	return container_of(q, struct gz_vb_qp, base.pub);
}

int gz_vb_post_send(struct genzio_qp *qp, struct genzio_send_wr *wr,
		    struct genzio_send_wr **bad_wr);
int gz_vb_post_recv(struct genzio_qp *qp, struct genzio_recv_wr *wr,
		    struct genzio_recv_wr **bad_wr);
/* @qp failed with @status (a completion or an async event): ERR, and a
 * QP_ERR event once. */
void gz_vb_qp_failed(struct gz_vb_qp *qp, uint32_t status);
/* @qp is in ERR: have the device flush what was posted since. */
void gz_vb_qp_reflush(struct gz_vb_qp *qp);

/* ---- provider ops, by file ---- */
int gz_vb_cq_create(struct genzio_context *ctx,
		    const struct genzio_cq_attr *attr, struct gz_cq **cq);
int gz_vb_cq_destroy(struct gz_cq *cq);
int gz_vb_cq_req_notify(struct gz_cq *cq);
int gz_vb_channel_create(struct genzio_context *ctx, struct gz_channel **ch);
void gz_vb_channel_destroy(struct gz_channel *ch);
int gz_vb_channel_get_event(struct gz_channel *ch, int timeout_ms,
			    struct gz_cq **cq);

void gz_vb_event_watch(struct genzio_context *ctx);
void gz_vb_event_harvest(struct genzio_context *ctx);
void gz_vb_device_fatal(struct genzio_context *ctx, uint8_t status);

int gz_vb_pd_alloc(struct genzio_pd *pd);
void gz_vb_pd_free(struct genzio_pd *pd);
int gz_vb_mem_alloc(struct genzio_context *ctx, uint64_t len, uint32_t flags,
		    struct genzio_mem **mem);
int gz_vb_mem_free(struct genzio_mem *mem);
int gz_vb_mr_reg(struct genzio_pd *pd, void *addr, uint64_t len,
		 uint32_t access, struct gz_mr **mr);
void gz_vb_mr_dereg(struct gz_mr *mr);

int gz_vb_qp_create(struct genzio_pd *pd, const struct genzio_qp_attr *attr,
		    struct genzio_qp **qp);
int gz_vb_qp_addr(struct genzio_qp *qp, uint8_t *buf, size_t len);
int gz_vb_qp_connect(struct genzio_qp *qp, uint32_t gcid, const uint8_t *a,
		     size_t len);
void gz_vb_qp_query(struct genzio_qp *qp, struct genzio_qp_info *info);
int gz_vb_qp_reset(struct genzio_qp *qp);
void gz_vb_qp_destroy(struct genzio_qp *qp);

#endif /* GZ_PROVIDERS_VERBS_VERBS_H */
