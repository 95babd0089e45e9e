// SPDX-License-Identifier: MIT
/*
 * vfio provider: the receive queue. A posted receive is an entry in the
 * queue pair's receive ring in the slot (struct gz_bridge_rqe: buffers by
 * their offset in the data window) and a tail store; the engine takes
 * them in ring order for the messages it delivers (bridge_msg.c) and
 * completes each into the receive cq, its index as the completion's. We
 * keep what the completion reports (wr_id, the room posted) to ourselves:
 * the ring is the engine's to read, and a completion is matched to the
 * oldest receive outstanding or dropped.
 *
 * No lock, no allocation, no system call.
 */
#include <errno.h>
#include <string.h>

#include "providers/vfio/vfio.h"

/* A receive that could never be taken: -EINVAL (the fast path says
 * nothing: README). Its room in *@cap, its buffers' window offsets in
 * @off. */
static int recv_bad(const struct gz_vf_qp *qp, const struct genzio_recv_wr *wr,
		    uint64_t *cap, uint64_t off[GZ_VF_MAX_SGE])
{
	*cap = 0;
	if (wr->num_sge < 0 || (uint32_t)wr->num_sge > qp->max_recv_sge ||
	    (wr->num_sge && !wr->sg_list))
		return -EINVAL;
	for (int i = 0; i < wr->num_sge; i++) {
		const struct genzio_sge *s = &wr->sg_list[i];

		/* registered for local write, and in data space
		 * (GENZIO_CAP_RECV_ANY is clear) */
		if (!gz_lkey_ok(qp->lkeys, qp->max_mr, s->lkey, qp->domain,
				s->addr, s->length,
				GENZIO_ACCESS_LOCAL_WRITE) ||
		    !gz_vf_in_win(qp->ctx, s->addr, s->length, &off[i]))
			return -EINVAL;
		*cap += s->length;
	}
	return 0;
}

/* The ring's entry for @wr, its buffers at window offsets @off: what
 * the engine needs, nothing more (a wr_id is often a pointer). */
static void fill(struct gz_bridge_rqe *e, const struct genzio_recv_wr *wr,
		 const uint64_t off[GZ_VF_MAX_SGE])
{
	e->wr_id = 0;
	e->num_sge = (uint32_t)wr->num_sge;
	for (int i = 0; i < wr->num_sge; i++) {
		e->sge[i].seg = 0;
		e->sge[i].len = wr->sg_list[i].length;
		e->sge[i].off = off[i];
	}
}

int gz_vf_post_recv(struct genzio_qp *pub, struct genzio_recv_wr *wr,
		    struct genzio_recv_wr **bad)
{
	struct gz_vf_qp *qp = gz_vf_qp_of(pub);
	uint64_t tail =
	    atomic_load_explicit(&qp->rq_tail, memory_order_relaxed);
	uint64_t first = tail;
	int gone = atomic_load_explicit(&qp->flush, memory_order_acquire);
	int ret = 0;

	for (; wr; wr = wr->next) {
		uint64_t cap, off[GZ_VF_MAX_SGE];
		struct gz_vf_rwqe *r;

		if (GZ_UNLIKELY(ret = recv_bad(qp, wr, &cap, off)))
			break;
		/* an entry is the engine's until its completion is polled */
		if (GZ_UNLIKELY(
			tail - atomic_load_explicit(&qp->rq_head,
						    memory_order_acquire) >=
			qp->rq_ent)) {
			ret = -EAGAIN;
			break;
		}
		/* the device is gone: nothing is written (the slot may be
		 * another's), poll completes it FLUSHED */
		if (GZ_LIKELY(!gone))
			fill(gz_vslot_rqe(&qp->ctx->slot, qp->idx,
					  (uint32_t)tail),
			     wr, off);
		r = &qp->rwqe[tail & (qp->rq_ent - 1)];
		r->wr_id = wr->wr_id;
		r->cap = cap > UINT32_MAX ? UINT32_MAX : (uint32_t)cap;
		tail++;
	}
	if (tail != first) {
		/* ours before the poller's acquire, the entries before the
		 * engine's */
		atomic_store_explicit(&qp->rq_tail, tail, memory_order_release);
		if (GZ_LIKELY(!gone))
			gz_vslot_rq_ring(&qp->ctx->slot, qp->idx,
					 (uint32_t)tail);
	}
	if (GZ_UNLIKELY(ret))
		*bad = wr;
	return ret;
}

int gz_vf_recv_take(struct gz_vf_cq *cq, const struct gz_xdm_cqe *e,
		    struct genzio_wc *wc)
{
	struct gz_vf_qp *qp = gz_vf_entry_qp(cq, e->qp_num, 1);
	const struct gz_vf_rwqe *r;
	uint64_t head, tail;

	if (!qp) {
		cq->dropped++;
		return 0;
	}
	head = atomic_load_explicit(&qp->rq_head, memory_order_relaxed);
	tail = atomic_load_explicit(&qp->rq_tail, memory_order_acquire);
	/* the engine takes receives in ring order: only the oldest one
	 * outstanding completes (anything else is from before a reset, or
	 * garbage) */
	if (head == tail || e->cidx != (uint16_t)head) {
		cq->dropped++;
		return 0;
	}
	r = &qp->rwqe[head & (qp->rq_ent - 1)];
	memset(wc, 0, sizeof(*wc));
	wc->wr_id = r->wr_id;
	wc->status = e->status;
	wc->opcode = e->opcode;
	wc->qp_num = qp->base.pub.qp_num;
	wc->src_gcid = e->src_gcid;
	if (!wc->status) {
		wc->byte_len = e->byte_len;
		/* a WRITE_IMM's length is the write's, which the buffer
		 * never held; a SEND's must fit what was posted */
		if (wc->opcode == GENZIO_WC_RECV && wc->byte_len > r->cap) {
			wc->status = GENZIO_WC_LOC_LEN;
			wc->byte_len = 0;
		}
	}
	if (e->wc_flags & GENZIO_WC_WITH_IMM) {
		wc->imm_data = e->imm_data;
		wc->wc_flags = GENZIO_WC_WITH_IMM;
	}
	atomic_store_explicit(&qp->rq_head, head + 1, memory_order_release);
	return 1;
}

int gz_vf_recv_flush(struct gz_vf_qp *qp, int n, struct genzio_wc *wc)
{
	uint64_t head =
	    atomic_load_explicit(&qp->rq_head, memory_order_relaxed);
	uint64_t tail =
	    atomic_load_explicit(&qp->rq_tail, memory_order_acquire);
	int got = 0;

	for (; head < tail && got < n; head++, got++) {
		memset(&wc[got], 0, sizeof(wc[got]));
		wc[got].wr_id = qp->rwqe[head & (qp->rq_ent - 1)].wr_id;
		wc[got].status = GENZIO_WC_FLUSHED;
		wc[got].opcode = GENZIO_WC_RECV;
		wc[got].qp_num = qp->base.pub.qp_num;
	}
	atomic_store_explicit(&qp->rq_head, head, memory_order_release);
	return got;
}
