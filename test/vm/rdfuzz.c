// SPDX-License-Identifier: MIT
/*
 * A hostile peer of the verbs provider's RD wire-up, for test/vm (one
 * guest, rxe): raw UD datagrams to an RD queue pair's wire-up queue pair,
 * written from the message format documented in verbs_wire.c:
 *   - random bytes, short and long datagrams (up to 1000 bytes), a REQ
 *     whose claimed sender is another queue pair (which listens: no REP
 *     reaches it), one whose GID is not where it came from (or another
 *     GID of this port, whose REP would reach us),
 *     a REP nobody asked for, fields out of range: no answer, no crash;
 *   - a well-formed REQ, twice: answered twice (one REP each: a REQ
 *     again is a lost REP), and its connection costs one child;
 * then a genzio initiator's RD fetch-and-adds to the same queue pair all
 * succeed and sum up: the target survived with its wire-up working.
 * Exit 0 and "ok", or 1 and what failed. Needs GENZIO_DEVICE (an RoCE
 * device) and GENZIO_VERBS_GID_INDEX.
 */
#include <endian.h>
#include <infiniband/verbs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <genzio/genzio.h>

#define QKEY 0x475a5244u
#define MSG 64
#define ADDS 10

static int failed;

static void check(int cond, const char *what)
{
	printf("%s - %s\n", cond ? "ok" : "not ok", what);
	failed |= !cond;
}

static void die(const char *what)
{
	printf("not ok - %s\n", what);
	exit(1);
}

struct raw {
	struct ibv_context *ib;
	int gi;				/* our GID's index */
	uint8_t rep[2][MSG];		/* the first two REPs that came */
	int nrep;
	struct ibv_pd *pd;
	struct ibv_cq *scq, *rcq;
	struct ibv_qp *qp;
	struct ibv_ah *ah;
	struct ibv_mr *mr;
	union ibv_gid gid;
	uint8_t buf[8][1024 + 40];	/* sends in [0], receives in [1..] */
};

static void raw_open(struct raw *r)
{
	const char *dev = getenv("GENZIO_DEVICE");
	int gi = atoi(getenv("GENZIO_VERBS_GID_INDEX") ?
		      getenv("GENZIO_VERBS_GID_INDEX") : "0");
	struct ibv_device **l = ibv_get_device_list(NULL);

	for (int i = 0; l && l[i] && !r->ib; i++)
		if (dev && !strcmp(ibv_get_device_name(l[i]), dev))
			r->ib = ibv_open_device(l[i]);
	if (l)
		ibv_free_device_list(l);
	if (!r->ib || ibv_query_gid(r->ib, 1, gi, &r->gid))
		die("raw: open the device and its GID");
	r->gi = gi;
	r->pd = ibv_alloc_pd(r->ib);
	r->scq = r->pd ? ibv_create_cq(r->ib, 64, NULL, NULL, 0) : NULL;
	r->rcq = r->pd ? ibv_create_cq(r->ib, 64, NULL, NULL, 0) : NULL;
	r->mr = r->pd ? ibv_reg_mr(r->pd, r->buf, sizeof(r->buf),
				   IBV_ACCESS_LOCAL_WRITE) : NULL;
	if (!r->scq || !r->rcq || !r->mr)
		die("raw: pd, cq, mr");
	struct ibv_qp_init_attr ia = {
		.send_cq = r->scq, .recv_cq = r->rcq, .qp_type = IBV_QPT_UD,
		.cap = { .max_send_wr = 32, .max_recv_wr = 7,
			 .max_send_sge = 1, .max_recv_sge = 1 },
	};
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_INIT, .port_num = 1,
				 .qkey = QKEY };
	r->qp = ibv_create_qp(r->pd, &ia);
	if (!r->qp || ibv_modify_qp(r->qp, &a, IBV_QP_STATE |
				    IBV_QP_PKEY_INDEX | IBV_QP_PORT |
				    IBV_QP_QKEY))
		die("raw: UD queue pair");
	a.qp_state = IBV_QPS_RTR;
	if (ibv_modify_qp(r->qp, &a, IBV_QP_STATE))
		die("raw: RTR");
	a.qp_state = IBV_QPS_RTS;
	if (ibv_modify_qp(r->qp, &a, IBV_QP_STATE | IBV_QP_SQ_PSN))
		die("raw: RTS");
	struct ibv_ah_attr aa = {
		.is_global = 1, .port_num = 1,
		.grh = { .dgid = r->gid, .sgid_index = (uint8_t)gi,
			 .hop_limit = 64 },
	};
	r->ah = ibv_create_ah(r->pd, &aa);
	if (!r->ah)
		die("raw: ah to this port");
	for (uint64_t i = 1; i < 8; i++) {
		struct ibv_sge sg = { (uintptr_t)r->buf[i], sizeof(r->buf[i]),
				      r->mr->lkey };
		struct ibv_recv_wr w = { .wr_id = i, .sg_list = &sg,
					 .num_sge = 1 }, *bad;

		if (ibv_post_recv(r->qp, &w, &bad))
			die("raw: receives");
	}
}

/* Send @len bytes of @m to UD queue pair @qpn. */
static void raw_send(struct raw *r, uint32_t qpn, const void *m, uint32_t len)
{
	struct ibv_sge sg = { (uintptr_t)r->buf[0], len, r->mr->lkey };
	struct ibv_send_wr w = {
		.sg_list = &sg, .num_sge = 1, .opcode = IBV_WR_SEND,
		.send_flags = IBV_SEND_SIGNALED,
		.wr.ud = { .ah = r->ah, .remote_qpn = qpn,
			   .remote_qkey = QKEY },
	}, *bad;
	struct ibv_wc wc;
	int n;

	memcpy(r->buf[0], m, len);
	if (ibv_post_send(r->qp, &w, &bad))
		die("raw: send");
	for (int i = 0; i < 1000000 && !(n = ibv_poll_cq(r->scq, 1, &wc)); i++)
		usleep(1);
	if (n != 1 || wc.status || wc.opcode != IBV_WC_SEND)
		die("raw: send completion");
}

/* REPs that came back, counted (and their receives posted again). */
static int raw_replies(struct raw *r)
{
	struct ibv_wc wc;
	int got = 0;

	while (ibv_poll_cq(r->rcq, 1, &wc) == 1) {
		struct ibv_sge sg = { (uintptr_t)r->buf[wc.wr_id],
				      sizeof(r->buf[0]), r->mr->lkey };
		struct ibv_recv_wr w = { .wr_id = wc.wr_id, .sg_list = &sg,
					 .num_sge = 1 }, *bad;

		if (!wc.status && (wc.opcode & IBV_WC_RECV) && wc.byte_len ==
		    40 + MSG && r->buf[wc.wr_id][40 + 4] == 2) {
			if (r->nrep < 2)
				memcpy(r->rep[r->nrep], r->buf[wc.wr_id] + 40,
				       MSG);
			r->nrep++;
			got++;
		}
		if (ibv_post_recv(r->qp, &w, &bad))
			die("raw: receive again");
	}
	return got;
}

static void le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

/* A well-formed REQ from @r's queue pair: a child 0x12345 of PSN 0x100. */
static void req(const struct raw *r, uint8_t *m)
{
	memset(m, 0, MSG);
	memcpy(m, "GZW1", 4);
	m[4] = 1;			/* REQ */
	m[5] = IBV_MTU_1024;
	m[6] = 12;			/* RNR timer */
	m[7] = 1;			/* rd_atomic */
	le32(m + 8, r->qp->qp_num);
	le32(m + 12, 0x12345);
	le32(m + 16, 0x100);
	m[26] = IBV_LINK_LAYER_ETHERNET;
	le32(m + 28, 0x1001);		/* a GCID */
	memcpy(m + 32, r->gid.raw, 16);
	le32(m + 56, 1);
}

struct ep {
	struct genzio_context *ctx;
	struct genzio_pd *pd;
	struct genzio_cq *cq;
	struct genzio_qp *qp;
};

static void ep_open(struct ep *e)
{
	struct genzio_cq_attr ca = { .depth = 64 };
	struct genzio_qp_attr qa = { .qp_type = GENZIO_QPT_RD, .sq_depth = 32 };

	if (genzio_device_open(NULL, NULL, &e->ctx) ||
	    genzio_pd_alloc(e->ctx, &e->pd) ||
	    genzio_cq_create(e->ctx, &ca, &e->cq))
		die("genzio: open");
	qa.send_cq = qa.recv_cq = e->cq;
	if (genzio_qp_create(e->pd, &qa, &e->qp))
		die("genzio: RD queue pair");
}

/* The target's progress for a while: what came is handled. */
static void progress(struct ep *t)
{
	struct genzio_event ev;

	for (int i = 0; i < 50; i++) {
		while (!genzio_event_get(t->ctx, &ev))
			;
		usleep(1000);
	}
}

int main(void)
{
	static struct raw r, r2;
	struct ep t, i;
	struct genzio_mem *mem;
	struct genzio_mr *mr;
	struct genzio_conn_info ti;
	uint8_t m[1024];
	uint32_t q;

	ep_open(&t);
	if (genzio_mem_alloc(t.ctx, 4096, 0, &mem) ||
	    genzio_mr_reg(t.pd, mem->addr, 4096, GENZIO_ACCESS_LOCAL_WRITE |
			  GENZIO_ACCESS_REMOTE_ATOMIC, &mr) ||
	    genzio_conn_info_init(&ti, t.qp, mr))
		die("genzio: target memory");
	q = ti.qpn;
	raw_open(&r);
	raw_open(&r2);

	srandom(1);
	for (int k = 0; k < 20; k++) {	/* garbage, of every length */
		uint32_t len = k < 10 ? MSG : (uint32_t)(random() % 1000) + 1;

		for (uint32_t b = 0; b < len; b++)
			m[b] = (uint8_t)random();
		raw_send(&r, q, m, len);
	}
	req(&r, m);
	raw_send(&r, q, m, 10);		/* a REQ cut short */
	raw_send(&r, q, m, MSG + 8);	/* a REQ with a tail */
	/* claims to be another queue pair, one that listens: r2 */
	req(&r, m);
	le32(m + 8, r2.qp->qp_num);
	raw_send(&r, q, m, MSG);
	req(&r, m);
	m[32 + 15] ^= 1;		/* a GID it did not come from */
	raw_send(&r, q, m, MSG);
	/* another GID of this port, so an answer would reach us */
	union ibv_gid alt;
	int have_alt = !ibv_query_gid(r.ib, 1, r.gi ? 0 : 1, &alt) &&
		       memcmp(alt.raw, r.gid.raw, 16) &&
		       memcmp(alt.raw, (uint8_t[16]){ 0 }, 16);
	if (have_alt) {
		req(&r, m);
		memcpy(m + 32, alt.raw, 16);
		raw_send(&r, q, m, MSG);
	} else {
		printf("# this port has one GID: the other-GID claim is not "
		       "tried\n");
	}
	req(&r, m);
	m[4] = 2;			/* a REP nobody asked for */
	le32(m + 20, 0x777);
	raw_send(&r, q, m, MSG);
	req(&r, m);
	m[5] = 9;			/* no such MTU */
	raw_send(&r, q, m, MSG);
	req(&r, m);
	le32(m + 16, 0x1000000);	/* a PSN over 24 bits */
	raw_send(&r, q, m, MSG);
	req(&r, m);
	m[24] = 5;			/* a LID on RoCE */
	raw_send(&r, q, m, MSG);
	progress(&t);
	check(raw_replies(&r) == 0, "malformed and forged messages: no answer");
	check(raw_replies(&r2) == 0, "none to the queue pair it claimed");

	req(&r, m);
	raw_send(&r, q, m, MSG);
	progress(&t);
	raw_send(&r, q, m, MSG);	/* again: as if the REP were lost */
	progress(&t);
	check(raw_replies(&r) == 2, "a well-formed REQ, twice: two REPs");
	check(!memcmp(r.rep[0] + 12, r.rep[1] + 12, 8),
	      "the same child both times (a REQ again is a lost REP)");
	check(get32(r.rep[0] + 20) == 0x12345 && get32(r.rep[0] + 60) == 0x100,
	      "the REP names the child and PSN it answers");

	/* the target still serves a real initiator */
	struct genzio_send_wr wr = {
		.opcode = GENZIO_WR_ATOMIC_FADD,
		.send_flags = GENZIO_SEND_SIGNALED,
		.remote_qpn = q,
		.atomic = { .remote_addr = ti.addr, .rkey = ti.rkey,
			    .size = 8, .operand = 1 },
	}, *bad;
	struct genzio_wc wc;
	int ok = 0;

	ep_open(&i);
	if (genzio_ah_create_addr(i.pd, ti.qp_addr, ti.qp_addr_len, &wr.ah))
		die("genzio: ah");
	for (int k = 0; k < ADDS; k++) {
		int n = 0;

		if (genzio_post_send(i.qp, &wr, &bad))
			die("genzio: post");
		for (int w = 0; w < 5000 && !n; w++) {
			n = genzio_poll_cq(i.cq, 1, &wc);
			if (!n) {
				struct genzio_event ev;

				while (!genzio_event_get(t.ctx, &ev))
					;
				usleep(1000);
			}
		}
		ok += n == 1 && wc.status == GENZIO_WC_SUCCESS;
	}
	check(ok == ADDS, "a real initiator's adds all succeed after it");
	check(*(volatile uint64_t *)mem->addr == ADDS, "and they sum up");
	genzio_ah_destroy(wr.ah);
	printf("%s\n", failed ? "FAILED" : "ok");
	return failed;
}
