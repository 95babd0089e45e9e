// SPDX-License-Identifier: MIT
/* genzio_device_*: find, open, describe and close a device. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/provider_table.h"
#include "fabric/fabric.h"

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

/* The first layouts released: callers may pass these sizes and up, for
 * ever (a field added later does not raise them). */
#define DEVICE_DESC_MIN 128
#define PROVIDER_DESC_MIN 184
#define DEVICE_ATTR_MIN 128
#define MEMBER_MIN 24
_Static_assert(sizeof(struct genzio_device_desc) >= DEVICE_DESC_MIN, "desc");
_Static_assert(sizeof(struct genzio_provider_desc) >= PROVIDER_DESC_MIN,
	       "provider desc");
_Static_assert(sizeof(struct genzio_device_attr) >= DEVICE_ATTR_MIN, "attr");
_Static_assert(sizeof(struct genzio_member) >= MEMBER_MIN, "member");
#define MAX_DEVICES 16		/* per provider, as far as we look */

/* The devices of @p, and why none when there are none. */
static int probe(const struct gz_provider *p,
		 struct genzio_device_desc devs[MAX_DEVICES], char *why,
		 size_t len)
{
	int n;

	memset(devs, 0, MAX_DEVICES * sizeof(*devs));
	snprintf(why, len, "no device found");
	n = p->probe(devs, MAX_DEVICES, why, len);
	for (int i = 0; i < n && i < MAX_DEVICES; i++)
		snprintf(devs[i].provider, sizeof(devs[i].provider), "%s",
			 p->name);
	return n > 0 ? n : 0;
}

/* Devices of @n that devs[] holds. */
static int held(int n)
{
	return n < MAX_DEVICES ? n : MAX_DEVICES;
}

GENZIO_EXPORT int genzio_device_list_sz(struct genzio_device_desc *descs,
					int max, size_t size)
{
	GZ_API_AS("genzio_device_list");
	struct genzio_device_desc devs[MAX_DEVICES];
	char why[160];
	int n = 0;

	if (gz_out_list_ok(descs, max, size, DEVICE_DESC_MIN,
			   "genzio_device_desc"))
		return -EINVAL;
	for (int i = 0; i < gz_provider_count(); i++) {
		int count = probe(gz_provider_at(i), devs, why, sizeof(why));

		for (int d = 0; d < count; d++, n++)
			if (n < max && d < MAX_DEVICES)
				gz_out_list_put(descs, n, size, &devs[d],
						sizeof(devs[d]));
	}
	return n;
}

GENZIO_EXPORT int genzio_provider_list_sz(struct genzio_provider_desc *descs,
					  int max, size_t size)
{
	GZ_API_AS("genzio_provider_list");
	struct genzio_device_desc devs[MAX_DEVICES];
	int n = gz_provider_count();

	if (gz_out_list_ok(descs, max, size, PROVIDER_DESC_MIN,
			   "genzio_provider_desc"))
		return -EINVAL;
	for (int i = 0; i < n && i < max; i++) {
		const struct gz_provider *p = gz_provider_at(i);
		struct genzio_provider_desc d = { 0 };

		snprintf(d.name, sizeof(d.name), "%s", p->name);
		d.ndevices = probe(p, devs, d.why, sizeof(d.why));
		if (d.ndevices > 0)
			d.why[0] = 0;
		gz_out_list_put(descs, i, size, &d, sizeof(d));
	}
	return n;
}

static void name_copy(char dev[GENZIO_NAME_MAX], const char *from)
{
	memcpy(dev, from, GENZIO_NAME_MAX - 1);
	dev[GENZIO_NAME_MAX - 1] = 0;
}

/*
 * @name: a device name ("shm0") or a provider name (its first device).
 * @src names where the name came from, for the error.
 */
static int device_of(const char *name, const char *src,
		     const struct gz_provider **out, char dev[GENZIO_NAME_MAX])
{
	struct genzio_device_desc devs[MAX_DEVICES];
	char why[160];

	for (int i = 0; i < gz_provider_count(); i++) {
		const struct gz_provider *p = gz_provider_at(i);
		int is_prov = !strcmp(p->name, name);
		int n = held(probe(p, devs, why, sizeof(why)));

		for (int d = 0; d < n; d++) {
			if (!is_prov && strcmp(devs[d].name, name))
				continue;
			name_copy(dev, devs[d].name);
			*out = p;
			return 0;
		}
		if (is_prov)
			return gz_err(-ENODEV, "%s%s: this provider has no "
				      "usable device here: %s", src, name,
				      why);
	}
	return gz_err(-ENODEV, "%s%s: no such device or provider here "
		      "(genzio-info lists the ones there are)", src, name);
}

/* No name anywhere: the first device of the first provider with one. */
static int device_default(const struct gz_provider **out,
			  char dev[GENZIO_NAME_MAX])
{
	struct genzio_device_desc devs[MAX_DEVICES];
	char why[GZ_PROVIDERS_MAX][160];
	int n = gz_provider_count();

	for (int i = 0; i < n; i++) {
		const struct gz_provider *p = gz_provider_at(i);

		if (probe(p, devs, why[i % GZ_PROVIDERS_MAX],
			  sizeof(why[0])) > 0) {
			name_copy(dev, devs[0].name);
			*out = p;
			return 0;
		}
	}
	/* only now: a provider without a device is no error if another
	 * has one */
	for (int i = 0; i < n && i < GZ_PROVIDERS_MAX; i++)
		gz_err(-ENODEV, "provider %s: %s", gz_provider_at(i)->name,
		       why[i]);
	return gz_err(-ENODEV, "no provider of this build has a device here");
}

int gz_device_choose(const char *name, const struct genzio_open_attr *attr,
		     const struct gz_provider **p, char dev[GENZIO_NAME_MAX])
{
	const char *env;

	if (attr && (attr->comp_mask & ~(uint64_t)OPEN_ATTR_ALL))
		return gz_err(-EINVAL, "unknown comp_mask bits %#llx",
			      (unsigned long long)(attr->comp_mask &
						   ~(uint64_t)OPEN_ATTR_ALL));
	if (name)
		return device_of(name, "", p, dev);
	env = getenv("GENZIO_DEVICE");
	if (env && *env)
		return device_of(env, "GENZIO_DEVICE=", p, dev);
	env = getenv("GENZIO_PROVIDER");
	if (env && *env)
		return device_of(env, "GENZIO_PROVIDER=", p, dev);
	return device_default(p, dev);
}

/* Whether @name (or the environment, without one) names a provider
 * rather than one of its devices. */
static int by_provider(const char *name)
{
	if (!name) {
		const char *env = getenv("GENZIO_DEVICE");

		if (env && *env)
			name = env;
		else if (!(name = getenv("GENZIO_PROVIDER")) || !*name)
			return 0;
	}
	for (int i = 0; i < gz_provider_count(); i++)
		if (!strcmp(gz_provider_at(i)->name, name))
			return 1;
	return 0;
}

/*
 * Open @dev of @p; a provider asked for by name gives its first device
 * that is free: one in use by another process (-EBUSY: a VFIO group
 * another process holds) makes way for the next.
 */
static int open_first_free(const struct gz_provider *p, const char *dev,
			   int any, const struct genzio_open_attr *attr,
			   struct genzio_context **ctx)
{
	struct genzio_device_desc devs[MAX_DEVICES];
	char why[160];
	int ret = p->device_open(dev, attr, ctx), n, d = 0;

	if (ret != -EBUSY || !any)
		return ret;
	n = held(probe(p, devs, why, sizeof(why)));
	while (d < n && strcmp(devs[d].name, dev))
		d++;
	for (d++; d < n && ret == -EBUSY; d++)
		ret = p->device_open(devs[d].name, attr, ctx);
	return ret;
}

GENZIO_EXPORT int genzio_device_open(const char *name,
				     const struct genzio_open_attr *attr,
				     struct genzio_context **out)
{
	GZ_API();
	const struct gz_provider *p = NULL;
	struct genzio_context *ctx;
	char dev[GENZIO_NAME_MAX];
	int ret;

	if (!out)
		return gz_err(-EINVAL, "ctx is NULL");
	ret = gz_device_choose(name, attr, &p, dev);
	if (ret)
		return ret;
	ret = open_first_free(p, dev, by_provider(name), attr, &ctx);
	if (ret)
		return ret;
	ctx->prov = p;
	ctx->lkeys = p->own_lkeys ? NULL :
		     calloc(ctx->attr.max_mr, sizeof(*ctx->lkeys));
	ret = ctx->lkeys || p->own_lkeys ? gz_events_init(&ctx->ev) : -ENOMEM;
	if (ret) {
		free(ctx->lkeys);
		p->device_close(ctx);
		free(ctx);
		return gz_err(ret, "event queue: %s", strerror(-ret));
	}
	pthread_mutex_init(&ctx->lock, NULL);
	if (p->event_watch)
		p->event_watch(ctx);
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

GENZIO_EXPORT int genzio_device_query_sz(struct genzio_context *ctx,
					 struct genzio_device_attr *attr,
					 size_t size)
{
	GZ_API_AS("genzio_device_query");
	struct genzio_device_attr a;

	if (!ctx || !attr)
		return gz_err(-EINVAL, "ctx %p, attr %p", (void *)ctx,
			      (void *)attr);
	if (gz_out_size_ok(size, DEVICE_ATTR_MIN, "genzio_device_attr"))
		return -EINVAL;
	gz_ctx_lock(ctx);
	a = ctx->attr;
	gz_ctx_unlock(ctx);
	gz_out_copy(attr, size, &a, sizeof(a));
	return 0;
}

GENZIO_EXPORT int genzio_member_list_sz(const char *name,
					const struct genzio_open_attr *attr,
					struct genzio_member *m, int max,
					size_t size)
{
	GZ_API_AS("genzio_member_list");
	const struct gz_provider *p = NULL;
	char dev[GENZIO_NAME_MAX];
	struct gz_fabric f;
	int n = 0, ret;

	if (gz_out_list_ok(m, max, size, MEMBER_MIN, "genzio_member"))
		return -EINVAL;
	ret = gz_device_choose(name, attr, &p, dev);
	if (ret)
		return ret;
	if (!p->fabric_open)
		return gz_err(-ENOTSUP, "provider %s has no host fabric",
			      p->name);
	ret = p->fabric_open(dev, attr, &f);
	if (ret == -ENOENT)
		return 0;	/* nobody ever joined it */
	if (ret)
		return ret;
	for (uint32_t cid = 1; cid <= GZ_FABRIC_MAX_CID; cid++) {
		struct gz_fabric_member fm;
		struct genzio_member e = { .gcid = GENZIO_GCID(f.subnet, cid) };

		ret = gz_fabric_probe(&f, cid, &fm);
		if (ret == -EHOSTUNREACH)
			continue;	/* free */
		if (ret == -EAGAIN) {	/* stayed mid-update: say so */
			memset(&fm, 0, sizeof(fm));
			e.state = GENZIO_MEMBER_CHANGING;
		} else if (ret == -ESRCH) {
			e.state = GENZIO_MEMBER_STALE;
		} else if (!ret) {
			e.state = fm.pid == getpid() ? GENZIO_MEMBER_SELF :
						       GENZIO_MEMBER_LIVE;
		} else {
			gz_fabric_close(&f);
			return gz_err(ret, "GCID %#x: cannot tell whether it "
				      "lives: %s", e.gcid, strerror(-ret));
		}
		e.pid = fm.pid;
		e.incarnation = fm.incarnation;
		if (n < max)
			gz_out_list_put(m, n, size, &e, sizeof(e));
		n++;
	}
	gz_fabric_close(&f);
	return n;
}
