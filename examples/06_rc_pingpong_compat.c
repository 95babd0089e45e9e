// SPDX-License-Identifier: MIT
/*
 * 06_rc_pingpong_compat: a ping-pong of SENDs written as a verbs program
 * (rdma-core's rc_pingpong's options, exchange and output lines), built
 * against <genzio/ibverbs_compat.h> instead of <infiniband/verbs.h>: the
 * include line and -lgenzio are all that differ from a verbs build.
 *
 *   06_rc_pingpong_compat [options]          server: wait for a client
 *   06_rc_pingpong_compat [options] HOST     client
 *   -p PORT  TCP port (18515)      -s SIZE  bytes per message (4096)
 *   -n N     iterations (1000)     -r N     receives posted (500)
 *   -m MTU   path MTU (1024)       -l SL    service level (0)
 *   -i PORT  device port (1)       -g IDX   GID index (none: LID only)
 *   -d DEV   device (the first)    -e       sleep on a completion channel
 *   -c       check every byte received
 *
 *   cc 06_rc_pingpong_compat.c $(pkg-config --cflags --libs genzio)
 */
#include <genzio/ibverbs_compat.h>

#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "oob.h"

enum { RECV_WRID = 1, SEND_WRID = 2 };

struct pp {
	struct ibv_context *ctx;
	struct ibv_comp_channel *ch;
	struct ibv_pd *pd;
	struct ibv_mr *mr;
	struct ibv_cq *cq;
	struct ibv_qp *qp;
	struct ibv_buf *ibuf;
	char *buf;
	int size, rx_depth, pending, send_flags;
};

struct dest {
	int lid, qpn, psn;
	union ibv_gid gid;
};

static void gid_str(const union ibv_gid *g, char *s)
{
	for (int i = 0; i < 16; i++)
		sprintf(s + 2 * i, "%02x", g->raw[i]);
}

static void str_gid(const char *s, union ibv_gid *g)
{
	for (int i = 0; i < 16; i++) {
		unsigned int v = 0;

		sscanf(s + 2 * i, "%2x", &v);
		g->raw[i] = (uint8_t)v;
	}
}

static void print_dest(const char *who, const struct dest *d)
{
	char g[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, d->gid.raw, g, sizeof(g));
	printf("%s LID 0x%04x, QPN 0x%06x, PSN 0x%06x, GID %s\n", who, d->lid,
	       d->qpn, d->psn, g);
}

/* Swap "LID:QPN:PSN:GID" lines over @fd, as rc_pingpong does. */
static int exchange(int fd, const struct dest *me, struct dest *peer)
{
	char msg[sizeof("0000:000000:000000:") + 32], gid[33];

	gid_str(&me->gid, gid);
	snprintf(msg, sizeof(msg), "%04x:%06x:%06x:%s", me->lid, me->qpn,
		 me->psn, gid);
	if (oob_xfer(fd, msg, sizeof(msg), 1) ||
	    oob_xfer(fd, msg, sizeof(msg), 0))
		return -1;
	if (sscanf(msg, "%x:%x:%x:%32s", &peer->lid, &peer->qpn, &peer->psn,
		   gid) != 4)
		return -1;
	str_gid(gid, &peer->gid);
	return 0;
}

static int connect_qp(struct pp *p, int port, int psn, enum ibv_mtu mtu,
		      int sl, const struct dest *d, int gidx)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_RTR, .path_mtu = mtu,
		.dest_qp_num = (uint32_t)d->qpn, .rq_psn = (uint32_t)d->psn,
		.max_dest_rd_atomic = 1, .min_rnr_timer = 12,
		.ah_attr = { .dlid = (uint16_t)d->lid, .sl = (uint8_t)sl,
			     .port_num = (uint8_t)port },
	};

	if (d->gid.global.interface_id) {
		a.ah_attr.is_global = 1;
		a.ah_attr.grh.hop_limit = 1;
		a.ah_attr.grh.dgid = d->gid;
		a.ah_attr.grh.sgid_index = (uint8_t)gidx;
	}
	if (ibv_modify_qp(p->qp, &a, IBV_QP_STATE | IBV_QP_AV |
			  IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
			  IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER)) {
		fprintf(stderr, "Failed to modify QP to RTR\n");
		return 1;
	}
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 14;
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.sq_psn = (uint32_t)psn;
	a.max_rd_atomic = 1;
	if (ibv_modify_qp(p->qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT |
			  IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
			  IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC)) {
		fprintf(stderr, "Failed to modify QP to RTS\n");
		return 1;
	}
	return 0;
}

static int open_pp(struct pp *p, struct ibv_device *dev, int port,
		   int events)
{
	struct ibv_qp_init_attr ia = {
		.cap = { .max_send_wr = 1, .max_recv_wr = (uint32_t)p->rx_depth,
			 .max_send_sge = 1, .max_recv_sge = 1 },
		.qp_type = IBV_QPT_RC,
	};
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_INIT,
				 .port_num = (uint8_t)port };

	p->send_flags = IBV_SEND_SIGNALED;
	p->ctx = ibv_open_device(dev);
	if (!p->ctx) {
		fprintf(stderr, "Couldn't get context for %s\n",
			ibv_get_device_name(dev));
		return 1;
	}
	p->ch = events ? ibv_create_comp_channel(p->ctx) : NULL;
	p->pd = ibv_alloc_pd(p->ctx);
	/* the provider's buffer, as rc_pingpong takes it (genzio: data
	 * space, which a receive fills in place at any size) */
	p->buf = p->pd ? ibv_alloc_buf(p->pd, (size_t)p->size, &p->ibuf) :
		 NULL;
	if (!p->buf) {
		fprintf(stderr, "Couldn't allocate work buf.\n");
		return 1;
	}
	memset(p->buf, 0x7b, (size_t)p->size);
	p->mr = ibv_reg_buf_mr(p->pd, p->ibuf, p->buf, (size_t)p->size,
			       IBV_ACCESS_LOCAL_WRITE);
	p->cq = ibv_create_cq(p->ctx, p->rx_depth + 1, NULL, p->ch, 0);
	if ((events && !p->ch) || !p->mr || !p->cq) {
		fprintf(stderr, "Couldn't create the channel, PD, MR or CQ\n");
		return 1;
	}
	ia.send_cq = ia.recv_cq = p->cq;
	p->qp = ibv_create_qp(p->pd, &ia);
	if (!p->qp) {
		fprintf(stderr, "Couldn't create QP\n");
		return 1;
	}
	/* inline when the device takes the whole message */
	ibv_query_qp(p->qp, &a, IBV_QP_CAP, &ia);
	if (ia.cap.max_inline_data >= (uint32_t)p->size)
		p->send_flags |= IBV_SEND_INLINE;
	a.qp_state = IBV_QPS_INIT;
	a.port_num = (uint8_t)port;
	if (ibv_modify_qp(p->qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
			  IBV_QP_PORT | IBV_QP_ACCESS_FLAGS)) {
		fprintf(stderr, "Failed to modify QP to INIT\n");
		return 1;
	}
	return 0;
}

static int close_pp(struct pp *p)
{
	int bad = ibv_destroy_qp(p->qp) || ibv_destroy_cq(p->cq) ||
		  ibv_dereg_mr(p->mr);

	ibv_free_buf(p->ibuf);
	return bad || ibv_dealloc_pd(p->pd) ||
	       (p->ch && ibv_destroy_comp_channel(p->ch)) ||
	       ibv_close_device(p->ctx);
}

static int post_recv(struct pp *p, int n)
{
	struct ibv_sge sge = { (uintptr_t)p->buf, (uint32_t)p->size,
			       p->mr->lkey };
	struct ibv_recv_wr wr = { .wr_id = RECV_WRID, .sg_list = &sge,
				  .num_sge = 1 }, *bad;
	int i;

	for (i = 0; i < n; i++)
		if (ibv_post_recv(p->qp, &wr, &bad))
			break;
	return i;
}

static int post_send(struct pp *p)
{
	struct ibv_sge sge = { (uintptr_t)p->buf, (uint32_t)p->size,
			       p->mr->lkey };
	struct ibv_send_wr wr = { .wr_id = SEND_WRID, .sg_list = &sge,
				  .num_sge = 1, .opcode = IBV_WR_SEND,
				  .send_flags = (unsigned int)p->send_flags },
			   *bad;

	return ibv_post_send(p->qp, &wr, &bad);
}

/* Each side's k-th message has every byte k (-c checks what comes). */
static void fill(struct pp *p, int i)
{
	memset(p->buf, (uint8_t)i, (size_t)p->size);
}

static int check(const struct pp *p, int i)
{
	for (int k = 0; k < p->size; k++)
		if ((uint8_t)p->buf[k] != (uint8_t)i) {
			fprintf(stderr, "Data check failed: byte %d of message "
				"%d is %#x\n", k, i, (uint8_t)p->buf[k]);
			return 1;
		}
	return 0;
}

static void usage(const char *argv0)
{
	printf("Usage:\n  %s            start a server and wait for "
	       "connection\n  %s <host>     connect to server at <host>\n"
	       "Options: -p port -d dev -i ib-port -s size -m mtu -r rx-depth "
	       "-n iters -l sl -e -g gid-idx -c\n", argv0, argv0);
}

int main(int argc, char **argv)
{
	int port = 18515, ib_port = 1, size = 4096, rx_depth = 500;
	int iters = 1000, sl = 0, events = 0, gidx = -1, chk = 0, c;
	enum ibv_mtu mtu = IBV_MTU_1024;
	const char *devname = NULL, *servername;
	struct ibv_device **list, *dev = NULL;
	struct dest me, peer;
	struct pp p = { 0 };
	struct ibv_port_attr pa;
	struct timeval start, end;
	int fd, routs, rcnt = 0, scnt = 0;
	char portstr[16];

	while ((c = getopt(argc, argv, "p:d:i:s:m:r:n:l:eg:c")) != -1) {
		switch (c) {
		case 'p': port = atoi(optarg); break;
		case 'd': devname = optarg; break;
		case 'i': ib_port = atoi(optarg); break;
		case 's': size = atoi(optarg); break;
		case 'm': mtu = (enum ibv_mtu)(__builtin_ctz((unsigned)
						atoi(optarg)) - 7); break;
		case 'r': rx_depth = atoi(optarg); break;
		case 'n': iters = atoi(optarg); break;
		case 'l': sl = atoi(optarg); break;
		case 'e': events = 1; break;
		case 'g': gidx = atoi(optarg); break;
		case 'c': chk = 1; break;
		default: usage(argv[0]); return 1;
		}
	}
	if (optind < argc - 1 || size < 1 || iters < 1 || rx_depth < 1 ||
	    port < 1 || port > 65535 || ibv_mtu_to_num(mtu) < 0) {
		usage(argv[0]);
		return 1;
	}
	servername = optind == argc - 1 ? argv[optind] : NULL;
	list = ibv_get_device_list(NULL);
	for (int i = 0; list && list[i] && !dev; i++)
		if (!devname || !strcmp(ibv_get_device_name(list[i]), devname))
			dev = list[i];
	if (!dev) {
		fprintf(stderr, "IB device %s not found\n",
			devname ? devname : "(any)");
		return 1;
	}
	p.size = size;
	p.rx_depth = rx_depth;
	if (open_pp(&p, dev, ib_port, events))
		return 1;
	ibv_free_device_list(list);
	routs = post_recv(&p, p.rx_depth);
	if (routs < p.rx_depth) {
		fprintf(stderr, "Couldn't post receive (%d)\n", routs);
		return 1;
	}
	if (events && ibv_req_notify_cq(p.cq, 0)) {
		fprintf(stderr, "Couldn't request CQ notification\n");
		return 1;
	}
	if (ibv_query_port(p.ctx, (uint8_t)ib_port, &pa)) {
		fprintf(stderr, "Couldn't get port info\n");
		return 1;
	}
	me.lid = pa.lid;
	if (gidx >= 0) {
		if (ibv_query_gid(p.ctx, (uint8_t)ib_port, gidx, &me.gid)) {
			fprintf(stderr, "can't read sgid of index %d\n", gidx);
			return 1;
		}
	} else {
		memset(&me.gid, 0, sizeof(me.gid));
	}
	me.qpn = (int)p.qp->qp_num;
	srand48(getpid() * time(NULL));
	me.psn = (int)(lrand48() & 0xffffff);
	print_dest("  local address: ", &me);
	snprintf(portstr, sizeof(portstr), "%d", port);
	fd = servername ? oob_dial(servername, portstr) : oob_listen(portstr);
	if (fd < 0 || exchange(fd, &me, &peer)) {
		fprintf(stderr, "Couldn't exchange addresses with the peer\n");
		return 1;
	}
	print_dest("  remote address:", &peer);
	if (connect_qp(&p, ib_port, me.psn, mtu, sl, &peer, gidx))
		return 1;
	/* both connected before the first SEND (a byte each way) */
	{
		char k = 'k';

		if (oob_xfer(fd, &k, 1, 1) || oob_xfer(fd, &k, 1, 0))
			return 1;
	}
	p.pending = RECV_WRID;
	if (servername) {	/* the client speaks first */
		if (chk)
			fill(&p, 0);
		if (post_send(&p)) {
			fprintf(stderr, "Couldn't post send\n");
			return 1;
		}
		p.pending |= SEND_WRID;
	}
	gettimeofday(&start, NULL);
	while (rcnt < iters || scnt < iters) {
		struct ibv_wc wc[2];
		int ne;

		if (events) {
			struct ibv_cq *ev_cq = NULL;
			void *ev_ctx;

			if (ibv_get_cq_event(p.ch, &ev_cq, &ev_ctx)) {
				fprintf(stderr, "Failed to get cq_event\n");
				return 1;
			}
			ibv_ack_cq_events(ev_cq, 1);
			if (ibv_req_notify_cq(ev_cq, 0)) {
				fprintf(stderr, "Couldn't request CQ "
					"notification\n");
				return 1;
			}
		}
		do {
			ne = ibv_poll_cq(p.cq, 2, wc);
			if (ne < 0) {
				fprintf(stderr, "poll CQ failed %d\n", ne);
				return 1;
			}
		} while (!events && ne < 1);
		for (int i = 0; i < ne; i++) {
			if (wc[i].status != IBV_WC_SUCCESS) {
				fprintf(stderr, "Failed status %s (%d) for "
					"wr_id %d\n",
					ibv_wc_status_str(wc[i].status),
					wc[i].status, (int)wc[i].wr_id);
				return 1;
			}
			if (wc[i].wr_id == SEND_WRID) {
				scnt++;
			} else {
				if (chk && check(&p, rcnt))
					return 1;
				if (--routs <= 1) {
					routs += post_recv(&p, p.rx_depth - routs);
					if (routs < p.rx_depth) {
						fprintf(stderr, "Couldn't post "
							"receive (%d)\n", routs);
						return 1;
					}
				}
				rcnt++;
			}
			p.pending &= ~(int)wc[i].wr_id;
			if (scnt < iters && !p.pending) {
				if (chk)	/* the k-th message: k */
					fill(&p, scnt);
				if (post_send(&p)) {
					fprintf(stderr, "Couldn't post send\n");
					return 1;
				}
				p.pending = RECV_WRID | SEND_WRID;
			}
		}
	}
	gettimeofday(&end, NULL);
	{
		double usec = (end.tv_sec - start.tv_sec) * 1e6 +
			      (end.tv_usec - start.tv_usec);
		long long bytes = (long long)size * iters * 2;

		printf("%lld bytes in %.2f seconds = %.2f Mbit/sec\n", bytes,
		       usec / 1e6, bytes * 8. / usec);
		printf("%d iters in %.2f seconds = %.2f usec/iter\n", iters,
		       usec / 1e6, usec / iters);
	}
	close(fd);
	if (close_pp(&p)) {
		fprintf(stderr, "Couldn't release the resources\n");
		return 1;
	}
	return 0;
}
