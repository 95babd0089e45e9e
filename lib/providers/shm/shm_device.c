// SPDX-License-Identifier: MIT
/* shm provider: join the host fabric as a component, and leave it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/addr.h"
#include "providers/shm/shm.h"

static int parse_attr(const struct genzio_open_attr *attr, const char **fabric,
		      uint32_t *subnet, uint64_t *budget)
{
	struct gz_open_opts o;
	int ret = gz_open_opts_get(attr, &o);

	*fabric = o.fabric;
	*subnet = o.subnet;
	*budget = o.budget;
	return ret;
}

/* What to do about a base directory we cannot use. */
static const char *base_hint(void)
{
	const char *d = getenv("GENZIO_SHM_DIR");

	return d && *d ? " (GENZIO_SHM_DIR must name a tmpfs directory you "
			 "may write)" :
			 " (set GENZIO_SHM_DIR to a tmpfs directory you may "
			 "write)";
}

/* Why huge pages of one size are off, for the fallback notice. */
static void huge_off(struct gz_shm_ctx *ctx, int i, const char *mnt,
		     const char *why)
{
	const char *size = i == GZ_SHM_DIR_HUGE1G ? "1G" : "2M";
	char *out = ctx->huge_why[i - GZ_SHM_DIR_HUGE2M];
	size_t len = sizeof(ctx->huge_why[0]);

	if (!mnt)
		snprintf(out, len, "no hugetlbfs mount with %s pages (as root: "
			 "mkdir -p /dev/hugepages%s && mount -t hugetlbfs -o "
			 "pagesize=%s,mode=1777 nodev /dev/hugepages%s)", size,
			 i == GZ_SHM_DIR_HUGE1G ? "1G" : "",
			 size, i == GZ_SHM_DIR_HUGE1G ? "1G" : "");
	else if (access(mnt, W_OK))	/* root's mount, not open to us */
		snprintf(out, len, "%.200s; as root, remount %.128s with mode=1777 "
			 "or uid=%u", why, mnt, (unsigned)geteuid());
	else
		snprintf(out, len, "%.300s", why);
}

/* Our private directories: the tmpfs one is required, the hugetlbfs ones
 * are used when a mount exists and we may make our directory in it. */
static int dirs_open(struct gz_shm_ctx *ctx)
{
	static const uint64_t page[GZ_SHM_NDIRS] = { 0, GZ_PAGE_2M,
						     GZ_PAGE_1G };
	char mnt[PATH_MAX], why[256];
	int ret;

	for (int i = 0; i < GZ_SHM_NDIRS; i++)
		ctx->dirfd[i] = -1;
	ret = gz_sys_privdir_open(gz_sys_base_dir(), &ctx->dirfd[GZ_SHM_DIR_SHM], why,
				  sizeof(why));
	if (ret)
		return gz_err(ret, "%s%s", why, base_hint());
	for (int i = GZ_SHM_DIR_HUGE2M; i < GZ_SHM_NDIRS; i++) {
		if (gz_sys_hugetlbfs_find(page[i], mnt, sizeof(mnt)))
			huge_off(ctx, i, NULL, NULL);
		else if (gz_sys_privdir_open(mnt, &ctx->dirfd[i], why,
					     sizeof(why)))
			huge_off(ctx, i, mnt, why);
	}
	return 0;
}

static void dirs_close(struct gz_shm_ctx *ctx)
{
	for (int i = 0; i < GZ_SHM_NDIRS; i++)
		if (ctx->dirfd[i] >= 0)
			close(ctx->dirfd[i]);
}

static int comp_create(struct gz_shm_ctx *ctx)
{
	char name[64];
	struct gz_shm_comp *c;
	struct gz_shmfile f;
	struct stat st;
	int ret;

	gz_shm_name(ctx, name, sizeof(name), ctx->cid, ctx->incarnation,
		    ".comp");
	/* Populated (about 2 MiB): a peer reading the tables never meets
	 * a hole, and a full /dev/shm fails here rather than later. */
	ret = gz_sys_shmfile_create(ctx->dirfd[GZ_SHM_DIR_SHM], name,
				    sizeof(*c), GZ_PAGE_4K, -1, GZ_SHMFILE_KEEP_FD,
				    &f);
	if (ret)
		return gz_err(ret, "cannot create %s: %s", name, strerror(-ret));
	/* The fd it was made with, held open read-write for life: the
	 * kernel's word, for peers that reach our private memory, that this
	 * process owns the file (a peer opens it read-only, and closes it
	 * once mapped); and how we know the file later. */
	ctx->comp_fd = f.fd;
	if (fstat(ctx->comp_fd, &st)) {
		ret = -errno;
		close(ctx->comp_fd);
		munmap(f.addr, sizeof(*c));
		unlinkat(ctx->dirfd[GZ_SHM_DIR_SHM], name, 0);
		return gz_err(ret, "cannot stat %s: %s", name, strerror(-ret));
	}
	ctx->comp_dev = st.st_dev;
	ctx->comp_ino = st.st_ino;
	c = f.addr;
	c->version = GZ_SHM_VERSION;
	c->gcid = ctx->base.attr.gcid;
	c->pid = getpid();
	c->incarnation = ctx->incarnation;
	gz_sys_proc_starttime(getpid(), &c->starttime);
	ret = gz_sys_lifelock_hold(&c->life);
	if (ret) {
		close(ctx->comp_fd);
		munmap(c, sizeof(*c));
		unlinkat(ctx->dirfd[GZ_SHM_DIR_SHM], name, 0);
		return gz_err(ret, "life lock: this kernel or libc keeps no "
			      "robust futex list");
	}
	/* Release: a peer that sees the magic sees the header above. */
	__atomic_store_n(&c->magic, GZ_SHM_MAGIC_COMP, __ATOMIC_RELEASE);
	ctx->comp = c;
	return 0;
}

static void comp_destroy(struct gz_shm_ctx *ctx)
{
	char name[64];

	/* Closed first, then the life word changes: a peer that sees the
	 * change finds "closed" and needs no syscall to know we left. */
	atomic_store_explicit(&ctx->comp->closed, 1, memory_order_release);
	gz_shm_name(ctx, name, sizeof(name), ctx->cid, ctx->incarnation,
		    ".comp");
	/* only our file: one put under its name meanwhile is not ours */
	if (gz_shm_comp_ours(ctx))
		unlinkat(ctx->dirfd[GZ_SHM_DIR_SHM], name, 0);
	close(ctx->comp_fd);
	if (gz_sys_lifelock_release(&ctx->comp->life)) {
		munmap(ctx->comp, sizeof(*ctx->comp));
	} else {
		/* Closed from a thread other than the opener: the life lock
		 * stays on the opener's robust list, so the page holding it
		 * stays mapped. Everything after it goes. */
		size_t keep = gz_align_up(offsetof(struct gz_shm_comp, life) +
						  sizeof(struct gz_lifelock),
					  GZ_PAGE_4K);

		munmap((char *)ctx->comp + keep, sizeof(*ctx->comp) - keep);
	}
}

static void fill_attr(struct gz_shm_ctx *ctx)
{
	struct genzio_device_attr *a = &ctx->base.attr;
	int huge = ctx->dirfd[GZ_SHM_DIR_HUGE2M] >= 0 &&
		   gz_sys_huge_free(GZ_PAGE_2M) > 0;

	snprintf(a->name, sizeof(a->name), "shm0");
	snprintf(a->provider, sizeof(a->provider), "shm");
	a->caps = GENZIO_CAP_RMA | GENZIO_CAP_ATOMIC | GENZIO_CAP_MSG |
		  GENZIO_CAP_WRITE_IMM | GENZIO_CAP_SYNC | GENZIO_CAP_RD |
		  GENZIO_CAP_RMAP | GENZIO_CAP_FINE_STATUS |
		  GENZIO_CAP_ONE_SIDED_TARGET | GENZIO_CAP_REG_CONVERT |
		  GENZIO_CAP_RECV_STAGED | GENZIO_CAP_QP_SURVIVES_FAULT |
		  GENZIO_CAP_PEER_WATCH | GENZIO_CAP_RECV_ANY |
		  GENZIO_CAP_RESET_FLUSHES | GENZIO_CAP_CQ_BACKPRESSURE |
		  GENZIO_CAP_DEATH_AT_ONCE |
		  (ctx->procmem_why[0] ? 0 : GENZIO_CAP_REG_ANY) |
		  (huge ? GENZIO_CAP_HUGE_PAGES : 0);
	a->max_qp = GZ_SHM_MAX_QP;
	a->max_cq = GZ_SHM_MAX_QP;
	a->max_qp_wr = GZ_SHM_MAX_DEPTH;
	a->max_cqe = GZ_SHM_MAX_DEPTH;
	a->max_sge = GZ_SHM_MAX_SGE;
	a->max_inline = GENZIO_MAX_INLINE;
	a->max_mr = GZ_SHM_MAX_MR;
	/* every Gen-Z atomic, both widths (xdm executes them natively) */
	a->atomic_ops32 = a->atomic_ops64 =
		GENZIO_ATOMIC_OP(GENZIO_WR_ATOMIC_UMAX + 1) - 1;
	a->max_mr_size = 1ull << 40;
	a->page_size = huge ? GZ_PAGE_2M : GZ_PAGE_4K;
	a->huge_budget = ctx->huge_budget;
	a->max_recv_staged = GZ_SHM_STAGE_MAX;
}

static int shm_device_open(const char *dev,
			   const struct genzio_open_attr *attr,
			   struct genzio_context **out)
{
	uint64_t allow[64];
	const char *fabric;
	struct gz_shm_ctx *ctx;
	uint32_t subnet;
	uint64_t budget;
	int ret, any;

	ret = parse_attr(attr, &fabric, &subnet, &budget);
	if (ret)
		return ret;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->huge_budget = budget;
	ctx->fm.fd = -1;
	ret = dirs_open(ctx);
	if (ret)
		goto close_dirs;
	/* the manager's lock is held until our component is attached: a
	 * joiner never meets a fabric half built or a CID half taken */
	ret = gz_shm_fm_enter(ctx, fabric, &subnet, allow, &any);
	if (ret)
		goto fm_exit;
	ret = gz_fabric_open(ctx->dirfd[GZ_SHM_DIR_SHM], fabric, subnet,
			     &ctx->fabric);
	if (ret)
		goto fm_exit;
	ret = gz_fabric_join(&ctx->fabric, gz_shm_sweep, ctx, any ? NULL : allow,
			     &ctx->cid, &ctx->incarnation);
	if (ret)
		goto close_fabric;
	ctx->base.attr.gcid = GENZIO_GCID(subnet, ctx->cid);
	ret = comp_create(ctx);
	if (ret)
		goto leave;
	ret = gz_shm_guard_create(ctx);
	if (ret)
		goto destroy_comp;
	/* Peers deregistering memory fence us with a membarrier. */
	ctx->mb_expedited = gz_sys_membarrier_register();
	gz_sys_procmem_why(ctx->procmem_why, sizeof(ctx->procmem_why));
	ctx->inofd = -1;		/* gz_shm_watch_start() sets them */
	ctx->watch_efd = -1;
	ctx->fm_efd = -1;
	fill_attr(ctx);
	ret = gz_shm_fm_attach(ctx);
	if (ret)
		goto destroy_guard;
	(void)dev;	/* one device: shm0 */
	*out = &ctx->base;
	return 0;

destroy_guard:
	gz_shm_guard_destroy(ctx);
destroy_comp:
	comp_destroy(ctx);
leave:
	gz_fabric_leave(&ctx->fabric, ctx->cid, ctx->incarnation);
close_fabric:
	gz_fabric_close(&ctx->fabric);
fm_exit:
	gz_shm_fm_exit(ctx);
close_dirs:
	dirs_close(ctx);
	free(ctx);
	return ret;
}

static void shm_event_watch(struct genzio_context *base)
{
	gz_shm_watch_start(to_shm_ctx(base));
	gz_shm_fm_watch_start(to_shm_ctx(base));
}

static void shm_device_close(struct genzio_context *base)
{
	struct gz_shm_ctx *ctx = to_shm_ctx(base);

	for (uint32_t i = 0; i <= GZ_SHM_MAX_CID; i++)
		if (ctx->peer[i])
			gz_shm_peer_put(ctx->peer[i]);
	gz_shm_watch_stop(ctx);
	gz_shm_fm_watch_stop(ctx);
	/* the others hear COMPONENT_REMOVE before our files go */
	gz_shm_fm_leave(ctx);
	comp_destroy(ctx);
	gz_shm_guard_destroy(ctx);
	gz_fabric_leave(&ctx->fabric, ctx->cid, ctx->incarnation);
	gz_fabric_close(&ctx->fabric);
	dirs_close(ctx);
	/* the core frees ctx, after its event queue */
}

static int shm_fabric_open(const char *dev,
			   const struct genzio_open_attr *attr,
			   struct gz_fabric *f)
{
	const char *fabric;
	uint32_t subnet;
	uint64_t budget;
	char why[256];
	int dirfd, ret;

	(void)dev;
	ret = parse_attr(attr, &fabric, &subnet, &budget);
	if (ret)
		return ret;
	(void)subnet;	/* a view shows whatever subnet the fabric has */
	ret = gz_sys_privdir_open(gz_sys_base_dir(), &dirfd, why, sizeof(why));
	if (ret)
		return gz_err(ret, "%s%s", why, base_hint());
	ret = gz_fabric_view(dirfd, fabric, f);
	close(dirfd);
	return ret;
}

static int shm_probe(struct genzio_device_desc *devs, int max, char *why,
		     size_t len)
{
	if (!access(gz_sys_base_dir(), W_OK)) {
		if (max > 0) {
			snprintf(devs[0].name, sizeof(devs[0].name), "shm0");
			snprintf(devs[0].detail, sizeof(devs[0].detail),
				 "%.50s/genzio-%u", gz_sys_base_dir(),
				 (unsigned)geteuid());
		}
		return 1;
	}
	snprintf(why, len, "%.200s: %s%s", gz_sys_base_dir(), strerror(errno),
		 base_hint());
	return 0;
}

/*
 * Verbs-style names (genzio_verbs_port). The GID: 'g' 's', the GCID, the
 * low 48 bits of the incarnation, and where it lives (verbs_home: one of
 * another host or registry is told, not taken for a local component of
 * the same GCID); the
 * interface-ID half is nonzero, so a verbs program that takes a zero one
 * for "no GID" passes it on. The LID is the component ID, enough alone
 * within our subnet. Read back as input: every field checked, and the
 * component looked up in the registry as any address's is.
 */
static const uint8_t verbs_magic[2] = { 'g', 's' };

/* Where the component lives: this boot of this host, and the registry
 * file its GCID is of (one per user and GENZIO_SHM_DIR, each counting
 * incarnations from 1): 0 if unknown, which matches no peer. */
static uint32_t verbs_home(const struct gz_shm_ctx *ctx)
{
	uint32_t h = 0;
	struct stat st;

	if (gz_sys_host_id(&h) || fstat(ctx->fabric.fd, &st))
		return 0;
	h = (h ^ (uint32_t)st.st_dev) * 16777619u;
	h = (h ^ (uint32_t)st.st_ino) * 16777619u;
	h = (h ^ (uint32_t)(st.st_ino >> 32)) * 16777619u;
	return h ? h : 1;
}

static void shm_verbs_port(struct genzio_context *base,
			   struct genzio_verbs_port *p)
{
	struct gz_shm_ctx *ctx = to_shm_ctx(base);
	uint32_t host = verbs_home(ctx);

	memcpy(p->gid, verbs_magic, 2);
	gz_le32_put(p->gid + 2, base->attr.gcid);
	gz_le32_put(p->gid + 6, (uint32_t)ctx->incarnation);
	p->gid[10] = (uint8_t)(ctx->incarnation >> 32);
	p->gid[11] = (uint8_t)(ctx->incarnation >> 40);
	gz_le32_put(p->gid + 12, host);
	p->lid = (uint16_t)GENZIO_GCID_CID(base->attr.gcid);
	p->link_layer = 0;
	p->mtu = 5;	/* 4096: no path limits a message */
}

static int shm_verbs_addr(struct genzio_context *base,
			  const struct genzio_verbs_dest *d, uint8_t *buf,
			  size_t len, uint32_t *gcid)
{
	static const uint8_t none[16];
	struct gz_shm_ctx *ctx = to_shm_ctx(base);
	uint32_t sid = GENZIO_GCID_SID(base->attr.gcid), g, host = 0;
	uint64_t inc48 = 0;
	struct gz_fabric_member m;
	int ret;

	if (!memcmp(d->gid, none, 16)) {	/* a LID alone: of our subnet */
		g = GENZIO_GCID(sid, d->lid);
		if (!d->lid || d->lid > GZ_FABRIC_MAX_CID)
			return gz_err(-EINVAL, "LID %#x is no component ID, "
				      "and no GID was given", d->lid);
	} else {
		g = gz_le32_get(d->gid + 2);
		inc48 = gz_le32_get(d->gid + 6) |
			(uint64_t)d->gid[10] << 32 | (uint64_t)d->gid[11] << 40;
		if (memcmp(d->gid, verbs_magic, 2) || g >> 28 ||
		    !GENZIO_GCID_CID(g) || !inc48 ||
		    (d->lid && d->lid != GENZIO_GCID_CID(g)))
			return gz_err(-EINVAL, "not an shm queue pair's GID and "
				      "LID (genzio_verbs_port() of its context "
				      "gives them)");
		host = verbs_home(ctx);
		if (!host || host != gz_le32_get(d->gid + 12))
			return gz_err(-EHOSTUNREACH, "GCID %#x is a component "
				      "of another host or registry (shm reaches "
				      "its own only)", g);
	}
	if (GENZIO_GCID_SID(g) != sid)
		return gz_err(-EHOSTUNREACH, "GCID %#x is not of this fabric's "
			      "subnet %#x", g, sid);
	ret = gz_fabric_lookup(&ctx->fabric, GENZIO_GCID_CID(g), &m);
	if (ret)
		return ret;
	if (inc48 && (m.incarnation & 0xffffffffffffull) != inc48)
		return gz_err(-EHOSTUNREACH, "GCID %#x is another incarnation "
			      "now: the one named left", g);
	if (len < GZ_SHM_ADDR_LEN)
		return -ENOSPC;
	gz_le32_put(buf, d->qpn);
	gz_le64_put(buf + 4, m.incarnation);
	*gcid = g;
	return GZ_SHM_ADDR_LEN;
}

const struct gz_provider gz_shm_provider = {
	.name = "shm",
	.addr_id = 1,
	.probe = shm_probe,
	.ah_create = gz_shm_ah_create,
	.ah_destroy = gz_shm_ah_destroy,
	.channel_create = gz_shm_channel_create,
	.channel_destroy = gz_shm_channel_destroy,
	.channel_get_event = gz_shm_channel_get_event,
	.component_query = gz_shm_component_query,
	.cq_create = gz_shm_cq_create,
	.cq_destroy = gz_shm_cq_destroy,
	.cq_req_notify = gz_shm_cq_req_notify,
	.device_close = shm_device_close,
	.device_open = shm_device_open,
	.event_watch = shm_event_watch,
	.event_harvest = gz_shm_event_harvest,
	.device_fatal = gz_shm_device_fatal,
	.fabric_open = shm_fabric_open,
	.fm_open = gz_shm_fm_open,
	.mem_alloc = gz_shm_mem_alloc,
	.mem_free = gz_shm_mem_free,
	.mr_dereg = gz_shm_mr_dereg,
	.quiesce = gz_shm_quiesce,
	.mr_reg = gz_shm_mr_reg,
	.mr_revoke = gz_shm_mr_revoke,
	.qp_addr = gz_shm_qp_addr,
	.qp_connect = gz_shm_qp_connect,
	.qp_create = gz_shm_qp_create,
	.qp_destroy = gz_shm_qp_destroy,
	.qp_query = gz_shm_qp_query,
	.qp_reset = gz_shm_qp_reset,
	.qp_stop = gz_shm_qp_stop,
	.rmap_map = gz_shm_rmap_map,
	.rmap_unmap = gz_shm_rmap_unmap,
	.verbs_addr = shm_verbs_addr,
	.verbs_port = shm_verbs_port,
};
