// SPDX-License-Identifier: MIT
/*
 * The bridge's engine as its fabric's manager (bridge_fabric.c): its
 * components are the fabric's, attached by the engine's thread; a path
 * down holds their work for the route timeout, then fails it without
 * taking the queue pair down; the manager's events reach the header; a
 * CID the fabric will not give is a claim taken back. Time for the
 * engine is the fixture's; the thread's waits are real, each bounded.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge_fixture.h"

static struct gz_bridge_fab fab;

static void fab_setup(void)
{
	fixture_fab = &fab;
	setup();
}

TestSuite(bridge_fabric, .init = fab_setup, .fini = teardown, .timeout = 60);

static struct gz_xdm_cmd put8(uint64_t raddr)
{
	return (struct gz_xdm_cmd){.opflags = GZ_XDM_PUT | GZ_XDM_FLAG_SIGNAL,
				   .gcid = 0x1002,
				   .rkey = 0xabc,
				   .length = 8,
				   .raddr = raddr,
				   .context = 7,
				   .op.laddr = 0};
}

/* Until @done (engine rounds meanwhile), at most 5 s of real time. */
#define WAIT_FOR(done)                                                         \
	do {                                                                   \
		for (int w_ = 0; !(done) && w_ < 5000; w_++) {                 \
			step();                                                \
			usleep(1000);                                          \
		}                                                              \
		cr_assert(done, "not within 5 s: " #done);                     \
	} while (0)

/* The header's event @seq, checked as a component reads it. */
static struct gz_bridge_uep event_at(uint64_t seq)
{
	struct gz_bridge_uep u;

	memcpy(&u, &e.hdr->ev[seq % GZ_BRIDGE_EV], sizeof(u));
	cr_assert_eq(atomic_load(&u.seq), seq);
	return u;
}

Test(bridge_fabric, claims_are_components_of_the_fabric_held_by_the_engine)
{
	struct gz_fm_snap *s = malloc(sizeof(*s));
	struct gz_fabric_member mb;

	cr_assert(s);
	cr_assert_str_eq(e.hdr->fabric, fab.name);
	cr_assert_eq(gz_fm_snapshot(&fab.fm, s), 0);
	for (uint32_t cid = 1; cid <= 2; cid++) {
		cr_assert(s->comp[cid].flags & GZ_FM_ATTACHED, "CID %u", cid);
		cr_assert_eq(s->comp[cid].pid, getpid(), "held by the engine");
		cr_assert(gz_fm_present(s, cid));
		cr_assert_eq(gz_fabric_lookup(&fab.reg, cid, &mb), 0);
		cr_assert_eq(mb.pid, getpid());
	}
	cr_assert_not(s->comp[3].flags & GZ_FM_ATTACHED);
	free(s);
	/* their joins, in the header for the components */
	WAIT_FOR(atomic_load(&e.hdr->ev_head) >= 2);
	cr_assert_eq(event_at(0).type, GENZIO_EVENT_COMPONENT_ADD);
	cr_assert_eq(event_at(0).gcid, 0x1001);
	cr_assert_eq(event_at(1).type, GENZIO_EVENT_COMPONENT_ADD);
	cr_assert_eq(event_at(1).gcid, 0x1002);
}

Test(bridge_fabric, a_path_down_holds_work_then_fails_it_and_the_qp_lives)
{
	uint64_t *word = (uint64_t *)(void *)b.window, head;
	struct gz_xdm_cqe x;
	struct gz_xdm_cmd c = put8(VA);

	WAIT_FOR(atomic_load(&e.hdr->ev_head) >= 2);
	head = atomic_load(&e.hdr->ev_head);
	memcpy(a.window, &(uint64_t){0x1122334455667788ull}, 8);
	cr_assert_eq(
	    gz_fm_inject(&fab.fm, GENZIO_FAULT_LINK_DOWN, "0x1002", "sw0"), 0);
	WAIT_FOR(gz_bridge_fab_down(&fab, 0, 1));
	cr_assert(gz_bridge_fab_down(&fab, 1, 0), "both ways");
	WAIT_FOR(atomic_load(&e.hdr->ev_head) > head);
	cr_assert_eq(event_at(head).type, GENZIO_EVENT_LINK_DOWN);
	cr_assert_eq(event_at(head).gcid, 0x1002);
	cr_assert_eq(event_at(head).link, GENZIO_LINK_COMPONENT);
	/* held while the route timeout runs */
	cr_assert_eq(gz_vslot_post(&a, 0, &c), 0);
	step();
	now += e.route_ns / 2;
	step();
	cr_assert_not(gz_vslot_poll(&a, 0, &x), "it waits for a path");
	now += e.route_ns;
	step();
	cr_assert(gz_vslot_poll(&a, 0, &x));
	cr_assert_eq(x.status, GZ_XDM_ST_RETRY_EXC);
	cr_assert_eq(*word, 0, "nothing landed");
	cr_assert_eq(gz_vslot_qp_state(&a, 0), GZ_BRIDGE_QP_RTS,
		     "a route may come back: no ERR");
	/* back up: the same queue pair's next write lands */
	cr_assert_eq(
	    gz_fm_inject(&fab.fm, GENZIO_FAULT_LINK_UP, "0x1002", "sw0"), 0);
	WAIT_FOR(!gz_bridge_fab_down(&fab, 0, 1));
	cr_assert_eq(run(&a, 0, put8(VA), &x), 0);
	cr_assert_eq(*word, 0x1122334455667788ull);
}

/* A component that acts on the news finds the routing saying the same,
 * even from a manager stopped between its log and its wake-up (the
 * seqlock closed, path words and event written, the wake word not yet
 * bumped): the thread reads the bits again after the log's head. */
Test(bridge_fabric, an_event_goes_out_once_the_routing_shows_it)
{
	struct gz_fm_snap *before = malloc(sizeof(*before));
	struct gz_fm_file *file = fab.fm.map;
	uint32_t wake = file->hdr.h.wake;
	uint64_t head;

	WAIT_FOR(atomic_load(&e.hdr->ev_head) >= 2);
	head = atomic_load(&e.hdr->ev_head);
	cr_assert(before);
	cr_assert_eq(gz_fm_lock(&fab.fm), 0);
	cr_assert_eq(gz_fm_snapshot(&fab.fm, before), 0);
	gz_fm_begin(&fab.fm);
	file->comp[2].flags |= GZ_FM_LINK_DOWN; /* 0x1002's link */
	gz_fm_end(&fab.fm);
	usleep(50000); /* the thread reads the rows of that seq: no news */
	cr_assert_not(gz_bridge_fab_down(&fab, 0, 1));
	cr_assert_eq(gz_fm_publish(&fab.fm, before, 0, NULL), 0);
	file->hdr.h.wake = wake; /* ... stopped before its wake-up */
	gz_fm_unlock(&fab.fm);
	free(before);
	while (atomic_load(&e.hdr->ev_head) == head)
		usleep(1000); /* bounded by the suite's timeout */
	cr_assert_eq(event_at(head).type, GENZIO_EVENT_LINK_DOWN);
	cr_assert(gz_bridge_fab_down(&fab, 0, 1),
		  "LINK_DOWN out while the loop still routes to it");
	/* and back up, a manager as usual: LINK_UP with the path up */
	cr_assert_eq(
	    gz_fm_inject(&fab.fm, GENZIO_FAULT_LINK_UP, "0x1002", "sw0"), 0);
	while (atomic_load(&e.hdr->ev_head) == head + 1)
		usleep(1000);
	cr_assert_eq(event_at(head + 1).type, GENZIO_EVENT_LINK_UP);
	cr_assert_not(gz_bridge_fab_down(&fab, 0, 1));
}

Test(bridge_fabric, a_component_removed_is_cut_off_until_added_back)
{
	struct gz_xdm_cqe x;

	WAIT_FOR(atomic_load(&e.hdr->ev_head) >= 2);
	cr_assert_eq(gz_fm_inject(&fab.fm, GENZIO_FAULT_COMPONENT_REMOVE,
				  "0x1002", NULL),
		     0);
	WAIT_FOR(gz_bridge_fab_down(&fab, 0, 1));
	cr_assert_eq(
	    gz_fm_inject(&fab.fm, GENZIO_FAULT_COMPONENT_ADD, "0x1002", NULL),
	    0);
	WAIT_FOR(!gz_bridge_fab_down(&fab, 0, 1));
	cr_assert_eq(run(&a, 0, put8(VA), &x), 0);
}

/* Slot @i free again: its leave done, cooled. */
static void wait_free(uint32_t i)
{
	now += e.cool_ns;
	WAIT_FOR(gz_bridge_fab_idle(&fab, i) &&
		 atomic_load(&gz_bridge_ctl(&e.slot[i])->state) ==
		     GZ_BRIDGE_FREE);
}

/* Component @v of slot @i closes; its slot is free again. */
static void drop(struct gz_vslot *v, uint32_t i)
{
	gz_vslot_release(v);
	memset(v, 0, sizeof(*v));
	step();
	wait_free(i);
}

/* Another provider's context takes CID @cid of the fabric, in @o. */
static uint64_t other_takes(struct gz_fabric *o, uint32_t cid)
{
	uint64_t allow[64] = {0}, inc;
	uint32_t got;

	allow[(cid - 1) / 64] = 1ull << ((cid - 1) % 64);
	cr_assert_eq(gz_fabric_open(fab.dirfd, fab.name, 1, o), 0);
	cr_assert_eq(gz_fabric_join(o, NULL, NULL, allow, &got, &inc), 0);
	cr_assert_eq(got, cid);
	return inc;
}

Test(bridge_fabric, a_cid_the_fabric_will_not_give_is_a_claim_taken_back)
{
	struct gz_fabric other = {.fd = -1};
	struct gz_vslot c;
	uint64_t inc;

	/* b goes; its CID is free on the fabric once its leave is done,
	 * and another provider's context takes it meanwhile */
	drop(&b, 1);
	inc = other_takes(&other, 2);
	cr_assert_eq(gz_vslot_claim(&m, &c, clock_stepping, 10 * SEC),
		     -EADDRNOTAVAIL);
	cr_assert_eq(atomic_load(e.slot[1].member), 0, "no member");
	/* given back, the next claim gets it */
	gz_fabric_leave(&other, 2, inc);
	gz_fabric_close(&other);
	wait_free(1);
	cr_assert_eq(gz_vslot_claim(&m, &b, clock_stepping, 10 * SEC), 0);
	cr_assert_eq(b.gcid, 0x1002);
}

Test(bridge_fabric, a_stopped_engine_detaches_its_components)
{
	struct gz_fm_snap *s = malloc(sizeof(*s));
	struct gz_fm fm = {.fd = -1};
	struct gz_fabric_member mb;
	int dirfd = dup(fab.dirfd);

	cr_assert(s && dirfd >= 0);
	gz_bridge_fab_close(&fab);
	cr_assert_eq(gz_fm_open(dirfd, fab.name, 0, &fm), 0, "its files stay");
	cr_assert_eq(gz_fm_snapshot(&fm, s), 0);
	for (uint32_t cid = 1; cid <= 2; cid++)
		cr_assert_not(s->comp[cid].flags & GZ_FM_ATTACHED, "CID %u",
			      cid);
	gz_fm_close(&fm);
	free(s);
	cr_assert_eq(gz_fabric_view(dirfd, fab.name, &fab.reg), 0);
	cr_assert_eq(gz_fabric_lookup(&fab.reg, 1, &mb), -EHOSTUNREACH,
		     "left the registry");
	gz_fabric_close(&fab.reg);
	fab.reg.reg = NULL;
	close(dirfd);
	/* (the fixture's teardown closes it again: nothing left to do) */
}

Test(bridge_fabric, a_claim_refused_tries_the_next_slot)
{
	struct gz_fabric other = {.fd = -1};
	struct gz_vslot c;
	uint64_t inc;

	drop(&a, 0);
	drop(&b, 1);
	inc = other_takes(&other, 1);
	/* slot 0 first, refused; then slot 1 */
	cr_assert_eq(gz_vslot_claim(&m, &c, clock_stepping, 10 * SEC), 0);
	cr_assert_eq(c.gcid, 0x1002);
	gz_vslot_release(&c);
	gz_fabric_leave(&other, 1, inc);
	gz_fabric_close(&other);
}

Test(bridge_fabric, a_claim_given_up_while_it_joins_still_leaves)
{
	struct gz_bridge_slot *s;
	struct gz_fm_snap *snap = malloc(sizeof(*snap));

	cr_assert(snap);
	drop(&b, 1);
	/* a claimer of slot 1 that gives up at once, whatever the thread
	 * answers meanwhile */
	s = gz_bridge_ctl(&e.slot[1]);
	cr_assert(atomic_compare_exchange_strong(
	    &s->state, &(uint32_t){GZ_BRIDGE_FREE}, GZ_BRIDGE_CLAIMED));
	step(); /* the engine asks to join */
	cr_assert(atomic_compare_exchange_strong(
	    &s->state, &(uint32_t){GZ_BRIDGE_CLAIMED}, GZ_BRIDGE_CLOSING));
	step(); /* detached: cooling, its leave asked */
	wait_free(1);
	cr_assert_eq(gz_fm_snapshot(&fab.fm, snap), 0);
	cr_assert_not(snap->comp[2].flags & GZ_FM_ATTACHED,
		      "no component left behind");
	free(snap);
	/* and the slot serves the next claim */
	cr_assert_eq(gz_vslot_claim(&m, &b, clock_stepping, 10 * SEC), 0);
	cr_assert_eq(b.gcid, 0x1002);
}
