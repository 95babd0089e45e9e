/* SPDX-License-Identifier: MIT */
/*
 * A component's side of a genzio bridge (vfio_slot.c): the bridge's
 * memory checked, a slot claimed and attached, completion queues and
 * queue pairs set up in it, keys registered, commands posted and
 * completions polled. The vfio provider is built on it; so are the tests
 * of the engine. What the engine wrote (the header, a slot's layout and
 * GCID, a queue pair's state, completions) is input: checked before use.
 */
#ifndef GZ_VFIO_SLOT_H
#define GZ_VFIO_SLOT_H

#include "providers/vfio/bridge.h"
#include "xdm/cmdq.h"

/* The bridge's memory, its header checked. */
struct gz_bridge_map {
	uint8_t *base;
	uint64_t len;
	struct gz_bridge_hdr *hdr;
	uint32_t nslots, subnet;
	uint64_t slot0, slot_size, caps, incarnation;
	/* the host fabric that gave the GCIDs, a checked copy ("" none) */
	char fabric[GZ_BRIDGE_FABRIC_MAX];
	/* Optional: make [@off, +@len) of the bridge reachable (@on) or
	 * not, where only part of it is mapped (a host process maps the
	 * header and its own slot: mlockall() then locks no one else's).
	 * 0 or -errno. Set after gz_bridge_map_check(). */
	int (*reach)(void *arg, uint64_t off, uint64_t len, int on);
	void *reach_arg;
};

/* Rings are carved from a slot's queue area in units of this many bytes;
 * a slot uses at most GZ_VSLOT_UNITS of them. */
#define GZ_VSLOT_UNIT 1024u
#define GZ_VSLOT_UNITS 2048u

struct gz_vslot_cq {
	struct gz_xdm_cqe *ent;
	uint32_t mask, shift, head;
};

/* A receive ring: entries the component writes, its tail. */
struct gz_vslot_rq {
	struct gz_bridge_rqe *ent;
	uint32_t mask;
};

struct gz_vslot {
	const struct gz_bridge_map *m;
	struct gz_bridge_slot *s;
	uint8_t *base;
	uint8_t *window;
	uint64_t window_len;
	uint32_t gcid;
	uint32_t generation; /* the engine's attach this slot is ours for */
	int lost;	     /* released, or taken from us: written no more */
	uint64_t owner;
	struct gz_key_entry *keys;
	uint32_t key_mask;
	uint64_t queues_off, queues_len;
	/* the queue area's units, a bit each: 1 in use */
	uint32_t ring_units;
	uint64_t ring_map[GZ_VSLOT_UNITS / 64];
	uint32_t cq_epoch[GZ_BRIDGE_MAX_CQ];
	struct gz_cmdq sq[GZ_BRIDGE_MAX_QP];
	struct gz_vslot_cq cq[GZ_BRIDGE_MAX_CQ];
	struct gz_vslot_rq rq[GZ_BRIDGE_MAX_QP];
};

/* @len bytes at @base as a bridge: 0, -ENODEV (no magic: no engine
 * formatted it, or it stopped), -EPROTO (another version, a layout that
 * does not fit: named). */
int gz_bridge_map_check(void *base, uint64_t len, struct gz_bridge_map *m);
/* Whether the engine has bumped its heartbeat since *@seen (updated),
 * judged at @now_ns against *@since_ns: 0 alive, -ENODEV gone (the
 * magic cleared, another engine's incarnation, or no beat for
 * @timeout_ns). */
int gz_bridge_alive(const struct gz_bridge_map *m, uint64_t *seen,
		    uint64_t *since_ns, uint64_t now_ns, uint64_t timeout_ns);

/* Claim a free slot and wait (a @timeout_ns bound, clock read by
 * @clock) for the engine to attach it. 0, -EBUSY (no free slot),
 * -ENODEV (no engine answers: its heartbeat stands still, or the bound
 * passed), -EPROTO (a layout that does not fit the slot). */
int gz_vslot_claim(const struct gz_bridge_map *m, struct gz_vslot *v,
		   uint64_t (*clock)(void), uint64_t timeout_ns);
/* Make [@off, +@len) of our window reachable (@on) or not, where the
 * bridge is mapped in part (gz_bridge_map.reach): 0 or -errno. */
int gz_vslot_window_reach(struct gz_vslot *v, uint64_t off, uint64_t len,
			  int on);
/* Let the slot go (the engine frees it), if it is still ours; from then
 * on the gz_vslot_* calls write nothing of it (-ENODEV, or nothing). */
void gz_vslot_release(struct gz_vslot *v);
/* The heartbeat the engine watches: at least every 100 ms. 0, or
 * -ENODEV: the engine reaped us (we stood still too long) and the slot
 * is another's now; stop using it. */
int gz_vslot_beat(struct gz_vslot *v);

/* A ring of @ent 64-byte entries (a power of two) from the queue area,
 * zeroed: its offset in the slot, or 0 (a bad size, no room). */
uint64_t gz_vslot_ring_alloc(struct gz_vslot *v, uint32_t ent);
void gz_vslot_ring_free(struct gz_vslot *v, uint64_t off, uint32_t ent);

/* Completion queue @n of @ent entries (a power of two), its ring from
 * the queue area: 0, -EINVAL (a bad size, @n taken), -ENOSPC. Destroy
 * only once no queue pair the engine serves completes into it. */
int gz_vslot_cq_create(struct gz_vslot *v, uint32_t n, uint32_t ent);
void gz_vslot_cq_destroy(struct gz_vslot *v, uint32_t n);
/* Queue pair @n: @ent command entries, completing into @scq and @rcq,
 * paired with queue pair @peer_qpn of @peer_gcid (of its attach
 * @peer_gen, the generation its address names; 0: whichever is there),
 * protection domain @pd; asked for RTS. 0, -EINVAL, -ENOSPC, -EBUSY (not
 * in RESET), -ENODEV (the slot is lost). */
int gz_vslot_qp_create(struct gz_vslot *v, uint32_t n, uint32_t ent,
		       uint32_t scq, uint32_t rcq, uint32_t pd,
		       uint32_t peer_gcid, uint32_t peer_qpn,
		       uint32_t peer_gen);
/* Queue pair @n's receive ring of @ent entries (a power of two) from the
 * queue area, named in its description from now on: 0, -EINVAL, -ENOSPC.
 * Receives may be posted into it before the queue pair is created. */
int gz_vslot_rq_create(struct gz_vslot *v, uint32_t n, uint32_t ent);
/* Before gz_vslot_qp_create(): the engine takes receive @first first, of
 * those up to @tail (the doorbell's value now), a message of ours waits
 * @rdm_us for the receiver's (0: 100 ms), and our completions name us by
 * @tag. */
void gz_vslot_rq_start(struct gz_vslot *v, uint32_t n, uint32_t first,
		       uint32_t tail, uint32_t rdm_us, uint32_t tag);
/* Give it back, once the engine has the queue pair in RESET. */
void gz_vslot_rq_free(struct gz_vslot *v, uint32_t n);
/* Receive entry @seq of queue pair @n's ring, to fill before the tail
 * that covers it is rung. */
static inline struct gz_bridge_rqe *gz_vslot_rqe(const struct gz_vslot *v,
						 uint32_t n, uint32_t seq)
{
	return &v->rq[n].ent[seq & v->rq[n].mask];
}
/* Receives up to @tail (exclusive) are posted: the doorbell. */
static inline void gz_vslot_rq_ring(struct gz_vslot *v, uint32_t n,
				    uint32_t tail)
{
	if (!v->lost)
		atomic_store_explicit(&v->s->qp[n].rq_tail, tail,
				      memory_order_release);
}
/* Whether cq @n overran (a message found it full): in error for good. */
static inline int gz_vslot_cq_overrun(const struct gz_vslot *v, uint32_t n)
{
	return !v->lost &&
	       atomic_load_explicit(&v->s->cq[n].overrun, memory_order_relaxed);
}

/* Give queue pair @n's ring back, once the engine has it in RESET. */
void gz_vslot_qp_free(struct gz_vslot *v, uint32_t n);
/* Ask for queue pair @n back in RESET (after an ERR, say); it may be
 * created again once the engine says RESET. */
void gz_vslot_qp_reset(struct gz_vslot *v, uint32_t n);
/* The state the engine gives queue pair @n (GZ_BRIDGE_QP_*). */
uint32_t gz_vslot_qp_state(const struct gz_vslot *v, uint32_t n);
/* Key @rkey over [@off, +@len) of the window, for @pd, at the address
 * @va the component names it by. 0 or -errno. */
int gz_vslot_key_add(struct gz_vslot *v, uint32_t rkey, uint32_t pd,
		     uint64_t off, uint64_t len, uint64_t va, uint32_t access);
/* Post @cmd on queue pair @n and ring: 0, or -EAGAIN (ring full). */
int gz_vslot_post(struct gz_vslot *v, uint32_t n, const struct gz_xdm_cmd *cmd);
/* The next completion of cq @n into @out: 1, or 0 with none. */
int gz_vslot_poll(struct gz_vslot *v, uint32_t n, struct gz_xdm_cqe *out);
/* Whether cq @n has a completion to poll (for a wait: nothing taken). */
int gz_vslot_peek(const struct gz_vslot *v, uint32_t n);

#endif /* GZ_VFIO_SLOT_H */
