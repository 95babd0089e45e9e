// SPDX-License-Identifier: MIT
/*
 * Posting send work requests. The lean path executes each request straight
 * from the request, in the caller's thread, with the software data mover's
 * checks (peer alive, remote queue pair, local key, R-Key and bounds) and
 * no command entry: notes/fast-path.md measured that entry at ~4 ns an op.
 * No lock, no allocation, no syscall, no log.
 *
 * A request reads top to bottom: genzio_post_send() -> gz_shm_post_send()
 * picks the lean path (fast_rma, fast_atomic) or post_slow() ->
 * gz_shm_run_one() (shm_exec.c) -> the data mover (gz_xdm_*) or a message
 * delivery (shm_msg.c) -> gz_shm_complete(). Parking is shm_park.c.
 */
#include <errno.h>
#include <string.h>

#include "core/wr.h"
#include "providers/shm/shm.h"

static inline struct gz_shm_qp *to_shm_qp(struct genzio_qp *qp)
{
	return container_of(qp, struct gz_shm_qp, base.pub);
}

/* ---- the lean path ---- */

/* Completion of a fast_rma() request: signaled, or failed. Out of line so
 * the unsignaled success path stays a handful of instructions. */
static __attribute__((noinline)) int
fast_rma_complete(struct gz_shm_qp *qp, const struct genzio_send_wr *wr,
		  uint32_t idx, uint8_t st)
{
	struct gz_xdm_cqe res;

	if (!(wr->send_flags & GENZIO_SEND_SIGNALED) &&
	    GZ_UNLIKELY(gz_shm_cq_reserve(qp->scq, &idx)))
		return -EAGAIN;	/* it failed: no effect to undo */
	res.opcode = wr->opcode == GENZIO_WR_WRITE ? GENZIO_WC_WRITE :
						     GENZIO_WC_READ;
	res.byte_len = wr->sg_list[0].length;
	memset(res.result, 0, sizeof(uint64_t));
	gz_shm_complete(qp, idx, wr, &res, st);
	return 0;
}

/*
 * What every lean-path request does first: take its completion slot if
 * signaled (a full cq fails the post before any effect), order it after
 * earlier ones if fenced, and check that the peer lives (is_fast()
 * checked its queue pair). Return: -EAGAIN, or the status so far (0: go
 * on).
 */
GZ_INLINE int fast_begin(struct gz_shm_qp *qp, uint32_t flags, uint32_t *idx)
{
	if ((flags & GENZIO_SEND_SIGNALED) &&
	    GZ_UNLIKELY(gz_shm_cq_reserve(qp->scq, idx)))
		return -EAGAIN;
	/* Earlier requests are done (synchronous execution); a fence only
	 * orders the stores: free on x86, whose stores are in order and
	 * whose large non-temporal copies end with sfence. */
	if (flags & GENZIO_SEND_FENCE)
		atomic_thread_fence(memory_order_release);
	if (GZ_UNLIKELY(!gz_shm_peer_alive(qp->peer)))
		return GENZIO_WC_RETRY_EXC;
	return GENZIO_WC_SUCCESS;
}

/*
 * The common case, straight from the work request (notes/fast-path.md):
 * one-sge WRITE or READ to the connected peer, nothing parked. The checks
 * are run_one()'s, with fewer branches. Return: 0, -EAGAIN (no effect).
 */
/* The lean path's access to memory outside data space: everything again
 * from @wr, so that the inline path keeps nothing live for it. */
static __attribute__((cold, noinline)) uint8_t
fast_proc(struct gz_shm_qp *qp, const struct genzio_send_wr *wr)
{
	struct gz_xdm_iov v = { (uint8_t *)(uintptr_t)wr->sg_list->addr,
				wr->sg_list->length };

	return gz_xdm_proc(&qp->peer->tgt, wr->rdma.remote_addr, &v, 1, v.len,
			   wr->opcode == GENZIO_WR_WRITE);
}

GZ_INLINE int fast_rma(struct gz_shm_qp *qp, const struct genzio_send_wr *wr)
{
	const struct genzio_sge *s = wr->sg_list;
	uint32_t flags = wr->send_flags, len = s->length, idx = 0;
	int write = wr->opcode == GENZIO_WR_WRITE;
	int st = fast_begin(qp, flags, &idx);
	struct gz_shm_lane *lane;
	struct gz_xdm_iov v;

	if (GZ_UNLIKELY(st < 0))
		return st;
	if (!st && !(flags & GENZIO_SEND_INLINE) &&
	    GZ_UNLIKELY(!gz_lkey_ok(qp->lkeys, qp->max_mr, s->lkey, qp->domain,
				    s->addr, len,
				    write ? 0 : GENZIO_ACCESS_LOCAL_WRITE)))
		st = GENZIO_WC_LOC_PROT;
	if (GZ_UNLIKELY(st))
		return fast_rma_complete(qp, wr, idx, (uint8_t)st);
	lane = gz_shm_lane_at(qp, qp->rc_lane);
	v.p = (uint8_t *)(uintptr_t)s->addr;
	v.len = len;
	st = write ? gz_xdm_put(&qp->peer->tgt, &qp->kc, qp->rdomain,
				wr->rdma.rkey, wr->rdma.remote_addr, &v, 1, len) :
		     gz_xdm_get(&qp->peer->tgt, &qp->kc, qp->rdomain,
				wr->rdma.rkey, wr->rdma.remote_addr, &v, 1, len);
	if (GZ_UNLIKELY(st == GZ_XDM_ST_PROC))
		st = fast_proc(qp, wr);
	gz_shm_lane_leave(qp, lane);
	if (GZ_LIKELY(!st)) {
		if (GZ_LIKELY(!(flags & GENZIO_SEND_SIGNALED)))
			return 0;
		/* signaled success: the slot is ours, complete it here */
		struct gz_xdm_cqe res = {
			.opcode = write ? GENZIO_WC_WRITE : GENZIO_WC_READ,
			.byte_len = len,
		};

		gz_shm_complete(qp, idx, wr, &res, GENZIO_WC_SUCCESS);
		return 0;
	}
	return fast_rma_complete(qp, wr, idx, (uint8_t)st);
}

/*
 * Atomics without a local result buffer (the old value comes back in the
 * completion), on the lean path like fast_rma(). Return: 0 or -EAGAIN.
 */
GZ_INLINE int fast_atomic(struct gz_shm_qp *qp,
			  const struct genzio_send_wr *wr)
{
	uint32_t flags = wr->send_flags, size = wr->atomic.size, idx = 0;
	int st = fast_begin(qp, flags, &idx);
	struct gz_shm_lane *lane;
	uint64_t old = 0;

	if (GZ_UNLIKELY(st < 0))
		return st;
	if (!st) {
		lane = gz_shm_lane_at(qp, qp->rc_lane);
		st = gz_xdm_amo(&qp->peer->tgt, &qp->kc, qp->rdomain,
				wr->atomic.rkey, wr->atomic.remote_addr,
				gz_xdm_atomic_opcode(wr->opcode), size,
				wr->atomic.operand, wr->atomic.compare, &old);
		gz_shm_lane_leave(qp, lane);
	}
	if (GZ_LIKELY(!st)) {
		if (GZ_LIKELY(!(flags & GENZIO_SEND_SIGNALED)))
			return 0;
	} else if (!(flags & GENZIO_SEND_SIGNALED) &&
		   GZ_UNLIKELY(gz_shm_cq_reserve(qp->scq, &idx))) {
		return -EAGAIN;	/* it failed: no effect to undo */
	}
	struct gz_xdm_cqe res = { .opcode = GENZIO_WC_ATOMIC,
				  .byte_len = size };

	memcpy(res.result, &old, sizeof(old));
	gz_shm_complete(qp, idx, wr, &res, (uint8_t)st);
	return 0;
}

GZ_INLINE int is_fast_atomic(const struct gz_shm_qp *qp,
			     const struct genzio_send_wr *wr)
{
	return wr->opcode >= GENZIO_WR_ATOMIC_SWAP &&
	       wr->opcode <= GENZIO_WR_ATOMIC_UMAX && !wr->num_sge &&
	       qp->peer && gz_shm_path_up(qp->peer) &&
	       (wr->atomic.size == 8 || wr->atomic.size == 4) &&
	       !(wr->atomic.remote_addr & (wr->atomic.size - 1)) &&
	       !(wr->send_flags & ~(GENZIO_SEND_SIGNALED | GENZIO_SEND_FENCE)) &&
	       !atomic_load_explicit(&qp->npark, memory_order_acquire) &&
	       gz_shm_paired(qp);
}

/* The O(1) test that sends a request down fast_rma(). An empty parked
 * queue is read with acquire: it pairs with the release of npark by a
 * poller that ran our parked requests (and so used our key cache, lane
 * and sender views) on its own thread. */
GZ_INLINE int is_fast(const struct gz_shm_qp *qp,
		      const struct genzio_send_wr *wr)
{
	uint32_t flags = wr->send_flags;

	return (wr->opcode == GENZIO_WR_WRITE ||
		wr->opcode == GENZIO_WR_READ) &&
	       wr->num_sge == 1 && wr->sg_list && qp->peer && qp->max_sge &&
	       gz_shm_path_up(qp->peer) &&
	       !(flags & ~(GENZIO_SEND_SIGNALED | GENZIO_SEND_INLINE |
			   GENZIO_SEND_FENCE)) &&
	       (!(flags & GENZIO_SEND_INLINE) ||
		wr->sg_list[0].length <= qp->max_inline) &&
	       !atomic_load_explicit(&qp->npark, memory_order_acquire) &&
	       gz_shm_paired(qp);
}

/* Everything but the lean path: all opcodes, RD, parking. */
static __attribute__((noinline)) int
post_slow(struct gz_shm_qp *qp, struct genzio_send_wr *wr,
	  struct genzio_send_wr **bad_wr)
{
	for (; wr; wr = wr->next) {
		uint8_t done_st = 0;
		int ret;

		ret = gz_wr_check(wr, qp->max_sge, qp->max_inline);
		if (GZ_UNLIKELY(ret))
			goto fail;
		/* Acquire, as in is_fast(): a poller that ran our parked
		 * requests wrote our views (rid, lanes, key cache). */
		if (GZ_UNLIKELY(atomic_load_explicit(&qp->npark,
						     memory_order_acquire))) {
			/* behind parked requests: keep the order */
			gz_shm_qp_progress(qp);
			if (atomic_load_explicit(&qp->npark,
						 memory_order_acquire)) {
				struct gz_shm_peer *peer;
				uint32_t rqpn;

				ret = gz_shm_destination(qp, wr, &peer, &rqpn);
				if (!ret && (wr->send_flags &
					     GENZIO_SEND_SIGNALED) &&
				    !gz_shm_cq_credit(qp->scq))
					ret = -EAGAIN;
				if (!ret)
					ret = gz_shm_park(qp, wr, 0, 0);
				if (ret)
					goto fail;
				continue;
			}
		}
		if (GZ_UNLIKELY(gz_shm_is_msg(wr->opcode) &&
				atomic_load(&qp->npark) >= GZ_SHM_PARKED)) {
			ret = -EAGAIN;
			goto fail;
		}
		/* first try: a missing receive buffer parks, never fails */
		ret = gz_shm_run_one(qp, wr, UINT64_MAX, 0, &done_st);
		if (GZ_UNLIKELY(ret == GZ_SHM_NO_RECV))
			ret = gz_shm_park(qp, wr, 0, 0);
		else if (GZ_UNLIKELY(ret == GZ_SHM_DONE))
			ret = gz_shm_park(qp, wr, 1, done_st);
		if (GZ_UNLIKELY(ret))
			goto fail;
		continue;
fail:
		*bad_wr = wr;
		return ret;
	}
	return 0;
}

int gz_shm_post_send(struct genzio_qp *pub, struct genzio_send_wr *wr,
		     struct genzio_send_wr **bad_wr)
{
	struct gz_shm_qp *qp = to_shm_qp(pub);

	for (; wr; wr = wr->next) {
		int ret;

		if (GZ_UNLIKELY(pub->qp_type != GENZIO_QPT_RC))
			return post_slow(qp, wr, bad_wr);
		if (GZ_LIKELY(is_fast(qp, wr)))
			ret = fast_rma(qp, wr);
		else if (is_fast_atomic(qp, wr))
			ret = fast_atomic(qp, wr);
		else
			return post_slow(qp, wr, bad_wr);
		if (GZ_UNLIKELY(ret)) {
			*bad_wr = wr;
			return ret;
		}
	}
	return 0;
}
