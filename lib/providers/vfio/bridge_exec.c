// SPDX-License-Identifier: MIT
/*
 * The bridge's engine in software: the execution of a queue pair's
 * commands with lib/xdm's data mover, between the components' windows
 * (where a command goes, whether its peer is there and paired, whether a
 * path reaches it, then its effect and completion). What a command says
 * is the component's: copied once, each field checked before use.
 */
#include <errno.h>
#include <string.h>

#include <genzio/genzio.h>

#include "providers/vfio/bridge_engine.h"

/* A path down for longer than the route timeout: RETRY_EXC, and the
 * queue pair stays RTS (as shm's; a route may come back) */
#define NO_ROUTE 0x100

/* The attached slot of component @gcid, or NULL. */
struct gz_bridge_eslot *gz_bridge_find(struct gz_bridge_engine *e,
				       uint32_t gcid)
{
	for (uint32_t i = 0; gcid && i < e->nslots; i++)
		if (e->slot[i].state == GZ_BRIDGE_ATTACHED &&
		    e->slot[i].gcid == gcid)
			return &e->slot[i];
	return NULL;
}

/* A command's local address: an offset in its initiator's window. */
static void *xlate(void *arg, uint64_t laddr, uint64_t len)
{
	struct gz_bridge_eslot *es = arg;

	if (laddr > es->window_len || len > es->window_len - laddr)
		return NULL;
	return es->window + laddr;
}

void gz_bridge_cq_write(struct gz_bridge_ecq *c, struct gz_bridge_cq *r,
			const struct gz_xdm_cqe *cqe)
{
	struct gz_xdm_cqe *slot = &c->ent[c->prod & c->mask];

	memcpy(slot, cqe, offsetof(struct gz_xdm_cqe, phase));
	memcpy(slot->result, cqe->result, sizeof(slot->result));
	/* phase last (release): the component that sees it sees all */
	__atomic_store_n(&slot->phase,
			 (uint8_t)(((c->prod >> c->shift) & 1u) ^ 1u),
			 __ATOMIC_RELEASE);
	c->prod++;
	atomic_store_explicit(&r->prod, c->prod, memory_order_release);
}

/* Whether the target's queue pair @q->peer_qpn is paired back with ours
 * (@gcid, @n): RC work waits until it is. */
int gz_bridge_paired(const struct gz_bridge_eslot *t,
		     const struct gz_bridge_eqp *q, uint32_t gcid, uint32_t n,
		     uint32_t gen)
{
	const struct gz_bridge_eqp *p = &t->qp[q->peer_qpn];

	/* and tied to no other generation of us: a connection is to one
	 * attach of its peer, never to a newcomer on the peer's GCID */
	return p->rts && !p->flushing && p->peer_gcid == gcid &&
	       p->peer_qpn == n && (!p->peer_gen || p->peer_gen == gen);
}

/* The opcode a completion of @op names. */
static uint8_t wc_op(uint8_t op)
{
	if (op == GZ_XDM_GET || op == GZ_XDM_GETIMM)
		return GENZIO_WC_READ;
	if (op >= GZ_XDM_SWAP)
		return GENZIO_WC_ATOMIC;
	if (op == GZ_XDM_ENQA || op == GZ_XDM_SEND)
		return GENZIO_WC_SEND;
	return op == GZ_XDM_SYNC || op == GZ_XDM_NOP ? GENZIO_WC_SYNC
						     : GENZIO_WC_WRITE;
}

/* The attached slot of component @gcid, checked against its lock (a
 * host process killed: its kernel dropped it), or NULL. */
static struct gz_bridge_eslot *reach(struct gz_bridge_engine *e,
				     struct gz_bridge_eslot *es, uint32_t gcid)
{
	struct gz_bridge_eslot *t = gz_bridge_find(e, gcid);

	/* a look at its lock before every command to it (a system call):
	 * GENZIO_CAP_DEATH_AT_ONCE, however soon after the death */
	if (t && t != es && t->locked && !gz_bridge_lock_says(e, t)) {
		gz_bridge_detach(e, t);
		t = NULL;
	}
	return t;
}

/* Whether @es reaches @t now: 0, or (a link down, a switch, a component
 * removed: the fabric's manager says) -EAGAIN while queue pair @q waits
 * for a path, then NO_ROUTE, and NO_ROUTE at once for what follows while
 * the path stays down (shm's requests each wait from their post; ours
 * from when the first met the path down). */
static int path(const struct gz_bridge_engine *e,
		const struct gz_bridge_eslot *es,
		const struct gz_bridge_eslot *t, struct gz_bridge_eqp *q,
		uint64_t now)
{
	if (!e->fab || !gz_bridge_fab_down(e->fab, (uint32_t)(es - e->slot),
					   (uint32_t)(t - e->slot))) {
		q->path_since = 0;
		return 0;
	}
	if (!q->path_since)
		q->path_since = now;
	return now - q->path_since < e->route_ns ? -EAGAIN : NO_ROUTE;
}

/* An RD command's destination (GZ_BRIDGE_RD_DEST): its slot in *@t and
 * queue pair in *@pn, or a status: RETRY_EXC, the component gone (or
 * another one since on its GCID), REM_QP, no RD queue pair of that name
 * there. */
static int route_rd(struct gz_bridge_engine *e, struct gz_bridge_eslot *es,
		    const struct gz_xdm_cmd *c, struct gz_bridge_eslot **t,
		    uint32_t *pn)
{
	uint64_t d = c->op.reserved;
	uint32_t tag = (uint32_t)(d >> 8) & 0xffffffu,
		 gen = (uint32_t)(d >> 32);
	const struct gz_bridge_eqp *p;

	*t = reach(e, es, c->gcid);
	if (!*t || (gen && gen != (*t)->generation))
		return GZ_XDM_ST_RETRY_EXC;
	*pn = (uint32_t)(d & 0xff);
	if (*pn >= GZ_BRIDGE_MAX_QP)
		return GZ_XDM_ST_REM_QP;
	p = &(*t)->qp[*pn];
	if (!p->rts || p->flushing || !p->rd ||
	    (tag && (p->tag & 0xffffffu) != tag))
		return GZ_XDM_ST_REM_QP; /* RD talks to RD, by its name */
	return 0;
}

/* Where command @c of queue pair @q of @es goes: its target slot in *@t
 * and queue pair in *@pn, 0 to execute, a status to complete with, or
 * -EAGAIN to wait (its RC peer has not connected back, and the timeout
 * has not passed). */
static int route(struct gz_bridge_engine *e, struct gz_bridge_eslot *es,
		 struct gz_bridge_eqp *q, uint32_t n,
		 const struct gz_xdm_cmd *c, uint64_t now,
		 struct gz_bridge_eslot **t, uint32_t *pn)
{
	uint8_t op = c->opflags & GZ_XDM_OPCODE_MASK;
	const struct gz_bridge_eqp *p;
	int st;

	*t = es;
	*pn = q->peer_qpn;
	if (op == GZ_XDM_NOP || op == GZ_XDM_SYNC)
		return 0; /* nothing leaves the slot */
	if (q->rd) {
		st = route_rd(e, es, c, t, pn);
		return st ? st : path(e, es, *t, q, now);
	}
	if (c->gcid != q->peer_gcid)
		return GZ_XDM_ST_REM_INV_REQ; /* RC: to its peer only */
	*t = reach(e, es, c->gcid);
	/* gone, never there, or another component since on its GCID */
	if (!*t || (q->peer_gen && q->peer_gen != (*t)->generation))
		return GZ_XDM_ST_RETRY_EXC;
	st = path(e, es, *t, q, now);
	if (st)
		return st;
	if (gz_bridge_paired(*t, q, es->gcid, n, es->generation)) {
		q->peer_gen = (*t)->generation;
		q->was_paired = 1;
		return 0;
	}
	/* its queue pair serves another, or served us and was reset or
	 * destroyed since: no waiting for it */
	p = &(*t)->qp[q->peer_qpn];
	if ((p->rts && !p->flushing) || q->was_paired)
		return GZ_XDM_ST_REM_QP;
	if (!q->blocked_since)
		q->blocked_since = now;
	/* 1 s, or the queue pair's rdm_timeout_us when longer */
	return now - q->blocked_since <
		       (q->rdm_ns > e->timeout_ns ? q->rdm_ns : e->timeout_ns)
		   ? -EAGAIN
		   : GZ_XDM_ST_RETRY_EXC;
}

/* One command at the head of queue pair @n: 1 when executed (and its
 * completion written), 0 when it must wait (a full cq, a peer not yet
 * paired). */
static int run_one(struct gz_bridge_engine *e, struct gz_bridge_eslot *es,
		   uint32_t n, uint64_t now, uint64_t *bytes)
{
	struct gz_bridge_eqp *q = &es->qp[n];
	struct gz_bridge_cq *scq = &gz_bridge_ctl(es)->cq[q->scq];
	struct gz_xdm_initiator in = {xlate, es};
	struct gz_bridge_eslot *t;
	struct gz_xdm_cqe cqe;
	struct gz_xdm_cmd c;
	uint32_t pn;
	uint8_t op;
	int st, no_route;

	/* room for its completion first: an executed command's completion
	 * is never lost */
	if (gz_bridge_cq_full(&es->cq[q->scq], scq))
		return 0;
	memcpy(&c, gz_cmdq_head(&q->q), sizeof(c)); /* the one copy */
	op = c.opflags & GZ_XDM_OPCODE_MASK;
	st = q->flushing ? GZ_XDM_ST_FLUSHED
			 : route(e, es, q, n, &c, now, &t, &pn);
	no_route = st == NO_ROUTE;
	if (no_route)
		st = GZ_XDM_ST_RETRY_EXC;
	if (!st && (c.opflags & GZ_XDM_FLAG_IMM) && !gz_bridge_msg_is(&c))
		st = GZ_XDM_ST_GENERAL_ERR; /* an immediate for no message */
	if (!st && gz_bridge_msg_is(&c))
		st = gz_bridge_msg_exec(es, q, t, pn, &c, now, &cqe);
	else if (!st)
		/* the responder queue pair's domain, as verbs checks it (a
		 * NOP or SYNC touches nobody's memory) */
		st = gz_xdm_cmd_exec(&c, &in, &t->target,
				     op == GZ_XDM_NOP || op == GZ_XDM_SYNC
					 ? q->pd
					 : t->qp[pn].pd,
				     &cqe);
	else if (st != -EAGAIN) {
		memset(&cqe, 0, sizeof(cqe));
		cqe.cidx = c.cidx;
		cqe.context = c.context;
		cqe.opcode = wc_op(c.opflags & GZ_XDM_OPCODE_MASK);
		cqe.status = (uint8_t)st;
	}
	if (st == -EAGAIN)
		return 0; /* a peer not paired yet, a receive not posted */
	q->blocked_since = q->rnr_since = 0;
	cqe.qp_num = q->tag;
	if (st || (c.opflags & GZ_XDM_FLAG_SIGNAL))
		gz_bridge_cq_write(&es->cq[q->scq], scq, &cqe);
	gz_cmdq_done(&q->q, 1);
	/* RC: a lost peer, or its queue pair gone, is fatal (verbs' ERR;
	 * RD has no connection to lose);
	 * the rest completes FLUSHED, in order, and so do the receives,
	 * until the component resets the queue pair */
	if ((st == GZ_XDM_ST_RETRY_EXC || st == GZ_XDM_ST_REM_QP) &&
	    !q->flushing && !q->rd && !no_route) {
		q->flushing = 1;
		gz_bridge_qp_state(&gz_bridge_ctl(es)->qp[n], GZ_BRIDGE_QP_ERR,
				   (uint32_t)st);
	}
	e->executed++;
	*bytes += cqe.byte_len ? cqe.byte_len : 64;
	/* a round of long transfers is no engine gone */
	atomic_fetch_add_explicit(&e->hdr->heartbeat, 1, memory_order_release);
	return 1;
}

uint32_t gz_bridge_run_qp(struct gz_bridge_engine *e,
			  struct gz_bridge_eslot *es, uint32_t n, uint64_t now,
			  uint32_t budget)
{
	uint32_t avail = gz_cmdq_avail(&es->qp[n].q), done = 0;
	uint64_t bytes = 0;

	if (avail == UINT32_MAX) {
		/* a tail past the ring: the producer is broken */
		gz_bridge_to_err(es, n, GZ_XDM_ST_GENERAL_ERR);
		return 0;
	}
	/* flushed receives count against the round, as commands do */
	if (es->qp[n].flushing && es->qp[n].has_rq)
		done = gz_bridge_rq_flush(es, n, budget);
	for (uint32_t i = 0;
	     i < avail && done < budget && bytes < GZ_BRIDGE_ROUND_BYTES &&
	     run_one(e, es, n, now, &bytes);
	     i++)
		done++;
	return done;
}
