// SPDX-License-Identifier: MIT
/*
 * The manager's changes, each under the file's lock: build the fabric,
 * attach and detach components, inject faults; then publish, which
 * recomputes every path word and control space and wakes the watchers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fabric/fm.h"
#include "fabric/route.h"
#include "gz.h"
#include "sys/sys.h"

/* The topology rewrite, seen by readers as one change. */
void gz_fm_begin(struct gz_fm *fm)
{
	_Atomic uint32_t *seq = &fm->map->hdr.h.seq;

	atomic_store_explicit(seq, atomic_load(seq) | 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}

void gz_fm_end(struct gz_fm *fm)
{
	_Atomic uint32_t *seq = &fm->map->hdr.h.seq;

	atomic_store_explicit(seq, (atomic_load(seq) | 1) + 1,
			      memory_order_release);
}

/* Whether the links and switches of @hops (in @t's numbering) are up. */
static int path_up(const struct gz_topo *t, const struct gz_fm_snap *s,
		   const uint32_t *hops, int len)
{
	for (int i = 0; i < len; i++) {
		int found = 0;

		if (!s->sw[hops[i]].up)
			return 0;
		for (uint32_t j = 0; i + 1 < len && j < t->sw[hops[i]].nadj;
		     j++) {
			const struct gz_topo_adj *a =
			    &t->adj[t->sw[hops[i]].adj + j];

			found |= a->peer == hops[i + 1] && s->link[a->link].up;
		}
		if (i + 1 < len && !found)
			return 0;
	}
	return 1;
}

/* How switch @x reaches @y now: routes @r0 of the fabric as described,
 * @r1 of what is up. */
static uint8_t sw_state(const struct gz_topo *t, const struct gz_fm_snap *s,
			const struct gz_routes *r0, const struct gz_routes *r1,
			uint32_t x, uint32_t y)
{
	uint32_t hops[GZ_ROUTE_INF + 1];
	int n;

	if (x == y)
		return s->sw[x].up ? GZ_FM_PATH_PRIMARY : GZ_FM_PATH_DOWN;
	n = gz_route_path(r0, x, y, 0, hops, GZ_ROUTE_INF + 1);
	if (n > 0 && path_up(t, s, hops, n))
		return GZ_FM_PATH_PRIMARY;
	n = gz_route_path(r0, x, y, 1, hops, GZ_ROUTE_INF + 1);
	if (n > 0 && path_up(t, s, hops, n))
		return GZ_FM_PATH_ALTERNATE;
	return gz_route_hops(r1, x, y) != GZ_ROUTE_INF ? GZ_FM_PATH_REROUTED
						       : GZ_FM_PATH_DOWN;
}

/* Every path word between components the fabric has, from @s. */
static int paths_write(struct gz_fm *fm, const struct gz_fm_snap *s)
{
	struct gz_topo full, live;
	struct gz_routes r0, r1;
	uint8_t *st = NULL;
	uint32_t *cids = NULL, n = 0;
	int ret;

	if ((ret = gz_fm_topo(s, 0, &full)))
		return ret;
	if ((ret = gz_fm_topo(s, 1, &live))) {
		gz_topo_free(&full);
		return ret;
	}
	ret = gz_route_build(&full, &r0);
	if (!ret && (ret = gz_route_build(&live, &r1)))
		gz_route_free(&r0);
	if (ret)
		goto topo;
	st = malloc((size_t)s->nsw * s->nsw);
	cids = malloc((GZ_FM_MAX_CID + 1) * sizeof(*cids));
	ret = -ENOMEM;
	if (!st || !cids)
		goto out;
	for (uint32_t x = 0; x < s->nsw; x++)
		for (uint32_t y = 0; y < s->nsw; y++)
			st[x * s->nsw + y] = sw_state(&full, s, &r0, &r1, x, y);
	/* only attached components post: a declared one gets its words
	 * when it attaches */
	for (uint32_t c = 1; c <= GZ_FM_MAX_CID; c++)
		if (s->comp[c].flags & GZ_FM_ATTACHED)
			cids[n++] = c;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t row[GZ_FM_MAX_CID + 1], was[GZ_FM_MAX_CID + 1];
		uint32_t a = cids[i];

		if (gz_fm_row_read(fm, a, was))
			continue; /* its poster sees the next change */
		memcpy(row, was, sizeof(row));
		for (uint32_t j = 0; j < n; j++) {
			uint32_t b = cids[j];

			if (a == b)
				row[b] = GZ_FM_PATH_PRIMARY;
			else if (!gz_fm_comp_link_up(s, a) ||
				 !gz_fm_comp_link_up(s, b))
				row[b] = GZ_FM_PATH_DOWN;
			else
				row[b] =
				    st[s->comp[a].sw * s->nsw + s->comp[b].sw];
		}
		/* an unchanged row is not written: an untouched page of
		 * the file stays unallocated */
		if (memcmp(row, was, sizeof(row)))
			gz_fm_row_write(fm, a, row);
	}
	ret = 0;
out:
	free(st);
	free(cids);
	gz_route_free(&r0);
	gz_route_free(&r1);
topo:
	gz_topo_free(&full);
	gz_topo_free(&live);
	return ret;
}

/* Tell every watcher: a write() is what inotify reports. */
static void wake(struct gz_fm *fm)
{
	uint32_t w = fm->map->hdr.h.wake + 1;

	if (pwrite(fm->fd, &w, sizeof(w),
		   offsetof(struct gz_fm_file, hdr.h.wake)) != sizeof(w)) {
		/* nothing else can tell them; they see it at their next
		 * snapshot, and the path words are written already */
	}
}

/* After a change: path words, control spaces (@cid's with @self, when
 * it attaches), then the wake-up. */
int gz_fm_publish(struct gz_fm *fm, const struct gz_fm_snap *before,
		  uint32_t cid, const struct gz_fm_self *self)
{
	struct gz_fm_snap *s = malloc(sizeof(struct gz_fm_snap));
	int ret;

	if (!s)
		return -ENOMEM;
	ret = gz_fm_snapshot(fm, s);
	if (!ret)
		ret = paths_write(fm, s);
	for (uint32_t c = 1; !ret && c <= GZ_FM_MAX_CID; c++)
		if (s->comp[c].flags & GZ_FM_ATTACHED)
			ret = gz_fm_ctl_write(fm, s, c, c == cid ? self : NULL);
	if (!ret && before)
		gz_fm_log_diff(fm, before, s);
	free(s);
	wake(fm);
	return ret;
}

/* @cid's entry once its holder is gone: a declared component stays,
 * free for the next joiner, with its link's state. */
static void forget(struct gz_fm *fm, const struct gz_fm_snap *s, uint32_t cid)
{
	struct gz_fm_comp *e = &fm->map->comp[cid];

	if (s->comp[cid].flags & GZ_FM_DECLARED)
		e->flags =
		    s->comp[cid].flags & ~(GZ_FM_ATTACHED | GZ_FM_REMOVED);
	else
		memset(e, 0, sizeof(*e));
	gz_fm_ctl_put(fm, cid, NULL);
}

void gz_fm_dead_find(const struct gz_fm_snap *s, struct gz_fm_dead *d)
{
	memset(d, 0, sizeof(*d));
	for (uint32_t c = 1; c <= GZ_FM_MAX_CID; c++)
		if ((s->comp[c].flags & GZ_FM_ATTACHED) &&
		    !gz_sys_proc_alive(s->comp[c].pid, s->comp[c].starttime))
			d->cid[c / 64] |= 1ull << (c % 64);
}

/* Forget components whose holder died without detaching (kill -9): at
 * the next change, the others hear COMPONENT_REMOVE. Inside begin(). */
void gz_fm_reap(struct gz_fm *fm, const struct gz_fm_snap *s,
		const struct gz_fm_dead *d)
{
	for (uint32_t c = 1; c <= GZ_FM_MAX_CID; c++)
		if (d->cid[c / 64] >> (c % 64) & 1)
			forget(fm, s, c);
}

static int any_present(const struct gz_fm_snap *s)
{
	for (uint32_t c = 1; c <= GZ_FM_MAX_CID; c++)
		if ((s->comp[c].flags & GZ_FM_ATTACHED) &&
		    gz_sys_proc_alive(s->comp[c].pid, s->comp[c].starttime))
			return 1;
	return 0;
}

int gz_fm_runs(struct gz_fm *fm)
{
	struct gz_fm_snap *s = malloc(sizeof(struct gz_fm_snap));
	int runs = s && !gz_fm_snapshot(fm, s) && any_present(s);

	free(s);
	return runs;
}

static int fits(struct gz_fm *fm, const struct gz_topo *t, uint32_t *subnet)
{
	/* 255 switches: a chain of them is 254 hops, inside the u8
	 * distances of route.h */
	if (t->nsw > GZ_FM_MAX_SW || t->nlink > GZ_FM_MAX_LINK)
		return gz_err(-E2BIG,
			      "fabric %s: a host fabric has at most %u "
			      "switches and %u links between them, not %u and "
			      "%u",
			      fm->name, GZ_FM_MAX_SW, GZ_FM_MAX_LINK, t->nsw,
			      t->nlink);
	for (uint32_t i = 0; i < t->ncomp; i++) {
		if (!i)
			*subnet = t->comp[0].gcid >> 12;
		if (t->comp[i].gcid >> 12 != *subnet)
			return gz_err(-EINVAL,
				      "fabric %s: a host fabric is one "
				      "subnet; its description has components "
				      "in subnets %#x and %#x",
				      fm->name, *subnet, t->comp[i].gcid >> 12);
	}
	return 0;
}

/* A live holder in a file that does not check (garbage, or another
 * version with the same component table): its pid, or 0. The entries
 * are only tested, each loaded once. */
static int32_t raw_holder(const struct gz_fm *fm)
{
	for (uint32_t c = 1; c <= GZ_FM_MAX_CID; c++) {
		struct gz_fm_comp e;

		memcpy(&e, &fm->map->comp[c], sizeof(e));
		/* "cannot tell" is alive: a live holder never taken for
		 * dead */
		if ((e.flags & GZ_FM_ATTACHED) &&
		    gz_sys_proc_alive(e.pid, e.starttime) != 0)
			return e.pid;
	}
	return 0;
}

int gz_fm_build(struct gz_fm *fm, const struct gz_topo *t, const char *source,
		uint32_t subnet, int *built)
{
	struct gz_fm_snap *s = malloc(sizeof(struct gz_fm_snap));
	struct gz_fm_hdr *h = &fm->map->hdr.h;
	int32_t pid;
	int ret;

	*built = 0;
	if (!s)
		return -ENOMEM;
	ret = gz_fm_snapshot(fm, s);
	if (!ret && any_present(s)) {
		free(s);
		return 0; /* it runs: joiners take what it describes */
	}
	free(s);
	if (ret && ret != -ENOENT && ret != -EPROTO)
		return ret;
	if (ret && (pid = raw_holder(fm)))
		return gz_err(-EPROTO,
			      "fabric %s: its manager file is garbage, or of "
			      "another version, while pid %d holds a component "
			      "of it: stop the fabric's processes, then remove "
			      "%s.fm",
			      fm->name, (int)pid, fm->name);
	if ((ret = fits(fm, t, &subnet)))
		return ret;
	gz_fm_begin(fm);
	h->magic = GZ_FM_MAGIC;
	h->version = GZ_FM_VERSION;
	h->subnet = subnet;
	h->nsw = t->nsw;
	h->nlink = t->nlink;
	h->described = t->ncomp > 0;
	snprintf(h->source, sizeof(h->source), "%s", source ? source : "");
	memset(fm->map->sw, 0, sizeof(fm->map->sw));
	memset(fm->map->link, 0, sizeof(fm->map->link));
	memset(fm->map->comp, 0, sizeof(fm->map->comp));
	for (uint32_t i = 0; i < t->nsw; i++) {
		snprintf(fm->map->sw[i].name, GZ_FM_NAME, "%s", t->sw[i].name);
		fm->map->sw[i].up = 1;
	}
	for (uint32_t i = 0; i < t->nlink; i++)
		fm->map->link[i] = (struct gz_fm_link){
		    .a = t->link[i].a, .b = t->link[i].b, .up = 1};
	for (uint32_t i = 0; i < t->ncomp; i++) {
		struct gz_fm_comp *e = &fm->map->comp[t->comp[i].gcid & 0xfff];

		snprintf(e->name, GZ_FM_NAME, "%s", t->comp[i].name);
		e->sw = t->comp[i].sw;
		e->flags = GZ_FM_DECLARED;
	}
	gz_fm_end(fm);
	/* the last fabric's control spaces and path words: zero again
	 * without touching a page (tmpfs frees what it punches); none of
	 * it is mapped but a context's row, allocated when it is */
	if (fallocate(fm->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      GZ_FM_MAP_LEN, sizeof(struct gz_fm_file) - GZ_FM_MAP_LEN))
		gz_fm_zero_tail(fm);
	*built = 1;
	return 0;
}

void gz_fm_unbuild(struct gz_fm *fm)
{
	if (gz_fm_runs(fm))
		return;
	gz_fm_begin(fm);
	fm->map->hdr.h.magic = 0; /* "nobody ever joined" again */
	gz_fm_end(fm);
}

int gz_fm_allowed(struct gz_fm *fm, uint64_t *allow)
{
	struct gz_fm_snap *s = malloc(sizeof(struct gz_fm_snap));
	int ret;

	if (!s)
		return -ENOMEM;
	ret = gz_fm_snapshot(fm, s);
	if (!ret && !s->described)
		ret = -ENOENT;
	memset(allow, 0, 64 * sizeof(*allow));
	for (uint32_t c = 1; !ret && c <= GZ_FM_MAX_CID; c++)
		if ((s->comp[c].flags & GZ_FM_DECLARED) &&
		    !gz_fm_present(s, c) && !(s->comp[c].flags & GZ_FM_REMOVED))
			allow[(c - 1) / 64] |= 1ull << ((c - 1) % 64);
	free(s);
	return ret;
}

int gz_fm_attach(struct gz_fm *fm, uint32_t cid, uint64_t inc,
		 const struct gz_fm_self *self)
{
	struct gz_fm_snap *s = malloc(sizeof(struct gz_fm_snap));
	struct gz_fm_dead dead;
	struct gz_fm_comp *e;
	uint64_t start;
	int ret;

	if (!s)
		return -ENOMEM;
	ret = gz_fm_snapshot(fm, s);
	if (!ret && (!cid || cid > GZ_FM_MAX_CID ||
		     (s->described && !(s->comp[cid].flags & GZ_FM_DECLARED))))
		ret = gz_err(-ENOSPC,
			     "fabric %s: its description (%s) has no "
			     "component of CID %u",
			     fm->name, s->source, cid);
	if (!ret)
		ret = gz_sys_proc_starttime(getpid(), &start);
	if (ret) {
		free(s);
		return ret;
	}
	gz_fm_dead_find(s, &dead);
	gz_fm_begin(fm);
	gz_fm_reap(fm, s, &dead);
	e = &fm->map->comp[cid];
	if (!s->described) {
		memset(e, 0, sizeof(*e));
		snprintf(e->name, sizeof(e->name), "c%u", cid);
	}
	/* a declared component keeps its link's state; the default
	 * fabric's entry is new, whatever a dead holder left in it */
	e->flags = (s->described ? s->comp[cid].flags &
				       (GZ_FM_DECLARED | GZ_FM_LINK_DOWN)
				 : 0) |
		   GZ_FM_ATTACHED;
	e->pid = (int32_t)getpid();
	e->starttime = start;
	e->incarnation = inc;
	gz_fm_end(fm);
	ret = gz_fm_publish(fm, s, cid, self);
	if (ret) {
		/* no manager may take a component that failed to join for
		 * one that runs (a lock-free reader may, until this undo):
		 * undo it, in the same lock */
		gz_fm_begin(fm);
		forget(fm, s, cid);
		gz_fm_end(fm);
		gz_fm_publish(fm, s, 0, NULL);
	}
	free(s);
	return ret;
}

void gz_fm_detach(struct gz_fm *fm, uint32_t cid, uint64_t inc)
{
	struct gz_fm_dead dead;
	struct gz_fm_snap *s;
	int ret;

	/* a forked child's inherited context: the parent holds it */
	if (!cid || cid > GZ_FM_MAX_CID || fm->pid != (int32_t)getpid())
		return;
	if ((ret = gz_fm_lock(fm))) {
		(void)gz_err(ret,
			     "fabric %s: component %u leaves unannounced: "
			     "it stays attached until this process exits",
			     fm->name, cid);
		return;
	}
	s = malloc(sizeof(struct gz_fm_snap));
	if (s && !gz_fm_snapshot(fm, s) &&
	    (s->comp[cid].flags & GZ_FM_ATTACHED) &&
	    s->comp[cid].incarnation == inc) {
		gz_fm_dead_find(s, &dead);
		gz_fm_begin(fm);
		forget(fm, s, cid);
		gz_fm_reap(fm, s, &dead);
		gz_fm_end(fm);
		gz_fm_publish(fm, s, 0, NULL);
	}
	free(s);
	gz_fm_unlock(fm);
}
