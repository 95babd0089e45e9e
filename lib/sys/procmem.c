// SPDX-License-Identifier: MIT
/*
 * Another process's memory through the kernel (cross-memory attach,
 * process_vm_readv/writev): one system call per access, no mapping, any
 * byte range of any memory it has. Linux allows it between processes of
 * one user unless Yama or a seccomp filter says no, so it is probed once.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "gz.h"
#include "sys/sys.h"

int gz_sys_procmem_copy(pid_t pid, uint64_t raddr, const struct iovec *local,
			uint32_t n, uint64_t len, int write)
{
	struct iovec remote = { (void *)(uintptr_t)raddr, len };
	ssize_t got = write ? process_vm_writev(pid, local, n, &remote, 1, 0) :
			      process_vm_readv(pid, local, n, &remote, 1, 0);

	if (got < 0)
		return -errno;
	/* short: the range ends in a hole (unmapped meanwhile) */
	return (uint64_t)got == len ? 0 : -EFAULT;
}

const char *gz_sys_procmem_why(void)
{
	static char why[160];
	uint64_t src = 0x6765677a, dst = 0;
	struct iovec l = { &dst, sizeof(dst) };
	FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re");
	int scope = 0;

	/* scope 1 lets a process reach its descendants only: peers are not */
	if (f) {
		if (fscanf(f, "%d", &scope) != 1)
			scope = 0;
		fclose(f);
	}
	if (scope > 0) {
		snprintf(why, sizeof(why), "kernel.yama.ptrace_scope is %d "
			 "(peers may not reach each other's private memory; 0 "
			 "allows it)", scope);
		return why;
	}
	if (gz_sys_procmem_copy(getpid(), (uintptr_t)&src, &l, 1, sizeof(src),
				0) || dst != src) {
		snprintf(why, sizeof(why), "process_vm_readv fails (%s: a "
			 "seccomp filter?)", strerror(errno));
		return why;
	}
	return NULL;
}
