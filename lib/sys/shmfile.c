// SPDX-License-Identifier: MIT
/*
 * Named shared-memory files: data-space segments a peer maps on its own.
 * Every open is relative to the private directory, refuses symlinks, and
 * checks with fstat what it got; every mapping takes its size from fstat.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gz.h"
#include "sys/sys.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

int gz_sys_open_owned(int dirfd, const char *name, int flags, mode_t type,
		      uint64_t min, uint64_t *size)
{
	struct stat st;
	int fd = openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC);
	const char *why = NULL;

	if (fd < 0)
		return errno == ELOOP ? gz_err(-EPERM, "%s is a symlink", name) :
					-errno;
	if (fstat(fd, &st))
		why = "fstat failed";
	else if ((st.st_mode & S_IFMT) != type)
		why = "not the kind of file expected";
	else if (st.st_uid != geteuid())
		why = "owned by another user";
	else if (st.st_nlink != 1)
		why = "has more than one link";
	else if (type == S_IFREG && (uint64_t)st.st_size < min)
		why = "shorter than its owner says";
	if (why) {
		close(fd);
		return gz_err(-EPERM, "%s: %s", name, why);
	}
	if (size)
		*size = (uint64_t)st.st_size;
	return fd;
}

/* Fault every page in now: with huge pages a missing page must be an
 * error here, not a SIGBUS on some later access. */
int gz_sys_populate(void *addr, uint64_t len, uint64_t page_size)
{
	if (!madvise(addr, len, MADV_POPULATE_WRITE))
		return 0;
	if (errno != EINVAL)
		return -ENOMEM;
	/* Kernels before 5.14: hugetlbfs reserved the pages at mmap time,
	 * so touching cannot fault; tmpfs can only fail for want of memory,
	 * which the caller's budget bounds. */
	for (uint64_t off = 0; off < len; off += page_size)
		((volatile uint8_t *)addr)[off] = 0;
	return 0;
}

/* Create @name (owner-only, must not exist), size it, map it shared.
 * Return: the fd and *addr, or -errno with nothing left behind. */
static int create_mapped(int dirfd, const char *name, uint64_t len,
			 void **addr)
{
	int fd = openat(dirfd, name,
			O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	int ret;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)len)) {
		ret = -errno;
		goto unlink_file;
	}
	*addr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (*addr != MAP_FAILED)
		return fd;
	ret = -errno;
unlink_file:
	unlinkat(dirfd, name, 0);
	close(fd);
	return ret;
}

int gz_sys_shmfile_create(int dirfd, const char *name, uint64_t len,
			  uint64_t page_size, int node, int flags,
			  struct gz_shmfile *f)
{
	void *addr;
	int fd, ret;

	fd = create_mapped(dirfd, name, len, &addr);
	if (fd < 0)
		return fd;
	ret = gz_sys_numa_bind(addr, len, node);
	if (ret && ret != -ENOSYS)
		goto unmap;
	ret = gz_sys_populate(addr, len, page_size);
	if (ret)
		goto unmap;
	if ((flags & GZ_SHMFILE_LOCK) && mlock(addr, len)) {
		ret = -errno;
		goto unmap;
	}
	/* Per segment, not per registration: keeps vm.max_map_count low. */
	madvise(addr, len, MADV_DONTFORK);
	f->fd = -1;
	if (flags & GZ_SHMFILE_KEEP_FD)
		f->fd = fd;
	else
		close(fd);
	f->addr = addr;
	f->len = len;
	f->page_size = page_size;
	f->node = node;
	return 0;

unmap:
	munmap(addr, len);
	unlinkat(dirfd, name, 0);
	close(fd);
	return ret;
}

int gz_sys_shmfile_map(int dirfd, const char *name, uint64_t min,
		       uint64_t max, int writable, void **addr, uint64_t *len,
		       uint64_t *id)
{
	uint64_t size;
	int fd = gz_sys_open_owned(dirfd, name, writable ? O_RDWR : O_RDONLY,
				   S_IFREG, min ? min : 1, &size);
	void *p;

	if (fd < 0)
		return fd;
	/* the file we map, not whatever has its name a moment later */
	if (id && gz_sys_fd_id(fd, id)) {
		close(fd);
		return -EIO;
	}
	if (max && size > max) {
		close(fd);
		return gz_err(-EPERM, "%s: %" PRIu64 " bytes, more than the "
			      "%" PRIu64 " its kind has", name, size, max);
	}
	p = mmap(NULL, size, PROT_READ | (writable ? PROT_WRITE : 0),
		 MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -errno;
	madvise(p, size, MADV_DONTFORK);
	*addr = p;
	*len = size;
	return 0;
}

/* One line of /proc/self/maps covers [lo, hi); 1 if it is private
 * anonymous read-write memory, 0 if not, -1 if it does not parse. */
static int anon_rw(const char *line, uint64_t *lo, uint64_t *hi,
		   const char *unused)
{
	char perm[8] = "", path[32] = "";
	unsigned long long a, b, ino;
	int n = sscanf(line, "%llx-%llx %7s %*s %*s %llu %31s", &a, &b, perm,
		       &ino, path);

	(void)unused;
	if (n < 4)
		return -1;
	*lo = a;
	*hi = b;
	return !strcmp(perm, "rw-p") && !ino &&
	       (n == 4 || !strcmp(path, "[heap]") ||
		!strncmp(path, "[anon:", 6));
}

/* The same for a shared read-write mapping of the file called name:
 * "rw-s ... /dev/shm/genzio-0/<name>", nothing else. */
static int shared_file(const char *line, uint64_t *lo, uint64_t *hi,
		       const char *name)
{
	size_t nlen = strlen(name), plen;
	unsigned long long a, b;
	char perm[8];
	const char *path;

	if (sscanf(line, "%llx-%llx %7s", &a, &b, perm) != 3)
		return -1;
	*lo = a;
	*hi = b;
	path = strchr(line, '/');
	plen = path ? strcspn(path, "\n") : 0;
	return !strcmp(perm, "rw-s") && plen >= nlen + 1 &&
	       path[plen - nlen - 1] == '/' &&
	       !strncmp(path + plen - nlen, name, nlen);
}

/* 1 if the lines of /proc/self/maps that kind() accepts cover
 * [addr, addr + len) without a gap, 0 if not, -errno if it can't tell. */
static int maps_cover(const void *addr, uint64_t len,
		      int (*kind)(const char *, uint64_t *, uint64_t *,
				  const char *),
		      const char *arg)
{
	uint64_t want = (uintptr_t)addr, end = want + len;
	FILE *f = fopen("/proc/self/maps", "re");
	char *line = NULL;
	size_t cap = 0;
	int ok;

	if (!f)
		return -errno;
	/* the lines are sorted: walk the ones that cover us */
	while (want < end && getline(&line, &cap, f) > 0) {
		uint64_t lo, hi;
		int r = kind(line, &lo, &hi, arg);

		if (r < 0 || hi <= want)
			continue;
		if (lo > want || !r)
			break;
		want = hi;
	}
	ok = want >= end;
	free(line);
	fclose(f);
	return ok;
}

int gz_sys_range_is_private_anon(const void *addr, uint64_t len)
{
	return maps_cover(addr, len, anon_rw, NULL);
}

int gz_sys_range_is_file(const void *addr, uint64_t len, const char *name)
{
	return maps_cover(addr, len, shared_file, name);
}

int gz_sys_shmfile_convert(int dirfd, const char *name, void *addr,
			   uint64_t len)
{
	void *tmp, *p;
	int fd, ret;

	fd = create_mapped(dirfd, name, len, &tmp);
	if (fd < 0)
		return fd;
	ret = gz_sys_populate(tmp, len, GZ_PAGE_4K);
	if (ret)
		goto unmap_tmp;
	memcpy(tmp, addr, len);
	/* Same bytes, same addresses, now backed by a file peers can map. */
	p = mmap(addr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
		 0);
	if (p == MAP_FAILED) {
		ret = -errno;
		goto unmap_tmp;
	}
	madvise(addr, len, MADV_DONTFORK);
	munmap(tmp, len);
	close(fd);
	return 0;

unmap_tmp:
	munmap(tmp, len);
	unlinkat(dirfd, name, 0);
	close(fd);
	return ret;
}

int gz_sys_shmfile_restore(void *addr, uint64_t len)
{
	void *tmp = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (tmp == MAP_FAILED)
		return -errno;
	memcpy(tmp, addr, len);
	/* One step: the shared pages at @addr give way to private ones
	 * holding the same bytes, with no moment where @addr is unmapped. */
	if (mremap(tmp, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, addr) ==
	    MAP_FAILED) {
		int ret = -errno;

		munmap(tmp, len);
		return ret;
	}
	return 0;
}

void gz_sys_shmfile_unmap(void *addr, uint64_t len)
{
	munmap(addr, len);
}
