// SPDX-License-Identifier: MIT
/*
 * A device that goes away (verbs' IBV_EVENT_DEVICE_FATAL): every queue
 * pair moves to ERR and its work completes FLUSHED, every waiter wakes
 * (event fd, completion channel), setup calls fail with -ENODEV, and the
 * context still closes cleanly.
 */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api.h"

TestSuite(fatal, .init = gzt_fabric_init, .fini = gzt_fabric_fini,
	  .timeout = 60);

/* The open file of @ep's component (shm), by name in its directory. */
static void comp_file(const struct gzt_ep *ep, char *path, size_t len)
{
	struct genzio_device_attr a;
	const char *base = getenv("GENZIO_SHM_DIR");
	const char *fabric = getenv("GENZIO_FABRIC");
	char dir[256], prefix[64];
	struct dirent *d;
	DIR *dp;
	int found = 0;

	cr_assert_eq(genzio_device_query(ep->ctx, &a), 0);
	if (strcmp(a.provider, "shm"))
		cr_skip_test("no way to remove a %s device here", a.provider);
	snprintf(dir, sizeof(dir), "%s/genzio-%u", base ? base : "/dev/shm",
		 (unsigned)geteuid());
	snprintf(prefix, sizeof(prefix), "%s-%u-", fabric ? fabric : "default",
		 GENZIO_GCID_CID(a.gcid));
	dp = opendir(dir);
	cr_assert_not_null(dp, "%s", dir);
	while ((d = readdir(dp))) {
		size_t n = strlen(d->d_name);

		if (!strncmp(d->d_name, prefix, strlen(prefix)) && n > 5 &&
		    !strcmp(d->d_name + n - 5, ".comp")) {
			snprintf(path, len, "%s/%s", dir, d->d_name);
			found++;
		}
	}
	closedir(dp);
	cr_assert_eq(found, 1, "the component file of %s", prefix);
}

/* The next event of @ctx within 20 s, or type 0. */
static struct genzio_event next_event(struct genzio_context *ctx)
{
	struct pollfd p = { .fd = genzio_event_fd(ctx), .events = POLLIN };
	struct genzio_event e = { 0 };

	for (int i = 0; i < GZT_WAIT_MS / 100; i++) {
		if (!gzt_event_get(ctx, &e))
			return e;
		poll(&p, 1, 100);
	}
	return (struct genzio_event){ 0 };
}

struct waiter {
	struct genzio_comp_channel *ch;
	int ret;
	pthread_t t;
};

static void *wait_channel(void *arg)
{
	struct waiter *w = arg;
	struct genzio_cq *cq;

	w->ret = genzio_comp_channel_get_event(w->ch, 20000, &cq);
	return NULL;
}

/* Start @w's thread on its channel, and give it time to fall asleep there
 * (asleep or not, it must hear of the removal, and not by timing out). */
static void waiter_start(struct waiter *w)
{
	cr_assert_eq(pthread_create(&w->t, NULL, wait_channel, w), 0);
	usleep(20000);
}

Test(fatal, a_touched_component_file_is_no_removal)
{
	struct gzt_ep a;
	struct genzio_event e;
	struct genzio_qp_info qi;
	char path[512];

	cr_assert_eq(gzt_ep_open(&a, 4096, GZT_ACCESS_ALL), 0);
	comp_file(&a, path, sizeof(path));
	cr_assert_eq(chmod(path, 0600), 0);
	cr_assert_eq(utimensat(AT_FDCWD, path, NULL, 0), 0);
	usleep(10000);
	cr_assert_eq(gzt_event_get(a.ctx, &e), -EAGAIN, "event %u", e.type);
	cr_assert_eq(genzio_qp_query(a.qp, &qi), 0);
	cr_assert_neq(qi.state, GENZIO_QPS_ERR);
	cr_assert_eq(gzt_ep_close(&a), 0);
}

Test(fatal, a_removed_device_flushes_every_queue_pair_and_wakes_every_waiter)
{
	GZT_REQUIRE(MSG);
	struct genzio_qp_attr qa = {
		.comp_mask = GENZIO_QP_ATTR_RDM_TIMEOUT,
		.rdm_timeout_us = 30000000, .qp_type = GENZIO_QPT_RC,
		.sq_depth = 64, .rq_depth = 64, .max_send_sge = 1,
		.max_recv_sge = 1,
	};
	struct genzio_cq_attr ca = { .comp_mask = GENZIO_CQ_ATTR_CHANNEL,
				     .depth = 256 };
	struct gzt_ep a, b;
	struct genzio_qp *rd = NULL, *lone;
	struct genzio_cq *cq;
	struct waiter w = { 0 };
	struct genzio_wc wc[8];
	struct genzio_event e;
	struct genzio_qp_info qi;
	char path[512];
	int n = 0, flushed = 0;
	int has_rd = !!(gzt_caps() & GENZIO_CAP_RD), want = 2 + has_rd;

	cr_assert_eq(gzt_ep_open(&a, 1u << 16, GZT_ACCESS_ALL), 0);
	comp_file(&a, path, sizeof(path));
	cr_assert_eq(gzt_ep_open(&b, 1u << 16, GZT_ACCESS_ALL), 0);
	/* a's work completes on a cq with a channel a thread sleeps on */
	cr_assert_eq(genzio_comp_channel_create(a.ctx, &w.ch), 0);
	ca.channel = w.ch;
	cr_assert_eq(genzio_cq_create(a.ctx, &ca, &cq), 0);
	qa.send_cq = qa.recv_cq = cq;
	cr_assert_eq(gzt_qp_replace(&a, &qa, &b), 0);
	cr_assert_eq(genzio_qp_create(a.pd, &qa, &lone), 0);
	qa.comp_mask = 0;
	if (has_rd) {		/* and an RD queue pair, where there are any */
		qa.qp_type = GENZIO_QPT_RD;
		cr_assert_eq(genzio_qp_create(a.pd, &qa, &rd), 0);
	}
	/* outstanding: a receive on each, and a SEND b has no receive for */
	struct genzio_sge rs = { (uintptr_t)a.mem->addr, 64, a.mr->lkey };
	struct genzio_recv_wr rw = { .wr_id = 1, .sg_list = &rs,
				     .num_sge = 1 }, *rbad;
	cr_assert_eq(genzio_post_recv(a.qp, &rw, &rbad), 0);
	rw.wr_id = 2;
	if (has_rd)
		cr_assert_eq(genzio_post_recv(rd, &rw, &rbad), 0);
	struct genzio_sge ss = { (uintptr_t)a.mem->addr + 4096, 8,
				 a.mr->lkey };
	struct genzio_send_wr sw = { .wr_id = 3, .sg_list = &ss, .num_sge = 1,
				     .opcode = GENZIO_WR_SEND,
				     .send_flags = GENZIO_SEND_SIGNALED },
			      *sbad;
	cr_assert_eq(genzio_post_send(a.qp, &sw, &sbad), 0);
	cr_assert_eq(genzio_poll_cq(cq, 8, wc), 0, "the send waits");
	waiter_start(&w);

	cr_assert_eq(unlink(path), 0);

	/* the event fd wakes and says so */
	e = next_event(a.ctx);
	cr_assert_eq(e.type, GENZIO_EVENT_DEVICE_FATAL, "event %u", e.type);
	cr_assert_eq(e.status, GENZIO_WC_GENERAL_ERR);
	/* the channel waiter woke, long before its 20 s */
	cr_assert_eq(pthread_join(w.t, NULL), 0);
	cr_assert(w.ret == -ENODEV || w.ret == 0, "%d", w.ret);
	/* every queue pair is in ERR, its work flushed */
	cr_assert_eq(genzio_qp_query(a.qp, &qi), 0);
	cr_assert_eq(qi.state, GENZIO_QPS_ERR);
	cr_assert_eq(qi.err_status, GENZIO_WC_GENERAL_ERR);
	if (has_rd) {
		cr_assert_eq(genzio_qp_query(rd, &qi), 0);
		cr_assert_eq(qi.state, GENZIO_QPS_ERR);
	}
	for (int tries = 0; tries < GZT_WAIT_MS && n < want; tries++) {
		int got = genzio_poll_cq(cq, 8 - n, wc + n);

		cr_assert_geq(got, 0);
		n += got;
		if (!got)
			usleep(1000);
	}
	cr_assert_eq(n, want, "the receives and the send");
	for (int i = 0; i < n; i++) {
		cr_assert_eq(wc[i].status, GENZIO_WC_FLUSHED, "wr %llu: %s",
			     (unsigned long long)wc[i].wr_id,
			     genzio_wc_status_str(wc[i].status));
		flushed |= 1 << wc[i].wr_id;
	}
	cr_assert_eq(flushed, has_rd ? 0xe : 0xa, "wr_ids 1, 3 (and 2: RD)");
	/* later work flushes too, also on a queue pair never connected */
	sw.wr_id = 4;
	cr_assert_eq(genzio_post_send(a.qp, &sw, &sbad), 0);
	cr_assert_eq(gzt_poll_one(cq, wc, GZT_WAIT_MS), 1);
	cr_assert_eq(wc[0].status, GENZIO_WC_FLUSHED);
	cr_assert_eq(wc[0].wr_id, 4);
	sw.wr_id = 5;
	cr_assert_eq(genzio_post_send(lone, &sw, &sbad), 0);
	cr_assert_eq(gzt_poll_one(cq, wc, GZT_WAIT_MS), 1);
	cr_assert_eq(wc[0].status, GENZIO_WC_FLUSHED);
	cr_assert_eq(wc[0].wr_id, 5);
	/* setup fails, and says why */
	struct genzio_qp *q2;
	struct genzio_pd *pd2;
	struct genzio_mem *m2;
	struct genzio_mr *mr2;
	struct genzio_comp_channel *ch2;
	cr_assert_eq(genzio_qp_create(a.pd, &qa, &q2), -ENODEV);
	cr_assert_eq(genzio_pd_alloc(a.ctx, &pd2), -ENODEV);
	cr_assert_eq(genzio_mem_alloc(a.ctx, 4096, 0, &m2), -ENODEV);
	cr_assert_eq(genzio_mr_reg(a.pd, a.mem->addr, 64,
				   GENZIO_ACCESS_LOCAL_WRITE, &mr2), -ENODEV);
	cr_assert_eq(genzio_comp_channel_create(a.ctx, &ch2), -ENODEV);
	cr_assert_eq(genzio_qp_reset(a.qp), -ENODEV, "ERR stays");
	cr_assert_eq(gzt_connect(a.qp, &b.info), -ENODEV);
	/* and everything closes */
	if (has_rd)
		cr_assert_eq(genzio_qp_destroy(rd), 0);
	cr_assert_eq(genzio_qp_destroy(lone), 0);
	cr_assert_eq(genzio_qp_destroy(a.qp), 0);
	a.qp = NULL;
	cr_assert_eq(genzio_cq_destroy(cq), 0);
	cr_assert_eq(genzio_comp_channel_destroy(w.ch), 0);
	cr_assert_eq(gzt_ep_close(&a), 0);
	cr_assert_eq(gzt_ep_close(&b), 0);
}

Test(fatal, a_channel_waiter_alone_hears_that_the_device_is_gone)
{
	struct gzt_ep a;
	struct waiter w = { 0 };
	struct genzio_qp_info qi;
	char path[512];

	cr_assert_eq(gzt_ep_open(&a, 4096, GZT_ACCESS_ALL), 0);
	cr_assert_eq(genzio_comp_channel_create(a.ctx, &w.ch), 0);
	comp_file(&a, path, sizeof(path));
	waiter_start(&w);
	cr_assert_eq(unlink(path), 0);
	/* nobody reads the event fd: the waiter finds out itself, and not
	 * by timing out after 20 s */
	cr_assert_eq(pthread_join(w.t, NULL), 0);
	cr_assert_eq(w.ret, -ENODEV);
	cr_assert_eq(genzio_qp_query(a.qp, &qi), 0);
	cr_assert_eq(qi.state, GENZIO_QPS_ERR);
	cr_assert_eq(genzio_comp_channel_destroy(w.ch), 0);
	cr_assert_eq(gzt_ep_close(&a), 0);
}

Test(fatal, only_the_context_whose_file_went_is_gone)
{
	struct gzt_ep a, b;
	struct genzio_event e;
	struct genzio_qp_info qi;
	char path[512];

	cr_assert_eq(gzt_ep_open(&a, 4096, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_ep_open(&b, 4096, GZT_ACCESS_ALL), 0);
	comp_file(&a, path, sizeof(path));
	cr_assert_eq(unlink(path), 0);
	/* b's event fd may wake too (one watch serves the process), and
	 * its events are read first: it must stay well */
	cr_assert_eq(gzt_event_get(b.ctx, &e), -EAGAIN, "event %u", e.type);
	e = next_event(a.ctx);
	cr_assert_eq(e.type, GENZIO_EVENT_DEVICE_FATAL);
	cr_assert_eq(gzt_event_get(b.ctx, &e), -EAGAIN, "event %u", e.type);
	cr_assert_eq(genzio_qp_query(b.qp, &qi), 0);
	cr_assert_neq(qi.state, GENZIO_QPS_ERR);
	cr_assert_eq(genzio_qp_query(a.qp, &qi), 0);
	cr_assert_eq(qi.state, GENZIO_QPS_ERR);
	cr_assert_eq(gzt_ep_close(&a), 0);
	cr_assert_eq(gzt_ep_close(&b), 0);
}

Test(fatal, a_channel_waiter_hears_it_when_another_context_read_the_event)
{
	struct gzt_ep a, b;
	struct waiter w = { 0 };
	struct genzio_event e;
	char path[512];

	cr_assert_eq(gzt_ep_open(&a, 4096, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_ep_open(&b, 4096, GZT_ACCESS_ALL), 0);
	cr_assert_eq(genzio_comp_channel_create(a.ctx, &w.ch), 0);
	comp_file(&a, path, sizeof(path));
	waiter_start(&w);
	cr_assert_eq(unlink(path), 0);
	/* b reads the process's watch as fast as it can: whoever reads the
	 * event, a's waiter must hear of it, and not by its 20 s timeout */
	for (int i = 0; i < 2000; i++)
		cr_assert_eq(gzt_event_get(b.ctx, &e), -EAGAIN);
	cr_assert_eq(pthread_join(w.t, NULL), 0);
	cr_assert_eq(w.ret, -ENODEV);
	cr_assert_eq(genzio_comp_channel_destroy(w.ch), 0);
	cr_assert_eq(gzt_ep_close(&a), 0);
	cr_assert_eq(gzt_ep_close(&b), 0);
}

/* A child with a context of its own: it must take no event of its
 * parent's, nor have its own context hurt by the parent's removal. */
static int forked_main(int fd, void *arg)
{
	struct genzio_event e;
	struct gzt_ep c;
	char t;

	(void)arg;
	if (gzt_ep_open(&c, 4096, GZT_ACCESS_ALL) || gzt_send_token(fd, 'k') ||
	    gzt_recv_token(fd, &t))
		return 10;
	/* the parent's file is gone now: read the watch a while */
	for (int i = 0; i < 200; i++)
		if (gzt_event_get(c.ctx, &e) != -EAGAIN)
			return 11;
	return gzt_ep_close(&c) ? 12 : 0;
}

Test(fatal, a_forked_child_with_its_own_context_takes_no_event_of_its_parent)
{
	struct gzt_child c;
	struct gzt_ep a;
	struct genzio_event e;
	char path[512], k = 0;

	cr_assert_eq(gzt_ep_open(&a, 4096, GZT_ACCESS_ALL), 0);
	comp_file(&a, path, sizeof(path));
	cr_assert_eq(gzt_fork(&c, forked_main, NULL), 0);
	cr_assert_eq(gzt_recv_token(c.fd, &k), 0);
	cr_assert_eq(k, 'k');
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(gzt_send_token(c.fd, 'g'), 0);
	e = next_event(a.ctx);
	cr_assert_eq(e.type, GENZIO_EVENT_DEVICE_FATAL);
	cr_assert_eq(gzt_wait(&c), 0, "the child's context was hurt");
	cr_assert_eq(gzt_ep_close(&a), 0);
}
