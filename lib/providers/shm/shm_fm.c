// SPDX-License-Identifier: MIT
/*
 * shm and the fabric manager (lib/fabric/fm*.c): which component a
 * process becomes on a described fabric, the path words its posters
 * load, the UEP events the manager's changes imply, and control space.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "providers/shm/shm.h"

#define ROUTE_TIMEOUT_MS 1000u

static int told; /* GENZIO_FABRIC_FILE was not used */

static uint64_t route_timeout_ns(void)
{
	const char *e = getenv("GENZIO_ROUTE_TIMEOUT_MS");
	char *end;
	unsigned long ms;

	if (!e || !*e)
		return ROUTE_TIMEOUT_MS * 1000000ull;
	ms = strtoul(e, &end, 10);
	if (*end || ms > 3600000ul) {
		gz_err(-EINVAL,
		       "GENZIO_ROUTE_TIMEOUT_MS=%s: want 0 to 3600000; "
		       "%u used",
		       e, ROUTE_TIMEOUT_MS);
		ms = ROUTE_TIMEOUT_MS;
	}
	return ms * 1000000ull;
}

/* The description a first joiner builds: $GENZIO_FABRIC_FILE, or one
 * switch. */
static int describe(struct gz_shm_ctx *ctx, const char *file, uint32_t subnet,
		    int *built)
{
	char err[400];
	struct gz_topo t;
	int ret;

	*built = 0;
	/* a running fabric keeps its description: a file given now is
	 * not read, so a bad one fails nothing */
	if (gz_fm_runs(&ctx->fm))
		return 0;
	if (file)
		ret = gz_topo_load(file, &t, err, sizeof(err));
	else
		ret = gz_topo_default(&t, subnet);
	if (ret)
		return file ? gz_err(ret, "GENZIO_FABRIC_FILE: %s", err) : ret;
	ret = gz_fm_build(&ctx->fm, &t, file, subnet, built);
	gz_topo_free(&t);
	return ret;
}

/* $GENZIO_COMPONENT names the one component to take. */
static int choose(struct gz_shm_ctx *ctx, const struct gz_fm_snap *s,
		  const char *want, uint64_t *allow)
{
	uint32_t cid = gz_fm_comp_find(s, want);

	if (!s->described)
		return gz_err(-EINVAL,
			      "GENZIO_COMPONENT=%s: fabric %s has no "
			      "description (GENZIO_FABRIC_FILE) naming its "
			      "components",
			      want, ctx->fm.name);
	if (!cid)
		return gz_err(-ENOENT,
			      "GENZIO_COMPONENT=%s: fabric %s (%s) "
			      "declares no such component",
			      want, ctx->fm.name, s->source);
	if (!(allow[(cid - 1) / 64] >> ((cid - 1) % 64) & 1))
		return s->comp[cid].flags & GZ_FM_REMOVED
			   ? gz_err(-EADDRINUSE,
				    "GENZIO_COMPONENT=%s: component %#x is "
				    "removed (genzio-fabric add %s)",
				    want, s->subnet << 12 | cid, want)
			   : gz_err(-EADDRINUSE,
				    "GENZIO_COMPONENT=%s: component %#x is "
				    "held by pid %d",
				    want, s->subnet << 12 | cid,
				    (int)s->comp[cid].pid);
	memset(allow, 0, 64 * sizeof(*allow));
	allow[(cid - 1) / 64] = 1ull << ((cid - 1) % 64);
	return 0;
}

int gz_shm_fm_enter(struct gz_shm_ctx *ctx, const char *fabric,
		    uint32_t *subnet, uint64_t *allow, int *any)
{
	const char *file = getenv("GENZIO_FABRIC_FILE");
	const char *want = getenv("GENZIO_COMPONENT");
	int built, ret;

	ctx->fm_wd = ctx->fm_efd = -1;
	ctx->route_timeout_ns = route_timeout_ns();
	ctx->fm_snap = malloc(sizeof(*ctx->fm_snap));
	if (!ctx->fm_snap)
		return -ENOMEM;
	ret = gz_fm_open(ctx->dirfd[GZ_SHM_DIR_SHM], fabric, 1, &ctx->fm);
	if (ret)
		return ret;
	ret = gz_fm_lock(&ctx->fm);
	if (ret)
		return ret;
	ctx->fm_locked = 1;
	ret = describe(ctx, file && *file ? file : NULL, *subnet, &built);
	ctx->fm_built = !ret && built;
	if (!ret)
		ret = gz_fm_snapshot(&ctx->fm, ctx->fm_snap);
	if (ret)
		return ret;
	if (!built && file && *file && strcmp(file, ctx->fm_snap->source))
		gz_log_notice_once(&told,
				   "fabric %s runs the "
				   "description \"%s\" until its last "
				   "component leaves: GENZIO_FABRIC_FILE=%s "
				   "is not used",
				   fabric, ctx->fm_snap->source, file);
	/* a description's subnet is the fabric's; the default fabric's is
	 * the caller's, and the registry refuses another */
	if (ctx->fm_snap->described)
		*subnet = ctx->fm_snap->subnet;
	ret = gz_fm_allowed(&ctx->fm, allow);
	*any = ret == -ENOENT;
	if (*any)
		ret = 0;
	if (!ret && want && *want) {
		ret = choose(ctx, ctx->fm_snap, want, allow);
		*any = 0;
	}
	return ret;
}

int gz_shm_fm_attach(struct gz_shm_ctx *ctx)
{
	const struct genzio_device_attr *a = &ctx->base.attr;
	struct gz_fm_self self = {.caps = a->caps,
				  .data_size = a->max_mr_size,
				  .max_qp = a->max_qp,
				  .max_cq = a->max_cq};
	int ret = gz_fm_row_map(&ctx->fm, ctx->cid);

	if (!ret)
		ret = gz_fm_attach(&ctx->fm, ctx->cid, ctx->incarnation, &self);
	if (ret && ctx->fm_built)
		gz_fm_unbuild(&ctx->fm);

	/* events from now on: what our own join did is no news to us */
	ctx->fm_log_next = gz_fm_log_head(&ctx->fm);
	gz_fm_unlock(&ctx->fm);
	ctx->fm_locked = 0;
	return ret;
}

void gz_shm_fm_exit(struct gz_shm_ctx *ctx)
{
	/* a join that failed after it built the fabric takes it back */
	if (ctx->fm_locked && ctx->fm_built)
		gz_fm_unbuild(&ctx->fm);
	if (ctx->fm_locked)
		gz_fm_unlock(&ctx->fm);
	ctx->fm_locked = 0;
	gz_fm_close(&ctx->fm);
	free(ctx->fm_snap);
	ctx->fm_snap = NULL;
}

void gz_shm_fm_leave(struct gz_shm_ctx *ctx)
{
	gz_fm_detach(&ctx->fm, ctx->cid, ctx->incarnation);
	gz_shm_fm_exit(ctx);
}

static void push(void *arg, const struct gz_fm_uep *u)
{
	struct gz_shm_ctx *ctx = arg;
	struct genzio_event e = {
	    .type = u->type, .gcid = u->gcid, .link = u->link};

	gz_event_push(&ctx->base, &e);
}

void gz_shm_fm_harvest(struct gz_shm_ctx *ctx)
{
	uint64_t lost = 0;

	if (!ctx->fm.map)
		return;
	gz_fm_events(&ctx->fm, &ctx->fm_log_next, push, ctx, &lost);
	if (lost)
		gz_err(0,
		       "fabric %s: %llu fabric events were lost (this "
		       "context read them too late, or the log holds garbage)",
		       ctx->fm.name, (unsigned long long)lost);
}

int gz_shm_path_wait(struct gz_shm_ctx *ctx, uint64_t since)
{
	if (since > UINT64_MAX - ctx->route_timeout_ns ||
	    gz_shm_now_ns() < since + ctx->route_timeout_ns)
		return GZ_SHM_NO_RECV;
	return GZ_SHM_NO_ROUTE;
}

int gz_shm_component_query(struct genzio_context *base, uint32_t gcid,
			   struct genzio_component *c)
{
	struct gz_shm_ctx *ctx = to_shm_ctx(base);

	if (gcid >> 12 != ctx->fabric.subnet || !(gcid & 0xfff))
		return gz_err(-EHOSTUNREACH,
			      "GCID %#x is not of this fabric's "
			      "subnet %#x",
			      gcid, ctx->fabric.subnet);
	return gz_fm_ctl_read(&ctx->fm, gcid, c);
}

int gz_shm_fm_open(const char *dev, const struct genzio_open_attr *attr,
		   struct gz_fm *fm)
{
	struct gz_open_opts o;
	char why[256];
	int dirfd, ret;

	(void)dev;
	ret = gz_open_opts_get(attr, &o);
	if (ret)
		return ret;
	ret = gz_sys_privdir_open(gz_sys_base_dir(), &dirfd, why, sizeof(why));
	if (ret)
		return gz_err(ret, "%s", why);
	ret = gz_fm_open(dirfd, o.fabric, 0, fm);
	close(dirfd);
	return ret;
}
