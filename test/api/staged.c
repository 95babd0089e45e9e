// SPDX-License-Identifier: MIT
/*
 * Receives into memory outside data space (GENZIO_CAP_RECV_STAGED): the
 * heap buffer a verbs program posts. The provider receives into its own
 * buffer; what the application sees must not differ from a receive into
 * data space, except the copy at poll, which genzio_qp_query() counts.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"

TestSuite(staged, .init = gzt_fabric_init, .fini = gzt_fabric_fini,
	  .timeout = 60);

#define CANARY 0xa5

/* Sender s and receiver r, connected both ways, and a heap buffer of r
 * (len bytes between canaries) registered for local write. */
struct heap {
	uint8_t *raw, *buf;
	size_t len;
	struct genzio_mr *mr;
};

static void setup(struct gzt_ep *s, struct gzt_ep *r, struct heap *h,
		  size_t len)
{
	cr_assert_eq(gzt_ep_open(s, 1u << 20, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_ep_open(r, 1u << 20, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_ep_pair(s, r), 0);
	h->len = len;
	h->raw = malloc(len + 128);
	cr_assert_not_null(h->raw);
	memset(h->raw, CANARY, len + 128);
	h->buf = h->raw + 64;
	cr_assert_eq(genzio_mr_reg(r->pd, h->buf, len,
				   GENZIO_ACCESS_LOCAL_WRITE, &h->mr), 0);
}

static void teardown(struct gzt_ep *s, struct gzt_ep *r, struct heap *h)
{
	if (h->mr)
		cr_assert_eq(genzio_mr_dereg(h->mr), 0);
	free(h->raw);
	gzt_ep_close(s);
	gzt_ep_close(r);
}

/* Nothing outside [buf, buf + n) changed, nor inside past n. */
static void assert_canaries(const struct heap *h, size_t n)
{
	for (size_t i = 0; i < 64; i++) {
		cr_assert_eq(h->raw[i], CANARY, "byte %zu before", 64 - i);
		cr_assert_eq(h->buf[h->len + i], CANARY, "byte %zu after", i);
	}
	for (size_t i = n; i < h->len; i++)
		cr_assert_eq(h->buf[i], CANARY, "byte %zu past the message",
			     i);
}

static int post_heap(struct gzt_ep *r, const struct heap *h, uint32_t len,
		     uint64_t wr_id)
{
	struct genzio_sge sge = { (uintptr_t)h->buf, len, h->mr->lkey };
	struct genzio_recv_wr wr = { .wr_id = wr_id, .sg_list = &sge,
				     .num_sge = 1 }, *bad = NULL;
	int ret = genzio_post_recv(r->qp, &wr, &bad);

	cr_assert(ret ? bad == &wr : 1, "bad_wr names the refused one");
	return ret;
}

static void send(struct gzt_ep *s, uint32_t len, uint32_t seed,
		 struct genzio_wc *wc)
{
	struct genzio_sge sge = { s->info.addr, len, s->mr->lkey };
	struct genzio_send_wr wr = { .wr_id = 1, .sg_list = &sge,
				     .num_sge = 1, .opcode = GENZIO_WR_SEND };

	gzt_fill(s->mem->addr, len, seed);
	cr_assert_eq(gzt_post_wait(s, &wr, wc), 0);
}

static struct genzio_qp_info query(struct gzt_ep *r)
{
	struct genzio_qp_info i;

	cr_assert_eq(genzio_qp_query(r->qp, &i), 0);
	return i;
}

Test(staged, outside_data_space_a_receive_is_refused_unless_the_device_stages)
{
	struct genzio_device_attr a;
	struct gzt_ep s, r;
	struct genzio_wc wc;
	struct heap h;
	int ret;

	setup(&s, &r, &h, 256);
	/* what the device says, not what GZT_CAPS_HIDE shows */
	cr_assert_eq(genzio_device_query(r.ctx, &a), 0);
	/* staging is one way of taking any registration */
	cr_assert(!(a.caps & GENZIO_CAP_RECV_STAGED) ||
		  a.caps & GENZIO_CAP_RECV_ANY, "RECV_STAGED without RECV_ANY");
	ret = post_heap(&r, &h, 256, 1);
	/* GENZIO_CAP_RECV_ANY: taken (shm stages it, verbs' device writes
	 * it directly), and it works as a receive; without it, refused */
	cr_assert_eq(ret, a.caps & GENZIO_CAP_RECV_ANY ? 0 : -EINVAL, "%d",
		     ret);
	if (!ret && a.caps & GENZIO_CAP_MSG) {
		send(&s, 100, 7, &wc);
		cr_assert_eq(wc.status, GENZIO_WC_SUCCESS, "%s",
			     genzio_wc_status_str(wc.status));
		cr_assert_eq(gzt_poll_one(r.cq, &wc, GZT_WAIT_MS), 1);
		cr_assert_eq(wc.status, GENZIO_WC_SUCCESS, "%s",
			     genzio_wc_status_str(wc.status));
		cr_assert_eq(wc.wr_id, 1);
		cr_assert_eq(wc.byte_len, 100);
		cr_assert_eq(gzt_check(h.buf, 100, 7), -1);
		assert_canaries(&h, 100);
	}
	teardown(&s, &r, &h);
}

Test(staged, a_send_into_heap_memory_lands_at_poll_and_is_counted)
{
	GZT_REQUIRE2(MSG, RECV_STAGED);
	static const uint32_t sizes[] = { 1, 63, 64, 4095, 4096, 4097 };
	struct gzt_ep s, r;
	struct genzio_wc wc;
	struct genzio_device_attr a;
	struct heap h;
	uint64_t bytes = 0;

	setup(&s, &r, &h, 8192);
	cr_assert_eq(genzio_device_query(r.ctx, &a), 0);
	cr_assert_geq(query(&r).max_recv_staged, 8192);
	cr_assert_geq(a.max_recv_staged, query(&r).max_recv_staged);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		memset(h.buf, CANARY, h.len);
		cr_assert_eq(post_heap(&r, &h, 8192, 100 + i), 0);
		send(&s, sizes[i], (uint32_t)i + 1, &wc);
		cr_assert_eq(wc.status, GENZIO_WC_SUCCESS, "%s",
			     genzio_wc_status_str(wc.status));
		cr_assert_eq(gzt_poll_one(r.cq, &wc, GZT_WAIT_MS), 1);
		cr_assert_eq(wc.status, GENZIO_WC_SUCCESS, "%s",
			     genzio_wc_status_str(wc.status));
		cr_assert_eq(wc.opcode, GENZIO_WC_RECV);
		cr_assert_eq(wc.wr_id, 100 + i);
		cr_assert_eq(wc.byte_len, sizes[i]);
		cr_assert_eq(gzt_check(h.buf, sizes[i], (uint32_t)i + 1), -1,
			     "size %u", sizes[i]);
		assert_canaries(&h, sizes[i]);
		bytes += sizes[i];
		cr_assert_eq(query(&r).recv_staged, i + 1);
		cr_assert_eq(query(&r).recv_staged_bytes, bytes);
	}
	teardown(&s, &r, &h);
}

Test(staged, scatter_over_heap_and_data_space_keeps_the_order)
{
	GZT_REQUIRE2(MSG, RECV_STAGED);
	struct gzt_ep s, r;
	struct genzio_wc wc;
	struct heap h;
	uint8_t got[100];

	setup(&s, &r, &h, 256);
	memset(r.mem->addr, 0, 64);
	struct genzio_sge sg[3] = {
		{ (uintptr_t)h.buf, 10, h.mr->lkey },
		{ r.info.addr, 30, r.mr->lkey },
		{ (uintptr_t)h.buf + 100, 60, h.mr->lkey },
	};
	struct genzio_recv_wr rw = { .wr_id = 5, .sg_list = sg,
				     .num_sge = 3 }, *bad;
	cr_assert_eq(genzio_post_recv(r.qp, &rw, &bad), 0);
	send(&s, 100, 9, &wc);
	cr_assert_eq(gzt_poll_one(r.cq, &wc, GZT_WAIT_MS), 1);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	cr_assert_eq(wc.byte_len, 100);
	memcpy(got, h.buf, 10);
	memcpy(got + 10, r.mem->addr, 30);
	memcpy(got + 40, h.buf + 100, 60);
	cr_assert_eq(gzt_check(got, 100, 9), -1);
	for (int i = 10; i < 100; i++)
		cr_assert_eq(h.buf[i], CANARY, "heap byte %d", i);
	teardown(&s, &r, &h);
}

Test(staged, every_slot_is_reused_in_turn_with_its_own_payload)
{
	GZT_REQUIRE2(MSG, RECV_STAGED);
	struct gzt_ep s, r;
	struct genzio_wc wc;
	struct heap h;
	enum { ROUNDS = 3 * 256 + 7, AHEAD = 8, LEN = 300 };

	/* AHEAD receives outstanding, each in its own part of the heap
	 * buffer, around the 256-entry ring three times */
	setup(&s, &r, &h, AHEAD * LEN);
	for (uint32_t i = 0; i < AHEAD; i++) {
		struct genzio_sge sge = { (uintptr_t)h.buf + i * LEN, LEN,
					  h.mr->lkey };
		struct genzio_recv_wr wr = { .wr_id = i, .sg_list = &sge,
					     .num_sge = 1 }, *bad;
		cr_assert_eq(genzio_post_recv(r.qp, &wr, &bad), 0);
	}
	for (uint32_t n = 0; n < ROUNDS; n++) {
		uint32_t part = n % AHEAD, len = 1 + n % LEN;

		send(&s, len, n + 1, &wc);
		cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
		cr_assert_eq(gzt_poll_one(r.cq, &wc, GZT_WAIT_MS), 1);
		cr_assert_eq(wc.status, GENZIO_WC_SUCCESS, "round %u", n);
		cr_assert_eq(wc.wr_id, n, "round %u", n);
		cr_assert_eq(wc.byte_len, len);
		cr_assert_eq(gzt_check(h.buf + part * LEN, len, n + 1), -1,
			     "round %u", n);
		struct genzio_sge sge = { (uintptr_t)h.buf + part * LEN, LEN,
					  h.mr->lkey };
		struct genzio_recv_wr wr = { .wr_id = n + AHEAD,
					     .sg_list = &sge, .num_sge = 1 },
				      *bad;
		cr_assert_eq(genzio_post_recv(r.qp, &wr, &bad), 0);
	}
	cr_assert_eq(query(&r).recv_staged, ROUNDS);
	teardown(&s, &r, &h);
}

Test(staged, a_receive_larger_than_the_staging_slot_is_refused)
{
	GZT_REQUIRE2(MSG, RECV_STAGED);
	struct gzt_ep s, r;
	struct heap h;
	uint64_t max;

	setup(&s, &r, &h, 1u << 20);
	max = query(&r).max_recv_staged;
	cr_assert_lt(max, h.len);
	cr_assert_eq(post_heap(&r, &h, (uint32_t)max + 1, 1), -EINVAL);
	cr_assert_eq(post_heap(&r, &h, (uint32_t)max, 2), 0);
	teardown(&s, &r, &h);
}

Test(staged, too_long_a_message_fails_both_sides_and_writes_nothing)
{
	GZT_REQUIRE2(MSG, RECV_STAGED);
	struct gzt_ep s, r;
	struct genzio_wc wc;
	struct heap h;

	setup(&s, &r, &h, 64);
	cr_assert_eq(post_heap(&r, &h, 16, 3), 0);
	send(&s, 17, 1, &wc);
	cr_assert_eq(wc.status, GENZIO_WC_REM_INV_REQ);
	cr_assert_eq(gzt_poll_one(r.cq, &wc, GZT_WAIT_MS), 1);
	cr_assert_eq(wc.status, GENZIO_WC_LOC_LEN);
	cr_assert_eq(wc.wr_id, 3);
	assert_canaries(&h, 0);
	cr_assert_eq(query(&r).recv_staged, 0);
	teardown(&s, &r, &h);
}

Test(staged, a_buffer_deregistered_before_poll_gets_nothing)
{
	GZT_REQUIRE2(MSG, RECV_STAGED);
	struct gzt_ep s, r;
	struct genzio_wc wc;
	struct heap h;

	setup(&s, &r, &h, 256);
	cr_assert_eq(post_heap(&r, &h, 256, 4), 0);
	send(&s, 100, 2, &wc);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	cr_assert_eq(genzio_mr_dereg(h.mr), 0);
	h.mr = NULL;
	cr_assert_eq(gzt_poll_one(r.cq, &wc, GZT_WAIT_MS), 1);
	cr_assert_eq(wc.status, GENZIO_WC_LOC_PROT, "%s",
		     genzio_wc_status_str(wc.status));
	cr_assert_eq(wc.wr_id, 4);
	cr_assert_eq(wc.byte_len, 0);
	assert_canaries(&h, 0);
	teardown(&s, &r, &h);
}

Test(staged, write_imm_consumes_a_staged_receive_without_touching_it)
{
	gzt_require_caps(GENZIO_CAP_MSG | GENZIO_CAP_WRITE_IMM |
				 GENZIO_CAP_RECV_STAGED,
			 "MSG, WRITE_IMM, RECV_STAGED");
	struct gzt_ep s, r;
	struct heap h;

	setup(&s, &r, &h, 64);
	cr_assert_eq(post_heap(&r, &h, 64, 6), 0);
	gzt_write_imm_lands(&s, &r, 6);
	assert_canaries(&h, 0);
	cr_assert_eq(query(&r).recv_staged, 0);
	teardown(&s, &r, &h);
}

Test(staged, flushed_staged_receives_complete_and_write_nothing)
{
	GZT_REQUIRE2(MSG, RECV_STAGED);
	struct gzt_ep s, r;
	struct genzio_wc wc;
	struct heap h;

	setup(&s, &r, &h, 64);
	cr_assert_eq(post_heap(&r, &h, 64, 7), 0);
	cr_assert_eq(post_heap(&r, &h, 64, 8), 0);
	cr_assert_eq(genzio_qp_reset(r.qp), 0);
	for (uint64_t id = 7; id <= 8; id++) {
		cr_assert_eq(gzt_poll_one(r.cq, &wc, GZT_WAIT_MS), 1);
		cr_assert_eq(wc.status, GENZIO_WC_FLUSHED);
		cr_assert_eq(wc.wr_id, id);
	}
	assert_canaries(&h, 0);
	teardown(&s, &r, &h);
}

Test(staged, a_deep_queue_stages_at_most_1024_receives_at_once)
{
	GZT_REQUIRE2(MSG, RECV_STAGED);
	struct genzio_qp_attr qa = {
		.qp_type = GENZIO_QPT_RC, .sq_depth = 64, .rq_depth = 4096,
		.max_send_sge = 1, .max_recv_sge = 1,
	};
	struct genzio_cq_attr ca = { .depth = 8192 };
	struct gzt_ep s, r;
	struct genzio_cq *cq;
	struct genzio_wc wc;
	struct heap h;
	uint64_t max;
	int n = 0, ret;

	setup(&s, &r, &h, 64);
	cr_assert_eq(genzio_cq_create(r.ctx, &ca, &cq), 0);
	qa.send_cq = qa.recv_cq = cq;
	cr_assert_eq(gzt_qp_replace(&r, &qa, &s), 0);
	max = query(&r).max_recv_staged;
	cr_assert_geq(max, 4096, "%llu", (unsigned long long)max);
	/* the staging area stays bounded however deep the queue is */
	cr_assert_leq(max * 1024, 4u << 20);
	while (!(ret = post_heap(&r, &h, 64, (uint64_t)n)))
		n++;
	cr_assert_eq(ret, -EAGAIN);
	cr_assert_eq(n, 1024, "staged receives outstanding");
	/* data space still posts: the queue itself is not full */
	struct genzio_sge ds = { r.info.addr, 64, r.mr->lkey };
	struct genzio_recv_wr dw = { .wr_id = 5000, .sg_list = &ds,
				     .num_sge = 1 }, *bad;
	cr_assert_eq(genzio_post_recv(r.qp, &dw, &bad), 0);
	/* still 1024 outstanding before the next one: refused; two
	 * reaped, it fits */
	cr_assert_eq(post_heap(&r, &h, 64, 9999), -EAGAIN);
	for (uint32_t i = 0; i < 2; i++) {
		send(&s, 10, 3 + i, &wc);
		cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
		cr_assert_eq(gzt_poll_one(cq, &wc, GZT_WAIT_MS), 1);
		cr_assert_eq(wc.wr_id, i);
		cr_assert_eq(gzt_check(h.buf, 10, 3 + i), -1);
	}
	cr_assert_eq(post_heap(&r, &h, 64, 9999), 0);
	cr_assert_eq(genzio_qp_destroy(r.qp), 0);
	r.qp = NULL;
	cr_assert_eq(genzio_cq_destroy(cq), 0);
	teardown(&s, &r, &h);
}
