// SPDX-License-Identifier: MIT
/*
 * Completion queues: a phase-bit ring of 64-byte entries in a segment of
 * our data space, because peers write receive completions into it. A
 * producer that finds it full marks it overrun instead of overwriting.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "providers/shm/shm.h"

uint64_t gz_shm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void gz_shm_cq_notify(struct gz_shm_cqhdr *hdr, struct gz_shm_peer *peer,
		      int fd)
{
	uint32_t one = 1, id;

	/* Seq-cst pairs with the one in gz_shm_cq_req_notify(): either we
	 * see "armed", or the owner's poll after arming sees our entry. */
	atomic_thread_fence(memory_order_seq_cst);
	if (GZ_LIKELY(!atomic_load_explicit(&hdr->notify.armed,
					    memory_order_relaxed)))
		return;
	if (!atomic_compare_exchange_strong(&hdr->notify.armed, &one, 0))
		return;
	id = hdr->notify.id;
	if (peer)
		fd = gz_shm_peer_chan_fd(peer, hdr->notify.chan);
	/* A full FIFO already holds a wake-up: nothing is lost. */
	if (fd >= 0 && write(fd, &id, sizeof(id)) < 0) {
	}
}

/*
 * Senders finish receive slots in any order (several may deliver at
 * once), but the owner reposts them in ring order: a slot is given back
 * only when every slot before it is done too.
 */
static void rq_slot_done(struct gz_shm_qp *qp, uint16_t slot)
{
	uint32_t d = atomic_load_explicit(&qp->rq_done, memory_order_relaxed);

	qp->rq_fin[slot & qp->rq_mask] = 1;
	while (qp->rq_fin[d & qp->rq_mask]) {
		qp->rq_fin[d & qp->rq_mask] = 0;
		d++;
	}
	/* Release pairs with the acquire in gz_shm_post_recv(). */
	atomic_store_explicit(&qp->rq_done, d, memory_order_release);
}

static int shm_poll_cq(struct genzio_cq *pub, int n, struct genzio_wc *wc)
{
	struct gz_shm_cq *cq = container_of(pub, struct gz_shm_cq, base.pub);
	uint32_t c = cq->cons;
	int i;

	if (GZ_UNLIKELY(atomic_load_explicit(&cq->parked,
					     memory_order_relaxed)))
		gz_shm_cq_progress(cq);
	for (i = 0; i < n; i++) {
		const struct gz_xdm_cqe *e = gz_ring_cqe_peek(&cq->ring, c);

		if (!e)
			break;
		wc[i].wr_id = e->context;
		wc[i].status = e->status;
		wc[i].opcode = e->opcode;
		wc[i].byte_len = e->byte_len;
		wc[i].qp_num = e->qp_num;
		wc[i].src_gcid = e->src_gcid;
		wc[i].imm_data = e->imm_data;
		wc[i].wc_flags = e->wc_flags;
		wc[i].reserved = 0;
		memcpy(&wc[i].result, e->result, sizeof(wc[i].result));
		if (e->opcode & GENZIO_WC_RECV) {
			/* the receive slot may now be reposted */
			struct gz_shm_qp *qp = cq->ctx->qp[e->qp_num &
							   (GZ_SHM_MAX_QP - 1)];

			if (qp && qp->base.pub.qp_num == e->qp_num)
				rq_slot_done(qp, e->cidx);
		}
		c++;
	}
	if (i) {
		cq->cons = c;
		gz_ring_consume(&cq->ring, c);
	}
	/* Empty: now and then, make sure no dead sender holds the next slot
	 * (a counter, not a clock: the empty poll loop stays cheap). */
	if (GZ_UNLIKELY(!i && n && ++cq->empty_polls >= 4096)) {
		cq->empty_polls = 0;
		gz_shm_cq_reap_dead(cq);
	}
	/* Drained and a producer found it full: in error, and it says so. */
	if (GZ_UNLIKELY(!i && n && atomic_load_explicit(&cq->hdr->notify.overrun,
							memory_order_relaxed))) {
		gz_shm_cq_overrun_event(cq);
		return -EOVERFLOW;
	}
	return i;
}

void gz_shm_cq_reap_dead(struct gz_shm_cq *cq)
{
	uint32_t c = cq->cons, cid, lookup_ok;
	struct gz_xdm_cqe *e = gz_ring_slot(&cq->ring, c);
	uint64_t tag, inc, live_inc, now;
	struct gz_shm_qp *qp;

	/* Nothing reserved: no stall. Acquire pairs with nothing in
	 * particular; a stale prod only delays the check. */
	if (atomic_load_explicit(&cq->ring.ctrl->prod, memory_order_acquire) ==
	    c) {
		cq->stall_since = 0;
		return;
	}
	memcpy(&tag, e->result + 16, sizeof(tag));
	if (tag != (GZ_SHM_CLAIM_TAG | c))
		return;		/* reserved, claim not written yet */
	now = gz_shm_now_ns();
	if (!cq->stall_since || now - cq->stall_since < GZ_SHM_REAP_NS) {
		if (!cq->stall_since)
			cq->stall_since = now;
		return;
	}
	memcpy(&inc, e->result + 24, sizeof(inc));
	cid = GENZIO_GCID_CID(e->src_gcid);
	lookup_ok = !gz_shm_registry_lookup(cq->ctx->reg, cid, &live_inc);
	if (lookup_ok && live_inc == inc) {
		cq->stall_since = now;	/* alive, only slow: wait on */
		return;
	}
	/* The claimant died holding the slot: complete its receive in
	 * error ourselves, so the cq and the receive queue move on. */
	qp = cq->ctx->qp[e->qp_num & (GZ_SHM_MAX_QP - 1)];
	e->context = 0;
	if (qp && qp->base.pub.qp_num == e->qp_num)
		e->context = ((const struct gz_shm_rqe *)
			      ((uint8_t *)qp->rq + GZ_SHM_QHDR +
			       (size_t)(e->cidx & qp->rq_mask) *
				       qp->rq_stride))->wr_id;
	e->status = GENZIO_WC_RETRY_EXC;
	e->opcode = GENZIO_WC_RECV;
	e->byte_len = 0;
	e->imm_data = 0;
	e->wc_flags = 0;
	memset(e->result, 0, sizeof(uint64_t));
	gz_ring_cqe_publish(&cq->ring, c, e);
	cq->stall_since = 0;
}

int gz_shm_cq_create(struct genzio_context *base,
		     const struct genzio_cq_attr *attr, struct gz_cq **out)
{
	struct gz_shm_ctx *ctx = to_shm_ctx(base);
	uint32_t n = gz_roundup_pow2(attr->depth), id;
	struct gz_shm_cq *cq;
	void *mem;
	int ret;

	for (id = 0; id < GZ_SHM_MAX_QP && ctx->cq[id]; id++)
		;
	if (id == GZ_SHM_MAX_QP)
		return gz_err(-ENOSPC, "all %u cq ids in use", GZ_SHM_MAX_QP);
	cq = calloc(1, sizeof(*cq));
	if (!cq)
		return -ENOMEM;
	cq->seg_len = GZ_SHM_QHDR + (uint64_t)n * sizeof(struct gz_xdm_cqe);
	ret = gz_shm_qseg_create(ctx, cq->seg_len, &cq->seg, &mem);
	if (ret) {
		free(cq);
		return ret;
	}
	cq->hdr = mem;
	gz_ring_init(&cq->ring, &cq->hdr->ring, (uint8_t *)mem + GZ_SHM_QHDR, n);
	cq->hdr->notify.chan = UINT32_MAX;
	cq->hdr->notify.id = id;
	cq->notify_fd = -1;
	if (attr->comp_mask & GENZIO_CQ_ATTR_CHANNEL) {
		cq->hdr->notify.chan = container_of(attr->channel,
						    struct gz_channel, pub)->id;
		cq->notify_fd = ctx->chan[cq->hdr->notify.chan]->rfd;
	}
	cq->id = id;
	cq->ctx = ctx;
	cq->base.pub.poll = shm_poll_cq;
	cq->base.pub.user_context = attr->user_context;
	cq->base.pub.context = base;
	cq->base.pub.depth = n;
	ctx->cq[id] = cq;
	*out = &cq->base;
	return 0;
}

int gz_shm_cq_destroy(struct gz_cq *base)
{
	struct gz_shm_cq *cq = container_of(base, struct gz_shm_cq, base);

	if (cq->users)
		return gz_err(-EBUSY, "%u queue pairs still use this cq",
			      cq->users);
	cq->ctx->cq[cq->id] = NULL;
	gz_shm_qseg_destroy(cq->ctx, cq->seg, cq->hdr, cq->seg_len);
	free(cq);
	return 0;
}

int gz_shm_cq_req_notify(struct gz_cq *base)
{
	struct gz_shm_cq *cq = container_of(base, struct gz_shm_cq, base);

	atomic_store_explicit(&cq->hdr->notify.armed, 1, memory_order_relaxed);
	/* Pairs with the fence in gz_shm_cq_notify(). */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&cq->parked, memory_order_relaxed))
		gz_shm_channel_arm_retry(cq->ctx->chan[cq->hdr->notify.chan]);
	return 0;
}
