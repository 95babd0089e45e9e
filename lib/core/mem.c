// SPDX-License-Identifier: MIT
/* genzio_mem_*: data space peers can reach. */
#include <errno.h>
#include <inttypes.h>

#include "provider.h"

#define MEM_FLAGS_ALL (GENZIO_MEM_NO_HUGE | GENZIO_MEM_HUGE_1G | \
		       GENZIO_MEM_REQUIRE_HUGE | GENZIO_MEM_LOCK | 0xff0000u)

GENZIO_EXPORT int genzio_mem_alloc(struct genzio_context *ctx, uint64_t len,
				   uint32_t flags, struct genzio_mem **out)
{
	GZ_API();
	int ret;

	if (!ctx || !out)
		return gz_err(-EINVAL, "ctx %p, mem %p", (void *)ctx,
			      (void *)out);
	if (!len || len > ctx->attr.max_mr_size)
		return gz_err(-EINVAL, "length %" PRIu64 " (max %" PRIu64 ")",
			      len, ctx->attr.max_mr_size);
	if (flags & ~MEM_FLAGS_ALL)
		return gz_err(-EINVAL, "unknown flags %#x",
			      flags & ~MEM_FLAGS_ALL);
	if ((flags & GENZIO_MEM_NO_HUGE) &&
	    (flags & (GENZIO_MEM_HUGE_1G | GENZIO_MEM_REQUIRE_HUGE)))
		return gz_err(-EINVAL, "NO_HUGE contradicts HUGE_1G/REQUIRE_HUGE");
	ret = gz_ctx_gone(ctx);
	if (ret)
		return ret;
	gz_ctx_lock(ctx);
	ret = ctx->prov->mem_alloc(ctx, len, flags, out);
	if (!ret)
		ctx->nmem++;
	gz_ctx_unlock(ctx);
	return ret;
}

GENZIO_EXPORT int genzio_mem_free(struct genzio_mem *mem)
{
	GZ_API();
	struct genzio_context *ctx;
	int ret;

	if (!mem)
		return gz_err(-EINVAL, "mem is NULL");
	ctx = container_of(mem, struct gz_mem, pub)->ctx;
	gz_ctx_lock(ctx);
	ret = ctx->prov->mem_free(mem);
	if (!ret)
		ctx->nmem--;
	gz_ctx_unlock(ctx);
	return ret;
}
