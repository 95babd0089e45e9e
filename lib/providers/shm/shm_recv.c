// SPDX-License-Identifier: MIT
/*
 * Receive side of two-sided messages: posted receive buffers are a ring in
 * our data space, which senders claim with a CAS (shm_msg.c). The owner
 * keeps its own copy of what it posted (wr_id per slot) and trusts the
 * ring only as far as a sender's claim goes.
 */
#include <errno.h>
#include <string.h>

#include "providers/shm/shm.h"

static inline struct gz_xdm_rqe *rqe_at(const struct gz_shm_qp *qp,
					uint32_t idx)
{
	return (struct gz_xdm_rqe *)((uint8_t *)qp->rq + GZ_SHM_QHDR +
				     (size_t)(idx & qp->rq_mask) *
					     qp->rq_stride);
}

/* Fill @e from @wr: 0, or -EINVAL for a bad sge (nothing published).
 * *@len is what the buffers hold. */
static int fill(struct gz_shm_qp *qp, struct gz_xdm_rqe *e,
		const struct genzio_recv_wr *wr, uint64_t *len)
{
	*len = 0;
	for (int i = 0; i < wr->num_sge; i++) {
		const struct genzio_sge *s = &wr->sg_list[i];
		struct gz_lkey_snap k;

		if (GZ_UNLIKELY(!gz_lkey_get(qp->lkeys, qp->max_mr, s->lkey,
					     qp->domain, s->addr, s->length,
					     GENZIO_ACCESS_LOCAL_WRITE, &k) ||
				k.seg == GZ_SEG_NONE))
			return -EINVAL;
		e->sge[i].seg = k.seg;
		e->sge[i].len = s->length;
		e->sge[i].off = s->addr - k.seg_va;
		*len += s->length;
	}
	e->wr_id = wr->wr_id;
	e->num_sge = (uint32_t)wr->num_sge;
	return 0;
}

int gz_shm_post_recv(struct genzio_qp *pub, struct genzio_recv_wr *wr,
		     struct genzio_recv_wr **bad_wr)
{
	struct gz_shm_qp *qp = container_of(pub, struct gz_shm_qp, base.pub);
	uint32_t first = atomic_load_explicit(&qp->rq_posted,
					      memory_order_relaxed);
	uint32_t prod = first;
	int ret = 0;

	for (; wr; wr = wr->next) {
		uint64_t len;

		if (GZ_UNLIKELY((uint32_t)wr->num_sge > qp->max_recv_sge ||
				(wr->num_sge && !wr->sg_list))) {
			ret = -EINVAL;
			break;
		}
		/* A slot is free once its completion has been polled: a
		 * sender reads the entry until it writes that completion. */
		if (GZ_UNLIKELY(prod - atomic_load_explicit(
					       &qp->rq_done,
					       memory_order_acquire) >=
				qp->rq_cap)) {
			ret = -EAGAIN;
			break;
		}
		ret = fill(qp, rqe_at(qp, prod), wr, &len);
		if (GZ_UNLIKELY(ret))
			break;
		/* what the completion will report comes from here, not from
		 * the ring senders read */
		qp->rq_priv[prod & qp->rq_mask].wr_id = wr->wr_id;
		qp->rq_priv[prod & qp->rq_mask].len = len;
		prod++;
	}
	if (prod != first) {
		/* Release pairs with the acquire in gz_shm_rq_slot_take(),
		 * which may run on the thread that polls the cq: what we
		 * wrote in rq_priv is seen there. */
		atomic_store_explicit(&qp->rq_posted, prod,
				      memory_order_release);
		/* Release pairs with the sender's acquire of prod: the
		 * entries are written before they can be claimed. */
		atomic_store_explicit(&qp->rq->prod, prod,
				      memory_order_release);
	}
	/* in ERR, a receive posted completes at once, flushed (verbs) */
	if (GZ_UNLIKELY(atomic_load_explicit(&qp->state, memory_order_relaxed) ==
			GENZIO_QPS_ERR))
		gz_shm_rq_flush(qp);
	if (ret)
		*bad_wr = wr;
	return ret;
}

/* Complete receive slot @rslot, which we claimed, with FLUSHED: the
 * entry a sender would write, written by us. 0, or -EAGAIN (cq full:
 * it is in error now, as when a sender finds it full). */
static int recv_flushed(struct gz_shm_qp *qp, uint32_t rslot)
{
	struct gz_shm_cq *cq = qp->rcq;
	struct gz_xdm_cqe *e;
	uint32_t idx;

	if (gz_ring_reserve(&cq->ring, &idx)) {
		atomic_store_explicit(&cq->hdr->notify.overrun, 1,
				      memory_order_relaxed);
		return -EAGAIN;
	}
	e = gz_ring_slot(&cq->ring, idx);
	memset(e->result, 0, sizeof(e->result));
	e->status = GENZIO_WC_FLUSHED;
	e->opcode = GENZIO_WC_RECV;
	e->byte_len = 0;
	e->context = 0;		/* poll reports what we posted */
	e->qp_num = qp->base.pub.qp_num;
	e->src_gcid = 0;
	e->imm_data = 0;
	e->wc_flags = 0;
	e->cidx = (uint16_t)rslot;
	gz_ring_cqe_publish(&cq->ring, idx, e);
	if (cq->notify_fd >= 0)
		gz_shm_cq_notify(cq->hdr, NULL, cq->notify_fd);
	return 0;
}

void gz_shm_rq_flush(struct gz_shm_qp *qp)
{
	uint32_t posted = atomic_load_explicit(&qp->rq_posted,
					       memory_order_relaxed);
	uint32_t c = atomic_load_explicit(&qp->rq->cons, memory_order_acquire);

	/* senders claim with a CAS on cons: claim the rest the same way */
	do {
		/* nothing left; or a cons no sender could have made */
		if ((int32_t)(posted - c) <= 0 || posted - c > qp->rq_cap)
			return;
	} while (!atomic_compare_exchange_weak_explicit(
		&qp->rq->cons, &c, posted, memory_order_acq_rel,
		memory_order_acquire));
	for (; c != posted; c++)
		if (recv_flushed(qp, c))
			return;
}

/*
 * Senders finish receive slots in any order (several may deliver at
 * once), but the owner reposts them in ring order: a slot is given back
 * only when every slot before it is done too. @rslot came from an entry
 * a sender wrote: only a slot that is outstanding, and not reported
 * already, counts.
 */
int gz_shm_rq_slot_take(struct gz_shm_qp *qp, uint32_t rslot,
			uint64_t *wr_id, uint64_t *len)
{
	uint32_t d = atomic_load_explicit(&qp->rq_done, memory_order_relaxed);
	uint32_t posted = atomic_load_explicit(&qp->rq_posted,
					       memory_order_acquire);
	uint32_t i = rslot & qp->rq_mask;

	if (((rslot - d) & qp->rq_mask) >= posted - d || qp->rq_fin[i])
		return 0;
	/* read before the slot can be reposted (rq_done, below) */
	*wr_id = qp->rq_priv[i].wr_id;
	*len = qp->rq_priv[i].len;
	qp->rq_fin[i] = 1;
	while (d != posted && qp->rq_fin[d & qp->rq_mask]) {
		qp->rq_fin[d & qp->rq_mask] = 0;
		d++;
	}
	/* Release pairs with the acquire in gz_shm_post_recv(). */
	atomic_store_explicit(&qp->rq_done, d, memory_order_release);
	return 1;
}
