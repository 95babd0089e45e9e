// SPDX-License-Identifier: MIT
/* One-sided WRITE and READ between processes: every byte checked. */
#include <stdlib.h>
#include <string.h>

#include "api.h"

#define MiB (1ull << 20)

TestSuite(rma, .init = gzt_fabric_init, .fini = gzt_fabric_fini,
	  .timeout = 60);

static const uint32_t sizes[] = { 1, 7, 64, 4096, 65537, 1u << 20,
				  16u << 20 };

/* A local buffer registered for local use only (no remote access, so no
 * data space is needed). */
static struct genzio_mr *local_buf(struct gzt_ep *ep, uint64_t len)
{
	struct genzio_mr *mr;
	void *p = malloc(len);

	cr_assert(p);
	cr_assert_eq(genzio_mr_reg(ep->pd, p, len, GENZIO_ACCESS_LOCAL_WRITE,
				   &mr), 0);
	return mr;
}

static void local_free(struct genzio_mr *mr)
{
	void *p = mr->addr;

	cr_assert_eq(genzio_mr_dereg(mr), 0);
	free(p);
}

Test(rma, write_1B_to_16MiB_lands_every_byte_and_reads_back)
{
	struct gzt_target_cfg cfg = { 16 * MiB + 4096, GZT_ACCESS_ALL, 0, 0,
				      0 };
	struct gzt_target t;
	struct gzt_ep ep;
	struct genzio_mr *src, *dst;
	struct genzio_wc wc;

	cr_assert_eq(gzt_ep_open(&ep, 0, 0), 0);
	gzt_target_start(&t, &cfg, &ep);
	gzt_connect_to(&ep, &t);
	src = local_buf(&ep, 16 * MiB);
	dst = local_buf(&ep, 16 * MiB);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint32_t len = sizes[i], seed = 100 + (uint32_t)i;
		/* odd offsets too: the data mover must not need alignment */
		uint64_t off = i % 2 ? 4093 : 0;
		struct gzt_verify v = { off, len, seed, 0 };

		gzt_fill(src->addr, len, seed);
		cr_assert_eq(gzt_write(&ep, src->addr, len, src->lkey,
				       t.info.addr + off, t.info.rkey, &wc), 0);
		cr_assert_eq(wc.status, GENZIO_WC_SUCCESS, "%s",
			     genzio_wc_status_str(wc.status));
		cr_assert_eq(wc.opcode, GENZIO_WC_WRITE);
		cr_assert_eq(wc.byte_len, len);
		cr_assert_eq(wc.wr_id, 0x1234);
		cr_assert_eq(wc.qp_num, ep.qp->qp_num);
		cr_assert(gzt_target_verify(&t, &v), "target bytes at size %u",
			  len);
		memset(dst->addr, 0, len);
		cr_assert_eq(gzt_read(&ep, dst->addr, len, dst->lkey,
				      t.info.addr + off, t.info.rkey, &wc), 0);
		cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
		cr_assert_eq(wc.opcode, GENZIO_WC_READ);
		cr_assert_eq(wc.byte_len, len);
		cr_assert_eq(gzt_check(dst->addr, len, seed), -1,
			     "read back differs at size %u", len);
	}
	local_free(src);
	local_free(dst);
	gzt_target_stop(&t);
	cr_assert_eq(gzt_ep_close(&ep), 0);
}

Test(rma, read_sees_what_the_target_wrote_itself)
{
	struct gzt_target_cfg cfg = { 4 * MiB, GZT_ACCESS_ALL, 77, 0, 0 };
	struct gzt_target t;
	struct gzt_ep ep;
	struct genzio_mr *dst;
	struct genzio_wc wc;

	cr_assert_eq(gzt_ep_open(&ep, 0, 0), 0);
	gzt_target_start(&t, &cfg, &ep);
	gzt_connect_to(&ep, &t);
	dst = local_buf(&ep, 4 * MiB);
	cr_assert_eq(gzt_read(&ep, dst->addr, 4 * MiB, dst->lkey, t.info.addr,
			      t.info.rkey, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	cr_assert_eq(gzt_check(dst->addr, 4 * MiB, 77), -1);
	local_free(dst);
	gzt_target_stop(&t);
	gzt_ep_close(&ep);
}

Test(rma, gather_write_and_scatter_read_keep_sge_order)
{
	struct gzt_target_cfg cfg = { 1 * MiB, GZT_ACCESS_ALL, 0, 0, 0 };
	struct gzt_target t;
	struct gzt_ep ep;
	struct genzio_mr *buf;
	struct genzio_wc wc;
	uint8_t *b;

	cr_assert_eq(gzt_ep_open(&ep, 0, 0), 0);
	gzt_target_start(&t, &cfg, &ep);
	gzt_connect_to(&ep, &t);
	buf = local_buf(&ep, 3 * 8192);
	b = buf->addr;
	gzt_fill(b, 3000, 5);
	/* three pieces from scattered places form one remote range */
	struct genzio_sge sg[3] = {
		{ (uintptr_t)b, 1000, buf->lkey },
		{ (uintptr_t)b + 8192, 1000, buf->lkey },
		{ (uintptr_t)b + 16384, 1000, buf->lkey },
	};
	memmove(b + 16384, b + 2000, 1000);
	memmove(b + 8192, b + 1000, 1000);
	struct genzio_send_wr wr = {
		.sg_list = sg, .num_sge = 3, .opcode = GENZIO_WR_WRITE,
		.rdma = { t.info.addr + 100, t.info.rkey },
	};
	cr_assert_eq(gzt_post_wait(&ep, &wr, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	cr_assert_eq(wc.byte_len, 3000);
	struct gzt_verify v = { 100, 3000, 5, 0 };
	cr_assert(gzt_target_verify(&t, &v));

	memset(b, 0, 3 * 8192);
	wr.opcode = GENZIO_WR_READ;
	wr.send_flags = 0;
	cr_assert_eq(gzt_post_wait(&ep, &wr, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	memmove(b + 1000, b + 8192, 1000);
	memmove(b + 2000, b + 16384, 1000);
	cr_assert_eq(gzt_check(b, 3000, 5), -1);
	local_free(buf);
	gzt_target_stop(&t);
	gzt_ep_close(&ep);
}

Test(rma, inline_write_needs_no_registration)
{
	struct gzt_target_cfg cfg = { 4096, GZT_ACCESS_ALL, 0, 0, 0 };
	struct gzt_target t;
	struct gzt_ep ep;
	struct genzio_wc wc;
	uint8_t stack[GENZIO_MAX_INLINE];

	cr_assert_eq(gzt_ep_open(&ep, 0, 0), 0);
	gzt_target_start(&t, &cfg, &ep);
	gzt_connect_to(&ep, &t);
	gzt_fill(stack, sizeof(stack), 9);
	struct genzio_sge sge = { (uintptr_t)stack, sizeof(stack), 0 };
	struct genzio_send_wr wr = {
		.sg_list = &sge, .num_sge = 1, .opcode = GENZIO_WR_WRITE,
		.send_flags = GENZIO_SEND_INLINE,
		.rdma = { t.info.addr, t.info.rkey },
	};
	cr_assert_eq(gzt_post_wait(&ep, &wr, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	struct gzt_verify v = { 0, sizeof(stack), 9, 0 };
	cr_assert(gzt_target_verify(&t, &v));
	gzt_target_stop(&t);
	gzt_ep_close(&ep);
}

Test(rma, unsignaled_success_leaves_no_completion_but_lands)
{
	struct gzt_target_cfg cfg = { 4096, GZT_ACCESS_ALL, 0, 0, 0 };
	struct gzt_target t;
	struct gzt_ep ep;
	struct genzio_wc wc;
	uint64_t x = 0x1122334455667788ull;

	cr_assert_eq(gzt_ep_open(&ep, 0, 0), 0);
	gzt_target_start(&t, &cfg, &ep);
	gzt_connect_to(&ep, &t);
	struct genzio_sge sge = { (uintptr_t)&x, 8, 0 };
	struct genzio_send_wr wr = {
		.sg_list = &sge, .num_sge = 1, .opcode = GENZIO_WR_WRITE,
		.send_flags = GENZIO_SEND_INLINE,
		.rdma = { t.info.addr + 8, t.info.rkey },
	}, *bad;
	cr_assert_eq(genzio_post_send(ep.qp, &wr, &bad), 0);
	cr_assert_eq(genzio_poll_cq(ep.cq, 1, &wc), 0);
	uint64_t y = 0;
	struct genzio_mr *mr;
	cr_assert_eq(genzio_mr_reg(ep.pd, &y, 8, GENZIO_ACCESS_LOCAL_WRITE, &mr),
		     0);
	cr_assert_eq(gzt_read(&ep, &y, 8, mr->lkey, t.info.addr + 8,
			      t.info.rkey, &wc), 0);
	cr_assert_eq(y, x);
	cr_assert_eq(genzio_mr_dereg(mr), 0);
	gzt_target_stop(&t);
	gzt_ep_close(&ep);
}

Test(rma, batch_of_eight_posts_in_one_call_completes_in_order)
{
	struct gzt_target_cfg cfg = { 4096, GZT_ACCESS_ALL, 0, 0, 0 };
	struct gzt_target t;
	struct gzt_ep ep;
	struct genzio_send_wr wr[8], *bad = NULL;
	struct genzio_sge sge[8];
	struct genzio_wc wc[8];
	uint64_t val[8];

	cr_assert_eq(gzt_ep_open(&ep, 0, 0), 0);
	gzt_target_start(&t, &cfg, &ep);
	gzt_connect_to(&ep, &t);
	for (int i = 0; i < 8; i++) {
		val[i] = 0x0101010101010101ull * (uint64_t)(i + 1);
		sge[i] = (struct genzio_sge){ (uintptr_t)&val[i], 8, 0 };
		wr[i] = (struct genzio_send_wr){
			.wr_id = (uint64_t)i, .next = i < 7 ? &wr[i + 1] : NULL,
			.sg_list = &sge[i], .num_sge = 1,
			.opcode = GENZIO_WR_WRITE,
			.send_flags = GENZIO_SEND_INLINE | GENZIO_SEND_SIGNALED,
			.rdma = { t.info.addr + 8 * (uint64_t)i, t.info.rkey },
		};
	}
	cr_assert_eq(genzio_post_send(ep.qp, wr, &bad), 0);
	/* an engine of its own (vfio) completes them as it goes */
	for (int n = 0; n < 8; n++)
		cr_assert_eq(gzt_poll_one(ep.cq, &wc[n], GZT_WAIT_MS), 1);
	for (int i = 0; i < 8; i++) {
		cr_assert_eq(wc[i].wr_id, (uint64_t)i);
		cr_assert_eq(wc[i].status, GENZIO_WC_SUCCESS);
	}
	gzt_target_stop(&t);
	gzt_ep_close(&ep);
}

Test(rma, rd_queue_pair_addresses_each_request_by_ah)
{
	GZT_REQUIRE(RD);
	struct gzt_target_cfg cfg = { 4096, GZT_ACCESS_ALL, 0, 0, 0 };
	struct gzt_target t;
	struct gzt_ep ep;
	struct genzio_ah *ah;
	struct genzio_wc wc;
	uint64_t x = 42;

	cr_assert_eq(gzt_ep_open_type(&ep, 0, 0, GENZIO_QPT_RD), 0);
	gzt_target_start(&t, &cfg, &ep);
	cr_assert_eq(genzio_ah_create(ep.pd, t.info.gcid, &ah), 0);
	struct genzio_sge sge = { (uintptr_t)&x, 8, 0 };
	struct genzio_send_wr wr = {
		.sg_list = &sge, .num_sge = 1, .opcode = GENZIO_WR_WRITE,
		.send_flags = GENZIO_SEND_INLINE, .ah = ah,
		.remote_qpn = t.info.qpn,
		.rdma = { t.info.addr, t.info.rkey },
	};
	cr_assert_eq(gzt_post_wait(&ep, &wr, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	/* the RD destination is checked like an RC one */
	wr.remote_qpn = t.info.qpn ^ 1;
	cr_assert_eq(gzt_post_wait(&ep, &wr, &wc), 0);
	cr_assert(gzt_remote_fault_is(wc.status, GENZIO_WC_REM_QP), "%s",
		  genzio_wc_status_str(wc.status));
	cr_assert_eq(genzio_ah_destroy(ah), 0);
	gzt_target_stop(&t);
	gzt_ep_close(&ep);
}

static int writer_main(int fd, void *arg)
{
	uint32_t seed = (uint32_t)(uintptr_t)arg;
	struct genzio_conn_info peer;
	struct genzio_mr *mr;
	struct genzio_wc wc;
	struct gzt_ep ep;
	uint8_t buf[65536];
	char go;

	if (gzt_ep_open(&ep, 0, 0) || gzt_child_join(fd, &ep, &peer) ||
	    genzio_mr_reg(ep.pd, buf, sizeof(buf), GENZIO_ACCESS_LOCAL_WRITE,
			  &mr))
		return 20;
	gzt_fill(buf, sizeof(buf), seed);
	if (gzt_recv_token(fd, &go) ||
	    gzt_write(&ep, buf, sizeof(buf), mr->lkey,
		      peer.addr + (seed - 1) * sizeof(buf), peer.rkey, &wc) ||
	    wc.status)
		return 21;
	genzio_mr_dereg(mr);
	return gzt_ep_close(&ep) ? 22 : 0;
}

Test(rma, two_writer_processes_fill_disjoint_halves_of_a_third)
{
	struct gzt_target_cfg cfg = { 2 * 65536, GZT_ACCESS_ALL, 0, 0, 0 };
	struct gzt_child w[2];
	struct gzt_target t;

	gzt_target_start(&t, &cfg, NULL);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(gzt_fork(&w[i], writer_main,
				      (void *)(uintptr_t)(i + 1)), 0);
		gzt_target_hand(&t, w[i].fd);
	}
	for (int i = 0; i < 2; i++)
		gzt_send_token(w[i].fd, 'g');
	for (int i = 0; i < 2; i++)
		cr_assert_eq(gzt_wait(&w[i]), 0, "writer %d failed", i);
	for (uint32_t i = 0; i < 2; i++) {
		struct gzt_verify v = { i * 65536, 65536, i + 1, 0 };

		cr_assert(gzt_target_verify(&t, &v), "half %u", i);
	}
	gzt_target_stop(&t);
}

Test(rma, loopback_queue_pair_writes_own_memory)
{
	struct gzt_ep ep;
	struct genzio_wc wc;
	uint64_t x = 7;

	cr_assert_eq(gzt_ep_open(&ep, 4096, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_connect(ep.qp, &ep.info), 0);
	struct genzio_sge sge = { (uintptr_t)&x, 8, 0 };
	struct genzio_send_wr wr = {
		.sg_list = &sge, .num_sge = 1, .opcode = GENZIO_WR_WRITE,
		.send_flags = GENZIO_SEND_INLINE,
		.rdma = { ep.info.addr + 64, ep.info.rkey },
	};
	cr_assert_eq(gzt_post_wait(&ep, &wr, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	cr_assert_eq(((uint64_t *)ep.mem->addr)[8], 7);
	gzt_ep_close(&ep);
}

Test(rma, page_aligned_private_memory_is_reachable_after_reg)
{
	struct gzt_ep ep, peer;
	struct genzio_mr *mr;
	struct genzio_wc wc;
	uint64_t x = 0xabcdef;
	uint8_t *p;

	GZT_REQUIRE_ANY(REG_CONVERT, REG_ANY);
	cr_assert_eq(posix_memalign((void **)&p, 4096, 3 * 4096), 0);
	gzt_fill(p, 3 * 4096, 3);
	cr_assert_eq(gzt_ep_open(&ep, 0, 0), 0);
	cr_assert_eq(genzio_mr_reg(ep.pd, p, 3 * 4096, GZT_ACCESS_ALL, &mr), 0);
	/* registration moved the pages into data space: same bytes */
	cr_assert_eq(gzt_check(p, 3 * 4096, 3), -1);
	cr_assert_eq(gzt_ep_open(&peer, 0, 0), 0);
	cr_assert_eq(gzt_ep_pair(&peer, &ep), 0);
	struct genzio_sge sge = { (uintptr_t)&x, 8, 0 };
	struct genzio_send_wr wr = {
		.sg_list = &sge, .num_sge = 1, .opcode = GENZIO_WR_WRITE,
		.send_flags = GENZIO_SEND_INLINE,
		.rdma = { (uintptr_t)p + 4096, mr->rkey },
	};
	cr_assert_eq(gzt_post_wait(&peer, &wr, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	cr_assert_eq(*(uint64_t *)(p + 4096), 0xabcdef);
	cr_assert_eq(gzt_check(p, 4096, 3), -1, "neighbour bytes changed");
	cr_assert_eq(genzio_mr_dereg(mr), 0);
	/* after dereg the memory stays the application's, bytes intact */
	cr_assert_eq(*(uint64_t *)(p + 4096), 0xabcdef);
	gzt_ep_close(&peer);
	gzt_ep_close(&ep);
	free(p);
}

Test(rma, inline_read_returns_small_data_without_registration)
{
	struct gzt_target_cfg cfg = { 4096, GZT_ACCESS_ALL, 21, 0, 0 };
	struct gzt_target t;
	struct gzt_ep ep;
	struct genzio_wc wc;
	uint8_t stack[GENZIO_MAX_INLINE], expect[64];

	cr_assert_eq(gzt_ep_open(&ep, 0, 0), 0);
	gzt_target_start(&t, &cfg, &ep);
	gzt_connect_to(&ep, &t);
	memset(stack, 0, sizeof(stack));
	/* GETIMM: <= 32 bytes come back in the completion entry */
	struct genzio_sge sge = { (uintptr_t)stack, sizeof(stack), 0 };
	struct genzio_send_wr wr = {
		.sg_list = &sge, .num_sge = 1, .opcode = GENZIO_WR_READ,
		.send_flags = GENZIO_SEND_INLINE,
		.rdma = { t.info.addr + 32, t.info.rkey },
	};
	cr_assert_eq(gzt_post_wait(&ep, &wr, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	cr_assert_eq(wc.byte_len, sizeof(stack));
	gzt_fill(expect, sizeof(expect), 21);
	cr_assert_eq(memcmp(stack, expect + 32, sizeof(stack)), 0);
	gzt_target_stop(&t);
	gzt_ep_close(&ep);
}
