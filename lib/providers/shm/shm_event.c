// SPDX-License-Identifier: MIT
/*
 * Unsolicited events of the shm provider: peers that exit (their pidfds
 * in the context's event set), completion queues that overran, and the
 * device going away (shm_watch.c finds out).
 */
#include <sys/epoll.h>
#include <unistd.h>

#include "providers/shm/shm.h"

void gz_shm_device_fatal(struct genzio_context *base, uint8_t status)
{
	struct gz_shm_ctx *ctx = to_shm_ctx(base);
	uint32_t none = UINT32_MAX;

	for (uint32_t i = 0; i < GZ_SHM_MAX_QP; i++) {
		struct gz_shm_qp *qp = atomic_load(&ctx->qp[i]);

		if (qp)
			gz_shm_qp_down(qp, status);
	}
	/* a waiter with no armed cq wakes too, and hears -ENODEV: an id no
	 * cq has */
	for (uint32_t i = 0; i < GZ_SHM_MAX_CHANNELS; i++)
		if (ctx->chan[i] &&
		    write(ctx->chan[i]->rfd, &none, sizeof(none)) < 0) {
			/* a full FIFO holds a wake-up already */
		}
}

/* Raise CQ_OVERRUN once for @cq (the event fd becomes readable). */
void gz_shm_cq_overrun_event(struct gz_shm_cq *cq)
{
	struct genzio_event e = { .type = GENZIO_EVENT_CQ_OVERRUN,
				  .cq = &cq->base.pub };

	if (!__atomic_exchange_n(&cq->overrun_told, 1, __ATOMIC_RELAXED))
		gz_event_push(&cq->ctx->base, &e);
}

void gz_shm_event_harvest(struct genzio_context *base)
{
	struct gz_shm_ctx *ctx = to_shm_ctx(base);
	struct epoll_event ev[16];
	int n;

	gz_ctx_lock(base);
	/* whether or not its fd woke us: another context may have read it */
	gz_shm_comp_check(ctx, 1);
	gz_shm_fm_watch_drain(ctx);
	gz_shm_fm_harvest(ctx);
	n = epoll_wait(base->ev.epfd, ev, 16, 0);
	for (int i = 0; i < n; i++) {
		uint32_t cid = (uint32_t)(ev[i].data.u64 >> 32);
		uint32_t gen = (uint32_t)ev[i].data.u64;
		struct gz_shm_peer *p;

		if (!cid || cid > GZ_SHM_MAX_CID)
			continue;	/* the queue's eventfd, the watch */
		/* by name, not by pointer: an entry may outlive its peer */
		p = ctx->peer[cid];
		if (!p || p->gen != gen || p->pidfd < 0)
			continue;
		/* The process is gone: a pidfd never names a successor. */
		gz_shm_peer_died(p);
		gz_shm_peer_unwatch(p);
	}
	for (uint32_t i = 0; i < GZ_SHM_MAX_QP; i++) {
		struct gz_shm_cq *cq = atomic_load_explicit(
			&ctx->cq[i], memory_order_acquire);

		if (cq && atomic_load_explicit(&cq->hdr->notify.overrun,
					       memory_order_acquire))
			gz_shm_cq_overrun_event(cq);
	}
	gz_ctx_unlock(base);
}
