// SPDX-License-Identifier: MIT
/*
 * A device that is gone (verbs' IBV_EVENT_DEVICE_FATAL): the provider
 * died, the emulator died, the device was removed. Every queue pair goes
 * to ERR, so its work completes FLUSHED and whoever waits for it wakes;
 * the application hears DEVICE_FATAL on its event fd and can only close.
 */
#include <errno.h>

#include "provider.h"

void gz_device_fatal(struct genzio_context *ctx, uint8_t status,
		     const char *why)
{
	struct genzio_event e = { .type = GENZIO_EVENT_DEVICE_FATAL,
				  .gcid = ctx->attr.gcid, .status = status };

	if (atomic_exchange(&ctx->fatal, 1))
		return;
	gz_err(-ENODEV, "%s is gone: %s", ctx->attr.name, why);
	if (ctx->prov->device_fatal)
		ctx->prov->device_fatal(ctx, status);
	gz_event_push(ctx, &e);
}

int gz_ctx_gone(struct genzio_context *ctx)
{
	if (GZ_LIKELY(!atomic_load_explicit(&ctx->fatal, memory_order_relaxed)))
		return 0;
	return gz_err(-ENODEV, "%s is gone (GENZIO_EVENT_DEVICE_FATAL): close "
		      "the context", ctx->attr.name);
}
