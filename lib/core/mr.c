// SPDX-License-Identifier: MIT
/* genzio_mr_*: registrations and the local-key table behind lkeys. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "provider.h"

#define ACCESS_ALL (GENZIO_ACCESS_LOCAL_WRITE | GENZIO_ACCESS_REMOTE_WRITE | \
		    GENZIO_ACCESS_REMOTE_READ | GENZIO_ACCESS_REMOTE_ATOMIC)

int gz_lkey_alloc(struct genzio_context *ctx, const struct gz_mr *mr,
		  uint32_t *lkey)
{
	for (uint32_t i = 0; i < ctx->attr.max_mr; i++) {
		struct gz_lkey *e = &ctx->lkeys[i];

		if (atomic_load_explicit(&e->lkey, memory_order_relaxed))
			continue;
		/* Generation in the upper half: a stale lkey misses. */
		ctx->lkey_gen = (ctx->lkey_gen + 1) & 0xffff;
		if (!ctx->lkey_gen)
			ctx->lkey_gen = 1;
		e->addr = (uintptr_t)mr->pub.addr;
		e->len = mr->pub.length;
		e->access = mr->pub.access;
		e->domain = mr->pd->key_domain;
		e->seg = mr->seg;
		e->seg_va = mr->seg_va;
		*lkey = ctx->lkey_gen << GZ_LKEY_BITS | i;
		/* Release pairs with the acquire in gz_lkey_ok(). */
		atomic_store_explicit(&e->lkey, *lkey, memory_order_release);
		return 0;
	}
	return -ENOSPC;
}

void gz_lkey_free(struct genzio_context *ctx, uint32_t lkey)
{
	atomic_store_explicit(&ctx->lkeys[lkey & (GZ_MAX_MR - 1)].lkey, 0,
			      memory_order_release);
}

GENZIO_EXPORT int genzio_mr_reg(struct genzio_pd *pd, void *addr, uint64_t len,
				uint32_t access, struct genzio_mr **out)
{
	struct genzio_context *ctx;
	struct gz_mr *mr;
	uint32_t lkey;
	int ret;

	if (!pd || !addr || !out)
		return gz_err(-EINVAL, "pd %p, addr %p, mr %p", (void *)pd, addr,
			      (void *)out);
	ctx = pd->ctx;
	if (!len || len > ctx->attr.max_mr_size ||
	    (uintptr_t)addr + len < (uintptr_t)addr)
		return gz_err(-EINVAL, "length %" PRIu64 " (max %" PRIu64 ")",
			      len, ctx->attr.max_mr_size);
	if (access & ~ACCESS_ALL)
		return gz_err(-EINVAL, "unknown access bits %#x",
			      access & ~ACCESS_ALL);
	if ((access & (GENZIO_ACCESS_REMOTE_WRITE |
		       GENZIO_ACCESS_REMOTE_ATOMIC)) &&
	    !(access & GENZIO_ACCESS_LOCAL_WRITE))
		return gz_err(-EINVAL, "REMOTE_WRITE and REMOTE_ATOMIC need "
			      "LOCAL_WRITE");
	gz_ctx_lock(ctx);
	if (ctx->nmr >= ctx->attr.max_mr) {
		gz_ctx_unlock(ctx);
		return gz_err(-ENOSPC, "all %u registrations in use",
			      ctx->attr.max_mr);
	}
	ret = ctx->prov->mr_reg(pd, addr, len, access, &mr);
	if (ret) {
		gz_ctx_unlock(ctx);
		return ret;
	}
	mr->pd = pd;
	/* nmr < max_mr, so a free slot exists */
	gz_lkey_alloc(ctx, mr, &lkey);
	mr->pub.lkey = lkey;
	pd->users++;
	ctx->nmr++;
	gz_ctx_unlock(ctx);
	*out = &mr->pub;
	return 0;
}

GENZIO_EXPORT int genzio_mr_dereg(struct genzio_mr *pub)
{
	struct gz_mr *mr;
	struct genzio_context *ctx;

	if (!pub)
		return gz_err(-EINVAL, "mr is NULL");
	mr = container_of(pub, struct gz_mr, pub);
	ctx = mr->pd->ctx;
	gz_ctx_lock(ctx);
	gz_lkey_free(ctx, pub->lkey);
	mr->pd->users--;
	ctx->nmr--;
	ctx->prov->mr_dereg(mr);
	gz_ctx_unlock(ctx);
	return 0;
}
