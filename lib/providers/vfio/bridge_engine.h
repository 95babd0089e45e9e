/* SPDX-License-Identifier: MIT */
/*
 * The bridge's engine (bridge_engine.c): what a genzio bridge does with
 * its memory, in software. genzio-bridged runs it over a host file that
 * QEMU guests see as ivshmem's BAR2; tests run it in-process. It owns the
 * header and each slot's state, GCID and layout; it moves a component's
 * queue pairs to RTS from a copy of their description; it executes their
 * commands with lib/xdm against the target slot's key table and data
 * window, and writes completions. Everything a component wrote is input.
 * All its state that matters is private: a slot's words are read once
 * per use, never trusted as an index or a length before they are checked.
 */
#ifndef GZ_VFIO_BRIDGE_ENGINE_H
#define GZ_VFIO_BRIDGE_ENGINE_H

#include "providers/vfio/bridge.h"
#include "providers/vfio/bridge_fabric.h"
#include "xdm/cmdq.h"
#include "xdm/xdm.h"

/* A completion queue the engine writes (its prod is private). */
struct gz_bridge_ecq {
	uint32_t users; /* RTS queue pairs completing into it */
	uint32_t epoch; /* of the ring as adopted */
	uint32_t mask, shift;
	uint32_t prod;
	int overrun; /* a message found it full: in error for good */
	struct gz_xdm_cqe *ent;
};

struct gz_bridge_eqp {
	uint32_t state; /* ours: GZ_BRIDGE_QP_*; the record's is a copy */
	int rts;
	uint32_t pd, scq, rcq, peer_gcid, peer_qpn;
	/* the peer's attach it is tied to (its address named it, or it
	 * paired back): an RC connection does not outlive its peer's */
	uint32_t peer_gen;
	uint32_t tag;	/* the record's, echoed in completions */
	int was_paired; /* it was, once: a peer gone from the pair is REM_QP */
	int rd;		/* no peer: each command names its destination */
	int flushing;	/* ERR after a fatal error: what is left completes
			 * FLUSHED */
	uint64_t blocked_since; /* its head waits for its peer (ns) */
	/* its receive ring, a checked copy (has_rq: it has one) */
	int has_rq;
	uint32_t rq_mask, rq_head;
	uint64_t rq_off;
	uint64_t rdm_ns;    /* a message of its waits this for a receive */
	uint64_t rnr_since; /* its head waits for a receive (ns) */
	/* its head waits for a path to its target since (ns), kept while
	 * no path comes: what follows fails at once */
	uint64_t path_since;
	struct gz_cmdq_engine q;
};

struct gz_bridge_eslot {
	uint32_t state; /* ours: GZ_BRIDGE_FREE or _ATTACHED */
	uint32_t gcid;
	uint32_t generation;	  /* new at every attach */
	uint8_t *base;		  /* the slot */
	_Atomic uint32_t *member; /* its word in the header's member table */
	uint8_t *window;
	uint64_t window_len;
	uint64_t hb, hb_ns; /* its heartbeat as last seen, and when */
	uint64_t freed_ns;  /* COOLING since */
	uint64_t lock_ns;   /* its lock last looked at (COMP_LOCK) */
	int locked;	    /* its lock was seen held: it counts */
	struct gz_xdm_seg seg;
	struct gz_xdm_target target;
	struct gz_bridge_eqp qp[GZ_BRIDGE_MAX_QP];
	struct gz_bridge_ecq cq[GZ_BRIDGE_MAX_CQ];
};

struct gz_bridge_engine {
	uint8_t *base;
	uint64_t len;
	struct gz_bridge_hdr *hdr;
	uint32_t nslots, subnet;
	uint32_t generation; /* the last one given */
	uint64_t slot_size;
	uint64_t timeout_ns; /* an RC peer's pairing */
	uint64_t reap_ns;    /* a component's heartbeat */
	uint64_t cool_ns;    /* a slot freed is claimable after this */
	uint64_t now_ns;     /* of this round */
	uint64_t executed;   /* commands, ever */
	/* Optional: whether a component's lock on the byte at @off of the
	 * bridge's file is held (1), or not (0), or -1 (cannot tell):
	 * genzio-bridged's F_OFD_GETLK. Asked every LOCK_LOOK_NS of a
	 * component that says it holds one (GZ_BRIDGE_COMP_LOCK), and once
	 * seen held, before every command to it. */
	int (*lock_held)(void *arg, uint64_t off);
	void *lock_arg;
	/* Optional: the host fabric whose manager gives the GCIDs (and
	 * says which paths are down); NULL: slot i is CID i + 1, every
	 * path up */
	struct gz_bridge_fab *fab;
	uint64_t route_ns; /* a command waits this long for a path */
	struct gz_bridge_eslot slot[GZ_BRIDGE_MAX_SLOTS];
};

/* How many slots @len bytes hold for @nslots asked (0: as many as fit),
 * and their size in *@slot_size: that count, or 0 when they do not fit
 * (then nothing should be written). */
uint32_t gz_bridge_engine_fit(uint64_t len, uint32_t nslots,
			      uint64_t *slot_size);
/*
 * Format @len bytes at @base as a bridge of @nslots slots (as many as
 * fit when 0) in subnet @subnet, its GCIDs from host fabric @fabric
 * (NULL: none; the engine's fab set after, before its first step): the
 * header, then free slots, but no magic yet: components find no bridge
 * until gz_bridge_engine_publish(). 0, or
 * -EINVAL (too small for one slot of 4 MiB, a bad subnet: named).
 */
int gz_bridge_engine_init(struct gz_bridge_engine *e, void *base, uint64_t len,
			  uint32_t nslots, uint32_t subnet, const char *fabric);
/* The magic, the header's last word: a component that sees it sees the
 * rest (the caps a caller added after init too), so it comes once the
 * engine is ready to serve claims (its fab started). */
void gz_bridge_engine_publish(struct gz_bridge_engine *e);
/*
 * One round at time @now_ns (CLOCK_MONOTONIC): the heartbeat, claims,
 * closes and dead components, queue pair states, then at most @budget
 * commands (and GZ_BRIDGE_ROUND_BYTES) of each queue pair; the heartbeat
 * again after each command. Return: the commands executed.
 */
uint32_t gz_bridge_engine_step(struct gz_bridge_engine *e, uint64_t now_ns,
			       uint32_t budget);

/* ---- for the engine's own files (bridge_engine.c, bridge_exec.c,
 * bridge_msg.c) ---- */
static inline struct gz_bridge_slot *
gz_bridge_ctl(const struct gz_bridge_eslot *es)
{
	return (struct gz_bridge_slot *)(void *)es->base;
}

/* Whether cq @c (record @r) has no room: a cons the component wrote past
 * prod looks full, which stalls its own queues, nobody else's. */
static inline int gz_bridge_cq_full(const struct gz_bridge_ecq *c,
				    const struct gz_bridge_cq *r)
{
	uint32_t cons = atomic_load_explicit(&r->cons, memory_order_acquire);

	return c->prod - cons > c->mask;
}

/* Slots and queue pair states (bridge_engine.c). */
/* The slot is free again (claimable once it cooled): closed, dead, or
 * garbage in its state; work of its peers to it fails from now on. */
void gz_bridge_detach(struct gz_bridge_engine *e, struct gz_bridge_eslot *es);
/* What attached slot @es's lock says: 1 it lives, 0 it died, -1 nothing
 * (it holds none, or it cannot be told). */
int gz_bridge_lock_says(const struct gz_bridge_engine *e,
			struct gz_bridge_eslot *es);
/* Queue pair record @r's state and status, as the engine has them. */
void gz_bridge_qp_state(struct gz_bridge_qp *r, uint32_t state, uint32_t st);
/* Queue pair @n of @es is served no more (a broken producer), with its
 * cqs kept until the component asks for RESET. */
void gz_bridge_to_err(struct gz_bridge_eslot *es, uint32_t n, uint8_t st);

/* Execution (bridge_exec.c). */
/* The attached slot of component @gcid, or NULL. */
struct gz_bridge_eslot *gz_bridge_find(struct gz_bridge_engine *e,
				       uint32_t gcid);
/* Whether the target's queue pair @q->peer_qpn (of @t) is paired back
 * with ours (@gcid, queue pair @n, attach @gen). */
int gz_bridge_paired(const struct gz_bridge_eslot *t,
		     const struct gz_bridge_eqp *q, uint32_t gcid, uint32_t n,
		     uint32_t gen);
/* At most @budget commands of queue pair @n of @es at @now: how many
 * ran (flushed receives count too). */
uint32_t gz_bridge_run_qp(struct gz_bridge_engine *e,
			  struct gz_bridge_eslot *es, uint32_t n, uint64_t now,
			  uint32_t budget);

/* Write @cqe at the producer of cq @c (record @r), phase last. */
void gz_bridge_cq_write(struct gz_bridge_ecq *c, struct gz_bridge_cq *r,
			const struct gz_xdm_cqe *cqe);

/* Whether command @c is a message (bridge_msg.c delivers it); an
 * immediate on anything else is no command (run_one: GENERAL_ERR). */
static inline int gz_bridge_msg_is(const struct gz_xdm_cmd *c)
{
	uint8_t op = c->opflags & GZ_XDM_OPCODE_MASK;

	return op == GZ_XDM_ENQA || op == GZ_XDM_SEND ||
	       (op == GZ_XDM_PUT && (c->opflags & GZ_XDM_FLAG_IMM));
}

/*
 * Deliver message @c of queue pair @q (@es) into the next receive of its
 * peer queue pair @p (of @t), paired, at @now: the sender's completion
 * in *@cqe and its status, or -EAGAIN (no receive posted yet, within the
 * sender's rdm_ns).
 */
int gz_bridge_msg_exec(struct gz_bridge_eslot *es, struct gz_bridge_eqp *q,
		       struct gz_bridge_eslot *t, uint32_t pn,
		       const struct gz_xdm_cmd *c, uint64_t now,
		       struct gz_xdm_cqe *cqe);
/* Queue pair @n of @es is flushing: its posted receives complete
 * FLUSHED, as many as its receive cq has room for and at most @budget.
 * Return: how many. */
uint32_t gz_bridge_rq_flush(struct gz_bridge_eslot *es, uint32_t n,
			    uint32_t budget);

#endif /* GZ_VFIO_BRIDGE_ENGINE_H */
