// SPDX-License-Identifier: MIT
/* genzio_mr_*: registrations and the local-key table behind lkeys. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "provider.h"

#define ACCESS_ALL (GENZIO_ACCESS_LOCAL_WRITE | GENZIO_ACCESS_REMOTE_WRITE | \
		    GENZIO_ACCESS_REMOTE_READ | GENZIO_ACCESS_REMOTE_ATOMIC)

int gz_lkey_alloc(struct genzio_context *ctx, const struct gz_mr *mr,
		  uint32_t *lkey)
{
	uint32_t max = ctx->attr.max_mr;

	for (uint32_t n = 0; n < max; n++) {
		uint32_t i = (ctx->lkey_next + n) % max;
		struct gz_lkey *e = &ctx->lkeys[i];

		if (atomic_load_explicit(&e->lkey, memory_order_relaxed))
			continue;
		/* Next time start after this one: the slot freed longest
		 * ago is taken first, so generations move slowly. */
		ctx->lkey_next = (i + 1) % max;
		e->gen = (e->gen + 1) & GZ_LKEY_GEN_MASK;
		if (!e->gen)
			e->gen = 1;
		/* releases: a reader that sees one of these sees the slot's
		 * old lkey gone (see gz_lkey_get) */
		__atomic_store_n(&e->addr, (uintptr_t)mr->pub.addr,
				 __ATOMIC_RELEASE);
		__atomic_store_n(&e->len, mr->pub.length, __ATOMIC_RELEASE);
		__atomic_store_n(&e->access, mr->pub.access, __ATOMIC_RELEASE);
		__atomic_store_n(&e->domain, mr->pd->key_domain,
				 __ATOMIC_RELEASE);
		__atomic_store_n(&e->cookie, mr->cookie, __ATOMIC_RELEASE);
		__atomic_store_n(&e->cookie_va, mr->cookie_va,
				 __ATOMIC_RELEASE);
		*lkey = e->gen << GZ_LKEY_IDX_BITS | i;
		/* Release pairs with the acquire in gz_lkey_get(). */
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
	GZ_API();
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
	ret = gz_ctx_gone(ctx);
	if (ret)
		return ret;
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
	if (!ctx->prov->own_lkeys) {
		gz_lkey_alloc(ctx, mr, &lkey);
		mr->pub.lkey = lkey;
	}
	pd->users++;
	ctx->nmr++;
	gz_ctx_unlock(ctx);
	*out = &mr->pub;
	return 0;
}

GENZIO_EXPORT int genzio_mr_dereg(struct genzio_mr *pub)
{
	GZ_API();
	struct gz_mr *mr;
	struct genzio_context *ctx;
	int ret = 0;

	if (!pub)
		return gz_err(-EINVAL, "mr is NULL");
	mr = container_of(pub, struct gz_mr, pub);
	ctx = mr->pd->ctx;
	/* Revoke under the lock, wait for accesses in flight without it
	 * (they are other processes' and may take a while), then free. */
	if (ctx->prov->mr_revoke) {
		gz_ctx_lock(ctx);
		ret = ctx->prov->mr_revoke(mr);
		gz_ctx_unlock(ctx);
	}
	if (ret > 0) {
		ret = ctx->prov->quiesce(ctx, 0);
		if (ret == -ETIMEDOUT)
			return gz_err(ret, "a peer is still inside an access "
				      "to this context's memory (stopped?), "
				      "maybe through another key: the wait "
				      "cannot tell them apart; the key is "
				      "revoked, the region still registered: "
				      "call again");
		if (ret)
			return gz_err(ret, "cannot wait for accesses in flight: "
				      "%s; the key is revoked, the region still "
				      "registered", strerror(-ret));
	}
	gz_ctx_lock(ctx);
	if (!ctx->prov->own_lkeys)
		gz_lkey_free(ctx, pub->lkey);
	mr->pd->users--;
	ctx->nmr--;
	ctx->prov->mr_dereg(mr);
	gz_ctx_unlock(ctx);
	return 0;
}
