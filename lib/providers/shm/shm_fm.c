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

static int told;	/* GENZIO_FABRIC_FILE was not used */

/* The fabric as this context last told its user (private). */
struct gz_shm_fmseen {
	uint32_t seq;
	uint8_t link[GZ_FM_MAX_LINK];		/* carries traffic */
	uint8_t comp_link[GZ_FM_MAX_CID + 1];
	uint8_t present[GZ_FM_MAX_CID + 1];
};

static uint64_t route_timeout_ns(void)
{
	const char *e = getenv("GENZIO_ROUTE_TIMEOUT_MS");
	char *end;
	unsigned long ms;

	if (!e || !*e)
		return ROUTE_TIMEOUT_MS * 1000000ull;
	ms = strtoul(e, &end, 10);
	if (*end || ms > 3600000ul) {
		gz_err(-EINVAL, "GENZIO_ROUTE_TIMEOUT_MS=%s: want 0 to 3600000; "
		       "%u used", e, ROUTE_TIMEOUT_MS);
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
		return gz_err(-EINVAL, "GENZIO_COMPONENT=%s: fabric %s has no "
			      "description (GENZIO_FABRIC_FILE) naming its "
			      "components", want, ctx->fm.name);
	if (!cid)
		return gz_err(-ENOENT, "GENZIO_COMPONENT=%s: fabric %s (%s) "
			      "declares no such component", want, ctx->fm.name,
			      s->source);
	if (!(allow[(cid - 1) / 64] >> ((cid - 1) % 64) & 1))
		return gz_err(-EADDRINUSE, "GENZIO_COMPONENT=%s: component "
			      "%#x is held by pid %d, or removed", want,
			      s->subnet << 12 | cid, (int)s->comp[cid].pid);
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
	ctx->fm_seen = calloc(1, sizeof(*ctx->fm_seen));
	if (!ctx->fm_snap || !ctx->fm_seen)
		return -ENOMEM;
	ret = gz_fm_open(ctx->dirfd[GZ_SHM_DIR_SHM], fabric, 1, &ctx->fm);
	if (ret)
		return ret;
	ret = gz_fm_lock(&ctx->fm);
	if (ret)
		return ret;
	ctx->fm_locked = 1;
	ret = describe(ctx, file && *file ? file : NULL, *subnet, &built);
	if (!ret)
		ret = gz_fm_snapshot(&ctx->fm, ctx->fm_snap);
	if (ret)
		return ret;
	if (!built && file && *file && strcmp(file, ctx->fm_snap->source))
		gz_log_notice_once(&told, "fabric %s runs the "
				   "description \"%s\" until its last "
				   "component leaves: GENZIO_FABRIC_FILE=%s "
				   "is not used", fabric,
				   ctx->fm_snap->source, file);
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

/* The baseline events are measured from: what the user knows at open. */
static void seen_fill(struct gz_shm_fmseen *seen, const struct gz_fm_snap *s)
{
	seen->seq = s->seq;
	for (uint32_t i = 0; i < GZ_FM_MAX_LINK; i++)
		seen->link[i] = i < s->nlink && gz_fm_link_up(s, i);
	for (uint32_t c = 0; c <= GZ_FM_MAX_CID; c++) {
		seen->present[c] = (uint8_t)gz_fm_present(s, c);
		seen->comp_link[c] = (uint8_t)gz_fm_comp_link_up(s, c);
	}
}

int gz_shm_fm_attach(struct gz_shm_ctx *ctx)
{
	const struct genzio_device_attr *a = &ctx->base.attr;
	struct gz_fm_self self = { .caps = a->caps,
				   .data_size = a->max_mr_size,
				   .max_qp = a->max_qp, .max_cq = a->max_cq };
	int ret = gz_fm_attach(&ctx->fm, ctx->cid, ctx->incarnation, &self);

	if (!ret && !(ret = gz_fm_snapshot(&ctx->fm, ctx->fm_snap)))
		seen_fill(ctx->fm_seen, ctx->fm_snap);
	gz_fm_unlock(&ctx->fm);
	ctx->fm_locked = 0;
	return ret;
}

void gz_shm_fm_exit(struct gz_shm_ctx *ctx)
{
	if (ctx->fm_locked)
		gz_fm_unlock(&ctx->fm);
	ctx->fm_locked = 0;
	gz_fm_close(&ctx->fm);
	free(ctx->fm_snap);
	free(ctx->fm_seen);
	ctx->fm_snap = NULL;
	ctx->fm_seen = NULL;
}

void gz_shm_fm_leave(struct gz_shm_ctx *ctx)
{
	gz_fm_detach(&ctx->fm, ctx->cid, ctx->incarnation);
	gz_shm_fm_exit(ctx);
}

static void push(struct gz_shm_ctx *ctx, uint32_t type, uint32_t gcid,
		 uint32_t link)
{
	struct genzio_event e = { .type = type, .gcid = gcid, .link = link };

	gz_event_push(&ctx->base, &e);
}

void gz_shm_fm_harvest(struct gz_shm_ctx *ctx)
{
	struct gz_shm_fmseen *seen = ctx->fm_seen;
	struct gz_fm_snap *s = ctx->fm_snap;

	if (!seen || atomic_load_explicit(&ctx->fm.map->hdr.h.seq,
					  memory_order_acquire) == seen->seq ||
	    gz_fm_snapshot(&ctx->fm, s))
		return;		/* unchanged, or mid-change: next time */
	seen->seq = s->seq;
	for (uint32_t i = 0; i < GZ_FM_MAX_LINK; i++) {
		uint8_t up = i < s->nlink && gz_fm_link_up(s, i);

		if (up != seen->link[i])
			push(ctx, up ? GENZIO_EVENT_LINK_UP :
				       GENZIO_EVENT_LINK_DOWN, 0, i);
		seen->link[i] = up;
	}
	for (uint32_t c = 1; c <= GZ_FM_MAX_CID; c++) {
		uint8_t pres = (uint8_t)gz_fm_present(s, c);
		uint8_t up = (uint8_t)gz_fm_comp_link_up(s, c);
		uint32_t gcid = s->subnet << 12 | c;

		/* a component's own link is news while it stays; coming
		 * and going is COMPONENT_* alone */
		if (up != seen->comp_link[c] && pres && seen->present[c])
			push(ctx, up ? GENZIO_EVENT_LINK_UP :
				       GENZIO_EVENT_LINK_DOWN, gcid,
			     GENZIO_LINK_COMPONENT);
		if (pres != seen->present[c])
			push(ctx, pres ? GENZIO_EVENT_COMPONENT_ADD :
					 GENZIO_EVENT_COMPONENT_REMOVE, gcid, 0);
		seen->comp_link[c] = up;
		seen->present[c] = pres;
	}
}

int gz_shm_path_wait(struct gz_shm_ctx *ctx, uint64_t since)
{
	if (since > UINT64_MAX - ctx->route_timeout_ns ||
	    gz_shm_now_ns() < since + ctx->route_timeout_ns)
		return GZ_SHM_NO_RECV;
	return GENZIO_WC_RETRY_EXC;
}

int gz_shm_component_query(struct genzio_context *base, uint32_t gcid,
			   struct genzio_component *c)
{
	struct gz_shm_ctx *ctx = to_shm_ctx(base);

	if (gcid >> 12 != ctx->fabric.subnet || !(gcid & 0xfff))
		return gz_err(-EHOSTUNREACH, "GCID %#x is not of this fabric's "
			      "subnet %#x", gcid, ctx->fabric.subnet);
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
