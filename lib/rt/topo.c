// SPDX-License-Identifier: MIT
/*
 * genzio_rt_topo_* and core picking, on hwloc. A core is idle for the
 * caller's plan when none of its PUs is busy or already picked, so two
 * polling threads never share a core and never sit beside a busy sibling.
 */
#include <errno.h>
#include <hwloc.h>
#include <stdlib.h>

#include <genzio/rt.h>

#include "gz.h"

struct genzio_rt_topo {
	hwloc_topology_t t;
};

GENZIO_EXPORT int genzio_rt_topo_load(const char *synthetic,
				      const char *offline,
				      struct genzio_rt_topo **out)
{
	GZ_API();
	struct genzio_rt_topo *topo;
	hwloc_bitmap_t keep = NULL;
	int ret = -EINVAL;

	if (!out)
		return gz_err(-EINVAL, "topo is NULL");
	topo = calloc(1, sizeof(*topo));
	if (!topo)
		return -ENOMEM;
	if (hwloc_topology_init(&topo->t)) {
		free(topo);
		return -ENOMEM;
	}
	if (synthetic && hwloc_topology_set_synthetic(topo->t, synthetic)) {
		gz_err(ret, "bad synthetic topology \"%s\"", synthetic);
		goto destroy;
	}
	if (hwloc_topology_load(topo->t)) {
		ret = gz_err(-errno ? -errno : -EINVAL, "hwloc cannot load");
		goto destroy;
	}
	if (offline) {
		hwloc_bitmap_t off = hwloc_bitmap_alloc();

		keep = hwloc_bitmap_dup(hwloc_topology_get_topology_cpuset(
			topo->t));
		if (!off || !keep) {
			hwloc_bitmap_free(off);
			ret = -ENOMEM;
			goto destroy;
		}
		if (hwloc_bitmap_list_sscanf(off, offline)) {
			hwloc_bitmap_free(off);
			gz_err(ret, "bad cpu list \"%s\"", offline);
			goto destroy;
		}
		hwloc_bitmap_andnot(keep, keep, off);
		hwloc_bitmap_free(off);
		if (hwloc_bitmap_iszero(keep) ||
		    hwloc_topology_restrict(topo->t, keep, 0)) {
			gz_err(ret, "offline list \"%s\" leaves no PU", offline);
			goto destroy;
		}
		hwloc_bitmap_free(keep);
	}
	*out = topo;
	return 0;

destroy:
	hwloc_bitmap_free(keep);
	hwloc_topology_destroy(topo->t);
	free(topo);
	return ret;
}

GENZIO_EXPORT int genzio_rt_topo_free(struct genzio_rt_topo *topo)
{
	GZ_API();
	if (!topo)
		return gz_err(-EINVAL, "topo is NULL");
	hwloc_topology_destroy(topo->t);
	free(topo);
	return 0;
}

GENZIO_EXPORT int genzio_rt_topo_query_sz(struct genzio_rt_topo *topo,
					  struct genzio_rt_topo_info *out,
					  size_t size)
{
	GZ_API_AS("genzio_rt_topo_query");
	struct genzio_rt_topo_info t, *info = &t;
	int ncores, nnodes;

	if (!topo || !out)
		return gz_err(-EINVAL, "topo %p, info %p", (void *)topo,
			      (void *)out);
	if (gz_out_size_ok(size, 16, "genzio_rt_topo_info"))	/* first layout */
		return -EINVAL;
	ncores = hwloc_get_nbobjs_by_type(topo->t, HWLOC_OBJ_CORE);
	nnodes = hwloc_get_nbobjs_by_type(topo->t, HWLOC_OBJ_NUMANODE);
	info->npus = (uint32_t)hwloc_get_nbobjs_by_type(topo->t, HWLOC_OBJ_PU);
	info->ncores = (uint32_t)(ncores > 0 ? ncores : (int)info->npus);
	info->nnodes = (uint32_t)(nnodes > 0 ? nnodes : 1);
	info->smt = 1;
	for (int i = 0; i < ncores; i++) {
		hwloc_obj_t c = hwloc_get_obj_by_type(topo->t, HWLOC_OBJ_CORE,
						      (unsigned)i);
		int w = hwloc_bitmap_weight(c->cpuset);

		if (w > (int)info->smt)
			info->smt = (uint32_t)w;
	}
	gz_out_copy(out, size, &t, sizeof(t));
	return 0;
}

/* The core of PU @cpu (the PU itself where hwloc knows no cores). */
static hwloc_obj_t core_of(struct genzio_rt_topo *topo, uint32_t cpu)
{
	hwloc_obj_t pu = hwloc_get_pu_obj_by_os_index(topo->t, cpu);
	hwloc_obj_t core;

	if (!pu)
		return NULL;
	core = hwloc_get_ancestor_obj_by_type(topo->t, HWLOC_OBJ_CORE, pu);
	return core ? core : pu;
}

GENZIO_EXPORT int genzio_rt_siblings(struct genzio_rt_topo *topo,
				     uint32_t cpu, uint32_t *sib, uint32_t max)
{
	GZ_API();
	hwloc_obj_t core;
	int n = 0, id;

	if (!topo || (max && !sib))
		return gz_err(-EINVAL, "topo %p, sib %p", (void *)topo,
			      (void *)sib);
	core = core_of(topo, cpu);
	if (!core)
		return gz_err(-EINVAL, "no online PU %u", cpu);
	hwloc_bitmap_foreach_begin(id, core->cpuset)
	{
		if ((uint32_t)n < max)
			sib[n] = (uint32_t)id;
		n++;
	}
	hwloc_bitmap_foreach_end();
	return n;
}

GENZIO_EXPORT int genzio_rt_cores_pick(struct genzio_rt_topo *topo, int node,
				       const uint32_t *busy, uint32_t nbusy,
				       uint32_t n, uint32_t *cpus)
{
	GZ_API();
	hwloc_bitmap_t taken, near = NULL;
	hwloc_obj_type_t type;
	uint32_t got = 0;
	int ncores, ret = 0;

	if (!topo || !cpus || !n || (nbusy && !busy))
		return gz_err(-EINVAL, "topo %p, cpus %p, n %u, busy %p",
			      (void *)topo, (void *)cpus, n, (const void *)busy);
	taken = hwloc_bitmap_alloc();
	if (!taken)
		return -ENOMEM;
	for (uint32_t i = 0; i < nbusy; i++) {
		hwloc_obj_t c = core_of(topo, busy[i]);

		/* a busy PU makes its whole core unavailable */
		if (c)
			hwloc_bitmap_or(taken, taken, c->cpuset);
	}
	if (node >= 0) {
		hwloc_obj_t nd = hwloc_get_numanode_obj_by_os_index(
			topo->t, (unsigned)node);

		if (!nd) {
			ret = gz_err(-EINVAL, "no NUMA node %d", node);
			goto out;
		}
		near = nd->cpuset;
	}
	/* hwloc may know no cores (some VMs): each PU is its own core */
	type = hwloc_get_nbobjs_by_type(topo->t, HWLOC_OBJ_CORE) > 0 ?
		       HWLOC_OBJ_CORE : HWLOC_OBJ_PU;
	ncores = hwloc_get_nbobjs_by_type(topo->t, type);
	/* pass 0: cores of the preferred node; pass 1: any */
	for (int pass = near ? 0 : 1; pass < 2 && got < n; pass++)
		for (int i = 0; i < ncores && got < n; i++) {
			hwloc_obj_t c = hwloc_get_obj_by_type(topo->t, type,
							      (unsigned)i);

			if (hwloc_bitmap_intersects(c->cpuset, taken) ||
			    (!pass && !hwloc_bitmap_isincluded(c->cpuset, near)))
				continue;
			cpus[got++] = (uint32_t)hwloc_bitmap_first(c->cpuset);
			hwloc_bitmap_or(taken, taken, c->cpuset);
		}
	if (got < n)
		ret = gz_err(-ENOSPC, "%u idle cores, %u wanted", got, n);
out:
	hwloc_bitmap_free(taken);
	return ret;
}
