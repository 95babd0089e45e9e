// SPDX-License-Identifier: MIT
/* Two-sided messages: SEND, SEND_IMM, WRITE_IMM into posted receives. */
#include <string.h>
#include <unistd.h>

#include "api.h"

TestSuite(msg, .init = gzt_fabric_init, .fini = gzt_fabric_fini,
	  .timeout = 60);

#define MiB (1u << 20)

/* Sender s and receiver r, connected both ways; r has 2 MiB data space. */
static void pair(struct gzt_ep *s, struct gzt_ep *r)
{
	cr_assert_eq(gzt_ep_open(s, 2 * MiB, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_ep_open(r, 2 * MiB, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_connect(s->qp, &r->info), 0);
	cr_assert_eq(gzt_connect(r->qp, &s->info), 0);
}

static void post_recv(struct gzt_ep *r, uint64_t off, uint32_t len,
		      uint64_t wr_id)
{
	struct genzio_sge sge = { r->info.addr + off, len, r->mr->lkey };
	struct genzio_recv_wr wr = { .wr_id = wr_id, .sg_list = &sge,
				     .num_sge = 1 }, *bad;

	cr_assert_eq(genzio_post_recv(r->qp, &wr, &bad), 0);
}

static void send(struct gzt_ep *s, uint32_t opcode, uint64_t off,
		 uint32_t len, uint32_t imm, struct genzio_wc *wc)
{
	struct genzio_sge sge = { s->info.addr + off, len, s->mr->lkey };
	struct genzio_send_wr wr = {
		.wr_id = 0x5e, .sg_list = &sge, .num_sge = len ? 1 : 0,
		.opcode = opcode, .imm_data = imm,
	};

	cr_assert_eq(gzt_post_wait(s, &wr, wc), 0);
}

Test(msg, send_1B_to_1MiB_lands_once_with_source_and_length)
{
	GZT_REQUIRE(MSG);
	static const uint32_t sizes[] = { 1, 31, 32, 33, 4096, 65537, MiB };
	struct gzt_ep s, r;
	struct genzio_wc wc;

	pair(&s, &r);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint32_t len = sizes[i];

		gzt_fill(s.mem->addr, len, (uint32_t)i + 1);
		memset(r.mem->addr, 0, MiB + 64);
		post_recv(&r, 64, MiB, 1000 + i);
		send(&s, GENZIO_WR_SEND, 0, len, 0, &wc);
		cr_assert_eq(wc.status, GENZIO_WC_SUCCESS, "%s",
			     genzio_wc_status_str(wc.status));
		cr_assert_eq(wc.opcode, GENZIO_WC_SEND);
		cr_assert_eq(wc.byte_len, len);
		cr_assert_eq(gzt_poll_one(r.cq, &wc, GZT_WAIT_MS), 1);
		cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
		cr_assert_eq(wc.opcode, GENZIO_WC_RECV);
		cr_assert_eq(wc.wr_id, 1000 + i);
		cr_assert_eq(wc.byte_len, len);
		cr_assert_eq(wc.src_gcid, s.info.gcid);
		cr_assert_eq(wc.qp_num, r.info.qpn);
		cr_assert_eq(wc.wc_flags & GENZIO_WC_WITH_IMM, 0);
		cr_assert_eq(gzt_check((char *)r.mem->addr + 64, len,
				       (uint32_t)i + 1), -1, "size %u", len);
		cr_assert_eq(((char *)r.mem->addr)[64 + len], 0,
			     "no byte past the message");
	}
	gzt_ep_close(&s);
	gzt_ep_close(&r);
}

Test(msg, send_imm_reports_the_immediate)
{
	GZT_REQUIRE(MSG);
	struct gzt_ep s, r;
	struct genzio_wc wc;

	pair(&s, &r);
	post_recv(&r, 0, 64, 7);
	send(&s, GENZIO_WR_SEND_IMM, 0, 8, 0xcafef00d, &wc);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	cr_assert_eq(gzt_poll_one(r.cq, &wc, GZT_WAIT_MS), 1);
	cr_assert_eq(wc.imm_data, 0xcafef00d);
	cr_assert(wc.wc_flags & GENZIO_WC_WITH_IMM);
	gzt_ep_close(&s);
	gzt_ep_close(&r);
}

Test(msg, write_imm_writes_by_key_and_consumes_a_receive)
{
	gzt_require_caps(GENZIO_CAP_MSG | GENZIO_CAP_WRITE_IMM,
			 "MSG, WRITE_IMM");
	struct gzt_ep s, r;
	struct genzio_wc wc;

	pair(&s, &r);
	memset(r.mem->addr, 0x11, 64);	/* the receive buffer */
	post_recv(&r, 0, 64, 9);
	gzt_write_imm_lands(&s, &r, 9);
	cr_assert_eq(((unsigned char *)r.mem->addr)[0], 0x11,
		     "receive buffer untouched");
	/* a bad key fails the sender and consumes no receive (one is
	 * posted: without, verbs answers RNR before it looks at the key) */
	uint64_t next = 10;

	post_recv(&r, 64, 64, 10);
	struct genzio_sge sge = { s.info.addr, 100, s.mr->lkey };
	struct genzio_send_wr wr = {
		.sg_list = &sge, .num_sge = 1, .opcode = GENZIO_WR_WRITE_IMM,
		.imm_data = 77,
		.rdma = { r.info.addr + 4096, r.info.rkey ^ 0x77 },
	};
	cr_assert_eq(gzt_post_wait(&s, &wr, &wc), 0);
	cr_assert(gzt_remote_fault_is(wc.status, GENZIO_WC_BAD_RKEY), "%s",
		  genzio_wc_status_str(wc.status));
	if (!(gzt_caps() & GENZIO_CAP_QP_SURVIVES_FAULT)) {
		/* both in ERR: receive 10 is flushed or dropped, never
		 * taken; a fresh connection, a fresh receive */
		gzt_recover_pair(&s, &r);
		while (genzio_poll_cq(r.cq, 1, &wc) == 1) {
			cr_assert_eq(wc.status, GENZIO_WC_FLUSHED, "%s",
				     genzio_wc_status_str(wc.status));
			cr_assert_eq(wc.wr_id, 10);
		}
		post_recv(&r, 128, 64, ++next);
	}
	cr_assert_eq(genzio_poll_cq(r.cq, 1, &wc), 0, "no receive consumed");
	send(&s, GENZIO_WR_SEND, 0, 8, 0, &wc);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS, "%s",
		     genzio_wc_status_str(wc.status));
	cr_assert_eq(gzt_poll_one(r.cq, &wc, GZT_WAIT_MS), 1);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS, "%s",
		     genzio_wc_status_str(wc.status));
	cr_assert_eq(wc.wr_id, next, "the next receive is the one posted");
	gzt_ep_close(&s);
	gzt_ep_close(&r);
}

Test(msg, receive_scatters_over_three_buffers_in_order)
{
	GZT_REQUIRE(MSG);
	struct gzt_ep s, r;
	struct genzio_wc wc;

	pair(&s, &r);
	struct genzio_sge sg[3] = {
		{ r.info.addr, 10, r.mr->lkey },
		{ r.info.addr + 8192, 20, r.mr->lkey },
		{ r.info.addr + 16384, 100, r.mr->lkey },
	};
	struct genzio_recv_wr rw = { .sg_list = sg, .num_sge = 3 }, *bad;
	cr_assert_eq(genzio_post_recv(r.qp, &rw, &bad), 0);
	gzt_fill(s.mem->addr, 50, 8);
	send(&s, GENZIO_WR_SEND, 0, 50, 0, &wc);
	cr_assert_eq(gzt_poll_one(r.cq, &wc, GZT_WAIT_MS), 1);
	cr_assert_eq(wc.byte_len, 50);
	uint8_t got[50];
	memcpy(got, r.mem->addr, 10);
	memcpy(got + 10, (char *)r.mem->addr + 8192, 20);
	memcpy(got + 30, (char *)r.mem->addr + 16384, 20);
	cr_assert_eq(gzt_check(got, 50, 8), -1);
	gzt_ep_close(&s);
	gzt_ep_close(&r);
}

Test(msg, inline_send_buffer_is_free_at_return)
{
	GZT_REQUIRE(MSG);
	struct gzt_ep s, r;
	struct genzio_wc wc;
	char buf[GENZIO_MAX_INLINE] = "inline payload";

	pair(&s, &r);
	post_recv(&r, 0, 64, 1);
	struct genzio_sge sge = { (uintptr_t)buf, sizeof(buf), 0 };
	struct genzio_send_wr wr = {
		.sg_list = &sge, .num_sge = 1, .opcode = GENZIO_WR_SEND,
		.send_flags = GENZIO_SEND_INLINE | GENZIO_SEND_SIGNALED,
	}, *bad;
	cr_assert_eq(genzio_post_send(s.qp, &wr, &bad), 0);
	memset(buf, 'x', sizeof(buf));
	cr_assert_eq(gzt_poll_one(r.cq, &wc, GZT_WAIT_MS), 1);
	cr_assert_str_eq(r.mem->addr, "inline payload");
	cr_assert_eq(gzt_poll_one(s.cq, &wc, GZT_WAIT_MS), 1);
	gzt_ep_close(&s);
	gzt_ep_close(&r);
}

static void set_timeout(struct gzt_ep *s, struct gzt_ep *r, uint32_t us)
{
	struct genzio_qp_attr qa = {
		.comp_mask = GENZIO_QP_ATTR_RDM_TIMEOUT, .rdm_timeout_us = us,
		.qp_type = GENZIO_QPT_RC, .sq_depth = 64, .rq_depth = 64,
		.max_send_sge = 1, .max_recv_sge = 1, .send_cq = s->cq,
		.recv_cq = s->cq,
	};

	cr_assert_eq(gzt_qp_replace(s, &qa, r), 0);
}

Test(msg, no_receive_posted_retries_then_completes_rdm_full)
{
	GZT_REQUIRE(MSG);
	struct gzt_ep s, r;
	struct genzio_wc wc;

	pair(&s, &r);
	set_timeout(&s, &r, 20000);
	memset(r.mem->addr, 0, 4096);
	gzt_fill(s.mem->addr, 64, 3);
	struct genzio_sge sge = { s.info.addr, 64, s.mr->lkey };
	struct genzio_send_wr wr = {
		.wr_id = 1, .sg_list = &sge, .num_sge = 1,
		.opcode = GENZIO_WR_SEND, .send_flags = GENZIO_SEND_SIGNALED,
	}, *bad;
	cr_assert_eq(genzio_post_send(s.qp, &wr, &bad), 0, "parks, not fails");
	/* completes within the timeout plus slack, never hangs */
	cr_assert_eq(gzt_poll_one(s.cq, &wc, GZT_WAIT_MS), 1);
	cr_assert_eq(wc.status, GENZIO_WC_RDM_FULL, "%s",
		     genzio_wc_status_str(wc.status));
	cr_assert_eq(wc.wr_id, 1);
	for (int i = 0; i < 4096; i++)
		cr_assert_eq(((char *)r.mem->addr)[i], 0, "half delivered");
	cr_assert_eq(genzio_poll_cq(r.cq, 1, &wc), 0);
	/* a receive posted later (on a fresh connection where the
	 * failure moved the queue pair to ERR) lets the next send through */
	gzt_recover_pair(&s, &r);
	post_recv(&r, 0, 64, 5);
	wr.wr_id = 2;
	cr_assert_eq(genzio_post_send(s.qp, &wr, &bad), 0);
	cr_assert_eq(gzt_poll_one(s.cq, &wc, GZT_WAIT_MS), 1);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	cr_assert_eq(wc.wr_id, 2);
	cr_assert_eq(gzt_poll_one(r.cq, &wc, GZT_WAIT_MS), 1);
	cr_assert_eq(gzt_check(r.mem->addr, 64, 3), -1);
	gzt_ep_close(&s);
	gzt_ep_close(&r);
}

Test(msg, parked_send_goes_through_when_a_receive_arrives_in_time)
{
	GZT_REQUIRE(MSG);
	struct gzt_ep s, r;
	struct genzio_wc wc;

	pair(&s, &r);
	set_timeout(&s, &r, 5000000);
	struct genzio_sge sge = { s.info.addr, 16, s.mr->lkey };
	struct genzio_send_wr wr[2] = {
		{ .wr_id = 1, .sg_list = &sge, .num_sge = 1,
		  .opcode = GENZIO_WR_SEND, .send_flags = GENZIO_SEND_SIGNALED },
		{ .wr_id = 2, .sg_list = &sge, .num_sge = 1,
		  .opcode = GENZIO_WR_SEND_IMM, .imm_data = 2,
		  .send_flags = GENZIO_SEND_SIGNALED },
	}, *bad;
	cr_assert_eq(genzio_post_send(s.qp, &wr[0], &bad), 0);
	cr_assert_eq(genzio_post_send(s.qp, &wr[1], &bad), 0);
	cr_assert_eq(genzio_poll_cq(s.cq, 1, &wc), 0, "parked");
	post_recv(&r, 0, 64, 10);
	post_recv(&r, 64, 64, 11);
	cr_assert_eq(gzt_poll_one(s.cq, &wc, GZT_WAIT_MS), 1);
	cr_assert_eq(wc.wr_id, 1, "order kept");
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	cr_assert_eq(gzt_poll_one(s.cq, &wc, GZT_WAIT_MS), 1);
	cr_assert_eq(wc.wr_id, 2);
	cr_assert_eq(gzt_poll_one(r.cq, &wc, GZT_WAIT_MS), 1);
	cr_assert_eq(wc.wr_id, 10);
	cr_assert_eq(gzt_poll_one(r.cq, &wc, GZT_WAIT_MS), 1);
	cr_assert_eq(wc.wr_id, 11);
	cr_assert_eq(wc.imm_data, 2);
	gzt_ep_close(&s);
	gzt_ep_close(&r);
}

Test(msg, too_small_buffer_fails_both_sides_and_writes_nothing)
{
	GZT_REQUIRE(MSG);
	struct gzt_ep s, r;
	struct genzio_wc wc;

	pair(&s, &r);
	memset(r.mem->addr, 0, 128);
	post_recv(&r, 0, 16, 3);
	send(&s, GENZIO_WR_SEND, 0, 17, 0, &wc);
	/* without GENZIO_CAP_FINE_STATUS the device's own: Soft-RoCE
	 * answers a receive too short with REM_OP, and fails the receive
	 * with LOC_QP_OP */
	cr_assert(wc.status == GENZIO_WC_REM_INV_REQ ||
		  (!(gzt_caps() & GENZIO_CAP_FINE_STATUS) &&
		   wc.status == GENZIO_WC_REM_OP), "%s",
		  genzio_wc_status_str(wc.status));
	cr_assert_eq(gzt_poll_one(r.cq, &wc, GZT_WAIT_MS), 1);
	cr_assert(wc.status == GENZIO_WC_LOC_LEN ||
		  (!(gzt_caps() & GENZIO_CAP_FINE_STATUS) &&
		   gzt_local_fault_is(wc.status)), "%s",
		  genzio_wc_status_str(wc.status));
	cr_assert_eq(wc.wr_id, 3);
	for (int i = 0; i < 128; i++)
		cr_assert_eq(((char *)r.mem->addr)[i], 0);
	gzt_ep_close(&s);
	gzt_ep_close(&r);
}

/* The next event of @ctx within @ms (verbs delivers them as they come). */
static int event_next(struct genzio_context *ctx, struct genzio_event *ev,
		      int ms)
{
	int ret;

	for (int i = 0; i < ms; i++) {
		ret = gzt_event_get(ctx, ev);
		if (ret != -EAGAIN)
			return ret;
		usleep(1000);
	}
	return -EAGAIN;
}

#define OVER_MAX 16	/* sends: more than the cq holds */

Test(msg, full_receive_cq_is_overrun_not_overwritten)
{
	GZT_REQUIRE(MSG);
	struct gzt_ep s, r;
	struct genzio_cq *small;
	struct genzio_cq_attr ca = { .depth = 4 };
	struct genzio_qp_attr qa = {
		.qp_type = GENZIO_QPT_RC, .sq_depth = OVER_MAX,
		.rq_depth = OVER_MAX, .max_send_sge = 1, .max_recv_sge = 1,
	};
	struct genzio_event ev;
	struct genzio_wc wc[OVER_MAX];
	int ok = 0, over = 0;

	pair(&s, &r);
	/* receiver: a qp whose receive cq holds 4 */
	cr_assert_eq(genzio_cq_create(r.ctx, &ca, &small), 0);
	cr_assert_eq(genzio_qp_destroy(r.qp), 0);
	qa.send_cq = r.cq;
	qa.recv_cq = small;
	cr_assert_eq(genzio_qp_create(r.pd, &qa, &r.qp), 0);
	r.info.qpn = r.qp->qp_num;
	cr_assert_eq(genzio_qp_destroy(s.qp), 0);
	qa.send_cq = qa.recv_cq = s.cq;
	cr_assert_eq(genzio_qp_create(s.pd, &qa, &s.qp), 0);
	cr_assert_eq(gzt_qp_pair(s.qp, r.qp), 0);
	for (int i = 0; i < OVER_MAX; i++)
		post_recv(&r, (uint64_t)i * 64, 64, (uint64_t)i);
	/* With GENZIO_CAP_CQ_BACKPRESSURE (shm) the cq holds exactly its
	 * depth, each send after is REM_OP and both queue pairs live on.
	 * Without it (verbs) a cq holds at least its depth (Soft-RoCE: 7
	 * for 4), the overrun is fatal to it; the send it cannot take is
	 * never acknowledged (RETRY_EXC: the receiver's queue pair is in
	 * ERR) and the ones after are FLUSHED */
	int bp = !!(gzt_dev_caps(r.ctx) & GENZIO_CAP_CQ_BACKPRESSURE);

	for (int i = 0; i < OVER_MAX; i++) {
		send(&s, GENZIO_WR_SEND, 0, 8, 0, wc);
		if (!over && wc[0].status == GENZIO_WC_SUCCESS) {
			ok++;
			continue;
		}
		if (bp)
			cr_assert_eq(wc[0].status, GENZIO_WC_REM_OP,
				     "send %d: %s", i,
				     genzio_wc_status_str(wc[0].status));
		else if (!over)
			cr_assert(wc[0].status == GENZIO_WC_REM_OP ||
				  (!(gzt_caps() & GENZIO_CAP_FINE_STATUS) &&
				   wc[0].status == GENZIO_WC_RETRY_EXC),
				  "send %d: %s", i,
				  genzio_wc_status_str(wc[0].status));
		else
			cr_assert(wc[0].status == GENZIO_WC_REM_OP ||
				  (!(gzt_caps() &
				     GENZIO_CAP_QP_SURVIVES_FAULT) &&
				   wc[0].status == GENZIO_WC_FLUSHED),
				  "send %d: %s", i,
				  genzio_wc_status_str(wc[0].status));
		over++;
	}
	if (bp) {
		cr_assert_eq(ok, (int)ca.depth, "the cq holds its depth");
		cr_assert_eq(over, OVER_MAX - (int)ca.depth);
	} else {
		cr_assert_geq(ok, (int)ca.depth, "the cq holds its depth");
		cr_assert_gt(over, 0, "the cq overran");
	}
	/* the ones that fit are intact, in order; then the cq says so */
	cr_assert_eq(genzio_poll_cq(small, OVER_MAX, wc), ok);
	for (int i = 0; i < ok; i++) {
		cr_assert_eq(wc[i].status, GENZIO_WC_SUCCESS);
		cr_assert_eq(wc[i].wr_id, (uint64_t)i);
	}
	if (bp) {
		/* at once, and the overrun is the only event */
		cr_assert_eq(genzio_poll_cq(small, OVER_MAX, wc), -EOVERFLOW);
		cr_assert_eq(gzt_event_get(r.ctx, &ev), 0);
		cr_assert_eq(ev.type, GENZIO_EVENT_CQ_OVERRUN);
		cr_assert_eq(ev.cq, small);
		cr_assert_eq(gzt_event_get(r.ctx, &ev), -EAGAIN,
			     "raised once");
	} else {
		cr_assert_eq(event_next(r.ctx, &ev, 2000), 0,
			     "CQ_OVERRUN said so");
		cr_assert_eq(ev.type, GENZIO_EVENT_CQ_OVERRUN);
		cr_assert_eq(ev.cq, small);
		while (!gzt_event_get(r.ctx, &ev)) {
			/* (verbs: the receiver's queue pair went to ERR) */
			cr_assert(!(gzt_caps() & GENZIO_CAP_QP_SURVIVES_FAULT),
				  "event %d after the overrun", ev.type);
			cr_assert_neq(ev.type, GENZIO_EVENT_CQ_OVERRUN,
				      "raised once");
		}
		cr_assert_eq(genzio_poll_cq(small, OVER_MAX, wc), -EOVERFLOW);
	}
	cr_assert_eq(genzio_qp_destroy(r.qp), 0);
	r.qp = NULL;
	cr_assert_eq(genzio_cq_destroy(small), 0);
	gzt_ep_close(&s);
	gzt_ep_close(&r);
}

Test(msg, rd_sender_keeps_each_receivers_queue_apart)
{
	gzt_require_caps(GENZIO_CAP_MSG | GENZIO_CAP_RD,
			 "MSG, RD");
	struct gzt_ep s, a, b;
	struct genzio_ah *aha, *ahb;
	struct genzio_wc wc;

	cr_assert_eq(gzt_ep_open_type(&s, 4096, GZT_ACCESS_ALL, GENZIO_QPT_RD),
		     0);
	/* RD talks to RD */
	cr_assert_eq(gzt_ep_open_type(&a, 4096, GZT_ACCESS_ALL, GENZIO_QPT_RD),
		     0);
	cr_assert_eq(gzt_ep_open_type(&b, 4096, GZT_ACCESS_ALL, GENZIO_QPT_RD),
		     0);
	cr_assert_eq(genzio_ah_create(s.pd, a.info.gcid, &aha), 0);
	cr_assert_eq(genzio_ah_create(s.pd, b.info.gcid, &ahb), 0);
	for (int i = 0; i < 4; i++)
		post_recv(&a, 0, 64, (uint64_t)i);
	struct genzio_sge sge = { s.info.addr, 8, s.mr->lkey };
	struct genzio_send_wr wr = {
		.sg_list = &sge, .num_sge = 1, .opcode = GENZIO_WR_SEND,
		.send_flags = GENZIO_SEND_SIGNALED,
		.ah = aha, .remote_qpn = a.info.qpn,
	};
	struct genzio_send_wr *bad;
	cr_assert_eq(genzio_post_send(s.qp, &wr, &bad), 0);
	cr_assert_eq(gzt_poll_progress(s.cq, &wc, a.ctx, b.ctx), 1);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	/* b has no receive (on shm, the same queue pair number too, in
	 * another component): nothing lands */
	struct genzio_device_attr da;
	cr_assert_eq(genzio_device_query(s.ctx, &da), 0);
	if (!strcmp(da.provider, "shm"))
		cr_assert_eq(a.info.qpn, b.info.qpn, "both first queue pairs");
	wr.ah = ahb;
	wr.remote_qpn = b.info.qpn;
	cr_assert_eq(genzio_post_send(s.qp, &wr, &bad), 0);
	cr_assert_eq(genzio_poll_cq(b.cq, 1, &wc), 0, "no receive was posted");
	/* b's receive queue still works normally */
	post_recv(&b, 0, 64, 77);
	cr_assert_eq(gzt_poll_progress(s.cq, &wc, a.ctx, b.ctx), 1);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	cr_assert_eq(gzt_poll_one(b.cq, &wc, GZT_WAIT_MS), 1);
	cr_assert_eq(wc.wr_id, 77);
	genzio_ah_destroy(aha);
	genzio_ah_destroy(ahb);
	gzt_ep_close(&a);
	gzt_ep_close(&b);
	gzt_ep_close(&s);
}


Test(msg, a_queue_pair_made_again_inherits_no_receive_of_its_predecessor)
{
	GZT_REQUIRE(MSG);
	struct gzt_ep s, r;
	struct genzio_wc wc;
	struct genzio_qp_attr qa = {
		.qp_type = GENZIO_QPT_RC, .sq_depth = 64, .rq_depth = 64,
		.max_send_sge = 1, .max_recv_sge = 1,
	};

	pair(&s, &r);
	for (int i = 0; i < 5; i++)
		post_recv(&r, 64, 4096, 1 + (uint64_t)i);
	/* r's queue pair goes (its receives with it) and another, likely at
	 * the same place, connects before it posts any */
	qa.send_cq = qa.recv_cq = r.cq;
	cr_assert_eq(gzt_qp_replace(&r, &qa, &s), 0);
	gzt_fill(s.mem->addr, 100, 7);
	send(&s, GENZIO_WR_SEND, 0, 100, 0, &wc);
	cr_assert_eq(wc.status, GENZIO_WC_RDM_FULL, "%s",
		     genzio_wc_status_str(wc.status));
	for (int i = 0; i < 4096; i++)
		cr_assert_eq(((char *)r.mem->addr)[64 + i], 0,
			     "a receive of the old queue pair took it");
	while (genzio_poll_cq(r.cq, 1, &wc) == 1)
		cr_assert_neq(wc.opcode, GENZIO_WC_RECV,
			      "a receive completed for the new queue pair");
	gzt_ep_close(&s);
	gzt_ep_close(&r);
}

Test(msg, a_send_from_a_bad_lkey_fails_at_once_without_a_receive)
{
	GZT_REQUIRE(MSG);
	struct gzt_ep s, r;
	struct genzio_wc wc;

	pair(&s, &r);
	struct genzio_sge sge = { s.info.addr, 16, s.mr->lkey ^ 0x10000 };
	struct genzio_send_wr wr = { .wr_id = 1, .sg_list = &sge,
				     .num_sge = 1, .opcode = GENZIO_WR_SEND };

	/* the sender's own fault, before the receiver is asked for a
	 * receive: not RDM_FULL after the receiver's timeout */
	cr_assert_eq(gzt_post_wait(&s, &wr, &wc), 0);
	cr_assert(gzt_local_fault_is(wc.status), "%s",
		  genzio_wc_status_str(wc.status));
	gzt_ep_close(&s);
	gzt_ep_close(&r);
}
