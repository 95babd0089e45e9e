// SPDX-License-Identifier: MIT
/*
 * verbs provider: the device's async events become genzio events. The
 * context's async fd sits in the event fd's epoll set, so a program that
 * waits on genzio_event_fd() wakes for them; genzio_event_get() harvests.
 *
 * libibverbs' destroy of a queue pair or cq waits until every async event
 * naming it is acknowledged, and our destroys run under the ctx lock: so
 * an event is copied and acknowledged first, and only then is the lock
 * taken to find what it names.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

#include "providers/verbs/verbs.h"

void gz_vb_event_watch(struct genzio_context *base)
{
	struct gz_vb_ctx *ctx = gz_vb_ctx_of(base);
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = ctx };

	if (epoll_ctl(base->ev.epfd, EPOLL_CTL_ADD, ctx->ib->async_fd, &e))
		gz_err(-errno, "async events will not wake the event fd: %s",
		       strerror(errno));
}

/* What an event names, copied before it is acknowledged (until then
 * libibverbs keeps the object alive): the queue pair with the tag it had
 * (a reset since makes it another connection's), or the cq. */
struct named {
	struct gz_vb_qp *qp;
	uint64_t tag;
	struct gz_vb_cq *cq;
};

/* @n.qp if it still is the connection the event was about, under the
 * ctx lock. */
static struct gz_vb_qp *qp_live(struct gz_vb_ctx *ctx, const struct named *n)
{
	struct gz_vb_qp *qp = n->qp;

	if (!qp || qp->slot >= GZ_VB_MAX_QP ||
	    atomic_load_explicit(&ctx->qp[qp->slot], memory_order_relaxed) != qp ||
	    atomic_load_explicit(&qp->tag, memory_order_relaxed) != n->tag)
		return NULL;
	return qp;
}

/* @n.cq if it was not destroyed meanwhile, under the ctx lock. */
static struct gz_vb_cq *cq_live(struct gz_vb_ctx *ctx, const struct named *n)
{
	for (struct gz_vb_cq *cq = ctx->cqs; cq; cq = cq->next)
		if (cq == n->cq)
			return cq;
	return NULL;
}

static uint32_t qp_event_status(enum ibv_event_type t)
{
	switch (t) {
	case IBV_EVENT_QP_REQ_ERR:
		return GENZIO_WC_REM_INV_REQ;
	case IBV_EVENT_QP_ACCESS_ERR:
		return GENZIO_WC_REM_ACCESS;
	default:
		return GENZIO_WC_FATAL;
	}
}

static void port_event(struct gz_vb_ctx *ctx, int up)
{
	struct genzio_event e = {
		.type = up ? GENZIO_EVENT_LINK_UP : GENZIO_EVENT_LINK_DOWN,
		.gcid = ctx->base.attr.gcid,
	};

	/* a port flaps as often as it likes; say each change once */
	if (atomic_exchange(&ctx->port_up, (uint32_t)up) != (uint32_t)up)
		gz_event_push(&ctx->base, &e);
}

static void one_event(struct gz_vb_ctx *ctx, const struct ibv_async_event *ev,
		      const struct named *n)
{
	struct genzio_event e = { 0 };
	struct gz_vb_qp *qp;
	struct gz_vb_cq *cq;

	switch (ev->event_type) {
	case IBV_EVENT_PORT_ACTIVE:
	case IBV_EVENT_PORT_ERR:
		if (ev->element.port_num == ctx->port)
			port_event(ctx, ev->event_type == IBV_EVENT_PORT_ACTIVE);
		return;
	case IBV_EVENT_QP_FATAL:
	case IBV_EVENT_QP_REQ_ERR:
	case IBV_EVENT_QP_ACCESS_ERR:
		gz_ctx_lock(&ctx->base);
		qp = qp_live(ctx, n);
		/* an RD queue pair's UD one: progress restarts it */
		if (qp && qp->role == GZ_VB_RD)
			atomic_store(&qp->rd->wire_broken, 1);
		else if (qp)
			gz_vb_qp_failed(qp, qp_event_status(ev->event_type));
		gz_ctx_unlock(&ctx->base);
		return;
	case IBV_EVENT_CQ_ERR:
		/* verbs says it once per completion it could not write;
		 * raised once, for a cq that still exists */
		gz_ctx_lock(&ctx->base);
		cq = cq_live(ctx, n);
		if (cq && !atomic_exchange(&cq->overrun, 1)) {
			e.type = GENZIO_EVENT_CQ_OVERRUN;
			e.cq = &cq->base.pub;
			gz_event_push(&ctx->base, &e);
		}
		gz_ctx_unlock(&ctx->base);
		return;
	case IBV_EVENT_DEVICE_FATAL:
		gz_ctx_lock(&ctx->base);
		gz_device_fatal(&ctx->base, GENZIO_WC_FATAL,
				"IBV_EVENT_DEVICE_FATAL");
		gz_ctx_unlock(&ctx->base);
		return;
	default:
		/* COMM_EST, LID/GID/PKEY changes, SRQ and path events: no
		 * genzio meaning */
		gz_err(0, "%s: ignored", ibv_event_type_str(ev->event_type));
		return;
	}
}

void gz_vb_event_harvest(struct genzio_context *base)
{
	struct gz_vb_ctx *ctx = gz_vb_ctx_of(base);
	struct ibv_async_event ev;

	/* the async fd is non-blocking (device open) */
	while (!ibv_get_async_event(ctx->ib, &ev)) {
		struct named n = { 0 };

		switch (ev.event_type) {
		case IBV_EVENT_QP_FATAL:
		case IBV_EVENT_QP_REQ_ERR:
		case IBV_EVENT_QP_ACCESS_ERR:
			/* our queue pairs' context is their gz_vb_qp */
			n.qp = ev.element.qp->qp_context;
			if (n.qp)
				n.tag = atomic_load_explicit(
					&n.qp->tag, memory_order_relaxed);
			break;
		case IBV_EVENT_CQ_ERR:
			n.cq = ev.element.cq->cq_context;
			break;
		default:
			break;
		}
		ibv_ack_async_event(&ev);
		one_event(ctx, &ev, &n);
	}
	/* the event fd wakes for RD wire-up too: that is progress */
	gz_vb_rd_progress(ctx, 1);
}

void gz_vb_device_fatal(struct genzio_context *base, uint8_t status)
{
	struct gz_vb_ctx *ctx = gz_vb_ctx_of(base);

	for (uint32_t i = 0; i < GZ_VB_MAX_QP; i++) {
		struct gz_vb_qp *qp = atomic_load_explicit(&ctx->qp[i],
							   memory_order_relaxed);
		struct ibv_qp_attr a = { .qp_state = IBV_QPS_ERR };

		if (!qp)
			continue;
		/* verbs flushes what is outstanding, and what comes later */
		ibv_modify_qp(qp->ib, &a, IBV_QP_STATE);
		atomic_store(&qp->err_status, status);
		atomic_store(&qp->state, GENZIO_QPS_ERR);
	}
	gz_vb_channels_wake(ctx);
}
