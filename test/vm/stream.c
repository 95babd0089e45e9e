// SPDX-License-Identifier: MIT
/*
 * A stream of verified writes between two machines, for the fault tests of
 * test/vm (public API only, any provider):
 *   stream -S PORT              the target: one region, a queue pair per
 *                               connection, checks bytes on request
 *   stream HOST PORT N [MS [once]]  write N (<= 4096) blocks of 4 KiB, each
 *                               to a block of its own, up to 16 in flight,
 *                               MS ms apart (default 0)
 * When requests fail (a link down, the target killed) the client drains
 * what was outstanding and reports every status and event it saw; then
 * it resets its queue pair and reconnects (a new TCP connection) and
 * goes on, for at most RECONNECT_S, or with "once" it stops there. At the
 * end the target checks every block a SUCCESS completion reported: data
 * reported complete must be there.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <genzio/genzio.h>

#include "../../examples/oob.h"

#define BLOCK 4096
#define SLOTS 4096		/* blocks in the target's region */
#define DEPTH 16
#define RECONNECT_S 120

struct verify {
	uint32_t slot, seed;	/* seed 0: quit */
};

static void die(int ret, const char *what)
{
	if (ret) {
		fprintf(stderr, "stream: %s: %s\n", what,
			strerror(ret < 0 ? -ret : ret));
		exit(2);
	}
}

static void fill(uint8_t *p, uint32_t seed)
{
	for (uint32_t i = 0; i < BLOCK; i++)
		p[i] = (uint8_t)(seed * 13 + i * 7 + (i >> 8));
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

struct ep {
	struct genzio_context *ctx;
	struct genzio_pd *pd;
	struct genzio_cq *cq;
	struct genzio_qp *qp;
	struct genzio_mem *mem;
	struct genzio_mr *mr;
};

static void ep_open(struct ep *e)
{
	struct genzio_cq_attr ca = { .depth = 4 * DEPTH };
	struct genzio_qp_attr qa = { .qp_type = GENZIO_QPT_RC,
				     .sq_depth = DEPTH, .max_send_sge = 1 };

	die(genzio_device_open(NULL, NULL, &e->ctx), "device_open");
	die(genzio_pd_alloc(e->ctx, &e->pd), "pd_alloc");
	die(genzio_cq_create(e->ctx, &ca, &e->cq), "cq_create");
	qa.send_cq = qa.recv_cq = e->cq;
	die(genzio_qp_create(e->pd, &qa, &e->qp), "qp_create");
	die(genzio_mem_alloc(e->ctx, (uint64_t)SLOTS * BLOCK, 0, &e->mem),
	    "mem_alloc");
	die(genzio_mr_reg(e->pd, e->mem->addr, e->mem->length,
			  GENZIO_ACCESS_LOCAL_WRITE | GENZIO_ACCESS_REMOTE_WRITE |
			  GENZIO_ACCESS_REMOTE_READ, &e->mr), "mr_reg");
}

/* Swap conn info on @fd and connect @e's queue pair to the peer's. */
static void pair(struct ep *e, int fd, struct genzio_conn_info *peer)
{
	struct genzio_conn_info me;

	die(genzio_conn_info_init(&me, e->qp, e->mr), "conn_info_init");
	die(genzio_conn_info_exchange(fd, &me, peer), "exchange");
	die(genzio_qp_connect(e->qp, peer->qp_addr, peer->qp_addr_len),
	    "qp_connect");
}

/* The target: a connection at a time; its queue pair is new for each. */
static __attribute__((noreturn)) void serve(const char *port)
{
	int lfd = oob_listener(port, 1);
	struct ep e;

	die(lfd < 0 ? -errno : 0, "listen");
	ep_open(&e);
	printf("target serving on port %s\n", port);
	fflush(stdout);
	for (;;) {
		struct genzio_conn_info peer;
		struct verify v;
		int fd = accept(lfd, NULL, NULL), bad = 0, n = 0;

		if (fd < 0)
			continue;
		genzio_qp_reset(e.qp);	/* a fresh connection each time */
		pair(&e, fd, &peer);
		while (!oob_xfer(fd, &v, sizeof(v), 0) && v.seed) {
			uint8_t want[BLOCK];

			fill(want, v.seed);
			bad += v.slot >= SLOTS ||
			       memcmp((uint8_t *)e.mem->addr +
				      (size_t)v.slot * BLOCK, want, BLOCK);
			n++;
		}
		if (n)
			oob_xfer(fd, &bad, sizeof(bad), 1);
		close(fd);
	}
}

struct client {
	struct ep e;
	struct genzio_conn_info peer;
	const char *host, *port;
	int fd;
	uint32_t *seed_of;	/* per slot: the seed of its last success */
	uint64_t ok, failed, status_seen[256];
	uint64_t events[16];
};

static void connect_target(struct client *c)
{
	double end = now() + RECONNECT_S;

	while ((c->fd = oob_dial(c->host, c->port)) < 0)
		if (now() > end)
			die(-ETIMEDOUT, "reconnect");
	pair(&c->e, c->fd, &c->peer);
}

static void events_take(struct client *c)
{
	struct genzio_event ev;

	while (!genzio_event_get(c->e.ctx, &ev)) {
		if (ev.type < 16)
			c->events[ev.type]++;
		printf("event %u (gcid %#x, qp %#x, status %s)\n", ev.type,
		       ev.gcid, ev.qp_num, genzio_wc_status_str(ev.status));
	}
}

/* Reap completions until @left are outstanding; a failure sets *@broken. */
static void reap(struct client *c, int *inflight, int left, int *broken,
		 const uint32_t *slot_seed)
{
	double end = now() + 60;

	while (*inflight > left) {
		struct genzio_wc wc;
		int n = genzio_poll_cq(c->e.cq, 1, &wc);

		die(n < 0 ? n : 0, "poll_cq");
		if (!n) {
			if (now() > end) {
				struct genzio_qp_info qi = { 0 };

				genzio_qp_query(c->e.qp, &qi);
				fprintf(stderr, "stream: %d requests in flight "
					"for 60 s (%" PRIu64 " ok, %" PRIu64
					" failed so far, queue pair state %u, "
					"%s)\n", *inflight, c->ok, c->failed,
					qi.state,
					genzio_wc_status_str(qi.err_status));
				die(-ETIMEDOUT, "a request hung");
			}
			continue;
		}
		(*inflight)--;
		c->status_seen[wc.status & 0xff]++;
		if (wc.status) {
			c->failed++;
			*broken = 1;
		} else {
			c->ok++;
			c->seed_of[wc.wr_id % SLOTS] = slot_seed[wc.wr_id % DEPTH];
		}
	}
}

static int stream(struct client *c, uint32_t n, unsigned ms, int once)
{
	uint32_t slot_seed[DEPTH];
	uint8_t *buf = c->e.mem->addr;
	int inflight = 0, broken = 0, reconnects = 0;
	struct timespec gap = { ms / 1000, (long)(ms % 1000) * 1000000 };

	connect_target(c);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t slot = i % SLOTS, seed = i + 1;
		struct genzio_sge s = { (uintptr_t)buf + (size_t)(i % DEPTH) *
					BLOCK, BLOCK, c->e.mr->lkey };
		struct genzio_send_wr wr = {
			.wr_id = i, .sg_list = &s, .num_sge = 1,
			.opcode = GENZIO_WR_WRITE,
			.send_flags = GENZIO_SEND_SIGNALED,
			.rdma = { c->peer.addr + (uint64_t)slot * BLOCK,
				  c->peer.rkey },
		}, *bad;

		/* a buffer is reused once its request completed */
		reap(c, &inflight, DEPTH - 1, &broken, slot_seed);
		if (broken) {
			reap(c, &inflight, 0, &broken, slot_seed);
			events_take(c);
			printf("broken at block %u%s\n", i,
			       once ? "" : ": reconnecting");
			fflush(stdout);
			if (once)
				return -1;
			close(c->fd);
			die(genzio_qp_reset(c->e.qp), "qp_reset");
			connect_target(c);
			broken = 0;
			reconnects++;
		}
		fill((uint8_t *)(uintptr_t)s.addr, seed);
		slot_seed[i % DEPTH] = seed;
		die(genzio_post_send(c->e.qp, &wr, &bad), "post_send");
		inflight++;
		if (ms)
			nanosleep(&gap, NULL);
	}
	reap(c, &inflight, 0, &broken, slot_seed);
	events_take(c);
	if (broken) {	/* the last requests failed: verify on a new link */
		close(c->fd);
		die(genzio_qp_reset(c->e.qp), "qp_reset");
		connect_target(c);
	}
	return reconnects;
}

static int verify(struct client *c)
{
	struct verify v;
	int bad = 0, checked = 0;

	for (uint32_t s = 0; s < SLOTS; s++) {
		if (!c->seed_of[s])
			continue;
		v.slot = s;
		v.seed = c->seed_of[s];
		die(oob_xfer(c->fd, &v, sizeof(v), 1) ? -EPIPE : 0, "verify");
		checked++;
	}
	v.seed = 0;
	die(oob_xfer(c->fd, &v, sizeof(v), 1) ? -EPIPE : 0, "verify");
	if (checked && oob_xfer(c->fd, &bad, sizeof(bad), 0))
		return -1;
	return checked && bad ? -1 : checked;
}

int main(int argc, char **argv)
{
	static uint32_t seed_of[SLOTS];
	struct client c = { .seed_of = seed_of };
	int reconnects, checked;

	if (argc == 3 && !strcmp(argv[1], "-S"))
		serve(argv[2]);
	if (argc < 4) {
		fprintf(stderr, "usage: stream -S PORT | stream HOST PORT N [MS]\n");
		return 2;
	}
	c.host = argv[1];
	c.port = argv[2];
	if ((uint32_t)atoi(argv[3]) > SLOTS)
		die(-EINVAL, "N is at most 4096");
	ep_open(&c.e);
	reconnects = stream(&c, (uint32_t)atoi(argv[3]),
			    argc > 4 ? (unsigned)atoi(argv[4]) : 0,
			    argc > 5 && !strcmp(argv[5], "once"));
	/* once and broken: the target is gone, nothing to verify with */
	checked = reconnects < 0 ? 0 : verify(&c);
	printf("statuses:");
	for (int s = 0; s < 256; s++)
		if (c.status_seen[s])
			printf(" %s x%" PRIu64, genzio_wc_status_str((uint32_t)s),
			       c.status_seen[s]);
	printf("\nevents: LINK_DOWN %" PRIu64 " LINK_UP %" PRIu64 " PEER_DEAD %"
	       PRIu64 " QP_ERR %" PRIu64 "\n", c.events[GENZIO_EVENT_LINK_DOWN],
	       c.events[GENZIO_EVENT_LINK_UP], c.events[GENZIO_EVENT_PEER_DEAD],
	       c.events[GENZIO_EVENT_QP_ERR]);
	printf("%s: %" PRIu64 " written, %" PRIu64 " failed, %d reconnects, %d "
	       "blocks verified at the target\n", checked < 0 ? "FAILED" : "ok",
	       c.ok, c.failed, reconnects < 0 ? 0 : reconnects,
	       checked < 0 ? 0 : checked);
	return checked < 0;
}
