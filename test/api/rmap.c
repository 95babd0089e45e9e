// SPDX-License-Identifier: MIT
/* Load/store access to remote data space. */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api.h"

TestSuite(rmap, .init = gzt_fabric_init, .fini = gzt_fabric_fini,
	  .timeout = 30);

/* Whole pages of any size genzio uses (4 KiB, 2 MiB): a mapping has page
 * granularity, so the key must cover the pages it maps. */
#define MAPLEN (2u << 20)

Test(rmap, stores_and_flush_reach_the_owner_and_loads_see_its_data)
{
	GZT_REQUIRE(RMAP);
	struct gzt_target_cfg cfg = { MAPLEN, GZT_ACCESS_ALL, 6, 0, 0 };
	struct gzt_target t;
	struct gzt_ep ep;
	struct genzio_ah *ah;
	struct genzio_rmap *m;

	cr_assert_eq(gzt_ep_open(&ep, 0, 0), 0);
	gzt_target_start(&t, &cfg, &ep);
	cr_assert_eq(genzio_ah_create(ep.pd, t.info.gcid, &ah), 0);
	cr_assert_eq(genzio_rmap_map(ah, t.info.qpn, t.info.addr + 100, 5000,
				     t.info.rkey, GENZIO_RMAP_WC, &m), 0);
	cr_assert_eq(m->writable, 1);
	cr_assert_eq(m->length, 5000);
	cr_assert_eq(m->mode, GENZIO_RMAP_WB, "coherent memory: WB");
	/* loads see what the owner has: pattern 6 from offset 100 */
	uint8_t expect[5100];
	gzt_fill(expect, sizeof(expect), 6);
	cr_assert_eq(memcmp(m->addr, expect + 100, 5000), 0);
	/* stores land where the owner looks */
	gzt_fill(m->addr, 5000, 12);
	cr_assert_eq(genzio_flush(m->addr, 5000), 0);
	struct gzt_verify v = { 100, 5000, 12, 0 };
	cr_assert(gzt_target_verify(&t, &v));
	cr_assert_eq(genzio_rmap_unmap(m), 0);
	cr_assert_eq(genzio_ah_destroy(ah), 0);
	gzt_target_stop(&t);
	gzt_ep_close(&ep);
}

static int store_through_ro_main(int fd, void *arg)
{
	const struct genzio_conn_info *t = arg;
	struct genzio_rmap *m;
	struct genzio_ah *ah;
	struct gzt_ep ep;

	(void)fd;
	if (gzt_ep_open(&ep, 0, 0) ||
	    genzio_ah_create(ep.pd, t->gcid, &ah) ||
	    genzio_rmap_map(ah, t->qpn, t->addr, 64, t->rkey, GENZIO_RMAP_WB,
			    &m))
		return 90;
	if (m->writable)
		return 91;
	if (*(volatile uint8_t *)m->addr != 0)
		return 92;	/* loads work */
	signal(SIGSEGV, SIG_DFL);	/* not a sanitizer's handler */
	*(volatile uint8_t *)m->addr = 1;	/* must fault */
	return 93;
}

Test(rmap, read_only_key_maps_read_only_and_a_store_faults)
{
	GZT_REQUIRE(RMAP);
	struct gzt_target_cfg cfg = { MAPLEN, GENZIO_ACCESS_REMOTE_READ, 0, 0,
				      0 };
	struct gzt_target t;
	struct gzt_child c;
	struct gzt_verify zero = { 0, 4096, 0, 1 };

	gzt_target_start(&t, &cfg, NULL);
	cr_assert_eq(gzt_fork(&c, store_through_ro_main, &t.info), 0);
	cr_assert_eq(gzt_wait(&c), 128 + SIGSEGV);
	cr_assert(gzt_target_verify(&t, &zero), "the store changed nothing");
	gzt_target_stop(&t);
}

Test(rmap, mapping_outlives_its_owner_without_faults)
{
	GZT_REQUIRE(RMAP);
	struct gzt_target_cfg cfg = { MAPLEN, GZT_ACCESS_ALL, 0, 0, 0 };
	struct gzt_target t;
	struct gzt_ep ep;
	struct genzio_ah *ah;
	struct genzio_rmap *m;
	struct genzio_event ev;
	int got = 0;

	cr_assert_eq(gzt_ep_open(&ep, 0, 0), 0);
	gzt_target_start(&t, &cfg, &ep);
	cr_assert_eq(genzio_ah_create(ep.pd, t.info.gcid, &ah), 0);
	cr_assert_eq(genzio_rmap_map(ah, t.info.qpn, t.info.addr, 4096, t.info.rkey,
				     GENZIO_RMAP_WB, &m), 0);
	gzt_kill(&t.child);
	cr_assert_eq(gzt_wait(&t.child), 128 + SIGKILL);
	/* the pages stay ours: no SIGBUS, no SIGSEGV */
	((volatile uint64_t *)m->addr)[3] = 77;
	cr_assert_eq(((volatile uint64_t *)m->addr)[3], 77);
	for (int i = 0; i < GZT_WAIT_MS && !got; i++) {
		if (!gzt_event_get(ep.ctx, &ev))
			got = ev.type == GENZIO_EVENT_PEER_DEAD;
		else
			usleep(1000);
	}
	cr_assert(got, "PEER_DEAD tells the mapping is orphaned");
	cr_assert_eq(genzio_rmap_map(ah, t.info.qpn, t.info.addr, 64, t.info.rkey,
				     GENZIO_RMAP_WB, &m), -EHOSTUNREACH);
	cr_assert_eq(genzio_rmap_unmap(m), 0);
	genzio_ah_destroy(ah);
	gzt_ep_close(&ep);
}

Test(rmap, bad_arguments)
{
	GZT_REQUIRE(RMAP);
	struct gzt_ep ep;
	struct genzio_ah *ah;
	struct genzio_rmap *m;
	uint32_t rkey, q;
	uint64_t a;

	cr_assert_eq(gzt_ep_open(&ep, MAPLEN, GZT_ACCESS_ALL), 0);
	cr_assert_eq(genzio_ah_create(ep.pd, ep.info.gcid, &ah), 0);
	rkey = ep.info.rkey;
	q = ep.info.qpn;
	a = ep.info.addr;
	cr_assert_eq(genzio_rmap_map(NULL, q, a, 8, rkey, 0, &m), -EINVAL);
	cr_assert_eq(genzio_rmap_map(ah, 1u << 24, a, 8, rkey, 0, &m), -EINVAL);
	cr_assert_eq(genzio_rmap_map(ah, q, a, 0, rkey, 0, &m), -EINVAL);
	cr_assert_eq(genzio_rmap_map(ah, q, a, 8, rkey, 7, &m), -EINVAL);
	cr_assert_eq(genzio_rmap_map(ah, q, a, 8, rkey, 0, NULL), -EINVAL);
	cr_assert_eq(genzio_rmap_map(ah, q, UINT64_MAX, 8, rkey, 0, &m),
		     -EINVAL);
	cr_assert_eq(genzio_rmap_map(ah, q, a, 8, rkey ^ 0x333, 0, &m),
		     -ENOENT);
	cr_assert_eq(genzio_rmap_map(ah, q, a + MAPLEN - 2, 8, rkey, 0, &m),
		     -EACCES);
	cr_assert_eq(genzio_rmap_map(ah, q ^ 0x400, a, 8, rkey, 0, &m),
		     -EHOSTUNREACH, "no such queue pair");
	genzio_ah_destroy(ah);
	gzt_ep_close(&ep);
}

/* What needs no mapping, and so no GENZIO_CAP_RMAP. */
Test(rmap, bad_arguments_without_a_mapping)
{
	struct genzio_rmap *m = (void *)0x1;

	cr_assert_eq(genzio_rmap_map(NULL, 1, 4096, 8, 1, GENZIO_RMAP_WB, &m),
		     -EINVAL);
	cr_assert_eq(m, (void *)0x1);
	cr_assert_eq(genzio_rmap_unmap(NULL), -EINVAL);
	cr_assert_eq(genzio_flush(NULL, 8), -EINVAL);
	cr_assert_eq(genzio_flush(NULL, 0), 0);
	cr_assert_eq(genzio_fence(), 0);
}

Test(rmap, pages_the_key_does_not_cover_are_refused)
{
	GZT_REQUIRE(RMAP);
	struct genzio_mr *part;
	struct genzio_rmap *m;
	struct genzio_ah *ah;
	struct gzt_ep ep;
	uint64_t a;

	cr_assert_eq(gzt_ep_open(&ep, MAPLEN, 0), 0);
	/* 1 KiB in the middle of a page: no mapping can stay inside it */
	a = (uintptr_t)ep.mem->addr + 64;
	cr_assert_eq(genzio_mr_reg(ep.pd, (void *)(uintptr_t)a, 1024,
				   GZT_ACCESS_ALL, &part), 0);
	cr_assert_eq(genzio_ah_create(ep.pd, ep.info.gcid, &ah), 0);
	cr_assert_eq(genzio_rmap_map(ah, ep.info.qpn, a, 100, part->rkey,
				     GENZIO_RMAP_WB, &m), -EINVAL);
	cr_assert_eq(genzio_ah_destroy(ah), 0);
	cr_assert_eq(genzio_mr_dereg(part), 0);
	gzt_ep_close(&ep);
}

Test(rmap, a_key_of_another_protection_domain_is_refused)
{
	GZT_REQUIRE(RMAP);
	struct genzio_qp_attr qa = { .qp_type = GENZIO_QPT_RD, .sq_depth = 4,
				     .send_cq = NULL };
	struct genzio_rmap *m;
	struct genzio_ah *ah;
	struct genzio_pd *other;
	struct genzio_qp *oq;
	struct gzt_ep ep;

	cr_assert_eq(gzt_ep_open(&ep, MAPLEN, GZT_ACCESS_ALL), 0);
	cr_assert_eq(genzio_pd_alloc(ep.ctx, &other), 0);
	qa.send_cq = qa.recv_cq = ep.cq;
	cr_assert_eq(genzio_qp_create(other, &qa, &oq), 0);
	cr_assert_eq(genzio_ah_create(ep.pd, ep.info.gcid, &ah), 0);
	/* the key is of ep.pd; queue pair oq is of another domain, so RMA
	 * through it would be refused, and so is load/store */
	cr_assert_eq(genzio_rmap_map(ah, oq->qp_num, ep.info.addr, 64,
				     ep.info.rkey, GENZIO_RMAP_WB, &m), -EACCES);
	cr_assert_eq(genzio_rmap_map(ah, ep.info.qpn, ep.info.addr, 64,
				     ep.info.rkey, GENZIO_RMAP_WB, &m), 0);
	cr_assert_eq(genzio_rmap_unmap(m), 0);
	cr_assert_eq(genzio_ah_destroy(ah), 0);
	cr_assert_eq(genzio_qp_destroy(oq), 0);
	cr_assert_eq(genzio_pd_free(other), 0);
	gzt_ep_close(&ep);
}
