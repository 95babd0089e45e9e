// SPDX-License-Identifier: MIT
/* Faults injected through the manager: links, switches, components. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <genzio/fm.h>

#include "fabric/fm.h"
#include "gz.h"

uint32_t gz_fm_sw_find(const struct gz_fm_snap *s, const char *name)
{
	for (uint32_t i = 0; name && i < s->nsw; i++)
		if (!strcmp(s->sw[i].name, name))
			return i;
	return UINT32_MAX;
}

uint32_t gz_fm_comp_find(const struct gz_fm_snap *s, const char *name)
{
	char *end;
	unsigned long g;

	if (!name)
		return 0;
	if (name[0] >= '0' && name[0] <= '9') {
		g = strtoul(name, &end, 0);
		if (*end || g >> 12 != s->subnet || !(g & 0xfff) ||
		    !gz_fm_has(s, (uint32_t)(g & 0xfff)))
			return 0;
		return (uint32_t)(g & 0xfff);
	}
	for (uint32_t c = 1; c <= GZ_FM_MAX_CID; c++)
		if (gz_fm_has(s, c) && !strcmp(s->comp[c].name, name))
			return c;
	return 0;
}

/* The one word a fault changed, and what it held: to take it back. */
struct undo {
	uint32_t *word;
	uint32_t was;
};

/* Set *@word to @on (0 or 1): -EALREADY if it is so. */
static int flip(uint32_t *word, uint32_t on, struct undo *u)
{
	if (*word == on)
		return -EALREADY;
	*u = (struct undo){word, *word};
	*word = on;
	return 0;
}

static int flag(uint32_t *flags, uint32_t bit, int set, struct undo *u)
{
	if (!!(*flags & bit) == !!set)
		return -EALREADY;
	*u = (struct undo){flags, *flags};
	*flags = set ? *flags | bit : *flags & ~bit;
	return 0;
}

/* The link @a - @b: a switch link's index in *@link, or a component's
 * CID in *@cid. 0 or a named -errno. */
static int link_find(const struct gz_fm *fm, const struct gz_fm_snap *s,
		     const char *a, const char *b, uint32_t *link,
		     uint32_t *cid)
{
	uint32_t sa = gz_fm_sw_find(s, a), sb = gz_fm_sw_find(s, b), c;

	*link = UINT32_MAX;
	*cid = 0;
	if (sa != UINT32_MAX && sb != UINT32_MAX) {
		for (uint32_t i = 0; i < s->nlink; i++)
			if ((s->link[i].a == sa && s->link[i].b == sb) ||
			    (s->link[i].a == sb && s->link[i].b == sa)) {
				*link = i;
				return 0;
			}
		return gz_err(-ENOENT,
			      "fabric %s: no link between switches %s "
			      "and %s",
			      fm->name, a, b);
	}
	/* a component and its switch, either way round */
	c = gz_fm_comp_find(s, sa == UINT32_MAX ? a : b);
	if (c && s->comp[c].sw == (sa == UINT32_MAX ? sb : sa)) {
		*cid = c;
		return 0;
	}
	return gz_err(-ENOENT,
		      "fabric %s: no link %s - %s (a link joins two "
		      "switches, or a component and its switch)",
		      fm->name, a, b);
}

static int apply(struct gz_fm *fm, const struct gz_fm_snap *s, uint32_t type,
		 const char *a, const char *b, struct undo *u)
{
	struct gz_fm_file *f = fm->map;
	int up = type == GENZIO_FAULT_LINK_UP ||
		 type == GENZIO_FAULT_SWITCH_UP ||
		 type == GENZIO_FAULT_COMPONENT_ADD;
	uint32_t link, cid, sw;
	int ret;

	switch (type) {
	case GENZIO_FAULT_LINK_DOWN:
	case GENZIO_FAULT_LINK_UP:
		if ((ret = link_find(fm, s, a, b, &link, &cid)))
			return ret;
		if (link != UINT32_MAX)
			return flip(&f->link[link].up, (uint32_t)up, u);
		return flag(&f->comp[cid].flags, GZ_FM_LINK_DOWN, !up, u);
	case GENZIO_FAULT_SWITCH_DOWN:
	case GENZIO_FAULT_SWITCH_UP:
		if ((sw = gz_fm_sw_find(s, a)) == UINT32_MAX)
			return gz_err(-ENOENT, "fabric %s has no switch %s",
				      fm->name, a);
		return flip(&f->sw[sw].up, (uint32_t)up, u);
	default:
		if (!(cid = gz_fm_comp_find(s, a)))
			return gz_err(-ENOENT, "fabric %s has no component %s",
				      fm->name, a);
		return flag(&f->comp[cid].flags, GZ_FM_REMOVED, !up, u);
	}
}

int gz_fm_inject(struct gz_fm *fm, uint32_t type, const char *a, const char *b)
{
	struct gz_fm_dead dead;
	struct gz_fm_snap *s;
	struct undo u = {0};
	int ret;

	if (type < GENZIO_FAULT_LINK_DOWN ||
	    type > GENZIO_FAULT_COMPONENT_ADD || !a ||
	    (type <= GENZIO_FAULT_LINK_UP) != !!b)
		return gz_err(-EINVAL,
			      "fault %u on %s, %s: links name both "
			      "ends, switches and components one",
			      type, a ? a : "(null)", b ? b : "(null)");
	s = malloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	ret = gz_fm_lock(fm);
	if (ret) {
		free(s);
		return ret;
	}
	ret = gz_fm_snapshot(fm, s);
	if (!ret) {
		int pub;

		gz_fm_dead_find(s, &dead);
		gz_fm_begin(fm);
		gz_fm_reap(fm, s, &dead);
		ret = apply(fm, s, type, a, b, &u);
		gz_fm_end(fm);
		/* even when the fault is refused: the dead it reaped are
		 * news (COMPONENT_REMOVE) */
		pub = gz_fm_publish(fm, s, 0, NULL);
		if (!ret && pub) {
			/* a fault nobody's path words show is not made: that
			 * word back (a reap done with it stays done) */
			gz_fm_begin(fm);
			*u.word = u.was;
			gz_fm_end(fm);
			gz_fm_publish(fm, s, 0, NULL);
			ret = gz_err(pub,
				     "fabric %s: the routes after that fault "
				     "could not be computed; it is not made",
				     fm->name);
		}
	}
	gz_fm_unlock(fm);
	free(s);
	return ret;
}
