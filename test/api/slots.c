// SPDX-License-Identifier: MIT
/*
 * A receiver that destroys a queue pair and creates another in the same
 * slot while a sender streams to the old one: the new queue pair never
 * gets a message meant for the old one (its number carries a generation,
 * and a sender re-checks it), and the sender is told REM_QP.
 */
#include <string.h>

#include "api.h"

TestSuite(slots, .init = gzt_fabric_init, .fini = gzt_fabric_fini,
	  .timeout = 120);

#define ROUNDS 20
#define STREAM 64	/* a quarter lands in the 16 receives of x */
#define FILL_MAX 1024

static struct genzio_qp *small_qp(struct gzt_ep *ep)
{
	struct genzio_qp_attr qa = {
		.qp_type = GENZIO_QPT_RC, .sq_depth = 16, .rq_depth = 16,
		.max_send_sge = 1, .max_recv_sge = 1, .send_cq = ep->cq,
		.recv_cq = ep->cq,
	};
	struct genzio_qp *qp;

	return genzio_qp_create(ep->pd, &qa, &qp) ? NULL : qp;
}

static void post_recvs(struct gzt_ep *ep, struct genzio_qp *qp, uint64_t tag)
{
	struct genzio_sge sge = { ep->info.addr, 64, ep->mr->lkey };

	for (uint64_t i = 0; i < 16; i++) {
		struct genzio_recv_wr w = { .wr_id = tag | i, .sg_list = &sge,
					    .num_sge = 1 }, *bad;

		cr_assert_eq(genzio_post_recv(qp, &w, &bad), 0);
	}
}

Test(slots, a_message_to_a_destroyed_queue_pair_never_reaches_its_successor)
{
	GZT_REQUIRE(MSG);
	struct genzio_qp *fill[FILL_MAX], *x;
	struct genzio_device_attr da;
	struct gzt_ep r, s;
	struct genzio_wc wc;
	int nfill = 0, shared;

	cr_assert_eq(gzt_ep_open(&r, 8192, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_ep_open(&s, 8192, GZT_ACCESS_ALL), 0);
	/* take every slot but one, so x and its successors share it: where
	 * there are few enough to take (shm: 1024; verbs has thousands,
	 * and its numbers are the device's, which need not reuse one) */
	cr_assert_eq(genzio_device_query(r.ctx, &da), 0);
	shared = da.max_qp <= FILL_MAX;
	while (shared && nfill < FILL_MAX && (fill[nfill] = small_qp(&r)))
		nfill++;
	cr_assert(!shared || nfill > 2, "%d queue pairs", nfill);
	if (shared)
		cr_assert_eq(genzio_qp_destroy(fill[--nfill]), 0);
	x = small_qp(&r);
	cr_assert_not_null(x);
	post_recvs(&r, x, 1ull << 32);
	for (uint64_t round = 1; round <= ROUNDS; round++) {
		uint32_t old = x->qp_num;
		struct genzio_sge ss = { s.info.addr, 8, s.mr->lkey };
		struct genzio_send_wr w = { .opcode = GENZIO_WR_SEND,
					    .sg_list = &ss, .num_sge = 1 };
		int rem_qp = 0;

		cr_assert_eq(gzt_qp_pair(s.qp, x), 0);
		/* the stream: some land in x, then x goes and x' comes */
		for (int i = 0; i < STREAM; i++) {
			if (i == STREAM / 4) {
				cr_assert_eq(genzio_qp_destroy(x), 0);
				x = small_qp(&r);
				cr_assert_not_null(x);
				if (shared)
					cr_assert_eq(x->qp_num & 1023,
						     old & 1023,
						     "the same slot");
				cr_assert_neq(x->qp_num, old);
				/* its receives belong to the next round */
				post_recvs(&r, x, (round + 1) << 32);
			}
			cr_assert_eq(gzt_post_wait(&s, &w, &wc), 0);
			/* the first after: REM_QP (without
			 * GENZIO_CAP_FINE_STATUS: RETRY_EXC), fatal; then
			 * FLUSHED */
			if (i == STREAM / 4)
				cr_assert(gzt_remote_fault_is(wc.status,
							      GENZIO_WC_REM_QP),
					  "send %d: %s", i,
					  genzio_wc_status_str(wc.status));
			else if (i > STREAM / 4)
				cr_assert_eq(wc.status, GENZIO_WC_FLUSHED,
					     "send %d: %s", i,
					     genzio_wc_status_str(wc.status));
			rem_qp += i >= STREAM / 4 && wc.status;
		}
		/* what r sees: receives of the old x only, none of x' */
		while (genzio_poll_cq(r.cq, 1, &wc) == 1)
			cr_assert_eq(wc.wr_id >> 32, round,
				     "x' got a message meant for x");
		cr_assert_geq(rem_qp, STREAM - STREAM / 4);
		/* a new connection: s's queue pair pairs with x' now */
		cr_assert_eq(genzio_qp_destroy(s.qp), 0);
		s.qp = small_qp(&s);
		cr_assert_not_null(s.qp);
	}
	cr_assert_eq(genzio_qp_destroy(x), 0);
	while (nfill)
		cr_assert_eq(genzio_qp_destroy(fill[--nfill]), 0);
	cr_assert_eq(gzt_ep_close(&s), 0);
	cr_assert_eq(gzt_ep_close(&r), 0);
}
