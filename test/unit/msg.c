// SPDX-License-Identifier: MIT
/* lib/providers/shm/shm_msg.c + shm_cq.c: a sender that dies holding a
 * slot of the receiver's cq does not stall it for good. */
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>

#include "lib/gzt.h"
#include "providers/shm/shm.h"

TestSuite(msg, .init = gzt_fabric_init, .fini = gzt_fabric_fini,
	  .timeout = 30);

/* Claim a receive and its completion slot, as a SEND would, then die. */
static int half_send_main(int fd, void *arg)
{
	struct genzio_conn_info peer;
	struct gz_shm_delivery d;
	struct gz_shm_qp *qp;
	struct gzt_ep ep;

	(void)arg;
	if (gzt_ep_open(&ep, 4096, GZT_ACCESS_ALL) ||
	    genzio_conn_info_exchange(fd, &ep.info, &peer) ||
	    gzt_connect(ep.qp, &peer))
		return 60;
	qp = container_of(ep.qp, struct gz_shm_qp, base.pub);
	if (gz_shm_msg_target(qp->peer, peer.qpn, &d))
		return 61;
	if (gz_shm_msg_begin(qp, qp->peer, &d))
		return 62;
	kill(getpid(), SIGKILL);	/* holding both slots */
	return 63;
}

Test(msg, receiver_completes_in_error_what_a_dead_sender_held)
{
	struct genzio_conn_info none;
	struct gzt_child c;
	struct gzt_ep r, s;
	struct genzio_wc wc;
	struct genzio_recv_wr rw, *bad;
	struct genzio_sge sge;

	cr_assert_eq(gzt_ep_open(&r, 4096, GZT_ACCESS_ALL), 0);
	sge = (struct genzio_sge){ r.info.addr, 64, r.mr->lkey };
	rw = (struct genzio_recv_wr){ .wr_id = 5, .sg_list = &sge,
				      .num_sge = 1 };
	cr_assert_eq(genzio_post_recv(r.qp, &rw, &bad), 0);
	cr_assert_eq(gzt_fork(&c, half_send_main, NULL), 0);
	cr_assert_eq(genzio_conn_info_exchange(c.fd, &r.info, &none), 0);
	cr_assert_eq(gzt_wait(&c), 128 + SIGKILL);
	/* the slot is reserved and never published: poll must not stall */
	cr_assert_eq(gzt_poll_one(r.cq, &wc, 5000), 1, "cq stalled for good");
	cr_assert_eq(wc.status, GENZIO_WC_RETRY_EXC);
	cr_assert_eq(wc.opcode, GENZIO_WC_RECV);
	cr_assert_eq(wc.wr_id, 5);
	cr_assert_eq(wc.qp_num, r.info.qpn);
	/* and the receive queue moves on: a live sender gets through */
	rw.wr_id = 6;
	cr_assert_eq(genzio_post_recv(r.qp, &rw, &bad), 0);
	cr_assert_eq(gzt_ep_open(&s, 4096, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_ep_pair(&s, &r), 0);
	cr_assert_eq(gzt_put64(&s, r.info.addr + 128, r.info.rkey, 1, &wc), 0);
	struct genzio_sge ss = { s.info.addr, 8, s.mr->lkey };
	struct genzio_send_wr sw = { .sg_list = &ss, .num_sge = 1,
				     .opcode = GENZIO_WR_SEND };
	cr_assert_eq(gzt_post_wait(&s, &sw, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	cr_assert_eq(gzt_poll_one(r.cq, &wc, 1000), 1);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	cr_assert_eq(wc.wr_id, 6);
	gzt_ep_close(&s);
	gzt_ep_close(&r);
}

/* Spin past the reaper's stall threshold (time passing, not sync). */
static void past_reap_threshold(void)
{
	uint64_t end = gz_shm_now_ns() + 2 * GZ_SHM_REAP_NS;

	while (gz_shm_now_ns() < end)
		;
}

Test(msg, a_claim_that_names_another_lap_of_the_slot_is_never_reaped)
{
	struct gz_shm_claim *cl;
	struct gz_shm_cq *cq;
	struct gz_xdm_cqe *e;
	struct gzt_ep r;
	uint32_t c;

	cr_assert_eq(gzt_ep_open(&r, 4096, GZT_ACCESS_ALL), 0);
	cq = container_of(r.cq, struct gz_shm_cq, base.pub);
	c = cq->cons;
	/* a live producer reserved slot c and is still writing it */
	atomic_fetch_add(&cq->ring.ctrl->prod, 1);
	e = gz_ring_slot(&cq->ring, c);
	cl = gz_shm_claim_of(e);
	/* a record for the slot 2^24 laps on, of a process that is gone:
	 * the old 24-bit index matched it and reaped a live slot */
	e->src_gcid = GENZIO_GCID(1, 4000);
	cl->idx = c + (1u << 24);
	cl->incarnation = 12345;
	atomic_store(&cl->tag, GZ_SHM_CLAIM_TAG);
	for (int i = 0; i < 3; i++) {
		gz_shm_cq_reap_dead(cq);
		past_reap_threshold();
	}
	cr_assert_null(gz_ring_cqe_peek(&cq->ring, c), "a live slot reaped");
	/* the same record for this lap is a dead claimant's: reaped */
	cl->idx = c;
	for (int i = 0; i < 3; i++) {
		gz_shm_cq_reap_dead(cq);
		past_reap_threshold();
	}
	cr_assert_not_null(gz_ring_cqe_peek(&cq->ring, c));
	cr_assert_eq(e->status, GENZIO_WC_RETRY_EXC);
	gzt_ep_close(&r);
}

Test(msg, the_consumer_clears_each_claim_as_it_takes_the_entry)
{
	struct genzio_recv_wr rw, *bad;
	struct genzio_sge rs, ss;
	struct genzio_send_wr sw;
	struct gz_shm_cq *cq;
	struct genzio_wc wc;
	struct gzt_ep r, s;
	uint32_t slot;

	cr_assert_eq(gzt_ep_open(&r, 4096, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_ep_open(&s, 4096, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_ep_pair(&s, &r), 0);
	rs = (struct genzio_sge){ r.info.addr, 64, r.mr->lkey };
	ss = (struct genzio_sge){ s.info.addr, 8, s.mr->lkey };
	rw = (struct genzio_recv_wr){ .sg_list = &rs, .num_sge = 1 };
	sw = (struct genzio_send_wr){ .sg_list = &ss, .num_sge = 1,
				      .opcode = GENZIO_WR_SEND };
	cq = container_of(r.cq, struct gz_shm_cq, base.pub);
	slot = cq->cons;
	cr_assert_eq(genzio_post_recv(r.qp, &rw, &bad), 0);
	cr_assert_eq(gzt_post_wait(&s, &sw, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	cr_assert_eq(atomic_load(&gz_shm_claim_of(gz_ring_slot(&cq->ring,
							       slot))->tag),
		     GZ_SHM_CLAIM_TAG, "the sender's claim, until polled");
	cr_assert_eq(gzt_poll_one(r.cq, &wc, 1000), 1);
	cr_assert_eq(atomic_load(&gz_shm_claim_of(gz_ring_slot(&cq->ring,
							       slot))->tag),
		     0, "cleared as the entry was taken");
	gzt_ep_close(&s);
	gzt_ep_close(&r);
}

/* The issue this answers: a poll with parked work must not wait behind
 * setup on another thread (a 1 GiB registration holds the context lock
 * for a while). Holding that lock here and then posting and polling
 * proves it without timing: a path that took it would deadlock. */
Test(msg, post_and_poll_with_parked_work_take_no_context_lock)
{
	struct gzt_ep s, r;
	struct genzio_send_wr *bad;
	struct genzio_recv_wr *rbad;
	struct genzio_wc wc;

	cr_assert_eq(gzt_ep_open(&s, 4096, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_ep_open(&r, 4096, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_ep_pair(&s, &r), 0);
	struct genzio_sge ss = { s.info.addr, 8, s.mr->lkey };
	struct genzio_send_wr sw = { .sg_list = &ss, .num_sge = 1,
				     .opcode = GENZIO_WR_SEND,
				     .send_flags = GENZIO_SEND_SIGNALED };
	struct genzio_sge rs = { r.info.addr, 64, r.mr->lkey };
	struct genzio_recv_wr rw = { .sg_list = &rs, .num_sge = 1 };

	gz_ctx_lock(s.ctx);
	gz_ctx_lock(r.ctx);
	cr_assert_eq(genzio_post_send(s.qp, &sw, &bad), 0);	/* parks */
	for (int i = 0; i < 100; i++)
		cr_assert_eq(genzio_poll_cq(s.cq, 1, &wc), 0);
	cr_assert_eq(genzio_post_recv(r.qp, &rw, &rbad), 0);
	cr_assert_eq(gzt_poll_one(s.cq, &wc, 5000), 1);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	cr_assert_eq(gzt_poll_one(r.cq, &wc, 5000), 1);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	gz_ctx_unlock(r.ctx);
	gz_ctx_unlock(s.ctx);
	gzt_ep_close(&r);
	gzt_ep_close(&s);
}
