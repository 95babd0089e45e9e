// SPDX-License-Identifier: MIT
/*
 * verbs provider: RC queue pairs. Create makes the ibv_qp and moves it to
 * INIT; connect takes it through RTR to RTS from the peer's address, as
 * rdma-core's rc_pingpong does with the same fields.
 *
 * Timers, chosen here and documented in genzio_verbs(7):
 *  - RNR: the receiver's min_rnr_timer times the sender's rnr_retry is how
 *    long a SEND waits for a receive buffer. The sender wants its own
 *    rdm_timeout_us, so its address carries the RNR timer it asks for and
 *    the receiver sets that at RTR; the sender retries 6 times (7, "for
 *    ever", when even the longest timer cannot reach the timeout).
 *  - ACK: a dead peer is reported (RETRY_EXC) after about
 *    $GENZIO_VERBS_TIMEOUT_MS (default 2000; verbs_device.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "providers/verbs/verbs.h"
#include "sys/sys.h"

#define RDM_TIMEOUT_DEFAULT_US 100000
#define RNR_RETRIES 6
#define RD_ATOMIC_MAX 16

/* IB's RNR NAK timer codes 1..31 in microseconds (0 means 655.36 ms). */
static const uint32_t rnr_us[32] = {
	655360, 10, 20, 30, 40, 60, 80, 120, 160, 240, 320, 480, 640, 960,
	1280, 1920, 2560, 3840, 5120, 7680, 10240, 15360, 20480, 30720,
	40960, 61440, 81920, 122880, 163840, 245760, 327680, 491520,
};

/* The timer code whose RNR_RETRIES waits cover @us. Never retry count 7,
 * verbs' "for ever" (a SEND must not wait without end): past 6 x 655.36
 * ms the wait is capped there (genzio_verbs(7)). */
static void rnr_for(uint32_t us, uint8_t *code, uint8_t *retry)
{
	uint32_t per = us / RNR_RETRIES + 1;

	*retry = RNR_RETRIES;
	*code = 0;		/* 655.36 ms, the longest */
	for (uint8_t c = 1; c < 32; c++)
		if (rnr_us[c] >= per) {
			*code = c;
			return;
		}
}

void gz_vb_qp_failed(struct gz_vb_qp *qp, uint32_t status)
{
	struct genzio_event e = { .type = GENZIO_EVENT_QP_ERR,
				  .gcid = qp->peer_gcid,
				  .qp_num = qp->base.pub.qp_num,
				  .status = status };

	if (atomic_exchange(&qp->told, 1))
		return;
	atomic_store(&qp->err_status, status);
	atomic_store(&qp->state, GENZIO_QPS_ERR);
	/* an RD queue pair stays RTS when one of its connections fails:
	 * that is no QP_ERR of the user's */
	if (qp->role != GZ_VB_CHILD)
		gz_event_push(&qp->ctx->base, &e);
	/* no answer for the whole retry budget: the peer is gone as far as
	 * this queue pair can tell (a process killed, a link down) */
	if (status == GENZIO_WC_RETRY_EXC) {
		e.type = GENZIO_EVENT_PEER_DEAD;
		gz_event_push(&qp->ctx->base, &e);
	}
}

void gz_vb_qp_reflush(struct gz_vb_qp *qp)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_ERR };

	ibv_modify_qp(qp->ib, &a, IBV_QP_STATE);
}

uint8_t gz_vb_rd_atomic(int dev_max)
{
	return dev_max < RD_ATOMIC_MAX ? (uint8_t)(dev_max > 0 ? dev_max : 1) :
					 RD_ATOMIC_MAX;
}

static int to_init(struct gz_vb_qp *qp)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_INIT,
		.port_num = qp->ctx->port,
		/* what a peer may do is the MR's business, as in perftest */
		.qp_access_flags = IBV_ACCESS_REMOTE_WRITE |
				   IBV_ACCESS_REMOTE_READ |
				   IBV_ACCESS_REMOTE_ATOMIC,
	};
	int ret = ibv_modify_qp(qp->ib, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
				IBV_QP_PORT | IBV_QP_ACCESS_FLAGS);

	return ret ? gz_err(-ret, "to INIT: %s", strerror(ret)) : 0;
}

uint64_t gz_vb_tag_next(struct gz_vb_ctx *ctx, uint32_t slot)
{
	ctx->qp_gen[slot] = (uint16_t)((ctx->qp_gen[slot] + 1) & GZ_VB_GEN_MASK);
	return (uint64_t)slot << GZ_VB_SLOT_SHIFT |
	       (uint64_t)ctx->qp_gen[slot] << GZ_VB_GEN_SHIFT;
}

void gz_vb_qp_free(struct gz_vb_qp *qp)
{
	if (qp->ib)
		ibv_destroy_qp(qp->ib);
	if (qp->scratch_mr)
		ibv_dereg_mr(qp->scratch_mr);
	free(qp->scratch);
	free(qp->sq);
	free(qp->rq);
	free(qp);
}

/* Rings and the scratch area, sized from @a. */
static int rings_alloc(struct gz_vb_qp *qp, struct genzio_pd *pd,
		       const struct genzio_qp_attr *a)
{
	uint32_t sq = gz_roundup_pow2(a->sq_depth);
	uint32_t rq = gz_roundup_pow2(a->rq_depth ? a->rq_depth : 1);

	qp->sq_mask = sq - 1;
	qp->rq_mask = rq - 1;
	qp->sq_depth = a->sq_depth;
	qp->rq_depth = a->rq_depth;
	qp->sq = calloc(sq, sizeof(*qp->sq));
	qp->rq = calloc(rq, sizeof(*qp->rq));
	/* 8 bytes for an atomic's old value, or an inline READ */
	qp->scratch_stride = (uint32_t)gz_align_up(a->max_inline > 8 ?
						    a->max_inline : 8, 8);
	qp->scratch = aligned_alloc(GZ_CACHELINE,
				    gz_align_up((uint64_t)sq *
						qp->scratch_stride,
						GZ_CACHELINE));
	if (!qp->sq || !qp->rq || !qp->scratch)
		return -ENOMEM;
	qp->scratch_mr = ibv_reg_mr(gz_vb_pd_of(pd)->ib, qp->scratch,
				    (size_t)sq * qp->scratch_stride,
				    IBV_ACCESS_LOCAL_WRITE);
	if (!qp->scratch_mr)
		return gz_err(errno ? -errno : -ENOMEM, "scratch ibv_reg_mr: %s",
			      strerror(errno));
	return 0;
}

static uint32_t at_least1(uint32_t v)
{
	return v ? v : 1;
}

int gz_vb_qp_init(struct gz_vb_qp *qp, struct genzio_pd *pd,
		  const struct genzio_qp_attr *a, struct ibv_srq *srq,
		  uint32_t slot)
{
	struct gz_vb_ctx *ctx = gz_vb_ctx_of(pd->ctx);
	uint32_t psn;
	int ret;

	qp->ctx = ctx;
	qp->pd = gz_vb_pd_of(pd);
	ret = rings_alloc(qp, pd, a);
	if (ret)
		return ret;
	qp->scq = container_of(a->send_cq, struct gz_vb_cq, base.pub);
	qp->rcq = container_of(a->recv_cq, struct gz_vb_cq, base.pub);
	{
		struct ibv_qp_init_attr ia = {
			.qp_context = qp,
			.send_cq = qp->scq->ib,
			.recv_cq = qp->rcq->ib,
			.srq = srq,
			.qp_type = IBV_QPT_RC,
			.cap = { .max_send_wr = a->sq_depth,
				 .max_recv_wr = srq ? 0 : at_least1(a->rq_depth),
				 .max_send_sge = at_least1(a->max_send_sge),
				 .max_recv_sge = srq ? 0 :
						 at_least1(a->max_recv_sge),
				 .max_inline_data = a->max_inline },
		};

		qp->ib = ibv_create_qp(qp->pd->ib, &ia);
		if (!qp->ib)
			return gz_err(errno ? -errno : -ENOMEM,
				      "ibv_create_qp: %s", strerror(errno));
	}
	ret = to_init(qp);
	if (!ret)
		ret = gz_sys_random(&psn, sizeof(psn));
	if (ret)
		return ret;
	qp->psn = psn & 0xffffff;
	qp->max_sge = a->max_send_sge;
	qp->max_recv_sge = a->max_recv_sge;
	qp->max_inline = a->max_inline;
	qp->unsig_max = a->sq_depth > 1 ? a->sq_depth / 2 : 1;
	qp->rdm_timeout_us = a->comp_mask & GENZIO_QP_ATTR_RDM_TIMEOUT ?
			     a->rdm_timeout_us : RDM_TIMEOUT_DEFAULT_US;
	rnr_for(qp->rdm_timeout_us, &qp->rnr_code, &qp->rnr_retry);
	qp->slot = slot;
	atomic_init(&qp->tag, gz_vb_tag_next(ctx, slot));
	atomic_init(&qp->state, GENZIO_QPS_RESET);
	return 0;
}

int gz_vb_qp_create(struct genzio_pd *pd, const struct genzio_qp_attr *a,
		    struct genzio_qp **out)
{
	struct gz_vb_ctx *ctx = gz_vb_ctx_of(pd->ctx);
	struct gz_vb_qp *qp;
	uint32_t slot = 0;
	int ret;

	if (a->qp_type == GENZIO_QPT_RD)
		return gz_vb_rd_create(pd, a, out);
	ret = gz_qp_slot_take((void *_Atomic const *)ctx->qp, GZ_VB_MAX_QP,
			      &ctx->next_slot, &slot);
	if (ret)
		return ret;
	qp = calloc(1, sizeof(*qp));
	if (!qp)
		return -ENOMEM;
	ret = gz_vb_qp_init(qp, pd, a, NULL, slot);
	if (ret) {
		gz_vb_qp_free(qp);
		return ret;
	}
	qp->base.pub.post_send = gz_vb_post_send;
	qp->base.pub.post_recv = gz_vb_post_recv;
	qp->base.pub.user_context = a->user_context;
	qp->base.pub.context = pd->ctx;
	qp->base.pub.qp_num = qp->ib->qp_num;
	qp->base.pub.qp_type = GENZIO_QPT_RC;
	qp->scq->users++;
	qp->rcq->users++;
	atomic_store_explicit(&ctx->qp[slot], qp, memory_order_release);
	*out = &qp->base.pub;
	return 0;
}

/*
 * Our part of an address (little-endian, GZ_VB_ADDR_LEN bytes):
 *   0 port  1 MTU (enum ibv_mtu)  2 RNR timer wanted  3 link layer
 *   4-7 QPN  8-11 PSN  12-13 LID  14 READs and atomics we take in flight
 *   15 1: an RD queue pair's (QPN: its wire-up UD one), else 0
 *   16-31 GID  32-39 sync word  40-43 its rkey  44-47 zero
 */
int gz_vb_qp_addr(struct genzio_qp *pub, uint8_t *b, size_t len)
{
	struct gz_vb_qp *qp = gz_vb_qp_of(pub);
	struct gz_vb_ctx *ctx = qp->ctx;

	if (len < GZ_VB_ADDR_LEN)
		return -ENOSPC;
	memset(b, 0, GZ_VB_ADDR_LEN);
	b[0] = ctx->port;
	b[1] = (uint8_t)ctx->mtu;
	b[2] = qp->rnr_code;
	b[3] = ctx->link_layer;
	gz_le32_put(b + 4, qp->ib->qp_num);
	gz_le32_put(b + 8, qp->psn);
	b[12] = (uint8_t)ctx->lid;
	b[13] = (uint8_t)(ctx->lid >> 8);
	b[14] = gz_vb_rd_atomic(ctx->dev.max_qp_rd_atom);
	b[15] = qp->role == GZ_VB_RD;
	memcpy(b + 16, ctx->gid.raw, 16);
	gz_le64_put(b + 32, (uintptr_t)&qp->pd->sync_word);
	gz_le32_put(b + 40, qp->pd->sync_mr->rkey);
	return GZ_VB_ADDR_LEN;
}

static int zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

/* A peer's address is input: every field checked before it is used. */
int gz_vb_peer_parse(const struct gz_vb_ctx *ctx, const uint8_t *b,
		     size_t len, struct gz_vb_peer *p)
{
	if (len != GZ_VB_ADDR_LEN)
		return gz_err(-EINVAL, "a verbs address has %d bytes after its "
			      "header, not %zu", GZ_VB_ADDR_LEN, len);
	p->mtu = b[1];
	p->rnr_code = b[2];
	p->link_layer = b[3];
	p->qpn = gz_le32_get(b + 4);
	p->psn = gz_le32_get(b + 8);
	p->lid = (uint16_t)(b[12] | b[13] << 8);
	p->rd_atomic = b[14];
	memcpy(p->gid.raw, b + 16, 16);
	p->sync_addr = gz_le64_get(b + 32);
	p->sync_rkey = gz_le32_get(b + 40);
	p->rd = b[15];
	if (b[15] > 1 || !zero(b + 44, 4))
		return gz_err(-EINVAL, "malformed verbs address (byte 15 is "
			      "0 or 1, 44-47 are zero)");
	return gz_vb_peer_check(ctx, p);
}

int gz_vb_peer_check(const struct gz_vb_ctx *ctx, const struct gz_vb_peer *p)
{
	if (p->mtu < IBV_MTU_256 || p->mtu > IBV_MTU_4096 ||
	    p->rnr_code > 31 || p->qpn > 0xffffff || !p->qpn ||
	    p->psn > 0xffffff || !p->rd_atomic || p->rd_atomic > RD_ATOMIC_MAX)
		return gz_err(-EINVAL, "malformed verbs address (mtu %u, rnr "
			      "%u, qpn %#x, psn %#x, rd_atomic %u)", p->mtu,
			      p->rnr_code, p->qpn, p->psn, p->rd_atomic);
	if (p->link_layer != ctx->link_layer)
		return gz_err(-EINVAL, "the peer is on %s, we are on %s",
			      p->link_layer == IBV_LINK_LAYER_ETHERNET ?
			      "RoCE" : "InfiniBand",
			      ctx->link_layer == IBV_LINK_LAYER_ETHERNET ?
			      "RoCE" : "InfiniBand");
	if (ctx->link_layer == IBV_LINK_LAYER_ETHERNET ? zero(p->gid.raw, 16) :
	    !p->lid || p->lid >= 0xc000)
		return gz_err(-EINVAL, "the peer's %s is not one to reach "
			      "(GID all zero, or LID %#x)",
			      ctx->link_layer == IBV_LINK_LAYER_ETHERNET ?
			      "GID" : "LID", p->lid);
	return 0;
}

static int to_rtr(struct gz_vb_qp *qp, const struct gz_vb_peer *p)
{
	struct gz_vb_ctx *ctx = qp->ctx;
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_RTR,
		.path_mtu = p->mtu < ctx->mtu ? p->mtu : ctx->mtu,
		.dest_qp_num = p->qpn,
		.rq_psn = p->psn,
		.max_dest_rd_atomic = gz_vb_rd_atomic(ctx->dev.max_qp_rd_atom),
		.min_rnr_timer = p->rnr_code,
		.ah_attr = { .dlid = p->lid, .port_num = ctx->port },
	};
	int ret;

	if (ctx->link_layer == IBV_LINK_LAYER_ETHERNET) {
		/* RoCE is routed by GID, always */
		a.ah_attr.is_global = 1;
		a.ah_attr.grh.dgid = p->gid;
		a.ah_attr.grh.sgid_index = (uint8_t)ctx->gid_index;
		a.ah_attr.grh.hop_limit = 64;
	}
	ret = ibv_modify_qp(qp->ib, &a, IBV_QP_STATE | IBV_QP_AV |
			    IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
			    IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC |
			    IBV_QP_MIN_RNR_TIMER);
	return ret ? gz_err(-ret, "to RTR (peer qpn %#x): %s%s", p->qpn,
			    strerror(ret), ret == EINVAL ? " (peer GID not "
			    "reachable from this port?)" : "") : 0;
}

/* In flight: what we may issue, bounded by what the peer takes. */
static int to_rts(struct gz_vb_qp *qp, const struct gz_vb_peer *p)
{
	struct gz_vb_ctx *ctx = qp->ctx;
	uint8_t mine = gz_vb_rd_atomic(ctx->dev.max_qp_init_rd_atom);
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_RTS,
		.timeout = ctx->ack_timeout,
		.retry_cnt = ctx->retry_cnt,
		.rnr_retry = qp->rnr_retry,
		.sq_psn = qp->psn,
		.max_rd_atomic = mine < p->rd_atomic ? mine : p->rd_atomic,
	};
	int ret = ibv_modify_qp(qp->ib, &a, IBV_QP_STATE | IBV_QP_TIMEOUT |
				IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
				IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC);

	return ret ? gz_err(-ret, "to RTS: %s", strerror(ret)) : 0;
}

/* Back to RESET and INIT: verbs drops what is still queued. */
static int recycle(struct gz_vb_qp *qp)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_RESET };
	int ret = ibv_modify_qp(qp->ib, &a, IBV_QP_STATE);

	return ret ? gz_err(-ret, "to RESET: %s", strerror(ret)) : to_init(qp);
}

int gz_vb_qp_join(struct gz_vb_qp *qp, const struct gz_vb_peer *p,
		  uint32_t gcid)
{
	int ret = to_rtr(qp, p);

	if (!ret) {
		ret = to_rts(qp, p);
		if (ret)
			recycle(qp);
	}
	if (ret)
		return ret;
	qp->sync_addr = p->sync_addr;
	qp->sync_rkey = p->sync_rkey;
	qp->peer_gcid = gcid;
	atomic_store(&qp->told, 0);
	atomic_store(&qp->err_status, 0);
	return 0;
}

int gz_vb_qp_connect(struct genzio_qp *pub, uint32_t gcid, const uint8_t *b,
		     size_t len)
{
	struct gz_vb_qp *qp = gz_vb_qp_of(pub);
	struct gz_vb_peer p = { 0 };
	int ret;

	if (atomic_load(&qp->state) != GENZIO_QPS_RESET)
		return gz_err(-EISCONN, "queue pair %#x is connected (or in "
			      "ERR): genzio_qp_reset() first", pub->qp_num);
	ret = gz_vb_peer_parse(qp->ctx, b, len, &p);
	if (!ret && p.rd)
		ret = gz_err(-EINVAL, "an RD queue pair's address: an RC "
			     "queue pair connects to an RC one");
	if (!ret)
		ret = gz_vb_qp_join(qp, &p, gcid);
	if (ret)
		return ret;
	qp->peer_len = (uint32_t)gz_addr_build(qp->peer, pub->context->prov->addr_id,
					       gcid, b, len);
	atomic_store_explicit(&qp->state, GENZIO_QPS_RTS, memory_order_release);
	return 0;
}

void gz_vb_qp_query(struct genzio_qp *pub, struct genzio_qp_info *info)
{
	struct gz_vb_qp *qp = gz_vb_qp_of(pub);
	struct ibv_qp_init_attr ia;
	struct ibv_qp_attr a;

	/* verbs may have moved it to ERR before any completion said so */
	if (atomic_load(&qp->state) == GENZIO_QPS_RTS &&
	    !ibv_query_qp(qp->ib, &a, IBV_QP_STATE, &ia) &&
	    (a.qp_state == IBV_QPS_ERR || a.qp_state == IBV_QPS_SQE))
		gz_vb_qp_failed(qp, GENZIO_WC_GENERAL_ERR);
	info->state = atomic_load(&qp->state);
	info->err_status = info->state == GENZIO_QPS_ERR ?
			   atomic_load(&qp->err_status) : 0;
	if (info->state != GENZIO_QPS_RESET) {
		info->peer_addr_len = qp->peer_len;
		memcpy(info->peer_addr, qp->peer, qp->peer_len);
	}
}

/*
 * Unlike shm, whatever is still outstanding is dropped, not flushed
 * (GENZIO_CAP_RESET_FLUSHES is clear): verbs' move to RESET, legal from
 * any state, discards queued work and writes no completion for it, and
 * completions of the old connection still in the cqs are dropped at poll
 * (a new generation), so no user wr_id is reported twice.
 */
int gz_vb_qp_reset(struct genzio_qp *pub)
{
	struct gz_vb_qp *qp = gz_vb_qp_of(pub);
	struct gz_vb_ctx *ctx = qp->ctx;
	uint32_t psn;
	int ret = recycle(qp);

	if (ret) {	/* verbs' state is unknown now: ERR, and say so */
		atomic_store(&qp->err_status, GENZIO_WC_GENERAL_ERR);
		atomic_store(&qp->state, GENZIO_QPS_ERR);
		return ret;
	}
	/* pollers may hold the old tag: out of the slot, wait, back in */
	atomic_store_explicit(&ctx->qp[qp->slot], NULL, memory_order_release);
	gz_vb_cq_drain(qp);
	atomic_store(&qp->tag, gz_vb_tag_next(ctx, qp->slot));
	atomic_store(&qp->sq_tail, qp->sq_head);
	atomic_store(&qp->rq_tail, qp->rq_head);
	atomic_store(&qp->sig_head, qp->sq_head);
	atomic_store(&qp->stalled, 0);
	qp->unsig = 0;
	if (!gz_sys_random(&psn, sizeof(psn)))
		qp->psn = psn & 0xffffff;
	qp->peer_len = 0;
	atomic_store(&qp->told, 0);
	atomic_store(&qp->state, GENZIO_QPS_RESET);
	atomic_store_explicit(&ctx->qp[qp->slot], qp, memory_order_release);
	return 0;
}

void gz_vb_qp_destroy(struct genzio_qp *pub)
{
	struct gz_vb_qp *qp = gz_vb_qp_of(pub);

	if (qp->role == GZ_VB_RD) {
		gz_vb_rd_destroy(qp->rd);
		return;
	}
	atomic_store_explicit(&qp->ctx->qp[qp->slot], NULL,
			      memory_order_release);
	gz_vb_cq_drain(qp);
	qp->scq->users--;
	qp->rcq->users--;
	gz_vb_qp_free(qp);
}

/* Verbs-style names (genzio_verbs_port): the port's GID, and its LID on
 * InfiniBand or, on RoCE where verbs has none, our component ID. */
void gz_vb_verbs_port(struct genzio_context *base, struct genzio_verbs_port *p)
{
	struct gz_vb_ctx *ctx = gz_vb_ctx_of(base);

	memcpy(p->gid, ctx->gid.raw, 16);
	p->lid = ctx->link_layer == IBV_LINK_LAYER_ETHERNET ?
		 (uint16_t)ctx->cid : ctx->lid;
	p->link_layer = ctx->link_layer;
	p->mtu = (uint8_t)ctx->mtu;
}

/* The address of the peer @d names, as if it had sent its own: its path
 * MTU and READs in flight are what the program chose for this connection
 * (within ours), its RNR timer our default, its sync word unknown (SYNC
 * is no verbs op). Its GCID: the subnet as gcid_take() makes it when the
 * job set none (low 16 bits of the GID, or the LID), the CID on RoCE from
 * the LID field (genzio_verbs_port), on InfiniBand unknown: 0. */
int gz_vb_verbs_addr(struct genzio_context *base,
		     const struct genzio_verbs_dest *d, uint8_t *b,
		     size_t len, uint32_t *gcid)
{
	struct gz_vb_ctx *ctx = gz_vb_ctx_of(base);
	int roce = ctx->link_layer == IBV_LINK_LAYER_ETHERNET;
	uint8_t rnr, retry, mine = gz_vb_rd_atomic(ctx->dev.max_qp_rd_atom);
	struct gz_vb_peer p;

	if (len < GZ_VB_ADDR_LEN)
		return -ENOSPC;
	rnr_for(RDM_TIMEOUT_DEFAULT_US, &rnr, &retry);
	memset(b, 0, GZ_VB_ADDR_LEN);
	b[0] = ctx->port;
	b[1] = d->mtu && d->mtu < (uint8_t)ctx->mtu ? d->mtu : (uint8_t)ctx->mtu;
	b[2] = rnr;
	b[3] = ctx->link_layer;
	gz_le32_put(b + 4, d->qpn);
	gz_le32_put(b + 8, d->psn);
	if (!roce) {
		b[12] = (uint8_t)d->lid;
		b[13] = (uint8_t)(d->lid >> 8);
	}
	b[14] = d->rd_atomic && d->rd_atomic < mine ? d->rd_atomic : mine;
	memcpy(b + 16, d->gid, 16);
	if (gz_vb_peer_parse(ctx, b, GZ_VB_ADDR_LEN, &p))
		return -EINVAL;	/* said */
	if (roce && (d->lid >> 12))
		return gz_err(-EINVAL, "RoCE: LID %#x is no component ID "
			      "(genzio_verbs_port)", d->lid);
	*gcid = roce ? GENZIO_GCID((uint32_t)d->gid[14] << 8 | d->gid[15],
				   d->lid) :
		       GENZIO_GCID(d->lid, 0);
	return GZ_VB_ADDR_LEN;
}

int gz_vb_qp_psn_set(struct genzio_qp *pub, uint32_t psn)
{
	struct gz_vb_qp *qp = gz_vb_qp_of(pub);

	if (atomic_load(&qp->state) != GENZIO_QPS_RESET)
		return gz_err(-EISCONN, "queue pair %#x is connected (or in "
			      "ERR): genzio_qp_reset() first", pub->qp_num);
	qp->psn = psn & 0xffffff;
	return 0;
}
