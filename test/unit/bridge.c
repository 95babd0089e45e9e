// SPDX-License-Identifier: MIT
/*
 * The bridge's engine (lib/providers/vfio/bridge_engine.c) driven as a
 * device is, by components writing its memory: slots claimed and
 * attached, queue pairs moved to RTS, commands executed between two
 * components' windows, every fault completed with its status and nothing
 * touched, and a slot of garbage survived. Time is passed in, so no test
 * waits for a clock.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <genzio/genzio.h>

#include "bridge_fixture.h"

TestSuite(bridge, .init = setup, .fini = teardown, .timeout = 60);

static struct gz_xdm_cmd put(uint64_t laddr, uint32_t len, uint32_t rkey,
			     uint64_t raddr)
{
	return (struct gz_xdm_cmd){.opflags = GZ_XDM_PUT,
				   .gcid = 0x1002,
				   .rkey = rkey,
				   .length = len,
				   .raddr = raddr,
				   .context = 42,
				   .op.laddr = laddr};
}

Test(bridge, put_get_and_atomics_between_two_windows)
{
	struct gz_xdm_cmd c;
	struct gz_xdm_cqe x;
	uint64_t old, *word = (uint64_t *)(void *)(b.window + 1024);

	for (int i = 0; i < 4096; i++)
		a.window[i] = (uint8_t)(i * 13 + 1);
	cr_assert_eq(run(&a, 0, put(0, 4096, 0xabc, VA + 8192), &x), 0);
	cr_assert_eq(x.context, 42);
	cr_assert_eq(x.byte_len, 4096);
	cr_assert_eq(x.opcode, GENZIO_WC_WRITE);
	cr_assert_eq(memcmp(b.window + 8192, a.window, 4096), 0, "landed");
	c = put(65536, 4096, 0xabc, VA + 8192);
	c.opflags = GZ_XDM_GET;
	cr_assert_eq(run(&a, 0, c, &x), 0);
	cr_assert_eq(memcmp(a.window + 65536, a.window, 4096), 0, "read back");
	*word = 40;
	c = (struct gz_xdm_cmd){.opflags = GZ_XDM_ADD,
				.gcid = 0x1002,
				.rkey = 0xabc,
				.raddr = VA + 1024,
				.op.operand = 2};
	cr_assert_eq(run(&a, 0, c, &x), 0);
	memcpy(&old, x.result, 8);
	cr_assert_eq(old, 40);
	cr_assert_eq(*word, 42);
	c.opflags = GZ_XDM_CAS;
	c.op.compare = 42;
	c.op.operand = 7;
	cr_assert_eq(run(&a, 0, c, &x), 0);
	cr_assert_eq(*word, 7);
	/* unsignaled success: no completion, still done */
	c = put(0, 8, 0xabc, VA + 4096);
	gz_vslot_post(&a, 0, &c);
	step();
	cr_assert_eq(gz_vslot_poll(&a, 0, &x), 0);
	cr_assert_eq(memcmp(b.window + 4096, a.window, 8), 0);
	cr_assert_eq(atomic_load(&a.s->qp[0].cmd_head), a.sq[0].tail,
		     "every entry given back");
}

Test(bridge, faults_complete_with_their_status_and_touch_nothing)
{
	uint8_t before[65536];
	struct gz_xdm_cmd c;

	memset(a.window, 0x5a, 4096);
	memcpy(before, b.window, sizeof(before));
	cr_assert_eq(run(&a, 0, put(0, 64, 0x999, VA), NULL),
		     GZ_XDM_ST_BAD_RKEY);
	cr_assert_eq(run(&a, 0, put(0, 64, 0xabc, VA + 65536 - 32), NULL),
		     GZ_XDM_ST_REM_BOUNDS);
	cr_assert_eq(run(&a, 0, put(0, 64, 0xabc, VA - 64), NULL),
		     GZ_XDM_ST_REM_BOUNDS);
	cr_assert_eq(run(&a, 0, put(0, 64, 0xdef, VA + 65536), NULL),
		     GZ_XDM_ST_REM_ACCESS, "a read-only key written");
	cr_assert_eq(run(&a, 0, put(0, 64, 0x777, VA), NULL),
		     GZ_XDM_ST_REM_ACCESS, "a key of another pd");
	cr_assert_eq(run(&a, 0, put(a.window_len - 8, 64, 0xabc, VA), NULL),
		     GZ_XDM_ST_LOC_PROT, "a local buffer past the window");
	cr_assert_eq(run(&a, 0, put(UINT64_MAX - 8, 64, 0xabc, VA), NULL),
		     GZ_XDM_ST_LOC_PROT, "an offset that wraps");
	c = put(0, 64, 0xabc, VA);
	c.gcid = 0x1001; /* RC: to its peer only */
	cr_assert_eq(run(&a, 0, c, NULL), GZ_XDM_ST_REM_INV_REQ);
	c = put(0, 64, 0xabc, VA);
	c.opflags = 0x77; /* no such opcode */
	cr_assert_eq(run(&a, 0, c, NULL), GZ_XDM_ST_GENERAL_ERR);
	c = put(0, 64, 0xabc, VA + 3);
	c.opflags = GZ_XDM_ADD;
	cr_assert_eq(run(&a, 0, c, NULL), GZ_XDM_ST_REM_BOUNDS, "misaligned");
	cr_assert_eq(memcmp(before, b.window, sizeof(before)), 0,
		     "no fault wrote a byte");
}

Test(bridge, an_unpaired_peer_waits_its_timeout_then_retry_exceeded)
{
	struct gz_xdm_cmd c = put(0, 8, 0xabc, VA);
	struct gz_xdm_cqe x;

	qp_up(&a, 1, &b, 1, 7); /* b's queue pair 1 never connects back */
	c.opflags |= GZ_XDM_FLAG_SIGNAL;
	gz_vslot_post(&a, 1, &c);
	step();
	now += SEC / 2;
	step();
	cr_assert_eq(gz_vslot_poll(&a, 1, &x), 0, "waits for its peer");
	now += SEC;
	step();
	cr_assert(gz_vslot_poll(&a, 1, &x));
	cr_assert_eq(x.status, GZ_XDM_ST_RETRY_EXC);
	/* fatal on RC, as in verbs: ERR, and what follows is flushed */
	cr_assert_eq(gz_vslot_qp_state(&a, 1), GZ_BRIDGE_QP_ERR);
	qp_up(&b, 1, &a, 1, 9);
	cr_assert_eq(run(&a, 1, c, &x), GZ_XDM_ST_FLUSHED);
	cr_assert_eq(gz_vslot_qp_create(&a, 1, 64, 1, 1, 7, b.gcid, 1, 0),
		     -EBUSY, "not before it is back in RESET");
	/* reset, made again: paired now, it goes through */
	gz_vslot_qp_reset(&a, 1);
	step();
	cr_assert_eq(gz_vslot_qp_state(&a, 1), GZ_BRIDGE_QP_RESET);
	cr_assert_eq(gz_vslot_qp_create(&a, 1, 64, 1, 1, 7, b.gcid, 1, 0), 0);
	step();
	cr_assert_eq(run(&a, 1, c, &x), 0);
}

Test(bridge, a_dead_or_closed_component_is_detached_and_unreachable)
{
	struct gz_xdm_cqe x;

	/* b stops its heartbeat (killed): a's work to it fails after the
	 * timeout, and b's slot is free for the next claimer */
	beat_b = 0;
	for (int i = 0; i < 3; i++) {
		now += e.reap_ns / 2;
		step();
	}
	cr_assert_eq(atomic_load(&b.s->state), GZ_BRIDGE_COOLING,
		     "not claimable at once");
	cr_assert_eq(atomic_load(&a.s->state), GZ_BRIDGE_ATTACHED,
		     "a's heartbeat went on");
	cr_assert_eq(run(&a, 0, put(0, 8, 0xabc, VA), &x), GZ_XDM_ST_RETRY_EXC);
	/* b was reaped: it may not touch the slot a newcomer now holds */
	struct gz_vslot old = b;
	beat_b = 1;
	now += e.cool_ns;
	claim(&b);
	cr_assert_eq(b.gcid, 0x1002, "the freed slot, taken again");
	cr_assert_eq(gz_vslot_beat(&old), -ENODEV, "the old owner is told");
	gz_vslot_release(&old);
	step();
	cr_assert_eq(atomic_load(&b.s->state), GZ_BRIDGE_ATTACHED,
		     "its release closes nobody's slot");
	/* a's connection was to the old b: the newcomer on its GCID, even
	 * paired back on the same queue pair with the same key, is not it */
	qp_up(&b, 0, &a, 0, 9);
	key(&b, 0xabc, 9, 0, 65536, GENZIO_ACCESS_REMOTE_WRITE);
	cr_assert_eq(run(&a, 0, put(0, 8, 0xabc, VA), &x), GZ_XDM_ST_FLUSHED,
		     "ERR since the retries exceeded");
	gz_vslot_qp_reset(&a, 0);
	step();
	cr_assert_eq(gz_vslot_qp_create(&a, 0, 64, 0, 0, 7, b.gcid, 0, 0), 0);
	step();
	cr_assert_eq(run(&a, 0, put(0, 8, 0xabc, VA), &x), 0,
		     "a new connection reaches the newcomer");
	/* a closes */
	atomic_store(&a.s->state, GZ_BRIDGE_CLOSING);
	step();
	cr_assert_eq(atomic_load(&a.s->state), GZ_BRIDGE_COOLING);
	now += e.cool_ns;
	step();
	cr_assert_eq(atomic_load(&a.s->state), GZ_BRIDGE_FREE);
}

Test(bridge, a_broken_producer_or_bad_rings_stop_only_their_queue_pair)
{
	struct gz_bridge_qp *r = &a.s->qp[2];
	struct gz_xdm_cqe x;

	uint64_t off;

	/* a tail a lap and more ahead */
	qp_up(&a, 2, &b, 0, 7);
	off = r->cmd_off;
	atomic_store(&r->cmd_tail, 1000);
	step();
	cr_assert_eq(atomic_load(&r->state), GZ_BRIDGE_QP_ERR);
	cr_assert_eq(run(&a, 0, put(0, 8, 0xabc, VA), &x), 0,
		     "queue pair 0 still served");
	/* reset, then rings outside the queue area: refused at RTS */
	atomic_store(&r->want, GZ_BRIDGE_QP_RESET);
	step();
	cr_assert_eq(atomic_load(&r->state), GZ_BRIDGE_QP_RESET);
	r->cmd_off = a.s->window_off; /* the window, not the queue area */
	atomic_store(&r->want, GZ_BRIDGE_QP_RTS);
	step();
	cr_assert_eq(atomic_load(&r->state), GZ_BRIDGE_QP_ERR);
	atomic_store(&r->want, GZ_BRIDGE_QP_RESET);
	step();
	r->cmd_off = off;
	r->cmd_ent = 100; /* not a power of two */
	atomic_store(&r->want, GZ_BRIDGE_QP_RTS);
	step();
	cr_assert_eq(atomic_load(&r->state), GZ_BRIDGE_QP_ERR);
	atomic_store(&r->want, GZ_BRIDGE_QP_RESET);
	step();
	r->cmd_ent = 64;
	r->scq = 999;
	atomic_store(&r->want, GZ_BRIDGE_QP_RTS);
	step();
	cr_assert_eq(atomic_load(&r->state), GZ_BRIDGE_QP_ERR, "a cq of none");
	/* a state word only the engine may write, written: it is ignored,
	 * queue pair 2 stays unserved */
	atomic_store(&r->state, GZ_BRIDGE_QP_RTS);
	atomic_store(&r->cmd_tail, 1);
	step();
	cr_assert_eq(atomic_load(&r->cmd_head), 0, "nothing of it executed");
	cr_assert_eq(gz_vslot_poll(&a, 2, &x), 0);
	cr_assert_eq(run(&a, 0, put(0, 8, 0xabc, VA), &x), 0);
}

Test(bridge, a_full_cq_holds_the_command_until_there_is_room)
{
	struct gz_xdm_cmd c = put(0, 8, 0xabc, VA);
	struct gz_xdm_cqe x;
	int n = 0;

	c.opflags |= GZ_XDM_FLAG_SIGNAL;
	for (int i = 0; i < 64; i++)
		gz_vslot_post(&a, 0, &c);
	step();
	cr_assert_eq(gz_vslot_post(&a, 0, &c), 0); /* the 65th: cq full */
	step();
	cr_assert_eq(atomic_load(&a.s->qp[0].cmd_head), 64, "held, not lost");
	while (gz_vslot_poll(&a, 0, &x))
		n++;
	cr_assert_eq(n, 64);
	step();
	cr_assert(gz_vslot_poll(&a, 0, &x), "then executed");
	cr_assert_eq(x.status, 0);
	/* a cons beyond prod (garbage) stalls that cq alone */
	atomic_store(&a.s->cq[0].cons, 5000);
	gz_vslot_post(&a, 0, &c);
	step();
	cr_assert_eq(gz_vslot_poll(&a, 0, &x), 0);
	qp_up(&b, 5, &a, 6, 9);
	qp_up(&a, 6, &b, 5, 7);
	c = put(0, 8, 0xabc, VA);
	c.gcid = 0x1001;
	key(&a, 0xabc, 7, 0, 4096, GENZIO_ACCESS_REMOTE_WRITE);
	cr_assert_eq(run(&b, 5, c, &x), 0, "others go on");
}

Test(bridge, random_bytes_in_a_component_slot_never_crash_the_engine)
{
	struct gz_xdm_cqe x;
	uint8_t *ctl = a.base;

	srand(11);
	for (int i = 0; i < 2000; i++) {
		for (int k = 0; k < 32; k++)
			ctl[(size_t)rand() % GZ_BRIDGE_CTL_LEN] =
			    (uint8_t)rand();
		/* and in its rings and keys */
		for (int k = 0; k < 32; k++)
			ctl[GZ_BRIDGE_CTL_LEN +
			    (size_t)rand() % (2 * MIB - GZ_BRIDGE_CTL_LEN)] =
			    (uint8_t)rand();
		step();
	}
	/* b is intact: a fresh a can still reach it */
	gz_vslot_release(&a);
	step();
	step();
	memset(ctl, 0, GZ_BRIDGE_CTL_LEN);
	claim(&a);
	qp_up(&a, 0, &b, 3, 7);
	qp_up(&b, 3, &a, 0, 9);
	cr_assert_eq(run(&a, 0, put(0, 8, 0xabc, VA), &x), 0);
}

Test(bridge, init_refuses_what_does_not_fit)
{
	struct gz_bridge_engine f;

	cr_assert_eq(gz_bridge_engine_init(&f, mem, 4 * MIB, 0, 1, NULL),
		     -EINVAL);
	cr_assert_eq(gz_bridge_engine_init(&f, mem, LEN, 3, 1, NULL), -EINVAL);
	cr_assert_eq(gz_bridge_engine_init(&f, mem, LEN, 1, 0, NULL), -EINVAL);
	cr_assert_eq(gz_bridge_engine_init(&f, mem, LEN, 1, 0x10000, NULL),
		     -EINVAL);
}

/* A clock that only passes time: no engine answers. */
static uint64_t clock_idle(void)
{
	return now += 10000000;
}

Test(bridge, a_component_checks_what_the_bridge_wrote)
{
	struct gz_bridge_hdr *h = (void *)mem;
	struct gz_bridge_map bad;
	struct gz_vslot c;
	uint64_t seen = 0, since = 0;

	cr_assert_eq(gz_vslot_claim(&m, &c, clock_stepping, SEC), -EBUSY,
		     "both slots are taken");
	h->version = GZ_BRIDGE_VERSION + 1;
	cr_assert_eq(gz_bridge_map_check(mem, LEN, &bad), -EPROTO);
	h->version = GZ_BRIDGE_VERSION;
	h->nslots = 3; /* three of 4 MiB do not fit after 2 MiB */
	cr_assert_eq(gz_bridge_map_check(mem, LEN, &bad), -EPROTO);
	h->nslots = 2;
	h->slot_size = UINT64_MAX & ~(GZ_BRIDGE_SLOT_ALIGN - 1);
	cr_assert_eq(gz_bridge_map_check(mem, LEN, &bad), -EPROTO);
	h->slot_size = 4 * MIB;
	h->slot0 = LEN + GZ_BRIDGE_SLOT_ALIGN;
	cr_assert_eq(gz_bridge_map_check(mem, LEN, &bad), -EPROTO);
	h->slot0 = 2 * MIB;
	cr_assert_eq(gz_bridge_map_check(mem, LEN, &bad), 0);
	/* the engine's heartbeat: alive while it beats, gone when not */
	cr_assert_eq(gz_bridge_alive(&m, &seen, &since, now, SEC), 0);
	now += SEC / 2;
	step();
	cr_assert_eq(gz_bridge_alive(&m, &seen, &since, now, SEC), 0);
	now += 2 * SEC;
	cr_assert_eq(gz_bridge_alive(&m, &seen, &since, now, SEC), -ENODEV,
		     "no beat for 2 s");
	step();
	cr_assert_eq(gz_bridge_alive(&m, &seen, &since, now, SEC), 0);
	atomic_store((_Atomic uint32_t *)&h->magic, 0); /* a clean stop */
	cr_assert_eq(gz_bridge_alive(&m, &seen, &since, now, SEC), -ENODEV);
	cr_assert_eq(gz_bridge_map_check(mem, LEN, &bad), -ENODEV);
}

Test(bridge, a_claim_without_an_engine_times_out_and_frees_its_slot)
{
	struct gz_bridge_engine f;
	struct gz_bridge_map fm;
	struct gz_vslot c;
	uint8_t *other = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	cr_assert_neq(other, MAP_FAILED);
	cr_assert_eq(gz_bridge_engine_init(&f, other, LEN, 1, 1, NULL), 0);
	cr_assert_eq(gz_bridge_map_check(other, LEN, &fm), -ENODEV,
		     "formatted, not published: no bridge yet");
	gz_bridge_engine_publish(&f);
	cr_assert_eq(gz_bridge_map_check(other, LEN, &fm), 0);
	cr_assert_eq(gz_vslot_claim(&fm, &c, clock_idle, SEC), -ENODEV,
		     "its heartbeat never moved");
	/* the engine starts late: it sees a slot closing, not one claimed */
	gz_bridge_engine_step(&f, now, 64);
	gz_bridge_engine_step(&f, now + f.cool_ns, 64);
	cr_assert_eq(
	    atomic_load(
		&((struct gz_bridge_slot *)(void *)(other + fm.slot0))->state),
	    GZ_BRIDGE_FREE, "a slot left CLOSING is freed, once cooled");
	cr_assert_eq(gz_vslot_claim(&fm, &c, clock_idle, SEC), -ENODEV,
		     "claimable again");
	munmap(other, LEN);
}

Test(bridge, an_engine_restarted_under_a_component_is_a_bridge_gone)
{
	struct gz_bridge_engine f;
	uint64_t seen = 0, since = 0;

	cr_assert_eq(gz_bridge_alive(&m, &seen, &since, now, SEC), 0);
	cr_assert_eq(gz_bridge_engine_init(&f, mem, LEN, 0, 1, NULL), 0);
	gz_bridge_engine_publish(&f);
	cr_assert_eq(gz_bridge_alive(&m, &seen, &since, now, SEC), -ENODEV,
		     "a new incarnation");
}

Test(bridge, loopback_checks_the_responder_queue_pairs_domain)
{
	struct gz_xdm_cmd c = put(0, 8, 0x555, VA);
	struct gz_xdm_cqe x;

	/* a's queue pairs 4 (pd 7) and 5 (pd 8), paired with each other */
	qp_up(&a, 4, &a, 5, 7);
	qp_up(&a, 5, &a, 4, 8);
	key(&a, 0x555, 7, 0, 4096, GENZIO_ACCESS_REMOTE_WRITE);
	c.gcid = a.gcid;
	cr_assert_eq(run(&a, 4, c, &x), GZ_XDM_ST_REM_ACCESS,
		     "the responder is queue pair 5, of pd 8");
	key(&a, 0x556, 8, 0, 4096, GENZIO_ACCESS_REMOTE_WRITE);
	c.rkey = 0x556;
	cr_assert_eq(run(&a, 4, c, &x), 0);
}

/* A clock that steps the engine, then writes a slot layout over the
 * control area in place of the one it gave (a buggy or hostile engine). */
static uint64_t clock_bad_layout(void)
{
	uint64_t t = clock_stepping();
	struct gz_bridge_slot *s = (void *)(mem + m.slot0);

	if (atomic_load(&s->state) == GZ_BRIDGE_ATTACHED)
		s->queues_off = 0;
	return t;
}

Test(bridge, a_layout_over_the_control_area_is_refused)
{
	struct gz_vslot c;

	gz_vslot_release(&a); /* slot 0 free for the claim below */
	step();
	now += e.cool_ns;
	step();
	cr_assert_eq(gz_vslot_claim(&m, &c, clock_bad_layout, SEC), -EPROTO);
}

Test(bridge, a_cq_its_queue_pairs_made_again_goes_on_where_it_was)
{
	struct gz_xdm_cqe x;

	for (int i = 0; i < 3; i++)
		cr_assert_eq(run(&a, 0, put(0, 8, 0xabc, VA), &x), 0);
	gz_vslot_qp_reset(&a, 0);
	step();
	cr_assert_eq(gz_vslot_qp_create(&a, 0, 64, 0, 0, 7, b.gcid, 0, 0), 0);
	step();
	cr_assert_eq(run(&a, 0, put(0, 8, 0xabc, VA), &x), 0,
		     "its completions where the component looks for them");
}

Test(bridge, a_newcomer_on_a_dead_peers_gcid_inherits_none_of_its_pairs)
{
	struct gz_bridge_slot *dead = a.s;
	struct gz_xdm_cmd c;
	struct gz_xdm_cqe x;

	/* a dies (no more beats) while b, idle, keeps its queue pair 0
	 * paired with a's; the engine frees a's slot */
	a.s = NULL;
	for (int i = 0; i < 3; i++) {
		now += e.reap_ns / 2;
		step();
	}
	cr_assert_eq(atomic_load(&dead->state), GZ_BRIDGE_COOLING);
	now += e.cool_ns;
	step();
	cr_assert_eq(atomic_load(&dead->state), GZ_BRIDGE_FREE);
	/* a newcomer gets a's slot and GCID, and asks for b's queue pair:
	 * refused (it is tied to the dead one) */
	claim(&a);
	cr_assert_eq(a.gcid, 0x1001);
	qp_up(&a, 0, &b, 0, 7);
	cr_assert_eq(gz_vslot_qp_state(&a, 0), GZ_BRIDGE_QP_ERR);
	cr_assert_eq(atomic_load(&a.s->qp[0].status), GZ_XDM_ST_REM_QP);
	/* and b's connection does not reach the newcomer: RETRY_EXC */
	key(&a, 0x555, 7, 0, 65536, GENZIO_ACCESS_REMOTE_WRITE);
	c = put(0, 8, 0x555, VA);
	c.gcid = 0x1001;
	a.window[0] = 0;
	b.window[0] = 0x5a;
	cr_assert_eq(run(&b, 0, c, &x), GZ_XDM_ST_RETRY_EXC);
	cr_assert_eq(a.window[0], 0, "the newcomer's window was written");
}

Test(bridge, a_queue_pair_that_serves_another_is_rem_qp_at_once)
{
	struct gz_xdm_cqe x;

	/* b's second queue pair plays a third party, connecting to a's
	 * queue pair 0, which is paired with b's 0 */
	cr_assert_eq(gz_vslot_cq_create(&b, 1, 64), 0);
	cr_assert_eq(gz_vslot_qp_create(&b, 1, 64, 1, 1, 9, a.gcid, 0, 0), 0);
	step();
	/* refused before it is RTS: a connect never sees it usable */
	cr_assert_eq(gz_vslot_qp_state(&b, 1), GZ_BRIDGE_QP_ERR);
	cr_assert_eq(atomic_load(&b.s->qp[1].status), GZ_XDM_ST_REM_QP);
	/* a's queue pair 0 still serves b's 0 */
	cr_assert_eq(run(&a, 0, put(0, 8, 0xabc, VA), &x), GZ_XDM_ST_SUCCESS);
}

Test(bridge, a_freed_gcid_is_given_again_only_after_it_cooled)
{
	struct gz_vslot c;
	uint64_t t0;

	/* b closes: its slot is the only one, not free at once */
	gz_vslot_release(&b);
	step();
	cr_assert_eq(atomic_load(&b.s->state), GZ_BRIDGE_COOLING);
	cr_assert_eq(atomic_load(&e.hdr->member[1]), 0, "no member there");
	/* a claim waits for it (each look at the clock a millisecond) */
	t0 = now;
	cr_assert_eq(gz_vslot_claim(&m, &c, clock_stepping, 2 * SEC), 0);
	cr_assert_eq(c.gcid, 0x1002);
	cr_assert_geq(now - t0, e.cool_ns, "not before it cooled");
	cr_assert_eq(atomic_load(&e.hdr->member[1]), c.generation);
}
