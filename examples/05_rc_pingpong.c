// SPDX-License-Identifier: MIT
/*
 * 05_rc_pingpong: rdma-core's rc_pingpong in genzio's own API: the same
 * options, exchange over TCP and output lines, a ping-pong of SENDs into
 * posted receives. Compare it with 06_rc_pingpong_compat.c, the same
 * program written against the verbs compat header: what changes in a
 * native port is here (genzio_porting(7)).
 *
 *   05_rc_pingpong [options]          server: wait for a client
 *   05_rc_pingpong [options] HOST     client
 *   -p PORT  TCP port (18515)      -s SIZE  bytes per message (4096)
 *   -n N     iterations (1000)     -r N     receives posted (500)
 *   -d DEV   device (the default)  -e       sleep on a completion channel
 *   -c       check every byte received
 *   -m, -l, -i, -g (path MTU, SL, port, GID index) are taken and have no
 *   meaning here: a genzio address carries all a connection needs.
 *
 *   cc 05_rc_pingpong.c $(pkg-config --cflags --libs genzio)
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <genzio/genzio.h>

#include "oob.h"

enum { RECV_WRID = 1, SEND_WRID = 2 };

struct pp {
	struct genzio_context *ctx;
	struct genzio_comp_channel *ch;
	struct genzio_pd *pd;
	struct genzio_mem *mem;
	struct genzio_mr *mr;
	struct genzio_cq *cq;
	struct genzio_qp *qp;
	char *buf;
	int size, rx_depth, pending;
	uint32_t send_flags;
};

/* Examples stop at the first error; a library never would. */
static void ok(int ret, const char *what)
{
	if (ret) {
		fprintf(stderr, "%s: %s\n", what, strerror(-ret));
		exit(1);
	}
}

static void open_pp(struct pp *p, const char *dev, int events)
{
	struct genzio_cq_attr ca = { .depth = (uint32_t)p->rx_depth + 1 };
	struct genzio_qp_attr qa = {
		.qp_type = GENZIO_QPT_RC, .sq_depth = 1,
		.rq_depth = (uint32_t)p->rx_depth,
		.max_send_sge = 1, .max_recv_sge = 1,
	};
	struct genzio_device_attr da;

	ok(genzio_device_open(dev, NULL, &p->ctx), "device_open");
	ok(genzio_device_query(p->ctx, &da), "device_query");
	/* a ping-pong of sends and receives: exit 77, "skipped" to test
	 * harnesses, on a device without messages */
	if (!(da.caps & GENZIO_CAP_MSG)) {
		printf("skipped: %s (provider %s) has no messages "
		       "(GENZIO_CAP_MSG)\n", da.name, da.provider);
		exit(77);
	}
	/* inline when the device takes the whole message */
	if (da.max_inline >= (uint32_t)p->size) {
		qa.max_inline = (uint32_t)p->size;
		p->send_flags |= GENZIO_SEND_INLINE;
	}
	if (events) {
		ok(genzio_comp_channel_create(p->ctx, &p->ch), "channel");
		ca.comp_mask = GENZIO_CQ_ATTR_CHANNEL;
		ca.channel = p->ch;
	}
	ok(genzio_pd_alloc(p->ctx, &p->pd), "pd_alloc");
	/* data space: peers reach it in place */
	ok(genzio_mem_alloc(p->ctx, (uint64_t)p->size, 0, &p->mem), "mem_alloc");
	p->buf = p->mem->addr;
	memset(p->buf, 0x7b, (size_t)p->size);
	ok(genzio_mr_reg(p->pd, p->buf, (uint64_t)p->size,
			 GENZIO_ACCESS_LOCAL_WRITE, &p->mr), "mr_reg");
	ok(genzio_cq_create(p->ctx, &ca, &p->cq), "cq_create");
	qa.send_cq = qa.recv_cq = p->cq;
	ok(genzio_qp_create(p->pd, &qa, &p->qp), "qp_create");
}

static void close_pp(struct pp *p)
{
	ok(genzio_qp_destroy(p->qp), "qp_destroy");
	ok(genzio_cq_destroy(p->cq), "cq_destroy");
	ok(genzio_mr_dereg(p->mr), "mr_dereg");
	ok(genzio_mem_free(p->mem), "mem_free");
	ok(genzio_pd_free(p->pd), "pd_free");
	if (p->ch)
		ok(genzio_comp_channel_destroy(p->ch), "channel_destroy");
	ok(genzio_device_close(p->ctx), "device_close");
}

static int post_recv(struct pp *p, int n)
{
	struct genzio_sge sge = { (uintptr_t)p->buf, (uint32_t)p->size,
				  p->mr->lkey };
	struct genzio_recv_wr wr = { .wr_id = RECV_WRID, .sg_list = &sge,
				     .num_sge = 1 }, *bad;
	int i;

	for (i = 0; i < n; i++)
		if (genzio_post_recv(p->qp, &wr, &bad))
			break;
	return i;
}

static int post_send(struct pp *p)
{
	struct genzio_sge sge = { (uintptr_t)p->buf, (uint32_t)p->size,
				  p->mr->lkey };
	struct genzio_send_wr wr = {
		.wr_id = SEND_WRID, .sg_list = &sge, .num_sge = 1,
		.opcode = GENZIO_WR_SEND,
		.send_flags = GENZIO_SEND_SIGNALED | p->send_flags,
	}, *bad;

	return genzio_post_send(p->qp, &wr, &bad);
}

/* Each side's k-th message has every byte k (-c checks what comes). */
static int check(const struct pp *p, int k)
{
	for (int i = 0; i < p->size; i++)
		if ((uint8_t)p->buf[i] != (uint8_t)k) {
			fprintf(stderr, "Data check failed: byte %d of message "
				"%d is %#x\n", i, k, (uint8_t)p->buf[i]);
			return 1;
		}
	return 0;
}

static void print_info(const char *who, const struct genzio_conn_info *ci)
{
	char a[GENZIO_ADDR_STRLEN];

	if (genzio_addr_str(ci->qp_addr, ci->qp_addr_len, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	printf("  %s GCID 0x%07x, QPN 0x%06x, address %s\n", who, ci->gcid,
	       ci->qpn, a);
}

static void usage(const char *argv0)
{
	printf("Usage:\n  %s            start a server and wait for "
	       "connection\n  %s <host>     connect to server at <host>\n"
	       "Options: -p port -d dev -s size -r rx-depth -n iters -e -c "
	       "(-m, -l, -i, -g: taken, no meaning here)\n", argv0, argv0);
}

int main(int argc, char **argv)
{
	int port = 18515, size = 4096, rx_depth = 500, iters = 1000;
	int events = 0, chk = 0, c, fd, routs, rcnt = 0, scnt = 0;
	const char *devname = NULL, *servername;
	struct genzio_conn_info me, peer;
	struct timeval start, end;
	struct pp p = { 0 };
	char portstr[16], k = 'k';

	while ((c = getopt(argc, argv, "p:d:i:s:m:r:n:l:eg:c")) != -1) {
		switch (c) {
		case 'p': port = atoi(optarg); break;
		case 'd': devname = optarg; break;
		case 's': size = atoi(optarg); break;
		case 'r': rx_depth = atoi(optarg); break;
		case 'n': iters = atoi(optarg); break;
		case 'e': events = 1; break;
		case 'c': chk = 1; break;
		case 'i': case 'm': case 'l': case 'g': break;
		default: usage(argv[0]); return 1;
		}
	}
	if (optind < argc - 1 || size < 1 || iters < 1 || rx_depth < 1 ||
	    port < 1 || port > 65535) {
		usage(argv[0]);
		return 1;
	}
	servername = optind == argc - 1 ? argv[optind] : NULL;
	p.size = size;
	p.rx_depth = rx_depth;
	open_pp(&p, devname, events);
	routs = post_recv(&p, p.rx_depth);
	if (routs < p.rx_depth) {
		fprintf(stderr, "Couldn't post receive (%d)\n", routs);
		return 1;
	}
	if (events)
		ok(genzio_cq_req_notify(p.cq), "req_notify");
	/* what rc_pingpong swaps as LID:QPN:PSN:GID is one address here */
	ok(genzio_conn_info_init(&me, p.qp, NULL), "conn_info_init");
	print_info("local address: ", &me);
	snprintf(portstr, sizeof(portstr), "%d", port);
	fd = servername ? oob_dial(servername, portstr) : oob_listen(portstr);
	if (fd < 0) {
		fprintf(stderr, "Couldn't reach the peer\n");
		return 1;
	}
	ok(genzio_conn_info_exchange(fd, &me, &peer), "exchange");
	print_info("remote address:", &peer);
	ok(genzio_qp_connect(p.qp, peer.qp_addr, peer.qp_addr_len), "connect");
	/* both connected before the first SEND (a byte each way) */
	if (oob_xfer(fd, &k, 1, 1) || oob_xfer(fd, &k, 1, 0))
		return 1;
	p.pending = RECV_WRID;
	if (servername) {	/* the client speaks first */
		if (chk)
			memset(p.buf, 0, (size_t)size);
		ok(post_send(&p), "post_send");
		p.pending |= SEND_WRID;
	}
	gettimeofday(&start, NULL);
	while (rcnt < iters || scnt < iters) {
		struct genzio_wc wc[2];
		int ne;

		if (events) {
			struct genzio_cq *cq;

			ok(genzio_comp_channel_get_event(p.ch, -1, &cq),
			   "get_event");
			ok(genzio_cq_ack_events(cq, 1), "ack_events");
			ok(genzio_cq_req_notify(cq), "req_notify");
		}
		do {
			ne = genzio_poll_cq(p.cq, 2, wc);
			if (ne < 0)
				ok(ne, "poll_cq");
		} while (!events && ne < 1);
		for (int i = 0; i < ne; i++) {
			if (wc[i].status != GENZIO_WC_SUCCESS) {
				fprintf(stderr, "Failed status %s (%#x) for "
					"wr_id %d\n",
					genzio_wc_status_str(wc[i].status),
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
				if (chk)
					memset(p.buf, (uint8_t)scnt,
					       (size_t)size);
				ok(post_send(&p), "post_send");
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
	close_pp(&p);
	return 0;
}
