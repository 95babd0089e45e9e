/* SPDX-License-Identifier: MIT */
/*
 * genzio/ibverbs/cq.h: completion channels and completion queues. A part of <genzio/ibverbs_compat.h>,
 * which includes the parts in order: include that.
 */
#ifndef GENZIO_IBVERBS_CQ_H
#define GENZIO_IBVERBS_CQ_H

#ifndef GENZIO_IBVERBS_COMPAT_H
#error "include <genzio/ibverbs_compat.h>, not its parts"
#endif

/* ------------------------------------------- completions, channels */

static inline struct ibv_comp_channel *
ibv_create_comp_channel(struct ibv_context *context)
{
	struct ibv_comp_channel *ch;
	int ret;

	if (!context) {
		errno = EINVAL;
		return NULL;
	}
	ch = (struct ibv_comp_channel *)gz_ibv_alloc(sizeof(*ch));
	if (!ch)
		return NULL;
	ret = genzio_comp_channel_create(context->gz, &ch->gz);
	if (ret)
		return (struct ibv_comp_channel *)gz_ibv_undo(ch, ret);
	ch->context = context;
	ch->fd = ch->gz->fd;
	return ch;
}

static inline int ibv_destroy_comp_channel(struct ibv_comp_channel *ch)
{
	int ret;

	if (!ch)
		return EINVAL;
	pthread_mutex_lock(&ch->context->gz_lock);
	ret = ch->refcnt;
	pthread_mutex_unlock(&ch->context->gz_lock);
	if (ret)
		return EBUSY;	/* a cq still uses it, as in verbs */
	ret = genzio_comp_channel_destroy(ch->gz);
	if (ret)
		return gz_ibv_err(ret);
	free(ch);
	return 0;
}

static inline struct ibv_cq *ibv_create_cq(struct ibv_context *context,
					   int cqe, void *cq_context,
					   struct ibv_comp_channel *channel,
					   int comp_vector)
{
	struct genzio_cq_attr a;
	struct ibv_cq *cq;
	int ret;

	memset(&a, 0, sizeof(a));
	a.depth = (uint32_t)cqe;
	if (!context || cqe < 1 || comp_vector != 0 ||
	    (channel && channel->context != context)) {
		errno = EINVAL;
		return NULL;
	}
	cq = (struct ibv_cq *)gz_ibv_alloc(sizeof(*cq));
	if (!cq)
		return NULL;
	a.user_context = cq;
	if (channel) {
		a.comp_mask = GENZIO_CQ_ATTR_CHANNEL;
		a.channel = channel->gz;
	}
	ret = genzio_cq_create(context->gz, &a, &cq->gz);
	if (ret)
		return (struct ibv_cq *)gz_ibv_undo(cq, ret);
	cq->context = context;
	cq->channel = channel;
	cq->cq_context = cq_context;
	cq->cqe = cqe;
	pthread_mutex_lock(&context->gz_lock);
	if (channel)
		channel->refcnt++;
	cq->gz_next = context->gz_cqs;
	context->gz_cqs = cq;
	pthread_mutex_unlock(&context->gz_lock);
	return cq;
}

static inline int ibv_destroy_cq(struct ibv_cq *cq)
{
	int ret;

	if (!cq)
		return EINVAL;
	/* verbs waits for its async events to be acked; one that is not
	 * would name freed memory: refused until it is. Out of the list
	 * under the lock, destroyed outside it (a destroy may wait). */
	pthread_mutex_lock(&cq->context->gz_lock);
	ret = cq->gz_async_out ? -EBUSY : 0;
	for (struct ibv_cq **pp = &cq->context->gz_cqs; !ret && *pp;
	     pp = &(*pp)->gz_next)
		if (*pp == cq) {
			*pp = cq->gz_next;
			break;
		}
	pthread_mutex_unlock(&cq->context->gz_lock);
	if (!ret)
		ret = genzio_cq_destroy(cq->gz);
	pthread_mutex_lock(&cq->context->gz_lock);
	if (ret) {	/* it stays: back in the list (if it left it) */
		struct ibv_cq *x = cq->context->gz_cqs;

		while (x && x != cq)
			x = x->gz_next;
		if (!x) {
			cq->gz_next = cq->context->gz_cqs;
			cq->context->gz_cqs = cq;
		}
	} else if (cq->channel) {
		cq->channel->refcnt--;
	}
	pthread_mutex_unlock(&cq->context->gz_lock);
	if (ret)
		return gz_ibv_err(ret);
	free(cq);
	return 0;
}

static inline int ibv_req_notify_cq(struct ibv_cq *cq, int solicited_only)
{
	/* every completion wakes: a solicited-only arm cannot be honoured
	 * as verbs means it, so it is refused, not widened */
	if (!cq || solicited_only)
		return EINVAL;
	return gz_ibv_err(genzio_cq_req_notify(cq->gz));
}

static inline int ibv_get_cq_event(struct ibv_comp_channel *channel,
				   struct ibv_cq **cq, void **cq_context)
{
	struct genzio_cq *g;
	int ret, fl;

	if (!channel || !cq || !cq_context) {
		errno = EINVAL;
		return -1;
	}
	/* verbs blocks, unless the fd is non-blocking (EAGAIN); its read
	 * restarts after a signal handler, so the wait does too */
	fl = fcntl(channel->fd, F_GETFL);
	do
		ret = genzio_comp_channel_get_event(channel->gz, fl >= 0 &&
						    (fl & O_NONBLOCK) ? 0 : -1,
						    &g);
	while (ret == -EINTR);
	if (ret) {
		errno = -ret;
		return -1;
	}
	*cq = (struct ibv_cq *)g->user_context;
	*cq_context = (*cq)->cq_context;
	return 0;
}

static inline void ibv_ack_cq_events(struct ibv_cq *cq, unsigned int nevents)
{
	pthread_mutex_t *lock;

	if (!cq)
		return;
	/* under the lock: once acked, a destroy may free @cq */
	lock = &cq->context->gz_lock;
	pthread_mutex_lock(lock);
	if (!genzio_cq_ack_events(cq->gz, nevents))
		cq->comp_events_completed += nevents;
	pthread_mutex_unlock(lock);
}

/* A completion as verbs tells it (src_qp and slid are UD's: 0). An
 * atomic is reported IBV_WC_FETCH_ADD, compare-and-swap too: genzio's
 * completion does not say which (genzio_porting(7)). */
static inline void gz_ibv_wc(const struct genzio_wc *g, struct ibv_wc *w)
{
	memset(w, 0, sizeof(*w));
	w->wr_id = g->wr_id;
	w->status = gz_ibv_status(g->status);
	w->vendor_err = g->vendor_err;
	w->byte_len = g->byte_len;
	w->qp_num = g->qp_num;
	switch (g->opcode) {
	case GENZIO_WC_WRITE:	w->opcode = IBV_WC_RDMA_WRITE; break;
	case GENZIO_WC_READ:	w->opcode = IBV_WC_RDMA_READ; break;
	case GENZIO_WC_ATOMIC:	w->opcode = IBV_WC_FETCH_ADD; break;
	case GENZIO_WC_RECV_WRITE_IMM:
		w->opcode = IBV_WC_RECV_RDMA_WITH_IMM;
		break;
	case GENZIO_WC_RECV:	w->opcode = IBV_WC_RECV; break;
	default:		w->opcode = IBV_WC_SEND; break;
	}
	if (g->wc_flags & GENZIO_WC_WITH_IMM) {
		w->wc_flags = IBV_WC_WITH_IMM;
		w->imm_data = gz_ibv_be32(g->imm_data);
	}
}

static inline int ibv_poll_cq(struct ibv_cq *cq, int num_entries,
			      struct ibv_wc *wc)
{
	struct genzio_wc g[16];
	int got = 0;

	if (!cq || num_entries < 0 || (num_entries && !wc))
		return -1;
	while (got < num_entries) {
		int want = num_entries - got < 16 ? num_entries - got : 16;
		int n = genzio_poll_cq(cq->gz, want, g);

		if (n < 0)
			return got ? got : -1;
		for (int i = 0; i < n; i++)
			gz_ibv_wc(&g[i], &wc[got + i]);
		got += n;
		if (n < want)
			break;
	}
	return got;
}

#endif /* GENZIO_IBVERBS_CQ_H */
