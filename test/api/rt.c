// SPDX-License-Identifier: MIT
/* Real-time helpers: core picking on synthetic topologies, and thread
 * setup on this machine. */
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include <genzio/rt.h>

#include "api.h"

TestSuite(rt, .timeout = 30);

/* No two picks share a core, and no pick shares a core with a busy PU. */
static void assert_idle_cores(struct genzio_rt_topo *t, const uint32_t *cpus,
			      uint32_t n, const uint32_t *busy, uint32_t nbusy)
{
	for (uint32_t i = 0; i < n; i++) {
		uint32_t sib[16];
		int ns = genzio_rt_siblings(t, cpus[i], sib, 16);

		cr_assert_gt(ns, 0);
		for (int k = 0; k < ns; k++) {
			for (uint32_t j = 0; j < n; j++)
				cr_assert(j == i || sib[k] != cpus[j],
					  "PUs %u and %u share a core", cpus[i],
					  cpus[j]);
			for (uint32_t b = 0; b < nbusy; b++)
				cr_assert_neq(sib[k], busy[b],
					      "PU %u sits beside busy PU %u",
					      cpus[i], busy[b]);
		}
	}
}

Test(rt, two_packages_of_four_smt2_cores_give_eight_idle_cores)
{
	struct genzio_rt_topo *t;
	struct genzio_rt_topo_info info;
	uint32_t cpus[9], busy[] = { 0, 5 };

	cr_assert_eq(genzio_rt_topo_load("pack:2 core:4 pu:2", NULL, &t), 0);
	cr_assert_eq(genzio_rt_topo_query(t, &info), 0);
	cr_assert_eq(info.npus, 16);
	cr_assert_eq(info.ncores, 8);
	cr_assert_eq(info.smt, 2);
	cr_assert_eq(genzio_rt_cores_pick(t, -1, NULL, 0, 8, cpus), 0);
	assert_idle_cores(t, cpus, 8, NULL, 0);
	cr_assert_eq(genzio_rt_cores_pick(t, -1, NULL, 0, 9, cpus), -ENOSPC);
	/* PUs 0 and 5 are busy: their cores (and siblings) are out */
	cr_assert_eq(genzio_rt_cores_pick(t, -1, busy, 2, 6, cpus), 0);
	assert_idle_cores(t, cpus, 6, busy, 2);
	cr_assert_eq(genzio_rt_cores_pick(t, -1, busy, 2, 7, cpus), -ENOSPC);
	cr_assert_eq(genzio_rt_topo_free(t), 0);
}

Test(rt, one_package_of_eight_single_pu_cores)
{
	struct genzio_rt_topo *t;
	struct genzio_rt_topo_info info;
	uint32_t cpus[8];

	cr_assert_eq(genzio_rt_topo_load("pack:1 core:8 pu:1", NULL, &t), 0);
	cr_assert_eq(genzio_rt_topo_query(t, &info), 0);
	cr_assert_eq(info.smt, 1);
	cr_assert_eq(genzio_rt_cores_pick(t, -1, NULL, 0, 8, cpus), 0);
	assert_idle_cores(t, cpus, 8, NULL, 0);
	genzio_rt_topo_free(t);
}

Test(rt, offline_pus_are_never_picked_and_half_cores_still_count)
{
	struct genzio_rt_topo *t;
	struct genzio_rt_topo_info info;
	uint32_t cpus[8];

	/* PUs 2,3 (a whole core) and 4 (half of one) are offline */
	cr_assert_eq(genzio_rt_topo_load("pack:1 core:4 pu:2", "2-4", &t), 0);
	cr_assert_eq(genzio_rt_topo_query(t, &info), 0);
	cr_assert_eq(info.npus, 5);
	cr_assert_eq(info.ncores, 3);
	cr_assert_eq(genzio_rt_cores_pick(t, -1, NULL, 0, 3, cpus), 0);
	assert_idle_cores(t, cpus, 3, NULL, 0);
	for (int i = 0; i < 3; i++)
		cr_assert(cpus[i] != 2 && cpus[i] != 3 && cpus[i] != 4);
	cr_assert_eq(genzio_rt_cores_pick(t, -1, NULL, 0, 4, cpus), -ENOSPC);
	genzio_rt_topo_free(t);
}

Test(rt, preferred_numa_node_is_filled_first)
{
	struct genzio_rt_topo *t;
	uint32_t cpus[3], sib[4];

	cr_assert_eq(genzio_rt_topo_load("numa:2 core:2 pu:2", NULL, &t), 0);
	cr_assert_eq(genzio_rt_cores_pick(t, 1, NULL, 0, 3, cpus), 0);
	/* node 1 holds PUs 4-7: its two cores come first */
	cr_assert_geq(cpus[0], 4);
	cr_assert_geq(cpus[1], 4);
	cr_assert_lt(cpus[2], 4, "then the other node");
	cr_assert_eq(genzio_rt_siblings(t, cpus[0], sib, 4), 2);
	cr_assert_eq(genzio_rt_cores_pick(t, 7, NULL, 0, 1, cpus), -EINVAL);
	genzio_rt_topo_free(t);
}

Test(rt, bad_arguments)
{
	struct genzio_rt_topo *t;
	struct genzio_rt_topo_info info;
	uint32_t cpus[2], sib[2];

	cr_assert_eq(genzio_rt_topo_load(NULL, NULL, NULL), -EINVAL);
	cr_assert_eq(genzio_rt_topo_load("not a topology", NULL, &t), -EINVAL);
	cr_assert_eq(genzio_rt_topo_load("pack:1 core:2 pu:1", "x-y", &t),
		     -EINVAL);
	cr_assert_eq(genzio_rt_topo_load("pack:1 core:2 pu:1", "0-1", &t),
		     -EINVAL, "no PU left");
	cr_assert_eq(genzio_rt_topo_free(NULL), -EINVAL);
	cr_assert_eq(genzio_rt_topo_query(NULL, &info), -EINVAL);
	cr_assert_eq(genzio_rt_topo_load("pack:1 core:2 pu:1", NULL, &t), 0);
	cr_assert_eq(genzio_rt_topo_query(t, NULL), -EINVAL);
	cr_assert_eq(genzio_rt_topo_query_sz(t, &info, 4), -EINVAL);
	{	/* a newer, longer struct: the part we know, then zeros */
		struct {
			struct genzio_rt_topo_info i;
			uint32_t future[4];
		} big;

		memset(&big, 0xff, sizeof(big));
		cr_assert_eq(genzio_rt_topo_query_sz(t, &big.i, sizeof(big)),
			     0);
		cr_assert_eq(big.i.npus, 2);
		cr_assert_eq(big.future[0] | big.future[3], 0);
	}
	cr_assert_eq(genzio_rt_cores_pick(NULL, -1, NULL, 0, 1, cpus), -EINVAL);
	cr_assert_eq(genzio_rt_cores_pick(t, -1, NULL, 0, 0, cpus), -EINVAL);
	cr_assert_eq(genzio_rt_cores_pick(t, -1, NULL, 0, 1, NULL), -EINVAL);
	cr_assert_eq(genzio_rt_cores_pick(t, -1, NULL, 3, 1, cpus), -EINVAL);
	cr_assert_eq(genzio_rt_siblings(t, 99, sib, 2), -EINVAL);
	cr_assert_eq(genzio_rt_siblings(NULL, 0, sib, 2), -EINVAL);
	cr_assert_eq(genzio_rt_thread_setup(0, 0, 1u << 9, 0, NULL), -EINVAL);
	cr_assert_eq(genzio_rt_thread_setup(0, 0, GENZIO_RT_FIFO,
					    GENZIO_RT_FIFO, NULL), -EINVAL);
	cr_assert_eq(genzio_rt_thread_setup(0, 10, GENZIO_RT_PIN,
					    GENZIO_RT_FIFO, NULL), -EINVAL,
		     "required must be asked for");
	{
		struct genzio_rt_report r;

		cr_assert_eq(genzio_rt_thread_setup_sz(0, 0, 0, 0, &r, 4),
			     -EINVAL);
	}
	cr_assert_str_eq(genzio_rt_step_str(1u << 20), "unknown step");
	genzio_rt_topo_free(t);
}

Test(rt, pinning_this_thread_is_verified_by_sched_getaffinity)
{
	struct genzio_rt_topo *t;
	struct genzio_rt_report rep;
	uint32_t cpu;
	cpu_set_t set;

	cr_assert_eq(genzio_rt_topo_load(NULL, NULL, &t), 0);
	cr_assert_eq(genzio_rt_cores_pick(t, -1, NULL, 0, 1, &cpu), 0);
	cr_assert_eq(genzio_rt_thread_setup(cpu, 0, GENZIO_RT_PIN,
					    GENZIO_RT_PIN, &rep), 0);
	cr_assert_eq(rep.applied, GENZIO_RT_PIN);
	cr_assert_eq(sched_getaffinity(0, sizeof(set), &set), 0);
	cr_assert_eq(CPU_COUNT(&set), 1);
	cr_assert(CPU_ISSET(cpu, &set));
	cr_assert_eq(sched_getcpu(), (int)cpu);
	genzio_rt_topo_free(t);
}

Test(rt, sched_fifo_and_mlock_apply_or_report_why)
{
	struct genzio_rt_report rep;
	int policy;
	struct sched_param p;

	cr_assert_eq(genzio_rt_thread_setup(0, 10,
					    GENZIO_RT_FIFO | GENZIO_RT_MLOCK, 0,
					    &rep), 0);
	pthread_getschedparam(pthread_self(), &policy, &p);
	if (!(rep.applied & GENZIO_RT_FIFO)) {
		cr_assert_eq(rep.err[1], -EPERM);
		cr_assert_eq(policy, SCHED_OTHER);
		cr_skip_test("SCHED_FIFO not permitted here (%s)",
			     "run as root or with CAP_SYS_NICE");
	}
	cr_assert_eq(policy, SCHED_FIFO);
	cr_assert_eq(p.sched_priority, 10);
	cr_assert(rep.applied & GENZIO_RT_MLOCK || rep.err[2] < 0);
}

Test(rt, a_required_step_that_fails_undoes_the_others)
{
	struct genzio_rt_report rep;
	cpu_set_t before, after;
	struct sched_param p;
	int policy, ret;

	sched_getaffinity(0, sizeof(before), &before);
	/* core scheduling is missing on this kernel (or not): either way
	 * the thread ends fully configured or exactly as it was */
	ret = genzio_rt_thread_setup(0, 5, GENZIO_RT_PIN | GENZIO_RT_CORE_SCHED,
				     GENZIO_RT_CORE_SCHED, &rep);
	sched_getaffinity(0, sizeof(after), &after);
	pthread_getschedparam(pthread_self(), &policy, &p);
	if (!ret) {
		cr_assert_eq(rep.applied,
			     GENZIO_RT_PIN | GENZIO_RT_CORE_SCHED);
		cr_skip_test("this kernel has core scheduling: rollback not "
			     "exercised");
	}
	cr_assert_eq(ret, rep.err[3]);
	cr_assert_eq(rep.applied, 0);
	cr_assert(rep.failed & GENZIO_RT_CORE_SCHED);
	cr_assert(CPU_EQUAL(&before, &after), "affinity restored");
}
