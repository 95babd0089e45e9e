// SPDX-License-Identifier: MIT
/*
 * Data space: named segment files peers map by themselves. Huge pages come
 * from a hugetlbfs mount when one exists, pages are reserved and the budget
 * allows; otherwise normal pages in /dev/shm, said once, never silently.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "providers/shm/shm.h"

static int fallback_noticed;

static void seg_name(const struct gz_shm_ctx *ctx, char *buf, size_t len,
		     uint32_t seg)
{
	gz_shm_seg_name(ctx, buf, len, ctx->cid, ctx->incarnation, seg);
}

/* Lock-free: a receive queue takes its staging segment at its first
 * post outside data space, without the context lock. */
static int seg_take(struct gz_shm_ctx *ctx, uint32_t *seg)
{
	uint32_t s = atomic_load_explicit(&ctx->next_seg, memory_order_relaxed);

	do {
		if (s >= GZ_SHM_MAX_SEG)
			return gz_err(-ENOSPC, "all %u segment ids of this "
				      "context are used; reopen the device",
				      GZ_SHM_MAX_SEG);
	} while (!atomic_compare_exchange_weak_explicit(
		&ctx->next_seg, &s, s + 1, memory_order_relaxed,
		memory_order_relaxed));
	*seg = s;
	return 0;
}

/* Give back an id whose segment never came to be, if it was the last. */
static void seg_untake(struct gz_shm_ctx *ctx, uint32_t seg)
{
	uint32_t s = seg + 1;

	atomic_compare_exchange_strong(&ctx->next_seg, &s, seg);
}

static void seg_publish(struct gz_shm_ctx *ctx, uint32_t seg, uint64_t len,
			uint32_t dir)
{
	struct gz_shm_segdesc *d = &ctx->comp->seg[seg];

	d->len = len;
	d->dir = dir;
	/* Release pairs with the acquire in peer_map_seg(). */
	atomic_store_explicit(&d->live, 1, memory_order_release);
}

/* Unpublish and unlink a segment; peers that mapped it keep their pages,
 * and no key can reach it any more. */
static void seg_unpublish(struct gz_shm_ctx *ctx, uint32_t seg, uint32_t dir)
{
	char name[64];

	atomic_store_explicit(&ctx->comp->seg[seg].live, 0,
			      memory_order_release);
	seg_name(ctx, name, sizeof(name), seg);
	unlinkat(ctx->dirfd[dir], name, 0);
}

/* Fill @m from the segment file @f and add it to the context's list. */
static void mem_track(struct gz_shm_ctx *ctx, struct gz_shm_mem *m,
		      uint32_t seg, uint32_t dir, const struct gz_shmfile *f)
{
	m->base.pub.addr = f->addr;
	m->base.pub.length = f->len;
	m->base.pub.page_size = f->page_size;
	m->base.pub.numa_node = f->node;
	m->base.ctx = &ctx->base;
	m->seg = seg;
	m->dir = dir;
	m->next = ctx->mems;
	ctx->mems = m;
}

/* Try huge pages; 0 on success, -errno to fall back (reason in *why). */
static int try_huge(struct gz_shm_ctx *ctx, uint64_t len, uint32_t flags,
		    int node, uint32_t seg, struct gz_shmfile *f,
		    const char **why)
{
	int big = !!(flags & GENZIO_MEM_HUGE_1G);
	uint64_t page = big ? GZ_PAGE_1G : GZ_PAGE_2M;
	int dfd = ctx->dirfd[big ? GZ_SHM_DIR_HUGE1G : GZ_SHM_DIR_HUGE2M];
	uint64_t hlen = gz_align_up(len, page);
	char name[64];
	int ret;

	if (dfd < 0) {
		*why = ctx->huge_why[big];
		return -ENOENT;
	}
	if (hlen > ctx->huge_budget - ctx->huge_used ||
	    ctx->huge_used > ctx->huge_budget) {
		*why = "the huge-page budget (GENZIO_HUGE_BUDGET) has no room "
		       "for it";
		return -ENOSPC;
	}
	seg_name(ctx, name, sizeof(name), seg);
	ret = gz_sys_shmfile_create(dfd, name, hlen, page, node,
				    flags & GENZIO_MEM_LOCK ? GZ_SHMFILE_LOCK : 0,
				    f);
	if (ret == -ENOMEM)
		*why = "no free huge pages (as root: echo N > "
		       "/proc/sys/vm/nr_hugepages)";
	else if (ret)
		*why = strerror(-ret);
	if (!ret)
		ctx->huge_used += hlen;
	return ret;
}

int gz_shm_mem_alloc(struct genzio_context *base, uint64_t len, uint32_t flags,
		     struct genzio_mem **out)
{
	struct gz_shm_ctx *ctx = to_shm_ctx(base);
	uint32_t node_bits = (flags >> 16) & 0xff;
	int node = node_bits ? (int)node_bits - 1 : gz_sys_numa_node_of_caller();
	uint32_t seg = 0, dir = GZ_SHM_DIR_SHM;
	const char *why = NULL;
	struct gz_shm_mem *m;
	struct gz_shmfile f;
	char name[64];
	int ret = -1;

	ret = gz_sys_numa_node_check(&node);
	if (ret)
		return gz_err(ret, "NUMA node %d does not exist", node);
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	ret = seg_take(ctx, &seg);
	if (ret)
		goto free_m;
	ret = -1;
	if (!(flags & GENZIO_MEM_NO_HUGE)) {
		ret = try_huge(ctx, len, flags, node, seg, &f, &why);
		if (!ret)
			dir = flags & GENZIO_MEM_HUGE_1G ? GZ_SHM_DIR_HUGE1G :
							   GZ_SHM_DIR_HUGE2M;
		else if (flags & GENZIO_MEM_REQUIRE_HUGE) {
			ret = gz_err(-ENOMEM, "huge pages required: %s", why);
			goto untake;
		} else {
			gz_log_notice_once(&fallback_noticed,
					   "data space on 4 KiB pages: %s", why);
		}
	}
	if (ret) {
		seg_name(ctx, name, sizeof(name), seg);
		ret = gz_sys_shmfile_create(ctx->dirfd[GZ_SHM_DIR_SHM], name,
					    gz_align_up(len, GZ_PAGE_4K),
					    GZ_PAGE_4K, node,
					    flags & GENZIO_MEM_LOCK ?
						    GZ_SHMFILE_LOCK : 0,
					    &f);
		if (ret) {
			gz_err(ret, "%s (%" PRIu64 " bytes): %s", name, len,
			       strerror(-ret));
			goto untake;
		}
	}
	seg_publish(ctx, seg, f.len, dir);
	mem_track(ctx, m, seg, dir, &f);
	m->base.pub.flags = flags;
	base->attr.huge_used = ctx->huge_used;
	*out = &m->base.pub;
	return 0;

untake:
	seg_untake(ctx, seg);
free_m:
	free(m);
	return ret;
}

/* Region of a converted registration: pages moved into a segment file. */
int gz_shm_mem_convert(struct gz_shm_ctx *ctx, void *addr, uint64_t len,
		       struct gz_shm_mem **out)
{
	struct gz_shm_mem *m;
	uint32_t seg = 0;
	char name[64];
	int ret;

	/* Only what we can put back as it was: private anonymous memory.
	 * A file mapping, shared or read-only memory would silently change
	 * what backs it. */
	ret = gz_sys_range_is_private_anon(addr, len);
	if (ret <= 0)
		return gz_err(ret < 0 ? ret : -EINVAL, "%p+%" PRIu64 " is not "
			      "private anonymous read-write memory (heap or "
			      "anonymous mmap): allocate data space with "
			      "genzio_mem_alloc() for that", addr, len);
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	ret = seg_take(ctx, &seg);
	if (ret)
		goto free_m;
	seg_name(ctx, name, sizeof(name), seg);
	ret = gz_sys_shmfile_convert(ctx->dirfd[GZ_SHM_DIR_SHM], name, addr,
				     len);
	if (ret) {
		gz_err(ret, "moving %p+%" PRIu64 " into data space: %s", addr,
		       len, strerror(-ret));
		goto untake;
	}
	seg_publish(ctx, seg, len, GZ_SHM_DIR_SHM);
	mem_track(ctx, m, seg, GZ_SHM_DIR_SHM,
		  &(struct gz_shmfile){ addr, len, GZ_PAGE_4K, -1, -1 });
	m->converted = 1;
	*out = m;
	return 0;

untake:
	seg_untake(ctx, seg);
free_m:
	free(m);
	return ret;
}

/* The segment holding [addr, addr + len), or NULL. */
struct gz_shm_mem *gz_shm_mem_find(struct gz_shm_ctx *ctx, uint64_t addr,
				   uint64_t len)
{
	for (struct gz_shm_mem *m = ctx->mems; m; m = m->next) {
		uint64_t b = (uintptr_t)m->base.pub.addr;

		if (addr >= b && len <= m->base.pub.length &&
		    addr - b <= m->base.pub.length - len)
			return m;
	}
	return NULL;
}

/* Whether any byte of [addr, addr + len) is already data space. */
int gz_shm_mem_overlaps(struct gz_shm_ctx *ctx, uint64_t addr, uint64_t len)
{
	for (struct gz_shm_mem *m = ctx->mems; m; m = m->next) {
		uint64_t b = (uintptr_t)m->base.pub.addr;

		if (addr < b + m->base.pub.length && b < addr + len)
			return 1;
	}
	return 0;
}

/* Give a converted region back as private memory - if it is still ours:
 * an application that unmapped it meanwhile may have put something else
 * there, which a move back would overwrite. */
static void convert_undo(struct gz_shm_ctx *ctx, struct gz_shm_mem *m)
{
	char name[64];

	int mine;

	seg_name(ctx, name, sizeof(name), m->seg);
	mine = gz_sys_range_is_file(m->base.pub.addr, m->base.pub.length,
				    name);
	if (mine < 0)
		gz_err(mine, "cannot read /proc/self/maps (%s): %p stays "
		       "shared memory", strerror(-mine), m->base.pub.addr);
	else if (!mine)
		gz_err(0, "%p is no longer the memory registered there (unmapped "
		       "while registered?): left as it is", m->base.pub.addr);
	else if (gz_sys_shmfile_restore(m->base.pub.addr, m->base.pub.length))
		gz_err(-ENOMEM, "could not move %p back to private memory: it "
		       "stays shared (and not inherited by fork)",
		       m->base.pub.addr);
}

void gz_shm_mem_release(struct gz_shm_ctx *ctx, struct gz_shm_mem *m)
{
	/* before the unlink: its name is how the mapping is recognised */
	if (m->converted)
		convert_undo(ctx, m);
	seg_unpublish(ctx, m->seg, m->dir);
	if (!m->converted)
		gz_sys_shmfile_unmap(m->base.pub.addr, m->base.pub.length);
	if (m->dir != GZ_SHM_DIR_SHM) {
		ctx->huge_used -= m->base.pub.length;
		ctx->base.attr.huge_used = ctx->huge_used;
	}
	for (struct gz_shm_mem **pp = &ctx->mems; *pp; pp = &(*pp)->next)
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	free(m);
}

int gz_shm_mem_free(struct genzio_mem *pub)
{
	struct gz_shm_mem *m = container_of(pub, struct gz_shm_mem, base.pub);
	struct gz_shm_ctx *ctx = to_shm_ctx(m->base.ctx);

	if (m->users)
		return gz_err(-EBUSY, "%u registrations still use this memory",
			      m->users);
	gz_shm_mem_release(ctx, m);
	return 0;
}

int gz_shm_qseg_create(struct gz_shm_ctx *ctx, uint64_t len, uint32_t *seg,
		       void **addr)
{
	struct gz_shmfile f;
	char name[64];
	int ret;

	ret = seg_take(ctx, seg);
	if (ret)
		return ret;
	seg_name(ctx, name, sizeof(name), *seg);
	len = gz_align_up(len, GZ_PAGE_4K);
	ret = gz_sys_shmfile_create(ctx->dirfd[GZ_SHM_DIR_SHM], name, len,
				    GZ_PAGE_4K, gz_sys_numa_node_of_caller(), 0,
				    &f);
	if (ret) {
		seg_untake(ctx, *seg);
		return gz_err(ret, "queue memory %s: %s", name, strerror(-ret));
	}
	/* a new file reads as zeros: nothing to clear */
	seg_publish(ctx, *seg, len, GZ_SHM_DIR_SHM);
	*addr = f.addr;
	return 0;
}

void gz_shm_qseg_destroy(struct gz_shm_ctx *ctx, uint32_t seg, void *addr,
			 uint64_t len)
{
	seg_unpublish(ctx, seg, GZ_SHM_DIR_SHM);
	gz_sys_shmfile_unmap(addr, gz_align_up(len, GZ_PAGE_4K));
}
