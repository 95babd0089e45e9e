/* SPDX-License-Identifier: MIT */
/*
 * genzio real-time helpers: choose polling cores whose SMT siblings stay
 * idle, pin the calling thread, run it SCHED_FIFO, lock memory, and ask
 * for a core-scheduling cookie. Every step reports applied or why not.
 *
 * Thread safety: a topology is used by one thread at a time; the setup
 * call acts on the calling thread only.
 */
#ifndef GENZIO_RT_H
#define GENZIO_RT_H

#include <stdint.h>

#include <genzio/genzio.h>

#ifdef __cplusplus
extern "C" {
#endif

struct genzio_rt_topo;

/**
 * genzio_rt_topo_load - Describe the machine's cores (hwloc)
 * @synthetic: NULL for this machine, or an hwloc synthetic description
 *             such as "pack:2 core:4 pu:2" (for tests and planning)
 * @offline:   NULL, or a cpu list ("3,5-6") of PUs to treat as offline
 * @topo:      out
 *
 * Return: 0, -EINVAL (bad description or list, no PU left), -ENOMEM.
 */
GENZIO_EXPORT int genzio_rt_topo_load(const char *synthetic,
				      const char *offline,
				      struct genzio_rt_topo **topo);
/** genzio_rt_topo_free - Return: 0 or -EINVAL. */
GENZIO_EXPORT int genzio_rt_topo_free(struct genzio_rt_topo *topo);

/** What a topology holds. */
struct genzio_rt_topo_info {
	uint32_t npus;		/* online PUs */
	uint32_t ncores;	/* cores with at least one online PU */
	uint32_t nnodes;	/* NUMA nodes */
	uint32_t smt;		/* largest number of PUs in one core */
};

/** genzio_rt_topo_query - Return: 0 or -EINVAL. */
GENZIO_EXPORT int genzio_rt_topo_query_sz(struct genzio_rt_topo *topo,
					  struct genzio_rt_topo_info *info,
					  size_t size);
static inline int genzio_rt_topo_query(struct genzio_rt_topo *topo,
				       struct genzio_rt_topo_info *info)
{
	return genzio_rt_topo_query_sz(topo, info, sizeof(*info));
}

/**
 * genzio_rt_cores_pick - Choose @n polling PUs on distinct, idle cores
 * @topo:  topology
 * @node:  preferred NUMA node (its cores first), or -1
 * @busy:  PUs already in use by the caller's plan (their cores are not
 *         idle), or NULL
 * @nbusy: entries in @busy
 * @n:     PUs wanted
 * @cpus:  out: @n OS PU numbers; no two share a core, and no PU of their
 *         cores is in @busy
 *
 * Return: 0, -EINVAL, -ENOMEM, or -ENOSPC (fewer than @n idle cores;
 * @cpus may be partly written).
 */
GENZIO_EXPORT int genzio_rt_cores_pick(struct genzio_rt_topo *topo, int node,
				       const uint32_t *busy, uint32_t nbusy,
				       uint32_t n, uint32_t *cpus);

/**
 * genzio_rt_siblings - The PUs sharing a core with @cpu (including it)
 * Return: their number (may exceed @max), or -EINVAL (no such PU).
 */
GENZIO_EXPORT int genzio_rt_siblings(struct genzio_rt_topo *topo,
				     uint32_t cpu, uint32_t *sib, uint32_t max);

enum genzio_rt_step {
	GENZIO_RT_PIN = 1u << 0,	/* affinity to one PU */
	GENZIO_RT_FIFO = 1u << 1,	/* SCHED_FIFO at the given priority */
	GENZIO_RT_MLOCK = 1u << 2,	/* mlockall(current | future): later
					 * mappings count against
					 * RLIMIT_MEMLOCK and fail past it */
	GENZIO_RT_CORE_SCHED = 1u << 3,	/* PR_SCHED_CORE cookie */
};
#define GENZIO_RT_STEPS 4

/** What genzio_rt_thread_setup() did, step by step. */
struct genzio_rt_report {
	uint32_t applied;	/* enum genzio_rt_step bits that took effect */
	uint32_t failed;	/* bits that were asked and did not */
	int32_t err[GENZIO_RT_STEPS];	/* per step (bit n): 0 or -errno,
					 * e.g. -EPERM (no permission),
					 * -EINVAL (kernel lacks core
					 * scheduling), -ENODEV (no SMT) */
};

/**
 * genzio_rt_thread_setup - Make the calling thread a real-time poller
 * @cpu:      PU to pin to (GENZIO_RT_PIN)
 * @prio:     SCHED_FIFO priority 1..99 (GENZIO_RT_FIFO)
 * @steps:    enum genzio_rt_step bits to try
 * @required: the subset that must succeed: if one fails, the steps
 *            applied so far are undone (affinity and policy restored) and
 *            its -errno returned, so the thread is never left
 *            half-configured; mlockall, which is process-wide, stays and
 *            remains in @rep->applied
 * @rep:      out: what was applied and why the rest was not (may be NULL)
 *
 * Return: 0 (optional steps may have failed: see @rep), -EINVAL, or the
 * -errno of a required step.
 */
GENZIO_EXPORT int genzio_rt_thread_setup_sz(uint32_t cpu, int prio,
					    uint32_t steps, uint32_t required,
					    struct genzio_rt_report *rep,
					    size_t size);
static inline int genzio_rt_thread_setup(uint32_t cpu, int prio,
					 uint32_t steps, uint32_t required,
					 struct genzio_rt_report *rep)
{
	return genzio_rt_thread_setup_sz(cpu, prio, steps, required, rep,
					 sizeof(*rep));
}

/** genzio_rt_step_str - Name of one step bit; never NULL. */
GENZIO_EXPORT const char *genzio_rt_step_str(uint32_t step);

#ifdef __cplusplus
}
#endif

#endif /* GENZIO_RT_H */
