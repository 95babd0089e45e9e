// SPDX-License-Identifier: MIT
/*
 * 01_write_read: one-sided WRITE into another process's memory, then READ
 * it back. Both sides swap connection info (queue pair address; the
 * target's region and R-Key) and connect to each other, as in verbs;
 * then the target runs no genzio code at all.
 *   cc 01_write_read.c $(pkg-config --cflags --libs genzio)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <genzio/genzio.h>

#include "oob.h"

static const char msg[] = "hello from genzio";

/* Examples stop at the first error; a library never would. */
static void ok(int ret, const char *what)
{
	if (ret) {
		fprintf(stderr, "%s: %s\n", what, strerror(-ret));
		exit(1);
	}
}

struct ep {
	struct genzio_context *ctx;
	struct genzio_pd *pd;
	struct genzio_cq *cq;
	struct genzio_qp *qp;
};

static void ep_open(struct ep *ep)
{
	struct genzio_cq_attr ca = { .depth = 16 };
	struct genzio_qp_attr qa = { .qp_type = GENZIO_QPT_RC, .sq_depth = 16,
				     .max_send_sge = 1 };

	ok(genzio_device_open(NULL, NULL, &ep->ctx), "device_open");
	ok(genzio_pd_alloc(ep->ctx, &ep->pd), "pd_alloc");
	ok(genzio_cq_create(ep->ctx, &ca, &ep->cq), "cq_create");
	qa.send_cq = qa.recv_cq = ep->cq;
	ok(genzio_qp_create(ep->pd, &qa, &ep->qp), "qp_create");
}

static void ep_close(struct ep *ep)
{
	ok(genzio_qp_destroy(ep->qp), "qp_destroy");
	ok(genzio_cq_destroy(ep->cq), "cq_destroy");
	ok(genzio_pd_free(ep->pd), "pd_free");
	ok(genzio_device_close(ep->ctx), "device_close");
}

static int target(int fd)
{
	struct genzio_conn_info me, peer;
	struct genzio_mem *mem;
	struct genzio_mr *mr;
	struct ep ep;
	char done;

	ep_open(&ep);
	ok(genzio_mem_alloc(ep.ctx, 4096, 0, &mem), "mem_alloc");
	ok(genzio_mr_reg(ep.pd, mem->addr, 4096, GENZIO_ACCESS_LOCAL_WRITE |
			 GENZIO_ACCESS_REMOTE_WRITE | GENZIO_ACCESS_REMOTE_READ,
			 &mr), "mr_reg");
	ok(genzio_conn_info_init(&me, ep.qp, mr), "conn_info_init");
	ok(genzio_conn_info_exchange(fd, &me, &peer), "exchange");
	ok(genzio_qp_connect(ep.qp, peer.qp_addr, peer.qp_addr_len), "connect");
	/* The initiator works on our memory; we only wait for it. */
	if (read(fd, &done, 1) != 1)
		return 1;
	printf("target (GCID %#x) holds: \"%s\"\n", me.gcid, (char *)mem->addr);
	if (strcmp(mem->addr, msg))
		return 1;
	ok(genzio_mr_dereg(mr), "mr_dereg");
	ok(genzio_mem_free(mem), "mem_free");
	ep_close(&ep);
	return 0;
}

/* Post one signaled request and wait for its completion. */
static void run(struct ep *ep, struct genzio_send_wr *wr)
{
	struct genzio_send_wr *bad;
	struct genzio_wc wc;
	int n;

	wr->send_flags = GENZIO_SEND_SIGNALED;
	ok(genzio_post_send(ep->qp, wr, &bad), "post_send");
	while (!(n = genzio_poll_cq(ep->cq, 1, &wc)))
		;
	ok(n < 0 ? n : 0, "poll_cq");
	if (wc.status)
		ok(-EIO, genzio_wc_status_str(wc.status));
}

static int initiator(int fd)
{
	struct genzio_conn_info me, peer;
	struct genzio_mr *mr;
	char buf[64] = { 0 };
	struct ep ep;

	ep_open(&ep);
	ok(genzio_conn_info_init(&me, ep.qp, NULL), "conn_info_init");
	ok(genzio_conn_info_exchange(fd, &me, &peer), "exchange");
	ok(genzio_qp_connect(ep.qp, peer.qp_addr, peer.qp_addr_len), "connect");
	ok(genzio_mr_reg(ep.pd, buf, sizeof(buf), GENZIO_ACCESS_LOCAL_WRITE,
			 &mr), "mr_reg");
	memcpy(buf, msg, sizeof(msg));
	struct genzio_sge sge = { (uintptr_t)buf, sizeof(msg), mr->lkey };
	struct genzio_send_wr wr = { .sg_list = &sge, .num_sge = 1,
				     .opcode = GENZIO_WR_WRITE,
				     .rdma = { peer.addr, peer.rkey } };
	run(&ep, &wr);
	memset(buf, 0, sizeof(buf));
	wr.opcode = GENZIO_WR_READ;
	run(&ep, &wr);
	printf("initiator read back: \"%s\"\n", buf);
	if (write(fd, "d", 1) != 1 || strcmp(buf, msg))
		return 1;
	ok(genzio_mr_dereg(mr), "mr_dereg");
	ep_close(&ep);
	return 0;
}

/* 01_write_read: both here; -S [PORT]: the target; HOST [PORT]: the
 * initiator, reaching that target (oob.h) */
int main(int argc, char **argv)
{
	struct oob o;

	if (oob_start(argc, argv, &o))
		return 1;
	return oob_end(&o, o.role == OOB_FIRST ? target(o.fd) :
					     initiator(o.fd));
}
