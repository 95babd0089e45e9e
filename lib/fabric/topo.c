// SPDX-License-Identifier: MIT
/* A fabric's topology in private memory; see topo.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fabric/topo.h"

#define COMP_BIT (1u << 31)
#define EMPTY UINT32_MAX

void gz_topo_init(struct gz_topo *t)
{
	memset(t, 0, sizeof(*t));
}

void gz_topo_free(struct gz_topo *t)
{
	free(t->sw);
	free(t->comp);
	free(t->link);
	free(t->adj);
	free(t->by_name);
	free(t->by_gcid);
	gz_topo_init(t);
}

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

static uint32_t hash_u32(uint32_t v)
{
	v ^= v >> 16;
	v *= 0x7feb352du;
	v ^= v >> 15;
	return v;
}

static const char *name_of(const struct gz_topo *t, uint32_t e)
{
	return e & COMP_BIT ? t->comp[e & ~COMP_BIT].name : t->sw[e].name;
}

static void hash_put(struct gz_topo *t, uint32_t e)
{
	uint32_t i = hash_str(name_of(t, e));

	while (t->by_name[i & t->hmask] != EMPTY)
		i++;
	t->by_name[i & t->hmask] = e;
	/* a CID still to be assigned is found by no GCID */
	if (!(e & COMP_BIT) || !(t->comp[e & ~COMP_BIT].gcid & 0xfff))
		return;
	i = hash_u32(t->comp[e & ~COMP_BIT].gcid);
	while (t->by_gcid[i & t->hmask] != EMPTY)
		i++;
	t->by_gcid[i & t->hmask] = e & ~COMP_BIT;
}

/* Room for @more named entries: the tables stay at most half full. */
static int hash_room(struct gz_topo *t, uint32_t more)
{
	uint32_t n = t->nsw + t->ncomp + more, slots = 64;

	if (t->by_name && more && n <= (t->hmask + 1) / 2)
		return 0;
	while (slots / 2 < n)
		slots *= 2;
	free(t->by_name);
	free(t->by_gcid);
	t->by_name = malloc(slots * sizeof(uint32_t));
	t->by_gcid = malloc(slots * sizeof(uint32_t));
	if (!t->by_name || !t->by_gcid) {
		free(t->by_name);
		free(t->by_gcid);
		t->by_name = t->by_gcid = NULL;
		t->hmask = 0;
		return -ENOMEM;
	}
	memset(t->by_name, 0xff, slots * sizeof(uint32_t));
	memset(t->by_gcid, 0xff, slots * sizeof(uint32_t));
	t->hmask = slots - 1;
	for (uint32_t i = 0; i < t->nsw; i++)
		hash_put(t, i);
	for (uint32_t i = 0; i < t->ncomp; i++)
		hash_put(t, i | COMP_BIT);
	return 0;
}

static uint32_t find_name(const struct gz_topo *t, const char *name)
{
	if (!t->by_name)
		return EMPTY;
	for (uint32_t i = hash_str(name);; i++) {
		uint32_t e = t->by_name[i & t->hmask];

		if (e == EMPTY || !strcmp(name_of(t, e), name))
			return e;
	}
}

uint32_t gz_topo_find_switch(const struct gz_topo *t, const char *name)
{
	uint32_t e = find_name(t, name);

	return e == EMPTY || (e & COMP_BIT) ? GZ_TOPO_NONE : e;
}

uint32_t gz_topo_find_comp(const struct gz_topo *t, const char *name)
{
	uint32_t e = find_name(t, name);

	return e == EMPTY || !(e & COMP_BIT) ? GZ_TOPO_NONE : e & ~COMP_BIT;
}

uint32_t gz_topo_find_gcid(const struct gz_topo *t, uint32_t gcid)
{
	if (!t->by_gcid)
		return GZ_TOPO_NONE;
	for (uint32_t i = hash_u32(gcid);; i++) {
		uint32_t e = t->by_gcid[i & t->hmask];

		if (e == EMPTY || t->comp[e].gcid == gcid)
			return e == EMPTY ? GZ_TOPO_NONE : e;
	}
}

/* Grow @*arr of @*cap entries of @size to hold @n + 1, up to @max. */
static int grow(void **arr, uint32_t *cap, uint32_t n, size_t size,
		uint32_t max)
{
	uint32_t c = *cap ? *cap * 2 : 16;
	void *p;

	if (n < *cap)
		return 0;
	if (n >= max)
		return -E2BIG;
	if (c > max)
		c = max;
	p = realloc(*arr, (size_t)c * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = c;
	return 0;
}

int gz_topo_add_switch(struct gz_topo *t, const char *name, uint32_t sid)
{
	struct gz_topo_switch *s;
	int ret = grow((void **)&t->sw, &t->capsw, t->nsw, sizeof(*s),
		       GZ_TOPO_MAX_SWITCHES);

	if (ret || (ret = hash_room(t, 1)))
		return ret;
	s = &t->sw[t->nsw];
	memset(s, 0, sizeof(*s));
	strncpy(s->name, name, GZ_TOPO_NAME_MAX);
	s->sid = sid;
	s->up = 1;
	hash_put(t, t->nsw++);
	return 0;
}

int gz_topo_add_comp(struct gz_topo *t, const char *name, uint32_t gcid,
		     uint32_t sw)
{
	struct gz_topo_comp *c;
	int ret = grow((void **)&t->comp, &t->capcomp, t->ncomp, sizeof(*c),
		       GZ_TOPO_MAX_COMPS);

	if (ret || (ret = hash_room(t, 1)))
		return ret;
	c = &t->comp[t->ncomp];
	memset(c, 0, sizeof(*c));
	strncpy(c->name, name, GZ_TOPO_NAME_MAX);
	c->gcid = gcid;
	c->sw = sw;
	c->up = 1;
	hash_put(t, t->ncomp++ | COMP_BIT);
	return 0;
}

int gz_topo_set_cid(struct gz_topo *t, uint32_t c, uint32_t gcid)
{
	uint32_t i = hash_u32(gcid);

	t->comp[c].gcid = gcid;
	while (t->by_gcid[i & t->hmask] != EMPTY)
		i++;
	t->by_gcid[i & t->hmask] = c;
	return 0;
}

int gz_topo_add_link(struct gz_topo *t, uint32_t a, uint32_t b)
{
	/* the adjacency holds both ends of each in 32 bits */
	int ret = grow((void **)&t->link, &t->caplink, t->nlink,
		       sizeof(*t->link), 1u << 30);

	if (ret)
		return ret;
	t->link[t->nlink++] = (struct gz_topo_link){.a = a, .b = b, .up = 1};
	return 0;
}

int gz_topo_index(struct gz_topo *t)
{
	struct gz_topo_adj *adj =
	    malloc(((size_t)t->nlink * 2 + 1) * sizeof(*adj));

	if (!adj)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->nsw; i++)
		t->sw[i].nadj = 0;
	for (uint32_t i = 0; i < t->nlink; i++) {
		t->sw[t->link[i].a].nadj++;
		t->sw[t->link[i].b].nadj++;
	}
	for (uint32_t i = 0, off = 0; i < t->nsw; i++) {
		t->sw[i].adj = off;
		off += t->sw[i].nadj;
		t->sw[i].nadj = 0;
	}
	for (uint32_t i = 0; i < t->nlink; i++) {
		struct gz_topo_switch *a = &t->sw[t->link[i].a];
		struct gz_topo_switch *b = &t->sw[t->link[i].b];

		adj[a->adj + a->nadj++] = (struct gz_topo_adj){t->link[i].b, i};
		adj[b->adj + b->nadj++] = (struct gz_topo_adj){t->link[i].a, i};
	}
	free(t->adj);
	t->adj = adj;
	return 0;
}

int gz_topo_default(struct gz_topo *t, uint32_t sid)
{
	gz_topo_init(t);
	if (gz_topo_add_switch(t, "sw0", sid) || gz_topo_index(t)) {
		gz_topo_free(t);
		return -ENOMEM;
	}
	return 0;
}
