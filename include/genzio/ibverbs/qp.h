/* SPDX-License-Identifier: MIT */
/*
 * genzio/ibverbs/qp.h: queue pairs, posts, async events. A part of <genzio/ibverbs_compat.h>,
 * which includes the parts in order: include that.
 */
#ifndef GENZIO_IBVERBS_QP_H
#define GENZIO_IBVERBS_QP_H

#ifndef GENZIO_IBVERBS_COMPAT_H
#error "include <genzio/ibverbs_compat.h>, not its parts"
#endif

/* ------------------------------------------------------ queue pairs */

static inline struct ibv_qp *ibv_create_qp(struct ibv_pd *pd,
					   struct ibv_qp_init_attr *a)
{
	struct genzio_device_attr d;
	struct genzio_qp_attr q;
	struct ibv_qp *qp;
	int ret;

	if (!pd || !a || !a->send_cq || !a->recv_cq) {
		errno = EINVAL;
		return NULL;
	}
	/* RC only; SRQs, UD, XRC and raw packets: a device without them */
	if (a->qp_type != IBV_QPT_RC || a->srq) {
		errno = EOPNOTSUPP;
		return NULL;
	}
	ret = genzio_device_query(pd->context->gz, &d);
	if (ret) {
		errno = -ret;
		return NULL;
	}
	if (a->cap.max_inline_data > d.max_inline) {
		errno = EINVAL;	/* verbs: more inline than the device has */
		return NULL;
	}
	qp = (struct ibv_qp *)gz_ibv_alloc(sizeof(*qp));
	if (!qp)
		return NULL;
	memset(&q, 0, sizeof(q));
	q.qp_type = GENZIO_QPT_RC;
	q.sq_depth = a->cap.max_send_wr ? a->cap.max_send_wr : 1;
	q.rq_depth = a->cap.max_recv_wr;
	q.max_send_sge = a->cap.max_send_sge;
	q.max_recv_sge = a->cap.max_recv_sge;
	/* verbs gives at least what is asked, and says what it gave: a 0
	 * gets what devices commonly give (up to 64 bytes), not the most a
	 * device can, which costs per-request room */
	q.max_inline = a->cap.max_inline_data ? a->cap.max_inline_data :
		       d.max_inline < 64 ? d.max_inline : 64;
	q.send_cq = a->send_cq->gz;
	q.recv_cq = a->recv_cq->gz;
	q.user_context = qp;
	ret = genzio_qp_create(pd->gz, &q, &qp->gz);
	if (ret)
		return (struct ibv_qp *)gz_ibv_undo(qp, ret);
	qp->context = pd->context;
	qp->qp_context = a->qp_context;
	qp->pd = pd;
	qp->send_cq = a->send_cq;
	qp->recv_cq = a->recv_cq;
	qp->qp_num = qp->gz->qp_num;
	qp->state = IBV_QPS_RESET;
	qp->qp_type = IBV_QPT_RC;
	qp->gz_cap = a->cap;
	qp->gz_cap.max_send_wr = q.sq_depth;
	qp->gz_cap.max_inline_data = q.max_inline;
	qp->gz_sig_all = a->sq_sig_all;
	a->cap = qp->gz_cap;	/* verbs: what it gave */
	pthread_mutex_lock(&pd->context->gz_lock);
	qp->gz_next = pd->context->gz_qps;
	pd->context->gz_qps = qp;
	pthread_mutex_unlock(&pd->context->gz_lock);
	return qp;
}

static inline int ibv_destroy_qp(struct ibv_qp *qp)
{
	int ret;

	if (!qp)
		return EINVAL;
	/* as ibv_destroy_cq: refused while an async event names it; out of
	 * the list under the lock, destroyed outside it */
	pthread_mutex_lock(&qp->context->gz_lock);
	ret = qp->gz_async_out ? -EBUSY : 0;
	for (struct ibv_qp **pp = &qp->context->gz_qps; !ret && *pp;
	     pp = &(*pp)->gz_next)
		if (*pp == qp) {
			*pp = qp->gz_next;
			break;
		}
	pthread_mutex_unlock(&qp->context->gz_lock);
	if (!ret)
		ret = genzio_qp_destroy(qp->gz);
	if (ret && !qp->gz_async_out) {	/* it stays: back in the list */
		pthread_mutex_lock(&qp->context->gz_lock);
		qp->gz_next = qp->context->gz_qps;
		qp->context->gz_qps = qp;
		pthread_mutex_unlock(&qp->context->gz_lock);
	}
	if (ret)
		return gz_ibv_err(ret);
	free(qp);
	return 0;
}

/* Each transition needs what verbs needs, and nothing unknown. */
static inline int gz_ibv_mask_ok(int mask, int need, int may)
{
	return (mask & need) == need && !(mask & ~(need | may));
}

static inline int ibv_modify_qp(struct ibv_qp *qp, struct ibv_qp_attr *a,
				int mask)
{
	const int init = IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT |
			 IBV_QP_ACCESS_FLAGS;
	const int rtr = IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
			IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
			IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER;
	const int rts = IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT |
			IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN |
			IBV_QP_MAX_QP_RD_ATOMIC;
	int ret;

	if (!qp || !a || !(mask & IBV_QP_STATE))
		return EINVAL;
	switch (a->qp_state) {
	case IBV_QPS_RESET:
		if (mask & ~(IBV_QP_STATE | IBV_QP_CUR_STATE))
			return EINVAL;
		/* verbs drops what was posted: connected or not */
		if ((qp->state != IBV_QPS_RESET || qp->gz_recvs) &&
		    (ret = genzio_qp_reset(qp->gz)))
			return gz_ibv_err(ret);
		qp->gz_recvs = 0;
		qp->state = IBV_QPS_RESET;
		return 0;
	case IBV_QPS_INIT:
		if ((qp->state != IBV_QPS_RESET && qp->state != IBV_QPS_INIT) ||
		    !gz_ibv_mask_ok(mask, qp->state == IBV_QPS_RESET ? init :
				    IBV_QP_STATE, init) ||
		    ((mask & IBV_QP_PORT) && a->port_num != 1) ||
		    ((mask & IBV_QP_PKEY_INDEX) && a->pkey_index))
			return EINVAL;
		qp->state = IBV_QPS_INIT;
		return 0;
	case IBV_QPS_RTR:
		if (qp->state != IBV_QPS_INIT ||
		    !gz_ibv_mask_ok(mask, rtr, IBV_QP_ALT_PATH |
				    IBV_QP_ACCESS_FLAGS | IBV_QP_PKEY_INDEX) ||
		    a->path_mtu < IBV_MTU_256 || a->path_mtu > IBV_MTU_4096 ||
		    !a->dest_qp_num || a->dest_qp_num >> 24 || a->rq_psn >> 24)
			return EINVAL;
		/* the peer, until RTS says our PSN: by GID when global */
		memset(&qp->gz_peer, 0, sizeof(qp->gz_peer));
		if (a->ah_attr.is_global)
			memcpy(qp->gz_peer.gid, a->ah_attr.grh.dgid.raw, 16);
		qp->gz_peer.lid = a->ah_attr.dlid;
		qp->gz_peer.qpn = a->dest_qp_num;
		qp->gz_peer.psn = a->rq_psn;
		qp->gz_peer.mtu = (uint8_t)a->path_mtu;
		qp->state = IBV_QPS_RTR;
		return 0;
	case IBV_QPS_RTS:
		if (qp->state == IBV_QPS_RTS &&	/* RTS to RTS: nothing here */
		    !(mask & ~(IBV_QP_STATE | IBV_QP_CUR_STATE |
			       IBV_QP_ACCESS_FLAGS | IBV_QP_MIN_RNR_TIMER |
			       IBV_QP_ALT_PATH | IBV_QP_PATH_MIG_STATE)))
			return 0;
		if (qp->state != IBV_QPS_RTR ||
		    !gz_ibv_mask_ok(mask, rts, IBV_QP_ALT_PATH |
				    IBV_QP_PATH_MIG_STATE | IBV_QP_CUR_STATE |
				    IBV_QP_ACCESS_FLAGS |
				    IBV_QP_MIN_RNR_TIMER) ||
		    a->sq_psn >> 24 || a->max_rd_atomic > 16)
			return EINVAL;
		/* the connection is made here: a queue pair left at RTR
		 * receives nothing (genzio_porting(7)) */
		qp->gz_peer.rd_atomic = a->max_rd_atomic;
		ret = genzio_qp_connect_verbs(qp->gz, &qp->gz_peer,
					      a->sq_psn);
		if (ret)
			return gz_ibv_err(ret);
		qp->state = IBV_QPS_RTS;
		return 0;
	default:
		/* SQD, SQE, ERR by request: genzio has no such moves */
		return EINVAL;
	}
}

static inline int ibv_query_qp(struct ibv_qp *qp, struct ibv_qp_attr *a,
			       int mask, struct ibv_qp_init_attr *init)
{
	struct genzio_qp_info i;
	int ret;

	(void)mask;
	if (!qp || !a || !init)
		return EINVAL;
	ret = genzio_qp_query(qp->gz, &i);
	if (ret)
		return gz_ibv_err(ret);
	memset(a, 0, sizeof(*a));
	memset(init, 0, sizeof(*init));
	/* genzio's RTS and ERR are verbs' (verbs moves a failed one too) */
	if (i.state == GENZIO_QPS_ERR)
		qp->state = IBV_QPS_ERR;
	a->qp_state = a->cur_qp_state = qp->state;
	a->path_mtu = qp->gz_peer.mtu ? (enum ibv_mtu)qp->gz_peer.mtu :
				      IBV_MTU_4096;
	a->dest_qp_num = qp->gz_peer.qpn;
	a->rq_psn = qp->gz_peer.psn;
	a->cap = qp->gz_cap;
	a->port_num = 1;
	init->qp_context = qp->qp_context;
	init->send_cq = qp->send_cq;
	init->recv_cq = qp->recv_cq;
	init->cap = qp->gz_cap;
	init->qp_type = qp->qp_type;
	return 0;
}

/* ------------------------------------------------------------- posts */

static inline int gz_ibv_send_wr(const struct ibv_send_wr *w,
				 struct genzio_send_wr *g, int sig_all)
{
	const unsigned int known = IBV_SEND_FENCE | IBV_SEND_SIGNALED |
				   IBV_SEND_SOLICITED | IBV_SEND_INLINE;

	memset(g, 0, sizeof(*g));
	if (w->send_flags & ~known)
		return EINVAL;	/* IP checksums: no Ethernet here */
	g->wr_id = w->wr_id;
	g->sg_list = (struct genzio_sge *)w->sg_list;
	g->num_sge = w->num_sge;
	/* a solicited event needs a receiver's solicited-only arm, which
	 * ibv_req_notify_cq refuses: SOLICITED changes nothing */
	g->send_flags = (sig_all || (w->send_flags & IBV_SEND_SIGNALED) ?
			 GENZIO_SEND_SIGNALED : 0) |
			(w->send_flags & IBV_SEND_FENCE ?
			 GENZIO_SEND_FENCE : 0) |
			(w->send_flags & IBV_SEND_INLINE ?
			 GENZIO_SEND_INLINE : 0);
	g->imm_data = gz_ibv_be32(w->imm_data);
	switch (w->opcode) {
	case IBV_WR_RDMA_WRITE:
	case IBV_WR_RDMA_WRITE_WITH_IMM:
	case IBV_WR_RDMA_READ:
		g->opcode = w->opcode == IBV_WR_RDMA_WRITE ? GENZIO_WR_WRITE :
			    w->opcode == IBV_WR_RDMA_READ ? GENZIO_WR_READ :
			    GENZIO_WR_WRITE_IMM;
		g->rdma.remote_addr = w->wr.rdma.remote_addr;
		g->rdma.rkey = w->wr.rdma.rkey;
		return 0;
	case IBV_WR_SEND:
		g->opcode = GENZIO_WR_SEND;
		return 0;
	case IBV_WR_SEND_WITH_IMM:
		g->opcode = GENZIO_WR_SEND_IMM;
		return 0;
	case IBV_WR_ATOMIC_CMP_AND_SWP:
	case IBV_WR_ATOMIC_FETCH_AND_ADD:
		g->opcode = w->opcode == IBV_WR_ATOMIC_CMP_AND_SWP ?
			    GENZIO_WR_ATOMIC_CAS : GENZIO_WR_ATOMIC_FADD;
		g->atomic.remote_addr = w->wr.atomic.remote_addr;
		g->atomic.rkey = w->wr.atomic.rkey;
		g->atomic.size = 8;
		g->atomic.compare = w->wr.atomic.compare_add;
		g->atomic.operand = w->opcode == IBV_WR_ATOMIC_CMP_AND_SWP ?
				    w->wr.atomic.swap :
				    w->wr.atomic.compare_add;
		return 0;
	default:
		return EINVAL;	/* memory windows, invalidation, TSO */
	}
}

/* A post's -errno as verbs': a full queue is ENOMEM, a queue pair not
 * yet at RTS EINVAL. */
static inline int gz_ibv_post_err(int err)
{
	return err == -EAGAIN ? ENOMEM : err == -ENOTCONN ? EINVAL :
	       gz_ibv_err(err);
}

/* Up to 16 requests at a time; *bad_wr is the verbs request that failed
 * (those before it were posted). */
static inline int ibv_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr,
				struct ibv_send_wr **bad_wr)
{
	struct genzio_send_wr g[16], *gbad = NULL;
	struct ibv_send_wr *w[16];

	if (!qp || !wr || !bad_wr) {
		if (bad_wr)
			*bad_wr = wr;
		return EINVAL;
	}
	while (wr) {
		int n = 0, ret = 0;

		for (; wr && n < 16; wr = wr->next, n++) {
			ret = gz_ibv_send_wr(wr, &g[n], qp->gz_sig_all);
			if (ret)
				break;
			if (n)
				g[n - 1].next = &g[n];
			w[n] = wr;
		}
		if (n) {
			int err = genzio_post_send(qp->gz, g, &gbad);

			if (err) {
				*bad_wr = gbad >= g && gbad < g + n ?
					  w[gbad - g] : w[0];
				return gz_ibv_post_err(err);
			}
		}
		if (ret) {
			*bad_wr = wr;
			return ret;
		}
	}
	return 0;
}

static inline int ibv_post_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr,
				struct ibv_recv_wr **bad_wr)
{
	struct genzio_recv_wr g[16], *gbad = NULL;
	struct ibv_recv_wr *w[16];

	if (!qp || !wr || !bad_wr) {
		if (bad_wr)
			*bad_wr = wr;
		return EINVAL;
	}
	while (wr) {
		int n = 0, err;

		for (; wr && n < 16; wr = wr->next, n++) {
			memset(&g[n], 0, sizeof(g[n]));
			g[n].wr_id = wr->wr_id;
			g[n].sg_list = (struct genzio_sge *)wr->sg_list;
			g[n].num_sge = wr->num_sge;
			if (n)
				g[n - 1].next = &g[n];
			w[n] = wr;
		}
		err = genzio_post_recv(qp->gz, g, &gbad);
		qp->gz_recvs = 1;
		if (err) {
			*bad_wr = gbad >= g && gbad < g + n ? w[gbad - g] : w[0];
			return gz_ibv_post_err(err);
		}
	}
	return 0;
}

/* ------------------------------------------------------ async events */

/* Under gz_lock: the live queue pair @qpn, or cq @g, counted as named
 * by an event until its ack (destroy refuses meanwhile, EBUSY). */
static inline struct ibv_qp *gz_ibv_qp_by_num(struct ibv_context *c,
					      uint32_t qpn)
{
	struct ibv_qp *qp;

	for (qp = c->gz_qps; qp && qp->qp_num != qpn; qp = qp->gz_next)
		;
	if (qp)
		qp->gz_async_out++;
	return qp;
}

static inline struct ibv_cq *gz_ibv_cq_of(struct ibv_context *c,
					  const struct genzio_cq *g)
{
	struct ibv_cq *cq;

	for (cq = c->gz_cqs; cq && cq->gz != g; cq = cq->gz_next)
		;
	if (cq)
		cq->gz_async_out++;
	return cq;
}

/* Blocks as verbs does (unless async_fd was made non-blocking: then -1
 * and EAGAIN). QP_ERR is QP_FATAL (of a queue pair still there),
 * CQ_OVERRUN is CQ_ERR, LINK_DOWN / LINK_UP are PORT_ERR / PORT_ACTIVE of
 * port 1, DEVICE_FATAL is DEVICE_FATAL; PEER_DEAD and COMPONENT_* have no
 * verbs name and are not delivered here (genzio_porting(7)). The queue
 * pair or cq an event names stays until ibv_ack_async_event(). */
static inline int ibv_get_async_event(struct ibv_context *context,
				      struct ibv_async_event *event)
{
	struct genzio_event ev;

	if (!context || !event) {
		errno = EINVAL;
		return -1;
	}
	for (;;) {
		struct pollfd p = { context->async_fd, POLLIN, 0 };
		int ret = genzio_event_get(context->gz, &ev);

		if (ret == -EAGAIN) {
			int fl = fcntl(context->async_fd, F_GETFL);

			if (fl >= 0 && (fl & O_NONBLOCK)) {
				errno = EAGAIN;
				return -1;
			}
			/* verbs' read restarts after a handler: so here */
			if (poll(&p, 1, -1) < 0 && errno != EINTR)
				return -1;
			continue;
		}
		if (ret) {
			errno = -ret;
			return -1;
		}
		memset(event, 0, sizeof(*event));
		switch (ev.type) {
		case GENZIO_EVENT_QP_ERR:
			pthread_mutex_lock(&context->gz_lock);
			event->element.qp = gz_ibv_qp_by_num(context,
							     ev.qp_num);
			pthread_mutex_unlock(&context->gz_lock);
			if (!event->element.qp)
				continue;	/* destroyed since */
			event->event_type = IBV_EVENT_QP_FATAL;
			return 0;
		case GENZIO_EVENT_CQ_OVERRUN:
			pthread_mutex_lock(&context->gz_lock);
			event->element.cq = gz_ibv_cq_of(context, ev.cq);
			pthread_mutex_unlock(&context->gz_lock);
			if (!event->element.cq)
				continue;
			event->event_type = IBV_EVENT_CQ_ERR;
			return 0;
		case GENZIO_EVENT_LINK_DOWN:
		case GENZIO_EVENT_LINK_UP:
			event->event_type = ev.type == GENZIO_EVENT_LINK_UP ?
					    IBV_EVENT_PORT_ACTIVE :
					    IBV_EVENT_PORT_ERR;
			event->element.port_num = 1;
			return 0;
		case GENZIO_EVENT_DEVICE_FATAL:
			event->event_type = IBV_EVENT_DEVICE_FATAL;
			return 0;
		default:
			continue;	/* no verbs name */
		}
	}
}

static inline void ibv_ack_async_event(struct ibv_async_event *e)
{
	struct ibv_context *c = NULL;

	if (!e)
		return;
	if (e->event_type == IBV_EVENT_QP_FATAL && e->element.qp)
		c = e->element.qp->context;
	else if (e->event_type == IBV_EVENT_CQ_ERR && e->element.cq)
		c = e->element.cq->context;
	if (!c)
		return;
	pthread_mutex_lock(&c->gz_lock);
	if (e->event_type == IBV_EVENT_QP_FATAL) {
		if (e->element.qp->gz_async_out)
			e->element.qp->gz_async_out--;
		e->element.qp->events_completed++;
	} else {
		if (e->element.cq->gz_async_out)
			e->element.cq->gz_async_out--;
		e->element.cq->async_events_completed++;
	}
	pthread_mutex_unlock(&c->gz_lock);
}

#endif /* GENZIO_IBVERBS_QP_H */
