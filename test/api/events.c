// SPDX-License-Identifier: MIT
/* Unsolicited events: PEER_DEAD without any traffic, once per peer. */
#include <poll.h>
#include <signal.h>

#include "api.h"

TestSuite(events, .init = gzt_fabric_init, .fini = gzt_fabric_fini,
	  .timeout = 30);

Test(events, killed_peer_raises_peer_dead_once_on_the_event_fd)
{
	struct gzt_target_cfg cfg = { 4096, GZT_ACCESS_ALL, 0 };
	struct gzt_target t;
	struct gzt_ep ep;
	struct genzio_event ev;
	struct genzio_wc wc;
	struct pollfd pfd;
	uint64_t x = 1;

	cr_assert_eq(gzt_ep_open(&ep, 0, 0), 0);
	gzt_target_start(&t, &cfg, &ep);
	gzt_connect_to(&ep, &t);
	pfd = (struct pollfd){ .fd = genzio_event_fd(ep.ctx), .events = POLLIN };
	cr_assert_geq(pfd.fd, 0);
	cr_assert_eq(poll(&pfd, 1, 0), 0, "quiet while the peer lives");
	cr_assert_eq(genzio_event_get(ep.ctx, &ev), -EAGAIN);
	gzt_kill(&t.child);
	/* no operation is posted: the exit alone must wake us */
	cr_assert_eq(poll(&pfd, 1, 10000), 1, "no wake-up on peer death");
	cr_assert_eq(genzio_event_get(ep.ctx, &ev), 0);
	cr_assert_eq(ev.type, GENZIO_EVENT_PEER_DEAD);
	cr_assert_eq(ev.gcid, t.info.gcid);
	cr_assert_eq(gzt_wait(&t.child), 128 + SIGKILL);
	/* operations fail; the event is not raised a second time */
	cr_assert_eq(gzt_put64(&ep, t.info.addr, t.info.rkey, x, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_RETRY_EXC);
	cr_assert_eq(genzio_event_get(ep.ctx, &ev), -EAGAIN);
	cr_assert_eq(poll(&pfd, 1, 0), 0, "fd quiet once drained");
	gzt_ep_close(&ep);
}

Test(events, peer_closing_cleanly_is_seen_by_the_next_operation)
{
	struct gzt_target_cfg cfg = { 4096, GZT_ACCESS_ALL, 0 };
	struct gzt_target t;
	struct gzt_ep ep;
	struct genzio_event ev;
	struct genzio_wc wc;
	uint64_t x = 1;

	cr_assert_eq(gzt_ep_open(&ep, 0, 0), 0);
	gzt_target_start(&t, &cfg, &ep);
	gzt_connect_to(&ep, &t);
	gzt_target_stop(&t);
	cr_assert_eq(gzt_put64(&ep, t.info.addr, t.info.rkey, x, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_RETRY_EXC);
	cr_assert_eq(genzio_event_get(ep.ctx, &ev), 0);
	cr_assert_eq(ev.type, GENZIO_EVENT_PEER_DEAD);
	cr_assert_eq(ev.gcid, t.info.gcid);
	cr_assert_eq(genzio_event_get(ep.ctx, &ev), -EAGAIN);
	gzt_ep_close(&ep);
}

Test(events, bad_arguments)
{
	struct genzio_event ev;
	struct gzt_ep ep;

	cr_assert_eq(genzio_event_fd(NULL), -EINVAL);
	cr_assert_eq(genzio_event_get(NULL, &ev), -EINVAL);
	cr_assert_eq(gzt_ep_open(&ep, 0, 0), 0);
	cr_assert_eq(genzio_event_get(ep.ctx, NULL), -EINVAL);
	cr_assert_eq(genzio_event_get(ep.ctx, &ev), -EAGAIN);
	gzt_ep_close(&ep);
}

Test(events, types_for_fabric_providers_are_defined)
{
	/* raised by fabric providers; the numbering is ABI */
	cr_assert_eq(GENZIO_EVENT_PEER_DEAD, 1);
	cr_assert_eq(GENZIO_EVENT_CQ_OVERRUN, 2);
	cr_assert_eq(GENZIO_EVENT_LINK_DOWN, 3);
	cr_assert_eq(GENZIO_EVENT_LINK_UP, 4);
	cr_assert_eq(GENZIO_EVENT_COMPONENT_ADD, 5);
	cr_assert_eq(GENZIO_EVENT_COMPONENT_REMOVE, 6);
}
