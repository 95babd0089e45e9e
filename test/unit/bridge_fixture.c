// SPDX-License-Identifier: MIT
/* The bridge engine tests' fixture (bridge_fixture.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bridge_fixture.h"

struct gz_bridge_engine e;
struct gz_bridge_map m;
uint8_t *mem;
uint64_t now = 1;
struct gz_vslot a, b;
int beat_b = 1; /* b lives */
struct gz_bridge_fab *fixture_fab;
static char fab_dir[] = "/tmp/gzt-bridge-fab.XXXXXX";

/* One engine round; both components' heartbeats go on (b's while it
 * lives), as their processes' would. */
void step(void)
{
	if (a.s)
		gz_vslot_beat(&a);
	if (b.s && beat_b)
		gz_vslot_beat(&b);
	gz_bridge_engine_step(&e, now, 64);
}

/* One thread plays both sides: the clock a claim waits on steps the
 * engine, and a millisecond passes each time. */
uint64_t clock_stepping(void)
{
	gz_bridge_engine_step(&e, now, 64);
	if (e.fab)
		usleep(200); /* its thread joins in real time */
	return now += 1000000;
}

void claim(struct gz_vslot *v)
{
	/* with a fabric, its thread joins in real time: 6 s at least */
	cr_assert_eq(
	    gz_vslot_claim(&m, v, clock_stepping, e.fab ? 30 * SEC : SEC), 0);
	cr_assert_eq(atomic_load(&v->s->state), GZ_BRIDGE_ATTACHED);
}

/* Queue pair @n (64 entries, cq @n for both queues) paired with @peer's
 * queue pair @pn, of protection domain @pd; then RTS. */
void qp_up(struct gz_vslot *v, uint32_t n, const struct gz_vslot *peer,
	   uint32_t pn, uint32_t pd)
{
	cr_assert_eq(gz_vslot_cq_create(v, n, 64), 0);
	cr_assert_eq(gz_vslot_qp_create(v, n, 64, n, n, pd, peer->gcid, pn, 0),
		     0);
	step();
}

void key(struct gz_vslot *v, uint32_t rkey, uint32_t pd, uint64_t off,
	 uint64_t len, uint32_t access)
{
	cr_assert_eq(gz_vslot_key_add(v, rkey, pd, off, len, VA + off, access),
		     0);
}

/* Post, run the engine, and return the one completion's status. */
uint8_t run(struct gz_vslot *v, uint32_t n, struct gz_xdm_cmd cmd,
	    struct gz_xdm_cqe *out)
{
	struct gz_xdm_cqe x;

	cmd.opflags |= GZ_XDM_FLAG_SIGNAL;
	cr_assert_eq(gz_vslot_post(v, n, &cmd), 0);
	step();
	cr_assert(gz_vslot_poll(v, n, out ? out : &x), "no completion");
	return (out ? out : &x)->status;
}

void setup(void)
{
	mem = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(mem, MAP_FAILED);
	if (fixture_fab) {
		uint32_t sub = 1;
		char name[32];

		cr_assert(mkdtemp(fab_dir));
		setenv("GENZIO_SHM_DIR", fab_dir, 1);
		snprintf(name, sizeof(name), "gztu_%d", (int)getpid());
		memset(fixture_fab, 0, sizeof(*fixture_fab));
		cr_assert_eq(gz_bridge_fab_open(fixture_fab, name, NULL, &sub),
			     0);
	}
	cr_assert_eq(gz_bridge_engine_init(&e, mem, LEN, 0, 1,
					   fixture_fab ? fixture_fab->name
						       : NULL),
		     0);
	if (fixture_fab) {
		cr_assert_eq(
		    gz_bridge_fab_start(fixture_fab, e.hdr, e.nslots,
					e.slot_size - GZ_BRIDGE_SLOT_ALIGN),
		    0);
		e.fab = fixture_fab;
	}
	gz_bridge_engine_publish(&e);
	cr_assert_eq(e.nslots, 2);
	cr_assert_eq(gz_bridge_map_check(mem, LEN, &m), 0);
	now = 1;
	beat_b = 1;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	claim(&a);
	claim(&b);
	cr_assert_eq(a.gcid, 0x1001);
	cr_assert_eq(b.gcid, 0x1002);
	qp_up(&a, 0, &b, 0, 7);
	qp_up(&b, 0, &a, 0, 9);
	cr_assert_eq(gz_vslot_qp_state(&a, 0), GZ_BRIDGE_QP_RTS);
	key(&b, 0xabc, 9, 0, 65536,
	    GENZIO_ACCESS_REMOTE_WRITE | GENZIO_ACCESS_REMOTE_READ |
		GENZIO_ACCESS_REMOTE_ATOMIC);
	key(&b, 0xdef, 9, 65536, 4096, GENZIO_ACCESS_REMOTE_READ);
	key(&b, 0x777, 8, 0, 4096, GENZIO_ACCESS_REMOTE_WRITE); /* other pd */
}

void teardown(void)
{
	if (fixture_fab) {
		char cmd[64];

		gz_bridge_fab_close(fixture_fab);
		snprintf(cmd, sizeof(cmd), "rm -rf %s", fab_dir);
		cr_assert_eq(system(cmd), 0);
	}
	munmap(mem, LEN);
}
