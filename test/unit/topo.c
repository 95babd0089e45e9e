// SPDX-License-Identifier: MIT
/* lib/fabric/topo*.c and route.c: the description format, the generated
 * fabric, and routes checked against an independent search. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fabric/route.h"
#include "fabric/topo.h"

TestSuite(topo, .timeout = 60);

static int parse(const char *text, struct gz_topo *t, char *err)
{
	return gz_topo_parse(text, strlen(text), "f.fab", t, err, 256);
}

/* The first error of @text is @want (exactly, with its line). */
static void rejects(const char *text, const char *want)
{
	struct gz_topo t;
	char err[256];

	cr_assert_eq(parse(text, &t, err), -EINVAL, "accepted: %s", text);
	cr_assert_str_eq(err, want);
	cr_assert_eq(t.nsw + t.ncomp + t.nlink, 0, "freed on error");
}

Test(topo, a_ring_with_comments_parses_and_cids_fill_the_gaps)
{
	struct gz_topo t;
	char err[256];

	cr_assert_eq(parse("# a ring of 4\n"
			   "subnet 0x10\n"
			   "switch s0   # first\n"
			   "switch s1\nswitch s2\n\tswitch s3\n"
			   "link s0 s1\nlink s1 s2\nlink s2 s3\nlink s3 s0\n"
			   "component a s0 cid 1\ncomponent b s1\n"
			   "component c s2 cid 3\ncomponent d s3\n",
			   &t, err),
		     0, "%s", err);
	cr_assert_eq(t.nsw, 4);
	cr_assert_eq(t.nlink, 4);
	cr_assert_eq(t.ncomp, 4);
	/* b and d had no CID: the lowest free ones, 2 and 4 */
	cr_assert_eq(t.comp[gz_topo_find_comp(&t, "b")].gcid, 0x10002);
	cr_assert_eq(t.comp[gz_topo_find_comp(&t, "d")].gcid, 0x10004);
	cr_assert_eq(gz_topo_find_gcid(&t, 0x10003), 2);
	cr_assert_eq(t.comp[3].sw, 3);
	cr_assert_eq(t.sw[0].nadj, 2, "indexed: s0 has two links");
	gz_topo_free(&t);
}

Test(topo, bad_files_name_their_line_and_the_reason)
{
	rejects("switch a\nswotch b\n",
		"f.fab:2: unknown keyword 'swotch' (subnet, switch, "
		"component, link)");
	rejects("switch a\nswitch a\n", "f.fab:2: duplicate name 'a'");
	rejects("switch a\ncomponent a a\n", "f.fab:2: duplicate name 'a'");
	rejects("switch a\nlink a b\n",
		"f.fab:2: no switch 'b' declared before this line");
	rejects("switch a\ncomponent c nowhere\n",
		"f.fab:2: no switch 'nowhere' declared before this line");
	rejects("switch a\ncomponent c a\nlink a c\n",
		"f.fab:3: 'c' is a component, not a switch (a component "
		"names its switch; links join switches)");
	rejects("switch a\nlink a a\n", "f.fab:2: link from 'a' to itself");
	rejects("switch a\nswitch b\nlink a b\nlink b a\n",
		"f.fab:4: duplicate link b - a");
	rejects("switch a\ncomponent c a cid 4096\n",
		"f.fab:2: CID '4096' out of range (1 to 4095)");
	rejects("switch a\ncomponent c a cid 0\n",
		"f.fab:2: CID '0' out of range (1 to 4095)");
	rejects("switch a\ncomponent c a cid 7\ncomponent d a cid 7\n",
		"f.fab:3: GCID 0x1007 (subnet 0x1, CID 7) is taken");
	rejects("subnet 0x10000\n", "f.fab:1: usage: subnet SID (1 to 0xffff)");
	rejects("subnet 0\n", "f.fab:1: usage: subnet SID (1 to 0xffff)");
	rejects("switch a b\n", "f.fab:1: usage: switch NAME");
	rejects("switch 9a\n",
		"f.fab:1: bad switch name '9a' (a letter, then letters, "
		"digits, '_', '.', '-'; at most 24)");
	rejects("switch a\ncomponent c a cod 1\n",
		"f.fab:2: unknown option 'cod' (cid CID)");
	rejects("switch a\n\n\nlink a\n", "f.fab:4: usage: link SWITCH SWITCH");
	rejects("# nothing\n", "f.fab:1: declares no switch (a fabric needs "
				"one, at least: \"switch sw0\")");
}

Test(topo, a_subnet_beyond_4095_components_is_refused)
{
	size_t cap = 4200 * 32;
	char *text = malloc(cap), err[256];
	struct gz_topo t;
	size_t n = (size_t)snprintf(text, cap, "switch s\n");

	for (int i = 0; i < 4096; i++)
		n +=
		    (size_t)snprintf(text + n, cap - n, "component c%d s\n", i);
	cr_assert_eq(gz_topo_parse(text, n, "big", &t, err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "big:0: subnet 0x1 has more than 4095 "
			      "components");
	free(text);
}

Test(topo, garbage_and_overlong_lines_are_errors_not_crashes)
{
	char buf[2048], err[256];
	struct gz_topo t;

	memset(buf, 'x', sizeof(buf));
	cr_assert_eq(gz_topo_parse(buf, sizeof(buf), "g", &t, err, 256),
		     -EINVAL);
	cr_assert_str_eq(err, "g:1: line longer than 512 bytes");
	cr_assert_eq(gz_topo_parse("switch a\0b\n", 11, "g", &t, err, 256),
		     -EINVAL);
	cr_assert_str_eq(err, "g:1: a NUL byte: not a text file");
	srand(7);
	for (int round = 0; round < 2000; round++) {
		for (size_t i = 0; i < 200; i++)
			buf[i] = "sw lnkcompet#\n 0x1abc"[rand() % 21];
		if (!gz_topo_parse(buf, 200, "r", &t, err, 256))
			gz_topo_free(&t);
	}
}

Test(topo, load_reports_a_missing_file)
{
	struct gz_topo t;
	char err[256];

	cr_assert_eq(gz_topo_load("/nonexistent/x.fab", &t, err, 256), -ENOENT);
	cr_assert(strstr(err, "/nonexistent/x.fab"), "%s", err);
}

/* An independent check: a BFS over what is up, avoiding @avoid switches
 * and (when direct) the link s-t. 1 if t is reachable. */
static int reachable(const struct gz_topo *t, uint32_t s, uint32_t d,
		     const uint8_t *avoid, int no_direct)
{
	uint32_t *q = malloc(t->nsw * 4u), head = 0, tail = 0;
	uint8_t *seen = calloc(t->nsw, 1);
	int found = 0;

	if (!t->sw[s].up) {
		free(q);
		free(seen);
		return 0;
	}
	q[tail++] = s;
	seen[s] = 1;
	while (head < tail && !found) {
		uint32_t v = q[head++];

		for (uint32_t i = 0; i < t->sw[v].nadj; i++) {
			const struct gz_topo_adj *a = &t->adj[t->sw[v].adj + i];

			if (seen[a->peer] || (avoid && avoid[a->peer]) ||
			    !t->link[a->link].up || !t->sw[a->peer].up ||
			    (no_direct && v == s && a->peer == d))
				continue;
			found |= a->peer == d;
			seen[a->peer] = 1;
			q[tail++] = a->peer;
		}
	}
	free(q);
	free(seen);
	return found;
}

/* Consecutive switches of @p are joined by live links. */
static int walkable(const struct gz_topo *t, const uint32_t *p, int len)
{
	for (int i = 0; i + 1 < len; i++) {
		int ok = 0;

		for (uint32_t j = 0; j < t->sw[p[i]].nadj; j++) {
			const struct gz_topo_adj *a =
			    &t->adj[t->sw[p[i]].adj + j];

			ok |= a->peer == p[i + 1] && t->link[a->link].up;
		}
		if (!ok)
			return 0;
	}
	return 1;
}

/* Check pair (s, d): the primary is a shortest live path, the alternate
 * (when given) shares no inner switch or link with it, and none is
 * given only where no alternate avoids the primary. */
static void check_pair(const struct gz_topo *t, const struct gz_routes *r,
		       uint32_t s, uint32_t d)
{
	uint32_t p[256], a[256];
	uint8_t *inner = calloc(t->nsw, 1);
	int np = gz_route_path(r, s, d, 0, p, 256);
	int na = gz_route_path(r, s, d, 1, a, 256);

	cr_assert_geq(np, 0);
	cr_assert_geq(na, 0);
	if (s == d) {
		cr_assert_eq(np, t->sw[s].up ? 1 : 0);
		cr_assert_eq(na, 0);
		free(inner);
		return;
	}
	cr_assert_eq(np > 0, reachable(t, s, d, NULL, 0), "%u -> %u", s, d);
	if (np) {
		cr_assert_eq(p[0], s);
		cr_assert_eq(p[np - 1], d);
		cr_assert_eq(np - 1, gz_route_hops(r, s, d));
		cr_assert(walkable(t, p, np), "%u -> %u primary", s, d);
	}
	for (int i = 1; i < np - 1; i++)
		inner[p[i]] = 1;
	if (na) {
		cr_assert_eq(a[0], s);
		cr_assert_eq(a[na - 1], d);
		cr_assert(walkable(t, a, na), "%u -> %u alternate", s, d);
		for (int i = 1; i < na - 1; i++)
			cr_assert(!inner[a[i]] && a[i] != s && a[i] != d,
				  "%u -> %u: alternate meets the primary at %u",
				  s, d, a[i]);
		cr_assert(na > 2 || np > 2, "%u -> %u: both direct", s, d);
	} else if (np && s != d) {
		cr_assert(!reachable(t, s, d, inner, np == 2),
			  "%u -> %u: an alternate exists but none was given", s,
			  d);
	}
	free(inner);
}

static void check_all(const struct gz_topo *t)
{
	struct gz_routes r;

	cr_assert_eq(gz_route_build(t, &r), 0);
	for (uint32_t s = 0; s < t->nsw; s++)
		for (uint32_t d = 0; d < t->nsw; d++)
			check_pair(t, &r, s, d);
	gz_route_free(&r);
}

Test(topo, ring_routes_have_disjoint_alternates_until_a_cut)
{
	struct gz_topo t;
	struct gz_routes r;
	uint32_t a[8];
	char err[256];

	cr_assert_eq(parse("switch s0\nswitch s1\nswitch s2\nswitch s3\n"
			   "link s0 s1\nlink s1 s2\nlink s2 s3\nlink s3 s0\n",
			   &t, err),
		     0, "%s", err);
	cr_assert_eq(gz_route_build(&t, &r), 0);
	/* s0 -> s1 is direct; its alternate goes the other way round */
	cr_assert_eq(gz_route_path(&r, 0, 1, 1, a, 8), 4);
	cr_assert_eq(a[1], 3);
	cr_assert_eq(a[2], 2);
	gz_route_free(&r);
	check_all(&t);
	t.link[0].up = 0; /* s0 - s1 down: a chain, no alternates */
	cr_assert_eq(gz_route_build(&t, &r), 0);
	cr_assert_eq(gz_route_path(&r, 0, 1, 0, a, 8), 4, "the long way");
	cr_assert_eq(gz_route_path(&r, 0, 1, 1, a, 8), 0);
	gz_route_free(&r);
	check_all(&t);
	t.sw[3].up = 0; /* and s3: s0 is cut off */
	cr_assert_eq(gz_route_build(&t, &r), 0);
	cr_assert_eq(gz_route_path(&r, 0, 1, 0, a, 8), 0);
	cr_assert_eq(gz_route_path(&r, 1, 2, 0, a, 8), 2);
	gz_route_free(&r);
	check_all(&t);
	gz_topo_free(&t);
}

Test(topo, random_meshes_agree_with_an_independent_search)
{
	srand(11);
	for (int round = 0; round < 40; round++) {
		struct gz_topo t;
		uint32_t n = 3 + (uint32_t)rand() % 30;
		char name[16];

		gz_topo_init(&t);
		for (uint32_t i = 0; i < n; i++) {
			snprintf(name, sizeof(name), "s%u", i);
			cr_assert_eq(gz_topo_add_switch(&t, name, 1), 0);
		}
		/* a sparse mesh: bridges, cut switches, cycles, islands */
		for (uint32_t i = 0; i < n * (1 + round % 3) / 2 + 1; i++) {
			uint32_t a = (uint32_t)rand() % n,
				 b = (uint32_t)rand() % n;

			if (a != b)
				cr_assert_eq(gz_topo_add_link(&t, a, b), 0);
		}
		cr_assert_eq(gz_topo_index(&t), 0);
		for (uint32_t i = 0; i < t.nlink; i++)
			t.link[i].up = rand() % 8 != 0;
		t.sw[rand() % n].up = rand() % 4 != 0;
		check_all(&t);
		gz_topo_free(&t);
	}
}

Test(topo, generated_4096_components_route_with_sampled_checks)
{
	struct gz_topo t;
	struct gz_routes r;

	cr_assert_eq(gz_topo_generate(4096, &t), 0);
	cr_assert_eq(t.ncomp, 4096);
	cr_assert_eq(t.nsw, 16 + 128, "16 cores, 128 edges");
	cr_assert_eq(t.comp[4095].gcid, 16u << 12 | 256, "16 subnets");
	cr_assert_eq(gz_route_build(&t, &r), 0);
	cr_assert_lt(r.bytes, 100u << 20);
	srand(5);
	for (int i = 0; i < 2000; i++) {
		uint32_t a = (uint32_t)rand() % t.ncomp;
		uint32_t b = (uint32_t)rand() % t.ncomp;

		check_pair(&t, &r, t.comp[a].sw, t.comp[b].sw);
	}
	/* every edge has two cores: every pair of edges has an alternate */
	for (uint32_t s = 16; s < t.nsw; s += 7)
		for (uint32_t d = 16; d < t.nsw; d += 5)
			if (s != d)
				cr_assert(gz_route_has_alt(&r, s, d), "%u %u",
					  s, d);
	gz_route_free(&r);
	gz_topo_free(&t);
	cr_assert_eq(gz_topo_generate(4097, &t), -EINVAL);
}
