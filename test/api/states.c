// SPDX-License-Identifier: MIT
/*
 * Queue-pair states as verbs users know them: RESET until connected,
 * RTS, and ERR after a fatal error, where everything outstanding and
 * everything posted later completes GENZIO_WC_FLUSHED; genzio_qp_reset()
 * flushes (shm: with completions; verbs drops them, genzio_verbs(7)) and
 * allows a new connection.
 */
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "api.h"

TestSuite(states, .init = gzt_fabric_init, .fini = gzt_fabric_fini,
	  .timeout = 60);

static void post_recvs(struct gzt_ep *ep, int n)
{
	struct genzio_sge sge = { ep->info.addr, 64, ep->mr->lkey };

	for (int i = 0; i < n; i++) {
		struct genzio_recv_wr w = { .wr_id = 100 + (uint64_t)i,
					    .sg_list = &sge, .num_sge = 1 },
				      *bad;

		cr_assert_eq(genzio_post_recv(ep->qp, &w, &bad), 0);
	}
}

static uint32_t state_of(struct genzio_qp *qp)
{
	struct genzio_qp_info qi;

	cr_assert_eq(genzio_qp_query(qp, &qi), 0);
	return qi.state;
}

Test(states, query_reports_reset_rts_and_the_address_connected_to)
{
	GZT_REQUIRE(RD);
	struct gzt_ep a, b, rd;
	struct genzio_qp_info qi;

	cr_assert_eq(gzt_ep_open(&a, 0, 0), 0);
	cr_assert_eq(gzt_ep_open(&b, 0, 0), 0);
	cr_assert_eq(gzt_ep_open_type(&rd, 0, 0, GENZIO_QPT_RD), 0);
	cr_assert_eq(genzio_qp_query(a.qp, &qi), 0);
	cr_assert_eq(qi.state, GENZIO_QPS_RESET);
	cr_assert_eq(qi.qp_num, a.qp->qp_num);
	cr_assert_eq(qi.qp_type, GENZIO_QPT_RC);
	cr_assert_eq(qi.peer_addr_len, 0);
	cr_assert_eq(state_of(rd.qp), GENZIO_QPS_RTS, "RD: ready at once");
	cr_assert_eq(gzt_ep_pair(&a, &b), 0);
	cr_assert_eq(genzio_qp_query(a.qp, &qi), 0);
	cr_assert_eq(qi.state, GENZIO_QPS_RTS);
	cr_assert_eq(qi.err_status, 0);
	cr_assert_eq(qi.peer_addr_len, b.info.qp_addr_len);
	cr_assert_eq(memcmp(qi.peer_addr, b.info.qp_addr, qi.peer_addr_len),
		     0, "the address it connected to");
	gzt_ep_close(&rd);
	gzt_ep_close(&b);
	gzt_ep_close(&a);
}

Test(states, a_fatal_error_flushes_receives_and_all_later_work)
{
	GZT_REQUIRE(MSG);
	struct gzt_ep a, b;
	struct genzio_wc wc;
	uint64_t v = 1;

	cr_assert_eq(gzt_ep_open(&a, 4096, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_ep_open(&b, 4096, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_ep_pair(&a, &b), 0);
	post_recvs(&a, 3);
	/* the peer's queue pair goes: the next operation is fatal */
	cr_assert_eq(genzio_qp_destroy(b.qp), 0);
	b.qp = NULL;
	/* (without GENZIO_CAP_FINE_STATUS a gone queue pair is silence:
	 * RETRY_EXC, and the peer is dead as far as a can tell) */
	cr_assert_eq(gzt_put64(&a, b.info.addr, b.info.rkey, v, &wc), 0);
	cr_assert(gzt_remote_fault_is(wc.status, GENZIO_WC_REM_QP), "%s",
		  genzio_wc_status_str(wc.status));
	uint32_t fault = wc.status;

	cr_assert_eq(state_of(a.qp), GENZIO_QPS_ERR);
	struct genzio_event ev;
	int qp_err = 0, dead = 0, ret;

	while (!(ret = gzt_event_get(a.ctx, &ev))) {
		cr_assert_eq(ev.gcid, b.info.gcid);
		if (ev.type == GENZIO_EVENT_PEER_DEAD &&
		    fault == GENZIO_WC_RETRY_EXC) {
			dead++;
			continue;
		}
		cr_assert_eq(ev.type, GENZIO_EVENT_QP_ERR, "event %d",
			     ev.type);
		cr_assert_eq(ev.qp_num, a.qp->qp_num);
		cr_assert_eq(ev.status, fault, "%s",
			     genzio_wc_status_str(ev.status));
		qp_err++;
	}
	cr_assert_eq(ret, -EAGAIN);
	cr_assert_eq(qp_err, 1, "QP_ERR said so, once");
	cr_assert_leq(dead, 1, "PEER_DEAD at most once");
	/* the three receives, flushed, in order, with their wr_ids */
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(gzt_poll_one(a.cq, &wc, GZT_WAIT_MS), 1);
		cr_assert_eq(wc.status, GENZIO_WC_FLUSHED);
		cr_assert_eq(wc.opcode, GENZIO_WC_RECV);
		cr_assert_eq(wc.wr_id, 100 + (uint64_t)i);
	}
	/* later sends and receives complete, flushed */
	cr_assert_eq(gzt_put64(&a, b.info.addr, b.info.rkey, v, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_FLUSHED);
	post_recvs(&a, 1);
	cr_assert_eq(gzt_poll_one(a.cq, &wc, GZT_WAIT_MS), 1);
	cr_assert_eq(wc.status, GENZIO_WC_FLUSHED);
	cr_assert_eq(wc.wr_id, 100);
	cr_assert_eq(genzio_poll_cq(a.cq, 1, &wc), 0, "nothing more");
	gzt_ep_close(&b);
	gzt_ep_close(&a);
}

Test(states, reset_flushes_then_the_queue_pair_connects_again)
{
	GZT_REQUIRE(MSG);
	struct gzt_ep a, b;
	struct genzio_send_wr *bad;
	struct genzio_wc wc;
	uint64_t v = 0x77;
	uint32_t seen = 0;
	int flushed = 0;

	cr_assert_eq(gzt_ep_open(&a, 4096, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_ep_open(&b, 4096, GZT_ACCESS_ALL), 0);
	/* a waits for b, which has not connected back: parked */
	cr_assert_eq(gzt_connect(a.qp, &b.info), 0);
	post_recvs(&a, 2);
	struct genzio_sge sge = { (uintptr_t)&v, 8, 0 };
	struct genzio_send_wr wr = {
		.wr_id = 7, .sg_list = &sge, .num_sge = 1,
		.opcode = GENZIO_WR_WRITE,
		.send_flags = GENZIO_SEND_INLINE | GENZIO_SEND_SIGNALED,
		.rdma = { b.info.addr, b.info.rkey },
	};
	cr_assert_eq(genzio_post_send(a.qp, &wr, &bad), 0);
	cr_assert_eq(genzio_poll_cq(a.cq, 1, &wc), 0, "parked");
	cr_assert_eq(genzio_qp_reset(a.qp), 0);
	cr_assert_eq(state_of(a.qp), GENZIO_QPS_RESET);
	/* with GENZIO_CAP_RESET_FLUSHES the write and both receives
	 * complete FLUSHED, each once; without it (verbs' move to RESET,
	 * genzio_verbs(7)) they are dropped: none completes */
	while (genzio_poll_cq(a.cq, 1, &wc) == 1) {
		cr_assert_eq(wc.status, GENZIO_WC_FLUSHED, "%s",
			     genzio_wc_status_str(wc.status));
		cr_assert(wc.wr_id == 7 || wc.wr_id == 100 || wc.wr_id == 101,
			  "wr_id %llu", (unsigned long long)wc.wr_id);
		seen |= 1u << (wc.wr_id == 7 ? 0 : wc.wr_id - 99);
		flushed++;
	}
	if (gzt_dev_caps(a.ctx) & GENZIO_CAP_RESET_FLUSHES)
		cr_assert(flushed == 3 && seen == 7,
			  "the write and both receives: %d (%#x)", flushed,
			  seen);
	else
		cr_assert_eq(flushed, 0, "dropped, not completed");
	cr_assert_eq(*(volatile uint64_t *)b.mem->addr, 0, "nothing landed");
	cr_assert_eq(genzio_post_send(a.qp, &wr, &bad), -ENOTCONN);
	/* connected again, both ways this time: it works (a's address
	 * may have changed with the reset: verbs' takes a new PSN) */
	cr_assert_eq(genzio_conn_info_init(&a.info, a.qp, a.mr), 0);
	cr_assert_eq(gzt_ep_pair(&a, &b), 0);
	cr_assert_eq(state_of(a.qp), GENZIO_QPS_RTS);
	cr_assert_eq(gzt_post_wait(&a, &wr, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	cr_assert_eq(*(volatile uint64_t *)b.mem->addr, v);
	gzt_ep_close(&b);
	gzt_ep_close(&a);
}

Test(states, bad_arguments)
{
	GZT_REQUIRE(RD);
	struct gzt_ep rd;
	struct genzio_qp_info qi;

	cr_assert_eq(gzt_ep_open_type(&rd, 0, 0, GENZIO_QPT_RD), 0);
	cr_assert_eq(genzio_qp_query(NULL, &qi), -EINVAL);
	cr_assert_eq(genzio_qp_query(rd.qp, NULL), -EINVAL);
	cr_assert_eq(genzio_qp_query_sz(rd.qp, &qi, 24), -EINVAL);
	/* the first layout (up to peer_addr) is an older binary's: filled,
	 * nothing written past it */
	memset(&qi, 0xff, sizeof(qi));
	cr_assert_eq(genzio_qp_query_sz(rd.qp, &qi,
					offsetof(struct genzio_qp_info,
						 max_recv_staged)), 0);
	cr_assert_eq(qi.state, GENZIO_QPS_RTS);
	cr_assert_eq(qi.max_recv_staged, UINT64_MAX);
	cr_assert_eq(genzio_qp_reset(NULL), -EINVAL);
	cr_assert_eq(genzio_qp_reset(rd.qp), -EINVAL, "RD has no connection");
	gzt_ep_close(&rd);
}

Test(states, receives_a_full_cq_cannot_take_are_flushed_as_it_drains)
{
	GZT_REQUIRE(MSG);
	struct genzio_cq_attr ca = { .depth = 2 };
	struct gzt_ep a, b;
	struct genzio_cq *rcq;
	struct genzio_wc wc;
	uint64_t next = 100;

	cr_assert_eq(gzt_ep_open(&a, 4096, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_ep_open(&b, 4096, GZT_ACCESS_ALL), 0);
	/* a's receives complete into a cq of 2 */
	cr_assert_eq(genzio_cq_create(a.ctx, &ca, &rcq), 0);
	struct genzio_qp_attr qa = {
		.qp_type = GENZIO_QPT_RC, .sq_depth = 16, .rq_depth = 8,
		.max_send_sge = 1, .max_recv_sge = 1, .max_inline = 8,
		.send_cq = a.cq, .recv_cq = rcq,
	};
	cr_assert_eq(genzio_qp_destroy(a.qp), 0);
	cr_assert_eq(genzio_qp_create(a.pd, &qa, &a.qp), 0);
	cr_assert_eq(gzt_qp_pair(a.qp, b.qp), 0);
	post_recvs(&a, 5);
	cr_assert_eq(genzio_qp_destroy(b.qp), 0);
	b.qp = NULL;
	cr_assert_eq(gzt_put64(&a, b.info.addr, b.info.rkey, 1, &wc), 0);
	cr_assert(gzt_remote_fault_is(wc.status, GENZIO_WC_REM_QP), "%s",
		  genzio_wc_status_str(wc.status));
	/* two fit now; each poll that makes room lets the rest in, in
	 * order (a poll makes shm's progress; verbs flushes at once) */
	int ret = 0, all = !!(gzt_dev_caps(a.ctx) & GENZIO_CAP_CQ_BACKPRESSURE);

	while (next < 105) {
		/* all must come with backpressure; without, the wait ends
		 * the ones that fit */
		ret = gzt_poll_one(rcq, &wc, all ? GZT_WAIT_MS : 2000);
		if (ret != 1)
			break;
		cr_assert_eq(wc.status, GENZIO_WC_FLUSHED, "%s",
			     genzio_wc_status_str(wc.status));
		cr_assert_eq(wc.wr_id, next++);
	}
	if (all) {
		cr_assert_eq(next, 105, "all five receives, none stuck (%d)",
			     ret);
	} else if (next < 105) {
		/* without GENZIO_CAP_CQ_BACKPRESSURE a cq holds at least
		 * its depth, and what it cannot take overruns it, fatally
		 * (genzio_verbs(7)): the ones that fit, in order, then
		 * -EOVERFLOW and one CQ_OVERRUN; never a receive stuck
		 * without the cq saying so */
		struct genzio_event ev;
		int overrun = 0;

		cr_assert_geq(next, 100 + ca.depth, "the first ones fit");
		/* (verbs hears of it from the device: an event, then the
		 * poll that sees it says so) */
		cr_assert(ret == 0 || ret == -EOVERFLOW, "%d", ret);
		for (int n = 0; n < GZT_WAIT_MS && !overrun; n++) {
			if (gzt_event_get(a.ctx, &ev)) {
				usleep(1000);
				continue;
			}
			overrun += ev.type == GENZIO_EVENT_CQ_OVERRUN &&
				   ev.cq == rcq;
		}
		while (!gzt_event_get(a.ctx, &ev))
			overrun += ev.type == GENZIO_EVENT_CQ_OVERRUN &&
				   ev.cq == rcq;
		cr_assert_eq(overrun, 1, "CQ_OVERRUN, once (%llu seen)",
			     (unsigned long long)next - 100);
		ret = genzio_poll_cq(rcq, 1, &wc);
		cr_assert_eq(ret, -EOVERFLOW, "the cq says it overran: %d",
			     ret);
	}
	cr_assert_eq(genzio_qp_destroy(a.qp), 0);
	a.qp = NULL;
	cr_assert_eq(genzio_cq_destroy(rcq), 0);
	gzt_ep_close(&b);
	gzt_ep_close(&a);
}
