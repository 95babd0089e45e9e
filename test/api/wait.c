// SPDX-License-Identifier: MIT
/* Completion channels: block in epoll, wake on a remote operation, idle
 * without using the CPU. */
#include <sys/epoll.h>
#include <sys/resource.h>
#include <string.h>
#include <unistd.h>

#include "api.h"

TestSuite(wait, .init = gzt_fabric_init, .fini = gzt_fabric_fini,
	  .timeout = 60);

/* A receiver whose cq has a channel. */
struct waiter {
	struct gzt_ep ep;
	struct genzio_comp_channel *ch;
	struct genzio_cq *rcq;
	struct genzio_qp *qp;
};

static void waiter_open(struct waiter *w)
{
	struct genzio_cq_attr ca = { .comp_mask = GENZIO_CQ_ATTR_CHANNEL,
				     .depth = 64 };
	struct genzio_qp_attr qa = {
		.qp_type = GENZIO_QPT_RC, .sq_depth = 16, .rq_depth = 16,
		.max_send_sge = 1, .max_recv_sge = 1,
	};

	cr_assert_eq(gzt_ep_open(&w->ep, 1u << 16, GZT_ACCESS_ALL), 0);
	cr_assert_eq(genzio_comp_channel_create(w->ep.ctx, &w->ch), 0);
	ca.channel = w->ch;
	cr_assert_eq(genzio_cq_create(w->ep.ctx, &ca, &w->rcq), 0);
	qa.send_cq = w->ep.cq;
	qa.recv_cq = w->rcq;
	cr_assert_eq(genzio_qp_create(w->ep.pd, &qa, &w->qp), 0);
	/* peers reach w->qp, not the endpoint's own */
	size_t n = sizeof(w->ep.info.qp_addr);

	cr_assert_eq(genzio_qp_addr(w->qp, w->ep.info.qp_addr, &n), 0);
	w->ep.info.qp_addr_len = (uint32_t)n;
	w->ep.info.qpn = w->qp->qp_num;
}

static void waiter_close(struct waiter *w)
{
	cr_assert_eq(genzio_qp_destroy(w->qp), 0);
	cr_assert_eq(genzio_comp_channel_destroy(w->ch), -EBUSY);
	cr_assert_eq(genzio_cq_destroy(w->rcq), 0);
	cr_assert_eq(genzio_comp_channel_destroy(w->ch), 0);
	cr_assert_eq(gzt_ep_close(&w->ep), 0);
}

static int sender_main(int fd, void *arg)
{
	struct genzio_conn_info peer;
	struct genzio_wc wc;
	struct gzt_ep ep;
	char go;

	(void)arg;
	if (gzt_ep_open(&ep, 4096, GZT_ACCESS_ALL) ||
	    genzio_conn_info_exchange(fd, &ep.info, &peer) ||
	    gzt_connect(ep.qp, &peer))
		return 70;
	strcpy(ep.mem->addr, "wake up");
	while (!gzt_recv_token(fd, &go)) {
		struct genzio_sge sge = { ep.info.addr, 8, ep.mr->lkey };
		struct genzio_send_wr wr = {
			.sg_list = &sge, .num_sge = 1, .opcode = GENZIO_WR_SEND,
		};

		if (gzt_post_wait(&ep, &wr, &wc) || wc.status)
			return 71;
	}
	return gzt_ep_close(&ep) ? 72 : 0;
}

Test(wait, epoll_on_the_channel_wakes_on_a_remote_send)
{
	GZT_REQUIRE(MSG);
	struct genzio_conn_info peer;
	struct epoll_event e = { .events = EPOLLIN };
	struct gzt_child c;
	struct waiter w;
	struct genzio_cq *cq;
	struct genzio_wc wc;
	int ep;

	waiter_open(&w);
	cr_assert_eq(gzt_fork(&c, sender_main, NULL), 0);
	cr_assert_eq(genzio_conn_info_exchange(c.fd, &w.ep.info, &peer), 0);
	cr_assert_eq(gzt_connect(w.qp, &peer), 0);
	struct genzio_sge sge = { w.ep.info.addr, 64, w.ep.mr->lkey };
	struct genzio_recv_wr rw = { .wr_id = 42, .sg_list = &sge,
				     .num_sge = 1 }, *bad;
	cr_assert_eq(genzio_post_recv(w.qp, &rw, &bad), 0);
	cr_assert_eq(genzio_cq_req_notify(w.rcq), 0);
	cr_assert_eq(genzio_poll_cq(w.rcq, 1, &wc), 0);
	ep = epoll_create1(0);
	cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_ADD, w.ch->fd, &e), 0);
	cr_assert_eq(epoll_wait(ep, &e, 1, 0), 0, "nothing yet");
	gzt_send_token(c.fd, 'g');
	cr_assert_eq(epoll_wait(ep, &e, 1, 10000), 1, "woken by the send");
	cr_assert_eq(genzio_comp_channel_get_event(w.ch, 0, &cq), 0);
	cr_assert_eq(cq, w.rcq);
	cr_assert_eq(genzio_poll_cq(w.rcq, 1, &wc), 1);
	cr_assert_eq(wc.wr_id, 42);
	cr_assert_str_eq(w.ep.mem->addr, "wake up");
	cr_assert_eq(genzio_cq_ack_events(w.rcq, 1), 0);
	cr_assert_eq(genzio_cq_ack_events(w.rcq, 1), -EINVAL, "only one");
	/* disarmed until asked again: a second send does not wake */
	cr_assert_eq(genzio_post_recv(w.qp, &rw, &bad), 0);
	gzt_send_token(c.fd, 'g');
	cr_assert_eq(gzt_poll_one(w.rcq, &wc, GZT_WAIT_MS), 1);
	cr_assert_eq(genzio_comp_channel_get_event(w.ch, 0, &cq), -EAGAIN);
	close(ep);
	close(c.fd);
	c.fd = -1;
	cr_assert_eq(gzt_wait(&c), 0);
	waiter_close(&w);
}

Test(wait, idle_waiter_uses_no_cpu)
{
	struct waiter w;
	struct genzio_cq *cq;
	struct rusage a, b;
	double used;

	waiter_open(&w);
	cr_assert_eq(genzio_cq_req_notify(w.rcq), 0);
	getrusage(RUSAGE_SELF, &a);
	cr_assert_eq(genzio_comp_channel_get_event(w.ch, 1000, &cq),
		     -ETIMEDOUT);
	getrusage(RUSAGE_SELF, &b);
	used = (double)(b.ru_utime.tv_sec - a.ru_utime.tv_sec) +
	       (double)(b.ru_stime.tv_sec - a.ru_stime.tv_sec) +
	       (double)(b.ru_utime.tv_usec - a.ru_utime.tv_usec) / 1e6 +
	       (double)(b.ru_stime.tv_usec - a.ru_stime.tv_usec) / 1e6;
	/* a spinning waiter would burn the whole second */
	cr_assert_lt(used, 0.05, "%.3f s of CPU while waiting 1 s", used);
	waiter_close(&w);
}

Test(wait, blocked_sender_of_a_parked_send_wakes_with_rdm_full)
{
	GZT_REQUIRE(MSG);
	struct genzio_cq_attr ca = { .comp_mask = GENZIO_CQ_ATTR_CHANNEL,
				     .depth = 16 };
	struct genzio_qp_attr qa = {
		.comp_mask = GENZIO_QP_ATTR_RDM_TIMEOUT, .rdm_timeout_us = 30000,
		.qp_type = GENZIO_QPT_RC, .sq_depth = 16, .rq_depth = 16,
		.max_send_sge = 1, .max_recv_sge = 1,
	};
	struct genzio_comp_channel *ch;
	struct genzio_cq *scq, *cq;
	struct genzio_qp *qp;
	struct gzt_ep s, r;
	struct genzio_wc wc;

	cr_assert_eq(gzt_ep_open(&s, 4096, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_ep_open(&r, 4096, GZT_ACCESS_ALL), 0);
	cr_assert_eq(genzio_comp_channel_create(s.ctx, &ch), 0);
	ca.channel = ch;
	cr_assert_eq(genzio_cq_create(s.ctx, &ca, &scq), 0);
	qa.send_cq = qa.recv_cq = scq;
	cr_assert_eq(genzio_qp_create(s.pd, &qa, &qp), 0);
	cr_assert_eq(gzt_qp_pair(qp, r.qp), 0);
	struct genzio_sge sge = { s.info.addr, 8, s.mr->lkey };
	struct genzio_send_wr wr = {
		.sg_list = &sge, .num_sge = 1, .opcode = GENZIO_WR_SEND,
		.send_flags = GENZIO_SEND_SIGNALED,
	}, *bad;
	cr_assert_eq(genzio_post_send(qp, &wr, &bad), 0);
	cr_assert_eq(genzio_cq_req_notify(scq), 0);
	/* no busy polling: the channel's timer retries, then gives up */
	cr_assert_eq(genzio_comp_channel_get_event(ch, 5000, &cq), 0);
	cr_assert_eq(cq, scq);
	cr_assert_eq(genzio_poll_cq(scq, 1, &wc), 1);
	cr_assert_eq(wc.status, GENZIO_WC_RDM_FULL);
	cr_assert_eq(genzio_cq_ack_events(scq, 1), 0);
	cr_assert_eq(genzio_qp_destroy(qp), 0);
	cr_assert_eq(genzio_cq_destroy(scq), 0);
	cr_assert_eq(genzio_comp_channel_destroy(ch), 0);
	gzt_ep_close(&s);
	gzt_ep_close(&r);
}

Test(wait, bad_arguments)
{
	struct genzio_comp_channel *ch;
	struct genzio_cq *cq;
	struct gzt_ep ep;
	struct genzio_cq_attr ca = { .comp_mask = GENZIO_CQ_ATTR_CHANNEL,
				     .depth = 4, .channel = NULL };

	cr_assert_eq(gzt_ep_open(&ep, 0, 0), 0);
	cr_assert_eq(genzio_comp_channel_create(NULL, &ch), -EINVAL);
	cr_assert_eq(genzio_comp_channel_create(ep.ctx, NULL), -EINVAL);
	cr_assert_eq(genzio_comp_channel_destroy(NULL), -EINVAL);
	cr_assert_eq(genzio_cq_create(ep.ctx, &ca, &cq), -EINVAL);
	cr_assert_eq(genzio_cq_req_notify(NULL), -EINVAL);
	cr_assert_eq(genzio_cq_req_notify(ep.cq), -EINVAL, "no channel");
	cr_assert_eq(genzio_cq_ack_events(NULL, 1), -EINVAL);
	cr_assert_eq(genzio_cq_ack_events(ep.cq, 1), -EINVAL);
	cr_assert_eq(genzio_comp_channel_create(ep.ctx, &ch), 0);
	cr_assert_eq(genzio_comp_channel_get_event(NULL, 0, &cq), -EINVAL);
	cr_assert_eq(genzio_comp_channel_get_event(ch, 0, NULL), -EINVAL);
	cr_assert_eq(genzio_comp_channel_get_event(ch, -2, &cq), -EINVAL);
	cr_assert_eq(genzio_comp_channel_get_event(ch, 0, &cq), -EAGAIN);
	cr_assert_eq(genzio_comp_channel_get_event(ch, 20, &cq), -ETIMEDOUT);
	cr_assert_eq(genzio_device_close(ep.ctx), -EBUSY);
	cr_assert_eq(genzio_comp_channel_destroy(ch), 0);
	gzt_ep_close(&ep);
}

Test(wait, a_recreated_channel_is_woken_by_a_peer_that_woke_the_old_one)
{
	GZT_REQUIRE(MSG);
	struct genzio_cq *cq;
	struct genzio_wc wc;
	struct waiter w;
	struct gzt_ep s;

	cr_assert_eq(gzt_ep_open(&s, 4096, GZT_ACCESS_ALL), 0);
	for (int round = 0; round < 3; round++) {
		struct genzio_sge rs, ss;
		struct genzio_recv_wr rw, *rb;
		struct genzio_send_wr sw;

		/* the same channel id each round: a new FIFO each time */
		waiter_open(&w);
		rs = (struct genzio_sge){ w.ep.info.addr, 64, w.ep.mr->lkey };
		rw = (struct genzio_recv_wr){ .sg_list = &rs, .num_sge = 1 };
		ss = (struct genzio_sge){ s.info.addr, 8, s.mr->lkey };
		sw = (struct genzio_send_wr){ .sg_list = &ss, .num_sge = 1,
					      .opcode = GENZIO_WR_SEND };
		cr_assert_eq(genzio_post_recv(w.qp, &rw, &rb), 0);
		cr_assert_eq(gzt_qp_pair(s.qp, w.qp), 0);
		cr_assert_eq(genzio_cq_req_notify(w.rcq), 0);
		cr_assert_eq(gzt_post_wait(&s, &sw, &wc), 0);
		cr_assert_eq(genzio_comp_channel_get_event(w.ch, 5000, &cq), 0,
			     "round %d: the wake-up went astray", round);
		cr_assert_eq(cq, w.rcq);
		cr_assert_eq(genzio_cq_ack_events(cq, 1), 0);
		cr_assert_eq(genzio_poll_cq(w.rcq, 1, &wc), 1);
		waiter_close(&w);
		/* a fresh queue pair for the next round's connection */
		cr_assert_eq(genzio_qp_destroy(s.qp), 0);
		struct genzio_qp_attr qa = {
			.qp_type = GENZIO_QPT_RC, .sq_depth = 16,
			.max_send_sge = 1, .send_cq = s.cq, .recv_cq = s.cq,
		};
		cr_assert_eq(genzio_qp_create(s.pd, &qa, &s.qp), 0);
	}
	cr_assert_eq(gzt_ep_close(&s), 0);
}
