// SPDX-License-Identifier: MIT
/*
 * The bridge's engine serving RD queue pairs (no peer: each command names
 * its destination in op.reserved, GZ_BRIDGE_RD_DEST): RMA and a send to
 * the queue pair named, and every other name refused without touching
 * anything: an RC queue pair, a number nobody has, the tag of another
 * queue pair at that number, another attach of the component. RD has no
 * connection, so no failure moves the queue pair to ERR.
 */
#include <errno.h>
#include <string.h>

#include "bridge_fixture.h"

#define A_TAG 0x401u /* qp_num-like names: index + 1, a count above */
#define B_TAG 0x802u

/* a's queue pair 1 and b's queue pair 1, RD (no peer), b's with four
 * receives of 64 bytes at the start of its window */
static void rd_setup(void)
{
	setup();
	cr_assert_eq(gz_vslot_cq_create(&a, 1, 64), 0);
	cr_assert_eq(gz_vslot_cq_create(&b, 1, 64), 0);
	cr_assert_eq(gz_vslot_rq_create(&b, 1, 4), 0);
	gz_vslot_rq_start(&a, 1, 0, 0, 0, A_TAG);
	gz_vslot_rq_start(&b, 1, 0, 0, 0, B_TAG);
	cr_assert_eq(gz_vslot_qp_create(&a, 1, 64, 1, 1, 7, 0, 0, 0), 0);
	cr_assert_eq(gz_vslot_qp_create(&b, 1, 64, 1, 1, 9, 0, 0, 0), 0);
	step();
	cr_assert_eq(gz_vslot_qp_state(&a, 1), GZ_BRIDGE_QP_RTS, "RD: at once");
	cr_assert_eq(gz_vslot_qp_state(&b, 1), GZ_BRIDGE_QP_RTS);
	for (uint32_t i = 0; i < 4; i++) {
		struct gz_bridge_rqe *r = gz_vslot_rqe(&b, 1, i);

		memset(r, 0, sizeof(*r));
		r->num_sge = 1;
		r->sge[0] = (struct gz_xdm_sge){0, 64, 8192 + 64 * i};
	}
	gz_vslot_rq_ring(&b, 1, 4);
}

TestSuite(bridge_rd, .init = rd_setup, .fini = teardown, .timeout = 60);

static struct gz_xdm_cmd put_to(uint64_t dest)
{
	return (struct gz_xdm_cmd){.opflags = GZ_XDM_PUT,
				   .gcid = 0x1002,
				   .rkey = 0xabc,
				   .length = 8,
				   .raddr = VA + 128,
				   .op.laddr = 0,
				   .op.reserved = dest};
}

Test(bridge_rd, a_request_reaches_the_queue_pair_it_names)
{
	struct gz_xdm_cmd c = put_to(GZ_BRIDGE_RD_DEST(1, B_TAG, b.generation));
	struct gz_xdm_cqe x;

	memcpy(a.window, "rd-write", 8);
	cr_assert_eq(run(&a, 1, c, &x), 0);
	cr_assert_eq(x.qp_num, A_TAG);
	cr_assert_eq(memcmp(b.window + 128, "rd-write", 8), 0);
	/* by GCID alone too (no tag, no attach named) */
	c.op.reserved = GZ_BRIDGE_RD_DEST(1, 0, 0);
	cr_assert_eq(run(&a, 1, c, NULL), 0);
	/* a send: into the receive of the queue pair named */
	c = (struct gz_xdm_cmd){.opflags = GZ_XDM_SEND,
				.gcid = 0x1002,
				.length = 8,
				.op.reserved = GZ_BRIDGE_RD_DEST(1, B_TAG, 0)};
	cr_assert_eq(run(&a, 1, c, NULL), 0);
	cr_assert(gz_vslot_poll(&b, 1, &x));
	cr_assert_eq(x.opcode, GENZIO_WC_RECV);
	cr_assert_eq(x.qp_num, B_TAG);
	cr_assert_eq(x.src_gcid, a.gcid, "the sender, which RD needs");
	cr_assert_eq(memcmp(b.window + 8192, "rd-write", 8), 0);
}

Test(bridge_rd, every_other_name_is_refused_and_the_queue_pair_lives)
{
	static const struct {
		uint64_t dest;
		uint8_t st;
	} bad[] = {
	    /* b's queue pair 0: RC, paired with a's 0 (RD talks to RD) */
	    {GZ_BRIDGE_RD_DEST(0, 0, 0), GZ_XDM_ST_REM_QP},
	    /* nobody's number, past the table */
	    {GZ_BRIDGE_RD_DEST(5, 0, 0), GZ_XDM_ST_REM_QP},
	    {GZ_BRIDGE_RD_DEST(0xff, 0, 0), GZ_XDM_ST_REM_QP},
	    /* number 1, but another queue pair's tag (a successor's) */
	    {GZ_BRIDGE_RD_DEST(1, B_TAG + 1024, 0), GZ_XDM_ST_REM_QP},
	    /* another attach of component 0x1002 */
	    {GZ_BRIDGE_RD_DEST(1, B_TAG, 12345), GZ_XDM_ST_RETRY_EXC},
	};
	struct gz_xdm_cmd c;

	memset(a.window, 0x5c, 8);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(run(&a, 1, put_to(bad[i].dest), NULL), bad[i].st,
			     "name %zu", i);
		cr_assert_eq(gz_vslot_qp_state(&a, 1), GZ_BRIDGE_QP_RTS,
			     "name %zu: RD has no connection to lose", i);
	}
	/* a GCID with nobody there */
	c = put_to(GZ_BRIDGE_RD_DEST(1, 0, 0));
	c.gcid = 0x1003;
	cr_assert_eq(run(&a, 1, c, NULL), GZ_XDM_ST_RETRY_EXC);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(b.window[128 + i], 0, "nothing landed");
	/* and the right name still works */
	cr_assert_eq(run(&a, 1, put_to(GZ_BRIDGE_RD_DEST(1, B_TAG, 0)), NULL),
		     0);
	cr_assert_eq(b.window[128], 0x5c);
}

Test(bridge_rd, an_rc_queue_pair_cannot_pair_with_an_rd_one)
{
	/* a's queue pair 2, RC, asks for b's RD queue pair 1 as its peer */
	cr_assert_eq(gz_vslot_cq_create(&a, 2, 64), 0);
	cr_assert_eq(gz_vslot_qp_create(&a, 2, 64, 2, 2, 7, b.gcid, 1, 0), 0);
	step();
	/* refused as it goes to RTS: RD is nobody's peer */
	cr_assert_eq(gz_vslot_qp_state(&a, 2), GZ_BRIDGE_QP_ERR);
	cr_assert_eq(GZ_READ_ONCE(a.s->qp[2].status), GZ_XDM_ST_REM_QP);
}
