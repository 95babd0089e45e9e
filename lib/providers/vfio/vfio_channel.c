// SPDX-License-Identifier: MIT
/*
 * vfio provider: completion channels. The emulated bridge raises no
 * interrupt, so each channel has a thread of its own, the looker, that
 * looks at the channel's armed cqs on a timer (from every GZ_VF_WAIT_NS,
 * backing off to GZ_VF_WAIT_MAX_NS while nothing comes) and makes the
 * channel's fd (an epoll set of an eventfd) readable once one of them has
 * a completion,
 * as an interrupt would: an application asleep in epoll wakes for a
 * completion, never for a tick. The looker also beats for the context
 * (gz_vf_liveness), so a guest asleep in epoll for minutes is not reaped,
 * and hears of an engine gone.
 *
 * The looker never blocks on the ctx lock (a trylock, or the next tick):
 * a destroy that holds it joins the looker without a deadlock.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "providers/vfio/vfio.h"
#include "sys/sys.h"

/* The looker's next look in @ns (0: none until req_notify). */
static void timer_set(struct gz_vf_channel *ch, uint64_t ns)
{
	struct itimerspec t = {
	    {0, 0}, {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)}};

	timerfd_settime(ch->timerfd, 0, &t, NULL);
}

static void ready_clear(struct gz_vf_channel *ch)
{
	uint64_t n;

	if (read(ch->readyfd, &n, sizeof(n)) < 0) {
		/* nothing was ready */
	}
}

static void ready_set(struct gz_vf_channel *ch)
{
	if (eventfd_write(ch->readyfd, 1) < 0) {
		/* a full counter is readable as well */
	}
}

int gz_vf_cq_req_notify(struct gz_cq *base)
{
	struct gz_vf_cq *cq = container_of(base, struct gz_vf_cq, base);
	struct gz_vf_channel *ch =
	    container_of(base->channel, struct gz_vf_channel, base.pub);

	atomic_store_explicit(&cq->armed, 1, memory_order_seq_cst);
	atomic_fetch_add_explicit(&ch->notifies, 1, memory_order_seq_cst);
	atomic_store_explicit(&ch->wait_ns, GZ_VF_WAIT_NS,
			      memory_order_relaxed);
	timer_set(ch, GZ_VF_WAIT_NS);
	return 0;
}

/*
 * The armed cqs of @ch (under the ctx lock, so none goes meanwhile): the
 * first with a completion waiting, disarmed and its event counted when
 * @take, else NULL; *@armed whether any other is still armed.
 */
static struct gz_vf_cq *
armed_hit(struct gz_vf_ctx *ctx, struct gz_vf_channel *ch, int take, int *armed)
{
	struct gz_vf_cq *hit = NULL;

	*armed = 0;
	for (uint32_t i = 0; i < GZ_BRIDGE_MAX_CQ; i++) {
		struct gz_vf_cq *cq = ctx->cq[i];

		if (!cq || cq->base.channel != &ch->base.pub ||
		    !atomic_load_explicit(&cq->armed, memory_order_acquire))
			continue;
		if (!hit && gz_vslot_peek(&ctx->slot, cq->idx)) {
			hit = cq;
			if (!take)
				continue;
			atomic_store(&cq->armed, 0);
			__atomic_fetch_add(&cq->base.events, 1,
					   __ATOMIC_RELAXED);
		} else {
			*armed = 1;
		}
	}
	return hit;
}

/* One look of the looker: the fd readable on a hit; else the next look,
 * later each time, while a cq is armed. */
static void look(struct gz_vf_channel *ch)
{
	struct gz_vf_ctx *ctx = ch->ctx;
	uint64_t ns = atomic_load_explicit(&ch->wait_ns, memory_order_relaxed);
	uint32_t seen =
	    atomic_load_explicit(&ch->notifies, memory_order_seq_cst);
	int armed, hit;

	if (pthread_mutex_trylock(&ctx->base.lock)) {
		timer_set(ch, ns); /* a setup call holds it: next tick */
		return;
	}
	hit = !!armed_hit(ctx, ch, 0, &armed);
	gz_ctx_unlock(&ctx->base);
	if (hit) {
		/* get_event takes it, and asks for the next look */
		ready_set(ch);
		return;
	}
	ns = ns * 2 < GZ_VF_WAIT_MAX_NS ? ns * 2 : GZ_VF_WAIT_MAX_NS;
	atomic_store_explicit(&ch->wait_ns, ns, memory_order_relaxed);
	timer_set(ch, armed ? ns : 0);
	/* a req_notify after our look set its timer before ours stopped
	 * it: look again */
	if (!armed &&
	    atomic_load_explicit(&ch->notifies, memory_order_seq_cst) != seen)
		timer_set(ch, GZ_VF_WAIT_NS);
}

static void *looker_main(void *arg)
{
	struct gz_vf_channel *ch = arg;
	struct pollfd p[2] = {{.fd = ch->timerfd, .events = POLLIN},
			      {.fd = ch->stopfd, .events = POLLIN}};

	for (;;) {
		uint64_t ticks;
		/* a beat at least every second while nothing comes: the
		 * engine reaps after ten */
		int n = poll(p, 2, 1000);

		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && (p[1].revents & POLLIN))
			break;
		gz_vf_liveness(ch->ctx, 0);
		/* a tick, or a second without one (a look lost to a race
		 * costs a second at most, never a waiter for good) */
		if (!n ||
		    ((p[0].revents & POLLIN) &&
		     read(ch->timerfd, &ticks, sizeof(ticks)) == sizeof(ticks)))
			look(ch);
	}
	return NULL;
}

int gz_vf_channel_create(struct genzio_context *base, struct gz_channel **out)
{
	struct gz_vf_ctx *ctx = gz_vf_ctx_of(base);
	struct epoll_event ev = {.events = EPOLLIN};
	struct gz_vf_channel *ch;
	sigset_t all, old;
	uint32_t idx;
	int ret;

	for (idx = 0; idx < GZ_VF_MAX_CHANNELS && ctx->chan[idx]; idx++)
		;
	if (idx == GZ_VF_MAX_CHANNELS)
		return gz_err(-ENOSPC, "all %u channels in use",
			      GZ_VF_MAX_CHANNELS);
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	ch->ctx = ctx;
	ch->idx = idx;
	ch->timerfd = ch->stopfd = ch->readyfd = ch->base.pub.fd = -1;
	atomic_init(&ch->wait_ns, GZ_VF_WAIT_NS);
	ch->timerfd =
	    timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	ch->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ch->readyfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	/* an epoll set of it: a blocking fd, as an application (or the
	 * verbs compat layer) that sees O_NONBLOCK takes it for "do not
	 * wait" */
	ch->base.pub.fd = epoll_create1(EPOLL_CLOEXEC);
	if (ch->timerfd < 0 || ch->stopfd < 0 || ch->readyfd < 0 ||
	    ch->base.pub.fd < 0 ||
	    epoll_ctl(ch->base.pub.fd, EPOLL_CTL_ADD, ch->readyfd, &ev)) {
		ret = gz_err(-errno, "channel fds: %s", strerror(errno));
		gz_vf_channel_destroy(&ch->base);
		return ret;
	}
	/* the application's signals are not for our thread */
	sigfillset(&all);
	/* but a fault of its own reaches the application's handler */
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&ch->looker, NULL, looker_main, ch);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		gz_vf_channel_destroy(&ch->base);
		return gz_err(ret, "the channel's thread: %s", strerror(-ret));
	}
	ch->has_looker = 1;
	ctx->chan[idx] = ch;
	if (atomic_load(&base->fatal))
		gz_vf_channels_wake(ctx);
	*out = &ch->base;
	return 0;
}

void gz_vf_channel_destroy(struct gz_channel *base)
{
	struct gz_vf_channel *ch =
	    container_of(base, struct gz_vf_channel, base);

	if (ch->ctx->chan[ch->idx] == ch)
		ch->ctx->chan[ch->idx] = NULL;
	if (ch->has_looker) {
		eventfd_write(ch->stopfd, 1);
		pthread_join(ch->looker, NULL);
	}
	if (ch->base.pub.fd >= 0)
		close(ch->base.pub.fd);
	if (ch->timerfd >= 0)
		close(ch->timerfd);
	if (ch->stopfd >= 0)
		close(ch->stopfd);
	if (ch->readyfd >= 0)
		close(ch->readyfd);
	free(ch);
}

void gz_vf_channels_forked(struct gz_vf_ctx *ctx)
{
	for (uint32_t i = 0; i < GZ_VF_MAX_CHANNELS; i++)
		if (ctx->chan[i])
			ctx->chan[i]->has_looker = 0;
}

void gz_vf_channels_wake(struct gz_vf_ctx *ctx)
{
	/* readable for good: the device is gone */
	for (uint32_t i = 0; i < GZ_VF_MAX_CHANNELS; i++)
		if (ctx->chan[i])
			ready_set(ctx->chan[i]);
}

int gz_vf_channel_get_event(struct gz_channel *base, int timeout_ms,
			    struct gz_cq **out)
{
	struct gz_vf_channel *ch =
	    container_of(base, struct gz_vf_channel, base);
	struct gz_vf_ctx *ctx = ch->ctx;
	uint64_t end = gz_sys_now_ns() +
		       (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000u;

	for (;;) {
		struct pollfd p = {.fd = base->pub.fd, .events = POLLIN};
		struct gz_vf_cq *cq;
		uint64_t now;
		int armed, n;

		gz_vf_liveness(ctx, 0);
		gz_ctx_lock(&ctx->base);
		cq = armed_hit(ctx, ch, 1, &armed);
		gz_ctx_unlock(&ctx->base);
		if (atomic_load(&ctx->base.fatal))
			return cq ? (*out = &cq->base, 0)
				  : gz_ctx_gone(&ctx->base);
		/* readable no more until the looker sees the next one */
		ready_clear(ch);
		if (armed)
			timer_set(ch, GZ_VF_WAIT_NS);
		if (cq) {
			*out = &cq->base;
			return 0;
		}
		if (!timeout_ms)
			return -EAGAIN;
		now = gz_sys_now_ns();
		if (timeout_ms > 0 && now >= end)
			return -ETIMEDOUT;
		/* the looker beats meanwhile, and wakes us for a completion
		 * or an engine gone */
		n = poll(&p, 1,
			 timeout_ms < 0 ? -1
					: (int)((end - now) / 1000000u) + 1);
		if (n < 0 && errno != EINTR)
			return gz_err(-errno, "poll: %s", strerror(errno));
		if (n < 0)
			return -EINTR;
	}
}
