/* SPDX-License-Identifier: MIT */
/* genzio: the fabric manager's view: topology, routes, faults, control
 * space. Include <genzio/genzio.h>, which includes every part. */
#ifndef GENZIO_FM_H
#define GENZIO_FM_H

#include <genzio/base.h>
#include <genzio/device.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A host fabric is described by a text file (genzio_fabric(5); the
 * first joiner of an empty fabric reads $GENZIO_FABRIC_FILE) or is one
 * switch that every component attaches to. The manager runs inside the
 * library: whoever joins, leaves or injects a fault recomputes the
 * routes and tells every component (UEP events on its event fd).
 */

/** A handle on a host fabric's manager, without joining it. */
struct genzio_fabric;

/**
 * genzio_fabric_open - Open the manager of a host fabric
 * @name: device, as for genzio_device_open() (NULL: the default)
 * @attr: its fabric (GENZIO_OPEN_ATTR_FABRIC); NULL: $GENZIO_FABRIC,
 *        else "default"
 * Return: 0 and *@fab, -EINVAL, -ENOENT (nobody ever joined it),
 * -ENOTSUP (the provider's components are on a network it does not
 * manage), -ENOMEM, or an error about the fabric's files.
 */
GENZIO_EXPORT int genzio_fabric_open(const char *name,
				     const struct genzio_open_attr *attr,
				     struct genzio_fabric **fab);
/** genzio_fabric_close - Release @fab (NULL is a no-op). */
GENZIO_EXPORT void genzio_fabric_close(struct genzio_fabric *fab);

enum genzio_fabric_node_kind {
	GENZIO_NODE_SWITCH = 1,
	GENZIO_NODE_COMPONENT,
};

enum genzio_fabric_state {
	GENZIO_STATE_UP = 1,
	GENZIO_STATE_DOWN,    /* a fault took it (or its switch) down */
	GENZIO_STATE_ABSENT,  /* a component declared, nobody holds it */
	GENZIO_STATE_REMOVED, /* a component taken out by a fault */
};

#define GENZIO_FABRIC_NAME_MAX 32

/** One switch or component (genzio_fabric_node_list). */
struct genzio_fabric_node {
	char name[GENZIO_FABRIC_NAME_MAX];
	uint32_t kind;	 /* enum genzio_fabric_node_kind */
	uint32_t state;	 /* enum genzio_fabric_state */
	uint32_t gcid;	 /* a component's; 0 for a switch */
	uint32_t attach; /* a component's switch: its node index */
	int32_t pid;	 /* a present component's process, or 0 */
	uint32_t reserved;
};

/** One link (genzio_fabric_link_list): switch to switch, or a
 *  component to its switch. */
struct genzio_fabric_link {
	uint32_t a, b;	/* node indexes of its ends */
	uint32_t state; /* GENZIO_STATE_UP or _DOWN */
	uint32_t id;	/* switch links 0 .. n - 1; a component's
			 * link is GENZIO_LINK_COMPONENT */
};

#define GENZIO_LINK_COMPONENT 0xffffffffu

/**
 * genzio_fabric_node_list - The fabric's switches, then its components
 * Return: the number of nodes (may exceed @max), -EINVAL, -EAGAIN (a
 * manager stopped mid-change), -EPROTO (its file holds garbage).
 */
GENZIO_EXPORT int genzio_fabric_node_list_sz(struct genzio_fabric *fab,
					     struct genzio_fabric_node *n,
					     int max, size_t size);
static inline int genzio_fabric_node_list(struct genzio_fabric *fab,
					  struct genzio_fabric_node *n, int max)
{
	return genzio_fabric_node_list_sz(fab, n, max, sizeof(*n));
}
/** genzio_fabric_link_list - Its links; node indexes as node_list's.
 *  Return: as genzio_fabric_node_list(). */
GENZIO_EXPORT int genzio_fabric_link_list_sz(struct genzio_fabric *fab,
					     struct genzio_fabric_link *l,
					     int max, size_t size);
static inline int genzio_fabric_link_list(struct genzio_fabric *fab,
					  struct genzio_fabric_link *l, int max)
{
	return genzio_fabric_link_list_sz(fab, l, max, sizeof(*l));
}

enum genzio_route_state {
	GENZIO_ROUTE_PRIMARY = 1, /* the shortest path is up */
	GENZIO_ROUTE_ALTERNATE,	  /* it broke: the disjoint alternate */
	GENZIO_ROUTE_REROUTED,	  /* both broke; another path is left */
	GENZIO_ROUTE_DOWN,	  /* no path: work completes
				   * GENZIO_WC_RETRY_EXC */
};

#define GENZIO_ROUTE_MAX_HOPS 32

/** How one component reaches another (genzio_fabric_route). */
struct genzio_fabric_route {
	uint32_t state;	   /* enum genzio_route_state */
	uint32_t nprimary; /* switches on each path, 0: none */
	uint32_t nalternate;
	uint32_t reserved;
	uint32_t primary[GENZIO_ROUTE_MAX_HOPS]; /* node indexes */
	uint32_t alternate[GENZIO_ROUTE_MAX_HOPS];
};

/**
 * genzio_fabric_route - The routes from component @src to @dst (GCIDs)
 * on the fabric as described (every link up), and which one is in use.
 * Return: 0, -EINVAL, -EHOSTUNREACH (no such component), -EAGAIN,
 * -EPROTO.
 */
GENZIO_EXPORT int genzio_fabric_route_sz(struct genzio_fabric *fab,
					 uint32_t src, uint32_t dst,
					 struct genzio_fabric_route *r,
					 size_t size);
static inline int genzio_fabric_route(struct genzio_fabric *fab, uint32_t src,
				      uint32_t dst,
				      struct genzio_fabric_route *r)
{
	return genzio_fabric_route_sz(fab, src, dst, r, sizeof(*r));
}

enum genzio_fault_type {
	GENZIO_FAULT_LINK_DOWN = 1, /* a, b: the link's ends */
	GENZIO_FAULT_LINK_UP,
	GENZIO_FAULT_SWITCH_DOWN, /* a: the switch */
	GENZIO_FAULT_SWITCH_UP,
	GENZIO_FAULT_COMPONENT_REMOVE, /* a: the component */
	GENZIO_FAULT_COMPONENT_ADD,
};

/**
 * genzio_fabric_inject - Inject a fault (or its repair), as the manager
 * @type: enum genzio_fault_type
 * @a, @b: switch or component names, or components' GCIDs ("0x1002");
 *         @b only for links (NULL otherwise)
 * Every component gets the UEP events it implies; traffic moves to the
 * alternate path, or completes GENZIO_WC_RETRY_EXC within the route
 * timeout ($GENZIO_ROUTE_TIMEOUT_MS) when none is left.
 * Return: 0, -EINVAL (bad type or names: with GENZIO_DEBUG, which),
 * -ENOENT (no such link, switch or component), -EALREADY (it is in that
 * state), -ETIMEDOUT (another manager holds the fabric: named).
 */
GENZIO_EXPORT int genzio_fabric_inject(struct genzio_fabric *fab, uint32_t type,
				       const char *a, const char *b);

/* ------------------------------------------------------ control space */

enum genzio_component_class {
	GENZIO_CCLASS_BRIDGE = 1, /* a host's bridge: a context */
};

/** One interface structure of a control space. */
struct genzio_component_iface {
	uint32_t id;
	uint32_t state;			   /* GENZIO_STATE_UP or _DOWN */
	char peer[GENZIO_FABRIC_NAME_MAX]; /* the switch at the far end */
};

#define GENZIO_COMPONENT_IFACES 4

/** What a component's control space says (genzio_component_query). */
struct genzio_component {
	uint32_t gcid;
	uint32_t cclass;    /* enum genzio_component_class */
	uint64_t caps;	    /* its GENZIO_CAP_* bits */
	uint64_t data_size; /* bytes of data space it offers */
	uint32_t max_qp, max_cq;
	uint32_t niface; /* interface structures read */
	uint32_t reserved;
	struct genzio_component_iface iface[GENZIO_COMPONENT_IFACES];
	char name[GENZIO_FABRIC_NAME_MAX];
};

/**
 * genzio_component_query - Read the control space of component @gcid
 * (any component on @ctx's fabric, @ctx's own included): its core
 * structure, then its list of interface structures.
 * Return: 0, -EINVAL, -EHOSTUNREACH (no component holds @gcid), -EPROTO
 * (its control space is malformed: a bad offset, a loop), -ENOTSUP (the
 * provider has no control space: verbs).
 */
GENZIO_EXPORT int genzio_component_query_sz(struct genzio_context *ctx,
					    uint32_t gcid,
					    struct genzio_component *c,
					    size_t size);
static inline int genzio_component_query(struct genzio_context *ctx,
					 uint32_t gcid,
					 struct genzio_component *c)
{
	return genzio_component_query_sz(ctx, gcid, c, sizeof(*c));
}

#ifdef __cplusplus
}
#endif

#endif /* GENZIO_FM_H */
