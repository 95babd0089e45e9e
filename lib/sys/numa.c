// SPDX-License-Identifier: MIT
/* NUMA placement through libnuma. */
#include <errno.h>
#include <numa.h>
#include <sched.h>

#include "sys/sys.h"

int gz_sys_numa_node_of_caller(void)
{
	int cpu;

	if (numa_available() < 0)
		return -1;
	cpu = sched_getcpu();
	return cpu < 0 ? -1 : numa_node_of_cpu(cpu);
}

int gz_sys_numa_node_check(int *node)
{
	if (numa_available() < 0) {
		*node = -1;
		return 0;
	}
	return *node > numa_max_node() ? -EINVAL : 0;
}

int gz_sys_numa_bind(void *addr, uint64_t len, int node)
{
	if (node < 0)
		return 0;
	if (numa_available() < 0)
		return -ENOSYS;
	if (node > numa_max_node())
		return -EINVAL;
	/* Before the pages are populated, so they are born on @node. */
	numa_tonode_memory(addr, len, node);
	return 0;
}
