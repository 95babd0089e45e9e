// SPDX-License-Identifier: MIT
/* lib/xdm/ring.h: doorbell rings and phase-bit rings over many laps. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

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

Test(ring, command_ring_delivers_in_order_over_five_laps)
{
	struct rig g;
	uint32_t prod = 0, cons = 0, next_in = 0, next_out = 0;

	rig_init(&g, 8);
	cr_assert_eq(gz_ring_space(&g.r, prod), 8);
	while (next_out < 40) {
		/* produce up to 3, ring the doorbell once for the batch */
		for (int k = 0; k < 3 && gz_ring_space(&g.r, prod); k++) {
			struct gz_xdm_cmd *c = gz_ring_slot(&g.r, prod++);

			memset(c, 0, sizeof(*c));
			c->context = next_in++;
		}
		/* nothing is visible before the doorbell */
		cr_assert_eq(gz_ring_avail(&g.r, cons),
			     atomic_load(&g.ctrl.prod) - cons);
		gz_ring_doorbell(&g.r, prod);
		uint32_t avail = gz_ring_avail(&g.r, cons);

		cr_assert_leq(avail, 8);
		for (int k = 0; k < 2 && avail; k++, avail--) {
			const struct gz_xdm_cmd *c = gz_ring_slot(&g.r, cons++);

			cr_assert_eq(c->context, next_out++);
		}
		gz_ring_consume(&g.r, cons);
	}
	free(g.ent);
}

Test(ring, command_ring_has_no_space_when_full)
{
	struct rig g;

	rig_init(&g, 4);
	gz_ring_doorbell(&g.r, 4);
	cr_assert_eq(gz_ring_space(&g.r, 4), 0);
	gz_ring_consume(&g.r, 1);
	cr_assert_eq(gz_ring_space(&g.r, 4), 1);
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
