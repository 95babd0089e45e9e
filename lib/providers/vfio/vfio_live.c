// SPDX-License-Identifier: MIT
/*
 * vfio provider: how a context shows it lives and learns the engine is
 * gone. It beats (a guest: the engine reaps a slot that stops), looks at
 * the engine's heartbeat, magic and incarnation, and at queue pairs the
 * engine stopped serving; from poll, channel waits, setup calls and the
 * event fd, whose timer wakes a waiter for that. A gone engine is
 * DEVICE_FATAL: every queue pair flushed by poll, the slot given back.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "providers/vfio/vfio.h"
#include "sys/sys.h"

/* Queue pairs the engine stopped serving on its own without flushing
 * them (a broken ring, a pairing refused): poll flushes them. Under the
 * ctx lock. */
static void qp_watch(struct gz_vf_ctx *ctx)
{
	for (uint32_t i = 0; i < GZ_BRIDGE_MAX_QP; i++) {
		struct gz_vf_qp *qp = atomic_load(&ctx->qp[i]);
		uint32_t st;

		if (!qp || atomic_load(&qp->state) != GENZIO_QPS_RTS ||
		    atomic_load(&qp->flush) ||
		    gz_vslot_qp_state(&ctx->slot, i) == GZ_BRIDGE_QP_RTS)
			continue;
		/* RETRY_EXC, REM_QP: the engine completes the rest FLUSHED
		 * itself */
		st = GZ_READ_ONCE(ctx->slot.s->qp[i].status);
		if (gz_vslot_qp_state(&ctx->slot, i) == GZ_BRIDGE_QP_ERR &&
		    (st == GZ_XDM_ST_RETRY_EXC || st == GZ_XDM_ST_REM_QP))
			continue;
		st = st && st <= 0xff ? st : GENZIO_WC_GENERAL_ERR;
		gz_vf_qp_flush(qp, st);
		gz_vf_qp_failed(qp, st);
	}
}

/* A cq a message found full (the engine's word) says so by CQ_OVERRUN
 * as well as in poll: once, whichever comes first (under the ctx lock,
 * so no cq goes meanwhile). */
static void cq_watch(struct gz_vf_ctx *ctx)
{
	for (uint32_t i = 0; i < GZ_BRIDGE_MAX_CQ; i++) {
		struct gz_vf_cq *cq = ctx->cq[i];
		struct genzio_event e = {.type = GENZIO_EVENT_CQ_OVERRUN};

		if (!cq || atomic_load(&cq->overrun_told) ||
		    !gz_vslot_cq_overrun(&ctx->slot, cq->idx) ||
		    atomic_exchange(&cq->overrun_told, 1))
			continue;
		e.cq = &cq->base.pub;
		gz_event_push(&ctx->base, &e);
	}
}

void gz_vf_liveness(struct gz_vf_ctx *ctx, int force)
{
	const char *why = NULL;
	uint64_t now;
	int reaped;

	if (!force &&
	    gz_sys_now_ns() - atomic_load(&ctx->beat_ns) < GZ_VF_BEAT_NS)
		return;
	/* one looker at a time (the words it keeps are its own), and one
	 * that never waits: a poll calls this, and a setup call may hold
	 * the lock for a while */
	if (atomic_exchange(&ctx->looking, 1))
		return;
	now = gz_sys_now_ns();
	atomic_store(&ctx->beat_ns, now);
	/* the beat needs no lock: a setup call that holds it long (a
	 * large mem_alloc, a connect's wait) must not get us reaped */
	reaped = gz_vslot_beat(&ctx->slot);
	if (pthread_mutex_trylock(&ctx->base.lock)) {
		atomic_store(&ctx->looking, 0);
		return;
	}
	if (atomic_load(&ctx->base.fatal))
		; /* told already */
	else if (gz_bridge_alive(&ctx->m, &ctx->hb_seen, &ctx->hb_since, now,
				 GZ_VF_ALIVE_NS))
		why = "the bridge's engine stopped (genzio-bridged killed, "
		      "stopped, or restarted on the file)";
	else if (reaped)
		why = "the bridge's engine reaped our slot (no beat for ten "
		      "seconds: stopped?)";
	else {
		qp_watch(ctx);
		cq_watch(ctx);
		gz_vf_fabric_watch(ctx);
	}
	if (why)
		gz_device_fatal(&ctx->base, GENZIO_WC_FATAL, why);
	gz_ctx_unlock(&ctx->base);
	atomic_store(&ctx->looking, 0);
}

void gz_vf_event_watch(struct genzio_context *base)
{
	struct gz_vf_ctx *ctx = gz_vf_ctx_of(base);
	struct epoll_event e = {.events = EPOLLIN, .data.u64 = 1};

	if (epoll_ctl(base->ev.epfd, EPOLL_CTL_ADD, ctx->timerfd, &e))
		gz_err(-errno,
		       "the beat timer in the event set: %s (beat by "
		       "polling)",
		       strerror(errno));
}

void gz_vf_event_harvest(struct genzio_context *base)
{
	struct gz_vf_ctx *ctx = gz_vf_ctx_of(base);
	uint64_t ticks;

	if (read(ctx->timerfd, &ticks, sizeof(ticks)) == sizeof(ticks))
		gz_vf_liveness(ctx, 1);
	else
		gz_vf_liveness(ctx, 0);
}

void gz_vf_device_fatal(struct genzio_context *base, uint8_t status)
{
	struct gz_vf_ctx *ctx = gz_vf_ctx_of(base);

	for (uint32_t i = 0; i < GZ_BRIDGE_MAX_QP; i++) {
		struct gz_vf_qp *qp = atomic_load(&ctx->qp[i]);

		if (qp)
			gz_vf_qp_flush(qp, status);
	}
	/* a live engine (one we took for dead) stops serving the slot;
	 * nothing of ours writes it from now on */
	gz_vslot_release(&ctx->slot);
	gz_vf_channels_wake(ctx);
}
