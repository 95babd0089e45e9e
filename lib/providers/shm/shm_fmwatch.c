// SPDX-License-Identifier: MIT
/*
 * Waking a context's event fd when the fabric manager changes the fabric
 * (its pwrite() after each change: lib/fabric/fm_manage.c). One inotify
 * instance per process (fs.inotify.max_user_instances is 128 per user),
 * separate from shm_watch.c's: that one is in every completion channel's
 * set too, and a fabric change is no completion. Contexts of one fabric
 * share a watch (one inode); whoever reads the instance writes the
 * eventfd of every context a change names, and each harvests its own.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "providers/shm/shm.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int ino = -1;		    /* the instance, while anyone watches */
static struct gz_shm_ctx *watching; /* through ->fm_next */
static int noticed;

static void fork_prepare(void)
{
	pthread_mutex_lock(&lock);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&lock);
}

/* The child must neither read the parent's events nor wake its
 * contexts: it starts over. */
static void fork_child(void)
{
	if (ino >= 0)
		close(ino);
	ino = -1;
	watching = NULL;
	pthread_mutex_unlock(&lock);
}

static void init(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* Under the lock: whether a watching context uses watch @wd. */
static int shares(int wd)
{
	for (struct gz_shm_ctx *c = watching; c; c = c->fm_next)
		if (c->fm_wd == wd)
			return 1;
	return 0;
}

void gz_shm_fm_watch_start(struct gz_shm_ctx *ctx)
{
	char path[32];
	int wd = -1;

	pthread_once(&once, init);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", ctx->fm.fd);
	ctx->fm_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pthread_mutex_lock(&lock);
	if (ino < 0)
		ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ino >= 0 && ctx->fm_efd >= 0)
		wd = inotify_add_watch(ino, path, IN_MODIFY);
	if (wd >= 0 && !gz_shm_watch_add(ctx->base.ev.epfd, ino)) {
		if (!gz_shm_watch_add(ctx->base.ev.epfd, ctx->fm_efd)) {
			ctx->fm_wd = wd;
			ctx->fm_pid = getpid();
			ctx->fm_next = watching;
			watching = ctx;
			pthread_mutex_unlock(&lock);
			return;
		}
		/* half in the set: every change would wake its waits */
		epoll_ctl(ctx->base.ev.epfd, EPOLL_CTL_DEL, ino, NULL);
	}
	if (wd >= 0 && !shares(wd))
		inotify_rm_watch(ino, wd);
	if (ino >= 0 && !watching) {
		close(ino);
		ino = -1;
	}
	pthread_mutex_unlock(&lock);
	if (ctx->fm_efd >= 0)
		close(ctx->fm_efd);
	ctx->fm_efd = -1;
	gz_log_notice_once(&noticed, "cannot watch the fabric manager's "
				     "file: fabric events wait for the next "
				     "genzio_event_get()");
}

void gz_shm_fm_watch_stop(struct gz_shm_ctx *ctx)
{
	if (ctx->fm_efd < 0)
		return;
	pthread_mutex_lock(&lock);
	/* a context a forked child inherited is on no list of its own */
	if (ctx->fm_pid == getpid()) {
		for (struct gz_shm_ctx **pp = &watching; *pp;
		     pp = &(*pp)->fm_next)
			if (*pp == ctx) {
				*pp = ctx->fm_next;
				break;
			}
		if (!shares(ctx->fm_wd))
			inotify_rm_watch(ino, ctx->fm_wd);
		if (!watching) {
			close(ino);
			ino = -1;
		}
	}
	pthread_mutex_unlock(&lock);
	close(ctx->fm_efd);
	ctx->fm_efd = -1;
}

void gz_shm_fm_watch_drain(struct gz_shm_ctx *ctx)
{
	char buf[4096] __attribute__((aligned(8)));
	uint64_t n;
	ssize_t got;

	if (ctx->fm_efd < 0 || ctx->fm_pid != getpid())
		return;
	pthread_mutex_lock(&lock);
	while (ino >= 0 && (got = read(ino, buf, sizeof(buf))) > 0)
		for (ssize_t off = 0; off < got;) {
			const struct inotify_event *e =
			    (const void *)(buf + off);
			const uint64_t one = 1;

			for (struct gz_shm_ctx *c = watching; c; c = c->fm_next)
				if ((c->fm_wd == e->wd ||
				     (e->mask & IN_Q_OVERFLOW)) &&
				    write(c->fm_efd, &one, sizeof(one)) < 0) {
					/* readable already */
				}
			off += (ssize_t)(sizeof(*e) + e->len);
		}
	pthread_mutex_unlock(&lock);
	/* level-triggered: read ours, or every wait wakes at once */
	if (read(ctx->fm_efd, &n, sizeof(n)) < 0) {
		/* EAGAIN: nothing named us */
	}
}
