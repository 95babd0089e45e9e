// SPDX-License-Identifier: MIT
/*
 * verbs provider: the wire-up of RD queue pairs. Each RD queue pair has a
 * UD queue pair (its number is the RD one's); a child connects by one
 * exchange over it, as rdma_cm would over its own datagrams:
 *   REQ  initiator -> target: my child's queue pair, PSN, path facts
 *   REP  target -> initiator: mine, connected to yours already
 * A REQ gets no answer in time: it is sent again, 20 ms, 40 ms ... 1 s
 * apart, until $GENZIO_VERBS_TIMEOUT_MS has passed; then the child fails
 * RETRY_EXC, as a dead RC peer does, with PEER_DEAD. Both sides asking at
 * once: the REQ of the lower (GID, LID, queue pair) wins, the other side
 * answers it and drops its own.
 *
 * The UD queue pair itself is verbs_ud.c's.
 *
 * Progress (no library thread): the target's poll of a cq of its RD queue
 * pair (every 16th), its channel waits and genzio_event_get() run
 * gz_vb_rd_progress(); the wire cqs' completion channel is in the event
 * fd's epoll set and every channel's, so a waiter wakes for a REQ.
 *
 * Messages (64 bytes, little-endian) come from the network: each is
 * checked whole before anything of it is used, and on RoCE its GID must
 * be the one its GRH came from.
 *   0-3 "GZW1"  4 type  5 MTU  6 RNR timer wanted  7 rd_atomic
 *   8-11 sender's RD qpn  12-15 its child's qpn  16-19 that child's PSN
 *   20-23 REP: the child answered (the REQ's 12-15); REQ: 0
 *   24-25 LID  26 link layer  27 zero  28-31 sender's GCID
 *   32-47 GID  48-55 its pd's sync word  56-59 that word's rkey
 *   60-63 REP: the PSN of the child answered (a REP of an earlier round
 *   is not this one's); REQ: 0
 */
#include <errno.h>
#include <string.h>

#include "core/addr.h"
#include "providers/verbs/verbs.h"

#define MSG_REQ 1
#define MSG_REP 2
#define FIRST_TRY_NS 20000000ull	/* 20 ms */
#define MAX_TRY_NS 1000000000ull	/* 1 s */
#define RECV_LEN (GZ_VB_GRH + GZ_VB_WIRE_MSG)	/* of a message */
#define SEND_ID UINT64_MAX	/* a send's wr_id: receives' are < RECVS */
#define REVIVE_NS 100000000ull	/* 100 ms between restarts */

static const uint8_t magic[4] = { 'G', 'Z', 'W', '1' };

struct msg {
	uint8_t type;
	struct gz_vb_where from;	/* the sender's RD queue pair */
	struct gz_vb_peer child;	/* its child */
	uint32_t answers, answers_psn;
	uint32_t gcid;
};

static void msg_build(const struct gz_vb_child *c, uint8_t type,
		      uint32_t answers, uint32_t answers_psn, uint8_t *m)
{
	const struct gz_vb_rd *rd = c->q.rd;
	const struct gz_vb_ctx *ctx = rd->q.ctx;

	memset(m, 0, GZ_VB_WIRE_MSG);
	memcpy(m, magic, 4);
	m[4] = type;
	m[5] = (uint8_t)ctx->mtu;
	m[6] = c->q.rnr_code;
	m[7] = gz_vb_rd_atomic(ctx->dev.max_qp_rd_atom);
	gz_le32_put(m + 8, rd->q.ib->qp_num);
	gz_le32_put(m + 12, c->q.ib->qp_num);
	gz_le32_put(m + 16, c->q.psn);
	gz_le32_put(m + 20, answers);
	m[24] = (uint8_t)ctx->lid;
	m[25] = (uint8_t)(ctx->lid >> 8);
	m[26] = ctx->link_layer;
	gz_le32_put(m + 28, ctx->base.attr.gcid);
	memcpy(m + 32, ctx->gid.raw, 16);
	gz_le64_put(m + 48, (uintptr_t)&rd->q.pd->sync_word);
	gz_le32_put(m + 56, rd->q.pd->sync_mr->rkey);
	gz_le32_put(m + 60, answers_psn);
}

/* Whether the GRH area @g says the datagram came from @gid. */
static int grh_from(const uint8_t *g, const union ibv_gid *gid)
{
	static const uint8_t v4mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (!memcmp(gid->raw, v4mapped, 12))
		return (g[20] >> 4) == 4 && !memcmp(g + 20 + 12, gid->raw + 12, 4);
	return !memcmp(g + 8, gid->raw, 16);
}

/* @b (its GRH first, as @w says) into @m: NULL, or why it is no message
 * to take. */
static const char *msg_parse(const struct gz_vb_ctx *ctx,
			     const struct ibv_wc *w, const uint8_t *b,
			     struct msg *m)
{
	const uint8_t *p = b + GZ_VB_GRH;
	struct gz_vb_peer *c = &m->child;

	if (w->byte_len != RECV_LEN)
		return "length";
	if (memcmp(p, magic, 4) || (p[4] != MSG_REQ && p[4] != MSG_REP) ||
	    p[27])
		return "not a wire-up message";
	m->type = p[4];
	c->mtu = p[5];
	c->rnr_code = p[6];
	c->rd_atomic = p[7];
	m->from.qpn = gz_le32_get(p + 8);
	c->qpn = gz_le32_get(p + 12);
	c->psn = gz_le32_get(p + 16);
	m->answers = gz_le32_get(p + 20);
	c->lid = m->from.lid = (uint16_t)(p[24] | p[25] << 8);
	c->link_layer = p[26];
	m->gcid = gz_le32_get(p + 28);
	memcpy(c->gid.raw, p + 32, 16);
	m->from.gid = c->gid;
	c->sync_addr = gz_le64_get(p + 48);
	c->sync_rkey = gz_le32_get(p + 56);
	m->answers_psn = gz_le32_get(p + 60);
	/* the sender's queue pair is the one the device says sent it: a
	 * sender cannot claim others (each claim would cost us a child) */
	if (m->from.qpn != w->src_qp)
		return "not from the queue pair it names";
	if (m->gcid >> 28 || m->answers > 0xffffff ||
	    m->answers_psn > 0xffffff ||
	    (m->type == MSG_REQ && (m->answers || m->answers_psn)))
		return "a field out of range";
	/* the sender is where it says: its LID, or on RoCE its GRH's source
	 * (RoCE v2 over IPv4: the IPv4 header's, in the GRH's last 20) */
	if (ctx->link_layer == IBV_LINK_LAYER_ETHERNET ?
	    !(w->wc_flags & IBV_WC_GRH) || !grh_from(b, &c->gid) || c->lid :
	    w->slid != c->lid)
		return "not from the port it names";
	/* InfiniBand within a subnet: the LID is checked, the GID cannot
	 * be, so a peer is its LID (and queue pair) alone */
	if (ctx->link_layer != IBV_LINK_LAYER_ETHERNET)
		memset(m->from.gid.raw, 0, sizeof(m->from.gid.raw));
	return gz_vb_peer_check(ctx, c) ? "bad connection fields" : NULL;
}

static void msg_send(struct gz_vb_child *c, uint8_t type, uint32_t answers,
		     uint32_t answers_psn)
{
	struct gz_vb_rd *rd = c->q.rd;
	uint8_t m[GZ_VB_WIRE_MSG];
	struct ibv_sge sg = { .addr = (uintptr_t)m, .length = sizeof(m) };
	struct ibv_send_wr wr = {
		.wr_id = SEND_ID,
		.sg_list = &sg, .num_sge = 1, .opcode = IBV_WR_SEND,
		.send_flags = IBV_SEND_INLINE | IBV_SEND_SIGNALED,
		.wr.ud = { .ah = c->ah, .remote_qpn = c->to.qpn,
			   .remote_qkey = GZ_VB_QKEY },
	}, *bad;
	int ret;

	/* in flight at most what the queue and cq hold: the rest is a
	 * lost datagram, which the REQ's timer covers */
	if (rd->wsends >= GZ_VB_WIRE_SENDS)
		return;
	msg_build(c, type, answers, answers_psn, m);
	ret = ibv_post_send(rd->q.ib, &wr, &bad);
	if (ret)
		gz_err(0, "RD queue pair %#x: wire-up send to %#x: %s",
		       rd->q.base.pub.qp_num, c->to.qpn, strerror(ret));
	else
		rd->wsends++;
}

static void next_try(struct gz_vb_child *c, uint64_t now)
{
	uint64_t wait = FIRST_TRY_NS << (c->tries < 6 ? c->tries : 6);

	c->next_try_ns = now + (wait < MAX_TRY_NS ? wait : MAX_TRY_NS);
}

void gz_vb_wire_ask(struct gz_vb_child *c)
{
	struct gz_vb_ctx *ctx = c->q.ctx;
	uint64_t now = gz_vb_now_ns();

	if (!c->initiated)
		c->q.rd->wiring++;
	c->initiated = 1;
	c->tries = 0;
	c->deadline_ns = ctx->peer_timeout_ms ?
			 now + (uint64_t)ctx->peer_timeout_ms * 1000000u : 0;
	next_try(c, now);
	msg_send(c, MSG_REQ, 0, 0);
}

/* Verbs refused the parked chain @first at @bad: ERR, and each from @bad
 * on posted alone to be flushed; one refused even so is replaced by an
 * empty SEND of its wr_id, so its completion still comes (FLUSHED). */
static void park_flush(struct gz_vb_child *c, struct ibv_send_wr *first,
		       struct ibv_send_wr *bad)
{
	struct gz_vb_qp *q = &c->q;
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_ERR };
	struct ibv_send_wr *w = bad, *next, *b2;

	ibv_modify_qp(q->ib, &a, IBV_QP_STATE);
	gz_vb_qp_failed(q, GENZIO_WC_GENERAL_ERR);
	for (struct ibv_send_wr *x = first; x; x = x->next)
		if (x == bad)
			break;
		else if (!x->next)
			w = first;	/* @bad not in the chain: all of it */
	for (; w; w = next) {
		struct ibv_send_wr e = { .wr_id = w->wr_id,
					 .opcode = IBV_WR_SEND,
					 .send_flags = IBV_SEND_SIGNALED };

		next = w->next;
		w->next = NULL;
		if (ibv_post_send(q->ib, w, &b2) && ibv_post_send(q->ib, &e, &b2))
			gz_err(0, "RD queue pair %#x: a parked request the "
			       "device refused even to flush",
			       q->base.pub.qp_num);
	}
}

/* Hand the park to verbs, in order, under @c's lock, once connected (or
 * failed): a SYNC takes the peer's sync word now that it is known. What
 * verbs refuses is posted again after a move to ERR, which flushes it:
 * nothing parked stays without a completion. 0, or verbs' error. */
static int park_post(struct gz_vb_child *c)
{
	struct gz_vb_qp *q = &c->q;
	struct ibv_send_wr *first = NULL, **link = &first, *bad = NULL;
	int ret;

	for (uint64_t s = c->park_tail; s != q->sq_head; s++) {
		struct ibv_send_wr *w = &c->park[s & q->sq_mask];

		if (q->sq[s & q->sq_mask].opcode == GENZIO_WC_SYNC) {
			w->wr.rdma.remote_addr = q->sync_addr;
			w->wr.rdma.rkey = q->sync_rkey;
		}
		w->next = NULL;
		*link = w;
		link = &w->next;
	}
	c->park_tail = q->sq_head;
	ret = first ? ibv_post_send(q->ib, first, &bad) : 0;
	if (ret)
		park_flush(c, first, bad);
	return ret;
}

static void wiring_done(struct gz_vb_child *c)
{
	if (c->initiated) {
		c->initiated = 0;
		c->q.rd->wiring--;
	}
}

void gz_vb_child_fail(struct gz_vb_child *c, uint32_t status)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_ERR };

	wiring_done(c);
	ibv_modify_qp(c->q.ib, &a, IBV_QP_STATE);
	/* what was parked goes to verbs, which flushes it: the first one
	 * reports @status (as the watchdog's first flushed request does) */
	if (c->park_tail != c->q.sq_head && status == GENZIO_WC_RETRY_EXC)
		atomic_store(&c->q.stalled, 1);
	gz_vb_qp_failed(&c->q, status);
	park_post(c);
}

/* Connect @c to @m's child and go up; under the ctx lock and @c's. The
 * GCID: an initiator's is its ah's; a target has only the peer's word. */
static void accept(struct gz_vb_child *c, const struct msg *m, int reply)
{
	int ret = gz_vb_qp_join(&c->q, &m->child,
				c->initiated ? c->q.peer_gcid : m->gcid);

	if (ret) {
		gz_vb_child_fail(c, GENZIO_WC_GENERAL_ERR);
		return;
	}
	c->peer_qpn = m->child.qpn;
	c->peer_psn = m->child.psn;
	wiring_done(c);
	ret = park_post(c);
	if (ret) {	/* failed: no REP; the peer's next REQ wires anew */
		gz_err(-ret, "RD queue pair %#x: parked requests: %s",
		       c->q.base.pub.qp_num, strerror(ret));
		return;
	}
	atomic_store_explicit(&c->q.state, GENZIO_QPS_RTS,
			      memory_order_release);
	if (reply)
		msg_send(c, MSG_REP, m->child.qpn, m->child.psn);
}

/* Whose REQ wins when both asked: the lower (GID, LID, qpn). */
static int we_lose(const struct gz_vb_rd *rd, const struct gz_vb_where *peer)
{
	const struct gz_vb_ctx *ctx = rd->q.ctx;
	int d = memcmp(ctx->gid.raw, peer->gid.raw, 16);

	if (!d)
		d = (int)ctx->lid - (int)peer->lid;
	if (!d)
		d = rd->q.ib->qp_num < peer->qpn ? -1 :
		    rd->q.ib->qp_num > peer->qpn;
	return d >= 0;	/* equal: a queue pair talking to itself */
}

static void on_req(struct gz_vb_rd *rd, const struct msg *m)
{
	struct gz_vb_child *c;
	uint32_t st;
	int err = 0;

	c = gz_vb_rd_child_get(rd, &m->from, m->gcid, 0, &err);
	if (!c) {
		gz_err(err, "RD queue pair %#x: no connection for %#x: %s",
		       rd->q.base.pub.qp_num, m->from.qpn, strerror(-err));
		return;
	}
	pthread_mutex_lock(&c->lock);
	st = atomic_load(&c->q.state);
	/* failed, and its poster is out (gz_vb_child_quiet), drained */
	if (st == GENZIO_QPS_ERR && !gz_vb_child_quiet(c) &&
	    atomic_load(&c->q.sq_tail) == c->q.sq_head &&
	    !gz_vb_qp_reset(&c->q.base.pub)) {
		c->park_tail = c->q.sq_head;	/* anew */
		st = GENZIO_QPS_RESET;
	}
	if (st == GENZIO_QPS_RESET) {
		if (!c->initiated || we_lose(rd, &m->from))
			accept(c, m, 1);
	} else if (st == GENZIO_QPS_RTS) {
		if (c->peer_qpn == m->child.qpn && c->peer_psn == m->child.psn) {
			msg_send(c, MSG_REP, m->child.qpn, m->child.psn);	/* REP lost */
		} else {
			/* the peer started anew: this connection is dead;
			 * its next REQ, once ours is drained, is taken */
			struct ibv_qp_attr a = { .qp_state = IBV_QPS_ERR };

			ibv_modify_qp(c->q.ib, &a, IBV_QP_STATE);
			gz_vb_qp_failed(&c->q, GENZIO_WC_REM_ABORT);
		}
	}
	pthread_mutex_unlock(&c->lock);
}

static void on_rep(struct gz_vb_rd *rd, const struct msg *m)
{
	struct gz_vb_child *c;

	c = gz_vb_rd_child_find(rd, &m->from);
	if (!c)
		return;	/* a REP we never asked for */
	pthread_mutex_lock(&c->lock);
	if (atomic_load(&c->q.state) == GENZIO_QPS_RESET && c->initiated &&
	    m->answers == c->q.ib->qp_num && m->answers_psn == c->q.psn)
		accept(c, m, 0);
	pthread_mutex_unlock(&c->lock);
}

static void wire_poll(struct gz_vb_rd *rd)
{
	struct ibv_wc wc[8];
	int n;

	while ((n = ibv_poll_cq(rd->wcq, 8, wc)) > 0)
		for (int i = 0; i < n; i++) {
			const struct ibv_wc *w = &wc[i];
			uint32_t b = (uint32_t)w->wr_id;
			const char *why;
			struct msg m;

			/* by wr_id: an error's opcode is undefined */
			if (w->wr_id >= GZ_VB_WIRE_RECVS) {
				if (rd->wsends)
					rd->wsends--;	/* a send done */
				continue;
			}
			if (w->status == IBV_WC_WR_FLUSH_ERR) {
				atomic_store(&rd->wire_broken, 1);	/* ERR */
				continue;
			}
			why = w->status ? ibv_wc_status_str(w->status) :
			      msg_parse(rd->q.ctx, w, rd->wbuf + b * rd->wstride,
					&m);
			if (!why && m.type == MSG_REQ)
				on_req(rd, &m);
			else if (!why)
				on_rep(rd, &m);
			else
				gz_err(0, "RD queue pair %#x: a wire-up "
				       "datagram from %#x dropped: %s",
				       rd->q.base.pub.qp_num, w->src_qp, why);
			gz_vb_wire_recv_post(rd, b);
		}
}

/* Resend what got no answer; fail what got none in time. */
static int timers(struct gz_vb_rd *rd, uint64_t now)
{
	int64_t due = -1;

	for (uint32_t i = 0; rd->wiring && i <= rd->tab_mask; i++) {
		struct gz_vb_child *c = atomic_load_explicit(
			&rd->by_where[i], memory_order_relaxed);

		if (!c || !c->initiated)
			continue;
		pthread_mutex_lock(&c->lock);
		if (c->initiated && c->deadline_ns && now >= c->deadline_ns) {
			gz_err(0, "RD queue pair %#x: no answer from %#x in "
			       "%u ms", rd->q.base.pub.qp_num, c->to.qpn,
			       rd->q.ctx->peer_timeout_ms);
			gz_vb_child_fail(c, GENZIO_WC_RETRY_EXC);
		} else if (c->initiated) {
			if (now >= c->next_try_ns) {
				c->tries++;
				next_try(c, now);
				msg_send(c, MSG_REQ, 0, 0);
			}
			int64_t ms = (int64_t)((c->next_try_ns - now) /
					       1000000u) + 1;

			if (due < 0 || ms < due)
				due = ms;
		}
		pthread_mutex_unlock(&c->lock);
	}
	return (int)due;
}

/* The UD queue pair went to ERR (a fatal event, or its receives came back
 * flushed): back through RESET to RTS, its receives posted again. Peers'
 * REQs meanwhile were lost; their timers send them again. */
static void wire_revive(struct gz_vb_rd *rd)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_RESET };
	struct ibv_qp_init_attr ia;
	uint64_t now = gz_vb_now_ns();

	if (now < rd->revive_ns)
		return;		/* a restart failed: not again so soon */
	wire_poll(rd);		/* what the old one flushed, out of the cq */
	atomic_store(&rd->wire_broken, 0);
	/* only what is in ERR now (flushes of before come late) */
	if (!ibv_query_qp(rd->q.ib, &a, IBV_QP_STATE, &ia) &&
	    a.qp_state != IBV_QPS_ERR && a.qp_state != IBV_QPS_SQE)
		return;
	rd->wsends = 0;		/* RESET drops them, and no completions */
	if (gz_vb_wire_restart(rd)) {
		gz_err(0, "RD queue pair %#x: its wire-up queue pair did not "
		       "restart (again in 100 ms)", rd->q.base.pub.qp_num);
		rd->revive_ns = now + REVIVE_NS;
		atomic_store(&rd->wire_broken, 1);
		return;
	}
	gz_err(0, "RD queue pair %#x: wire-up queue pair restarted",
	       rd->q.base.pub.qp_num);
}

int gz_vb_rd_progress(struct gz_vb_ctx *ctx, int wait)
{
	struct ibv_cq *cq;
	void *cq_ctx;
	int due = -1;

	if (!atomic_load_explicit(&ctx->nrd, memory_order_relaxed))
		return -1;
	if (wait)
		gz_ctx_lock(&ctx->base);
	else if (pthread_mutex_trylock(&ctx->base.lock))
		return -1;	/* someone else is at it */
	while (ctx->wire_ch && !ibv_get_cq_event(ctx->wire_ch, &cq, &cq_ctx)) {
		ibv_ack_cq_events(cq, 1);
		/* its rd still lives: a destroyed cq's events are gone */
		((struct gz_vb_rd *)cq_ctx)->wcq_armed = 0;
	}
	for (struct gz_vb_rd *rd = ctx->rds; rd; rd = rd->next) {
		wire_poll(rd);
		if (atomic_load_explicit(&rd->wire_broken,
					 memory_order_relaxed))
			wire_revive(rd);
		if (!rd->wcq_armed) {
			rd->wcq_armed = !ibv_req_notify_cq(rd->wcq, 0);
			wire_poll(rd);	/* what came before the arming */
		}
		if (rd->wiring) {
			int d = timers(rd, gz_vb_now_ns());

			if (d >= 0 && (due < 0 || d < due))
				due = d;
		}
	}
	gz_ctx_unlock(&ctx->base);
	return due;
}
