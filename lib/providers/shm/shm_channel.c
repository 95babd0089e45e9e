// SPDX-License-Identifier: MIT
/*
 * Completion channels. A named FIFO per channel, so any process can wake
 * it: the producer of a completion on an armed cq writes the cq id. The
 * fd users wait on is an epoll set of that FIFO and a timer that paces the
 * retries of sends parked for want of a receive buffer. What arrives in
 * the FIFO is input from other processes: an id is only a hint, checked
 * against our own cqs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "providers/shm/shm.h"

/* The tags of a channel's fds in its epoll set, besides the watch's
 * (GZ_SHM_EV_WATCH): what woke a waiter is all it looks at. */
#define CH_FIFO 1
#define CH_TIMER 2
#define CH_ANY UINT64_MAX	/* before any wait: look at everything */

/* A FIFO is named by the channel's sequence number, which is never
 * reused: a peer's cached fd of a destroyed channel can never be taken
 * for the fd of its successor under the same id. */
static void chan_name(const struct gz_shm_ctx *ctx, char *buf, size_t len,
		      uint32_t cid, uint64_t inc, uint32_t seq)
{
	char suffix[16];

	snprintf(suffix, sizeof(suffix), "-ch%u", seq);
	gz_shm_name(ctx, buf, len, cid, inc, suffix);
}

int gz_shm_channel_create(struct genzio_context *base, struct gz_channel **out)
{
	struct gz_shm_ctx *ctx = to_shm_ctx(base);
	int dfd = ctx->dirfd[GZ_SHM_DIR_SHM];
	struct epoll_event fifo = { .events = EPOLLIN, .data.u64 = CH_FIFO };
	struct epoll_event timer = { .events = EPOLLIN, .data.u64 = CH_TIMER };
	struct gz_shm_channel *ch;
	uint32_t id;
	int ret;

	for (id = 0; id < GZ_SHM_MAX_CHANNELS && ctx->chan[id]; id++)
		;
	if (id == GZ_SHM_MAX_CHANNELS)
		return gz_err(-ENOSPC, "all channel ids in use");
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	ch->base.id = id;
	ch->seq = ctx->next_chan++;
	ch->rfd = ch->timerfd = ch->base.pub.fd = -1;
	chan_name(ctx, ch->name, sizeof(ch->name), ctx->cid, ctx->incarnation,
		  ch->seq);
	if (mkfifoat(dfd, ch->name, 0600)) {
		ret = gz_err(-errno, "mkfifo %s: %s", ch->name, strerror(errno));
		goto free_ch;
	}
	/* O_RDWR: the FIFO always has a reader and a writer, so peers can
	 * open it and we never read EOF. */
	ch->rfd = gz_sys_open_owned(dfd, ch->name, O_RDWR | O_NONBLOCK,
				    S_IFIFO, 0, NULL);
	ch->timerfd = timerfd_create(CLOCK_MONOTONIC,
				     TFD_NONBLOCK | TFD_CLOEXEC);
	ch->base.pub.fd = epoll_create1(EPOLL_CLOEXEC);
	if (ch->rfd < 0 || ch->timerfd < 0 || ch->base.pub.fd < 0 ||
	    epoll_ctl(ch->base.pub.fd, EPOLL_CTL_ADD, ch->rfd, &fifo) ||
	    epoll_ctl(ch->base.pub.fd, EPOLL_CTL_ADD, ch->timerfd, &timer) ||
	    /* a waiter hears of the device going away (shm_watch.c) */
	    gz_shm_watch_chan_add(ctx, ch->base.pub.fd)) {
		ret = gz_err(ch->rfd < 0 ? ch->rfd : -errno, "channel fds: %s",
			     strerror(ch->rfd < 0 ? -ch->rfd : errno));
		goto close_fds;
	}
	ctx->chan[id] = ch;
	*out = &ch->base;
	return 0;

close_fds:
	if (ch->base.pub.fd >= 0)
		close(ch->base.pub.fd);
	if (ch->timerfd >= 0)
		close(ch->timerfd);
	if (ch->rfd >= 0)
		close(ch->rfd);
	unlinkat(dfd, ch->name, 0);
free_ch:
	free(ch);
	return ret;
}

void gz_shm_channel_destroy(struct gz_channel *base)
{
	struct gz_shm_channel *ch = container_of(base, struct gz_shm_channel,
						 base);
	struct gz_shm_ctx *ctx = to_shm_ctx(base->pub.context);

	ctx->chan[base->id] = NULL;
	close(ch->base.pub.fd);
	close(ch->timerfd);
	close(ch->rfd);
	unlinkat(ctx->dirfd[GZ_SHM_DIR_SHM], ch->name, 0);
	free(ch);
}

void gz_shm_channel_arm_retry(struct gz_shm_ctx *ctx, uint32_t chan)
{
	struct itimerspec its = {
		.it_interval = { 0, GZ_SHM_RETRY_NS },
		.it_value = { 0, GZ_SHM_RETRY_NS },
	};

	if (chan < GZ_SHM_MAX_CHANNELS && ctx->chan[chan])
		timerfd_settime(ctx->chan[chan]->timerfd, 0, &its, NULL);
}

/* Timer fired: retry the parked sends of our cqs; stop it when none. */
static void retry_parked(struct gz_shm_channel *ch)
{
	struct gz_shm_ctx *ctx = to_shm_ctx(ch->base.pub.context);
	struct itimerspec off = { { 0, 0 }, { 0, 0 } };
	uint64_t ticks;
	int parked = 0;

	if (read(ch->timerfd, &ticks, sizeof(ticks)) != sizeof(ticks))
		return;
	gz_shm_chan_progress(ctx, ch->base.id, &parked);
	if (!parked)
		timerfd_settime(ch->timerfd, 0, &off, NULL);
}

/* The cq a wake-up names, if it is one of ours on this channel. */
static struct gz_shm_cq *woken(struct gz_shm_ctx *ctx, uint32_t chan,
			       uint32_t id)
{
	struct gz_shm_cq *cq;

	if (id >= GZ_SHM_MAX_QP)
		return NULL;
	cq = atomic_load_explicit(&ctx->cq[id], memory_order_acquire);
	return cq && cq->chan == chan ? cq : NULL;
}

int gz_shm_channel_get_event(struct gz_channel *base, int timeout_ms,
			     struct gz_cq **out)
{
	struct gz_shm_channel *ch = container_of(base, struct gz_shm_channel,
						 base);
	struct gz_shm_ctx *ctx = to_shm_ctx(base->pub.context);
	uint64_t end = timeout_ms > 0 ? gz_shm_now_ns() +
					(uint64_t)timeout_ms * 1000000u : 0;
	/* Besides the FIFO, a wait looks only at the fd that woke it: the
	 * set is level-triggered, so a timer or watch that is readable now
	 * wakes the first wait at once. A caller that will not wait has no
	 * wait to tell it: it looks at everything. */
	uint64_t woke = timeout_ms ? 0 : CH_ANY;

	for (;;) {
		struct epoll_event e;
		uint32_t id;
		int wait, n;

		/* bounded: a process writing ids without end must not keep
		 * a timed wait from ever timing out */
		for (int i = 0; i < 1024 &&
				read(ch->rfd, &id, sizeof(id)) == sizeof(id);
		     i++) {
			/* a cq destroyed since it was woken, or garbage */
			struct gz_shm_cq *cq = woken(ctx, base->id, id);

			if (cq) {
				/* counted at once: from here the count
				 * keeps the cq (provider.h) */
				__atomic_fetch_add(&cq->base.events, 1,
						   __ATOMIC_RELAXED);
				*out = &cq->base;
				return 0;
			}
		}
		if (woke == CH_TIMER || woke == CH_ANY)
			retry_parked(ch);
		if (woke == GZ_SHM_EV_WATCH || woke == CH_ANY)
			gz_shm_comp_check(ctx, 0);
		if (atomic_load_explicit(&ctx->base.fatal,
					 memory_order_relaxed))
			return -ENODEV;
		if (!timeout_ms)
			return -EAGAIN;
		wait = -1;
		if (timeout_ms > 0) {
			uint64_t now = gz_shm_now_ns();

			if (now >= end)
				return -ETIMEDOUT;
			wait = (int)((end - now + 999999) / 1000000);
		}
		n = epoll_wait(base->pub.fd, &e, 1, wait);
		if (n < 0)
			return -errno;
		woke = n ? e.data.u64 : 0;
	}
}

int gz_shm_peer_chan_fd(struct gz_shm_peer *p, uint32_t seq, int *once)
{
	_Atomic uint64_t *slot = &p->chan[seq % GZ_SHM_MAX_CHANNELS];
	uint64_t v = atomic_load_explicit(slot, memory_order_acquire);
	uint32_t r;
	char name[64];
	int fd;

	/* @seq came from the peer's cq header: it only picks a cache slot
	 * and names a file, which is checked when opened */
	*once = 0;
	if (GZ_UNLIKELY(seq == UINT32_MAX))
		return -1;	/* "no channel": never the empty slot's 0 */
	if (GZ_LIKELY(v >> 32 == (uint64_t)seq + 1))
		return (int)(uint32_t)v;
	chan_name(p->ctx, name, sizeof(name), GENZIO_GCID_CID(p->gcid),
		  p->incarnation, seq);
	/* O_RDWR, not O_WRONLY: our fd counts as a reader too, so a write
	 * after the owner closed the FIFO is lost quietly instead of
	 * raising SIGPIPE in the application. */
	fd = gz_sys_open_owned(p->ctx->dirfd[GZ_SHM_DIR_SHM], name,
			       O_RDWR | O_NONBLOCK, S_IFIFO, 0, NULL);
	if (fd < 0)
		return -1;
	/* The fd this replaces may be in use by another thread: it is
	 * retired, closed with the peer. A place for it is taken first;
	 * with none left (or another thread won the slot), the caller uses
	 * this fd once and closes it. */
	r = v ? atomic_fetch_add(&p->nretired, 1) : 0;
	if (r >= GZ_SHM_MAX_CHANNELS ||
	    !atomic_compare_exchange_strong(slot, &v,
					    ((uint64_t)seq + 1) << 32 |
						    (uint32_t)fd)) {
		if (v && r < GZ_SHM_MAX_CHANNELS)
			p->retired[r] = -1;	/* the place stays unused */
		*once = 1;
		return fd;
	}
	if (v)
		p->retired[r] = (int)(uint32_t)v;
	return fd;
}
