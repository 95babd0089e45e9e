// SPDX-License-Identifier: MIT
/*
 * Verbs-style names of queue pairs (genzio_verbs_port,
 * genzio_qp_connect_verbs): what a port of verbs code exchanges instead of
 * an address (rc_pingpong's LID:QPN:PSN:GID), on every provider that has
 * them. The peer's first PSN is the one its side chose.
 */
#include <errno.h>
#include <string.h>

#include "api.h"

TestSuite(verbsdest, .init = gzt_fabric_init, .fini = gzt_fabric_fini,
	  .timeout = 60);

/* @ep's queue pair, as verbs names it, with first PSN @psn. */
static struct genzio_verbs_dest dest_of(struct gzt_ep *ep, uint32_t psn)
{
	struct genzio_verbs_dest d = { .qpn = ep->qp->qp_num, .psn = psn };
	struct genzio_verbs_port p;

	cr_assert_eq(genzio_verbs_port(ep->ctx, &p), 0);
	memcpy(d.gid, p.gid, 16);
	d.lid = p.lid;
	return d;
}

Test(verbsdest, a_pair_connected_by_verbs_names_moves_data)
{
	struct gzt_ep a, b;
	struct genzio_sge sge;
	struct genzio_wc wc;
	uint64_t v = 0x5eed;

	cr_assert_eq(gzt_ep_open(&a, 4096, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_ep_open(&b, 4096, GZT_ACCESS_ALL), 0);
	struct genzio_verbs_dest da = dest_of(&a, 0x123456),
				 db = dest_of(&b, 0x654321);

	/* each side with its own PSN, the peer's from its dest */
	cr_assert_eq(genzio_qp_connect_verbs(a.qp, &db, da.psn), 0);
	cr_assert_eq(genzio_qp_connect_verbs(b.qp, &da, db.psn), 0);
	sge = (struct genzio_sge){ (uintptr_t)&v, 8, 0 };
	struct genzio_send_wr wr = {
		.sg_list = &sge, .num_sge = 1, .opcode = GENZIO_WR_WRITE,
		.send_flags = GENZIO_SEND_INLINE | GENZIO_SEND_SIGNALED,
		.rdma = { b.info.addr, b.info.rkey },
	};
	cr_assert_eq(gzt_post_wait(&a, &wr, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS, "%s",
		     genzio_wc_status_str(wc.status));
	cr_assert_eq(*(volatile uint64_t *)b.mem->addr, v);
	/* and back: the pair is the same as one made from addresses */
	v = 0xfeed;
	wr.rdma.remote_addr = a.info.addr;
	wr.rdma.rkey = a.info.rkey;
	cr_assert_eq(gzt_post_wait(&b, &wr, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	cr_assert_eq(*(volatile uint64_t *)a.mem->addr, v);
	cr_assert_eq(genzio_qp_connect_verbs(a.qp, &db, da.psn), -EISCONN);
	gzt_ep_close(&b);
	gzt_ep_close(&a);
}

/* shm: a verbs program that swaps no GID (rc_pingpong without -g) names
 * its peer by LID alone, a component ID of this host's subnet */
Test(verbsdest, shm_peers_are_found_by_lid_alone)
{
	struct genzio_device_attr da;
	struct gzt_ep a, b;
	struct genzio_sge sge;
	struct genzio_wc wc;
	uint64_t v = 77;

	cr_assert_eq(gzt_ep_open(&a, 4096, GZT_ACCESS_ALL), 0);
	cr_assert_eq(genzio_device_query(a.ctx, &da), 0);
	if (strcmp(da.provider, "shm")) {
		gzt_ep_close(&a);
		cr_skip_test("a LID alone names no %s peer", da.provider);
	}
	cr_assert_eq(gzt_ep_open(&b, 4096, GZT_ACCESS_ALL), 0);
	struct genzio_verbs_dest da_ = dest_of(&a, 5), db = dest_of(&b, 6);

	memset(da_.gid, 0, 16);
	memset(db.gid, 0, 16);
	cr_assert_eq(genzio_qp_connect_verbs(a.qp, &db, 5), 0);
	cr_assert_eq(genzio_qp_connect_verbs(b.qp, &da_, 6), 0);
	sge = (struct genzio_sge){ (uintptr_t)&v, 8, 0 };
	struct genzio_send_wr wr = {
		.sg_list = &sge, .num_sge = 1, .opcode = GENZIO_WR_WRITE,
		.send_flags = GENZIO_SEND_INLINE | GENZIO_SEND_SIGNALED,
		.rdma = { b.info.addr, b.info.rkey },
	};
	cr_assert_eq(gzt_post_wait(&a, &wr, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	cr_assert_eq(*(volatile uint64_t *)b.mem->addr, v);
	gzt_ep_close(&b);
	gzt_ep_close(&a);
}

Test(verbsdest, bad_arguments)
{
	struct genzio_device_attr da;
	struct genzio_verbs_port port;
	struct gzt_ep a, b;

	cr_assert_eq(gzt_ep_open(&a, 0, 0), 0);
	cr_assert_eq(gzt_ep_open(&b, 0, 0), 0);
	cr_assert_eq(genzio_verbs_port(NULL, &port), -EINVAL);
	cr_assert_eq(genzio_verbs_port(a.ctx, NULL), -EINVAL);
	cr_assert_eq(genzio_verbs_port(a.ctx, &port), 0);
	struct genzio_verbs_dest d = dest_of(&b, 1), x;

	cr_assert_eq(genzio_qp_connect_verbs(NULL, &d, 1), -EINVAL);
	cr_assert_eq(genzio_qp_connect_verbs(a.qp, NULL, 1), -EINVAL);
	x = d, x.qpn = 0;
	cr_assert_eq(genzio_qp_connect_verbs(a.qp, &x, 1), -EINVAL);
	x = d, x.qpn = 1u << 24;
	cr_assert_eq(genzio_qp_connect_verbs(a.qp, &x, 1), -EINVAL);
	x = d, x.psn = 1u << 24;
	cr_assert_eq(genzio_qp_connect_verbs(a.qp, &x, 1), -EINVAL);
	x = d, x.lid = 1u << 16;
	cr_assert_eq(genzio_qp_connect_verbs(a.qp, &x, 1), -EINVAL);
	cr_assert_eq(genzio_qp_connect_verbs(a.qp, &d, 1u << 24), -EINVAL);
	x = d, x.mtu = 6;
	cr_assert_eq(genzio_qp_connect_verbs(a.qp, &x, 1), -EINVAL);
	x = d, x.rd_atomic = 17;
	cr_assert_eq(genzio_qp_connect_verbs(a.qp, &x, 1), -EINVAL);
	x = d, x.reserved[1] = 1;
	cr_assert_eq(genzio_qp_connect_verbs(a.qp, &x, 1), -EINVAL);
	cr_assert_eq(genzio_device_query(a.ctx, &da), 0);
	if (!strcmp(da.provider, "shm")) {
		/* no GID: a LID of a component ID nobody holds, or none */
		x = d;
		memset(x.gid, 0, sizeof(x.gid));
		x.lid = 4000;
		cr_assert_eq(genzio_qp_connect_verbs(a.qp, &x, 1),
			     -EHOSTUNREACH);
		x.lid = 0;
		cr_assert_eq(genzio_qp_connect_verbs(a.qp, &x, 1), -EINVAL);
		x = d;
		x.gid[0] ^= 1;	/* not shm's form */
		cr_assert_eq(genzio_qp_connect_verbs(a.qp, &x, 1), -EINVAL);
		x = d;
		x.lid = x.lid % 4095 + 1;	/* another component than its GID */
		cr_assert_eq(genzio_qp_connect_verbs(a.qp, &x, 1), -EINVAL);
		x = d;
		x.gid[12] ^= 1;	/* a component of another host */
		cr_assert_eq(genzio_qp_connect_verbs(a.qp, &x, 1),
			     -EHOSTUNREACH);
		x = d;
		x.gid[6] ^= 1;	/* an incarnation that is gone */
		cr_assert_eq(genzio_qp_connect_verbs(a.qp, &x, 1),
			     -EHOSTUNREACH);
	} else if (port.link_layer == 2) {
		x = d;	/* verbs on RoCE: a GID it needs */
		memset(x.gid, 0, sizeof(x.gid));
		cr_assert_eq(genzio_qp_connect_verbs(a.qp, &x, 1), -EINVAL);
	}
	if (gzt_caps() & GENZIO_CAP_RD) {
		struct gzt_ep rd;

		cr_assert_eq(gzt_ep_open_type(&rd, 0, 0, GENZIO_QPT_RD), 0);
		cr_assert_eq(genzio_qp_connect_verbs(rd.qp, &d, 1), -EINVAL,
			     "RD connects not");
		gzt_ep_close(&rd);
	}
	/* nothing of that moved a: it connects now */
	cr_assert_eq(genzio_qp_connect_verbs(a.qp, &d, 1), 0);
	gzt_ep_close(&b);
	gzt_ep_close(&a);
}
