// SPDX-License-Identifier: MIT
/*
 * Unsolicited events of the shm provider: peers that exit (their pidfds
 * in the context's event set), completion queues that overran, and the
 * device going away: our component file removed or replaced (rm -rf of
 * the directory, systemd-logind's RemoveIPC=yes at logout), after which
 * no new peer can reach us.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "providers/shm/shm.h"

/* The tag of the component file's watch in the event set: no cid. */
#define EV_COMP ((uint64_t)UINT32_MAX << 32)

static int noticed;

static void comp_name(const struct gz_shm_ctx *ctx, char *buf, size_t len)
{
	gz_shm_name(ctx, buf, len, ctx->cid, ctx->incarnation, ".comp");
}

/*
 * Watch our component file (inotify: an unlink changes its link count,
 * IN_ATTRIB), from the context's event fd and from every channel's fd.
 * Without an inotify instance (fs.inotify.max_user_instances) nothing
 * tells us: said once, and the context works on as before.
 */
void gz_shm_event_watch(struct genzio_context *base)
{
	struct gz_shm_ctx *ctx = to_shm_ctx(base);
	struct epoll_event e = { .events = EPOLLIN, .data.u64 = EV_COMP };
	char name[64], path[64];

	comp_name(ctx, name, sizeof(name));
	/* the file itself, through the fd we hold: not what has its name */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", ctx->comp_fd);
	ctx->inofd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ctx->inofd >= 0 &&
	    inotify_add_watch(ctx->inofd, path, IN_ATTRIB | IN_DELETE_SELF |
						IN_MOVE_SELF) >= 0 &&
	    !epoll_ctl(base->ev.epfd, EPOLL_CTL_ADD, ctx->inofd, &e))
		return;
	gz_log_notice_once(&noticed, "cannot watch %s (%s): the removal of "
			   "genzio's files will not be noticed", name,
			   strerror(errno));
	if (ctx->inofd >= 0)
		close(ctx->inofd);
	ctx->inofd = -1;
}

void gz_shm_comp_check(struct gz_shm_ctx *ctx, int locked)
{
	char buf[4096] __attribute__((aligned(8)));
	char name[64];
	struct stat st;
	int any = 0;

	if (ctx->inofd < 0)
		return;
	while (read(ctx->inofd, buf, sizeof(buf)) > 0)
		any = 1;
	if (!any)
		return;
	/* a chmod or a touch is an event too: only a file that is no
	 * longer ours under our name counts */
	comp_name(ctx, name, sizeof(name));
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

void gz_shm_device_fatal(struct genzio_context *base, uint8_t status)
{
	struct gz_shm_ctx *ctx = to_shm_ctx(base);
	uint32_t none = UINT32_MAX;

	for (uint32_t i = 0; i < GZ_SHM_MAX_QP; i++) {
		struct gz_shm_qp *qp = atomic_load(&ctx->qp[i]);

		if (qp)
			gz_shm_qp_down(qp, status);
	}
	/* a waiter with no armed cq wakes too, and hears -ENODEV: an id no
	 * cq has */
	for (uint32_t i = 0; i < GZ_SHM_MAX_CHANNELS; i++)
		if (ctx->chan[i] &&
		    write(ctx->chan[i]->rfd, &none, sizeof(none)) < 0) {
			/* a full FIFO holds a wake-up already */
		}
}

/* Raise CQ_OVERRUN once for @cq (the event fd becomes readable). */
void gz_shm_cq_overrun_event(struct gz_shm_cq *cq)
{
	struct genzio_event e = { .type = GENZIO_EVENT_CQ_OVERRUN,
				  .cq = &cq->base.pub };

	if (!__atomic_exchange_n(&cq->overrun_told, 1, __ATOMIC_RELAXED))
		gz_event_push(&cq->ctx->base, &e);
}

void gz_shm_event_harvest(struct genzio_context *base)
{
	struct gz_shm_ctx *ctx = to_shm_ctx(base);
	struct epoll_event ev[16];
	int n;

	gz_ctx_lock(base);
	n = epoll_wait(base->ev.epfd, ev, 16, 0);
	for (int i = 0; i < n; i++) {
		uint32_t cid = (uint32_t)(ev[i].data.u64 >> 32);
		uint32_t gen = (uint32_t)ev[i].data.u64;
		struct gz_shm_peer *p;

		if (ev[i].data.u64 == EV_COMP) {
			gz_shm_comp_check(ctx, 1);
			continue;
		}
		if (!cid || cid > GZ_SHM_MAX_CID)
			continue;	/* the queue's own eventfd */
		/* by name, not by pointer: an entry may outlive its peer */
		p = ctx->peer[cid];
		if (!p || p->gen != gen || p->pidfd < 0)
			continue;
		/* The process is gone: a pidfd never names a successor. */
		gz_shm_peer_died(p);
		gz_shm_peer_unwatch(p);
	}
	for (uint32_t i = 0; i < GZ_SHM_MAX_QP; i++) {
		struct gz_shm_cq *cq = atomic_load_explicit(
			&ctx->cq[i], memory_order_acquire);

		if (cq && atomic_load_explicit(&cq->hdr->notify.overrun,
					       memory_order_acquire))
			gz_shm_cq_overrun_event(cq);
	}
	gz_ctx_unlock(base);
}
