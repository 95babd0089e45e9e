/* SPDX-License-Identifier: MIT */
/*
 * The fixture of the bridge engine's tests (bridge.c, bridge_msg.c): one
 * engine over anonymous shared memory, components a (GCID 0x1001) and b
 * (0x1002) attached, their queue pairs 0 paired and in RTS (a's domain 7,
 * b's 9), b's window keyed 0xabc (read, write, atomics over 64 KiB),
 * 0xdef (read only, 4 KiB at 64 KiB) and 0x777 (another domain). Time is
 * passed in, so no test waits for a clock.
 */
#ifndef GZT_UNIT_BRIDGE_FIXTURE_H
#define GZT_UNIT_BRIDGE_FIXTURE_H

#include <criterion/criterion.h>

#include <genzio/genzio.h>

#include "providers/vfio/bridge_engine.h"
#include "providers/vfio/vfio_slot.h"

#define MIB (1ull << 20)
#define LEN (2 * MIB + 2 * 4 * MIB) /* page 0, two slots of 4 MiB */
#define VA 0x7f0000000000ull	    /* where a component says its window is */
#define SEC 1000000000ull

extern struct gz_bridge_engine e;
extern struct gz_bridge_map m;
extern uint8_t *mem;
extern uint64_t now;
extern struct gz_vslot a, b;
extern int beat_b; /* b lives */
/* Set before setup(): the engine manages this host fabric (opened by
 * setup in a directory of its own, closed by teardown); NULL: none. */
extern struct gz_bridge_fab *fixture_fab;

/* One engine round; both components' heartbeats go on (b's while it
 * lives), as their processes' would. */
void step(void);
/* One thread plays both sides: the clock a claim waits on steps the
 * engine, and a millisecond passes each time. */
uint64_t clock_stepping(void);
void claim(struct gz_vslot *v);
/* Queue pair @n (64 entries, cq @n for both queues) paired with @peer's
 * queue pair @pn, of protection domain @pd; then RTS. */
void qp_up(struct gz_vslot *v, uint32_t n, const struct gz_vslot *peer,
	   uint32_t pn, uint32_t pd);
void key(struct gz_vslot *v, uint32_t rkey, uint32_t pd, uint64_t off,
	 uint64_t len, uint32_t access);
/* Post, run the engine, and return the one completion's status. */
uint8_t run(struct gz_vslot *v, uint32_t n, struct gz_xdm_cmd cmd,
	    struct gz_xdm_cqe *out);
void setup(void);
void teardown(void);

#endif /* GZT_UNIT_BRIDGE_FIXTURE_H */
