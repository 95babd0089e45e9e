// SPDX-License-Identifier: MIT
/*
 * Whether our component file is still ours. Removed or replaced (an rm -rf
 * of the directory, systemd-logind's RemoveIPC=yes at logout), no new peer
 * can reach us: the device is gone (gz_device_fatal).
 *
 * One inotify instance serves every context of the process, a watch per
 * context on its file through the fd it holds (an unlink changes the link
 * count: IN_ATTRIB): fs.inotify.max_user_instances is 128 per user, and a
 * node runs more ranks than that. The instance's fd is in every context's
 * event set and every channel's set, so a waiter wakes without a thread;
 * whoever reads it marks the contexts the events name and wakes their
 * event fds, and each context then looks at its own file.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "providers/shm/shm.h"

/* The tag of the watch in an event set: no cid. */
#define EV_WATCH ((uint64_t)UINT32_MAX << 32)

static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static int watch_fd = -1;		/* the instance, while anyone watches */
static struct gz_shm_ctx *watched;	/* through ->watch_next */
static int noticed;

void gz_shm_watch_start(struct gz_shm_ctx *ctx)
{
	struct epoll_event e = { .events = EPOLLIN, .data.u64 = EV_WATCH };
	char path[32];
	int wd = -1, err = 0;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", ctx->comp_fd);
	pthread_mutex_lock(&watch_lock);
	if (watch_fd < 0)
		watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (watch_fd >= 0)
		wd = inotify_add_watch(watch_fd, path, IN_ATTRIB |
						       IN_DELETE_SELF |
						       IN_MOVE_SELF);
	err = errno;
	if (wd >= 0) {
		ctx->watch_wd = wd;
		ctx->watch_next = watched;
		watched = ctx;
		ctx->inofd = watch_fd;
	} else if (watch_fd >= 0 && !watched) {
		close(watch_fd);
		watch_fd = -1;
	}
	pthread_mutex_unlock(&watch_lock);
	if (wd < 0 || epoll_ctl(ctx->base.ev.epfd, EPOLL_CTL_ADD, ctx->inofd,
				&e))
		gz_log_notice_once(&noticed, "cannot watch genzio's files (%s): "
				   "their removal will not be noticed",
				   strerror(wd < 0 ? err : errno));
}

void gz_shm_watch_stop(struct gz_shm_ctx *ctx)
{
	if (ctx->inofd < 0)
		return;
	pthread_mutex_lock(&watch_lock);
	inotify_rm_watch(watch_fd, ctx->watch_wd);
	for (struct gz_shm_ctx **pp = &watched; *pp; pp = &(*pp)->watch_next)
		if (*pp == ctx) {
			*pp = ctx->watch_next;
			break;
		}
	if (!watched) {
		close(watch_fd);
		watch_fd = -1;
	}
	pthread_mutex_unlock(&watch_lock);
	ctx->inofd = -1;
}

/* Read what the instance has, for whichever context: mark each context
 * named and make its event fd readable. Under watch_lock. */
static void drain(void)
{
	char buf[4096] __attribute__((aligned(8)));
	const uint64_t one = 1;
	ssize_t n;

	while ((n = read(watch_fd, buf, sizeof(buf))) > 0)
		for (ssize_t off = 0; off < n;) {
			const struct inotify_event *e = (const void *)(buf + off);

			for (struct gz_shm_ctx *c = watched; c;
			     c = c->watch_next)
				if (c->watch_wd == e->wd) {
					atomic_store(&c->comp_suspect, 1);
					if (write(c->base.ev.efd, &one,
						  sizeof(one)) < 0) {
						/* readable already */
					}
				}
			off += (ssize_t)(sizeof(*e) + e->len);
		}
}

void gz_shm_comp_check(struct gz_shm_ctx *ctx, int locked)
{
	char name[64];
	struct stat st;

	if (ctx->inofd < 0)
		return;
	pthread_mutex_lock(&watch_lock);
	drain();
	pthread_mutex_unlock(&watch_lock);
	if (!atomic_exchange(&ctx->comp_suspect, 0))
		return;
	/* a chmod or a touch is an event too: only a file that is no
	 * longer ours under our name counts */
	gz_shm_name(ctx, name, sizeof(name), ctx->cid, ctx->incarnation,
		    ".comp");
	if (!fstatat(ctx->dirfd[GZ_SHM_DIR_SHM], name, &st,
		     AT_SYMLINK_NOFOLLOW) &&
	    (uint64_t)st.st_dev == ctx->comp_dev &&
	    (uint64_t)st.st_ino == ctx->comp_ino)
		return;
	if (!locked)
		gz_ctx_lock(&ctx->base);
	gz_device_fatal(&ctx->base, GENZIO_WC_GENERAL_ERR,
			"its component file was removed or replaced (rm, or "
			"systemd-logind RemoveIPC=yes at logout?)");
	if (!locked)
		gz_ctx_unlock(&ctx->base);
}
