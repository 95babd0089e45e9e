// SPDX-License-Identifier: MIT
/*
 * The generated fabric of the scale benchmark and tests: subnets of
 * components on edge switches, the edges on a torus of core switches
 * (the shape is in topo.h; bench/opensm-route builds the same for
 * OpenSM, so the two route the same fabric).
 */
#include <errno.h>
#include <stdio.h>

#include "fabric/topo.h"

#define PER_EDGE 32u

static uint32_t pow2_at_least(uint32_t v)
{
	uint32_t p = 1;

	while (p < v)
		p *= 2;
	return p;
}

static int build(struct gz_topo *t, uint32_t ncomp, uint32_t subnets)
{
	uint32_t per = ncomp / subnets, es = (per + PER_EDGE - 1) / PER_EDGE;
	uint32_t edges = subnets * es, lg = 0, x, c;
	char name[GZ_TOPO_NAME_MAX + 1];
	int ret = 0;

	c = pow2_at_least(edges / 16 > 16 ? edges / 16 : 16);
	while ((1u << lg) < c)
		lg++;
	x = 1u << ((lg + 1) / 2); /* the torus is x by c / x */
	for (uint32_t i = 0; i < c && !ret; i++) {
		snprintf(name, sizeof(name), "core%u", i);
		ret = gz_topo_add_switch(t, name, 1);
	}
	for (uint32_t e = 0; e < edges && !ret; e++) {
		snprintf(name, sizeof(name), "e%u", e);
		ret = gz_topo_add_switch(t, name, 1 + e / es);
	}
	/* the torus: right and down neighbours (x, y >= 4: no duplicates) */
	for (uint32_t i = 0; i < c && !ret; i++) {
		ret = gz_topo_add_link(t, i, (i / x) * x + (i % x + 1) % x);
		if (!ret)
			ret = gz_topo_add_link(t, i, (i + x) % c);
	}
	for (uint32_t e = 0; e < edges && !ret; e++) {
		ret = gz_topo_add_link(t, c + e, e % c);
		if (!ret)
			ret = gz_topo_add_link(t, c + e, (e + x) % c);
	}
	for (uint32_t i = 0; i < ncomp && !ret; i++) {
		uint32_t sid = 1 + i / per, k = i % per;

		snprintf(name, sizeof(name), "c%u.%u", sid, k + 1);
		ret = gz_topo_add_comp(t, name, sid << 12 | (k + 1),
				       c + (sid - 1) * es + k / PER_EDGE);
	}
	return ret ? ret : gz_topo_index(t);
}

int gz_topo_generate(uint32_t ncomp, struct gz_topo *t)
{
	uint32_t subnets = (ncomp + 2047) / 2048;
	int ret;

	if (subnets < 16)
		subnets = 16;
	gz_topo_init(t);
	if (!ncomp || ncomp % subnets || ncomp / subnets > 4095 ||
	    subnets > 0xffff)
		return -EINVAL;
	ret = build(t, ncomp, subnets);
	if (ret)
		gz_topo_free(t);
	return ret;
}
