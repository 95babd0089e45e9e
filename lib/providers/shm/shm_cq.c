// SPDX-License-Identifier: MIT
/*
 * Completion queues: a phase-bit ring of 64-byte entries in a segment of
 * our data space, because peers write receive completions into it. A
 * producer that finds it full marks it overrun instead of overwriting.
 * Entries peers wrote are input: each field is copied once, and the queue
 * pair one names is looked up in our private table and compared.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "providers/shm/shm.h"

void gz_shm_cq_notify(struct gz_shm_cqhdr *hdr, struct gz_shm_peer *peer,
		      int fd)
{
	uint32_t one = 1, id;
	int once = 0;

	/* Seq-cst pairs with the one in gz_shm_cq_req_notify(): either we
	 * see "armed", or the owner's poll after arming sees our entry. */
	atomic_thread_fence(memory_order_seq_cst);
	if (GZ_LIKELY(!atomic_load_explicit(&hdr->notify.armed,
					    memory_order_relaxed)))
		return;
	if (!atomic_compare_exchange_strong(&hdr->notify.armed, &one, 0))
		return;
	/* what to write is the owner's business: it checks what it reads */
	id = GZ_READ_ONCE(hdr->notify.id);
	if (peer)
		fd = gz_shm_peer_chan_fd(peer, GZ_READ_ONCE(hdr->notify.chan),
					 &once);
	/* A full FIFO already holds a wake-up: nothing is lost. */
	if (fd >= 0 && write(fd, &id, sizeof(id)) < 0) {
	}
	if (once)
		close(fd);
}

void gz_shm_cq_quiesce(struct gz_shm_cq *cq)
{
	/* seq-cst: pairs with the in_poll increment before the poll looks */
	atomic_thread_fence(memory_order_seq_cst);
	/* a poll is short, but a caller of higher SCHED_FIFO priority than
	 * the poller would yield to nobody: sleep once yielding did not do */
	for (uint32_t spins = 0;
	     atomic_load_explicit(&cq->in_poll, memory_order_acquire); spins++)
		if (spins < 64)
			sched_yield();
		else
			nanosleep(&(struct timespec){ 0, 20000 }, NULL);
}

/* The queue pair a receive completion names, if it is still ours. The
 * seq-cst load pairs with gz_shm_cq_quiesce() in qp_destroy() (after our
 * in_poll increment): either it waits for us, or we find the queue pair
 * gone. */
static struct gz_shm_qp *recv_qp(struct gz_shm_cq *cq, uint32_t qpn)
{
	struct gz_shm_qp *qp = atomic_load_explicit(
		&cq->ctx->qp[qpn & (GZ_SHM_MAX_QP - 1)], memory_order_seq_cst);

	return qp && qp->base.pub.qp_num == qpn && qp->rcq == cq ? qp : NULL;
}

/*
 * A receive completion, as a sender wrote it, made ours: 0 to drop it (a
 * queue pair destroyed meanwhile, as verbs drops a destroyed queue pair's
 * completions, or garbage naming no outstanding receive); else wr_id is
 * the one we posted and byte_len fits what we posted.
 */
static int recv_fill(struct gz_shm_cq *cq, struct genzio_wc *w,
		     uint32_t rslot)
{
	struct gz_shm_qp *qp = recv_qp(cq, w->qp_num);

	return GZ_LIKELY(qp != NULL) && gz_shm_rq_slot_take(qp, rslot, w);
}

static int shm_poll_cq(struct genzio_cq *pub, int n, struct genzio_wc *wc)
{
	struct gz_shm_cq *cq = container_of(pub, struct gz_shm_cq, base.pub);
	uint32_t c = cq->cons;
	int i = 0, busy = 0;

	if (GZ_UNLIKELY(atomic_load_explicit(&cq->parked,
					     memory_order_relaxed)))
		gz_shm_cq_progress(cq);
	/* a receive posted while its queue pair went to ERR, unseen by the
	 * flush then (a store-load race without a fence on post_recv) */
	if (GZ_UNLIKELY(atomic_load_explicit(&cq->err_qps,
					     memory_order_relaxed)))
		gz_shm_cq_flush_err(cq);
	while (i < n) {
		struct gz_xdm_cqe *e = gz_ring_cqe_peek(&cq->ring, c);
		struct genzio_wc *w = &wc[i];
		uint16_t rslot;

		if (!e)
			break;
		/* peers write receive completions: each field read once */
		w->wr_id = GZ_READ_ONCE(e->context);
		w->status = GZ_READ_ONCE(e->status);
		w->opcode = GZ_READ_ONCE(e->opcode);
		w->byte_len = GZ_READ_ONCE(e->byte_len);
		w->qp_num = GZ_READ_ONCE(e->qp_num);
		w->src_gcid = GZ_READ_ONCE(e->src_gcid);
		w->imm_data = GZ_READ_ONCE(e->imm_data);
		w->wc_flags = GZ_READ_ONCE(e->wc_flags);
		w->vendor_err = 0;
		memcpy(&w->result, e->result, sizeof(w->result));
		rslot = GZ_READ_ONCE(e->cidx);
		/* an old claim must never match a later lap of this slot */
		atomic_store_explicit(&gz_shm_claim_of(e)->tag, 0,
				      memory_order_relaxed);
		c++;
		if (w->opcode & GENZIO_WC_RECV) {
			if (!busy++)
				atomic_fetch_add_explicit(&cq->in_poll, 1,
							  memory_order_seq_cst);
			if (GZ_UNLIKELY(!recv_fill(cq, w, rslot))) {
				cq->dropped++;
				continue;
			}
		}
		i++;
	}
	if (busy)
		atomic_fetch_sub_explicit(&cq->in_poll, 1, memory_order_release);
	if (c != cq->cons) {
		cq->cons = c;
		/* Release: the entries are read (and claim tags cleared)
		 * before producers may reuse them. */
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

/* How long slot @c has been reserved but unpublished; 1 once that is
 * over GZ_SHM_REAP_NS (then it is worth a liveness check). */
static int stalled(struct gz_shm_cq *cq)
{
	uint64_t now = gz_shm_now_ns();

	if (!cq->stall_since) {
		cq->stall_since = now;
		return 0;
	}
	if (now - cq->stall_since < GZ_SHM_REAP_NS)
		return 0;
	cq->stall_since = now;
	return 1;
}

void gz_shm_cq_reap_dead(struct gz_shm_cq *cq)
{
	uint32_t c = cq->cons, idx, rslot;
	struct gz_xdm_cqe *e = gz_ring_slot(&cq->ring, c);
	struct gz_shm_claim *cl = gz_shm_claim_of(e);
	struct gz_fabric_member m;
	uint64_t inc;
	uint32_t gcid, qpn;
	int ret;

	/* Nothing reserved: no stall. */
	if (atomic_load_explicit(&cq->ring.ctrl->prod, memory_order_acquire) ==
	    c) {
		cq->stall_since = 0;
		return;
	}
	/* Acquire pairs with the claimant's release of the tag: the claim
	 * fields below were written before it. */
	if (atomic_load_explicit(&cl->tag, memory_order_acquire) !=
	    GZ_SHM_CLAIM_TAG)
		return;		/* reserved, claim not written yet */
	idx = GZ_READ_ONCE(cl->idx);
	rslot = GZ_READ_ONCE(cl->rslot);
	inc = GZ_READ_ONCE(cl->incarnation);
	gcid = GZ_READ_ONCE(e->src_gcid);
	qpn = GZ_READ_ONCE(e->qp_num);
	if (idx != c || !stalled(cq))
		return;
	/* No lock: the registry slot is read as a seqlock. Alive, only
	 * slow, or we cannot tell: wait on. */
	ret = gz_fabric_lookup(&cq->ctx->fabric, GENZIO_GCID_CID(gcid), &m);
	if ((!ret && m.incarnation == inc) ||
	    (ret && ret != -EHOSTUNREACH))
		return;
	/* The claimant died holding the slot: complete its receive in
	 * error ourselves, so the cq and the receive queue move on (poll
	 * fills in what we posted there). */
	e->qp_num = qpn;
	e->context = 0;
	e->cidx = (uint16_t)rslot;
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
	cq->id = id;
	cq->chan = UINT32_MAX;
	cq->notify_fd = -1;
	cq->hdr->notify.chan = UINT32_MAX;
	if (attr->comp_mask & GENZIO_CQ_ATTR_CHANNEL) {
		cq->chan = container_of(attr->channel, struct gz_channel,
					pub)->id;
		cq->notify_fd = ctx->chan[cq->chan]->rfd;
		/* what peers read to wake us (the FIFO's sequence number);
		 * we keep our own copies */
		cq->hdr->notify.chan = ctx->chan[cq->chan]->seq;
	}
	cq->hdr->notify.id = id;
	cq->ctx = ctx;
	cq->base.pub.poll = shm_poll_cq;
	cq->base.pub.user_context = attr->user_context;
	cq->base.pub.context = base;
	cq->base.pub.depth = n;
	atomic_store_explicit(&ctx->cq[id], cq, memory_order_release);
	*out = &cq->base;
	return 0;
}

int gz_shm_cq_destroy(struct gz_cq *base)
{
	struct gz_shm_cq *cq = container_of(base, struct gz_shm_cq, base);

	if (cq->users)
		return gz_cq_busy(cq->users);
	atomic_store_explicit(&cq->ctx->cq[cq->id], NULL, memory_order_release);
	/* a channel waiter may be looking at it: let it leave first */
	gz_shm_progress_quiesce(cq->ctx);
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
		gz_shm_channel_arm_retry(cq->ctx, cq->chan);
	return 0;
}
