// SPDX-License-Identifier: MIT
/*
 * genzio_event_*: unsolicited events (Gen-Z UEPs). A queue per context and
 * one fd to wait on: an epoll set holding an eventfd (readable while the
 * queue holds events) and whatever fds the provider adds (pidfds of peers).
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "provider.h"

int gz_events_init(struct gz_events *ev)
{
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = NULL };

	memset(ev, 0, sizeof(*ev));
	ev->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ev->epfd < 0)
		return -errno;
	ev->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ev->efd < 0 || epoll_ctl(ev->epfd, EPOLL_CTL_ADD, ev->efd, &e)) {
		int ret = -errno;

		if (ev->efd >= 0)
			close(ev->efd);
		close(ev->epfd);
		return ret;
	}
	pthread_mutex_init(&ev->lock, NULL);
	return 0;
}

void gz_events_fini(struct gz_events *ev)
{
	close(ev->efd);
	close(ev->epfd);
	pthread_mutex_destroy(&ev->lock);
}

void gz_event_push(struct genzio_context *ctx, const struct genzio_event *e)
{
	struct gz_events *ev = &ctx->ev;
	uint64_t one = 1;

	pthread_mutex_lock(&ev->lock);
	if (ev->tail - ev->head < GZ_EVENTS)
		ev->q[ev->tail++ % GZ_EVENTS] = *e;
	else
		ev->lost++;
	pthread_mutex_unlock(&ev->lock);
	if (write(ev->efd, &one, sizeof(one)) < 0) {
		/* the counter cannot overflow at one per event */
	}
}

GENZIO_EXPORT int genzio_event_fd(struct genzio_context *ctx)
{
	GZ_API();
	if (!ctx)
		return gz_err(-EINVAL, "ctx is NULL");
	return ctx->ev.epfd;
}

GENZIO_EXPORT int genzio_event_get(struct genzio_context *ctx,
				   struct genzio_event *out)
{
	GZ_API();
	struct gz_events *ev;
	uint32_t lost;
	uint64_t n;
	int ret = -EAGAIN;

	if (!ctx || !out)
		return gz_err(-EINVAL, "ctx %p, ev %p", (void *)ctx, (void *)out);
	ev = &ctx->ev;
	/* Let the provider turn what its fds say into events first. */
	if (ctx->prov->event_harvest)
		ctx->prov->event_harvest(ctx);
	pthread_mutex_lock(&ev->lock);
	if (ev->head != ev->tail) {
		*out = ev->q[ev->head++ % GZ_EVENTS];
		ret = 0;
	}
	lost = ev->lost;
	ev->lost = 0;
	if (ev->head == ev->tail) {
		/* empty: the fd stops being readable */
		if (read(ev->efd, &n, sizeof(n)) < 0) {
			/* EAGAIN: already zero */
		}
	}
	pthread_mutex_unlock(&ev->lock);
	if (lost)
		gz_err(0, "%u events were lost: the queue of %u was full", lost,
		       GZ_EVENTS);
	return ret;
}
