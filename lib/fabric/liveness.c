// SPDX-License-Identifier: MIT
/* Liveness of fabric members (see liveness.h). */
#include <errno.h>
#include <time.h>

#include "fabric/liveness.h"

/* The word to compare with: the current one while a live thread holds
 * the lock, else "unknown", which no word equals. */
static uint32_t armed(uint32_t word)
{
	return (word & GZ_FUTEX_TID_MASK) && !(word & GZ_FUTEX_OWNER_DIED) ?
		       word :
		       GZ_FABRIC_LIFE_UNKNOWN;
}

int gz_fabric_watch_init(struct gz_fabric_watch *w,
			 const struct gz_lifelock *life,
			 const _Atomic uint32_t *closed, int32_t pid,
			 uint64_t starttime)
{
	int alive;

	w->life = life;
	w->closed = closed;
	w->pid = pid;
	w->starttime = starttime;
	atomic_store(&w->dead, 0);
	atomic_store(&w->next_check_ns, 0);
	if (pid <= 0 || atomic_load(closed))
		return -EHOSTUNREACH;
	alive = gz_sys_proc_alive(pid, starttime);
	if (alive <= 0)
		return alive ? alive : -EHOSTUNREACH;
	atomic_store(&w->word, armed(gz_sys_lifelock_word(life)));
	return 0;
}

static uint64_t coarse_ns(void)
{
	struct timespec ts;

	/* vDSO: no system call */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int gz_fabric_recheck(struct gz_fabric_watch *w)
{
	uint32_t word = gz_sys_lifelock_word(w->life);
	uint64_t now;

	if (atomic_load_explicit(&w->dead, memory_order_relaxed))
		return 0;
	if (atomic_load_explicit(w->closed, memory_order_acquire))
		goto dead;
	/* any thread may be here: the snapshot words are atomics */
	if (atomic_load_explicit(&w->word, memory_order_relaxed) ==
	    GZ_FABRIC_LIFE_UNKNOWN) {
		now = coarse_ns();
		if (now < atomic_load_explicit(&w->next_check_ns,
					       memory_order_relaxed))
			return 1;
		atomic_store_explicit(&w->next_check_ns,
				      now + GZ_FABRIC_RECHECK_NS,
				      memory_order_relaxed);
	}
	/* the registry guarantees we share its PID namespace; "cannot
	 * tell" (no fd, say) is not a death: look again later */
	if (!gz_sys_proc_alive(w->pid, w->starttime))
		goto dead;
	/* re-armed by its owner, or unknown from now on */
	atomic_store_explicit(&w->word, armed(word), memory_order_relaxed);
	return 1;
dead:
	atomic_store_explicit(&w->dead, 1, memory_order_relaxed);
	return 0;
}
