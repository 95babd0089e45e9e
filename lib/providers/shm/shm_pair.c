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
#include <sched.h>

#include "core/addr.h"
#include "provider.h"
#include "providers/shm/shm.h"

static void addr_put(uint8_t *buf, uint32_t qpn, uint64_t inc)
{
	gz_le32_put(buf, qpn);
	gz_le64_put(buf + 4, inc);
}

int gz_shm_addr_get(const uint8_t *a, size_t len, uint32_t *qpn,
		    uint64_t *inc)
{
	if (len != GZ_SHM_ADDR_LEN)
		return gz_err(-EINVAL, "an shm address has %d bytes after its "
			      "header, not %zu", GZ_SHM_ADDR_LEN, len);
	*qpn = gz_le32_get(a);
	*inc = gz_le64_get(a + 4);
	if (!*qpn || *qpn >> 24 || !*inc)
		return gz_err(-EINVAL, "address with queue pair %#x, "
			      "incarnation %#llx", *qpn,
			      (unsigned long long)*inc);
	return 0;
}

int gz_shm_qp_addr(struct genzio_qp *pub, uint8_t *buf, size_t len)
{
	struct gz_shm_qp *qp = container_of(pub, struct gz_shm_qp, base.pub);

	if (len < GZ_SHM_ADDR_LEN)
		return -ENOSPC;
	addr_put(buf, pub->qp_num, qp->ctx->incarnation);
	return GZ_SHM_ADDR_LEN;
}

/* Write whom @qp connects to into its entry (seqlock writer side). */
static void announce(struct gz_shm_qp *qp, uint32_t gcid, uint32_t qpn,
		     uint64_t inc)
{
	struct gz_shm_qpent *e = &qp->ctx->comp->qp[qp->slot];
	uint32_t me = qp->base.pub.qp_num;

	if (atomic_load(&qp->state) == GZ_SHM_QPS_STOPPED)
		return;	/* unpublished for good */
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

/* The remote entry, waiting (setup may) while its owner changes it,
 * say because it connects at the same moment: 0, -ENOENT, -EAGAIN. */
static int entry_wait(struct gz_shm_peer *peer, uint32_t rqpn,
		      struct gz_shm_qpsnap *q)
{
	uint64_t end = gz_shm_now_ns() +
		       (uint64_t)gz_sys_setup_timeout_ms() * 1000000ull;
	uint8_t st;

	while ((st = gz_shm_qpent_peek(peer, rqpn, q)) == GZ_SHM_CHANGING) {
		if (!gz_shm_peer_alive(peer))
			return -EHOSTUNREACH;	/* died mid-change */
		if (gz_shm_now_ns() > end)
			return -EAGAIN;
		sched_yield();
	}
	return st ? -ENOENT : 0;
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
	ret = gz_shm_addr_get(a, len, &rqpn, &inc);
	if (ret)
		return ret;
	ret = gz_shm_peer_get(qp->ctx, gcid, &peer);
	if (ret)
		return ret;
	ret = -EHOSTUNREACH;
	if (peer->incarnation != inc) {
		gz_err(ret, "the address is of an earlier component with GCID "
		       "%#x (it left; another one has its GCID now)", gcid);
		goto put;
	}
	ret = entry_wait(peer, rqpn, &q);
	if (ret == -EAGAIN || ret == -EHOSTUNREACH) {
		gz_err(ret, "queue pair %#x of GCID %#x stayed mid-change%s",
		       rqpn, gcid, ret == -EAGAIN ? "" : ", then it died");
		goto put;
	}
	if (ret) {
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
	atomic_store_explicit(&qp->state, GENZIO_QPS_RTS, memory_order_release);
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
	atomic_store(&qp->rid, q.id);
	/* a poller may have moved us to ERR meanwhile: it cleared rid
	 * before we set it, so clear it again (seq-cst both sides) */
	if (atomic_load(&qp->state) == GENZIO_QPS_ERR)
		atomic_store(&qp->rid, GZ_SHM_RID_NONE);
	return 0;
}

/* What moving to ERR takes besides the state, which the caller set. */
static void err_entered(struct gz_shm_qp *qp, uint8_t status)
{
	atomic_store(&qp->err_status, status);
	/* our receive cq's polls flush what a racing post_recv adds */
	atomic_fetch_add(&qp->rcq->err_qps, 1);
	/* the lean path stops here; the slow path flushes (reach()) */
	atomic_store(&qp->rid, GZ_SHM_RID_NONE);
	/* a peer that still sends finds us connected to nobody */
	if (qp->base.pub.qp_type == GENZIO_QPT_RC)
		announce(qp, 0, 0, 0);
	gz_shm_rq_flush(qp);
}

void gz_shm_qp_fatal(struct gz_shm_qp *qp, uint8_t status)
{
	struct genzio_event e = { .type = GENZIO_EVENT_QP_ERR,
				  .qp_num = qp->base.pub.qp_num,
				  .status = status };
	uint32_t rts = GENZIO_QPS_RTS;

	/* once per connection: RTS to ERR (never from STOPPED) */
	if (qp->base.pub.qp_type != GENZIO_QPT_RC ||
	    !atomic_compare_exchange_strong(&qp->state, &rts, GENZIO_QPS_ERR))
		return;
	/* in RTS, so connected: it has a peer */
	e.gcid = qp->peer->gcid;
	err_entered(qp, status);
	gz_event_push(&qp->ctx->base, &e);
}

void gz_shm_qp_down(struct gz_shm_qp *qp, uint8_t status)
{
	uint32_t s = atomic_load(&qp->state);

	/* from RESET or RTS, RC or RD; a queue pair being destroyed stays */
	do {
		if (s == GENZIO_QPS_ERR || s == GZ_SHM_QPS_STOPPED)
			return;
	} while (!atomic_compare_exchange_weak(&qp->state, &s, GENZIO_QPS_ERR));
	err_entered(qp, status);
	/* parked sends flush at the send cq's next poll: wake its waiter */
	if (qp->scq->notify_fd >= 0)
		gz_shm_cq_notify(qp->scq->hdr, NULL, qp->scq->notify_fd);
}

void gz_shm_qp_query(struct genzio_qp *pub, struct genzio_qp_info *info)
{
	struct gz_shm_qp *qp = container_of(pub, struct gz_shm_qp, base.pub);
	uint8_t a[GZ_SHM_ADDR_LEN];

	info->state = atomic_load(&qp->state);
	info->err_status = info->state == GENZIO_QPS_ERR ?
				   atomic_load(&qp->err_status) : 0;
	info->max_recv_staged = qp->stage_slot;
	info->recv_staged = atomic_load_explicit(&qp->staged,
						 memory_order_relaxed);
	info->recv_staged_bytes = atomic_load_explicit(&qp->staged_bytes,
						       memory_order_relaxed);
	if (!qp->peer)
		return;
	addr_put(a, qp->rqpn, qp->rinc);
	info->peer_addr_len = (uint32_t)gz_addr_build(
		info->peer_addr, gz_shm_provider.addr_id, qp->peer->gcid, a,
		sizeof(a));
}

int gz_shm_qp_reset(struct genzio_qp *pub)
{
	struct gz_shm_qp *qp = container_of(pub, struct gz_shm_qp, base.pub);

	/* ERR first: a poller that still runs our parked work flushes it */
	if (atomic_exchange(&qp->state, GENZIO_QPS_ERR) == GENZIO_QPS_ERR)
		atomic_fetch_sub(&qp->rcq->err_qps, 1);
	atomic_store(&qp->rid, GZ_SHM_RID_NONE);
	gz_shm_park_flush(qp);
	gz_shm_rq_flush(qp);
	if (qp->peer) {
		announce(qp, 0, 0, 0);
		gz_shm_peer_put(qp->peer);
		qp->peer = NULL;
		qp->rc_lane = NULL;
	}
	qp->rqpn = 0;
	qp->rinc = 0;
	atomic_store(&qp->err_status, 0);
	atomic_store(&qp->state, GENZIO_QPS_RESET);
	return 0;
}

uint8_t gz_shm_rd_check(struct gz_shm_peer *peer, uint32_t rqpn,
			uint32_t *domain)
{
	struct gz_shm_qpsnap q;
	uint8_t st = gz_shm_qpent_read(peer, rqpn, &q);

	if (st)
		return st;
	*domain = q.domain;
	return q.type == GENZIO_QPT_RD ? GENZIO_WC_SUCCESS : GENZIO_WC_REM_QP;
}
