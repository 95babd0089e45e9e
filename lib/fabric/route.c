// SPDX-License-Identifier: MIT
/* Primary and alternate routes between switches; see route.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fabric/route.h"

/* Scratch for one build, sized by the switch count. */
struct work {
	const struct gz_topo *t;
	struct gz_routes *r;
	uint32_t *queue, *parent, *mark, stamp;
	uint32_t *loff, *lpeer;		     /* live_lists() */
	uint32_t *path, *best;		     /* walks of alternates */
	uint32_t *g, *gseen;		     /* alt_search(): hops from s */
	uint32_t *ent_node, *ent_next, nent; /* its buckets' entries */
	/* blocks: each switch's, as ranges of blk[] (CSR), and their sizes */
	uint32_t *blk_off, *blk, *blk_size;
};

/* Tables are by destination: row @d holds every switch's entry. */
static inline size_t at(uint32_t n, uint32_t s, uint32_t d)
{
	return (size_t)d * n + s;
}

static int live(const struct gz_topo *t, const struct gz_topo_adj *a)
{
	return t->link[a->link].up && t->sw[a->peer].up;
}

static const struct gz_topo_adj *adj_of(const struct gz_topo *t, uint32_t v)
{
	return t->adj + t->sw[v].adj;
}

/* The tree of shortest paths toward @d: every switch's hop count and
 * next hop, one row of the tables (by destination: the walks toward @d
 * that follow stay in it, in cache). */
static int bfs(struct work *w, uint32_t d)
{
	const struct gz_topo *t = w->t;
	uint32_t n = t->nsw, head = 0, tail = 0;
	uint8_t *dist = w->r->dist + (size_t)d * n;
	uint16_t *next = w->r->next + (size_t)d * n;
	uint16_t *next2 = w->r->next2 + (size_t)d * n;

	memset(dist, GZ_ROUTE_INF, n);
	if (!t->sw[d].up)
		return 0;
	dist[d] = 0;
	next[d] = next2[d] = (uint16_t)d;
	w->queue[tail++] = d;
	while (head < tail) {
		uint32_t v = w->queue[head++];

		for (uint32_t i = w->loff[v]; i < w->loff[v + 1]; i++) {
			uint32_t u = w->lpeer[i];

			if (dist[u] != GZ_ROUTE_INF) {
				/* another way down, of equal cost */
				if (dist[u] == dist[v] + 1 &&
				    next2[u] == next[u])
					next2[u] = (uint16_t)v;
				continue;
			}
			if (dist[v] + 1u >= GZ_ROUTE_INF)
				return -E2BIG;
			dist[u] = (uint8_t)(dist[v] + 1);
			next[u] = next2[u] = (uint16_t)v;
			w->queue[tail++] = u;
		}
	}
	return 0;
}

/* What is up, as compact lists of neighbours: the walks touch nothing
 * else of the topology. */
static int live_lists(struct work *w)
{
	const struct gz_topo *t = w->t;
	uint32_t k = 0;

	w->loff = malloc(((size_t)t->nsw + 1) * sizeof(uint32_t));
	w->lpeer = malloc(((size_t)t->nlink * 2 + 1) * sizeof(uint32_t));
	if (!w->loff || !w->lpeer)
		return -ENOMEM;
	for (uint32_t v = 0; v < t->nsw; v++) {
		w->loff[v] = k;
		for (uint32_t i = 0; t->sw[v].up && i < t->sw[v].nadj; i++)
			if (live(t, &adj_of(t, v)[i]))
				w->lpeer[k++] = adj_of(t, v)[i].peer;
	}
	w->loff[t->nsw] = k;
	return 0;
}

/*
 * Tarjan's biconnected components, without recursion (a fabric may be a
 * long chain). Fills blk_off/blk (each switch's blocks) and blk_size.
 */
static int blocks(struct work *w)
{
	const struct gz_topo *t = w->t;
	uint32_t n = t->nsw, nb = 0, ne = 0, nm = 0, timer = 1, top;
	uint32_t *disc = calloc(n, sizeof(*disc)), *low = malloc(n * 4u);
	uint32_t *it = malloc(n * 4u), *plink = malloc(n * 4u);
	uint32_t *frame = malloc(n * 4u), *mv = malloc(n * 4u);
	uint64_t *edges = malloc(((size_t)t->nlink + 1) * 8);
	/* memberships (switch << 32 | block), at most 2 per link + 1 */
	uint64_t *memb = malloc(((size_t)t->nlink * 2 + 1) * 8);
	int ret = -ENOMEM;

	if (!disc || !low || !it || !plink || !frame || !mv || !edges || !memb)
		goto out;
	w->blk_size = calloc((size_t)t->nlink + 1, sizeof(uint32_t));
	if (!w->blk_size)
		goto out;
	memset(mv, 0xff, n * 4u);
	for (uint32_t root = 0; root < n; root++) {
		if (disc[root] || !t->sw[root].up)
			continue;
		top = 0;
		frame[top++] = root;
		disc[root] = low[root] = timer++;
		it[root] = 0;
		plink[root] = UINT32_MAX;
		while (top) {
			uint32_t v = frame[top - 1];

			if (it[v] < t->sw[v].nadj) {
				const struct gz_topo_adj *a =
				    &adj_of(t, v)[it[v]++];
				uint32_t u = a->peer;

				if (!live(t, a) || a->link == plink[v])
					continue;
				if (!disc[u]) {
					edges[ne++] = (uint64_t)v << 32 | u;
					disc[u] = low[u] = timer++;
					it[u] = 0;
					plink[u] = a->link;
					frame[top++] = u;
				} else if (disc[u] < disc[v]) {
					edges[ne++] = (uint64_t)v << 32 | u;
					if (disc[u] < low[v])
						low[v] = disc[u];
				}
				continue;
			}
			if (--top == 0)
				break;
			uint32_t p = frame[top - 1];

			if (low[v] < low[p])
				low[p] = low[v];
			if (low[v] < disc[p])
				continue;
			/* p is a cut (or the root): the edges down to (p, v)
			 * are one block */
			for (;;) {
				uint64_t e = edges[--ne];
				uint32_t x[2] = {(uint32_t)(e >> 32),
						 (uint32_t)e};

				for (int k = 0; k < 2; k++)
					if (mv[x[k]] != nb) {
						mv[x[k]] = nb;
						memb[nm++] =
						    (uint64_t)x[k] << 32 | nb;
						w->blk_size[nb]++;
					}
				if (x[0] == p && x[1] == v)
					break;
			}
			nb++;
		}
	}
	/* CSR by switch: a counting sort of the memberships */
	w->blk_off = calloc((size_t)n + 1, sizeof(uint32_t));
	w->blk = malloc(((size_t)nm + 1) * sizeof(uint32_t));
	if (!w->blk_off || !w->blk)
		goto out;
	for (uint32_t i = 0; i < nm; i++)
		w->blk_off[(memb[i] >> 32) + 1]++;
	for (uint32_t i = 0; i < n; i++)
		w->blk_off[i + 1] += w->blk_off[i];
	memcpy(it, w->blk_off, n * 4u);
	for (uint32_t i = 0; i < nm; i++)
		w->blk[it[memb[i] >> 32]++] = (uint32_t)memb[i];
	ret = 0;
out:
	free(disc);
	free(low);
	free(it);
	free(plink);
	free(frame);
	free(mv);
	free(edges);
	free(memb);
	return ret;
}

/* Whether @s and @t share a block of three switches or more. */
static int share_block(const struct work *w, uint32_t s, uint32_t t)
{
	for (uint32_t i = w->blk_off[s]; i < w->blk_off[s + 1]; i++) {
		if (w->blk_size[w->blk[i]] < 3)
			continue;
		for (uint32_t j = w->blk_off[t]; j < w->blk_off[t + 1]; j++)
			if (w->blk[j] == w->blk[i])
				return 1;
	}
	return 0;
}

/* Mark the primary's inner switches s -> d with a new stamp. */
static void mark_primary(struct work *w, uint32_t s, uint32_t d)
{
	uint32_t n = w->t->nsw;

	w->stamp++;
	for (uint32_t v = w->r->next[at(n, s, d)]; v != d;
	     v = w->r->next[at(n, v, d)])
		w->mark[v] = w->stamp;
}

/* Whether a walk of the alternate s -> d toward @v may enter @x. */
static int blocked(const struct work *w, uint32_t s, uint32_t d, uint32_t v,
		   uint32_t x)
{
	return x == s || (x == d && v != d) || w->mark[x] == w->stamp;
}

/*
 * A walk from @u toward @v that enters neither @s, @d (unless it is @v)
 * nor a marked switch: at each switch the table's next hop, else its
 * equal-cost second, else (@detour left) a step to any neighbour no
 * further than one hop more, then a walk from there without one.
 * Appends to w->path at *@len; 1 found (*@bent set unless it followed
 * the table alone), 0 not.
 */
static int walk(struct work *w, uint32_t s, uint32_t d, uint32_t u, uint32_t v,
		uint32_t *len, int *bent, int detour)
{
	const struct gz_topo *t = w->t;
	uint32_t n = t->nsw;

	if (w->r->dist[at(n, u, v)] == GZ_ROUTE_INF || blocked(w, s, d, v, u))
		return 0;
	for (uint32_t x = u;;) {
		uint32_t a, b, here;

		w->path[(*len)++] = x;
		if (x == v)
			return 1;
		a = w->r->next[at(n, x, v)];
		b = w->r->next2[at(n, x, v)];
		if (!blocked(w, s, d, v, a)) {
			x = a;
			continue;
		}
		*bent = 1;
		if (b != a && !blocked(w, s, d, v, b)) {
			x = b;
			continue;
		}
		if (!detour)
			return 0;
		here = *len;
		for (uint32_t i = w->loff[x]; i < w->loff[x + 1]; i++) {
			uint32_t y = w->lpeer[i];

			if ((here > 1 && y == w->path[here - 2]) ||
			    w->r->dist[at(n, y, v)] >
				w->r->dist[at(n, x, v)] + 1u)
				continue;
			if (walk(w, s, d, y, v, len, bent, 0))
				return 1;
			*len = here;
		}
		return 0;
	}
}

static int pool_add(struct gz_routes *r, const uint32_t *path, uint32_t len,
		    uint32_t *off)
{
	if (r->npool + len + 1 > r->cappool) {
		uint32_t c = r->cappool ? r->cappool * 2 : 1024;
		uint16_t *p;

		while (c < r->npool + len + 1)
			c *= 2;
		p = realloc(r->pool, (size_t)c * sizeof(*p));
		if (!p)
			return -ENOMEM;
		r->pool = p;
		r->cappool = c;
	}
	*off = GZ_ROUTE_EXPLICIT | r->npool;
	r->pool[r->npool++] = (uint16_t)len;
	for (uint32_t i = 0; i < len; i++)
		r->pool[r->npool++] = (uint16_t)path[i];
	r->explicit_alts++;
	return 0;
}

/*
 * The shortest path s -> d through switches the primary does not use,
 * never straight over the link s-d: an A* search whose estimate is the
 * hop count to @d in the whole graph (row d of the tables; consistent,
 * so a switch is final when first taken, and the search stays in a thin
 * band around the blocked primary). Into the pool when found. 0 (found
 * or not) or -ENOMEM.
 */
static int alt_search(struct work *w, uint32_t s, uint32_t d, uint32_t *alt)
{
	const struct gz_topo *t = w->t;
	uint32_t n = t->nsw, inner = w->stamp, seen = ++w->stamp, nent = 0;
	const uint8_t *h = w->r->dist + (size_t)d * n;
	uint32_t head[GZ_ROUTE_INF];

	memset(head, 0xff, sizeof(head));
	w->g[s] = 0;
	w->gseen[s] = seen;
	w->ent_node[nent] = s;
	w->ent_next[nent] = UINT32_MAX;
	head[h[s]] = nent++;
	for (uint32_t f = h[s]; f < GZ_ROUTE_INF; f++)
		while (head[f] != UINT32_MAX) {
			uint32_t e = head[f], x = w->ent_node[e], len = 0;

			head[f] = w->ent_next[e];
			if (w->g[x] + h[x] != f)
				continue; /* taken already, cheaper */
			if (x == d) {
				for (uint32_t y = d; y != s; y = w->parent[y])
					w->queue[len++] = y;
				for (uint32_t i = 0; i < len / 2; i++) {
					uint32_t tmp = w->queue[i];

					w->queue[i] = w->queue[len - 1 - i];
					w->queue[len - 1 - i] = tmp;
				}
				return pool_add(w->r, w->queue, len, alt);
			}
			for (uint32_t i = w->loff[x]; i < w->loff[x + 1]; i++) {
				uint32_t y = w->lpeer[i], gy = w->g[x] + 1, fy;

				if (w->mark[y] == inner ||
				    h[y] == GZ_ROUTE_INF ||
				    (x == s && y == d) ||
				    (w->gseen[y] == seen && w->g[y] <= gy))
					continue;
				fy = gy + h[y];
				if (fy >= GZ_ROUTE_INF || nent >= w->nent)
					continue;
				w->g[y] = gy;
				w->gseen[y] = seen;
				w->parent[y] = x;
				w->ent_node[nent] = y;
				w->ent_next[nent] = head[fy];
				head[fy] = nent++;
			}
		}
	return 0;
}

/*
 * The alternate s -> d, cheapest form first: another neighbour of @s
 * then its shortest walk (in the tables when it never bends: *@alt is
 * that neighbour); else another neighbour of each end and a shortest
 * walk between them; else a search. 0 or -ENOMEM.
 */
static int alternate(struct work *w, uint32_t s, uint32_t d, uint32_t *alt)
{
	uint32_t n = w->t->nsw, best = UINT32_MAX, bestlen = 0, len;
	uint8_t bestd = GZ_ROUTE_INF;
	int bestbent = 0, bent;

	mark_primary(w, s, d);
	for (uint32_t i = w->loff[s]; i < w->loff[s + 1]; i++) {
		uint32_t nb = w->lpeer[i];
		uint8_t nd = w->r->dist[at(n, nb, d)];

		len = 0;
		bent = 0;
		if (nb == d || nd >= bestd ||
		    !walk(w, s, d, nb, d, &len, &bent, 0))
			continue;
		best = nb;
		bestd = nd;
		bestlen = len;
		bestbent = bent;
		memcpy(w->best, w->path, len * sizeof(*w->path));
	}
	if (best != UINT32_MAX && !bestbent) {
		*alt = best;
		return 0;
	}
	if (best != UINT32_MAX)
		return pool_add(w->r, w->best, bestlen, alt);
	for (uint32_t i = w->loff[s]; i < w->loff[s + 1]; i++) {
		uint32_t nb = w->lpeer[i];

		len = 0;
		if (nb == d)
			continue;
		if (walk(w, s, d, nb, d, &len, &bent, 1))
			return pool_add(w->r, w->path, len, alt);
		for (uint32_t j = w->loff[d]; j < w->loff[d + 1]; j++) {
			len = 0;
			bent = 0;
			if (!walk(w, s, d, nb, w->lpeer[j], &len, &bent, 1))
				continue;
			w->path[len++] = d;
			return pool_add(w->r, w->path, len, alt);
		}
	}
	return alt_search(w, s, d, alt);
}

/* Every switch's alternate toward @d (the walks stay in row d). */
static int alternates(struct work *w, uint32_t d)
{
	uint32_t n = w->t->nsw;

	for (uint32_t s = 0; s < n; s++) {
		uint32_t *alt = &w->r->alt[at(n, s, d)];

		*alt = GZ_ROUTE_NOALT;
		if (d != s && w->r->dist[at(n, s, d)] != GZ_ROUTE_INF &&
		    share_block(w, s, d) && alternate(w, s, d, alt))
			return -ENOMEM;
	}
	return 0;
}

void gz_route_free(struct gz_routes *r)
{
	free(r->dist);
	free(r->next);
	free(r->next2);
	free(r->alt);
	free(r->pool);
	memset(r, 0, sizeof(*r));
}

int gz_route_build(const struct gz_topo *t, struct gz_routes *r)
{
	size_t nn = (size_t)t->nsw * t->nsw;
	struct work w = {.t = t, .r = r};
	int ret = -ENOMEM;

	memset(r, 0, sizeof(*r));
	r->n = t->nsw;
	r->dist = malloc(nn + 1);
	r->next = malloc((nn + 1) * sizeof(*r->next));
	r->next2 = malloc((nn + 1) * sizeof(*r->next2));
	r->alt = malloc((nn + 1) * sizeof(*r->alt));
	w.queue = malloc(((size_t)t->nsw + 1) * sizeof(uint32_t));
	w.parent = malloc(((size_t)t->nsw + 1) * sizeof(uint32_t));
	w.mark = calloc((size_t)t->nsw + 1, sizeof(uint32_t));
	w.path = malloc(((size_t)t->nsw + 2) * sizeof(uint32_t));
	w.best = malloc(((size_t)t->nsw + 2) * sizeof(uint32_t));
	w.g = malloc(((size_t)t->nsw + 1) * sizeof(uint32_t));
	w.gseen = calloc((size_t)t->nsw + 1, sizeof(uint32_t));
	/* each switch is expanded once: one entry per link end, + s */
	w.nent = 2 * t->nlink + 2;
	w.ent_node = malloc((size_t)w.nent * sizeof(uint32_t));
	w.ent_next = malloc((size_t)w.nent * sizeof(uint32_t));
	if (!r->dist || !r->next || !r->next2 || !r->alt || !w.queue ||
	    !w.parent || !w.mark || !w.path || !w.best || !w.g || !w.gseen ||
	    !w.ent_node || !w.ent_next)
		goto out;
	if ((ret = live_lists(&w)))
		goto out;
	for (uint32_t d = 0; d < t->nsw; d++)
		if ((ret = bfs(&w, d)))
			goto out;
	if ((ret = blocks(&w)))
		goto out;
	for (uint32_t d = 0; d < t->nsw && !ret; d++)
		ret = alternates(&w, d);
	r->bytes = nn * (1 + 2 * sizeof(*r->next) + sizeof(*r->alt)) +
		   (size_t)r->cappool * sizeof(*r->pool);
out:
	free(w.loff);
	free(w.lpeer);
	free(w.queue);
	free(w.parent);
	free(w.mark);
	free(w.path);
	free(w.best);
	free(w.g);
	free(w.gseen);
	free(w.ent_node);
	free(w.ent_next);
	free(w.blk_off);
	free(w.blk);
	free(w.blk_size);
	if (ret)
		gz_route_free(r);
	return ret;
}

int gz_route_path(const struct gz_routes *r, uint32_t s, uint32_t t, int alt,
		  uint32_t *hops, uint32_t max)
{
	size_t i = at(r->n, s, t);
	uint32_t len = 0, v, a;

	if (s >= r->n || t >= r->n || r->dist[i] == GZ_ROUTE_INF)
		return 0;
	if (!max)
		return -ENOSPC;
	hops[len++] = s;
	if (!alt)
		v = s;
	else if ((a = r->alt[i]) == GZ_ROUTE_NOALT)
		return 0;
	else if (a & GZ_ROUTE_EXPLICIT) {
		const uint16_t *p = r->pool + (a & ~GZ_ROUTE_EXPLICIT);

		if (p[0] + 1u > max)
			return -ENOSPC;
		for (uint32_t k = 0; k < p[0]; k++)
			hops[len++] = p[1 + k];
		return (int)len;
	} else {
		if (len >= max)
			return -ENOSPC;
		hops[len++] = v = a;
	}
	while (v != t) {
		v = r->next[at(r->n, v, t)];
		if (len >= max)
			return -ENOSPC;
		hops[len++] = v;
	}
	return (int)len;
}
