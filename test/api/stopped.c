// SPDX-License-Identifier: MIT
/*
 * Nothing blocks on a stopped process (SIGSTOP, a debugger, a swapped-out
 * job): post and poll take no lock another process can hold, and setup
 * that finds none held either goes on at once.
 */
#include <signal.h>
#include <string.h>

#include "api.h"

TestSuite(stopped, .init = gzt_fabric_init, .fini = gzt_fabric_fini,
	  .timeout = 60);

Test(stopped, a_stopped_target_blocks_no_post_poll_or_setup_of_ours)
{
	gzt_require_caps(GENZIO_CAP_ONE_SIDED_TARGET | GENZIO_CAP_MSG |
			 GENZIO_CAP_ATOMIC,
			 "ONE_SIDED_TARGET, MSG, ATOMIC");
	struct gzt_target_cfg cfg = { 8192, GZT_ACCESS_ALL, 0, 0, 0 };
	struct genzio_qp_attr qa = {
		.comp_mask = GENZIO_QP_ATTR_RDM_TIMEOUT,
		.rdm_timeout_us = 20000, .qp_type = GENZIO_QPT_RC,
		.sq_depth = 16, .max_send_sge = 1, .max_inline = 8,
	};
	struct genzio_conn_info mine, theirs;
	struct genzio_event ev;
	struct genzio_qp *sq;
	struct gzt_target t;
	struct genzio_ah *ah;
	struct genzio_wc wc;
	struct gzt_ep ep;
	uint8_t buf[64] = { 0 };

	cr_assert_eq(gzt_ep_open(&ep, 4096, GZT_ACCESS_ALL), 0);
	gzt_target_start(&t, &cfg, &ep);
	gzt_connect_to(&ep, &t);
	/* a second pair for the sends, made while the target runs (as in
	 * verbs, both ends of a connection take part in making it) */
	qa.send_cq = qa.recv_cq = ep.cq;
	cr_assert_eq(genzio_qp_create(ep.pd, &qa, &sq), 0);
	cr_assert_eq(genzio_conn_info_init(&mine, sq, NULL), 0);
	gzt_target_pair(&t, &mine, &theirs);
	cr_assert_eq(gzt_connect(sq, &theirs), 0);
	cr_assert_eq(kill(t.child.pid, SIGSTOP), 0);
	/* one-sided: the target runs no code anyway */
	for (int i = 0; i < 1000; i++) {
		cr_assert_eq(gzt_put64(&ep, t.info.addr, t.info.rkey, i, &wc), 0);
		cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	}
	cr_assert_eq(gzt_read(&ep, (char *)ep.mem->addr, 64, ep.mr->lkey,
			      t.info.addr, t.info.rkey, &wc), 0);
	cr_assert_eq(gzt_atomic(&ep, GENZIO_WR_ATOMIC_FADD, 8, t.info.addr + 8,
				t.info.rkey, 1, 0, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	/* two-sided: it cannot post a receive, so a send parks and then
	 * completes with RDM_FULL; polling drives that without blocking */
	cr_assert_eq(genzio_qp_destroy(ep.qp), 0);
	ep.qp = sq;
	struct genzio_sge s = { (uintptr_t)buf, 8, 0 };
	struct genzio_send_wr w = { .opcode = GENZIO_WR_SEND, .sg_list = &s,
				    .num_sge = 1,
				    .send_flags = GENZIO_SEND_INLINE };
	cr_assert_eq(gzt_post_wait(&ep, &w, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_RDM_FULL);
	/* setup to it needs no lock of its (an address handle: RD's) */
	if (gzt_caps() & GENZIO_CAP_RD) {
		cr_assert_eq(genzio_ah_create(ep.pd, t.info.gcid, &ah), 0);
		cr_assert_eq(genzio_ah_destroy(ah), 0);
	}
	cr_assert_eq(gzt_event_get(ep.ctx, &ev), -EAGAIN);
	cr_assert_eq(kill(t.child.pid, SIGCONT), 0);
	gzt_target_stop(&t);
	cr_assert_eq(gzt_ep_close(&ep), 0);
}
