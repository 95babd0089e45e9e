// SPDX-License-Identifier: MIT
/* Events: a peer's death (PEER_DEAD) is raised once per peer. */
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include "api.h"

TestSuite(events, .init = gzt_watch_init, .fini = gzt_fabric_fini,
	  .timeout = 30);

Test(events, killed_peer_raises_peer_dead_once_on_the_event_fd)
{
	GZT_REQUIRE(DEATH_AT_ONCE);
	struct gzt_target_cfg cfg = { 4096, GZT_ACCESS_ALL, 0, 0, 0 };
	struct gzt_target t;
	struct gzt_ep ep;
	struct genzio_event ev;
	struct genzio_wc wc;
	struct pollfd pfd;
	uint64_t x = 1;
	int dead = 0, qperr = 0;

	cr_assert_eq(gzt_ep_open(&ep, 0, 0), 0);
	gzt_target_start(&t, &cfg, &ep);
	gzt_connect_to(&ep, &t);
	pfd = (struct pollfd){ .fd = genzio_event_fd(ep.ctx), .events = POLLIN };
	cr_assert_geq(pfd.fd, 0);
	/* (its join was news: COMPONENT_ADD, which gzt_event_get skips) */
	cr_assert_eq(gzt_event_get(ep.ctx, &ev), -EAGAIN);
	cr_assert_eq(poll(&pfd, 1, 0), 0, "quiet while the peer lives");
	gzt_kill(&t.child);
	if (gzt_caps() & GENZIO_CAP_PEER_WATCH) {
		/* no operation is posted: the exit alone must wake us */
		int ret = -EAGAIN;

		/* (a wake-up may come a moment before the death is
		 * visible: poll again, boundedly) */
		for (int i = 0; i < 100 && ret == -EAGAIN; i++) {
			cr_assert_eq(poll(&pfd, 1, 10000), 1,
				     "no wake-up on peer death");
			ret = gzt_event_get(ep.ctx, &ev);
			if (ret == -EAGAIN)
				usleep(10000);
		}
		cr_assert_eq(ret, 0);
		cr_assert_eq(ev.type, GENZIO_EVENT_PEER_DEAD);
		cr_assert_eq(ev.gcid, t.info.gcid);
		dead++;
		cr_assert_eq(gzt_event_get(ep.ctx, &ev), -EAGAIN);
	}
	cr_assert_eq(gzt_wait(&t.child), 128 + SIGKILL);
	/* One request, fatal for the queue pair (QP_ERR). Without
	 * GENZIO_CAP_PEER_WATCH (verbs has no liveness signal) only a
	 * request that gets no answer sees the death: the death is raised
	 * by then, whichever way it was seen, and only once. */
	cr_assert_eq(gzt_put64(&ep, t.info.addr, t.info.rkey, x, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_RETRY_EXC, "got %s",
		     genzio_wc_status_str(wc.status));
	cr_assert_eq(poll(&pfd, 1, 10000), 1, "no wake-up on the error");
	while (!gzt_event_get(ep.ctx, &ev)) {
		dead += ev.type == GENZIO_EVENT_PEER_DEAD &&
			ev.gcid == t.info.gcid;
		qperr += ev.type == GENZIO_EVENT_QP_ERR &&
			 ev.qp_num == ep.qp->qp_num &&
			 ev.status == GENZIO_WC_RETRY_EXC;
	}
	cr_assert_eq(dead, 1, "the peer's death, once");
	cr_assert_eq(qperr, 1, "our queue pair's error, once");
	/* later work fails too; neither is raised a second time */
	cr_assert_eq(gzt_put64(&ep, t.info.addr, t.info.rkey, x, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_FLUSHED, "got %s",
		     genzio_wc_status_str(wc.status));
	cr_assert_eq(gzt_event_get(ep.ctx, &ev), -EAGAIN);
	cr_assert_eq(poll(&pfd, 1, 0), 0, "fd quiet once drained");
	gzt_ep_close(&ep);
}

Test(events, peer_closing_cleanly_is_seen_by_the_next_operation)
{
	struct gzt_target_cfg cfg = { 4096, GZT_ACCESS_ALL, 0, 0, 0 };
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
	/* both, once each: the peer left, and our queue pair is in ERR */
	int dead = 0, qperr = 0;

	while (!gzt_event_get(ep.ctx, &ev)) {
		dead += ev.type == GENZIO_EVENT_PEER_DEAD &&
			ev.gcid == t.info.gcid;
		qperr += ev.type == GENZIO_EVENT_QP_ERR &&
			 ev.qp_num == ep.qp->qp_num;
	}
	cr_assert_eq(dead, 1);
	cr_assert_eq(qperr, 1);
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
	cr_assert_eq(gzt_event_get(ep.ctx, &ev), -EAGAIN);
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

static int report_gcid_main(int fd, void *arg)
{
	struct genzio_conn_info none = { 0 }, us;
	struct gzt_ep ep;
	char t;

	(void)arg;
	if (gzt_ep_open(&ep, 4096, GZT_ACCESS_ALL) ||
	    genzio_conn_info_exchange(fd, &ep.info, &us))
		return 60;
	(void)none;
	gzt_recv_token(fd, &t);	/* until killed or told */
	return gzt_ep_close(&ep) ? 61 : 0;
}

/* The peer is watched through an address handle: the one call that
 * names a peer by GCID without a connection. */
Test(events, a_peer_replaced_by_a_new_incarnation_is_dead_once_and_quiet)
{
	gzt_require_caps(GENZIO_CAP_RD | GENZIO_CAP_PEER_WATCH,
			 "RD, PEER_WATCH");
	struct genzio_conn_info x, x2;
	struct genzio_ah *ah, *ah2;
	struct gzt_child c, c2;
	struct genzio_event ev;
	struct pollfd pfd;
	struct gzt_ep ep;
	int dead = 0;

	cr_assert_eq(gzt_ep_open(&ep, 0, 0), 0);
	cr_assert_eq(gzt_fork(&c, report_gcid_main, NULL), 0);
	cr_assert_eq(genzio_conn_info_exchange(c.fd, &ep.info, &x), 0);
	cr_assert_eq(genzio_ah_create(ep.pd, x.gcid, &ah), 0);
	gzt_kill(&c);
	cr_assert_eq(gzt_wait(&c), 128 + SIGKILL);
	/* a new process takes its GCID; our old handle still holds it */
	cr_assert_eq(gzt_fork(&c2, report_gcid_main, NULL), 0);
	cr_assert_eq(genzio_conn_info_exchange(c2.fd, &ep.info, &x2), 0);
	cr_assert_eq(x2.gcid, x.gcid);
	cr_assert_eq(genzio_ah_create(ep.pd, x2.gcid, &ah2), 0);
	while (gzt_event_get(ep.ctx, &ev) == 0)
		dead += ev.type == GENZIO_EVENT_PEER_DEAD && ev.gcid == x.gcid;
	cr_assert_eq(dead, 1, "the old incarnation's death, once");
	/* and the event fd is quiet: no dead pidfd left in its set */
	pfd = (struct pollfd){ .fd = genzio_event_fd(ep.ctx), .events = POLLIN };
	cr_assert_eq(poll(&pfd, 1, 0), 0, "event fd still readable");
	cr_assert_eq(genzio_ah_destroy(ah), 0);
	cr_assert_eq(genzio_ah_destroy(ah2), 0);
	cr_assert_eq(gzt_send_token(c2.fd, 'q'), 0);
	cr_assert_eq(gzt_wait(&c2), 0);
	gzt_ep_close(&ep);
}
