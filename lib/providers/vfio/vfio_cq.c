// SPDX-License-Identifier: MIT
/*
 * vfio provider: completion queues. Poll reads the engine's
 * ring by phase bit and matches each entry to its queue pair's shadow
 * ring: the queue pair it names is looked up in our own table, and its
 * sequence must be one we posted and have not completed, or the entry is
 * dropped (counted). No lock, no allocation, no system call; every 64th
 * empty poll looks at the clock for a beat (gz_vf_liveness).
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "providers/vfio/vfio.h"

static void wc_fill(const struct gz_vf_qp *qp, const struct gz_vf_wqe *w,
		    uint32_t st, const struct gz_xdm_cqe *e,
		    struct genzio_wc *wc)
{
	memset(wc, 0, sizeof(*wc));
	wc->wr_id = w->wr_id;
	wc->status = st;
	wc->opcode = w->opcode;
	wc->byte_len = st ? 0 : w->len;
	wc->qp_num = qp->base.pub.qp_num;
	if (e && w->opcode == GENZIO_WC_ATOMIC && !st)
		memcpy(&wc->result, e->result, sizeof(wc->result));
}

/* Entry @e of @cq: 1 and *@wc, or 0 (hidden, or dropped). */
static int take(struct gz_vf_cq *cq, const struct gz_xdm_cqe *e,
		struct genzio_wc *wc)
{
	struct gz_vf_qp *qp;
	uint64_t head, tail, seq;
	struct gz_vf_wqe *w;
	uint8_t st = e->status;

	if (e->opcode == GENZIO_WC_RECV ||
	    e->opcode == GENZIO_WC_RECV_WRITE_IMM)
		return gz_vf_recv_take(cq, e, wc);
	qp = gz_vf_entry_qp(cq, e->qp_num, 0);
	if (!qp) {
		cq->dropped++;
		return 0;
	}
	head = atomic_load_explicit(&qp->head, memory_order_relaxed);
	tail = atomic_load_explicit(&qp->tail, memory_order_acquire);
	/* the 16-bit index as a sequence at or after our head: one we
	 * posted and have not completed, or garbage (or from before a
	 * reset, which comes out far beyond the tail) */
	seq = head + (uint16_t)(e->cidx - (uint16_t)head);
	if (seq >= tail) {
		cq->dropped++;
		return 0;
	}
	/* the ones before it ran, in order, and succeeded unsignaled (a
	 * result whose registration went meanwhile does not land: nobody
	 * asked to hear of it) */
	for (; head < seq; head++)
		gz_vf_wqe_finish(qp, &qp->wqe[head & (qp->depth - 1)], NULL, 1);
	w = &qp->wqe[seq & (qp->depth - 1)];
	if (!st)
		st = gz_vf_wqe_finish(qp, w, e, 1);
	else
		gz_vf_wqe_finish(qp, w, e, 0);
	/* the ones the engine moves an RC queue pair to ERR for */
	if (GZ_UNLIKELY(st == GENZIO_WC_RETRY_EXC || st == GENZIO_WC_REM_QP) &&
	    !qp->rd)
		gz_vf_qp_failed(qp, st);
	if (st || w->signaled)
		wc_fill(qp, w, st, e, wc);
	atomic_store_explicit(&qp->head, seq + 1, memory_order_release);
	return st || w->signaled;
}

/* The device is gone: what @cq's queue pairs still owe completes
 * FLUSHED, at most @n. */
static int flush(struct gz_vf_cq *cq, int n, struct genzio_wc *wc)
{
	int got = 0;

	for (uint32_t i = 0; i < GZ_BRIDGE_MAX_QP && got < n; i++) {
		struct gz_vf_qp *qp =
		    atomic_load_explicit(&cq->ctx->qp[i], memory_order_acquire);
		uint64_t head, tail;

		if (!qp ||
		    !atomic_load_explicit(&qp->flush, memory_order_acquire))
			continue;
		if (qp->rcq == cq)
			got += gz_vf_recv_flush(qp, n - got, wc + got);
		if (qp->scq != cq)
			continue;
		head = atomic_load_explicit(&qp->head, memory_order_relaxed);
		tail = atomic_load_explicit(&qp->tail, memory_order_acquire);
		for (; head < tail && got < n; head++, got++) {
			struct gz_vf_wqe *w = &qp->wqe[head & (qp->depth - 1)];

			gz_vf_wqe_finish(qp, w, NULL, 0);
			wc_fill(qp, w, GENZIO_WC_FLUSHED, NULL, &wc[got]);
		}
		atomic_store_explicit(&qp->head, head, memory_order_release);
	}
	return got;
}

/* CQ_OVERRUN, raised once; -EOVERFLOW. */
static __attribute__((noinline)) int overrun(struct gz_vf_cq *cq)
{
	struct genzio_event e = {.type = GENZIO_EVENT_CQ_OVERRUN,
				 .cq = &cq->base.pub};

	if (!atomic_exchange(&cq->overrun_told, 1))
		gz_event_push(&cq->ctx->base, &e);
	return -EOVERFLOW;
}

static int vf_poll(struct genzio_cq *pub, int n, struct genzio_wc *wc)
{
	struct gz_vf_cq *cq = container_of(pub, struct gz_vf_cq, base.pub);
	struct gz_vf_ctx *ctx = cq->ctx;
	/* entries dropped or hidden count too: an engine that writes them
	 * as fast as they go cannot keep us here */
	uint32_t budget = (uint32_t)n + cq->ring_ent;
	struct gz_xdm_cqe e;
	int got = 0;

	/* seq-cst: a destroy that took its queue pair out of the table
	 * and then sees us even knows we will not find it */
	atomic_fetch_add_explicit(&cq->in_poll, 1, memory_order_seq_cst);
	/* a gone device's ring is no one's to read (the slot may be
	 * another's): what is owed comes from flush() */
	while (got < n && budget-- &&
	       !atomic_load_explicit(&ctx->base.fatal, memory_order_relaxed) &&
	       gz_vslot_poll(&ctx->slot, cq->idx, &e))
		got += take(cq, &e, &wc[got]);
	if (GZ_UNLIKELY(!got) &&
	    atomic_load_explicit(&ctx->nflush, memory_order_acquire))
		got = flush(cq, n, wc);
	/* empty, and a message found it full: in error for good */
	if (GZ_UNLIKELY(!got && n) &&
	    GZ_UNLIKELY(gz_vslot_cq_overrun(&ctx->slot, cq->idx)))
		got = overrun(cq);
	atomic_fetch_add_explicit(&cq->in_poll, 1, memory_order_release);
	/* after the bracket: a look may take the ctx lock (for
	 * DEVICE_FATAL), which a destroy that waits for this poll holds */
	if (GZ_UNLIKELY(!(++cq->polls & 63)))
		gz_vf_liveness(ctx, 0);
	return got;
}

void gz_vf_cq_drain(struct gz_vf_cq *cq)
{
	uint32_t p;

	atomic_thread_fence(memory_order_seq_cst);
	p = atomic_load_explicit(&cq->in_poll, memory_order_acquire);
	if (p & 1)
		while (atomic_load_explicit(&cq->in_poll,
					    memory_order_acquire) == p)
			sched_yield();
}

int gz_vf_cq_create(struct genzio_context *base,
		    const struct genzio_cq_attr *attr, struct gz_cq **out)
{
	struct gz_vf_ctx *ctx = gz_vf_ctx_of(base);
	struct gz_vf_cq *cq;
	uint32_t idx;
	int ret;

	gz_vf_beat(ctx);
	/* one no cq holds, nor a ring kept out of use */
	for (idx = 0;
	     idx < GZ_BRIDGE_MAX_CQ && (ctx->cq[idx] || ctx->slot.cq[idx].ent);
	     idx++)
		;
	if (idx == GZ_BRIDGE_MAX_CQ)
		return gz_err(-ENOSPC, "all %u cqs of the slot in use",
			      GZ_BRIDGE_MAX_CQ);
	cq = calloc(1, sizeof(*cq));
	if (!cq)
		return -ENOMEM;
	ret = gz_vslot_cq_create(&ctx->slot, idx, gz_roundup_pow2(attr->depth));
	if (ret) {
		free(cq);
		return gz_err(ret, "a ring of %u entries: %s",
			      gz_roundup_pow2(attr->depth),
			      ret == -ENOSPC ? "the slot's queue area is full"
					     : strerror(-ret));
	}
	cq->ctx = ctx;
	cq->idx = idx;
	cq->ring_ent = gz_roundup_pow2(attr->depth);
	cq->base.pub.poll = vf_poll;
	cq->base.pub.user_context = attr->user_context;
	cq->base.pub.context = base;
	cq->base.pub.depth = attr->depth;
	ctx->cq[idx] = cq;
	*out = &cq->base;
	return 0;
}

int gz_vf_cq_destroy(struct gz_cq *base)
{
	struct gz_vf_cq *cq = container_of(base, struct gz_vf_cq, base);

	if (cq->users)
		return gz_cq_busy(cq->users);
	/* no queue pair completes into it: the engine writes it no more,
	 * unless a destroyed one it did not reset still runs (its ring
	 * then stays out of use) */
	if (!cq->ctx->stuck)
		gz_vslot_cq_destroy(&cq->ctx->slot, cq->idx);
	cq->ctx->cq[cq->idx] = NULL;
	free(cq);
	return 0;
}
