// SPDX-License-Identifier: MIT
/* shm provider: join the host fabric as a component, and leave it. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "providers/shm/shm.h"

void gz_shm_path(const struct gz_shm_ctx *ctx, char *buf, size_t len,
		 uint32_t cid, uint64_t inc, const char *suffix)
{
	snprintf(buf, len, GZ_SHM_DIR "/genzio-%s-%u-%" PRIu64 "%s",
		 ctx->fabric, cid, inc, suffix);
}

static int fabric_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > GZ_SHM_FABRIC_MAX)
		return 0;
	for (; *s; s++)
		/* no '-': file names split on it (genzio-<fabric>-<cid>-...) */
		if (!(*s == '_' || (*s >= '0' && *s <= '9') ||
		      (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
			return 0;
	return 1;
}

/* "512M" and friends; 0 or -EINVAL. */
static int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *s == '-')
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K':
		shift = 10, end++;
		break;
	case 'm': case 'M':
		shift = 20, end++;
		break;
	case 'g': case 'G':
		shift = 30, end++;
		break;
	}
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_attr(const struct genzio_open_attr *attr, const char **fabric,
		      uint32_t *subnet, uint64_t *budget, char *dflt)
{
	const char *env;

	*fabric = getenv("GENZIO_FABRIC");
	if (!*fabric || !**fabric) {
		/* one default fabric per user: its files are owner-only */
		snprintf(dflt, GZ_SHM_FABRIC_MAX + 1, "default_%u",
			 (unsigned)getuid());
		*fabric = dflt;
	}
	*subnet = 1;
	*budget = UINT64_MAX;
	env = getenv("GENZIO_HUGE_BUDGET");
	if (env && *env && parse_size(env, budget))
		return gz_err(-EINVAL, "GENZIO_HUGE_BUDGET=%s: want bytes with "
			      "an optional K, M or G", env);
	if (attr && (attr->comp_mask & GENZIO_OPEN_ATTR_FABRIC))
		*fabric = attr->fabric;
	if (attr && (attr->comp_mask & GENZIO_OPEN_ATTR_SUBNET))
		*subnet = attr->subnet;
	if (attr && (attr->comp_mask & GENZIO_OPEN_ATTR_HUGE_BUDGET))
		*budget = attr->huge_budget;
	if (!*fabric || !fabric_name_ok(*fabric))
		return gz_err(-EINVAL, "fabric name must be 1-%d of [A-Za-z0-9_]",
			      GZ_SHM_FABRIC_MAX);
	if (*subnet > 0xffff)
		return gz_err(-EINVAL, "subnet %u does not fit 16 bits", *subnet);
	return 0;
}

static int comp_create(struct gz_shm_ctx *ctx)
{
	char path[PATH_MAX];
	struct gz_shm_comp *c;
	struct gz_shmfile f;
	int ret;

	gz_shm_path(ctx, path, sizeof(path), ctx->cid, ctx->incarnation,
		    ".comp");
	/* Populated (about 2 MiB): a peer reading the tables never meets
	 * a hole, and a full /dev/shm fails here rather than later. */
	ret = gz_sys_shmfile_create(path, sizeof(*c), GZ_PAGE_4K, -1, 0, &f);
	if (ret)
		return gz_err(ret, "cannot create %s: %s", path, strerror(-ret));
	c = f.addr;
	c->version = GZ_SHM_VERSION;
	c->gcid = ctx->base.attr.gcid;
	c->pid = getpid();
	c->incarnation = ctx->incarnation;
	gz_sys_proc_starttime(getpid(), &c->starttime);
	memcpy(c->hugedir, ctx->hugedir, sizeof(c->hugedir));
	ret = gz_sys_lifelock_init(&c->life);
	if (!ret)
		ret = gz_sys_lifelock_hold(&c->life);
	if (ret) {
		munmap(c, sizeof(*c));
		unlink(path);
		return gz_err(ret, "life lock: %s", strerror(-ret));
	}
	/* Release: a peer that sees the magic sees the header above. */
	__atomic_store_n(&c->magic, GZ_SHM_MAGIC_COMP, __ATOMIC_RELEASE);
	ctx->comp = c;
	return 0;
}

static void fill_attr(struct gz_shm_ctx *ctx)
{
	struct genzio_device_attr *a = &ctx->base.attr;
	int huge = ctx->hugedir[0][0] && gz_sys_huge_free(GZ_PAGE_2M) > 0;

	snprintf(a->name, sizeof(a->name), "shm0");
	snprintf(a->provider, sizeof(a->provider), "shm");
	a->caps = GENZIO_CAP_RMA | GENZIO_CAP_ATOMIC32 | GENZIO_CAP_ATOMIC64 |
		  GENZIO_CAP_REG_CONVERT | GENZIO_CAP_ONE_SIDED_TARGET |
		  (huge ? GENZIO_CAP_HUGE_PAGES : 0);
	a->max_qp = GZ_SHM_MAX_QP;
	a->max_cq = GZ_SHM_MAX_QP;
	a->max_qp_wr = GZ_SHM_MAX_DEPTH;
	a->max_cqe = GZ_SHM_MAX_DEPTH;
	a->max_sge = GZ_SHM_MAX_SGE;
	a->max_inline = GENZIO_MAX_INLINE;
	a->max_mr = GZ_SHM_MAX_MR;
	a->atomic_sizes = (1u << 2) | (1u << 3);
	a->max_mr_size = 1ull << 40;
	a->page_size = huge ? GZ_PAGE_2M : GZ_PAGE_4K;
	a->huge_budget = ctx->huge_budget;
}

static int shm_device_open(const struct genzio_open_attr *attr,
			   struct genzio_context **out)
{
	char dflt[GZ_SHM_FABRIC_MAX + 1];
	const char *fabric;
	struct gz_shm_ctx *ctx;
	uint32_t subnet;
	uint64_t budget;
	int ret;

	ret = parse_attr(attr, &fabric, &subnet, &budget, dflt);
	if (ret)
		return ret;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	snprintf(ctx->fabric, sizeof(ctx->fabric), "%s", fabric);
	ctx->huge_budget = budget;
	for (int i = 0; i < 2; i++)
		if (gz_sys_hugetlbfs_find(i ? GZ_PAGE_1G : GZ_PAGE_2M,
					  ctx->hugedir[i], PATH_MAX))
			ctx->hugedir[i][0] = 0;
	ret = gz_shm_registry_open(fabric, subnet, &ctx->reg);
	if (ret)
		goto free_ctx;
	ret = gz_shm_registry_join(ctx->reg, fabric, &ctx->cid,
				   &ctx->incarnation);
	if (ret)
		goto close_reg;
	ctx->base.attr.gcid = GENZIO_GCID(subnet, ctx->cid);
	ret = comp_create(ctx);
	if (ret)
		goto leave;
	fill_attr(ctx);
	*out = &ctx->base;
	return 0;

leave:
	gz_shm_registry_leave(ctx->reg, ctx->cid, ctx->incarnation);
close_reg:
	gz_shm_registry_close(ctx->reg);
free_ctx:
	free(ctx);
	return ret;
}

static void shm_device_close(struct genzio_context *base)
{
	struct gz_shm_ctx *ctx = to_shm_ctx(base);
	char path[PATH_MAX];

	for (uint32_t i = 0; i <= GZ_SHM_MAX_CID; i++)
		if (ctx->peer[i])
			gz_shm_peer_put(ctx->peer[i]);
	/* Closed first, then the life-lock word changes: a peer that sees
	 * the change finds "closed" and needs no syscall to know we left. */
	atomic_store_explicit(&ctx->comp->closed, 1, memory_order_release);
	gz_shm_path(ctx, path, sizeof(path), ctx->cid, ctx->incarnation,
		    ".comp");
	unlink(path);
	if (gz_sys_lifelock_release(&ctx->comp->life)) {
		munmap(ctx->comp, sizeof(*ctx->comp));
	} else {
		/* Closed from a thread other than the opener: the mutex
		 * stays on the opener's robust list, which glibc links
		 * through the mutexes themselves, so the page holding it
		 * must stay mapped. Everything after it goes. */
		size_t keep = gz_align_up(offsetof(struct gz_shm_comp, life) +
						  sizeof(pthread_mutex_t),
					  GZ_PAGE_4K);

		munmap((char *)ctx->comp + keep, sizeof(*ctx->comp) - keep);
	}
	gz_shm_registry_leave(ctx->reg, ctx->cid, ctx->incarnation);
	gz_shm_registry_close(ctx->reg);
	free(ctx);
}

static int shm_probe(void)
{
	return access(GZ_SHM_DIR, W_OK) ? 0 : 1;
}

const struct gz_provider gz_shm_provider = {
	.name = "shm",
	.probe = shm_probe,
	.ah_create = gz_shm_ah_create,
	.ah_destroy = gz_shm_ah_destroy,
	.channel_create = gz_shm_channel_create,
	.channel_destroy = gz_shm_channel_destroy,
	.channel_get_event = gz_shm_channel_get_event,
	.cq_create = gz_shm_cq_create,
	.cq_destroy = gz_shm_cq_destroy,
	.cq_req_notify = gz_shm_cq_req_notify,
	.device_close = shm_device_close,
	.device_open = shm_device_open,
	.event_harvest = gz_shm_event_harvest,
	.mem_alloc = gz_shm_mem_alloc,
	.mem_free = gz_shm_mem_free,
	.mr_dereg = gz_shm_mr_dereg,
	.mr_reg = gz_shm_mr_reg,
	.qp_connect = gz_shm_qp_connect,
	.qp_create = gz_shm_qp_create,
	.qp_destroy = gz_shm_qp_destroy,
	.rmap_map = gz_shm_rmap_map,
	.rmap_unmap = gz_shm_rmap_unmap,
};
