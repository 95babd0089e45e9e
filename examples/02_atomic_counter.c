// SPDX-License-Identifier: MIT
/*
 * 02_atomic_counter: several processes increment one counter in a target's
 * memory with remote fetch-and-add; the total is exact. Completions are
 * requested for every 32nd add only, as a throughput-minded user would.
 * Many initiators, one target queue pair: RD queue pairs, which name the
 * destination in each request (an RC queue pair pairs with one peer).
 * The workers need the target's address only; the target needs nothing
 * of theirs, but on a device without GENZIO_CAP_ONE_SIDED_TARGET (verbs:
 * RD connections are made on first use) it must let the library run:
 * it waits on its event fd too (wait_done).
 *
 *   cc 02_atomic_counter.c $(pkg-config --cflags --libs genzio)
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <genzio/genzio.h>

#include "oob.h"

#define WORKERS 3
#define ADDS 20000	/* a multiple of 32 */

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

	ok(genzio_device_open(NULL, NULL, &ep->ctx), "device_open");
	ok(genzio_pd_alloc(ep->ctx, &ep->pd), "pd_alloc");
	ok(genzio_cq_create(ep->ctx, &ca, &ep->cq), "cq_create");
	qa.send_cq = qa.recv_cq = ep->cq;
	ok(genzio_qp_create(ep->pd, &qa, &ep->qp), "qp_create");
}

/* Exit 77, "skipped" to test harnesses, on a device without RD queue
 * pairs or 64-bit fetch-and-add. */
static void require_caps(void)
{
	struct genzio_context *ctx;
	struct genzio_device_attr da;

	ok(genzio_device_open(NULL, NULL, &ctx), "device_open");
	ok(genzio_device_query(ctx, &da), "device_query");
	ok(genzio_device_close(ctx), "device_close");
	if (!(da.caps & GENZIO_CAP_RD) ||
	    !(da.atomic_ops64 & GENZIO_ATOMIC_OP(GENZIO_WR_ATOMIC_FADD))) {
		printf("skipped: %s (provider %s) lacks %s\n", da.name,
		       da.provider, !(da.caps & GENZIO_CAP_RD) ?
		       "RD queue pairs (GENZIO_CAP_RD)" :
		       "64-bit fetch-and-add (atomic_ops64)");
		exit(77);
	}
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
	/* by its address: a GCID alone says where only on a host fabric */
	ok(genzio_ah_create_addr(ep.pd, t->qp_addr, t->qp_addr_len, &wr.ah),
	   "ah_create_addr");
	/* every 32nd add is signaled: ADDS / 32 completions, the last one
	 * after every add (a queue pair completes in order per peer) */
	for (int i = 0, done = 0; done < ADDS / 32;) {
		if (i < ADDS) {
			wr.send_flags = i % 32 == 31 ? GENZIO_SEND_SIGNALED : 0;
			int ret = genzio_post_send(ep.qp, &wr, &bad);

			if (ret != -EAGAIN)	/* full: poll, post again */
				ok(ret, "post_send");
			i += !ret;
		}
		int n = genzio_poll_cq(ep.cq, 8, wc);

		ok(n < 0 ? n : 0, "poll_cq");
		for (int k = 0; k < n; k++, done++)
			if (wc[k].status)
				ok(-EIO, genzio_wc_status_str(wc[k].status));
	}
	ok(genzio_ah_destroy(wr.ah), "ah_destroy");
	ep_close(&ep);
	return 0;
}

/* The initiator's side: WORKERS processes here, then a word to the
 * target: 'd' (done) or 'f' (a worker failed). */
static int initiators(int fd)
{
	struct genzio_conn_info t;
	pid_t pid[WORKERS];
	int st, failed = 0;

	if (oob_xfer(fd, &t, sizeof(t), 0))
		return 1;
	/* queues and memory are not inherited across fork: each worker
	 * opens its own context */
	for (int i = 0; i < WORKERS; i++) {
		fflush(stdout);
		pid[i] = fork();
		if (pid[i] < 0)
			return 1;
		if (!pid[i])
			_exit(worker(&t));
	}
	for (int i = 0; i < WORKERS; i++)
		if (waitpid(pid[i], &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st))
			failed = 1;
	char word = failed ? 'f' : 'd';

	return oob_xfer(fd, &word, 1, 1) || failed;
}

/* Until the initiators' word comes on @fd, taking events meanwhile: on a
 * device that needs a target's progress, that is it. */
static int wait_done(struct ep *ep, int fd, char *word)
{
	struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
			       { .fd = genzio_event_fd(ep->ctx),
				 .events = POLLIN } };
	struct genzio_event ev;

	for (;;) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return -1;
		if (p[0].revents)
			return oob_xfer(fd, word, 1, 0);
		while (!genzio_event_get(ep->ctx, &ev))
			printf("target: event %u\n", ev.type);
	}
}

/* The target exposes one 64-bit counter. */
static int target(int fd)
{
	struct genzio_conn_info me;
	struct genzio_mem *mem;
	struct genzio_mr *mr;
	struct ep ep;
	char word = 0;
	int failed;

	ep_open(&ep);
	ok(genzio_mem_alloc(ep.ctx, 4096, 0, &mem), "mem_alloc");
	ok(genzio_mr_reg(ep.pd, mem->addr, 4096, GENZIO_ACCESS_LOCAL_WRITE |
			 GENZIO_ACCESS_REMOTE_ATOMIC | GENZIO_ACCESS_REMOTE_READ,
			 &mr), "mr_reg");
	ok(genzio_conn_info_init(&me, ep.qp, mr), "conn_info_init");
	if (oob_xfer(fd, &me, sizeof(me), 1) || wait_done(&ep, fd, &word))
		return 1;
	uint64_t total = *(volatile uint64_t *)mem->addr;

	printf("%d workers x %d adds: counter = %llu (expected %d)\n", WORKERS,
	       ADDS, (unsigned long long)total, WORKERS * ADDS);
	failed = word != 'd' || total != (uint64_t)WORKERS * ADDS;
	ok(genzio_mr_dereg(mr), "mr_dereg");
	ok(genzio_mem_free(mem), "mem_free");
	ep_close(&ep);
	return failed;
}

/* 02_atomic_counter: all here; -S [PORT]: the target; HOST [PORT]: the
 * workers, adding to that target (oob.h) */
int main(int argc, char **argv)
{
	struct oob o;

	require_caps();
	if (oob_start(argc, argv, &o))
		return 1;
	return oob_end(&o, o.role == OOB_FIRST ? target(o.fd) :
					     initiators(o.fd));
}
