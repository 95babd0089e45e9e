// SPDX-License-Identifier: MIT
/*
 * The bridge's engine: two-sided messages. A SEND (or an ENQA, its bytes
 * in the entry) goes into the next receive the receiver's component
 * posted in its receive ring; a PUT with GZ_XDM_FLAG_IMM writes by key
 * and then consumes a receive for its immediate (WRITE_IMM). The engine
 * is the only consumer of a receive ring, so a receive is taken in ring
 * order without a CAS, and the receiver completes them in that order.
 *
 * The ring is the receiver's memory: its tail and each entry are read
 * once, into a copy, and every buffer is checked against its own data
 * window before a byte moves. What can fail without the receiver's fault
 * (no receive yet, a bad key, the sender's local range) fails before a
 * receive is consumed; a receive that cannot take the message (its
 * buffers garbage or too small) completes in error at the receiver and
 * REM_INV_REQ at the sender, as verbs does.
 */
#include <errno.h>
#include <string.h>

#include <genzio/genzio.h>

#include "providers/vfio/bridge_engine.h"

/* A receive entry, copied and checked: where its buffers are. */
struct rqe_copy {
	uint32_t n;
	uint8_t *dst[GZ_BRIDGE_RQ_SGE];
	uint32_t len[GZ_BRIDGE_RQ_SGE];
	uint64_t cap;
};

/* Receives the component of @t posted on @p and the engine has not taken:
 * 0 none, or UINT32_MAX (a tail past the ring: not a receive queue). */
static uint32_t rq_avail(const struct gz_bridge_eslot *t,
			 const struct gz_bridge_eqp *p, uint32_t pn)
{
	uint32_t tail = atomic_load_explicit(&gz_bridge_ctl(t)->qp[pn].rq_tail,
					     memory_order_acquire);
	uint32_t n = tail - p->rq_head;

	return !p->has_rq ? 0 : n > p->rq_mask + 1 ? UINT32_MAX : n;
}

/* The receive at @p's head, copied once and checked: 0, or LOC_PROT. */
static uint8_t rqe_read(const struct gz_bridge_eslot *t,
			const struct gz_bridge_eqp *p, struct rqe_copy *r)
{
	struct gz_bridge_rqe e;

	memcpy(&e,
	       t->base + p->rq_off +
		   (uint64_t)(p->rq_head & p->rq_mask) * sizeof(e),
	       sizeof(e));
	r->n = e.num_sge;
	r->cap = 0;
	if (r->n > GZ_BRIDGE_RQ_SGE)
		return GZ_XDM_ST_LOC_PROT;
	for (uint32_t i = 0; i < r->n; i++) {
		const struct gz_xdm_sge *s = &e.sge[i];

		if (s->seg || s->off > t->window_len ||
		    s->len > t->window_len - s->off)
			return GZ_XDM_ST_LOC_PROT;
		r->dst[i] = t->window + s->off;
		r->len[i] = s->len;
		r->cap += s->len;
	}
	return 0;
}

static void scatter(const struct rqe_copy *r, const uint8_t *src, uint64_t len)
{
	for (uint32_t i = 0; i < r->n && len; i++) {
		uint64_t n = r->len[i] < len ? r->len[i] : len;

		memmove(r->dst[i], src, n);
		src += n;
		len -= n;
	}
}

/* The receive at @p's head is done: its completion (status @st) in the
 * receive cq, the head written back. */
static void rq_complete(struct gz_bridge_eslot *t, struct gz_bridge_eqp *p,
			uint32_t pn, struct gz_xdm_cqe *rc)
{
	rc->cidx = (uint16_t)p->rq_head;
	rc->qp_num = p->tag;
	gz_bridge_cq_write(&t->cq[p->rcq], &gz_bridge_ctl(t)->cq[p->rcq], rc);
	p->rq_head++;
	atomic_store_explicit(&gz_bridge_ctl(t)->qp[pn].rq_head, p->rq_head,
			      memory_order_release);
}

/* Room in @p's receive cq for the receive's completion, and for the
 * sender's too when that goes to the same ring: 0, -EAGAIN (only ours is
 * missing: the sender polls), or REM_OP (the receiver's cq overran). */
static int rcq_room(struct gz_bridge_eslot *es, struct gz_bridge_eqp *q,
		    struct gz_bridge_eslot *t, struct gz_bridge_eqp *p)
{
	struct gz_bridge_ecq *c = &t->cq[p->rcq];
	struct gz_bridge_cq *r = &gz_bridge_ctl(t)->cq[p->rcq];
	int shared = t == es && p->rcq == q->scq;
	uint32_t cons;

	if (c->overrun)
		return GZ_XDM_ST_REM_OP; /* in error for good */
	cons = atomic_load_explicit(&r->cons, memory_order_acquire);
	if (c->prod - cons + 1 + (uint32_t)shared <= c->mask + 1)
		return 0;
	/* (a ring of one cannot hold both: that is an overrun too) */
	if (shared && c->mask && c->prod - cons <= c->mask)
		return -EAGAIN;
	c->overrun = 1;
	atomic_store_explicit(&r->overrun, 1, memory_order_release);
	return GZ_XDM_ST_REM_OP;
}

/* What the sender's own side of @c says, before any receive is looked at:
 * 0 and the message's bytes (*@src, *@len; no bytes for a WRITE_IMM), or
 * a status. */
static int sender_side(const struct gz_bridge_eslot *es, uint32_t pn,
		       const struct gz_xdm_cmd *c, const uint8_t **src,
		       uint64_t *len)
{
	const struct gz_xdm_enqa *eq =
	    (const struct gz_xdm_enqa *)(const void *)c;
	uint8_t op = c->opflags & GZ_XDM_OPCODE_MASK;
	uint64_t l = c->op.laddr;

	*src = NULL;
	*len = c->length;
	if (op == GZ_XDM_ENQA) {
		*len = ((eq->ctxid >> 24) & 0x3f) + 1u;
		*src = eq->payload;
		if (*len > GZ_XDM_ENQA_MAX || (eq->opflags & GZ_XDM_FLAG_IMM))
			return GZ_XDM_ST_GENERAL_ERR;
		if ((eq->ctxid & 0xffffffu) != pn)
			return GZ_XDM_ST_REM_QP; /* RC: to its peer only */
		return 0;
	}
	if (l > es->window_len || *len > es->window_len - l)
		return GZ_XDM_ST_LOC_PROT;
	if (op == GZ_XDM_SEND)
		*src = es->window + l;
	return 0;
}

int gz_bridge_msg_exec(struct gz_bridge_eslot *es, struct gz_bridge_eqp *q,
		       struct gz_bridge_eslot *t, uint32_t pn,
		       const struct gz_xdm_cmd *c, uint64_t now,
		       struct gz_xdm_cqe *cqe)
{
	struct gz_bridge_eqp *p = &t->qp[pn];
	uint8_t op = c->opflags & GZ_XDM_OPCODE_MASK;
	struct gz_xdm_cqe rc = {0};
	struct rqe_copy r;
	const uint8_t *src;
	uint64_t len;
	uint32_t avail;
	int st;

	memset(cqe, 0, sizeof(*cqe));
	cqe->cidx = c->cidx;
	cqe->context = c->context;
	cqe->opcode = op == GZ_XDM_PUT ? GENZIO_WC_WRITE : GENZIO_WC_SEND;
	/* the sender's faults first: they touch no receive and no cq */
	st = sender_side(es, pn, c, &src, &len);
	if (!st) {
		avail = rq_avail(t, p, pn);
		if (avail == UINT32_MAX) {
			st =
			    GZ_XDM_ST_REM_QP; /* the receiver's ring: garbage */
		} else if (!avail) {
			/* verbs' RNR: retried until the sender's timeout */
			if (!q->rnr_since)
				q->rnr_since = now;
			if (now - q->rnr_since < q->rdm_ns)
				return -EAGAIN;
			st = GZ_XDM_ST_RDM_FULL;
		} else if ((st = rcq_room(es, q, t, p)) == -EAGAIN) {
			return -EAGAIN;
		}
	}
	if (!st && op == GZ_XDM_PUT) {
		struct gz_xdm_cmd put = *c;
		struct gz_xdm_initiator in = {NULL, NULL};

		/* the write by key first: a fault consumes no receive */
		put.opflags &= (uint16_t)~GZ_XDM_FLAG_IMM;
		put.op.laddr = (uint64_t)(uintptr_t)(es->window + c->op.laddr);
		st = gz_xdm_cmd_exec(&put, &in, &t->target, p->pd, cqe);
	}
	if (st) {
		cqe->status = (uint8_t)st;
		cqe->byte_len = 0;
		return st;
	}
	/* from here a receive is consumed, whatever comes of it */
	rc.opcode =
	    op == GZ_XDM_PUT ? GENZIO_WC_RECV_WRITE_IMM : GENZIO_WC_RECV;
	rc.src_gcid = es->gcid;
	if (c->opflags & GZ_XDM_FLAG_IMM) {
		rc.imm_data = (uint32_t)c->op.operand;
		rc.wc_flags = GENZIO_WC_WITH_IMM;
	}
	rc.status = rqe_read(t, p, &r);
	if (!rc.status && op != GZ_XDM_PUT && len > r.cap)
		rc.status = GZ_XDM_ST_LOC_LEN;
	if (!rc.status && src)
		scatter(&r, src, len);
	rc.byte_len = rc.status ? 0 : (uint32_t)len;
	rq_complete(t, p, pn, &rc);
	cqe->status = rc.status ? GZ_XDM_ST_REM_INV_REQ : 0;
	cqe->byte_len = cqe->status ? 0 : (uint32_t)len;
	return cqe->status;
}

uint32_t gz_bridge_rq_flush(struct gz_bridge_eslot *es, uint32_t n,
			    uint32_t budget)
{
	struct gz_bridge_eqp *q = &es->qp[n];
	uint32_t avail = rq_avail(es, q, n), done = 0;

	if (avail == UINT32_MAX)
		return 0; /* garbage: the component resets, or is reaped */
	while (done < avail && done < budget &&
	       !gz_bridge_cq_full(&es->cq[q->rcq],
				  &gz_bridge_ctl(es)->cq[q->rcq])) {
		struct gz_xdm_cqe rc = {.status = GZ_XDM_ST_FLUSHED,
					.opcode = GENZIO_WC_RECV};

		rq_complete(es, q, n, &rc);
		done++;
	}
	return done;
}
