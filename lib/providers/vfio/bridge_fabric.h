/* SPDX-License-Identifier: MIT */
/*
 * The bridge's engine as its fabric's manager (bridge_fabric.c): the GCIDs
 * it gives come from a host fabric of lib/fabric (a registry and a manager
 * file in the engine user's private directory), so genzio-fabric shows the
 * bridge's components, injects faults on their links, and routes them by a
 * description (genzio_fabric(5)). Joins and leaves take that fabric's
 * locks, which another process of the engine's user can hold: a thread of
 * the engine's own does them, never the loop that executes commands. The
 * loop asks by a word per slot and reads back, lock-free, the DOWN bits of
 * the path words between its slots, which the thread copies at each change;
 * the thread also copies the manager's events into the bridge's header,
 * where every component reads them.
 */
#ifndef GZ_VFIO_BRIDGE_FABRIC_H
#define GZ_VFIO_BRIDGE_FABRIC_H

#include <pthread.h>
#include <stdio.h>

#include "fabric/fabric.h"
#include "fabric/fm.h"
#include "fabric/topo.h"
#include "providers/vfio/bridge.h"

/* A slot's word between the loop and the thread. */
enum {
	GZ_BRIDGE_FAB_IDLE = 0, /* no component, nothing asked */
	GZ_BRIDGE_FAB_JOIN,	/* the loop asks: a claim */
	GZ_BRIDGE_FAB_JOINED,	/* the thread: attached to the fabric */
	GZ_BRIDGE_FAB_REFUSED,	/* the thread: the fabric gave no CID */
	GZ_BRIDGE_FAB_LEAVE,	/* the loop asks: the component is gone */
};

struct gz_bridge_fab {
	FILE *log; /* where refusals are said (NULL: nowhere) */
	char name[GZ_FABRIC_NAME_MAX + 1];
	int dirfd;
	int lockfd; /* "<name>.engine", flock()ed: one engine per fabric */
	int efd;    /* eventfd: the loop asked */
	struct gz_fabric reg;
	struct gz_fm fm;
	/* what it builds whenever the fabric runs no more (another
	 * provider's context on the name may have rebuilt it meanwhile) */
	struct gz_topo topo;
	char *desc; /* its description's path, or NULL: one switch */
	struct gz_bridge_hdr *hdr;
	uint32_t nslots, subnet;
	uint64_t window_len; /* what each component says in control space */
	pthread_t thread;
	int running;
	_Atomic int stop;
	_Atomic uint32_t ask[GZ_BRIDGE_MAX_SLOTS];
	/* the thread's: what it joined for each slot */
	uint64_t inc[GZ_BRIDGE_MAX_SLOTS];
	uint32_t seen_seq;  /* the topology the DOWN bits are of */
	uint32_t seen_wake; /* and the manager's wake word then */
	int rows_stale;	    /* a join or leave since */
	uint64_t log_next;  /* the manager's next event to copy */
	uint64_t ev_head;   /* the header's */
	/* the loop's: slot i cannot reach slot j (written by the thread) */
	_Atomic uint8_t down[GZ_BRIDGE_MAX_SLOTS][GZ_BRIDGE_MAX_SLOTS];
};

/* Whether fabric name @s is usable as one: NAME of genzio-bridged -f. */
int gz_bridge_fab_name_ok(const char *s);
/*
 * Open (making it when missing) host fabric @name into @f (zeroed, but
 * for @f->log) for an engine of
 * @nslots slots: described by @desc (genzio_fabric(5); NULL: one switch
 * in subnet *@subnet), whose subnet is then the engine's in *@subnet.
 * 0, or -EADDRINUSE (another engine, or live components of another
 * provider, hold it: named), -EINVAL (a bad name or description), -errno.
 */
int gz_bridge_fab_open(struct gz_bridge_fab *f, const char *name,
		       const char *desc, uint32_t *subnet);
/* Serve the engine over @hdr (formatted by gz_bridge_engine_init() with
 * this fabric's name; @nslots of @window_len bytes each): the thread
 * started. 0 or -errno. */
int gz_bridge_fab_start(struct gz_bridge_fab *f, struct gz_bridge_hdr *hdr,
			uint32_t nslots, uint64_t window_len);
/* Stop the thread, detach every component still attached (the others
 * hear COMPONENT_REMOVE), close the fabric's files (they stay: others may
 * have them open). @f opened, even if that failed; again: a no-op. */
void gz_bridge_fab_close(struct gz_bridge_fab *f);

/* ---- the loop's side: no lock, no wait ---- */
/* Slot @i was claimed: 0 once it holds its CID (i + 1) on the fabric,
 * -EAGAIN while the thread joins, -EADDRNOTAVAIL refused (said). */
int gz_bridge_fab_join(struct gz_bridge_fab *f, uint32_t i);
/* Slot @i's component is gone (or its claim taken back): it leaves. */
void gz_bridge_fab_leave(struct gz_bridge_fab *f, uint32_t i);
/* Whether slot @i's leave is done (its CID may be given again). */
int gz_bridge_fab_idle(const struct gz_bridge_fab *f, uint32_t i);
/* Whether slot @i has no path to slot @j now. */
static inline int gz_bridge_fab_down(const struct gz_bridge_fab *f, uint32_t i,
				     uint32_t j)
{
	return atomic_load_explicit(&f->down[i][j], memory_order_relaxed);
}

#endif /* GZ_VFIO_BRIDGE_FABRIC_H */
