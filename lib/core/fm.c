// SPDX-License-Identifier: MIT
/* genzio_fabric_*: the manager's view of a host fabric, and its faults;
 * genzio_component_query: control space. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <genzio/genzio.h>

#include "core/core.h"
#include "fabric/fm.h"
#include "fabric/route.h"
#include "provider.h"

struct genzio_fabric {
	struct gz_fm fm;
};

GENZIO_EXPORT int genzio_fabric_open(const char *name,
				     const struct genzio_open_attr *attr,
				     struct genzio_fabric **out)
{
	GZ_API();
	const struct gz_provider *p = NULL;
	char dev[GENZIO_NAME_MAX];
	struct genzio_fabric *f;
	struct gz_fm_snap *s;
	int ret;

	if (!out)
		return gz_err(-EINVAL, "fab is NULL");
	*out = NULL;
	ret = gz_device_choose(name, attr, &p, dev);
	if (ret)
		return ret;
	if (!p->fm_open)
		return gz_err(-ENOTSUP, "provider %s manages no host fabric",
			      p->name);
	f = calloc(1, sizeof(*f));
	s = malloc(sizeof(*s));
	if (!f || !s) {
		free(f);
		free(s);
		return -ENOMEM;
	}
	ret = p->fm_open(dev, attr, &f->fm);
	if (!ret) {
		ret = gz_fm_snapshot(&f->fm, s);
		if (ret)
			gz_fm_close(&f->fm);
	}
	free(s);
	if (ret) {
		free(f);
		return ret == -ENOENT ? gz_err(ret, "nobody ever joined that "
						    "fabric")
				      : ret;
	}
	*out = f;
	return 0;
}

GENZIO_EXPORT void genzio_fabric_close(struct genzio_fabric *f)
{
	if (!f)
		return;
	gz_fm_close(&f->fm);
	free(f);
}

/* A snapshot of @f, or NULL with *@ret. */
static struct gz_fm_snap *snap(struct genzio_fabric *f, int *ret)
{
	struct gz_fm_snap *s = malloc(sizeof(*s));

	*ret = s ? gz_fm_snapshot(&f->fm, s) : -ENOMEM;
	if (*ret) {
		free(s);
		return NULL;
	}
	return s;
}

static uint32_t comp_state(const struct gz_fm_snap *s, uint32_t cid)
{
	if (s->comp[cid].flags & GZ_FM_REMOVED)
		return GENZIO_STATE_REMOVED;
	if (!gz_fm_present(s, cid))
		return GENZIO_STATE_ABSENT;
	return gz_fm_comp_link_up(s, cid) ? GENZIO_STATE_UP : GENZIO_STATE_DOWN;
}

GENZIO_EXPORT int genzio_fabric_node_list_sz(struct genzio_fabric *f,
					     struct genzio_fabric_node *n,
					     int max, size_t size)
{
	GZ_API_AS("genzio_fabric_node_list");
	struct gz_fm_snap *s;
	int k = 0, ret;

	if (!f)
		return gz_err(-EINVAL, "fab is NULL");
	if (gz_out_list_ok(n, max, size, sizeof(*n), "genzio_fabric_node"))
		return -EINVAL;
	if (!(s = snap(f, &ret)))
		return ret;
	for (uint32_t i = 0; i < s->nsw; i++, k++) {
		struct genzio_fabric_node e = {
		    .kind = GENZIO_NODE_SWITCH,
		    .state = s->sw[i].up ? GENZIO_STATE_UP : GENZIO_STATE_DOWN,
		};

		memcpy(e.name, s->sw[i].name, sizeof(e.name));
		if (k < max)
			gz_out_list_put(n, k, size, &e, sizeof(e));
	}
	for (uint32_t c = 1; c <= GZ_FM_MAX_CID; c++) {
		struct genzio_fabric_node e = {
		    .kind = GENZIO_NODE_COMPONENT,
		    .gcid = s->subnet << 12 | c,
		    .attach = s->comp[c].sw,
		};

		if (!gz_fm_has(s, c))
			continue;
		memcpy(e.name, s->comp[c].name, sizeof(e.name));
		e.state = comp_state(s, c);
		if (e.state == GENZIO_STATE_UP || e.state == GENZIO_STATE_DOWN)
			e.pid = s->comp[c].pid;
		if (k < max)
			gz_out_list_put(n, k, size, &e, sizeof(e));
		k++;
	}
	free(s);
	return k;
}

GENZIO_EXPORT int genzio_fabric_link_list_sz(struct genzio_fabric *f,
					     struct genzio_fabric_link *l,
					     int max, size_t size)
{
	GZ_API_AS("genzio_fabric_link_list");
	struct gz_fm_snap *s;
	uint32_t node;
	int k = 0, ret;

	if (!f)
		return gz_err(-EINVAL, "fab is NULL");
	if (gz_out_list_ok(l, max, size, sizeof(*l), "genzio_fabric_link"))
		return -EINVAL;
	if (!(s = snap(f, &ret)))
		return ret;
	for (uint32_t i = 0; i < s->nlink; i++, k++) {
		struct genzio_fabric_link e = {
		    .a = s->link[i].a,
		    .b = s->link[i].b,
		    .id = i,
		    .state = gz_fm_link_up(s, i) ? GENZIO_STATE_UP
						 : GENZIO_STATE_DOWN,
		};

		if (k < max)
			gz_out_list_put(l, k, size, &e, sizeof(e));
	}
	node = s->nsw;
	for (uint32_t c = 1; c <= GZ_FM_MAX_CID; c++) {
		struct genzio_fabric_link e = {
		    .a = node,
		    .b = s->comp[c].sw,
		    .id = GENZIO_LINK_COMPONENT,
		};

		if (!gz_fm_has(s, c))
			continue;
		e.state = gz_fm_comp_link_up(s, c) ? GENZIO_STATE_UP
						   : GENZIO_STATE_DOWN;
		if (k < max)
			gz_out_list_put(l, k, size, &e, sizeof(e));
		k++;
		node++;
	}
	free(s);
	return k;
}

static uint32_t route_state(uint8_t word)
{
	if (word & GZ_FM_PATH_DOWN)
		return GENZIO_ROUTE_DOWN;
	switch (word) {
	case GZ_FM_PATH_PRIMARY:
		return GENZIO_ROUTE_PRIMARY;
	case GZ_FM_PATH_ALTERNATE:
		return GENZIO_ROUTE_ALTERNATE;
	case GZ_FM_PATH_REROUTED:
		return GENZIO_ROUTE_REROUTED;
	}
	return GENZIO_ROUTE_DOWN; /* garbage: say what traffic would */
}

/* The switches of @alt (0 primary) between @x and @y into @out. */
static uint32_t hops(const struct gz_routes *r, uint32_t x, uint32_t y, int alt,
		     uint32_t *out)
{
	uint32_t h[GZ_ROUTE_INF + 1];
	int n = gz_route_path(r, x, y, alt, h, GZ_ROUTE_INF + 1);

	if (n <= 0 || n > GENZIO_ROUTE_MAX_HOPS)
		return 0;
	memcpy(out, h, (size_t)n * sizeof(*h));
	return (uint32_t)n;
}

GENZIO_EXPORT int genzio_fabric_route_sz(struct genzio_fabric *f, uint32_t src,
					 uint32_t dst,
					 struct genzio_fabric_route *r,
					 size_t size)
{
	GZ_API_AS("genzio_fabric_route");
	struct genzio_fabric_route out = {0};
	uint8_t row[GZ_FM_MAX_CID + 1];
	struct gz_fm_snap *s;
	struct gz_routes routes;
	struct gz_topo t;
	uint32_t a = src & 0xfff, b = dst & 0xfff;
	int ret;

	if (!f || !r || gz_out_size_ok(size, sizeof(*r), "genzio_fabric_route"))
		return gz_err(-EINVAL, "fab %p, r %p", (void *)f, (void *)r);
	if (!(s = snap(f, &ret)))
		return ret;
	if (src >> 12 != s->subnet || dst >> 12 != s->subnet || !a || !b ||
	    !gz_fm_has(s, a) || !gz_fm_has(s, b)) {
		uint32_t sid = s->subnet;

		free(s);
		return gz_err(-EHOSTUNREACH,
			      "GCID %#x or %#x is no component "
			      "of this fabric (subnet %#x)",
			      src, dst, sid);
	}
	if ((ret = gz_fm_topo(s, 0, &t)))
		goto out;
	if (!(ret = gz_route_build(&t, &routes))) {
		out.nprimary =
		    hops(&routes, s->comp[a].sw, s->comp[b].sw, 0, out.primary);
		out.nalternate = hops(&routes, s->comp[a].sw, s->comp[b].sw, 1,
				      out.alternate);
		gz_route_free(&routes);
	}
	gz_topo_free(&t);
	if (!ret)
		ret = gz_fm_row_read(&f->fm, a, row);
	if (!ret) {
		out.state = route_state(row[b]);
		gz_out_copy(r, size, &out, sizeof(out));
	}
out:
	free(s);
	return ret;
}

GENZIO_EXPORT int genzio_fabric_inject(struct genzio_fabric *f, uint32_t type,
				       const char *a, const char *b)
{
	GZ_API();

	if (!f)
		return gz_err(-EINVAL, "fab is NULL");
	return gz_fm_inject(&f->fm, type, a, b);
}

GENZIO_EXPORT int genzio_component_query_sz(struct genzio_context *ctx,
					    uint32_t gcid,
					    struct genzio_component *c,
					    size_t size)
{
	GZ_API_AS("genzio_component_query");
	struct genzio_component out;
	int ret;

	if (!ctx || !c || gz_out_size_ok(size, sizeof(*c), "genzio_component"))
		return gz_err(-EINVAL, "ctx %p, c %p", (void *)ctx, (void *)c);
	if (!ctx->prov->component_query)
		return gz_err(-ENOTSUP, "provider %s has no control space",
			      ctx->prov->name);
	ret = ctx->prov->component_query(ctx, gcid, &out);
	if (!ret)
		gz_out_copy(c, size, &out, sizeof(out));
	return ret;
}
