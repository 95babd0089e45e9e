// SPDX-License-Identifier: MIT
/* Remote atomics: exact totals under contention, and every op's result. */
#include <string.h>

#include "api.h"

TestSuite(atomic, .init = gzt_fabric_init, .fini = gzt_fabric_fini,
	  .timeout = 120);

#define NPROC 4
#define NADD 100000

static int adder_main(int fd, void *arg)
{
	struct genzio_conn_info peer;
	struct genzio_wc wc[16];
	struct gzt_ep ep;
	int last = 0;
	char go;

	(void)arg;
	if (gzt_ep_open(&ep, 0, 0) || gzt_child_join(fd, &ep, &peer) ||
	    gzt_recv_token(fd, &go))
		return 30;
	for (int i = 0; i < NADD; i++) {
		/* a completion every 64th: the cq never fills */
		struct genzio_send_wr wr = {
			.wr_id = (uint64_t)i,
			.opcode = GENZIO_WR_ATOMIC_FADD,
			.send_flags = i % 64 == 63 || i == NADD - 1 ?
					      GENZIO_SEND_SIGNALED : 0,
			.atomic = { .remote_addr = peer.addr,
				    .rkey = peer.rkey, .size = 8,
				    .operand = 1 },
		}, *bad;

		int ret, n, tries = 0;

		/* a full send queue (an engine behind us): completions
		 * free it, as in verbs */
		while ((ret = genzio_post_send(ep.qp, &wr, &bad)) == -EAGAIN &&
		       ++tries < 10000000)
			for (n = genzio_poll_cq(ep.cq, 16, wc); n > 0; n--)
				if (wc[n - 1].status)
					return 32;
		if (ret)
			return 31;
		n = genzio_poll_cq(ep.cq, 16, wc);

		for (int k = 0; k < n; k++)
			if (wc[k].status)
				return 32;
			else if (wc[k].wr_id == NADD - 1)
				last = 1;
	}
	/* the last one done (RC: all are) before the queue pair goes: a
	 * destroy drops what an engine has not run yet */
	while (!last) {
		if (gzt_poll_one(ep.cq, wc, GZT_WAIT_MS) != 1 || wc[0].status)
			return 34;
		last = wc[0].wr_id == NADD - 1;
	}
	return gzt_ep_close(&ep) ? 33 : 0;
}

Test(atomic, four_processes_100000_fadd_each_sum_exactly)
{
	GZT_REQUIRE(ATOMIC);
	struct gzt_target_cfg cfg = { 4096, GZT_ACCESS_ALL, 0, 0, 0 };
	struct gzt_child c[NPROC];
	struct gzt_target t;
	struct gzt_ep ep;
	struct genzio_mr *mr;
	struct genzio_wc wc;
	uint64_t total = 0;

	gzt_target_start(&t, &cfg, NULL);
	for (int i = 0; i < NPROC; i++) {
		cr_assert_eq(gzt_fork(&c[i], adder_main, NULL), 0);
		gzt_target_hand(&t, c[i].fd);
	}
	for (int i = 0; i < NPROC; i++)
		gzt_send_token(c[i].fd, 'g');
	for (int i = 0; i < NPROC; i++)
		cr_assert_eq(gzt_wait(&c[i]), 0, "adder %d failed", i);
	cr_assert_eq(gzt_ep_open(&ep, 0, 0), 0);
	gzt_connect_to(&ep, &t);
	cr_assert_eq(genzio_mr_reg(ep.pd, &total, 8, GENZIO_ACCESS_LOCAL_WRITE,
				   &mr), 0);
	cr_assert_eq(gzt_read(&ep, &total, 8, mr->lkey, t.info.addr,
			      t.info.rkey, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	cr_assert_eq(total, (uint64_t)NPROC * NADD);
	genzio_mr_dereg(mr);
	gzt_ep_close(&ep);
	gzt_target_stop(&t);
}

struct case64 {
	uint32_t op;
	uint64_t before, operand, compare, after;
};

static const struct case64 cases64[] = {
	{ GENZIO_WR_ATOMIC_SWAP, 5, 9, 0, 9 },
	{ GENZIO_WR_ATOMIC_CAS, 5, 9, 5, 9 },
	{ GENZIO_WR_ATOMIC_CAS, 5, 9, 4, 5 },	/* compare fails: unchanged */
	{ GENZIO_WR_ATOMIC_FADD, ~0ull, 2, 0, 1 },	/* wraps */
	{ GENZIO_WR_ATOMIC_AND, 0xff00, 0x0ff0, 0, 0x0f00 },
	{ GENZIO_WR_ATOMIC_OR, 0xff00, 0x00ff, 0, 0xffff },
	{ GENZIO_WR_ATOMIC_XOR, 0xff00, 0x0ff0, 0, 0xf0f0 },
	{ GENZIO_WR_ATOMIC_SMIN, 3, (uint64_t)-4, 0, (uint64_t)-4 },
	{ GENZIO_WR_ATOMIC_UMIN, 3, (uint64_t)-4, 0, 3 },
	{ GENZIO_WR_ATOMIC_SMAX, 3, (uint64_t)-4, 0, 3 },
	{ GENZIO_WR_ATOMIC_UMAX, 3, (uint64_t)-4, 0, (uint64_t)-4 },
};

/* The atomic opcodes @ep's device has for @size-byte operands
 * (atomic_ops32 / atomic_ops64): the others are refused at post. */
static uint32_t ops_of(struct gzt_ep *ep, uint32_t size)
{
	struct genzio_device_attr a;

	cr_assert_eq(genzio_device_query(ep->ctx, &a), 0);
	return size == 4 ? a.atomic_ops32 : a.atomic_ops64;
}

Test(atomic, every_64bit_op_returns_old_value_and_applies)
{
	GZT_REQUIRE(ATOMIC);
	struct gzt_ep ep;
	struct genzio_wc wc;
	uint64_t *word;
	uint32_t ops;

	cr_assert_eq(gzt_ep_open(&ep, 4096, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_connect(ep.qp, &ep.info), 0);
	ops = ops_of(&ep, 8);
	cr_assert(ops & GENZIO_ATOMIC_OP(GENZIO_WR_ATOMIC_CAS) &&
		  ops & GENZIO_ATOMIC_OP(GENZIO_WR_ATOMIC_FADD),
		  "GENZIO_CAP_ATOMIC names at least CAS and FADD: %#x", ops);
	word = (uint64_t *)ep.mem->addr + 1;
	for (size_t i = 0; i < sizeof(cases64) / sizeof(cases64[0]); i++) {
		const struct case64 *c = &cases64[i];
		int ret;

		*word = c->before;
		ret = gzt_atomic(&ep, c->op, 8, (uintptr_t)word, ep.info.rkey,
				 c->operand, c->compare, &wc);
		if (!(ops & GENZIO_ATOMIC_OP(c->op))) {
			/* not in atomic_ops64: refused at post, untouched */
			cr_assert_eq(ret, -EOPNOTSUPP, "case %zu", i);
			cr_assert_eq(*word, c->before, "case %zu", i);
			continue;
		}
		cr_assert_eq(ret, 0, "case %zu", i);
		cr_assert_eq(wc.status, GENZIO_WC_SUCCESS, "case %zu", i);
		cr_assert_eq(wc.opcode, GENZIO_WC_ATOMIC);
		cr_assert_eq(wc.byte_len, 8);
		cr_assert_eq(wc.result, c->before, "case %zu old", i);
		cr_assert_eq(*word, c->after, "case %zu new %#llx", i,
			     (unsigned long long)*word);
	}
	gzt_ep_close(&ep);
}

Test(atomic, every_32bit_op_touches_only_its_four_bytes)
{
	GZT_REQUIRE(ATOMIC);
	struct gzt_ep ep;
	struct genzio_wc wc;
	uint32_t *w, ops;

	cr_assert_eq(gzt_ep_open(&ep, 4096, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_connect(ep.qp, &ep.info), 0);
	ops = ops_of(&ep, 4);
	w = (uint32_t *)ep.mem->addr;
	for (size_t i = 0; i < sizeof(cases64) / sizeof(cases64[0]); i++) {
		const struct case64 *c = &cases64[i];
		uint32_t before = (uint32_t)c->before;
		uint32_t after = (uint32_t)c->after;
		int ret;

		w[0] = 0xa5a5a5a5;
		w[1] = before;
		w[2] = 0x5a5a5a5a;
		ret = gzt_atomic(&ep, c->op, 4, (uintptr_t)&w[1], ep.info.rkey,
				 c->operand, c->compare, &wc);
		if (!(ops & GENZIO_ATOMIC_OP(c->op))) {
			/* not in atomic_ops32: refused at post, untouched */
			cr_assert_eq(ret, -EOPNOTSUPP, "case %zu", i);
			cr_assert_eq(w[1], before, "case %zu", i);
			cr_assert_eq(w[0], 0xa5a5a5a5);
			cr_assert_eq(w[2], 0x5a5a5a5a);
			continue;
		}
		cr_assert_eq(ret, 0, "case %zu", i);
		cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
		cr_assert_eq(wc.byte_len, 4);
		cr_assert_eq(wc.result, before, "case %zu old", i);
		cr_assert_eq(w[1], after, "case %zu new %#x", i, w[1]);
		cr_assert_eq(w[0], 0xa5a5a5a5);
		cr_assert_eq(w[2], 0x5a5a5a5a);
	}
	gzt_ep_close(&ep);
}

Test(atomic, old_value_also_lands_in_the_local_sge)
{
	GZT_REQUIRE(ATOMIC);
	struct gzt_ep ep;
	struct genzio_mr *mr;
	struct genzio_wc wc;
	uint64_t old = 0;

	cr_assert_eq(gzt_ep_open(&ep, 4096, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_connect(ep.qp, &ep.info), 0);
	cr_assert_eq(genzio_mr_reg(ep.pd, &old, 8, GENZIO_ACCESS_LOCAL_WRITE,
				   &mr), 0);
	*(uint64_t *)ep.mem->addr = 1000;
	struct genzio_sge sge = { (uintptr_t)&old, 8, mr->lkey };
	struct genzio_send_wr wr = {
		.sg_list = &sge, .num_sge = 1,
		.opcode = GENZIO_WR_ATOMIC_FADD,
		.atomic = { .remote_addr = ep.info.addr, .rkey = ep.info.rkey,
			    .size = 8, .operand = 5 },
	};
	cr_assert_eq(gzt_post_wait(&ep, &wr, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	cr_assert_eq(old, 1000);
	cr_assert_eq(*(uint64_t *)ep.mem->addr, 1005);
	genzio_mr_dereg(mr);
	gzt_ep_close(&ep);
}
