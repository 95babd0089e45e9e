// SPDX-License-Identifier: MIT
/*
 * Names of a component's files, the private directories they live in,
 * and the sweep of what a dead component left behind. Paths are built
 * from our own values only: the fabric name we were given, CIDs and
 * incarnations from the registry, segment ids below GZ_SHM_MAX_SEG.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "providers/shm/shm.h"

void gz_shm_name(const struct gz_shm_ctx *ctx, char *buf, size_t len,
		 uint32_t cid, uint64_t inc, const char *suffix)
{
	snprintf(buf, len, "%s-%u-%" PRIu64 "%s", ctx->fabric.name, cid, inc,
		 suffix);
}

int gz_shm_comp_ours(const struct gz_shm_ctx *ctx)
{
	char name[64];
	struct stat st;

	gz_shm_name(ctx, name, sizeof(name), ctx->cid, ctx->incarnation,
		    ".comp");
	return !fstatat(ctx->dirfd[GZ_SHM_DIR_SHM], name, &st,
			AT_SYMLINK_NOFOLLOW) &&
	       (uint64_t)st.st_dev == ctx->comp_dev &&
	       (uint64_t)st.st_ino == ctx->comp_ino;
}

void gz_shm_seg_name(const struct gz_shm_ctx *ctx, char *buf, size_t len,
		     uint32_t cid, uint64_t inc, uint32_t seg)
{
	char suffix[16];

	snprintf(suffix, sizeof(suffix), "-%u", seg);
	gz_shm_name(ctx, buf, len, cid, inc, suffix);
}

void gz_shm_sweep(void *arg, uint32_t cid, uint64_t inc)
{
	struct gz_shm_ctx *ctx = arg;
	char prefix[64];
	size_t plen;

	gz_shm_name(ctx, prefix, sizeof(prefix), cid, inc, "");
	plen = strlen(prefix);
	for (int i = 0; i < GZ_SHM_NDIRS; i++) {
		struct dirent *de;
		DIR *d;
		int fd;

		/* a fresh open, not dup(): a dup shares the directory's
		 * offset, and the next sweep would start at its end */
		if (ctx->dirfd[i] < 0 ||
		    (fd = openat(ctx->dirfd[i], ".",
				 O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			continue;
		d = fdopendir(fd);
		if (!d) {
			close(fd);
			continue;
		}
		while ((de = readdir(d)))
			/* "<prefix>.comp", "<prefix>.guard", "<prefix>-<n>" */
			if (!strncmp(de->d_name, prefix, plen) &&
			    (de->d_name[plen] == '.' || de->d_name[plen] == '-'))
				unlinkat(ctx->dirfd[i], de->d_name, 0);
		closedir(d);
	}
}

uint64_t gz_shm_now_ns(void)
{
	return gz_sys_now_ns();
}
