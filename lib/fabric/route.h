/* SPDX-License-Identifier: MIT */
/*
 * Routes between the switches of a topology, as a fabric manager programs
 * them: the primary is a shortest path (destination-based, the table a
 * switch holds: next hop toward each switch); the alternate is a path
 * whose switches between the ends are none of the primary's, so one link
 * or one switch going down never takes both. A component's route is its
 * switch's route to the other's switch.
 *
 * How it stays tractable (as OpenSM's min-hop engine: one BFS per switch,
 * tables of switches x switches, never per pair of end nodes):
 *   - one BFS from every switch gives hop counts and next hops;
 *   - blocks (biconnected components, Tarjan) say at once which pairs
 *     have a disjoint alternate at all: two switches do exactly when they
 *     share a block of three switches or more;
 *   - for those, the alternate is first tried as "another neighbour, then
 *     that neighbour's primary" (the table form, a few loads), and only
 *     when none is disjoint found by a BFS that avoids the primary, kept
 *     as an explicit path.
 * A pair whose only disjoint pairs of paths avoid the chosen primary
 * (rare: a "trap" topology) gets no alternate; genzio_fabric(5) says so.
 */
#ifndef GZ_FABRIC_ROUTE_H
#define GZ_FABRIC_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "fabric/topo.h"

#define GZ_ROUTE_INF 255u /* no path; paths are < 255 hops */
#define GZ_ROUTE_NOALT UINT32_MAX
#define GZ_ROUTE_EXPLICIT (1u << 31) /* alt: an offset into pool */

struct gz_routes {
	/* tables by destination, as switches hold them: [t * n + s] */
	uint32_t n;	 /* switches */
	uint8_t *dist;	 /* hops from s to t, or INF */
	uint16_t *next;	 /* s's next switch toward t */
	uint16_t *next2; /* another of equal cost, or next */
	uint32_t *alt;	 /* s's alternate toward t: its first
			  * hop (then the primary from it),
			  * EXPLICIT | offset, or NOALT */
	uint16_t *pool;	 /* explicit alternates: a count, then
			  * the switches after s */
	uint32_t npool, cappool;
	uint32_t explicit_alts; /* how many needed a BFS */
	size_t bytes;		/* memory held */
};

/*
 * Compute every route over what is up in @t (switches, links). Return: 0,
 * -ENOMEM, or -E2BIG (a shortest path of 255 hops or more).
 */
int gz_route_build(const struct gz_topo *t, struct gz_routes *r);
void gz_route_free(struct gz_routes *r);

/* Hops from @s to @t, or GZ_ROUTE_INF. */
static inline uint32_t gz_route_hops(const struct gz_routes *r, uint32_t s,
				     uint32_t t)
{
	return r->dist[(size_t)t * r->n + s];
}

static inline int gz_route_has_alt(const struct gz_routes *r, uint32_t s,
				   uint32_t t)
{
	return r->alt[(size_t)t * r->n + s] != GZ_ROUTE_NOALT;
}
/*
 * The switches of the primary (@alt 0) or alternate (1) path from @s to
 * @t, both included, into @hops (room for @max). Return: their number, 0
 * when there is none, or -ENOSPC.
 */
int gz_route_path(const struct gz_routes *r, uint32_t s, uint32_t t, int alt,
		  uint32_t *hops, uint32_t max);

#endif /* GZ_FABRIC_ROUTE_H */
