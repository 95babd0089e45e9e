// SPDX-License-Identifier: MIT
/*
 * Receive side of two-sided messages: posted receive buffers are a ring in
 * our data space, which senders claim with a CAS (shm_msg.c). The owner
 * keeps its own copy of what it posted (wr_id per slot) and trusts the
 * ring only as far as a sender's claim goes. Buffers outside data space
 * are staged: a sender fills a slot of ours, poll copies it out.
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

/*
 * A receive into memory outside data space, which no sender can map: it
 * lands in a slot of the staging segment and poll copies it out
 * (unstage). Receive @p takes slot p % nstage, free once every receive
 * nstage before it was reaped. The segment is made, populated, at the
 * first such post (a full tmpfs is -ENOMEM here, never a SIGBUS in a
 * sender), so a queue pair that never stages has none to map or lock.
 * Return: how many buffers poll copies to, or -errno.
 */
static int stage(struct gz_shm_qp *qp, struct gz_xdm_rqe *e,
		 const struct genzio_recv_wr *wr, uint32_t p, uint32_t done,
		 uint64_t len)
{
	uint32_t j = p & qp->stage_mask;
	void *area;

	if (GZ_UNLIKELY(len > qp->stage_slot))
		return -EINVAL;
	if (GZ_UNLIKELY(p - done > qp->stage_mask))
		return -EAGAIN;
	if (GZ_UNLIKELY(!qp->stage)) {
		/* -ENOMEM (tmpfs full), -ENOSPC (segment ids used up): tried
		 * again at the next such post, which may find room */
		int ret = gz_shm_qseg_create(qp->ctx, gz_shm_stage_len(qp),
					     &qp->stage_seg, &area);

		if (ret)
			return ret;
		/* seen by poll through the release of rq_posted */
		qp->stage = area;
	}
	memcpy(&qp->stage_sge[(size_t)j * qp->max_recv_sge], wr->sg_list,
	       (size_t)wr->num_sge * sizeof(*wr->sg_list));
	e->sge[0].seg = qp->stage_seg;
	e->sge[0].len = (uint32_t)len;
	e->sge[0].off = (uint64_t)j * qp->stage_slot;
	e->num_sge = 1;
	return wr->num_sge;
}

/* Fill receive @p's entry @e from @wr (@done: rq_done as the caller read
 * it): 0, or -errno (nothing published). *@len is what the buffers hold.
 * Peers read the entry: it gets only what a sender needs (never the
 * address of memory outside data space). */
static int fill(struct gz_shm_qp *qp, struct gz_xdm_rqe *e,
		const struct genzio_recv_wr *wr, uint32_t p, uint32_t done,
		uint64_t *len)
{
	struct gz_lkey_snap k[GZ_SHM_MAX_SGE];
	int staged = 0, n = 0;

	*len = 0;
	for (int j = 0; j < wr->num_sge; j++) {
		const struct genzio_sge *s = &wr->sg_list[j];

		if (GZ_UNLIKELY(!gz_lkey_get(qp->lkeys, qp->max_mr, s->lkey,
					     qp->domain, s->addr, s->length,
					     GENZIO_ACCESS_LOCAL_WRITE, &k[j])))
			return -EINVAL;
		staged |= k[j].cookie == GZ_LKEY_COOKIE_NONE;
		*len += s->length;
	}
	/* the owner reports its own copy (rq_priv); peers need none, and a
	 * wr_id is often a pointer */
	e->wr_id = 0;
	if (GZ_UNLIKELY(staged)) {
		n = stage(qp, e, wr, p, done, *len);
		if (n < 0)
			return n;
	} else {
		/* the cookie is shm's: the segment and its address */
		for (int j = 0; j < wr->num_sge; j++) {
			e->sge[j].seg = k[j].cookie;
			e->sge[j].len = wr->sg_list[j].length;
			e->sge[j].off = wr->sg_list[j].addr - k[j].cookie_va;
		}
		e->num_sge = (uint32_t)wr->num_sge;
	}
	qp->rq_priv[p & qp->rq_mask].nstaged = (uint32_t)n;
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
		uint32_t done;
		uint64_t len;

		if (GZ_UNLIKELY((uint32_t)wr->num_sge > qp->max_recv_sge ||
				(wr->num_sge && !wr->sg_list))) {
			ret = -EINVAL;
			break;
		}
		/* A slot is free once its completion has been polled: a
		 * sender reads the entry until it writes that completion. */
		done = atomic_load_explicit(&qp->rq_done, memory_order_acquire);
		if (GZ_UNLIKELY(prod - done >= qp->rq_cap)) {
			ret = -EAGAIN;
			break;
		}
		ret = fill(qp, rqe_at(qp, prod), wr, prod, done, &len);
		if (GZ_UNLIKELY(ret))
			break;
		/* what the completion will report comes from here, not from
		 * the ring senders read */
		qp->rq_priv[prod & qp->rq_mask].wr_id = wr->wr_id;
		/* a message's byte_len is 32 bits: no more can arrive */
		qp->rq_priv[prod & qp->rq_mask].len =
			len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
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

/*
 * A staged receive's payload, copied to the buffers posted for it. Each is
 * checked against its registration again first: one deregistered since
 * the post gets nothing, and the receive LOC_PROT (what a device that can
 * no longer translate the buffer reports).
 */
static void unstage(struct gz_shm_qp *qp, uint32_t i, struct genzio_wc *w)
{
	uint32_t j = i & qp->stage_mask;
	const struct genzio_sge *sge =
		&qp->stage_sge[(size_t)j * qp->max_recv_sge];
	const uint8_t *src = qp->stage + (size_t)j * qp->stage_slot;
	uint32_t n = qp->rq_priv[i].nstaged;
	uint64_t left = w->byte_len;

	if (w->status || w->opcode != GENZIO_WC_RECV)
		return;
	for (uint32_t k = 0; k < n; k++)
		if (!gz_lkey_ok(qp->lkeys, qp->max_mr, sge[k].lkey, qp->domain,
				sge[k].addr, sge[k].length,
				GENZIO_ACCESS_LOCAL_WRITE)) {
			w->status = GENZIO_WC_LOC_PROT;
			w->byte_len = 0;
			return;
		}
	/* byte_len is within what was posted (checked by the caller), so
	 * within the slot and the buffers; a deregistration that began
	 * after the check waits for us (gz_shm_cq_quiesce) */
	for (uint32_t k = 0; k < n && left; k++) {
		uint64_t c = sge[k].length < left ? sge[k].length : left;

		memcpy((void *)(uintptr_t)sge[k].addr, src, c);
		src += c;
		left -= c;
	}
	/* one poller per cq, so one writer: no locked add */
	atomic_store_explicit(&qp->staged,
			      atomic_load_explicit(&qp->staged,
						   memory_order_relaxed) + 1,
			      memory_order_relaxed);
	atomic_store_explicit(&qp->staged_bytes,
			      atomic_load_explicit(&qp->staged_bytes,
						   memory_order_relaxed) +
				      w->byte_len,
			      memory_order_relaxed);
}

/*
 * Senders finish receive slots in any order (several may deliver at
 * once), but the owner reposts them in ring order: a slot is given back
 * only when every slot before it is done too. @rslot came from an entry
 * a sender wrote: only a slot that is outstanding, and not reported
 * already, counts.
 */
int gz_shm_rq_slot_take(struct gz_shm_qp *qp, uint32_t rslot,
			struct genzio_wc *w)
{
	uint32_t d = atomic_load_explicit(&qp->rq_done, memory_order_relaxed);
	uint32_t posted = atomic_load_explicit(&qp->rq_posted,
					       memory_order_acquire);
	uint32_t i = rslot & qp->rq_mask;

	if (((rslot - d) & qp->rq_mask) >= posted - d || qp->rq_fin[i])
		return 0;
	/* all of it before the slot can be reposted (rq_done, below) */
	w->wr_id = qp->rq_priv[i].wr_id;
	/* a WRITE_IMM's byte_len is the write's, which the receive buffer
	 * never held (verbs too): only a SEND's must fit what was posted */
	if (GZ_UNLIKELY(w->opcode == GENZIO_WC_RECV && !w->status &&
			w->byte_len > qp->rq_priv[i].len)) {
		w->status = GENZIO_WC_LOC_LEN;
		w->byte_len = 0;
	}
	if (GZ_UNLIKELY(qp->rq_priv[i].nstaged))
		unstage(qp, i, w);
	qp->rq_fin[i] = 1;
	while (d != posted && qp->rq_fin[d & qp->rq_mask]) {
		qp->rq_fin[d & qp->rq_mask] = 0;
		d++;
	}
	/* Release pairs with the acquire in gz_shm_post_recv(). */
	atomic_store_explicit(&qp->rq_done, d, memory_order_release);
	return 1;
}

/* Fill the completion at @idx, reserved in our receive cq: a FLUSHED
 * receive of slot @rslot, or (qpn 0, which names no queue pair) an
 * entry poll drops. */
static void flushed_publish(struct gz_shm_qp *qp, uint32_t idx, uint32_t qpn,
			    uint32_t rslot)
{
	struct gz_shm_cq *cq = qp->rcq;
	struct gz_xdm_cqe *e = gz_ring_slot(&cq->ring, idx);

	memset(e->result, 0, sizeof(e->result));
	e->status = GENZIO_WC_FLUSHED;
	e->opcode = GENZIO_WC_RECV;
	e->byte_len = 0;
	e->context = 0;		/* poll reports what we posted */
	e->qp_num = qpn;
	e->src_gcid = 0;
	e->imm_data = 0;
	e->wc_flags = 0;
	e->cidx = (uint16_t)rslot;
	gz_ring_cqe_publish(&cq->ring, idx, e);
}

/* Claim the oldest receive no sender took, as a sender would (a CAS on
 * the shared cons). 1 and *@slot, 0 when none is left or cons makes no
 * sense: senders never move it below what we reaped or past what we
 * posted, so anything else is a peer's scribble, and we leave it. */
static int claim_own(struct gz_shm_qp *qp, uint32_t *slot)
{
	uint32_t done = atomic_load_explicit(&qp->rq_done, memory_order_relaxed);
	uint32_t posted = atomic_load_explicit(&qp->rq_posted,
					       memory_order_relaxed);
	uint32_t c = atomic_load_explicit(&qp->rq->cons, memory_order_acquire);

	for (int tries = 0; tries < 64; tries++) {
		if (c - done > posted - done || c == posted)
			return 0;
		if (atomic_compare_exchange_weak_explicit(
			    &qp->rq->cons, &c, c + 1, memory_order_acq_rel,
			    memory_order_acquire)) {
			*slot = c;
			return 1;
		}
	}
	return 0;
}

void gz_shm_rq_flush(struct gz_shm_qp *qp)
{
	struct gz_shm_cq *cq = qp->rcq;
	uint32_t idx, slot;

	/* the completion's room first: a receive we claimed and could not
	 * complete would hold up its ring for good */
	while (atomic_load_explicit(&qp->rq->cons, memory_order_relaxed) !=
		       atomic_load_explicit(&qp->rq_posted,
					    memory_order_relaxed) &&
	       !gz_ring_reserve(&cq->ring, &idx)) {
		if (!claim_own(qp, &slot)) {
			flushed_publish(qp, idx, 0, 0);	/* dropped by poll */
			break;
		}
		flushed_publish(qp, idx, qp->base.pub.qp_num, slot);
	}
	/* full or not, whoever sleeps on the cq hears of it */
	if (cq->notify_fd >= 0)
		gz_shm_cq_notify(cq->hdr, NULL, cq->notify_fd);
}

void gz_shm_cq_flush_err(struct gz_shm_cq *cq)
{
	struct gz_shm_ctx *ctx = cq->ctx;

	/* as the receive handling of poll: qp_destroy waits for us */
	atomic_fetch_add_explicit(&cq->in_poll, 1, memory_order_seq_cst);
	for (uint32_t i = 0; i < GZ_SHM_MAX_QP; i++) {
		/* seq-cst: as recv_qp() in shm_cq.c, against qp_destroy */
		struct gz_shm_qp *qp = atomic_load_explicit(
			&ctx->qp[i], memory_order_seq_cst);

		if (qp && qp->rcq == cq &&
		    atomic_load(&qp->state) == GENZIO_QPS_ERR &&
		    atomic_load_explicit(&qp->rq_posted,
					 memory_order_acquire) !=
			    atomic_load_explicit(&qp->rq->cons,
						 memory_order_acquire))
			gz_shm_rq_flush(qp);
	}
	atomic_fetch_sub_explicit(&cq->in_poll, 1, memory_order_release);
}
