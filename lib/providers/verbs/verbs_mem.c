// SPDX-License-Identifier: MIT
/*
 * verbs provider: protection domains, data space and registrations. Data
 * space is private memory here (peers reach it through the HCA, not by
 * mapping it): huge pages when there are some, bound to the caller's NUMA
 * node, kept out of fork children (MADV_DONTFORK, as ibv_fork_init asks).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "providers/verbs/verbs.h"
#include "sys/sys.h"

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif

int gz_vb_pd_alloc(struct genzio_pd *pd)
{
	struct gz_vb_pd *p = calloc(1, sizeof(*p));
	int ret;

	if (!p)
		return gz_err(-ENOMEM, "pd: no memory");
	p->ib = ibv_alloc_pd(gz_vb_ctx_of(pd->ctx)->ib);
	if (p->ib)
		p->sync_mr = ibv_reg_mr(p->ib, &p->sync_word,
					sizeof(p->sync_word),
					IBV_ACCESS_REMOTE_READ);
	if (!p->sync_mr) {
		ret = gz_err(errno ? -errno : -ENOMEM, "%s: %s", p->ib ?
			     "ibv_reg_mr (sync word)" : "ibv_alloc_pd",
			     strerror(errno));
		if (p->ib)
			ibv_dealloc_pd(p->ib);
		free(p);
		return ret;
	}
	pd->priv = p;
	return 0;
}

void gz_vb_pd_free(struct genzio_pd *pd)
{
	struct gz_vb_pd *p = gz_vb_pd_of(pd);
	int ret = ibv_dereg_mr(p->sync_mr);

	if (!ret)
		ret = ibv_dealloc_pd(p->ib);
	if (ret)	/* the core's books say nothing uses it */
		gz_err(-ret, "ibv_dealloc_pd: %s", strerror(ret));
	free(p);
}

/* mmap @len bytes of @page pages (4 KiB: normal ones), not populated
 * yet (the NUMA binding comes first): NULL on failure. Huge pages are
 * reserved here, so populating them cannot fail later. */
static void *map_pages(uint64_t len, uint64_t page)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS;
	void *p;

	if (page != GZ_PAGE_4K)
		flags |= MAP_HUGETLB | (__builtin_ctzll(page) << MAP_HUGE_SHIFT);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

int gz_vb_mem_alloc(struct genzio_context *base, uint64_t len, uint32_t flags,
		    struct genzio_mem **out)
{
	static int once;
	struct gz_vb_ctx *ctx = gz_vb_ctx_of(base);
	uint64_t page = flags & GENZIO_MEM_HUGE_1G ? GZ_PAGE_1G : GZ_PAGE_2M;
	uint64_t hlen = gz_align_up(len, page);
	int node = (int)((flags >> 16) & 0xff) - 1;
	int in_budget = hlen <= ctx->huge_budget - ctx->huge_used &&
			ctx->huge_used <= ctx->huge_budget;
	struct gz_vb_mem *m;
	void *p = NULL;
	int ret;

	if (node < 0)
		node = gz_sys_numa_node_of_caller();
	else if (gz_sys_numa_node_check(&node))
		return gz_err(-EINVAL, "NUMA node %d does not exist", node);
	if (!(flags & GENZIO_MEM_NO_HUGE)) {
		p = in_budget ? map_pages(hlen, page) : NULL;
		if (!p && (flags & GENZIO_MEM_REQUIRE_HUGE))
			return gz_err(-ENOMEM, "%s %s huge pages for %" PRIu64
				      " bytes (GENZIO_MEM_REQUIRE_HUGE)",
				      in_budget ? "no free" : "over the budget of",
				      page == GZ_PAGE_1G ? "1G" : "2M", len);
		if (!p)
			gz_log_notice_once(&once, "verbs: %s: data space "
					   "uses 4 KiB pages", in_budget ?
					   "no free huge pages" :
					   "huge-page budget spent");
	}
	if (!p) {
		page = GZ_PAGE_4K;
		p = map_pages(gz_align_up(len, page), page);
		if (!p)
			return gz_err(-errno, "mmap of %" PRIu64 " bytes: %s", len,
				      strerror(errno));
	}
	len = gz_align_up(len, page);
	ret = madvise(p, len, MADV_DONTFORK) ? -errno : 0;
	if (!ret && node >= 0) {
		ret = gz_sys_numa_bind(p, len, node);
		if (ret == -ENOSYS)	/* no NUMA here: nothing to bind */
			ret = 0;
	}
	if (!ret)
		ret = gz_sys_populate(p, len, page);
	if (!ret && (flags & GENZIO_MEM_LOCK) && mlock(p, len))
		ret = -errno;
	m = ret ? NULL : calloc(1, sizeof(*m));
	if (!m) {
		munmap(p, len);	/* len is page-rounded here */
		return gz_err(ret ? ret : -ENOMEM, "data space: %s",
			      strerror(ret ? -ret : ENOMEM));
	}
	m->base.ctx = base;
	m->base.pub.addr = p;
	m->base.pub.length = len;
	m->base.pub.page_size = page;
	m->base.pub.numa_node = node;
	m->base.pub.flags = flags;
	m->huge = page != GZ_PAGE_4K;
	if (m->huge)
		ctx->huge_used += len;
	base->attr.huge_used = ctx->huge_used;
	m->next = ctx->mems;
	ctx->mems = m;
	*out = &m->base.pub;
	return 0;
}

int gz_vb_mem_free(struct genzio_mem *pub)
{
	struct gz_vb_mem *m = container_of(pub, struct gz_vb_mem, base.pub);
	struct gz_vb_ctx *ctx = gz_vb_ctx_of(m->base.ctx);

	if (m->users)
		return gz_err(-EBUSY, "%u registrations still cover this "
			      "memory", m->users);
	for (struct gz_vb_mem **pp = &ctx->mems; *pp; pp = &(*pp)->next)
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	if (m->huge)
		ctx->huge_used -= pub->length;
	m->base.ctx->attr.huge_used = ctx->huge_used;
	munmap(pub->addr, pub->length);
	free(m);
	return 0;
}

static int access_of(uint32_t a)
{
	return (a & GENZIO_ACCESS_LOCAL_WRITE ? IBV_ACCESS_LOCAL_WRITE : 0) |
	       (a & GENZIO_ACCESS_REMOTE_WRITE ? IBV_ACCESS_REMOTE_WRITE : 0) |
	       (a & GENZIO_ACCESS_REMOTE_READ ? IBV_ACCESS_REMOTE_READ : 0) |
	       (a & GENZIO_ACCESS_REMOTE_ATOMIC ? IBV_ACCESS_REMOTE_ATOMIC : 0);
}

struct gz_vb_mr {
	struct gz_mr base;
	struct ibv_mr *ib;
	struct gz_vb_mem *mem;		/* the data space it is in, or NULL */
};

/* The data space that holds [addr, addr + len), under the ctx lock. */
static struct gz_vb_mem *mem_of(struct gz_vb_ctx *ctx, uintptr_t addr,
				uint64_t len)
{
	for (struct gz_vb_mem *m = ctx->mems; m; m = m->next) {
		uintptr_t a = (uintptr_t)m->base.pub.addr;

		if (addr >= a && len <= m->base.pub.length &&
		    addr - a <= m->base.pub.length - len)
			return m;
	}
	return NULL;
}

int gz_vb_mr_reg(struct genzio_pd *pd, void *addr, uint64_t len,
		 uint32_t access, struct gz_mr **out)
{
	const struct genzio_device_attr *d = &pd->ctx->attr;
	struct gz_vb_mr *mr;

	if ((access & GENZIO_ACCESS_REMOTE_ATOMIC) &&
	    !(d->caps & GENZIO_CAP_ATOMIC))
		return gz_err(-EOPNOTSUPP, "%s has no atomics "
			      "(GENZIO_CAP_ATOMIC is clear)", d->name);
	mr = calloc(1, sizeof(*mr));
	if (!mr)
		return -ENOMEM;
	mr->ib = ibv_reg_mr(gz_vb_pd_of(pd)->ib, addr, len, access_of(access));
	if (!mr->ib) {
		int ret = errno ? -errno : -ENOMEM;

		free(mr);
		return gz_err(ret, "ibv_reg_mr(%p, %" PRIu64 "): %s%s", addr, len,
			      strerror(-ret), ret == -ENOMEM ? " (RLIMIT_MEMLOCK "
			      "too low? ulimit -l)" : "");
	}
	gz_mr_init(&mr->base, addr, len, access);
	mr->base.pub.lkey = mr->ib->lkey;
	mr->base.pub.rkey = access & (GENZIO_ACCESS_REMOTE_WRITE |
				      GENZIO_ACCESS_REMOTE_READ |
				      GENZIO_ACCESS_REMOTE_ATOMIC) ?
			    mr->ib->rkey : 0;
	mr->mem = mem_of(gz_vb_ctx_of(pd->ctx), (uintptr_t)addr, len);
	if (mr->mem)
		mr->mem->users++;
	*out = &mr->base;
	return 0;
}

void gz_vb_mr_dereg(struct gz_mr *base)
{
	struct gz_vb_mr *mr = container_of(base, struct gz_vb_mr, base);
	int ret = ibv_dereg_mr(mr->ib);

	if (ret)
		gz_err(-ret, "ibv_dereg_mr: %s", strerror(ret));
	if (mr->mem)
		mr->mem->users--;
	free(mr);
}
