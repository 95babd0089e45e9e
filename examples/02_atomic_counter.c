// SPDX-License-Identifier: MIT
/*
 * 02_atomic_counter: several processes increment one counter in a target's
 * memory with remote fetch-and-add; the total is exact. Completions are
 * requested for every 32nd add only, as a throughput-minded user would.
 * Many initiators, one target queue pair: RD queue pairs, which name the
 * destination in each request (an RC queue pair pairs with one peer).
 *
 *   cc 02_atomic_counter.c $(pkg-config --cflags --libs genzio)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <genzio/genzio.h>

#define WORKERS 3
#define ADDS 20000

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
	struct genzio_cq_attr ca = { .depth = 64 };
	struct genzio_qp_attr qa = { .qp_type = GENZIO_QPT_RD, .sq_depth = 64 };
	struct genzio_device_attr da;

	ok(genzio_device_open(NULL, NULL, &ep->ctx), "device_open");
	ok(genzio_device_query(ep->ctx, &da), "device_query");
	/* Exit 77, "skipped" to test harnesses, on a device without them. */
	if (!(da.caps & GENZIO_CAP_RD) ||
	    !(da.atomic_ops64 & GENZIO_ATOMIC_OP(GENZIO_WR_ATOMIC_FADD))) {
		printf("skipped: %s (provider %s) lacks %s\n", da.name,
		       da.provider, !(da.caps & GENZIO_CAP_RD) ?
		       "RD queue pairs (GENZIO_CAP_RD)" :
		       "64-bit fetch-and-add (atomic_ops64)");
		exit(77);
	}
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

/* A worker: address the target's queue pair and add ADDS times. */
static int worker(const struct genzio_conn_info *t)
{
	struct genzio_send_wr wr = {
		.opcode = GENZIO_WR_ATOMIC_FADD,
		.remote_qpn = t->qpn,
		.atomic = { .remote_addr = t->addr, .rkey = t->rkey,
			    .size = 8, .operand = 1 },
	}, *bad;
	struct genzio_wc wc[8];
	struct ep ep;

	ep_open(&ep);
	ok(genzio_ah_create(ep.pd, t->gcid, &wr.ah), "ah_create");
	for (int i = 0; i < ADDS; i++) {
		wr.send_flags = i % 32 == 31 ? GENZIO_SEND_SIGNALED : 0;
		ok(genzio_post_send(ep.qp, &wr, &bad), "post_send");
		int n = genzio_poll_cq(ep.cq, 8, wc);

		for (int k = 0; k < n; k++)
			if (wc[k].status)
				ok(-EIO, genzio_wc_status_str(wc[k].status));
	}
	ok(genzio_ah_destroy(wr.ah), "ah_destroy");
	ep_close(&ep);
	return 0;
}

int main(int argc, char **argv)
{
	struct genzio_conn_info me;
	struct genzio_mem *mem;
	struct genzio_mr *mr;
	pid_t pid[WORKERS];
	struct ep ep;
	int st, failed = 0;

	if (argc > 1) {	/* every worker forks from here: one host */
		fprintf(stderr, "usage: %s (no arguments: one host)\n", argv[0]);
		return 2;
	}
	/* The parent is the target: it exposes one 64-bit counter. */
	ep_open(&ep);
	ok(genzio_mem_alloc(ep.ctx, 4096, 0, &mem), "mem_alloc");
	ok(genzio_mr_reg(ep.pd, mem->addr, 4096, GENZIO_ACCESS_LOCAL_WRITE |
			 GENZIO_ACCESS_REMOTE_ATOMIC | GENZIO_ACCESS_REMOTE_READ,
			 &mr), "mr_reg");
	ok(genzio_conn_info_init(&me, ep.qp, mr), "conn_info_init");
	/* Children inherit the conn info; queues and memory are not
	 * inherited across fork, so each opens its own context. */
	for (int i = 0; i < WORKERS; i++) {
		pid[i] = fork();
		if (pid[i] < 0)
			return 1;
		if (!pid[i])
			_exit(worker(&me));
	}
	for (int i = 0; i < WORKERS; i++)
		if (waitpid(pid[i], &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st))
			failed = 1;
	uint64_t total = *(volatile uint64_t *)mem->addr;

	printf("%d workers x %d adds: counter = %llu (expected %d)\n", WORKERS,
	       ADDS, (unsigned long long)total, WORKERS * ADDS);
	ok(genzio_mr_dereg(mr), "mr_dereg");
	ok(genzio_mem_free(mem), "mem_free");
	ep_close(&ep);
	failed |= total != (uint64_t)WORKERS * ADDS;
	printf("%s\n", failed ? "FAILED" : "ok");
	return failed;
}
