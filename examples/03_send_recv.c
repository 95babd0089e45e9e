// SPDX-License-Identifier: MIT
/* 03_send_recv: a ping-pong of SENDs between two RC-paired processes,
 * each side sleeping in its completion channel instead of spinning.
 *   cc 03_send_recv.c $(pkg-config --cflags --libs genzio) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <genzio/genzio.h>

#include "oob.h"

#define ROUNDS 5

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
	struct genzio_comp_channel *ch;
	struct genzio_cq *cq;
	struct genzio_qp *qp;
	struct genzio_mem *mem;
	struct genzio_mr *mr;
	int sends, recvs;		/* reaped, not yet waited for */
	struct genzio_wc last_recv;
};

static void ep_open(struct ep *ep)
{
	struct genzio_cq_attr ca = { .comp_mask = GENZIO_CQ_ATTR_CHANNEL,
				     .depth = 16 };
	struct genzio_qp_attr qa = { .qp_type = GENZIO_QPT_RC, .sq_depth = 8,
				     .rq_depth = 8, .max_send_sge = 1,
				     .max_recv_sge = 1 };

	struct genzio_device_attr da;

	*ep = (struct ep){ 0 };
	ok(genzio_device_open(NULL, NULL, &ep->ctx), "device_open");
	ok(genzio_device_query(ep->ctx, &da), "device_query");
	/* exit 77, "skipped" to test harnesses, on a device without
	 * messages */
	if (!(da.caps & GENZIO_CAP_MSG)) {
		printf("skipped: %s (provider %s) has no messages "
		       "(GENZIO_CAP_MSG)\n", da.name, da.provider);
		exit(77);
	}
	ok(genzio_pd_alloc(ep->ctx, &ep->pd), "pd_alloc");
	ok(genzio_comp_channel_create(ep->ctx, &ep->ch), "channel_create");
	ca.channel = ep->ch;
	ok(genzio_cq_create(ep->ctx, &ca, &ep->cq), "cq_create");
	qa.send_cq = qa.recv_cq = ep->cq;
	ok(genzio_qp_create(ep->pd, &qa, &ep->qp), "qp_create");
	ok(genzio_mem_alloc(ep->ctx, 4096, 0, &ep->mem), "mem_alloc");
	ok(genzio_mr_reg(ep->pd, ep->mem->addr, 4096,
			 GENZIO_ACCESS_LOCAL_WRITE, &ep->mr), "mr_reg");
}

/* Take one completion if there is one, counting it by kind. */
static int reap(struct ep *ep)
{
	struct genzio_wc wc;
	int n = genzio_poll_cq(ep->cq, 1, &wc);

	ok(n < 0 ? n : 0, "poll_cq");
	if (n && wc.status)
		ok(-EIO, genzio_wc_status_str(wc.status));
	if (n && wc.opcode == GENZIO_WC_RECV)
		ep->recvs++, ep->last_recv = wc;
	else if (n)
		ep->sends++;
	return n;
}

/* Block until *@count is nonzero (a reply may complete before our send). */
static void wait_for(struct ep *ep, int *count)
{
	for (struct genzio_cq *cq; !*count;) {
		if (reap(ep))
			continue;
		/* arm, then poll again: one may have just landed */
		ok(genzio_cq_req_notify(ep->cq), "req_notify");
		if (reap(ep))
			continue;
		ok(genzio_comp_channel_get_event(ep->ch, -1, &cq), "get_event");
		ok(genzio_cq_ack_events(cq, 1), "ack_events");
	}
	(*count)--;
}

static void run(int fd, int first)
{
	struct genzio_conn_info me, peer;
	struct ep ep;

	ep_open(&ep);
	char *buf = ep.mem->addr;	/* receive buffers: in data space */
	ok(genzio_conn_info_init(&me, ep.qp, NULL), "conn_info_init");
	ok(genzio_conn_info_exchange(fd, &me, &peer), "exchange");
	ok(genzio_qp_connect(ep.qp, peer.qp_addr, peer.qp_addr_len), "connect");
	struct genzio_sge rs = { (uintptr_t)buf, 64, ep.mr->lkey },
			  ss = { (uintptr_t)buf + 64, 64, ep.mr->lkey };
	struct genzio_recv_wr rw = { .sg_list = &rs, .num_sge = 1 }, *rbad;
	struct genzio_send_wr sw = { .sg_list = &ss, .num_sge = 1,
				     .opcode = GENZIO_WR_SEND,
				     .send_flags = GENZIO_SEND_SIGNALED }, *sbad;

	ok(genzio_post_recv(ep.qp, &rw, &rbad), "post_recv");
	/* both receives are posted before anyone sends */
	if (write(fd, "r", 1) != 1 || read(fd, buf + 128, 1) != 1)
		exit(1);
	for (int i = 0; i < ROUNDS; i++) {
		if (!first || i) {
			wait_for(&ep, &ep.recvs);
			printf("%s got \"%s\" from GCID %#x\n", first ? "ping" :
			       "pong", buf, ep.last_recv.src_gcid);
			fflush(stdout);
			ok(genzio_post_recv(ep.qp, &rw, &rbad), "post_recv");
		}
		if (!first && i == ROUNDS - 1)
			break;
		snprintf(buf + 64, 64, "%s %d", first ? "ping" : "pong", i);
		ok(genzio_post_send(ep.qp, &sw, &sbad), "post_send");
		wait_for(&ep, &ep.sends);
	}
	ok(genzio_mr_dereg(ep.mr), "mr_dereg");
	ok(genzio_mem_free(ep.mem), "mem_free");
	ok(genzio_qp_destroy(ep.qp), "qp_destroy");
	ok(genzio_cq_destroy(ep.cq), "cq_destroy");
	ok(genzio_comp_channel_destroy(ep.ch), "channel_destroy");
	ok(genzio_pd_free(ep.pd), "pd_free");
	ok(genzio_device_close(ep.ctx), "device_close");
}

/* 03_send_recv: both here; -S [PORT]: one side; HOST [PORT]: the other
 * (oob.h) */
int main(int argc, char **argv)
{
	struct oob o;

	if (oob_start(argc, argv, &o))
		return 1;
	run(o.fd, o.role == OOB_SECOND);
	return oob_end(&o, 0);
}
