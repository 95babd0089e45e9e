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
 * whoever reads it marks the contexts the events name and writes their
 * own eventfds (also in those sets), and each context then looks at its
 * own file.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "providers/shm/shm.h"

static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t watch_once = PTHREAD_ONCE_INIT;
static int watch_fd = -1;		/* the instance, while anyone watches */
static struct gz_shm_ctx *watched;	/* through ->watch_next */
static int noticed;

/* A forked child shares the instance with its parent: it must not read
 * the parent's events, nor wake the parent's contexts. It starts over. */
static void fork_prepare(void)
{
	pthread_mutex_lock(&watch_lock);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&watch_lock);
}

static void fork_child(void)
{
	if (watch_fd >= 0)
		close(watch_fd);
	watch_fd = -1;
	watched = NULL;
	pthread_mutex_unlock(&watch_lock);
}

static void watch_init(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

int gz_shm_watch_add(int epfd, int fd)
{
	struct epoll_event e = { .events = EPOLLIN, .data.u64 = GZ_SHM_EV_WATCH };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) ? -errno : 0;
}

void gz_shm_watch_start(struct gz_shm_ctx *ctx)
{
	char path[32];
	int wd = -1, err = 0;

	pthread_once(&watch_once, watch_init);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", ctx->comp_fd);
	ctx->watch_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pthread_mutex_lock(&watch_lock);
	if (watch_fd < 0)
		watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (watch_fd >= 0 && ctx->watch_efd >= 0)
		wd = inotify_add_watch(watch_fd, path, IN_ATTRIB |
						       IN_DELETE_SELF |
						       IN_MOVE_SELF);
	err = errno;
	if (wd >= 0) {
		ctx->watch_wd = wd;
		ctx->watch_pid = getpid();
		ctx->watch_next = watched;
		watched = ctx;
		ctx->inofd = watch_fd;
	} else if (watch_fd >= 0 && !watched) {
		close(watch_fd);
		watch_fd = -1;
	}
	pthread_mutex_unlock(&watch_lock);
	if (wd >= 0 && !gz_shm_watch_add(ctx->base.ev.epfd, ctx->inofd) &&
	    !gz_shm_watch_add(ctx->base.ev.epfd, ctx->watch_efd))
		return;
	gz_log_notice_once(&noticed, "cannot watch genzio's files (%s): their "
			   "removal will not be noticed",
			   strerror(wd < 0 ? err : errno));
	if (wd < 0 && ctx->watch_efd >= 0) {
		close(ctx->watch_efd);
		ctx->watch_efd = -1;
	}
}

int gz_shm_watch_chan_add(struct gz_shm_ctx *ctx, int epfd)
{
	int ret;

	if (ctx->inofd < 0)
		return 0;
	/* the instance, to wake a waiter to read it; our eventfd, which
	 * whoever read it writes when an event names us */
	ret = gz_shm_watch_add(epfd, ctx->inofd);
	return ret ? ret : gz_shm_watch_add(epfd, ctx->watch_efd);
}

void gz_shm_watch_stop(struct gz_shm_ctx *ctx)
{
	if (ctx->inofd < 0)
		return;
	pthread_mutex_lock(&watch_lock);
	/* a context a forked child inherited is on no list of its own */
	if (ctx->watch_pid == getpid()) {
		inotify_rm_watch(watch_fd, ctx->watch_wd);
		for (struct gz_shm_ctx **pp = &watched; *pp;
		     pp = &(*pp)->watch_next)
			if (*pp == ctx) {
				*pp = ctx->watch_next;
				break;
			}
		if (!watched) {
			close(watch_fd);
			watch_fd = -1;
		}
	}
	pthread_mutex_unlock(&watch_lock);
	close(ctx->watch_efd);
	ctx->watch_efd = -1;
	ctx->inofd = -1;
}

/* Mark @c (its file may be gone) and wake whoever waits on it. */
static void suspect(struct gz_shm_ctx *c)
{
	const uint64_t one = 1;

	atomic_store(&c->comp_suspect, 1);
	if (write(c->watch_efd, &one, sizeof(one)) < 0) {
		/* readable already */
	}
}

/* Read what the instance has, for whichever context, and mark each
 * context an event names (all of them when events were lost). Under
 * watch_lock. */
static void drain(void)
{
	char buf[4096] __attribute__((aligned(8)));
	ssize_t n;

	while (watch_fd >= 0 && (n = read(watch_fd, buf, sizeof(buf))) > 0)
		for (ssize_t off = 0; off < n;) {
			const struct inotify_event *e = (const void *)(buf + off);

			for (struct gz_shm_ctx *c = watched; c;
			     c = c->watch_next)
				if (c->watch_wd == e->wd ||
				    (e->mask & IN_Q_OVERFLOW))
					suspect(c);
			off += (ssize_t)(sizeof(*e) + e->len);
		}
}

void gz_shm_comp_check(struct gz_shm_ctx *ctx, int locked)
{
	uint64_t n;

	if (ctx->inofd < 0 || ctx->watch_pid != getpid())
		return;
	pthread_mutex_lock(&watch_lock);
	drain();
	pthread_mutex_unlock(&watch_lock);
	/* level-triggered: read, or every wait wakes at once */
	if (read(ctx->watch_efd, &n, sizeof(n)) < 0) {
		/* EAGAIN: nothing named us */
	}
	if (!atomic_exchange(&ctx->comp_suspect, 0))
		return;
	/* a chmod or a touch is an event too: only a file that is no
	 * longer ours under our name counts */
	if (gz_shm_comp_ours(ctx))
		return;
	if (!locked)
		gz_ctx_lock(&ctx->base);
	gz_device_fatal(&ctx->base, GENZIO_WC_GENERAL_ERR,
			"its component file was removed or replaced (rm, or "
			"systemd-logind RemoveIPC=yes at logout?)");
	if (!locked)
		gz_ctx_unlock(&ctx->base);
}
