/* SPDX-License-Identifier: MIT */
/*
 * Whether a component of the fabric still lives, for every provider: one
 * load while nothing changed, a rate-limited check when it did.
 *
 * A component holds a life lock (struct gz_lifelock) for its life in
 * memory its peers map; the kernel rewrites its word when the holding
 * thread dies. A watcher snapshots that word, with the pid and start
 * time it runs under, and compares: unchanged is alive. Changed, it
 * asks the kernel (pid + start time): the process died, or only the
 * thread that opened the context exited, after which the word can no
 * longer announce a death and the watcher checks at most every
 * GZ_FABRIC_RECHECK_NS. Where the provider keeps the lock is the
 * provider's business (shm: its component file).
 */
#ifndef GZ_FABRIC_LIVENESS_H
#define GZ_FABRIC_LIVENESS_H

#include <stdatomic.h>
#include <stdint.h>

#include "gz.h"
#include "sys/sys.h"

#define GZ_FABRIC_RECHECK_NS 1000000u	/* degraded check: 1 ms */
/* No life word ever has this value: a watch whose holder thread exited
 * gets it, so every check takes the (rate-limited) slow path. */
#define GZ_FABRIC_LIFE_UNKNOWN 0xffffffffu

struct gz_fabric_watch {
	const struct gz_lifelock *life;	/* the member's, in memory it writes */
	const _Atomic uint32_t *closed;	/* nonzero once it left in order */
	int32_t pid;			/* snapshots, checked at start */
	uint64_t starttime;
	_Atomic uint32_t word;		/* its life word while it lives */
	_Atomic uint32_t dead;
	_Atomic uint64_t next_check_ns;
};

/*
 * Start watching the member whose life lock is @life, which says it left
 * in @closed, and which runs as @pid since @starttime (as the registry
 * or its provider's header says: checked here). Return: 0, -EHOSTUNREACH
 * (it is not alive, or closed), or -errno when that cannot be told.
 */
int gz_fabric_watch_init(struct gz_fabric_watch *w,
			 const struct gz_lifelock *life,
			 const _Atomic uint32_t *closed, int32_t pid,
			 uint64_t starttime);
/* Slow path of gz_fabric_alive(): 1 alive, 0 dead (and from then on). */
int gz_fabric_recheck(struct gz_fabric_watch *w);

/* 1 if the member lives: one load in the common case. */
static inline int gz_fabric_alive(struct gz_fabric_watch *w)
{
	if (GZ_LIKELY(gz_sys_lifelock_word(w->life) ==
		      atomic_load_explicit(&w->word, memory_order_relaxed)))
		return 1;
	return gz_fabric_recheck(w);
}

#endif /* GZ_FABRIC_LIVENESS_H */
