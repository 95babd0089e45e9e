// SPDX-License-Identifier: MIT
/*
 * The per-user directory every fabric file lives in. /dev/shm is sticky
 * and world-writable, and on many machines (these included) the kernel's
 * protected_symlinks/regular settings are off: mode bits on a file do not
 * stop another user from planting a symlink or a file under a name we are
 * about to use. A directory only we can enter does.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gz.h"
#include "sys/sys.h"

/* Say why in @why; the caller decides whether that is an error. */
static int refuse(int ret, char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int refuse(int ret, char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return ret;
}

int gz_sys_privdir_open(const char *base, int *out, char *why, size_t len)
{
	char name[32];
	struct stat st;
	int bfd, fd;

	snprintf(name, sizeof(name), "genzio-%u", (unsigned)geteuid());
	bfd = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (bfd < 0)
		return refuse(-errno, why, len, "%s: %s", base,
			      strerror(errno));
	if (mkdirat(bfd, name, 0700) && errno != EEXIST) {
		int ret = -errno;

		close(bfd);
		if (ret == -EACCES || ret == -EPERM)
			return refuse(ret, why, len, "%s is not writable for "
				      "uid %u (mkdir %s: %s)", base,
				      (unsigned)geteuid(), name,
				      strerror(-ret));
		return refuse(ret, why, len, "mkdir %s/%s: %s", base, name,
			      strerror(-ret));
	}
	fd = openat(bfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	close(bfd);
	if (fd < 0)
		return refuse(errno == ELOOP || errno == ENOTDIR ? -EACCES :
								   -errno,
			      why, len, "%s/%s is not a directory we can use "
			      "(%s): another user may have put it there; "
			      "remove it", base, name, strerror(errno));
	if (fstat(fd, &st)) {
		int ret = -errno;

		close(fd);
		return refuse(ret, why, len, "fstat %s/%s: %s", base, name,
			      strerror(-ret));
	}
	/* ours, but a umask like 0277 made it 0500: set what we meant. One
	 * that others could write may hold their files already: refused. */
	if (S_ISDIR(st.st_mode) && st.st_uid == geteuid() &&
	    !(st.st_mode & 022) && (st.st_mode & 07777) != 0700 &&
	    !fchmod(fd, 0700))
		st.st_mode = (st.st_mode & ~07777u) | 0700;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 07777) != 0700) {
		close(fd);
		return refuse(-EACCES, why, len, "%s/%s belongs to uid %u "
			      "with mode %04o, not to uid %u with 0700: refusing "
			      "it (another user's squat?); remove it", base,
			      name, (unsigned)st.st_uid,
			      (unsigned)(st.st_mode & 07777),
			      (unsigned)geteuid());
	}
	*out = fd;
	return 0;
}

const char *gz_sys_base_dir(void)
{
	const char *d = getenv("GENZIO_SHM_DIR");

	return d && *d ? d : "/dev/shm";
}
