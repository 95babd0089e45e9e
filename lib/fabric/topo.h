/* SPDX-License-Identifier: MIT */
/*
 * A fabric's topology as the manager holds it (private memory): switches,
 * components attached to them, links between switches. Parsed from the
 * text format of genzio_fabric(5) (topo_parse.c), made up for a default
 * fabric of one switch, or generated at scale for benchmarks and tests
 * (topo_gen.c). Routes over it are route.c's.
 */
#ifndef GZ_FABRIC_TOPO_H
#define GZ_FABRIC_TOPO_H

#include <stddef.h>
#include <stdint.h>

#define GZ_TOPO_NAME_MAX 24
#define GZ_TOPO_MAX_SWITCHES 4096 /* route tables are switches^2 */
#define GZ_TOPO_MAX_COMPS (1u << 20)
#define GZ_TOPO_NONE UINT32_MAX

struct gz_topo_switch {
	char name[GZ_TOPO_NAME_MAX + 1];
	uint32_t sid;	    /* its subnet */
	uint32_t up;	    /* a "switch down" fault clears it */
	uint32_t adj, nadj; /* its links: adj[adj .. adj + nadj) */
};

struct gz_topo_comp {
	char name[GZ_TOPO_NAME_MAX + 1];
	uint32_t gcid; /* SID << 12 | CID */
	uint32_t sw;   /* the switch it attaches to */
	uint32_t up;   /* its link to the switch */
};

/* A link between two switches; components' links are their own. */
struct gz_topo_link {
	uint32_t a, b; /* switch indexes, a != b */
	uint32_t up;
};

/* One end of a switch's link, for walks (built by gz_topo_index). */
struct gz_topo_adj {
	uint32_t peer; /* the switch at the other end */
	uint32_t link; /* which link */
};

struct gz_topo {
	struct gz_topo_switch *sw;
	struct gz_topo_comp *comp;
	struct gz_topo_link *link;
	struct gz_topo_adj *adj; /* 2 * nlink entries, by switch */
	uint32_t nsw, ncomp, nlink;
	uint32_t capsw, capcomp, caplink;
	/* open hashing, so a file of 65,536 components parses in linear
	 * time: names (switch i as i, component i as i | 1 << 31), GCIDs */
	uint32_t *by_name, *by_gcid;
	uint32_t hmask; /* both have hmask + 1 slots */
};

void gz_topo_init(struct gz_topo *t);
void gz_topo_free(struct gz_topo *t);
/* Append one; 0 or -ENOMEM / -E2BIG (beyond the limits above). */
int gz_topo_add_switch(struct gz_topo *t, const char *name, uint32_t sid);
int gz_topo_add_comp(struct gz_topo *t, const char *name, uint32_t gcid,
		     uint32_t sw);
int gz_topo_add_link(struct gz_topo *t, uint32_t a, uint32_t b);
/* Give component @c, added with CID 0 (to be assigned), @gcid. */
int gz_topo_set_cid(struct gz_topo *t, uint32_t c, uint32_t gcid);
/* Switch or component @name: its index, or GZ_TOPO_NONE. */
uint32_t gz_topo_find_switch(const struct gz_topo *t, const char *name);
uint32_t gz_topo_find_comp(const struct gz_topo *t, const char *name);
uint32_t gz_topo_find_gcid(const struct gz_topo *t, uint32_t gcid);
/* (Re)build the adjacency of every switch from the links. 0 or -ENOMEM. */
int gz_topo_index(struct gz_topo *t);

/*
 * Parse the fabric description @text (@len bytes, named @file in errors).
 * Components without a "cid" get the lowest free CID of their subnet.
 * Return: 0 with @t indexed, or -EINVAL with "file:line: reason" in @err
 * (the first error), -ENOMEM, -E2BIG.
 */
int gz_topo_parse(const char *text, size_t len, const char *file,
		  struct gz_topo *t, char *err, size_t errlen);
/* gz_topo_parse() of the file at @path (at most 16 MiB). */
int gz_topo_load(const char *path, struct gz_topo *t, char *err, size_t errlen);
/* The default fabric: one switch "sw0" in subnet @sid, no components. */
int gz_topo_default(struct gz_topo *t, uint32_t sid);

/*
 * The generated shape benchmarks use (and bench/opensm-route builds for
 * OpenSM): @ncomp components in S = max(16, ceil(ncomp / 2048)) subnets,
 * 32 per edge switch; C = pow2(max(16, edges / 16)) core switches in an
 * X x Y torus; edge e links to cores e % C and (e + X) % C. @ncomp must
 * be a multiple of S. 0, -EINVAL, -ENOMEM.
 */
int gz_topo_generate(uint32_t ncomp, struct gz_topo *t);

#endif /* GZ_FABRIC_TOPO_H */
