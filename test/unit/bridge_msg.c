// SPDX-License-Identifier: MIT
/*
 * The bridge's engine delivering messages (bridge_msg.c): SEND, ENQA and
 * WRITE_IMM into the receives b posts in its receive ring, each field of
 * both completions checked; and b as an attacker that scribbles its own
 * ring (entries that name memory outside its window, a tail past the
 * ring, a description that makes no sense), or never posts, or lets its
 * cq fill: every case completes with its status at both ends, no byte
 * lands outside b's buffers, and the engine goes on.
 */
#include <errno.h>
#include <string.h>

#include "bridge_fixture.h"

#define RQ 16	    /* b's receives */
#define A_TAG 0xa0u /* the queue pairs' names in their completions */
#define B_TAG 0xb0u
#define RDM_US 1000u /* a's wait for a receive: 1 ms of engine time */

static uint32_t rq_tail; /* b's receives posted */

/* Both queue pairs 0 made again with receive rings (b's of RQ), tagged,
 * a's messages waiting RDM_US for a receive. */
static void msg_setup(void)
{
	setup();
	rq_tail = 0;
	gz_vslot_qp_reset(&a, 0);
	gz_vslot_qp_reset(&b, 0);
	step();
	cr_assert_eq(gz_vslot_rq_create(&b, 0, RQ), 0);
	cr_assert_eq(gz_vslot_rq_create(&a, 0, 4), 0);
	gz_vslot_rq_start(&b, 0, 0, 0, 0, B_TAG);
	gz_vslot_rq_start(&a, 0, 0, 0, RDM_US, A_TAG);
	cr_assert_eq(gz_vslot_qp_create(&b, 0, 64, 0, 0, 9, a.gcid, 0, 0), 0);
	step();
	cr_assert_eq(gz_vslot_qp_create(&a, 0, 64, 0, 0, 7, b.gcid, 0, 0), 0);
	step();
	cr_assert_eq(gz_vslot_qp_state(&a, 0), GZ_BRIDGE_QP_RTS);
	cr_assert_eq(gz_vslot_qp_state(&b, 0), GZ_BRIDGE_QP_RTS);
}

TestSuite(bridge_msg, .init = msg_setup, .fini = teardown, .timeout = 60);

/* A receive of b over [@off, +@len) of its window. */
static void post_recv(uint64_t off, uint32_t len)
{
	struct gz_bridge_rqe *r = gz_vslot_rqe(&b, 0, rq_tail);

	memset(r, 0, sizeof(*r));
	r->num_sge = 1;
	r->sge[0] = (struct gz_xdm_sge){.seg = 0, .len = len, .off = off};
	gz_vslot_rq_ring(&b, 0, ++rq_tail);
}

static struct gz_xdm_cmd send(uint64_t laddr, uint32_t len)
{
	return (struct gz_xdm_cmd){.opflags = GZ_XDM_SEND,
				   .cidx = 5,
				   .gcid = 0x1002,
				   .length = len,
				   .op.laddr = laddr};
}

/* b's next receive completion. */
static struct gz_xdm_cqe recv_cqe(void)
{
	struct gz_xdm_cqe x;

	cr_assert(gz_vslot_poll(&b, 0, &x), "no receive completion");
	return x;
}

static int none_at_b(void)
{
	struct gz_xdm_cqe x;

	return !gz_vslot_poll(&b, 0, &x);
}

Test(bridge_msg, a_send_lands_in_the_next_receive_with_every_field)
{
	struct gz_xdm_cqe s, r;

	for (uint32_t i = 0; i < 4096; i++)
		a.window[i] = (uint8_t)(i * 7 + 1);
	post_recv(8192, 4096);
	post_recv(16384, 64);
	cr_assert_eq(run(&a, 0, send(0, 4000), &s), 0);
	cr_assert_eq(s.opcode, GENZIO_WC_SEND);
	cr_assert_eq(s.byte_len, 4000);
	cr_assert_eq(s.cidx, 5);
	cr_assert_eq(s.qp_num, A_TAG, "the sender's tag");
	r = recv_cqe();
	cr_assert_eq(r.status, 0);
	cr_assert_eq(r.opcode, GENZIO_WC_RECV);
	cr_assert_eq(r.byte_len, 4000);
	cr_assert_eq(r.cidx, 0, "the first receive");
	cr_assert_eq(r.qp_num, B_TAG, "the receiver's tag");
	cr_assert_eq(r.src_gcid, a.gcid);
	cr_assert_eq(r.wc_flags, 0);
	cr_assert_eq(memcmp(b.window + 8192, a.window, 4000), 0);
	cr_assert_eq(b.window[8192 + 4000], 0, "nothing past the message");
	/* the second message takes the second receive */
	cr_assert_eq(run(&a, 0, send(0, 3), NULL), 0);
	r = recv_cqe();
	cr_assert_eq(r.cidx, 1);
	cr_assert_eq(memcmp(b.window + 16384, a.window, 3), 0);
	cr_assert_eq(atomic_load(&b.s->qp[0].rq_head), 2, "head written back");
}

Test(bridge_msg, a_receive_scatters_over_its_buffers_in_order)
{
	struct gz_bridge_rqe *q = gz_vslot_rqe(&b, 0, 0);

	memset(a.window, 0x5a, 100);
	memset(q, 0, sizeof(*q));
	q->num_sge = GZ_BRIDGE_RQ_SGE;
	for (uint32_t i = 0; i < GZ_BRIDGE_RQ_SGE; i++)
		q->sge[i] = (struct gz_xdm_sge){0, 10, 4096 * (i + 1)};
	gz_vslot_rq_ring(&b, 0, ++rq_tail);
	cr_assert_eq(run(&a, 0, send(0, 65), NULL), 0);
	cr_assert_eq(recv_cqe().byte_len, 65);
	for (uint32_t i = 0; i < GZ_BRIDGE_RQ_SGE; i++) {
		uint32_t want = i < 6 ? 10 : 5;

		for (uint32_t k = 0; k < 10; k++)
			cr_assert_eq(b.window[4096 * (i + 1) + k],
				     k < want ? 0x5a : 0, "buffer %u byte %u",
				     i, k);
	}
}

Test(bridge_msg, an_enqa_carries_its_bytes_and_names_its_queue_pair)
{
	struct gz_xdm_enqa q = {.opflags = GZ_XDM_ENQA,
				.cidx = 9,
				.gcid = 0x1002,
				.ctxid = 0 | (20u - 1) << 24};
	struct gz_xdm_cmd c;
	struct gz_xdm_cqe s, r;

	memcpy(q.payload, "twenty bytes, inline", 20);
	memcpy(&c, &q, sizeof(c));
	post_recv(0, 64);
	cr_assert_eq(run(&a, 0, c, &s), 0);
	cr_assert_eq(s.opcode, GENZIO_WC_SEND);
	cr_assert_eq(s.byte_len, 20);
	r = recv_cqe();
	cr_assert_eq(r.byte_len, 20);
	cr_assert_eq(memcmp(b.window, "twenty bytes, inline", 20), 0);
	/* RC: to its peer queue pair only; no receive is consumed */
	q.ctxid = 3 | (20u - 1) << 24;
	memcpy(&c, &q, sizeof(c));
	post_recv(128, 64);
	cr_assert_eq(run(&a, 0, c, &s), GZ_XDM_ST_REM_QP);
	cr_assert(none_at_b());
	cr_assert_eq(atomic_load(&b.s->qp[0].rq_head), 1);
}

Test(bridge_msg, write_imm_writes_by_key_and_consumes_a_receive_only_then)
{
	struct gz_xdm_cmd c = {.opflags = GZ_XDM_PUT | GZ_XDM_FLAG_IMM,
			       .gcid = 0x1002,
			       .rkey = 0xabc,
			       .length = 32,
			       .raddr = VA + 4096,
			       .op.laddr = 0,
			       .op.operand = 0x1234cafeull};
	struct gz_xdm_cqe s, r;

	memset(a.window, 0x77, 32);
	post_recv(0, 16);
	cr_assert_eq(run(&a, 0, c, &s), 0);
	cr_assert_eq(s.opcode, GENZIO_WC_WRITE);
	cr_assert_eq(s.byte_len, 32);
	r = recv_cqe();
	cr_assert_eq(r.opcode, GENZIO_WC_RECV_WRITE_IMM);
	cr_assert_eq(r.imm_data, 0x1234cafe);
	cr_assert_eq(r.wc_flags, GENZIO_WC_WITH_IMM);
	cr_assert_eq(r.byte_len, 32, "the write's length");
	cr_assert_eq(b.window[4096 + 31], 0x77);
	cr_assert_eq(b.window[0], 0, "the receive buffer untouched");
	/* a bad key, a read-only key, past the region: nothing written,
	 * no receive consumed */
	post_recv(0, 16);
	c.rkey = 0xabd;
	cr_assert_eq(run(&a, 0, c, NULL), GZ_XDM_ST_BAD_RKEY);
	c.rkey = 0xdef;
	c.raddr = VA + 65536;
	cr_assert_eq(run(&a, 0, c, NULL), GZ_XDM_ST_REM_ACCESS);
	c.rkey = 0xabc;
	c.raddr = VA + 65536 - 16;
	cr_assert_eq(run(&a, 0, c, NULL), GZ_XDM_ST_REM_BOUNDS);
	cr_assert(none_at_b());
	cr_assert_eq(b.window[65536 - 16], 0);
	cr_assert_eq(atomic_load(&b.s->qp[0].rq_head), 1);
}

Test(bridge_msg, a_send_without_a_receive_waits_then_completes_rdm_full)
{
	struct gz_xdm_cmd c = send(0, 8);
	struct gz_xdm_cqe s;

	c.opflags |= GZ_XDM_FLAG_SIGNAL;
	cr_assert_eq(gz_vslot_post(&a, 0, &c), 0);
	c.cidx = 6;
	cr_assert_eq(gz_vslot_post(&a, 0, &c), 0);
	/* within a's timeout it waits, and so does the one behind it */
	for (int i = 0; i < 9; i++) {
		step();
		now += RDM_US * 100ull;
		cr_assert(!gz_vslot_poll(&a, 0, &s), "round %d", i);
	}
	/* a receive in time lets the first through, in order */
	post_recv(0, 64);
	step();
	cr_assert(gz_vslot_poll(&a, 0, &s));
	cr_assert_eq(s.status, 0);
	cr_assert_eq(s.cidx, 5);
	cr_assert_eq(recv_cqe().cidx, 0);
	/* the second: none left; past the timeout, RDM_FULL */
	step();
	now += RDM_US * 1000ull + 1;
	step();
	cr_assert(gz_vslot_poll(&a, 0, &s));
	cr_assert_eq(s.status, GZ_XDM_ST_RDM_FULL);
	cr_assert_eq(s.cidx, 6);
	cr_assert_eq(gz_vslot_qp_state(&a, 0), GZ_BRIDGE_QP_RTS,
		     "not fatal: a receive posted later lets the next in");
	post_recv(64, 64);
	cr_assert_eq(run(&a, 0, send(0, 8), NULL), 0);
	cr_assert_eq(recv_cqe().cidx, 1);
}

Test(bridge_msg, too_small_a_receive_fails_both_ends_and_writes_nothing)
{
	struct gz_xdm_cqe r;

	memset(a.window, 0xee, 64);
	post_recv(0, 16);
	cr_assert_eq(run(&a, 0, send(0, 17), NULL), GZ_XDM_ST_REM_INV_REQ);
	r = recv_cqe();
	cr_assert_eq(r.status, GZ_XDM_ST_LOC_LEN);
	cr_assert_eq(r.byte_len, 0);
	for (int i = 0; i < 64; i++)
		cr_assert_eq(b.window[i], 0);
}

/* Receive 0 of b as @bad, which a sender's message then meets: the
 * receive completes LOC_PROT, the sender REM_INV_REQ, and the canary
 * in a's window and b's guard byte stay as they were. */
static void hostile_rqe(struct gz_bridge_rqe bad)
{
	struct gz_xdm_cqe r;

	*gz_vslot_rqe(&b, 0, rq_tail) = bad;
	gz_vslot_rq_ring(&b, 0, ++rq_tail);
	cr_assert_eq(run(&a, 0, send(0, 64), NULL), GZ_XDM_ST_REM_INV_REQ);
	r = recv_cqe();
	cr_assert_eq(r.status, GZ_XDM_ST_LOC_PROT);
	cr_assert_eq(r.byte_len, 0);
}

Test(bridge_msg, receive_entries_naming_memory_outside_the_window_fail_alone)
{
	uint64_t wl = b.window_len;

	memset(a.window, 0xcc, 64);
	/* more buffers than an entry holds */
	hostile_rqe((struct gz_bridge_rqe){.num_sge = GZ_BRIDGE_RQ_SGE + 1,
					   .sge[0] = {0, 64, 0}});
	hostile_rqe((struct gz_bridge_rqe){.num_sge = UINT32_MAX});
	/* another segment: a bridge window has one */
	hostile_rqe((struct gz_bridge_rqe){.num_sge = 1, .sge[0] = {1, 64, 0}});
	/* past the window, across its end, wrapping around */
	hostile_rqe(
	    (struct gz_bridge_rqe){.num_sge = 1, .sge[0] = {0, 64, wl}});
	hostile_rqe(
	    (struct gz_bridge_rqe){.num_sge = 1, .sge[0] = {0, 64, wl - 32}});
	hostile_rqe((struct gz_bridge_rqe){
	    .num_sge = 2, .sge = {{0, 8, 0}, {0, UINT32_MAX, UINT64_MAX - 8}}});
	/* the engine's neighbours: a's slot, the bridge's header */
	for (uint64_t i = 0; i < 64; i++)
		cr_assert_eq(a.window[i], 0xcc);
	cr_assert_eq(b.window[0], 0, "a bad entry's good buffer untouched");
	/* and b's good receives work after */
	post_recv(0, 64);
	cr_assert_eq(run(&a, 0, send(0, 64), NULL), 0);
	cr_assert_eq(recv_cqe().status, 0);
	cr_assert_eq(b.window[63], 0xcc);
}

Test(bridge_msg, a_receive_tail_past_the_ring_is_rem_qp_and_fatal_to_the_sender)
{
	struct gz_xdm_cqe s;

	gz_vslot_rq_ring(&b, 0, RQ + 1);
	cr_assert_eq(run(&a, 0, send(0, 8), NULL), GZ_XDM_ST_REM_QP);
	cr_assert(none_at_b());
	cr_assert_eq(gz_vslot_qp_state(&a, 0), GZ_BRIDGE_QP_ERR);
	/* what a posts after completes FLUSHED, and the engine goes on */
	cr_assert_eq(run(&a, 0, send(0, 8), &s), GZ_XDM_ST_FLUSHED);
	cr_assert_eq(s.opcode, GENZIO_WC_SEND);
}

Test(bridge_msg, a_full_receive_cq_overruns_once_and_consumes_nothing)
{
	struct gz_xdm_cqe x;
	int ok = 0;

	for (int i = 0; i < RQ; i++)
		post_recv((uint64_t)i * 64, 64);
	/* b's cq (64 entries) takes a's messages until it is full */
	for (int i = 0; i < 70; i++) {
		uint8_t st = run(&a, 0, send(0, 8), NULL);

		if (!st) {
			ok++;
			/* b reposts; its cq it does not poll */
			post_recv(0, 64);
			continue;
		}
		cr_assert_eq(st, GZ_XDM_ST_REM_OP, "message %d", i);
	}
	cr_assert_eq(ok, 64, "the cq holds its entries");
	cr_assert_eq(atomic_load(&b.s->cq[0].overrun), 1, "said so");
	/* drained, it stays in error: no message lands in it again */
	for (int i = 0; i < 64; i++)
		cr_assert(gz_vslot_poll(&b, 0, &x));
	cr_assert_eq(run(&a, 0, send(0, 8), NULL), GZ_XDM_ST_REM_OP);
	cr_assert(none_at_b());
	cr_assert_eq(gz_vslot_qp_state(&a, 0), GZ_BRIDGE_QP_RTS);
}

Test(bridge_msg, a_senders_own_faults_come_before_any_receive_is_asked_for)
{
	struct gz_xdm_cmd c = send(0, 8);

	/* no receive posted: at once, not after a's wait for one */
	cr_assert_eq(run(&a, 0, send(a.window_len - 4, 8), NULL),
		     GZ_XDM_ST_LOC_PROT);
	/* an immediate on what is no message */
	c.opflags = GZ_XDM_GET | GZ_XDM_FLAG_IMM;
	c.rkey = 0xabc;
	c.raddr = VA;
	cr_assert_eq(run(&a, 0, c, NULL), GZ_XDM_ST_GENERAL_ERR);
	c.opflags = GZ_XDM_NOP | GZ_XDM_FLAG_IMM;
	cr_assert_eq(run(&a, 0, c, NULL), GZ_XDM_ST_GENERAL_ERR);
	cr_assert_eq(atomic_load(&b.s->cq[0].overrun), 0);
}

Test(bridge_msg, a_senders_local_range_is_checked_before_a_receive_is_taken)
{
	post_recv(0, 64);
	cr_assert_eq(run(&a, 0, send(a.window_len - 4, 8), NULL),
		     GZ_XDM_ST_LOC_PROT);
	cr_assert_eq(run(&a, 0, send(UINT64_MAX, 8), NULL), GZ_XDM_ST_LOC_PROT);
	cr_assert(none_at_b());
	cr_assert_eq(atomic_load(&b.s->qp[0].rq_head), 0);
}

Test(bridge_msg, a_queue_pair_whose_peer_is_lost_flushes_its_receives)
{
	struct gz_xdm_cqe x;
	int flushed = 0;

	/* b's peer is a: a goes, b's next send finds it gone */
	for (int i = 0; i < 3; i++)
		post_recv((uint64_t)i * 64, 64);
	gz_vslot_release(&a);
	step();
	struct gz_xdm_cmd c = send(0, 8);

	c.gcid = a.gcid;
	c.opflags |= GZ_XDM_FLAG_SIGNAL;
	cr_assert_eq(gz_vslot_post(&b, 0, &c), 0);
	step();
	step();
	while (gz_vslot_poll(&b, 0, &x)) {
		if (x.opcode == GENZIO_WC_RECV) {
			cr_assert_eq(x.status, GZ_XDM_ST_FLUSHED);
			cr_assert_eq(x.cidx, (uint16_t)flushed);
			cr_assert_eq(x.qp_num, B_TAG);
			flushed++;
		} else {
			cr_assert_eq(x.status, GZ_XDM_ST_RETRY_EXC);
		}
	}
	cr_assert_eq(flushed, 3, "every receive, in order");
	/* one posted while it flushes is flushed too */
	post_recv(0, 64);
	step();
	cr_assert(gz_vslot_poll(&b, 0, &x));
	cr_assert_eq(x.status, GZ_XDM_ST_FLUSHED);
	cr_assert_eq(x.cidx, 3);
}

Test(bridge_msg, a_queue_pair_made_again_starts_at_the_tail_it_is_given)
{
	struct gz_xdm_cqe s;

	/* b posted 5, then its queue pair goes; the next at 0 has none */
	for (int i = 0; i < 5; i++)
		post_recv((uint64_t)i * 64, 64);
	gz_vslot_qp_reset(&b, 0);
	step();
	gz_vslot_rq_start(&b, 0, 5, 5, 0, B_TAG + 1);
	cr_assert_eq(gz_vslot_qp_create(&b, 0, 64, 0, 0, 9, a.gcid, 0, 0), 0);
	gz_vslot_qp_reset(&a, 0);
	step();
	cr_assert_eq(gz_vslot_qp_create(&a, 0, 64, 0, 0, 7, b.gcid, 0, 0), 0);
	step();
	cr_assert_eq(gz_vslot_qp_state(&a, 0), GZ_BRIDGE_QP_RTS);
	{
		struct gz_xdm_cmd c = send(0, 8);

		c.opflags |= GZ_XDM_FLAG_SIGNAL;
		cr_assert_eq(gz_vslot_post(&a, 0, &c), 0);
		step();
		now += RDM_US * 1000ull + 1;
		step();
		cr_assert(gz_vslot_poll(&a, 0, &s));
		cr_assert_eq(s.status, GZ_XDM_ST_RDM_FULL);
	}
	cr_assert(none_at_b());
	/* the next one it posts is receive 5 */
	rq_tail = 5;
	post_recv(0, 64);
	cr_assert_eq(run(&a, 0, send(0, 8), NULL), 0);
	cr_assert_eq(recv_cqe().cidx, 5);
}

Test(bridge_msg, a_receive_ring_described_outside_the_queue_area_is_refused)
{
	struct gz_bridge_qp *r = &b.s->qp[1];

	cr_assert_eq(gz_vslot_cq_create(&b, 1, 64), 0);
	/* what b writes in its description, after the calls did theirs */
	cr_assert_eq(gz_vslot_rq_create(&b, 1, 8), 0);
	r->rq_off = 0; /* the control area */
	cr_assert_eq(gz_vslot_qp_create(&b, 1, 64, 1, 1, 9, a.gcid, 1, 0), 0);
	step();
	cr_assert_eq(gz_vslot_qp_state(&b, 1), GZ_BRIDGE_QP_ERR);
	cr_assert_eq(GZ_READ_ONCE(r->status), GZ_XDM_ST_GENERAL_ERR);
	gz_vslot_qp_reset(&b, 1);
	step();
	cr_assert_eq(gz_vslot_qp_state(&b, 1), GZ_BRIDGE_QP_RESET);
	r->rq_off = b.queues_off;
	r->rq_ent = 3; /* not a power of two */
	cr_assert_eq(gz_vslot_qp_create(&b, 1, 64, 1, 1, 9, a.gcid, 1, 0), 0);
	step();
	cr_assert_eq(gz_vslot_qp_state(&b, 1), GZ_BRIDGE_QP_ERR);
	/* and the pair that works goes on */
	post_recv(0, 64);
	cr_assert_eq(run(&a, 0, send(0, 8), NULL), 0);
}
