// SPDX-License-Identifier: MIT
/*
 * <genzio/ibverbs_compat.h>: verbs-style code on genzio (built with
 * -Wall -Wextra -Werror like every test). A verbs program's whole path,
 * checked byte by byte, on whatever device genzio opens first; and every
 * compat call given bad arguments returns what verbs returns, never a
 * crash.
 */
#include <genzio/ibverbs_compat.h>

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#define SIZE 4096

/* One side: verbs' usual objects, a buffer of SIZE bytes. */
struct side {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_qp *qp;
	struct ibv_mr *mr;
	uint8_t *buf;
	uint32_t psn;
};

static struct ibv_context *open_first(void)
{
	int n = 0;
	struct ibv_device **list = ibv_get_device_list(&n);
	struct ibv_context *ctx;

	cr_assert(list && n > 0 && list[n] == NULL, "a device list");
	ctx = ibv_open_device(list[0]);
	ibv_free_device_list(list);
	cr_assert(ctx, "ibv_open_device: %s", strerror(errno));
	return ctx;
}

static void side_open(struct side *s, uint32_t psn)
{
	struct ibv_qp_init_attr ia = { 0 };
	struct ibv_qp_attr a = { 0 };

	s->ctx = open_first();
	s->pd = ibv_alloc_pd(s->ctx);
	cr_assert(s->pd);
	s->buf = aligned_alloc(4096, SIZE);
	cr_assert(s->buf);
	memset(s->buf, 0, SIZE);
	s->mr = ibv_reg_mr(s->pd, s->buf, SIZE, IBV_ACCESS_LOCAL_WRITE |
			   IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ |
			   IBV_ACCESS_REMOTE_ATOMIC);
	cr_assert(s->mr, "ibv_reg_mr: %s", strerror(errno));
	s->buf = s->mr->addr;	/* the same bytes (shm may move them) */
	s->cq = ibv_create_cq(s->ctx, 64, NULL, NULL, 0);
	cr_assert(s->cq);
	ia.send_cq = ia.recv_cq = s->cq;
	ia.cap.max_send_wr = ia.cap.max_recv_wr = 16;
	ia.cap.max_send_sge = ia.cap.max_recv_sge = 1;
	ia.qp_type = IBV_QPT_RC;
	s->qp = ibv_create_qp(s->pd, &ia);
	cr_assert(s->qp, "ibv_create_qp: %s", strerror(errno));
	a.qp_state = IBV_QPS_INIT;
	a.port_num = 1;
	a.qp_access_flags = IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ;
	cr_assert_eq(ibv_modify_qp(s->qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
				   IBV_QP_PORT | IBV_QP_ACCESS_FLAGS), 0);
	s->psn = psn;
}

/* RTR and RTS to @peer, as rc_pingpong does it from LID/QPN/PSN/GID. */
static void side_connect(struct side *s, const struct side *peer)
{
	struct ibv_port_attr pa;
	union ibv_gid gid;
	struct ibv_qp_attr a = { 0 };

	cr_assert_eq(ibv_query_port(peer->ctx, 1, &pa), 0);
	cr_assert_eq(ibv_query_gid(peer->ctx, 1, 0, &gid), 0);
	a.qp_state = IBV_QPS_RTR;
	a.path_mtu = IBV_MTU_1024;
	a.dest_qp_num = peer->qp->qp_num;
	a.rq_psn = peer->psn;
	a.max_dest_rd_atomic = 1;
	a.min_rnr_timer = 12;
	a.ah_attr.dlid = pa.lid;
	a.ah_attr.port_num = 1;
	if (gid.global.interface_id) {
		a.ah_attr.is_global = 1;
		a.ah_attr.grh.dgid = gid;
		a.ah_attr.grh.hop_limit = 1;
	}
	cr_assert_eq(ibv_modify_qp(s->qp, &a, IBV_QP_STATE | IBV_QP_AV |
				   IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
				   IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC |
				   IBV_QP_MIN_RNR_TIMER), 0);
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 14;
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.sq_psn = s->psn;
	a.max_rd_atomic = 1;
	cr_assert_eq(ibv_modify_qp(s->qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT |
				   IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
				   IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC), 0);
}

static void side_close(struct side *s)
{
	cr_assert_eq(ibv_destroy_qp(s->qp), 0);
	cr_assert_eq(ibv_destroy_cq(s->cq), 0);
	cr_assert_eq(ibv_dereg_mr(s->mr), 0);
	cr_assert_eq(ibv_dealloc_pd(s->pd), 0);
	cr_assert_eq(ibv_close_device(s->ctx), 0);
}

/* One completion of @cq within 5 s (both sides' progress is theirs). */
static void wait_wc(struct ibv_cq *cq, struct ibv_wc *wc)
{
	for (int i = 0; i < 5000000; i++) {
		int n = ibv_poll_cq(cq, 1, wc);

		cr_assert_geq(n, 0);
		if (n)
			return;
		if (i > 1000)
			usleep(1);
	}
	cr_assert_fail("no completion in time");
}

static void post1(struct side *s, struct ibv_send_wr *wr)
{
	struct ibv_send_wr *bad = NULL;
	struct ibv_wc wc;

	cr_assert_eq(ibv_post_send(s->qp, wr, &bad), 0);
	wait_wc(s->cq, &wc);
	cr_assert_eq(wc.status, IBV_WC_SUCCESS, "%s",
		     ibv_wc_status_str(wc.status));
	cr_assert_eq(wc.wr_id, wr->wr_id);
}

Test(compat, a_verbs_program_moves_every_byte)
{
	struct side a, b;
	struct ibv_sge sge;
	struct ibv_send_wr wr = { 0 }, *bad;
	struct ibv_recv_wr rwr = { 0 }, *rbad;
	struct ibv_wc wc;
	uint64_t old;

	side_open(&a, 0x111111);
	side_open(&b, 0x222222);
	side_connect(&a, &b);
	side_connect(&b, &a);
	/* WRITE: every byte of a pattern lands */
	for (int i = 0; i < SIZE; i++)
		a.buf[i] = (uint8_t)(i * 7 + 3);
	sge = (struct ibv_sge){ (uintptr_t)a.buf, SIZE, a.mr->lkey };
	wr.wr_id = 1;
	wr.sg_list = &sge;
	wr.num_sge = 1;
	wr.opcode = IBV_WR_RDMA_WRITE;
	wr.send_flags = IBV_SEND_SIGNALED;
	wr.wr.rdma.remote_addr = (uintptr_t)b.buf;
	wr.wr.rdma.rkey = b.mr->rkey;
	post1(&a, &wr);
	cr_assert_eq(memcmp(a.buf, b.buf, SIZE), 0, "WRITE: every byte");
	/* READ back into a cleared buffer */
	memset(a.buf, 0, SIZE);
	wr.wr_id = 2;
	wr.opcode = IBV_WR_RDMA_READ;
	post1(&a, &wr);
	for (int i = 0; i < SIZE; i++)
		cr_assert_eq(a.buf[i], (uint8_t)(i * 7 + 3), "READ byte %d", i);
	/* SEND with immediate into a posted receive */
	memset(b.buf, 0, SIZE);
	sge = (struct ibv_sge){ (uintptr_t)b.buf, SIZE, b.mr->lkey };
	rwr.wr_id = 9;
	rwr.sg_list = &sge;
	rwr.num_sge = 1;
	cr_assert_eq(ibv_post_recv(b.qp, &rwr, &rbad), 0);
	sge = (struct ibv_sge){ (uintptr_t)a.buf, 100, a.mr->lkey };
	wr.wr_id = 3;
	wr.sg_list = &sge;
	wr.opcode = IBV_WR_SEND_WITH_IMM;
	wr.imm_data = htonl(0xabcd1234);
	post1(&a, &wr);
	wait_wc(b.cq, &wc);
	cr_assert_eq(wc.status, IBV_WC_SUCCESS);
	cr_assert_eq(wc.opcode, IBV_WC_RECV);
	cr_assert_eq(wc.wr_id, 9);
	cr_assert_eq(wc.byte_len, 100);
	cr_assert(wc.wc_flags & IBV_WC_WITH_IMM);
	cr_assert_eq(ntohl(wc.imm_data), 0xabcd1234, "imm in network order");
	cr_assert_eq(memcmp(a.buf, b.buf, 100), 0);
	/* atomics, where the device has them: the old value comes back */
	struct ibv_device_attr da;

	cr_assert_eq(ibv_query_device(a.ctx, &da), 0);
	if (da.atomic_cap != IBV_ATOMIC_NONE) {
		memcpy(b.buf + 64, &(uint64_t){ 40 }, 8);
		sge = (struct ibv_sge){ (uintptr_t)(a.buf + 8), 8, a.mr->lkey };
		wr.wr_id = 4;
		wr.opcode = IBV_WR_ATOMIC_FETCH_AND_ADD;
		wr.wr.atomic.remote_addr = (uintptr_t)(b.buf + 64);
		wr.wr.atomic.rkey = b.mr->rkey;
		wr.wr.atomic.compare_add = 2;
		post1(&a, &wr);
		memcpy(&old, a.buf + 8, 8);
		cr_assert_eq(old, 40);
		wr.wr_id = 5;
		wr.opcode = IBV_WR_ATOMIC_CMP_AND_SWP;
		wr.wr.atomic.compare_add = 42;
		wr.wr.atomic.swap = 7;
		post1(&a, &wr);
		memcpy(&old, a.buf + 8, 8);
		cr_assert_eq(old, 42);
		memcpy(&old, b.buf + 64, 8);
		cr_assert_eq(old, 7, "swapped");
	}
	/* a chain: two WRITEs, one signaled at its end */
	struct ibv_send_wr w2 = wr;

	sge = (struct ibv_sge){ (uintptr_t)a.buf, 8, a.mr->lkey };
	wr.wr_id = 6;
	wr.opcode = IBV_WR_RDMA_WRITE;
	wr.send_flags = 0;
	wr.wr.rdma.remote_addr = (uintptr_t)(b.buf + 1024);
	wr.wr.rdma.rkey = b.mr->rkey;
	wr.next = &w2;
	w2 = wr;
	w2.wr_id = 7;
	w2.next = NULL;
	w2.send_flags = IBV_SEND_SIGNALED;
	w2.wr.rdma.remote_addr = (uintptr_t)(b.buf + 2048);
	memcpy(a.buf, "chained!", 8);
	cr_assert_eq(ibv_post_send(a.qp, &wr, &bad), 0);
	wait_wc(a.cq, &wc);
	cr_assert_eq(wc.wr_id, 7);
	cr_assert_eq(memcmp(b.buf + 1024, "chained!", 8), 0);
	cr_assert_eq(memcmp(b.buf + 2048, "chained!", 8), 0);
	side_close(&b);
	side_close(&a);
}

Test(compat, a_channel_wakes_for_a_completion)
{
	struct side a, b;
	struct ibv_comp_channel *ch;
	struct ibv_cq *cq, *ev_cq = NULL;
	void *ev_ctx;
	struct ibv_wc wc;

	side_open(&a, 1);
	side_open(&b, 2);
	ch = ibv_create_comp_channel(b.ctx);
	cr_assert(ch);
	cq = ibv_create_cq(b.ctx, 8, (void *)0x1234, ch, 0);
	cr_assert(cq);
	cr_assert_eq(ibv_destroy_comp_channel(ch), EBUSY, "a cq uses it");
	/* b's receives complete into the channel's cq */
	cr_assert_eq(ibv_destroy_qp(b.qp), 0);
	struct ibv_qp_init_attr ia = { 0 };

	ia.send_cq = b.cq;
	ia.recv_cq = cq;
	ia.cap.max_send_wr = ia.cap.max_recv_wr = 4;
	ia.cap.max_send_sge = ia.cap.max_recv_sge = 1;
	ia.qp_type = IBV_QPT_RC;
	b.qp = ibv_create_qp(b.pd, &ia);
	cr_assert(b.qp);
	struct ibv_qp_attr at = { 0 };

	at.qp_state = IBV_QPS_INIT;
	at.port_num = 1;
	cr_assert_eq(ibv_modify_qp(b.qp, &at, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
				   IBV_QP_PORT | IBV_QP_ACCESS_FLAGS), 0);
	side_connect(&a, &b);
	side_connect(&b, &a);
	struct ibv_sge sge = { (uintptr_t)b.buf, 64, b.mr->lkey };
	struct ibv_recv_wr rwr = { 1, NULL, &sge, 1 }, *rbad;

	cr_assert_eq(ibv_post_recv(b.qp, &rwr, &rbad), 0);
	cr_assert_eq(ibv_req_notify_cq(cq, 0), 0);
	struct ibv_sge s2 = { (uintptr_t)a.buf, 64, a.mr->lkey };
	struct ibv_send_wr wr = { 0 };

	wr.wr_id = 2;
	wr.sg_list = &s2;
	wr.num_sge = 1;
	wr.opcode = IBV_WR_SEND;
	wr.send_flags = IBV_SEND_SIGNALED;
	post1(&a, &wr);
	cr_assert_eq(ibv_get_cq_event(ch, &ev_cq, &ev_ctx), 0);
	cr_assert_eq(ev_cq, cq);
	cr_assert_eq(ev_ctx, (void *)0x1234, "cq_context given back");
	ibv_ack_cq_events(ev_cq, 1);
	cr_assert_eq(ibv_poll_cq(cq, 1, &wc), 1);
	cr_assert_eq(wc.status, IBV_WC_SUCCESS);
	cr_assert_eq(wc.opcode, IBV_WC_RECV);
	cr_assert_eq(ibv_destroy_qp(b.qp), 0);
	cr_assert_eq(ibv_destroy_cq(cq), 0);
	cr_assert_eq(ibv_destroy_comp_channel(ch), 0);
	cr_assert_eq(ibv_destroy_cq(b.cq), 0);
	cr_assert_eq(ibv_dereg_mr(b.mr), 0);
	cr_assert_eq(ibv_dealloc_pd(b.pd), 0);
	cr_assert_eq(ibv_close_device(b.ctx), 0);
	side_close(&a);
}

/* errno after a call that returned NULL or -1 */
#define NULL_ERRNO(call, err) do {                                        \
		errno = 0;                                                 \
		cr_assert_null((call), #call);                             \
		cr_assert_eq(errno, (err), #call ": errno %d", errno);     \
	} while (0)

Test(compat, bad_arguments_fail_as_verbs_does)
{
	struct side s;
	struct ibv_wc wc;
	struct ibv_send_wr wr = { 0 }, *bad = NULL;
	struct ibv_recv_wr rwr = { 0 }, *rbad = NULL;
	struct ibv_sge sge;
	struct ibv_qp_attr a = { 0 };
	struct ibv_qp_init_attr ia = { 0 };
	struct ibv_port_attr pa;
	struct ibv_device_attr da;
	struct ibv_device_attr_ex dax;
	struct ibv_query_device_ex_input in = { 1 };
	struct ibv_async_event ev;
	union ibv_gid gid;
	struct ibv_cq *cq;
	void *cctx;

	side_open(&s, 3);
	/* devices */
	cr_assert_null(ibv_get_device_name(NULL));
	NULL_ERRNO(ibv_open_device(NULL), EINVAL);
	cr_assert_eq(ibv_close_device(NULL), EINVAL);
	cr_assert_eq(ibv_query_device(NULL, &da), EINVAL);
	cr_assert_eq(ibv_query_device(s.ctx, NULL), EINVAL);
	cr_assert_eq(ibv_query_device_ex(s.ctx, &in, &dax), EINVAL);
	cr_assert_eq(ibv_query_device_ex(s.ctx, NULL, &dax), 0);
	cr_assert_eq(dax.odp_caps.general_caps, 0, "no ODP");
	cr_assert_eq(dax.completion_timestamp_mask, 0, "no timestamps");
	cr_assert_eq(dax.max_dm_size, 0, "no device memory");
	cr_assert_eq(ibv_query_port(s.ctx, 2, &pa), EINVAL, "one port");
	cr_assert_eq(ibv_query_port(NULL, 1, &pa), EINVAL);
	cr_assert_eq(ibv_query_gid(s.ctx, 1, 1, &gid), EINVAL, "one GID");
	cr_assert_eq(ibv_query_gid(s.ctx, 1, 0, NULL), EINVAL);
	/* memory */
	NULL_ERRNO(ibv_alloc_pd(NULL), EINVAL);
	cr_assert_eq(ibv_dealloc_pd(NULL), EINVAL);
	cr_assert_eq(ibv_dealloc_pd(s.pd), EBUSY, "its mr and qp");
	NULL_ERRNO(ibv_reg_mr(NULL, s.buf, 64, 0), EINVAL);
	NULL_ERRNO(ibv_reg_mr(s.pd, s.buf, 64, IBV_ACCESS_ON_DEMAND), EINVAL);
	NULL_ERRNO(ibv_reg_mr(s.pd, NULL, 64, IBV_ACCESS_LOCAL_WRITE), EINVAL);
	cr_assert_eq(ibv_dereg_mr(NULL), EINVAL);
	/* channels and cqs */
	NULL_ERRNO(ibv_create_comp_channel(NULL), EINVAL);
	cr_assert_eq(ibv_destroy_comp_channel(NULL), EINVAL);
	NULL_ERRNO(ibv_create_cq(NULL, 8, NULL, NULL, 0), EINVAL);
	NULL_ERRNO(ibv_create_cq(s.ctx, 0, NULL, NULL, 0), EINVAL);
	NULL_ERRNO(ibv_create_cq(s.ctx, 8, NULL, NULL, 1), EINVAL);
	cr_assert_eq(ibv_destroy_cq(NULL), EINVAL);
	cr_assert_eq(ibv_destroy_cq(s.cq), EBUSY, "a queue pair uses it");
	cr_assert_eq(ibv_req_notify_cq(NULL, 0), EINVAL);
	cr_assert_eq(ibv_req_notify_cq(s.cq, 1), EINVAL, "solicited only");
	errno = 0;
	cr_assert_eq(ibv_get_cq_event(NULL, &cq, &cctx), -1);
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(ibv_poll_cq(NULL, 1, &wc), -1);
	cr_assert_eq(ibv_poll_cq(s.cq, 1, NULL), -1);
	cr_assert_eq(ibv_poll_cq(s.cq, 0, NULL), 0);
	ibv_ack_cq_events(NULL, 1);	/* nothing to do, no crash */
	/* queue pairs */
	NULL_ERRNO(ibv_create_qp(NULL, &ia), EINVAL);
	NULL_ERRNO(ibv_create_qp(s.pd, NULL), EINVAL);
	ia.send_cq = ia.recv_cq = s.cq;
	ia.cap.max_send_wr = 4;
	ia.qp_type = IBV_QPT_UD;
	NULL_ERRNO(ibv_create_qp(s.pd, &ia), EOPNOTSUPP);
	ia.qp_type = IBV_QPT_RC;
	ia.cap.max_inline_data = 1u << 30;
	NULL_ERRNO(ibv_create_qp(s.pd, &ia), EINVAL);
	cr_assert_eq(ibv_destroy_qp(NULL), EINVAL);
	cr_assert_eq(ibv_modify_qp(NULL, &a, IBV_QP_STATE), EINVAL);
	cr_assert_eq(ibv_modify_qp(s.qp, NULL, IBV_QP_STATE), EINVAL);
	a.qp_state = IBV_QPS_RTS;	/* from INIT: RTR first */
	cr_assert_eq(ibv_modify_qp(s.qp, &a, IBV_QP_STATE | IBV_QP_SQ_PSN),
		     EINVAL);
	a.qp_state = IBV_QPS_RTR;	/* without its attributes */
	cr_assert_eq(ibv_modify_qp(s.qp, &a, IBV_QP_STATE), EINVAL);
	a.qp_state = IBV_QPS_ERR;	/* no move genzio has */
	cr_assert_eq(ibv_modify_qp(s.qp, &a, IBV_QP_STATE), EINVAL);
	cr_assert_eq(ibv_query_qp(NULL, &a, 0, &ia), EINVAL);
	cr_assert_eq(ibv_query_qp(s.qp, &a, IBV_QP_CAP, &ia), 0);
	cr_assert_eq(a.qp_state, IBV_QPS_INIT, "nothing moved it");
	/* posts */
	sge = (struct ibv_sge){ (uintptr_t)s.buf, 8, s.mr->lkey };
	wr.sg_list = &sge;
	wr.num_sge = 1;
	wr.opcode = IBV_WR_RDMA_WRITE;
	cr_assert_eq(ibv_post_send(NULL, &wr, &bad), EINVAL);
	cr_assert_eq(bad, &wr);
	bad = NULL;
	cr_assert_eq(ibv_post_send(s.qp, &wr, &bad), EINVAL, "not RTS");
	cr_assert_eq(bad, &wr);
	wr.opcode = IBV_WR_LOCAL_INV;
	cr_assert_eq(ibv_post_send(s.qp, &wr, &bad), EINVAL);
	wr.opcode = IBV_WR_SEND;
	wr.send_flags = IBV_SEND_IP_CSUM;
	cr_assert_eq(ibv_post_send(s.qp, &wr, &bad), EINVAL);
	cr_assert_eq(ibv_post_recv(NULL, &rwr, &rbad), EINVAL);
	rwr.sg_list = &sge;
	rwr.num_sge = 99;
	cr_assert_eq(ibv_post_recv(s.qp, &rwr, &rbad), EINVAL);
	cr_assert_eq(rbad, &rwr);
	/* async events */
	errno = 0;
	cr_assert_eq(ibv_get_async_event(NULL, &ev), -1);
	cr_assert_eq(errno, EINVAL);
	int fl = fcntl(s.ctx->async_fd, F_GETFL);

	cr_assert_eq(fcntl(s.ctx->async_fd, F_SETFL, fl | O_NONBLOCK), 0);
	errno = 0;
	cr_assert_eq(ibv_get_async_event(s.ctx, &ev), -1, "none waits");
	cr_assert_eq(errno, EAGAIN);
	cr_assert_eq(fcntl(s.ctx->async_fd, F_SETFL, fl), 0);
	/* strings never NULL */
	cr_assert_str_eq(ibv_wc_status_str(IBV_WC_SUCCESS), "success");
	cr_assert_str_eq(ibv_wc_status_str((enum ibv_wc_status)999), "unknown");
	cr_assert_str_eq(ibv_event_type_str((enum ibv_event_type)999),
			 "unknown");
	cr_assert_str_eq(ibv_port_state_str((enum ibv_port_state)999),
			 "unknown");
	side_close(&s);
}

Test(compat, extensions_absent_as_on_a_device_without_them)
{
	struct side s;
	struct ibv_alloc_dm_attr dm = { SIZE, 0, 0 };
	struct ibv_cq_init_attr_ex cx = { 0 };
	struct ibv_qp_init_attr_ex qx = { 0 };
	struct ibv_parent_domain_init_attr pd = { 0 };
	struct ibv_sge sge = { 0, 0, 0 };
	struct ibv_buf *buf = NULL;
	void *p;

	side_open(&s, 4);
	NULL_ERRNO(ibv_alloc_dm(s.ctx, &dm), EOPNOTSUPP);
	NULL_ERRNO(ibv_create_cq_ex(s.ctx, &cx), EOPNOTSUPP);
	NULL_ERRNO(ibv_alloc_parent_domain(s.ctx, &pd), EOPNOTSUPP);
	cr_assert_eq(ibv_advise_mr(s.pd, IBV_ADVISE_MR_ADVICE_PREFETCH, 0,
				   &sge, 1), EOPNOTSUPP);
	cr_assert_null(ibv_qp_to_qp_ex(s.qp), "no ibv_wr_* queue pairs");
	/* an extended queue pair with nothing extended is a plain one */
	qx.send_cq = qx.recv_cq = s.cq;
	qx.cap.max_send_wr = 2;
	qx.qp_type = IBV_QPT_RC;
	NULL_ERRNO(ibv_create_qp_ex(s.ctx, &qx), EINVAL);	/* no pd */
	qx.comp_mask = IBV_QP_INIT_ATTR_PD | IBV_QP_INIT_ATTR_SEND_OPS_FLAGS;
	qx.pd = s.pd;
	qx.send_ops_flags = IBV_QP_EX_WITH_SEND;
	NULL_ERRNO(ibv_create_qp_ex(s.ctx, &qx), EOPNOTSUPP);
	qx.comp_mask = IBV_QP_INIT_ATTR_PD;
	struct ibv_qp *qp = ibv_create_qp_ex(s.ctx, &qx);

	cr_assert(qp, "%s", strerror(errno));
	cr_assert_eq(ibv_destroy_qp(qp), 0);
	/* provider buffers: data space, registered in place */
	NULL_ERRNO(ibv_alloc_buf(NULL, SIZE, &buf), EINVAL);
	p = ibv_alloc_buf(s.pd, SIZE, &buf);
	cr_assert(p, "%s", strerror(errno));
	NULL_ERRNO(ibv_reg_buf_mr(s.pd, buf, s.buf, SIZE, 0),	/* not in it */
		   EINVAL);
	struct ibv_mr *mr = ibv_reg_buf_mr(s.pd, buf, p, SIZE,
					   IBV_ACCESS_LOCAL_WRITE);

	cr_assert(mr, "%s", strerror(errno));
	cr_assert_eq(mr->addr, p);
	cr_assert_eq(ibv_dereg_mr(mr), 0);
	ibv_free_buf(buf);
	side_close(&s);
}

/* sq_sig_all: every request completes, flag or none */
Test(compat, sq_sig_all_signals_every_request)
{
	struct side a, b;
	struct ibv_qp_init_attr ia = { 0 };
	struct ibv_qp_attr at = { 0 };
	struct ibv_sge sge;
	struct ibv_send_wr wr = { 0 }, *bad;
	struct ibv_wc wc;

	side_open(&a, 5);
	side_open(&b, 6);
	cr_assert_eq(ibv_destroy_qp(a.qp), 0);
	ia.send_cq = ia.recv_cq = a.cq;
	ia.cap.max_send_wr = ia.cap.max_recv_wr = 4;
	ia.cap.max_send_sge = ia.cap.max_recv_sge = 1;
	ia.qp_type = IBV_QPT_RC;
	ia.sq_sig_all = 1;
	a.qp = ibv_create_qp(a.pd, &ia);
	cr_assert(a.qp);
	at.qp_state = IBV_QPS_INIT;
	at.port_num = 1;
	cr_assert_eq(ibv_modify_qp(a.qp, &at, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
				   IBV_QP_PORT | IBV_QP_ACCESS_FLAGS), 0);
	side_connect(&a, &b);
	side_connect(&b, &a);
	sge = (struct ibv_sge){ (uintptr_t)a.buf, 8, a.mr->lkey };
	wr.wr_id = 42;
	wr.sg_list = &sge;
	wr.num_sge = 1;
	wr.opcode = IBV_WR_RDMA_WRITE;	/* no IBV_SEND_SIGNALED */
	wr.wr.rdma.remote_addr = (uintptr_t)b.buf;
	wr.wr.rdma.rkey = b.mr->rkey;
	cr_assert_eq(ibv_post_send(a.qp, &wr, &bad), 0);
	wait_wc(a.cq, &wc);
	cr_assert_eq(wc.wr_id, 42);
	side_close(&b);
	side_close(&a);
}

/* A non-blocking channel fd: EAGAIN, not a wait, as verbs */
Test(compat, a_nonblocking_channel_says_eagain)
{
	struct side s;
	struct ibv_comp_channel *ch;
	struct ibv_cq *cq, *ev;
	void *ctx;

	side_open(&s, 7);
	ch = ibv_create_comp_channel(s.ctx);
	cr_assert(ch);
	cq = ibv_create_cq(s.ctx, 4, NULL, ch, 0);
	cr_assert(cq);
	cr_assert_eq(ibv_req_notify_cq(cq, 0), 0);
	cr_assert_eq(fcntl(ch->fd, F_SETFL, fcntl(ch->fd, F_GETFL) |
			   O_NONBLOCK), 0);
	errno = 0;
	cr_assert_eq(ibv_get_cq_event(ch, &ev, &ctx), -1);
	cr_assert_eq(errno, EAGAIN);
	cr_assert_eq(ibv_destroy_cq(cq), 0);
	cr_assert_eq(ibv_destroy_comp_channel(ch), 0);
	side_close(&s);
}

/* RESET ends what was posted, also before the queue pair connected */
Test(compat, reset_drops_receives_posted_before_it)
{
	struct side a, b;
	struct ibv_sge sge;
	struct ibv_recv_wr rwr = { 0 }, *rbad;
	struct ibv_send_wr wr = { 0 };
	struct ibv_qp_attr at = { 0 };
	struct ibv_wc wc;

	side_open(&a, 8);
	side_open(&b, 9);
	sge = (struct ibv_sge){ (uintptr_t)b.buf, 64, b.mr->lkey };
	rwr.wr_id = 77;	/* posted in INIT, then RESET */
	rwr.sg_list = &sge;
	rwr.num_sge = 1;
	cr_assert_eq(ibv_post_recv(b.qp, &rwr, &rbad), 0);
	at.qp_state = IBV_QPS_RESET;
	cr_assert_eq(ibv_modify_qp(b.qp, &at, IBV_QP_STATE), 0);
	at.qp_state = IBV_QPS_INIT;
	at.port_num = 1;
	cr_assert_eq(ibv_modify_qp(b.qp, &at, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
				   IBV_QP_PORT | IBV_QP_ACCESS_FLAGS), 0);
	rwr.wr_id = 78;
	cr_assert_eq(ibv_post_recv(b.qp, &rwr, &rbad), 0);
	side_connect(&a, &b);
	side_connect(&b, &a);
	struct ibv_sge s2 = { (uintptr_t)a.buf, 8, a.mr->lkey };

	wr.wr_id = 1;
	wr.sg_list = &s2;
	wr.num_sge = 1;
	wr.opcode = IBV_WR_SEND;
	wr.send_flags = IBV_SEND_SIGNALED;
	post1(&a, &wr);
	/* 77 is gone: dropped (verbs), or flushed where the provider
	 * flushes at reset (shm: GENZIO_CAP_RESET_FLUSHES); never filled */
	wait_wc(b.cq, &wc);
	if (wc.wr_id == 77) {
		cr_assert_eq(wc.status, IBV_WC_WR_FLUSH_ERR);
		wait_wc(b.cq, &wc);
	}
	cr_assert_eq(wc.status, IBV_WC_SUCCESS);
	cr_assert_eq(wc.wr_id, 78, "the message went to the later receive");
	side_close(&b);
	side_close(&a);
}
