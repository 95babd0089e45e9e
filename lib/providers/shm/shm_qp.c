// SPDX-License-Identifier: MIT
/*
 * Queue pairs. The fast path executes each work request straight from the
 * request, in the caller's thread, with the software data mover's checks
 * (peer alive, remote queue pair, local key, R-Key and bounds) and no
 * command entry: notes/fast-path.md measured that entry at ~4 ns an op.
 * No lock, no allocation, no syscall, no log.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "providers/shm/shm.h"

#define SEND_FLAGS_ALL (GENZIO_SEND_SIGNALED | GENZIO_SEND_FENCE | \
			GENZIO_SEND_INLINE)

static inline struct gz_shm_qp *to_shm_qp(struct genzio_qp *qp)
{
	return container_of(qp, struct gz_shm_qp, base.pub);
}

/* Sum of the sge lengths, checking each local region. */
static inline uint8_t check_local(const struct gz_shm_qp *qp,
				  const struct genzio_send_wr *wr,
				  uint32_t need, uint64_t *len)
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
	}
	/* byte_len is 32 bits, as in verbs */
	if (GZ_UNLIKELY(sum > UINT32_MAX))
		return GENZIO_WC_LOC_LEN;
	*len = sum;
	return GENZIO_WC_SUCCESS;
}

static inline void scatter_copy(uint8_t *rp, const struct genzio_send_wr *wr,
				int to_remote)
{
	for (int i = 0; i < wr->num_sge; i++) {
		const struct genzio_sge *s = &wr->sg_list[i];
		void *lp = (void *)(uintptr_t)s->addr;

		if (to_remote)
			gz_xdm_copy(rp, lp, s->length);
		else
			gz_xdm_copy(lp, rp, s->length);
		rp += s->length;
	}
}

/* The remote queue pair @qpn names, as its owner published it. */
static inline const struct gz_shm_qpent *peer_qp(const struct gz_shm_peer *p,
						 uint32_t qpn)
{
	return &p->comp->qp[qpn & (GZ_SHM_MAX_QP - 1)];
}

/* What needs no lookup: fails the post, not the transfer. */
static inline int check_wr(const struct gz_shm_qp *qp,
			   const struct genzio_send_wr *wr)
{
	if (GZ_UNLIKELY(wr->opcode >= GENZIO_WR_OPCODE_MAX ||
			(uint32_t)wr->num_sge > qp->max_sge ||
			(wr->num_sge && !wr->sg_list) ||
			(wr->send_flags & ~SEND_FLAGS_ALL)))
		return -EINVAL;
	switch (wr->opcode) {
	case GENZIO_WR_WRITE:
	case GENZIO_WR_READ:
		if (GZ_UNLIKELY((wr->send_flags & GENZIO_SEND_INLINE) &&
				(wr->opcode == GENZIO_WR_READ ||
				 wr->num_sge > 1 ||
				 (wr->num_sge &&
				  wr->sg_list[0].length > qp->max_inline))))
			return -EINVAL;
		return 0;
	case GENZIO_WR_SYNC:
		return 0;
	case GENZIO_WR_WRITE_IMM:
	case GENZIO_WR_SEND:
	case GENZIO_WR_SEND_IMM:
		return -EOPNOTSUPP;
	default: /* atomics */
		if (GZ_UNLIKELY((wr->atomic.size != 4 && wr->atomic.size != 8) ||
				(wr->atomic.remote_addr & (wr->atomic.size - 1)) ||
				wr->num_sge > 1 ||
				(wr->num_sge &&
				 wr->sg_list[0].length != wr->atomic.size) ||
				(wr->send_flags & GENZIO_SEND_INLINE)))
			return -EINVAL;
		return 0;
	}
}

static const uint8_t wc_opcode[GENZIO_WR_OPCODE_MAX] = {
	[GENZIO_WR_WRITE] = GENZIO_WC_WRITE,
	[GENZIO_WR_READ] = GENZIO_WC_READ,
	[GENZIO_WR_SYNC] = GENZIO_WC_SYNC,
	[GENZIO_WR_ATOMIC_SWAP ... GENZIO_WR_ATOMIC_UMAX] = GENZIO_WC_ATOMIC,
};

/* A known key of another protection domain than the target queue pair's:
 * refused like a key without the right (verbs: remote access error). */
static inline uint8_t check_domain(uint32_t rkey, uint32_t domain)
{
	return GZ_UNLIKELY(GENZIO_RKEY_DOMAIN(rkey) != domain) ?
		       GENZIO_WC_REM_ACCESS : GENZIO_WC_SUCCESS;
}

static inline uint8_t exec_atomic(struct gz_shm_qp *qp,
				  struct gz_shm_peer *peer, uint32_t domain,
				  const struct genzio_send_wr *wr,
				  struct gz_xdm_cqe *res)
{
	uint64_t len, old;
	uint8_t *rp;
	uint8_t st;

	st = check_local(qp, wr, GENZIO_ACCESS_LOCAL_WRITE, &len);
	if (!st)
		st = gz_xdm_resolve(&peer->tgt, wr->atomic.rkey,
				    wr->atomic.remote_addr, wr->atomic.size,
				    GENZIO_ACCESS_REMOTE_ATOMIC, &rp);
	if (!st)
		st = check_domain(wr->atomic.rkey, domain);
	if (st)
		return st;
	old = gz_xdm_atomic(gz_xdm_atomic_opcode(wr->opcode), rp,
			    wr->atomic.size, wr->atomic.operand,
			    wr->atomic.compare);
	if (wr->atomic.size == 4)
		old = (uint32_t)old;
	if (wr->num_sge)
		memcpy((void *)(uintptr_t)wr->sg_list[0].addr, &old,
		       wr->atomic.size);
	memcpy(res->result, &old, sizeof(old));
	res->byte_len = wr->atomic.size;
	return GENZIO_WC_SUCCESS;
}

/* Execute @wr; fills res->opcode, ->byte_len and (atomics) ->result. */
static inline uint8_t exec_wr(struct gz_shm_qp *qp, struct gz_shm_peer *peer,
			      uint32_t rqpn, const struct genzio_send_wr *wr,
			      struct gz_xdm_cqe *res)
{
	int write = wr->opcode == GENZIO_WR_WRITE;
	const struct gz_shm_qpent *rq;
	uint64_t len = 0;
	uint8_t *rp;
	uint8_t st;

	res->opcode = wc_opcode[wr->opcode];
	res->byte_len = 0;
	memset(res->result, 0, sizeof(uint64_t));
	if (GZ_UNLIKELY(!gz_shm_peer_alive(peer)))
		return GENZIO_WC_RETRY_EXC;
	rq = peer_qp(peer, rqpn);
	/* Acquire pairs with the release in gz_shm_qp_create(): the domain
	 * read below belongs to this qpn. */
	if (GZ_UNLIKELY(atomic_load_explicit((_Atomic uint32_t *)&rq->qpn,
					     memory_order_acquire) != rqpn))
		return GENZIO_WC_REM_QP;
	if (wr->opcode == GENZIO_WR_SYNC) {
		/* Everything earlier already executed; make it visible. */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		return GENZIO_WC_SUCCESS;
	}
	if (res->opcode == GENZIO_WC_ATOMIC)
		return exec_atomic(qp, peer, rq->domain, wr, res);
	st = check_local(qp, wr, write ? 0 : GENZIO_ACCESS_LOCAL_WRITE, &len);
	if (!st)
		st = gz_xdm_resolve(&peer->tgt, wr->rdma.rkey,
				    wr->rdma.remote_addr, len,
				    write ? GENZIO_ACCESS_REMOTE_WRITE :
					    GENZIO_ACCESS_REMOTE_READ,
				    &rp);
	if (!st)
		st = check_domain(wr->rdma.rkey, rq->domain);
	if (st)
		return st;
	scatter_copy(rp, wr, write);
	res->byte_len = (uint32_t)len;
	return GENZIO_WC_SUCCESS;
}

static int shm_post_send(struct genzio_qp *pub, struct genzio_send_wr *wr,
			 struct genzio_send_wr **bad_wr)
{
	struct gz_shm_qp *qp = to_shm_qp(pub);

	for (; wr; wr = wr->next) {
		struct gz_shm_peer *peer = qp->peer;
		uint32_t rqpn = qp->rqpn, idx = 0;
		struct gz_xdm_cqe res, *cqe;
		int ret = check_wr(qp, wr), signaled;

		if (GZ_UNLIKELY(ret))
			goto fail;
		if (pub->qp_type == GENZIO_QPT_RD) {
			if (GZ_UNLIKELY(!wr->ah)) {
				ret = -EINVAL;
				goto fail;
			}
			peer = container_of(wr->ah, struct gz_shm_ah, base)->peer;
			rqpn = wr->remote_qpn;
		} else if (GZ_UNLIKELY(!peer)) {
			ret = -ENOTCONN;
			goto fail;
		}
		/* A signaled request takes its completion slot first: a
		 * full queue must fail the post before any effect, or a
		 * retried FADD would add twice. */
		signaled = !!(wr->send_flags & GENZIO_SEND_SIGNALED);
		if (signaled && GZ_UNLIKELY(gz_ring_reserve(&qp->scq->ring,
							    &idx))) {
			ret = -EAGAIN;
			goto fail;
		}
		/* Execution is synchronous, so every earlier request is
		 * done; a fence only has to order the stores themselves. */
		if (wr->send_flags & GENZIO_SEND_FENCE)
			__atomic_thread_fence(__ATOMIC_RELEASE);
		res.status = exec_wr(qp, peer, rqpn, wr, &res);
		/* Unsignaled successes leave no trace, like verbs; failures
		 * always complete, and had no effect if they cannot. */
		if (GZ_LIKELY(!signaled)) {
			if (GZ_LIKELY(!res.status))
				continue;
			if (GZ_UNLIKELY(gz_ring_reserve(&qp->scq->ring,
							&idx))) {
				ret = -EAGAIN;
				goto fail;
			}
		}
		cqe = gz_ring_slot(&qp->scq->ring, idx);
		cqe->status = res.status;
		cqe->opcode = res.opcode;
		cqe->byte_len = res.byte_len;
		cqe->context = wr->wr_id;
		cqe->qp_num = pub->qp_num;
		cqe->src_gcid = 0;
		cqe->imm_data = 0;
		cqe->wc_flags = 0;
		/* always: a stale ring entry must not leak an old result */
		memcpy(cqe->result, res.result, sizeof(uint64_t));
		gz_ring_cqe_publish(&qp->scq->ring, idx, cqe);
		continue;
fail:
		*bad_wr = wr;
		return ret;
	}
	return 0;
}

static int shm_post_recv(struct genzio_qp *qp, struct genzio_recv_wr *wr,
			 struct genzio_recv_wr **bad_wr)
{
	(void)qp;
	*bad_wr = wr;
	return -EOPNOTSUPP;
}

int gz_shm_qp_create(struct genzio_pd *pd, const struct genzio_qp_attr *attr,
		     struct genzio_qp **out)
{
	struct gz_shm_ctx *ctx = to_shm_ctx(pd->ctx);
	struct gz_shm_qp *qp;
	uint32_t slot, qpn;

	for (slot = 0; slot < GZ_SHM_MAX_QP; slot++)
		if (!atomic_load_explicit(&ctx->comp->qp[slot].qpn,
					  memory_order_relaxed))
			break;
	if (slot == GZ_SHM_MAX_QP)
		return gz_err(-ENOSPC, "all %u queue pairs in use",
			      GZ_SHM_MAX_QP);
	qp = calloc(1, sizeof(*qp));
	if (!qp)
		return -ENOMEM;
	/* A generation in the upper bits: a peer still holding the number
	 * of a destroyed queue pair never reaches its successor. */
	ctx->qp_gen = (ctx->qp_gen + 1) & ((1u << (24 - GZ_SHM_QP_BITS)) - 1);
	if (!ctx->qp_gen)
		ctx->qp_gen = 1;
	qpn = ctx->qp_gen << GZ_SHM_QP_BITS | slot;
	qp->base.pub.post_send = shm_post_send;
	qp->base.pub.post_recv = shm_post_recv;
	qp->base.pub.user_context = attr->user_context;
	qp->base.pub.context = pd->ctx;
	qp->base.pub.qp_num = qpn;
	qp->base.pub.qp_type = attr->qp_type;
	qp->ctx = ctx;
	qp->scq = container_of(attr->send_cq, struct gz_shm_cq, pub);
	qp->rcq = container_of(attr->recv_cq, struct gz_shm_cq, pub);
	qp->scq->users++;
	qp->rcq->users++;
	qp->max_sge = attr->max_send_sge;
	qp->max_inline = attr->max_inline;
	qp->slot = slot;
	qp->lkeys = pd->ctx->lkeys;
	qp->max_mr = pd->ctx->attr.max_mr;
	qp->domain = pd->key_domain;
	ctx->comp->qp[slot].domain = pd->key_domain;
	/* Release pairs with the acquire in exec_wr(). */
	atomic_store_explicit(&ctx->comp->qp[slot].qpn, qpn,
			      memory_order_release);
	*out = &qp->base.pub;
	return 0;
}

int gz_shm_qp_connect(struct genzio_qp *pub, uint32_t gcid, uint32_t rqpn)
{
	struct gz_shm_qp *qp = to_shm_qp(pub);
	struct gz_shm_peer *peer;
	int ret;

	if (qp->peer)
		return gz_err(-EINVAL, "queue pair %#x is already connected",
			      pub->qp_num);
	ret = gz_shm_peer_get(qp->ctx, gcid, &peer);
	if (ret)
		return ret;
	if (rqpn >> 24 ||
	    atomic_load_explicit((_Atomic uint32_t *)&peer_qp(peer, rqpn)->qpn,
				 memory_order_acquire) != rqpn) {
		gz_shm_peer_put(peer);
		return gz_err(-ENOENT, "GCID %#x has no queue pair %#x", gcid,
			      rqpn);
	}
	qp->peer = peer;
	qp->rqpn = rqpn;
	return 0;
}

void gz_shm_qp_destroy(struct genzio_qp *pub)
{
	struct gz_shm_qp *qp = to_shm_qp(pub);

	atomic_store_explicit(&qp->ctx->comp->qp[qp->slot].qpn, 0,
			      memory_order_release);
	if (qp->peer)
		gz_shm_peer_put(qp->peer);
	qp->scq->users--;
	qp->rcq->users--;
	free(qp);
}
