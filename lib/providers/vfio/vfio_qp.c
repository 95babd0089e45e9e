// SPDX-License-Identifier: MIT
/*
 * vfio provider: queue pairs. A genzio queue pair is one of the slot's
 * bridge queue pairs; it is described to the engine and asked for RTS at
 * connect (an RC queue pair names its peer in its description), and the
 * engine's answer is waited for, bounded. A reset or a destroy asks for
 * RESET and waits for it the same way before its ring is reused; an
 * engine that does not answer is gone, and then nobody reads the ring.
 *
 * Our part of an address: the queue pair's number in its slot (and
 * ADDR_RD for an RD one), the slot's generation, the bridge's incarnation
 * (16 bytes, little-endian).
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "providers/vfio/vfio.h"
#include "sys/sys.h"

#define ADDR_RD (1u << 31)

/* The engine has queue pair @n in @want (or ERR), within the bound: 0,
 * -ETIMEDOUT (the engine does not answer). */
static int engine_state(struct gz_vf_ctx *ctx, uint32_t n, uint32_t want)
{
	uint64_t t0 = gz_sys_now_ns();

	for (;;) {
		uint32_t st = gz_vslot_qp_state(&ctx->slot, n);

		if (st == want ||
		    (want == GZ_BRIDGE_QP_RTS && st == GZ_BRIDGE_QP_ERR))
			return 0;
		if (gz_sys_now_ns() - t0 > gz_vf_setup_ns())
			return -ETIMEDOUT;
		sched_yield();
	}
}

static int engine_up(struct gz_vf_qp *qp, uint32_t gcid, uint32_t idx,
		     uint32_t gen);

static void qp_mem_free(struct gz_vf_qp *qp)
{
	free(qp->wqe);
	free(qp->rwqe);
	free(qp);
}

/* An RD queue pair is ready at once: to the engine now, with no peer. */
static int rd_up(struct gz_vf_qp *qp)
{
	int ret = engine_up(qp, 0, 0, 0);

	if (ret) {
		/* its rings stay out of use while the engine may read them */
		if (gz_vslot_qp_state(&qp->ctx->slot, qp->idx) ==
		    GZ_BRIDGE_QP_RESET) {
			gz_vslot_qp_free(&qp->ctx->slot, qp->idx);
			gz_vslot_rq_free(&qp->ctx->slot, qp->idx);
		}
		return ret;
	}
	atomic_store(&qp->state, GENZIO_QPS_RTS);
	return 0;
}

int gz_vf_qp_create(struct genzio_pd *pd, const struct genzio_qp_attr *attr,
		    struct genzio_qp **out)
{
	struct gz_vf_ctx *ctx = gz_vf_ctx_of(pd->ctx);
	struct gz_vf_qp *qp;
	uint32_t idx;

	gz_vf_beat(ctx);
	/* a free number the engine has in RESET (not one a destroy that
	 * timed out left to it) */
	for (idx = 0; idx < GZ_BRIDGE_MAX_QP; idx++)
		if (!atomic_load(&ctx->qp[idx]) &&
		    gz_vslot_qp_state(&ctx->slot, idx) == GZ_BRIDGE_QP_RESET)
			break;
	if (idx == GZ_BRIDGE_MAX_QP)
		return gz_err(-ENOSPC, "all %u queue pairs of the slot in use",
			      GZ_BRIDGE_MAX_QP);
	qp = calloc(1, sizeof(*qp));
	if (!qp)
		return -ENOMEM;
	qp->depth = gz_roundup_pow2(attr->sq_depth);
	qp->rq_ent = attr->rq_depth ? gz_roundup_pow2(attr->rq_depth) : 0;
	qp->wqe = calloc(qp->depth, sizeof(*qp->wqe));
	qp->rwqe = calloc(qp->rq_ent ? qp->rq_ent : 1, sizeof(*qp->rwqe));
	if (!qp->wqe || !qp->rwqe) {
		qp_mem_free(qp);
		return -ENOMEM;
	}
	/* a ring a destroy left to a slow engine, which has reset it since */
	gz_vslot_rq_free(&ctx->slot, idx);
	if (qp->rq_ent) {
		int ret = gz_vslot_rq_create(&ctx->slot, idx, qp->rq_ent);

		if (ret) {
			qp_mem_free(qp);
			return gz_err(ret, "a receive ring of %u entries: %s",
				      gz_roundup_pow2(attr->rq_depth),
				      ret == -ENOSPC
					  ? "the slot's queue area is full"
					  : strerror(-ret));
		}
	}
	qp->rdm_us = attr->comp_mask & GENZIO_QP_ATTR_RDM_TIMEOUT
			 ? (attr->rdm_timeout_us ? attr->rdm_timeout_us : 1)
			 : 0;
	qp->msg = !!(ctx->m.caps & GZ_BRIDGE_CAP_MSG);
	qp->ctx = ctx;
	qp->idx = idx;
	qp->ring_ent = qp->depth;
	qp->scq = container_of(attr->send_cq, struct gz_vf_cq, base.pub);
	qp->rcq = container_of(attr->recv_cq, struct gz_vf_cq, base.pub);
	qp->domain = pd->key_domain;
	qp->max_inline = attr->max_inline;
	qp->max_sge = attr->max_send_sge;
	qp->max_recv_sge = attr->max_recv_sge;
	qp->lkeys = ctx->base.lkeys;
	qp->max_mr = ctx->base.attr.max_mr;
	atomic_init(&qp->state, GENZIO_QPS_RESET);
	qp->base.pub.post_send = gz_vf_post_send;
	qp->base.pub.post_recv = gz_vf_post_recv;
	qp->base.pub.user_context = attr->user_context;
	qp->base.pub.context = &ctx->base;
	/* 0 names none; a successor at the same index is another */
	qp->base.pub.qp_num = (++ctx->qp_made[idx] & 0x3fffu) << 10 | (idx + 1);
	qp->base.pub.qp_type = attr->qp_type;
	qp->rd = attr->qp_type == GENZIO_QPT_RD;
	if (qp->rd) {
		int ret = rd_up(qp);

		if (ret) {
			qp_mem_free(qp);
			return ret;
		}
	}
	qp->scq->users++;
	qp->rcq->users++;
	atomic_store_explicit(&ctx->qp[idx], qp, memory_order_release);
	*out = &qp->base.pub;
	return 0;
}

int gz_vf_qp_addr(struct genzio_qp *pub, uint8_t *buf, size_t len)
{
	struct gz_vf_qp *qp = gz_vf_qp_of(pub);

	if (len < GZ_VF_ADDR_LEN)
		return -ENOSPC;
	gz_le32_put(buf, qp->idx | (qp->rd ? ADDR_RD : 0));
	gz_le32_put(buf + 4, qp->ctx->slot.generation);
	gz_le64_put(buf + 8, qp->ctx->m.incarnation);
	return GZ_VF_ADDR_LEN;
}

/*
 * Verbs-style names (genzio_verbs_port): the GID is 'g' 'b', the GCID,
 * the slot's generation and the low 48 bits of the bridge's incarnation;
 * the LID is the component ID, enough alone on this bridge. Read back as
 * input, every field checked.
 */
static const uint8_t verbs_magic[2] = {'g', 'b'};

void gz_vf_verbs_port(struct genzio_context *base, struct genzio_verbs_port *p)
{
	struct gz_vf_ctx *ctx = gz_vf_ctx_of(base);

	memcpy(p->gid, verbs_magic, 2);
	gz_le32_put(p->gid + 2, base->attr.gcid);
	gz_le32_put(p->gid + 6, ctx->slot.generation);
	for (int i = 0; i < 6; i++)
		p->gid[10 + i] = (uint8_t)(ctx->m.incarnation >> (8 * i));
	p->lid = (uint16_t)GENZIO_GCID_CID(base->attr.gcid);
	p->link_layer = 0;
	p->mtu = 5; /* 4096: no path limits a request */
}

int gz_vf_verbs_addr(struct genzio_context *base,
		     const struct genzio_verbs_dest *d, uint8_t *buf,
		     size_t len, uint32_t *gcid)
{
	static const uint8_t none[16];
	struct gz_vf_ctx *ctx = gz_vf_ctx_of(base);
	uint32_t g, gen = 0;

	if (len < GZ_VF_ADDR_LEN)
		return -ENOSPC;
	if (!memcmp(d->gid, none, 16)) { /* a LID alone: on this bridge */
		g = GENZIO_GCID(ctx->m.subnet, d->lid);
	} else {
		uint64_t inc = 0;

		for (int i = 0; i < 6; i++)
			inc |= (uint64_t)d->gid[10 + i] << (8 * i);
		g = gz_le32_get(d->gid + 2);
		gen = gz_le32_get(d->gid + 6);
		if (memcmp(d->gid, verbs_magic, 2) ||
		    (d->lid && d->lid != GENZIO_GCID_CID(g)))
			return gz_err(-EINVAL,
				      "not a vfio queue pair's GID and "
				      "LID (genzio_verbs_port() of its context "
				      "gives them)");
		if (inc != (ctx->m.incarnation & 0xffffffffffffull))
			return gz_err(-EHOSTUNREACH,
				      "GCID %#x is a component "
				      "of another bridge",
				      g);
	}
	if (!d->lid && !GENZIO_GCID_CID(g))
		return gz_err(-EINVAL, "no LID and no GID");
	if (GENZIO_GCID_SID(g) != ctx->m.subnet || !GENZIO_GCID_CID(g) ||
	    GENZIO_GCID_CID(g) > ctx->m.nslots)
		return gz_err(-EHOSTUNREACH,
			      "GCID %#x is no slot of this "
			      "bridge (subnet %#x, %u slots)",
			      g, ctx->m.subnet, ctx->m.nslots);
	if (GZ_VF_QPN_IDX(d->qpn) >= GZ_BRIDGE_MAX_QP)
		return gz_err(-EINVAL,
			      "queue pair number %#x: a slot's are 1 "
			      "to %u in the low 10 bits",
			      d->qpn, GZ_BRIDGE_MAX_QP);
	gz_le32_put(buf, GZ_VF_QPN_IDX(d->qpn));
	gz_le32_put(buf + 4, gen);
	gz_le64_put(buf + 8, ctx->m.incarnation);
	*gcid = g;
	return GZ_VF_ADDR_LEN;
}

/*
 * Queue pair @qp described to the engine, paired with queue pair @idx of
 * @gcid of its attach @gen (RC; RD: @gcid 0, no peer), and asked for RTS:
 * 0 once the engine has it there, or -errno (named), the queue pair back
 * in RESET.
 */
static int engine_up(struct gz_vf_qp *qp, uint32_t gcid, uint32_t idx,
		     uint32_t gen)
{
	struct gz_vf_ctx *ctx = qp->ctx;
	struct genzio_qp *pub = &qp->base.pub;
	int ret;

	/* the engine takes the receives posted since the last reset */
	gz_vslot_rq_start(
	    &ctx->slot, qp->idx, (uint32_t)atomic_load(&qp->rq_head),
	    (uint32_t)atomic_load(&qp->rq_tail), qp->rdm_us, pub->qp_num);
	ret =
	    gz_vslot_qp_create(&ctx->slot, qp->idx, qp->ring_ent, qp->scq->idx,
			       qp->rcq->idx, qp->domain, gcid, idx, gen);
	if (ret)
		return gz_err(ret, "queue pair %#x: %s", pub->qp_num,
			      ret == -ENOSPC  ? "the slot's queue area is full"
			      : ret == -EBUSY ? "the engine has not reset it"
					      : strerror(-ret));
	ret = engine_state(ctx, qp->idx, GZ_BRIDGE_QP_RTS);
	if (ret) {
		gz_vslot_qp_reset(&ctx->slot, qp->idx);
		return gz_err(-ETIMEDOUT,
			      "the bridge's engine did not take "
			      "queue pair %#x in %llu ms (is genzio-bridged "
			      "running?)",
			      pub->qp_num,
			      (unsigned long long)(gz_vf_setup_ns() / 1000000));
	}
	if (gz_vslot_qp_state(&ctx->slot, qp->idx) == GZ_BRIDGE_QP_ERR) {
		uint32_t st = GZ_READ_ONCE(ctx->slot.s->qp[qp->idx].status);

		gz_vslot_qp_reset(&ctx->slot, qp->idx);
		engine_state(ctx, qp->idx, GZ_BRIDGE_QP_RESET);
		if (st == GZ_XDM_ST_REM_QP)
			return gz_err(-EISCONN,
				      "queue pair %u of GCID %#x is "
				      "connected to another",
				      idx, gcid);
		return gz_err(-EPROTO,
			      "the bridge's engine refused queue pair "
			      "%#x (status %#x)",
			      pub->qp_num, st);
	}
	return 0;
}

int gz_vf_qp_connect(struct genzio_qp *pub, uint32_t gcid, const uint8_t *a,
		     size_t len)
{
	struct gz_vf_qp *qp = gz_vf_qp_of(pub);
	struct gz_vf_ctx *ctx = qp->ctx;
	uint32_t idx;
	int ret;

	gz_vf_beat(ctx);
	if (atomic_load(&qp->state) != GENZIO_QPS_RESET)
		return gz_err(-EISCONN,
			      "queue pair %#x is connected (reset "
			      "it first)",
			      pub->qp_num);
	if (len != GZ_VF_ADDR_LEN)
		return gz_err(-EINVAL,
			      "not a vfio queue pair address (%zu "
			      "bytes, not %u)",
			      len, GZ_VF_ADDR_LEN);
	idx = gz_le32_get(a);
	if (idx & ADDR_RD)
		return gz_err(-EINVAL, "an RD queue pair's address: RD "
				       "queue pairs take no peer");
	if (idx >= GZ_BRIDGE_MAX_QP || gcid >> 12 != ctx->m.subnet ||
	    !(gcid & 0xfff))
		return gz_err(-EINVAL,
			      "queue pair %u of GCID %#x: no such "
			      "queue pair on this bridge (subnet %#x)",
			      idx, gcid, ctx->m.subnet);
	if (gz_le64_get(a + 8) != ctx->m.incarnation)
		return gz_err(-EINVAL, "an address of another bridge (or of "
				       "this one before its engine restarted)");
	ret = engine_up(qp, gcid, idx, gz_le32_get(a + 4));
	if (ret)
		return ret;
	qp->peer_gcid = gcid;
	qp->peer_idx = idx;
	qp->peer_len = (uint32_t)gz_addr_build(
	    qp->peer, gz_vfio_provider.addr_id, gcid, a, len);
	atomic_store(&qp->state, GENZIO_QPS_RTS);
	return 0;
}

void gz_vf_qp_query(struct genzio_qp *pub, struct genzio_qp_info *info)
{
	struct gz_vf_qp *qp = gz_vf_qp_of(pub);
	struct gz_vf_ctx *ctx = qp->ctx;
	uint32_t st = atomic_load(&qp->state);

	/* the engine moves a queue pair to ERR on its own (its peer gone) */
	if (st == GENZIO_QPS_RTS &&
	    gz_vslot_qp_state(&ctx->slot, qp->idx) == GZ_BRIDGE_QP_ERR) {
		st = GENZIO_QPS_ERR;
		qp->err_status = GZ_READ_ONCE(ctx->slot.s->qp[qp->idx].status);
		if (!qp->err_status || qp->err_status > 0xff)
			qp->err_status = GENZIO_WC_GENERAL_ERR;
	}
	info->state = st;
	info->err_status = st == GENZIO_QPS_ERR ? qp->err_status : 0;
	if (st != GENZIO_QPS_RESET) {
		info->peer_addr_len = qp->peer_len;
		memcpy(info->peer_addr, qp->peer, qp->peer_len);
	}
}

void gz_vf_qp_failed(struct gz_vf_qp *qp, uint32_t status)
{
	struct genzio_event e = {.type = GENZIO_EVENT_QP_ERR,
				 .gcid = qp->peer_gcid,
				 .qp_num = qp->base.pub.qp_num,
				 .status = status};

	if (atomic_exchange(&qp->told, 1))
		return;
	qp->err_status = status;
	atomic_store(&qp->state, GENZIO_QPS_ERR);
	gz_event_push(&qp->ctx->base, &e);
	/* the engine found the peer gone (its slot freed, or another
	 * component on its GCID since) */
	if (status == GENZIO_WC_RETRY_EXC) {
		e.type = GENZIO_EVENT_PEER_DEAD;
		gz_event_push(&qp->ctx->base, &e);
	}
}

void gz_vf_qp_flush(struct gz_vf_qp *qp, uint32_t status)
{
	qp->err_status = status;
	atomic_store(&qp->state, GENZIO_QPS_ERR);
	if (!atomic_exchange(&qp->flush, 1))
		atomic_fetch_add(&qp->ctx->nflush, 1);
}

static void flush_off(struct gz_vf_qp *qp)
{
	if (atomic_exchange(&qp->flush, 0))
		atomic_fetch_sub(&qp->ctx->nflush, 1);
}

/* Out of the engine's hands, and every request forgotten: nothing of
 * before completes after (GENZIO_CAP_RESET_FLUSHES is clear). Return:
 * 1 when the engine is done with its ring (it said RESET, or it is gone
 * for this context), 0 when it may still read it. */
static int engine_forget(struct gz_vf_qp *qp)
{
	struct gz_vf_ctx *ctx = qp->ctx;
	uint64_t tail = atomic_load(&qp->tail);
	uint64_t rq_tail = atomic_load(&qp->rq_tail);
	int done = 1;

	gz_vslot_qp_reset(&ctx->slot, qp->idx);
	/* a gone engine, a slot no longer ours: nobody reads the ring for
	 * us; a slow engine may, later */
	if (!atomic_load(&ctx->base.fatal) && !ctx->slot.lost &&
	    engine_state(ctx, qp->idx, GZ_BRIDGE_QP_RESET)) {
		gz_err(-ETIMEDOUT,
		       "the bridge's engine did not reset queue pair %#x in "
		       "time: its ring stays out of use",
		       qp->base.pub.qp_num);
		done = 0;
	}
	if (!done)
		return 0; /* its requests may still run: head stays */
	/* a poll that read the old head may store it after ours: store
	 * again once it is out */
	atomic_store(&qp->head, tail);
	atomic_store(&qp->rq_head, rq_tail);
	gz_vf_cq_drain(qp->scq);
	gz_vf_cq_drain(qp->rcq);
	atomic_store(&qp->head, tail);
	atomic_store(&qp->rq_head, rq_tail);
	atomic_store(&qp->bounce_head, qp->bounce_tail);
	return done;
}

int gz_vf_qp_reset(struct genzio_qp *pub)
{
	struct gz_vf_qp *qp = gz_vf_qp_of(pub);

	if (!engine_forget(qp))
		return gz_err(-ETIMEDOUT,
			      "queue pair %#x: the engine did not "
			      "reset it (try again)",
			      pub->qp_num);
	flush_off(qp);
	atomic_store(&qp->told, 0);
	qp->err_status = 0;
	atomic_store(&qp->state, GENZIO_QPS_RESET);
	return 0;
}

void gz_vf_qp_destroy(struct genzio_qp *pub)
{
	struct gz_vf_qp *qp = gz_vf_qp_of(pub);
	struct gz_vf_ctx *ctx = qp->ctx;

	atomic_store_explicit(&ctx->qp[qp->idx], NULL, memory_order_seq_cst);
	/* every cq's: a poll of any of them may look at the table (a
	 * completion naming us, a flush) */
	for (uint32_t i = 0; i < GZ_BRIDGE_MAX_CQ; i++)
		if (ctx->cq[i])
			gz_vf_cq_drain(ctx->cq[i]);
	/* a ring the engine may still read stays out of use, and so does
	 * the bounce area its commands name */
	if (engine_forget(qp)) {
		gz_vslot_qp_free(&ctx->slot, qp->idx);
		gz_vslot_rq_free(&ctx->slot, qp->idx);
		if (qp->has_bounce)
			gz_vf_win_give(ctx, qp->bounce);
	} else {
		ctx->stuck++; /* twins and cq rings stay out of use */
	}
	flush_off(qp);
	qp->scq->users--;
	qp->rcq->users--;
	qp_mem_free(qp);
}
