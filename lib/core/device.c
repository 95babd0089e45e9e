// SPDX-License-Identifier: MIT
/* genzio_device_*: find, open, describe and close a device. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/provider_table.h"

#define OPEN_ATTR_ALL (GENZIO_OPEN_ATTR_FABRIC | GENZIO_OPEN_ATTR_SUBNET | \
		       GENZIO_OPEN_ATTR_HUGE_BUDGET)

void gz_ctx_lock(struct genzio_context *ctx)
{
	pthread_mutex_lock(&ctx->lock);
}

void gz_ctx_unlock(struct genzio_context *ctx)
{
	pthread_mutex_unlock(&ctx->lock);
}

GENZIO_EXPORT int genzio_device_list(struct genzio_device_desc *descs, int max)
{
	GZ_API();
	int n = 0;

	if (max < 0 || (max && !descs))
		return gz_err(-EINVAL, "descs %p, max %d", (void *)descs, max);
	for (int i = 0; i < gz_provider_count(); i++) {
		const struct gz_provider *p = gz_provider_at(i);
		char why[400];
		int count = p->probe(why, sizeof(why));

		for (int d = 0; d < count; d++, n++) {
			if (n >= max)
				continue;
			memset(&descs[n], 0, sizeof(descs[n]));
			snprintf(descs[n].name, sizeof(descs[n].name), "%s%d",
				 p->name, d);
			snprintf(descs[n].provider, sizeof(descs[n].provider),
				 "%s", p->name);
		}
	}
	return n;
}

/* "shm", "shm0": the provider named, device 0 (one device each so far).
 * @src names where the name came from, for the error. */
static int provider_of(const char *name, const char *src,
		       const struct gz_provider **out)
{
	char prov[GENZIO_NAME_MAX], why[400] = "";
	size_t n = strcspn(name, "0123456789");
	const struct gz_provider *p = NULL;

	if (n < sizeof(prov) && (!name[n] || !strcmp(name + n, "0"))) {
		memcpy(prov, name, n);
		prov[n] = 0;
		p = gz_provider_find(prov);
	}
	if (!p)
		return gz_err(-ENODEV, "%s%s: no such device in this build "
			      "(genzio_device_list names the ones there are)",
			      src, name);
	if (p->probe(why, sizeof(why)) <= 0)
		return gz_err(-ENODEV, "%s%s: not usable here: %s", src, name,
			      why);
	*out = p;
	return 0;
}

GENZIO_EXPORT int genzio_device_open(const char *name,
				     const struct genzio_open_attr *attr,
				     struct genzio_context **out)
{
	GZ_API();
	const struct gz_provider *p = NULL;
	struct genzio_context *ctx;
	const char *src = "";
	int ret;

	if (!out)
		return gz_err(-EINVAL, "ctx is NULL");
	if (attr && (attr->comp_mask & ~(uint64_t)OPEN_ATTR_ALL))
		return gz_err(-EINVAL, "unknown comp_mask bits %#llx",
			      (unsigned long long)(attr->comp_mask &
						   ~(uint64_t)OPEN_ATTR_ALL));
	if (!name) {
		name = getenv("GENZIO_PROVIDER");
		src = name && *name ? "GENZIO_PROVIDER=" : "";
		if (!*src)
			name = "shm";
	}
	ret = provider_of(name, src, &p);
	if (ret)
		return ret;
	ret = p->device_open(attr, &ctx);
	if (ret)
		return ret;
	ctx->prov = p;
	ctx->lkeys = calloc(ctx->attr.max_mr, sizeof(*ctx->lkeys));
	ret = ctx->lkeys ? gz_events_init(&ctx->ev) : -ENOMEM;
	if (ret) {
		free(ctx->lkeys);
		p->device_close(ctx);
		free(ctx);
		return gz_err(ret, "event queue: %s", strerror(-ret));
	}
	pthread_mutex_init(&ctx->lock, NULL);
	*out = ctx;
	return 0;
}

GENZIO_EXPORT int genzio_device_close(struct genzio_context *ctx)
{
	GZ_API();
	uint32_t busy;

	if (!ctx)
		return gz_err(-EINVAL, "ctx is NULL");
	gz_ctx_lock(ctx);
	busy = ctx->npd + ctx->ncq + ctx->nqp + ctx->nmr + ctx->nmem +
	       ctx->nah + ctx->nchannel + ctx->nrmap;
	gz_ctx_unlock(ctx);
	if (busy)
		return gz_err(-EBUSY, "%u objects still open (pd %u cq %u qp %u "
			      "mr %u mem %u ah %u channel %u rmap %u)", busy,
			      ctx->npd, ctx->ncq, ctx->nqp, ctx->nmr, ctx->nmem,
			      ctx->nah, ctx->nchannel, ctx->nrmap);
	free(ctx->lkeys);
	pthread_mutex_destroy(&ctx->lock);
	/* the provider first: it takes its fds out of the event set */
	ctx->prov->device_close(ctx);
	gz_events_fini(&ctx->ev);
	free(ctx);
	return 0;
}

GENZIO_EXPORT int genzio_device_query(struct genzio_context *ctx,
				      struct genzio_device_attr *attr)
{
	GZ_API();
	if (!ctx || !attr)
		return gz_err(-EINVAL, "ctx %p, attr %p", (void *)ctx,
			      (void *)attr);
	gz_ctx_lock(ctx);
	*attr = ctx->attr;
	gz_ctx_unlock(ctx);
	return 0;
}
