// SPDX-License-Identifier: MIT
/*
 * Another process's memory through the kernel (cross-memory attach,
 * process_vm_readv/writev): one system call per access, no mapping, any
 * byte range of any memory it has. Linux allows it between processes of
 * one user unless Yama or a seccomp filter says no, so it is probed once;
 * and the pid a peer gives is checked against the files the kernel says
 * it holds open before it is used.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "gz.h"
#include "sys/sys.h"

int gz_sys_procmem_copy(pid_t pid, uint64_t raddr, const struct iovec *local,
			uint32_t n, uint64_t len, int write)
{
	struct iovec l[GZ_SYS_PROCMEM_IOV];
	uint64_t done = 0;

	if (n > GZ_SYS_PROCMEM_IOV)
		return -EINVAL;
	memcpy(l, local, n * sizeof(*l));
	/* one call moves at most about 2 GiB: go on while it moves bytes */
	while (done < len) {
		struct iovec remote = { (void *)(uintptr_t)(raddr + done),
					len - done };
		ssize_t got = write ? process_vm_writev(pid, l, n, &remote, 1, 0) :
				      process_vm_readv(pid, l, n, &remote, 1, 0);

		if (got < 0)
			return -errno;
		/* nothing moved: the range ends in a hole (unmapped) */
		if (!got)
			return -EFAULT;
		done += (uint64_t)got;
		for (uint64_t left = (uint64_t)got; left;) {
			uint64_t c = l->iov_len < left ? l->iov_len : left;

			l->iov_base = (char *)l->iov_base + c;
			l->iov_len -= c;
			left -= c;
			if (!l->iov_len && n > 1) {
				memmove(l, l + 1, --n * sizeof(*l));
			}
		}
	}
	return 0;
}

int gz_sys_procmem_why(char *why, size_t len)
{
	uint64_t src = 0x6765677a, dst = 0;
	struct iovec l = { &dst, sizeof(dst) };
	FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re");
	int scope = 0, ret;

	why[0] = 0;
	/* scope 1 lets a process reach its descendants only: peers are not */
	if (f) {
		if (fscanf(f, "%d", &scope) != 1)
			scope = 0;
		fclose(f);
	}
	if (scope > 0) {
		snprintf(why, len, "kernel.yama.ptrace_scope is %d (peers may "
			 "not reach each other's private memory; 0 allows it)",
			 scope);
		return -EPERM;
	}
	/* only what this process may do: a target's own rules (not
	 * dumpable, a security module) show at the access */
	ret = gz_sys_procmem_copy(getpid(), (uintptr_t)&src, &l, 1,
				  sizeof(src), 0);
	if (ret || dst != src) {
		snprintf(why, len, "process_vm_readv fails here (%s: a seccomp "
			 "filter?)", strerror(ret ? -ret : EIO));
		return ret ? ret : -EIO;
	}
	return 0;
}

/* What /proc/<pid>/fdinfo/<fd> says of one open file: its open flags,
 * mount and inode. The kernel writes it from its own records and never
 * asks the file's file system (a hung mount cannot hang us). */
struct fdinfo {
	unsigned int flags;
	uint64_t mnt_id, ino;
};

static int fdinfo_read(int dirfd, const char *name, struct fdinfo *o)
{
	char buf[512], *p;
	unsigned long long v;
	int got = 0, ret = gz_sys_read_small(dirfd, name, buf, sizeof(buf));

	if (ret)
		return ret;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (sscanf(p, "flags: %llo", &v) == 1) {
			o->flags = (unsigned int)v;
			got |= 1;
		} else if (sscanf(p, "mnt_id: %llu", &v) == 1) {
			o->mnt_id = v;
			got |= 2;
		} else if (sscanf(p, "ino: %llu", &v) == 1) {
			o->ino = v;
			got |= 4;
		}
	}
	return got == 7 ? 0 : -EIO;
}

int gz_sys_fd_id(int fd, uint64_t id[2])
{
	struct fdinfo o;
	char path[40];
	int ret;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	ret = fdinfo_read(AT_FDCWD, path, &o);
	if (!ret) {
		id[0] = o.mnt_id;
		id[1] = o.ino;
	}
	return ret;
}

int gz_sys_procmem_owner(pid_t pid, const uint64_t id[2])
{
	char path[32];
	struct fdinfo o;
	struct dirent *d;
	int found = 0;
	DIR *dp;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo", (int)pid);
	dp = opendir(path);
	if (!dp)
		return -errno;
	while (!found && (d = readdir(dp)))
		found = d->d_name[0] != '.' &&
			!fdinfo_read(dirfd(dp), d->d_name, &o) &&
			o.mnt_id == id[0] && o.ino == id[1] &&
			(o.flags & O_ACCMODE) == O_RDWR;
	closedir(dp);
	return found;
}
