// SPDX-License-Identifier: MIT
/*
 * Setup calls are safe from any thread, and threads that each own a queue
 * pair and cq run side by side. Plain TAP, not Criterion: the TSan build
 * runs it too, and Criterion's fixed-address arena and TSan's shadow
 * memory cannot share one address space.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/gzt.h"

/* A failed check ends the test it is in, and says where. */
static int failed;
#define CHECK(cond, ...)                                                  \
	do {                                                              \
		if (!(cond)) {                                            \
			printf("# %s:%d: %s:", __FILE__, __LINE__, #cond); \
			printf(" " __VA_ARGS__);                          \
			printf("\n");                                     \
			failed = 1;                                       \
			return;                                           \
		}                                                         \
	} while (0)
#define CHECK_EQ(a, b, ...) CHECK((a) == (b), __VA_ARGS__)
#define CHECK_NULL(p, ...) CHECK(!(p), __VA_ARGS__)
#define Test(suite, name) static void name(void)

#define NTHREADS 4

static void *open_close(void *arg)
{
	(void)arg;
	for (int i = 0; i < 25; i++) {
		struct genzio_context *ctx;
		struct genzio_device_attr da;

		if (genzio_device_open(NULL, NULL, &ctx) ||
		    genzio_device_query(ctx, &da) || genzio_device_close(ctx))
			return (void *)1;
	}
	return NULL;
}

Test(threads, devices_open_and_close_from_many_threads_at_once)
{
	pthread_t t[NTHREADS];
	void *r;

	for (int i = 0; i < NTHREADS; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, open_close, NULL), 0);
	for (int i = 0; i < NTHREADS; i++) {
		CHECK_EQ(pthread_join(t[i], &r), 0);
		CHECK_NULL(r);
	}
}

/* One context, shared: each thread its own cq and queue pair writing to
 * the shared target region (its own slice), while the main thread
 * registers and deregisters other memory and reads the device. */
struct worker {
	struct gzt_ep *ep;		/* the context and its region */
	struct genzio_cq *cq;
	struct genzio_qp *qp;
	int id;
	int ok;
};

static void *write_slice(void *arg)
{
	struct worker *w = arg;
	uint8_t *slice = (uint8_t *)w->ep->mem->addr + 4096 * w->id;
	struct genzio_mr *mr;
	uint8_t buf[256];
	struct genzio_wc wc;

	if (genzio_mr_reg(w->ep->pd, buf, sizeof(buf),
			  GENZIO_ACCESS_LOCAL_WRITE, &mr))
		return NULL;
	for (int i = 0; i < 2000; i++) {
		struct genzio_sge s = { (uintptr_t)buf, sizeof(buf), mr->lkey };
		struct genzio_send_wr wr = {
			.opcode = GENZIO_WR_WRITE, .sg_list = &s, .num_sge = 1,
			.send_flags = GENZIO_SEND_SIGNALED,
			.rdma = { (uintptr_t)slice, w->ep->info.rkey },
		}, *bad;

		memset(buf, w->id + i, sizeof(buf));
		if (genzio_post_send(w->qp, &wr, &bad) ||
		    gzt_poll_one(w->cq, &wc, 5000) != 1 || wc.status)
			goto out;
	}
	w->ok = slice[0] == (uint8_t)(w->id + 1999);
out:
	genzio_mr_dereg(mr);
	return NULL;
}

Test(threads, queue_pairs_of_one_context_run_in_threads_beside_setup)
{
	struct genzio_cq_attr ca = { .depth = 16 };
	struct genzio_qp_attr qa = { .qp_type = GENZIO_QPT_RC, .sq_depth = 16,
				     .max_send_sge = 1 };
	struct worker w[NTHREADS];
	pthread_t t[NTHREADS];
	struct gzt_ep ep;

	CHECK_EQ(gzt_ep_open(&ep, 4096 * NTHREADS, GZT_ACCESS_ALL), 0);
	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){ .ep = &ep, .id = i };
		CHECK_EQ(genzio_cq_create(ep.ctx, &ca, &w[i].cq), 0);
		qa.send_cq = qa.recv_cq = w[i].cq;
		CHECK_EQ(genzio_qp_create(ep.pd, &qa, &w[i].qp), 0);
		/* each its own pair: a loop through the shared region */
		CHECK_EQ(gzt_qp_pair(w[i].qp, w[i].qp), 0);
		CHECK_EQ(pthread_create(&t[i], NULL, write_slice, &w[i]),
			     0);
	}
	for (int i = 0; i < 200; i++) {
		static uint8_t other[4096] __attribute__((aligned(4096)));
		struct genzio_device_attr da;
		struct genzio_mr *mr;

		CHECK_EQ(genzio_mr_reg(ep.pd, other, sizeof(other),
					   GENZIO_ACCESS_LOCAL_WRITE, &mr), 0);
		CHECK_EQ(genzio_device_query(ep.ctx, &da), 0);
		CHECK_EQ(genzio_mr_dereg(mr), 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		CHECK_EQ(pthread_join(t[i], NULL), 0);
		CHECK(w[i].ok, "worker %d", i);
		CHECK_EQ(genzio_qp_destroy(w[i].qp), 0);
		CHECK_EQ(genzio_cq_destroy(w[i].cq), 0);
	}
	CHECK_EQ(gzt_ep_close(&ep), 0);
}

/* A poller in one thread while another destroys and creates queue pairs
 * on the same cq: destroy waits for the poller, never frees under it. */
struct churn {
	struct gzt_ep *ep;
	_Atomic int stop;
};

static void *poller(void *arg)
{
	struct churn *c = arg;
	struct genzio_wc wc[8];

	while (!atomic_load(&c->stop))
		if (genzio_poll_cq(c->ep->cq, 8, wc) < 0)
			return (void *)1;
	return NULL;
}

Test(threads, queue_pairs_come_and_go_while_their_cq_is_polled)
{
	struct genzio_qp_attr qa = { .qp_type = GENZIO_QPT_RC, .sq_depth = 4,
				     .rq_depth = 4, .max_send_sge = 1,
				     .max_recv_sge = 1 };
	struct churn c;
	struct gzt_ep ep, s;
	pthread_t t;
	void *r;

	CHECK_EQ(gzt_ep_open(&ep, 8192, GZT_ACCESS_ALL), 0);
	CHECK_EQ(gzt_ep_open(&s, 8192, GZT_ACCESS_ALL), 0);
	c = (struct churn){ .ep = &ep };
	qa.send_cq = qa.recv_cq = ep.cq;
	CHECK_EQ(pthread_create(&t, NULL, poller, &c), 0);
	for (int i = 0; i < 300; i++) {
		struct genzio_sge rs = { ep.info.addr, 64, ep.mr->lkey };
		struct genzio_sge ss = { s.info.addr, 8, s.mr->lkey };
		struct genzio_recv_wr rw = { .sg_list = &rs, .num_sge = 1 };
		struct genzio_send_wr sw = { .opcode = GENZIO_WR_SEND,
					     .sg_list = &ss, .num_sge = 1 };
		struct genzio_recv_wr *rb;
		struct genzio_qp *qp;
		struct genzio_wc wc;

		CHECK_EQ(genzio_qp_create(ep.pd, &qa, &qp), 0);
		CHECK_EQ(genzio_post_recv(qp, &rw, &rb), 0);
		CHECK_EQ(gzt_qp_pair(s.qp, qp), 0);
		/* the poller reaps the receive while we destroy its qp */
		CHECK_EQ(gzt_post_wait(&s, &sw, &wc), 0);
		CHECK_EQ(genzio_qp_destroy(qp), 0);
		CHECK_EQ(genzio_qp_destroy(s.qp), 0);
		qa.send_cq = qa.recv_cq = s.cq;
		CHECK_EQ(genzio_qp_create(s.pd, &qa, &s.qp), 0);
		qa.send_cq = qa.recv_cq = ep.cq;
	}
	atomic_store(&c.stop, 1);
	CHECK_EQ(pthread_join(t, &r), 0);
	CHECK_NULL(r);
	CHECK_EQ(gzt_ep_close(&s), 0);
	CHECK_EQ(gzt_ep_close(&ep), 0);
}

/* One thread posts on a queue pair whose sends park (its peer posts
 * receives only now and then); another polls its cq, and so runs the
 * parked sends on its own thread: what they touch of the queue pair (key
 * cache, guard lane, views of the receiver) changes hands through npark. */
struct handoff {
	struct gzt_ep *s, *r;
	_Atomic int posted, stop;
	_Atomic int bad;	/* the first failure: a post's errno or a status */
	const char *what;	/* read after both threads are joined */
};

static void handoff_bad(struct handoff *h, const char *what, int why)
{
	int none = 0;

	if (atomic_compare_exchange_strong(&h->bad, &none, why))
		h->what = what;
}

#define HANDOFFS 2000

static void *poster(void *arg)
{
	struct handoff *h = arg;
	struct genzio_sge ss = { h->s->info.addr, 8, h->s->mr->lkey };

	for (int i = 0; i < HANDOFFS; i++) {
		struct genzio_send_wr w[2] = {
			{ .opcode = GENZIO_WR_SEND, .sg_list = &ss,
			  .num_sge = 1, .send_flags = GENZIO_SEND_SIGNALED },
			{ .opcode = GENZIO_WR_WRITE, .sg_list = &ss,
			  .num_sge = 1, .send_flags = GENZIO_SEND_SIGNALED,
			  .rdma = { h->r->info.addr + 512, h->r->info.rkey } },
		}, *next = w, *bad;
		int ret;

		w[0].next = &w[1];
		/* -EAGAIN: what went before *bad is posted, resume there */
		while ((ret = genzio_post_send(h->s->qp, next, &bad)) ==
		       -EAGAIN) {
			next = bad;
			sched_yield();
		}
		if (ret)
			handoff_bad(h, "post_send", ret);
		atomic_fetch_add(&h->posted, 2);
	}
	return NULL;
}

static void *reaper(void *arg)
{
	struct handoff *h = arg;
	struct genzio_wc wc[16];
	int got = 0;

	while (got < 2 * HANDOFFS) {
		int n = genzio_poll_cq(h->s->cq, 16, wc);

		if (n < 0) {
			handoff_bad(h, "poll_cq", n);
			break;
		}
		for (int i = 0; i < n; i++)
			if (wc[i].status != GENZIO_WC_SUCCESS)
				handoff_bad(h, genzio_wc_status_str(
						       wc[i].status),
					    (int)wc[i].opcode + 1000);
		got += n;
	}
	atomic_store(&h->stop, 1);
	return NULL;
}

Test(threads, parked_sends_run_by_the_poller_hand_their_queue_pair_back)
{
	struct gzt_ep s, r;
	struct handoff h;
	pthread_t t[2];
	struct genzio_wc wc;

	struct genzio_qp_attr qa = {
		.comp_mask = GENZIO_QP_ATTR_RDM_TIMEOUT,
		.rdm_timeout_us = 60000000, /* parks, never times out here */
		.qp_type = GENZIO_QPT_RC, .sq_depth = 64, .max_send_sge = 1,
	};

	CHECK_EQ(gzt_ep_open(&s, 4096, GZT_ACCESS_ALL), 0);
	CHECK_EQ(gzt_ep_open(&r, 4096, GZT_ACCESS_ALL), 0);
	CHECK_EQ(genzio_qp_destroy(s.qp), 0);
	qa.send_cq = qa.recv_cq = s.cq;
	CHECK_EQ(genzio_qp_create(s.pd, &qa, &s.qp), 0);
	CHECK_EQ(gzt_qp_pair(s.qp, r.qp), 0);
	h = (struct handoff){ .s = &s, .r = &r };
	CHECK_EQ(pthread_create(&t[0], NULL, poster, &h), 0);
	CHECK_EQ(pthread_create(&t[1], NULL, reaper, &h), 0);
	/* receives now and then, so sends park and are run by the reaper */
	for (int posted = 0; posted < HANDOFFS && !atomic_load(&h.stop);) {
		struct genzio_sge rs = { r.info.addr, 64, r.mr->lkey };
		struct genzio_recv_wr rw = { .sg_list = &rs, .num_sge = 1 };
		struct genzio_recv_wr *rb;

		if (!genzio_post_recv(r.qp, &rw, &rb))
			posted++;
		while (genzio_poll_cq(r.cq, 1, &wc) == 1)
			;
		sched_yield();
	}
	CHECK_EQ(pthread_join(t[0], NULL), 0);
	CHECK_EQ(pthread_join(t[1], NULL), 0);
	CHECK(!atomic_load(&h.bad), "a post or a completion failed: %s (%d)",
	      h.what, atomic_load(&h.bad));
	CHECK_EQ(gzt_ep_close(&s), 0);
	CHECK_EQ(gzt_ep_close(&r), 0);
}

static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
	{ "devices_open_and_close_from_many_threads_at_once",
	  devices_open_and_close_from_many_threads_at_once },
	{ "queue_pairs_of_one_context_run_in_threads_beside_setup",
	  queue_pairs_of_one_context_run_in_threads_beside_setup },
	{ "queue_pairs_come_and_go_while_their_cq_is_polled",
	  queue_pairs_come_and_go_while_their_cq_is_polled },
	{ "parked_sends_run_by_the_poller_hand_their_queue_pair_back",
	  parked_sends_run_by_the_poller_hand_their_queue_pair_back },
};

int main(void)
{
	int n = (int)(sizeof(tests) / sizeof(tests[0])), bad = 0;

	/* no test may hang the run: SIGALRM ends it as a failure */
	alarm(240);
	gzt_fabric_init();
	printf("1..%d\n", n);
	for (int i = 0; i < n; i++) {
		failed = 0;
		tests[i].fn();
		bad |= failed;
		printf("%sok %d - threads::%s\n", failed ? "not " : "", i + 1,
		       tests[i].name);
		fflush(stdout);
	}
	gzt_fabric_fini();
	return bad;
}
