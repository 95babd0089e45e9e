// SPDX-License-Identifier: MIT
/*
 * Two-sided messages (Gen-Z ENQA into the receiver's RDM queue), without
 * the receiver running code: the receiver posts buffers into a ring in its
 * data space; a sender claims one with a CAS, copies the payload straight
 * into it (the only copy) and writes the receive completion into the
 * receiver's cq, then wakes its channel if it is armed.
 *
 * Everything of the receiver's is input here: its queue-pair entry is one
 * snapshot (gz_shm_qpent_read), the receive entry is copied field by field
 * and checked against what we mapped, and before the completion is
 * published the queue pair must still be the one we started with.
 */
#include <errno.h>
#include <string.h>

#include "providers/shm/shm.h"

#define CLAIM_TRIES 1024	/* a cons word that never settles is bad */

static inline const struct gz_xdm_rqe *rqe_at(const struct gz_shm_delivery *d,
					      uint32_t idx)
{
	return (const struct gz_xdm_rqe *)(d->rs->base + GZ_SHM_QHDR +
					   (size_t)(idx & d->q.rq_mask) *
						   d->q.rq_stride);
}

uint8_t gz_shm_msg_target(struct gz_shm_peer *peer, uint32_t rqpn,
			  struct gz_shm_delivery *d)
{
	uint8_t st = gz_shm_qpent_read(peer, rqpn, &d->q);

	if (st)
		return st;
	d->rs = gz_shm_peer_seg(peer, d->q.rq_seg);
	d->cs = gz_shm_peer_seg(peer, d->q.rcq_seg);
	/* the rings must fit what we mapped, by the snapshot's numbers */
	if (!d->rs || !d->cs ||
	    (uint64_t)GZ_SHM_QHDR + ((uint64_t)d->q.rq_mask + 1) *
					    d->q.rq_stride > d->rs->len ||
	    (uint64_t)GZ_SHM_QHDR + ((uint64_t)d->q.rcq_mask + 1) * 64 >
		    d->cs->len)
		return GENZIO_WC_REM_QP;
	return GENZIO_WC_SUCCESS;
}

/*
 * A sender that dies between taking a slot in the receiver's cq and
 * publishing it would stall that cq for good. So right after taking it the
 * sender writes a claim record into bytes of the entry that the final
 * completion never overwrites (struct gz_shm_claim). The owner's poll,
 * finding the slot unpublished for long, checks the claimant and
 * completes the receive in error itself (gz_shm_cq_reap_dead).
 */
static void claim_write(struct gz_xdm_cqe *cqe, uint32_t idx, uint32_t rslot,
			const struct gz_shm_qp *qp, uint32_t rqpn)
{
	struct gz_shm_claim *cl = gz_shm_claim_of(cqe);

	cqe->qp_num = rqpn;
	cqe->cidx = (uint16_t)rslot;
	cqe->src_gcid = qp->ctx->base.attr.gcid;
	cl->idx = idx;
	cl->rslot = rslot;
	cl->incarnation = qp->ctx->incarnation;
	/* Release pairs with the acquire in gz_shm_cq_reap_dead(). */
	atomic_store_explicit(&cl->tag, GZ_SHM_CLAIM_TAG,
			      memory_order_release);
}

/* Take one posted receive: 0 and *@c, GZ_SHM_NO_RECV, or REM_QP when its
 * indices make no sense. */
static int claim_recv(struct gz_shm_qp *qp, struct gz_shm_peer *peer,
		      struct gz_shm_delivery *d, uint32_t *out)
{
	struct gz_shm_rqhdr *h = (struct gz_shm_rqhdr *)d->rs->base;
	uint32_t c = atomic_load_explicit(&h->cons, memory_order_relaxed);

	for (int tries = 0; tries < CLAIM_TRIES; tries++) {
		/* The receiver's producer index lives on a line it writes
		 * at every post: read it only when the receives we last saw
		 * are used up, which saves a cache-line transfer per
		 * message while it keeps receives posted ahead. */
		int other = qp->prod_seen_qpn != d->q.qpn ||
			    qp->seen_peer != peer ||
			    qp->seen_inc != peer->incarnation;

		if (other || (int32_t)(qp->prod_seen - c) <= 0) {
			if (other) {
				/* a new destination: forget the old views */
				qp->rcons_seen = atomic_load_explicit(
					&((struct gz_shm_cqhdr *)d->cs->base)
						 ->ring.cons,
					memory_order_acquire);
				qp->prod_seen_qpn = d->q.qpn;
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
		/* more posted than the ring holds: not a receive queue */
		if (qp->prod_seen - c > d->q.rq_mask + 1)
			return GENZIO_WC_REM_QP;
		if (atomic_compare_exchange_weak_explicit(
			    &h->cons, &c, c + 1, memory_order_acquire,
			    memory_order_relaxed)) {
			*out = c;
			return 0;
		}
	}
	return GZ_SHM_NO_RECV;
}

int gz_shm_msg_begin(struct gz_shm_qp *qp, struct gz_shm_peer *peer,
		     struct gz_shm_delivery *d)
{
	int r = claim_recv(qp, peer, d, &d->rslot);

	if (r)
		return r;
	d->e = rqe_at(d, d->rslot);
	/* The receive completion's slot, taken before any byte moves. */
	d->ch = (struct gz_shm_cqhdr *)d->cs->base;
	d->ring = (struct gz_ring){ &d->ch->ring, d->cs->base + GZ_SHM_QHDR,
				    d->q.rcq_mask,
				    (uint32_t)__builtin_ctz(d->q.rcq_mask + 1) };
	if (GZ_UNLIKELY(gz_ring_reserve_cached(&d->ring, &d->idx,
					       &qp->rcons_seen))) {
		/* Never overwrite: the cq is in error and says so. */
		atomic_store_explicit(&d->ch->notify.overrun, 1,
				      memory_order_release);
		gz_shm_cq_notify(d->ch, peer, -1);
		return GENZIO_WC_REM_OP;
	}
	d->cqe = gz_ring_slot(&d->ring, d->idx);
	claim_write(d->cqe, d->idx, d->rslot, qp, d->q.qpn);
	return GENZIO_WC_SUCCESS;
}

/* A receive entry, copied: what the receiver posted in that slot. */
struct rqe_copy {
	uint64_t wr_id;
	uint32_t n;
	uint8_t *dst[GZ_SHM_MAX_SGE];
	uint32_t len[GZ_SHM_MAX_SGE];
	uint64_t cap;
};

/* Copy the receive entry once and check each buffer against what we
 * mapped of the receiver. Return: 0 or GENZIO_WC_LOC_PROT. */
static uint8_t rqe_read(struct gz_shm_peer *p, const struct gz_shm_delivery *d,
			struct rqe_copy *r)
{
	const struct gz_xdm_rqe *e = d->e;

	r->wr_id = GZ_READ_ONCE(e->wr_id);
	r->n = GZ_READ_ONCE(e->num_sge);
	r->cap = 0;
	if (r->n > GZ_SHM_MAX_SGE ||
	    sizeof(*e) + r->n * sizeof(e->sge[0]) > d->q.rq_stride)
		return GENZIO_WC_LOC_PROT;
	for (uint32_t i = 0; i < r->n; i++) {
		uint32_t seg = GZ_READ_ONCE(e->sge[i].seg);
		uint32_t len = GZ_READ_ONCE(e->sge[i].len);
		uint64_t off = GZ_READ_ONCE(e->sge[i].off);
		const struct gz_xdm_seg *s = gz_shm_peer_seg(p, seg);

		if (!s || off > s->len || len > s->len - off)
			return GENZIO_WC_LOC_PROT;
		r->dst[i] = s->base + off;
		r->len[i] = len;
		r->cap += len;
	}
	return GENZIO_WC_SUCCESS;
}

/* Copy the sender's gather list into the receiver's scatter list. */
static uint8_t scatter_into(const struct rqe_copy *r,
			    const struct genzio_send_wr *wr, uint64_t len)
{
	uint32_t d = 0, doff = 0;

	if (len > r->cap)
		return GENZIO_WC_LOC_LEN;
	for (int i = 0; i < wr->num_sge; i++) {
		const uint8_t *src = (const uint8_t *)(uintptr_t)
					     wr->sg_list[i].addr;
		uint32_t left = wr->sg_list[i].length;

		while (left) {
			uint32_t n = r->len[d] - doff < left ? r->len[d] - doff :
								left;

			gz_xdm_copy(r->dst[d] + doff, src, n);
			src += n;
			left -= n;
			doff += n;
			if (doff == r->len[d])
				d++, doff = 0;
		}
	}
	return GENZIO_WC_SUCCESS;
}

static void gather_to(uint8_t *wp, const struct genzio_send_wr *wr)
{
	for (int i = 0; i < wr->num_sge; i++) {
		gz_xdm_copy(wp, (const void *)(uintptr_t)wr->sg_list[i].addr,
			    wr->sg_list[i].length);
		wp += wr->sg_list[i].length;
	}
}

/* The receive completion; the claim record (qp_num, cidx, src_gcid and
 * struct gz_shm_claim) stays as it was written. */
static void publish(struct gz_shm_delivery *d, const struct rqe_copy *r,
		    const struct genzio_send_wr *wr, uint8_t rst, uint64_t len,
		    struct gz_shm_peer *peer)
{
	struct gz_xdm_cqe *cqe = d->cqe;
	int imm = wr->opcode != GENZIO_WR_SEND;

	memset(cqe->result, 0, sizeof(uint64_t));
	cqe->status = rst;
	cqe->opcode = wr->opcode == GENZIO_WR_WRITE_IMM ?
			      GENZIO_WC_RECV_WRITE_IMM : GENZIO_WC_RECV;
	cqe->byte_len = rst ? 0 : (uint32_t)len;
	cqe->context = r->wr_id;
	cqe->imm_data = imm ? wr->imm_data : 0;
	cqe->wc_flags = imm ? GENZIO_WC_WITH_IMM : 0;
	gz_ring_cqe_publish(&d->ring, d->idx, cqe);
	/* a receiver without a channel never makes us pay the fence */
	if (d->ch->notify.chan != UINT32_MAX)
		gz_shm_cq_notify(d->ch, peer, -1);
}

int gz_shm_msg_deliver(struct gz_shm_qp *qp, struct gz_shm_peer *peer,
		       uint32_t rqpn, const struct genzio_send_wr *wr,
		       uint32_t *byte_len, int *claimed)
{
	struct gz_shm_lane *lane;
	struct gz_shm_delivery d;
	struct rqe_copy r = { 0 };
	uint8_t *wp = NULL, st, rst;
	uint64_t len = 0;
	int ret;

	for (int i = 0; i < wr->num_sge; i++)
		len += wr->sg_list[i].length;
	if (len > UINT32_MAX)
		return GENZIO_WC_LOC_LEN;
	/* The whole delivery is an access to the receiver's memory: its
	 * qp_destroy and mr_dereg wait for it (shm_guard.c). */
	lane = gz_shm_lane_enter(qp, peer);
	st = gz_shm_msg_target(peer, rqpn, &d);
	/* WRITE_IMM: every check of the write before a receive is claimed,
	 * so a fault consumes nothing at the receiver. */
	if (!st && wr->opcode == GENZIO_WR_WRITE_IMM)
		st = gz_xdm_resolve(&peer->tgt, d.q.domain, wr->rdma.rkey,
				    wr->rdma.remote_addr, len,
				    GENZIO_ACCESS_REMOTE_WRITE, &wp, NULL);
	/* memory outside data space takes WRITE, not WRITE_IMM (genzio_shm.7):
	 * its copy could fail after the receive was consumed */
	if (GZ_UNLIKELY(st == GZ_XDM_ST_PROC))
		st = GENZIO_WC_REM_ACCESS;
	ret = st ? st : gz_shm_msg_begin(qp, peer, &d);
	if (ret) {
		gz_shm_lane_leave(qp, lane);
		/* a full cq consumed a receive all the same */
		*claimed = ret == GENZIO_WC_REM_OP;
		return ret;
	}
	*claimed = 1;
	rst = rqe_read(peer, &d, &r);
	if (wp)
		gather_to(wp, wr);
	else if (!rst)
		rst = scatter_into(&r, wr, len);
	gz_shm_lane_leave(qp, lane);
	/* the receiver's problem, whatever it is, is remote to us */
	st = rst ? GENZIO_WC_REM_INV_REQ : GENZIO_WC_SUCCESS;
	/* Destroyed (and maybe recreated) meanwhile: the receiver drops a
	 * completion that names a queue pair it no longer has, and we say
	 * the message did not arrive. */
	if (GZ_UNLIKELY(GZ_SHM_ID_QPN(gz_shm_qpent_id(peer, rqpn)) != rqpn))
		st = GENZIO_WC_REM_QP;
	publish(&d, &r, wr, rst, len, peer);
	*byte_len = (uint32_t)len;
	return st;
}
