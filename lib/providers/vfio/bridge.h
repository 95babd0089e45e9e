/* SPDX-License-Identifier: MIT */
/*
 * The genzio bridge's memory, as its engine (genzio-bridged, or silicon)
 * and the vfio provider share it: one BAR (ivshmem's BAR2, a host file,
 * in the emulator) holding a header, then one slot per component. See
 * docs/vfio-bridge.md and genzio-bridged(1).
 *
 * Little-endian; every offset from the start of the BAR or the slot;
 * index words that one side writes and the other reads each sit on a
 * cache line of their own. What the other side wrote is input: snapshot
 * once, check, use the copy.
 */
#ifndef GZ_VFIO_BRIDGE_H
#define GZ_VFIO_BRIDGE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "gz.h"
#include "xdm/keytab.h"
#include "xdm/xdm_abi.h"

#define GZ_BRIDGE_MAGIC 0x5242475au /* "ZGBR" in memory, little-endian */
/* 2: receive rings, tags, RD, members; 3: the fabric's name and events */
#define GZ_BRIDGE_VERSION 3u
#define GZ_BRIDGE_SLOT_ALIGN (2ull << 20) /* a huge page on the host */
#define GZ_BRIDGE_MAX_SLOTS 64u
#define GZ_BRIDGE_MAX_QP 32u /* per slot */
#define GZ_BRIDGE_MAX_CQ 32u
#define GZ_BRIDGE_MAX_RING 4096u /* entries */
/* Bytes a queue pair moves per engine round, so that one component's
 * large transfers cannot starve the others' (at least one command). */
#define GZ_BRIDGE_ROUND_BYTES (1u << 20)

/* Capabilities of the bridge (the header's caps). */
enum {
	GZ_BRIDGE_CAP_DMA = 1u << 0, /* reaches memory outside its BAR */
	GZ_BRIDGE_CAP_IRQ = 1u << 1, /* raises an interrupt per completion */
	/* takes a component's lock (GZ_BRIDGE_COMP_LOCK) for its life:
	 * such a component lives without beating */
	GZ_BRIDGE_CAP_LOCKS = 1u << 2,
	/* delivers messages (ENQA, SEND, PUT with GZ_XDM_FLAG_IMM) into
	 * the receiver's posted receives */
	GZ_BRIDGE_CAP_MSG = 1u << 3,
};

/* What a component says of itself (its slot's caps). */
enum {
	/* it holds an OFD write lock on the first byte of its slot in the
	 * bridge's file while it lives (a host process): the engine frees
	 * the slot the moment the kernel drops that lock, as it does when
	 * the process dies, rather than after its heartbeat's timeout */
	GZ_BRIDGE_COMP_LOCK = 1u << 0,
};

/* An unsolicited event of the fabric the engine manages (its fabric
 * manager's log, lib/fabric), as components read it: entry seq % GZ_BRIDGE_EV
 * of the header's log holds event seq once its seq word says so (written
 * last; ~0 while the engine rewrites it). */
#define GZ_BRIDGE_EV 128u
#define GZ_BRIDGE_FABRIC_MAX 32u

struct gz_bridge_uep {
	_Atomic uint64_t seq;
	uint32_t type; /* GENZIO_EVENT_LINK_* or COMPONENT_* */
	uint32_t gcid;
	uint32_t link;
	uint32_t pad;
};

/* Page 0. */
struct gz_bridge_hdr {
	uint32_t magic, version;
	uint32_t nslots;
	uint32_t subnet;
	uint64_t slot0;	    /* offset of slot 0 */
	uint64_t slot_size; /* a multiple of GZ_BRIDGE_SLOT_ALIGN */
	uint64_t caps;
	uint64_t incarnation; /* random, new at every engine start */
	/* bumped at least every millisecond while the engine runs */
	_Atomic uint64_t heartbeat GZ_ALIGNED;
	/* the components attached: slot i's generation (its GCID's CID is
	 * i + 1), 0 while it is free; the engine's */
	_Atomic uint32_t member[GZ_BRIDGE_MAX_SLOTS] GZ_ALIGNED;
	/* the host fabric whose manager gave the GCIDs (NUL-terminated;
	 * "": the engine gives them by slot, and logs no event) */
	char fabric[GZ_BRIDGE_FABRIC_MAX] GZ_ALIGNED;
	/* events ever logged: the entries before it are in ev[] */
	_Atomic uint64_t ev_head GZ_ALIGNED;
	struct gz_bridge_uep ev[GZ_BRIDGE_EV];
};

/* A slot's state: FREE -> CLAIMED (a component's CAS) -> ATTACHED (the
 * engine) -> CLOSING (the component) -> COOLING (the engine, drained) ->
 * FREE (the engine, a while later: a GCID is not given again at once, so
 * what was meant for the component gone, by GCID alone, finds nobody). */
enum {
	GZ_BRIDGE_FREE = 0,
	GZ_BRIDGE_CLAIMED = 1,
	GZ_BRIDGE_ATTACHED = 2,
	GZ_BRIDGE_CLOSING = 3,
	GZ_BRIDGE_COOLING = 4,
};

/* Queue pair states, as the component asks and the engine has them. */
enum {
	GZ_BRIDGE_QP_RESET = 0,
	GZ_BRIDGE_QP_RTS = 1,
	GZ_BRIDGE_QP_ERR = 2,
};

/*
 * A queue pair. The component fills the description while it asks for
 * RESET, then asks for RTS; the engine takes a copy of the description
 * when it moves the queue pair to RTS and never reads it again.
 */
struct gz_bridge_qp {
	/* the component's line */
	_Atomic uint32_t want; /* GZ_BRIDGE_QP_* */
	uint32_t pd;	       /* protection domain: keys must match it */
	uint32_t scq, rcq;     /* completion queue numbers in this slot */
	uint64_t cmd_off;      /* command ring: offset in the slot */
	uint32_t cmd_ent;      /* entries, a power of two */
	uint32_t peer_gcid;    /* RC: the component it is paired with; 0:
				* an RD queue pair, each command names its
				* destination (GZ_BRIDGE_RD_DEST) */
	uint32_t peer_qpn;     /* and that component's queue pair */
	uint32_t peer_gen;     /* and its attach (0: whichever is there) */
	/* the receive ring: rq_ent (a power of two, 0: none) entries of
	 * struct gz_bridge_rqe at rq_off in the slot, the first of them
	 * the engine takes at rq_first */
	uint64_t rq_off;
	uint32_t rq_ent, rq_first;
	/* how long a message of ours waits for the receiver to post a
	 * receive before it completes RDM_FULL (0: 100 ms) */
	uint32_t rdm_us;
	/* the component's name for this queue pair, echoed as qp_num in
	 * its completions: one of a predecessor at the same number is
	 * told apart */
	uint32_t tag;
	/* the doorbells: the component's tails of the command ring and
	 * of the receive ring */
	_Atomic uint32_t cmd_tail GZ_ALIGNED;
	_Atomic uint32_t rq_tail;
	/* the engine's line: state, status of an ERR, the heads written
	 * back (entries the component may reuse) */
	_Atomic uint32_t state GZ_ALIGNED;
	uint32_t status;
	_Atomic uint32_t cmd_head;
	_Atomic uint32_t rq_head;
};

/* An RD queue pair's command names its destination queue pair in
 * op.reserved (ENQA: none, an RD queue pair sends no ENQA; PUTIMM: none,
 * its bytes are there): its index in the slot (bits 0-7), its tag's low
 * 24 bits (8-31, 0: whichever), the slot's generation (32-63, 0:
 * whichever). */
#define GZ_BRIDGE_RD_DEST(idx, tag, gen)                                       \
	((uint64_t)((idx)&0xffu) | (uint64_t)((tag)&0xffffffu) << 8 |          \
	 (uint64_t)(gen) << 32)

/* A posted receive in a receive ring: struct gz_xdm_rqe with room for
 * GZ_BRIDGE_RQ_SGE buffers, each named by its offset in the slot's data
 * window (seg 0). */
#define GZ_BRIDGE_RQ_SGE 7u

struct gz_bridge_rqe {
	uint64_t wr_id; /* the component's: the engine never reads it */
	uint32_t num_sge;
	uint32_t pad;
	struct gz_xdm_sge sge[GZ_BRIDGE_RQ_SGE];
};

/* A completion queue: a ring of gz_xdm_cqe with a phase bit. The engine
 * writes entries and prod; the component reads them and writes cons. */
struct gz_bridge_cq {
	uint64_t ring_off; /* offset in the slot */
	uint32_t ent;	   /* a power of two */
	/* the component's, new at every create: a ring at the same place
	 * for a new queue starts afresh, not where the last one was */
	uint32_t epoch;
	_Atomic uint32_t prod GZ_ALIGNED;
	_Atomic uint32_t cons GZ_ALIGNED;
	/* the engine's, once a message found the ring full: it is in
	 * error from then on (a line of its own: read at every empty
	 * poll, written once) */
	_Atomic uint32_t overrun GZ_ALIGNED;
};

/* A slot's control area, at its offset 0. */
struct gz_bridge_slot {
	_Atomic uint32_t state; /* GZ_BRIDGE_FREE... */
	uint32_t gcid;		/* the engine's, at ATTACHED */
	uint64_t owner;		/* the claimer's random token */
	/* the engine's, new at every attach: a component that finds
	 * another one here was reaped, and the slot is no longer its */
	uint32_t generation;
	uint32_t pad1;
	uint64_t caps; /* what the component says of itself */
	/* where the rest is (the engine's, at ATTACHED) */
	uint64_t keys_off;
	uint32_t nkeys; /* a power of two */
	uint32_t pad0;
	uint64_t queues_off, queues_len; /* for rings, the component's */
	uint64_t window_off, window_len; /* data space */
	/* bumped by the component at least every 100 ms while it lives */
	_Atomic uint64_t heartbeat GZ_ALIGNED;
	struct gz_bridge_qp qp[GZ_BRIDGE_MAX_QP];
	struct gz_bridge_cq cq[GZ_BRIDGE_MAX_CQ];
};

_Static_assert(sizeof(struct gz_bridge_hdr) <= 4096, "header in page 0");
_Static_assert(offsetof(struct gz_bridge_qp, cmd_tail) == 64 &&
		   offsetof(struct gz_bridge_qp, state) == 128,
	       "each side's words on a line of its own");
_Static_assert(sizeof(struct gz_bridge_qp) == 192, "queue pair record");
_Static_assert(sizeof(struct gz_bridge_rqe) == 128 &&
		   offsetof(struct gz_bridge_rqe, sge) ==
		       offsetof(struct gz_xdm_rqe, sge),
	       "a receive entry is the queue ABI's, in 128 bytes");
_Static_assert(sizeof(struct gz_bridge_slot) <= 64 * 1024,
	       "control area in 64 KiB");

/* The fixed parts of a slot, by the engine at start: control area, key
 * table, queue area; the rest of the slot is its data window. */
#define GZ_BRIDGE_CTL_LEN (64u * 1024)
#define GZ_BRIDGE_KEYS 1024u
#define GZ_BRIDGE_QUEUES_LEN                                                   \
	(GZ_BRIDGE_SLOT_ALIGN - GZ_BRIDGE_CTL_LEN -                            \
	 GZ_BRIDGE_KEYS * sizeof(struct gz_key_entry))

#endif /* GZ_VFIO_BRIDGE_H */
