// SPDX-License-Identifier: MIT
/*
 * genzio-fabric: a host fabric's switches, components, links and routes,
 * and its fault injector (as lsgenz shows a Gen-Z fabric and ibsim's
 * console takes links down). Nothing here joins the fabric.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <genzio/genzio.h>

enum { EXIT_FAIL = 1, EXIT_USAGE = 2 };

static const char *state_name(uint32_t s)
{
	switch (s) {
	case GENZIO_STATE_UP:
		return "up";
	case GENZIO_STATE_DOWN:
		return "down";
	case GENZIO_STATE_ABSENT:
		return "absent";
	case GENZIO_STATE_REMOVED:
		return "removed";
	}
	return "?";
}

static const char *route_name(uint32_t s)
{
	switch (s) {
	case GENZIO_ROUTE_PRIMARY:
		return "primary";
	case GENZIO_ROUTE_ALTERNATE:
		return "alternate";
	case GENZIO_ROUTE_REROUTED:
		return "rerouted";
	case GENZIO_ROUTE_DOWN:
		return "down";
	}
	return "?";
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: genzio-fabric [-d DEVICE] [-f FABRIC] COMMAND\n"
		"  show                   switches, components, links, states\n"
		"  routes COMPONENT       its routes to every other component\n"
		"  link down|up A B       a link (two switches, or a component "
		"and its switch)\n"
		"  switch down|up SWITCH\n"
		"  remove|add COMPONENT   take a component off the fabric, or "
		"back\n"
		"COMPONENT: a name or a GCID (0x1002). -f: default "
		"$GENZIO_FABRIC, else default\n"
		"exit: 0, 1 failure (said on stderr), 2 usage\n");
}

/* Every node and link of @f. The lists are counted, then filled; a
 * component that joins in between makes a list longer than its buffer
 * (the calls return how many there are), or the links of another list
 * of nodes: read both again, bigger. */
static int load(struct genzio_fabric *f, struct genzio_fabric_node **n,
		struct genzio_fabric_link **l, int *nn, int *nl)
{
	struct genzio_fabric_node *again = NULL;
	int an = 0, al = 0, ret = -EAGAIN;

	*n = NULL;
	*l = NULL;
	for (int round = 0; round < 16 && ret == -EAGAIN; round++) {
		*nn = genzio_fabric_node_list(f, *n, an);
		*nl = genzio_fabric_link_list(f, *l, al);
		if (*nn < 0 || *nl < 0)
			ret = *nn < 0 ? *nn : *nl;
		else if (*n && *l && *nn <= an && *nl <= al &&
			 genzio_fabric_node_list(f, again, an) == *nn &&
			 !memcmp(again, *n, (size_t)*nn * sizeof(**n)))
			ret = 0; /* links name nodes by index: one fabric */
		else {
			free(*n);
			free(*l);
			free(again);
			an = *nn + 16;
			al = *nl + 16;
			*n = calloc((size_t)an, sizeof(**n));
			*l = calloc((size_t)al, sizeof(**l));
			again = calloc((size_t)an, sizeof(*again));
			if (!*n || !*l || !again)
				ret = -ENOMEM;
		}
	}
	free(again);
	return ret; /* -EAGAIN: the fabric changes faster than it is read */
}

static int show(struct genzio_fabric *f)
{
	struct genzio_fabric_node *n = NULL;
	struct genzio_fabric_link *l = NULL;
	int nn, nl, ret = load(f, &n, &l, &nn, &nl);

	for (int i = 0; !ret && i < nn; i++) {
		if (n[i].kind == GENZIO_NODE_SWITCH)
			printf("switch     %-24s %s\n", n[i].name,
			       state_name(n[i].state));
		else {
			printf("component  %-24s %-8s gcid %#x on %s",
			       n[i].name, state_name(n[i].state), n[i].gcid,
			       n[i].attach < (uint32_t)nn ? n[n[i].attach].name
							  : "?");
			if (n[i].pid)
				printf(", pid %d", (int)n[i].pid);
			putchar('\n');
		}
	}
	for (int i = 0; !ret && i < nl; i++) {
		const char *a = l[i].a < (uint32_t)nn ? n[l[i].a].name : "?";
		const char *b = l[i].b < (uint32_t)nn ? n[l[i].b].name : "?";

		if (l[i].id == GENZIO_LINK_COMPONENT)
			printf("link       %s - %s %s\n", a, b,
			       state_name(l[i].state));
		else
			printf("link %-5u %s - %s %s\n", l[i].id, a, b,
			       state_name(l[i].state));
	}
	free(n);
	free(l);
	return ret;
}

static void hops(const struct genzio_fabric_node *n, int nn, const uint32_t *h,
		 uint32_t len)
{
	if (!len)
		printf(" none");
	for (uint32_t i = 0; i < len; i++)
		printf("%s%s", i ? " > " : " ",
		       h[i] < (uint32_t)nn ? n[h[i]].name : "?");
}

/* The node @name or GCID names, among components; -1 if none. */
static int component(const struct genzio_fabric_node *n, int nn,
		     const char *name)
{
	char *end;
	unsigned long g = strtoul(name, &end, 0);
	int gcid = name[0] >= '0' && name[0] <= '9' && !*end;

	for (int i = 0; i < nn; i++)
		if (n[i].kind == GENZIO_NODE_COMPONENT &&
		    (gcid ? n[i].gcid == g : !strcmp(n[i].name, name)))
			return i;
	return -1;
}

static int routes(struct genzio_fabric *f, const char *from)
{
	struct genzio_fabric_node *n = NULL;
	struct genzio_fabric_link *l = NULL;
	int nn, nl, src = -1, ret = load(f, &n, &l, &nn, &nl);

	if (!ret && (src = component(n, nn, from)) < 0) {
		fprintf(stderr,
			"genzio-fabric: %s: no such component (see "
			"genzio-fabric show)\n",
			from);
		ret = -ENOENT;
	}
	for (int i = 0; !ret && i < nn; i++) {
		struct genzio_fabric_route r;

		if (n[i].kind != GENZIO_NODE_COMPONENT || i == src)
			continue;
		ret = genzio_fabric_route(f, n[src].gcid, n[i].gcid, &r);
		if (ret)
			break;
		printf("%s -> %s (%#x): %s\n  primary:", n[src].name, n[i].name,
		       n[i].gcid, route_name(r.state));
		hops(n, nn, r.primary, r.nprimary);
		printf("\n  alternate:");
		hops(n, nn, r.alternate, r.nalternate);
		putchar('\n');
	}
	free(n);
	free(l);
	return ret;
}

/* The fault @argv names (after the options), or 0 for a bad command. */
static uint32_t fault_of(int argc, char **argv, const char **a, const char **b)
{
	int up;

	*b = NULL;
	if (argc == 4 && !strcmp(argv[0], "link") &&
	    ((up = !strcmp(argv[1], "up")) || !strcmp(argv[1], "down"))) {
		*a = argv[2];
		*b = argv[3];
		return up ? GENZIO_FAULT_LINK_UP : GENZIO_FAULT_LINK_DOWN;
	}
	if (argc == 3 && !strcmp(argv[0], "switch") &&
	    ((up = !strcmp(argv[1], "up")) || !strcmp(argv[1], "down"))) {
		*a = argv[2];
		return up ? GENZIO_FAULT_SWITCH_UP : GENZIO_FAULT_SWITCH_DOWN;
	}
	if (argc == 2 && !strcmp(argv[0], "remove")) {
		*a = argv[1];
		return GENZIO_FAULT_COMPONENT_REMOVE;
	}
	if (argc == 2 && !strcmp(argv[0], "add")) {
		*a = argv[1];
		return GENZIO_FAULT_COMPONENT_ADD;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct genzio_open_attr oa = {0};
	const char *device = NULL, *a, *b;
	struct genzio_fabric *f;
	uint32_t fault = 0;
	int c, ret;

	opterr = 0;
	if (argc > 1 && !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	while ((c = getopt(argc, argv, "+d:f:h")) != -1) {
		switch (c) {
		case 'd':
			device = optarg;
			break;
		case 'f':
			oa.comp_mask = GENZIO_OPEN_ATTR_FABRIC;
			oa.fabric = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "genzio-fabric: -%c: %s\n", optopt,
				strchr("df", optopt) ? "needs an argument"
						     : "unknown option");
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || (!(argc == 1 && !strcmp(argv[0], "show")) &&
			 !(argc == 2 && !strcmp(argv[0], "routes")) &&
			 !(fault = fault_of(argc, argv, &a, &b)))) {
		static const char *const cmds[] = { "show", "routes", "link",
						    "switch", "remove", "add" };
		int known = 0;

		for (int i = 0; argc && i < 6; i++)
			known |= !strcmp(argv[0], cmds[i]);

		fprintf(stderr, "genzio-fabric: %s: %s\n",
			argc ? argv[0] : "(none)",
			known ? "not a command with these arguments" :
				"not a command");
		usage(stderr);
		return EXIT_USAGE;
	}
	ret = genzio_fabric_open(device, &oa, &f);
	if (ret) {
		fprintf(stderr, "genzio-fabric: cannot open the fabric: %s%s\n",
			strerror(-ret),
			getenv("GENZIO_DEBUG")
			    ? ""
			    : " (set GENZIO_DEBUG=1 for the cause)");
		return EXIT_FAIL;
	}
	if (fault)
		ret = genzio_fabric_inject(f, fault, a, b);
	else if (!strcmp(argv[0], "show"))
		ret = show(f);
	else
		ret = routes(f, argv[1]);
	genzio_fabric_close(f);
	if (ret && fault && (ret == -ENOENT || ret == -EALREADY))
		fprintf(stderr, "genzio-fabric: %s %s%s%s: %s\n", argv[0], a,
			b ? " " : "", b ? b : "",
			ret == -EALREADY ? "it is in that state already" :
			fault <= GENZIO_FAULT_LINK_UP ?
				"no such link (two switches, or a component "
				"and its own switch: see genzio-fabric show)" :
			fault <= GENZIO_FAULT_SWITCH_UP ?
				"no such switch (see genzio-fabric show)" :
				"no such component (see genzio-fabric show)");
	else if (ret && ret != -ENOENT)
		fprintf(stderr, "genzio-fabric: %s: %s%s\n", argv[0],
			strerror(-ret),
			getenv("GENZIO_DEBUG")
			    ? ""
			    : " (set GENZIO_DEBUG=1 for the cause)");
	return ret ? EXIT_FAIL : 0;
}
