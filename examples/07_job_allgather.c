// SPDX-License-Identifier: MIT
/*
 * 07_job_allgather: a job of N processes, every one talking to every
 * other: each WRITEs into and READs back from every peer's memory, adds
 * to every peer's counter, and SENDs every peer a message, then checks
 * what the others left in its own memory. The same binary runs on one
 * host (shm) or across hosts (verbs).
 *
 * How the peers meet is the launcher's business. An MPI job allgathers
 * each rank's genzio_conn_info for every peer:
 *     MPI_Allgather(mine, n * sizeof(*mine), MPI_BYTE,
 *                   all, n * sizeof(*mine), MPI_BYTE, MPI_COMM_WORLD);
 * (a PMIx job puts the same bytes under its rank and gets the others'
 * after a fence). This example does the allgather itself over TCP, with
 * rank 0 as the hub, so it needs no MPI:
 *     GZ_JOB_ROOT=host:port GZ_JOB_RANK=r GZ_JOB_SIZE=n 07_job_allgather
 * With no GZ_JOB_ROOT it forks a job of 4 on this host. The structs are
 * sent as bytes: every rank must be the same build on the same
 * architecture, as with MPI_BYTE.
 *   cc 07_job_allgather.c $(pkg-config --cflags --libs genzio)
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <genzio/genzio.h>

#include "oob.h"

#define MAXN 64
#define SLOT 64			/* bytes each peer writes into our memory */

static void ok(int ret, const char *what)
{
	if (ret) {
		fprintf(stderr, "%s: %s\n", what, strerror(ret < 0 ? -ret : ret));
		exit(1);
	}
}

/* The bytes rank @from leaves at rank @to. */
static void pattern(uint8_t *p, int from, int to)
{
	for (int i = 0; i < SLOT; i++)
		p[i] = (uint8_t)(from * 31 + to * 7 + i);
}

/*
 * Allgather through rank 0: each rank sends its @len bytes, rank 0 sends
 * everyone's back, in rank order, into @all (n * @len bytes). Rank 0
 * keeps its listening socket in *@hub for the next round.
 */
static void allgather(int rank, int n, const char *root, int *hub,
		      const void *mine, size_t len, void *all)
{
	static int peer[MAXN];
	char host[256], *port;

	snprintf(host, sizeof(host), "%s", root);
	port = strrchr(host, ':');
	ok(port ? 0 : -EINVAL, "GZ_JOB_ROOT is host:port");
	*port++ = 0;
	memcpy((char *)all + (size_t)rank * len, mine, len);
	if (rank) {
		int fd = oob_dial(host, port);

		ok(fd < 0 || oob_xfer(fd, &rank, sizeof(rank), 1) ||
		   oob_xfer(fd, (void *)mine, len, 1) ||
		   oob_xfer(fd, all, (size_t)n * len, 0) ? -EIO : 0,
		   "allgather");
		close(fd);
		return;
	}
	if (*hub < 0)
		*hub = oob_listener(port, n);
	ok(*hub < 0 ? -EADDRINUSE : 0, "allgather: listen");
	for (int i = 1; i < n; i++) {
		int fd = accept(*hub, NULL, NULL), r = 0;

		ok(fd < 0 || oob_xfer(fd, &r, sizeof(r), 0) || r <= 0 || r >= n ||
		   oob_xfer(fd, (char *)all + (size_t)r * len, len, 0) ?
		   -EIO : 0, "allgather: a rank");
		peer[r] = fd;
	}
	for (int r = 1; r < n; r++) {
		ok(oob_xfer(peer[r], all, (size_t)n * len, 1) ? -EIO : 0,
		   "allgather: send");
		close(peer[r]);
	}
}

struct job {
	int rank, n, hub;
	const char *root;
	struct genzio_context *ctx;
	struct genzio_pd *pd;
	struct genzio_cq *scq, *rcq;	/* ours, and peers' messages */
	struct genzio_qp *qp[MAXN];
	struct genzio_mem *mem;
	struct genzio_mr *mr;
	uint8_t *base;		/* [0, n*SLOT): written by peers;
				 * then the counter; then receive slots;
				 * then our scratch */
};

#define COUNTER(j) ((j)->n * SLOT)
#define RECV(j, i) (COUNTER(j) + 64 + (i) * SLOT)
#define SCRATCH(j) (RECV(j, (j)->n))

/* Post @wr (signaled) and wait for its completion. */
static void run_one(struct job *j, int to, struct genzio_send_wr *wr)
{
	struct genzio_send_wr *bad;
	struct genzio_wc wc;
	int n;

	wr->send_flags |= GENZIO_SEND_SIGNALED;
	ok(genzio_post_send(j->qp[to], wr, &bad), "post_send");
	while (!(n = genzio_poll_cq(j->scq, 1, &wc)))
		;
	ok(n < 0 ? n : 0, "poll_cq");
	if (wc.status) {
		fprintf(stderr, "rank %d -> %d: %s\n", j->rank, to,
			genzio_wc_status_str(wc.status));
		exit(1);
	}
}

static void setup(struct job *j)
{
	struct genzio_cq_attr ca = { .depth = 4 * MAXN };
	struct genzio_qp_attr qa = { .qp_type = GENZIO_QPT_RC, .sq_depth = 8,
				     .rq_depth = 8, .max_send_sge = 1,
				     .max_recv_sge = 1 };
	struct genzio_device_attr da;

	ok(genzio_device_open(NULL, NULL, &j->ctx), "device_open");
	ok(genzio_device_query(j->ctx, &da), "device_query");
	if (!(da.caps & GENZIO_CAP_MSG) ||
	    !(da.atomic_ops64 & GENZIO_ATOMIC_OP(GENZIO_WR_ATOMIC_FADD))) {
		printf("skipped: %s lacks messages or 64-bit fetch-and-add\n",
		       da.name);
		exit(77);
	}
	ok(genzio_pd_alloc(j->ctx, &j->pd), "pd_alloc");
	ok(genzio_cq_create(j->ctx, &ca, &j->scq), "cq_create");
	ok(genzio_cq_create(j->ctx, &ca, &j->rcq), "cq_create");
	qa.send_cq = j->scq;
	qa.recv_cq = j->rcq;
	for (int i = 0; i < j->n; i++)
		if (i != j->rank)
			ok(genzio_qp_create(j->pd, &qa, &j->qp[i]), "qp_create");
	ok(genzio_mem_alloc(j->ctx, 65536, 0, &j->mem), "mem_alloc");
	j->base = j->mem->addr;
	ok(genzio_mr_reg(j->pd, j->base, j->mem->length,
			 GENZIO_ACCESS_LOCAL_WRITE | GENZIO_ACCESS_REMOTE_WRITE |
			 GENZIO_ACCESS_REMOTE_READ | GENZIO_ACCESS_REMOTE_ATOMIC,
			 &j->mr), "mr_reg");
}

/* Everyone's conn info for everyone; connect our queue pair to i with
 * i's for us. */
static void connect_all(struct job *j, struct genzio_conn_info *all)
{
	struct genzio_conn_info mine[MAXN] = { 0 };

	for (int i = 0; i < j->n; i++)
		if (i != j->rank)
			ok(genzio_conn_info_init(&mine[i], j->qp[i], j->mr),
			   "conn_info_init");
	allgather(j->rank, j->n, j->root, &j->hub, mine, sizeof(mine), all);
	for (int i = 0; i < j->n; i++) {
		const struct genzio_conn_info *c = &all[i * MAXN + j->rank];
		struct genzio_sge s = { (uintptr_t)j->base + RECV(j, i), SLOT,
					j->mr->lkey };
		struct genzio_recv_wr r = { .wr_id = (uint64_t)i,
					    .sg_list = &s, .num_sge = 1 }, *bad;

		if (i == j->rank)
			continue;
		ok(genzio_qp_connect(j->qp[i], c->qp_addr, c->qp_addr_len),
		   "qp_connect");
		ok(genzio_post_recv(j->qp[i], &r, &bad), "post_recv");
	}
}

static void barrier(struct job *j)
{
	static int all[MAXN];

	allgather(j->rank, j->n, j->root, &j->hub, &j->rank, sizeof(int), all);
}

/* To every peer: WRITE our pattern, READ it back, FADD 1, SEND. */
static void talk(struct job *j, const struct genzio_conn_info *all)
{
	uint8_t *scratch = j->base + SCRATCH(j);

	for (int i = 0; i < j->n; i++) {
		const struct genzio_conn_info *c = &all[i * MAXN + j->rank];
		struct genzio_sge s = { (uintptr_t)scratch, SLOT, j->mr->lkey };
		struct genzio_send_wr wr = { .sg_list = &s, .num_sge = 1 };
		uint8_t want[SLOT];

		if (i == j->rank)
			continue;
		pattern(scratch, j->rank, i);
		memcpy(want, scratch, SLOT);
		wr.opcode = GENZIO_WR_WRITE;
		wr.rdma.remote_addr = c->addr + (uint64_t)j->rank * SLOT;
		wr.rdma.rkey = c->rkey;
		run_one(j, i, &wr);
		memset(scratch, 0, SLOT);
		wr.opcode = GENZIO_WR_READ;
		run_one(j, i, &wr);
		ok(memcmp(scratch, want, SLOT) ? -EIO : 0, "read back");
		wr.opcode = GENZIO_WR_ATOMIC_FADD;
		wr.num_sge = 0;
		wr.atomic.remote_addr = c->addr + (uint64_t)COUNTER(j);
		wr.atomic.rkey = c->rkey;
		wr.atomic.size = 8;
		wr.atomic.operand = 1;
		run_one(j, i, &wr);
		wr = (struct genzio_send_wr){ .sg_list = &s, .num_sge = 1,
					      .opcode = GENZIO_WR_SEND };
		memcpy(scratch, want, SLOT);
		run_one(j, i, &wr);
	}
}

/* Every peer's message came, and every peer's bytes and add are here. */
static int check(struct job *j)
{
	uint8_t want[SLOT];
	int bad = 0, got = 0;

	while (got < j->n - 1) {
		struct genzio_wc wc;
		int n = genzio_poll_cq(j->rcq, 1, &wc);

		ok(n < 0 ? n : 0, "poll_cq");
		if (!n)
			continue;
		ok(wc.status ? -EIO : 0, genzio_wc_status_str(wc.status));
		ok(wc.opcode != GENZIO_WC_RECV || wc.wr_id >= (uint64_t)j->n ?
		   -EPROTO : 0, "a receive");
		pattern(want, (int)wc.wr_id, j->rank);
		bad += wc.byte_len != SLOT ||
		       memcmp(j->base + RECV(j, (int)wc.wr_id), want, SLOT);
		got++;
	}
	for (int i = 0; i < j->n; i++) {
		if (i == j->rank)
			continue;
		pattern(want, i, j->rank);
		bad += !!memcmp(j->base + (size_t)i * SLOT, want, SLOT);
	}
	bad += *(volatile uint64_t *)(j->base + COUNTER(j)) !=
	       (uint64_t)(j->n - 1);
	return bad;
}

static int rank_main(int rank, int n, const char *root)
{
	static struct genzio_conn_info all[MAXN * MAXN];
	struct genzio_device_attr da;
	struct job j = { .rank = rank, .n = n, .hub = -1, .root = root };
	int bad;

	setup(&j);
	connect_all(&j, all);
	barrier(&j);		/* every receive is posted */
	talk(&j, all);
	barrier(&j);		/* everyone has talked to everyone */
	bad = check(&j);
	ok(genzio_device_query(j.ctx, &da), "device_query");
	printf("rank %d/%d (%s, GCID %#x): write, read, fadd, send to %d "
	       "peers: %s\n", rank, n, da.name, da.gcid, n - 1,
	       bad ? "FAILED" : "ok");
	ok(genzio_mr_dereg(j.mr), "mr_dereg");
	ok(genzio_mem_free(j.mem), "mem_free");
	for (int i = 0; i < n; i++)
		if (i != rank)
			ok(genzio_qp_destroy(j.qp[i]), "qp_destroy");
	ok(genzio_cq_destroy(j.scq), "cq_destroy");
	ok(genzio_cq_destroy(j.rcq), "cq_destroy");
	ok(genzio_pd_free(j.pd), "pd_free");
	ok(genzio_device_close(j.ctx), "device_close");
	if (j.hub >= 0)
		close(j.hub);
	return bad ? 1 : 0;
}

int main(void)
{
	const char *root = getenv("GZ_JOB_ROOT");
	char local[64];
	pid_t pid[4];
	int failed = 0, st;

	if (root) {
		int rank = atoi(getenv("GZ_JOB_RANK") ? getenv("GZ_JOB_RANK") :
			       "0");
		int n = atoi(getenv("GZ_JOB_SIZE") ? getenv("GZ_JOB_SIZE") : "0");

		if (n < 2 || n > MAXN || rank < 0 || rank >= n) {
			fprintf(stderr, "GZ_JOB_SIZE 2..%d, GZ_JOB_RANK "
				"0..size-1\n", MAXN);
			return 1;
		}
		return rank_main(rank, n, root);
	}
	/* a job of 4 here: rank 0 is the hub on a port of our own */
	snprintf(local, sizeof(local), "127.0.0.1:%d", 20000 + getpid() % 20000);
	for (int r = 0; r < 4; r++) {
		pid[r] = fork();
		if (pid[r] < 0)
			return 1;
		if (!pid[r]) {
			int ret = rank_main(r, 4, local);

			fflush(stdout);	/* _exit() does not */
			_exit(ret);
		}
	}
	for (int r = 0; r < 4; r++)
		if (waitpid(pid[r], &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st))
			failed = WIFEXITED(st) && WEXITSTATUS(st) == 77 ? 77 : 1;
	printf("%s\n", failed == 77 ? "skipped" : failed ? "FAILED" : "ok");
	return failed;
}
