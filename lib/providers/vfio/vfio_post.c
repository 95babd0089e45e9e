// SPDX-License-Identifier: MIT
/*
 * vfio provider: posting. A request becomes one 64-byte command in the
 * queue pair's ring and a doorbell store; its shadow entry (what its
 * completion needs: wr_id, opcode, where a result goes) waits at its
 * sequence, which the command carries as its completion index.
 *
 * The engine reaches the data window only, by offset, and a command
 * names one local range. So a request whose local side is anything else
 * (memory outside the window, several scatter entries) is staged: a
 * WRITE is gathered into the queue pair's bounce area in the window
 * first, a READ lands there and is scattered at its completion. An
 * atomic's old value and an inline READ come back in the completion
 * entry, so those are always signaled to the engine (hidden from the
 * user when they did not ask). A bad local key still completes, in
 * order, with LOC_PROT: the command names a local range the engine
 * refuses.
 *
 * No lock, no allocation, no system call, except a queue pair's first
 * staged request, which takes its bounce area from the window.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "core/wr.h"
#include "providers/vfio/vfio.h"
#include "xdm/xdm.h"

/* A local range no window has: the engine completes it LOC_PROT. */
#define NO_LADDR UINT64_MAX

static uint64_t sge_total(const struct genzio_send_wr *wr)
{
	uint64_t n = 0;

	for (int i = 0; i < wr->num_sge; i++)
		n += wr->sg_list[i].length;
	return n;
}

static int sges_ok(const struct gz_vf_qp *qp, const struct genzio_send_wr *wr,
		   uint32_t need)
{
	for (int i = 0; i < wr->num_sge; i++) {
		const struct genzio_sge *s = &wr->sg_list[i];

		if (!gz_lkey_ok(qp->lkeys, qp->max_mr, s->lkey, qp->domain,
				s->addr, s->length, need))
			return 0;
	}
	return 1;
}

/* @len bytes of the bounce area for request @w: its offset in the area,
 * or -EAGAIN (full until completions are polled), -EINVAL (too big). */
static __attribute__((noinline)) int
bounce_take(struct gz_vf_qp *qp, struct gz_vf_wqe *w, uint64_t len)
{
	uint64_t need = gz_align_up(len ? len : 1, 64), at = qp->bounce_tail;

	if (len > GZ_VF_BOUNCE)
		return gz_err(-EINVAL,
			      "%" PRIu64 " bytes staged (memory "
			      "outside data space, or several scatter "
			      "entries): at most %u per request here",
			      len, GZ_VF_BOUNCE);
	if (!qp->has_bounce) {
		int ret;

		gz_ctx_lock(&qp->ctx->base);
		ret = gz_vf_win_take(qp->ctx, GZ_VF_BOUNCE, &qp->bounce);
		gz_ctx_unlock(&qp->ctx->base);
		if (ret)
			return ret;
		qp->has_bounce = 1;
	}
	/* contiguous: skip the end of the area when it does not fit */
	if (at % GZ_VF_BOUNCE + need > GZ_VF_BOUNCE)
		at = gz_align_up(at + 1, GZ_VF_BOUNCE);
	if (at + need -
		atomic_load_explicit(&qp->bounce_head, memory_order_acquire) >
	    GZ_VF_BOUNCE)
		return -EAGAIN; /* full until completions are polled */
	w->bounce_off = qp->bounce + at % GZ_VF_BOUNCE;
	qp->bounce_tail = at + need;
	qp->staged++;
	qp->staged_bytes += len;
	return 0;
}

/* Gather @wr's scatter list to @dst (inline: any memory, no key). */
static void gather_to(uint8_t *dst, const struct genzio_send_wr *wr)
{
	for (int i = 0; i < wr->num_sge; i++) {
		memcpy(dst, (void *)(uintptr_t)wr->sg_list[i].addr,
		       wr->sg_list[i].length);
		dst += wr->sg_list[i].length;
	}
}

static void scatter(const struct gz_vf_wqe *w, const uint8_t *src)
{
	for (uint32_t i = 0; i < w->num_sge; i++) {
		memcpy((void *)(uintptr_t)w->sge[i].addr, src,
		       w->sge[i].length);
		src += w->sge[i].length;
	}
}

/* Whether @w's scatter list is still registered for local write: a
 * result lands in it only then (its registration may have gone since
 * the post, and its memory with it). */
static int sges_still(const struct gz_vf_qp *qp, const struct gz_vf_wqe *w)
{
	for (uint32_t i = 0; i < w->num_sge; i++)
		if (!gz_lkey_ok(qp->lkeys, qp->max_mr, w->sge[i].lkey,
				qp->domain, w->sge[i].addr, w->sge[i].length,
				GENZIO_ACCESS_LOCAL_WRITE))
			return 0;
	return 1;
}

uint8_t gz_vf_wqe_finish(struct gz_vf_qp *qp, struct gz_vf_wqe *w,
			 const struct gz_xdm_cqe *e, int ok)
{
	uint8_t st = 0;

	if (!ok || w->kind == GZ_VF_WQE_PLAIN) {
		/* nothing lands */
	} else if (w->inline_read) {
		/* its bytes in the completion; inline needs no registration:
		 * the caller keeps the buffer until then */
		if (e)
			scatter(w, e->result);
	} else if (!sges_still(qp, w)) {
		st = GENZIO_WC_LOC_PROT;
	} else if (w->kind == GZ_VF_WQE_COPY) {
		scatter(w, gz_vf_win(qp->ctx, w->bounce_off));
	} else if (e) {
		/* an atomic's old value, in the completion */
		memcpy((void *)(uintptr_t)w->sge[0].addr, e->result, w->len);
	}
	atomic_store_explicit(&qp->bounce_head, w->bounce_end,
			      memory_order_release);
	return st;
}

/* The local side of an RMA request: an offset in the window, staged or
 * in place, or NO_LADDR. 0, or -errno (the post fails). */
static int rma_local(struct gz_vf_qp *qp, const struct genzio_send_wr *wr,
		     int write, struct gz_vf_wqe *w, uint64_t *laddr)
{
	const struct genzio_sge *s = wr->sg_list;
	uint64_t len = sge_total(wr);
	int ret;

	struct gz_lkey_snap k;

	*laddr = NO_LADDR;
	if (!sges_ok(qp, wr, write ? 0 : GENZIO_ACCESS_LOCAL_WRITE))
		return 0; /* LOC_PROT, from the engine, in order */
	if (wr->num_sge == 1 &&
	    gz_vf_in_win(qp->ctx, s->addr, s->length, laddr))
		return 0;
	/* one range of a registration with a twin: staged there */
	if (wr->num_sge == 1 &&
	    gz_lkey_get(qp->lkeys, qp->max_mr, s->lkey, qp->domain, s->addr,
			s->length, 0, &k) &&
	    k.cookie != GZ_LKEY_COOKIE_NONE) {
		*laddr = s->addr + k.cookie_va;
		w->bounce_off = *laddr;
		qp->staged++;
		qp->staged_bytes += len;
		if (write)
			memcpy(gz_vf_win(qp->ctx, *laddr),
			       (void *)(uintptr_t)s->addr, len);
		else
			w->kind = GZ_VF_WQE_COPY;
		return 0;
	}
	if (!wr->num_sge) {
		*laddr = 0; /* nothing moves */
		return 0;
	}
	ret = bounce_take(qp, w, len);
	if (ret)
		return ret;
	*laddr = w->bounce_off;
	if (write)
		gather_to(gz_vf_win(qp->ctx, w->bounce_off), wr);
	else
		w->kind = GZ_VF_WQE_COPY;
	return 0;
}

static void keep_sges(struct gz_vf_wqe *w, const struct genzio_send_wr *wr)
{
	w->num_sge = (uint32_t)wr->num_sge;
	memcpy(w->sge, wr->sg_list, sizeof(w->sge[0]) * (size_t)wr->num_sge);
}

/* A message (SEND, SEND_IMM, WRITE_IMM): an inline SEND travels whole
 * in an ENQA entry; other inline bytes through the bounce area; the
 * rest names its local range as a WRITE does. 0 or -errno. */
static int msg_build(struct gz_vf_qp *qp, const struct genzio_send_wr *wr,
		     struct gz_xdm_cmd *c, struct gz_vf_wqe *w, uint16_t *op)
{
	uint64_t len = sge_total(wr);
	int ret;

	w->opcode = wr->opcode == GENZIO_WR_WRITE_IMM ? GENZIO_WC_WRITE
						      : GENZIO_WC_SEND;
	w->len = (uint32_t)len;
	if ((wr->send_flags & GENZIO_SEND_INLINE) && !qp->rd &&
	    wr->opcode == GENZIO_WR_SEND && len && len <= GZ_XDM_ENQA_MAX) {
		struct gz_xdm_enqa *e = (struct gz_xdm_enqa *)(void *)c;

		e->ctxid = qp->peer_idx | (uint32_t)(len - 1) << 24;
		gather_to(e->payload, wr);
		*op = GZ_XDM_ENQA;
		return 0;
	}
	c->length = w->len;
	if (wr->send_flags & GENZIO_SEND_INLINE) {
		ret = bounce_take(qp, w, len);
		if (ret)
			return ret;
		gather_to(gz_vf_win(qp->ctx, w->bounce_off), wr);
		c->op.laddr = w->bounce_off;
	} else if ((ret = rma_local(qp, wr, 1, w, &c->op.laddr))) {
		return ret;
	}
	*op = GZ_XDM_SEND;
	if (wr->opcode == GENZIO_WR_WRITE_IMM) {
		*op = GZ_XDM_PUT;
		c->rkey = wr->rdma.rkey;
		c->raddr = wr->rdma.remote_addr;
	}
	if (wr->opcode != GENZIO_WR_SEND) {
		*op |= GZ_XDM_FLAG_IMM;
		c->op.operand = wr->imm_data;
	}
	return 0;
}

/* An RD request's destination: the address handle's component (and its
 * attach, when the handle came from an address), the queue pair by its
 * number, all of it (a successor at its index is another). */
static void rd_dest(const struct genzio_send_wr *wr, struct gz_xdm_cmd *c)
{
	const struct gz_vf_ah *ah =
	    container_of(wr->ah, const struct gz_vf_ah, base);
	uint32_t idx = GZ_VF_QPN_IDX(wr->remote_qpn);

	c->gcid = ah->base.gcid;
	c->op.reserved = GZ_BRIDGE_RD_DEST(idx < GZ_BRIDGE_MAX_QP ? idx : 0xff,
					   wr->remote_qpn, ah->gen);
}

/* Command @c and shadow entry @w for @wr: 0 or -errno. */
static int build(struct gz_vf_qp *qp, const struct genzio_send_wr *wr,
		 struct gz_xdm_cmd *c, struct gz_vf_wqe *w)
{
	uint32_t flags = wr->send_flags;
	uint16_t op;
	int ret;

	c->gcid = qp->peer_gcid;
	switch (wr->opcode) {
	case GENZIO_WR_WRITE:
	case GENZIO_WR_READ: {
		int write = wr->opcode == GENZIO_WR_WRITE;

		w->opcode = write ? GENZIO_WC_WRITE : GENZIO_WC_READ;
		w->len = (uint32_t)sge_total(wr);
		c->length = w->len;
		c->rkey = wr->rdma.rkey;
		c->raddr = wr->rdma.remote_addr;
		if ((flags & GENZIO_SEND_INLINE) && write && qp->rd) {
			/* an RD command's destination takes the bytes an
			 * inline WRITE's would: staged instead */
			op = GZ_XDM_PUT;
			ret = bounce_take(qp, w, w->len);
			if (ret)
				return ret;
			gather_to(gz_vf_win(qp->ctx, w->bounce_off), wr);
			c->op.laddr = w->bounce_off;
			break;
		}
		if (flags & GENZIO_SEND_INLINE) {
			/* the bytes travel in the entry, or come back in the
			 * completion */
			op = write ? GZ_XDM_PUTIMM : GZ_XDM_GETIMM;
			if (write && wr->num_sge)
				memcpy(c->imm,
				       (void *)(uintptr_t)wr->sg_list[0].addr,
				       w->len);
			if (!write) {
				keep_sges(w, wr);
				w->kind = GZ_VF_WQE_COPY;
				w->inline_read = 1;
			}
			break;
		}
		op = write ? GZ_XDM_PUT : GZ_XDM_GET;
		ret = rma_local(qp, wr, write, w, &c->op.laddr);
		if (ret)
			return ret;
		if (w->kind == GZ_VF_WQE_COPY)
			keep_sges(w, wr);
		break;
	}
	case GENZIO_WR_SYNC:
		w->opcode = GENZIO_WC_SYNC;
		op = GZ_XDM_SYNC;
		break;
	case GENZIO_WR_SEND:
	case GENZIO_WR_SEND_IMM:
	case GENZIO_WR_WRITE_IMM:
		if (GZ_UNLIKELY(!qp->msg))
			return -EOPNOTSUPP; /* GENZIO_CAP_MSG is clear */
		ret = msg_build(qp, wr, c, w, &op);
		if (ret)
			return ret;
		break;
	default: /* atomics: checked by gz_wr_check */
		w->opcode = GENZIO_WC_ATOMIC;
		w->len = wr->atomic.size;
		op = gz_xdm_atomic_opcode(wr->opcode);
		if (wr->atomic.size == 4)
			op |= GZ_XDM_FLAG_ATOMIC32;
		c->rkey = wr->atomic.rkey;
		c->raddr = wr->atomic.remote_addr;
		c->op.operand = wr->atomic.operand;
		c->op.compare = wr->atomic.compare;
		if (wr->num_sge) {
			if (!sges_ok(qp, wr, GENZIO_ACCESS_LOCAL_WRITE)) {
				/* LOC_PROT from the engine: a GET of
				 * nowhere, in order */
				op = GZ_XDM_GET;
				c->length = wr->atomic.size;
				c->op.laddr = NO_LADDR;
				break;
			}
			keep_sges(w, wr);
			w->kind = GZ_VF_WQE_RESULT;
		}
		break;
	}
	w->signaled = !!(flags & GENZIO_SEND_SIGNALED);
	/* a result comes back in the completion only */
	if (w->signaled || w->kind == GZ_VF_WQE_RESULT || w->inline_read)
		op |= GZ_XDM_FLAG_SIGNAL;
	if (flags & GENZIO_SEND_FENCE)
		op |= GZ_XDM_FLAG_FENCE;
	c->opflags = op;
	if (qp->rd)
		rd_dest(wr, c);
	return 0;
}

/* The shadow entry of @wr on a queue pair that is flushing. */
static __attribute__((noinline)) int flushed(const struct genzio_send_wr *wr,
					     struct gz_vf_wqe *w)
{
	switch (wr->opcode) {
	case GENZIO_WR_WRITE:
		w->opcode = GENZIO_WC_WRITE;
		break;
	case GENZIO_WR_READ:
		w->opcode = GENZIO_WC_READ;
		break;
	case GENZIO_WR_SYNC:
		w->opcode = GENZIO_WC_SYNC;
		break;
	case GENZIO_WR_SEND:
	case GENZIO_WR_SEND_IMM:
		w->opcode = GENZIO_WC_SEND;
		break;
	case GENZIO_WR_WRITE_IMM:
		w->opcode = GENZIO_WC_WRITE;
		break;
	default:
		w->opcode = GENZIO_WC_ATOMIC;
	}
	w->signaled = !!(wr->send_flags & GENZIO_SEND_SIGNALED);
	return 0;
}

static int post_one(struct gz_vf_qp *qp, const struct genzio_send_wr *wr)
{
	struct gz_cmdq *q = &qp->ctx->slot.sq[qp->idx];
	uint64_t tail = atomic_load_explicit(&qp->tail, memory_order_relaxed);
	struct gz_xdm_cmd c = {0};
	struct gz_vf_wqe *w;
	uint32_t st = atomic_load_explicit(&qp->state, memory_order_relaxed);
	int flushing, ret;

	/* the fast path says nothing (README): the codes are the
	 * documented ones */
	if (GZ_UNLIKELY(gz_wr_check(wr, qp->max_sge, qp->max_inline)))
		return -EINVAL;
	if (GZ_UNLIKELY(st == GENZIO_QPS_RESET))
		return -ENOTCONN;
	/* RD: a destination per request, an address handle of this
	 * context (another provider's is no gz_vf_ah), a 24-bit qp_num */
	if (GZ_UNLIKELY(qp->rd &&
			(!wr->ah || wr->ah->pd->ctx != qp->base.pub.context ||
			 wr->remote_qpn >> 24)))
		return -EINVAL;
	if (GZ_UNLIKELY(
		tail - atomic_load_explicit(&qp->head, memory_order_acquire) >=
		qp->depth))
		return -EAGAIN; /* poll completions first */
	flushing = atomic_load_explicit(&qp->flush, memory_order_acquire);
	if (GZ_UNLIKELY(!flushing && !gz_cmdq_space(q)))
		return -EAGAIN;
	w = &qp->wqe[tail & (qp->depth - 1)];
	memset(w, 0, offsetof(struct gz_vf_wqe, sge));
	w->num_sge = 0;
	w->kind = GZ_VF_WQE_PLAIN;
	w->signaled = w->inline_read = 0;
	w->wr_id = wr->wr_id;
	/* the device is gone: nothing is staged or written (the slot may
	 * be another's), poll completes it FLUSHED */
	ret = GZ_UNLIKELY(flushing) ? flushed(wr, w) : build(qp, wr, &c, w);
	if (GZ_UNLIKELY(ret))
		return ret;
	w->bounce_end = qp->bounce_tail;
	c.cidx = (uint16_t)tail;
	if ((c.opflags & GZ_XDM_OPCODE_MASK) != GZ_XDM_ENQA)
		c.context = tail; /* ENQA: its payload is there */
	/* the shadow entry before the command: its completion may come
	 * at once, and poll takes only sequences below the tail */
	atomic_store_explicit(&qp->tail, tail + 1, memory_order_release);
	if (GZ_UNLIKELY(flushing))
		return 0; /* the device is gone: poll flushes it */
	memcpy(gz_cmdq_next(q), &c, sizeof(c));
	gz_cmdq_ring(q);
	return 0;
}

int gz_vf_post_send(struct genzio_qp *pub, struct genzio_send_wr *wr,
		    struct genzio_send_wr **bad)
{
	struct gz_vf_qp *qp = gz_vf_qp_of(pub);

	for (; wr; wr = wr->next) {
		int ret = post_one(qp, wr);

		if (GZ_UNLIKELY(ret)) {
			*bad = wr;
			return ret;
		}
	}
	return 0;
}
