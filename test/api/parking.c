// SPDX-License-Identifier: MIT
/*
 * A SEND parked for want of a receive holds no completion slot: later
 * completions on its cq (other queue pairs, its own receives) are seen at
 * once, so credit protocols - which wait for a credit message while a
 * send waits for a buffer - never stall.
 */
#include <string.h>

#include "api.h"

TestSuite(parking, .init = gzt_fabric_init, .fini = gzt_fabric_fini,
	  .timeout = 60);

#define LONG_US 30000000u	/* parks far longer than any test runs */

/* An RC queue pair on @ep's cq, parking sends for @us. */
static struct genzio_qp *qp_on(struct gzt_ep *ep, uint32_t us)
{
	struct genzio_qp_attr qa = {
		.comp_mask = GENZIO_QP_ATTR_RDM_TIMEOUT, .rdm_timeout_us = us,
		.qp_type = GENZIO_QPT_RC, .sq_depth = 64, .rq_depth = 64,
		.max_send_sge = 1, .max_recv_sge = 1, .send_cq = ep->cq,
		.recv_cq = ep->cq,
	};
	struct genzio_qp *qp;

	cr_assert_eq(genzio_qp_create(ep->pd, &qa, &qp), 0);
	return qp;
}

static void recv_on(struct genzio_qp *qp, struct gzt_ep *ep, uint64_t off,
		    uint64_t wr_id)
{
	struct genzio_sge sge = { ep->info.addr + off, 64, ep->mr->lkey };
	struct genzio_recv_wr wr = { .wr_id = wr_id, .sg_list = &sge,
				     .num_sge = 1 }, *bad;

	cr_assert_eq(genzio_post_recv(qp, &wr, &bad), 0);
}

static void send_on(struct genzio_qp *qp, struct gzt_ep *ep, uint64_t wr_id,
		    uint32_t flags)
{
	struct genzio_sge sge = { ep->info.addr + 1024, 16, ep->mr->lkey };
	struct genzio_send_wr wr = {
		.wr_id = wr_id, .sg_list = &sge, .num_sge = 1,
		.opcode = GENZIO_WR_SEND_IMM, .imm_data = (uint32_t)wr_id,
		.send_flags = flags,
	}, *bad;

	cr_assert_eq(genzio_post_send(qp, &wr, &bad), 0);
}

static void write_on(struct genzio_qp *qp, struct gzt_ep *ep,
		     const struct genzio_conn_info *to, uint64_t wr_id)
{
	struct genzio_sge sge = { ep->info.addr + 2048, 8, ep->mr->lkey };
	struct genzio_send_wr wr = {
		.wr_id = wr_id, .sg_list = &sge, .num_sge = 1,
		.opcode = GENZIO_WR_WRITE, .send_flags = GENZIO_SEND_SIGNALED,
		.rdma = { to->addr + 4096, to->rkey },
	}, *bad;

	cr_assert_eq(genzio_post_send(qp, &wr, &bad), 0);
}

/* Poll @cq until @n completions arrived (bounded); their wr_ids go to
 * @ids. */
static void reap(struct genzio_cq *cq, int n, uint64_t *ids)
{
	struct genzio_wc wc;

	for (int i = 0; i < n; i++) {
		cr_assert_eq(gzt_poll_one(cq, &wc, GZT_WAIT_MS), 1,
			     "a completion stayed hidden (%d of %d seen)", i,
			     n);
		cr_assert_eq(wc.status, GENZIO_WC_SUCCESS, "%s",
			     genzio_wc_status_str(wc.status));
		ids[i] = wc.wr_id;
	}
}

static int has(const uint64_t *ids, int n, uint64_t id)
{
	for (int i = 0; i < n; i++)
		if (ids[i] == id)
			return 1;
	return 0;
}

/* a's queue pairs q[0], q[1] connected to b's r[0], r[1] */
static void pairs(struct gzt_ep *a, struct gzt_ep *b, struct genzio_qp **q,
		  struct genzio_qp **r)
{
	cr_assert_eq(gzt_ep_open(a, 8192, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_ep_open(b, 8192, GZT_ACCESS_ALL), 0);
	for (int i = 0; i < 2; i++) {
		q[i] = qp_on(a, LONG_US);
		r[i] = qp_on(b, LONG_US);
		cr_assert_eq(gzt_qp_pair(q[i], r[i]), 0);
	}
}

static void unpair(struct gzt_ep *a, struct gzt_ep *b, struct genzio_qp **q,
		   struct genzio_qp **r)
{
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(genzio_qp_destroy(q[i]), 0);
		cr_assert_eq(genzio_qp_destroy(r[i]), 0);
	}
	cr_assert_eq(gzt_ep_close(b), 0);
	cr_assert_eq(gzt_ep_close(a), 0);
}

Test(parking, a_parked_send_hides_no_later_completion_on_its_cq)
{
	GZT_REQUIRE(MSG);
	struct genzio_qp *q[2], *r[2];
	struct gzt_ep a, b;
	struct genzio_wc wc;
	uint64_t ids[3];

	pairs(&a, &b, q, r);
	/* a's send on q[0] parks: b posted nothing on r[0] */
	send_on(q[0], &a, 0x51, GENZIO_SEND_SIGNALED);
	cr_assert_eq(genzio_poll_cq(a.cq, 1, &wc), 0, "parked, not done");
	/* b sends to a on both queue pairs, one of them the parked one's;
	 * a writes through the other */
	recv_on(q[0], &a, 0, 0x71);
	recv_on(q[1], &a, 64, 0x72);
	send_on(r[0], &b, 0x61, 0);
	send_on(r[1], &b, 0x62, 0);
	write_on(q[1], &a, &b.info, 0x91);
	/* all three are seen while the send is still parked */
	reap(a.cq, 3, ids);
	cr_assert(has(ids, 3, 0x71) && has(ids, 3, 0x72) && has(ids, 3, 0x91));
	cr_assert_eq(genzio_poll_cq(a.cq, 1, &wc), 0, "still parked");
	/* a receive on r[0] lets the parked send through */
	recv_on(r[0], &b, 0, 0x81);
	reap(a.cq, 1, ids);
	cr_assert_eq(ids[0], 0x51);
	unpair(&a, &b, q, r);
}

/*
 * A credit protocol with one send always speculative: a may have CREDITS
 * messages in flight, b returns a credit (a SEND_IMM) for each one it
 * takes in. a posts one more than its credits allow, which parks until b
 * reposts; the credit that unblocks a must not hide behind it.
 */
#define CREDITS 4
#define MESSAGES 2000

Test(parking, a_credit_protocol_with_a_parked_send_never_stalls)
{
	GZT_REQUIRE(MSG);
	struct genzio_qp *q[2], *r[2];
	int credits = CREDITS, sent = 0, done = 0, got = 0;
	struct gzt_ep a, b;
	struct genzio_wc wc;

	pairs(&a, &b, q, r);
	for (int i = 0; i < CREDITS; i++) {
		recv_on(r[0], &b, 64 * (uint64_t)i, (uint64_t)i);
		recv_on(q[0], &a, 64 * (uint64_t)i, 0x100 + (uint64_t)i);
	}
	for (uint64_t spins = 0; done < MESSAGES; spins++) {
		cr_assert_lt(spins, 50000000ull, "stalled: %d sent, %d done",
			     sent, done);
		/* a: one more than the credits, the last one parks */
		if (sent < MESSAGES && sent - done <= credits) {
			send_on(q[0], &a, 0x1000 + (uint64_t)sent,
				GENZIO_SEND_SIGNALED);
			sent++;
		}
		while (genzio_poll_cq(a.cq, 1, &wc) == 1) {
			cr_assert_eq(wc.status, GENZIO_WC_SUCCESS, "%s",
				     genzio_wc_status_str(wc.status));
			if (wc.opcode == GENZIO_WC_RECV) {
				credits++;	/* b took one in */
				recv_on(q[0], &a, 0, wc.wr_id);
			} else {
				done++;
				credits--;
			}
		}
		/* b: take messages in, repost, return a credit each */
		while (genzio_poll_cq(b.cq, 1, &wc) == 1) {
			cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
			if (wc.opcode != GENZIO_WC_RECV)
				continue;
			got++;
			recv_on(r[0], &b, 0, wc.wr_id);
			/* unsignaled, but every 16th: a signaled completion
			 * frees the send queue slots before it (verbs) */
			send_on(r[0], &b, 0x2000,
				got % 16 ? 0 : GENZIO_SEND_SIGNALED);
		}
	}
	cr_assert_eq(done, MESSAGES);
	unpair(&a, &b, q, r);
}
