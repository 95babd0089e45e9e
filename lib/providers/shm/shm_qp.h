/* SPDX-License-Identifier: MIT */
/* shm provider: a queue pair as its owner holds it (private memory), and
 * the requests it parks. Part of shm.h, which includes it. */
#ifndef GZ_PROVIDERS_SHM_SHM_QP_H
#define GZ_PROVIDERS_SHM_SHM_QP_H

/*
 * A peer's queue-pair entry, as one consistent snapshot, checked: masks
 * are 2^k - 1 within GZ_SHM_MAX_DEPTH, the stride fits a receive entry.
 */
struct gz_shm_qpsnap {
	uint64_t id;
	uint32_t qpn, domain, type;
	uint32_t rq_seg, rq_mask, rq_stride;
	uint32_t rcq_seg, rcq_mask;
	uint32_t peer_gcid, peer_qpn;
	uint64_t peer_inc;
};

struct gz_shm_qp {
	struct gz_qp base;
	struct gz_shm_ctx *ctx;
	struct gz_shm_cq *scq;
	struct gz_shm_cq *rcq;
	struct gz_shm_peer *peer;	/* RC: connected peer */
	uint32_t rqpn;			/* RC: remote queue pair */
	uint32_t rdomain;		/* RC: its protection domain */
	uint64_t rinc;			/* RC: its component's incarnation */
	/* RC: the remote entry's id when it was last seen connected to us
	 * (GZ_SHM_RID_NONE: not yet); the fast path compares it (shm_pair.c) */
	_Atomic uint64_t rid;
	uint32_t seq;			/* our entry's sequence (even) */
	_Atomic uint32_t state;		/* enum genzio_qp_state, or
					 * GZ_SHM_QPS_STOPPED */
	_Atomic uint32_t err_status;	/* ERR: what caused it */
	uint32_t max_sge;
	uint32_t max_inline;
	uint32_t slot;
	uint32_t lane;			/* our lane in every peer's guard */
	struct gz_shm_lane *rc_lane;	/* RC: that lane at our peer */
	const struct gz_lkey *lkeys;
	uint32_t max_mr;
	uint32_t domain;		/* key domain of our pd */
	uint64_t lane_seq;		/* our lanes' next even state */
	struct gz_xdm_kcache kc;	/* RC: the last key at the peer */
	/* receive queue, in segment rq_seg */
	struct gz_shm_rqhdr *rq;
	uint8_t *rqe;
	uint32_t rq_seg, rq_mask, rq_stride, max_recv_sge;
	uint64_t rq_seg_len;
	_Atomic uint32_t rq_posted;	/* owner's producer index */
	uint32_t rq_cap;		/* rq_depth asked for */
	_Atomic uint32_t rq_done;	/* slots free again, in order */
	uint8_t *rq_fin;		/* per slot: completion polled */
	struct gz_shm_rqpriv {		/* per slot, what we posted */
		uint64_t wr_id;
		uint32_t len;		/* bytes it holds (at most 2^32 - 1) */
		uint32_t nstaged;	/* staged: buffers in stage_sge */
	} *rq_priv;
	/* Receives into memory outside data space land in a slot of a
	 * staging segment, made at the first such post, and are copied out
	 * at poll (shm_recv.c). */
	uint8_t *stage;			/* slot j at j * stage_slot, or NULL */
	uint32_t stage_seg;
	uint32_t stage_slot;		/* bytes a staged receive may hold */
	uint32_t stage_mask;		/* slots - 1: receive p takes p & it */
	struct genzio_sge *stage_sge;	/* per slot, max_recv_sge buffers */
	_Atomic uint64_t staged, staged_bytes;
	/* requests parked while the receiver had no buffer (shm_park.c) */
	_Atomic uint32_t npark;		/* read without the lock */
	atomic_flag park_lock;
	uint32_t park_head;
	struct gz_shm_parked *park;	/* GZ_SHM_PARKED entries */
	uint64_t rdm_timeout_ns;
	/* sender side: the receiver's producer index as last read */
	uint32_t prod_seen, prod_seen_qpn;
	uint32_t rcons_seen;		/* and its receive cq's cons */
	const struct gz_shm_peer *seen_peer;	/* whose views they are */
	uint64_t seen_inc;
};

/* Bytes of @qp's staging segment: a slot per staged receive in flight. */
static inline uint64_t gz_shm_stage_len(const struct gz_shm_qp *qp)
{
	return (uint64_t)(qp->stage_mask + 1) * qp->stage_slot;
}

struct gz_shm_parked {
	struct genzio_send_wr wr;
	uint8_t done;			/* executed: only its completion waits */
	uint8_t status;			/* ... with this status */
	uint8_t owes;			/* counted in scq->owed */
	uint8_t paired;			/* RC peer seen connected back since
					 * deadline_ns was set */
	struct genzio_sge sge[GZ_SHM_MAX_SGE];
	uint8_t data[GENZIO_MAX_INLINE];	/* inline payload, copied */
	uint64_t deadline_ns;
};

#endif /* GZ_PROVIDERS_SHM_SHM_QP_H */
