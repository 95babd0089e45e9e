// SPDX-License-Identifier: MIT
/* Remote and local faults: each completes with its status, touches nothing,
 * and never crashes or hangs the requester. */
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api.h"

TestSuite(faults, .init = gzt_fabric_init, .fini = gzt_fabric_fini,
	  .timeout = 60);

#define LEN 8192u

struct fixture {
	struct gzt_target t;
	struct gzt_ep ep;
	struct genzio_mr *src;
	uint8_t buf[LEN];
};

static void setup(struct fixture *f, uint32_t access)
{
	struct gzt_target_cfg cfg = { LEN, access, 0, 0, 0 };

	cr_assert_eq(gzt_ep_open(&f->ep, 0, 0), 0);
	gzt_target_start(&f->t, &cfg, &f->ep);
	gzt_connect_to(&f->ep, &f->t);
	gzt_fill(f->buf, LEN, 1);
	cr_assert_eq(genzio_mr_reg(f->ep.pd, f->buf, LEN,
				   GENZIO_ACCESS_LOCAL_WRITE, &f->src), 0);
}

static void teardown(struct fixture *f)
{
	genzio_mr_dereg(f->src);
	gzt_target_stop(&f->t);
	cr_assert_eq(gzt_ep_close(&f->ep), 0);
}

/* Write @len at @off with @rkey; expect @status and an untouched target. */
static void expect_write(struct fixture *f, uint64_t raddr, uint32_t len,
			 uint32_t rkey, uint32_t status)
{
	struct gzt_verify all = { 0, LEN, 0, 1 };
	struct genzio_wc wc;

	cr_assert_eq(gzt_write(&f->ep, f->buf, len, f->src->lkey, raddr, rkey,
			       &wc), 0);
	/* a remote fault: its own status, or REM_ACCESS where the device
	 * does not tell them apart (verbs) */
	cr_assert(status == GENZIO_WC_REM_ACCESS ?
			  wc.status == status :
			  gzt_remote_fault_is(wc.status, status),
		  "got %s", genzio_wc_status_str(wc.status));
	cr_assert_eq(wc.byte_len, 0);
	cr_assert(gzt_target_verify(&f->t, &all), "target memory changed");
	gzt_recover(&f->ep, &f->t);
}

Test(faults, wrong_rkey_completes_bad_rkey_and_changes_nothing)
{
	struct fixture f;

	setup(&f, GZT_ACCESS_ALL);
	expect_write(&f, f.t.info.addr, 64, f.t.info.rkey ^ 0x5a5a5,
		     GENZIO_WC_BAD_RKEY);
	expect_write(&f, f.t.info.addr, 64, 0, GENZIO_WC_BAD_RKEY);
	teardown(&f);
}

Test(faults, read_only_key_used_for_write_completes_rem_access)
{
	struct fixture f;
	struct genzio_wc wc;

	setup(&f, GENZIO_ACCESS_REMOTE_READ);
	expect_write(&f, f.t.info.addr, 64, f.t.info.rkey,
		     GENZIO_WC_REM_ACCESS);
	/* atomics need REMOTE_ATOMIC too */
	cr_assert_eq(gzt_atomic(&f.ep, GENZIO_WR_ATOMIC_FADD, 8, f.t.info.addr,
				f.t.info.rkey, 1, 0, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_REM_ACCESS);
	gzt_recover(&f.ep, &f.t);
	/* reads are what the key grants */
	cr_assert_eq(gzt_read(&f.ep, f.buf, 64, f.src->lkey, f.t.info.addr,
			      f.t.info.rkey, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	teardown(&f);
}

Test(faults, out_of_range_address_completes_rem_bounds)
{
	struct fixture f;

	setup(&f, GZT_ACCESS_ALL);
	expect_write(&f, f.t.info.addr + LEN - 63, 64, f.t.info.rkey,
		     GENZIO_WC_REM_BOUNDS);
	expect_write(&f, f.t.info.addr - 1, 64, f.t.info.rkey,
		     GENZIO_WC_REM_BOUNDS);
	expect_write(&f, UINT64_MAX - 7, 64, f.t.info.rkey,
		     GENZIO_WC_REM_BOUNDS);
	teardown(&f);
}

Test(faults, deregistered_region_completes_bad_rkey)
{
	struct fixture f;

	setup(&f, GZT_ACCESS_ALL);
	gzt_target_dereg(&f.t);
	expect_write(&f, f.t.info.addr, 64, f.t.info.rkey, GENZIO_WC_BAD_RKEY);
	teardown(&f);
}

Test(faults, destroyed_remote_qp_completes_rem_qp)
{
	struct fixture f;

	setup(&f, GZT_ACCESS_ALL);
	gzt_target_destroy_qp(&f.t);
	expect_write(&f, f.t.info.addr, 64, f.t.info.rkey, GENZIO_WC_REM_QP);
	teardown(&f);
}

Test(faults, bad_lkey_or_read_into_readonly_buffer_is_loc_prot)
{
	struct fixture f;
	struct genzio_mr *ro;
	struct genzio_wc wc;
	struct gzt_verify all = { 0, LEN, 0, 1 };
	static uint8_t other[64];

	setup(&f, GZT_ACCESS_ALL);
	/* an lkey that was never handed out */
	cr_assert_eq(gzt_write(&f.ep, f.buf, 64, f.src->lkey ^ 0x10000,
			       f.t.info.addr, f.t.info.rkey, &wc), 0);
	cr_assert(gzt_local_fault_is(wc.status), "got %s",
		  genzio_wc_status_str(wc.status));
	gzt_recover(&f.ep, &f.t);
	/* a valid lkey, but the buffer is outside its region */
	cr_assert_eq(gzt_write(&f.ep, other, 64, f.src->lkey, f.t.info.addr,
			       f.t.info.rkey, &wc), 0);
	cr_assert(gzt_local_fault_is(wc.status), "got %s",
		  genzio_wc_status_str(wc.status));
	gzt_recover(&f.ep, &f.t);
	cr_assert(gzt_target_verify(&f.t, &all));
	/* READ needs LOCAL_WRITE on the destination */
	cr_assert_eq(genzio_mr_reg(f.ep.pd, other, 64, 0, &ro), 0);
	memset(other, 0x33, 64);
	cr_assert_eq(gzt_read(&f.ep, other, 64, ro->lkey, f.t.info.addr,
			      f.t.info.rkey, &wc), 0);
	cr_assert(gzt_local_fault_is(wc.status), "got %s",
		  genzio_wc_status_str(wc.status));
	for (int i = 0; i < 64; i++)
		cr_assert_eq(other[i], 0x33);
	genzio_mr_dereg(ro);
	teardown(&f);
}

Test(faults, unsignaled_failure_still_completes)
{
	struct fixture f;
	struct genzio_wc wc;

	setup(&f, GZT_ACCESS_ALL);
	struct genzio_sge sge = { (uintptr_t)f.buf, 8, f.src->lkey };
	struct genzio_send_wr wr = {
		.wr_id = 99, .sg_list = &sge, .num_sge = 1,
		.opcode = GENZIO_WR_WRITE,
		.rdma = { f.t.info.addr, f.t.info.rkey + 1 },
	}, *bad;
	cr_assert_eq(genzio_post_send(f.ep.qp, &wr, &bad), 0);
	cr_assert_eq(gzt_poll_one(f.ep.cq, &wc, GZT_WAIT_MS), 1);
	cr_assert_eq(wc.wr_id, 99);
	cr_assert(gzt_remote_fault_is(wc.status, GENZIO_WC_BAD_RKEY));
	teardown(&f);
}

/* Without GENZIO_CAP_CQ_BACKPRESSURE (verbs) a post is never refused
 * for a full cq: the cq overruns, fatally (CQ_OVERRUN). */
Test(faults, full_cq_fails_the_post_before_any_effect)
{
	GZT_REQUIRE2(ATOMIC, CQ_BACKPRESSURE);
	struct fixture f;
	struct genzio_wc wc[256];
	struct genzio_mr *mr;
	uint64_t counter = 0;
	int n, posted = 0;

	setup(&f, GZT_ACCESS_ALL);
	struct genzio_send_wr wr = {
		.opcode = GENZIO_WR_ATOMIC_FADD,
		.send_flags = GENZIO_SEND_SIGNALED,
		.atomic = { .remote_addr = f.t.info.addr, .rkey = f.t.info.rkey,
			    .size = 8, .operand = 1 },
	}, *bad;
	/* fill the queue (depth 256) without polling */
	while (!genzio_post_send(f.ep.qp, &wr, &bad))
		posted++;
	cr_assert_eq(posted, (int)f.ep.cq->depth);
	cr_assert_eq(genzio_post_send(f.ep.qp, &wr, &bad), -EAGAIN);
	cr_assert_eq(bad, &wr);
	n = genzio_poll_cq(f.ep.cq, 256, wc);
	cr_assert_eq(n, posted);
	/* the refused posts added nothing */
	cr_assert_eq(genzio_mr_reg(f.ep.pd, &counter, 8,
				   GENZIO_ACCESS_LOCAL_WRITE, &mr), 0);
	cr_assert_eq(gzt_read(&f.ep, &counter, 8, mr->lkey, f.t.info.addr,
			      f.t.info.rkey, wc), 0);
	cr_assert_eq(counter, (uint64_t)posted);
	genzio_mr_dereg(mr);
	teardown(&f);
}

Test(faults, peer_killed_mid_stream_completes_retry_exceeded)
{
	GZT_REQUIRE(DEATH_AT_ONCE);
	struct fixture f;
	struct genzio_wc wc;
	struct genzio_ah *ah;
	int failed = 0;

	setup(&f, GZT_ACCESS_ALL);
	for (int i = 0; i < 1000; i++) {
		cr_assert_eq(gzt_write(&f.ep, f.buf, 64, f.src->lkey,
				       f.t.info.addr, f.t.info.rkey, &wc), 0);
		if (i == 500) {
			gzt_kill(&f.t.child);
			/* reaped: a zombie still has a pid */
			cr_assert_eq(gzt_wait(&f.t.child), 128 + SIGKILL);
		}
		if (i <= 500)
			cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
		else if (i == 501)	/* the fatal error, then ERR */
			failed += wc.status == GENZIO_WC_RETRY_EXC;
		else
			failed += wc.status == GENZIO_WC_FLUSHED;
	}
	cr_assert_eq(failed, 499, "every op after the kill fails");
	struct genzio_qp_info qi;

	cr_assert_eq(genzio_qp_query(f.ep.qp, &qi), 0);
	cr_assert_eq(qi.state, GENZIO_QPS_ERR);
	cr_assert_eq(qi.err_status, GENZIO_WC_RETRY_EXC);
	if (gzt_caps() & GENZIO_CAP_RD)	/* an address of the dead one */
		cr_assert_eq(genzio_ah_create(f.ep.pd, f.t.info.gcid, &ah),
			     -EHOSTUNREACH);
	genzio_mr_dereg(f.src);
	cr_assert_eq(gzt_ep_close(&f.ep), 0);
}

Test(faults, killed_but_unreaped_peer_is_already_dead)
{
	GZT_REQUIRE(DEATH_AT_ONCE);
	struct fixture f;
	struct genzio_wc wc;

	setup(&f, GZT_ACCESS_ALL);
	gzt_kill(&f.t.child);
	/* wait until it is a zombie, without reaping it */
	siginfo_t si;
	cr_assert_eq(waitid(P_PID, (id_t)f.t.child.pid, &si,
			    WEXITED | WNOWAIT), 0);
	cr_assert_eq(gzt_write(&f.ep, f.buf, 64, f.src->lkey, f.t.info.addr,
			       f.t.info.rkey, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_RETRY_EXC);
	cr_assert_eq(gzt_wait(&f.t.child), 128 + SIGKILL);
	genzio_mr_dereg(f.src);
	gzt_ep_close(&f.ep);
}

static int member_main(int fd, void *arg)
{
	struct genzio_device_attr a;
	struct genzio_context *ctx;
	char t;

	(void)arg;
	if (genzio_device_open(NULL, NULL, &ctx) ||
	    genzio_device_query(ctx, &a) ||
	    write(fd, &a.gcid, sizeof(a.gcid)) != sizeof(a.gcid))
		return 40;
	gzt_recv_token(fd, &t);	/* killed while waiting here */
	return 41;
}

Test(faults, gcid_of_a_killed_process_is_reclaimed)
{
	struct genzio_context *a, *b;
	struct genzio_device_attr da;
	struct gzt_child c;
	uint32_t gcid;

	gzt_require_registry();
	cr_assert_eq(genzio_device_open(NULL, NULL, &a), 0);
	cr_assert_eq(gzt_fork(&c, member_main, NULL), 0);
	cr_assert_eq(read(c.fd, &gcid, sizeof(gcid)), (ssize_t)sizeof(gcid));
	gzt_kill(&c);
	cr_assert_eq(gzt_wait(&c), 128 + SIGKILL);
	/* the lowest free GCID is the dead process's: it is reused */
	cr_assert_eq(genzio_device_open(NULL, NULL, &b), 0);
	cr_assert_eq(genzio_device_query(b, &da), 0);
	cr_assert_eq(da.gcid, gcid);
	cr_assert_eq(genzio_device_close(b), 0);
	cr_assert_eq(genzio_device_close(a), 0);
}

Test(faults, peer_that_closed_cleanly_completes_retry_exceeded)
{
	struct fixture f;
	struct genzio_wc wc;

	setup(&f, GZT_ACCESS_ALL);
	gzt_target_stop(&f.t);
	cr_assert_eq(gzt_write(&f.ep, f.buf, 64, f.src->lkey, f.t.info.addr,
			       f.t.info.rkey, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_RETRY_EXC);
	genzio_mr_dereg(f.src);
	gzt_ep_close(&f.ep);
}

Test(faults, rkey_of_another_protection_domain_is_refused)
{
	struct gzt_ep ep;
	struct genzio_pd *pd2;
	struct genzio_mr *mr2, *l2;
	struct genzio_wc wc;
	uint64_t x = 5;

	cr_assert_eq(gzt_ep_open(&ep, 8192, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_connect(ep.qp, &ep.info), 0);
	cr_assert_eq(genzio_pd_alloc(ep.ctx, &pd2), 0);
	/* a region registered in pd2, reached through a queue pair of pd1 */
	cr_assert_eq(genzio_mr_reg(pd2, (char *)ep.mem->addr + 4096, 4096,
				   GZT_ACCESS_ALL, &mr2), 0);
	cr_assert_eq(gzt_put64(&ep, (uintptr_t)mr2->addr, mr2->rkey, x, &wc),
		     0);
	cr_assert_eq(wc.status, GENZIO_WC_REM_ACCESS);
	cr_assert_eq(*(uint64_t *)mr2->addr, 0);
	gzt_recover_self(&ep);
	/* an lkey of pd2 in a request to a pd1 queue pair */
	cr_assert_eq(genzio_mr_reg(pd2, &x, 8, GENZIO_ACCESS_LOCAL_WRITE, &l2),
		     0);
	cr_assert_eq(gzt_write(&ep, &x, 8, l2->lkey, ep.info.addr,
			       ep.info.rkey, &wc), 0);
	cr_assert(gzt_local_fault_is(wc.status), "got %s",
		  genzio_wc_status_str(wc.status));
	cr_assert_eq(*(uint64_t *)ep.mem->addr, 0);
	genzio_mr_dereg(l2);
	genzio_mr_dereg(mr2);
	genzio_pd_free(pd2);
	gzt_ep_close(&ep);
}

static void *open_and_exit(void *arg)
{
	/* the opening thread ends; the context lives on in the process */
	return (void *)(intptr_t)gzt_ep_open(arg, 4096, GZT_ACCESS_ALL);
}

static int orphan_main(int fd, void *arg)
{
	struct genzio_conn_info peer;
	struct gzt_ep ep;
	pthread_t th;
	void *ret;
	char t;

	(void)arg;
	if (pthread_create(&th, NULL, open_and_exit, &ep) ||
	    pthread_join(th, &ret) || ret ||
	    genzio_conn_info_exchange(fd, &ep.info, &peer) ||
	    gzt_connect(ep.qp, &peer))
		return 50;
	gzt_recv_token(fd, &t);	/* killed while waiting here */
	return 51;
}

Test(faults, death_is_seen_even_after_the_opening_thread_exited)
{
	GZT_REQUIRE(DEATH_AT_ONCE);
	struct genzio_conn_info t;
	struct gzt_child c;
	struct gzt_ep ep;
	struct genzio_wc wc;
	uint64_t x = 1;
	int i;

	cr_assert_eq(gzt_ep_open(&ep, 0, 0), 0);
	cr_assert_eq(gzt_fork(&c, orphan_main, NULL), 0);
	cr_assert_eq(genzio_conn_info_exchange(c.fd, &ep.info, &t), 0);
	cr_assert_eq(gzt_connect(ep.qp, &t), 0);
	cr_assert_eq(gzt_put64(&ep, t.addr, t.rkey, x, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS, "alive process, dead opener");
	gzt_kill(&c);
	cr_assert_eq(gzt_wait(&c), 128 + SIGKILL);
	/* bounded: the degraded check runs at least every millisecond */
	for (i = 0; i < 1000000; i++) {
		cr_assert_eq(gzt_put64(&ep, t.addr, t.rkey, x, &wc), 0);
		if (wc.status)
			break;
	}
	cr_assert_eq(wc.status, GENZIO_WC_RETRY_EXC);
	gzt_ep_close(&ep);
}

static void *close_ctx(void *arg)
{
	return (void *)(intptr_t)gzt_ep_close(arg);
}

static int close_elsewhere_main(int fd, void *arg)
{
	struct genzio_conn_info peer;
	struct gzt_ep ep;
	pthread_t th;
	void *ret;
	char t;

	(void)arg;
	if (gzt_ep_open(&ep, 4096, GZT_ACCESS_ALL) ||
	    genzio_conn_info_exchange(fd, &ep.info, &peer) ||
	    gzt_connect(ep.qp, &peer) || gzt_recv_token(fd, &t))
		return 60;
	/* close from a thread that is not the opener */
	if (pthread_create(&th, NULL, close_ctx, &ep) ||
	    pthread_join(th, &ret) || ret)
		return 61;
	gzt_send_token(fd, 'c');
	gzt_recv_token(fd, &t);
	return 0;
}

Test(faults, close_from_another_thread_still_tells_peers)
{
	struct genzio_conn_info t;
	struct gzt_child c;
	struct gzt_ep ep;
	struct genzio_wc wc;
	uint64_t x = 1;
	char tok;

	cr_assert_eq(gzt_ep_open(&ep, 0, 0), 0);
	cr_assert_eq(gzt_fork(&c, close_elsewhere_main, NULL), 0);
	cr_assert_eq(genzio_conn_info_exchange(c.fd, &ep.info, &t), 0);
	cr_assert_eq(gzt_connect(ep.qp, &t), 0);
	cr_assert_eq(gzt_put64(&ep, t.addr, t.rkey, x, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	gzt_send_token(c.fd, 'g');
	cr_assert_eq(gzt_recv_token(c.fd, &tok), 0);
	/* the process still lives; its context is gone */
	cr_assert_eq(gzt_put64(&ep, t.addr, t.rkey, x, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_RETRY_EXC);
	gzt_send_token(c.fd, 'q');
	cr_assert_eq(gzt_wait(&c), 0);
	gzt_ep_close(&ep);
}
