// SPDX-License-Identifier: MIT
/*
 * compat_lat: what <genzio/ibverbs_compat.h> costs. An 8-byte WRITE
 * ping-pong (as ib_write_lat: each side polls the last byte the other
 * wrote) between two processes pinned to two cores, written twice in one
 * program: in genzio's API and in verbs' through the compat header. The
 * two run in alternating rounds of the same run, so the ratio holds on a
 * shared machine where absolute numbers drift.
 *   compat_lat [-n ITERS] [-r ROUNDS] [-c A,B] [--yield]
 * Prints one-way latency (half a round trip, median over the rounds) of
 * each and compat / native. Nothing is asserted: the goal (within 10%) is
 * read off the table.
 */
#include <genzio/ibverbs_compat.h>

#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#define SIGNAL_EVERY 32		/* a completion frees the send queue */
#define WARMUP 1000

static int yield_mode;

static void die(const char *what, int err)
{
	fprintf(stderr, "compat_lat: %s: %s\n", what, strerror(err < 0 ? -err :
							       err));
	exit(1);
}

static void xfer(int fd, void *p, size_t n, int out)
{
	ssize_t r = out ? write(fd, p, n) : read(fd, p, n);

	if (r != (ssize_t)n)
		die("socket", EPIPE);
}

/* Until *@p is @v (the peer's WRITE landed). */
static void wait_for(volatile uint64_t *p, uint64_t v)
{
	for (uint32_t spins = 0; *p != v; spins++)
		if (yield_mode && !(spins & 1023))
			sched_yield();
}

/* ---- native ---- */
static double run_native(int side, int fd, int iters)
{
	struct genzio_context *ctx;
	struct genzio_pd *pd;
	struct genzio_mem *mem;
	struct genzio_mr *mr;
	struct genzio_cq *cq;
	struct genzio_qp *qp;
	struct genzio_cq_attr ca = { .depth = 64 };
	struct genzio_qp_attr qa = { .qp_type = GENZIO_QPT_RC, .sq_depth = 64,
				     .max_send_sge = 1, .max_inline = 8 };
	struct genzio_conn_info me, peer;
	volatile uint64_t *mine;
	uint64_t v, t0 = 0;
	int ret;

	if ((ret = genzio_device_open(NULL, NULL, &ctx)) ||
	    (ret = genzio_pd_alloc(ctx, &pd)) ||
	    (ret = genzio_mem_alloc(ctx, 4096, 0, &mem)) ||
	    (ret = genzio_mr_reg(pd, mem->addr, 4096, GENZIO_ACCESS_LOCAL_WRITE |
				 GENZIO_ACCESS_REMOTE_WRITE, &mr)) ||
	    (ret = genzio_cq_create(ctx, &ca, &cq)))
		die("native setup", ret);
	qa.send_cq = qa.recv_cq = cq;
	if ((ret = genzio_qp_create(pd, &qa, &qp)) ||
	    (ret = genzio_conn_info_init(&me, qp, mr)) ||
	    (ret = genzio_conn_info_exchange(fd, &me, &peer)) ||
	    (ret = genzio_qp_connect(qp, peer.qp_addr, peer.qp_addr_len)))
		die("native connect", ret);
	mine = mem->addr;
	*mine = 0;
	xfer(fd, &v, 1, 1);	/* both connected */
	xfer(fd, &v, 1, 0);
	struct genzio_sge sge = { (uintptr_t)&v, 8, 0 };
	struct genzio_send_wr wr = {
		.sg_list = &sge, .num_sge = 1, .opcode = GENZIO_WR_WRITE,
		.rdma = { peer.addr, peer.rkey },
	}, *bad;
	struct genzio_wc wc;

	for (int i = 1; i <= iters + WARMUP; i++) {
		if (i == WARMUP + 1)
			t0 = gzb_now_ns();
		if (side)
			wait_for(mine, (uint64_t)i);
		v = (uint64_t)i;
		wr.send_flags = GENZIO_SEND_INLINE |
				(i % SIGNAL_EVERY ? 0 : GENZIO_SEND_SIGNALED);
		if ((ret = genzio_post_send(qp, &wr, &bad)))
			die("native post", ret);
		if (!(i % SIGNAL_EVERY))
			while ((ret = genzio_poll_cq(cq, 1, &wc)) == 0)
				;
		if (!side)
			wait_for(mine, (uint64_t)i);
	}
	double ns = (double)(gzb_now_ns() - t0) / (2.0 * iters);

	xfer(fd, &v, 1, 1);	/* the peer is done with our memory */
	xfer(fd, &v, 1, 0);
	if ((ret = genzio_qp_destroy(qp)) || (ret = genzio_cq_destroy(cq)) ||
	    (ret = genzio_mr_dereg(mr)) || (ret = genzio_mem_free(mem)) ||
	    (ret = genzio_pd_free(pd)) || (ret = genzio_device_close(ctx)))
		die("native teardown", ret);
	return ns;
}

/* ---- the same through the compat header ---- */
struct vdest {
	uint32_t lid, qpn, psn, rkey;
	uint64_t addr;
	union ibv_gid gid;
};

static double run_compat(int side, int fd, int iters)
{
	struct ibv_device **list = ibv_get_device_list(NULL);
	struct ibv_context *ctx = list && list[0] ? ibv_open_device(list[0]) :
				  NULL;
	struct ibv_pd *pd = ctx ? ibv_alloc_pd(ctx) : NULL;
	struct ibv_buf *buf = NULL;
	void *p = pd ? ibv_alloc_buf(pd, 4096, &buf) : NULL;
	struct ibv_mr *mr = p ? ibv_reg_buf_mr(pd, buf, p, 4096,
					       IBV_ACCESS_LOCAL_WRITE |
					       IBV_ACCESS_REMOTE_WRITE) : NULL;
	struct ibv_cq *cq = mr ? ibv_create_cq(ctx, 64, NULL, NULL, 0) : NULL;
	struct ibv_qp_init_attr ia = {
		.send_cq = cq, .recv_cq = cq, .qp_type = IBV_QPT_RC,
		.cap = { .max_send_wr = 64, .max_send_sge = 1,
			 .max_inline_data = 8 },
	};
	struct ibv_qp *qp = cq ? ibv_create_qp(pd, &ia) : NULL;
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_INIT, .port_num = 1 };
	struct ibv_port_attr pa;
	struct vdest me = { 0 }, peer;
	volatile uint64_t *mine = p;
	uint64_t v, t0 = 0;

	ibv_free_device_list(list);
	if (!qp || ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
				 IBV_QP_PORT | IBV_QP_ACCESS_FLAGS) ||
	    ibv_query_port(ctx, 1, &pa) || ibv_query_gid(ctx, 1, 0, &me.gid))
		die("compat setup", errno);
	me.lid = pa.lid;
	me.qpn = qp->qp_num;
	me.psn = (uint32_t)(lrand48() & 0xffffff);
	me.addr = (uintptr_t)p;
	me.rkey = mr->rkey;
	xfer(fd, &me, sizeof(me), 1);
	xfer(fd, &peer, sizeof(peer), 0);
	a.qp_state = IBV_QPS_RTR;
	a.path_mtu = IBV_MTU_1024;
	a.dest_qp_num = peer.qpn;
	a.rq_psn = peer.psn;
	a.max_dest_rd_atomic = 1;
	a.min_rnr_timer = 12;
	a.ah_attr.is_global = 1;
	a.ah_attr.dlid = (uint16_t)peer.lid;
	a.ah_attr.grh.dgid = peer.gid;
	a.ah_attr.port_num = 1;
	if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
			  IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
			  IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER))
		die("compat RTR", EINVAL);
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 14;
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.sq_psn = me.psn;
	a.max_rd_atomic = 1;
	if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT |
			  IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN |
			  IBV_QP_MAX_QP_RD_ATOMIC))
		die("compat RTS", EINVAL);
	*mine = 0;
	xfer(fd, &v, 1, 1);
	xfer(fd, &v, 1, 0);
	struct ibv_sge sge = { (uintptr_t)&v, 8, 0 };
	struct ibv_send_wr wr = { .sg_list = &sge, .num_sge = 1,
				  .opcode = IBV_WR_RDMA_WRITE }, *bad;
	struct ibv_wc wc;

	wr.wr.rdma.remote_addr = peer.addr;
	wr.wr.rdma.rkey = peer.rkey;
	for (int i = 1; i <= iters + WARMUP; i++) {
		int ret;

		if (i == WARMUP + 1)
			t0 = gzb_now_ns();
		if (side)
			wait_for(mine, (uint64_t)i);
		v = (uint64_t)i;
		wr.send_flags = IBV_SEND_INLINE |
				(i % SIGNAL_EVERY ? 0 : IBV_SEND_SIGNALED);
		if ((ret = ibv_post_send(qp, &wr, &bad)))
			die("compat post", ret);
		if (!(i % SIGNAL_EVERY))
			while (ibv_poll_cq(cq, 1, &wc) == 0)
				;
		if (!side)
			wait_for(mine, (uint64_t)i);
	}
	double ns = (double)(gzb_now_ns() - t0) / (2.0 * iters);

	xfer(fd, &v, 1, 1);
	xfer(fd, &v, 1, 0);
	if (ibv_destroy_qp(qp) || ibv_destroy_cq(cq) || ibv_dereg_mr(mr))
		die("compat teardown", errno);
	ibv_free_buf(buf);
	if (ibv_dealloc_pd(pd) || ibv_close_device(ctx))
		die("compat teardown", errno);
	return ns;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = { { "yield", 0, NULL, 'y' },
					    { NULL, 0, NULL, 0 } };
	int iters = 20000, rounds = 11, cpu[2] = { 0, 1 }, sv[2], c, st;
	double nat[64], com[64], ratio[64];
	pid_t pid;

	while ((c = getopt_long(argc, argv, "n:r:c:", lo, NULL)) != -1) {
		switch (c) {
		case 'n': iters = atoi(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		case 'c':
			if (sscanf(optarg, "%d,%d", &cpu[0], &cpu[1]) != 2)
				goto usage;
			break;
		case 'y': yield_mode = 1; break;
		default: goto usage;
		}
	}
	if (iters < 1 || rounds < 1 || rounds > 64 || optind != argc)
		goto usage;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		die("socketpair", errno);
	srand48(getpid());
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork", errno);
	gzb_pin(cpu[pid ? 0 : 1]);
	for (int r = 0; r < rounds; r++) {
		/* alternate which goes first: neither gets the warm caches */
		if (r & 1) {
			com[r] = run_compat(!pid, sv[pid ? 0 : 1], iters);
			nat[r] = run_native(!pid, sv[pid ? 0 : 1], iters);
		} else {
			nat[r] = run_native(!pid, sv[pid ? 0 : 1], iters);
			com[r] = run_compat(!pid, sv[pid ? 0 : 1], iters);
		}
	}
	if (!pid)
		_exit(0);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		die("the peer", ECHILD);
	/* each round's pair ran back to back: its ratio is what drifts
	 * least on a shared machine */
	for (int r = 0; r < rounds; r++)
		ratio[r] = com[r] / nat[r];
	qsort(nat, (size_t)rounds, sizeof(*nat), cmp);
	qsort(com, (size_t)rounds, sizeof(*com), cmp);
	qsort(ratio, (size_t)rounds, sizeof(*ratio), cmp);
	double iqr = ratio[rounds * 3 / 4] - ratio[rounds / 4];

	printf("# 8 B WRITE ping-pong, one-way ns, medians of %d rounds of %d "
	       "(cores %d,%d%s)\n", rounds, iters, cpu[0], cpu[1],
	       yield_mode ? ", --yield" : "");
	printf("%-24s %10s %10s %8s %8s\n", "metric", "native", "compat",
	       "c/n", "spread");
	printf("%-24s %10.1f %10.1f %8.3f %7.1f%%\n", "write lat 8 B",
	       nat[rounds / 2], com[rounds / 2], ratio[rounds / 2],
	       100 * iqr / ratio[rounds / 2]);
	printf("# c/n: median of the rounds' ratios; spread: their interquartile "
	       "range\n# goal: c/n <= 1.10 (verbs code through the compat "
	       "header within 10%% of native)\n");
	if (iqr / ratio[rounds / 2] > 0.2)
		printf("# WARNING: the rounds disagree by over 20%%: other work "
		       "shares these cores; take more rounds (-r)\n");
	return 0;
usage:
	fprintf(stderr, "usage: %s [-n ITERS] [-r ROUNDS] [-c A,B] [--yield]\n",
		argv[0]);
	return 2;
}
