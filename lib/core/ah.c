// SPDX-License-Identifier: MIT
/* genzio_ah_*: address handles for a remote GCID. */
#include <errno.h>

#include "provider.h"

GENZIO_EXPORT int genzio_ah_create(struct genzio_pd *pd, uint32_t gcid,
				   struct genzio_ah **out)
{
	GZ_API();
	struct genzio_context *ctx;
	struct genzio_ah *ah;
	int ret;

	if (!pd || !out)
		return gz_err(-EINVAL, "pd %p, ah %p", (void *)pd, (void *)out);
	if (gcid >> 28 || !GENZIO_GCID_CID(gcid))
		return gz_err(-EINVAL, "%#x is not a 28-bit GCID with a CID",
			      gcid);
	ctx = pd->ctx;
	gz_ctx_lock(ctx);
	ret = ctx->prov->ah_create(pd, gcid, &ah);
	if (!ret) {
		ah->pd = pd;
		ah->gcid = gcid;
		pd->users++;
		ctx->nah++;
		*out = ah;
	}
	gz_ctx_unlock(ctx);
	return ret;
}

GENZIO_EXPORT int genzio_ah_destroy(struct genzio_ah *ah)
{
	GZ_API();
	struct genzio_context *ctx;

	if (!ah)
		return gz_err(-EINVAL, "ah is NULL");
	ctx = ah->pd->ctx;
	gz_ctx_lock(ctx);
	ah->pd->users--;
	ctx->nah--;
	ctx->prov->ah_destroy(ah);
	gz_ctx_unlock(ctx);
	return 0;
}
