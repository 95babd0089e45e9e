// SPDX-License-Identifier: MIT
/*
 * bench/ep: one side of genzio_perf: its device, queue pair and region,
 * the requests it prepares once per row, and the peer's loop, which
 * answers the initiator's commands (forked, or a -S server).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <unistd.h>

#include "perf.h"
#include "rendezvous.h"

const char *const names[T_MAX] = { "write", "read", "fadd", "cas", "send",
				   "fence" };

void die(int ret, const char *what)
{
	if (ret) {
		fprintf(stderr, "genzio_perf: %s: %s\n", what, strerror(-ret));
		exit(1);
	}
}

void ep_open(struct ep *e, const char *dev, size_t max)
{
	struct genzio_cq_attr ca = { .depth = 4096 };
	struct genzio_qp_attr qa = {
		.qp_type = GENZIO_QPT_RC, .sq_depth = 4096, .rq_depth = RQ,
		.max_send_sge = 1, .max_recv_sge = 1,
		.max_inline = GENZIO_MAX_INLINE,
	};
	struct genzio_device_attr da;

	e->half = max + 4096;
	die(genzio_device_open(dev, NULL, &e->ctx), "device_open");
	die(genzio_device_query(e->ctx, &da), "device_query");
	e->progress = !(da.caps & GENZIO_CAP_ONE_SIDED_TARGET);
	die(genzio_pd_alloc(e->ctx, &e->pd), "pd_alloc");
	die(genzio_cq_create(e->ctx, &ca, &e->cq), "cq_create");
	qa.send_cq = qa.recv_cq = e->cq;
	die(genzio_qp_create(e->pd, &qa, &e->qp), "qp_create");
	die(genzio_mem_alloc(e->ctx, 2 * e->half, 0, &e->mem), "mem_alloc");
	die(genzio_mr_reg(e->pd, e->mem->addr, 2 * e->half,
			  GENZIO_ACCESS_LOCAL_WRITE | GENZIO_ACCESS_REMOTE_WRITE |
				  GENZIO_ACCESS_REMOTE_READ |
				  GENZIO_ACCESS_REMOTE_ATOMIC,
			  &e->mr), "mr_reg");
	e->buf = e->mem->addr;
	memset(e->buf, 0, 2 * e->half);
	die(genzio_conn_info_init(&e->me, e->qp, e->mr), "conn_info_init");
	e->me.length = e->half;	/* the peer writes into our first half */
}

void ep_close(struct ep *e)
{
	die(genzio_mr_dereg(e->mr), "mr_dereg");
	die(genzio_mem_free(e->mem), "mem_free");
	die(genzio_qp_destroy(e->qp), "qp_destroy");
	die(genzio_cq_destroy(e->cq), "cq_destroy");
	die(genzio_pd_free(e->pd), "pd_free");
	die(genzio_device_close(e->ctx), "device_close");
}

/* Receives land in the first half (all in one buffer: only timing counts). */
void post_recvs(struct ep *e, int n)
{
	struct genzio_sge sge = { (uintptr_t)e->buf,
				  (uint32_t)(e->half - 4096), e->mr->lkey };
	struct genzio_recv_wr wr = { .sg_list = &sge, .num_sge = 1 }, *bad;

	for (int i = 0; i < n; i++)
		die(genzio_post_recv(e->qp, &wr, &bad), "post_recv");
}

/* Fill the receive queue the first time sends are measured; each
 * receive consumed is reposted at once, so it stays full. */
void recvs_once(struct ep *e)
{
	static int done;

	if (!done)
		post_recvs(e, RQ);
	done = 1;
}

/* Build the request(s) of @t once per run: the timed loops only patch
 * the sequence number and the signaled flag, as a real poller would. */
void prepare(struct ep *e, enum test t, size_t size)
{
	uint8_t *src = e->buf + e->half;
	struct genzio_send_wr *wr = e->wr;
	uint32_t flags = size <= GENZIO_MAX_INLINE && t != T_READ ?
				 GENZIO_SEND_INLINE : 0;

	memset(e->wr, 0, sizeof(e->wr));
	e->sge = (struct genzio_sge){ (uintptr_t)src, (uint32_t)size,
				      e->mr->lkey };
	e->seqp = (uint64_t *)(src + size - 8);
	wr[0].sg_list = &e->sge;
	wr[0].num_sge = 1;
	wr[0].send_flags = flags;
	wr[0].rdma.remote_addr = e->peer.addr;
	wr[0].rdma.rkey = e->peer.rkey;
	e->last = &wr[0];
	switch (t) {
	case T_WRITE:
		wr[0].opcode = GENZIO_WR_WRITE;
		break;
	case T_READ:
		wr[0].opcode = GENZIO_WR_READ;
		break;
	case T_SEND:
		wr[0].opcode = GENZIO_WR_SEND;
		break;
	case T_FENCE:
		/* payload, then a flag on its own line ordered after it */
		wr[0].opcode = GENZIO_WR_WRITE;
		wr[0].next = &wr[1];
		wr[1] = wr[0];
		wr[1].next = NULL;
		wr[1].send_flags |= GENZIO_SEND_FENCE;
		wr[1].rdma.remote_addr = e->peer.addr + 64;
		e->last = &wr[1];
		break;
	default:
		wr[0].opcode = t == T_FADD ? GENZIO_WR_ATOMIC_FADD :
					     GENZIO_WR_ATOMIC_CAS;
		wr[0].num_sge = 0;
		wr[0].send_flags = 0;
		wr[0].atomic.size = 8;
		wr[0].atomic.operand = 1;
	}
	e->test = t;
}

/* Responder side of a ping-pong: mirror the initiator. */
static void respond(struct ep *e, enum test t, size_t size, uint64_t iters)
{
	prepare(e, t, size);
	for (uint64_t i = 1; i <= iters; i++) {
		wait_seq(e, t, size, i);
		post(e, i, 0);
	}
}

/*
 * --peers/--mrs, target side: register @mrs more regions (the key table
 * the initiator's requests are checked against gets that full), and open
 * @peers - 1 more components, each a queue pair the initiator connects
 * to. They stay idle: only their presence is measured.
 */
static void scale_target(struct ep *e, const struct opts *o, int fd)
{
	struct genzio_mem *mem = NULL;
	struct genzio_mr *mr;

	if (o->mrs) {
		die(genzio_mem_alloc(e->ctx, (uint64_t)o->mrs * 4096, 0, &mem),
		    "mem_alloc (--mrs)");
		for (uint32_t i = 0; i < o->mrs; i++)
			die(genzio_mr_reg(e->pd, (char *)mem->addr + i * 4096ull,
					  4096, GENZIO_ACCESS_LOCAL_WRITE |
						  GENZIO_ACCESS_REMOTE_WRITE,
					  &mr), "mr_reg (--mrs)");
	}
	for (uint32_t i = 1; i < o->peers; i++) {
		struct ep *x = calloc(1, sizeof(*x));
		struct genzio_conn_info back;

		ep_open(x, o->dev, 4096);
		die(genzio_conn_info_exchange(fd, &x->me, &back), "exchange");
		die(genzio_qp_connect(x->qp, back.qp_addr, back.qp_addr_len),
		    "qp_connect (--peers)");
	}
	/* regions and components live until the process exits */
}

/* --peers, initiator side: one more connected queue pair per component. */
void scale_initiator(struct ep *e, const struct opts *o, int fd)
{
	struct genzio_qp_attr qa = {
		.qp_type = GENZIO_QPT_RC, .sq_depth = 64, .max_send_sge = 1,
		.send_cq = e->cq, .recv_cq = e->cq,
	};

	for (uint32_t i = 1; i < o->peers; i++) {
		struct genzio_conn_info mine, p;
		struct genzio_qp *qp;

		die(genzio_qp_create(e->pd, &qa, &qp), "qp_create (--peers)");
		die(genzio_conn_info_init(&mine, qp, NULL), "conn_info_init");
		die(genzio_conn_info_exchange(fd, &mine, &p), "exchange");
		die(genzio_qp_connect(qp, p.qp_addr, p.qp_addr_len),
		    "qp_connect (--peers)");
	}
}

/* The peer process: answers commands until told to quit. */
int peer_main(int fd, const struct opts *o, size_t max)
{
	struct ep e;
	struct cmd c = { 0 };

	die(gzb_pin(o->cpu[1]) ? -errno : 0, "pin to the second -c core");
	ep_open(&e, o->dev, max);
	die(genzio_conn_info_exchange(fd, &e.me, &e.peer), "exchange");
	die(genzio_qp_connect(e.qp, e.peer.qp_addr, e.peer.qp_addr_len),
	    "qp_connect");
	scale_target(&e, o, fd);
	while (!gzb_read_full(fd, &c, sizeof(c)) && c.op != CMD_QUIT) {
		/* the client's word (a server's, over TCP): checked */
		if ((c.op != CMD_LAT && c.op != CMD_RECV) || c.test >= T_MAX ||
		    c.size < 8 || c.size > max) {
			fprintf(stderr, "genzio_perf: a command makes no sense "
				"(op %u, test %u, %llu bytes)\n", c.op, c.test,
				(unsigned long long)c.size);
			return 1;
		}
		memset(e.buf, 0, c.size + 128 < e.half ? c.size + 128 : e.half);
		if (c.test == T_SEND)
			recvs_once(&e);
		if (gzb_write_full(fd, "k", 1))
			return 1;
		if (c.op == CMD_LAT && c.iters)
			respond(&e, c.test, c.size, c.iters);
		else if (c.op == CMD_RECV)
			for (uint64_t i = 0; i < c.iters; i++)
				wait_seq(&e, T_SEND, c.size, i + 1);
		if (gzb_write_full(fd, "d", 1))
			return 1;
	}
	if (c.op != CMD_QUIT) {
		fprintf(stderr, "genzio_perf: the other side went away\n");
		return 1;
	}
	ep_close(&e);
	return 0;
}
