// SPDX-License-Identifier: MIT
/*
 * verbs provider: find RDMA devices, open one (its port, GID and limits),
 * take a GCID, close.
 *
 * GCIDs. A verbs fabric has no Gen-Z manager, so a GCID is made of what
 * is unique already: the subnet ID is the low 16 bits of the port's GID
 * (RoCE: the last two bytes of the IPv4 address; InfiniBand: of the port
 * GUID) unless GENZIO_OPEN_ATTR_SUBNET names one, and the component ID is
 * this process's slot in the host's registry of the device (lib/fabric,
 * as shm's), so processes on one host never share one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "providers/verbs/verbs.h"
#include "sys/sys.h"

#define DEFAULT_TIMEOUT_MS 2000
#define RETRY_CNT 6		/* not 7: Soft-RoCE reads 7 as "for ever" */

static int env_uint(const char *name, uint32_t max, uint32_t *out)
{
	const char *s = getenv(name);
	unsigned long v;
	char *end;

	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtoul(s, &end, 0);
	/* strtoul takes " -1" as a huge number: no sign, no blank */
	if (errno || *end || strchr(s, '-') || *s == ' ' || v > max)
		return gz_err(-EINVAL, "%s=%s: want an integer 0..%u", name, s,
			      max);
	*out = (uint32_t)v;
	return 0;
}

/*
 * A dead peer shows as RETRY_EXC after (retry_cnt + 1) local ACK
 * timeouts of 4.096 us << ack_timeout each: pick the exponent that makes
 * the whole nearest @ms, by ratio (devices round it up, some by 2-4x).
 */
static uint8_t ack_timeout_for(uint32_t ms)
{
	uint64_t per_try_ns = (uint64_t)ms * 1000000 / (RETRY_CNT + 1);
	uint8_t t = 1;

	/* up while the next power of two is nearer: 2^t * 1.41 < target */
	while (t < 31 && (4096ull << t) * 1414 / 1000 < per_try_ns)
		t++;
	return t;
}

static int is_roce_v2_ipv4(const struct ibv_gid_entry *e)
{
	static const uint8_t v4[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					0xff, 0xff };

	return e->gid_type == IBV_GID_TYPE_ROCE_V2 &&
	       !memcmp(e->gid.raw, v4, sizeof(v4));
}

/* RoCE: the RoCE v2 GID of an IPv4 address, routable as perftest's -x
 * picks; else the first RoCE v2 one; InfiniBand: index 0. */
static int gid_pick(struct gz_vb_ctx *ctx, int tbl_len)
{
	uint32_t env = UINT32_MAX;
	int v2 = -1;

	if (env_uint("GENZIO_VERBS_GID_INDEX", 255, &env))
		return -EINVAL;
	if (env != UINT32_MAX)
		return (int)env;
	if (ctx->link_layer != IBV_LINK_LAYER_ETHERNET)
		return 0;
	for (int i = 0; i < tbl_len; i++) {
		struct ibv_gid_entry e;

		if (ibv_query_gid_ex(ctx->ib, ctx->port, i, &e, 0))
			continue;
		if (is_roce_v2_ipv4(&e))
			return i;
		if (v2 < 0 && e.gid_type == IBV_GID_TYPE_ROCE_V2)
			v2 = i;
	}
	return v2 >= 0 ? v2 : 0;
}

/* The first active port, else port 1, and what a peer needs of it. */
static int port_open(struct gz_vb_ctx *ctx)
{
	struct ibv_port_attr pa;
	int ret;

	ctx->port = 0;
	for (uint8_t p = 1; p <= ctx->dev.phys_port_cnt; p++)
		if (!ibv_query_port(ctx->ib, p, &pa) &&
		    pa.state == IBV_PORT_ACTIVE) {
			ctx->port = p;
			break;
		}
	if (!ctx->port) {
		/* it may come up later: LINK_UP says so */
		gz_err(0, "no ACTIVE port: using port 1 (check the link: "
		       "ibv_devinfo)");
		ctx->port = 1;
	}
	ret = ibv_query_port(ctx->ib, ctx->port, &pa);
	if (ret)
		return gz_err(-ret, "ibv_query_port(%u): %s", ctx->port,
			      strerror(ret));
	ctx->link_layer = pa.link_layer;
	ctx->lid = pa.lid;
	ctx->mtu = pa.active_mtu;
	atomic_store(&ctx->port_up, pa.state == IBV_PORT_ACTIVE);
	ctx->gid_index = gid_pick(ctx, pa.gid_tbl_len);
	if (ctx->gid_index < 0)
		return ctx->gid_index;
	ret = ibv_query_gid(ctx->ib, ctx->port, ctx->gid_index, &ctx->gid);
	if (ret)
		return gz_err(-EINVAL, "GID index %d of port %u: %s (set "
			      "GENZIO_VERBS_GID_INDEX to one that exists; "
			      "ibv_devinfo -v lists them)", ctx->gid_index,
			      ctx->port, strerror(errno));
	return 0;
}

/* The most inline data the device takes, asked the only way verbs has:
 * a queue pair that asks for it. */
static uint32_t inline_max(struct gz_vb_ctx *ctx)
{
	static const uint32_t want[] = { 256, 128, 64, 32, 0 };
	struct ibv_pd *pd = ibv_alloc_pd(ctx->ib);
	struct ibv_cq *cq = pd ? ibv_create_cq(ctx->ib, 1, NULL, NULL, 0) : NULL;
	uint32_t got = 0;

	for (size_t i = 0; cq && i < GZ_ARRAY_SIZE(want); i++) {
		struct ibv_qp_init_attr a = {
			.send_cq = cq, .recv_cq = cq, .qp_type = IBV_QPT_RC,
			.cap = { .max_send_wr = 1, .max_recv_wr = 1,
				 .max_send_sge = 1, .max_recv_sge = 1,
				 .max_inline_data = want[i] },
		};
		struct ibv_qp *qp = ibv_create_qp(pd, &a);

		if (qp) {
			got = a.cap.max_inline_data;
			ibv_destroy_qp(qp);
			break;
		}
	}
	if (cq)
		ibv_destroy_cq(cq);
	if (pd)
		ibv_dealloc_pd(pd);
	if (!got)
		gz_err(0, "no queue pair with inline data could be made: "
		       "GENZIO_SEND_INLINE is refused (max_inline 0)");
	return got;
}

static void fill_attr(struct gz_vb_ctx *ctx, const char *name)
{
	struct genzio_device_attr *a = &ctx->base.attr;
	int atomics = ctx->dev.atomic_cap != IBV_ATOMIC_NONE;
	int huge = gz_sys_huge_free(GZ_PAGE_2M) > 0;

	snprintf(a->name, sizeof(a->name), "%s", name);
	snprintf(a->provider, sizeof(a->provider), "verbs");
	/* RD made of RC children (verbs_rd.c), no load/store, no fine
	 * remote status (verbs has one remote access error), no staging
	 * (receives need none); and verbs' own rules: an error kills the
	 * queue pair, no liveness, a reset drops, a cq overrun is fatal,
	 * and a target makes progress for RD connections (no
	 * ONE_SIDED_TARGET). */
	/* DEATH_AT_ONCE: a dead process's queue pairs die with it (the
	 * kernel destroys them), so the next request fails */
	a->caps = GENZIO_CAP_RMA | GENZIO_CAP_MSG | GENZIO_CAP_WRITE_IMM |
		  GENZIO_CAP_DEATH_AT_ONCE |
		  GENZIO_CAP_SYNC | GENZIO_CAP_REG_ANY | GENZIO_CAP_RECV_ANY |
		  GENZIO_CAP_RD |
		  (atomics ? GENZIO_CAP_ATOMIC : 0) |
		  (huge ? GENZIO_CAP_HUGE_PAGES : 0);
	/* verbs' atomics: 64-bit CAS and FADD; the rest of Gen-Z's set is
	 * absent rather than emulated (a CAS loop would not be atomic
	 * against the target's own CPU stores) */
	a->atomic_ops32 = 0;
	a->atomic_ops64 = atomics ? GENZIO_ATOMIC_OP(GENZIO_WR_ATOMIC_CAS) |
				    GENZIO_ATOMIC_OP(GENZIO_WR_ATOMIC_FADD) : 0;
	a->max_qp = (uint32_t)ctx->dev.max_qp < GZ_VB_MAX_QP - 1 ?
		    (uint32_t)ctx->dev.max_qp : GZ_VB_MAX_QP - 1;
	a->max_cq = (uint32_t)ctx->dev.max_cq;
	a->max_qp_wr = (uint32_t)ctx->dev.max_qp_wr;
	a->max_cqe = (uint32_t)ctx->dev.max_cqe;
	a->max_sge = (uint32_t)(ctx->dev.max_sge < ctx->dev.max_sge_rd ||
				!ctx->dev.max_sge_rd ? ctx->dev.max_sge :
				ctx->dev.max_sge_rd);
	a->max_inline = inline_max(ctx);
	a->max_mr = (uint32_t)ctx->dev.max_mr;
	a->max_mr_size = ctx->dev.max_mr_size;
	a->page_size = huge ? GZ_PAGE_2M : GZ_PAGE_4K;
	a->huge_budget = ctx->huge_budget;
}

/*
 * Our GCID: the subnet is what @o names, else the port's LID on
 * InfiniBand (unique in its subnet) or the low 16 bits of the GID on RoCE
 * (of the IPv4 address: unique within a /16); the CID is ours in the host
 * registry of the fabric name (GENZIO_FABRIC, as on shm: a job's
 * processes share one, and jobs, or tests, that run side by side do not
 * take each other's CIDs). That registry hands out CIDs only (its own
 * subnet is 0, so processes of one host may use different subnets) and
 * is per user, as every genzio file: two users of one host may get one
 * GCID; a job that needs more names the subnet (genzio_verbs(7)).
 */
static int gcid_take(struct gz_vb_ctx *ctx, const struct gz_open_opts *o)
{
	char name[GZ_FABRIC_NAME_MAX + 1], why[256];
	uint32_t subnet = o->subnet_set ? o->subnet :
			  ctx->link_layer != IBV_LINK_LAYER_ETHERNET ? ctx->lid :
			  (uint32_t)ctx->gid.raw[14] << 8 | ctx->gid.raw[15];
	int dirfd, ret;

	/* a checked fabric name ([A-Za-z0-9_]), its first 21 characters */
	snprintf(name, sizeof(name), "vb_%.21s", o->fabric);
	ret = gz_sys_privdir_open(gz_sys_base_dir(), &dirfd, why, sizeof(why));
	if (ret)
		return gz_err(ret, "%s (the host registry of GCIDs lives there: "
			      "set GENZIO_SHM_DIR to a tmpfs directory you may "
			      "write)", why);
	ret = gz_fabric_open(dirfd, name, 0, &ctx->fabric);
	close(dirfd);
	if (ret)
		return ret;
	ret = gz_fabric_join(&ctx->fabric, NULL, NULL, NULL, &ctx->cid,
			     &ctx->incarnation);
	if (ret) {
		gz_fabric_close(&ctx->fabric);
		return ret;
	}
	ctx->base.attr.gcid = GENZIO_GCID(subnet, ctx->cid);
	return 0;
}

static struct ibv_context *open_by_name(const char *dev, int *err)
{
	struct ibv_device **list;
	struct ibv_context *ib = NULL;
	int n, found = 0;

	*err = 0;
	list = ibv_get_device_list(&n);
	for (int i = 0; list && i < n && !found; i++)
		if (!strcmp(ibv_get_device_name(list[i]), dev)) {
			found = 1;
			ib = ibv_open_device(list[i]);
			if (!ib)
				*err = gz_err(errno ? -errno : -ENODEV,
					      "ibv_open_device(%s): %s", dev,
					      strerror(errno ? errno : ENODEV));
		}
	if (list)
		ibv_free_device_list(list);
	if (!found)
		*err = gz_err(-ENODEV, "no RDMA device %s (gone since it was "
			      "listed? genzio-info lists them)", dev);
	return ib;
}

static int vb_device_open(const char *dev, const struct genzio_open_attr *attr,
			  struct genzio_context **out)
{
	uint32_t ms = DEFAULT_TIMEOUT_MS, peers = GZ_VB_RD_PEERS;
	struct gz_open_opts o;
	struct gz_vb_ctx *ctx;
	int ret;

	/* checked as everywhere; a network has no named host fabric, so
	 * the fabric name chooses nothing here */
	ret = gz_open_opts_get(attr, &o);
	if (ret)
		return ret;
	if (env_uint("GENZIO_VERBS_TIMEOUT_MS", 600000, &ms) ||
	    env_uint("GENZIO_VERBS_RD_PEERS", GZ_VB_RD_PEERS_MAX, &peers))
		return -EINVAL;
	if (!peers)
		return gz_err(-EINVAL, "GENZIO_VERBS_RD_PEERS=0: want 1..%u",
			      GZ_VB_RD_PEERS_MAX);
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->ib = open_by_name(dev, &ret);
	if (!ctx->ib) {
		free(ctx);
		return ret;
	}
	ret = ibv_query_device(ctx->ib, &ctx->dev);
	if (ret) {
		ret = gz_err(-ret, "ibv_query_device(%s): %s", dev,
			     strerror(ret));
		goto close;
	}
	ret = port_open(ctx);
	if (ret)
		goto close;
	/* ibv_get_async_event must not block the event harvest */
	if (fcntl(ctx->ib->async_fd, F_SETFL,
		  fcntl(ctx->ib->async_fd, F_GETFL) | O_NONBLOCK)) {
		ret = gz_err(-errno, "async fd: %s", strerror(errno));
		goto close;
	}
	ctx->huge_budget = o.budget;
	fill_attr(ctx, dev);
	ret = gcid_take(ctx, &o);
	if (ret)
		goto close;
	ctx->peer_timeout_ms = ms;
	ctx->rd_peers = peers;
	/* past the ACK budget (devices stretch it 2-4x) and the longest RNR
	 * wait (6 x 655 ms): a device that says nothing by then stalled */
	ctx->stall_ns = ms ? ((uint64_t)ms * 4 + 5000) * 1000000u : 0;
	ctx->retry_cnt = ms ? RETRY_CNT : 0;
	ctx->ack_timeout = ms ? ack_timeout_for(ms) : 0;	/* 0: for ever */
	ctx->membarrier = gz_sys_membarrier_private_register();
	/* a destroy's barrier must work, or the pollers fence themselves */
	ctx->poll_fence = gz_sys_membarrier_private(ctx->membarrier) != 0;
	if (ctx->poll_fence)
		gz_err(0, "membarrier refused here: polls take a fence");
	*out = &ctx->base;
	return 0;
close:
	ibv_close_device(ctx->ib);
	free(ctx);
	return ret;
}

static void vb_device_close(struct genzio_context *base)
{
	struct gz_vb_ctx *ctx = gz_vb_ctx_of(base);

	gz_fabric_leave(&ctx->fabric, ctx->cid, ctx->incarnation);
	gz_fabric_close(&ctx->fabric);
	if (ctx->wire_ch)
		ibv_destroy_comp_channel(ctx->wire_ch);
	ibv_close_device(ctx->ib);
	/* the core frees ctx, after its event queue */
}

/* One line of where a device is, for genzio-info. */
static void describe(struct ibv_device *d, char *out, size_t len)
{
	struct ibv_context *ib = ibv_open_device(d);
	struct ibv_port_attr pa;

	if (!ib) {
		snprintf(out, len, "cannot open: %s", strerror(errno));
		return;
	}
	if (ibv_query_port(ib, 1, &pa))
		snprintf(out, len, "port 1 unknown");
	else
		snprintf(out, len, "port 1 %s, %s, mtu %d",
			 ibv_port_state_str(pa.state),
			 pa.link_layer == IBV_LINK_LAYER_ETHERNET ? "RoCE" :
			 "InfiniBand", 128 << pa.active_mtu);
	ibv_close_device(ib);
}

static int vb_probe(struct genzio_device_desc *devs, int max, char *why,
		    size_t len)
{
	struct ibv_device **list;
	int n = 0;

	list = ibv_get_device_list(&n);
	if (!list || (!n && access("/sys/class/infiniband", F_OK))) {
		/* ENOSYS: the kernel has no RDMA (no ib_uverbs) */
		snprintf(why, len, "this kernel has no RDMA (%s): use shm, or "
			 "try verbs in QEMU (README: Trying verbs without RDMA "
			 "hardware)", list ? "no /sys/class/infiniband" :
			 strerror(errno));
		if (list)
			ibv_free_device_list(list);
		return 0;
	}
	for (int i = 0; i < n && i < max; i++) {
		snprintf(devs[i].name, sizeof(devs[i].name), "%s",
			 ibv_get_device_name(list[i]));
		describe(list[i], devs[i].detail, sizeof(devs[i].detail));
	}
	ibv_free_device_list(list);
	if (!n)
		snprintf(why, len, "no RDMA device; Soft-RoCE, as root: "
			 "modprobe rdma_rxe; rdma link add rxe0 type rxe "
			 "netdev eth0");
	return n;
}

static int vb_fabric_open(const char *dev, const struct genzio_open_attr *attr,
			  struct gz_fabric *f)
{
	struct gz_open_opts o;
	int ret = gz_open_opts_get(attr, &o);

	(void)f;
	return ret ? ret : gz_err(-ENOTSUP, "%s: verbs components are on a "
				  "network, not on a host fabric", dev);
}

static int vb_rmap_map(struct genzio_ah *ah, uint32_t remote_qpn,
		       uint64_t raddr, uint64_t len, uint32_t rkey,
		       uint32_t mode, struct genzio_rmap **rmap)
{
	(void)ah, (void)remote_qpn, (void)raddr, (void)len, (void)rkey;
	(void)mode, (void)rmap;
	return gz_err(-EOPNOTSUPP, "verbs has no load/store mapping "
		      "(GENZIO_CAP_RMAP is clear)");
}

static void vb_rmap_unmap(struct genzio_rmap *rmap)
{
	(void)rmap;
}

const struct gz_provider gz_verbs_provider = {
	.name = "verbs",
	.addr_id = 2,
	.own_lkeys = 1,
	.probe = vb_probe,
	.ah_create = gz_vb_ah_create,
	.ah_destroy = gz_vb_ah_destroy,
	.channel_create = gz_vb_channel_create,
	.channel_destroy = gz_vb_channel_destroy,
	.channel_get_event = gz_vb_channel_get_event,
	.cq_create = gz_vb_cq_create,
	.cq_destroy = gz_vb_cq_destroy,
	.cq_req_notify = gz_vb_cq_req_notify,
	.device_close = vb_device_close,
	.device_open = vb_device_open,
	.event_watch = gz_vb_event_watch,
	.event_harvest = gz_vb_event_harvest,
	.device_fatal = gz_vb_device_fatal,
	.fabric_open = vb_fabric_open,
	.pd_alloc = gz_vb_pd_alloc,
	.pd_free = gz_vb_pd_free,
	.mem_alloc = gz_vb_mem_alloc,
	.mem_free = gz_vb_mem_free,
	.mr_dereg = gz_vb_mr_dereg,
	.mr_reg = gz_vb_mr_reg,
	.qp_addr = gz_vb_qp_addr,
	.qp_connect = gz_vb_qp_connect,
	.qp_create = gz_vb_qp_create,
	.qp_destroy = gz_vb_qp_destroy,
	.qp_query = gz_vb_qp_query,
	.qp_psn_set = gz_vb_qp_psn_set,
	.qp_reset = gz_vb_qp_reset,
	.rmap_map = vb_rmap_map,
	.rmap_unmap = vb_rmap_unmap,
	.verbs_addr = gz_vb_verbs_addr,
	.verbs_port = gz_vb_verbs_port,
};
