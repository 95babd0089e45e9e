// SPDX-License-Identifier: MIT
/* Ordering: a FENCEd flag write is never seen before the payload before
 * it; SYNC completes when earlier work is visible. */
#include <string.h>
#include <time.h>

#include "api.h"

TestSuite(order, .init = gzt_fabric_init, .fini = gzt_fabric_fini,
	  .timeout = 120);

#define ROUNDS 20000
#define ROUNDS_S 40	/* or as many as this many seconds take (rxe under
			 * an emulator is slow): bounded work, no latency */
#define STOP (1ull << 63)	/* in an acknowledgement: the last round */
#define PAYLOAD 256
#define FLAG_OFF 4096

static int spin_until(struct genzio_context *ctx, volatile uint64_t *p,
		      uint64_t v)
{
	/* a target that must make progress (no ONE_SIDED_TARGET: a
	 * guest's vfio context beats in its calls) makes it while it
	 * waits, as a program's loop would */
	int progress = !(gzt_dev_caps(ctx) & GENZIO_CAP_ONE_SIDED_TARGET);
	struct timespec t0, t;
	uint64_t spins = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while ((*p & ~STOP) != v) {
		if (progress && !(++spins & 1023))
			gzt_progress(ctx);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 10)
			return -1;
	}
	return 0;
}

/* Writer: payload (unsignaled, several stores), then a FENCEd flag. */
static int writer_main(int fd, void *arg)
{
	struct genzio_conn_info peer;
	struct genzio_wc wc;
	struct gzt_ep ep;
	uint8_t buf[PAYLOAD];
	uint64_t flag;
	char go;

	(void)arg;
	if (gzt_ep_open(&ep, 8192, GZT_ACCESS_ALL) ||
	    genzio_conn_info_exchange(fd, &ep.info, &peer) ||
	    gzt_connect(ep.qp, &peer) || gzt_recv_token(fd, &go))
		return 80;
	/* both ends connected ('g'): this writer polls only after the
	 * reader saw the flag, so nothing it posts waits for its poll */
	for (uint64_t i = 1; i <= ROUNDS; i++) {
		struct genzio_sge ps = { (uintptr_t)buf, PAYLOAD, 0 };
		struct genzio_sge fs = { (uintptr_t)&flag, 8, 0 };
		struct genzio_send_wr wr[2] = {
			{ .next = &wr[1], .sg_list = &ps, .num_sge = 1,
			  .opcode = GENZIO_WR_WRITE,
			  .rdma = { peer.addr, peer.rkey } },
			{ .wr_id = i, .sg_list = &fs, .num_sge = 1,
			  .opcode = GENZIO_WR_WRITE,
			  .send_flags = GENZIO_SEND_FENCE | GENZIO_SEND_INLINE |
					GENZIO_SEND_SIGNALED,
			  .rdma = { peer.addr + FLAG_OFF, peer.rkey } },
		}, *bad;
		struct genzio_mr *mr;

		gzt_fill(buf, PAYLOAD, (uint32_t)i);
		flag = i;
		if (genzio_mr_reg(ep.pd, buf, PAYLOAD, 0, &mr))
			return 81;
		ps.lkey = mr->lkey;
		if (genzio_post_send(ep.qp, wr, &bad))
			return 82;
		/* lockstep: the reader acknowledges into our memory */
		if (spin_until(ep.ctx, (volatile uint64_t *)ep.mem->addr, i))
			return 83;
		/* the flag's completion (RC: the payload's too) frees its
		 * send queue slots and the payload's registration: a device
		 * (verbs) may read the payload after the post returned */
		if (gzt_poll_one(ep.cq, &wc, GZT_WAIT_MS) != 1 || wc.status ||
		    wc.wr_id != i)
			return 85;
		genzio_mr_dereg(mr);
		if (*(volatile uint64_t *)ep.mem->addr & STOP)
			break;
	}
	return gzt_ep_close(&ep) ? 84 : 0;
}

Test(order, fenced_flag_is_never_seen_before_its_payload)
{
	struct genzio_conn_info peer;
	struct timespec t0, t;
	struct genzio_wc wc;
	struct gzt_child c;
	struct gzt_ep ep;
	volatile uint64_t *flag;
	uint64_t rounds = 0;
	int torn = 0;

	cr_assert_eq(gzt_ep_open(&ep, 8192, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_fork(&c, writer_main, NULL), 0);
	cr_assert_eq(genzio_conn_info_exchange(c.fd, &ep.info, &peer), 0);
	cr_assert_eq(gzt_connect(ep.qp, &peer), 0);
	cr_assert_eq(gzt_send_token(c.fd, 'g'), 0);
	flag = (volatile uint64_t *)((char *)ep.mem->addr + FLAG_OFF);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint64_t i = 1; i <= ROUNDS; i++) {
		cr_assert_eq(spin_until(ep.ctx, flag, i), 0, "round %llu hung",
			     (unsigned long long)i);
		/* the flag is visible: the whole payload must be too */
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		torn += gzt_check(ep.mem->addr, PAYLOAD, (uint32_t)i) >= 0;
		rounds = i;
		clock_gettime(CLOCK_MONOTONIC, &t);
		uint64_t ack = i | (i == ROUNDS ||
				    t.tv_sec - t0.tv_sec >= ROUNDS_S ?
				    STOP : 0);
		struct genzio_sge sge = { (uintptr_t)&ack, 8, 0 };
		struct genzio_send_wr wr = {
			.wr_id = i, .sg_list = &sge, .num_sge = 1,
			.opcode = GENZIO_WR_WRITE,
			.send_flags = GENZIO_SEND_INLINE |
				      (i % 64 == 0 || ack & STOP ?
				       GENZIO_SEND_SIGNALED : 0),
			.rdma = { peer.addr, peer.rkey },
		}, *bad;
		cr_assert_eq(genzio_post_send(ep.qp, &wr, &bad), 0);
		/* a signaled one now and then frees the send queue's slots
		 * of the unsignaled ones before it (verbs) */
		if (wr.send_flags & GENZIO_SEND_SIGNALED) {
			cr_assert_eq(gzt_poll_one(ep.cq, &wc, GZT_WAIT_MS), 1);
			cr_assert_eq(wc.status, GENZIO_WC_SUCCESS, "%s",
				     genzio_wc_status_str(wc.status));
		}
		if (ack & STOP)
			break;
	}
	cr_assert_eq(torn, 0, "%d of %llu rounds saw a torn payload", torn,
		     (unsigned long long)rounds);
	cr_assert_eq(gzt_wait(&c), 0);
	gzt_ep_close(&ep);
}

Test(order, sync_completes_after_earlier_writes)
{
	GZT_REQUIRE(SYNC);
	struct gzt_ep ep;
	struct genzio_wc wc;
	uint64_t x = 99;

	cr_assert_eq(gzt_ep_open(&ep, 4096, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_connect(ep.qp, &ep.info), 0);
	struct genzio_sge sge = { (uintptr_t)&x, 8, 0 };
	struct genzio_send_wr wr[2] = {
		{ .next = &wr[1], .sg_list = &sge, .num_sge = 1,
		  .opcode = GENZIO_WR_WRITE, .send_flags = GENZIO_SEND_INLINE,
		  .rdma = { ep.info.addr, ep.info.rkey } },
		{ .wr_id = 5, .opcode = GENZIO_WR_SYNC,
		  .send_flags = GENZIO_SEND_SIGNALED },
	}, *bad;
	cr_assert_eq(genzio_post_send(ep.qp, wr, &bad), 0);
	cr_assert_eq(gzt_poll_one(ep.cq, &wc, GZT_WAIT_MS), 1);
	cr_assert_eq(wc.opcode, GENZIO_WC_SYNC);
	cr_assert_eq(wc.wr_id, 5);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	cr_assert_eq(*(volatile uint64_t *)ep.mem->addr, 99);
	gzt_ep_close(&ep);
}
