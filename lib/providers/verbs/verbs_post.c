// SPDX-License-Identifier: MIT
/*
 * verbs provider: posting. Each genzio request becomes one ibv_send_wr on
 * the stack (its sg_list is handed over as it is: genzio_sge and ibv_sge
 * have one layout, and lkeys are the HCA's), and a list goes to verbs as
 * a chain of up to CHAIN requests, one doorbell. No lock, no allocation;
 * the one system call is none: ibv_post_send is the provider's userspace
 * doorbell.
 */
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>

#include "core/wr.h"
#include "providers/verbs/verbs.h"

#define CHAIN 16

_Static_assert(sizeof(struct genzio_sge) == sizeof(struct ibv_sge) &&
	       offsetof(struct genzio_sge, addr) ==
	       offsetof(struct ibv_sge, addr) &&
	       offsetof(struct genzio_sge, length) ==
	       offsetof(struct ibv_sge, length) &&
	       offsetof(struct genzio_sge, lkey) ==
	       offsetof(struct ibv_sge, lkey), "sge layouts differ");

static const uint8_t wc_opcode[GENZIO_WR_OPCODE_MAX] = {
	[GENZIO_WR_WRITE] = GENZIO_WC_WRITE,
	[GENZIO_WR_WRITE_IMM] = GENZIO_WC_WRITE,
	[GENZIO_WR_READ] = GENZIO_WC_READ,
	[GENZIO_WR_SEND] = GENZIO_WC_SEND,
	[GENZIO_WR_SEND_IMM] = GENZIO_WC_SEND,
	[GENZIO_WR_ATOMIC_CAS] = GENZIO_WC_ATOMIC,
	[GENZIO_WR_ATOMIC_FADD] = GENZIO_WC_ATOMIC,
	[GENZIO_WR_SYNC] = GENZIO_WC_SYNC,
};

/* Which of the @n chained requests at @base verbs' bad_wr names; one it
 * does not name (outside the chain) counts as the first. */
#define CHAIN_INDEX(bad, base, n)                                        \
	((bad) >= (base) && (bad) < (base) + (n) ? (int)((bad) - (base)) : 0)

static uint32_t sg_len(const struct genzio_send_wr *wr)
{
	uint32_t n = 0;

	for (int i = 0; i < wr->num_sge; i++)
		n += wr->sg_list[i].length;
	return n;
}

/* The old value's 8 bytes, or an inline READ's bytes, in our scratch. */
static void scratch_sge(struct gz_vb_qp *qp, uint64_t seq, uint32_t len,
			struct ibv_sge *sg)
{
	sg->addr = (uintptr_t)(qp->scratch + (seq & qp->sq_mask) *
			       qp->scratch_stride);
	sg->length = len;
	sg->lkey = qp->scratch_mr->lkey;
}

/*
 * @wr as @iw (sequence @seq), its ring entry @e filled; @sg is room for a
 * scratch entry. 0, or the -errno that fails the post.
 */
static int convert(struct gz_vb_qp *qp, const struct genzio_send_wr *wr,
		   uint64_t seq, struct ibv_send_wr *iw, struct ibv_sge *sg,
		   struct gz_vb_wqe *e)
{
	uint32_t f = wr->send_flags;
	int ret = gz_wr_check(wr, qp->max_sge, qp->max_inline);

	if (GZ_UNLIKELY(ret))
		return ret;
	iw->wr_id = atomic_load_explicit(&qp->tag, memory_order_relaxed) |
		    (seq & GZ_VB_SEQ_MASK);
	iw->next = NULL;
	iw->sg_list = (struct ibv_sge *)wr->sg_list;
	iw->num_sge = wr->num_sge;
	iw->send_flags = (f & GENZIO_SEND_SIGNALED ? IBV_SEND_SIGNALED : 0) |
			 (f & GENZIO_SEND_FENCE ? IBV_SEND_FENCE : 0);
	e->wr_id = wr->wr_id;
	e->opcode = wc_opcode[wr->opcode];
	e->kind = GZ_VB_PLAIN;
	e->len = sg_len(wr);
	/* Ring entries are freed by completions; a queue pair that posts
	 * only unsignaled requests would fill for good (shm frees them as
	 * they run), so every unsig_max-th one is signaled for us. */
	if (f & GENZIO_SEND_SIGNALED) {
		e->hidden = 0;
		qp->unsig = 0;
	} else if (GZ_UNLIKELY(++qp->unsig >= qp->unsig_max)) {
		iw->send_flags |= IBV_SEND_SIGNALED;
		e->hidden = 1;
		qp->unsig = 0;
	} else {
		e->hidden = 0;
	}
	/* a completion is owed up to here (the stall watchdog) */
	if (iw->send_flags & IBV_SEND_SIGNALED)
		atomic_store_explicit(&qp->sig_head, seq + 1,
				      memory_order_relaxed);
	switch (wr->opcode) {
	case GENZIO_WR_WRITE:
	case GENZIO_WR_WRITE_IMM:
		iw->opcode = wr->opcode == GENZIO_WR_WRITE ? IBV_WR_RDMA_WRITE :
			     IBV_WR_RDMA_WRITE_WITH_IMM;
		iw->imm_data = htobe32(wr->imm_data);
		iw->wr.rdma.remote_addr = wr->rdma.remote_addr;
		iw->wr.rdma.rkey = wr->rdma.rkey;
		if (f & GENZIO_SEND_INLINE)
			iw->send_flags |= IBV_SEND_INLINE;
		return 0;
	case GENZIO_WR_SEND:
	case GENZIO_WR_SEND_IMM:
		iw->opcode = wr->opcode == GENZIO_WR_SEND ? IBV_WR_SEND :
			     IBV_WR_SEND_WITH_IMM;
		iw->imm_data = htobe32(wr->imm_data);
		if (f & GENZIO_SEND_INLINE)
			iw->send_flags |= IBV_SEND_INLINE;
		return 0;
	case GENZIO_WR_READ:
		iw->opcode = IBV_WR_RDMA_READ;
		iw->wr.rdma.remote_addr = wr->rdma.remote_addr;
		iw->wr.rdma.rkey = wr->rdma.rkey;
		if ((f & GENZIO_SEND_INLINE) && wr->num_sge) {
			/* verbs has no inline READ: read into scratch, copy
			 * at poll; signaled for us if not for the user */
			scratch_sge(qp, seq, wr->sg_list[0].length, sg);
			iw->sg_list = sg;
			e->dst = (void *)(uintptr_t)wr->sg_list[0].addr;
			e->kind = GZ_VB_COPY;
			e->hidden = !(f & GENZIO_SEND_SIGNALED);
			iw->send_flags |= IBV_SEND_SIGNALED;
		}
		return 0;
	case GENZIO_WR_SYNC:
		/* an 8-byte READ of the peer's sync word after everything
		 * before it (FENCE): a read response leaves the responder
		 * after the writes it follows are in its memory (a zero-byte
		 * READ need not touch memory at all) */
		scratch_sge(qp, seq, 8, sg);
		iw->opcode = IBV_WR_RDMA_READ;
		iw->sg_list = sg;
		iw->num_sge = 1;
		iw->wr.rdma.remote_addr = qp->sync_addr;
		iw->wr.rdma.rkey = qp->sync_rkey;
		iw->send_flags |= IBV_SEND_FENCE;
		return 0;
	case GENZIO_WR_ATOMIC_CAS:
	case GENZIO_WR_ATOMIC_FADD:
		if (GZ_UNLIKELY(wr->atomic.size != 8))
			return -EOPNOTSUPP;	/* atomic_ops32 is 0 */
		iw->opcode = wr->opcode == GENZIO_WR_ATOMIC_CAS ?
			     IBV_WR_ATOMIC_CMP_AND_SWP :
			     IBV_WR_ATOMIC_FETCH_AND_ADD;
		iw->wr.atomic.remote_addr = wr->atomic.remote_addr;
		iw->wr.atomic.rkey = wr->atomic.rkey;
		iw->wr.atomic.compare_add = wr->opcode == GENZIO_WR_ATOMIC_CAS ?
					    wr->atomic.compare :
					    wr->atomic.operand;
		iw->wr.atomic.swap = wr->atomic.operand;
		e->len = 8;
		if (!wr->num_sge) {
			scratch_sge(qp, seq, 8, sg);
			iw->sg_list = sg;
			iw->num_sge = 1;
		}
		if (f & GENZIO_SEND_SIGNALED) {
			e->dst = (void *)(uintptr_t)iw->sg_list[0].addr;
			e->kind = GZ_VB_RESULT;
		}
		return 0;
	default:
		return -EOPNOTSUPP;	/* atomic_ops64 says which exist */
	}
}

/* Parked: @n requests of @iw, the first at sequence @seq, copied into
 * @c's park until its connection is up (gz_vb_wire.c posts them). Their
 * sges are copied, and inline data too: the caller may reuse it. */
static void park(struct gz_vb_child *c, const struct ibv_send_wr *iw, int n,
		 uint64_t seq)
{
	struct gz_vb_qp *qp = &c->q;

	for (int i = 0; i < n; i++, seq++) {
		uint32_t at = (uint32_t)(seq & qp->sq_mask);
		struct ibv_send_wr *p = &c->park[at];
		struct ibv_sge *sg = &c->park_sge[(size_t)at * c->park_nsge];

		*p = iw[i];
		p->next = NULL;
		p->sg_list = sg;
		if (iw[i].send_flags & IBV_SEND_INLINE) {
			uint8_t *d = qp->scratch + at * qp->scratch_stride;
			uint32_t len = 0;

			for (int k = 0; k < iw[i].num_sge; k++) {
				memcpy(d + len, (void *)(uintptr_t)
				       iw[i].sg_list[k].addr,
				       iw[i].sg_list[k].length);
				len += iw[i].sg_list[k].length;
			}
			sg->addr = (uintptr_t)d;
			sg->length = len;
			sg->lkey = qp->scratch_mr->lkey;
			p->num_sge = iw[i].num_sge ? 1 : 0;
		} else {
			memcpy(sg, iw[i].sg_list,
			       (size_t)iw[i].num_sge * sizeof(*sg));
		}
	}
}

/* Up to @max requests from *@wrp; *@wrp moves past those taken, *@taken
 * counts them. @c: park them there instead (a child not yet up). */
GZ_INLINE int post_some(struct gz_vb_qp *qp, struct genzio_send_wr **wrp,
			int max, struct gz_vb_child *c, int *taken,
			struct genzio_send_wr **bad_wr)
{
	struct genzio_send_wr *wr = *wrp;
	struct ibv_send_wr iw[CHAIN], *ibad = NULL;
	struct genzio_send_wr *gw[CHAIN];
	struct ibv_sge sg[CHAIN];
	int done = 0;

	while (wr && done < max) {
		uint64_t tail = atomic_load_explicit(&qp->sq_tail,
						     memory_order_acquire);
		int n = 0, ret = 0;

		for (; wr && n < CHAIN && done + n < max; wr = wr->next, n++) {
			uint64_t seq = qp->sq_head + (uint64_t)n;

			/* a ring entry is reused only once polled */
			if (GZ_UNLIKELY(seq - tail >= qp->sq_depth)) {
				ret = -EAGAIN;
				break;
			}
			ret = convert(qp, wr, seq, &iw[n], &sg[n],
				      &qp->sq[seq & qp->sq_mask]);
			if (GZ_UNLIKELY(ret))
				break;
			if (n)
				iw[n - 1].next = &iw[n];
			gw[n] = wr;
		}
		if (n && c) {
			park(c, iw, n, qp->sq_head);
		} else if (n) {
			int err = ibv_post_send(qp->ib, iw, &ibad);

			if (GZ_UNLIKELY(err)) {
				int k = CHAIN_INDEX(ibad, iw, n);

				qp->sq_head += (uint64_t)k;
				*taken = done + k;
				*wrp = gw[k];
				*bad_wr = gw[k];
				return err == ENOMEM ? -EAGAIN : -err;
			}
		}
		qp->sq_head += (uint64_t)n;
		done += n;
		if (GZ_UNLIKELY(ret)) {
			*taken = done;
			*wrp = wr;
			*bad_wr = wr;
			return ret;
		}
	}
	*taken = done;
	*wrp = wr;
	return 0;
}

int gz_vb_post_send(struct genzio_qp *pub, struct genzio_send_wr *wr,
		    struct genzio_send_wr **bad_wr)
{
	struct gz_vb_qp *qp = gz_vb_qp_of(pub);
	int n;

	if (GZ_UNLIKELY(atomic_load_explicit(&qp->state,
					     memory_order_relaxed) ==
			GENZIO_QPS_RESET)) {
		*bad_wr = wr;
		return -ENOTCONN;
	}
	return post_some(qp, &wr, INT_MAX, NULL, &n, bad_wr);
}

int gz_vb_post_some(struct gz_vb_qp *qp, struct genzio_send_wr **wr,
		    int max, int parking, int *n)
{
	struct genzio_send_wr *bad;

	return post_some(qp, wr, max, parking ?
			 container_of(qp, struct gz_vb_child, q) : NULL, n,
			 &bad);
}

int gz_vb_post_recv(struct genzio_qp *pub, struct genzio_recv_wr *wr,
		    struct genzio_recv_wr **bad_wr)
{
	struct gz_vb_qp *qp = gz_vb_qp_of(pub);
	struct ibv_recv_wr iw[CHAIN], *ibad = NULL;
	struct genzio_recv_wr *gw[CHAIN];

	while (wr) {
		uint64_t tail = atomic_load_explicit(&qp->rq_tail,
						     memory_order_acquire);
		int n = 0, ret = 0;

		for (; wr && n < CHAIN; wr = wr->next, n++) {
			uint64_t seq = qp->rq_head + (uint64_t)n;

			ret = gz_vb_recv_check(qp, wr);
			if (GZ_UNLIKELY(ret))
				break;
			if (GZ_UNLIKELY(seq - tail >= qp->rq_depth)) {
				ret = -EAGAIN;
				break;
			}
			qp->rq[seq & qp->rq_mask] = wr->wr_id;
			gz_vb_recv_fill(&iw[n], GZ_VB_RECV |
					atomic_load_explicit(&qp->tag,
							     memory_order_relaxed) |
					(seq & GZ_VB_SEQ_MASK), wr);
			if (n)
				iw[n - 1].next = &iw[n];
			gw[n] = wr;
		}
		if (n) {
			int err = ibv_post_recv(qp->ib, iw, &ibad);

			if (GZ_UNLIKELY(err)) {
				int k = CHAIN_INDEX(ibad, iw, n);

				qp->rq_head += (uint64_t)k;
				*bad_wr = gw[k];
				return err == ENOMEM ? -EAGAIN : -err;
			}
			qp->rq_head += (uint64_t)n;
			/* in ERR a receive must complete FLUSHED; Soft-RoCE
			 * flushes only when something moves the queue pair:
			 * move it (to ERR again) */
			if (GZ_UNLIKELY(atomic_load_explicit(
					&qp->state, memory_order_relaxed) ==
					GENZIO_QPS_ERR))
				gz_vb_qp_reflush(qp);
		}
		if (GZ_UNLIKELY(ret)) {
			*bad_wr = wr;
			return ret;
		}
	}
	return 0;
}
