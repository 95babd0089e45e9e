// SPDX-License-Identifier: MIT
/* genzio_comp_channel_* and the cq notification calls: blocking waits. */
#include <errno.h>

#include "provider.h"

#define GZ_MAX_CHANNELS 64

GENZIO_EXPORT int genzio_comp_channel_create(struct genzio_context *ctx,
					     struct genzio_comp_channel **out)
{
	GZ_API();
	struct gz_channel *ch;
	int ret;

	if (!ctx || !out)
		return gz_err(-EINVAL, "ctx %p, ch %p", (void *)ctx, (void *)out);
	ret = gz_ctx_gone(ctx);
	if (ret)
		return ret;
	gz_ctx_lock(ctx);
	if (ctx->nchannel >= GZ_MAX_CHANNELS) {
		gz_ctx_unlock(ctx);
		return gz_err(-ENOSPC, "all %d channels in use", GZ_MAX_CHANNELS);
	}
	ret = ctx->prov->channel_create(ctx, &ch);
	if (!ret) {
		ch->pub.context = ctx;
		ctx->nchannel++;
		*out = &ch->pub;
	}
	gz_ctx_unlock(ctx);
	return ret;
}

GENZIO_EXPORT int genzio_comp_channel_destroy(struct genzio_comp_channel *pub)
{
	GZ_API();
	struct gz_channel *ch;
	struct genzio_context *ctx;

	if (!pub)
		return gz_err(-EINVAL, "ch is NULL");
	ch = container_of(pub, struct gz_channel, pub);
	ctx = pub->context;
	gz_ctx_lock(ctx);
	if (ch->users) {
		gz_ctx_unlock(ctx);
		return gz_err(-EBUSY, "%u cqs still use this channel", ch->users);
	}
	ctx->nchannel--;
	ctx->prov->channel_destroy(ch);
	gz_ctx_unlock(ctx);
	return 0;
}

GENZIO_EXPORT int genzio_cq_req_notify(struct genzio_cq *pub)
{
	GZ_API();
	struct gz_cq *cq;

	if (!pub)
		return gz_err(-EINVAL, "cq is NULL");
	cq = container_of(pub, struct gz_cq, pub);
	if (!cq->channel)
		return gz_err(-EINVAL, "cq was created without a channel");
	return pub->context->prov->cq_req_notify(cq);
}

GENZIO_EXPORT int genzio_comp_channel_get_event(struct genzio_comp_channel *pub,
						int timeout_ms,
						struct genzio_cq **out)
{
	GZ_API();
	struct gz_cq *cq;
	int ret;

	if (!pub || !out || timeout_ms < -1)
		return gz_err(-EINVAL, "ch %p, cq %p, timeout %d", (void *)pub,
			      (void *)out, timeout_ms);
	ret = pub->context->prov->channel_get_event(
		container_of(pub, struct gz_channel, pub), timeout_ms, &cq);
	if (ret)
		return ret;
	*out = &cq->pub;	/* the provider counted the event */
	return 0;
}

GENZIO_EXPORT int genzio_cq_ack_events(struct genzio_cq *pub, uint32_t n)
{
	GZ_API();
	struct gz_cq *cq;

	if (!pub)
		return gz_err(-EINVAL, "cq is NULL");
	cq = container_of(pub, struct gz_cq, pub);
	if (n > __atomic_load_n(&cq->events, __ATOMIC_RELAXED) - cq->acked)
		return gz_err(-EINVAL, "acknowledging %u of %u events", n,
			      cq->events - cq->acked);
	cq->acked += n;
	return 0;
}
