// SPDX-License-Identifier: MIT
/*
 * RC connections, as in verbs: a queue pair connects to one remote queue
 * pair, from its address, and that one connects back. Each end announces
 * whom it connected to in its own queue-pair entry, so the pairing needs
 * no message and no lock: work runs once the remote entry names us, and
 * a remote queue pair that names another is not ours to reach. The lean
 * path compares one word (gz_shm_paired); the rest is here.
 *
 * The address's provider part: queue pair number (le32), then the
 * incarnation of its component (le64), so an address outlives neither
 * its queue pair nor its process.
 */
#include <errno.h>

#include "core/addr.h"
#include "providers/shm/shm.h"

#define ADDR_LEN 12

int gz_shm_qp_addr(struct genzio_qp *pub, uint8_t *buf, size_t len)
{
	struct gz_shm_qp *qp = container_of(pub, struct gz_shm_qp, base.pub);

	if (len < ADDR_LEN)
		return -ENOSPC;
	gz_le32_put(buf, pub->qp_num);
	gz_le64_put(buf + 4, qp->ctx->incarnation);
	return ADDR_LEN;
}

/* Write whom @qp connects to into its entry (seqlock writer side). */
static void announce(struct gz_shm_qp *qp, uint32_t gcid, uint32_t qpn,
		     uint64_t inc)
{
	struct gz_shm_qpent *e = &qp->ctx->comp->qp[qp->slot];
	uint32_t me = qp->base.pub.qp_num;

	atomic_store_explicit(&e->id, GZ_SHM_ID(me, qp->seq + 1),
			      memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	__atomic_store_n(&e->peer_gcid, gcid, __ATOMIC_RELAXED);
	__atomic_store_n(&e->peer_qpn, qpn, __ATOMIC_RELAXED);
	__atomic_store_n(&e->peer_inc, inc, __ATOMIC_RELAXED);
	qp->seq += 2;
	/* Release: a reader that sees the even id sees the fields. */
	atomic_store_explicit(&e->id, GZ_SHM_ID(me, qp->seq),
			      memory_order_release);
}

/* Whether the remote entry @q names @qp as its peer. */
static int names_us(const struct gz_shm_qp *qp, const struct gz_shm_qpsnap *q)
{
	return q->peer_gcid == qp->ctx->base.attr.gcid &&
	       q->peer_qpn == qp->base.pub.qp_num &&
	       q->peer_inc == qp->ctx->incarnation;
}

int gz_shm_qp_connect(struct genzio_qp *pub, uint32_t gcid, const uint8_t *a,
		      size_t len)
{
	struct gz_shm_qp *qp = container_of(pub, struct gz_shm_qp, base.pub);
	struct gz_shm_peer *peer;
	struct gz_shm_qpsnap q;
	uint32_t rqpn;
	uint64_t inc;
	int ret;

	if (qp->peer)
		return gz_err(-EISCONN, "queue pair %#x is connected already",
			      pub->qp_num);
	if (len != ADDR_LEN)
		return gz_err(-EINVAL, "an shm address has %d bytes after its "
			      "header, not %zu", ADDR_LEN, len);
	rqpn = gz_le32_get(a);
	inc = gz_le64_get(a + 4);
	if (!rqpn || rqpn >> 24 || !inc)
		return gz_err(-EINVAL, "address with queue pair %#x, "
			      "incarnation %#llx", rqpn,
			      (unsigned long long)inc);
	ret = gz_shm_peer_get(qp->ctx, gcid, &peer);
	if (ret)
		return ret;
	ret = -EHOSTUNREACH;
	if (peer->incarnation != inc) {
		gz_err(ret, "the address is of an earlier component with GCID "
		       "%#x (it left; another one has its GCID now)", gcid);
		goto put;
	}
	ret = -ENOENT;
	if (gz_shm_qpent_read(peer, rqpn, &q)) {
		gz_err(ret, "GCID %#x has no queue pair %#x", gcid, rqpn);
		goto put;
	}
	ret = -EINVAL;
	if (q.type != GENZIO_QPT_RC) {
		gz_err(ret, "queue pair %#x of GCID %#x is not RC", rqpn, gcid);
		goto put;
	}
	ret = -EISCONN;
	if (q.peer_qpn && !names_us(qp, &q)) {
		gz_err(ret, "queue pair %#x of GCID %#x is connected to queue "
		       "pair %#x of GCID %#x (incarnation %#llx; we are %#x of %#x, %#llx)",
		       rqpn, gcid, q.peer_qpn, q.peer_gcid,
		       (unsigned long long)q.peer_inc, pub->qp_num,
		       qp->ctx->base.attr.gcid,
		       (unsigned long long)qp->ctx->incarnation);
		goto put;
	}
	qp->peer = peer;
	qp->rqpn = rqpn;
	qp->rinc = inc;
	/* fixed while the queue pair number is: the fast path checks it */
	qp->rdomain = q.domain;
	gz_xdm_kcache_clear(&qp->kc);
	qp->rc_lane = &peer->lanes[qp->lane];
	atomic_store_explicit(&qp->rid, q.peer_qpn ? q.id : GZ_SHM_RID_NONE,
			      memory_order_relaxed);
	announce(qp, gcid, rqpn, inc);
	return 0;
put:
	gz_shm_peer_put(peer);
	return ret;
}

int gz_shm_pair_check(struct gz_shm_qp *qp)
{
	struct gz_shm_qpsnap q;
	uint8_t st;

	if (gz_shm_paired(qp))
		return 0;
	st = gz_shm_qpent_peek(qp->peer, qp->rqpn, &q);
	if (st == GZ_SHM_CHANGING)
		return GZ_SHM_NO_RECV;
	if (st)
		return st;
	if (!q.peer_qpn)
		return GZ_SHM_NO_RECV;	/* not connected back yet */
	if (!names_us(qp, &q))
		return GENZIO_WC_REM_QP;
	atomic_store_explicit(&qp->rid, q.id, memory_order_relaxed);
	return 0;
}

uint8_t gz_shm_rd_check(struct gz_shm_peer *peer, uint32_t rqpn)
{
	struct gz_shm_qpsnap q;
	uint8_t st = gz_shm_qpent_read(peer, rqpn, &q);

	if (st)
		return st;
	return q.type == GENZIO_QPT_RD ? GENZIO_WC_SUCCESS : GENZIO_WC_REM_QP;
}
