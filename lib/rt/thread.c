// SPDX-License-Identifier: MIT
/*
 * genzio_rt_thread_setup: pin, SCHED_FIFO, mlockall, core-scheduling
 * cookie, in that order, each reported. A required step that fails undoes
 * the ones before it, so the thread is never left half-configured.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#include <genzio/rt.h>

#include "gz.h"

#ifndef PR_SCHED_CORE
#define PR_SCHED_CORE 62
#define PR_SCHED_CORE_CREATE 1
#endif
#define PIDTYPE_PID 0

struct saved {
	cpu_set_t affinity;
	int policy;
	struct sched_param param;
};

static int step_pin(uint32_t cpu)
{
	cpu_set_t set;

	if (cpu >= CPU_SETSIZE)
		return -EINVAL;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static int step_fifo(int prio)
{
	struct sched_param p = { .sched_priority = prio };

	return -pthread_setschedparam(pthread_self(), SCHED_FIFO, &p);
}

static int step_mlock(void)
{
	return mlockall(MCL_CURRENT | MCL_FUTURE) ? -errno : 0;
}

static int step_core_sched(void)
{
	/* Only tasks sharing our cookie may run on our core's siblings:
	 * no untrusted task shares the core. Kernels without
	 * CONFIG_SCHED_CORE answer -EINVAL. */
	return prctl(PR_SCHED_CORE, PR_SCHED_CORE_CREATE, 0, PIDTYPE_PID, 0) ?
		       -errno : 0;
}

/* Undo the per-thread steps. mlockall is process-wide: unlocking would
 * also drop locks others made (GENZIO_MEM_LOCK, the application's own), so
 * it stays, and the report says so. */
static uint32_t undo(uint32_t applied, const struct saved *s)
{
	if (applied & GENZIO_RT_FIFO)
		pthread_setschedparam(pthread_self(), s->policy, &s->param);
	if (applied & GENZIO_RT_PIN)
		pthread_setaffinity_np(pthread_self(), sizeof(s->affinity),
				       &s->affinity);
	/* a core-scheduling cookie cannot be dropped: it is the last step */
	return applied & GENZIO_RT_MLOCK;
}

/* What a caller of @size bytes gets of @r. */
static void report(struct genzio_rt_report *rep, size_t size,
		   const struct genzio_rt_report *r)
{
	if (rep)
		gz_out_copy(rep, size, r, sizeof(*r));
}

GENZIO_EXPORT int genzio_rt_thread_setup_sz(uint32_t cpu, int prio,
					    uint32_t steps, uint32_t required,
					    struct genzio_rt_report *rep,
					    size_t size)
{
	GZ_API_AS("genzio_rt_thread_setup");
	const uint32_t all = GENZIO_RT_PIN | GENZIO_RT_FIFO | GENZIO_RT_MLOCK |
			     GENZIO_RT_CORE_SCHED;
	struct genzio_rt_report r;
	struct saved s;
	int err;

	if ((steps & ~all) || (required & ~steps) ||
	    ((steps & GENZIO_RT_FIFO) &&
	     (prio < sched_get_priority_min(SCHED_FIFO) ||
	      prio > sched_get_priority_max(SCHED_FIFO))) ||
	    ((steps & GENZIO_RT_PIN) && cpu >= CPU_SETSIZE))
		return gz_err(-EINVAL, "steps %#x, required %#x, prio %d, cpu %u",
			      steps, required, prio, cpu);
	/* the first layout: 8 + 4 per step */
	if (rep && gz_out_size_ok(size, 8 + 4 * GENZIO_RT_STEPS,
				  "genzio_rt_report"))
		return -EINVAL;
	memset(&r, 0, sizeof(r));
	/* what to go back to, before anything changes */
	err = -pthread_getaffinity_np(pthread_self(), sizeof(s.affinity),
				      &s.affinity);
	if (!err)
		err = -pthread_getschedparam(pthread_self(), &s.policy,
					     &s.param);
	if (err)
		return gz_err(err, "cannot read the thread's settings: %s",
			      strerror(-err));
	for (int i = 0; i < GENZIO_RT_STEPS; i++) {
		uint32_t bit = 1u << i;

		if (!(steps & bit))
			continue;
		switch (bit) {
		case GENZIO_RT_PIN:
			err = step_pin(cpu);
			break;
		case GENZIO_RT_FIFO:
			err = step_fifo(prio);
			break;
		case GENZIO_RT_MLOCK:
			err = step_mlock();
			break;
		default:
			err = step_core_sched();
		}
		r.err[i] = err;
		if (!err) {
			r.applied |= bit;
			continue;
		}
		r.failed |= bit;
		gz_err(err, "%s: %s", genzio_rt_step_str(bit), strerror(-err));
		if (required & bit) {
			r.applied = undo(r.applied, &s);
			report(rep, size, &r);
			return err;
		}
	}
	report(rep, size, &r);
	return 0;
}

GENZIO_EXPORT const char *genzio_rt_step_str(uint32_t step)
{
	switch (step) {
	case GENZIO_RT_PIN:
		return "pin to one PU";
	case GENZIO_RT_FIFO:
		return "SCHED_FIFO";
	case GENZIO_RT_MLOCK:
		return "mlockall";
	case GENZIO_RT_CORE_SCHED:
		return "core-scheduling cookie";
	default:
		return "unknown step";
	}
}
