// SPDX-License-Identifier: MIT
/* Open-file-description locks with a bounded wait. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "sys/sys.h"

int gz_sys_filelock(int fd, int timeout_ms)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_start = 0, .l_len = 1 };
	uint64_t end = (gz_sys_now_ns() / 1000000u) + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	struct timespec nap = { 0, 50000 };

	for (;;) {
		if (!fcntl(fd, F_OFD_SETLK, &fl))
			return 0;
		if (errno != EAGAIN && errno != EACCES && errno != EINTR)
			return -errno;
		if ((gz_sys_now_ns() / 1000000u) >= end)
			return -ETIMEDOUT;
		/* no F_OFD_SETLKW: it cannot be bounded without a signal */
		nanosleep(&nap, NULL);
		if (nap.tv_nsec < 1000000)
			nap.tv_nsec *= 2;
	}
}

void gz_sys_fileunlock(int fd)
{
	struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET,
			    .l_start = 0, .l_len = 1 };

	fcntl(fd, F_OFD_SETLK, &fl);
}

int gz_sys_filelock_held(int fd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_start = 0, .l_len = 1 };
	char path[32];
	int own, ret;

	/* F_OFD_GETLK through @fd would not see a lock @fd itself holds */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	own = open(path, O_RDWR | O_CLOEXEC);
	if (own < 0)
		return -errno;
	ret = fcntl(own, F_OFD_GETLK, &fl) ? -errno : fl.l_type != F_UNLCK;
	close(own);
	return ret;
}
