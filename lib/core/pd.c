// SPDX-License-Identifier: MIT
/*
 * genzio_pd_*: protection domains. Each owns a random 12-bit R-Key domain,
 * unique in its context: an R-Key is honoured only on queue pairs of the
 * same domain, and an lkey only in work requests of the same domain.
 */
#include <errno.h>
#include <stdlib.h>

#include "provider.h"
#include "sys/sys.h"

static int domain_used(const struct genzio_context *ctx, uint32_t d)
{
	return (ctx->domains[d / 64] >> (d % 64)) & 1;
}

GENZIO_EXPORT int genzio_pd_alloc(struct genzio_context *ctx,
				  struct genzio_pd **out)
{
	GZ_API();
	struct genzio_pd *pd;
	uint16_t r;
	int ret;

	if (!ctx || !out)
		return gz_err(-EINVAL, "ctx %p, pd %p", (void *)ctx, (void *)out);
	ret = gz_ctx_gone(ctx);
	if (ret)
		return ret;
	pd = calloc(1, sizeof(*pd));
	if (!pd)
		return -ENOMEM;
	gz_ctx_lock(ctx);
	if (ctx->npd >= 4095) {
		ret = gz_err(-ENOSPC, "all 4095 key domains in use");
		goto fail;
	}
	/* Domain 0 is never used, so an all-zero R-Key is never valid. */
	do {
		ret = gz_sys_random(&r, sizeof(r));
		if (ret) {
			gz_err(ret, "getrandom failed");
			goto fail;
		}
		r &= 0xfff;
	} while (!r || domain_used(ctx, r));
	pd->ctx = ctx;
	pd->key_domain = r;
	if (ctx->prov->pd_alloc) {
		ret = ctx->prov->pd_alloc(pd);
		if (ret)
			goto fail;
	}
	ctx->domains[r / 64] |= 1ull << (r % 64);
	ctx->npd++;
	gz_ctx_unlock(ctx);
	*out = pd;
	return 0;
fail:
	gz_ctx_unlock(ctx);
	free(pd);
	return ret;
}

GENZIO_EXPORT int genzio_pd_free(struct genzio_pd *pd)
{
	GZ_API();
	struct genzio_context *ctx;

	if (!pd)
		return gz_err(-EINVAL, "pd is NULL");
	ctx = pd->ctx;
	gz_ctx_lock(ctx);
	if (pd->users) {
		gz_ctx_unlock(ctx);
		return gz_err(-EBUSY, "%u mr/qp/ah still use this pd", pd->users);
	}
	if (ctx->prov->pd_free)
		ctx->prov->pd_free(pd);
	ctx->domains[pd->key_domain / 64] &= ~(1ull << (pd->key_domain % 64));
	ctx->npd--;
	gz_ctx_unlock(ctx);
	free(pd);
	return 0;
}
