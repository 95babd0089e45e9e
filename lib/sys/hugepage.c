// SPDX-License-Identifier: MIT
/* Where huge pages come from: hugetlbfs mounts and the kernel's pool. */
#include <errno.h>
#include <inttypes.h>
#include <mntent.h>
#include <stdio.h>
#include <string.h>
#include <sys/vfs.h>

#include "sys/sys.h"

#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif

int gz_sys_hugetlbfs_find(uint64_t page_size, char *dir, size_t len)
{
	FILE *f = setmntent("/proc/mounts", "re");
	struct mntent me, *m;
	char buf[4096];
	int ret = -ENOENT;

	if (!f)
		return -errno;
	/* Like DPDK's eal_hugepage_info.c: the mount's f_bsize is its page
	 * size, whatever its options say. */
	/* getmntent_r: two threads may open devices at once */
	while ((m = getmntent_r(f, &me, buf, sizeof(buf)))) {
		struct statfs st;

		if (strcmp(m->mnt_type, "hugetlbfs"))
			continue;
		if (statfs(m->mnt_dir, &st) || st.f_type != HUGETLBFS_MAGIC ||
		    (uint64_t)st.f_bsize != page_size)
			continue;
		if (strlen(m->mnt_dir) >= len) {
			ret = -ENAMETOOLONG;
			continue;
		}
		strcpy(dir, m->mnt_dir);
		ret = 0;
		break;
	}
	endmntent(f);
	return ret;
}

uint64_t gz_sys_huge_free(uint64_t page_size)
{
	char path[96];
	unsigned long long n = 0;
	FILE *f;

	snprintf(path, sizeof(path),
		 "/sys/kernel/mm/hugepages/hugepages-%" PRIu64 "kB/free_hugepages",
		 page_size >> 10);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &n) != 1)
		n = 0;
	fclose(f);
	return n;
}
