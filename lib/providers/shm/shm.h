/* SPDX-License-Identifier: MIT */
/*
 * shm provider: every process is a component of a host-local fabric.
 *
 * Files under /dev/shm (and a hugetlbfs mount) are the fabric:
 *   genzio-<fabric>.reg                 registry: GCID slots, robust mutex
 *   genzio-<fabric>-<cid>-<inc>.comp    a component: life lock, queue pair,
 *                                       segment and key tables (peers map
 *                                       it read-only)
 *   genzio-<fabric>-<cid>-<inc>-<seg>   a data-space segment
 * <inc> is the incarnation, unique per join, so a restarted process never
 * meets the files, keys or queue pairs of its predecessor.
 *
 * RMA is one-sided: the requester maps the target's segments and its data
 * mover checks the target's key table, so the target runs no code.
 */
#ifndef GZ_PROVIDERS_SHM_SHM_H
#define GZ_PROVIDERS_SHM_SHM_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "provider.h"
#include "sys/sys.h"
#include "xdm/ring.h"
#include "xdm/xdm.h"

#define GZ_SHM_DIR "/dev/shm"
#define GZ_SHM_FABRIC_MAX 24
#define GZ_SHM_MAX_CID 4095u
#define GZ_SHM_QP_BITS 10
#define GZ_SHM_MAX_QP (1u << GZ_SHM_QP_BITS)
#define GZ_SHM_MAX_SEG 65536u	/* per incarnation; ids are never reused */
#define GZ_SHM_KEYS 16384u	/* key table slots */
#define GZ_SHM_MAX_MR 12288u	/* keeps the key table <= 75% full */
#define GZ_SHM_MAX_DEPTH 65536u
#define GZ_SHM_MAX_SGE 16u
#define GZ_SHM_MAX_CHANNELS 64
#define GZ_SHM_PARKED 256u	/* requests one qp may park */
#define GZ_SHM_RETRY_NS 200000u	/* parked sends retry every 200 us */
#define GZ_SHM_RDM_TIMEOUT_US 100000u
#define GZ_SHM_RECHECK_NS 1000000u	/* degraded liveness check: 1 ms */
#define GZ_SHM_MAGIC_REG 0x475a5245u	/* "GZRE" */
#define GZ_SHM_MAGIC_COMP 0x475a434fu	/* "GZCO" */
#define GZ_SHM_VERSION 1u

/* ---- registry (shm_registry.c) ---- */
struct gz_shm_slot {
	uint32_t used;
	int32_t pid;
	uint64_t starttime;
	uint64_t incarnation;
	uint64_t pad[5];
} GZ_ALIGNED;

struct gz_shm_registry {
	uint32_t magic;
	uint32_t version;
	uint32_t subnet;
	uint32_t pad;
	uint64_t next_incarnation;
	pthread_mutex_t lock GZ_ALIGNED;
	struct gz_shm_slot slot[GZ_SHM_MAX_CID];	/* slot i: CID i + 1 */
};

int gz_shm_registry_open(const char *fabric, uint32_t subnet,
			 struct gz_shm_registry **reg);
void gz_shm_registry_close(struct gz_shm_registry *reg);
/* Take a free CID (reclaiming dead holders) for this process. */
int gz_shm_registry_join(struct gz_shm_registry *reg, const char *fabric,
			 uint32_t *cid, uint64_t *incarnation);
void gz_shm_registry_leave(struct gz_shm_registry *reg, uint32_t cid,
			   uint64_t incarnation);
/* The live holder of @cid, or -EHOSTUNREACH. */
int gz_shm_registry_lookup(struct gz_shm_registry *reg, uint32_t cid,
			   uint64_t *incarnation);
/* Unlink every file of a dead incarnation. */
void gz_shm_registry_sweep(const char *fabric, uint32_t cid, uint64_t inc);

/* ---- component file, shared with peers ---- */
struct gz_shm_segdesc {
	_Atomic uint32_t live;	/* 1 while the segment exists */
	uint32_t dir;		/* 0: /dev/shm, n: hugedir[n - 1] */
	uint64_t len;
};

/* A queue pair as peers see it: its number, and the key domain of its
 * protection domain (an R-Key from another domain is refused, as in verbs). */
struct gz_shm_qpent {
	_Atomic uint32_t qpn;	/* 0: free slot */
	uint32_t domain;
	uint32_t rq_seg;	/* receive queue: segment, entries - 1, */
	uint32_t rq_mask;	/* entry size */
	uint32_t rq_stride;
	uint32_t rcq_seg;	/* receive cq: segment, entries - 1 */
	uint32_t rcq_mask;
	uint32_t pad;
};

/*
 * Receive side, in segments peers map: a queue pair's posted receives
 * (single producer: the owner; consumers: senders, claiming with a CAS),
 * and every completion queue (senders write receive completions into it).
 */
struct gz_shm_rqhdr {
	_Atomic uint32_t prod GZ_ALIGNED;	/* receives posted */
	_Atomic uint32_t cons GZ_ALIGNED;	/* receives claimed */
};

struct gz_shm_rqe {
	uint64_t wr_id;
	uint32_t num_sge;
	uint32_t pad;
	struct {
		uint32_t seg;
		uint32_t len;
		uint64_t off;
	} sge[];
};

struct gz_shm_cqhdr {
	struct gz_ring_ctrl ring;
	struct {
		_Atomic uint32_t armed;	/* next completion wakes chan */
		_Atomic uint32_t overrun; /* a producer found it full */
		uint32_t chan;		/* channel id, or UINT32_MAX */
		uint32_t id;		/* cq id sent on the channel */
	} notify GZ_ALIGNED;
};

#define GZ_SHM_QHDR 256u	/* entries start here in cq/rq segments */
_Static_assert(sizeof(struct gz_shm_cqhdr) <= GZ_SHM_QHDR, "cq header");
_Static_assert(sizeof(struct gz_shm_rqhdr) <= GZ_SHM_QHDR, "rq header");

struct gz_shm_comp {
	uint32_t magic;
	uint32_t version;
	uint32_t gcid;
	int32_t pid;
	uint64_t starttime;
	uint64_t incarnation;
	_Atomic uint32_t closed;	/* left the fabric in good order */
	uint32_t pad;
	char hugedir[2][PATH_MAX];	/* 2 MiB and 1 GiB mounts */
	/* Its own line: held for life, rewritten by the kernel on death. */
	pthread_mutex_t life GZ_ALIGNED;
	struct gz_shm_qpent qp[GZ_SHM_MAX_QP] GZ_ALIGNED;
	struct gz_shm_segdesc seg[GZ_SHM_MAX_SEG] GZ_ALIGNED;
	struct gz_key_entry keys[GZ_SHM_KEYS];
};

/* ---- a remote component as we reach it (shm_peer.c) ---- */
struct gz_shm_ctx;

struct gz_shm_peer {
	struct gz_xdm_target tgt;	/* first: the fast path starts here */
	const struct gz_shm_comp *comp;	/* read-only mapping */
	uint32_t life_word;		/* futex word while it lives; see
					 * GZ_SHM_LIFE_UNKNOWN */
	_Atomic uint32_t dead;
	uint64_t next_check_ns;		/* degraded mode: next syscall check */
	int pidfd;			/* readable when it exits, or -1 */
	int chan_fd[GZ_SHM_MAX_CHANNELS];	/* its channel FIFOs, lazily */
	uint32_t gcid;
	uint32_t users;			/* under ctx lock */
	uint64_t incarnation;
	struct gz_shm_ctx *ctx;
	pthread_mutex_t map_lock;	/* slow path: map_seg */
};

/* ---- our context ---- */
struct gz_shm_ctx {
	struct genzio_context base;
	struct gz_shm_registry *reg;
	struct gz_shm_comp *comp;	/* our component file, writable */
	char fabric[GZ_SHM_FABRIC_MAX + 1];
	uint32_t cid;
	uint64_t incarnation;
	uint32_t next_seg;		/* ids are never reused */
	uint32_t qp_gen;
	char hugedir[2][PATH_MAX];	/* 2 MiB, 1 GiB mounts; "" if none */
	uint64_t huge_budget, huge_used;
	struct gz_shm_mem *mems;	/* list, for mr_reg lookups */
	struct gz_shm_peer *peer[GZ_SHM_MAX_CID + 1];	/* current, by CID */
	struct gz_shm_qp *qp[GZ_SHM_MAX_QP];	/* by slot */
	struct gz_shm_cq *cq[GZ_SHM_MAX_QP];	/* by id */
	struct gz_shm_channel *chan[GZ_SHM_MAX_CHANNELS];
};

static inline struct gz_shm_ctx *to_shm_ctx(struct genzio_context *c)
{
	return container_of(c, struct gz_shm_ctx, base);
}

struct gz_shm_mem {
	struct gz_mem base;
	struct gz_shm_mem *next;
	uint32_t seg;
	uint32_t users;			/* registrations inside it */
	int converted;			/* user memory moved in place */
};

struct gz_shm_mr {
	struct gz_mr base;
	struct gz_shm_mem *mem;		/* NULL without remote access */
};

struct gz_shm_ah {
	struct genzio_ah base;
	struct gz_shm_peer *peer;
};

struct gz_shm_channel {
	struct gz_channel base;
	int rfd;			/* FIFO, read end (O_RDWR: no EOF) */
	int timerfd;			/* retries of parked sends */
	char path[PATH_MAX];
};

struct gz_shm_cq {
	struct gz_cq base;
	struct gz_ring ring;
	uint32_t cons;			/* consumer's own index */
	uint32_t users;			/* queue pairs, under ctx lock */
	struct gz_shm_cqhdr *hdr;	/* in segment seg, shared */
	uint32_t seg;
	uint32_t id;
	uint64_t seg_len;
	struct gz_shm_ctx *ctx;
	int overrun_told;		/* CQ_OVERRUN event raised */
	uint32_t empty_polls;		/* until the next stall check */
	uint64_t stall_since;		/* cons unpublished since (ns), or 0 */
	int notify_fd;			/* our channel's FIFO, or -1 */
	_Atomic uint32_t parked;	/* its qps holding parked requests */
};

/*
 * The last R-Key a queue pair resolved, so a stream of requests to one
 * region skips the hash probe: valid while the key entry's sequence
 * number is unchanged (any rewrite of the entry bumps it).
 */
struct gz_shm_kcache {
	const struct gz_key_entry *e;	/* NULL: empty */
	uint32_t rkey;
	uint32_t seq;
	uint32_t access;		/* rights, domain check included */
	uint32_t pad;
	uint64_t base, length;		/* the region, owner's addresses */
	uint8_t *ptr;			/* our address of base */
};

struct gz_shm_qp {
	struct gz_qp base;
	struct gz_shm_ctx *ctx;
	struct gz_shm_cq *scq;
	struct gz_shm_cq *rcq;
	struct gz_shm_peer *peer;	/* RC: connected peer */
	uint32_t rqpn;			/* RC: remote queue pair */
	uint32_t max_sge;
	uint32_t max_inline;
	uint32_t slot;
	const struct gz_lkey *lkeys;
	uint32_t max_mr;
	uint32_t domain;		/* key domain of our pd */
	struct gz_shm_kcache kc;	/* fast_rma(), RC only */
	/* receive queue, in segment rq_seg */
	struct gz_shm_rqhdr *rq;
	uint8_t *rqe;
	uint32_t rq_seg, rq_mask, rq_stride, max_recv_sge;
	uint64_t rq_seg_len;
	uint32_t rq_posted;		/* owner's producer index */
	uint32_t rq_cap;		/* rq_depth asked for */
	_Atomic uint32_t rq_done;	/* slots free again, in order */
	uint8_t *rq_fin;		/* per slot: completion polled */
	/* requests parked while the receiver had no buffer */
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

struct gz_shm_parked {
	struct genzio_send_wr wr;
	uint32_t slot;			/* completion slot, if has_slot */
	uint8_t has_slot;
	uint8_t done;			/* executed: only its completion waits */
	uint8_t status;			/* ... with this status */
	struct genzio_sge sge[GZ_SHM_MAX_SGE];
	uint8_t data[GENZIO_MAX_INLINE];	/* inline payload, copied */
	uint64_t deadline_ns;
};

/* ---- internal calls between the files ---- */
void gz_shm_path(const struct gz_shm_ctx *ctx, char *buf, size_t len,
		 uint32_t cid, uint64_t inc, const char *suffix);
int gz_shm_peer_get(struct gz_shm_ctx *ctx, uint32_t gcid,
		    struct gz_shm_peer **peer);
void gz_shm_peer_put(struct gz_shm_peer *peer);
void gz_shm_peer_seg_path(const struct gz_shm_peer *p, uint32_t idx,
			  char *buf, size_t len);
/* Slow path of gz_shm_peer_alive(): 1 alive, 0 dead (and marked so). */
int gz_shm_peer_check(struct gz_shm_peer *peer);

/* No futex word ever has this value: a peer whose opening thread exited
 * gets it, so every operation takes the (rate-limited) slow check. */
#define GZ_SHM_LIFE_UNKNOWN 0xffffffffu

/*
 * Turn an R-Key at @p into a pointer for a request addressed to a queue
 * pair of key domain @domain: a known key of another protection domain is
 * refused like a key without the right (verbs: remote access error).
 */
GZ_INLINE uint8_t gz_shm_resolve(struct gz_shm_peer *p, uint32_t domain,
				 uint32_t rkey, uint64_t raddr, uint64_t len,
				 uint32_t need, uint8_t **rp)
{
	uint8_t st = gz_xdm_resolve(&p->tgt, rkey, raddr, len, need, rp);

	if (!st && GZ_UNLIKELY(GENZIO_RKEY_DOMAIN(rkey) != domain))
		st = GENZIO_WC_REM_ACCESS;
	return st;
}

/* One load in the common case: the peer's life-lock word is unchanged. */
static inline int gz_shm_peer_alive(struct gz_shm_peer *p)
{
	if (GZ_LIKELY(gz_sys_lifelock_word(&p->comp->life) == p->life_word))
		return 1;
	return gz_shm_peer_check(p);
}

/* Queue segments (cq and rq rings): /dev/shm, normal pages, published. */
int gz_shm_qseg_create(struct gz_shm_ctx *ctx, uint64_t len, uint32_t *seg,
		       void **addr);
void gz_shm_qseg_destroy(struct gz_shm_ctx *ctx, uint32_t seg, void *addr,
			 uint64_t len);
uint64_t gz_shm_now_ns(void);
/* Wake the channel of a cq if it is armed: a peer's (@peer set) or ours
 * (@fd, our channel FIFO). */
void gz_shm_cq_notify(struct gz_shm_cqhdr *hdr, struct gz_shm_peer *peer,
		      int fd);
int gz_shm_peer_chan_fd(struct gz_shm_peer *p, uint32_t chan);
/* Run parked requests of @qp; called from poll and channel waits. */
void gz_shm_qp_progress(struct gz_shm_qp *qp);
void gz_shm_cq_progress(struct gz_shm_cq *cq);
void gz_shm_event_harvest(struct genzio_context *ctx);
void gz_shm_cq_overrun_event(struct gz_shm_cq *cq);
void gz_shm_peer_died(struct gz_shm_peer *p);
int gz_shm_channel_create(struct genzio_context *ctx, struct gz_channel **ch);
void gz_shm_channel_destroy(struct gz_channel *ch);
int gz_shm_channel_get_event(struct gz_channel *ch, int timeout_ms,
			     struct gz_cq **cq);
int gz_shm_cq_req_notify(struct gz_cq *cq);
void gz_shm_channel_arm_retry(struct gz_shm_channel *ch);
int gz_shm_rmap_map(struct genzio_context *ctx, struct genzio_ah *ah,
		    uint64_t raddr, uint64_t len, uint32_t rkey, uint32_t mode,
		    struct genzio_rmap **rmap);
void gz_shm_rmap_unmap(struct genzio_rmap *rmap);
int gz_shm_post_recv(struct genzio_qp *qp, struct genzio_recv_wr *wr,
		     struct genzio_recv_wr **bad_wr);
/* A delivery under way: what gz_shm_msg_begin() took for it. */
struct gz_shm_delivery {
	const struct gz_xdm_seg *rs, *cs;	/* receiver's rq, cq segments */
	struct gz_shm_cqhdr *ch;
	struct gz_ring ring;		/* the receiver's cq */
	const struct gz_shm_rqe *e;	/* the receive claimed */
	struct gz_xdm_cqe *cqe;		/* its completion slot, claimed */
	uint32_t idx, rslot;
};

/* Claim record tag in a cq entry's result[16..23]: tag | ring index. */
#define GZ_SHM_CLAIM_TAG 0x434c41494d000000ull	/* "CLAIM" << 24 */
#define GZ_SHM_REAP_NS 1000000u	/* an unpublished slot this old is checked */

/* Claim a receive and its completion slot (with the claim record written);
 * 0, GZ_SHM_NO_RECV or GENZIO_WC_REM_OP. @d->rs and @d->cs are set. */
int gz_shm_msg_begin(struct gz_shm_qp *qp, struct gz_shm_peer *peer,
		     uint32_t rqpn, struct gz_shm_delivery *d);
/* Owner side: complete in error a slot whose claimant died. */
void gz_shm_cq_reap_dead(struct gz_shm_cq *cq);

/* Deliver a SEND/SEND_IMM/WRITE_IMM: status, or GZ_SHM_NO_RECV. */
#define GZ_SHM_NO_RECV 0x100
int gz_shm_msg_deliver(struct gz_shm_qp *qp, struct gz_shm_peer *peer,
		       uint32_t rqpn, const struct genzio_send_wr *wr,
		       uint32_t *byte_len);

int gz_shm_ah_create(struct genzio_pd *pd, uint32_t gcid,
		     struct genzio_ah **ah);
void gz_shm_ah_destroy(struct genzio_ah *ah);
int gz_shm_cq_create(struct genzio_context *ctx,
		     const struct genzio_cq_attr *attr, struct gz_cq **cq);
int gz_shm_cq_destroy(struct gz_cq *cq);
int gz_shm_mem_alloc(struct genzio_context *ctx, uint64_t len, uint32_t flags,
		     struct genzio_mem **mem);
int gz_shm_mem_free(struct genzio_mem *mem);
int gz_shm_mem_convert(struct gz_shm_ctx *ctx, void *addr, uint64_t len,
		       struct gz_shm_mem **mem);
int gz_shm_mem_overlaps(struct gz_shm_ctx *ctx, uint64_t addr, uint64_t len);
struct gz_shm_mem *gz_shm_mem_find(struct gz_shm_ctx *ctx, uint64_t addr,
				   uint64_t len);
void gz_shm_mem_release(struct gz_shm_ctx *ctx, struct gz_shm_mem *m);
int gz_shm_mr_reg(struct genzio_pd *pd, void *addr, uint64_t len,
		  uint32_t access, struct gz_mr **mr);
void gz_shm_mr_dereg(struct gz_mr *mr);
int gz_shm_qp_create(struct genzio_pd *pd, const struct genzio_qp_attr *attr,
		     struct genzio_qp **qp);
int gz_shm_qp_connect(struct genzio_qp *qp, uint32_t gcid, uint32_t qpn);
void gz_shm_qp_destroy(struct genzio_qp *qp);

#endif /* GZ_PROVIDERS_SHM_SHM_H */
