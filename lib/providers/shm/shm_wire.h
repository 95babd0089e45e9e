/* SPDX-License-Identifier: MIT */
/*
 * shm provider: the layouts other processes map. Every structure here
 * lives in a file another process of the same user can write, correctly
 * or not, so each value read from one is input (the rule in shm.h): load
 * it once into a local, check it, use only the local.
 */
#ifndef GZ_PROVIDERS_SHM_SHM_WIRE_H
#define GZ_PROVIDERS_SHM_SHM_WIRE_H

#include <stdatomic.h>
#include <stdint.h>

#include "fabric/fabric.h"
#include "sys/sys.h"
#include "xdm/ring.h"
#include "xdm/xdm.h"

#define GZ_SHM_MAX_CID GZ_FABRIC_MAX_CID
#define GZ_SHM_QP_BITS 10
#define GZ_SHM_MAX_QP (1u << GZ_SHM_QP_BITS)
#define GZ_SHM_QP_GEN_MASK ((1u << (24 - GZ_SHM_QP_BITS)) - 1)
#define GZ_SHM_MAX_SEG 65536u	/* per incarnation; ids are never reused */
#define GZ_SHM_KEYS 16384u	/* key table slots */
#define GZ_SHM_MAX_MR 12288u	/* keeps the key table <= 75% full */
#define GZ_SHM_MAX_DEPTH 65536u
#define GZ_SHM_MAX_SGE 16u
/* Receive staging: a slot per receive-queue entry up to
 * GZ_SHM_STAGE_SLOTS, as large as fits in GZ_SHM_STAGE_AREA (bounded: a
 * peer that mlockall()s maps all of it), at most GZ_SHM_STAGE_MAX. */
#define GZ_SHM_STAGE_AREA (4u << 20)
#define GZ_SHM_STAGE_SLOTS 1024u
#define GZ_SHM_STAGE_MAX (64u << 10)
#define GZ_SHM_MAX_CHANNELS 64
#define GZ_SHM_PARKED 256u	/* requests one qp may park */
#define GZ_SHM_RETRY_NS 200000u	/* parked sends retry every 200 us */
#define GZ_SHM_RDM_TIMEOUT_US 100000u
#define GZ_SHM_MAGIC_COMP 0x475a434fu	/* "GZCO" */
#define GZ_SHM_VERSION 3u

/* shm's R-Key (its choice, documented in genzio_shm(7)): the 12-bit key
 * domain of the protection domain, then 20 random bits. */
#define GZ_SHM_RKEY(domain, key) ((uint32_t)(domain) << 20 | ((key) & 0xfffffu))
#define GZ_SHM_RKEY_DOMAIN(rkey) ((uint32_t)(rkey) >> 20)
#define GZ_SHM_RKEY_KEY(rkey) ((uint32_t)(rkey) & 0xfffffu)

/* Directories a segment may live in; the index is shared, the paths are
 * each process's own (same host, same mounts). */
enum { GZ_SHM_DIR_SHM, GZ_SHM_DIR_HUGE2M, GZ_SHM_DIR_HUGE1G, GZ_SHM_NDIRS };

/* ---- shared: the component file ---- */
struct gz_shm_segdesc {
	_Atomic uint32_t live;	/* 1 while the segment exists */
	uint32_t dir;		/* GZ_SHM_DIR_* */
	uint64_t len;
};

/*
 * A queue pair as peers see it. id is also the entry's seqlock: its low
 * half is the queue pair number (0: free slot; every create gives the
 * slot a new generation), its high half a sequence number, even while
 * stable, that the owner makes odd while it changes the connection
 * fields and even again after. The owner writes the fields, then id
 * (release); destroy sets id 0 first. A reader that finds the same id,
 * with its qpn and an even sequence, before and after copying the
 * fields has a copy of one state of one queue pair's entry.
 */
#define GZ_SHM_ID(qpn, seq) ((uint64_t)(seq) << 32 | (qpn))
#define GZ_SHM_ID_QPN(id) ((uint32_t)(id))
#define GZ_SHM_ID_SEQ(id) ((uint32_t)((id) >> 32))
struct gz_shm_qpent {
	_Atomic uint64_t id;
	uint32_t domain;	/* key domain of its protection domain */
	uint32_t type;		/* GENZIO_QPT_* */
	uint32_t rq_seg;	/* receive queue: segment, entries - 1, */
	uint32_t rq_mask;	/* entry size */
	uint32_t rq_stride;
	uint32_t rcq_seg;	/* receive cq: segment, entries - 1 */
	uint32_t rcq_mask;
	uint32_t peer_gcid;	/* RC: the queue pair it connected to */
	uint32_t peer_qpn;	/* (0: not connected), of the component */
	uint32_t pad;
	uint64_t peer_inc;	/* incarnation peer_inc */
	uint64_t reserved;
} GZ_ALIGNED;
_Static_assert(sizeof(struct gz_shm_qpent) == 64, "one line per entry");

struct gz_shm_comp {
	uint32_t magic;
	uint32_t version;
	uint32_t gcid;
	int32_t pid;
	uint64_t starttime;
	uint64_t incarnation;
	_Atomic uint32_t closed;	/* left the fabric in good order */
	uint32_t pad;
	/* Its own line: held for life, rewritten by the kernel on death. */
	struct gz_lifelock life;
	struct gz_shm_qpent qp[GZ_SHM_MAX_QP] GZ_ALIGNED;
	struct gz_shm_segdesc seg[GZ_SHM_MAX_SEG] GZ_ALIGNED;
	struct gz_key_entry keys[GZ_SHM_KEYS];
};

/* ---- shared: receive queues and completion queues (data space) ---- */
struct gz_shm_rqhdr {
	_Atomic uint32_t prod GZ_ALIGNED;	/* receives posted */
	_Atomic uint32_t cons GZ_ALIGNED;	/* receives claimed */
};

struct gz_shm_cqhdr {
	struct gz_ring_ctrl ring;
	struct {
		_Atomic uint32_t armed;	/* next completion wakes chan */
		_Atomic uint32_t overrun; /* a producer found it full */
		uint32_t chan;		/* for peers: our channel's sequence
					 * number (its FIFO's name) */
		uint32_t id;		/* for peers: what to write to it */
	} notify GZ_ALIGNED;
};

#define GZ_SHM_QHDR 256u	/* entries start here in cq/rq segments */
_Static_assert(sizeof(struct gz_shm_cqhdr) <= GZ_SHM_QHDR, "cq header");
_Static_assert(sizeof(struct gz_shm_rqhdr) <= GZ_SHM_QHDR, "rq header");

/* Largest receive entry: what a sender accepts as a stride. */
#define GZ_SHM_RQE_MAX (sizeof(struct gz_xdm_rqe) + \
			GZ_SHM_MAX_SGE * sizeof(struct gz_xdm_sge))

/*
 * A sender's claim on a receiver's cq slot, in bytes of the entry the
 * final completion never writes (result[8..31]): the full ring index, the
 * receive slot, and who claims (GCID in src_gcid, incarnation here). The
 * tag is stored last with release; the consumer clears it when it reaps
 * the entry, so an old claim never matches a later lap.
 */
#define GZ_SHM_CLAIM_TAG 0x4d49414c437a67ull	/* "gzCLAIM" */
#define GZ_SHM_REAP_NS 1000000u	/* an unpublished slot this old is checked */
struct gz_shm_claim {
	uint32_t idx;		/* the cq ring index claimed */
	uint32_t rslot;		/* the receive ring index claimed */
	uint64_t incarnation;
	_Atomic uint64_t tag;
};
_Static_assert(sizeof(struct gz_shm_claim) == 24, "claim record");
static inline struct gz_shm_claim *gz_shm_claim_of(struct gz_xdm_cqe *cqe)
{
	return (struct gz_shm_claim *)(void *)(cqe->result + 8);
}

/* ---- shared: in-flight access lanes (shm_guard.c) ---- */
#define GZ_SHM_GUARD_WIN 131072u	/* bytes of lanes per requester CID */
#define GZ_SHM_GUARD_LANES (GZ_SHM_GUARD_WIN / 64 - 1)	/* one per qp slot */
_Static_assert(GZ_SHM_GUARD_LANES >= GZ_SHM_MAX_QP, "a lane per queue pair");
struct gz_shm_guard_hdr {
	uint64_t incarnation;	/* the requester's, while it uses the window */
	uint32_t max_lane;	/* lanes below this may be busy */
	uint32_t expedited;	/* registered for expedited membarrier */
} GZ_ALIGNED;

/* A lane: odd while its queue pair is inside an access to the owner. */
struct gz_shm_lane {
	_Atomic uint64_t state;
} GZ_ALIGNED;

#endif
