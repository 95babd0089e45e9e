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
 * RD queue pairs (verbs_rd.c, verbs_wire.c) are made of RC ones: one RC
 * "child" per remote RD queue pair this one talks to, connected on first
 * use through a UD queue pair whose number is the RD queue pair's.
 *
 * The device and the kernel driver are trusted as the kernel is; the
 * wr_id that comes back is still checked against the slot table before
 * it is used, so a stale completion of a destroyed queue pair is dropped.
 * What a peer sends over the wire-up queue pair is untrusted input.
 */
#ifndef GZ_PROVIDERS_VERBS_VERBS_H
#define GZ_PROVIDERS_VERBS_VERBS_H

#include <errno.h>
#include <infiniband/verbs.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "fabric/fabric.h"
#include "provider.h"
#include "sys/sys.h"

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

static inline uint64_t gz_vb_now_ns(void)
{
	return gz_sys_now_ns();
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
	struct gz_vb_rd *rds;		/* RD queue pairs, under ctx lock */
	_Atomic uint32_t nrd;		/* how many: progress looks first */
	/* the wire-up cqs' events: in the event fd's and every channel's
	 * epoll set, so a wait drives RD connections (progress) */
	struct ibv_comp_channel *wire_ch;
	uint32_t rd_peers;		/* most RC children per RD queue pair */
	struct gz_vb_qp *_Atomic qp[GZ_VB_MAX_QP];	/* by slot */
	uint16_t qp_gen[GZ_VB_MAX_QP];
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
	_Atomic uint32_t rd_users;	/* RD queue pairs: polls progress */
	uint32_t polls;			/* the poller's: progress every 16th */
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
enum gz_vb_role {
	GZ_VB_RC = 0,			/* the user's RC queue pair */
	GZ_VB_RD,			/* the user's RD queue pair: a UD one
					 * (wire-up) and the SRQ's receives */
	GZ_VB_CHILD,			/* an RC queue pair of an RD one */
};

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

struct gz_vb_rd;

struct gz_vb_qp {
	struct gz_qp base;
	struct ibv_qp *ib;
	struct gz_vb_ctx *ctx;
	struct gz_vb_rd *rd;		/* GZ_VB_RD (itself), GZ_VB_CHILD */
	uint8_t role;			/* enum gz_vb_role */
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

/* A peer's connection parameters (an address, or a wire-up message). */
struct gz_vb_peer {
	uint8_t mtu, rnr_code, link_layer, rd_atomic;
	uint8_t rd;			/* an RD queue pair's address */
	uint32_t qpn, psn;
	uint16_t lid;
	union ibv_gid gid;
	uint64_t sync_addr;
	uint32_t sync_rkey;
};

int gz_vb_peer_parse(const struct gz_vb_ctx *ctx, const uint8_t *b,
		     size_t len, struct gz_vb_peer *p);
int gz_vb_peer_check(const struct gz_vb_ctx *ctx, const struct gz_vb_peer *p);
/* Fill @qp (zeroed) from @a: its rings and an RC ibv_qp in INIT (@srq:
 * receives come from it), slot @slot, state RESET. On error the caller
 * frees it (gz_vb_qp_free). */
int gz_vb_qp_init(struct gz_vb_qp *qp, struct genzio_pd *pd,
		  const struct genzio_qp_attr *a, struct ibv_srq *srq,
		  uint32_t slot);
void gz_vb_qp_free(struct gz_vb_qp *qp);
/* RTR and RTS to @p (its GCID @gcid); @qp's state is the caller's. */
int gz_vb_qp_join(struct gz_vb_qp *qp, const struct gz_vb_peer *p,
		  uint32_t gcid);
uint8_t gz_vb_rd_atomic(int dev_max);
/* Under the ctx lock: slot @slot's next generation, in wr_id form. */
uint64_t gz_vb_tag_next(struct gz_vb_ctx *ctx, uint32_t slot);

int gz_vb_post_send(struct genzio_qp *qp, struct genzio_send_wr *wr,
		    struct genzio_send_wr **bad_wr);

/* A receive request the queue pair cannot take (-EINVAL), or 0. */
static inline int gz_vb_recv_check(const struct gz_vb_qp *qp,
				   const struct genzio_recv_wr *wr)
{
	return wr->num_sge < 0 || (uint32_t)wr->num_sge > qp->max_recv_sge ||
	       (wr->num_sge && !wr->sg_list) ? -EINVAL : 0;
}

/* @wr as verbs' @iw, its wr_id ours (@id): chained by the caller. The
 * sges go as they are (genzio_sge is ibv_sge's layout). */
static inline void gz_vb_recv_fill(struct ibv_recv_wr *iw, uint64_t id,
				   const struct genzio_recv_wr *wr)
{
	iw->wr_id = id;
	iw->next = NULL;
	iw->sg_list = (struct ibv_sge *)wr->sg_list;
	iw->num_sge = wr->num_sge;
}

/* Up to @max requests from *@wr on @qp, an RD child; *@wr moves past the
 * ones taken, *@n counts them. @park: keep them in the child's park
 * instead of giving them to verbs (not connected yet). */
int gz_vb_post_some(struct gz_vb_qp *qp, struct genzio_send_wr **wr,
		    int max, int park, int *n);
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
int gz_vb_qp_psn_set(struct genzio_qp *qp, uint32_t psn);
void gz_vb_verbs_port(struct genzio_context *ctx,
		      struct genzio_verbs_port *port);
int gz_vb_verbs_addr(struct genzio_context *ctx,
		     const struct genzio_verbs_dest *d, uint8_t *buf,
		     size_t len, uint32_t *gcid);

/* ---- RD queue pairs (verbs_rd.c, verbs_wire.c, verbs_ah.c) ---- */
#define GZ_VB_RD_PEERS 64		/* children per RD qp, by default */
#define GZ_VB_RD_PEERS_MAX 1024		/* GENZIO_VERBS_RD_PEERS at most */
#define GZ_VB_WIRE_RECVS 32		/* wire-up receives posted, each of
					 * GRH + the port's MTU bytes */
#define GZ_VB_WIRE_SENDS 32		/* wire-up sends in flight */
#define GZ_VB_WIRE_MSG 64		/* bytes of a wire-up message */
#define GZ_VB_GRH 40			/* what a UD receive starts with */
#define GZ_VB_QKEY 0x475a5244u		/* "GZRD" */

/* Where a remote RD queue pair is: its port, and its number. */
struct gz_vb_where {
	union ibv_gid gid;
	uint16_t lid;
	uint32_t qpn;
};

struct gz_vb_ah {
	struct genzio_ah base;
	union ibv_gid gid;		/* zero on InfiniBand: a LID says */
	uint16_t lid;
};

struct gz_vb_child {
	struct gz_vb_qp q;		/* q.state RESET: wiring; RTS: up */
	struct gz_vb_where to;		/* immutable once published */
	struct ibv_ah *ah;		/* to the peer's wire-up queue pair */
	/* Wiring. The lock keeps the park and the move to RTS one step:
	 * a poster parks under it, progress posts the park under it. */
	pthread_mutex_t lock;
	struct ibv_send_wr *park;	/* by sequence, like q.sq */
	struct ibv_sge *park_sge;	/* park_nsge per request */
	uint32_t park_nsge;
	uint64_t park_tail;		/* parked: [park_tail, q.sq_head) */
	int initiated;			/* we asked: REQs until the REP */
	uint64_t next_try_ns, deadline_ns;	/* progress's timers */
	uint32_t tries;
	uint32_t peer_qpn, peer_psn;	/* the peer's child: a REQ again */
	/* 1 while the poster may be handing requests to verbs without the
	 * lock (it saw RTS): a reset by progress waits it out */
	_Atomic uint32_t posting;
};

struct gz_vb_rd {
	struct gz_vb_qp q;		/* q.ib: UD; q.rq: receive wr_ids by
					 * index (SRQ receives complete in
					 * any order) */
	struct ibv_srq *srq;
	struct ibv_cq *wcq;		/* the UD queue pair's */
	int wcq_armed;
	uint8_t *wbuf;			/* GZ_VB_WIRE_RECVS receives */
	uint32_t wstride;		/* bytes each: GRH and an MTU */
	_Atomic int wire_broken;	/* the UD qp is in ERR: revive */
	uint64_t revive_ns;		/* not before, after a failed one */
	uint32_t wsends;		/* wire-up sends in flight */
	struct ibv_mr *wmr;
	_Atomic uint8_t *rq_busy;	/* by receive index */
	uint32_t rq_next;		/* the poster's: where to look */
	uint64_t rq_posted;		/* the poster's */
	_Atomic uint64_t rq_done;	/* the pollers' */
	uint64_t sq_posted;		/* the poster's */
	_Atomic uint64_t sq_freed;	/* the pollers' */
	struct genzio_qp_attr attr;	/* the children's */
	uint32_t max_peers, npeers;	/* npeers under ctx lock */
	uint32_t tab_mask;		/* both tables: 2 x max_peers slots */
	struct gz_vb_child *_Atomic *by_where;
	struct gz_vb_child *_Atomic *by_qpn;	/* by the child's own qpn */
	struct gz_vb_child *last;	/* the poster's: the last one used */
	uint32_t wiring;		/* children awaiting a REP (ctx lock) */
	struct gz_vb_rd *next;		/* ctx->rds */
};

static inline struct gz_vb_rd *gz_vb_rd_of(struct genzio_qp *q)
{
	return container_of(q, struct gz_vb_rd, q.base.pub);
}

int gz_vb_rd_create(struct genzio_pd *pd, const struct genzio_qp_attr *a,
		    struct genzio_qp **qp);
void gz_vb_rd_destroy(struct gz_vb_rd *rd);
/* The receive side of an RD queue pair's completion (verbs_rd.c). */
void gz_vb_rd_recv_done(struct gz_vb_rd *rd, const struct ibv_wc *w,
			uint64_t low, struct genzio_wc *o);
/* The child to @w, or NULL. */
struct gz_vb_child *gz_vb_rd_child_find(struct gz_vb_rd *rd,
					const struct gz_vb_where *w);
/* Under @c's lock, @c in ERR: no poster is inside its lock-free path, and
 * none enters it (it sees ERR). 0, or -ETIMEDOUT (a poster stopped). */
int gz_vb_child_quiet(struct gz_vb_child *c);
/* The child whose own queue pair is @qpn, or NULL. */
struct gz_vb_child *gz_vb_rd_child_by_qpn(struct gz_vb_rd *rd, uint32_t qpn);
/* Under the ctx lock: the child to @w (component @gcid), made (and asked
 * for, if @initiate) when there is none. NULL: -errno in *@err. */
struct gz_vb_child *gz_vb_rd_child_get(struct gz_vb_rd *rd,
				       const struct gz_vb_where *w,
				       uint32_t gcid, int initiate, int *err);

/* verbs_wire.c. Drive RD connections: take wire-up messages, resend what
 * got no answer. @wait: take the ctx lock (else give up if it is held).
 * Return: ms until a timer is due, or -1 for none. */
int gz_vb_rd_progress(struct gz_vb_ctx *ctx, int wait);
/* verbs_ud.c, under the ctx lock: the wire-up UD queue pair of a new RD
 * qp, and its end; receive buffer @i posted (again); RESET to RTS with
 * every receive posted (0 or -errno). */
int gz_vb_wire_open(struct gz_vb_rd *rd);
void gz_vb_wire_close(struct gz_vb_rd *rd);
void gz_vb_wire_recv_post(struct gz_vb_rd *rd, uint32_t i);
int gz_vb_wire_restart(struct gz_vb_rd *rd);
/* Under the ctx lock and @c's lock: ask @c's peer to connect. */
void gz_vb_wire_ask(struct gz_vb_child *c);
/* Under @c's lock: @c failed with @status before it was up; what is
 * parked completes in error. */
void gz_vb_child_fail(struct gz_vb_child *c, uint32_t status);

int gz_vb_ah_create(struct genzio_pd *pd, uint32_t gcid, const uint8_t *a,
		    size_t len, struct genzio_ah **ah);
void gz_vb_ah_destroy(struct genzio_ah *ah);

#endif /* GZ_PROVIDERS_VERBS_VERBS_H */
