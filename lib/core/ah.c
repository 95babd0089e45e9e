// SPDX-License-Identifier: MIT
/* genzio_ah_*: address handles for a remote component, by GCID or by a
 * queue-pair address of it. */
#include <errno.h>

#include "core/addr.h"
#include "provider.h"

/* Both creates, once the arguments are checked. */
static int ah_create(struct genzio_pd *pd, uint32_t gcid, const uint8_t *a,
		     size_t len, struct genzio_ah **out)
{
	struct genzio_context *ctx = pd->ctx;
	struct genzio_ah *ah;
	int ret = gz_ctx_gone(ctx);

	if (ret)
		return ret;
	gz_ctx_lock(ctx);
	ret = ctx->prov->ah_create(pd, gcid, a, len, &ah);
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

GENZIO_EXPORT int genzio_ah_create(struct genzio_pd *pd, uint32_t gcid,
				   struct genzio_ah **out)
{
	GZ_API();
	if (!pd || !out)
		return gz_err(-EINVAL, "pd %p, ah %p", (void *)pd, (void *)out);
	if (gcid >> 28 || !GENZIO_GCID_CID(gcid))
		return gz_err(-EINVAL, "%#x is not a 28-bit GCID with a CID",
			      gcid);
	return ah_create(pd, gcid, NULL, 0, out);
}

GENZIO_EXPORT int genzio_ah_create_addr(struct genzio_pd *pd,
					const void *addr, size_t len,
					struct genzio_ah **out)
{
	GZ_API();
	struct gz_addr a;
	int ret;

	if (!pd || !out)
		return gz_err(-EINVAL, "pd %p, ah %p", (void *)pd, (void *)out);
	ret = gz_addr_split_for(pd->ctx->prov, addr, len, &a);
	return ret ? ret : ah_create(pd, a.gcid, a.payload, a.len, out);
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
