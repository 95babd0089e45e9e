// SPDX-License-Identifier: MIT
/*
 * RC pairing, as verbs RC: a queue pair talks to the one remote queue
 * pair it connected to, once that one connected back; work posted
 * before waits for it, a third queue pair cannot join the pair, and RD
 * talks only to RD.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"

TestSuite(pairing, .init = gzt_fabric_init, .fini = gzt_fabric_fini,
	  .timeout = 60);

static struct genzio_send_wr put(struct gzt_ep *to, struct genzio_sge *sge,
				 uint64_t *v)
{
	*sge = (struct genzio_sge){ (uintptr_t)v, 8, 0 };
	return (struct genzio_send_wr){
		.sg_list = sge, .num_sge = 1, .opcode = GENZIO_WR_WRITE,
		.send_flags = GENZIO_SEND_INLINE | GENZIO_SEND_SIGNALED,
		.rdma = { to->info.addr, to->info.rkey },
	};
}

Test(pairing, a_second_initiator_cannot_connect_to_a_paired_queue_pair)
{
	struct gzt_ep a, b, c;

	cr_assert_eq(gzt_ep_open(&a, 0, 0), 0);
	cr_assert_eq(gzt_ep_open(&b, 0, 0), 0);
	cr_assert_eq(gzt_ep_open(&c, 0, 0), 0);
	cr_assert_eq(gzt_ep_pair(&a, &b), 0);
	/* without GENZIO_CAP_FINE_STATUS a paired remote queue pair cannot
	 * be told from a silent one (verbs: connect only sets our end, and
	 * c's work would just time out; see
	 * a_queue_pair_that_paired_with_another_is_not_reached) */
	int ret = gzt_connect(c.qp, &b.info);

	if (gzt_caps() & GENZIO_CAP_FINE_STATUS)
		cr_assert_eq(ret, -EISCONN);
	else
		cr_assert(ret == -EISCONN || ret == 0, "%d", ret);
	cr_assert_eq(gzt_connect(b.qp, &c.info), -EISCONN, "b is paired");
	/* c stays usable: it may connect elsewhere (after a reset, if it
	 * did connect its end) */
	if (!ret) {
		cr_assert_eq(genzio_qp_reset(c.qp), 0);
		cr_assert_eq(genzio_conn_info_init(&c.info, c.qp, NULL), 0);
	}
	cr_assert_eq(gzt_connect(c.qp, &c.info), 0);
	gzt_ep_close(&c);
	gzt_ep_close(&b);
	gzt_ep_close(&a);
}

Test(pairing, work_posted_before_the_peer_connects_back_runs_once_it_does)
{
	struct gzt_ep a, b;
	struct genzio_send_wr wr, *bad;
	struct genzio_sge sge;
	struct genzio_wc wc;
	uint64_t v = 0x5151;

	cr_assert_eq(gzt_ep_open(&a, 4096, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_ep_open(&b, 4096, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_connect(a.qp, &b.info), 0);
	wr = put(&b, &sge, &v);
	cr_assert_eq(genzio_post_send(a.qp, &wr, &bad), 0);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(genzio_poll_cq(a.cq, 1, &wc), 0, "it waits");
	cr_assert_eq(*(volatile uint64_t *)b.mem->addr, 0, "nothing landed");
	cr_assert_eq(gzt_connect(b.qp, &a.info), 0);
	cr_assert_eq(gzt_poll_one(a.cq, &wc, GZT_WAIT_MS), 1);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	cr_assert_eq(*(volatile uint64_t *)b.mem->addr, v);
	/* and from then on the lean path */
	v = 0x6262;
	cr_assert_eq(gzt_post_wait(&a, &wr, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	cr_assert_eq(*(volatile uint64_t *)b.mem->addr, v);
	gzt_ep_close(&b);
	gzt_ep_close(&a);
}

Test(pairing, a_peer_that_never_connects_back_is_retry_exceeded)
{
	struct gzt_ep a, b;
	struct genzio_send_wr wr, *bad;
	struct genzio_sge sge;
	struct genzio_wc wc;
	uint64_t v = 1;

	cr_assert_eq(gzt_ep_open(&a, 4096, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_ep_open(&b, 4096, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_connect(a.qp, &b.info), 0);
	wr = put(&b, &sge, &v);
	cr_assert_eq(genzio_post_send(a.qp, &wr, &bad), 0);
	/* 1 s of waiting, then an error completion; never a hang */
	cr_assert_eq(gzt_poll_one(a.cq, &wc, GZT_WAIT_MS), 1);
	cr_assert_eq(wc.status, GENZIO_WC_RETRY_EXC, "%s",
		     genzio_wc_status_str(wc.status));
	cr_assert_eq(*(volatile uint64_t *)b.mem->addr, 0);
	gzt_ep_close(&b);
	gzt_ep_close(&a);
}

Test(pairing, a_queue_pair_that_paired_with_another_is_not_reached)
{
	struct gzt_ep a, b, c;
	struct genzio_sge sge;
	struct genzio_wc wc;
	uint64_t v = 9;

	cr_assert_eq(gzt_ep_open(&a, 0, 0), 0);
	cr_assert_eq(gzt_ep_open(&b, 4096, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_ep_open(&c, 0, 0), 0);
	/* c and a both connect to b before b chose; b chooses a */
	cr_assert_eq(gzt_connect(c.qp, &b.info), 0);
	cr_assert_eq(gzt_connect(a.qp, &b.info), 0);
	cr_assert_eq(gzt_connect(b.qp, &a.info), 0);
	struct genzio_send_wr wr = put(&b, &sge, &v);

	cr_assert_eq(gzt_post_wait(&c, &wr, &wc), 0);
	cr_assert(gzt_remote_fault_is(wc.status, GENZIO_WC_REM_QP), "%s",
		  genzio_wc_status_str(wc.status));
	cr_assert_eq(*(volatile uint64_t *)b.mem->addr, 0, "nothing landed");
	cr_assert_eq(gzt_post_wait(&a, &wr, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	cr_assert_eq(*(volatile uint64_t *)b.mem->addr, v);
	gzt_ep_close(&c);
	gzt_ep_close(&b);
	gzt_ep_close(&a);
}

Test(pairing, rd_talks_to_rd_only)
{
	GZT_REQUIRE(RD);
	struct gzt_ep rd, rc, rd2;
	struct genzio_send_wr *bad;
	struct genzio_sge sge;
	struct genzio_wc wc;
	struct genzio_ah *ah;
	uint64_t v = 3;

	cr_assert_eq(gzt_ep_open_type(&rd, 0, 0, GENZIO_QPT_RD), 0);
	cr_assert_eq(gzt_ep_open(&rc, 4096, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_ep_open_type(&rd2, 4096, GZT_ACCESS_ALL,
				      GENZIO_QPT_RD), 0);
	cr_assert_eq(genzio_ah_create(rd.pd, rc.info.gcid, &ah), 0);
	struct genzio_send_wr wr = put(&rc, &sge, &v);

	wr.ah = ah;
	wr.remote_qpn = rc.info.qpn;
	cr_assert_eq(gzt_post_wait(&rd, &wr, &wc), 0);
	cr_assert(gzt_remote_fault_is(wc.status, GENZIO_WC_REM_QP),
		  "an RC queue pair: %s", genzio_wc_status_str(wc.status));
	cr_assert_eq(*(volatile uint64_t *)rc.mem->addr, 0);
	cr_assert_eq(genzio_ah_destroy(ah), 0);
	/* by the destination's address, as a network provider needs */
	cr_assert_eq(genzio_ah_create_addr(rd.pd, rd2.info.qp_addr,
					   rd2.info.qp_addr_len, &ah), 0);
	wr = put(&rd2, &sge, &v);
	wr.ah = ah;
	wr.remote_qpn = rd2.info.qpn;
	wr.send_flags |= GENZIO_SEND_SIGNALED;
	cr_assert_eq(genzio_post_send(rd.qp, &wr, &bad), 0);
	cr_assert_eq(gzt_poll_progress(rd.cq, &wc, rd2.ctx, NULL), 1);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	cr_assert_eq(*(volatile uint64_t *)rd2.mem->addr, v);
	cr_assert_eq(genzio_ah_destroy(ah), 0);
	gzt_ep_close(&rd2);
	gzt_ep_close(&rc);
	gzt_ep_close(&rd);
}

/* Two RD queue pairs whose first requests are to each other, posted
 * before either polls: on verbs both ask for the one connection at once
 * (the lower address's request wins); both land. */
Test(pairing, rd_first_requests_crossing_both_land)
{
	GZT_REQUIRE(RD);
	struct gzt_ep a, b;
	struct genzio_ah *to_b, *to_a;
	struct genzio_send_wr *bad;
	struct genzio_sge sa, sb;
	struct genzio_wc wc;
	uint64_t va = 0x1111, vb = 0x2222;

	cr_assert_eq(gzt_ep_open_type(&a, 4096, GZT_ACCESS_ALL, GENZIO_QPT_RD),
		     0);
	cr_assert_eq(gzt_ep_open_type(&b, 4096, GZT_ACCESS_ALL, GENZIO_QPT_RD),
		     0);
	cr_assert_eq(genzio_ah_create_addr(a.pd, b.info.qp_addr,
					   b.info.qp_addr_len, &to_b), 0);
	cr_assert_eq(genzio_ah_create_addr(b.pd, a.info.qp_addr,
					   a.info.qp_addr_len, &to_a), 0);
	struct genzio_send_wr wa = put(&b, &sa, &va), wb = put(&a, &sb, &vb);

	wa.ah = to_b;
	wa.remote_qpn = b.info.qpn;
	wb.ah = to_a;
	wb.remote_qpn = a.info.qpn;
	cr_assert_eq(genzio_post_send(a.qp, &wa, &bad), 0);
	cr_assert_eq(genzio_post_send(b.qp, &wb, &bad), 0);
	/* each one's poll is the other's progress */
	cr_assert_eq(gzt_poll_progress(a.cq, &wc, b.ctx, NULL), 1);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS, "%s",
		     genzio_wc_status_str(wc.status));
	cr_assert_eq(gzt_poll_progress(b.cq, &wc, a.ctx, NULL), 1);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS, "%s",
		     genzio_wc_status_str(wc.status));
	cr_assert_eq(*(volatile uint64_t *)b.mem->addr, va);
	cr_assert_eq(*(volatile uint64_t *)a.mem->addr, vb);
	/* and the one connection serves both ways from now on */
	va = 0x3333;
	cr_assert_eq(gzt_post_wait(&a, &wa, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	cr_assert_eq(*(volatile uint64_t *)b.mem->addr, va);
	cr_assert_eq(genzio_ah_destroy(to_a), 0);
	cr_assert_eq(genzio_ah_destroy(to_b), 0);
	gzt_ep_close(&b);
	gzt_ep_close(&a);
}

/* verbs: an RD queue pair talks to at most GENZIO_VERBS_RD_PEERS others;
 * one more is refused at post, and the ones it has keep working. */
Test(pairing, rd_peers_beyond_the_bound_are_refused)
{
	GZT_REQUIRE(RD);
	struct gzt_ep s, t1, t2;
	struct genzio_device_attr da;
	struct genzio_send_wr *bad;
	struct genzio_ah *ah1, *ah2;
	struct genzio_sge sge;
	struct genzio_wc wc;
	uint64_t v = 7;

	cr_assert_eq(setenv("GENZIO_VERBS_RD_PEERS", "1", 1), 0);
	cr_assert_eq(gzt_ep_open_type(&s, 0, 0, GENZIO_QPT_RD), 0);
	unsetenv("GENZIO_VERBS_RD_PEERS");
	cr_assert_eq(genzio_device_query(s.ctx, &da), 0);
	if (strcmp(da.provider, "verbs")) {
		gzt_ep_close(&s);
		cr_skip_test("a verbs bound (provider %s)", da.provider);
	}
	cr_assert_eq(gzt_ep_open_type(&t1, 4096, GZT_ACCESS_ALL,
				      GENZIO_QPT_RD), 0);
	cr_assert_eq(gzt_ep_open_type(&t2, 4096, GZT_ACCESS_ALL,
				      GENZIO_QPT_RD), 0);
	cr_assert_eq(genzio_ah_create_addr(s.pd, t1.info.qp_addr,
					   t1.info.qp_addr_len, &ah1), 0);
	cr_assert_eq(genzio_ah_create_addr(s.pd, t2.info.qp_addr,
					   t2.info.qp_addr_len, &ah2), 0);
	struct genzio_send_wr w1 = put(&t1, &sge, &v), w2 = put(&t2, &sge, &v);

	w1.ah = ah1;
	w1.remote_qpn = t1.info.qpn;
	w2.ah = ah2;
	w2.remote_qpn = t2.info.qpn;
	cr_assert_eq(genzio_post_send(s.qp, &w1, &bad), 0);
	cr_assert_eq(gzt_poll_progress(s.cq, &wc, t1.ctx, NULL), 1);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	cr_assert_eq(genzio_post_send(s.qp, &w2, &bad), -ENOSPC);
	cr_assert_eq(bad, &w2);
	cr_assert_eq(*(volatile uint64_t *)t2.mem->addr, 0, "nothing landed");
	cr_assert_eq(gzt_post_wait(&s, &w1, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	cr_assert_eq(genzio_ah_destroy(ah1), 0);
	cr_assert_eq(genzio_ah_destroy(ah2), 0);
	gzt_ep_close(&t2);
	gzt_ep_close(&t1);
	gzt_ep_close(&s);
}

Test(pairing, waiting_for_the_peer_does_not_use_up_the_receive_timeout)
{
	GZT_REQUIRE(MSG);
	struct gzt_ep a, b;
	struct genzio_send_wr *bad;
	struct genzio_recv_wr *rbad;
	struct genzio_wc wc;

	cr_assert_eq(gzt_ep_open(&a, 4096, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_ep_open(&b, 4096, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_connect(a.qp, &b.info), 0);
	struct genzio_sge ss = { a.info.addr, 8, a.mr->lkey };
	struct genzio_send_wr sw = { .wr_id = 1, .sg_list = &ss, .num_sge = 1,
				     .opcode = GENZIO_WR_SEND,
				     .send_flags = GENZIO_SEND_SIGNALED };
	cr_assert_eq(genzio_post_send(a.qp, &sw, &bad), 0);
	/* longer than the 100 ms receive timeout, before b connects */
	usleep(150000);
	cr_assert_eq(gzt_connect(b.qp, &a.info), 0);
	cr_assert_eq(genzio_poll_cq(a.cq, 1, &wc), 0,
		     "connected now: its wait for a receive starts now");
	struct genzio_sge rs = { b.info.addr, 64, b.mr->lkey };
	struct genzio_recv_wr rw = { .wr_id = 2, .sg_list = &rs, .num_sge = 1 };
	cr_assert_eq(genzio_post_recv(b.qp, &rw, &rbad), 0);
	cr_assert_eq(gzt_poll_one(a.cq, &wc, GZT_WAIT_MS), 1);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS, "%s",
		     genzio_wc_status_str(wc.status));
	gzt_ep_close(&b);
	gzt_ep_close(&a);
}
