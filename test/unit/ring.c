// SPDX-License-Identifier: MIT
/* lib/xdm/cmdq.h and ring.h: command queues (entries, doorbell, head
 * write-back apart) and phase-bit completion rings over many laps. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "xdm/cmdq.h"
#include "xdm/ring.h"

struct rig {
	struct gz_ring_ctrl ctrl;
	struct gz_ring r;
	uint8_t *ent;
};

static void rig_init(struct rig *g, uint32_t n)
{
	cr_assert_eq(posix_memalign((void **)&g->ent, 64, n * 64u), 0);
	memset(g->ent, 0, n * 64u);
	cr_assert_eq(gz_ring_init(&g->r, &g->ctrl, g->ent, n), 0);
}

TestSuite(ring, .timeout = 30);

Test(ring, init_rejects_sizes_that_are_not_powers_of_two)
{
	struct gz_ring_ctrl c;
	struct gz_ring r;
	uint8_t buf[64 * 6];

	cr_assert_eq(gz_ring_init(&r, &c, buf, 0), -EINVAL);
	cr_assert_eq(gz_ring_init(&r, &c, buf, 6), -EINVAL);
	cr_assert_eq(gz_ring_init(&r, &c, buf, 4), 0);
}

/* A command queue and its engine over host memory, or with a doorbell
 * that only records what it was told (a device's BAR register). */
struct qrig {
	uint8_t *ent;
	_Atomic uint32_t db;		/* the doorbell word */
	_Atomic uint32_t head_wb;	/* where the engine writes back */
	struct gz_cmdq q;
	struct gz_cmdq_engine e;
};

static void qrig_init(struct qrig *g, uint32_t n, gz_cmdq_ring_fn ring)
{
	cr_assert_eq(posix_memalign((void **)&g->ent, 64, n * 64u), 0);
	memset(g->ent, 0, n * 64u);
	atomic_store(&g->db, 0);
	atomic_store(&g->head_wb, 0);
	cr_assert_eq(gz_cmdq_init(&g->q, g->ent, n, &g->head_wb, ring, &g->db),
		     0);
	gz_cmdq_engine_init(&g->e, g->ent, n, &g->db, &g->head_wb);
}

static uint32_t rung, rings;

/* A "register": the engine reads what it was last written. */
static void bar_ring(void *db, uint32_t tail)
{
	rings++;
	rung = tail;
	atomic_store_explicit((_Atomic uint32_t *)db, tail,
			      memory_order_release);
}

Test(ring, command_queue_init_rejects_bad_sizes_and_no_doorbell)
{
	struct gz_cmdq q;
	_Atomic uint32_t h = 0;
	uint8_t buf[64 * 6];

	cr_assert_eq(gz_cmdq_init(&q, buf, 6, &h, gz_cmdq_ring_mem, buf),
		     -EINVAL);
	cr_assert_eq(gz_cmdq_init(&q, buf, 0, &h, gz_cmdq_ring_mem, buf),
		     -EINVAL);
	cr_assert_eq(gz_cmdq_init(&q, buf, 4, &h, NULL, buf), -EINVAL);
	cr_assert_eq(gz_cmdq_init(&q, buf, 4, &h, gz_cmdq_ring_mem, buf), 0);
}

Test(ring, command_queue_delivers_in_order_over_five_laps)
{
	struct qrig g;
	uint32_t next_in = 0, next_out = 0;

	qrig_init(&g, 8, gz_cmdq_ring_mem);
	cr_assert_eq(gz_cmdq_space(&g.q), 8);
	while (next_out < 40) {
		/* produce up to 3, ring the doorbell once for the batch */
		for (int k = 0; k < 3 && gz_cmdq_space(&g.q); k++) {
			struct gz_xdm_cmd *c = gz_cmdq_next(&g.q);

			memset(c, 0, sizeof(*c));
			c->context = next_in++;
		}
		/* nothing is visible before the doorbell */
		cr_assert_eq(gz_cmdq_avail(&g.e), atomic_load(&g.db) - g.e.head);
		gz_cmdq_ring(&g.q);
		uint32_t avail = gz_cmdq_avail(&g.e), k;

		cr_assert_leq(avail, 8);
		for (k = 0; k < 2 && k < avail; k++) {
			cr_assert_eq(gz_cmdq_head(&g.e)->context, next_out++);
			gz_cmdq_done(&g.e, 1);
		}
	}
	free(g.ent);
}

Test(ring, command_queue_has_no_space_until_the_engine_writes_back)
{
	struct qrig g;

	qrig_init(&g, 4, gz_cmdq_ring_mem);
	for (int i = 0; i < 4; i++)
		gz_cmdq_next(&g.q);
	gz_cmdq_ring(&g.q);
	cr_assert_eq(gz_cmdq_space(&g.q), 0);
	gz_cmdq_done(&g.e, 1);
	cr_assert_eq(gz_cmdq_space(&g.q), 1, "the head came back in memory");
	free(g.ent);
}

Test(ring, a_device_doorbell_is_one_write_per_batch_of_the_tail)
{
	struct qrig g;

	qrig_init(&g, 16, bar_ring);
	rings = rung = 0;
	for (int i = 0; i < 5; i++)
		gz_cmdq_next(&g.q);
	cr_assert_eq(rings, 0, "filling entries rings nothing");
	cr_assert_eq(gz_cmdq_avail(&g.e), 0);
	gz_cmdq_ring(&g.q);
	cr_assert_eq(rings, 1);
	cr_assert_eq(rung, 5, "the doorbell carries the tail");
	cr_assert_eq(gz_cmdq_avail(&g.e), 5);
	free(g.ent);
}

Test(ring, a_tail_past_the_ring_is_a_broken_producer)
{
	struct qrig g;

	qrig_init(&g, 8, gz_cmdq_ring_mem);
	/* the doorbell word is the producer's: it may say anything */
	atomic_store(&g.db, 9);
	cr_assert_eq(gz_cmdq_avail(&g.e), UINT32_MAX);
	atomic_store(&g.db, 8);
	cr_assert_eq(gz_cmdq_avail(&g.e), 8);
	free(g.ent);
}

Test(ring, phase_bit_flips_each_lap_and_consumer_needs_no_tail)
{
	struct rig g;
	uint32_t cons = 0;

	rig_init(&g, 4);
	for (uint32_t i = 0; i < 4 * 6; i++) {
		uint32_t idx;
		struct gz_xdm_cqe *e;

		cr_assert_eq(gz_ring_phase(&g.r, i), ((i / 4) & 1) ? 0 : 1);
		cr_assert_null(gz_ring_cqe_peek(&g.r, cons),
			       "empty slot read as valid at %u", i);
		cr_assert_eq(gz_ring_reserve(&g.r, &idx), 0);
		cr_assert_eq(idx, i);
		e = gz_ring_slot(&g.r, idx);
		e->context = 1000 + i;
		gz_ring_cqe_publish(&g.r, idx, e);
		e = gz_ring_cqe_peek(&g.r, cons);
		cr_assert_not_null(e);
		cr_assert_eq(e->context, 1000 + i);
		gz_ring_consume(&g.r, ++cons);
	}
	free(g.ent);
}

Test(ring, reserve_refuses_when_every_slot_is_unread)
{
	struct rig g;
	uint32_t idx;

	rig_init(&g, 4);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(gz_ring_reserve(&g.r, &idx), 0);
		gz_ring_cqe_publish(&g.r, idx, gz_ring_slot(&g.r, idx));
	}
	cr_assert_eq(gz_ring_reserve(&g.r, &idx), -EAGAIN);
	cr_assert_not_null(gz_ring_cqe_peek(&g.r, 0));
	gz_ring_consume(&g.r, 1);
	cr_assert_eq(gz_ring_reserve(&g.r, &idx), 0);
	cr_assert_eq(idx, 4);
	/* slot 0 again, lap 1: not valid until published with phase 0 */
	cr_assert_null(gz_ring_cqe_peek(&g.r, 4));
	gz_ring_cqe_publish(&g.r, idx, gz_ring_slot(&g.r, idx));
	cr_assert_not_null(gz_ring_cqe_peek(&g.r, 4));
	free(g.ent);
}

Test(ring, indices_wrap_past_2_to_the_32)
{
	struct rig g;
	uint32_t idx;

	rig_init(&g, 4);
	/* start just below the wrap, as a long-running queue would */
	atomic_store(&g.ctrl.prod, UINT32_MAX - 1);
	atomic_store(&g.ctrl.cons, UINT32_MAX - 1);
	for (uint32_t k = 0; k < 8; k++) {
		uint32_t c = UINT32_MAX - 1 + k;
		struct gz_xdm_cqe *e;

		cr_assert_eq(gz_ring_reserve(&g.r, &idx), 0);
		cr_assert_eq(idx, c);
		e = gz_ring_slot(&g.r, idx);
		e->context = k;
		gz_ring_cqe_publish(&g.r, idx, e);
		e = gz_ring_cqe_peek(&g.r, c);
		cr_assert_not_null(e, "lost entry at wrap step %u", k);
		cr_assert_eq(e->context, k);
		gz_ring_consume(&g.r, c + 1);
	}
	free(g.ent);
}
