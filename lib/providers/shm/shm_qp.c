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

static inline int is_msg(uint32_t opcode)
{
	return opcode == GENZIO_WR_SEND || opcode == GENZIO_WR_SEND_IMM ||
	       opcode == GENZIO_WR_WRITE_IMM;
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
	case GENZIO_WR_WRITE_IMM:
	case GENZIO_WR_SEND:
	case GENZIO_WR_SEND_IMM:
		/* inline: PUTIMM/GETIMM, <= max_inline bytes in the entry */
		if (GZ_UNLIKELY((wr->send_flags & GENZIO_SEND_INLINE) &&
				(wr->num_sge > 1 ||
				 (wr->num_sge &&
				  wr->sg_list[0].length > qp->max_inline))))
			return -EINVAL;
		return 0;
	case GENZIO_WR_SYNC:
		return 0;
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
	[GENZIO_WR_WRITE_IMM] = GENZIO_WC_WRITE,
	[GENZIO_WR_SEND] = GENZIO_WC_SEND,
	[GENZIO_WR_SEND_IMM] = GENZIO_WC_SEND,
	[GENZIO_WR_READ] = GENZIO_WC_READ,
	[GENZIO_WR_SYNC] = GENZIO_WC_SYNC,
	[GENZIO_WR_ATOMIC_SWAP ... GENZIO_WR_ATOMIC_UMAX] = GENZIO_WC_ATOMIC,
};

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
		st = gz_shm_resolve(peer, domain, wr->atomic.rkey,
				    wr->atomic.remote_addr, wr->atomic.size,
				    GENZIO_ACCESS_REMOTE_ATOMIC, &rp);
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
static inline int exec_wr(struct gz_shm_qp *qp, struct gz_shm_peer *peer,
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
	if (is_msg(wr->opcode)) {
		uint32_t n = 0;
		int r;

		st = check_local(qp, wr, 0, &len);
		if (st)
			return st;
		r = gz_shm_msg_deliver(qp, peer, rqpn, wr, &n);
		if (r == GZ_SHM_NO_RECV)
			return GZ_SHM_NO_RECV;
		res->byte_len = r ? 0 : n;
		return (uint8_t)r;
	}
	st = check_local(qp, wr, write ? 0 : GENZIO_ACCESS_LOCAL_WRITE, &len);
	if (!st)
		st = gz_shm_resolve(peer, rq->domain, wr->rdma.rkey,
				    wr->rdma.remote_addr, len,
				    write ? GENZIO_ACCESS_REMOTE_WRITE :
					    GENZIO_ACCESS_REMOTE_READ,
				    &rp);
	if (st)
		return st;
	scatter_copy(rp, wr, write);
	res->byte_len = (uint32_t)len;
	return GENZIO_WC_SUCCESS;
}

/* Write the completion of @wr into the slot reserved at @idx. */
static inline void complete(struct gz_shm_qp *qp, uint32_t idx,
			    const struct genzio_send_wr *wr,
			    const struct gz_xdm_cqe *res, uint8_t status)
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
}

static int destination(struct gz_shm_qp *qp, const struct genzio_send_wr *wr,
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

/*
 * Park @wr (a copy: the caller may reuse it, and inline data too) behind
 * earlier parked requests. A signaled request keeps the completion slot
 * it reserved: completions behind it on that cq wait for it, which is the
 * price of never reporting -EAGAIN after an effect.
 */
static int park(struct gz_shm_qp *qp, const struct genzio_send_wr *wr,
		int have_slot, uint32_t idx, int done, uint8_t status)
{
	struct gz_shm_parked *p;
	uint32_t n;

	while (atomic_flag_test_and_set_explicit(&qp->park_lock,
						 memory_order_acquire))
		;
	n = atomic_load_explicit(&qp->npark, memory_order_relaxed);
	p = &qp->park[(qp->park_head + n) % GZ_SHM_PARKED];
	p->wr = *wr;
	p->wr.next = NULL;
	p->wr.sg_list = p->sge;
	p->has_slot = (uint8_t)have_slot;
	p->slot = idx;
	p->done = (uint8_t)done;
	p->status = status;
	memcpy(p->sge, wr->sg_list, (size_t)wr->num_sge * sizeof(p->sge[0]));
	/* inline data to send is copied; an inline READ's buffer is the
	 * destination and stays the caller's */
	if (wr->send_flags & GENZIO_SEND_INLINE && wr->num_sge &&
	    wr->opcode != GENZIO_WR_READ) {
		memcpy(p->data, (const void *)(uintptr_t)wr->sg_list[0].addr,
		       wr->sg_list[0].length);
		p->sge[0].addr = (uintptr_t)p->data;
	}
	p->deadline_ns = gz_shm_now_ns() + qp->rdm_timeout_ns;
	if (!n)
		atomic_fetch_add(&qp->scq->parked, 1);
	atomic_store_explicit(&qp->npark, n + 1, memory_order_release);
	atomic_flag_clear_explicit(&qp->park_lock, memory_order_release);
	if (qp->scq->base.channel)
		gz_shm_channel_arm_retry(qp->ctx->chan[qp->scq->hdr->notify.chan]);
	return 0;
}

/* A message that failed after it consumed a receive (buffer too small,
 * receiver's cq overrun) had an effect: it must not be retried. */
#define GZ_SHM_DONE 0x200

/* Run one request. Return: 0, -EAGAIN (cq full, no effect), GZ_SHM_NO_RECV
 * when it waits for a receive buffer (not executed), or GZ_SHM_DONE (cq
 * full, executed: its completion, *@done_st, is owed). */
static inline int run_one(struct gz_shm_qp *qp, const struct genzio_send_wr *wr,
			  int *have_slot, uint32_t *idx, uint64_t deadline,
			  uint8_t *done_st)
{
	struct gz_shm_peer *peer;
	struct gz_xdm_cqe res;
	uint32_t rqpn;
	int signaled = !!(wr->send_flags & GENZIO_SEND_SIGNALED), st;

	st = destination(qp, wr, &peer, &rqpn);
	if (GZ_UNLIKELY(st))
		return st;
	/* A signaled request takes its completion slot first: a full
	 * queue must fail the post before any effect, or a retried FADD
	 * would add twice. */
	if (signaled && !*have_slot) {
		if (GZ_UNLIKELY(gz_ring_reserve(&qp->scq->ring, idx)))
			return -EAGAIN;
		*have_slot = 1;
	}
	/* Execution is synchronous, so every earlier request is done; a
	 * fence only has to order the stores themselves. */
	if (wr->send_flags & GENZIO_SEND_FENCE)
		__atomic_thread_fence(__ATOMIC_RELEASE);
	st = exec_wr(qp, peer, rqpn, wr, &res);
	if (GZ_UNLIKELY(st == GZ_SHM_NO_RECV)) {
		if (gz_shm_now_ns() < deadline)
			return GZ_SHM_NO_RECV;
		st = GENZIO_WC_RDM_FULL;
	}
	/* Unsignaled successes leave no trace, like verbs; failures
	 * always complete, and had no effect if they cannot. */
	if (GZ_LIKELY(!signaled)) {
		if (GZ_LIKELY(!st))
			return 0;
		if (GZ_UNLIKELY(gz_ring_reserve(&qp->scq->ring, idx))) {
			if (st != GENZIO_WC_REM_INV_REQ && st != GENZIO_WC_REM_OP)
				return -EAGAIN;
			*done_st = (uint8_t)st;
			return GZ_SHM_DONE;
		}
	}
	complete(qp, *idx, wr, &res, (uint8_t)st);
	return 0;
}

void gz_shm_qp_progress(struct gz_shm_qp *qp)
{
	/* The posting thread may be here too: the parked path locks. */
	if (atomic_flag_test_and_set_explicit(&qp->park_lock,
					      memory_order_acquire))
		return;
	while (atomic_load_explicit(&qp->npark, memory_order_relaxed)) {
		struct gz_shm_parked *p = &qp->park[qp->park_head];
		int have = p->has_slot, r;
		uint32_t idx = p->slot;

		if (p->done) {
			/* executed already: only its completion was owed */
			struct gz_xdm_cqe res = {
				.opcode = wc_opcode[p->wr.opcode] };

			if (gz_ring_reserve(&qp->scq->ring, &idx))
				break;
			complete(qp, idx, &p->wr, &res, p->status);
			r = 0;
		} else {
			uint8_t st = 0;

			r = run_one(qp, &p->wr, &have, &idx,
				    is_msg(p->wr.opcode) ? p->deadline_ns : 0,
				    &st);
			if (r == GZ_SHM_DONE) {
				p->done = 1;
				p->status = st;
			}
		}
		if (r) {
			/* still waiting: remember a slot taken meanwhile */
			p->has_slot = (uint8_t)have;
			p->slot = idx;
			break;
		}
		qp->park_head = (qp->park_head + 1) % GZ_SHM_PARKED;
		if (atomic_fetch_sub(&qp->npark, 1) == 1)
			atomic_fetch_sub(&qp->scq->parked, 1);
	}
	atomic_flag_clear_explicit(&qp->park_lock, memory_order_release);
}

void gz_shm_cq_progress(struct gz_shm_cq *cq)
{
	struct gz_shm_ctx *ctx = cq->ctx;

	/* Slow path (something is parked): the lock keeps queue pairs from
	 * being destroyed under us by another thread. */
	gz_ctx_lock(&ctx->base);
	for (uint32_t i = 0; i < GZ_SHM_MAX_QP; i++) {
		struct gz_shm_qp *qp = ctx->qp[i];

		if (qp && qp->scq == cq &&
		    atomic_load_explicit(&qp->npark, memory_order_relaxed))
			gz_shm_qp_progress(qp);
	}
	gz_ctx_unlock(&ctx->base);
}

/* Resolve through the full key table and remember the answer in qp->kc. */
static __attribute__((noinline)) uint8_t
kc_fill(struct gz_shm_qp *qp, const struct gz_shm_qpent *rq, uint32_t rkey,
	uint64_t raddr, uint32_t len, uint32_t need, uint8_t **rp)
{
	struct gz_shm_peer *peer = qp->peer;
	const struct gz_key_entry *tab = peer->tgt.keys;
	struct gz_shm_kcache *kc = &qp->kc;
	uint8_t st = gz_shm_resolve(peer, rq->domain, rkey, raddr, len, need,
				    rp);

	if (st)
		return st;
	/* Found: cache the entry, all of it from one snapshot taken under
	 * its seqlock (pointer included), with its length clamped to what
	 * we mapped. If it moves meanwhile, the cache stays empty. */
	kc->e = NULL;
	for (uint32_t i = gz_keytab_hash(rkey, peer->tgt.key_mask), n = 0;
	     n <= peer->tgt.key_mask;
	     n++, i = (i + 1) & peer->tgt.key_mask) {
		const struct gz_key_entry *e = &tab[i];
		uint32_t s1 = atomic_load_explicit((_Atomic uint32_t *)&e->seq,
						   memory_order_acquire);
		const struct gz_xdm_seg *sg;
		uint64_t base, length, off;
		uint32_t access, seg;

		if (atomic_load_explicit((_Atomic uint32_t *)&e->rkey,
					 memory_order_relaxed) != rkey)
			continue;
		access = e->access;
		seg = e->seg;
		base = e->base;
		length = e->length;
		off = e->seg_off;
		atomic_thread_fence(memory_order_acquire);
		if ((s1 & 1) || seg >= peer->tgt.nseg ||
		    atomic_load_explicit((_Atomic uint32_t *)&e->seq,
					 memory_order_relaxed) != s1)
			break;
		sg = &peer->tgt.seg[seg];
		/* resolve() mapped it; never cache past the mapping */
		if (!sg->base || off > sg->len)
			break;
		kc->rkey = rkey;
		kc->access = access;
		kc->base = base;
		kc->length = length < sg->len - off ? length : sg->len - off;
		kc->ptr = sg->base + off;
		kc->seq = s1;
		kc->e = e;
		break;
	}
	return GENZIO_WC_SUCCESS;
}

/* R-Key to pointer through the queue pair's key cache, else the table. */
GZ_INLINE uint8_t kc_resolve(struct gz_shm_qp *qp,
			     const struct gz_shm_qpent *rq, uint32_t rkey,
			     uint64_t raddr, uint32_t len, uint32_t need,
			     uint8_t **rp)
{
	const struct gz_shm_kcache *kc = &qp->kc;

	/* Acquire pairs with the owner's release of seq: if it is the
	 * value we cached, so is the entry. */
	if (GZ_LIKELY(kc->e && kc->rkey == rkey &&
		      atomic_load_explicit((_Atomic uint32_t *)&kc->e->seq,
					   memory_order_acquire) == kc->seq &&
		      (kc->access & need) == need && raddr >= kc->base &&
		      len <= kc->length && raddr - kc->base <= kc->length - len)) {
		*rp = kc->ptr + (raddr - kc->base);
		return GENZIO_WC_SUCCESS;
	}
	return kc_fill(qp, rq, rkey, raddr, len, need, rp);
}

/* Completion of a fast_rma() request: signaled, or failed. Out of line so
 * the unsignaled success path stays a handful of instructions. */
static __attribute__((noinline)) int
fast_rma_complete(struct gz_shm_qp *qp, const struct genzio_send_wr *wr,
		  uint32_t idx, uint8_t st)
{
	struct gz_xdm_cqe res;

	if (!(wr->send_flags & GENZIO_SEND_SIGNALED) &&
	    GZ_UNLIKELY(gz_ring_reserve(&qp->scq->ring, &idx)))
		return -EAGAIN;	/* it failed: no effect to undo */
	res.opcode = wr->opcode == GENZIO_WR_WRITE ? GENZIO_WC_WRITE :
						     GENZIO_WC_READ;
	res.byte_len = wr->sg_list[0].length;
	memset(res.result, 0, sizeof(uint64_t));
	complete(qp, idx, wr, &res, st);
	return 0;
}

/*
 * The common case, straight from the work request (notes/fast-path.md):
 * one-sge WRITE or READ to the connected peer, nothing parked. The checks
 * are run_one()'s, with fewer branches; anything else takes run_one().
 * Return: 0, -EAGAIN (cq full, no effect).
 */
/*
 * What every lean-path request does first: take its completion slot if
 * signaled (a full cq fails the post before any effect), order it after
 * earlier ones if fenced, and check that the peer and its queue pair are
 * there. Return: -EAGAIN, or the status so far (0: go on).
 */
GZ_INLINE int fast_begin(struct gz_shm_qp *qp, uint32_t flags,
			 const struct gz_shm_qpent *rq, uint32_t *idx)
{
	if ((flags & GENZIO_SEND_SIGNALED) &&
	    GZ_UNLIKELY(gz_ring_reserve(&qp->scq->ring, idx)))
		return -EAGAIN;
	/* Earlier requests are done (synchronous execution); a fence only
	 * orders the stores: free on x86, whose stores are in order and
	 * whose large non-temporal copies end with sfence. */
	if (flags & GENZIO_SEND_FENCE)
		atomic_thread_fence(memory_order_release);
	if (GZ_UNLIKELY(!gz_shm_peer_alive(qp->peer)))
		return GENZIO_WC_RETRY_EXC;
	/* Acquire pairs with the release in gz_shm_qp_create(). */
	if (GZ_UNLIKELY(atomic_load_explicit((_Atomic uint32_t *)&rq->qpn,
					     memory_order_acquire) != qp->rqpn))
		return GENZIO_WC_REM_QP;
	return GENZIO_WC_SUCCESS;
}

GZ_INLINE int fast_rma(struct gz_shm_qp *qp, const struct genzio_send_wr *wr)
{
	const struct genzio_sge *s = wr->sg_list;
	const struct gz_shm_qpent *rq = peer_qp(qp->peer, qp->rqpn);
	uint32_t flags = wr->send_flags, len = s->length, idx = 0;
	int write = wr->opcode == GENZIO_WR_WRITE;
	int st = fast_begin(qp, flags, rq, &idx);
	uint8_t *rp;

	if (GZ_UNLIKELY(st < 0))
		return st;
	if (!st && !(flags & GENZIO_SEND_INLINE) &&
	    GZ_UNLIKELY(!gz_lkey_ok(qp->lkeys, qp->max_mr, s->lkey, qp->domain,
				    s->addr, len,
				    write ? 0 : GENZIO_ACCESS_LOCAL_WRITE)))
		st = GENZIO_WC_LOC_PROT;
	if (!st)
		st = kc_resolve(qp, rq, wr->rdma.rkey, wr->rdma.remote_addr, len,
				write ? GENZIO_ACCESS_REMOTE_WRITE :
					GENZIO_ACCESS_REMOTE_READ,
				&rp);
	if (GZ_LIKELY(!st)) {
		if (write)
			gz_xdm_copy(rp, (const void *)(uintptr_t)s->addr, len);
		else
			gz_xdm_copy((void *)(uintptr_t)s->addr, rp, len);
		if (GZ_LIKELY(!(flags & GENZIO_SEND_SIGNALED)))
			return 0;
		/* signaled success: the slot is ours, complete it here */
		struct gz_xdm_cqe res = {
			.opcode = write ? GENZIO_WC_WRITE : GENZIO_WC_READ,
			.byte_len = len,
		};

		complete(qp, idx, wr, &res, GENZIO_WC_SUCCESS);
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
	const struct gz_shm_qpent *rq = peer_qp(qp->peer, qp->rqpn);
	uint32_t flags = wr->send_flags, size = wr->atomic.size, idx = 0;
	int st = fast_begin(qp, flags, rq, &idx);
	uint64_t old = 0;
	uint8_t *rp;

	if (GZ_UNLIKELY(st < 0))
		return st;
	if (!st)
		st = kc_resolve(qp, rq, wr->atomic.rkey, wr->atomic.remote_addr,
				size, GENZIO_ACCESS_REMOTE_ATOMIC, &rp);
	if (GZ_LIKELY(!st)) {
		old = wr->opcode == GENZIO_WR_ATOMIC_FADD && size == 8 ?
			      __atomic_fetch_add((uint64_t *)(void *)rp,
						 wr->atomic.operand,
						 __ATOMIC_SEQ_CST) :
			      gz_xdm_atomic(gz_xdm_atomic_opcode(wr->opcode), rp,
					    size, wr->atomic.operand,
					    wr->atomic.compare);
		if (size == 4)
			old = (uint32_t)old;
		if (GZ_LIKELY(!(flags & GENZIO_SEND_SIGNALED)))
			return 0;
	} else if (!(flags & GENZIO_SEND_SIGNALED) &&
		   GZ_UNLIKELY(gz_ring_reserve(&qp->scq->ring, &idx))) {
		return -EAGAIN;	/* it failed: no effect to undo */
	}
	struct gz_xdm_cqe res = { .opcode = GENZIO_WC_ATOMIC,
				  .byte_len = size };

	memcpy(res.result, &old, sizeof(old));
	complete(qp, idx, wr, &res, (uint8_t)st);
	return 0;
}

GZ_INLINE int is_fast_atomic(const struct gz_shm_qp *qp,
			     const struct genzio_send_wr *wr)
{
	return wr->opcode >= GENZIO_WR_ATOMIC_SWAP &&
	       wr->opcode <= GENZIO_WR_ATOMIC_UMAX && !wr->num_sge &&
	       qp->peer &&
	       (wr->atomic.size == 8 || wr->atomic.size == 4) &&
	       !(wr->atomic.remote_addr & (wr->atomic.size - 1)) &&
	       !(wr->send_flags & ~(GENZIO_SEND_SIGNALED | GENZIO_SEND_FENCE)) &&
	       !atomic_load_explicit(&qp->npark, memory_order_relaxed);
}

/* The O(1) test that sends a request down fast_rma(). */
GZ_INLINE int is_fast(const struct gz_shm_qp *qp,
		      const struct genzio_send_wr *wr)
{
	uint32_t flags = wr->send_flags;

	return (wr->opcode == GENZIO_WR_WRITE ||
		wr->opcode == GENZIO_WR_READ) &&
	       wr->num_sge == 1 && wr->sg_list && qp->peer && qp->max_sge &&
	       !(flags & ~(GENZIO_SEND_SIGNALED | GENZIO_SEND_INLINE |
			   GENZIO_SEND_FENCE)) &&
	       (!(flags & GENZIO_SEND_INLINE) ||
		wr->sg_list[0].length <= qp->max_inline) &&
	       !atomic_load_explicit(&qp->npark, memory_order_relaxed);
}

/* Everything but fast_rma(): all opcodes, RD, parking. */
static __attribute__((noinline)) int
post_slow(struct gz_shm_qp *qp, struct genzio_send_wr *wr,
	  struct genzio_send_wr **bad_wr)
{
	for (; wr; wr = wr->next) {
		int ret, have_slot = 0;
		uint32_t idx = 0;
		uint8_t done_st = 0;

		ret = check_wr(qp, wr);
		if (GZ_UNLIKELY(ret))
			goto fail;
		if (GZ_UNLIKELY(atomic_load_explicit(&qp->npark,
						     memory_order_relaxed))) {
			/* behind parked requests: keep the order */
			gz_shm_qp_progress(qp);
			if (atomic_load_explicit(&qp->npark,
						 memory_order_relaxed)) {
				struct gz_shm_peer *peer;
				uint32_t rqpn;

				ret = destination(qp, wr, &peer, &rqpn);
				if (!ret && atomic_load(&qp->npark) >=
						    GZ_SHM_PARKED)
					ret = -EAGAIN;
				if (!ret)
					ret = park(qp, wr, 0, 0, 0, 0);
				if (ret)
					goto fail;
				continue;
			}
		}
		if (GZ_UNLIKELY(is_msg(wr->opcode) &&
				atomic_load(&qp->npark) >= GZ_SHM_PARKED)) {
			ret = -EAGAIN;
			goto fail;
		}
		/* first try: a missing receive buffer parks, never fails */
		ret = run_one(qp, wr, &have_slot, &idx, UINT64_MAX, &done_st);
		if (GZ_UNLIKELY(ret == GZ_SHM_NO_RECV))
			ret = park(qp, wr, have_slot, idx, 0, 0);
		else if (GZ_UNLIKELY(ret == GZ_SHM_DONE))
			ret = park(qp, wr, 0, 0, 1, done_st);
		if (GZ_UNLIKELY(ret))
			goto fail;
		continue;
fail:
		*bad_wr = wr;
		return ret;
	}
	return 0;
}

static int shm_post_send(struct genzio_qp *pub, struct genzio_send_wr *wr,
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

int gz_shm_qp_create(struct genzio_pd *pd, const struct genzio_qp_attr *attr,
		     struct genzio_qp **out)
{
	struct gz_shm_ctx *ctx = to_shm_ctx(pd->ctx);
	struct gz_shm_qpent *ent;
	struct gz_shm_qp *qp;
	uint32_t slot, qpn, nrq;
	void *rq;
	int ret;

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
	qp->park = calloc(GZ_SHM_PARKED, sizeof(*qp->park));
	if (!qp->park) {
		free(qp);
		return -ENOMEM;
	}
	/* The receive ring lives in data space: senders claim from it. */
	nrq = gz_roundup_pow2(attr->rq_depth ? attr->rq_depth : 1);
	qp->max_recv_sge = attr->max_recv_sge;
	qp->rq_stride = (uint32_t)gz_align_up(
		sizeof(struct gz_shm_rqe) + attr->max_recv_sge *
						    sizeof(((struct gz_shm_rqe *)0)->sge[0]),
		64);
	qp->rq_mask = nrq - 1;
	qp->rq_cap = attr->rq_depth;
	qp->rq_fin = calloc(nrq, 1);
	if (!qp->rq_fin) {
		free(qp->park);
		free(qp);
		return -ENOMEM;
	}
	qp->rq_seg_len = GZ_SHM_QHDR + (uint64_t)nrq * qp->rq_stride;
	ret = gz_shm_qseg_create(ctx, qp->rq_seg_len, &qp->rq_seg, &rq);
	if (ret) {
		free(qp->rq_fin);
		free(qp->park);
		free(qp);
		return ret;
	}
	qp->rq = rq;
	qp->rdm_timeout_ns = (uint64_t)(attr->comp_mask &
						GENZIO_QP_ATTR_RDM_TIMEOUT ?
					attr->rdm_timeout_us :
					GZ_SHM_RDM_TIMEOUT_US) * 1000u;
	atomic_flag_clear(&qp->park_lock);
	/* A generation in the upper bits: a peer still holding the number
	 * of a destroyed queue pair never reaches its successor. */
	ctx->qp_gen = (ctx->qp_gen + 1) & ((1u << (24 - GZ_SHM_QP_BITS)) - 1);
	if (!ctx->qp_gen)
		ctx->qp_gen = 1;
	qpn = ctx->qp_gen << GZ_SHM_QP_BITS | slot;
	qp->base.pub.post_send = shm_post_send;
	qp->base.pub.post_recv = gz_shm_post_recv;
	qp->base.pub.user_context = attr->user_context;
	qp->base.pub.context = pd->ctx;
	qp->base.pub.qp_num = qpn;
	qp->base.pub.qp_type = attr->qp_type;
	qp->ctx = ctx;
	qp->scq = container_of(attr->send_cq, struct gz_shm_cq, base.pub);
	qp->rcq = container_of(attr->recv_cq, struct gz_shm_cq, base.pub);
	qp->scq->users++;
	qp->rcq->users++;
	qp->max_sge = attr->max_send_sge;
	qp->max_inline = attr->max_inline;
	qp->slot = slot;
	qp->lkeys = pd->ctx->lkeys;
	qp->max_mr = pd->ctx->attr.max_mr;
	qp->domain = pd->key_domain;
	ent = &ctx->comp->qp[slot];
	ent->domain = pd->key_domain;
	ent->rq_seg = qp->rq_seg;
	ent->rq_mask = qp->rq_mask;
	ent->rq_stride = qp->rq_stride;
	ent->rcq_seg = qp->rcq->seg;
	ent->rcq_mask = qp->rcq->ring.mask;
	ctx->qp[slot] = qp;
	/* Release pairs with the acquire in exec_wr(): a peer that sees
	 * the number sees the rest of the entry. */
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
	qp->ctx->qp[qp->slot] = NULL;
	/* parked requests die with it: unblock the cq they held */
	if (atomic_load(&qp->npark)) {
		atomic_fetch_sub(&qp->scq->parked, 1);
		for (uint32_t i = 0; i < atomic_load(&qp->npark); i++) {
			struct gz_shm_parked *p =
				&qp->park[(qp->park_head + i) % GZ_SHM_PARKED];
			struct gz_xdm_cqe res = {
				.opcode = wc_opcode[p->wr.opcode] };
			uint32_t idx = p->slot;

			/* every parked request completes, as flushed */
			if (p->has_slot ||
			    !gz_ring_reserve(&qp->scq->ring, &idx))
				complete(qp, idx, &p->wr, &res,
					 p->done ? p->status :
						   GENZIO_WC_FLUSHED);
		}
	}
	if (qp->peer)
		gz_shm_peer_put(qp->peer);
	qp->scq->users--;
	qp->rcq->users--;
	gz_shm_qseg_destroy(qp->ctx, qp->rq_seg, qp->rq, qp->rq_seg_len);
	free(qp->rq_fin);
	free(qp->park);
	free(qp);
}
