// SPDX-License-Identifier: MIT
/*
 * The vfio provider against an engine that lies or dies: the bridge's
 * engine runs in a thread of this process over a file (the host-only
 * mode, GENZIO_BRIDGE), and the test writes its completion rings as a
 * hostile engine would, or stops it. Everything else goes through the
 * public API.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <genzio/genzio.h>

#include "lib/gzt.h"
#include "providers/vfio/bridge_engine.h"
#include "sys/sys.h"

#define MIB (1ull << 20)
#define LEN (2 * MIB + 4 * 8 * MIB) /* page 0, four slots of 8 MiB */

static struct gz_bridge_engine e;
static char path[64];
static uint8_t *mem;
static pthread_t thr;
static _Atomic int stop, paused, idle; /* idle: paused and out of step */

static void *engine_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		if (atomic_load(&paused)) {
			atomic_store(&idle, 1);
			sched_yield();
			continue;
		}
		atomic_store(&idle, 0);
		gz_bridge_engine_step(&e, gz_sys_now_ns(), 64);
	}
	return NULL;
}

static void engine_pause(void)
{
	atomic_store(&paused, 1);
	while (!atomic_load(&idle))
		sched_yield();
}

static void engine_go(void)
{
	atomic_store(&paused, 0);
}

static void up(void)
{
	int fd;

	snprintf(path, sizeof(path), "/dev/shm/gzt-vfio-%d", (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)LEN), 0);
	mem = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	cr_assert_neq(mem, MAP_FAILED);
	cr_assert_eq(gz_bridge_engine_init(&e, mem, LEN, 0, 1, NULL), 0);
	gz_bridge_engine_publish(&e);
	setenv("GENZIO_BRIDGE", path, 1);
	setenv("GENZIO_DEVICE", "bridge0", 1);
	cr_assert_eq(pthread_create(&thr, NULL, engine_main, NULL), 0);
}

static void down(void)
{
	atomic_store(&stop, 1);
	pthread_join(thr, NULL);
	munmap(mem, LEN);
	unlink(path);
}

static void pair(struct gzt_ep *a, struct gzt_ep *b)
{
	cr_assert_eq(gzt_ep_open(a, 65536, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_ep_open(b, 65536, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_ep_pair(a, b), 0);
}

/* Post a signaled 8-byte WRITE of @v from @a's memory to @b's. */
static void write8(struct gzt_ep *a, struct gzt_ep *b, uint64_t v, uint64_t id)
{
	struct genzio_sge s = {(uintptr_t)a->mem->addr, 8, a->mr->lkey};
	struct genzio_send_wr wr = {.wr_id = id,
				    .sg_list = &s,
				    .num_sge = 1,
				    .opcode = GENZIO_WR_WRITE,
				    .send_flags = GENZIO_SEND_SIGNALED,
				    .rdma = {b->info.addr, b->info.rkey}},
			      *bad;

	*(uint64_t *)a->mem->addr = v;
	cr_assert_eq(genzio_post_send(a->qp, &wr, &bad), 0);
}

static int poll_for(struct genzio_cq *cq, struct genzio_wc *wc, int max,
		    uint64_t ms)
{
	uint64_t end = gz_sys_now_ns() + ms * 1000000u;
	int got = 0;

	while (got < max && gz_sys_now_ns() < end) {
		int n = genzio_poll_cq(cq, max - got, wc + got);

		cr_assert_geq(n, 0);
		got += n;
	}
	return got;
}

/* Whether the slot of GCID @gcid is free again (its component closed,
 * the engine done with it): the next claim takes it. */
static int eslot_free(uint32_t gcid)
{
	struct gz_bridge_slot *s =
	    (void *)e.slot[GENZIO_GCID_CID(gcid) - 1].base;

	return atomic_load(&s->state) == GZ_BRIDGE_FREE;
}

/* The engine's slot of component @gcid. */
static struct gz_bridge_eslot *eslot(uint32_t gcid)
{
	for (uint32_t i = 0; i < e.nslots; i++)
		if (e.slot[i].gcid == gcid)
			return &e.slot[i];
	cr_assert_fail("no slot of GCID %#x", gcid);
	return NULL;
}

/* Write @x into completion queue @n of @es as the engine would. */
static void cqe_inject(struct gz_bridge_eslot *es, uint32_t n,
		       struct gz_xdm_cqe x)
{
	struct gz_bridge_ecq *c = &es->cq[n];
	struct gz_bridge_slot *s = (struct gz_bridge_slot *)(void *)es->base;
	struct gz_xdm_cqe *at = &c->ent[c->prod & c->mask];

	x.phase = (uint8_t)(((c->prod >> c->shift) & 1u) ^ 1u);
	memcpy(at, &x, sizeof(x));
	c->prod++;
	atomic_store(&s->cq[n].prod, c->prod);
}

TestSuite(vfio, .init = up, .fini = down, .timeout = 60);

Test(vfio, completions_that_name_nothing_of_ours_are_dropped)
{
	struct gzt_ep a, b;
	struct genzio_wc wc[4];
	struct genzio_device_attr da;
	struct gz_bridge_eslot *es;

	pair(&a, &b);
	cr_assert_eq(genzio_device_query(a.ctx, &da), 0);
	cr_assert_str_eq(da.provider, "vfio");
	es = eslot(da.gcid);
	engine_pause();
	/* no such queue pair; ours, but a request never posted; ours with a
	 * status and result of garbage: all dropped, none reaches a wc */
	cqe_inject(es, 0, (struct gz_xdm_cqe){.qp_num = 31, .status = 0});
	cqe_inject(es, 0, (struct gz_xdm_cqe){.qp_num = 12345678});
	cqe_inject(
	    es, 0,
	    (struct gz_xdm_cqe){
		.qp_num = 0, .cidx = 7, .status = 0x55, .context = ~0ull});
	cqe_inject(es, 0, (struct gz_xdm_cqe){.qp_num = 0, .cidx = 0xffff});
	engine_go();
	cr_assert_eq(poll_for(a.cq, wc, 4, 50), 0, "a lie became a completion");
	/* and real work goes on, its completion the right one */
	write8(&a, &b, 0x1122334455667788ull, 42);
	cr_assert_eq(poll_for(a.cq, wc, 1, 5000), 1);
	cr_assert_eq(wc[0].wr_id, 42);
	cr_assert_eq(wc[0].status, GENZIO_WC_SUCCESS);
	cr_assert_eq(wc[0].byte_len, 8);
	cr_assert_eq(*(volatile uint64_t *)b.mem->addr, 0x1122334455667788ull);
	cr_assert_eq(gzt_ep_close(&a), 0);
	cr_assert_eq(gzt_ep_close(&b), 0);
}

Test(vfio, a_completion_names_its_request_by_sequence_not_by_context)
{
	struct gzt_ep a, b;
	struct genzio_wc wc[2];
	struct genzio_device_attr da;

	pair(&a, &b);
	cr_assert_eq(genzio_device_query(a.ctx, &da), 0);
	engine_pause();
	write8(&a, &b, 1, 7);
	/* the engine's echo of our context is not trusted: a completion of
	 * request 0 with another context still completes wr_id 7 */
	cqe_inject(eslot(da.gcid), 0,
		   (struct gz_xdm_cqe){.qp_num = a.qp->qp_num,
				       .cidx = 0,
				       .context = 0xdeadbeef,
				       .byte_len = 999});
	cr_assert_eq(poll_for(a.cq, wc, 2, 50), 1);
	cr_assert_eq(wc[0].wr_id, 7);
	cr_assert_eq(wc[0].byte_len, 8, "byte_len is what we posted");
	engine_go();
	/* the engine's own completion of it comes after: a sequence done
	 * already, dropped */
	cr_assert_eq(poll_for(a.cq, wc, 2, 200), 0);
	cr_assert_eq(gzt_ep_close(&a), 0);
	cr_assert_eq(gzt_ep_close(&b), 0);
}

Test(vfio, an_engine_that_stops_is_device_fatal_and_work_flushes)
{
	struct genzio_qp_attr qa = {.qp_type = GENZIO_QPT_RC, .sq_depth = 4};
	struct genzio_send_wr *bad;
	struct genzio_event ev;
	struct genzio_wc wc[8];
	struct genzio_qp *qp;
	struct gzt_ep a, b;
	int got, fatal = 0;

	pair(&a, &b);
	engine_pause(); /* for good: no rounds, no heartbeat */
	write8(&a, &b, 1, 1);
	write8(&a, &b, 2, 2);
	/* within the engine's 3 s of silence and a poll's look */
	got = poll_for(a.cq, wc, 2, 10000);
	cr_assert_eq(got, 2, "outstanding work completes");
	for (int i = 0; i < got; i++)
		cr_assert_eq(wc[i].status, GENZIO_WC_FLUSHED);
	for (int i = 0; i < 100 && !fatal; i++)
		fatal = !genzio_event_get(a.ctx, &ev) &&
			ev.type == GENZIO_EVENT_DEVICE_FATAL;
	cr_assert(fatal, "no DEVICE_FATAL");
	/* later work completes FLUSHED too, setup fails, close works */
	write8(&a, &b, 3, 3);
	cr_assert_eq(poll_for(a.cq, wc, 1, 1000), 1);
	cr_assert_eq(wc[0].status, GENZIO_WC_FLUSHED);
	cr_assert_eq(wc[0].wr_id, 3);
	qa.send_cq = qa.recv_cq = a.cq;
	cr_assert_eq(genzio_qp_create(a.pd, &qa, &qp), -ENODEV);
	(void)bad;
	cr_assert_eq(gzt_ep_close(&a), 0);
	engine_go();
	cr_assert_eq(gzt_ep_close(&b), 0);
}

Test(vfio, an_address_of_a_closed_component_never_reaches_its_successor)
{
	struct genzio_conn_info old;
	struct genzio_wc wc;
	struct gzt_ep a, b, c;

	cr_assert_eq(gzt_ep_open(&a, 65536, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_ep_open(&b, 65536, GZT_ACCESS_ALL), 0);
	old = b.info;
	cr_assert_eq(gzt_ep_close(&b), 0);
	/* the engine frees b's slot (after it cooled: a second); c gets
	 * it, and b's GCID */
	for (int i = 0; i < 5000 && eslot_free(old.gcid) == 0; i++)
		usleep(1000);
	cr_assert_eq(gzt_ep_open(&c, 65536, GZT_ACCESS_ALL), 0);
	cr_assert_eq(c.info.gcid, old.gcid);
	/* a connects to b's old address; c to a: c is refused (a's queue
	 * pair is tied to b's attach), and a's work never lands in c */
	cr_assert_eq(genzio_qp_connect(a.qp, old.qp_addr, old.qp_addr_len), 0);
	cr_assert_eq(
	    genzio_qp_connect(c.qp, a.info.qp_addr, a.info.qp_addr_len),
	    -EISCONN);
	*(uint64_t *)a.mem->addr = 0x77;
	write8(&a, &c, 0x77, 5);
	cr_assert_eq(poll_for(a.cq, &wc, 1, 5000), 1);
	cr_assert_eq(wc.status, GENZIO_WC_RETRY_EXC);
	cr_assert_eq(*(volatile uint64_t *)c.mem->addr, 0, "c was written");
	cr_assert_eq(gzt_ep_close(&a), 0);
	cr_assert_eq(gzt_ep_close(&c), 0);
}
