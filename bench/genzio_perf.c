// SPDX-License-Identifier: MIT
/*
 * genzio_perf: perftest-style latency and bandwidth of genzio operations
 * between two processes, with baselines measured on the same cores in the
 * same run (cache-line ping-pong, memcpy) and the ratios to them. The
 * peer is forked, or, as perftest's, a server (-S) the client reaches
 * over TCP (HOST, -p PORT).
 *
 *   genzio_perf [-t write|read|fadd|cas|send|fence|all] [-a | -s BYTES]
 *               [-n ITERS] [-w WARMUP] [-c CPU_A,CPU_B] [--lat | --bw]
 *               [--p2c] [--rt] [--json | --csv] [--big] [-d DEVICE]
 *               [--yield] [-S | HOST] [-p PORT]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <genzio/genzio.h>
#include <genzio/rt.h>

#include "common.h"
#include "rendezvous.h"

enum test { T_WRITE, T_READ, T_FADD, T_CAS, T_SEND, T_FENCE, T_MAX };
static const char *const names[T_MAX] = { "write", "read", "fadd",
					  "cas", "send", "fence" };

enum { CMD_LAT = 1, CMD_RECV = 2, CMD_QUIT = 3 };
struct cmd {
	uint32_t op, test;
	uint64_t size, iters;
};

struct opts {
	uint32_t tests;		/* bit per enum test */
	int lat, bw, rt, big, p2c;
	enum gzb_fmt fmt;
	int n_given;		/* -n asked: fewer samples if it says so */
	int serve, port;	/* -S, -p: client/server mode */
	const char *host;	/* the server to reach, or NULL: fork */
	int yield;		/* --yield: waits give the core away */
	const char *csv_out;	/* --csv-out FILE: the rows as CSV too */
	uint64_t warmup;
	uint32_t peers, mrs;	/* scale: extra components and regions */
	uint32_t sig;		/* bandwidth: a completion every sig-th */
	size_t size;		/* 0: -a */
	uint64_t iters;
	int cpu[2];
	const char *dev;
};

struct ep {
	struct genzio_context *ctx;
	struct genzio_pd *pd;
	struct genzio_cq *cq;
	struct genzio_qp *qp;
	struct genzio_mem *mem;
	struct genzio_mr *mr;
	struct genzio_conn_info me, peer;
	uint8_t *buf;		/* [0, half): peers write here; then ours */
	size_t half;
	struct genzio_send_wr wr[2];	/* prepared by prepare() */
	struct genzio_send_wr *last;
	struct genzio_sge sge;
	uint64_t *seqp;
	enum test test;
};

#define RQ 1024

static void die(int ret, const char *what)
{
	if (ret) {
		fprintf(stderr, "genzio_perf: %s: %s\n", what, strerror(-ret));
		exit(1);
	}
}

static void ep_open(struct ep *e, const char *dev, size_t max)
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

static void ep_close(struct ep *e)
{
	die(genzio_mr_dereg(e->mr), "mr_dereg");
	die(genzio_mem_free(e->mem), "mem_free");
	die(genzio_qp_destroy(e->qp), "qp_destroy");
	die(genzio_cq_destroy(e->cq), "cq_destroy");
	die(genzio_pd_free(e->pd), "pd_free");
	die(genzio_device_close(e->ctx), "device_close");
}

/* Receives land in the first half (all in one buffer: only timing counts). */
static void post_recvs(struct ep *e, int n)
{
	struct genzio_sge sge = { (uintptr_t)e->buf,
				  (uint32_t)(e->half - 4096), e->mr->lkey };
	struct genzio_recv_wr wr = { .sg_list = &sge, .num_sge = 1 }, *bad;

	for (int i = 0; i < n; i++)
		die(genzio_post_recv(e->qp, &wr, &bad), "post_recv");
}

/* Fill the receive queue the first time sends are measured; each
 * receive consumed is reposted at once, so it stays full. */
static void recvs_once(struct ep *e)
{
	static int done;

	if (!done)
		post_recvs(e, RQ);
	done = 1;
}

/* Build the request(s) of @t once per run: the timed loops only patch
 * the sequence number and the signaled flag, as a real poller would. */
static void prepare(struct ep *e, enum test t, size_t size)
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

/* Post the prepared request(s) carrying @seq; unsignaled unless @sig. */
static inline void post(struct ep *e, uint64_t seq, int sig)
{
	struct genzio_send_wr *next = e->wr, *bad, *last = e->last;
	int ret;

	/* the last 8 bytes carry the sequence number the peer waits for */
	*e->seqp = seq;
	if (e->test == T_CAS) {
		e->wr[0].atomic.operand = seq;
		e->wr[0].atomic.compare = seq - 1;
	}
	last->send_flags = sig ? last->send_flags | GENZIO_SEND_SIGNALED :
				 last->send_flags & ~GENZIO_SEND_SIGNALED;
	/* -EAGAIN: the requests before *bad are posted; resume at it */
	while ((ret = genzio_post_send(e->qp, next, &bad)) == -EAGAIN) {
		struct genzio_wc wc[64];

		next = bad;
		die(genzio_poll_cq(e->cq, 64, wc) < 0 ? -EIO : 0, "poll_cq");
	}
	if (GENZIO_UNLIKELY(ret))
		die(ret, "post_send");
}

/* Wait for the peer's request number @seq to land here. */
static void wait_seq(struct ep *e, enum test t, size_t size, uint64_t seq)
{
	if (t == T_SEND) {
		struct genzio_wc wc;
		int n;

		uint64_t spins = 0, since = 0;

		while (!(n = genzio_poll_cq(e->cq, 1, &wc)) ||
		       wc.opcode != GENZIO_WC_RECV) {
			die(n < 0 ? n : 0, "poll_cq");
			gzb_spin(&spins, &since);
		}
		die(wc.status ? -EIO : 0, genzio_wc_status_str(wc.status));
		post_recvs(e, 1);
		return;
	}
	volatile uint64_t *p = (volatile uint64_t *)
		(e->buf + (t == T_FENCE ? 64 : t == T_WRITE ? size - 8 : 0));
	uint64_t spins = 0, since = 0;

	while (*p != seq)
		gzb_spin(&spins, &since);
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

static double oneway_ns(struct ep *e, enum test t, size_t size,
			uint64_t iters, uint64_t warm, int p2c, int fd,
			struct gzb_lat *lat)
{
	uint32_t batch = gzb_batch(size);
	size_t nb = iters / batch, k = 0;
	/* the peer answers exactly as many as we send: whole batches */
	struct cmd c = { CMD_LAT, t, size,
			 t == T_READ || p2c ? 0 : nb * batch + warm };
	double *s = calloc(nb ? nb : 1, sizeof(*s));
	uint64_t seq = 0;
	char ack;

	memset(e->buf, 0, size + 128 < e->half ? size + 128 : e->half);
	if (t == T_SEND)
		recvs_once(e);
	if (gzb_write_full(fd, &c, sizeof(c)) || gzb_read_full(fd, &ack, 1))
		die(-EPIPE, "peer");
	prepare(e, t, size);
	/* warm-up: the same loop, untimed (caches, TLB, the peer's key) */
	for (uint64_t w = 0; w < warm && t != T_READ && !p2c; w++) {
		post(e, ++seq, 0);
		wait_seq(e, t, size, seq);
	}
	if (t == T_READ || p2c) {
		/* one-sided: post-to-completion of each request */
		for (; k < nb; k++) {
			uint64_t t0 = gzb_now_ns();

			for (uint32_t j = 0; j < batch; j++) {
				struct genzio_wc wc;

				uint64_t spins = 0, since = 0;

				post(e, ++seq, 1);
				while (!genzio_poll_cq(e->cq, 1, &wc))
					gzb_spin(&spins, &since);
				die(wc.status ? -EIO : 0,
				    genzio_wc_status_str(wc.status));
			}
			s[k] = (double)(gzb_now_ns() - t0) / batch;
		}
	} else {
		for (; k < nb; k++) {
			uint64_t t0 = gzb_now_ns();

			for (uint32_t j = 0; j < batch; j++) {
				post(e, ++seq, 0);
				wait_seq(e, t, size, seq);
			}
			s[k] = (double)(gzb_now_ns() - t0) / (2.0 * batch);
		}
	}
	if (gzb_read_full(fd, &ack, 1))
		die(-EPIPE, "peer");
	gzb_lat_stats(s, nb, lat);
	free(s);
	return lat->median;
}

static void bandwidth(struct ep *e, enum test t, size_t size, uint64_t n,
		      uint32_t sig, int fd, double *gbps, double *mpps)
{
	struct cmd c = { CMD_RECV, t, size, n };
	struct genzio_wc wc[64];
	uint64_t t0, ns;
	char ack;

	if (t == T_SEND &&
	    (gzb_write_full(fd, &c, sizeof(c)) || gzb_read_full(fd, &ack, 1)))
		die(-EPIPE, "peer");
	prepare(e, t, size);
	t0 = gzb_now_ns();
	for (uint64_t i = 1; i <= n; i++) {
		/* a completion every sig-th (16: what lifts the rate) */
		post(e, i, i % sig == 0);
		if (i % sig == 0)
			die(genzio_poll_cq(e->cq, 64, wc) < 0 ? -EIO : 0, "poll");
	}
	while (genzio_poll_cq(e->cq, 64, wc) > 0)
		;
	if (t == T_SEND && gzb_read_full(fd, &ack, 1))
		die(-EPIPE, "peer");
	ns = gzb_now_ns() - t0;
	*gbps = gzb_gbps(n * size, ns);
	*mpps = gzb_mmsgs(n, ns);
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
static void scale_initiator(struct ep *e, const struct opts *o, int fd)
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
static int peer_main(int fd, const struct opts *o, size_t max)
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

/*
 * Round trips of a cache-line baseline: @times what a row gets (-n), at
 * most @cap (with the default -n: 200000 first, 20000 before each row).
 * A fixed count made -n 16 runs on cores another job shares take over
 * ten minutes: each round trip may cost a scheduler slice there.
 */
static int line_iters(const struct opts *o, uint64_t times, int cap)
{
	uint64_t n;

	if (o->iters >= (uint64_t)cap / times)
		return cap;
	n = o->iters * times;
	return n < 640 ? 640 : (int)n;
}

static uint64_t iters_for(const struct opts *o, size_t size, int bw)
{
	uint64_t n = o->iters * 100, cap = (4ull << 30) / size;

	if (!bw)
		return gzb_lat_iters(o->iters, o->n_given, size);
	if (n > cap)
		n = cap;
	return n < 64 ? 64 : n;
}

/* Usage on stderr (exit 2), after @why if there is one; -h: stdout, 0. */
static void usage_why(const char *why)
{
	FILE *f = why ? stderr : stdout;

	if (why && *why)
		fprintf(stderr, "genzio_perf: %s\n", why);
	fprintf(f,
		"usage: genzio_perf [-t write|read|fadd|cas|send|fence|all] "
		"[-a | -s BYTES]\n"
		"       [-n ITERS] [-w WARMUP] [-c CPU_A,CPU_B] [--lat | --bw] "
		"[--p2c]\n"
		"       [--rt] [--json | --csv] [--big] [-d DEVICE] [--yield]\n"
		"       [-S | HOST] [-p PORT] [--csv-out FILE]\n"
		"  -S: serve (wait on -p PORT, default 18515, for one client);\n"
		"  HOST: connect to the server there (as perftest); neither:\n"
		"  fork the peer\n"
		"  --yield: waits give the core away (cores shared with other\n"
		"  work)\n"
		"  --p2c: latency from post to completion instead of ping-pong\n"
		"  --peers N --mrs N: the target has N-1 more components "
		"connected and N more regions\n"
		"  --sig N: bandwidth rows request a completion every N-th "
		"(default 16)\n"
		"  --big: add 256 MiB (past the last-level cache) to -a\n"
		"  man 1 genzio_perf: every column and how it is computed\n");
	exit(why ? 2 : 0);
}

static void usage(void)
{
	usage_why("");
}

static void parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "lat", no_argument, NULL, 'L' },
		{ "bw", no_argument, NULL, 'B' },
		{ "rt", no_argument, NULL, 'R' },
		{ "json", no_argument, NULL, 'J' },
		{ "csv", no_argument, NULL, 'C' },
		{ "yield", no_argument, NULL, 'Y' },
		{ "csv-out", required_argument, NULL, 'O' },
		{ "big", no_argument, NULL, 'G' },
		{ "p2c", no_argument, NULL, 'P' },
		{ "peers", required_argument, NULL, 'E' },
		{ "mrs", required_argument, NULL, 'M' },
		{ "sig", required_argument, NULL, 'Q' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	*o = (struct opts){ .tests = 1u << T_WRITE, .iters = 20000,
			    .warmup = 1000, .sig = 16, .cpu = { 0, 1 },
			    .port = 18515 };
	opterr = 0;	/* our message, not one naming the libtool wrapper */
	while ((ch = getopt_long(argc, argv, "t:as:n:w:c:d:Sp:h", lo, NULL)) !=
	       -1) {
		switch (ch) {
		case 't':
			o->tests = 0;
			for (int i = 0; i < T_MAX; i++)
				if (!strcmp(optarg, names[i]) ||
				    !strcmp(optarg, "all"))
					o->tests |= 1u << i;
			if (!o->tests)
				usage();
			break;
		case 'a':
			o->size = 0;
			break;
		case 's':
			o->size = strtoull(optarg, NULL, 0);
			if (o->size < 8 || o->size > (1ull << 30))
				usage_why("-s: 8 bytes to 1 GiB");
			break;
		case 'n':
			o->iters = strtoull(optarg, NULL, 0);
			o->n_given = 1;
			break;
		case 'w':
			o->warmup = strtoull(optarg, NULL, 0);
			break;
		case 'P':
			o->p2c = 1;
			break;
		case 'E':
			o->peers = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'M':
			o->mrs = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'Q':
			o->sig = (uint32_t)strtoul(optarg, NULL, 0);
			if (!o->sig)
				usage();
			break;
		case 'c':
			if (sscanf(optarg, "%d,%d", &o->cpu[0], &o->cpu[1]) != 2)
				usage();
			break;
		case 'd':
			o->dev = optarg;
			break;
		case 'L':
			o->lat = 1;
			break;
		case 'B':
			o->bw = 1;
			break;
		case 'R':
			o->rt = 1;
			break;
		case 'J':
			o->fmt = GZB_JSON;
			break;
		case 'C':
			o->fmt = GZB_CSV;
			break;
		case 'Y':
			o->yield = 1;
			break;
		case 'O':
			o->csv_out = optarg;
			break;
		case 'S':
			o->serve = 1;
			break;
		case 'p':
			o->port = (int)strtol(optarg, NULL, 0);
			if (o->port <= 0 || o->port > 65535)
				usage_why("-p: a TCP port, 1 to 65535");
			break;
		case 'G':
			o->big = 1;
			break;
		case 'h':
			usage_why(NULL);
			break;
		default:
			usage_why(optopt ? "an unknown option, or one without its "
					   "argument" :
					   "an unknown option");
		}
	}
	if (optind < argc)
		o->host = argv[optind++];
	if (optind < argc)
		usage_why("one HOST at most");
	if (o->host && o->serve)
		usage_why("-S serves; HOST connects: not both");
	/* one core for both: every round trip would cost a scheduler slice
	 * (the baseline's 200000 of them take hours) */
	if (o->cpu[0] == o->cpu[1] && !o->yield) {
		fprintf(stderr, "# genzio_perf: -c %d,%d puts both sides on one "
			"core: --yield\n", o->cpu[0], o->cpu[1]);
		o->yield = 1;
	}
	if (!o->lat && !o->bw)
		o->lat = o->bw = 1;
}

/* --rt: idle-sibling cores from hwloc, pinned, SCHED_FIFO, mlocked. */
static void rt_pick(struct opts *o)
{
	struct genzio_rt_topo *topo;
	uint32_t cpus[2];

	die(genzio_rt_topo_load(NULL, NULL, &topo), "rt_topo_load");
	die(genzio_rt_cores_pick(topo, -1, NULL, 0, 2, cpus), "rt_cores_pick");
	o->cpu[0] = (int)cpus[0];
	o->cpu[1] = (int)cpus[1];
	genzio_rt_topo_free(topo);
}

static void rt_apply(const struct opts *o, int side)
{
	struct genzio_rt_report rep;
	uint32_t steps = GENZIO_RT_PIN | GENZIO_RT_FIFO | GENZIO_RT_CORE_SCHED;
	struct rlimit rl;

	/* mlockall(MCL_FUTURE) under a finite RLIMIT_MEMLOCK makes every
	 * later mapping (data space, queues, baselines) fail once the
	 * limit is reached: lock memory only when nothing limits it. */
	if (!getrlimit(RLIMIT_MEMLOCK, &rl) && rl.rlim_cur == RLIM_INFINITY)
		steps |= GENZIO_RT_MLOCK;
	else if (!side)
		fprintf(stderr, "# --rt: mlockall skipped: RLIMIT_MEMLOCK is "
			"%llu KiB (ulimit -l unlimited to lock)\n",
			(unsigned long long)rl.rlim_cur >> 10);

	die(genzio_rt_thread_setup((uint32_t)o->cpu[side], 50, steps,
				   GENZIO_RT_PIN, &rep), "rt_thread_setup");
	for (int i = 0; i < GENZIO_RT_STEPS && !side; i++)
		if (rep.failed & (1u << i))
			fprintf(stderr, "# --rt: %s not applied: %s\n",
				genzio_rt_step_str(1u << i), strerror(-rep.err[i]));
}

/* What a client tells a server (-S) before anything else. */
struct hello {
	uint32_t magic, version;
	uint64_t max;			/* the largest size it will use */
	uint32_t peers, mrs;		/* --peers, --mrs */
	int32_t cpu;			/* the core the server takes: the
					 * client's -c B, the pair its
					 * baselines were measured on */
	uint32_t pad;
};
#define HELLO_MAGIC 0x677a7066u	/* "gzpf" */

/* -S: wait for one client on -p, then be its peer. */
static int serve_main(struct opts *o)
{
	struct hello h;
	int fd;

	fprintf(stderr, "# genzio_perf: waiting for a client on port %d\n",
		o->port);
	fd = gzb_serve(o->port);
	die(fd < 0 ? fd : 0, "listen/accept");
	fprintf(stderr, "# genzio_perf: a client connected\n");
	die(gzb_read_full(fd, &h, sizeof(h)), "hello");
	if (h.magic != HELLO_MAGIC || h.version != 1) {
		fprintf(stderr, "genzio_perf: the client is not a genzio_perf of "
			"this version\n");
		return 1;
	}
	if (h.max < 8 || h.max > (1ull << 30)) {
		fprintf(stderr, "genzio_perf: the client asks for %llu bytes\n",
			(unsigned long long)h.max);
		return 1;
	}
	o->peers = h.peers;
	o->mrs = h.mrs;
	o->cpu[1] = h.cpu;
	if (o->rt)
		rt_apply(o, 1);
	gzb_ctl_fd = fd;
	return peer_main(fd, o, h.max);
}

/* The initiator's side of a run, over @fd to the peer: every row. */
static int run(const struct opts *o, int fd, const size_t *sizes,
	       size_t nsizes, size_t max, double line)
{
	size_t llc = gzb_llc_bytes();
	struct cmd q = { CMD_QUIT, 0, 0, 0 };
	FILE *csv = NULL;
	struct ep e;
	int first = 1;

	if (o->csv_out && !(csv = fopen(o->csv_out, "w")))
		die(-errno, o->csv_out);
	if (csv)
		gzb_print_header(csv, GZB_CSV, 0);

	die(gzb_pin(o->cpu[0]) ? -errno : 0, "pin to the first -c core");
	if (o->rt)
		rt_apply(o, 0);
	ep_open(&e, o->dev, max);
	die(genzio_conn_info_exchange(fd, &e.me, &e.peer), "exchange");
	die(genzio_qp_connect(e.qp, e.peer.qp_addr, e.peer.qp_addr_len),
	    "qp_connect");
	scale_initiator(&e, o, fd);
	if (o->fmt == GZB_TABLE)
		printf("# genzio_perf: cores %d,%d; cache-line one-way %.1f ns "
		       "before all rows (the latency limit); each row's ratio is "
		       "to its own line[ns], measured right before it, or "
		       "memcpy, right after it%s%s\n",
		       o->cpu[0], o->cpu[1], line,
		       o->peers || o->mrs ? "; scale: --peers/--mrs in effect" :
					    "",
		       o->host ? "; peer: a server over TCP" : "");
	for (int bw = 0; bw < 2; bw++) {
		if (!(bw ? o->bw : o->lat))
			continue;
		if (o->fmt == GZB_TABLE || first)
			gzb_print_header(stdout, o->fmt, bw);
		for (int t = 0; t < T_MAX; t++) {
			char name[16];

			if (!(o->tests & (1u << t)))
				continue;
			/* sends need the peer's receives reposted: ping-pong */
			int p2c = o->p2c && t != T_SEND;

			snprintf(name, sizeof(name), "%s_%s", names[t],
				 bw ? "bw" : p2c ? "p2c" : "lat");
			for (size_t i = 0; i < nsizes; i++) {
				size_t sz = sizes[i];
				struct gzb_row r = { .test = name, .bytes = sz };

				/* atomics, fences: 8 bytes; sends: a receive of
				 * at most 1 MiB; latency up to 8 MiB */
				const char *skip =
					(t == T_FADD || t == T_CAS ||
					 t == T_FENCE) && sz != 8 ?
						"8 bytes only" :
					t == T_SEND && sz > 1u << 20 ?
						"1 MiB at most" :
					!bw && sz > (8u << 20) ?
						"latency up to 8 MiB" : NULL;

				if (skip) {
					if (o->size)
						fprintf(stderr, "# genzio_perf: "
							"%s at %zu B skipped: "
							"%s\n", name, sz, skip);
					continue;
				}
				r.iters = iters_for(o, sz, bw);
				if (bw) {
					bandwidth(&e, (enum test)t, sz, r.iters,
						  o->sig, fd, &r.gbps,
						  &r.mmsgs);
					/* source and destination, each
					 * reused by every request */
					r.footprint = 2 * sz;
					r.in_llc = !llc ? -1 : r.footprint <= llc;
					r.base = gzb_memcpy_gbps(
						sz, sz > (64u << 20) ? 5 : 50);
					r.ratio = r.gbps / r.base;
				} else {
					/* the baseline again, right before:
					 * cross-core latency drifts here */
					r.base = gzb_cacheline_oneway_ns(
						o->cpu[0], o->cpu[1],
						line_iters(o, 1, 20000));
					oneway_ns(&e, (enum test)t, sz, r.iters,
						  o->warmup, p2c, fd, &r.lat);
					r.samples = r.iters / gzb_batch(sz);
					r.ratio = r.lat.median / r.base;
				}
				gzb_print_row(stdout, o->fmt, bw, &r, first);
				if (csv)
					gzb_print_row(csv, GZB_CSV, bw, &r, 0);
				first = 0;
			}
		}
		if (o->fmt == GZB_TABLE)
			printf("\n");
	}
	gzb_print_footer(stdout, o->fmt);
	if (csv && fclose(csv))
		die(-errno, o->csv_out);
	if (gzb_write_full(fd, &q, sizeof(q)))
		return 1;
	ep_close(&e);
	return 0;
}

int main(int argc, char **argv)
{
	static const size_t all[] = { 8, 64, 256, 1024, 4096, 16384, 65536,
				      262144, 1u << 20, 4u << 20, 8u << 20 };
	size_t sizes[16], nsizes = 0, max = 0;
	struct opts o;
	int sv[2], st, ret;
	double line;
	pid_t pid = 0;

	parse(argc, argv, &o);
	gzb_yield = o.yield;
	if (!o.yield)
		gzb_oversubscribed();
	if (o.rt)
		rt_pick(&o);
	if (o.serve)
		return serve_main(&o);
	if (o.size)
		sizes[nsizes++] = o.size;
	else
		for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
			sizes[nsizes++] = all[i];
	if (o.big && !o.size)
		sizes[nsizes++] = 256u << 20;
	for (size_t i = 0; i < nsizes; i++)
		max = sizes[i] > max ? sizes[i] : max;
	/* baseline first, on the same two cores, before anything else runs */
	line = gzb_cacheline_oneway_ns(o.cpu[0], o.cpu[1],
				       line_iters(&o, 10, 200000));
	if (o.host) {
		struct hello h = { HELLO_MAGIC, 1, max, o.peers, o.mrs,
				   o.cpu[1], 0 };

		sv[0] = gzb_dial(o.host, o.port, 5000);
		if (sv[0] < 0) {
			fprintf(stderr, "genzio_perf: %s port %d: %s\n", o.host,
				o.port, sv[0] == -ENOENT ? "no such host" :
				strerror(-sv[0]));
			return 1;
		}
		die(gzb_write_full(sv[0], &h, sizeof(h)), "hello");
	} else {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
			return 1;
		pid = fork();
		if (pid < 0)
			return 1;
		if (!pid) {
			close(sv[0]);
			if (o.rt)
				rt_apply(&o, 1);
			gzb_ctl_fd = sv[1];
			_exit(peer_main(sv[1], &o, max));
		}
		close(sv[1]);
	}
	gzb_ctl_fd = sv[0];
	ret = run(&o, sv[0], sizes, nsizes, max, line);
	close(sv[0]);
	if (pid && (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st)))
		return 1;
	return ret;
}
