// SPDX-License-Identifier: MIT
/*
 * vfio provider: completion queues and channels. Poll reads the engine's
 * ring by phase bit and matches each entry to its queue pair's shadow
 * ring: the queue pair it names is looked up in our own table, and its
 * sequence must be one we posted and have not completed, or the entry is
 * dropped (counted). No lock, no allocation, no system call; every 64th
 * empty poll looks at the clock for a beat (gz_vf_liveness).
 *
 * The emulated bridge raises no interrupt, so a channel's wait looks at
 * its armed cqs on a timer (GZ_VF_WAIT_NS) rather than sleeping on one.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "providers/vfio/vfio.h"
#include "sys/sys.h"

/* The queue pair an entry of @cq names, if it is ours and on @cq. */
static struct gz_vf_qp *entry_qp(struct gz_vf_cq *cq,
				 const struct gz_xdm_cqe *e)
{
	struct gz_vf_qp *qp;

	if (e->qp_num >= GZ_BRIDGE_MAX_QP)
		return NULL;
	qp =
	    atomic_load_explicit(&cq->ctx->qp[e->qp_num], memory_order_acquire);
	return qp && qp->scq == cq ? qp : NULL;
}

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
	struct gz_vf_qp *qp = entry_qp(cq, e);
	uint64_t head, tail, seq;
	struct gz_vf_wqe *w;
	uint8_t st = e->status;

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
	/* the one the engine moves the queue pair to ERR for */
	if (GZ_UNLIKELY(st == GENZIO_WC_RETRY_EXC))
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

		if (!qp || qp->scq != cq ||
		    !atomic_load_explicit(&qp->flush, memory_order_acquire))
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

/* ---- channels ---- */
#define CH_TIMER 1
#define CH_GONE 2

/* The channel's next look in @ns (0: none). Looks back off while
 * nothing comes, from GZ_VF_WAIT_NS to GZ_VF_WAIT_MAX_NS, so an idle
 * waiter costs next to no CPU; req_notify starts again at the short
 * one. */
static void timer_set(struct gz_vf_channel *ch, uint64_t ns)
{
	struct itimerspec t = {{0, 0}, {0, (long)ns}};

	timerfd_settime(ch->timerfd, 0, &t, NULL);
}

int gz_vf_cq_req_notify(struct gz_cq *base)
{
	struct gz_vf_cq *cq = container_of(base, struct gz_vf_cq, base);
	struct gz_vf_channel *ch =
	    container_of(base->channel, struct gz_vf_channel, base.pub);

	atomic_store_explicit(&cq->armed, 1, memory_order_release);
	atomic_store_explicit(&ch->wait_ns, GZ_VF_WAIT_NS,
			      memory_order_relaxed);
	timer_set(ch, GZ_VF_WAIT_NS);
	return 0;
}

int gz_vf_channel_create(struct genzio_context *base, struct gz_channel **out)
{
	struct gz_vf_ctx *ctx = gz_vf_ctx_of(base);
	struct epoll_event t = {.events = EPOLLIN, .data.u64 = CH_TIMER};
	struct epoll_event g = {.events = EPOLLIN, .data.u64 = CH_GONE};
	struct gz_vf_channel *ch;
	uint32_t idx;
	int ret;

	for (idx = 0; idx < GZ_VF_MAX_CHANNELS && ctx->chan[idx]; idx++)
		;
	if (idx == GZ_VF_MAX_CHANNELS)
		return gz_err(-ENOSPC, "all %u channels in use",
			      GZ_VF_MAX_CHANNELS);
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	ch->idx = idx;
	ch->timerfd =
	    timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	ch->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ch->base.pub.fd = epoll_create1(EPOLL_CLOEXEC);
	if (ch->timerfd < 0 || ch->efd < 0 || ch->base.pub.fd < 0 ||
	    epoll_ctl(ch->base.pub.fd, EPOLL_CTL_ADD, ch->timerfd, &t) ||
	    epoll_ctl(ch->base.pub.fd, EPOLL_CTL_ADD, ch->efd, &g)) {
		ret = gz_err(-errno, "channel fds: %s", strerror(errno));
		gz_vf_channel_destroy(&ch->base);
		return ret;
	}
	ctx->chan[idx] = ch;
	if (atomic_load(&base->fatal))
		gz_vf_channels_wake(ctx);
	*out = &ch->base;
	return 0;
}

void gz_vf_channel_destroy(struct gz_channel *base)
{
	struct gz_vf_channel *ch =
	    container_of(base, struct gz_vf_channel, base);

	if (base->pub.context &&
	    gz_vf_ctx_of(base->pub.context)->chan[ch->idx] == ch)
		gz_vf_ctx_of(base->pub.context)->chan[ch->idx] = NULL;
	if (ch->base.pub.fd >= 0)
		close(ch->base.pub.fd);
	if (ch->timerfd >= 0)
		close(ch->timerfd);
	if (ch->efd >= 0)
		close(ch->efd);
	free(ch);
}

void gz_vf_channels_wake(struct gz_vf_ctx *ctx)
{
	for (uint32_t i = 0; i < GZ_VF_MAX_CHANNELS; i++)
		if (ctx->chan[i] && eventfd_write(ctx->chan[i]->efd, 1) < 0) {
			/* a full counter wakes as well */
		}
}

/* An armed cq of @ch with a completion waiting: disarmed, its event
 * counted (under the ctx lock, so it is not destroyed meanwhile). Also
 * stops the timer when no cq of @ch is armed any more. */
static struct gz_vf_cq *fired(struct gz_vf_ctx *ctx, struct gz_vf_channel *ch)
{
	struct gz_vf_cq *hit = NULL;
	int armed = 0;

	gz_ctx_lock(&ctx->base);
	for (uint32_t i = 0; i < GZ_BRIDGE_MAX_CQ; i++) {
		struct gz_vf_cq *cq = ctx->cq[i];

		if (!cq || cq->base.channel != &ch->base.pub ||
		    !atomic_load_explicit(&cq->armed, memory_order_acquire))
			continue;
		if (!hit && gz_vslot_peek(&ctx->slot, cq->idx)) {
			atomic_store(&cq->armed, 0);
			__atomic_fetch_add(&cq->base.events, 1,
					   __ATOMIC_RELAXED);
			hit = cq;
		} else {
			armed = 1;
		}
	}
	if (!hit) {
		uint64_t ns =
		    atomic_load_explicit(&ch->wait_ns, memory_order_relaxed);

		ns = ns * 2 < GZ_VF_WAIT_MAX_NS ? ns * 2 : GZ_VF_WAIT_MAX_NS;
		atomic_store_explicit(&ch->wait_ns, ns, memory_order_relaxed);
		timer_set(ch, armed ? ns : 0);
	}
	gz_ctx_unlock(&ctx->base);
	return hit;
}

int gz_vf_channel_get_event(struct gz_channel *base, int timeout_ms,
			    struct gz_cq **out)
{
	struct gz_vf_channel *ch =
	    container_of(base, struct gz_vf_channel, base);
	struct gz_vf_ctx *ctx = gz_vf_ctx_of(base->pub.context);
	uint64_t end = gz_sys_now_ns() +
		       (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000u;

	for (;;) {
		struct epoll_event e[2];
		struct gz_vf_cq *cq;
		uint64_t ticks, now;
		int n;

		if (read(ch->timerfd, &ticks, sizeof(ticks)) < 0) {
			/* not due yet */
		}
		gz_vf_liveness(ctx, 0);
		if ((cq = fired(ctx, ch))) {
			*out = &cq->base;
			return 0;
		}
		if (atomic_load(&ctx->base.fatal))
			return gz_ctx_gone(&ctx->base);
		if (!timeout_ms)
			return -EAGAIN;
		now = gz_sys_now_ns();
		if (timeout_ms > 0 && now >= end)
			return -ETIMEDOUT;
		/* the timer wakes us while a cq is armed; without one, the
		 * wait is for a fatal wake-up or the timeout only */
		n = epoll_wait(
		    base->pub.fd, e, 2,
		    timeout_ms < 0 ? 1000 : (int)((end - now) / 1000000u) + 1);
		if (n < 0 && errno != EINTR)
			return gz_err(-errno, "epoll_wait: %s",
				      strerror(errno));
		if (n < 0)
			return -EINTR;
	}
}
