// SPDX-License-Identifier: MIT
/*
 * verbs provider: completion queues, their channels, and the translation
 * of each ibv_wc into a genzio_wc. Poll is one ibv_poll_cq and a lookup
 * in the queue pair's ring per completion: no lock, no allocation, no
 * system call.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "providers/verbs/verbs.h"
#include "sys/sys.h"

#define POLL_BATCH 16

uint32_t gz_vb_status(enum ibv_wc_status s)
{
	/* one genzio status per verbs status: nothing merged */
	switch (s) {
	case IBV_WC_SUCCESS:		return GENZIO_WC_SUCCESS;
	case IBV_WC_LOC_LEN_ERR:	return GENZIO_WC_LOC_LEN;
	case IBV_WC_LOC_QP_OP_ERR:	return GENZIO_WC_LOC_QP_OP;
	case IBV_WC_LOC_EEC_OP_ERR:	return GENZIO_WC_LOC_EEC_OP;
	case IBV_WC_LOC_PROT_ERR:	return GENZIO_WC_LOC_PROT;
	case IBV_WC_WR_FLUSH_ERR:	return GENZIO_WC_FLUSHED;
	case IBV_WC_MW_BIND_ERR:	return GENZIO_WC_MW_BIND;
	case IBV_WC_BAD_RESP_ERR:	return GENZIO_WC_BAD_RESP;
	case IBV_WC_LOC_ACCESS_ERR:	return GENZIO_WC_LOC_ACCESS;
	case IBV_WC_REM_INV_REQ_ERR:	return GENZIO_WC_REM_INV_REQ;
	case IBV_WC_REM_ACCESS_ERR:	return GENZIO_WC_REM_ACCESS;
	case IBV_WC_REM_OP_ERR:		return GENZIO_WC_REM_OP;
	case IBV_WC_RETRY_EXC_ERR:	return GENZIO_WC_RETRY_EXC;
	/* the receiver had no buffer posted for the whole RNR budget */
	case IBV_WC_RNR_RETRY_EXC_ERR:	return GENZIO_WC_RDM_FULL;
	case IBV_WC_LOC_RDD_VIOL_ERR:	return GENZIO_WC_LOC_RDD_VIOL;
	case IBV_WC_REM_INV_RD_REQ_ERR:	return GENZIO_WC_REM_INV_RD_REQ;
	case IBV_WC_REM_ABORT_ERR:	return GENZIO_WC_REM_ABORT;
	case IBV_WC_INV_EECN_ERR:	return GENZIO_WC_INV_EECN;
	case IBV_WC_INV_EEC_STATE_ERR:	return GENZIO_WC_INV_EEC_STATE;
	case IBV_WC_FATAL_ERR:		return GENZIO_WC_FATAL;
	case IBV_WC_RESP_TIMEOUT_ERR:	return GENZIO_WC_RESP_TIMEOUT;
	case IBV_WC_TM_ERR:		return GENZIO_WC_TM;
	case IBV_WC_TM_RNDV_INCOMPLETE:	return GENZIO_WC_TM_RNDV;
	default:			return GENZIO_WC_GENERAL_ERR;
	}
}

/* The receive side of @w on @qp into @o. */
static void recv_done(struct gz_vb_qp *qp, const struct ibv_wc *w,
		      uint64_t low, struct genzio_wc *o)
{
	uint64_t seq = gz_vb_seq(atomic_load_explicit(&qp->rq_tail,
						      memory_order_relaxed), low);

	o->wr_id = qp->rq[seq & qp->rq_mask];
	atomic_store_explicit(&qp->rq_tail, seq + 1, memory_order_release);
	/* an error's opcode is undefined in verbs: a receive it was */
	o->opcode = !w->status && w->opcode == IBV_WC_RECV_RDMA_WITH_IMM ?
		    GENZIO_WC_RECV_WRITE_IMM : GENZIO_WC_RECV;
	o->byte_len = w->byte_len;
	o->src_gcid = qp->peer_gcid;
	if (!w->status && (w->wc_flags & IBV_WC_WITH_IMM)) {
		o->wc_flags = GENZIO_WC_WITH_IMM;
		o->imm_data = be32toh(w->imm_data);
	}
}

/* The send side: 0 if the completion is ours only (hidden). */
static int send_done(struct gz_vb_qp *qp, const struct ibv_wc *w,
		     uint64_t low, struct genzio_wc *o)
{
	uint64_t seq = gz_vb_seq(atomic_load_explicit(&qp->sq_tail,
						      memory_order_relaxed), low);
	const struct gz_vb_wqe *e = &qp->sq[seq & qp->sq_mask];

	o->wr_id = e->wr_id;
	o->opcode = e->opcode;
	o->byte_len = e->len;
	if (!w->status && e->kind == GZ_VB_RESULT)
		memcpy(&o->result, e->dst, sizeof(o->result));
	else if (!w->status && e->kind == GZ_VB_COPY)
		memcpy(e->dst, qp->scratch + (seq & qp->sq_mask) *
		       qp->scratch_stride, e->len);
	/* RC completes in order: everything up to it is done */
	if (GZ_UNLIKELY(qp->rd))	/* an RD child: its qp's budget too */
		atomic_fetch_add_explicit(&qp->rd->sq_freed, seq + 1 -
					  atomic_load_explicit(&qp->sq_tail,
							       memory_order_relaxed),
					  memory_order_release);
	atomic_store_explicit(&qp->sq_tail, seq + 1, memory_order_release);
	return w->status || !e->hidden;
}

static int child_broken(struct gz_vb_child *c)
{
	struct ibv_qp_init_attr ia;
	struct ibv_qp_attr a;

	return ibv_query_qp(c->q.ib, &a, IBV_QP_STATE, &ia) ||
	       a.qp_state == IBV_QPS_ERR || a.qp_state == IBV_QPS_SQE;
}

/* What a failed completion on @qp says: that queue pair failed, or for an
 * RD one's receive, the child @qpn that took it. */
static void fail(struct gz_vb_qp *qp, uint32_t qpn, uint32_t status)
{
	if (qp->role == GZ_VB_RD) {
		struct gz_vb_child *c = gz_vb_rd_child_by_qpn(qp->rd, qpn);

		/* a connection that is up, and that verbs failed: one
		 * wiring or failed already is progress's, and a late receive
		 * of an old round (same qpn) is no news of this one */
		if (c && atomic_load_explicit(&c->q.state,
					      memory_order_relaxed) ==
		    GENZIO_QPS_RTS && child_broken(c))
			gz_vb_qp_failed(&c->q, status);
		return;
	}
	gz_vb_qp_failed(qp, status);
}

/* @w into @o: 1, or 0 if it makes no user completion (a hidden one, or
 * one of a queue pair destroyed meanwhile). */
static int wc_convert(struct gz_vb_ctx *ctx, const struct ibv_wc *w,
		      struct genzio_wc *o)
{
	uint64_t id = w->wr_id, seq = id & GZ_VB_SEQ_MASK;
	uint32_t slot = (uint32_t)(id >> GZ_VB_SLOT_SHIFT) & GZ_VB_SLOT_MASK;
	struct gz_vb_qp *qp;

	if (GZ_UNLIKELY(slot >= GZ_VB_MAX_QP))
		return 0;
	qp = atomic_load_explicit(&ctx->qp[slot], memory_order_acquire);
	if (GZ_UNLIKELY(!qp || ((id ^ atomic_load_explicit(
			&qp->tag, memory_order_relaxed)) & GZ_VB_TAG_MASK)))
		return 0;
	o->status = gz_vb_status(w->status);
	o->vendor_err = w->status ? w->vendor_err : 0;
	o->qp_num = qp->base.pub.qp_num;
	o->src_gcid = 0;
	o->imm_data = 0;
	o->wc_flags = 0;
	o->result = 0;
	if (GZ_UNLIKELY(qp->role == GZ_VB_RD))
		gz_vb_rd_recv_done(qp->rd, w, seq, o);
	else if (id & GZ_VB_RECV)
		recv_done(qp, w, seq, o);
	else if (!send_done(qp, w, seq, o))
		return 0;
	if (GZ_UNLIKELY(o->status)) {
		o->byte_len = 0;	/* a failed request moved nothing */
		/* the first request the watchdog flushed: it was lost */
		if (o->status == GENZIO_WC_FLUSHED &&
		    atomic_exchange(&qp->stalled, 0))
			o->status = GENZIO_WC_RETRY_EXC;
		if (o->status != GENZIO_WC_FLUSHED)
			fail(qp, w->qp_num, o->status);
	}
	return 1;
}

static uint64_t now_ms(void)
{
	return gz_vb_now_ns() / 1000000u;
}

/*
 * The stall watchdog, every 64 Ki empty polls. A device (Soft-RoCE with
 * its link taken down is one) may keep requests outstanding for ever
 * without its retry timer ever failing them; genzio promises no hang. A
 * queue pair of this cq that owes a completion (a signaled request after
 * its tail) while the cq has seen none for ctx->stall_ns (past every
 * retry and RNR budget) is moved to ERR: verbs flushes it, and its first
 * flushed request reports RETRY_EXC. Off the fast path: no clock read
 * while completions come.
 */
static __attribute__((noinline)) void stall_check(struct gz_vb_cq *cq)
{
	struct gz_vb_ctx *ctx = cq->ctx;
	uint64_t now = gz_vb_now_ns();

	if (!ctx->stall_ns)
		return;
	if (!cq->idle_since_ns) {
		cq->idle_since_ns = now;
		return;
	}
	if (now - cq->idle_since_ns < ctx->stall_ns)
		return;
	cq->idle_since_ns = now;
	for (uint32_t i = 0; i < GZ_VB_MAX_QP; i++) {
		struct gz_vb_qp *qp = atomic_load_explicit(&ctx->qp[i],
							   memory_order_acquire);
		struct ibv_qp_attr a = { .qp_state = IBV_QPS_ERR };

		if (!qp || qp->scq != cq ||
		    atomic_load_explicit(&qp->sig_head, memory_order_relaxed) <=
		    atomic_load_explicit(&qp->sq_tail, memory_order_relaxed) ||
		    atomic_load(&qp->state) != GENZIO_QPS_RTS)
			continue;
		gz_err(0, "queue pair %#x: no completion for %llu ms while "
		       "one is owed: the device stalled; moving it to ERR",
		       qp->base.pub.qp_num,
		       (unsigned long long)(ctx->stall_ns / 1000000));
		atomic_store(&qp->stalled, 1);
		ibv_modify_qp(qp->ib, &a, IBV_QP_STATE);
	}
}

GZ_INLINE int poll_cq(struct genzio_cq *pub, int n, struct genzio_wc *out,
		       int fence)
{
	struct gz_vb_cq *cq = container_of(pub, struct gz_vb_cq, base.pub);
	uint32_t in = atomic_load_explicit(&cq->in_poll, memory_order_relaxed);
	struct ibv_wc wc[POLL_BATCH];
	int got = 0, ret = 0;

	/* Odd while we may hold a queue pair pointer. A destroy makes its
	 * store and our loads meet with a membarrier, so no fence here;
	 * where the kernel refuses membarrier, a fence (vb_poll_fenced). */
	atomic_store_explicit(&cq->in_poll, in + 1, memory_order_relaxed);
	if (fence)
		atomic_thread_fence(memory_order_seq_cst);
	else
		atomic_signal_fence(memory_order_seq_cst);
	while (got < n) {
		int want = n - got < POLL_BATCH ? n - got : POLL_BATCH;
		int k = ibv_poll_cq(cq->ib, want, wc);

		if (GZ_UNLIKELY(k < 0)) {
			ret = -EIO;	/* verbs says only "error" */
			break;
		}
		for (int i = 0; i < k; i++)
			got += wc_convert(cq->ctx, &wc[i], &out[got]);
		if (k < want)
			break;
	}
	if (GZ_LIKELY(got))
		cq->idle = 0, cq->idle_since_ns = 0;
	else if (GZ_UNLIKELY(!(++cq->idle & 0xffff)))
		stall_check(cq);	/* still inside: qps stay alive */
	atomic_store_explicit(&cq->in_poll, in + 2, memory_order_release);
	/* RD connections made on first use progress in the target's poll
	 * (out of the window above: progress may wait for pollers) */
	if (GZ_UNLIKELY(atomic_load_explicit(&cq->rd_users,
					     memory_order_relaxed)) &&
	    !(++cq->polls & 15))
		gz_vb_rd_progress(cq->ctx, 0);
	if (GZ_UNLIKELY(!got && !ret && n &&
			atomic_load_explicit(&cq->overrun, memory_order_relaxed)))
		return -EOVERFLOW;
	return got ? got : ret;
}

static int vb_poll(struct genzio_cq *pub, int n, struct genzio_wc *out)
{
	return poll_cq(pub, n, out, 0);
}

static int vb_poll_fenced(struct genzio_cq *pub, int n, struct genzio_wc *out)
{
	return poll_cq(pub, n, out, 1);
}

void gz_vb_cq_drain(struct gz_vb_qp *qp)
{
	struct gz_vb_cq *cqs[2] = { qp->scq, qp->rcq };

	/* Our store of the empty slot, then every thread's barrier (or,
	 * without membarrier, the pollers' own fence): a poller that
	 * started after it cannot see @qp. */
	if (!qp->ctx->poll_fence)
		gz_sys_membarrier_private(qp->ctx->membarrier);
	else
		atomic_thread_fence(memory_order_seq_cst);
	for (int i = 0; i < 2; i++) {
		uint32_t v = atomic_load_explicit(&cqs[i]->in_poll,
						  memory_order_acquire);

		/* a poll is a few microseconds; one that takes long was
		 * preempted or stopped: yield to it, and say so once */
		for (uint64_t spins = 0; (v & 1) &&
		     atomic_load_explicit(&cqs[i]->in_poll,
					  memory_order_acquire) == v; spins++) {
			if (spins < 1000) {
				gz_cpu_relax();
				continue;
			}
			if (spins == 1000000)
				gz_err(0, "queue pair %#x: waiting for a poller "
				       "of its cq (stopped, or starved by a "
				       "SCHED_FIFO thread?)", qp->base.pub.qp_num);
			sched_yield();
		}
	}
}

int gz_vb_cq_create(struct genzio_context *base,
		    const struct genzio_cq_attr *attr, struct gz_cq **out)
{
	struct gz_vb_ctx *ctx = gz_vb_ctx_of(base);
	struct ibv_comp_channel *ch = NULL;
	struct gz_vb_cq *cq;

	if (attr->comp_mask & GENZIO_CQ_ATTR_CHANNEL)
		ch = container_of(attr->channel, struct gz_vb_channel,
				  base.pub)->ib;
	cq = calloc(1, sizeof(*cq));
	if (!cq)
		return -ENOMEM;
	cq->ib = ibv_create_cq(ctx->ib, (int)attr->depth, cq, ch, 0);
	if (!cq->ib) {
		int ret = gz_err(errno ? -errno : -ENOMEM, "ibv_create_cq(%u): "
				 "%s", attr->depth, strerror(errno));

		free(cq);
		return ret;
	}
	cq->ctx = ctx;
	cq->base.pub.poll = ctx->poll_fence ? vb_poll_fenced : vb_poll;
	cq->next = ctx->cqs;
	ctx->cqs = cq;
	cq->base.pub.user_context = attr->user_context;
	cq->base.pub.context = base;
	cq->base.pub.depth = attr->depth;
	*out = &cq->base;
	return 0;
}

int gz_vb_cq_destroy(struct gz_cq *base)
{
	struct gz_vb_cq *cq = container_of(base, struct gz_vb_cq, base);
	int ret;

	if (cq->users)
		return gz_cq_busy(cq->users);
	ret = ibv_destroy_cq(cq->ib);
	if (ret)
		return gz_err(-ret, "ibv_destroy_cq: %s%s", strerror(ret),
			      ret == EBUSY ? " (a queue pair uses it)" : "");
	for (struct gz_vb_cq **pp = &cq->ctx->cqs; *pp; pp = &(*pp)->next)
		if (*pp == cq) {
			*pp = cq->next;
			break;
		}
	free(cq);
	return 0;
}

int gz_vb_cq_req_notify(struct gz_cq *base)
{
	struct gz_vb_cq *cq = container_of(base, struct gz_vb_cq, base);
	int ret = ibv_req_notify_cq(cq->ib, 0);

	return ret ? gz_err(-ret, "ibv_req_notify_cq: %s", strerror(ret)) : 0;
}

/* ---- channels ---- */

static int epoll_add(int epfd, int fd)
{
	struct epoll_event e = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) ? -errno : 0;
}

static void channel_free(struct gz_vb_channel *ch)
{
	if (ch->base.pub.fd >= 0)
		close(ch->base.pub.fd);
	if (ch->efd >= 0)
		close(ch->efd);
	if (ch->ib)
		ibv_destroy_comp_channel(ch->ib);
	free(ch);
}

int gz_vb_channel_create(struct genzio_context *base, struct gz_channel **out)
{
	struct gz_vb_ctx *ctx = gz_vb_ctx_of(base);
	struct gz_vb_channel *ch = calloc(1, sizeof(*ch));
	uint32_t i;
	int ret;

	if (!ch)
		return -ENOMEM;
	ch->base.pub.fd = ch->efd = -1;
	for (i = 0; i < GZ_VB_MAX_CHANNELS && ctx->chan[i]; i++)
		;
	ch->ib = ibv_create_comp_channel(ctx->ib);
	if (!ch->ib || i == GZ_VB_MAX_CHANNELS) {
		ret = gz_err(ch->ib ? -ENOSPC : -errno,
			     "ibv_create_comp_channel: %s",
			     strerror(ch->ib ? ENOSPC : errno));
		goto fail;
	}
	ch->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ch->base.pub.fd = epoll_create1(EPOLL_CLOEXEC);
	if (ch->efd < 0 || ch->base.pub.fd < 0 ||
	    fcntl(ch->ib->fd, F_SETFL,
		  fcntl(ch->ib->fd, F_GETFL) | O_NONBLOCK)) {
		ret = gz_err(-errno, "channel fds: %s", strerror(errno));
		goto fail;
	}
	ret = epoll_add(ch->base.pub.fd, ch->ib->fd);
	if (!ret)
		ret = epoll_add(ch->base.pub.fd, ch->efd);
	if (!ret && ctx->wire_ch)
		ret = epoll_add(ch->base.pub.fd, ctx->wire_ch->fd);
	if (ret) {
		gz_err(ret, "epoll_ctl: %s", strerror(-ret));
		goto fail;
	}
	ch->idx = i;
	ctx->chan[i] = ch;
	*out = &ch->base;
	return 0;
fail:
	channel_free(ch);
	return ret;
}

void gz_vb_channel_destroy(struct gz_channel *base)
{
	struct gz_vb_channel *ch = container_of(base, struct gz_vb_channel,
						base);

	gz_vb_ctx_of(base->pub.context)->chan[ch->idx] = NULL;
	channel_free(ch);
}

void gz_vb_channels_wake(struct gz_vb_ctx *ctx)
{
	uint64_t one = 1;

	for (uint32_t i = 0; i < GZ_VB_MAX_CHANNELS; i++)
		if (ctx->chan[i] && write(ctx->chan[i]->efd, &one,
					  sizeof(one)) < 0) {
			/* the counter cannot overflow at one write */
		}
}

int gz_vb_channel_get_event(struct gz_channel *base, int timeout_ms,
			    struct gz_cq **out)
{
	struct gz_vb_channel *ch = container_of(base, struct gz_vb_channel,
						base);
	struct genzio_context *ctx = base->pub.context;
	int64_t end = (int64_t)now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	struct epoll_event e[3];

	for (;;) {
		struct ibv_cq *icq;
		void *cq_ctx;
		int n, due, left;

		/* an event already queued is taken before we sleep */
		if (!ibv_get_cq_event(ch->ib, &icq, &cq_ctx)) {
			struct gz_cq *cq = &((struct gz_vb_cq *)cq_ctx)->base;

			/* counted before verbs' own count is settled: from
			 * here the core's count keeps the cq from being
			 * destroyed (genzio_cq_ack_events) */
			__atomic_fetch_add(&cq->events, 1, __ATOMIC_RELAXED);
			ibv_ack_cq_events(icq, 1);
			*out = cq;
			return 0;
		}
		if (errno != EAGAIN)
			return gz_err(-errno, "ibv_get_cq_event: %s",
				      strerror(errno));
		if (atomic_load(&ctx->fatal))
			return gz_ctx_gone(ctx);
		/* RD connections progress in waits too; the wait ends
		 * in time for the next resend */
		due = gz_vb_rd_progress(gz_vb_ctx_of(ctx), 1);
		if (!timeout_ms)
			return -EAGAIN;
		left = timeout_ms < 0 ? -1 : (int)(end - (int64_t)now_ms());
		if (timeout_ms > 0 && left <= 0)
			return -ETIMEDOUT;
		n = epoll_wait(base->pub.fd, e, 3, due < 0 ? left :
			       left < 0 || due < left ? due : left);
		if (n < 0)
			return errno == EINTR ? -EINTR : -errno;
		if (!n && (timeout_ms > 0 && (int64_t)now_ms() >= end))
			return -ETIMEDOUT;
		/* woken: look again (a fatal wake stays readable) */
	}
}
