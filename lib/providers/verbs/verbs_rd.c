// SPDX-License-Identifier: MIT
/*
 * verbs provider: RD queue pairs, made of RC ones. Verbs' own RD never
 * shipped and UD is neither reliable nor large, so an RD queue pair here
 * is:
 *  - a UD queue pair, whose number is the RD queue pair's: peers send it
 *    the wire-up messages that connect RC children (verbs_wire.c);
 *  - an SRQ that every child receives from, so a posted receive serves
 *    whichever peer sends first, as RD's receive queue does;
 *  - one RC child per remote RD queue pair it talks to, made on the first
 *    request to it (or the peer's first), at most ctx->rd_peers of them.
 * A child completes into the RD queue pair's cqs under the RD queue
 * pair's number, so a user sees one queue pair. Requests posted before a
 * child is up wait in its park and go to verbs, in order, when it is.
 *
 * Bounds, per RD queue pair: rd_peers children (GENZIO_VERBS_RD_PEERS,
 * default 64), each one RC queue pair of sq_depth requests and, in user
 * memory, sq_depth x (24 + scratch + ibv_send_wr + its sges) bytes; one
 * UD queue pair, a cq and GZ_VB_WIRE_RECVS 104-byte buffers.
 */
#include <endian.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "providers/verbs/verbs.h"
#include "sys/sys.h"

#define CHAIN 16

static uint32_t hash32(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x7feb352du;
	h ^= h >> 15;
	return h;
}

static uint32_t where_hash(const struct gz_vb_where *w)
{
	uint32_t h = w->qpn ^ (uint32_t)w->lid << 24;

	for (int i = 0; i < 16; i += 4)
		h = hash32(h ^ ((uint32_t)w->gid.raw[i] |
				(uint32_t)w->gid.raw[i + 1] << 8 |
				(uint32_t)w->gid.raw[i + 2] << 16 |
				(uint32_t)w->gid.raw[i + 3] << 24));
	return h;
}

static int where_eq(const struct gz_vb_where *a, const union ibv_gid *gid,
		    uint16_t lid, uint32_t qpn)
{
	return a->qpn == qpn && a->lid == lid &&
	       !memcmp(a->gid.raw, gid->raw, sizeof(gid->raw));
}

/* The tables are filled under the ctx lock and never emptied while the RD
 * queue pair lives (a child is recycled in place): readers need none. */
struct gz_vb_child *gz_vb_rd_child_find(struct gz_vb_rd *rd,
					const struct gz_vb_where *w)
{
	for (uint32_t i = where_hash(w), k = 0; k <= rd->tab_mask; k++) {
		struct gz_vb_child *c = atomic_load_explicit(
			&rd->by_where[(i + k) & rd->tab_mask],
			memory_order_acquire);

		if (!c || where_eq(&c->to, &w->gid, w->lid, w->qpn))
			return c;
	}
	return NULL;
}

struct gz_vb_child *gz_vb_rd_child_by_qpn(struct gz_vb_rd *rd, uint32_t qpn)
{
	for (uint32_t i = hash32(qpn), k = 0; k <= rd->tab_mask; k++) {
		struct gz_vb_child *c = atomic_load_explicit(
			&rd->by_qpn[(i + k) & rd->tab_mask],
			memory_order_acquire);

		if (!c || c->q.ib->qp_num == qpn)
			return c;
	}
	return NULL;
}

static void insert(struct gz_vb_child *_Atomic *tab, uint32_t mask,
		   uint32_t h, struct gz_vb_child *c)
{
	for (uint32_t k = 0;; k++)
		if (!atomic_load_explicit(&tab[(h + k) & mask],
					  memory_order_relaxed)) {
			atomic_store_explicit(&tab[(h + k) & mask], c,
					      memory_order_release);
			return;
		}
}

static void child_free(struct gz_vb_child *c)
{
	if (c->ah)
		ibv_destroy_ah(c->ah);
	free(c->park);
	free(c->park_sge);
	pthread_mutex_destroy(&c->lock);
	gz_vb_qp_free(&c->q);	/* and c: q comes first */
}

static struct ibv_ah *ah_to(struct gz_vb_rd *rd, const struct gz_vb_where *w)
{
	struct gz_vb_ctx *ctx = rd->q.ctx;
	struct ibv_ah_attr a = { .dlid = w->lid, .port_num = ctx->port };

	if (ctx->link_layer == IBV_LINK_LAYER_ETHERNET) {
		a.is_global = 1;
		a.grh.dgid = w->gid;
		a.grh.sgid_index = (uint8_t)ctx->gid_index;
		a.grh.hop_limit = 64;
	}
	return ibv_create_ah(rd->q.pd->ib, &a);
}

/* Under the ctx lock: a new child to @w, in RESET, published. */
static struct gz_vb_child *child_new(struct gz_vb_rd *rd,
				     const struct gz_vb_where *w,
				     uint32_t gcid, int *err)
{
	struct gz_vb_ctx *ctx = rd->q.ctx;
	struct gz_vb_child *c;
	uint32_t slot = 0, ring;
	int ret;

	if (rd->npeers >= rd->max_peers) {
		*err = gz_err(-ENOSPC, "RD queue pair %#x talks to %u peers "
			      "already, its most (GENZIO_VERBS_RD_PEERS)",
			      rd->q.base.pub.qp_num, rd->max_peers);
		return NULL;
	}
	ret = gz_qp_slot_take((void *_Atomic const *)ctx->qp, GZ_VB_MAX_QP,
			      &ctx->next_slot, &slot);
	c = ret ? NULL : calloc(1, sizeof(*c));
	if (!c) {
		*err = ret ? ret : -ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->to = *w;
	ret = gz_vb_qp_init(&c->q, rd->q.base.pd, &rd->attr, rd->srq, slot);
	if (ret)
		goto fail;
	c->q.role = GZ_VB_CHILD;
	c->q.rd = rd;
	c->q.base.pd = rd->q.base.pd;
	c->q.base.pub.context = &ctx->base;
	c->q.base.pub.qp_num = rd->q.base.pub.qp_num;
	c->q.base.pub.qp_type = GENZIO_QPT_RD;
	c->q.peer_gcid = gcid;
	ring = c->q.sq_mask + 1;
	c->park_nsge = rd->attr.max_send_sge ? rd->attr.max_send_sge : 1;
	c->park = calloc(ring, sizeof(*c->park));
	c->park_sge = calloc((size_t)ring * c->park_nsge,
			     sizeof(*c->park_sge));
	c->ah = ah_to(rd, w);
	if (!c->park || !c->park_sge || !c->ah) {
		ret = c->ah ? -ENOMEM : gz_err(errno ? -errno : -ENOMEM,
					       "ibv_create_ah: %s",
					       strerror(errno));
		goto fail;
	}
	insert(rd->by_where, rd->tab_mask, where_hash(w), c);
	insert(rd->by_qpn, rd->tab_mask, hash32(c->q.ib->qp_num), c);
	rd->npeers++;
	atomic_store_explicit(&ctx->qp[slot], &c->q, memory_order_release);
	return c;
fail:
	child_free(c);
	*err = ret;
	return NULL;
}

struct gz_vb_child *gz_vb_rd_child_get(struct gz_vb_rd *rd,
				       const struct gz_vb_where *w,
				       uint32_t gcid, int initiate, int *err)
{
	struct gz_vb_child *c = gz_vb_rd_child_find(rd, w);

	if (c)
		return c;
	*err = gz_ctx_gone(&rd->q.ctx->base);
	if (*err)
		return NULL;
	c = child_new(rd, w, gcid, err);
	if (c && initiate) {
		pthread_mutex_lock(&c->lock);
		gz_vb_wire_ask(c);
		pthread_mutex_unlock(&c->lock);
	}
	return c;
}

/* The child for @wr's destination: the last one, one in the table, or a
 * new one (connection setup: the one post that allocates). */
static struct gz_vb_child *child_for(struct gz_vb_rd *rd,
				     const struct genzio_send_wr *wr, int *err)
{
	const struct gz_vb_ah *ah = container_of(wr->ah, struct gz_vb_ah,
						 base);
	struct gz_vb_child *c = rd->last;
	struct gz_vb_where w;

	if (GZ_LIKELY(c && where_eq(&c->to, &ah->gid, ah->lid,
				    wr->remote_qpn)))
		return c;
	w.gid = ah->gid;
	w.lid = ah->lid;
	w.qpn = wr->remote_qpn;
	c = gz_vb_rd_child_find(rd, &w);
	if (!c) {
		gz_ctx_lock(&rd->q.ctx->base);
		c = gz_vb_rd_child_get(rd, &w, ah->base.gcid, 1, err);
		gz_ctx_unlock(&rd->q.ctx->base);
	}
	if (c)
		rd->last = c;
	return c;
}

/* A child that is not up: park (wiring), wire again (failed, drained), or
 * hand to verbs (up now, or failed: verbs flushes). */
static int child_post_slow(struct gz_vb_child *c, struct genzio_send_wr **wr,
			   int max, int *n)
{
	struct gz_vb_qp *q = &c->q;
	uint32_t st = atomic_load_explicit(&q->state, memory_order_acquire);
	int ret;

	if (st == GENZIO_QPS_ERR &&
	    atomic_load_explicit(&q->sq_tail, memory_order_acquire) ==
	    q->sq_head) {
		/* everything of the old connection is polled: a new one */
		gz_ctx_lock(&q->ctx->base);
		pthread_mutex_lock(&c->lock);
		if (atomic_load(&q->state) == GENZIO_QPS_ERR &&
		    !gz_ctx_gone(&q->ctx->base) &&
		    !gz_vb_qp_reset(&q->base.pub)) {
			c->park_tail = q->sq_head;
			gz_vb_wire_ask(c);
		}
		pthread_mutex_unlock(&c->lock);
		gz_ctx_unlock(&q->ctx->base);
	}
	pthread_mutex_lock(&c->lock);
	st = atomic_load_explicit(&q->state, memory_order_acquire);
	ret = gz_vb_post_some(q, wr, max, st == GENZIO_QPS_RESET, n);
	pthread_mutex_unlock(&c->lock);
	return ret;
}

int gz_vb_child_quiet(struct gz_vb_child *c)
{
	struct gz_vb_ctx *ctx = c->q.ctx;

	if (!ctx->poll_fence)
		gz_sys_membarrier_private(ctx->membarrier);
	else
		atomic_thread_fence(memory_order_seq_cst);
	/* a post is microseconds: one that takes a second was stopped */
	for (uint32_t spins = 0; atomic_load_explicit(&c->posting,
						      memory_order_acquire);
	     spins++) {
		if (spins > 1000000)
			return gz_err(-ETIMEDOUT, "RD queue pair %#x: its "
				      "poster stays inside a post",
				      c->q.base.pub.qp_num);
		sched_yield();
	}
	return 0;
}

static int dest_check(const struct gz_vb_rd *rd,
		      const struct genzio_send_wr *wr)
{
	if (GZ_UNLIKELY(!wr->ah || wr->ah->pd->ctx != rd->q.base.pub.context ||
			!wr->remote_qpn || wr->remote_qpn > 0xffffff))
		return gz_err(-EINVAL, "RD work request: ah %p (of this "
			      "device?), remote_qpn %#x", (void *)wr->ah,
			      wr->remote_qpn);
	return 0;
}

static int rd_post_send(struct genzio_qp *pub, struct genzio_send_wr *wr,
			struct genzio_send_wr **bad_wr)
{
	struct gz_vb_rd *rd = gz_vb_rd_of(pub);
	int ret = 0;

	while (wr) {
		uint64_t used = rd->sq_posted -
				atomic_load_explicit(&rd->sq_freed,
						     memory_order_acquire);
		struct gz_vb_child *c;
		int run = 1, n = 0;

		/* the queue pair's depth bounds all its children together,
		 * as the user sized the cq for it */
		if (GZ_UNLIKELY(used >= rd->attr.sq_depth)) {
			ret = -EAGAIN;
			break;
		}
		ret = dest_check(rd, wr);
		c = ret ? NULL : child_for(rd, wr, &ret);
		if (GZ_UNLIKELY(!c))
			break;
		for (const struct genzio_send_wr *x = wr->next;
		     x && x->ah == wr->ah && x->remote_qpn == wr->remote_qpn &&
		     (uint64_t)run < rd->attr.sq_depth - used; x = x->next)
			run++;
		/* posting, then the state: a reset by progress makes the
		 * two meet with a barrier (gz_vb_child_quiet) */
		atomic_store_explicit(&c->posting, 1, memory_order_relaxed);
		if (GZ_UNLIKELY(rd->q.ctx->poll_fence))
			atomic_thread_fence(memory_order_seq_cst);
		else
			atomic_signal_fence(memory_order_seq_cst);
		if (GZ_LIKELY(atomic_load_explicit(&c->q.state,
						   memory_order_acquire) ==
			      GENZIO_QPS_RTS)) {
			ret = gz_vb_post_some(&c->q, &wr, run, 0, &n);
			atomic_store_explicit(&c->posting, 0,
					      memory_order_release);
		} else {
			atomic_store_explicit(&c->posting, 0,
					      memory_order_release);
			ret = child_post_slow(c, &wr, run, &n);
		}
		rd->sq_posted += (uint64_t)n;
		if (GZ_UNLIKELY(ret))
			break;
	}
	if (ret)
		*bad_wr = wr;
	return ret;
}

/* Receives go to the SRQ under the RD queue pair's tag and an index of a
 * free entry: SRQ receives complete in any order, so entries are freed
 * one by one (rq_busy), not as a ring's tail. */
static int rd_post_recv(struct genzio_qp *pub, struct genzio_recv_wr *wr,
			struct genzio_recv_wr **bad_wr)
{
	struct gz_vb_rd *rd = gz_vb_rd_of(pub);
	struct gz_vb_qp *q = &rd->q;
	struct ibv_recv_wr iw[CHAIN], *ibad = NULL;
	struct genzio_recv_wr *gw[CHAIN];
	uint32_t idx[CHAIN];

	while (wr) {
		uint64_t used = rd->rq_posted -
				atomic_load_explicit(&rd->rq_done,
						     memory_order_acquire);
		int n = 0, ret = 0;

		for (; wr && n < CHAIN; wr = wr->next, n++) {
			uint32_t i = rd->rq_next;

			ret = gz_vb_recv_check(q, wr);
			if (GZ_UNLIKELY(ret))
				break;
			if (GZ_UNLIKELY(used + (uint64_t)n >= q->rq_depth)) {
				ret = -EAGAIN;
				break;
			}
			/* at most rq_depth of 2 x rq_depth entries are busy */
			while (atomic_load_explicit(&rd->rq_busy[i & q->rq_mask],
						    memory_order_acquire))
				i++;
			i &= q->rq_mask;
			rd->rq_next = i + 1;
			atomic_store_explicit(&rd->rq_busy[i], 1,
					      memory_order_relaxed);
			q->rq[i] = wr->wr_id;
			idx[n] = i;
			gz_vb_recv_fill(&iw[n], GZ_VB_RECV |
					atomic_load_explicit(&q->tag,
							     memory_order_relaxed) |
					i, wr);
			if (n)
				iw[n - 1].next = &iw[n];
			gw[n] = wr;
		}
		if (n) {
			int err = ibv_post_srq_recv(rd->srq, iw, &ibad);
			int k = err ? (ibad >= iw && ibad < iw + n ?
				       (int)(ibad - iw) : 0) : n;

			for (int j = k; j < n; j++)	/* not posted: free */
				atomic_store_explicit(&rd->rq_busy[idx[j]], 0,
						      memory_order_relaxed);
			rd->rq_posted += (uint64_t)k;
			if (GZ_UNLIKELY(err)) {
				*bad_wr = gw[k];
				return err == ENOMEM ? -EAGAIN : -err;
			}
		}
		if (GZ_UNLIKELY(ret)) {
			*bad_wr = wr;
			return ret;
		}
	}
	return 0;
}

void gz_vb_rd_recv_done(struct gz_vb_rd *rd, const struct ibv_wc *w,
			uint64_t low, struct genzio_wc *o)
{
	uint32_t i = (uint32_t)low & rd->q.rq_mask;
	struct gz_vb_child *c = gz_vb_rd_child_by_qpn(rd, w->qp_num);

	o->wr_id = rd->q.rq[i];
	atomic_store_explicit(&rd->rq_busy[i], 0, memory_order_release);
	atomic_fetch_add_explicit(&rd->rq_done, 1, memory_order_release);
	o->opcode = !w->status && w->opcode == IBV_WC_RECV_RDMA_WITH_IMM ?
		    GENZIO_WC_RECV_WRITE_IMM : GENZIO_WC_RECV;
	o->byte_len = w->byte_len;
	o->src_gcid = c ? c->q.peer_gcid : 0;
	if (!w->status && (w->wc_flags & IBV_WC_WITH_IMM)) {
		o->wc_flags = GENZIO_WC_WITH_IMM;
		o->imm_data = be32toh(w->imm_data);
	}
}

static void rd_free(struct gz_vb_rd *rd)
{
	gz_vb_wire_close(rd);	/* its sends use the children's ahs */
	for (uint32_t i = 0; rd->by_where && i <= rd->tab_mask; i++) {
		struct gz_vb_child *c = atomic_load_explicit(
			&rd->by_where[i], memory_order_relaxed);

		if (c)
			child_free(c);
	}
	if (rd->srq)
		ibv_destroy_srq(rd->srq);
	free(rd->by_where);
	free(rd->by_qpn);
	free((void *)rd->rq_busy);
	gz_vb_qp_free(&rd->q);	/* and rd */
}

int gz_vb_rd_create(struct genzio_pd *pd, const struct genzio_qp_attr *a,
		    struct genzio_qp **out)
{
	struct gz_vb_ctx *ctx = gz_vb_ctx_of(pd->ctx);
	uint32_t slot = 0, rq = gz_roundup_pow2(2 * (a->rq_depth ? a->rq_depth :
						  1));
	uint32_t tab = gz_roundup_pow2(2 * ctx->rd_peers);
	struct gz_vb_rd *rd;
	uint32_t psn;
	int ret;

	ret = gz_qp_slot_take((void *_Atomic const *)ctx->qp, GZ_VB_MAX_QP,
			      &ctx->next_slot, &slot);
	if (ret)
		return ret;
	rd = calloc(1, sizeof(*rd));
	if (!rd)
		return -ENOMEM;
	rd->q.ctx = ctx;
	rd->q.rd = rd;
	rd->q.role = GZ_VB_RD;
	rd->q.pd = gz_vb_pd_of(pd);
	rd->q.base.pd = pd;
	rd->q.scq = container_of(a->send_cq, struct gz_vb_cq, base.pub);
	rd->q.rcq = container_of(a->recv_cq, struct gz_vb_cq, base.pub);
	rd->q.max_recv_sge = a->max_recv_sge;
	rd->q.rq_depth = a->rq_depth;
	rd->q.rq_mask = rq - 1;
	rd->q.slot = slot;
	rd->attr = *a;
	rd->max_peers = ctx->rd_peers;
	rd->tab_mask = tab - 1;
	rd->q.rq = calloc(rq, sizeof(*rd->q.rq));
	rd->rq_busy = calloc(rq, sizeof(*rd->rq_busy));
	rd->by_where = calloc(tab, sizeof(*rd->by_where));
	rd->by_qpn = calloc(tab, sizeof(*rd->by_qpn));
	if (!rd->q.rq || !rd->rq_busy || !rd->by_where || !rd->by_qpn) {
		ret = -ENOMEM;
		goto fail;
	}
	{
		struct ibv_srq_init_attr sa = {
			.attr = { .max_wr = a->rq_depth ? a->rq_depth : 1,
				  .max_sge = a->max_recv_sge ?
					     a->max_recv_sge : 1 },
		};

		rd->srq = ibv_create_srq(rd->q.pd->ib, &sa);
		if (!rd->srq) {
			ret = gz_err(errno ? -errno : -ENOMEM, "ibv_create_srq"
				     "(%u): %s", sa.attr.max_wr,
				     strerror(errno));
			goto fail;
		}
	}
	ret = gz_vb_wire_open(rd);
	if (!ret)
		ret = gz_sys_random(&psn, sizeof(psn));
	if (ret)
		goto fail;
	rd->q.psn = psn & 0xffffff;
	atomic_init(&rd->q.tag, gz_vb_tag_next(ctx, slot));
	atomic_init(&rd->q.state, GENZIO_QPS_RTS);
	rd->q.base.pub.post_send = rd_post_send;
	rd->q.base.pub.post_recv = rd_post_recv;
	rd->q.base.pub.user_context = a->user_context;
	rd->q.base.pub.context = pd->ctx;
	rd->q.base.pub.qp_num = rd->q.ib->qp_num;
	rd->q.base.pub.qp_type = GENZIO_QPT_RD;
	rd->q.scq->users++;
	rd->q.rcq->users++;
	atomic_fetch_add(&rd->q.scq->rd_users, 1);
	atomic_fetch_add(&rd->q.rcq->rd_users, 1);
	rd->next = ctx->rds;
	ctx->rds = rd;
	atomic_fetch_add(&ctx->nrd, 1);
	atomic_store_explicit(&ctx->qp[slot], &rd->q, memory_order_release);
	*out = &rd->q.base.pub;
	return 0;
fail:
	rd_free(rd);
	return ret;
}

void gz_vb_rd_destroy(struct gz_vb_rd *rd)
{
	struct gz_vb_ctx *ctx = rd->q.ctx;

	for (struct gz_vb_rd **pp = &ctx->rds; *pp; pp = &(*pp)->next)
		if (*pp == rd) {
			*pp = rd->next;
			break;
		}
	atomic_fetch_sub(&ctx->nrd, 1);
	atomic_store_explicit(&ctx->qp[rd->q.slot], NULL, memory_order_release);
	for (uint32_t i = 0; i <= rd->tab_mask; i++) {
		struct gz_vb_child *c = atomic_load_explicit(
			&rd->by_where[i], memory_order_relaxed);

		if (c)
			atomic_store_explicit(&ctx->qp[c->q.slot], NULL,
					      memory_order_release);
	}
	gz_vb_cq_drain(&rd->q);	/* its children's cqs are its own */
	rd->q.scq->users--;
	rd->q.rcq->users--;
	atomic_fetch_sub(&rd->q.scq->rd_users, 1);
	atomic_fetch_sub(&rd->q.rcq->rd_users, 1);
	rd_free(rd);
}
