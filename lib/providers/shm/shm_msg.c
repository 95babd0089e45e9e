// SPDX-License-Identifier: MIT
/*
 * Two-sided messages (Gen-Z ENQA into the receiver's RDM queue), without
 * the receiver running code: the receiver posts buffers into a ring in its
 * data space; a sender claims one with a CAS, copies the payload straight
 * into it (the only copy) and writes the receive completion into the
 * receiver's cq, then wakes its channel if it is armed.
 */
#include <errno.h>
#include <string.h>

#include "providers/shm/shm.h"

static inline struct gz_shm_rqe *rqe_at(uint8_t *base, uint32_t stride,
					uint32_t mask, uint32_t idx)
{
	return (struct gz_shm_rqe *)(base + GZ_SHM_QHDR +
				     (size_t)(idx & mask) * stride);
}

int gz_shm_post_recv(struct genzio_qp *pub, struct genzio_recv_wr *wr,
		     struct genzio_recv_wr **bad_wr)
{
	struct gz_shm_qp *qp = container_of(pub, struct gz_shm_qp, base.pub);
	uint32_t prod = qp->rq_posted;
	int ret = 0;

	for (; wr; wr = wr->next) {
		struct gz_shm_rqe *e;

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
		e = rqe_at((uint8_t *)qp->rq, qp->rq_stride, qp->rq_mask, prod);
		for (int i = 0; i < wr->num_sge; i++) {
			const struct genzio_sge *s = &wr->sg_list[i];
			const struct gz_lkey *k =
				&qp->lkeys[s->lkey & (GZ_MAX_MR - 1)];

			if (GZ_UNLIKELY(!gz_lkey_ok(qp->lkeys, qp->max_mr,
						    s->lkey, qp->domain,
						    s->addr, s->length,
						    GENZIO_ACCESS_LOCAL_WRITE) ||
					k->seg == GZ_SEG_NONE)) {
				ret = -EINVAL;
				goto out;
			}
			e->sge[i].seg = k->seg;
			e->sge[i].len = s->length;
			e->sge[i].off = s->addr - k->seg_va;
		}
		e->wr_id = wr->wr_id;
		e->num_sge = (uint32_t)wr->num_sge;
		prod++;
	}
out:
	if (prod != qp->rq_posted) {
		qp->rq_posted = prod;
		/* Release pairs with the sender's acquire of prod: the
		 * entries are written before they can be claimed. */
		atomic_store_explicit(&qp->rq->prod, prod,
				      memory_order_release);
	}
	if (ret)
		*bad_wr = wr;
	return ret;
}

/* A peer's segment, mapped; NULL if it does not exist (any more). */
static inline const struct gz_xdm_seg *peer_seg(struct gz_shm_peer *p,
						uint32_t seg)
{
	struct gz_xdm_seg *s;

	if (GZ_UNLIKELY(seg >= p->tgt.nseg))
		return NULL;
	s = &p->tgt.seg[seg];
	if (GZ_UNLIKELY(!__atomic_load_n(&s->base, __ATOMIC_ACQUIRE)) &&
	    p->tgt.map_seg(&p->tgt, seg))
		return NULL;
	return s;
}

/* Copy the sender's gather list into the receiver's scatter list. */
static uint8_t scatter_into(struct gz_shm_peer *p, const struct gz_shm_rqe *e,
			    uint32_t nsge, const struct genzio_send_wr *wr,
			    uint64_t len)
{
	uint8_t *dst[GZ_SHM_MAX_SGE];
	uint32_t dlen[GZ_SHM_MAX_SGE];
	uint64_t cap = 0;
	uint32_t d = 0, doff = 0;

	for (uint32_t i = 0; i < nsge; i++) {
		const struct gz_xdm_seg *s = peer_seg(p, e->sge[i].seg);

		/* the receiver's entry is its word: check it against what
		 * we mapped before writing a byte */
		if (!s || e->sge[i].off > s->len ||
		    e->sge[i].len > s->len - e->sge[i].off)
			return GENZIO_WC_LOC_PROT;
		dst[i] = s->base + e->sge[i].off;
		dlen[i] = e->sge[i].len;
		cap += dlen[i];
	}
	if (len > cap)
		return GENZIO_WC_LOC_LEN;
	for (int i = 0; i < wr->num_sge; i++) {
		const uint8_t *src = (const uint8_t *)(uintptr_t)
					     wr->sg_list[i].addr;
		uint32_t left = wr->sg_list[i].length;

		while (left) {
			uint32_t n = dlen[d] - doff < left ? dlen[d] - doff :
							      left;

			gz_xdm_copy(dst[d] + doff, src, n);
			src += n;
			left -= n;
			doff += n;
			if (doff == dlen[d])
				d++, doff = 0;
		}
	}
	return GENZIO_WC_SUCCESS;
}

/*
 * A sender that dies between taking a slot in the receiver's cq and
 * publishing it would stall that cq for good. So right after taking it the
 * sender writes a claim record into bytes of the entry that the final
 * completion never overwrites: who it is (GCID, incarnation), and which
 * slot of the ring this is. The owner's poll, finding the slot unpublished
 * for long, checks the claimant and completes the receive in error itself
 * (gz_shm_cq_reap_dead).
 */
static void claim_write(struct gz_xdm_cqe *cqe, uint32_t idx,
			const struct gz_shm_qp *qp, uint32_t rqpn,
			uint16_t rslot)
{
	uint64_t tag = GZ_SHM_CLAIM_TAG | idx;

	cqe->qp_num = rqpn;
	cqe->cidx = rslot;
	cqe->src_gcid = qp->ctx->base.attr.gcid;
	memcpy(cqe->result + 16, &tag, sizeof(tag));
	memcpy(cqe->result + 24, &qp->ctx->incarnation, sizeof(uint64_t));
}

int gz_shm_msg_begin(struct gz_shm_qp *qp, struct gz_shm_peer *peer,
		     uint32_t rqpn, struct gz_shm_delivery *d)
{
	const struct gz_shm_qpent *rq = &peer->comp->qp[rqpn &
							(GZ_SHM_MAX_QP - 1)];
	uint32_t rq_mask = rq->rq_mask, stride = rq->rq_stride;
	uint32_t rcq_mask = rq->rcq_mask, c;
	const struct gz_xdm_seg *rs = d->rs, *cs = d->cs;
	struct gz_shm_rqhdr *h = (struct gz_shm_rqhdr *)rs->base;

	c = atomic_load_explicit(&h->cons, memory_order_relaxed);
	do {
		/* The receiver's producer index lives on a line it writes
		 * at every post: read it only when the receives we last saw
		 * are used up, which saves a cache-line transfer per
		 * message while it keeps receives posted ahead. */
		int other = qp->prod_seen_qpn != rqpn ||
			    qp->seen_peer != peer ||
			    qp->seen_inc != peer->incarnation;

		if (other || (int32_t)(qp->prod_seen - c) <= 0) {
			if (other) {
				/* a new destination: forget the old views */
				qp->rcons_seen = atomic_load_explicit(
					&((struct gz_shm_cqhdr *)cs->base)
						 ->ring.cons,
					memory_order_acquire);
				qp->prod_seen_qpn = rqpn;
				qp->seen_peer = peer;
				qp->seen_inc = peer->incarnation;
			}
			/* Acquire pairs with the release in
			 * gz_shm_post_recv(). */
			qp->prod_seen = atomic_load_explicit(
				&h->prod, memory_order_acquire);
			if (c == qp->prod_seen)
				return GZ_SHM_NO_RECV;
		}
	} while (!atomic_compare_exchange_weak_explicit(
		&h->cons, &c, c + 1, memory_order_acquire,
		memory_order_relaxed));
	d->rslot = c;
	d->e = rqe_at(rs->base, stride, rq_mask, c);
	/* The receive completion's slot, taken before any byte moves. */
	d->ch = (struct gz_shm_cqhdr *)cs->base;
	d->ring = (struct gz_ring){ &d->ch->ring, cs->base + GZ_SHM_QHDR,
				    rcq_mask,
				    (uint32_t)__builtin_ctz(rcq_mask + 1) };
	if (GZ_UNLIKELY(gz_ring_reserve_cached(&d->ring, &d->idx,
					       &qp->rcons_seen))) {
		/* Never overwrite: the cq is in error and says so. */
		atomic_store_explicit(&d->ch->notify.overrun, 1,
				      memory_order_release);
		if (d->ch->notify.chan != UINT32_MAX)
			gz_shm_cq_notify(d->ch, peer, -1);
		return GENZIO_WC_REM_OP;
	}
	d->cqe = gz_ring_slot(&d->ring, d->idx);
	claim_write(d->cqe, d->idx, qp, rqpn, (uint16_t)(c & rq_mask));
	return GENZIO_WC_SUCCESS;
}

int gz_shm_msg_deliver(struct gz_shm_qp *qp, struct gz_shm_peer *peer,
		       uint32_t rqpn, const struct genzio_send_wr *wr,
		       uint32_t *byte_len)
{
	const struct gz_shm_qpent *rq = &peer->comp->qp[rqpn &
							(GZ_SHM_MAX_QP - 1)];
	uint32_t rq_mask = rq->rq_mask, stride = rq->rq_stride;
	uint32_t rcq_mask = rq->rcq_mask, nsge;
	int imm = wr->opcode != GENZIO_WR_SEND;
	struct gz_shm_delivery d;
	struct gz_xdm_cqe *cqe;
	uint8_t *wp = NULL, st = GENZIO_WC_SUCCESS, rst;
	uint64_t len = 0;
	int r;

	for (int i = 0; i < wr->num_sge; i++)
		len += wr->sg_list[i].length;
	if (len > UINT32_MAX)
		return GENZIO_WC_LOC_LEN;
	d.rs = peer_seg(peer, rq->rq_seg);
	d.cs = peer_seg(peer, rq->rcq_seg);
	if (!d.rs || !d.cs || stride < sizeof(struct gz_shm_rqe) ||
	    (uint64_t)GZ_SHM_QHDR + ((uint64_t)rq_mask + 1) * stride >
		    d.rs->len ||
	    (uint64_t)GZ_SHM_QHDR + ((uint64_t)rcq_mask + 1) * 64 > d.cs->len)
		return GENZIO_WC_REM_QP;
	/* WRITE_IMM: every check of the write before a receive is claimed,
	 * so a fault consumes nothing at the receiver. */
	if (wr->opcode == GENZIO_WR_WRITE_IMM) {
		st = gz_shm_resolve(peer, rq->domain, wr->rdma.rkey,
				    wr->rdma.remote_addr, len,
				    GENZIO_ACCESS_REMOTE_WRITE, &wp);
		if (st)
			return st;
	}
	r = gz_shm_msg_begin(qp, peer, rqpn, &d);
	if (r)
		return r;
	nsge = d.e->num_sge;
	if (nsge > GZ_SHM_MAX_SGE ||
	    sizeof(*d.e) + nsge * sizeof(d.e->sge[0]) > stride)
		rst = GENZIO_WC_LOC_PROT;
	else if (wp)
		rst = GENZIO_WC_SUCCESS;
	else
		rst = scatter_into(peer, d.e, nsge, wr, len);
	if (wp)
		for (int i = 0; i < wr->num_sge; i++) {
			gz_xdm_copy(wp, (const void *)(uintptr_t)
					       wr->sg_list[i].addr,
				    wr->sg_list[i].length);
			wp += wr->sg_list[i].length;
		}
	/* the receiver's problem, whatever it is, is remote to us */
	if (rst)
		st = GENZIO_WC_REM_INV_REQ;
	/* The receive completion; the claim record (qp_num, cidx,
	 * src_gcid, result[16..31]) stays as it was written. */
	cqe = d.cqe;
	memset(cqe->result, 0, sizeof(uint64_t));
	cqe->status = rst;
	cqe->opcode = wr->opcode == GENZIO_WR_WRITE_IMM ?
			      GENZIO_WC_RECV_WRITE_IMM : GENZIO_WC_RECV;
	cqe->byte_len = rst ? 0 : (uint32_t)len;
	cqe->context = d.e->wr_id;
	cqe->imm_data = imm ? wr->imm_data : 0;
	cqe->wc_flags = imm ? GENZIO_WC_WITH_IMM : 0;
	gz_ring_cqe_publish(&d.ring, d.idx, cqe);
	/* a receiver without a channel never makes us pay the fence */
	if (d.ch->notify.chan != UINT32_MAX)
		gz_shm_cq_notify(d.ch, peer, -1);
	*byte_len = (uint32_t)len;
	return st;
}
