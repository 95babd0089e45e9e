/* SPDX-License-Identifier: MIT */
/*
 * shm provider: every process is a component of a host-local fabric.
 *
 * THE RULE FOR THIS WHOLE PROVIDER. Every structure in shm_wire.h lives
 * in a file other processes map and (being the same user) may write,
 * correctly or not. So a value read from one is input: load it once into
 * a local, check the local against a private bound, and use only the
 * local. Never index a private array, build a path or size a mapping with
 * a shared value that was not checked first; never read it a second time
 * to use it. What the owner needs for itself (its channel ids, which
 * directory a segment is in, its cq ids) it keeps in private memory. A
 * bad value is a protocol error: an error completion, -EPROTO, a PEER_DEAD
 * - never an assert, a crash or a hang. Nothing on post or poll takes a
 * lock another process can hold.
 *
 * Files, all in the user's private directory <dir>/genzio-<uid>/ (dir is
 * $GENZIO_SHM_DIR or /dev/shm, and the same under a hugetlbfs mount):
 *   <fabric>.reg                 registry (lib/fabric)
 *   <fabric>.fm                  its manager: topology, control space,
 *                                events, path words (lib/fabric/fm*.c)
 *   <fabric>-<cid>-<inc>.comp    a component: life lock, queue pair,
 *                                segment and key tables (peers map it
 *                                read-only)
 *   <fabric>-<cid>-<inc>.guard   its in-flight access lanes (shm_guard.c)
 *   <fabric>-<cid>-<inc>-<seg>   a data-space segment
 *   <fabric>-<cid>-<inc>-ch<n>   a completion channel's FIFO
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

#include "fabric/fabric.h"
#include "fabric/fm.h"
#include "fabric/liveness.h"
#include "provider.h"
#include "sys/sys.h"
#include "xdm/ring.h"
#include "xdm/xdm.h"
#include "shm_wire.h"

/* ---- private: a remote component as we reach it (shm_peer.c) ---- */
struct gz_shm_ctx;

struct gz_shm_peer {
	struct gz_xdm_target tgt;	/* first: the fast path starts here */
	const struct gz_shm_comp *comp;	/* read-only mapping */
	const _Atomic uint8_t *path;	/* our path word to it (the fabric
					 * manager's file; only its DOWN bit
					 * is ever used) */
	struct gz_fabric_watch live;	/* its liveness (lib/fabric) */
	_Atomic uint32_t told;		/* PEER_DEAD raised */
	struct gz_shm_lane *lanes;	/* our window of its guard file */
	int pidfd;			/* readable when it exits, or -1 */
	uint32_t gen;			/* names it in the event set */
	/* its channel FIFOs, opened lazily: (sequence + 1) << 32 | fd, by
	 * sequence % GZ_SHM_MAX_CHANNELS; fds a newer channel replaced stay
	 * open (another thread may be writing to one) until the peer goes */
	_Atomic uint64_t chan[GZ_SHM_MAX_CHANNELS];
	int retired[GZ_SHM_MAX_CHANNELS];
	_Atomic uint32_t nretired;
	uint32_t gcid;
	uint32_t users;			/* under ctx lock */
	int32_t pid;			/* snapshots of its header */
	uint64_t starttime;
	uint64_t incarnation;
	uint64_t comp_id[2];		/* its component file (gz_sys_fd_id) */
	_Atomic int pid_ok;		/* its pid holds that file open: 1,
					 * not: -1, not asked yet: 0 */
	_Atomic int proc_told;		/* a cross-memory failure was said */
	struct gz_shm_ctx *ctx;
	pthread_mutex_t map_lock;	/* slow path: map_seg */
};

/* ---- private: our context ---- */
struct gz_shm_ctx {
	struct genzio_context base;
	struct gz_fabric fabric;
	struct gz_fm fm;		/* the fabric's manager (shm_fm.c) */
	int fm_locked;			/* between fm_enter and fm_attach */
	int fm_built;			/* and this join built the fabric */
	int fm_wd, fm_efd;		/* its file's watch (shm_fmwatch.c) */
	pid_t fm_pid;			/* the process that watches */
	struct gz_shm_ctx *fm_next;
	uint64_t route_timeout_ns;	/* work waits this long for a path */
	struct gz_fm_snap *fm_snap;	/* scratch of fm_enter */
	uint64_t fm_log_next;		/* the next event of its log to read */
	int dirfd[GZ_SHM_NDIRS];	/* our private dirs, or -1 */
	char huge_why[2][400];		/* why a hugetlbfs dir is -1 */
	char procmem_why[160];		/* why peers cannot reach our private
					 * memory, "" if they can (REG_ANY) */
	int inofd;			/* the process's inotify fd while it
					 * watches our component file, or -1 */
	int watch_wd;			/* (shm_watch.c) */
	int watch_efd;			/* readable when an event names us */
	pid_t watch_pid;		/* the process that watches */
	struct gz_shm_ctx *watch_next;
	_Atomic uint32_t comp_suspect;	/* an event named our file */
	int comp_fd;			/* our component file, open for life */
	uint64_t comp_dev, comp_ino;	/* which file that is */
	struct gz_shm_comp *comp;	/* our component file, writable */
	int guard_fd;			/* our guard file, 512 MiB sparse,
					 * read with pread (shm_guard.c) */
	uint32_t cid;
	uint64_t incarnation;
	int mb_expedited;		/* membarrier registered */
	uint64_t lanes_used[GZ_SHM_MAX_QP / 64];	/* by our queue pairs */
	uint32_t lane_hw;		/* lanes below this were ever used */
	struct gz_shm_stuck {		/* accesses a wait timed out on */
		uint64_t inc, state;
		uint32_t cid, lane;
	} stuck[8];
	uint32_t nstuck;
	pthread_mutex_t stuck_lock;	/* waits run without the ctx lock */
	_Atomic uint32_t next_seg;	/* ids are never reused */
	uint32_t next_qp_slot;		/* round robin: slots rest longest */
	uint16_t qp_gen[GZ_SHM_MAX_QP];	/* per slot */
	uint32_t peer_gen;
	uint32_t next_chan;		/* channel sequence: never reused */
	uint64_t huge_budget, huge_used;
	struct gz_shm_mem *mems;	/* list, for mr_reg lookups */
	struct gz_shm_peer *peer[GZ_SHM_MAX_CID + 1];	/* current, by CID */
	struct gz_shm_qp *_Atomic qp[GZ_SHM_MAX_QP];	/* by slot */
	struct gz_shm_cq *_Atomic cq[GZ_SHM_MAX_QP];	/* by id */
	struct gz_shm_channel *chan[GZ_SHM_MAX_CHANNELS];
	/* pollers and channel waiters inside progress(): a destroy waits
	 * for them to leave before it frees what they may be looking at */
	_Atomic uint32_t progress_busy;
};

static inline struct gz_shm_ctx *to_shm_ctx(struct genzio_context *c)
{
	return container_of(c, struct gz_shm_ctx, base);
}

struct gz_shm_mem {
	struct gz_mem base;
	struct gz_shm_mem *next;
	uint32_t seg;
	uint32_t dir;			/* GZ_SHM_DIR_*: private copy */
	uint32_t users;			/* registrations inside it */
	int converted;			/* user memory moved in place */
};

struct gz_shm_mr {
	struct gz_mr base;
	struct gz_shm_mem *mem;		/* NULL without data space */
	int revoked;			/* rkey removed, wait not done */
};

struct gz_shm_ah {
	struct genzio_ah base;
	struct gz_shm_peer *peer;
};

struct gz_shm_channel {
	struct gz_channel base;
	uint32_t seq;			/* its FIFO's name, never reused */
	int rfd;			/* FIFO, read end (O_RDWR: no EOF) */
	int timerfd;			/* retries of parked sends */
	char name[64];
};

struct gz_shm_cq {
	struct gz_cq base;
	struct gz_ring ring;
	uint32_t cons;			/* consumer's own index */
	uint32_t users;			/* send and receive queues, ctx lock */
	struct gz_shm_cqhdr *hdr;	/* in segment seg, shared */
	uint32_t seg;
	uint32_t id;			/* private copies of what hdr says */
	uint32_t chan;			/* channel id, or UINT32_MAX */
	uint64_t seg_len;
	struct gz_shm_ctx *ctx;
	int overrun_told;		/* CQ_OVERRUN event raised */
	uint32_t empty_polls;		/* until the next stall check */
	uint64_t stall_since;		/* cons unpublished since (ns), or 0 */
	int notify_fd;			/* our channel's FIFO, or -1 */
	/* completions owed to requests that already took effect (or are
	 * parked) but hold no ring slot: counted against the depth at
	 * post, so a later post cannot take the room they need */
	_Atomic uint32_t owed;
	_Atomic uint32_t parked;	/* its qps holding parked requests */
	_Atomic uint32_t err_qps;	/* its receive qps in ERR: poll
					 * flushes what they post meanwhile */
	_Atomic uint64_t parked_qps[GZ_SHM_MAX_QP / 64];	/* by slot */
	uint64_t dropped;		/* receives of dead queue pairs */
	/* a poll inside receive handling, which looks at queue pairs: their
	 * destroy waits for it to leave */
	_Atomic uint32_t in_poll;
};

#include "shm_qp.h"

/* ---- shm_device.c / shm_files.c: names and directories ---- */
/* "<fabric>-<cid>-<inc><suffix>" */
/* Whether our name still names our component file (not removed, not
 * replaced by someone else's). */
int gz_shm_comp_ours(const struct gz_shm_ctx *ctx);
void gz_shm_name(const struct gz_shm_ctx *ctx, char *buf, size_t len,
		 uint32_t cid, uint64_t inc, const char *suffix);
void gz_shm_seg_name(const struct gz_shm_ctx *ctx, char *buf, size_t len,
		     uint32_t cid, uint64_t inc, uint32_t seg);
/* Unlink every file of a dead incarnation (a gz_fabric_sweep_fn). */
void gz_shm_sweep(void *ctx, uint32_t cid, uint64_t inc);
uint64_t gz_shm_now_ns(void);

/* ---- shm_peer.c ---- */
int gz_shm_peer_get(struct gz_shm_ctx *ctx, uint32_t gcid,
		    struct gz_shm_peer **peer);
void gz_shm_peer_put(struct gz_shm_peer *peer);
/* @p is dead: marked so, PEER_DEAD raised once. */
void gz_shm_peer_died(struct gz_shm_peer *p);
/* Take @p's pidfd out of the event set and close it. */
void gz_shm_peer_unwatch(struct gz_shm_peer *p);
/*
 * Snapshot queue pair @qpn of @p into @s (see struct gz_shm_qpsnap).
 * Return: 0, or GENZIO_WC_REM_QP (gone, changing, or malformed).
 */
uint8_t gz_shm_qpent_read(const struct gz_shm_peer *p, uint32_t qpn,
			  struct gz_shm_qpsnap *s);
/* The same, but an entry that stayed mid-change is GZ_SHM_CHANGING. */
#define GZ_SHM_CHANGING 0x01
uint8_t gz_shm_qpent_peek(const struct gz_shm_peer *p, uint32_t qpn,
			  struct gz_shm_qpsnap *s);
/* The id word of queue pair @qpn's slot at @p (see gz_shm_qpent). */
static inline uint64_t gz_shm_qpent_id(const struct gz_shm_peer *p,
				       uint32_t qpn)
{
	/* Acquire pairs with the owner's release in qp_publish(). */
	return atomic_load_explicit(
		(_Atomic uint64_t *)&p->comp->qp[qpn & (GZ_SHM_MAX_QP - 1)].id,
		memory_order_acquire);
}
/* ---- shm_pair.c: RC connections ---- */
#define GZ_SHM_ADDR_LEN 12	/* an address's shm part: qpn, incarnation */
/* Read and check the shm part of an address: 0 or -EINVAL. */
int gz_shm_addr_get(const uint8_t *a, size_t len, uint32_t *qpn,
		    uint64_t *inc);
#define GZ_SHM_QPS_STOPPED 0x100	/* being destroyed: no more changes */
/* struct gz_shm_qp.rid, not yet paired: an odd sequence with queue pair
 * number 0, which no owner writes and no fill pattern makes */
#define GZ_SHM_RID_NONE GZ_SHM_ID(0, 1)
#define GZ_SHM_PAIR_WAIT_NS 1000000000ull	/* a peer connects back within */
/* Whether @qp's remote queue pair is, as last seen, connected to it and
 * unchanged since: one load, for the lean path; else post_slow() asks
 * gz_shm_pair_check(). */
static inline int gz_shm_paired(const struct gz_shm_qp *qp)
{
	return gz_shm_qpent_id(qp->peer, qp->rqpn) ==
	       atomic_load_explicit(&qp->rid, memory_order_relaxed);
}
/* 0 when it is connected to us; GZ_SHM_NO_RECV while it has not
 * connected (back) yet; a status when it never will (REM_QP). */
int gz_shm_pair_check(struct gz_shm_qp *qp);
/* RD: 0 and its protection domain in *@domain if queue pair @rqpn of
 * @peer is one (RD talks to RD), or a status. */
uint8_t gz_shm_rd_check(struct gz_shm_peer *peer, uint32_t rqpn,
			uint32_t *domain);
int gz_shm_qp_addr(struct genzio_qp *qp, uint8_t *buf, size_t len);
/* A fatal error on RC @qp (peer or its queue pair gone): to ERR, once;
 * receives are flushed now, sends as they run (reach() in shm_exec.c). */
void gz_shm_qp_fatal(struct gz_shm_qp *qp, uint8_t status);
/* The device is gone: RESET or RTS to ERR, RC or RD, without an event. */
void gz_shm_qp_down(struct gz_shm_qp *qp, uint8_t status);
void gz_shm_qp_query(struct genzio_qp *qp, struct genzio_qp_info *info);
int gz_shm_qp_reset(struct genzio_qp *qp);
/* Claim every posted receive no sender took and complete each with
 * GENZIO_WC_FLUSHED in the receive cq (shm_recv.c); what does not fit
 * the cq stays posted, for the next flush. */
void gz_shm_rq_flush(struct gz_shm_qp *qp);
/* Poll: flush the receives queue pairs in ERR posted meanwhile. */
void gz_shm_cq_flush_err(struct gz_shm_cq *cq);
int gz_shm_qp_connect(struct genzio_qp *qp, uint32_t gcid, const uint8_t *a,
		      size_t len);

/* A peer's segment, mapped; NULL if it does not exist (any more). */
const struct gz_xdm_seg *gz_shm_peer_seg(struct gz_shm_peer *p, uint32_t seg);

/* One load in the common case: the peer's life word is unchanged. */
/* The fabric manager's path word to @p: one load, while routes are up. */
static inline int gz_shm_path_up(const struct gz_shm_peer *p)
{
	return GZ_LIKELY(!(atomic_load_explicit(p->path, memory_order_relaxed) &
			   GZ_FM_PATH_DOWN));
}

static inline int gz_shm_peer_alive(struct gz_shm_peer *p)
{
	if (GZ_LIKELY(gz_fabric_alive(&p->live)))
		return 1;
	gz_shm_peer_died(p);
	return 0;
}

/* ---- shm_guard.c: dereg waits for accesses in flight ---- */
int gz_shm_guard_create(struct gz_shm_ctx *ctx);
void gz_shm_guard_destroy(struct gz_shm_ctx *ctx);
/* Map our window of @p's guard file and announce us in it. */
int gz_shm_guard_attach(struct gz_shm_peer *p);
void gz_shm_guard_detach(struct gz_shm_peer *p);
/* A lane for a new queue pair (ctx lock held); every attached window
 * learns of it before the queue pair can use it. */
int gz_shm_lane_take(struct gz_shm_ctx *ctx, uint32_t *lane);
void gz_shm_lane_give(struct gz_shm_ctx *ctx, uint32_t lane);
/* After a key was removed (or a queue pair unpublished): wait until no
 * access that may have passed its check is still running. 0, -ETIMEDOUT
 * (a requester stalled inside), or -errno. @best_effort: accesses an
 * earlier wait found stuck are not waited for again. */
int gz_shm_guard_wait(struct gz_shm_ctx *ctx, int best_effort);

/* Enter and leave an access through queue pair @qp on lane @l (at the
 * target): two plain stores to a line only we write. The owner's
 * gz_shm_guard_wait() pairs them with a membarrier, so no fence is
 * needed here. */
GZ_INLINE struct gz_shm_lane *gz_shm_lane_at(struct gz_shm_qp *qp,
					     struct gz_shm_lane *l)
{
	atomic_store_explicit(&l->state, qp->lane_seq + 1,
			      memory_order_relaxed);
	atomic_signal_fence(memory_order_seq_cst);
	return l;
}

GZ_INLINE struct gz_shm_lane *gz_shm_lane_enter(struct gz_shm_qp *qp,
						struct gz_shm_peer *p)
{
	return gz_shm_lane_at(qp, &p->lanes[qp->lane]);
}

GZ_INLINE void gz_shm_lane_leave(struct gz_shm_qp *qp, struct gz_shm_lane *l)
{
	qp->lane_seq += 2;
	/* Release: every byte the access moved is visible (or read) before
	 * the owner can see the lane idle. */
	atomic_store_explicit(&l->state, qp->lane_seq, memory_order_release);
}

/* Wait until no poll of @cq is inside its receive handling (which looks
 * at queue pairs and copies staged receives). */
void gz_shm_cq_quiesce(struct gz_shm_cq *cq);

/* ---- shm_mem.c ---- */
/* Queue segments (cq and rq rings, receive staging): normal pages,
 * populated, published. Takes no lock: a receive's first post outside
 * data space makes its staging segment. */
int gz_shm_qseg_create(struct gz_shm_ctx *ctx, uint64_t len, uint32_t *seg,
		       void **addr);
void gz_shm_qseg_destroy(struct gz_shm_ctx *ctx, uint32_t seg, void *addr,
			 uint64_t len);
int gz_shm_mem_alloc(struct genzio_context *ctx, uint64_t len, uint32_t flags,
		     struct genzio_mem **mem);
int gz_shm_mem_free(struct genzio_mem *mem);
int gz_shm_mem_convert(struct gz_shm_ctx *ctx, void *addr, uint64_t len,
		       struct gz_shm_mem **mem);
int gz_shm_mem_overlaps(struct gz_shm_ctx *ctx, uint64_t addr, uint64_t len);
struct gz_shm_mem *gz_shm_mem_find(struct gz_shm_ctx *ctx, uint64_t addr,
				   uint64_t len);
void gz_shm_mem_release(struct gz_shm_ctx *ctx, struct gz_shm_mem *m);

/* ---- shm_mr.c ---- */
int gz_shm_mr_reg(struct genzio_pd *pd, void *addr, uint64_t len,
		  uint32_t access, struct gz_mr **mr);
int gz_shm_mr_revoke(struct gz_mr *mr);
int gz_shm_quiesce(struct genzio_context *ctx, int best_effort);
void gz_shm_mr_dereg(struct gz_mr *mr);

/* ---- shm_cq.c ---- */
int gz_shm_cq_create(struct genzio_context *ctx,
		     const struct genzio_cq_attr *attr, struct gz_cq **cq);
int gz_shm_cq_destroy(struct gz_cq *cq);
/* Wake the channel of a cq if it is armed: a peer's (@peer set) or ours
 * (@fd, our channel FIFO). */
void gz_shm_cq_notify(struct gz_shm_cqhdr *hdr, struct gz_shm_peer *peer,
		      int fd);
/* Owner side: complete in error a slot whose claimant died. */
void gz_shm_cq_reap_dead(struct gz_shm_cq *cq);
void gz_shm_cq_overrun_event(struct gz_shm_cq *cq);
/* Room for one more completion owed by us: 1, or 0 (post -EAGAIN). */
static inline int gz_shm_cq_credit(struct gz_shm_cq *cq)
{
	/* cons first, as in gz_ring_reserve() */
	uint32_t cons = atomic_load_explicit(&cq->ring.ctrl->cons,
					     memory_order_acquire);
	uint32_t prod = atomic_load_explicit(&cq->ring.ctrl->prod,
					     memory_order_relaxed);

	return prod - cons + atomic_load_explicit(&cq->owed,
						  memory_order_relaxed) <=
	       cq->ring.mask;
}

/*
 * A slot in the send cq for a completion written now. Completions owed to
 * requests that already took effect hold no slot (so nothing waits behind
 * them) but are counted, so a new request cannot take the room they need.
 */
GZ_INLINE int gz_shm_cq_reserve(struct gz_shm_cq *cq, uint32_t *idx)
{
	if (GZ_UNLIKELY(atomic_load_explicit(&cq->owed,
					     memory_order_relaxed)) &&
	    !gz_shm_cq_credit(cq))
		return -EAGAIN;
	return gz_ring_reserve(&cq->ring, idx);
}

/* ---- shm_qp.c, shm_post.c, shm_exec.c, shm_park.c ---- */
int gz_shm_qp_create(struct genzio_pd *pd, const struct genzio_qp_attr *attr,
		     struct genzio_qp **qp);
int gz_shm_qp_stop(struct genzio_qp *qp);
void gz_shm_qp_destroy(struct genzio_qp *qp);
int gz_shm_post_send(struct genzio_qp *qp, struct genzio_send_wr *wr,
		     struct genzio_send_wr **bad_wr);
/* Write the completion of @wr (opcode, byte_len, result from @res) into
 * the send cq slot reserved at @idx. */
void gz_shm_complete(struct gz_shm_qp *qp, uint32_t idx,
		     const struct genzio_send_wr *wr,
		     const struct gz_xdm_cqe *res, uint8_t status);
/* Run one request off the lean path (@parked: from the parked queue,
 * where a message waits for a receive until @deadline, and any request
 * for its RC peer to connect back a little longer). Return: 0, -EAGAIN
 * (cq full, no effect), GZ_SHM_NO_RECV (waits for a receive buffer or
 * the peer, not executed), or GZ_SHM_DONE (executed; its completion,
 * *@done_st, found no room). */
#define GZ_SHM_NO_RECV 0x100
#define GZ_SHM_DONE 0x200
#define GZ_SHM_NO_ROUTE 0x400	/* reach(): RETRY_EXC, the qp stays RTS */
int gz_shm_run_one(struct gz_shm_qp *qp, const struct genzio_send_wr *wr,
		   uint64_t deadline, int parked, uint8_t *done_st);
extern const uint8_t gz_shm_wc_opcode[GENZIO_WR_OPCODE_MAX];
/* Where @wr goes: the RC peer, or (RD) its address handle. 0, -EINVAL
 * (RD without one), -ENOTCONN (RC not connected). */
int gz_shm_destination(struct gz_shm_qp *qp, const struct genzio_send_wr *wr,
		       struct gz_shm_peer **peer, uint32_t *rqpn);
static inline int gz_shm_is_msg(uint32_t opcode)
{
	return opcode == GENZIO_WR_SEND || opcode == GENZIO_WR_SEND_IMM ||
	       opcode == GENZIO_WR_WRITE_IMM;
}
/* Park a copy of @wr behind earlier ones (done: executed, only its
 * completion with @status is owed). 0 or -EAGAIN (GZ_SHM_PARKED full). */
int gz_shm_park(struct gz_shm_qp *qp, const struct genzio_send_wr *wr,
		int done, uint8_t status);
/* Run parked requests of @qp; called from post, poll and channel waits. */
void gz_shm_qp_progress(struct gz_shm_qp *qp);
void gz_shm_cq_progress(struct gz_shm_cq *cq);
/* Take @qp out of its cq's parked set and complete what it had parked
 * as flushed; on return no poller is looking at it. */
void gz_shm_park_flush(struct gz_shm_qp *qp);
/* Progress the cqs of channel @chan; *@left set if any still parks. */
void gz_shm_chan_progress(struct gz_shm_ctx *ctx, uint32_t chan, int *left);
/* Wait until no poller or channel waiter is inside progress(). */
void gz_shm_progress_quiesce(struct gz_shm_ctx *ctx);

/* ---- shm_recv.c ---- */
int gz_shm_post_recv(struct genzio_qp *qp, struct genzio_recv_wr *wr,
		     struct genzio_recv_wr **bad_wr);
/* Owner side, at poll: a receive completion @w (as a sender wrote it)
 * names slot @rslot of @qp; 1 with @w made ours (wr_id as posted,
 * byte_len within it, a staged payload copied out) and the slot free to
 * repost, or 0 if no receive is outstanding there (garbage, or reported
 * already). */
int gz_shm_rq_slot_take(struct gz_shm_qp *qp, uint32_t rslot,
			struct genzio_wc *w);

/* ---- shm_msg.c: sender side of SEND, SEND_IMM, WRITE_IMM ---- */
/* A delivery under way: what gz_shm_msg_begin() took for it. */
struct gz_shm_delivery {
	struct gz_shm_qpsnap q;		/* the receiving queue pair */
	const struct gz_xdm_seg *rs, *cs;	/* its rq, cq segments */
	struct gz_shm_cqhdr *ch;
	struct gz_ring ring;		/* the receiver's cq */
	const struct gz_xdm_rqe *e;	/* the receive claimed */
	struct gz_xdm_cqe *cqe;		/* its completion slot, claimed */
	uint32_t idx, rslot;
};
/* Snapshot the receiving queue pair and map its queues into @d.
 * Return: 0 or GENZIO_WC_REM_QP. */
uint8_t gz_shm_msg_target(struct gz_shm_peer *peer, uint32_t rqpn,
			  struct gz_shm_delivery *d);
/* Claim a receive and its completion slot (with the claim record written);
 * 0, GZ_SHM_NO_RECV, GENZIO_WC_REM_QP (its indices make no sense), or
 * GENZIO_WC_REM_OP (its cq is full: a receive was consumed all the same). */
int gz_shm_msg_begin(struct gz_shm_qp *qp, struct gz_shm_peer *peer,
		     struct gz_shm_delivery *d);
/* Deliver a SEND/SEND_IMM/WRITE_IMM: status, or GZ_SHM_NO_RECV;
 * *@claimed is set once a receive was consumed (an effect). */
int gz_shm_msg_deliver(struct gz_shm_qp *qp, struct gz_shm_peer *peer,
		       uint32_t rqpn, const struct genzio_send_wr *wr,
		       uint32_t *byte_len, int *claimed);

/* ---- shm_fm.c: the fabric manager ---- */
/* Open and lock the manager, build the fabric if nobody runs it; say
 * which subnet and which CIDs (@allow, 64 words; *@any: all) to join. */
int gz_shm_fm_enter(struct gz_shm_ctx *ctx, const char *fabric,
		    uint32_t *subnet, uint64_t *allow, int *any);
/* Attach our component (once joined and described), publish, unlock. */
int gz_shm_fm_attach(struct gz_shm_ctx *ctx);
/* Undo fm_enter (setup failed before the attach). */
void gz_shm_fm_exit(struct gz_shm_ctx *ctx);
void gz_shm_fm_leave(struct gz_shm_ctx *ctx);
/* Under the ctx lock: events for what the manager changed. */
void gz_shm_fm_harvest(struct gz_shm_ctx *ctx);
int gz_shm_component_query(struct genzio_context *ctx, uint32_t gcid,
			   struct genzio_component *c);
int gz_shm_fm_open(const char *dev, const struct genzio_open_attr *attr,
		   struct gz_fm *fm);
/* shm_fmwatch.c: the event fd wakes when the manager changes the
 * fabric; drain before gz_shm_fm_harvest(). */
void gz_shm_fm_watch_start(struct gz_shm_ctx *ctx);
void gz_shm_fm_watch_stop(struct gz_shm_ctx *ctx);
void gz_shm_fm_watch_drain(struct gz_shm_ctx *ctx);
/* Where a request to @p is while its path is down: GZ_SHM_NO_RECV
 * (waits) until @since + the route timeout, then GZ_SHM_NO_ROUTE. */
int gz_shm_path_wait(struct gz_shm_ctx *ctx, uint64_t since);

/* ---- shm_channel.c, shm_event.c, shm_rmap.c, shm_ah.c ---- */
/* The fd of channel @seq of @p, to write a wake-up to; -1 if it cannot be
 * opened. *@once: the caller closes it after that one write. */
int gz_shm_peer_chan_fd(struct gz_shm_peer *p, uint32_t seq, int *once);
int gz_shm_channel_create(struct genzio_context *ctx, struct gz_channel **ch);
void gz_shm_channel_destroy(struct gz_channel *ch);
int gz_shm_channel_get_event(struct gz_channel *ch, int timeout_ms,
			     struct gz_cq **cq);
int gz_shm_cq_req_notify(struct gz_cq *cq);
void gz_shm_channel_arm_retry(struct gz_shm_ctx *ctx, uint32_t chan);
void gz_shm_event_harvest(struct genzio_context *ctx);
/* The tag of the watch's fds in an event set (a context's, a channel's):
 * no cid. */
#define GZ_SHM_EV_WATCH ((uint64_t)UINT32_MAX << 32)
/* shm_watch.c: watch our component file (once the event set exists),
 * stop (at close); what the watch says, the file gone, the device is
 * (gz_device_fatal); @locked: the caller holds the ctx lock. */
void gz_shm_watch_start(struct gz_shm_ctx *ctx);
void gz_shm_watch_stop(struct gz_shm_ctx *ctx);
/* @fd into @epfd, level-triggered, tagged as the watch's. 0 or -errno. */
int gz_shm_watch_add(int epfd, int fd);
/* Into channel epoll set @epfd: what wakes its waiter for the watch. */
int gz_shm_watch_chan_add(struct gz_shm_ctx *ctx, int epfd);
void gz_shm_comp_check(struct gz_shm_ctx *ctx, int locked);
void gz_shm_device_fatal(struct genzio_context *ctx, uint8_t status);
int gz_shm_rmap_map(struct genzio_ah *ah, uint32_t remote_qpn,
		    uint64_t raddr, uint64_t len, uint32_t rkey, uint32_t mode,
		    struct genzio_rmap **rmap);
void gz_shm_rmap_unmap(struct genzio_rmap *rmap);
int gz_shm_ah_create(struct genzio_pd *pd, uint32_t gcid, const uint8_t *a,
		     size_t len, struct genzio_ah **ah);
void gz_shm_ah_destroy(struct genzio_ah *ah);

#endif /* GZ_PROVIDERS_SHM_SHM_H */
