// SPDX-License-Identifier: MIT
/* Named shared-memory files: data-space segments a peer maps on its own. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sys/sys.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Fault every page in now: with huge pages a missing page must be an
 * error here, not a SIGBUS on some later access. */
static int populate(void *addr, uint64_t len, uint64_t page_size)
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

/* Create @path (owner-only, must not exist), size it, map it shared.
 * Return: the fd and *addr, or -errno with nothing left behind. */
static int create_mapped(const char *path, uint64_t len, void **addr)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600), ret;

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
	unlink(path);
	close(fd);
	return ret;
}

int gz_sys_shmfile_create(const char *path, uint64_t len, uint64_t page_size,
			  int node, int lock, struct gz_shmfile *f)
{
	void *addr;
	int fd, ret;

	fd = create_mapped(path, len, &addr);
	if (fd < 0)
		return fd;
	ret = gz_sys_numa_bind(addr, len, node);
	if (ret && ret != -ENOSYS)
		goto unmap;
	ret = populate(addr, len, page_size);
	if (ret)
		goto unmap;
	if (lock && mlock(addr, len)) {
		ret = -errno;
		goto unmap;
	}
	/* Per segment, not per registration: keeps vm.max_map_count low. */
	madvise(addr, len, MADV_DONTFORK);
	close(fd);
	f->addr = addr;
	f->len = len;
	f->page_size = page_size;
	f->node = node;
	return 0;

unmap:
	munmap(addr, len);
	unlink(path);
	close(fd);
	return ret;
}

int gz_sys_shmfile_map(const char *path, uint64_t len, int writable,
		       void **addr)
{
	int fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	void *p;

	if (fd < 0)
		return -errno;
	p = mmap(NULL, len, PROT_READ | (writable ? PROT_WRITE : 0),
		 MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -errno;
	madvise(p, len, MADV_DONTFORK);
	*addr = p;
	return 0;
}

int gz_sys_shmfile_convert(const char *path, void *addr, uint64_t len)
{
	void *tmp, *p;
	int fd, ret;

	fd = create_mapped(path, len, &tmp);
	if (fd < 0)
		return fd;
	ret = populate(tmp, len, GZ_PAGE_4K);
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
	unlink(path);
	close(fd);
	return ret;
}

void gz_sys_shmfile_unmap(void *addr, uint64_t len)
{
	munmap(addr, len);
}
