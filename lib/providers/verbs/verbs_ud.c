// SPDX-License-Identifier: MIT
/*
 * verbs provider: the UD queue pair of an RD queue pair, over which
 * wire-up messages come and go (verbs_wire.c says what they are): its
 * completion channel (one per context, in the event fd's and every
 * channel's epoll set), its cq, its receive buffers, INIT to RTS, and
 * back when verbs moved it to ERR.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "providers/verbs/verbs.h"

void gz_vb_wire_recv_post(struct gz_vb_rd *rd, uint32_t i)
{
	struct ibv_sge sg = { .addr = (uintptr_t)(rd->wbuf + i * rd->wstride),
			      .length = rd->wstride, .lkey = rd->wmr->lkey };
	struct ibv_recv_wr wr = { .wr_id = i, .sg_list = &sg, .num_sge = 1 },
			   *bad;

	if (ibv_post_recv(rd->q.ib, &wr, &bad))
		gz_err(0, "RD queue pair %#x: a wire-up receive lost",
		       rd->q.base.pub.qp_num);
}

/* The context's wire-up channel, made with its first RD queue pair. */
static int channel_open(struct gz_vb_ctx *ctx)
{
	struct epoll_event e = { .events = EPOLLIN };

	if (ctx->wire_ch)
		return 0;
	ctx->wire_ch = ibv_create_comp_channel(ctx->ib);
	if (!ctx->wire_ch)
		return gz_err(errno ? -errno : -ENOMEM, "wire-up channel: %s",
			      strerror(errno));
	if (fcntl(ctx->wire_ch->fd, F_SETFL,
		  fcntl(ctx->wire_ch->fd, F_GETFL) | O_NONBLOCK) ||
	    epoll_ctl(ctx->base.ev.epfd, EPOLL_CTL_ADD, ctx->wire_ch->fd, &e)) {
		int ret = gz_err(-errno, "wire-up channel fd: %s",
				 strerror(errno));

		ibv_destroy_comp_channel(ctx->wire_ch);
		ctx->wire_ch = NULL;
		return ret;
	}
	for (uint32_t i = 0; i < GZ_VB_MAX_CHANNELS; i++)
		if (ctx->chan[i] && epoll_ctl(ctx->chan[i]->base.pub.fd,
					      EPOLL_CTL_ADD, ctx->wire_ch->fd,
					      &e))
			gz_err(-errno, "a channel will not wake for RD "
			       "wire-up: %s", strerror(errno));
	return 0;
}

/* The UD queue pair through INIT, RTR, RTS (its number is the RD's). */
static int ud_up(struct gz_vb_rd *rd)
{
	struct gz_vb_ctx *ctx = rd->q.ctx;
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_INIT,
				 .port_num = ctx->port,
				 .qkey = GZ_VB_QKEY };
	int ret = ibv_modify_qp(rd->q.ib, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
				IBV_QP_PORT | IBV_QP_QKEY);

	if (!ret) {
		a.qp_state = IBV_QPS_RTR;
		ret = ibv_modify_qp(rd->q.ib, &a, IBV_QP_STATE);
	}
	if (!ret) {
		a.qp_state = IBV_QPS_RTS;
		a.sq_psn = 0;
		ret = ibv_modify_qp(rd->q.ib, &a, IBV_QP_STATE | IBV_QP_SQ_PSN);
	}
	return ret ? gz_err(-ret, "wire-up queue pair: %s", strerror(ret)) : 0;
}

/* To RTS, every receive buffer posted. */
static int ud_start(struct gz_vb_rd *rd)
{
	int ret = ud_up(rd);

	for (uint32_t i = 0; !ret && i < GZ_VB_WIRE_RECVS; i++)
		gz_vb_wire_recv_post(rd, i);
	return ret;
}

int gz_vb_wire_open(struct gz_vb_rd *rd)
{
	struct gz_vb_ctx *ctx = rd->q.ctx;
	struct ibv_qp_init_attr ia = {
		.qp_context = &rd->q,
		.qp_type = IBV_QPT_UD,
		.cap = { .max_send_wr = GZ_VB_WIRE_SENDS,
			 .max_recv_wr = GZ_VB_WIRE_RECVS,
			 .max_send_sge = 1, .max_recv_sge = 1,
			 .max_inline_data = GZ_VB_WIRE_MSG },
	};
	int ret = channel_open(ctx);

	if (ret)
		return ret;
	rd->wcq = ibv_create_cq(ctx->ib, GZ_VB_WIRE_SENDS + GZ_VB_WIRE_RECVS,
				rd, ctx->wire_ch, 0);
	/* room for any datagram the port takes: one longer than its buffer
	 * moves a UD queue pair to ERR (Soft-RoCE), a datagram anybody
	 * may send */
	rd->wstride = (uint32_t)gz_align_up(GZ_VB_GRH + (128u << ctx->mtu), 64);
	rd->wbuf = calloc(GZ_VB_WIRE_RECVS, rd->wstride);
	if (!rd->wcq || !rd->wbuf)
		return gz_err(errno ? -errno : -ENOMEM, "wire-up cq: %s",
			      strerror(errno ? errno : ENOMEM));
	rd->wmr = ibv_reg_mr(rd->q.pd->ib, rd->wbuf,
			     (size_t)GZ_VB_WIRE_RECVS * rd->wstride,
			     IBV_ACCESS_LOCAL_WRITE);
	if (!rd->wmr)
		return gz_err(errno ? -errno : -ENOMEM, "wire-up buffers: %s",
			      strerror(errno));
	ia.send_cq = ia.recv_cq = rd->wcq;
	rd->q.ib = ibv_create_qp(rd->q.pd->ib, &ia);
	if (!rd->q.ib)
		return gz_err(errno ? -errno : -ENOMEM, "wire-up UD queue "
			      "pair (%d bytes inline): %s", GZ_VB_WIRE_MSG,
			      strerror(errno));
	ret = ud_start(rd);
	if (ret)
		return ret;
	rd->wcq_armed = !ibv_req_notify_cq(rd->wcq, 0);
	return 0;
}

void gz_vb_wire_close(struct gz_vb_rd *rd)
{
	if (rd->q.ib)
		ibv_destroy_qp(rd->q.ib);
	rd->q.ib = NULL;
	if (rd->wcq)
		ibv_destroy_cq(rd->wcq);
	if (rd->wmr)
		ibv_dereg_mr(rd->wmr);
	free(rd->wbuf);
}

int gz_vb_wire_restart(struct gz_vb_rd *rd)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_RESET };
	int ret = ibv_modify_qp(rd->q.ib, &a, IBV_QP_STATE);

	if (ret)
		return gz_err(-ret, "wire-up queue pair to RESET: %s",
			      strerror(ret));
	return ud_start(rd);
}
