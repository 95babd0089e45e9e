// SPDX-License-Identifier: MIT
/*
 * One send request executed off the lean path (shm_post.c): any opcode,
 * RD destinations, messages, and the requests parking runs again
 * (shm_park.c). Checks first (peer alive, remote queue pair, local keys),
 * then the software data mover or a message delivery, then the
 * completion.
 */
#include <errno.h>
#include <string.h>

#include "providers/shm/shm.h"

const uint8_t gz_shm_wc_opcode[GENZIO_WR_OPCODE_MAX] = {
	[GENZIO_WR_WRITE] = GENZIO_WC_WRITE,
	[GENZIO_WR_WRITE_IMM] = GENZIO_WC_WRITE,
	[GENZIO_WR_SEND] = GENZIO_WC_SEND,
	[GENZIO_WR_SEND_IMM] = GENZIO_WC_SEND,
	[GENZIO_WR_READ] = GENZIO_WC_READ,
	[GENZIO_WR_SYNC] = GENZIO_WC_SYNC,
	[GENZIO_WR_ATOMIC_SWAP ... GENZIO_WR_ATOMIC_UMAX] = GENZIO_WC_ATOMIC,
};

/* Check each local region, turn the list into the data mover's buffers
 * and sum their lengths. */
static inline uint8_t check_local(const struct gz_shm_qp *qp,
				  const struct genzio_send_wr *wr,
				  uint32_t need, struct gz_xdm_iov *v,
				  uint64_t *len)
{
	uint64_t sum = 0;

	for (int i = 0; i < wr->num_sge; i++) {
		const struct genzio_sge *s = &wr->sg_list[i];

		sum += s->length;
		if (!(wr->send_flags & GENZIO_SEND_INLINE) &&
		    GZ_UNLIKELY(!gz_lkey_ok(qp->lkeys, qp->max_mr, s->lkey,
					    qp->domain, s->addr, s->length,
					    need)))
			return GENZIO_WC_LOC_PROT;
		if (v) {
			v[i].p = (uint8_t *)(uintptr_t)s->addr;
			v[i].len = s->length;
		}
	}
	/* byte_len is 32 bits, as in verbs */
	if (GZ_UNLIKELY(sum > UINT32_MAX))
		return GENZIO_WC_LOC_LEN;
	*len = sum;
	return GENZIO_WC_SUCCESS;
}

/* The key cache of @qp serves its own peer only. */
static inline struct gz_xdm_kcache *kc_for(struct gz_shm_qp *qp,
					   const struct gz_shm_peer *peer)
{
	return peer == qp->peer ? &qp->kc : NULL;
}

int gz_shm_destination(struct gz_shm_qp *qp, const struct genzio_send_wr *wr,
		       struct gz_shm_peer **peer, uint32_t *rqpn)
{
	if (qp->base.pub.qp_type == GENZIO_QPT_RD) {
		if (GZ_UNLIKELY(!wr->ah))
			return -EINVAL;
		*peer = container_of(wr->ah, struct gz_shm_ah, base)->peer;
		*rqpn = wr->remote_qpn;
		return 0;
	}
	if (GZ_UNLIKELY(!qp->peer))
		return -ENOTCONN;
	*peer = qp->peer;
	*rqpn = qp->rqpn;
	return 0;
}

static inline uint8_t exec_atomic(struct gz_shm_qp *qp,
				  struct gz_shm_peer *peer, uint32_t domain,
				  const struct genzio_send_wr *wr,
				  struct gz_xdm_cqe *res)
{
	struct gz_shm_lane *lane;
	uint64_t len, old = 0;
	uint8_t st;

	st = check_local(qp, wr, GENZIO_ACCESS_LOCAL_WRITE, NULL, &len);
	if (st)
		return st;
	lane = gz_shm_lane_enter(qp, peer);
	st = gz_xdm_amo(&peer->tgt, kc_for(qp, peer), domain, wr->atomic.rkey,
			wr->atomic.remote_addr,
			gz_xdm_atomic_opcode(wr->opcode), wr->atomic.size,
			wr->atomic.operand, wr->atomic.compare, &old);
	gz_shm_lane_leave(qp, lane);
	if (st)
		return st;
	if (wr->num_sge)
		memcpy((void *)(uintptr_t)wr->sg_list[0].addr, &old,
		       wr->atomic.size);
	memcpy(res->result, &old, sizeof(old));
	res->byte_len = wr->atomic.size;
	return GENZIO_WC_SUCCESS;
}

static inline uint8_t exec_rma(struct gz_shm_qp *qp, struct gz_shm_peer *peer,
			       uint32_t domain, const struct genzio_send_wr *wr,
			       struct gz_xdm_cqe *res)
{
	int write = wr->opcode == GENZIO_WR_WRITE;
	struct gz_xdm_iov v[GZ_SHM_MAX_SGE];
	struct gz_shm_lane *lane;
	uint64_t len = 0;
	uint8_t st;

	st = check_local(qp, wr, write ? 0 : GENZIO_ACCESS_LOCAL_WRITE, v,
			 &len);
	if (st)
		return st;
	lane = gz_shm_lane_enter(qp, peer);
	st = write ? gz_xdm_put(&peer->tgt, kc_for(qp, peer), domain,
				wr->rdma.rkey, wr->rdma.remote_addr, v,
				(uint32_t)wr->num_sge, len) :
		     gz_xdm_get(&peer->tgt, kc_for(qp, peer), domain,
				wr->rdma.rkey, wr->rdma.remote_addr, v,
				(uint32_t)wr->num_sge, len);
	if (GZ_UNLIKELY(st == GZ_XDM_ST_PROC))
		st = gz_xdm_proc(&peer->tgt, wr->rdma.remote_addr, v,
				 (uint32_t)wr->num_sge, len, write);
	gz_shm_lane_leave(qp, lane);
	if (!st)
		res->byte_len = (uint32_t)len;
	return st;
}

/* Execute @wr, which reach() let through (@domain: the destination
 * queue pair's protection domain); fills res->opcode, ->byte_len and
 * (atomics) ->result. Return: a status, or GZ_SHM_NO_RECV; *@claimed is
 * set once a message consumed a receive (it had an effect, whatever its
 * status). */
static inline int exec_wr(struct gz_shm_qp *qp, struct gz_shm_peer *peer,
			  uint32_t rqpn, uint32_t domain,
			  const struct genzio_send_wr *wr,
			  struct gz_xdm_cqe *res, int *claimed)
{
	uint64_t len = 0;
	uint8_t st;

	res->opcode = gz_shm_wc_opcode[wr->opcode];
	res->byte_len = 0;
	memset(res->result, 0, sizeof(uint64_t));
	if (gz_shm_is_msg(wr->opcode)) {
		uint32_t n = 0;
		int r;

		st = check_local(qp, wr, 0, NULL, &len);
		if (st)
			return st;
		r = gz_shm_msg_deliver(qp, peer, rqpn, wr, &n, claimed);
		res->byte_len = r ? 0 : n;
		return r;
	}
	if (wr->opcode == GENZIO_WR_SYNC) {
		/* Everything earlier already executed; make it visible. */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		return GENZIO_WC_SUCCESS;
	}
	if (res->opcode == GENZIO_WC_ATOMIC)
		return exec_atomic(qp, peer, domain, wr, res);
	return exec_rma(qp, peer, domain, wr, res);
}

/* gz_shm_complete(), but a RETRY_EXC (@fatal 0: a route that is down,
 * not a peer that is gone) leaves the queue pair in RTS. */
static void complete(struct gz_shm_qp *qp, uint32_t idx,
		     const struct genzio_send_wr *wr,
		     const struct gz_xdm_cqe *res, uint8_t status, int fatal)
{
	struct gz_shm_cq *cq = qp->scq;
	struct gz_xdm_cqe *cqe = gz_ring_slot(&cq->ring, idx);

	cqe->status = status;
	cqe->opcode = res->opcode;
	cqe->byte_len = status ? 0 : res->byte_len;
	cqe->context = wr->wr_id;
	cqe->qp_num = qp->base.pub.qp_num;
	cqe->src_gcid = 0;
	cqe->imm_data = 0;
	cqe->wc_flags = 0;
	/* always: a stale ring entry must not leak an old result */
	memcpy(cqe->result, res->result, sizeof(uint64_t));
	gz_ring_cqe_publish(&cq->ring, idx, cqe);
	/* a cq without a channel never pays for the notify fence */
	if (GZ_UNLIKELY(cq->notify_fd >= 0))
		gz_shm_cq_notify(cq->hdr, NULL, cq->notify_fd);
	/* RC: the peer is gone for good (a REM_QP is fatal only where
	 * reach() decides it: a message's REM_QP may be transient) */
	if (GZ_UNLIKELY(status == GENZIO_WC_RETRY_EXC) && fatal)
		gz_shm_qp_fatal(qp, status);
}

void gz_shm_complete(struct gz_shm_qp *qp, uint32_t idx,
		     const struct genzio_send_wr *wr,
		     const struct gz_xdm_cqe *res, uint8_t status)
{
	complete(qp, idx, wr, res, status, 1);
}

/* A slot for a completion: a parked request is counted in cq->owed
 * already, so it needs only room in the ring itself. */
static inline int slot_for(struct gz_shm_qp *qp, int parked, uint32_t *idx)
{
	return parked ? gz_ring_reserve(&qp->scq->ring, idx) :
			gz_shm_cq_reserve(qp->scq, idx);
}

/*
 * Whether the destination can take work at all: RC, its remote end
 * connected back to us (waiting up to GZ_SHM_PAIR_WAIT_NS past the
 * receive timeout's deadline, as verbs retries while a peer is not yet
 * ready to receive); RD, an RD queue pair. 0 and *@domain (the one
 * snapshot of the entry work needs), GZ_SHM_NO_RECV, or a status.
 */
static int reach(struct gz_shm_qp *qp, struct gz_shm_peer *peer,
		 uint32_t rqpn, uint64_t deadline, uint32_t *domain)
{
	uint64_t more;
	int st;

	if (GZ_UNLIKELY(atomic_load_explicit(&qp->state, memory_order_acquire) ==
			GENZIO_QPS_ERR))
		return GENZIO_WC_FLUSHED;
	/* a peer that left tells us so first, whatever its entries say */
	if (GZ_UNLIKELY(!gz_shm_peer_alive(peer)))
		return GENZIO_WC_RETRY_EXC;
	/* no route to it: wait for one (from when it was parked), then
	 * GZ_SHM_NO_ROUTE */
	if (GZ_UNLIKELY(!gz_shm_path_up(peer)))
		return gz_shm_path_wait(qp->ctx, deadline == UINT64_MAX ?
						     UINT64_MAX :
						     deadline - qp->rdm_timeout_ns);
	if (qp->base.pub.qp_type == GENZIO_QPT_RD)
		return gz_shm_rd_check(peer, rqpn, domain);
	/* fixed while the paired queue pair's number is */
	*domain = qp->rdomain;
	st = gz_shm_pair_check(qp);
	if (GZ_LIKELY(st != GZ_SHM_NO_RECV))
		return st;
	more = qp->rdm_timeout_ns < GZ_SHM_PAIR_WAIT_NS ?
		       GZ_SHM_PAIR_WAIT_NS - qp->rdm_timeout_ns : 0;
	if (deadline > UINT64_MAX - more || gz_shm_now_ns() < deadline + more)
		return GZ_SHM_NO_RECV;
	return GENZIO_WC_RETRY_EXC;
}

/* Complete @wr with @st, unexecuted (GZ_SHM_NO_ROUTE: RETRY_EXC that
 * leaves the queue pair in RTS). 0 or -EAGAIN (no room: no effect). */
static int fail_unrun(struct gz_shm_qp *qp, const struct genzio_send_wr *wr,
		      int parked, int st)
{
	struct gz_xdm_cqe res = { .opcode = gz_shm_wc_opcode[wr->opcode] };
	uint32_t idx;

	if (slot_for(qp, parked, &idx))
		return -EAGAIN;
	if (st == GZ_SHM_NO_ROUTE)
		complete(qp, idx, wr, &res, GENZIO_WC_RETRY_EXC, 0);
	else
		gz_shm_complete(qp, idx, wr, &res, (uint8_t)st);
	return 0;
}

int gz_shm_run_one(struct gz_shm_qp *qp, const struct genzio_send_wr *wr,
		   uint64_t deadline, int parked, uint8_t *done_st)
{
	int signaled = !!(wr->send_flags & GENZIO_SEND_SIGNALED), claimed = 0;
	int msg = gz_shm_is_msg(wr->opcode);
	struct gz_shm_peer *peer;
	struct gz_xdm_cqe res;
	uint32_t rqpn, domain = 0, idx = 0;
	int st;

	st = gz_shm_destination(qp, wr, &peer, &rqpn);
	/* in ERR a request flushes, connected or not (as verbs) */
	if (GZ_UNLIKELY(st == -ENOTCONN) &&
	    atomic_load_explicit(&qp->state, memory_order_acquire) ==
		    GENZIO_QPS_ERR)
		return fail_unrun(qp, wr, parked, GENZIO_WC_FLUSHED);
	if (GZ_UNLIKELY(st))
		return st;
	st = reach(qp, peer, rqpn, deadline, &domain);
	if (GZ_UNLIKELY(st == GZ_SHM_NO_RECV)) {
		/* it will wait, counted against the cq like a message */
		if (signaled && !parked && !gz_shm_cq_credit(qp->scq))
			return -EAGAIN;
		return st;
	}
	if (GZ_UNLIKELY(st)) {
		int ret = fail_unrun(qp, wr, parked, st);

		/* the remote queue pair is gone, or not ours: fatal, after
		 * the completion that says so (the flushes come after it) */
		if (st == GENZIO_WC_REM_QP)
			gz_shm_qp_fatal(qp, (uint8_t)st);
		return ret;
	}
	/* An RMA or atomic takes its completion slot first: a full queue
	 * must fail the post before any effect, or a retried FADD would
	 * add twice. A message may have to wait for a receive buffer, so
	 * it takes no slot (later completions must not wait behind it):
	 * it only checks there is room, and is counted once it waits. */
	if (signaled && !msg && GZ_UNLIKELY(slot_for(qp, parked, &idx)))
		return -EAGAIN;
	if (signaled && msg && !parked && GZ_UNLIKELY(!gz_shm_cq_credit(qp->scq)))
		return -EAGAIN;
	/* Execution is synchronous, so every earlier request is done; a
	 * fence only has to order the stores themselves. */
	if (wr->send_flags & GENZIO_SEND_FENCE)
		__atomic_thread_fence(__ATOMIC_RELEASE);
	st = exec_wr(qp, peer, rqpn, domain, wr, &res, &claimed);
	if (GZ_UNLIKELY(st == GZ_SHM_NO_RECV)) {
		if (gz_shm_now_ns() < deadline)
			return GZ_SHM_NO_RECV;
		st = GENZIO_WC_RDM_FULL;
	}
	/* Unsignaled successes leave no trace, like verbs; failures
	 * always complete, and had no effect if they cannot. */
	if (!msg) {
		if (GZ_LIKELY(!signaled)) {
			if (GZ_LIKELY(!st))
				return 0;
			if (GZ_UNLIKELY(slot_for(qp, parked, &idx)))
				return -EAGAIN;
		}
		gz_shm_complete(qp, idx, wr, &res, (uint8_t)st);
		return 0;
	}
	if (!signaled && !st)
		return 0;
	if (GZ_UNLIKELY(slot_for(qp, parked, &idx))) {
		/* no room: fail the post if nothing happened yet, else
		 * owe the completion until the consumer makes room */
		if (!parked && !claimed)
			return -EAGAIN;
		*done_st = (uint8_t)st;
		return GZ_SHM_DONE;
	}
	gz_shm_complete(qp, idx, wr, &res, (uint8_t)st);
	return 0;
}

