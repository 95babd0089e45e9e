// SPDX-License-Identifier: MIT
/*
 * Requests that must wait: a SEND that found no receive posted, anything
 * posted behind it (order is kept), and a request that took effect but
 * found its cq full. A parked request holds no cq slot - completions of
 * other requests never wait behind it - but it is counted in its cq's
 * "owed", so later posts leave the room it will need.
 *
 * Progress runs from post, poll and channel waits, with no context lock:
 * a poller announces itself in ctx->progress_busy, and a destroy unhooks
 * what it frees, then waits for the pollers to leave.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "providers/shm/shm.h"

static void park_lock(struct gz_shm_qp *qp)
{
	/* in-process only, held for a bounded walk of the parked queue */
	while (atomic_flag_test_and_set_explicit(&qp->park_lock,
						 memory_order_acquire))
		sched_yield();
}

static void park_unlock(struct gz_shm_qp *qp)
{
	atomic_flag_clear_explicit(&qp->park_lock, memory_order_release);
}

static void parked_set(struct gz_shm_qp *qp)
{
	struct gz_shm_cq *cq = qp->scq;

	atomic_fetch_or(&cq->parked_qps[qp->slot / 64], 1ull << (qp->slot % 64));
	atomic_fetch_add(&cq->parked, 1);
}

/* 1 if @qp was in its cq's parked set (and is not any more). */
static int parked_clear(struct gz_shm_qp *qp)
{
	struct gz_shm_cq *cq = qp->scq;
	uint64_t bit = 1ull << (qp->slot % 64);

	if (!(atomic_fetch_and(&cq->parked_qps[qp->slot / 64], ~bit) & bit))
		return 0;
	atomic_fetch_sub(&cq->parked, 1);
	return 1;
}

static void owe(struct gz_shm_parked *p, struct gz_shm_cq *cq)
{
	if (!p->owes) {
		p->owes = 1;
		atomic_fetch_add(&cq->owed, 1);
	}
}

int gz_shm_park(struct gz_shm_qp *qp, const struct genzio_send_wr *wr,
		int done, uint8_t status)
{
	struct gz_shm_parked *p;
	uint32_t n;

	park_lock(qp);
	n = atomic_load_explicit(&qp->npark, memory_order_relaxed);
	if (n >= GZ_SHM_PARKED) {
		park_unlock(qp);
		return -EAGAIN;
	}
	/* a copy: the caller may reuse the request, and inline data too */
	p = &qp->park[(qp->park_head + n) % GZ_SHM_PARKED];
	p->wr = *wr;
	p->wr.next = NULL;
	p->wr.sg_list = p->sge;
	p->done = (uint8_t)done;
	p->status = status;
	p->owes = 0;
	if (wr->num_sge)	/* an atomic may have no list at all */
		memcpy(p->sge, wr->sg_list,
		       (size_t)wr->num_sge * sizeof(p->sge[0]));
	/* inline data to send is copied; an inline READ's buffer is the
	 * destination and stays the caller's */
	if (wr->send_flags & GENZIO_SEND_INLINE && wr->num_sge &&
	    wr->opcode != GENZIO_WR_READ) {
		/* gz_wr_check() bounded it by max_inline; never trust that
		 * here, where an overrun would corrupt the queue */
		if (wr->sg_list[0].length > sizeof(p->data)) {
			park_unlock(qp);
			return -EINVAL;
		}
		memcpy(p->data, (const void *)(uintptr_t)wr->sg_list[0].addr,
		       wr->sg_list[0].length);
		p->sge[0].addr = (uintptr_t)p->data;
	}
	if (done || (wr->send_flags & GENZIO_SEND_SIGNALED))
		owe(p, qp->scq);
	p->deadline_ns = gz_shm_now_ns() + qp->rdm_timeout_ns;
	p->paired = qp->base.pub.qp_type != GENZIO_QPT_RC || gz_shm_paired(qp);
	if (!n)
		parked_set(qp);
	atomic_store_explicit(&qp->npark, n + 1, memory_order_release);
	park_unlock(qp);
	gz_shm_channel_arm_retry(qp->ctx, qp->scq->chan);
	return 0;
}

/* Run the request at the head. 0 when it is finished (completed, or an
 * unsignaled success), nonzero while it must wait. */
static int run_head(struct gz_shm_qp *qp, struct gz_shm_parked *p)
{
	struct gz_xdm_cqe res = { .opcode = gz_shm_wc_opcode[p->wr.opcode] };
	uint8_t st = 0;
	uint32_t idx;
	int r;

	if (p->done) {
		/* executed already: only its completion was owed */
		if (gz_ring_reserve(&qp->scq->ring, &idx))
			return -EAGAIN;
		gz_shm_complete(qp, idx, &p->wr, &res, p->status);
		return 0;
	}
	/* waiting for the peer to connect back is not waiting for its
	 * receive: the receive timeout starts once it has connected */
	if (!p->paired && !gz_shm_pair_check(qp)) {
		p->paired = 1;
		p->deadline_ns = gz_shm_now_ns() + qp->rdm_timeout_ns;
	}
	r = gz_shm_run_one(qp, &p->wr, p->deadline_ns, 1, &st);
	if (r == GZ_SHM_DONE) {
		p->done = 1;
		p->status = st;
		owe(p, qp->scq);
	}
	return r;
}

void gz_shm_qp_progress(struct gz_shm_qp *qp)
{
	/* Whoever holds the lock is making the same progress. */
	if (atomic_flag_test_and_set_explicit(&qp->park_lock,
					      memory_order_acquire))
		return;
	while (atomic_load_explicit(&qp->npark, memory_order_relaxed)) {
		struct gz_shm_parked *p = &qp->park[qp->park_head];

		if (run_head(qp, p))
			break;
		if (p->owes)
			atomic_fetch_sub(&qp->scq->owed, 1);
		qp->park_head = (qp->park_head + 1) % GZ_SHM_PARKED;
		/* Release (seq-cst RMW): a poster that then reads npark 0
		 * with acquire sees what we did with its queue pair. */
		if (atomic_fetch_sub(&qp->npark, 1) == 1)
			parked_clear(qp);
	}
	park_unlock(qp);
}

/* Progress every queue pair of @cq that parked; ctx->progress_busy held. */
static void cq_progress_busy(struct gz_shm_cq *cq)
{
	struct gz_shm_ctx *ctx = cq->ctx;

	for (uint32_t w = 0; w < GZ_SHM_MAX_QP / 64; w++) {
		uint64_t bits = atomic_load_explicit(&cq->parked_qps[w],
						     memory_order_relaxed);

		while (bits) {
			uint32_t slot = w * 64 + (uint32_t)__builtin_ctzll(bits);
			/* seq-cst: after busy_enter(), see quiesce() */
			struct gz_shm_qp *qp = atomic_load_explicit(
				&ctx->qp[slot], memory_order_seq_cst);

			bits &= bits - 1;
			if (qp && qp->scq == cq)
				gz_shm_qp_progress(qp);
		}
	}
}

/* Announce a poller; seq-cst pairs with the one in quiesce(): either the
 * destroyer sees us, or we see its queue pair (or cq) unhooked. */
static void busy_enter(struct gz_shm_ctx *ctx)
{
	atomic_fetch_add_explicit(&ctx->progress_busy, 1, memory_order_seq_cst);
}

static void busy_leave(struct gz_shm_ctx *ctx)
{
	atomic_fetch_sub_explicit(&ctx->progress_busy, 1, memory_order_release);
}

void gz_shm_cq_progress(struct gz_shm_cq *cq)
{
	busy_enter(cq->ctx);
	cq_progress_busy(cq);
	busy_leave(cq->ctx);
}

void gz_shm_chan_progress(struct gz_shm_ctx *ctx, uint32_t chan, int *left)
{
	busy_enter(ctx);
	for (uint32_t i = 0; i < GZ_SHM_MAX_QP; i++) {
		struct gz_shm_cq *cq = atomic_load_explicit(
			&ctx->cq[i], memory_order_seq_cst);

		if (!cq || cq->chan != chan ||
		    !atomic_load_explicit(&cq->parked, memory_order_relaxed))
			continue;
		cq_progress_busy(cq);
		*left |= !!atomic_load(&cq->parked);
	}
	busy_leave(ctx);
}

void gz_shm_progress_quiesce(struct gz_shm_ctx *ctx)
{
	atomic_thread_fence(memory_order_seq_cst);
	while (atomic_load_explicit(&ctx->progress_busy, memory_order_acquire))
		sched_yield();
}

void gz_shm_park_flush(struct gz_shm_qp *qp)
{
	struct gz_shm_cq *cq = qp->scq;

	parked_clear(qp);
	gz_shm_progress_quiesce(qp->ctx);
	park_lock(qp);
	/* every parked request completes: flushed, or with its status if
	 * it took effect; where the cq has no room, it is dropped */
	for (uint32_t i = 0; i < atomic_load(&qp->npark); i++) {
		struct gz_shm_parked *p =
			&qp->park[(qp->park_head + i) % GZ_SHM_PARKED];
		struct gz_xdm_cqe res = {
			.opcode = gz_shm_wc_opcode[p->wr.opcode] };
		uint32_t idx;

		if (!gz_ring_reserve(&cq->ring, &idx))
			gz_shm_complete(qp, idx, &p->wr, &res,
					p->done ? p->status : GENZIO_WC_FLUSHED);
		if (p->owes)
			atomic_fetch_sub(&cq->owed, 1);
	}
	atomic_store(&qp->npark, 0);
	park_unlock(qp);
}
