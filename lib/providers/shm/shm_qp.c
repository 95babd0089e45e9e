// SPDX-License-Identifier: MIT
/*
 * Queue pairs: create, connect, destroy. A queue pair is published to
 * peers as an entry of our component file (struct gz_shm_qpent) whose
 * qpn carries a per-slot generation: a peer still holding the number of a
 * destroyed queue pair never reaches its successor in that slot.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "providers/shm/shm.h"

static uint32_t qpn_next(struct gz_shm_ctx *ctx, uint32_t slot)
{
	uint32_t gen = (ctx->qp_gen[slot] + 1u) & GZ_SHM_QP_GEN_MASK;

	if (!gen)
		gen = 1;
	ctx->qp_gen[slot] = (uint16_t)gen;
	return gen << GZ_SHM_QP_BITS | slot;
}

/* The receive ring lives in data space: senders claim from it. */
static int rq_create(struct gz_shm_qp *qp, const struct genzio_qp_attr *attr)
{
	uint32_t nrq = gz_roundup_pow2(attr->rq_depth ? attr->rq_depth : 1);
	uint32_t nstage;
	void *rq;
	int ret;

	qp->max_recv_sge = attr->max_recv_sge;
	qp->rq_stride = (uint32_t)gz_align_up(
		sizeof(struct gz_xdm_rqe) +
			attr->max_recv_sge * sizeof(struct gz_xdm_sge),
		64);
	qp->rq_mask = nrq - 1;
	qp->rq_cap = attr->rq_depth;
	qp->rq_fin = calloc(nrq, 1);
	qp->rq_priv = calloc(nrq, sizeof(*qp->rq_priv));
	nstage = nrq < GZ_SHM_STAGE_SLOTS ? nrq : GZ_SHM_STAGE_SLOTS;
	qp->stage_mask = nstage - 1;
	qp->stage_slot = GZ_SHM_STAGE_AREA / nstage;
	if (qp->stage_slot > GZ_SHM_STAGE_MAX)
		qp->stage_slot = GZ_SHM_STAGE_MAX;
	qp->stage_sge = calloc((size_t)nstage * (qp->max_recv_sge ? : 1),
			       sizeof(*qp->stage_sge));
	if (!qp->rq_fin || !qp->rq_priv || !qp->stage_sge)
		return -ENOMEM;
	qp->rq_seg_len = GZ_SHM_QHDR + (uint64_t)nrq * qp->rq_stride;
	ret = gz_shm_qseg_create(qp->ctx, qp->rq_seg_len, &qp->rq_seg, &rq);
	if (ret)
		return ret;
	qp->rq = rq;
	return 0;
}

static void qp_free(struct gz_shm_qp *qp)
{
	free(qp->stage_sge);
	free(qp->rq_priv);
	free(qp->rq_fin);
	free(qp->park);
	free(qp);
}

/* Fill our entry in the component file, then its number (release pairs
 * with the acquire in gz_shm_qpent_read()): a peer that sees the number
 * sees the rest of the entry. */
static void qp_publish(struct gz_shm_qp *qp)
{
	struct gz_shm_qpent *e = &qp->ctx->comp->qp[qp->slot];

	qp->seq = 2;
	__atomic_store_n(&e->domain, qp->domain, __ATOMIC_RELEASE);
	__atomic_store_n(&e->type, qp->base.pub.qp_type, __ATOMIC_RELEASE);
	__atomic_store_n(&e->peer_gcid, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&e->peer_qpn, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&e->peer_inc, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&e->rq_seg, qp->rq_seg, __ATOMIC_RELEASE);
	__atomic_store_n(&e->rq_mask, qp->rq_mask, __ATOMIC_RELEASE);
	__atomic_store_n(&e->rq_stride, qp->rq_stride, __ATOMIC_RELEASE);
	__atomic_store_n(&e->rcq_seg, qp->rcq->seg, __ATOMIC_RELEASE);
	__atomic_store_n(&e->rcq_mask, qp->rcq->ring.mask, __ATOMIC_RELEASE);
	atomic_store_explicit(&e->id, GZ_SHM_ID(qp->base.pub.qp_num, qp->seq),
			      memory_order_release);
}

int gz_shm_qp_create(struct genzio_pd *pd, const struct genzio_qp_attr *attr,
		     struct genzio_qp **out)
{
	struct gz_shm_ctx *ctx = to_shm_ctx(pd->ctx);
	struct gz_shm_qp *qp;
	uint32_t slot = 0;
	int ret;

	ret = gz_qp_slot_take((void *_Atomic const *)ctx->qp, GZ_SHM_MAX_QP,
			      &ctx->next_qp_slot, &slot);
	if (ret)
		return ret;
	qp = calloc(1, sizeof(*qp));
	if (!qp)
		return -ENOMEM;
	qp->ctx = ctx;
	qp->slot = slot;
	qp->park = calloc(GZ_SHM_PARKED, sizeof(*qp->park));
	ret = qp->park ? rq_create(qp, attr) : -ENOMEM;
	if (ret)
		goto free_qp;
	ret = gz_shm_lane_take(ctx, &qp->lane);
	if (ret)
		goto destroy_rq;
	qp->rdm_timeout_ns = (uint64_t)(attr->comp_mask &
						GENZIO_QP_ATTR_RDM_TIMEOUT ?
					attr->rdm_timeout_us :
					GZ_SHM_RDM_TIMEOUT_US) * 1000u;
	atomic_flag_clear(&qp->park_lock);
	qp->base.pub.post_send = gz_shm_post_send;
	qp->base.pub.post_recv = gz_shm_post_recv;
	qp->base.pub.user_context = attr->user_context;
	qp->base.pub.context = pd->ctx;
	qp->base.pub.qp_num = qpn_next(ctx, slot);
	qp->base.pub.qp_type = attr->qp_type;
	qp->scq = container_of(attr->send_cq, struct gz_shm_cq, base.pub);
	qp->rcq = container_of(attr->recv_cq, struct gz_shm_cq, base.pub);
	qp->scq->users++;
	qp->rcq->users++;
	qp->max_sge = attr->max_send_sge;
	qp->max_inline = attr->max_inline;
	qp->lkeys = pd->ctx->lkeys;
	qp->max_mr = pd->ctx->attr.max_mr;
	qp->domain = pd->key_domain;
	atomic_store_explicit(&qp->rid, GZ_SHM_RID_NONE, memory_order_relaxed);
	atomic_store_explicit(&qp->state, attr->qp_type == GENZIO_QPT_RD ?
						  GENZIO_QPS_RTS :
						  GENZIO_QPS_RESET,
			      memory_order_relaxed);
	atomic_store_explicit(&ctx->qp[slot], qp, memory_order_release);
	qp_publish(qp);
	*out = &qp->base.pub;
	return 0;

destroy_rq:
	gz_shm_qseg_destroy(ctx, qp->rq_seg, qp->rq, qp->rq_seg_len);
free_qp:
	qp_free(qp);
	return ret;
}

int gz_shm_qp_stop(struct genzio_qp *pub)
{
	struct gz_shm_qp *qp = container_of(pub, struct gz_shm_qp, base.pub);
	struct gz_shm_ctx *ctx = qp->ctx;

	/* Peers stop finding it, our pollers stop using it. A sender that
	 * got past the number may still be writing into our receive
	 * buffers: like verbs, nothing lands after destroy (the core waits
	 * for it with gz_shm_quiesce, without the context lock). */
	/* no fatal error may publish us again (announce): stopped first,
	 * and no poller still inside one */
	if (atomic_exchange(&qp->state, GZ_SHM_QPS_STOPPED) == GENZIO_QPS_ERR)
		atomic_fetch_sub(&qp->rcq->err_qps, 1);
	gz_shm_progress_quiesce(ctx);
	atomic_store_explicit(&ctx->comp->qp[qp->slot].id, 0,
			      memory_order_release);
	atomic_store_explicit(&ctx->qp[qp->slot], NULL, memory_order_seq_cst);
	return 1;
}

void gz_shm_qp_destroy(struct genzio_qp *pub)
{
	struct gz_shm_qp *qp = container_of(pub, struct gz_shm_qp, base.pub);
	struct gz_shm_ctx *ctx = qp->ctx;

	gz_shm_cq_quiesce(qp->rcq);
	gz_shm_cq_quiesce(qp->scq);
	gz_shm_park_flush(qp);
	if (qp->peer)
		gz_shm_peer_put(qp->peer);
	qp->scq->users--;
	qp->rcq->users--;
	gz_shm_lane_give(ctx, qp->lane);
	gz_shm_qseg_destroy(ctx, qp->rq_seg, qp->rq, qp->rq_seg_len);
	if (qp->stage)
		gz_shm_qseg_destroy(ctx, qp->stage_seg, qp->stage,
				    gz_shm_stage_len(qp));
	qp_free(qp);
}
